/* Store core: backend selection, the request queue, the store thread and group commit. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/backend.h"

struct store {
	const struct store_backend_ops *ops;
	void *be;
	struct store_opts opts;
	char *path;
	pthread_mutex_t db_mtx; /* serialises every backend call */
	pthread_mutex_t q_mtx;  /* queue, flags, stats */
	pthread_cond_t q_cond;  /* work arrived, hold released, closing */
	pthread_cond_t idle_cond;
	struct store_req *head, *tail;
	size_t queued;
	bool busy, closing, hold, thread_running;
	bool gathering;           /* the store thread lets a batch fill: don't wake it per request */
	struct timespec last_end; /* when the last batch was delivered (CLOCK_MONOTONIC) */
	pthread_t thread;
	struct store_req **batch; /* batch_max slots, used by the store thread */
	struct store_stats stats;
};

struct store_client {
	struct store *s;
	store_post_h *post;
	void *loop_arg;
};

enum req_kind {
	R_USER_GET,
	R_USER_PUT,
	R_USER_DEL,
	R_USER_LIST,
	R_B_PUT,
	R_B_GET,
	R_B_DEL,
	R_B_DEL_AOR,
	R_B_EXPIRE,
	R_B_EXPIRE_KEYS,
	R_B_LOAD_ALL,
	R_B_UPDATE,
};

struct store_req {
	struct store_req *next;
	enum req_kind kind;
	struct store_client *client; /* NULL for synchronous calls */
	/* inputs, borrowed (sync) or pointing at the owned copies below (async) */
	struct slice k1, k2;
	int64_t t;
	const struct store_user *u_in;
	const struct store_binding *b_in;
	const struct store_binding *const *put;
	const struct store_binding *const *del;
	size_t nput, ndel;
	bool del_all;
	/* owned copies (async) */
	char *keybuf;
	struct store_binding **own; /* ndel + nput + 1 copies */
	size_t nown;
	/* outputs */
	int err;
	size_t n;
	struct store_user *u_out;
	struct store_users *ul_out;
	struct store_bindings *bl_out;
	/* completion */
	store_done_h *done_h;
	store_user_h *user_h;
	store_bindings_h *bindings_h;
	void *arg;
};

static void req_clear_outputs(struct store_req *r)
{
	r->u_out = mem_deref(r->u_out);
	r->ul_out = mem_deref(r->ul_out);
	r->bl_out = mem_deref(r->bl_out);
}

static void req_destroy(void *data)
{
	struct store_req *r = data;
	req_clear_outputs(r);
	for (size_t i = 0; i < r->nown; i++)
		mem_deref(r->own[i]);
	free(r->own);
	mem_deref(r->keybuf);
	mem_deref(r->client);
}

/* Runs one request against the backend (inside the batch transaction and its savepoint). */
static int exec(struct store *s, struct store_req *r)
{
	const struct store_backend_ops *o = s->ops;
	void *be = s->be;
	switch (r->kind) {
	case R_USER_GET: return o->user_get(be, r->k1, r->k2, &r->u_out);
	case R_USER_PUT: return o->user_put(be, r->u_in);
	case R_USER_DEL: return o->user_del(be, r->k1, r->k2);
	case R_USER_LIST: return o->user_list(be, &r->ul_out);
	case R_B_PUT: return o->binding_put(be, r->b_in);
	case R_B_GET: return o->binding_get(be, r->k1, &r->bl_out);
	case R_B_DEL: {
		int e = o->binding_del(be, r->b_in, &r->n);
		return e ? e : r->n ? 0 : ENOENT;
	}
	case R_B_DEL_AOR: return o->binding_del_aor(be, r->k1, &r->n);
	case R_B_EXPIRE: return o->binding_expire(be, r->t, &r->n);
	case R_B_EXPIRE_KEYS:
		for (size_t i = 0; i < r->ndel; i++) {
			size_t n = 0;
			int e = o->binding_expire_key(be, r->del[i], r->t, &n);
			if (e)
				return e;
			r->n += n;
		}
		return 0;
	case R_B_LOAD_ALL: return o->binding_load_all(be, &r->bl_out);
	case R_B_UPDATE: {
		size_t n = 0;
		int e = 0;
		if (r->del_all && (e = o->binding_del_aor(be, r->k1, &n)))
			return e;
		r->n += n;
		for (size_t i = 0; i < r->ndel; i++) {
			n = 0;
			if ((e = o->binding_del(be, r->del[i], &n)))
				return e;
			r->n += n;
		}
		for (size_t i = 0; i < r->nput; i++) {
			if ((e = o->binding_put(be, r->put[i])))
				return e;
			r->n++;
		}
		/* the caller that knows the new set (the registrar) skips reading it back */
		return r->bindings_h ? o->binding_get(be, r->k1, &r->bl_out) : 0;
	}
	}
	return EINVAL;
}

