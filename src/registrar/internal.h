/* Inside src/registrar only: the provisioned-user set and the store <-> location conversions. */
#ifndef SIPSD_REGISTRAR_INTERNAL_H
#define SIPSD_REGISTRAR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "registrar/location.h"
#include "store/store.h"

/* Set of canonical AORs of enabled users, for the proxy's 404-vs-480 question. Thread-safe. */
struct reg_users;
int reg_users_alloc(struct reg_users **up);
bool reg_users_has(struct reg_users *u, const char *aor);
/* A REGISTER's store lookup learnt this (added since the last load, or deleted/disabled). */
void reg_users_note(struct reg_users *u, const char *aor, bool known);
/* Replaces the set with the store's enabled users (blocking read). */
int reg_users_load(struct reg_users *u, struct store *s);
size_t reg_users_count(struct reg_users *u);

/* "tls:192.0.2.1:5061" <-> transport + address (store_binding.received). */
int reg_received_fmt(enum conf_transport tp, const struct tp_addr *a, char *buf, size_t sz);
int reg_received_parse(const char *s, enum conf_transport *tp, struct tp_addr *a);

/* Fills sb with slices into b (and into rbuf for `received`); sb lives as long as b and rbuf. */
void reg_binding_to_store(const struct loc_binding *b, struct store_binding *sb, char *rbuf, size_t rbufsz);
/* EINVAL when a field does not fit loc_binding (then the binding is skipped at load). */
int reg_binding_from_store(const struct store_binding *sb, struct loc_binding *b);
/* Start-up: every unexpired stored binding into loc, stream flows marked failed. */
int reg_load_bindings(struct store *s, struct location *loc, time_t now, size_t *loaded);

/* Short-lived user records keyed by "user@domain" (ucache.c); NULL records cache "no such
 * user" too. ttl 0 disables it. Thread-safe. */
struct reg_ucache;
struct reg_ucache *reg_ucache_alloc(unsigned ttl);
/* true and *up (a new reference, possibly NULL) when fresh. */
bool reg_ucache_get(struct reg_ucache *c, const char *key, time_t now, struct store_user **up);
void reg_ucache_put(struct reg_ucache *c, const char *key, struct store_user *u, time_t now);
void reg_ucache_purge(struct reg_ucache *c, time_t now);

#endif
