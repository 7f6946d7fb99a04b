/* Per-connection SSL objects: verification policy, RFC 5922 post-connection assertion inside
 * the handshake, SNI context switching. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/mem.h"
#include "tls/ident.h"
#include "tls/internal.h"

static int conn_idx = -1;
static pthread_once_t conn_idx_once = PTHREAD_ONCE_INIT;

static void conn_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	mem_deref(ptr);
}

static void conn_idx_init(void)
{
	conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_ex_free);
}

static int conn_index(void)
{
	pthread_once(&conn_idx_once, conn_idx_init);
	return conn_idx;
}

struct tls_conn *tls_conn_get(const SSL *ssl)
{
	int idx = conn_index();
	return idx >= 0 && ssl ? SSL_get_ex_data(ssl, idx) : NULL;
}

struct tls_ctx *tls_session_ctx(const SSL *ssl)
{
	struct tls_conn *c = tls_conn_get(ssl);
	return c ? c->ctx : NULL;
}

static void conn_destroy(void *arg)
{
	struct tls_conn *c = arg;
	mem_deref(c->ctx);
	mem_deref(c->set);
	mem_deref(c->expected);
}

static int verify_h(int ok, X509_STORE_CTX *xs)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tls_conn *c = tls_conn_get(ssl);
	if (!c)
		return ok;
	int depth = X509_STORE_CTX_get_error_depth(xs);
	if (!ok) {
		int e = X509_STORE_CTX_get_error(xs);
		if (e == X509_V_ERR_INVALID_PURPOSE && !c->ctx->require_eku) {
			/* require_eku = no: OpenSSL's default ssl_client/ssl_server purpose check is
			 * the only EKU check; forgive it and clear it so the result reads "verified" */
			X509_STORE_CTX_set_error(xs, X509_V_OK);
			return 1;
		}
		if (!c->verify_err) {
			c->verify_err = e;
			c->verify_err_depth = depth;
		}
		return 0;
	}
	/* RFC 5922 §7.3 post-connection assertion, done here at depth 0 after the chain verified
	 * so a mismatch aborts the handshake with an alert and no session gets cached. */
	if (depth == 0 && c->role == TLS_ROLE_CLIENT && c->expected && !c->name_checked) {
		c->name_checked = true;
		X509 *leaf = X509_STORE_CTX_get0_cert(xs);
		struct tls_match_detail why;
		if (!tls_identity_match(leaf, c->expected, c->ctx->allow_wildcards, &why)) {
			unsigned char ip[16];
			size_t iplen;
			int e = tls_ip_parse(c->expected, ip, &iplen) ? X509_V_ERR_IP_ADDRESS_MISMATCH
								      : X509_V_ERR_HOSTNAME_MISMATCH;
			X509_STORE_CTX_set_error(xs, e);
			c->verify_err = e;
			c->verify_err_depth = 0;
			log_info("tls.name_mismatch", "identity=%s san=%s sip_uris=%u dns_names=%u "
				 "ip_addrs=%u wildcard_refused=%s", c->expected, why.has_san ? "yes" : "no",
				 why.sip_uris, why.dns_names, why.ip_addrs, why.wildcard_refused ? "yes" : "no");
			return 0;
		}
	}
	return 1;
}

