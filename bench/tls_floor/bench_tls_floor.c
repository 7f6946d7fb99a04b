/*
 * The floor under sipsd's handshake numbers: full mutual-TLS 1.3 handshakes between a client
 * and a server in one process over BIO pairs (no sockets, no event loop, no SIP), counting only
 * the CPU time of the server's SSL_do_handshake calls. The server verifies the client's chain
 * against the CA; clients rotate through the UA certificates so no verification is cached.
 *
 *   bench_tls_floor PKI_DIR [N] [default|lean]
 *
 * PKI_DIR holds server.pem, server.key, ca.pem and uas/userK.pem + .key (bench/tls_floor/run.sh
 * makes one with tools/labpki). "lean" puts the server in sipsd's own library context
 * (src/tls/libctx.c); "default" in OpenSSL's.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "tls/internal.h"

#include "floor.h"

static void die(const char *what)
{
	fprintf(stderr, "bench_tls_floor: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static SSL_CTX *server_ctx(const char *pki, OSSL_LIB_CTX *lc)
{
	char p[1024];
	SSL_CTX *s = SSL_CTX_new_ex(lc, NULL, TLS_server_method());
	snprintf(p, sizeof(p), "%s/server.key", pki);
	FILE *f = fopen(p, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	snprintf(p, sizeof(p), "%s/server.pem", pki);
	if (!s || !k || SSL_CTX_use_certificate_chain_file(s, p) != 1 || SSL_CTX_use_PrivateKey(s, k) != 1)
		die("cannot load the server certificate and key");
	EVP_PKEY_free(k);
	snprintf(p, sizeof(p), "%s/ca.pem", pki);
	if (SSL_CTX_load_verify_file(s, p) != 1)
		die("cannot load ca.pem");
	/* as sipsd: mutual auth required, no tickets, no auto chain, buffers released */
	SSL_CTX_set_verify(s, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_min_proto_version(s, TLS1_3_VERSION);
	SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(s, 0);
	SSL_CTX_set_mode(s, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
	return s;
}

static int load_clients(const char *pki, SSL_CTX **c)
{
	char p[1024], k[1024];
	int n = 0;
	for (; n < FLOOR_MAX_UAS && floor_ua_files(pki, n, p, k); n++) {
		c[n] = SSL_CTX_new(TLS_client_method());
		if (!c[n] || SSL_CTX_use_certificate_file(c[n], p, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_use_PrivateKey_file(c[n], k, SSL_FILETYPE_PEM) != 1)
			die("cannot load a UA certificate");
		SSL_CTX_set_mode(c[n], SSL_MODE_NO_AUTO_CHAIN);
		SSL_CTX_set_verify(c[n], SSL_VERIFY_NONE, NULL);
	}
	return n;
}

int main(int argc, char **argv)
{
	struct floor_args a = floor_args(argc, argv, "bench_tls_floor PKI_DIR [N] [default|lean]");
	bool lean = strcmp(a.mode, "lean") == 0;
	SSL_CTX *s = server_ctx(a.pki, lean ? tls_libctx() : NULL);
	SSL_CTX *c[FLOOR_MAX_UAS];
	int nc = load_clients(a.pki, c);
	if (nc == 0)
		die("no uas/user0.pem");
	double server_cpu = 0;
	long ok = 0;
	for (long i = 0; i < a.n; i++) {
		SSL *cs = SSL_new(c[i % nc]), *ss = SSL_new(s);
		BIO *b1 = NULL, *b2 = NULL;
		if (!cs || !ss || !BIO_new_bio_pair(&b1, 0, &b2, 0))
			die("out of memory");
		SSL_set_bio(cs, b1, b1);
		SSL_set_bio(ss, b2, b2);
		SSL_set_connect_state(cs);
		SSL_set_accept_state(ss);
		bool cd = false, sd = false, failed = false;
		for (int round = 0; round < 10 && !(cd && sd) && !failed; round++) {
			if (!cd) {
				int r = SSL_do_handshake(cs);
				cd = r == 1;
				failed = r <= 0 && SSL_get_error(cs, r) != SSL_ERROR_WANT_READ;
			}
			double t0 = floor_thread_cpu();
			if (!sd) {
				int r = SSL_do_handshake(ss);
				sd = r == 1;
				failed |= r <= 0 && SSL_get_error(ss, r) != SSL_ERROR_WANT_READ;
			}
			server_cpu += floor_thread_cpu() - t0;
		}
		ok += cd && sd && SSL_get_verify_result(ss) == X509_V_OK && SSL_get0_peer_certificate(ss);
		SSL_free(cs);
		SSL_free(ss);
	}
	return floor_report(lean ? "sipsd's lean library context" : "OpenSSL's default library context", ok, a.n,
			    server_cpu);
}
