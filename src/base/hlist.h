/* Intrusive chains with O(1) unlink from wherever an element sits (Linux's hlist): each
 * element holds the next one and the address of the pointer that points at it, so hash
 * buckets and lists need one pointer per head. */
#ifndef SIPSD_BASE_HLIST_H
#define SIPSD_BASE_HLIST_H

#include <stdbool.h>
#include <stddef.h>

/* The struct that holds member m, from a pointer p to that member. */
#define CONTAINER_OF(p, type, m) ((type *)(void *)((char *)(p) - offsetof(type, m)))

struct hlink {
	struct hlink *next, **pprev; /* pprev NULL: on no chain */
};

static inline void hlink_push(struct hlink **head, struct hlink *e)
{
	e->next = *head;
	if (e->next)
		e->next->pprev = &e->next;
	*head = e;
	e->pprev = head;
}

/* No-op for an element on no chain. */
static inline void hlink_unlink(struct hlink *e)
{
	if (!e->pprev)
		return;
	*e->pprev = e->next;
	if (e->next)
		e->next->pprev = e->pprev;
	e->next = NULL;
	e->pprev = NULL;
}

static inline bool hlink_linked(const struct hlink *e)
{
	return e->pprev != NULL;
}

#endif
