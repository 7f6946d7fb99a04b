/* Persistent outbound TLS/TCP connections to the hosts of configured peers (trunks, proxies,
 * gateways): the Mediatrix "persistent TLS" links. Connect at start, verify the peer's identity
 * (tls layer), ping with RFC 5626 4.4.1 CRLF keepalives, and reconnect with exponential backoff.
 * One link per host: the proxy fails requests over between the hosts of a proxy set. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>
#include <event2/util.h>
#include <openssl/err.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "tls/tls.h"
#include "transport/stream.h"

enum { BACKOFF_MIN_S = 1, BACKOFF_MAX_S = 60, PONG_TIMEOUT_MS = 10000 };

struct tp_peer {
	struct tp_peer *next;
	struct tp_worker *w;
	char name[64];
	char identity[256];
	char host[256];  /* without brackets */
	uint16_t port;
	enum conf_transport transport;
	struct tls_holder *tls;
	uint16_t local_port;
	unsigned keepalive;
	enum tp_peer_state state;
	char last_error[160];
	char remote_addr[80];
	unsigned backoff_s;
	unsigned connects, failures;
	struct tp_conn *conn;
	struct event *retry;  /* backoff timer */
	struct event *ka;     /* keepalive timer */
	struct event *confirm; /* TLS 1.3: wait for the server to accept our certificate */
	bool confirming;
	_Atomic uint64_t up_conn_id; /* read by other workers routing to this peer */
	struct evdns_getaddrinfo_request *dns;
	uint64_t ping_sent_ms;
	bool ping_outstanding;
	bool stopped;
};

static void peer_connect(struct tp_peer *p);

const char *tp_peer_state_name(enum tp_peer_state s)
{
	switch (s) {
	case TP_PEER_CONNECTING:
		return "connecting";
	case TP_PEER_UP:
		return "up";
	case TP_PEER_DOWN:
		return "down";
	}
	return "?";
}

static void peer_destroy(void *data)
{
	struct tp_peer *p = data;
	if (p->dns)
		evdns_getaddrinfo_cancel(p->dns);
	if (p->retry)
		event_free(p->retry);
	if (p->ka)
		event_free(p->ka);
	if (p->confirm)
		event_free(p->confirm);
	mem_deref(p->tls);
}

static void peer_set_down(struct tp_peer *p, const char *why)
{
	p->state = TP_PEER_DOWN;
	atomic_store(&p->up_conn_id, 0);
	snprintf(p->last_error, sizeof(p->last_error), "%s", why);
	if (p->stopped)
		return;
	p->failures++;
	unsigned delay = p->backoff_s;
	p->backoff_s = p->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : p->backoff_s * 2;
	log_notice("peer.down", "peer=%s host=%s error=\"%s\" retry_in_s=%u", p->name, p->host, why, delay);
	struct timeval tv = { delay, 0 };
	event_add(p->retry, &tv);
}

void tp_peer_conn_gone(struct tp_peer *p, struct tp_conn *c, const char *why)
{
	if (p->conn != c)
		return;
	p->conn = NULL;
	p->ping_outstanding = false;
	p->confirming = false;
	event_del(p->confirm);
	peer_set_down(p, why ? why : "closed");
}

static void peer_mark_up(struct tp_peer *p)
{
	struct tp_conn *c = p->conn;
	p->confirming = false;
	event_del(p->confirm);
	p->state = TP_PEER_UP;
	atomic_store(&p->up_conn_id, c->id);
	p->last_error[0] = '\0';
	p->backoff_s = BACKOFF_MIN_S;
	p->connects++;
	log_notice("peer.up", "peer=%s conn=%llu remote=%s identity=%s", p->name, (unsigned long long)c->id,
		   c->remote_text, p->identity);
}

static void confirm_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_peer *p = arg;
	if (p->confirming && p->conn)
		peer_mark_up(p); /* silence is consent: the server kept the connection */
}

void tp_peer_conn_up(struct tp_peer *p, struct tp_conn *c)
{
	if (p->conn != c)
		return;
	if (c->ssl && SSL_version(c->ssl) >= TLS1_3_VERSION) {
		/* RFC 8446 4.4.2: the server checks our certificate after our handshake is done and
		 * refuses with an alert we only see on the next read. Ping and call the link up on the
		 * pong (or any data), or when no alert came within a moment. */
		p->confirming = true;
		struct tp_source src = { .transport = c->transport, .conn = c };
		tp_send(&src, "\r\n\r\n", 4);
		struct timeval tv = { 1, 0 };
		event_add(p->confirm, &tv);
		return;
	}
	peer_mark_up(p);
}

void tp_peer_data(struct tp_peer *p, struct tp_conn *c)
{
	if (p->conn == c && p->confirming)
		peer_mark_up(p);
}

void tp_peer_pong(struct tp_peer *p)
{
	p->ping_outstanding = false;
}

static void keepalive_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_peer *p = arg;
	if (!p->conn || p->state != TP_PEER_UP)
		return;
	if (p->ping_outstanding) {
		/* RFC 5626 4.4.1: no pong within 10 s means the flow has failed. */
		if (time_mono_ms() - p->ping_sent_ms >= PONG_TIMEOUT_MS)
			tp_conn_close(p->conn, "keepalive timeout");
		return;
	}
	struct tp_source src = { .transport = p->conn->transport, .conn = p->conn };
	if (tp_send(&src, "\r\n\r\n", 4) == 0) {
		p->ping_outstanding = true;
		p->ping_sent_ms = time_mono_ms();
	}
}

