#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "base/outbuf.h"
#include "store/backend.h"

static bool field_ok(struct slice s)
{
	return s.len <= STORE_FIELD_MAX && (s.len == 0 || s.p);
}

/* Copies the structure and every string field into one allocation (NUL after each string). */
static void *dup_packed(const void *rec, size_t recsz, size_t *const offs, size_t n, mem_destroy_h *dh)
{
	size_t total = recsz;
	for (size_t i = 0; i < n; i++) {
		const struct slice *f = (const struct slice *)((const char *)rec + offs[i]);
		if (!field_ok(*f))
			return NULL;
		total += f->len + 1;
	}
	char *copy = mem_zalloc(total, dh);
	if (!copy)
		return NULL;
	memcpy(copy, rec, recsz);
	char *p = copy + recsz;
	for (size_t i = 0; i < n; i++) {
		struct slice *f = (struct slice *)(copy + offs[i]);
		if (f->len)
			memcpy(p, f->p, f->len);
		p[f->len] = '\0';
		f->p = p;
		p += f->len + 1;
	}
	return copy;
}

static void user_destroy(void *data)
{
	struct store_user *u = data;
	for (int i = 0; i < STORE_HA1_COUNT; i++)
		if (u->ha1[i].len)
			explicit_bzero((void *)u->ha1[i].p, u->ha1[i].len);
}

struct store_user *store_user_dup(const struct store_user *u)
{
	if (!u)
		return NULL;
	size_t offs[] = {
		offsetof(struct store_user, user),   offsetof(struct store_user, domain),
		offsetof(struct store_user, realm),  offsetof(struct store_user, ha1[0]),
		offsetof(struct store_user, ha1[1]), offsetof(struct store_user, ha1[2]),
		offsetof(struct store_user, cert_identity),
	};
	return dup_packed(u, sizeof(*u), offs, sizeof(offs) / sizeof(offs[0]), user_destroy);
}

struct store_binding *store_binding_dup(const struct store_binding *b)
{
	if (!b)
		return NULL;
	size_t offs[] = {
		offsetof(struct store_binding, aor),	 offsetof(struct store_binding, contact),
		offsetof(struct store_binding, call_id), offsetof(struct store_binding, instance),
		offsetof(struct store_binding, path),	 offsetof(struct store_binding, user_agent),
		offsetof(struct store_binding, received), offsetof(struct store_binding, cert_identity),
	};
	return dup_packed(b, sizeof(*b), offs, sizeof(offs) / sizeof(offs[0]), NULL);
}

static void users_destroy(void *data)
{
	struct store_users *l = data;
	for (size_t i = 0; i < l->n; i++)
		mem_deref(l->v[i]);
	free(l->v);
}

static void bindings_destroy(void *data)
{
	struct store_bindings *l = data;
	for (size_t i = 0; i < l->n; i++)
		mem_deref(l->v[i]);
	free(l->v);
}

int store_users_alloc(struct store_users **lp)
{
	*lp = mem_zalloc(sizeof(**lp), users_destroy);
	return *lp ? 0 : ENOMEM;
}

int store_bindings_alloc(struct store_bindings **lp)
{
	*lp = mem_zalloc(sizeof(**lp), bindings_destroy);
	return *lp ? 0 : ENOMEM;
}

/* Room for one more: capacity is 8, then doubles, so it equals n whenever n is a power of two
 * of at least 8 (no capacity field needed in the public struct). */
static int ensure(void **v, size_t n)
{
	size_t cap;
	if (n == 0)
		cap = 8;
	else if (n >= 8 && (n & (n - 1)) == 0)
		cap = 2 * n;
	else
		return 0;
	if (cap > SIZE_MAX / sizeof(void *))
		return ENOMEM;
	void *nv = realloc(*v, cap * sizeof(void *));
	if (!nv)
		return ENOMEM;
	*v = nv;
	return 0;
}

int store_users_add(struct store_users *l, struct store_user *u)
{
	void *v = l->v;
	if (!u || ensure(&v, l->n)) {
		mem_deref(u);
		return ENOMEM;
	}
	l->v = v;
	l->v[l->n++] = u;
	return 0;
}

int store_bindings_add(struct store_bindings *l, struct store_binding *b)
{
	void *v = l->v;
	if (!b || ensure(&v, l->n)) {
		mem_deref(b);
		return ENOMEM;
	}
	l->v = v;
	l->v[l->n++] = b;
	return 0;
}

size_t store_binding_key(const struct store_binding *b, char *buf, size_t sz)
{
	struct outbuf o = OUTBUF_INIT_CSTR(buf, sz);
	if (b->instance.len) {
		outbuf_puts(&o, "i:");
		outbuf_put_slice(&o, b->instance);
		outbuf_puts(&o, ":");
		outbuf_put_u32(&o, b->reg_id);
	} else {
		outbuf_puts(&o, "c:");
		outbuf_put_slice(&o, b->contact);
	}
	return outbuf_cstr(&o);
}

bool store_binding_same_key(const struct store_binding *a, const struct store_binding *b)
{
	if (!slice_eq(a->aor, b->aor))
		return false;
	if (a->instance.len || b->instance.len)
		return slice_eq(a->instance, b->instance) && a->reg_id == b->reg_id;
	return slice_eq(a->contact, b->contact);
}

static int slice_cmp(struct slice a, struct slice b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.p, b.p, n) : 0;
	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

int store_binding_cmp(const struct store_binding *a, const struct store_binding *b)
{
	if (a->q != b->q)
		return a->q > b->q ? -1 : 1;
	if (a->updated != b->updated)
		return a->updated > b->updated ? -1 : 1;
	return slice_cmp(a->contact, b->contact);
}

bool store_user_valid(const struct store_user *u)
{
	if (!u || u->user.len == 0 || u->domain.len == 0)
		return false;
	const struct slice *f[] = { &u->user, &u->domain, &u->realm, &u->ha1[0], &u->ha1[1], &u->ha1[2],
				    &u->cert_identity };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!field_ok(*f[i]))
			return false;
	return true;
}

bool store_binding_valid(const struct store_binding *b)
{
	if (!b || b->aor.len == 0 || (b->contact.len == 0 && b->instance.len == 0))
		return false;
	const struct slice *f[] = { &b->aor, &b->contact, &b->call_id, &b->instance, &b->path,
				    &b->user_agent, &b->received, &b->cert_identity };
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!field_ok(*f[i]))
			return false;
	return true;
}
