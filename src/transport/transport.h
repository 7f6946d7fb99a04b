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
#include <sys/socket.h>

#include "conf/conf.h"

struct tls_sni_set;
struct tp_worker;
struct tp_conn;
struct tp_listener;

struct tp_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* "127.0.0.1:5061" or "[::1]:5061" into buf; returns buf. */
const char *tp_addr_fmt(const struct tp_addr *a, char *buf, size_t sz);
int tp_addr_from_host_port(struct tp_addr *a, const char *host, uint16_t port);

/* Where a message came from; pass it to tp_send() to answer. */
struct tp_source {
	enum conf_transport transport;
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

int tp_worker_alloc(struct tp_worker **wp, unsigned index, const struct tp_settings *s, tp_msg_h *msgh,
		    void *arg);
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

uint64_t tp_conn_id(const struct tp_conn *c);
/* Close after flushing what is queued (TLS: with close_notify). */
void tp_conn_close(struct tp_conn *c, const char *why);

#endif
