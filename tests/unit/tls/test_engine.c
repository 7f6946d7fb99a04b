/* The TLS engine driven through real handshakes over BIO pairs (no sockets): verification
 * matrix on both sides, identity, versions, ciphers, SNI, keylog, build errors, resumption,
 * reload and failure counters. All certificates are made at test time (testpki.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/log.h"
#include "base/mem.h"
#include "testpki.h"
#include "tls/ident.h"
#include "tls/internal.h"
#include "tls/tls.h"

/* --- fixture: one PKI for all tests --- */
enum {
	K_CA1, K_INT1, K_INT2, K_CA2, K_SERVER, K_CLIENT, K_CLIENT_CA1, K_REVOKED, K_EXPIRED,
	K_NOTYET, K_DEEP, K_UNKNOWN, K_NO_CLIENTAUTH, K_NO_SERVERAUTH, K_RSA, K_SNI_B, K_OTHER,
	K_SERVER_CA2, K_SERVER_IP, K_SOON, K__N
};
static struct tpki_cert pki[K__N];
static struct {
	const char *ca1, *ca2, *bundle, *crl_ca1, *crl_broken;
	const char *cert[K__N], *key[K__N];
	const char *client_chain, *deep_chain, *key_enc, *pw_ok, *pw_bad, *key_broken;
} f;

#define SAN_SERVER "URI:sip:example.com,DNS:sip.example.com"
#define EKU_BOTH "serverAuth,clientAuth"

static void mk(int k, const char *cn, const char *san, const char *eku, bool ca, int issuer,
	       int nb, int na, long serial, bool rsa)
{
	struct tpki_spec s = { .cn = cn, .san = san, .eku = eku, .ca = ca, .rsa = rsa,
			       .not_before = nb, .not_after = na, .serial = serial,
			       .issuer = issuer >= 0 ? &pki[issuer] : NULL };
	assert_int_equal(tpki_issue(&s, &pki[k]), 0);
	char name[64];
	snprintf(name, sizeof(name), "c%d.pem", k);
	f.cert[k] = tpki_write_certs(name, &pki[k].cert, 1);
	snprintf(name, sizeof(name), "k%d.pem", k);
	f.key[k] = tpki_write_key(name, pki[k].key, NULL);
}

