/*
 * The same floor as bench_tls_floor.c, measured with wolfSSL as Debian packages it: full
 * mutual-TLS 1.3 handshakes (X25519, the P-256 certificates of the lab PKI) between a client
 * and a server in one process over memory queues, counting only the CPU time of the server's
 * wolfSSL_accept calls. The server requires and verifies the client's certificate against
 * ca.pem; clients rotate through the UA certificates. No tickets, as in bench_tls_floor.c.
 *
 *   bench_tls_floor_wolfssl PKI_DIR [N]
 */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "floor.h"

static void die(const char *what)
{
	fprintf(stderr, "bench_tls_floor_wolfssl: %s\n", what);
	exit(1);
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	bool put = sz >= 0 && floor_queue_put(((struct floor_end *)ctx)->out, buf, (size_t)sz);
	return put ? sz : WOLFSSL_CBIO_ERR_WANT_WRITE;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	size_t got = sz > 0 ? floor_queue_take(((struct floor_end *)ctx)->in, buf, (size_t)sz) : 0;
	return got ? (int)got : WOLFSSL_CBIO_ERR_WANT_READ;
}

static WOLFSSL_CTX *ctx_new(WOLFSSL_METHOD *m, const char *cert, const char *key)
{
	WOLFSSL_CTX *c = wolfSSL_CTX_new(m);
	if (!c || wolfSSL_CTX_use_certificate_file(c, cert, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS ||
	    wolfSSL_CTX_use_PrivateKey_file(c, key, WOLFSSL_FILETYPE_PEM) != WOLFSSL_SUCCESS)
		die("cannot load a certificate and key");
	wolfSSL_CTX_SetIORecv(c, io_recv);
	wolfSSL_CTX_SetIOSend(c, io_send);
	return c;
}

/* one handshake step; false when it failed for another reason than waiting for the peer */
static bool step(WOLFSSL *ssl, int r, bool *done)
{
	*done = r == WOLFSSL_SUCCESS;
	return *done || wolfSSL_get_error(ssl, r) == WOLFSSL_ERROR_WANT_READ;
}

int main(int argc, char **argv)
{
	struct floor_args a = floor_args(argc, argv, "bench_tls_floor_wolfssl PKI_DIR [N]");
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		die("wolfSSL_Init failed");
	char p[1024], k[1024];
	snprintf(p, sizeof(p), "%s/server.pem", a.pki);
	snprintf(k, sizeof(k), "%s/server.key", a.pki);
	WOLFSSL_CTX *sc = ctx_new(wolfTLSv1_3_server_method(), p, k);
	snprintf(p, sizeof(p), "%s/ca.pem", a.pki);
	if (wolfSSL_CTX_load_verify_locations(sc, p, NULL) != WOLFSSL_SUCCESS)
		die("cannot load ca.pem");
	wolfSSL_CTX_set_verify(sc, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	WOLFSSL_CTX *cc[FLOOR_MAX_UAS];
	int nc = 0;
	for (; nc < FLOOR_MAX_UAS && floor_ua_files(a.pki, nc, p, k); nc++) {
		cc[nc] = ctx_new(wolfTLSv1_3_client_method(), p, k);
		wolfSSL_CTX_set_verify(cc[nc], WOLFSSL_VERIFY_NONE, NULL);
	}
	if (nc == 0)
		die("no uas/user0.pem");

	static struct floor_pipe io;
	double server_cpu = 0;
	long ok = 0;
	for (long i = 0; i < a.n; i++) {
		floor_pipe_reset(&io);
		WOLFSSL *cs = wolfSSL_new(cc[i % nc]), *ss = wolfSSL_new(sc);
		int x25519[] = { WOLFSSL_ECC_X25519 };
		if (!cs || !ss || wolfSSL_set_groups(cs, x25519, 1) != WOLFSSL_SUCCESS ||
		    wolfSSL_UseKeyShare(cs, WOLFSSL_ECC_X25519) != WOLFSSL_SUCCESS || wolfSSL_no_ticket_TLSv13(ss) != 0)
			die("session setup");
		wolfSSL_SetIOReadCtx(cs, &io.client);
		wolfSSL_SetIOWriteCtx(cs, &io.client);
		wolfSSL_SetIOReadCtx(ss, &io.server);
		wolfSSL_SetIOWriteCtx(ss, &io.server);
		bool cd = false, sd = false, failed = false;
		for (int round = 0; round < 10 && !(cd && sd) && !failed; round++) {
			if (!cd)
				failed = !step(cs, wolfSSL_connect(cs), &cd);
			double t0 = floor_thread_cpu();
			if (!sd)
				failed |= !step(ss, wolfSSL_accept(ss), &sd);
			server_cpu += floor_thread_cpu() - t0;
		}
		WOLFSSL_X509 *peer = sd ? wolfSSL_get_peer_certificate(ss) : NULL;
		ok += cd && sd && peer && wolfSSL_get_verify_result(ss) == 0;
		wolfSSL_X509_free(peer);
		wolfSSL_free(cs);
		wolfSSL_free(ss);
	}
	snprintf(p, sizeof(p), "wolfSSL %s", wolfSSL_lib_version());
	return floor_report(p, ok, a.n, server_cpu);
}