static void fail_all(struct store_req **v, size_t n, int e)
{
	for (size_t i = 0; i < n; i++) {
		v[i]->err = e;
		v[i]->n = 0;
		req_clear_outputs(v[i]);
	}
}

/* The batch without savepoints, which cost two statements per request. Requests do not fail
 * in normal operation; when one does, everything is rolled back and false says "run it again
 * with a savepoint per request". True when the batch is done (committed or failed as one). */
static bool run_batch_optimistic(struct store *s, struct store_req **v, size_t n)
{
	const struct store_backend_ops *o = s->ops;
	int e = o->begin(s->be);
	if (e) {
		fail_all(v, n, e);
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if ((e = exec(s, v[i]))) {
			o->rollback(s->be);
			if (n == 1) {
				fail_all(v, n, e); /* a savepoint would have undone exactly the same */
				return true;
			}
			fail_all(v, n, 0);
			return false;
		}
	}
	if ((e = o->commit(s->be))) {
		o->rollback(s->be);
		fail_all(v, n, e);
	}
	return true;
}

/* One transaction for the whole batch, one savepoint per request: the group commit. */
static void run_batch(struct store *s, struct store_req **v, size_t n)
{
	if (run_batch_optimistic(s, v, n))
		return;
	const struct store_backend_ops *o = s->ops;
	int e = o->begin(s->be);
	if (e) {
		fail_all(v, n, e);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_req *r = v[i];
		if ((e = o->savepoint(s->be))) {
			r->err = e;
			continue;
		}
		r->err = exec(s, r);
		if (r->err) {
			/* undo this request only; the others of the batch stay */
			o->rollback_to(s->be);
			if (r->kind == R_B_UPDATE)
				req_clear_outputs(r);
		}
		if ((e = o->release(s->be)) && !r->err)
			r->err = e;
	}
	if ((e = o->commit(s->be))) {
		o->rollback(s->be);
		fail_all(v, n, e);
	}
}

static void req_complete(void *arg)
{
	struct store_req *r = arg;
	if (r->done_h) {
		r->done_h(r->err, r->n, r->arg);
	} else if (r->user_h) {
		struct store_user *u = r->u_out;
		r->u_out = NULL;
		r->user_h(r->err, u, r->arg);
	} else if (r->bindings_h) {
		struct store_bindings *l = r->bl_out;
		r->bl_out = NULL;
		r->bindings_h(r->err, l, r->arg);
	}
	mem_deref(r);
}

static void deliver(struct store_req *r)
{
	struct store_client *c = r->client;
	c->post(c->loop_arg, req_complete, r);
}

static void count(struct store *s, struct store_req **v, size_t n)
{
	s->stats.batches++;
	s->stats.requests += n;
	for (size_t i = 0; i < n; i++)
		if (v[i]->err && v[i]->err != ENOENT)
			s->stats.failures++;
}

static int64_t ts_us(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000 + t->tv_nsec / 1000;
}

/* Lets a batch fill until end_us (CLOCK_MONOTONIC) without being woken per request. Called
 * with q_mtx. */
static void gather_until(struct store *s, int64_t end_us)
{
	struct timespec dl = { (time_t)(end_us / 1000000), (long)(end_us % 1000000) * 1000 };
	s->gathering = true;
	while (!s->closing && !s->hold && s->queued < s->opts.batch_max)
		if (pthread_cond_timedwait(&s->q_cond, &s->q_mtx, &dl) == ETIMEDOUT)
			break;
	s->gathering = false;
}

/* Group commit under load (PostgreSQL's commit_delay idea): when the last batch ended moments
 * ago, requests are streaming in, so wait up to commit_window_us for more before committing:
 * one fsync then covers a larger batch. A lone request is never held. Called with q_mtx. */