static int setup(void **state)
{
	(void)state;
	log_setup(LOG_LVL_WARN, LOG_TO_STDERR, "test");
	mk(K_CA1, "Root CA 1", NULL, NULL, true, -1, 0, 3650, 0, false);
	mk(K_INT1, "Intermediate 1", NULL, NULL, true, K_CA1, 0, 3650, 0, false);
	mk(K_INT2, "Intermediate 2", NULL, NULL, true, K_INT1, 0, 3650, 0, false);
	mk(K_CA2, "Root CA 2", NULL, NULL, true, -1, 0, 3650, 0, false);
	mk(K_SERVER, "proxy.example.com", SAN_SERVER, EKU_BOTH, false, K_CA1, 0, 0, 0, false);
	mk(K_CLIENT, "client", "URI:sip:client.example.net,URI:sip:alice@client.example.net",
	   EKU_BOTH, false, K_INT1, 0, 0, 0, false);
	mk(K_CLIENT_CA1, "client1", "URI:sip:c1.example.net", EKU_BOTH, false, K_CA1, 0, 0, 500, false);
	mk(K_REVOKED, "revoked", SAN_SERVER, EKU_BOTH, false, K_CA1, 0, 0, 666, false);
	mk(K_EXPIRED, "expired", SAN_SERVER, EKU_BOTH, false, K_CA1, -30, -1, 0, false);
	mk(K_NOTYET, "notyet", SAN_SERVER, EKU_BOTH, false, K_CA1, 1, 30, 0, false);
	mk(K_DEEP, "deep", SAN_SERVER, EKU_BOTH, false, K_INT2, 0, 0, 0, false);
	mk(K_UNKNOWN, "unknown", SAN_SERVER, EKU_BOTH, false, K_CA2, 0, 0, 0, false);
	mk(K_NO_CLIENTAUTH, "noclient", "URI:sip:client.example.net", "serverAuth", false, K_CA1, 0, 0, 0, false);
	mk(K_NO_SERVERAUTH, "noserver", SAN_SERVER, "clientAuth", false, K_CA1, 0, 0, 0, false);
	mk(K_RSA, "img2020", "DNS:legacy.example", EKU_BOTH, false, K_CA1, 0, 0, 0, true);
	mk(K_SNI_B, "b", "DNS:b.example", EKU_BOTH, false, K_CA1, 0, 0, 0, false);
	mk(K_OTHER, "other", SAN_SERVER, EKU_BOTH, false, K_CA1, 0, 0, 0, false);
	mk(K_SERVER_CA2, "ca2server", SAN_SERVER, EKU_BOTH, false, K_CA2, 0, 0, 0, false);
	mk(K_SERVER_IP, "ip", "IP:192.0.2.10", EKU_BOTH, false, K_CA1, 0, 0, 0, false);
	f.ca1 = f.cert[K_CA1];
	f.ca2 = f.cert[K_CA2];
	X509 *b[] = { pki[K_CA2].cert, pki[K_CA1].cert };
	f.bundle = tpki_write_certs("bundle.pem", b, 2);
	X509 *cc[] = { pki[K_CLIENT].cert, pki[K_INT1].cert };
	f.client_chain = tpki_write_certs("client_chain.pem", cc, 2);
	X509 *dc[] = { pki[K_DEEP].cert, pki[K_INT2].cert, pki[K_INT1].cert };
	f.deep_chain = tpki_write_certs("deep_chain.pem", dc, 3);
	long rev[] = { 666 };
	f.crl_ca1 = tpki_write_crl("crl_ca1.pem", &pki[K_CA1], rev, 1);
	f.crl_broken = tpki_write_text("crl_broken.pem", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
	f.key_enc = tpki_write_key("key_enc.pem", pki[K_SERVER].key, "s3cret-pw");
	f.pw_ok = tpki_write_text("pw_ok", "s3cret-pw\n");
	f.pw_bad = tpki_write_text("pw_bad", "Xyzzy-bad-pw\n");
	f.key_broken = tpki_write_text("key_broken.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int k = 0; k < K__N; k++)
		tpki_free(&pki[k]);
	tpki_cleanup();
	return 0;
}

/* --- conf_tls filled by hand, with the documented defaults --- */
struct tconf {
	struct conf_tls ct;
	char *ca[4], *crl[2], *sni[4];
};

static void tconf(struct tconf *t, const char *name, const char *cert, const char *key, const char *ca)
{
	memset(t, 0, sizeof(*t));
	struct conf_tls *c = &t->ct;
	c->name = (char *)name;
	c->line = 10;
	c->certificate = (char *)cert;
	c->certificate_line = 11;
	c->private_key = (char *)key;
	c->private_key_line = 12;
	c->ca_list.v = t->ca;
	t->ca[0] = (char *)ca;
	c->ca_list.n = ca ? 1 : 0;
	c->ca_list_line = 13;
	c->crl.v = t->crl;
	c->crl_line = 14;
	c->ciphers_line = 15;
	c->keylog_file_line = 16;
	c->private_key_password_file_line = 17;
	c->sni.v = t->sni;
	c->verify_depth = 4;
	c->min_version = CONF_TLS1_2;
	c->max_version = CONF_TLS1_3;
	c->session_cache = true;
	c->session_timeout = 3600;
	c->require_eku = true;
}

static struct tls_ctx *build(struct tconf *t, unsigned roles)
{
	struct conf_error e = { 0 };
	struct tls_ctx *x = NULL;
	int rc = tls_ctx_build(&t->ct, "test.conf", roles, &x, &e);
	if (rc)
		print_error("build failed: %s:%u: %s\n", e.file, e.line, e.msg);
	assert_int_equal(rc, 0);
	return x;
}

static int build_err(struct tconf *t, unsigned roles, struct conf_error *e)
{
	struct tls_ctx *x = NULL;
	memset(e, 0, sizeof(*e));
	int rc = tls_ctx_build(&t->ct, "test.conf", roles, &x, e);
	assert_null(x);
	assert_string_equal(e->file, "test.conf");
	return rc;
}

/* The two usual ends: server (example.com, CA1 trusted) and client (chain via INT1). */
static struct tls_ctx *server_ctx(void)
{
	struct tconf t;
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	return build(&t, TLS_CTX_SERVER | TLS_CTX_CLIENT);
}

static struct tls_ctx *client_ctx_with(const char *cert, const char *key)
{
	struct tconf t;
	tconf(&t, "cli", cert, key, f.bundle);
	return build(&t, TLS_CTX_CLIENT);
}

static struct tls_ctx *client_ctx(void)
{
	return client_ctx_with(f.client_chain, f.key[K_CLIENT]);
}

/* A plain OpenSSL end that does whatever the test needs (an expired certificate, TLS 1.0):
 * the role of Python's ssl module or s_client in the black-box tests. */
static SSL *raw_ssl(bool server, const char *cert, const char *key, const char *ca, int minv,
		    int maxv, const char *ciphers)
{
	SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	assert_non_null(c);
	if (minv && minv < TLS1_2_VERSION)
		SSL_CTX_set_security_level(c, 0);
	if (minv)
		SSL_CTX_set_min_proto_version(c, minv);
	if (maxv)
		SSL_CTX_set_max_proto_version(c, maxv);
	if (ciphers)
		assert_int_equal(SSL_CTX_set_cipher_list(c, ciphers), 1);
	if (cert) {
		assert_int_equal(SSL_CTX_use_certificate_chain_file(c, cert), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM), 1);
	}
	if (ca) {
		assert_int_equal(SSL_CTX_load_verify_locations(c, ca, NULL), 1);
		SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	}
	SSL *s = SSL_new(c);
	SSL_CTX_free(c);
	if (server)
		SSL_set_accept_state(s);
	else
		SSL_set_connect_state(s);
	return s;
}

/* --- handshake pump --- */
struct hs {
	bool c_ok, s_ok;
	enum tls_fail_reason cr, sr;
};

static struct hs pump(SSL *cli, SSL *srv)
{
	BIO *bc, *bs;
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(cli, bc, bc);
	SSL_set_bio(srv, bs, bs);
	enum { RUN, DONE, FAIL } st[2] = { RUN, RUN };
	SSL *v[2] = { cli, srv };
	enum tls_fail_reason r[2] = { TLS_FAIL_NONE, TLS_FAIL_NONE };
	ERR_clear_error();
	for (int i = 0; i < 30; i++) {
		for (int k = 0; k < 2; k++) {
			int ret;
			if (st[k] == FAIL)
				continue;
			if (st[k] == RUN) {
				ret = SSL_do_handshake(v[k]);
				if (ret == 1) {
					st[k] = DONE;
					continue;
				}
			} else {
				/* TLS 1.3: tickets and a late rejection of our certificate arrive here */
				char b;
				ret = SSL_read(v[k], &b, 1);
				if (ret > 0)
					continue;
			}
			int e = SSL_get_error(v[k], ret);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				continue;
			st[k] = FAIL;
			r[k] = tls_session_fail(v[k], e, k ? "test-client" : "test-server");
		}
	}
	return (struct hs){ st[0] == DONE, st[1] == DONE, r[0], r[1] };
}

static SSL *srv_ssl(struct tls_ctx *x, enum conf_mutual_auth ma)
{
	SSL *s = NULL;
	assert_int_equal(tls_session_new(x, TLS_ROLE_SERVER, ma, NULL, &s), 0);
	return s;
}

static SSL *cli_ssl(struct tls_ctx *x, const char *identity)
{
	SSL *s = NULL;
	assert_int_equal(tls_session_new(x, TLS_ROLE_CLIENT, CONF_MA_OFF, identity, &s), 0);
	return s;
}

/* one handshake between our contexts; ctxs are released */
static struct hs run(struct tls_ctx *sx, enum conf_mutual_auth ma, struct tls_ctx *cx,
		     const char *identity)
{
	SSL *s = srv_ssl(sx, ma), *c = cli_ssl(cx, identity);
	struct hs h = pump(c, s);
	SSL_free(c);
	SSL_free(s);
	mem_deref(sx);
	mem_deref(cx);
	return h;
}

static void expect(struct hs h, bool c_ok, enum tls_fail_reason cr, bool s_ok, enum tls_fail_reason sr)
{
	if (h.c_ok != c_ok || h.cr != cr || h.s_ok != s_ok || h.sr != sr)
		print_error("client ok=%d %s, server ok=%d %s\n", h.c_ok, tls_fail_reason_name(h.cr),
			    h.s_ok, tls_fail_reason_name(h.sr));
	assert_int_equal(h.c_ok, c_ok);
	assert_int_equal(h.s_ok, s_ok);
	assert_int_equal(h.cr, cr);
	assert_int_equal(h.sr, sr);
}

#define OK true, TLS_FAIL_NONE

/* --- mutual auth --- */
static void mutual_ok(int maxv, const char *version)
{
	struct tls_ctx *sx = server_ctx();
	struct tconf t;
	tconf(&t, "cli", f.client_chain, f.key[K_CLIENT], f.bundle);
	t.ct.max_version = maxv;
	struct tls_ctx *cx = build(&t, TLS_CTX_CLIENT);
	SSL *s = srv_ssl(sx, CONF_MA_REQUIRED), *c = cli_ssl(cx, "example.com");
	expect(pump(c, s), OK, OK);
	assert_string_equal(SSL_get_servername(s, TLSEXT_NAMETYPE_host_name), "example.com");

	struct tls_peer_info *pi = NULL;
	assert_int_equal(tls_peer_info_get(s, &pi), 0);
	assert_true(pi->cert_presented);
	assert_true(pi->cert_verified);
	assert_false(pi->resumed);
	assert_string_equal(pi->sip_domain, "client.example.net");
	assert_string_equal(pi->version, version);
	assert_non_null(strstr(pi->subject, "CN=client"));
	assert_int_equal(pi->san_uris->n, 2);
	assert_string_equal(pi->san_uris->v[1], "sip:alice@client.example.net");
	assert_true(pi->not_after > time(NULL));
	mem_deref(pi);

	assert_int_equal(tls_peer_info_get(c, &pi), 0);
	assert_string_equal(pi->sip_domain, "example.com");
	assert_int_equal(pi->san_dns->n, 1);
	assert_string_equal(pi->san_dns->v[0], "sip.example.com");
	mem_deref(pi);
	assert_ptr_equal(tls_session_ctx(s), sx);
	SSL_free(c);
	SSL_free(s);
	mem_deref(sx);
	mem_deref(cx);
}

static void test_mutual_ok(void **state)
{
	(void)state;
	mutual_ok(CONF_TLS1_3, "TLSv1.3");
	mutual_ok(CONF_TLS1_2, "TLSv1.2");
}

static void test_no_client_cert(void **state)
{
	(void)state;
	struct tls_ctx *anon = client_ctx_with(NULL, NULL);
	/* required: alert certificate_required (TLS 1.3) */
	expect(run(server_ctx(), CONF_MA_REQUIRED, mem_ref(anon), "example.com"),
	       false, TLS_FAIL_NO_CERTIFICATE, false, TLS_FAIL_NO_CERTIFICATE);
	/* optional: accepted, recorded as unauthenticated */
	struct tls_ctx *sx = server_ctx();
	SSL *s = srv_ssl(sx, CONF_MA_OPTIONAL), *c = cli_ssl(anon, "example.com");
	expect(pump(c, s), OK, OK);
	struct tls_peer_info *pi = NULL;
	assert_int_equal(tls_peer_info_get(s, &pi), 0);
	assert_false(pi->cert_presented);
	assert_false(pi->cert_verified);
	assert_null(pi->subject);
	assert_int_equal(pi->san_uris->n, 0);
	mem_deref(pi);
	SSL_free(c);
	SSL_free(s);
	/* off: no CertificateRequest, so even a client with a certificate presents none */
	struct tls_ctx *cx = client_ctx();
	s = srv_ssl(sx, CONF_MA_OFF);
	c = cli_ssl(cx, "example.com");
	expect(pump(c, s), OK, OK);
	assert_null(SSL_get0_peer_certificate(s));
	SSL_free(c);
	SSL_free(s);
	/* optional with a PRESENT but invalid certificate: still rejected */
	c = raw_ssl(false, f.cert[K_EXPIRED], f.key[K_EXPIRED], NULL, 0, 0, NULL);
	s = srv_ssl(sx, CONF_MA_OPTIONAL);
	struct hs h = pump(c, s);
	assert_false(h.s_ok);
	assert_int_equal(h.sr, TLS_FAIL_EXPIRED);
	SSL_free(c);
	SSL_free(s);
	mem_deref(cx);
	mem_deref(sx);
	mem_deref(anon);
}

/* A client certificate the server must reject: our server, a plain OpenSSL client. */
static struct hs raw_client_vs(struct tls_ctx *sx, const char *cert, const char *key)
{
	SSL *c = raw_ssl(false, cert, key, NULL, 0, 0, NULL), *s = srv_ssl(sx, CONF_MA_REQUIRED);
	struct hs h = pump(c, s);
	SSL_free(c);
	SSL_free(s);
	mem_deref(sx);
	return h;
}

/* A server certificate our client must reject. */
static struct hs raw_server_vs(struct tls_ctx *cx, const char *cert, const char *key, const char *id)
{
	SSL *s = raw_ssl(true, cert, key, NULL, 0, 0, NULL), *c = cli_ssl(cx, id);
	struct hs h = pump(c, s);
	SSL_free(c);
	SSL_free(s);
	mem_deref(cx);
	return h;
}

static void test_unknown_ca(void **state)
{
	(void)state;
	/* server side: client certificate from CA2, which the server does not trust */
	struct tconf t;
	tconf(&t, "cli2", f.cert[K_UNKNOWN], f.key[K_UNKNOWN], f.bundle);
	expect(run(server_ctx(), CONF_MA_REQUIRED, build(&t, TLS_CTX_CLIENT), "example.com"),
	       false, TLS_FAIL_UNKNOWN_CA, false, TLS_FAIL_UNKNOWN_CA);
	/* client side: server certificate from CA2, client trusts only CA1 (own issuer warning) */
	tconf(&t, "srv2", f.cert[K_SERVER_CA2], f.key[K_SERVER_CA2], f.ca1);
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER);
	tconf(&t, "cli1", f.client_chain, f.key[K_CLIENT], f.ca1);
	expect(run(sx, CONF_MA_REQUIRED, build(&t, TLS_CTX_CLIENT), "example.com"),
	       false, TLS_FAIL_UNKNOWN_CA, false, TLS_FAIL_UNKNOWN_CA);
}