static void retry_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	peer_connect(arg);
}

static void peer_connect_addr(struct tp_peer *p, const struct tp_addr *ra)
{
	tp_addr_fmt(ra, p->remote_addr, sizeof(p->remote_addr));
	struct tp_connect_spec s = {
		.remote = ra,
		.transport = p->transport,
		.tls = p->tls,
		.identity = p->identity,
		.local_port = p->local_port,
	};
	char why[160];
	p->conn = tp_connect(p->w, &s, p, why, sizeof(why));
	if (!p->conn)
		peer_set_down(p, why);
}

static void dns_h(int result, struct evutil_addrinfo *res, void *arg)
{
	struct tp_peer *p = arg;
	p->dns = NULL;
	if (result != 0 || !res) {
		char why[300];
		snprintf(why, sizeof(why), "cannot resolve %s: %s", p->host, evutil_gai_strerror(result));
		if (res)
			evutil_freeaddrinfo(res);
		if (result != EVUTIL_EAI_CANCEL)
			peer_set_down(p, why);
		return;
	}
	if (res->ai_addrlen > sizeof(((struct tp_addr *)0)->ss)) {
		evutil_freeaddrinfo(res);
		peer_set_down(p, "resolved to an address that is neither IPv4 nor IPv6");
		return;
	}
	struct tp_addr ra = { 0 };
	memcpy(&ra.ss, res->ai_addr, res->ai_addrlen);
	ra.len = (socklen_t)res->ai_addrlen;
	evutil_freeaddrinfo(res);
	peer_connect_addr(p, &ra);
}

static void peer_connect(struct tp_peer *p)
{
	if (p->stopped || p->conn)
		return;
	p->state = TP_PEER_CONNECTING;
	struct tp_addr ra;
	if (tp_addr_from_host_port(&ra, p->host, p->port) == 0) {
		peer_connect_addr(p, &ra);
		return;
	}
	struct evdns_base *dns = tp_worker_dns(p->w);
	if (!dns) {
		peer_set_down(p, "no resolver");
		return;
	}
	struct evutil_addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	char port[8];
	snprintf(port, sizeof(port), "%u", p->port);
	p->dns = evdns_getaddrinfo(dns, p->host, port, &hints, dns_h, p);
}

int tp_peer_start(struct tp_worker *w, const struct tp_peer_spec *spec, struct tp_peer **pp)
{
	if (!spec->name || !spec->host || !*spec->host || !spec->port ||
	    (spec->transport != CONF_TP_TCP && spec->transport != CONF_TP_TLS) ||
	    (spec->transport == CONF_TP_TLS && !spec->tls))
		return EINVAL;
	struct tp_peer *p = mem_zalloc(sizeof(*p), peer_destroy);
	if (!p)
		return ENOMEM;
	p->w = w;
	snprintf(p->name, sizeof(p->name), "%s", spec->name);
	snprintf(p->host, sizeof(p->host), "%s", spec->host);
	p->port = spec->port;
	p->transport = spec->transport;
	/* RFC 5922 7.3: the identity is the domain the request was meant for, not its address. */
	snprintf(p->identity, sizeof(p->identity), "%s", spec->identity ? spec->identity : spec->host);
	p->tls = mem_ref(spec->tls);
	p->local_port = spec->local_port;
	p->keepalive = spec->keepalive;
	p->backoff_s = BACKOFF_MIN_S;
	p->state = TP_PEER_DOWN;
	p->retry = evtimer_new(w->base, retry_h, p);
	p->ka = event_new(w->base, -1, EV_PERSIST, keepalive_h, p);
	p->confirm = evtimer_new(w->base, confirm_h, p);
	if (!p->retry || !p->ka || !p->confirm)
		goto nomem;
	if (p->keepalive) {
		struct timeval tv = { p->keepalive, 0 };
		event_add(p->ka, &tv);
	}
	tp_worker_add_peer(w, p);
	event_active(p->retry, 0, 0);
	if (pp)
		*pp = p;
	return 0;
nomem:
	mem_deref(p);
	return ENOMEM;
}

void tp_peer_stop(struct tp_peer *p)
{
	p->stopped = true;
	event_del(p->retry);
	event_del(p->ka);
	event_del(p->confirm);
	if (p->dns) {
		evdns_getaddrinfo_cancel(p->dns);
		p->dns = NULL;
	}
}

struct tp_peer *tp_peer_next_in_list(struct tp_peer *p)
{
	return p->next;
}

void tp_peer_set_next(struct tp_peer *p, struct tp_peer *next)
{
	p->next = next;
}

void tp_peer_status_get(const struct tp_peer *p, struct tp_peer_status *st)
{
	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", p->name);
	st->state = p->state;
	snprintf(st->remote_host, sizeof(st->remote_host), "%s", p->host);
	snprintf(st->remote_addr, sizeof(st->remote_addr), "%s", p->remote_addr);
	snprintf(st->last_error, sizeof(st->last_error), "%s", p->last_error);
	st->remote_port = p->port;
	st->local_port = p->local_port;
	st->connects = p->connects;
	st->failures = p->failures;
	st->conn_id = p->conn ? p->conn->id : 0;
}

uint64_t tp_peer_conn_id(const struct tp_peer *p)
{
	return atomic_load(&((struct tp_peer *)p)->up_conn_id);
}
