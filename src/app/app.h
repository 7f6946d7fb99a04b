/* Wiring inside the sipsd binary. */
#ifndef SIPSD_APP_APP_H
#define SIPSD_APP_APP_H

#include "conf/conf.h"

struct tls_holder;
struct tls_sni_set;
struct tp_source;

/* One reloadable TLS context holder per [tls:NAME]. */
struct app_tls;
/* Build and validate every context the config names (files, key/cert match, chains, dates). */
int app_tls_build(const struct conf *conf, struct app_tls **tlsp, struct conf_error *err);
/* Build all contexts from conf and, only if every one succeeds, swap them in atomically. */
int app_tls_reload(struct app_tls *tls, const struct conf *conf, struct conf_error *err);
struct tls_holder *app_tls_holder(struct app_tls *tls, const char *name);
/* The SNI set of a TLS interface (its context first), NULL for none. */
struct tls_sni_set *app_tls_sni_set(struct app_tls *tls, const char *iface);

/* Worker threads, one event loop each, all listening on every interface (SO_REUSEPORT). */
struct app_workers;
int app_workers_start(const struct conf *conf, struct app_tls *tls, struct app_workers **wsp);
/* Graceful stop bounded by timeout_ms; frees ws. */
void app_workers_stop(struct app_workers *ws, unsigned timeout_ms);

/* ---- management API glue (issue 8) ---- */
struct tp_pool;
struct location;
struct proxy;
struct tp_pool *app_workers_pool(struct app_workers *ws);
struct location *app_workers_location(struct app_workers *ws);
struct proxy *app_workers_proxy(struct app_workers *ws);
struct registrar;
struct registrar *app_workers_registrar(struct app_workers *ws);
size_t app_tls_count(const struct app_tls *tls);
const char *app_tls_name(const struct app_tls *tls, size_t i);

/* What the endpoints need from main.c: the running configuration and the SIGHUP reload. */
struct app_mgmt_hooks {
	struct conf *(*conf_get)(void *arg);              /* new reference (mem_deref it) */
	int (*reload)(void *arg, struct conf_error *err); /* serialized with SIGHUP */
	void *arg;
};
struct app_mgmt;
/* Registers every endpoint (mgmt_endpoints.c), starts the API thread, checks expiry alarms once.
 * Returns 0 when [mgmt] gives nothing to open. */
int app_mgmt_start(const struct conf *conf, struct app_tls *tls, struct app_workers *ws,
		   const struct app_mgmt_hooks *hooks, struct app_mgmt **amp);
/* Stops the API thread (before the workers stop); frees am. NULL-safe. */
void app_mgmt_stop(struct app_mgmt *am);


#endif
