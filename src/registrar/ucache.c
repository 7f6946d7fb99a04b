/* A few seconds' memory of user records, so the REGISTER that answers a challenge (sent within
 * milliseconds of the 401) does not wait for a second store round trip. The TTL bounds how long
 * a password change or deletion made with sipsctl (another process) can go unnoticed. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "registrar/internal.h"

enum { UCACHE_BUCKETS = 4096, UCACHE_MAX = 65536 };

struct uc_entry {
	struct uc_entry *next;
	time_t fetched;
	struct store_user *u; /* NULL: known not to exist */
	char key[];
};

struct reg_ucache {
	pthread_mutex_t mtx;
	unsigned ttl;
	size_t n;
	struct uc_entry *b[UCACHE_BUCKETS];
};

static size_t bucket(const char *k)
{
	uint64_t h = 1469598103934665603ull;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return (size_t)(h % UCACHE_BUCKETS);
}

static void entry_free(struct uc_entry *e)
{
	mem_deref(e->u);
	free(e);
}

static void ucache_destroy(void *data)
{
	struct reg_ucache *c = data;
	for (size_t i = 0; i < UCACHE_BUCKETS; i++)
		while (c->b[i]) {
			struct uc_entry *e = c->b[i];
			c->b[i] = e->next;
			entry_free(e);
		}
	pthread_mutex_destroy(&c->mtx);
}

struct reg_ucache *reg_ucache_alloc(unsigned ttl)
{
	struct reg_ucache *c = mem_zalloc(sizeof(*c), ucache_destroy);
	if (c) {
		pthread_mutex_init(&c->mtx, NULL);
		c->ttl = ttl;
	}
	return c;
}

bool reg_ucache_get(struct reg_ucache *c, const char *key, time_t now, struct store_user **up)
{
	if (!c || !c->ttl)
		return false;
	bool hit = false;
	pthread_mutex_lock(&c->mtx);
	for (struct uc_entry *e = c->b[bucket(key)]; e; e = e->next) {
		if (strcmp(e->key, key) == 0) {
			if (now - e->fetched < (time_t)c->ttl) {
				*up = mem_ref(e->u);
				hit = true;
			}
			break;
		}
	}
	pthread_mutex_unlock(&c->mtx);
	return hit;
}

void reg_ucache_put(struct reg_ucache *c, const char *key, struct store_user *u, time_t now)
{
	if (!c || !c->ttl)
		return;
	size_t klen = strlen(key) + 1;
	struct uc_entry *ne = malloc(sizeof(*ne) + klen);
	if (!ne)
		return;
	memcpy(ne->key, key, klen);
	ne->fetched = now;
	ne->u = mem_ref(u);
	size_t bi = bucket(key);
	pthread_mutex_lock(&c->mtx);
	struct uc_entry **pp = &c->b[bi];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	struct uc_entry *old = *pp;
	if (old) {
		*pp = old->next;
		c->n--;
	}
	if (c->n < UCACHE_MAX) {
		ne->next = c->b[bi];
		c->b[bi] = ne;
		c->n++;
		ne = NULL;
	}
	pthread_mutex_unlock(&c->mtx);
	if (old)
		entry_free(old);
	if (ne)
		entry_free(ne); /* full: purge will make room */
}

void reg_ucache_purge(struct reg_ucache *c, time_t now)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < UCACHE_BUCKETS; i++) {
		struct uc_entry **pp = &c->b[i];
		while (*pp) {
			struct uc_entry *e = *pp;
			if (now - e->fetched >= (time_t)c->ttl) {
				*pp = e->next;
				c->n--;
				entry_free(e);
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&c->mtx);
}
