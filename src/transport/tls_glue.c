/* The transport's only contact with the TLS policy module. */
#include <stdio.h>

#include <openssl/err.h>

#include "base/log.h"
#include "base/mem.h"
#include "tls/ident.h"
#include "tls/tls.h"
#include "transport/stream.h"

SSL *tp_tls_server_new(struct tp_listener *l)
{
	SSL *ssl = NULL;
	if (!l->spec.tls || tls_sni_session_new(l->spec.tls, l->spec.mutual_auth, &ssl))
		return NULL;
	return ssl;
}

static void conn_peer_desc(const struct tp_conn *c, char *buf, size_t sz)
{
	snprintf(buf, sz, "%s conn=%llu iface=%s", c->remote_text, (unsigned long long)c->id,
		 c->lst ? c->lst->iface : "-");
}

void tp_tls_handshake_done(struct tp_conn *c)
{
	struct tls_peer_info *pi = NULL;
	tp_tls_stats_handshake_ok(c->inbound); /* management metrics (snapshot.c) */
	if (tls_peer_info_get(c->ssl, &pi) == 0) {
		c->authenticated = pi->cert_presented && pi->cert_verified;
		log_info("tls.handshake_ok",
			 "conn=%llu side=%s iface=%s remote=%s version=%s cipher=%s resumed=%s client_cert=%s "
			 "subject=\"%s\" identity=%s",
			 (unsigned long long)c->id, c->inbound ? "server" : "client", c->lst ? c->lst->iface : "-",
			 c->remote_text, pi->version, pi->cipher, pi->resumed ? "yes" : "no",
			 pi->cert_presented ? (pi->cert_verified ? "verified" : "unverified") : "none",
			 pi->subject ? pi->subject : "", pi->sip_domain ? pi->sip_domain : "-");
		mem_deref(c->peer);
		c->peer = pi;
	} else {
		log_info("tls.handshake_ok", "conn=%llu iface=%s remote=%s", (unsigned long long)c->id,
			 c->lst ? c->lst->iface : "-", c->remote_text);
	}
}

const char *tp_tls_handshake_failed(struct tp_conn *c, int ssl_err)
{
	char peer[160];
	conn_peer_desc(c, peer, sizeof(peer));
	enum tls_fail_reason r = tls_session_fail(c->ssl, ssl_err, peer);
	ERR_clear_error();
	return tls_fail_reason_name(r);
}
