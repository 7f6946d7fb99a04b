/* [peer:NAME] as the proxy routes to it: its hosts in priority order (a proxy set), each reached
 * over a persistent link (kept up by the transport), a connection each worker opens when it has
 * something to send, or UDP datagrams to a legacy box. A request fails over to the next host on
 * a transport error, a timeout or a 503 (RFC 3263 4.3); the proxy core drives that. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"
#include "proxy/internal.h"
#include "sip/uri.h"

enum { ON_DEMAND_IDLE_S = 600 };

/* "sips:host[:port]" or "sip:host[:port][;transport=udp|tcp|tls]"; plain sip: means TCP. */
static int parse_host(const char *text, struct proxy_peer_host *h)
{
	struct sip_uri u;
	if (sip_uri_parse(&u, text, strlen(text)) || (u.scheme != SIP_URI_SIP && u.scheme != SIP_URI_SIPS) ||
	    u.host.len == 0)
		return EINVAL;
	struct slice host = u.host;
	if (u.host_ipv6 && host.len >= 2) {
		host.p++;
		host.len -= 2;
	}
	if (host.len >= sizeof(h->host))
		return EINVAL;
	slice_copy(host, h->host, sizeof(h->host));
	struct slice tp = { 0 };
	h->transport = u.scheme == SIP_URI_SIPS ? CONF_TP_TLS : CONF_TP_TCP;
	if (u.scheme == SIP_URI_SIP && sip_param_get(u.params, "transport", &tp)) {
		if (slice_eq_cstr_ci(tp, "udp"))
			h->transport = CONF_TP_UDP;
		else if (slice_eq_cstr_ci(tp, "tls"))
			h->transport = CONF_TP_TLS;
		else if (!slice_eq_cstr_ci(tp, "tcp"))
			return EINVAL;
	}
	h->port = u.port ? u.port : (h->transport == CONF_TP_TLS ? 5061 : 5060);
	return 0;
}

/* Hosts without a link are resolved once, at start (a name that doesn't resolve makes that host
 * unusable, and requests fail over past it). */
static void resolve_host(struct proxy_peer_host *h, const char *peer)
{
	if (tp_addr_from_host_port(&h->addr, h->host, h->port) == 0) {
		h->resolved = true;
		return;
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = h->transport == CONF_TP_UDP ? SOCK_DGRAM : SOCK_STREAM };
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", h->port);
	int e = getaddrinfo(h->host, port, &hints, &res);
	if (e || !res || res->ai_addrlen > sizeof(h->addr.ss)) {
		log_err("proxy.peer_unresolved", "peer=%s host=%s error=\"%s\"", peer, h->host, e ? gai_strerror(e) : "no address");
		if (res)
			freeaddrinfo(res);
		return;
	}
	memcpy(&h->addr.ss, res->ai_addr, res->ai_addrlen);
	h->addr.len = (socklen_t)res->ai_addrlen;
	h->resolved = true;
	freeaddrinfo(res);
}

int proxy_peers_init(struct proxy *p, struct tls_holder *const *peer_tls)
{
	const struct conf *c = p->conf;
	p->npeers = c->npeers;
	p->peers = calloc(c->npeers + 1, sizeof(*p->peers));
	if (!p->peers)
		return ENOMEM;
	size_t flat = 0;
	for (size_t i = 0; i < c->npeers; i++) {
		const struct conf_peer *cp = &c->peers[i];
		struct proxy_peer *pp = &p->peers[i];
		pp->cp = cp;
		pp->index = i;
		pp->tls = peer_tls ? peer_tls[i] : NULL;
		pp->hosts = calloc(cp->uri.n + 1, sizeof(*pp->hosts));
		if (!pp->hosts)
			return ENOMEM;
		pp->nhosts = cp->uri.n;
		pp->first_flat = flat;
		flat += cp->uri.n;
		for (size_t k = 0; k < cp->uri.n; k++) {
			struct proxy_peer_host *h = &pp->hosts[k];
			if (parse_host(cp->uri.v[k], h)) {
				log_err("proxy.peer_bad_uri", "peer=%s uri=\"%s\"", cp->name, cp->uri.v[k]);
				return EINVAL;
			}
			if (h->transport == CONF_TP_TLS && !pp->tls) {
				log_err("proxy.peer_no_tls_context", "peer=%s uri=\"%s\"", cp->name, cp->uri.v[k]);
				return EINVAL;
			}
		}
		/* RFC 5922 7.3: the identity is the domain the request was meant for, not an address. */
		snprintf(pp->identity, sizeof(pp->identity), "%s", cp->identity ? cp->identity : pp->hosts[0].host);
		for (size_t k = 0; k < pp->nhosts; k++) {
			struct proxy_peer_host *h = &pp->hosts[k];
			if (h->transport == CONF_TP_UDP || !cp->persistent) {
				resolve_host(h, cp->name);
				continue;
			}
			/* Persistent links live on worker 0: one connection per host, not per worker. */
			struct tp_peer_spec ps = {
				.name = cp->name,
				.host = h->host,
				.port = h->port,
				.transport = h->transport,
				.tls = pp->tls,
				.identity = pp->identity,
				.local_port = cp->local_port,
				.keepalive = cp->keepalive,
			};
			int e = tp_peer_start(tp_pool_worker(p->pool, 0), &ps, &h->link);
			if (e)
				return e;
		}
	}
	p->nflat = flat;
	return 0;
}

void proxy_peers_free(struct proxy *p)
{
	for (size_t i = 0; p->peers && i < p->npeers; i++)
		free(p->peers[i].hosts);
	free(p->peers);
	p->peers = NULL;
}