static void test_validity(void **state)
{
	(void)state;
	struct hs h = raw_client_vs(server_ctx(), f.cert[K_EXPIRED], f.key[K_EXPIRED]);
	expect(h, false, TLS_FAIL_EXPIRED, false, TLS_FAIL_EXPIRED); /* alert certificate_expired */
	h = raw_client_vs(server_ctx(), f.cert[K_NOTYET], f.key[K_NOTYET]);
	expect(h, false, TLS_FAIL_BAD_CERTIFICATE, false, TLS_FAIL_NOT_YET_VALID);
	h = raw_server_vs(client_ctx(), f.cert[K_EXPIRED], f.key[K_EXPIRED], "example.com");
	assert_false(h.c_ok);
	assert_int_equal(h.cr, TLS_FAIL_EXPIRED);
	h = raw_server_vs(client_ctx(), f.cert[K_NOTYET], f.key[K_NOTYET], "example.com");
	assert_false(h.c_ok);
	assert_int_equal(h.cr, TLS_FAIL_NOT_YET_VALID);
}

static void test_chain_too_deep(void **state)
{
	(void)state;
	/* leaf + INT2 + INT1 under CA1: two intermediates, verify_depth 1 allows one */
	struct tconf t;
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ct.verify_depth = 1;
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER);
	struct hs h = raw_client_vs(mem_ref(sx), f.deep_chain, f.key[K_DEEP]);
	assert_false(h.s_ok);
	assert_int_equal(h.sr, TLS_FAIL_CHAIN_TOO_DEEP);
	/* one intermediate is fine at depth 1 */
	expect(raw_client_vs(sx, f.client_chain, f.key[K_CLIENT]), OK, OK);
	/* client side */
	tconf(&t, "cli", f.client_chain, f.key[K_CLIENT], f.ca1);
	t.ct.verify_depth = 1;
	h = raw_server_vs(build(&t, TLS_CTX_CLIENT), f.deep_chain, f.key[K_DEEP], "example.com");
	assert_false(h.c_ok);
	assert_int_equal(h.cr, TLS_FAIL_CHAIN_TOO_DEEP);
}

