/* Transport layer: UDP, TCP and TLS listeners and connections on libevent, one event_base per
 * worker thread. Stream framing comes from the SIP core (sip/frame.h); TLS policy from tls/.
 * Upper layers receive whole SIP messages through a callback registered at allocation time and
 * answer through tp_send() on the source they were given (RFC 3261 18.2.2: responses go back
 * over the connection the request came on). */
#ifndef SIPSD_TRANSPORT_TRANSPORT_H
#define SIPSD_TRANSPORT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "conf/conf.h"

struct tls_sni_set;
struct tls_holder;
struct tls_peer_info;
struct tp_peer;
struct tp_worker;
struct tp_conn;
struct tp_listener;

/* An IPv4 or IPv6 address: 28 bytes where sockaddr_storage takes 128, and every connection
 * holds two (issue 4: memory per idle connection). */
union tp_sockaddr {
	sa_family_t ss_family;
	struct sockaddr sa;
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
};

struct tp_addr {
	union tp_sockaddr ss;
	socklen_t len;
};

/* "127.0.0.1:5061" or "[::1]:5061" into buf; returns buf. */
const char *tp_addr_fmt(const struct tp_addr *a, char *buf, size_t sz);
int tp_addr_from_host_port(struct tp_addr *a, const char *host, uint16_t port);

/* Where a message came from; pass it to tp_send() to answer. */
struct tp_source {
	enum conf_transport transport;
	const char *iface;         /* interface it arrived on; NULL on an outbound (peer) connection */
	struct tp_conn *conn;      /* stream transports; NULL for UDP */
	struct tp_listener *udp;   /* UDP socket it arrived on */
	struct tp_addr remote;
	struct tp_addr local;
};

/* One framed SIP message. msg stays valid only during the call. */
typedef void(tp_msg_h)(const struct tp_source *src, const char *msg, size_t len, void *arg);

/* What one listening address of an [interface:NAME] needs. */
struct tp_listen_spec {
	const char *iface;       /* interface name, for logs and tables */
	struct conf_listen listen;
	enum conf_mutual_auth mutual_auth;
	unsigned idle_timeout;   /* seconds */
	struct tls_sni_set *tls; /* TLS listeners: contexts by SNI, first is the default (reloadable) */
};

struct tp_settings {
	uint32_t max_message_size;
	unsigned handshake_timeout; /* seconds */
};

/* The workers of one process. A connection id carries its worker's index in its low 8 bits, so
 * any thread can address any connection through the pool. */
struct tp_pool;
#define TP_MAX_WORKERS 256u

int tp_pool_alloc(struct tp_pool **pp, unsigned nworkers, const struct tp_settings *s, tp_msg_h *msgh,
		  void *arg);
unsigned tp_pool_size(const struct tp_pool *pool);
/* Replace the message handler of every worker (before the workers run). */
void tp_pool_set_handler(struct tp_pool *pool, tp_msg_h *msgh, void *arg);
struct tp_worker *tp_pool_worker(struct tp_pool *pool, unsigned i);
/* Thread-safe send on a connection by id: direct on its own worker's thread, otherwise the bytes
 * are copied and handed to that worker. ENOTCONN when it is gone (known at once only locally). */
int tp_pool_send_conn(struct tp_pool *pool, uint64_t conn_id, const void *buf, size_t len);
/* The transport a connection id was made for (encoded in the id; pure). */
static inline enum conf_transport tp_conn_id_transport(uint64_t conn_id)
{
	return (enum conf_transport)((conn_id >> 8) & 3u);
}
/* Thread-safe: run fn(arg) on w's thread. 0 or ENOMEM. */
int tp_worker_post(struct tp_worker *w, void (*fn)(void *arg), void *arg);
/* The worker whose loop runs on the calling thread, NULL elsewhere. */
struct tp_worker *tp_worker_self(void);
unsigned tp_worker_index(const struct tp_worker *w);
struct tp_pool *tp_worker_pool(const struct tp_worker *w);
/* Called on the owning worker's thread whenever a stream connection ends (RFC 5626 flows). */
typedef void(tp_conn_closed_h)(uint64_t conn_id, void *arg);
void tp_pool_set_closed_handler(struct tp_pool *pool, tp_conn_closed_h *h, void *arg);
struct event_base *tp_worker_base(struct tp_worker *w);
/* Datagram from one of w's UDP sockets of dst's family. 0, ENOTCONN (no UDP listener), errno. */
int tp_worker_send_udp(struct tp_worker *w, const struct tp_addr *dst, const void *buf, size_t len);
/* Address family-matching local address of the first listener of this transport (for Via and
 * Record-Route), false when none. */
bool tp_worker_local_addr(struct tp_worker *w, enum conf_transport tp, int family, struct tp_addr *out);
/* The connection a peer link currently runs on, 0 when it is not up. Thread-safe. */
uint64_t tp_peer_conn_id(const struct tp_peer *p);
/* Connection by id on w (call on w's thread). */
struct tp_conn *tp_worker_conn(struct tp_worker *w, uint64_t conn_id);
/* Opens the socket (SO_REUSEPORT, so every worker binds the same address and the kernel spreads
 * connections). Errors are logged with the address; returns an errno. */
int tp_worker_listen(struct tp_worker *w, const struct tp_listen_spec *spec);
/* Runs the worker's loop until a graceful stop completes. Call on the worker's own thread. */
int tp_worker_run(struct tp_worker *w);
/* Thread-safe: stop accepting, flush, send close_notify on every TLS connection, close, and make
 * tp_worker_run() return; connections still busy after timeout_ms are closed anyway. */
