#include "base/mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Under AddressSanitizer a cached slot is poisoned, so a use after the last mem_deref() of a
 * pooled object is still reported as one. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(MEM_ASAN)
#define MEM_ASAN 1
#endif
#ifdef MEM_ASAN
#include <sanitizer/asan_interface.h>
#define SLOT_POISON(p) ASAN_POISON_MEMORY_REGION((p), MEM_POOL_SLOT)
#define SLOT_UNPOISON(p) ASAN_UNPOISON_MEMORY_REGION((p), MEM_POOL_SLOT)
#else
#define SLOT_POISON(p) ((void)(p))
#define SLOT_UNPOISON(p) ((void)(p))
#endif

#define MEM_F_POOLED 0x1u

struct mem_hdr {
	atomic_uint nrefs;
	uint32_t flags;      /* fills what would be padding: the header stays 16 bytes */
	mem_destroy_h *dh;
	max_align_t align[]; /* keeps the payload aligned for any type */
};

/* The calling thread's cached slots. A plain array rather than a list threaded through the
 * slots: a cached slot is never written, so ASan can poison all of it. */
struct mem_pool {
	void *slot[MEM_POOL_MAX];
	unsigned n;
	bool exit_hook; /* the thread-exit destructor is armed */
};

static _Thread_local struct mem_pool pool;
static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static bool pool_key_ok;

/* Thread exit: free what the thread kept. A destructor that runs later and frees a pooled
 * object re-arms the hook (POSIX runs destructors again while values are set). */
static void pool_thread_exit(void *arg)
{
	struct mem_pool *p = arg;
	while (p->n) {
		void *s = p->slot[--p->n];
		SLOT_UNPOISON(s);
		free(s);
	}
	p->exit_hook = false;
}

static void pool_key_init(void)
{
	pool_key_ok = pthread_key_create(&pool_key, pool_thread_exit) == 0;
}

static void pool_put(struct mem_hdr *h)
{
	struct mem_pool *p = &pool;
	if (p->n >= MEM_POOL_MAX) {
		free(h);
		return;
	}
	if (!p->exit_hook) {
		pthread_once(&pool_once, pool_key_init);
		if (!pool_key_ok || pthread_setspecific(pool_key, p) != 0) {
			free(h); /* no way to free the cache at thread exit: don't cache */
			return;
		}
		p->exit_hook = true;
	}
	SLOT_POISON(h);
	p->slot[p->n++] = h;
}

static struct mem_hdr *hdr_of(const void *data)
{
	return (struct mem_hdr *)((uintptr_t)data - offsetof(struct mem_hdr, align));
}

/* One reference, the destructor, and where the block came from; returns the user pointer. */
static void *hdr_init(struct mem_hdr *h, unsigned flags, mem_destroy_h *dh)
{
	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->flags = flags;
	h->dh = dh;
	return h->align;
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	return hdr_init(calloc(1, sizeof(struct mem_hdr) + size), 0, dh);
}

void *mem_alloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	return hdr_init(malloc(sizeof(struct mem_hdr) + size), 0, dh);
}

void *mem_alloc_pooled(size_t size, mem_destroy_h *dh)
{
	if (size > MEM_POOL_SLOT - sizeof(struct mem_hdr))
		return mem_alloc(size, dh);
	struct mem_pool *p = &pool;
	struct mem_hdr *h;
	if (p->n) {
		h = p->slot[--p->n];
		SLOT_UNPOISON(h);
	} else {
		h = malloc(MEM_POOL_SLOT);
		if (!h)
			return NULL;
	}
	return hdr_init(h, MEM_F_POOLED, dh);
}

void *mem_ref(void *data)
{
	if (data)
		atomic_fetch_add(&hdr_of(data)->nrefs, 1);
	return data;
}

void *mem_deref(void *data)
{
	if (!data)
		return NULL;
	struct mem_hdr *h = hdr_of(data);
	if (atomic_fetch_sub(&h->nrefs, 1) != 1)
		return NULL;
	if (h->dh)
		h->dh(data);
	if (h->flags & MEM_F_POOLED)
		pool_put(h);
	else
		free(h);
	return NULL;
}

unsigned mem_nrefs(const void *data)
{
	return data ? atomic_load(&hdr_of(data)->nrefs) : 0;
}

char *mem_strndup(const char *s, size_t len)
{
	char *d = mem_zalloc(len + 1, NULL);
	if (d && len)
		memcpy(d, s, len);
	return d;
}

char *mem_strdup(const char *s)
{
	return s ? mem_strndup(s, strlen(s)) : NULL;
}