int tls_conn_apply(SSL *ssl, struct tls_conn *c, bool switched)
{
	const struct tls_ctx *x = c->ctx;
	if (switched) {
		/* SSL_set_SSL_CTX() swaps only certificate and sid context; the rest was copied from
		 * the default context at SSL_new() and must be re-applied from the selected one. */
		SSL_clear_options(ssl, SSL_OP_NO_TICKET);
		if (!x->session_tickets)
			SSL_set_options(ssl, SSL_OP_NO_TICKET);
		SSL_set_security_level(ssl, x->sec_level);
		if (!SSL_set_min_proto_version(ssl, x->min_proto) ||
		    !SSL_set_max_proto_version(ssl, x->max_proto) ||
		    SSL_set_cipher_list(ssl, x->ciphers) != 1 ||
		    (x->ciphersuites && SSL_set_ciphersuites(ssl, x->ciphersuites) != 1) ||
		    (x->groups && SSL_set1_groups_list(ssl, x->groups) != 1))
			return EINVAL;
		X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_clear_flags(p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
		if (x->has_crl)
			X509_VERIFY_PARAM_set_flags(p, X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_depth(p, (int)x->verify_depth);
	if (x->require_eku)
		X509_VERIFY_PARAM_set_purpose(p, c->role == TLS_ROLE_SERVER ? X509_PURPOSE_SSL_CLIENT
									 : X509_PURPOSE_SSL_SERVER);
	int mode;
	if (c->role == TLS_ROLE_CLIENT)
		mode = SSL_VERIFY_PEER;
	else if (c->ma == CONF_MA_OFF)
		mode = SSL_VERIFY_NONE;
	else
		mode = SSL_VERIFY_PEER | (c->ma == CONF_MA_REQUIRED ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
	SSL_set_verify(ssl, mode, verify_h);
	if (c->role == TLS_ROLE_SERVER &&
	    SSL_set_session_id_context(ssl, x->sid_ctx[c->ma], TLS_SID_CTX_LEN) != 1)
		return EINVAL;
	return 0;
}

static int session_new(struct tls_ctx *ctx, struct tls_sni_set *set, enum tls_role role,
		       enum conf_mutual_auth ma, const char *expected, SSL **sslp)
{
	if (!ctx || !sslp || (unsigned)ma > CONF_MA_REQUIRED)
		return EINVAL;
	if (role == TLS_ROLE_CLIENT && (!expected || !*expected || !ctx->has_trust))
		return EINVAL;
	if (role == TLS_ROLE_SERVER && ma != CONF_MA_OFF && !ctx->has_trust && !set)
		return EINVAL;
	int idx = conn_index();
	if (idx < 0)
		return ENOMEM;
	tls_sess_index_init();
	if (role == TLS_ROLE_SERVER) {
		/* Expired sessions leave the cache every 10 s (the cache is SSL_SESS_CACHE_NO_AUTO_CLEAR);
		 * the first connection after the mark does it, once. */
		time_t now = time(NULL);
		int64_t due = atomic_load(&ctx->next_flush);
		if (now >= due && atomic_compare_exchange_strong(&ctx->next_flush, &due, (int64_t)now + 10))
			SSL_CTX_flush_sessions(ctx->ssl_ctx, now);
	}
	struct tls_conn *c = mem_zalloc(sizeof(*c), conn_destroy);
	if (!c)
		return ENOMEM;
	c->ctx = mem_ref(ctx);
	c->set = mem_ref(set);
	c->role = role;
	c->ma = role == TLS_ROLE_SERVER ? ma : CONF_MA_OFF;
	if (role == TLS_ROLE_CLIENT) {
		c->expected = mem_strdup(expected);
		if (!c->expected) {
			mem_deref(c);
			return ENOMEM;
		}
	}
	SSL *ssl = SSL_new(ctx->ssl_ctx);
	if (!ssl) {
		mem_deref(c);
		return ENOMEM;
	}
	if (!SSL_set_ex_data(ssl, idx, c)) {
		mem_deref(c);
		SSL_free(ssl);
		return ENOMEM;
	}
	/* from here SSL_free() releases c */
	int rc = tls_conn_apply(ssl, c, false);
	if (!rc && role == TLS_ROLE_CLIENT) {
		unsigned char ip[16];
		size_t iplen;
		/* RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName" */
		if (!tls_ip_parse(expected, ip, &iplen) && SSL_set_tlsext_host_name(ssl, expected) != 1)
			rc = EINVAL;
		SSL_set_connect_state(ssl);
	} else if (!rc) {
		SSL_set_accept_state(ssl);
	}
	ERR_clear_error();
	if (rc) {
		SSL_free(ssl);
		return rc;
	}
	*sslp = ssl;
	return 0;
}

int tls_session_new(struct tls_ctx *ctx, enum tls_role role, enum conf_mutual_auth ma,
		    const char *expected_identity, SSL **sslp)
{
	return session_new(ctx, NULL, role, ma, expected_identity, sslp);
}

int tls_sni_session_new(struct tls_sni_set *set, enum conf_mutual_auth ma, SSL **sslp)
{
	if (!set)
		return EINVAL;
	struct tls_ctx *dflt = tls_sni_select(set, NULL);
	if (!dflt)
		return EINVAL;
	int rc = session_new(dflt, set, TLS_ROLE_SERVER, ma, NULL, sslp);
	mem_deref(dflt);
	return rc;
}

/* server_name extension (RFC 6066 §3): list length, then entries of type, length, name. */
static bool sni_from_hello(SSL *ssl, char *out, size_t outsz)
{
	const unsigned char *p;
	size_t len;
	if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 2)
		return false;
	size_t list = ((size_t)p[0] << 8) | p[1];
	if (list + 2 != len)
		return false;
	p += 2;
	len -= 2;
	while (len >= 3) {
		unsigned type = p[0];
		size_t nl = ((size_t)p[1] << 8) | p[2];
		if (nl + 3 > len)
			return false;
		if (type == TLSEXT_NAMETYPE_host_name) {
			if (nl == 0 || nl >= outsz || memchr(p + 3, 0, nl))
				return false;
			memcpy(out, p + 3, nl);
			out[nl] = '\0';
			return true;
		}
		p += 3 + nl;
		len -= 3 + nl;
	}
	return false;
}

/* Runs before session lookup and version negotiation, so the selected context's session id
 * context, versions and ciphers apply to this handshake (a servername callback would run too
 * late for TLS 1.3 resumption). */
int tls_client_hello_h(SSL *ssl, int *alert, void *arg)
{
	(void)arg;
	struct tls_conn *c = tls_conn_get(ssl);
	if (!c || !c->set)
		return SSL_CLIENT_HELLO_SUCCESS;
	char name[256];
	if (!sni_from_hello(ssl, name, sizeof(name)))
		return SSL_CLIENT_HELLO_SUCCESS; /* no SNI: default context */
	struct tls_ctx *sel = tls_sni_select(c->set, name);
	if (!sel || sel == c->ctx) {
		mem_deref(sel);
		return SSL_CLIENT_HELLO_SUCCESS;
	}
	if (c->ma != CONF_MA_OFF && !sel->has_trust) {
		mem_deref(sel);
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	if (!SSL_set_SSL_CTX(ssl, sel->ssl_ctx)) {
		mem_deref(sel);
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	mem_deref(c->ctx);
	c->ctx = sel; /* takes the reference */
	if (tls_conn_apply(ssl, c, true)) {
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
	log_debug("tls.sni_selected", "sni=%s context=%s", name, sel->name);
	return SSL_CLIENT_HELLO_SUCCESS;
}