static void test_crl(void **state)
{
	(void)state;
	struct tconf t;
	tconf(&t, "srvcrl", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.crl[0] = (char *)f.crl_ca1;
	t.ct.crl.n = 1;
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER | TLS_CTX_CLIENT);
	expect(raw_client_vs(mem_ref(sx), f.cert[K_REVOKED], f.key[K_REVOKED]),
	       false, TLS_FAIL_REVOKED, false, TLS_FAIL_REVOKED);
	expect(raw_client_vs(mem_ref(sx), f.cert[K_CLIENT_CA1], f.key[K_CLIENT_CA1]), OK, OK);
	/* CRL_CHECK_ALL: INT1 publishes no CRL here, so its leaves can't be checked -> refused */
	struct hs h = raw_client_vs(mem_ref(sx), f.client_chain, f.key[K_CLIENT]);
	assert_false(h.s_ok);
	assert_int_equal(h.sr, TLS_FAIL_CRL_UNAVAILABLE);
	/* client side: a revoked server */
	h = raw_server_vs(sx, f.cert[K_REVOKED], f.key[K_REVOKED], "example.com");
	assert_false(h.c_ok);
	assert_int_equal(h.cr, TLS_FAIL_REVOKED);
}

static void test_eku(void **state)
{
	(void)state;
	/* client certificate without clientAuth */
	struct tls_ctx *cx = client_ctx_with(f.cert[K_NO_CLIENTAUTH], f.key[K_NO_CLIENTAUTH]);
	expect(run(server_ctx(), CONF_MA_REQUIRED, mem_ref(cx), "example.com"),
	       false, TLS_FAIL_WRONG_USAGE, false, TLS_FAIL_WRONG_USAGE);
	/* require_eku = no on the server accepts it, and reports it verified */
	struct tconf t;
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ct.require_eku = false;
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER);
	SSL *s = srv_ssl(sx, CONF_MA_REQUIRED), *c = cli_ssl(cx, "example.com");
	expect(pump(c, s), OK, OK);
	struct tls_peer_info *pi = NULL;
	assert_int_equal(tls_peer_info_get(s, &pi), 0);
	assert_true(pi->cert_verified);
	mem_deref(pi);
	SSL_free(c);
	SSL_free(s);
	mem_deref(sx);
	mem_deref(cx);
	/* server certificate without serverAuth */
	tconf(&t, "srvnoeku", f.cert[K_NO_SERVERAUTH], f.key[K_NO_SERVERAUTH], f.ca1);
	expect(run(build(&t, TLS_CTX_SERVER), CONF_MA_REQUIRED, client_ctx(), "example.com"),
	       false, TLS_FAIL_WRONG_USAGE, false, TLS_FAIL_WRONG_USAGE);
}