static void gather(struct store *s)
{
	unsigned w = s->opts.commit_window_us;
	if (!w || s->closing || s->queued >= s->opts.batch_max)
		return;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (ts_us(&now) - ts_us(&s->last_end) > 2 * (int64_t)w)
		return;
	gather_until(s, ts_us(&now) + w);
}

static void *store_thread(void *arg)
{
	struct store *s = arg;
	/* signals belong to the main thread's loop */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);

	struct store_req **v = s->batch;
	bool linger = false;
	pthread_mutex_lock(&s->q_mtx);
	for (;;) {
		if (linger) {
			/* A batch has just been delivered: under load its callers answer and the next
			 * requests follow within the window. Wait for them here, on a timer, rather than
			 * sleep until the first one wakes us only to start the same wait: one wake-up
			 * (two context switches) less per batch. */
			linger = false;
			gather_until(s, ts_us(&s->last_end) + s->opts.commit_window_us);
			if (s->queued == 0 || s->hold)
				continue;
		} else {
			while (!s->closing && (s->queued == 0 || s->hold))
				pthread_cond_wait(&s->q_cond, &s->q_mtx);
			if (s->queued == 0)
				break; /* closing and drained */
			gather(s);
		}
		size_t n = 0;
		while (s->head && n < s->opts.batch_max) {
			v[n] = s->head;
			s->head = s->head->next;
			v[n++]->next = NULL;
		}
		if (!s->head)
			s->tail = NULL;
		s->queued -= n;
		s->busy = true;
		pthread_mutex_unlock(&s->q_mtx);

		pthread_mutex_lock(&s->db_mtx);
		run_batch(s, v, n);
		pthread_mutex_unlock(&s->db_mtx);

		pthread_mutex_lock(&s->q_mtx);
		count(s, v, n);
		pthread_mutex_unlock(&s->q_mtx);
		/* only now, after the commit, may callers learn of the result */
		for (size_t i = 0; i < n; i++)
			deliver(v[i]);
		pthread_mutex_lock(&s->q_mtx);
		clock_gettime(CLOCK_MONOTONIC, &s->last_end);
		s->busy = false;
		if (s->queued == 0)
			pthread_cond_broadcast(&s->idle_cond);
		linger = s->opts.commit_window_us && !s->closing;
	}
	pthread_cond_broadcast(&s->idle_cond);
	pthread_mutex_unlock(&s->q_mtx);
	return NULL;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->q_mtx);
	bool join = s->thread_running && !s->closing;
	s->closing = true;
	pthread_cond_broadcast(&s->q_cond);
	pthread_mutex_unlock(&s->q_mtx);
	if (join)
		pthread_join(s->thread, NULL);
}

static void store_destroy(void *data)
{
	struct store *s = data;
	store_close(s);
	if (s->ops && s->be)
		s->ops->close(s->be);
	free(s->batch);
	pthread_cond_destroy(&s->idle_cond);
	pthread_cond_destroy(&s->q_cond);
	pthread_mutex_destroy(&s->q_mtx);
	pthread_mutex_destroy(&s->db_mtx);
	mem_deref(s->path);
}

int store_open(struct store **sp, const struct store_opts *opts)
{
	if (!sp || !opts || (opts->backend == STORE_BACKEND_SQLITE && (!opts->path || !opts->path[0])))
		return EINVAL;
	struct store *s = mem_zalloc(sizeof(*s), store_destroy);
	if (!s)
		return ENOMEM;
	/* default attributes: these cannot fail on Linux */
	pthread_mutex_init(&s->db_mtx, NULL);
	pthread_mutex_init(&s->q_mtx, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->q_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->idle_cond, NULL);
	s->opts = *opts;
	if (!s->opts.batch_max)
		s->opts.batch_max = 512;
	if (!s->opts.queue_max)
		s->opts.queue_max = 65536;
	if (!s->opts.busy_timeout_ms)
		s->opts.busy_timeout_ms = 5000;
	s->path = mem_strdup(opts->path ? opts->path : "");
	s->opts.path = s->path;
	int e = s->path ? 0 : ENOMEM;
	if (!e) {
		switch (opts->backend) {
		case STORE_BACKEND_SQLITE: e = store_sqlite_open(&s->opts, &s->be, &s->ops); break;
		case STORE_BACKEND_MEM: e = store_mem_open(&s->opts, &s->be, &s->ops); break;
		default: e = EINVAL; break;
		}
	}
	if (!e && s->opts.thread) {
		s->batch = calloc(s->opts.batch_max, sizeof(*s->batch));
		e = s->batch ? pthread_create(&s->thread, NULL, store_thread, s) : ENOMEM;
		s->thread_running = e == 0;
	}
	if (e) {
		mem_deref(s);
		return e;
	}
	*sp = s;
	return 0;
}

