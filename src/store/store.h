/* Storage of credentials and location bindings behind a small backend vtable (redis-style):
 * "sqlite" (durable, the default) and "mem" (tests). A Redis backend can be added without
 * touching callers.
 *
 * Two APIs over the same backend:
 *  - synchronous (store_user_get(), ...): for tools (sipsctl) and start-up load; blocks.
 *  - asynchronous (store_*_async() on a struct store_client): for event loops. Requests go to
 *    one store thread; the completion is handed back to the caller's loop with the poster the
 *    client was made with, so callbacks always run on the caller's thread and SQLite never
 *    stalls a loop. sipsd's poster is event_base_once(base, -1, EV_TIMEOUT, fn, arg, &zero)
 *    on an event_base with evthread support; tests use a queue.
 *
 * Durability and group commit: the store thread takes every queued request (up to batch_max)
 * and runs them in ONE transaction (one SAVEPOINT each, so a failing request does not undo the
 * others), commits, and only then posts the completions. With synchronous=FULL in WAL mode
 * the commit has reached the disk before any callback runs, so a registrar that answers 200 OK
 * from the callback never acknowledges a binding that a crash or power loss could lose -- and
 * one fsync covers a whole burst. If the commit fails, every request of the batch fails (EIO).
 *
 * Bindings are keyed (RFC 5626 6, RFC 5627) by (aor, instance, reg_id) when instance is set,
 * else by (aor, contact): put replaces the binding with the same key. Contacts are compared
 * byte for byte, so callers store a canonical form. Order of get results: q descending, then
 * most recently updated first, then contact.
 *
 * Ownership: records handed to put are copied; records and lists returned are mem objects the
 * receiver owns (mem_deref()). Strings in records made by the store are slices that are also
 * NUL-terminated. The store never logs HA1 values.
 *
 * Errors: 0, ENOENT (no such user / binding), EINVAL, ENOMEM, EAGAIN (queue full), ESHUTDOWN
 * (closed), EBUSY (database locked beyond busy_timeout), EIO (database error; logged with the
 * path and SQLite's message), EPROTO (schema newer than this build). */
#ifndef SIPSD_STORE_STORE_H
#define SIPSD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/* Same order as enum auth_alg (auth/digest.h); the store itself does not depend on auth. */
enum store_ha1 { STORE_HA1_MD5 = 0, STORE_HA1_SHA256, STORE_HA1_SHA512_256, STORE_HA1_COUNT };

#define STORE_FIELD_MAX 8192 /* bytes per string field; longer is EINVAL */

struct store_user {
	struct slice user;          /* user part of the AOR; the digest username */
	struct slice domain;        /* domain part of the AOR */
	struct slice realm;         /* digest realm (default: the domain) */
	struct slice ha1[STORE_HA1_COUNT]; /* lowercase hex H(user:realm:password); empty: disabled */
	struct slice cert_identity; /* identity a client certificate must carry, empty: none */
	bool enabled;
	int64_t updated;            /* unix seconds */
};

struct store_binding {
	struct slice aor;           /* canonical AOR, e.g. "sip:alice@example.com" */
	struct slice contact;       /* contact URI (canonical form) */
	struct slice call_id;
	struct slice instance;      /* +sip.instance, empty: none */
	struct slice path;          /* Path header values (RFC 3327), as one string, empty: none */
	struct slice user_agent;
	struct slice received;      /* transport + source address, e.g. "tls:192.0.2.1:5061" */
	struct slice cert_identity; /* identity proven by the client certificate, empty: none */
	int64_t expires;            /* absolute unix seconds */
	int64_t updated;            /* unix seconds */
	uint32_t cseq;
	uint32_t reg_id;            /* RFC 5626 reg-id, 0: none */
	uint16_t q;                 /* q-value x 1000 */
	uint64_t flow_id;           /* connection/flow id at registration, 0: none */
};

struct store_users {
	size_t n;
	struct store_user **v;
};

struct store_bindings {
	size_t n;
	struct store_binding **v;
};

/* One-allocation copies; NULL on ENOMEM or a field over STORE_FIELD_MAX. */
struct store_user *store_user_dup(const struct store_user *u);
struct store_binding *store_binding_dup(const struct store_binding *b);

enum store_backend { STORE_BACKEND_SQLITE = 0, STORE_BACKEND_MEM };

struct store_opts {
	enum store_backend backend;
	const char *path;         /* sqlite: database file, created with its schema if missing */
	bool thread;              /* run the store thread; false: async requests run in the caller's
				   * thread at submit (completions are still posted) -- tools, tests */
	bool sync_normal;         /* sqlite synchronous=NORMAL: faster, but a power loss may drop
				   * the last commits (process crashes lose nothing in WAL mode) */
	unsigned batch_max;       /* requests per transaction, default 512 */
	unsigned commit_window_us; /* under load, let a batch fill this long before committing
				    * (0 = never wait): fewer fsyncs, a little more latency */
	unsigned queue_max;       /* queued requests before EAGAIN, default 65536 */
	unsigned busy_timeout_ms; /* wait for another process's lock (sipsctl), default 5000 */
};

