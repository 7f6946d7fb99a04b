/* Read-only views of a worker's connections for the management API (issue 8). Every function
 * here runs on the worker's own thread (the caller posts it there), so it reads the connection
 * structures without locks; only copies leave. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/timeutil.h"
#include "tls/ident.h"
#include "transport/stream.h"

static atomic_uint_fast64_t hs_ok[2];

void tp_tls_stats_handshake_ok(bool inbound)
{
	atomic_fetch_add_explicit(&hs_ok[inbound ? 0 : 1], 1, memory_order_relaxed);
}

void tp_tls_stats_get(struct tp_tls_stats *st)
{
	for (int i = 0; i < 2; i++)
		st->handshakes_ok[i] = atomic_load_explicit(&hs_ok[i], memory_order_relaxed);
}

static const char *state_name(enum tp_conn_state s)
{
	switch (s) {
	case TP_CONN_CONNECTING: return "connecting";
	case TP_CONN_HANDSHAKE: return "handshake";
	case TP_CONN_UP: return "up";
	case TP_CONN_CLOSING: return "closing";
	case TP_CONN_CLOSED: return "closed";
	}
	return "?";
}

static void join_list(char *buf, size_t sz, const struct tls_strlist *l)
{
	for (size_t i = 0; l && i < l->n; i++) {
		size_t n = strlen(buf);
		if (n + 1 >= sz)
			return;
		snprintf(buf + n, sz - n, "%s%s", n ? "," : "", l->v[i]);
	}
}

static void tls_facts(const struct tp_conn *c, struct tp_conn_row *r)
{
	const char *sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	snprintf(r->sni, sizeof(r->sni), "%s", sni ? sni : "");
	if (c->state == TP_CONN_HANDSHAKE || c->state == TP_CONN_CONNECTING) {
		snprintf(r->verify, sizeof(r->verify), "pending");
		return;
	}
	const struct tls_peer_info *pi = c->peer;
	if (!pi) {
		snprintf(r->verify, sizeof(r->verify), "unknown");
		return;
	}
	snprintf(r->tls_version, sizeof(r->tls_version), "%s", pi->version);
	snprintf(r->cipher, sizeof(r->cipher), "%s", pi->cipher);
	snprintf(r->subject, sizeof(r->subject), "%s", pi->subject ? pi->subject : "");
	join_list(r->sans, sizeof(r->sans), pi->san_uris);
	join_list(r->sans, sizeof(r->sans), pi->san_dns);
	r->not_after = pi->not_after;
	r->cert_verified = pi->cert_presented && pi->cert_verified;
	if (r->cert_verified && pi->sip_domain)
		snprintf(r->identity, sizeof(r->identity), "%s", pi->sip_domain);
	if (!pi->cert_presented) {
		bool asked = !c->inbound || (c->lst && c->lst->spec.mutual_auth != CONF_MA_OFF);
		snprintf(r->verify, sizeof(r->verify), "%s", asked ? "no certificate" : "not requested");
	} else if (pi->cert_verified) {
		snprintf(r->verify, sizeof(r->verify), "ok");
	} else {
		long e = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_ERR_UNSPECIFIED;
		snprintf(r->verify, sizeof(r->verify), "%s", X509_verify_cert_error_string(e));
	}
}

void tp_worker_conns_snapshot(struct tp_worker *w, void (*h)(const struct tp_conn_row *row, void *arg), void *arg)
{
	uint64_t now = time_mono_ms();
	for (struct tp_conn *c = w->conns; c; c = c->next) {
		struct tp_conn_row r;
		memset(&r, 0, sizeof(r));
		r.id = c->id;
		r.transport = c->transport;
		r.inbound = c->inbound;
		if (c->lst)
			snprintf(r.iface, sizeof(r.iface), "%s", c->lst->iface);
		if (c->tpeer) {
			struct tp_peer_status st;
			tp_peer_status_get(c->tpeer, &st);
			snprintf(r.peer_name, sizeof(r.peer_name), "%s", st.name);
		}
		if (c->local.len)
			tp_addr_fmt(&c->local, r.local, sizeof(r.local));
		snprintf(r.remote, sizeof(r.remote), "%s", c->remote_text);
		r.state = state_name(c->state);
		if (c->ssl)
			tls_facts(c, &r);
		else
			snprintf(r.verify, sizeof(r.verify), "not TLS");
		r.age_ms = now - c->created_ms;
		r.idle_ms = now - c->last_rx_ms;
		r.bytes_in = c->bytes_in;
		r.bytes_out = c->bytes_out;
		h(&r, arg);
	}
}

void tp_worker_conn_counts(struct tp_worker *w, unsigned counts[3])
{
	counts[0] = counts[1] = counts[2] = 0;
	for (struct tp_conn *c = w->conns; c; c = c->next)
		if ((unsigned)c->transport < 3)
			counts[c->transport]++;
}

int tp_worker_conn_close_id(struct tp_worker *w, uint64_t conn_id)
{
	struct tp_conn *c = tp_worker_conn(w, conn_id);
	if (!c || c->state == TP_CONN_CLOSED)
		return ENOENT;
	tp_conn_close(c, "closed by management API");
	return 0;
}
