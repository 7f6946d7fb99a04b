/*
 * The same floor as bench_tls_floor.c, measured with GnuTLS instead of OpenSSL: full mutual-TLS
 * 1.3 handshakes (X25519, the P-256 certificates of the lab PKI) between a client and a server
 * in one process over memory queues, counting only the CPU time of the server's
 * gnutls_handshake calls. The server requires and verifies the client's certificate against
 * ca.pem; clients rotate through the UA certificates. No tickets, as in bench_tls_floor.c.
 *
 *   bench_tls_floor_gnutls PKI_DIR [N]
 *
 * It answers one question: would another TLS library of Debian's serve the handshake target
 * better than OpenSSL (bench/README.md, "On a newer OpenSSL")?
 */
#include <errno.h>

#include <gnutls/gnutls.h>

#include "floor.h"

#define PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-X25519"

static void die(const char *what, int err)
{
	fprintf(stderr, "bench_tls_floor_gnutls: %s%s%s\n", what, err ? ": " : "", err ? gnutls_strerror(err) : "");
	exit(1);
}

static ssize_t push(gnutls_transport_ptr_t p, const void *buf, size_t n)
{
	if (!floor_queue_put(((struct floor_end *)p)->out, buf, n)) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)n;
}

static ssize_t pull(gnutls_transport_ptr_t p, void *buf, size_t n)
{
	size_t got = floor_queue_take(((struct floor_end *)p)->in, buf, n);
	if (!got) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)got;
}

static gnutls_session_t session(unsigned flags, gnutls_certificate_credentials_t cred, struct floor_end *e)
{
	gnutls_session_t s;
	int r = gnutls_init(&s, flags);
	if (r == 0)
		r = gnutls_priority_set_direct(s, PRIORITY, NULL);
	if (r == 0)
		r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	if (r)
		die("session setup", r);
	gnutls_transport_set_ptr(s, e);
	gnutls_transport_set_push_function(s, push);
	gnutls_transport_set_pull_function(s, pull);
	return s;
}

int main(int argc, char **argv)
{
	struct floor_args a = floor_args(argc, argv, "bench_tls_floor_gnutls PKI_DIR [N]");
	char p[1024], k[1024];
	gnutls_certificate_credentials_t sc, cc[FLOOR_MAX_UAS];
	int r = gnutls_certificate_allocate_credentials(&sc);
	snprintf(p, sizeof(p), "%s/server.pem", a.pki);
	snprintf(k, sizeof(k), "%s/server.key", a.pki);
	if (r == 0)
		r = gnutls_certificate_set_x509_key_file(sc, p, k, GNUTLS_X509_FMT_PEM);
	snprintf(p, sizeof(p), "%s/ca.pem", a.pki);
	if (r == 0 && gnutls_certificate_set_x509_trust_file(sc, p, GNUTLS_X509_FMT_PEM) <= 0)
		r = GNUTLS_E_FILE_ERROR;
	if (r)
		die("cannot load the server certificate, key or ca.pem", r);
	int nc = 0;
	for (; nc < FLOOR_MAX_UAS && floor_ua_files(a.pki, nc, p, k); nc++)
		if ((r = gnutls_certificate_allocate_credentials(&cc[nc])) ||
		    (r = gnutls_certificate_set_x509_key_file(cc[nc], p, k, GNUTLS_X509_FMT_PEM)))
			die("cannot load a UA certificate", r);
	if (nc == 0)
		die("no uas/user0.pem", 0);

	static struct floor_pipe io;
	double server_cpu = 0;
	long ok = 0;
	for (long i = 0; i < a.n; i++) {
		floor_pipe_reset(&io);
		gnutls_session_t cs = session(GNUTLS_CLIENT, cc[i % nc], &io.client);
		gnutls_session_t ss = session(GNUTLS_SERVER | GNUTLS_NO_TICKETS, sc, &io.server);
		gnutls_certificate_server_set_request(ss, GNUTLS_CERT_REQUIRE);
		/* the server checks the client's chain against ca.pem during the handshake */
		gnutls_session_set_verify_cert(ss, NULL, 0);
		bool cd = false, sd = false, failed = false;
		for (int round = 0; round < 10 && !(cd && sd) && !failed; round++) {
			if (!cd) {
				r = gnutls_handshake(cs);
				cd = r == 0;
				failed = r < 0 && r != GNUTLS_E_AGAIN;
			}
			double t0 = floor_thread_cpu();
			if (!sd) {
				r = gnutls_handshake(ss);
				sd = r == 0;
				failed |= r < 0 && r != GNUTLS_E_AGAIN;
			}
			server_cpu += floor_thread_cpu() - t0;
		}
		unsigned status = 1, n_peer = 0;
		ok += cd && sd && gnutls_certificate_verify_peers3(ss, NULL, &status) == 0 && status == 0 &&
		      gnutls_certificate_get_peers(ss, &n_peer) && n_peer > 0;
		gnutls_deinit(cs);
		gnutls_deinit(ss);
	}
	snprintf(p, sizeof(p), "GnuTLS %s", gnutls_check_version(NULL));
	return floor_report(p, ok, a.n, server_cpu);
}
