#include "base/mem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct mem_hdr {
	atomic_uint nrefs;
	mem_destroy_h *dh;
	max_align_t align[]; /* keeps the payload aligned for any type */
};

static struct mem_hdr *hdr_of(const void *data)
{
	return (struct mem_hdr *)((uintptr_t)data - offsetof(struct mem_hdr, align));
}

void *mem_zalloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	struct mem_hdr *h = calloc(1, sizeof(*h) + size);
	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->dh = dh;
	return h->align;
}

void *mem_alloc(size_t size, mem_destroy_h *dh)
{
	if (size > SIZE_MAX - sizeof(struct mem_hdr))
		return NULL;
	struct mem_hdr *h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->dh = dh;
	return h->align;
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
