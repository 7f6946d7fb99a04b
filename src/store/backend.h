/* Backend vtable (inside src/store only). A backend is single-threaded: store.c serialises every
 * call with one mutex, brackets each batch with begin/commit and each request with a savepoint. */
#ifndef SIPSD_STORE_BACKEND_H
#define SIPSD_STORE_BACKEND_H

#include "store/store.h"

struct store_backend_ops {
	const char *name;
	int (*begin)(void *be);
	int (*commit)(void *be);
	void (*rollback)(void *be);
	int (*savepoint)(void *be);
	int (*release)(void *be);
	void (*rollback_to)(void *be);
	int (*user_get)(void *be, struct slice user, struct slice domain, struct store_user **up);
	int (*user_put)(void *be, const struct store_user *u);
	int (*user_del)(void *be, struct slice user, struct slice domain);
	int (*user_list)(void *be, struct store_users **lp);
	int (*binding_put)(void *be, const struct store_binding *b);
	int (*binding_get)(void *be, struct slice aor, struct store_bindings **lp);
	int (*binding_del)(void *be, const struct store_binding *key, size_t *n);
	int (*binding_del_aor)(void *be, struct slice aor, size_t *n);
	int (*binding_expire)(void *be, int64_t now, size_t *n);
	/* deletes the binding with key's aor and key if its stored expires <= now; *n = 0 or 1 */
	int (*binding_expire_key)(void *be, const struct store_binding *key, int64_t now, size_t *n);
	int (*binding_load_all)(void *be, struct store_bindings **lp);
	void (*close)(void *be);
};

int store_sqlite_open(const struct store_opts *o, void **bep, const struct store_backend_ops **opsp);
int store_mem_open(const struct store_opts *o, void **bep, const struct store_backend_ops **opsp);

/* Helpers shared by backends (records.c). */
int store_users_alloc(struct store_users **lp);
int store_users_add(struct store_users *l, struct store_user *u); /* takes the reference */
int store_bindings_alloc(struct store_bindings **lp);
int store_bindings_add(struct store_bindings *l, struct store_binding *b); /* takes the reference */
/* Binding key (see store.h): "i:" instance ":" reg_id, or "c:" contact, NUL-terminated in
 * buf. Returns its length, 0 when it does not fit in sz bytes (2 * STORE_FIELD_MAX + 32 always
 * does). */
size_t store_binding_key(const struct store_binding *b, char *buf, size_t sz);
bool store_binding_same_key(const struct store_binding *a, const struct store_binding *b);
/* get order: q desc, updated desc, contact asc. */
int store_binding_cmp(const struct store_binding *a, const struct store_binding *b);
bool store_user_valid(const struct store_user *u);
bool store_binding_valid(const struct store_binding *b);

#endif
