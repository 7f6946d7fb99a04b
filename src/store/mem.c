/* In-memory backend for tests (of the store itself and of the registrar): same behaviour as
 * SQLite, no durability, linear scans. Transactions are no-ops, so a request that fails half way
 * (ENOMEM only) is not undone. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/mem.h"
#include "store/backend.h"

struct memb {
	struct store_users *users;
	struct store_bindings *bindings;
};

static int nop(void *be)
{
	(void)be;
	return 0;
}

static void nop_void(void *be)
{
	(void)be;
}

static ssize_t user_find(struct memb *m, struct slice user, struct slice domain)
{
	for (size_t i = 0; i < m->users->n; i++) {
		const struct store_user *u = m->users->v[i];
		if (slice_eq(u->user, user) && slice_eq(u->domain, domain))
			return (ssize_t)i;
	}
	return -1;
}

static int m_user_get(void *be, struct slice user, struct slice domain, struct store_user **up)
{
	struct memb *m = be;
	ssize_t i = user_find(m, user, domain);
	if (i < 0)
		return ENOENT;
	*up = store_user_dup(m->users->v[i]);
	return *up ? 0 : ENOMEM;
}

static int m_user_put(void *be, const struct store_user *u)
{
	struct memb *m = be;
	struct store_user *c = store_user_dup(u);
	if (!c)
		return ENOMEM;
	ssize_t i = user_find(m, u->user, u->domain);
	if (i >= 0) {
		mem_deref(m->users->v[i]);
		m->users->v[i] = c;
		return 0;
	}
	return store_users_add(m->users, c);
}

static int m_user_del(void *be, struct slice user, struct slice domain)
{
	struct memb *m = be;
	ssize_t i = user_find(m, user, domain);
	if (i < 0)
		return ENOENT;
	mem_deref(m->users->v[i]);
	m->users->v[i] = m->users->v[--m->users->n];
	return 0;
}

static int slice_cmp(struct slice a, struct slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	return c ? c : a.len < b.len ? -1 : a.len > b.len;
}

static int user_order(const void *a, const void *b)
{
	const struct store_user *x = *(struct store_user *const *)a, *y = *(struct store_user *const *)b;
	int c = slice_cmp(x->domain, y->domain);
	return c ? c : slice_cmp(x->user, y->user);
}

static int m_user_list(void *be, struct store_users **lp)
{
	struct memb *m = be;
	struct store_users *l = NULL;
	int e = store_users_alloc(&l);
	for (size_t i = 0; !e && i < m->users->n; i++)
		e = store_users_add(l, store_user_dup(m->users->v[i]));
	if (e) {
		mem_deref(l);
		return e;
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), user_order);
	*lp = l;
	return 0;
}

static void remove_at(struct memb *m, size_t i)
{
	mem_deref(m->bindings->v[i]);
	m->bindings->v[i] = m->bindings->v[--m->bindings->n];
}

static size_t bindings_remove(struct memb *m, const struct store_binding *key, bool all_of_aor)
{
	size_t n = 0;
	for (size_t i = 0; i < m->bindings->n;) {
		struct store_binding *b = m->bindings->v[i];
		bool hit = all_of_aor ? slice_eq(b->aor, key->aor) : store_binding_same_key(b, key);
		if (hit) {
			remove_at(m, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

static int m_binding_put(void *be, const struct store_binding *b)
{
	struct memb *m = be;
	struct store_binding *c = store_binding_dup(b);
	if (!c)
		return ENOMEM;
	bindings_remove(m, b, false);
	return store_bindings_add(m->bindings, c);
}

static int binding_order(const void *a, const void *b)
{
	return store_binding_cmp(*(struct store_binding *const *)a, *(struct store_binding *const *)b);
}

static int binding_order_all(const void *a, const void *b)
{
	const struct store_binding *x = *(struct store_binding *const *)a, *y = *(struct store_binding *const *)b;
	int c = slice_cmp(x->aor, y->aor);
	return c ? c : store_binding_cmp(x, y);
}

static int collect(struct memb *m, const struct slice *aor, struct store_bindings **lp)
{
	struct store_bindings *l = NULL;
	int e = store_bindings_alloc(&l);
	for (size_t i = 0; !e && i < m->bindings->n; i++)
		if (!aor || slice_eq(m->bindings->v[i]->aor, *aor))
			e = store_bindings_add(l, store_binding_dup(m->bindings->v[i]));
	if (e) {
		mem_deref(l);
		return e;
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), aor ? binding_order : binding_order_all);
	*lp = l;
	return 0;
}

static int m_binding_get(void *be, struct slice aor, struct store_bindings **lp)
{
	return collect(be, &aor, lp);
}

static int m_binding_load_all(void *be, struct store_bindings **lp)
{
	return collect(be, NULL, lp);
}

static int m_binding_del(void *be, const struct store_binding *key, size_t *n)
{
	*n = bindings_remove(be, key, false);
	return 0;
}

static int m_binding_del_aor(void *be, struct slice aor, size_t *n)
{
	struct store_binding key = { .aor = aor };
	*n = bindings_remove(be, &key, true);
	return 0;
}

static int m_binding_expire(void *be, int64_t now, size_t *n)
{
	struct memb *m = be;
	*n = 0;
	for (size_t i = 0; i < m->bindings->n;) {
		if (m->bindings->v[i]->expires <= now) {
			remove_at(m, i);
			(*n)++;
		} else {
			i++;
		}
	}
	return 0;
}

static int m_binding_expire_key(void *be, const struct store_binding *key, int64_t now, size_t *n)
{
	struct memb *m = be;
	*n = 0;
	for (size_t i = 0; i < m->bindings->n; i++) {
		if (store_binding_same_key(m->bindings->v[i], key)) {
			if (m->bindings->v[i]->expires <= now) {
				remove_at(m, i);
				*n = 1;
			}
			break;
		}
	}
	return 0;
}

static void m_close(void *be)
{
	struct memb *m = be;
	mem_deref(m->users);
	mem_deref(m->bindings);
	free(m);
}

static const struct store_backend_ops mem_ops = {
	.name = "mem",
	.begin = nop,
	.commit = nop,
	.rollback = nop_void,
	.savepoint = nop,
	.release = nop,
	.rollback_to = nop_void,
	.user_get = m_user_get,
	.user_put = m_user_put,
	.user_del = m_user_del,
	.user_list = m_user_list,
	.binding_put = m_binding_put,
	.binding_get = m_binding_get,
	.binding_del = m_binding_del,
	.binding_del_aor = m_binding_del_aor,
	.binding_expire = m_binding_expire,
	.binding_expire_key = m_binding_expire_key,
	.binding_load_all = m_binding_load_all,
	.close = m_close,
};

int store_mem_open(const struct store_opts *o, void **bep, const struct store_backend_ops **opsp)
{
	(void)o;
	struct memb *m = calloc(1, sizeof(*m));
	if (!m || store_users_alloc(&m->users) || store_bindings_alloc(&m->bindings)) {
		if (m)
			m_close(m);
		return ENOMEM;
	}
	*bep = m;
	*opsp = &mem_ops;
	return 0;
}