static void test_name_mismatch(void **state)
{
	(void)state;
	expect(run(server_ctx(), CONF_MA_REQUIRED, client_ctx(), "other.example"),
	       false, TLS_FAIL_NAME_MISMATCH, false, TLS_FAIL_BAD_CERTIFICATE);
	/* the certificate has URI sip:example.com, so its dNSName sip.example.com proves nothing
	 * (RFC 5922 §7.1) */
	expect(run(server_ctx(), CONF_MA_REQUIRED, client_ctx(), "sip.example.com"),
	       false, TLS_FAIL_NAME_MISMATCH, false, TLS_FAIL_BAD_CERTIFICATE);
	expect(run(server_ctx(), CONF_MA_REQUIRED, client_ctx(), "EXAMPLE.com"), OK, OK);
}

static void test_ip_literal_peer(void **state)
{
	(void)state;
	struct tconf t;
	tconf(&t, "srvip", f.cert[K_SERVER_IP], f.key[K_SERVER_IP], f.ca1);
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER), *cx = client_ctx();
	SSL *s = srv_ssl(sx, CONF_MA_REQUIRED), *c = cli_ssl(cx, "192.0.2.10");
	expect(pump(c, s), OK, OK);
	/* RFC 6066 §3: no IP literal in SNI */
	assert_null(SSL_get_servername(s, TLSEXT_NAMETYPE_host_name));
	SSL_free(c);
	SSL_free(s);
	expect(run(mem_ref(sx), CONF_MA_REQUIRED, mem_ref(cx), "192.0.2.11"),
	       false, TLS_FAIL_NAME_MISMATCH, false, TLS_FAIL_BAD_CERTIFICATE);
	/* a DNS-named server does not prove an IP literal */
	expect(run(server_ctx(), CONF_MA_REQUIRED, cx, "192.0.2.10"),
	       false, TLS_FAIL_NAME_MISMATCH, false, TLS_FAIL_BAD_CERTIFICATE);
	mem_deref(sx);
}

