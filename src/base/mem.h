/* Reference-counted allocations with destructors (after libre's mem_alloc/mem_deref).
 * An object's destructor releases everything it owns, so a failed constructor has one
 * cleanup path: mem_deref() the half-built object. */
#ifndef SIPSD_BASE_MEM_H
#define SIPSD_BASE_MEM_H

#include <stddef.h>

typedef void(mem_destroy_h)(void *data);

/* Zeroed allocation of size bytes with refcount 1; NULL on ENOMEM. */
void *mem_zalloc(size_t size, mem_destroy_h *dh);
/* Same without zeroing, for hot paths that initialise what they use (the SIP parser). */
void *mem_alloc(size_t size, mem_destroy_h *dh);
/* Same as mem_alloc() (not zeroed) for short-lived objects made and freed at a high rate (parsed
 * SIP messages): objects up to MEM_POOL_SLOT bytes come from, and on their last mem_deref() go
 * back to, a small cache of fixed-size slots owned by the freeing thread (at most
 * MEM_POOL_MAX slots a thread, freed when the thread exits), which saves malloc/free of a
 * few KB that glibc's per-thread cache doesn't take. Larger objects are plain mem_alloc().
 * Any thread may free the object. */
#define MEM_POOL_SLOT 8192u
#define MEM_POOL_MAX 16u
void *mem_alloc_pooled(size_t size, mem_destroy_h *dh);
/* Take one more reference; returns data (NULL-safe). */
void *mem_ref(void *data);
/* Drop one reference; the last one runs the destructor and frees. Always returns NULL so
 * callers write `x = mem_deref(x);`. */
void *mem_deref(void *data);
unsigned mem_nrefs(const void *data);
/* Duplicate len bytes as a NUL-terminated refcounted string. */
char *mem_strndup(const char *s, size_t len);
char *mem_strdup(const char *s);

#endif
