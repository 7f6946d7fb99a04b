/* The provisioned-user set behind registrar_user_known(). Loaded from the store at start and on
 * refresh (purge thread), corrected by every REGISTER's user lookup in between, so a user added
 * with sipsctl is known as soon as it registers or the next refresh runs. A chained hash under a
 * rwlock: the proxy asks on every request to one of our domains and must never wait for SQLite
 * (the alternative, an async store lookup per INVITE, would add a store round trip to call setup). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "registrar/internal.h"

struct uentry {
	struct uentry *next;
	char aor[];
};

struct utab {
	struct uentry **b;
	size_t cap, n;
};

struct reg_users {
	pthread_rwlock_t lock;
	struct utab t;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void utab_free(struct utab *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		struct uentry *e = t->b[i];
		while (e) {
			struct uentry *n = e->next;
			free(e);
			e = n;
		}
	}
	free(t->b);
	t->b = NULL;
	t->cap = t->n = 0;
}

/* On ENOMEM t is still an empty table that utab_free accepts. */
static int utab_init(struct utab *t, size_t hint)
{
	size_t cap = 256;
	while (cap < hint * 2)
		cap *= 2;
	*t = (struct utab){ .b = calloc(cap, sizeof(*t->b)) };
	if (!t->b)
		return ENOMEM;
	t->cap = cap;
	return 0;
}

static struct uentry **utab_slot(struct utab *t, const char *aor)
{
	struct uentry **pp = &t->b[hash_str(aor) & (t->cap - 1)];
	while (*pp && strcmp((*pp)->aor, aor) != 0)
		pp = &(*pp)->next;
	return pp;
}

static int utab_add(struct utab *t, const char *aor)
{
	struct uentry **pp = utab_slot(t, aor);
	if (*pp)
		return 0;
	size_t len = strlen(aor) + 1;
	struct uentry *e = malloc(sizeof(*e) + len);
	if (!e)
		return ENOMEM;
	memcpy(e->aor, aor, len);
	e->next = NULL;
	*pp = e;
	t->n++;
	return 0;
}

static void users_destroy(void *data)
{
	struct reg_users *u = data;
	utab_free(&u->t);
	pthread_rwlock_destroy(&u->lock);
}

int reg_users_alloc(struct reg_users **up)
{
	struct reg_users *u = mem_zalloc(sizeof(*u), users_destroy);
	if (!u)
		return ENOMEM;
	pthread_rwlock_init(&u->lock, NULL);
	if (utab_init(&u->t, 0)) {
		mem_deref(u);
		return ENOMEM;
	}
	*up = u;
	return 0;
}

bool reg_users_has(struct reg_users *u, const char *aor)
{
	pthread_rwlock_rdlock(&u->lock);
	bool has = *utab_slot(&u->t, aor) != NULL;
	pthread_rwlock_unlock(&u->lock);
	return has;
}

void reg_users_note(struct reg_users *u, const char *aor, bool known)
{
	pthread_rwlock_wrlock(&u->lock);
	struct uentry **pp = utab_slot(&u->t, aor);
	if (known && !*pp) {
		/* growth only at load: a few adds between refreshes just lengthen chains */
		utab_add(&u->t, aor);
	} else if (!known && *pp) {
		struct uentry *e = *pp;
		*pp = e->next;
		free(e);
		u->t.n--;
	}
	pthread_rwlock_unlock(&u->lock);
}

size_t reg_users_count(struct reg_users *u)
{
	pthread_rwlock_rdlock(&u->lock);
	size_t n = u->t.n;
	pthread_rwlock_unlock(&u->lock);
	return n;
}

int reg_users_load(struct reg_users *u, struct store *s)
{
	struct store_users *l = NULL;
	int err = store_user_list(s, &l);
	if (err)
		return err;
	struct utab nt;
	err = utab_init(&nt, l->n);
	for (size_t i = 0; !err && i < l->n; i++) {
		const struct store_user *su = l->v[i];
		if (!su->enabled)
			continue;
		char aor[512];
		/* same canonical form as location_aor_of(): lowercase host */
		int n = snprintf(aor, sizeof(aor), "sip:%.*s@%.*s", (int)su->user.len, su->user.p, (int)su->domain.len,
				 su->domain.p);
		if (n < 0 || (size_t)n >= sizeof(aor))
			continue;
		for (char *p = strchr(aor, '@'); p && *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p - 'A' + 'a');
		err = utab_add(&nt, aor);
	}
	mem_deref(l);
	if (err) {
		utab_free(&nt);
		return err;
	}
	pthread_rwlock_wrlock(&u->lock);
	struct utab old = u->t;
	u->t = nt;
	pthread_rwlock_unlock(&u->lock);
	utab_free(&old);
	return 0;
}