void store_flush(struct store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->q_mtx);
	while (s->thread_running && (s->queued || s->busy))
		pthread_cond_wait(&s->idle_cond, &s->q_mtx);
	pthread_mutex_unlock(&s->q_mtx);
}

const char *store_backend_name(const struct store *s)
{
	return s && s->ops ? s->ops->name : "?";
}

void store_stats(struct store *s, struct store_stats *st)
{
	if (!s || !st)
		return;
	pthread_mutex_lock(&s->q_mtx);
	*st = s->stats;
	st->queued = s->queued;
	pthread_mutex_unlock(&s->q_mtx);
}

void store_hold(struct store *s, bool hold)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->q_mtx);
	s->hold = hold;
	pthread_cond_broadcast(&s->q_cond);
	pthread_mutex_unlock(&s->q_mtx);
}

/* ---- synchronous API ---- */

static int sync_run(struct store *s, struct store_req *r)
{
	if (!s)
		return EINVAL;
	pthread_mutex_lock(&s->db_mtx);
	struct store_req *v = r;
	run_batch(s, &v, 1);
	pthread_mutex_unlock(&s->db_mtx);
	return r->err;
}

int store_user_get(struct store *s, struct slice user, struct slice domain, struct store_user **up)
{
	if (!up)
		return EINVAL;
	struct store_req r = { .kind = R_USER_GET, .k1 = user, .k2 = domain };
	int e = sync_run(s, &r);
	if (!e)
		*up = r.u_out;
	else
		mem_deref(r.u_out);
	return e;
}

int store_user_put(struct store *s, const struct store_user *u)
{
	if (!store_user_valid(u))
		return EINVAL;
	struct store_req r = { .kind = R_USER_PUT, .u_in = u };
	return sync_run(s, &r);
}

int store_user_del(struct store *s, struct slice user, struct slice domain)
{
	struct store_req r = { .kind = R_USER_DEL, .k1 = user, .k2 = domain };
	return sync_run(s, &r);
}

int store_user_list(struct store *s, struct store_users **lp)
{
	if (!lp)
		return EINVAL;
	struct store_req r = { .kind = R_USER_LIST };
	int e = sync_run(s, &r);
	if (!e)
		*lp = r.ul_out;
	else
		mem_deref(r.ul_out);
	return e;
}

int store_binding_put(struct store *s, const struct store_binding *b)
{
	if (!store_binding_valid(b))
		return EINVAL;
	struct store_req r = { .kind = R_B_PUT, .b_in = b };
	return sync_run(s, &r);
}

int store_binding_get(struct store *s, struct slice aor, struct store_bindings **lp)
{
	if (!lp)
		return EINVAL;
	struct store_req r = { .kind = R_B_GET, .k1 = aor };
	int e = sync_run(s, &r);
	if (!e)
		*lp = r.bl_out;
	else
		mem_deref(r.bl_out);
	return e;
}

int store_binding_del(struct store *s, const struct store_binding *key)
{
	if (!store_binding_valid(key))
		return EINVAL;
	struct store_req r = { .kind = R_B_DEL, .b_in = key };
	return sync_run(s, &r);
}

int store_binding_del_aor(struct store *s, struct slice aor, size_t *n)
{
	struct store_req r = { .kind = R_B_DEL_AOR, .k1 = aor };
	int e = sync_run(s, &r);
	if (n)
		*n = r.n;
	return e;
}

int store_binding_expire(struct store *s, int64_t now, size_t *n)
{
	struct store_req r = { .kind = R_B_EXPIRE, .t = now };
	int e = sync_run(s, &r);
	if (n)
		*n = r.n;
	return e;
}

int store_binding_expire_keys(struct store *s, const struct store_binding *const *keys, size_t nkeys, int64_t now,
			     size_t *n)
{
	for (size_t i = 0; i < nkeys; i++)
		if (!keys || !store_binding_valid(keys[i]))
			return EINVAL;
	struct store_req r = { .kind = R_B_EXPIRE_KEYS, .del = keys, .ndel = nkeys, .t = now };
	int e = nkeys ? sync_run(s, &r) : 0;
	if (n)
		*n = r.n;
	return e;
}

