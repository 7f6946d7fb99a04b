/* Registrar (RFC 3261 10.3) with digest (RFC 7616, RFC 8760) and certificate-bound identities,
 * over the durable store and the in-memory location service the proxy routes from.
 * Thread-safe: one registrar for all workers; replies come back on the calling worker. */
#ifndef SIPSD_REGISTRAR_REGISTRAR_H
#define SIPSD_REGISTRAR_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/slice.h"
#include "conf/conf.h"
#include "sip/msg.h"
#include "store/store.h"
#include "transport/transport.h"

struct location;
struct registrar;
struct tls_peer_info;

/* What the transport knows about the request's origin. */
struct reg_origin {
	const char *iface;               /* interface name, "" for peer links */
	enum conf_transport transport;
	uint64_t conn_id;                /* stream connection, 0 for UDP */
	struct tp_addr remote;
	enum conf_iface_auth auth;       /* the interface's `auth` */
	bool cert_verified;              /* mutual TLS with a verified client certificate */
	const struct tls_peer_info *peer;/* what it proved (SAN URIs...), NULL without TLS */
};

/* Called exactly once per registrar_handle(), on the caller's worker thread, possibly later
 * (after the durable write). extra: complete header lines without line end. */
typedef void(reg_reply_h)(uint16_t status, const char *reason, const struct slice *extra, size_t n_extra,
			  void *arg);

/* Handles one REGISTER; reply is called exactly once (see reg_reply_h). 0, or an errno when
 * nothing was done (the caller answers 500). */
typedef int(reg_handle_h)(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg,
			  void *arg);

/* Posts fn(arg) to the event loop of the calling worker (the registrar uses it to deliver
 * replies after store work). */
typedef int(reg_post_h)(void (*fn)(void *arg), void *arg);

/* ---- the registrar ---- */

/* Which event loop the calling thread runs (one store client is kept per loop), NULL when the
 * thread runs none. Default: tp_worker_self(). */
typedef void *(reg_loop_self_h)(void);

struct registrar_settings {
	const struct conf *conf;     /* [registrar], [global] domains (referenced) */
	struct store *store;         /* users and, when durable, bindings (referenced); must run its
				      * thread in the daemon so SQLite never stalls a loop */
	struct location *location;   /* filled from the store at alloc, then kept current (referenced) */
	reg_loop_self_h *loop_self;  /* NULL: tp_worker_self() */
	store_post_h *post;          /* post(loop, fn, arg) onto a loop_self() loop; NULL: tp_worker_post() */
	bool no_purge_thread;        /* tests: no timer thread, call registrar_purge() by hand */
	unsigned user_cache_ttl;     /* seconds a user record is reused without a store read (the
				      * REGISTER answering a challenge); 0 = always read */
	const void *nonce_secret;    /* tests / several processes: fixed nonce secret (16..64 bytes) */
	size_t nonce_secret_len;
};

/* Loads every binding from the store into the location service (stream flows marked failed:
 * connection ids do not survive a restart, RFC 5626 5.3), loads the provisioned users, and
 * starts the purge thread. 0, EINVAL, ENOMEM, or the store's errno. mem_deref() it after
 * registrar_close(). */
int registrar_alloc(struct registrar **rp, const struct registrar_settings *s);
/* Stops the purge thread; REGISTERs still in the store complete when the store is closed.
 * Call before store_close(). Idempotent. */
void registrar_close(struct registrar *r);

/* reg_handle_h; arg = the registrar. Call on a loop_self() loop. */
int registrar_handle(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg,
		     void *arg);
/* Proxy authentication of a caller (RFC 3261 22.3) for requests leaving towards other domains:
 * digest over Proxy-Authorization against the From user's credentials. reply gets status 0 when
 * the caller is authenticated, else the response to send (407 with Proxy-Authenticate, 403, 400).
 * Same calling rules as registrar_handle(). */
int registrar_authorize(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg,
			void *arg);
/* proxy_user_known_h; arg = the registrar: aor (canonical, location_aor_of()) is a provisioned,
 * enabled user. Lock-protected in-memory set, never touches the store. */
bool registrar_user_known(const char *aor, void *arg);

/* Removes expired bindings from memory and (durable) the store; how many left memory. The purge
 * thread calls it every purge_interval; tests call it directly. */
size_t registrar_purge(struct registrar *r, time_t now);
/* Re-reads the provisioned users (blocking store read: call off the loops, e.g. on reload). */
int registrar_users_refresh(struct registrar *r);

struct registrar_stats {
	uint64_t requests, ok, challenged, forbidden, bad, too_brief, store_errors;
};
void registrar_stats_get(struct registrar *r, struct registrar_stats *st);

#endif
