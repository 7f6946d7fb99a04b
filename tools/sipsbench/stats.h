/* Counters, a log-linear latency histogram (bounded memory, ~3% resolution, HDR-like) and the
 * server's /proc numbers (CPU ticks, VmRSS, Pss summed over the process and its children). */
#ifndef SIPSBENCH_STATS_H
#define SIPSBENCH_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum err_kind {
	ERR_CONNECT,   /* socket/bind/connect failed */
	ERR_HANDSHAKE, /* TLS handshake failed (alert, verification) */
	ERR_TIMEOUT,   /* no answer within --timeout */
	ERR_STATUS,    /* unexpected final status */
	ERR_CLOSED,    /* the server closed the connection in the middle of an operation */
	ERR_IO,        /* TLS/socket error after the handshake */
	ERR_PARSE,     /* unparseable or oversized message */
	ERR_AUTH,      /* 401/403 after sending credentials, or an unusable challenge */
	ERR__COUNT
};

const char *err_kind_name(int k);

/* 32 sub-buckets per power of two over microseconds up to 2^40. */
#define HIST_SUB_BITS 5
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40
#define HIST_BUCKETS (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	_Atomic uint32_t b[HIST_BUCKETS];
	_Atomic uint64_t n, max, sum;
};

struct stats {
	_Atomic uint64_t ops;      /* measured operations completed without error */
	_Atomic uint64_t errs[ERR__COUNT];
	_Atomic uint64_t resumed, full; /* handshakes of measured operations */
	_Atomic uint64_t setup_ok;      /* setup steps completed */
	_Atomic uint64_t open_conns;
	struct hist lat;
};

void hist_add(struct hist *h, uint64_t us);
/* Merge src into dst (dst owned by the caller's thread). */
void hist_merge(struct hist *dst, const struct hist *src);
/* Value in microseconds at quantile q (0..1); 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
void stats_merge(struct stats *dst, const struct stats *src);
uint64_t stats_errors(const struct stats *s);

struct proc_sample {
	bool ok;
	unsigned nproc;
	uint64_t ticks;   /* utime + stime of the process and its descendants */
	uint64_t rss_kib; /* VmRSS summed */
	uint64_t pss_kib; /* Pss summed (shared pages counted once across processes) */
	uint64_t sleeps;  /* voluntary context switches of every thread (blocked: epoll, futex, I/O) */
	uint64_t preempts;/* involuntary context switches of every thread */
	uint64_t faults;  /* minor page faults: first touches of memory (a server still warming up) */
};

bool proc_sample(pid_t pid, struct proc_sample *out);
long proc_clk_tck(void);

#endif
