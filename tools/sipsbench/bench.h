/* sipsbench internals: options, per-thread workers, connections and the scenario hooks.
 *
 * Shape: one event_base per worker thread, each owning its connections outright (no locks on
 * the hot path); statistics are relaxed atomics so the main thread can print progress while
 * workers run. The main thread owns the phases (setup -> run -> drain -> done) and samples the
 * server's /proc counters at the phase edges, so server CPU is charged to measured work only. */
#ifndef SIPSBENCH_BENCH_H
#define SIPSBENCH_BENCH_H

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "stats.h"

enum scen_id { SC_HANDSHAKE, SC_RESUME, SC_REGISTER, SC_CALL, SC_IDLE };

enum phase {
	PH_SETUP, /* persistent connections opening / sessions seeding: not measured */
	PH_READY, /* a worker finished its setup and waits for the others */
	PH_RUN,   /* measured operations */
	PH_HOLD,  /* idle: keep everything open, start nothing */
	PH_DRAIN, /* start nothing, let in-flight operations finish (bounded by --timeout) */
	PH_DONE,
};

struct opts {
	enum scen_id scen;
	const char *scen_name;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char target[80];
	struct sockaddr_storage *srcs; /* bound before connect, port 0 */
	size_t nsrc;
	double rate_from, rate_to; /* ops/s in total; 0 = as fast as --max-inflight allows */
	unsigned max_inflight;
	double duration; /* seconds of the run phase */
	uint64_t count;  /* 0 = no count bound */
	unsigned threads;
	unsigned uas; /* UAs: persistent connections (register/call/idle), session slots (resume) */
	const char *cert, *key, *cert_dir, *ca;
	int tls_version; /* 0 = 1.2..1.3, 12, 13 */
	const char *groups, *servername;
	const char *password, *domain, *user_prefix, *digest_alg;
	double hold, timeout, setup_timeout;
	bool no_register, json, allow_remote, progress, contact_sip, auto_chain;
	pid_t server_pid;
};

struct worker;
struct conn;
struct dlg;

/* Scenario hooks; each returns false when it closed (freed) the connection. */
struct scen_ops {
	void (*setup)(struct worker *w);          /* start the setup phase (may be NULL) */
	bool (*setup_done)(struct worker *w);     /* true once setup finished (NULL: immediately) */
	bool (*launch)(struct worker *w);         /* start one measured op; false: nothing free */
	bool (*established)(struct conn *c);      /* TLS handshake finished */
	bool (*message)(struct conn *c, const char *msg, size_t len);
	void (*closed)(struct conn *c, int err);  /* connection went away (err: enum err_kind or -1) */
	void (*timeout)(struct conn *c);          /* operation deadline passed; must close or reset */
};

struct ua_slot {
	SSL_SESSION *sess; /* resume: the newest session for this UA, NULL when taken/absent */
	bool busy;
};

struct worker {
	unsigned id;
	pthread_t th;
	struct event_base *base;
	const struct opts *o;
	const struct scen_ops *ops;
	struct event tick, kick;
	_Atomic bool ready, finished;
	uint64_t setup_next;      /* setup steps started */
	struct stats st;
	uint64_t launched;        /* measured operations started */
	uint64_t count_share;     /* this worker's part of --count (0 = unbounded) */
	double rate_share_from, rate_share_to;
	unsigned inflight, max_inflight;
	uint64_t run_t0_us;
	enum phase seen;          /* the last global phase this worker acted on */
	unsigned src_next;
	uint64_t seq;             /* Call-IDs, tags, branches */
	uint64_t rng;             /* their random part: splitmix64, seeded once from RAND_bytes */
	/* persistent connections (register, call, idle) */
	struct conn **conns;
	unsigned nconns, nconns_cap;
	unsigned setup_pending;   /* setup steps still running */
	unsigned rr;              /* round-robin cursor */
	/* resume: UA session slots; handshake/resume: the global UA indices of this worker */
	struct ua_slot *slots;
	unsigned nslots;
};

enum cstate { CS_CONNECTING, CS_HANDSHAKING, CS_OPEN, CS_CLOSED };

struct conn {
	struct worker *w;
	int fd;
	SSL *ssl;
	enum cstate st;
	struct event rev, wev, tmo;
	bool wev_on, tmo_on;
	unsigned ua;            /* global UA index: user name and certificate */
	unsigned slot;          /* resume: the slot this op took */
	uint64_t t_op;          /* when the current operation started (us), 0 when none */
	char laddr[48];
	uint16_t lport;
	char *rbuf;
	size_t rlen, rcap;
	char *wbuf;
	size_t wlen, woff, wcap;
	/* scenario state */
	int step;
	bool measured;          /* this operation counts (run phase) */
	bool persistent;
	unsigned idx;           /* index in w->conns */
	uint32_t cseq;
	char callid[64];
	char tag[24];
	struct conn *peer;      /* call: the other UA of the pair */
	struct dlg *dlg;        /* call: ACK/BYE routing learnt from the 200 (malloc'd) */
};

/* conn.c */
struct conn *conn_open(struct worker *w, unsigned ua, SSL_SESSION *sess);
/* Queue bytes for sending and try to flush them; false when the connection died (freed). */
bool conn_send(struct conn *c, const char *p, size_t len);
/* Close with close_notify when the handshake had finished; frees c. */
void conn_close(struct conn *c);
/* Arm (secs > 0) or disarm (secs <= 0) the operation deadline. */
void conn_deadline(struct conn *c, double secs);
/* Connection failed: count err (unless < 0), tell the scenario, free. */
void conn_fail(struct conn *c, int err);

/* scen.c */
const struct scen_ops *scen_get(enum scen_id id);
void scen_op_done(struct conn *c, bool ok, int err);
/* Close every persistent connection of w (drain end). */
void scen_close_all(struct worker *w);

/* main.c: shared state */
extern _Atomic int g_phase;
extern SSL_CTX **g_ctxs;
extern size_t g_nctx;
uint64_t now_us(void);

#endif