int store_binding_load_all(struct store *s, struct store_bindings **lp)
{
	if (!lp)
		return EINVAL;
	struct store_req r = { .kind = R_B_LOAD_ALL };
	int e = sync_run(s, &r);
	if (!e)
		*lp = r.bl_out;
	else
		mem_deref(r.bl_out);
	return e;
}

/* ---- asynchronous API ---- */

static void client_destroy(void *data)
{
	struct store_client *c = data;
	mem_deref(c->s);
}

int store_client_alloc(struct store_client **cp, struct store *s, store_post_h *post, void *loop_arg)
{
	if (!cp || !s || !post)
		return EINVAL;
	struct store_client *c = mem_zalloc(sizeof(*c), client_destroy);
	if (!c)
		return ENOMEM;
	c->s = mem_ref(s);
	c->post = post;
	c->loop_arg = loop_arg;
	*cp = c;
	return 0;
}

static struct store_req *req_new(struct store_client *c, enum req_kind kind, void *arg)
{
	struct store_req *r = mem_zalloc(sizeof(*r), req_destroy);
	if (!r)
		return NULL;
	r->kind = kind;
	r->client = mem_ref(c);
	r->arg = arg;
	return r;
}

/* Copies up to two key strings into one buffer the request owns. */
static int req_keys(struct store_req *r, struct slice k1, struct slice k2)
{
	if (k1.len > STORE_FIELD_MAX || k2.len > STORE_FIELD_MAX)
		return EINVAL;
	r->keybuf = mem_zalloc(k1.len + k2.len + 2, NULL);
	if (!r->keybuf)
		return ENOMEM;
	if (k1.len)
		memcpy(r->keybuf, k1.p, k1.len);
	if (k2.len)
		memcpy(r->keybuf + k1.len + 1, k2.p, k2.len);
	r->k1 = (struct slice){ r->keybuf, k1.len };
	r->k2 = (struct slice){ r->keybuf + k1.len + 1, k2.len };
	return 0;
}

/* Consumes r: on error it is freed and its callback never runs. */
static int submit(struct store_req *r, int e)
{
	if (e) {
		mem_deref(r);
		return e;
	}
	struct store *s = r->client->s;
	pthread_mutex_lock(&s->q_mtx);
	if (s->closing)
		e = ESHUTDOWN;
	else if (s->queued >= s->opts.queue_max)
		e = EAGAIN;
	if (e || !s->thread_running) {
		pthread_mutex_unlock(&s->q_mtx);
		if (e) {
			mem_deref(r);
			return e;
		}
		/* no store thread: run now, still complete through the poster */
		pthread_mutex_lock(&s->db_mtx);
		run_batch(s, &r, 1);
		pthread_mutex_unlock(&s->db_mtx);
		pthread_mutex_lock(&s->q_mtx);
		count(s, &r, 1);
		pthread_mutex_unlock(&s->q_mtx);
		deliver(r);
		return 0;
	}
	if (s->tail)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	s->queued++;
	if (!s->gathering || s->queued >= s->opts.batch_max)
		pthread_cond_signal(&s->q_cond);
	pthread_mutex_unlock(&s->q_mtx);
	return 0;
}

int store_user_get_async(struct store_client *c, struct slice user, struct slice domain,
			 store_user_h *h, void *arg)
{
	if (!c || !h)
		return EINVAL;
	struct store_req *r = req_new(c, R_USER_GET, arg);
	if (!r)
		return ENOMEM;
	r->user_h = h;
	return submit(r, req_keys(r, user, domain));
}

/* Owned copies of bindings for a request: r->own has room for `total`, allocated once so the
 * pointers handed out stay valid; *first = index of the first copy. */
static int req_own(struct store_req *r, size_t total, const struct store_binding *const *b, size_t n,
		   size_t *first)
{
	if (!r->own) {
		if (total == 0 || total > SIZE_MAX / sizeof(*r->own))
			return EINVAL;
		if (!(r->own = calloc(total, sizeof(*r->own))))
			return ENOMEM;
	}
	if (n > total - r->nown)
		return EINVAL;
	*first = r->nown;
	for (size_t i = 0; i < n; i++) {
		if (!store_binding_valid(b[i]))
			return EINVAL;
		if (!(r->own[r->nown] = store_binding_dup(b[i])))
			return ENOMEM;
		r->nown++;
	}
	return 0;
}

