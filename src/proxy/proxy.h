/* The SIP core of sipsd: the RFC 3261 16 stateful proxy, with REGISTER handed to the registrar.
 * One struct proxy for the process; per worker thread it keeps a transaction layer on that
 * worker's loop. Messages arrive from the transport (proxy_recv as the tp_msg_h) and leave
 * through it; nothing here opens sockets. */
#ifndef SIPSD_PROXY_PROXY_H
#define SIPSD_PROXY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "registrar/registrar.h"
#include "transport/transport.h"

struct proxy;
struct registrar;
struct location;
struct tls_holder;

/* True when aor is a provisioned user (404 vs 480 for an unregistered one). */
typedef bool(proxy_user_known_h)(const char *aor, void *arg);

struct proxy_settings {
	const struct conf *conf;     /* domains, interfaces, peers, timers (referenced) */
	reg_handle_h *registerh;     /* REGISTER handling; NULL = 501 for REGISTER */
	void *register_arg;
	reg_handle_h *authorizeh;    /* digest for callers to other domains (407); NULL = 403 */
	void *authorize_arg;
	proxy_user_known_h *user_known;
	void *user_known_arg;
	struct location *location;   /* where registered users are */
	struct tp_pool *pool;
	struct tls_holder *const *peer_tls; /* per conf->peers entry: its [tls:NAME] (NULL: none) */
};

int proxy_alloc(struct proxy **pp, const struct proxy_settings *s);
/* The transport message handler (arg = the proxy). */
void proxy_recv(const struct tp_source *src, const char *msg, size_t len, void *arg);
/* The transport's connection-closed hook (arg = the proxy): flows die with their connection. */
void proxy_conn_closed(uint64_t conn_id, void *arg);

/* Methods counted separately (enum sip_method values; 0 = others). */
#define PROXY_METHODS 15

struct proxy_stats {
	uint64_t requests, responses, forwarded, local_replies, stateless_fwd;
	uint64_t by_final[7]; /* finals we sent upstream by class */
	uint64_t txn_final[PROXY_METHODS][7]; /* finals by request method (enum sip_method) and class */
};
void proxy_stats_get(struct proxy *p, struct proxy_stats *st);
/* Media-policy counters (offers by media and key management, rejections by reason). */
struct sdp_metrics_snapshot;
void proxy_sdp_metrics_get(struct proxy *p, struct sdp_metrics_snapshot *out);

#endif
