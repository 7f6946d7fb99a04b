/*
 * The same floor as bench_tls_floor.c, measured with wolfSSL as Debian packages it: full
 * mutual-TLS 1.3 handshakes (X25519, the P-256 certificates of the lab PKI) between a client
 * and a server in one process over memory queues, counting only the CPU time of the server's
 * wolfSSL_accept calls. The server requires and verifies the client's certificate against
 * ca.pem; clients rotate through the UA certificates. No tickets, as in bench_tls_floor.c.
 *
 *   bench_tls_floor_wolfssl PKI_DIR [N]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#define MAX_UAS 100
#define QUEUE_BYTES 65536

/* one direction of the in-memory connection */
struct queue {
	unsigned char data[QUEUE_BYTES];
	size_t len;
};

struct end {
	struct queue *in, *out;
};

static double thread_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_tls_floor_wolfssl: %s\n", what);
	exit(1);
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct queue *q = ((struct end *)ctx)->out;
	if (sz < 0 || (size_t)sz > sizeof(q->data) - q->len)
		return WOLFSSL_CBIO_ERR_WANT_WRITE;
	memcpy(q->data + q->len, buf, (size_t)sz);
	q->len += (size_t)sz;
	return sz;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx)
{
	(void)ssl;
	struct queue *q = ((struct end *)ctx)->in;
	if (q->len == 0)
		return WOLFSSL_CBIO_ERR_WANT_READ;
	size_t n = sz > 0 && (size_t)sz < q->len ? (size_t)sz : q->len;
	memcpy(buf, q->data, n);
	memmove(q->data, q->data + n, q->len - n);
	q->len -= n;
	return (int)n;
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
	if (argc < 2) {
		fprintf(stderr, "usage: bench_tls_floor_wolfssl PKI_DIR [N]\n");
		return 2;
	}
	const char *pki = argv[1];
	long n = argc > 2 ? strtol(argv[2], NULL, 10) : 2000;
	if (n <= 0 || n > 1000000)
		n = 2000;
	if (wolfSSL_Init() != WOLFSSL_SUCCESS)
		die("wolfSSL_Init failed");
	char p[1024], k[1024];
	snprintf(p, sizeof(p), "%s/server.pem", pki);
	snprintf(k, sizeof(k), "%s/server.key", pki);
	WOLFSSL_CTX *sc = ctx_new(wolfTLSv1_3_server_method(), p, k);
	snprintf(p, sizeof(p), "%s/ca.pem", pki);
	if (wolfSSL_CTX_load_verify_locations(sc, p, NULL) != WOLFSSL_SUCCESS)
		die("cannot load ca.pem");
	wolfSSL_CTX_set_verify(sc, WOLFSSL_VERIFY_PEER | WOLFSSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	WOLFSSL_CTX *cc[MAX_UAS];
	int nc = 0;
	for (; nc < MAX_UAS; nc++) {
		snprintf(p, sizeof(p), "%s/uas/user%d.pem", pki, nc);
		snprintf(k, sizeof(k), "%s/uas/user%d.key", pki, nc);
		FILE *f = fopen(p, "r");
		if (!f)
			break;
		fclose(f);
		cc[nc] = ctx_new(wolfTLSv1_3_client_method(), p, k);
		wolfSSL_CTX_set_verify(cc[nc], WOLFSSL_VERIFY_NONE, NULL);
	}
	if (nc == 0)
		die("no uas/user0.pem");

	static struct queue up, down;
	struct end client = { &down, &up }, server = { &up, &down };
	double server_cpu = 0;
	long ok = 0;
	for (long i = 0; i < n; i++) {
		up.len = down.len = 0;
		WOLFSSL *cs = wolfSSL_new(cc[i % nc]), *ss = wolfSSL_new(sc);
		int x25519[] = { WOLFSSL_ECC_X25519 };
		if (!cs || !ss || wolfSSL_set_groups(cs, x25519, 1) != WOLFSSL_SUCCESS ||
		    wolfSSL_UseKeyShare(cs, WOLFSSL_ECC_X25519) != WOLFSSL_SUCCESS || wolfSSL_no_ticket_TLSv13(ss) != 0)
			die("session setup");
		wolfSSL_SetIOReadCtx(cs, &client);
		wolfSSL_SetIOWriteCtx(cs, &client);
		wolfSSL_SetIOReadCtx(ss, &server);
		wolfSSL_SetIOWriteCtx(ss, &server);
		bool cd = false, sd = false, failed = false;
		for (int round = 0; round < 10 && !(cd && sd) && !failed; round++) {
			if (!cd)
				failed = !step(cs, wolfSSL_connect(cs), &cd);
			double t0 = thread_cpu();
			if (!sd)
				failed |= !step(ss, wolfSSL_accept(ss), &sd);
			server_cpu += thread_cpu() - t0;
		}
		WOLFSSL_X509 *peer = sd ? wolfSSL_get_peer_certificate(ss) : NULL;
		ok += cd && sd && peer && wolfSSL_get_verify_result(ss) == 0;
		wolfSSL_X509_free(peer);
		wolfSSL_free(cs);
		wolfSSL_free(ss);
	}
	printf("wolfSSL %s: %ld/%ld mutual TLS 1.3 handshakes verified, server %.1f us CPU per handshake = %.0f "
	       "handshakes/s per core\n", wolfSSL_lib_version(), ok, n, server_cpu / n * 1e6, n / server_cpu);
	return ok == n ? 0 : 1;
}