static int binding_req(struct store_client *c, enum req_kind kind, const struct store_binding *b,
		       store_done_h *h, void *arg)
{
	if (!c || !h)
		return EINVAL;
	struct store_req *r = req_new(c, kind, arg);
	if (!r)
		return ENOMEM;
	r->done_h = h;
	size_t i0 = 0;
	int e = req_own(r, 1, &b, 1, &i0);
	if (!e)
		r->b_in = r->own[i0];
	return submit(r, e);
}

int store_binding_put_async(struct store_client *c, const struct store_binding *b, store_done_h *h,
			    void *arg)
{
	return binding_req(c, R_B_PUT, b, h, arg);
}

int store_binding_del_async(struct store_client *c, const struct store_binding *key, store_done_h *h,
			    void *arg)
{
	return binding_req(c, R_B_DEL, key, h, arg);
}

int store_binding_del_aor_async(struct store_client *c, struct slice aor, store_done_h *h, void *arg)
{
	if (!c || !h)
		return EINVAL;
	struct store_req *r = req_new(c, R_B_DEL_AOR, arg);
	if (!r)
		return ENOMEM;
	r->done_h = h;
	return submit(r, req_keys(r, aor, (struct slice){ NULL, 0 }));
}

int store_binding_expire_async(struct store_client *c, int64_t now, store_done_h *h, void *arg)
{
	if (!c || !h)
		return EINVAL;
	struct store_req *r = req_new(c, R_B_EXPIRE, arg);
	if (!r)
		return ENOMEM;
	r->done_h = h;
	r->t = now;
	return submit(r, 0);
}

int store_binding_get_async(struct store_client *c, struct slice aor, store_bindings_h *h, void *arg)
{
	if (!c || !h)
		return EINVAL;
	struct store_req *r = req_new(c, R_B_GET, arg);
	if (!r)
		return ENOMEM;
	r->bindings_h = h;
	return submit(r, req_keys(r, aor, (struct slice){ NULL, 0 }));
}

static int update_async(struct store_client *c, struct slice aor, bool del_all, const struct store_binding *const *del,
			size_t ndel, const struct store_binding *const *put, size_t nput, store_bindings_h *bh,
			store_done_h *dh, void *arg)
{
	if (!c || !(bh || dh) || aor.len == 0 || (ndel && !del) || (nput && !put) || ndel > SIZE_MAX - nput)
		return EINVAL;
	struct store_req *r = req_new(c, R_B_UPDATE, arg);
	if (!r)
		return ENOMEM;
	r->bindings_h = bh;
	r->done_h = dh;
	r->del_all = del_all;
	int e = req_keys(r, aor, (struct slice){ NULL, 0 });
	size_t d0 = 0, p0 = 0;
	if (!e && ndel + nput)
		e = req_own(r, ndel + nput, del, ndel, &d0);
	if (!e && nput)
		e = req_own(r, ndel + nput, put, nput, &p0);
	/* every binding belongs to this AOR: the result lists only aor's bindings */
	for (size_t i = 0; !e && i < r->nown; i++)
		e = slice_eq(r->own[i]->aor, r->k1) ? 0 : EINVAL;
	if (!e) {
		/* r->own is NULL when there is nothing to own: no pointer arithmetic on it then. */
		r->del = r->own && ndel ? (const struct store_binding *const *)(r->own + d0) : NULL;
		r->ndel = ndel;
		r->put = r->own && nput ? (const struct store_binding *const *)(r->own + p0) : NULL;
		r->nput = nput;
	}
	return submit(r, e);
}

int store_binding_update_async(struct store_client *c, struct slice aor, bool del_all,
			       const struct store_binding *const *del, size_t ndel,
			       const struct store_binding *const *put, size_t nput,
			       store_bindings_h *h, void *arg)
{
	return update_async(c, aor, del_all, del, ndel, put, nput, h, NULL, arg);
}

int store_binding_write_async(struct store_client *c, struct slice aor, bool del_all,
			      const struct store_binding *const *del, size_t ndel,
			      const struct store_binding *const *put, size_t nput, store_done_h *h, void *arg)
{
	return update_async(c, aor, del_all, del, ndel, put, nput, NULL, h, arg);
}