static void test_old_versions_refused(void **state)
{
	(void)state;
	int v[] = { TLS1_VERSION, TLS1_1_VERSION };
	for (int i = 0; i < 2; i++) {
		SSL *c = raw_ssl(false, NULL, NULL, NULL, v[i], v[i], "ECDHE-ECDSA-AES128-SHA");
		struct tls_ctx *sx = server_ctx();
		SSL *s = srv_ssl(sx, CONF_MA_OFF);
		expect(pump(c, s), false, TLS_FAIL_PROTOCOL_VERSION, false, TLS_FAIL_PROTOCOL_VERSION);
		SSL_free(c);
		SSL_free(s);
		mem_deref(sx);
	}
	/* an explicit min_version = tls1.0 works (security level 0 for that context only) */
	struct tconf t;
	tconf(&t, "old", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ct.min_version = CONF_TLS1_0;
	t.ct.max_version = CONF_TLS1_0;
	t.ct.ciphers = "ECDHE-ECDSA-AES128-SHA";
	struct tls_ctx *old = build(&t, TLS_CTX_SERVER | TLS_CTX_CLIENT);
	expect(run(server_ctx(), CONF_MA_REQUIRED, mem_ref(old), "example.com"),
	       false, TLS_FAIL_PROTOCOL_VERSION, false, TLS_FAIL_PROTOCOL_VERSION);
	SSL *c = raw_ssl(false, NULL, NULL, NULL, TLS1_VERSION, TLS1_VERSION, "ECDHE-ECDSA-AES128-SHA");
	SSL *s = srv_ssl(old, CONF_MA_OFF);
	expect(pump(c, s), OK, OK);
	assert_string_equal(SSL_get_version(s), "TLSv1");
	SSL_free(c);
	SSL_free(s);
	mem_deref(old);
}

static void test_ciphers(void **state)
{
	(void)state;
	/* a client offering only a legacy suite against the default policy */
	struct tconf t;
	tconf(&t, "legacycli", f.client_chain, f.key[K_CLIENT], f.bundle);
	t.ct.max_version = CONF_TLS1_2;
	t.ct.ciphers = "AES128-SHA";
	expect(run(server_ctx(), CONF_MA_REQUIRED, build(&t, TLS_CTX_CLIENT), "example.com"),
	       false, TLS_FAIL_HANDSHAKE, false, TLS_FAIL_NO_SHARED_CIPHER);
	/* the IMG 2020 case: TLS_RSA_WITH_AES_128_CBC_SHA allowed explicitly (with a warning) */
	struct tconf ts;
	tconf(&ts, "img", f.cert[K_RSA], f.key[K_RSA], f.ca1);
	ts.ct.max_version = CONF_TLS1_2;
	ts.ct.ciphers = "AES128-SHA";
	struct tls_ctx *sx = build(&ts, TLS_CTX_SERVER);
	struct tls_ctx *cx = build(&t, TLS_CTX_CLIENT);
	SSL *s = srv_ssl(sx, CONF_MA_REQUIRED), *c = cli_ssl(cx, "legacy.example");
	expect(pump(c, s), OK, OK);
	assert_string_equal(SSL_get_cipher_name(s), "AES128-SHA");
	SSL_free(c);
	SSL_free(s);
	mem_deref(sx);
	mem_deref(cx);

	/* weak suites are refused at build time, naming the ciphers line */
	const char *bad[] = { "NULL-SHA", "DES-CBC3-SHA", "ADH-AES128-SHA", "ALL", "AECDH-AES128-SHA",
			      "PSK-AES128-CBC-SHA", "nonsense-cipher" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct conf_error e;
		tconf(&t, "weak", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
		t.ct.ciphers = (char *)bad[i];
		assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
		assert_int_equal(e.line, 15);
	}
}

static void test_sni(void **state)
{
	(void)state;
	struct tconf ta, tb;
	tconf(&ta, "a", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	ta.sni[0] = "example.com";
	ta.ct.sni.n = 1;
	tconf(&tb, "b", f.cert[K_SNI_B], f.key[K_SNI_B], f.ca1);
	tb.sni[0] = "B.example";
	tb.ct.sni.n = 1;
	struct tls_ctx *a = build(&ta, TLS_CTX_SERVER), *b = build(&tb, TLS_CTX_SERVER);
	assert_true(tls_ctx_answers_sni(b, "b.EXAMPLE"));
	struct tls_holder *h[2];
	assert_int_equal(tls_holder_alloc(&h[0], a), 0);
	assert_int_equal(tls_holder_alloc(&h[1], b), 0);
	struct tls_sni_set *set = NULL;
	assert_int_equal(tls_sni_set_alloc(&set, h, 2), 0);

	struct tls_ctx *sel = tls_sni_select(set, "b.example");
	assert_ptr_equal(sel, b);
	mem_deref(sel);
	sel = tls_sni_select(set, "nope.example");
	assert_ptr_equal(sel, a);
	mem_deref(sel);
	sel = tls_sni_select(set, NULL);
	assert_ptr_equal(sel, a);
	mem_deref(sel);

	struct tls_ctx *cx = client_ctx();
	const char *ids[] = { "b.example", "example.com" };
	struct tls_ctx *want[] = { b, a };
	for (int i = 0; i < 2; i++) {
		SSL *s = NULL, *c = cli_ssl(cx, ids[i]);
		assert_int_equal(tls_sni_session_new(set, CONF_MA_REQUIRED, &s), 0);
		expect(pump(c, s), OK, OK);
		assert_ptr_equal(tls_session_ctx(s), want[i]);
		char dom[256];
		assert_true(tls_cert_sip_domain(SSL_get0_peer_certificate(c), dom, sizeof(dom)));
		assert_string_equal(dom, ids[i]);
		SSL_free(c);
		SSL_free(s);
	}
	/* an SNI nobody answers gets the default context */
	SSL *s = NULL, *c = cli_ssl(cx, "example.com");
	SSL_set_tlsext_host_name(c, "unknown.example");
	assert_int_equal(tls_sni_session_new(set, CONF_MA_REQUIRED, &s), 0);
	expect(pump(c, s), OK, OK);
	assert_ptr_equal(tls_session_ctx(s), a);
	SSL_free(c);
	SSL_free(s);

	/* the certificate must cover the sni names: checked at build */
	struct conf_error e;
	tb.sni[1] = "c.example";
	tb.ct.sni.n = 2;
	assert_int_equal(build_err(&tb, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 11);
	mem_deref(cx);
	mem_deref(set);
	mem_deref(h[0]);
	mem_deref(h[1]);
	mem_deref(a);
	mem_deref(b);
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return n > 0;
}

static void test_keylog(void **state)
{
	(void)state;
	const char *path = tpki_path("keylog.txt"), *off = tpki_path("keylog-off.txt");
	struct tconf t;
	tconf(&t, "srvkl", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ct.keylog_file = (char *)path;
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER);
	expect(run(sx, CONF_MA_REQUIRED, client_ctx(), "example.com"), OK, OK);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	FILE *fp = fopen(path, "r");
	assert_non_null(fp);
	char line[512];
	unsigned n = 0, chts = 0;
	while (fgets(line, sizeof(line), fp)) {
		/* NSS key log: LABEL SP client_random(64 hex) SP secret(hex) */
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		assert_non_null(sp2);
		assert_int_equal(sp2 - sp1 - 1, 64);
		assert_true(is_hex(sp1 + 1, 64));
		assert_true(is_hex(sp2 + 1, strcspn(sp2 + 1, "\n")));
		if (strncmp(line, "CLIENT_HANDSHAKE_TRAFFIC_SECRET ", 32) == 0)
			chts++;
		n++;
	}
	fclose(fp);
	assert_int_equal(n, 5); /* TLS 1.3: 2 handshake, 2 traffic, 1 exporter secret */
	assert_int_equal(chts, 1);
	/* off: no file */
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	expect(run(build(&t, TLS_CTX_SERVER), CONF_MA_REQUIRED, client_ctx(), "example.com"), OK, OK);
	assert_int_not_equal(access(off, F_OK), 0);
}

static void test_build_errors(void **state)
{
	(void)state;
	struct tconf t;
	struct conf_error e;
	struct tls_ctx *x;
	/* key does not match certificate */
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_OTHER], f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 12);
	assert_non_null(strstr(e.msg, "does not match"));
	/* broken key */
	tconf(&t, "x", f.cert[K_SERVER], f.key_broken, f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 12);
	/* missing key file */
	tconf(&t, "x", f.cert[K_SERVER], tpki_path("nokey.pem"), f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), ENOENT);
	assert_int_equal(e.line, 12);
	/* missing CA file, second of two */
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ca[1] = (char *)tpki_path("missing-ca.pem");
	t.ct.ca_list.n = 2;
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), ENOENT);
	assert_int_equal(e.line, 13);
	assert_non_null(strstr(e.msg, "missing-ca.pem"));
	/* a CA file without certificates */
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_SERVER], f.key[K_SERVER]);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 13);
	/* expired / not yet valid own certificate */
	tconf(&t, "x", f.cert[K_EXPIRED], f.key[K_EXPIRED], f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 11);
	assert_non_null(strstr(e.msg, "\"/O=sipsd test/CN=expired\" has expired"));
	tconf(&t, "x", f.cert[K_NOTYET], f.key[K_NOTYET], f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 11);
	assert_non_null(strstr(e.msg, "is not valid yet"));
	/* expiring within 30 days: built, with a warning */
	mk(K_SOON, "soon", SAN_SERVER, EKU_BOTH, false, K_CA1, 0, 10, 0, false);
	tconf(&t, "soon", f.cert[K_SOON], f.key[K_SOON], f.ca1);
	x = build(&t, TLS_CTX_SERVER);
	assert_true(tls_ctx_not_after(x) < time(NULL) + 11 * 86400);
	mem_deref(x);
	/* missing certificate file */
	tconf(&t, "x", tpki_path("nocert.pem"), f.key[K_SERVER], f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), ENOENT);
	assert_int_equal(e.line, 11);
	/* own certificate revoked by our own CRL */
	tconf(&t, "x", f.cert[K_REVOKED], f.key[K_REVOKED], f.ca1);
	t.crl[0] = (char *)f.crl_ca1;
	t.ct.crl.n = 1;
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 11);
	/* broken CRL */
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.crl[0] = (char *)f.crl_broken;
	t.ct.crl.n = 1;
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 14);
	/* encrypted key: right and wrong password */
	tconf(&t, "x", f.cert[K_SERVER], f.key_enc, f.ca1);
	t.ct.private_key_password_file = (char *)f.pw_ok;
	mem_deref(build(&t, TLS_CTX_SERVER));
	t.ct.private_key_password_file = (char *)f.pw_bad;
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 12);
	assert_null(strstr(e.msg, "Xyzzy")); /* never the password */
	t.ct.private_key_password_file = NULL; /* no prompt on a terminal, just an error */
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	/* role requirements */
	tconf(&t, "x", NULL, NULL, f.ca1);
	assert_int_equal(build_err(&t, TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 10);
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_SERVER], NULL);
	assert_int_equal(build_err(&t, TLS_CTX_CLIENT, &e), EINVAL);
	assert_int_equal(e.line, 10);
	/* a client context without certificate is fine */
	tconf(&t, "x", NULL, NULL, f.ca1);
	mem_deref(build(&t, TLS_CTX_CLIENT));
	/* several CA files, each possibly many CAs */
	tconf(&t, "x", f.cert[K_SERVER], f.key[K_SERVER], f.ca2);
	t.ca[1] = (char *)f.bundle;
	t.ct.ca_list.n = 2;
	x = build(&t, TLS_CTX_SERVER | TLS_CTX_CLIENT);
	assert_true(tls_ctx_not_after(x) > time(NULL) + 300 * 86400);
	assert_string_equal(tls_ctx_name(x), "x");
	mem_deref(x);
}