static bool domain_matches(struct slice host, const char *d)
{
	if (d[0] == '*' && d[1] == '.') {
		size_t dl = strlen(d + 1);
		return host.len > dl && strncasecmp(host.p + host.len - dl, d + 1, dl) == 0;
	}
	return slice_eq_cstr_ci(host, d);
}

const struct proxy_peer *proxy_peer_for_domain(struct proxy *p, struct slice host)
{
	const struct conf *c = p->conf;
	for (size_t i = 0; i < p->npeers; i++) {
		const struct conf_strlist *ds = &p->peers[i].cp->domains;
		for (size_t k = 0; k < ds->n; k++)
			if (domain_matches(host, ds->v[k]))
				return &p->peers[i];
	}
	for (size_t i = 0; c->global.default_peer && i < p->npeers; i++)
		if (strcmp(p->peers[i].cp->name, c->global.default_peer) == 0)
			return &p->peers[i];
	return NULL;
}

const struct proxy_peer *proxy_peer_for_host(struct proxy *p, struct slice host, uint16_t port, size_t *hidx)
{
	if (host.len >= 2 && host.p[0] == '[') {
		host.p++;
		host.len -= 2;
	}
	for (size_t i = 0; i < p->npeers; i++)
		for (size_t k = 0; k < p->peers[i].nhosts; k++)
			if (slice_eq_cstr_ci(host, p->peers[i].hosts[k].host) &&
			    (port == 0 || port == p->peers[i].hosts[k].port)) {
				*hidx = k;
				return &p->peers[i];
			}
	return NULL;
}

static bool addr_eq(const struct tp_addr *a, const struct tp_addr *b)
{
	return a->len == b->len && a->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

const struct proxy_peer *proxy_peer_of_hop(struct proxy *p, const struct txn_hop *from, size_t *hidx)
{
	for (size_t i = 0; i < p->npeers; i++) {
		const struct proxy_peer *pp = &p->peers[i];
		for (size_t k = 0; k < pp->nhosts; k++) {
			const struct proxy_peer_host *h = &pp->hosts[k];
			bool match;
			if (h->transport == CONF_TP_UDP)
				match = from->transport == CONF_TP_UDP && h->resolved && addr_eq(&h->addr, &from->addr);
			else if (h->link)
				match = from->conn_id && tp_peer_conn_id(h->link) == from->conn_id;
			else
				match = from->conn_id && from->conn_id == proxy_on_demand_conn(p, pp->first_flat + k, from->conn_id);
			if (match) {
				*hidx = k;
				return pp;
			}
		}
	}
	return NULL;
}

uint64_t proxy_peer_ref(const struct proxy_peer *pp, size_t h)
{
	return PROXY_PEER_REF_BIT | (uint64_t)(pp->first_flat + h);
}

const struct proxy_peer *proxy_peer_of_ref(struct proxy *p, uint64_t ref, size_t *hidx)
{
	if (!(ref & PROXY_PEER_REF_BIT))
		return NULL;
	uint64_t flat = ref & ~PROXY_PEER_REF_BIT;
	for (size_t i = 0; i < p->npeers; i++) {
		const struct proxy_peer *pp = &p->peers[i];
		if (flat >= pp->first_flat && flat < pp->first_flat + pp->nhosts) {
			*hidx = (size_t)(flat - pp->first_flat);
			return pp;
		}
	}
	return NULL;
}

int proxy_peer_hop(struct proxy_worker *pw, const struct proxy_peer *pp, size_t h, struct txn_hop *hop,
		   const char **why)
{
	const struct proxy_peer_host *ph = &pp->hosts[h];
	memset(hop, 0, sizeof(*hop));
	hop->transport = ph->transport;
	if (ph->transport == CONF_TP_UDP) {
		if (!ph->resolved) {
			*why = "host not resolved";
			return EHOSTUNREACH;
		}
		hop->addr = ph->addr;
		return 0;
	}
	if (ph->link) {
		hop->conn_id = tp_peer_conn_id(ph->link);
		if (!hop->conn_id) {
			*why = "link down";
			return ENOTCONN;
		}
		return 0;
	}
	if (!ph->resolved) {
		*why = "host not resolved";
		return EHOSTUNREACH;
	}
	/* On demand: this worker's connection to the host while it lives, else a new one. */
	_Atomic uint64_t *slot = &pw->on_demand[pp->first_flat + h];
	uint64_t cid = atomic_load(slot);
	if (cid && tp_worker_conn(pw->w, cid)) {
		hop->conn_id = cid;
		hop->addr = ph->addr;
		return 0;
	}
	struct tp_connect_spec s = {
		.remote = &ph->addr,
		.transport = ph->transport,
		.tls = pp->tls,
		.identity = pp->identity,
		.idle_timeout = ON_DEMAND_IDLE_S,
	};
	static _Thread_local char err[160];
	if (tp_worker_connect(pw->w, &s, &cid, err, sizeof(err))) {
		*why = err;
		return ECONNREFUSED;
	}
	log_info("proxy.peer_connecting", "peer=%s host=%s conn=%llu", pp->cp->name, ph->host, (unsigned long long)cid);
	atomic_store(slot, cid);
	hop->conn_id = cid;
	hop->addr = ph->addr;
	return 0;
}

uint64_t proxy_on_demand_conn(struct proxy *p, size_t flat, uint64_t conn_id)
{
	/* The worker that owns a connection is in its id's low byte (transport/pool.c). */
	unsigned w = (unsigned)(conn_id & 0xff);
	if (w >= p->nworkers || !p->pw[w] || flat >= p->nflat)
		return 0;
	return atomic_load(&p->pw[w]->on_demand[flat]);
}