void tp_worker_stop(struct tp_worker *w, unsigned timeout_ms);
unsigned tp_worker_conn_count(const struct tp_worker *w);

/* Queue bytes to the source (stream: the connection; UDP: sendto). 0 or errno. */
int tp_send(const struct tp_source *dst, const void *buf, size_t len);

/* --- outbound connections opened on demand --- */
struct tp_connect_spec {
	const struct tp_addr *remote;
	enum conf_transport transport; /* TCP or TLS */
	struct tls_holder *tls;        /* TLS: client certificate and trust store */
	const char *identity;          /* TLS: the domain the server certificate must prove (RFC 5922) */
	uint16_t local_port;           /* fixed source port, 0 = any */
	unsigned idle_timeout;         /* seconds without traffic before it is closed, 0 = never */
};
/* Opens a stream connection on w (call on w's thread). Its id is usable at once: bytes sent to it
 * (tp_pool_send_conn) wait until it is up; a failure later closes it, which the closed handler
 * reports like any other. 0, EINVAL, or ECONNREFUSED with why filled in. */
int tp_worker_connect(struct tp_worker *w, const struct tp_connect_spec *s, uint64_t *conn_id, char *why,
		      size_t whysz);

/* --- persistent outbound links to a peer host (owned by the worker they start on) --- */
struct tp_peer;

/* One host of a peer: the proxy owns the proxy set (several hosts, failover). */
struct tp_peer_spec {
	const char *name;
	const char *host;               /* name or address, without brackets */
	uint16_t port;
	enum conf_transport transport;  /* TCP or TLS */
	struct tls_holder *tls;         /* client certificate and trust store; required for TLS */
	const char *identity;           /* domain the certificate must prove; NULL = host */
	uint16_t local_port;            /* fixed source port, 0 = any */
	unsigned keepalive;             /* seconds between CRLF pings, 0 = none */
};

enum tp_peer_state { TP_PEER_CONNECTING, TP_PEER_UP, TP_PEER_DOWN };

struct tp_peer_status {
	char name[64];
	enum tp_peer_state state;
	char remote_host[256];
	uint16_t remote_port;
	char remote_addr[80];
	uint16_t local_port;
	char last_error[160];
	unsigned connects, failures;
	uint64_t conn_id;
};

int tp_peer_start(struct tp_worker *w, const struct tp_peer_spec *spec, struct tp_peer **pp);
void tp_peer_status_get(const struct tp_peer *p, struct tp_peer_status *st);
const char *tp_peer_state_name(enum tp_peer_state s);
/* Calls h for every peer link of w (call on w's thread). */
void tp_worker_peers_status(struct tp_worker *w, void (*h)(const struct tp_peer_status *st, void *arg), void *arg);

uint64_t tp_conn_id(const struct tp_conn *c);
/* What the TLS handshake proved (NULL for TCP or before the handshake) and whether the peer's
 * certificate verified. Call on the connection's worker. */
const struct tls_peer_info *tp_conn_tls_info(const struct tp_conn *c);
bool tp_conn_verified(const struct tp_conn *c);
/* Close after flushing what is queued (TLS: with close_notify). */
void tp_conn_close(struct tp_conn *c, const char *why);

/* ==== Management snapshots (snapshot.c, issue 8): read-only views for the management API ==== */
#include <time.h>

/* One connection as the operator's table shows it. Strings are NUL-terminated, "" when n/a. */
struct tp_conn_row {
	uint64_t id;
	enum conf_transport transport;
	bool inbound;
	char iface[64];          /* interface it arrived on, "" outbound */
	char peer_name[64];      /* [peer:NAME] it serves, "" when none */
	char local[80], remote[80];
	const char *state;       /* "connecting", "handshake", "up", "closing" */
	char tls_version[16];
	char cipher[64];
	char sni[256];           /* server name the client asked for (sent, on outbound) */
	char subject[256];       /* peer certificate subject, RFC 2253 */
	char sans[512];          /* comma-separated SAN URIs and dNSNames */
	time_t not_after;        /* peer certificate, 0 when none */
	char identity[256];      /* verified SIP domain identity (RFC 5922), "" when none */
	char verify[128];        /* "ok", "no certificate", "not requested", or the X.509 error */
	bool cert_verified;
	uint64_t age_ms, idle_ms, bytes_in, bytes_out;
};

/* Calls h for every connection of w. Call on w's thread (tp_worker_post). */
void tp_worker_conns_snapshot(struct tp_worker *w, void (*h)(const struct tp_conn_row *row, void *arg), void *arg);
/* Connections of w by transport ([CONF_TP_UDP] stays 0). Call on w's thread. */
void tp_worker_conn_counts(struct tp_worker *w, unsigned counts[3]);
/* Close connection id of w (flush, close_notify for TLS). Call on w's thread. 0 or ENOENT. */
int tp_worker_conn_close_id(struct tp_worker *w, uint64_t conn_id);

/* Successful TLS handshakes, process-wide, by side (relaxed atomics). */
struct tp_tls_stats {
	uint64_t handshakes_ok[2]; /* [0] server (inbound), [1] client (outbound) */
};
void tp_tls_stats_get(struct tp_tls_stats *st);
void tp_tls_stats_handshake_ok(bool inbound); /* tls_glue.c, on every finished handshake */
/* ==== end of management snapshots ==== */

#endif