static SSL_SESSION *resume_round(struct tls_ctx *sx, struct tls_ctx *cx, SSL_SESSION *sess,
				 enum conf_mutual_auth ma, bool want_reused)
{
	SSL *s = srv_ssl(sx, ma), *c = cli_ssl(cx, "example.com");
	if (sess)
		assert_int_equal(SSL_set_session(c, sess), 1);
	expect(pump(c, s), OK, OK);
	assert_int_equal(SSL_session_reused(c), want_reused);
	assert_int_equal(SSL_session_reused(s), want_reused);
	struct tls_peer_info *pi = NULL;
	assert_int_equal(tls_peer_info_get(s, &pi), 0);
	assert_int_equal(pi->resumed, want_reused);
	if (ma != CONF_MA_OFF) {
		assert_true(pi->cert_verified); /* identity survives resumption */
		assert_string_equal(pi->sip_domain, "client.example.net");
	}
	mem_deref(pi);
	SSL_SESSION *out = SSL_get1_session(c);
	assert_non_null(out);
	assert_true(SSL_SESSION_is_resumable(out));
	/* close_notify: OpenSSL drops the session of a connection freed without it */
	SSL_shutdown(c);
	SSL_shutdown(s);
	SSL_free(c);
	SSL_free(s);
	return out;
}

static void resumption(enum conf_tls_version maxv)
{
	struct tconf t;
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.ct.max_version = maxv;
	struct tls_ctx *sx = build(&t, TLS_CTX_SERVER), *cx = client_ctx();
	SSL_SESSION *s1 = resume_round(sx, cx, NULL, CONF_MA_REQUIRED, false);
	SSL_SESSION *s2 = resume_round(sx, cx, s1, CONF_MA_REQUIRED, true);
	/* a session is not resumed on an interface with another mutual_auth policy */
	SSL_SESSION *s3 = resume_round(sx, cx, s2, CONF_MA_OFF, false);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	SSL_SESSION_free(s3);
	mem_deref(sx);
	mem_deref(cx);
}

static void test_resumption(void **state)
{
	(void)state;
	resumption(CONF_TLS1_3); /* stateful: session_tickets = no */
	resumption(CONF_TLS1_2); /* session IDs */
}

static void test_reload(void **state)
{
	(void)state;
	struct tconf t;
	tconf(&t, "srv", f.cert[K_SERVER], f.key[K_SERVER], f.ca1);
	t.crl[0] = (char *)f.crl_ca1;
	t.ct.crl.n = 1;
	struct tls_ctx *first = build(&t, TLS_CTX_SERVER | TLS_CTX_CLIENT);
	struct tls_holder *h = NULL;
	assert_int_equal(tls_holder_alloc(&h, first), 0);
	SSL *old = srv_ssl(first, CONF_MA_REQUIRED); /* a connection accepted before the reloads */
	mem_deref(first);
	struct tls_ctx *cx = client_ctx_with(f.cert[K_CLIENT_CA1], f.key[K_CLIENT_CA1]);
	struct conf_error e;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(tls_holder_reload(h, &t.ct, "test.conf", TLS_CTX_SERVER, &e), 0);
		if (i % 250 == 0) {
			struct tls_ctx *cur = tls_holder_get(h);
			expect(run(cur, CONF_MA_REQUIRED, mem_ref(cx), "example.com"), OK, OK);
		}
	}
	assert_int_equal(tls_holder_generation(h), 1000);
	/* a broken key: old context kept */
	struct tls_ctx *before = tls_holder_get(h);
	t.ct.private_key = (char *)f.key_broken;
	assert_int_equal(tls_holder_reload(h, &t.ct, "test.conf", TLS_CTX_SERVER, &e), EINVAL);
	assert_int_equal(e.line, 12);
	struct tls_ctx *after = tls_holder_get(h);
	assert_ptr_equal(before, after);
	mem_deref(before);
	mem_deref(after);
	/* the connection made before all that still completes on its own context */
	SSL *c = cli_ssl(cx, "example.com");
	expect(pump(c, old), OK, OK);
	SSL_free(c);
	SSL_free(old);
	mem_deref(cx);
	mem_deref(h);
}

