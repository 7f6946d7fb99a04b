/* The worker pool, cross-worker hand-off, and connections by id. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "transport/stream.h"

struct tp_pool {
	unsigned n;
	struct tp_worker **w;
	tp_conn_closed_h *closedh;
	void *closed_arg;
};

static _Thread_local struct tp_worker *self;

static void pool_destroy(void *data)
{
	struct tp_pool *p = data;
	for (unsigned i = 0; i < p->n; i++)
		mem_deref(p->w[i]);
	free(p->w);
}

int tp_pool_alloc(struct tp_pool **pp, unsigned nworkers, const struct tp_settings *s, tp_msg_h *msgh, void *arg)
{
	if (!pp || nworkers == 0 || nworkers > TP_MAX_WORKERS)
		return EINVAL;
	struct tp_pool *p = mem_zalloc(sizeof(*p), pool_destroy);
	if (!p)
		return ENOMEM;
	p->w = calloc(nworkers, sizeof(*p->w));
	if (!p->w) {
		mem_deref(p);
		return ENOMEM;
	}
	for (unsigned i = 0; i < nworkers; i++, p->n++) {
		int e = tp_worker_alloc(&p->w[i], i, s, msgh, arg);
		if (e) {
			mem_deref(p);
			return e;
		}
		p->w[i]->pool = p;
	}
	*pp = p;
	return 0;
}

void tp_pool_set_handler(struct tp_pool *pool, tp_msg_h *msgh, void *arg)
{
	for (unsigned i = 0; i < pool->n; i++) {
		pool->w[i]->msgh = msgh;
		pool->w[i]->arg = arg;
	}
}

unsigned tp_pool_size(const struct tp_pool *pool)
{
	return pool->n;
}

struct tp_worker *tp_pool_worker(struct tp_pool *pool, unsigned i)
{
	return i < pool->n ? pool->w[i] : NULL;
}

struct tp_worker *tp_worker_self(void)
{
	return self;
}

void tp_worker_set_self(struct tp_worker *w)
{
	self = w;
}

unsigned tp_worker_index(const struct tp_worker *w)
{
	return w->index;
}

struct tp_pool *tp_worker_pool(const struct tp_worker *w)
{
	return w->pool;
}

int tp_worker_post(struct tp_worker *w, void (*fn)(void *arg), void *arg)
{
	struct tp_post *m = malloc(sizeof(*m));
	if (!m)
		return ENOMEM;
	m->next = NULL;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&w->inbox_lock);
	if (w->inbox_tail)
		w->inbox_tail->next = m;
	else
		w->inbox_head = m;
	w->inbox_tail = m;
	pthread_mutex_unlock(&w->inbox_lock);
	event_active(w->inbox_ev, 0, 0);
	return 0;
}

void tp_worker_inbox_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_worker *w = arg;
	pthread_mutex_lock(&w->inbox_lock);
	struct tp_post *m = w->inbox_head;
	w->inbox_head = w->inbox_tail = NULL;
	pthread_mutex_unlock(&w->inbox_lock);
	tp_worker_batch_begin(w);
	while (m) {
		struct tp_post *next = m->next;
		m->fn(m->arg);
		free(m);
		m = next;
	}
	tp_worker_batch_end(w);
}

void tp_worker_inbox_drain(struct tp_worker *w)
{
	tp_worker_inbox_h(-1, 0, w);
}

/* --- connections by id --- */

static size_t bucket(const struct tp_worker *w, uint64_t id)
{
	return (size_t)((id >> 8) * 0x9E3779B97F4A7C15ull >> 20) & (w->ctab_cap - 1);
}

int tp_worker_conn_insert(struct tp_worker *w, struct tp_conn *c)
{
	if (w->nconns + 1 > w->ctab_cap) {
		size_t ncap = w->ctab_cap ? w->ctab_cap * 2 : 64;
		struct tp_conn **nt = calloc(ncap, sizeof(*nt));
		if (!nt)
			return ENOMEM;
		size_t ocap = w->ctab_cap;
		struct tp_conn **ot = w->ctab;
		w->ctab = nt;
		w->ctab_cap = ncap;
		for (size_t i = 0; i < ocap; i++) {
			struct tp_conn *x = ot[i];
			while (x) {
				struct tp_conn *nx = x->hnext;
				size_t b = bucket(w, x->id);
				x->hnext = w->ctab[b];
				w->ctab[b] = x;
				x = nx;
			}
		}
		free(ot);
	}
	size_t b = bucket(w, c->id);
	c->hnext = w->ctab[b];
	w->ctab[b] = c;
	return 0;
}

void tp_worker_conn_remove(struct tp_worker *w, struct tp_conn *c)
{
	if (!w->ctab_cap)
		return;
	struct tp_conn **pp = &w->ctab[bucket(w, c->id)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	c->hnext = NULL;
}

struct tp_conn *tp_worker_conn(struct tp_worker *w, uint64_t id)
{
	if (!w->ctab_cap)
		return NULL;
	struct tp_conn *c = w->ctab[bucket(w, id)];
	while (c && c->id != id)
		c = c->hnext;
	return c;
}

struct send_job {
	struct tp_worker *w;
	uint64_t id;
	size_t len;
	char data[];
};

static void send_job_h(void *arg)
{
	struct send_job *j = arg;
	struct tp_conn *c = tp_worker_conn(j->w, j->id);
	struct tp_source src = { .conn = c };
	if (!c || tp_send(&src, j->data, j->len)) {
		log_info("transport.send_failed", "conn=%llu error=\"connection gone\" bytes=%zu",
			 (unsigned long long)j->id, j->len);
		/* The sender learnt nothing (it got 0 when posting): tell the closed handler, so a
		 * transaction waiting on this connection fails now instead of at its timer. */
		if (!c)
			tp_pool_conn_closed(j->w->pool, j->id);
	}
	free(j);
}

int tp_pool_send_conn(struct tp_pool *pool, uint64_t conn_id, const void *buf, size_t len)
{
	struct tp_worker *w = tp_pool_worker(pool, (unsigned)(conn_id & 0xff));
	if (!w)
		return ENOTCONN;
	if (w == self) {
		struct tp_conn *c = tp_worker_conn(w, conn_id);
		if (!c)
			return ENOTCONN;
		struct tp_source src = { .transport = c->transport, .conn = c };
		return tp_send(&src, buf, len);
	}
	struct send_job *j = malloc(sizeof(*j) + len);
	if (!j)
		return ENOMEM;
	j->w = w;
	j->id = conn_id;
	j->len = len;
	memcpy(j->data, buf, len);
	int e = tp_worker_post(w, send_job_h, j);
	if (e)
		free(j);
	return e;
}

void tp_pool_set_closed_handler(struct tp_pool *pool, tp_conn_closed_h *h, void *arg)
{
	pool->closedh = h;
	pool->closed_arg = arg;
}

void tp_pool_conn_closed(struct tp_pool *pool, uint64_t conn_id)
{
	if (pool && pool->closedh)
		pool->closedh(conn_id, pool->closed_arg);
}
