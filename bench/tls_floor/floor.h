/*
 * What the handshake-floor harnesses share (bench_tls_floor*.c): their command line, the CPU
 * clock of the server's calls, the in-memory connection of the non-OpenSSL ones, the UA
 * certificate files and the result line.
 */
#ifndef SIPSD_BENCH_TLS_FLOOR_H
#define SIPSD_BENCH_TLS_FLOOR_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_UAS 100

struct floor_args {
	const char *pki; /* server.pem, server.key, ca.pem, uas/userK.pem + .key */
	long n;          /* handshakes */
	const char *mode;
};

/* PKI_DIR [N] [MODE]; exits 2 with the usage line when PKI_DIR is missing */
static inline struct floor_args floor_args(int argc, char **argv, const char *usage)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	struct floor_args a = { argv[1], argc > 2 ? strtol(argv[2], NULL, 10) : 2000, argc > 3 ? argv[3] : "" };
	if (a.n <= 0 || a.n > 1000000)
		a.n = 2000;
	return a;
}

static inline double floor_thread_cpu(void)
{
	struct timespec t;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* the certificate and key files of UA i; false when there is no such UA */
static inline bool floor_ua_files(const char *pki, int i, char cert[1024], char key[1024])
{
	snprintf(cert, 1024, "%s/uas/user%d.pem", pki, i);
	snprintf(key, 1024, "%s/uas/user%d.key", pki, i);
	return access(cert, R_OK) == 0;
}

/* One direction of an in-memory connection between client and server. */
struct floor_queue {
	unsigned char data[65536];
	size_t len;
};

/* Appends n bytes; 0 when they do not fit (the caller's "try again"). */
static inline size_t floor_queue_put(struct floor_queue *q, const void *buf, size_t n)
{
	if (n > sizeof(q->data) - q->len)
		return 0;
	memcpy(q->data + q->len, buf, n);
	q->len += n;
	return n;
}

/* Takes up to n bytes; 0 when the queue is empty (the caller's "try again"). */
static inline size_t floor_queue_take(struct floor_queue *q, void *buf, size_t n)
{
	if (n > q->len)
		n = q->len;
	memcpy(buf, q->data, n);
	memmove(q->data, q->data + n, q->len - n);
	q->len -= n;
	return n;
}

/* A client-server connection in memory: each end reads from in and writes to out. */
struct floor_end {
	struct floor_queue *in, *out;
};

struct floor_pipe {
	struct floor_queue up, down;
	struct floor_end client, server;
};

/* empties both directions for the next handshake */
static inline void floor_pipe_reset(struct floor_pipe *p)
{
	p->up.len = p->down.len = 0;
	p->client = (struct floor_end){ &p->down, &p->up };
	p->server = (struct floor_end){ &p->up, &p->down };
}

/* The result line; the exit status is 0 only when every handshake verified. */
static inline int floor_report(const char *what, long ok, long n, double server_cpu)
{
	printf("%s: %ld/%ld mutual TLS 1.3 handshakes verified, server %.1f us CPU per handshake = %.0f "
	       "handshakes/s per core\n", what, ok, n, server_cpu / n * 1e6, n / server_cpu);
	return ok == n ? 0 : 1;
}

#endif