static void test_counters(void **state)
{
	(void)state;
	struct tls_fail_stats a, b;
	tls_fail_stats_snapshot(&a);
	expect(run(server_ctx(), CONF_MA_REQUIRED, client_ctx_with(NULL, NULL), "example.com"),
	       false, TLS_FAIL_NO_CERTIFICATE, false, TLS_FAIL_NO_CERTIFICATE);
	expect(run(server_ctx(), CONF_MA_REQUIRED, client_ctx(), "other.example"),
	       false, TLS_FAIL_NAME_MISMATCH, false, TLS_FAIL_BAD_CERTIFICATE);
	tls_fail_stats_snapshot(&b);
	assert_int_equal(b.count[TLS_ROLE_SERVER][TLS_FAIL_NO_CERTIFICATE] -
			 a.count[TLS_ROLE_SERVER][TLS_FAIL_NO_CERTIFICATE], 1);
	assert_int_equal(b.count[TLS_ROLE_CLIENT][TLS_FAIL_NO_CERTIFICATE] -
			 a.count[TLS_ROLE_CLIENT][TLS_FAIL_NO_CERTIFICATE], 1);
	assert_int_equal(b.count[TLS_ROLE_CLIENT][TLS_FAIL_NAME_MISMATCH] -
			 a.count[TLS_ROLE_CLIENT][TLS_FAIL_NAME_MISMATCH], 1);
	assert_int_equal(b.count[TLS_ROLE_SERVER][TLS_FAIL_BAD_CERTIFICATE] -
			 a.count[TLS_ROLE_SERVER][TLS_FAIL_BAD_CERTIFICATE], 1);
	assert_int_equal(b.count[TLS_ROLE_SERVER][TLS_FAIL_NAME_MISMATCH] -
			 a.count[TLS_ROLE_SERVER][TLS_FAIL_NAME_MISMATCH], 0);
	for (int r = 0; r < TLS_FAIL__COUNT; r++)
		assert_string_not_equal(tls_fail_reason_name((enum tls_fail_reason)r), "?");
	assert_string_equal(tls_fail_reason_name(TLS_FAIL__COUNT), "?");
}

static void test_session_args(void **state)
{
	(void)state;
	struct tls_ctx *sx = server_ctx();
	SSL *s = NULL;
	/* a client needs an identity to check */
	assert_int_equal(tls_session_new(sx, TLS_ROLE_CLIENT, CONF_MA_OFF, NULL, &s), EINVAL);
	assert_int_equal(tls_session_new(sx, TLS_ROLE_CLIENT, CONF_MA_OFF, "", &s), EINVAL);
	assert_null(s);
	/* mutual auth needs a trust store */
	struct tconf t;
	tconf(&t, "notrust", f.cert[K_SERVER], f.key[K_SERVER], NULL);
	struct tls_ctx *nt = build(&t, TLS_CTX_SERVER);
	assert_int_equal(tls_session_new(nt, TLS_ROLE_SERVER, CONF_MA_REQUIRED, NULL, &s), EINVAL);
	assert_int_equal(tls_session_new(nt, TLS_ROLE_SERVER, CONF_MA_OFF, NULL, &s), 0);
	SSL_free(s);
	mem_deref(nt);
	mem_deref(sx);
}

/* Contexts live in sipsd's lean library context (libctx.c): it must still decode every key
 * type a peer certificate can carry, and keys read in the default context must sign in it. */
static void test_lean_libctx(void **state)
{
	(void)state;
	OSSL_LIB_CTX *lc = tls_libctx();
	assert_non_null(lc);
	struct tpki_cert ed = { 0 };
	EVP_PKEY *edkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(edkey);
	ed.key = edkey;
	ed.cert = X509_new();
	assert_true(ASN1_INTEGER_set(X509_get_serialNumber(ed.cert), 7) &&
		    X509_set_issuer_name(ed.cert, X509_get_subject_name(pki[K_CA1].cert)) &&
		    X509_gmtime_adj(X509_getm_notBefore(ed.cert), 0) &&
		    X509_gmtime_adj(X509_getm_notAfter(ed.cert), 3600) &&
		    X509_set_pubkey(ed.cert, edkey) && X509_sign(ed.cert, pki[K_CA1].key, EVP_sha256()));
	const struct tpki_cert *certs[] = { &pki[K_SERVER], &pki[K_RSA], &ed };
	for (size_t i = 0; i < sizeof(certs) / sizeof(certs[0]); i++) {
		unsigned char *der = NULL;
		int n = i2d_X509(certs[i]->cert, &der);
		assert_true(n > 0);
		X509 *x = X509_new_ex(lc, NULL);
		const unsigned char *p = der;
		assert_non_null(d2i_X509(&x, &p, n));
		EVP_PKEY *pk = X509_get0_pubkey(x);
		assert_non_null(pk);
		assert_int_equal(EVP_PKEY_eq(pk, certs[i]->key), 1);
		assert_int_equal(X509_verify(x, pki[K_CA1].key), 1);
		X509_free(x);
		OPENSSL_free(der);
	}
	tpki_free(&ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mutual_ok),
		cmocka_unit_test(test_no_client_cert),
		cmocka_unit_test(test_unknown_ca),
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_chain_too_deep),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_eku),
		cmocka_unit_test(test_name_mismatch),
		cmocka_unit_test(test_ip_literal_peer),
		cmocka_unit_test(test_old_versions_refused),
		cmocka_unit_test(test_ciphers),
		cmocka_unit_test(test_sni),
		cmocka_unit_test(test_keylog),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_session_args),
		cmocka_unit_test(test_lean_libctx),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