struct store;

/* 0 and *sp, or an errno (failure logged with the path). mem_deref() closes (see store_close). */
int store_open(struct store **sp, const struct store_opts *opts);
/* Refuse new requests (ESHUTDOWN), run what is queued, post its completions, stop the thread.
 * Call while the loops that receive completions still run, and never from a completion or a
 * poster (it joins the store thread). Idempotent. Shutdown order: stop submitting, store_close,
 * run the loops until their posted completions ran, free the clients, then the store. */
void store_close(struct store *s);
/* Block until every request queued so far has completed and been posted. */
void store_flush(struct store *s);
const char *store_backend_name(const struct store *s);

struct store_stats {
	uint64_t requests;  /* async requests completed */
	uint64_t batches;   /* transactions they were grouped into */
	uint64_t failures;  /* requests completed with an error */
	size_t queued;      /* waiting now */
};
void store_stats(struct store *s, struct store_stats *st);
/* Tests: while held, the store thread leaves the queue alone (to observe group commit). */
void store_hold(struct store *s, bool hold);

/* ---- synchronous API (any thread; serialised with the store thread) ---- */

int store_user_get(struct store *s, struct slice user, struct slice domain, struct store_user **up);
int store_user_put(struct store *s, const struct store_user *u);  /* insert or replace */
int store_user_del(struct store *s, struct slice user, struct slice domain);
int store_user_list(struct store *s, struct store_users **lp);    /* by domain, user */

int store_binding_put(struct store *s, const struct store_binding *b); /* insert or replace by key */
int store_binding_get(struct store *s, struct slice aor, struct store_bindings **lp); /* n may be 0 */
int store_binding_del(struct store *s, const struct store_binding *key); /* ENOENT if none */
int store_binding_del_aor(struct store *s, struct slice aor, size_t *n);
/* Deletes bindings with expires <= now; *n = how many. Scans every binding (no index on expires:
 * it made each REGISTER dearer), so callers use it at start-up and otherwise expire by key. */
int store_binding_expire(struct store *s, int64_t now, size_t *n);
/* Deletes each of keys[] (by aor and key, see above) whose stored expires is still <= now, in one
 * transaction: a binding refreshed meanwhile stays. *n = how many were deleted. */
int store_binding_expire_keys(struct store *s, const struct store_binding *const *keys, size_t nkeys, int64_t now,
			      size_t *n);
int store_binding_load_all(struct store *s, struct store_bindings **lp); /* by aor, then get order */

/* ---- asynchronous API ---- */

/* Runs fn(fn_arg) soon on the loop identified by loop_arg. Called from the store thread (or the
 * submitting thread when the store has no thread); must be thread-safe and must not fail
 * (a lost completion leaks the request and its caller's state). */
typedef void(store_post_h)(void *loop_arg, void (*fn)(void *fn_arg), void *fn_arg);

/* One per event loop (worker). Holds a reference to the store. */
struct store_client;
int store_client_alloc(struct store_client **cp, struct store *s, store_post_h *post, void *loop_arg);

/* Completions run on the client's loop. Results are owned by the callback (mem_deref them);
 * n = rows changed. The store holds no reference on arg: keep it alive until called. */
typedef void(store_done_h)(int err, size_t n, void *arg);
typedef void(store_user_h)(int err, struct store_user *u, void *arg);
typedef void(store_bindings_h)(int err, struct store_bindings *l, void *arg);

/* Each returns 0 when queued (the callback then runs exactly once), or an errno and the
 * callback never runs. Requests of one client complete in submission order. */
int store_user_get_async(struct store_client *c, struct slice user, struct slice domain,
			 store_user_h *h, void *arg);
int store_binding_put_async(struct store_client *c, const struct store_binding *b, store_done_h *h,
			    void *arg);
int store_binding_del_async(struct store_client *c, const struct store_binding *key, store_done_h *h,
			    void *arg);
int store_binding_del_aor_async(struct store_client *c, struct slice aor, store_done_h *h, void *arg);
int store_binding_expire_async(struct store_client *c, int64_t now, store_done_h *h, void *arg);
int store_binding_get_async(struct store_client *c, struct slice aor, store_bindings_h *h, void *arg);

/* One REGISTER in one atomic step (RFC 3261 10.3 steps 7-8): when del_all, every binding of aor
 * is removed (Contact: *); then each of del[] and each of put[] (all for this aor) is applied,
 * and the callback gets the bindings of aor afterwards -- durable, ready for the 200 OK.
 * If any part fails, none of it is applied. */
int store_binding_update_async(struct store_client *c, struct slice aor, bool del_all,
			       const struct store_binding *const *del, size_t ndel,
			       const struct store_binding *const *put, size_t nput,
			       store_bindings_h *h, void *arg);
/* The same write without reading the bindings back: h gets the rows changed (deleted + put). */
int store_binding_write_async(struct store_client *c, struct slice aor, bool del_all,
			      const struct store_binding *const *del, size_t ndel,
			      const struct store_binding *const *put, size_t nput, store_done_h *h, void *arg);

#endif
