/* The per-worker transaction layer: timers' base, send handler, matching tables, limits, stats. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/hash.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "txn/internal.h"

#define TXN_DEFAULT_LIMIT 65536u
#define TXN_TABLE_MIN 64u

uint32_t txn_hash_ci(struct slice s)
{
	/* Branch and Call-ID compare case-insensitively (RFC 3261 7.3.1, 17.2.3); they are hashed
	 * five times per proxied call. */
	uint64_t h = slice_hash(s, 0, true);
	return (uint32_t)(h ^ (h >> 32));
}

static void table_grow(struct txn_table *t)
{
	size_t nb = t->nb ? t->nb * 2 : TXN_TABLE_MIN;
	struct hlink **b = calloc(nb, sizeof(*b));
	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < t->nb; i++)
		for (struct hlink *e = t->b[i], *next; e; e = next) {
			next = e->next;
			hlink_push(&b[CONTAINER_OF(e, struct txn_hlink, l)->hash & (nb - 1)], e);
		}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

void txn_table_insert(struct txn_table *t, struct txn_hlink *e, uint32_t hash)
{
	if (t->n >= t->nb)
		table_grow(t);
	e->hash = hash;
	hlink_push(&t->b[hash & (t->nb - 1)], &e->l);
	t->n++;
}

void txn_table_remove(struct txn_table *t, struct txn_hlink *e)
{
	if (!hlink_linked(&e->l))
		return;
	hlink_unlink(&e->l);
	t->n--;
}

struct hlink *txn_table_first(const struct txn_table *t, uint32_t hash)
{
	return t->nb ? t->b[hash & (t->nb - 1)] : NULL;
}

void txn_table_free(struct txn_table *t)
{
	free(t->b);
	memset(t, 0, sizeof(*t));
}

static void layer_destroy(void *data)
{
	struct txn_layer *l = data;
	while (l->all_srv)
		txn_server_layer_gone(l->all_srv);
	while (l->all_cli)
		txn_client_layer_gone(l->all_cli);
	txn_table_free(&l->srv);
	txn_table_free(&l->cli);
}

int txn_layer_alloc(struct txn_layer **lp, struct event_base *base, const struct txn_timers *t,
		    txn_send_h *sendh, void *arg)
{
	if (!lp || !base || !sendh)
		return EINVAL;
	struct txn_layer *l = mem_zalloc(sizeof(*l), layer_destroy);
	if (!l)
		return ENOMEM;
	l->base = base;
	l->t1 = t && t->t1_ms ? t->t1_ms : 500;
	l->t2 = t && t->t2_ms ? t->t2_ms : 4000;
	l->t4 = t && t->t4_ms ? t->t4_ms : 5000;
	/* 64*T1 must fit the timers' unsigned milliseconds */
	if (l->t1 > 60u * 60u * 1000u || l->t2 < l->t1) {
		mem_deref(l);
		return EINVAL;
	}
	l->sendh = sendh;
	l->arg = arg;
	l->max_txns = TXN_DEFAULT_LIMIT;
	/* seeds the To-tag generator; tags need 32 random bits at least (RFC 3261 19.3) */
	if (getrandom(&l->rng, sizeof(l->rng), GRND_NONBLOCK) != (ssize_t)sizeof(l->rng))
		l->rng = time_mono_ms() ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)(uintptr_t)l;
	*lp = l;
	return 0;
}

void txn_layer_set_limit(struct txn_layer *l, size_t max_txns)
{
	if (l)
		l->max_txns = max_txns;
}

void txn_layer_stats(const struct txn_layer *l, struct txn_stats *st)
{
	if (!st)
		return;
	if (!l) {
		memset(st, 0, sizeof(*st));
		return;
	}
	*st = l->st;
}

bool txn_layer_full(const struct txn_layer *l)
{
	return l->st.servers + l->st.clients >= l->max_txns;
}

uint64_t txn_layer_rand(struct txn_layer *l)
{
	/* splitmix64: cheap, well mixed; uniqueness, not secrecy, is what tags need */
	return hash_mix64(l->rng += 0x9e3779b97f4a7c15ull);
}

int txn_layer_send(struct txn_layer *l, const struct txn_hop *hop, const char *buf, size_t len)
{
	int err = l->sendh(hop, buf, len, l->arg);
	if (err)
		l->st.transport_errors++;
	return err;
}

/* A transaction stops its three timers at every state change and at its end, and most are not
 * running then: event_del() on an idle event still takes the base lock and walks libevent's
 * checks (about 100 instructions, 38 calls per proxied call). The worker's base is only touched
 * by its own thread, so the flags can be read here. */
void txn_timer_stop(struct event *ev)
{
	if (ev->ev_evcallback.evcb_flags & (EVLIST_TIMEOUT | EVLIST_INSERTED | EVLIST_ACTIVE | EVLIST_ACTIVE_LATER))
		event_del(ev);
}

void txn_timer_arm(struct event *ev, unsigned ms)
{
	if (ms == 0) {
		/* Timers D, K, I, J are 0 on reliable transports (RFC 3261 17.1.1.2, 17.1.2.2,
		 * 17.2.1, 17.2.2), and ev_end is always 0: run the callback once the current one
		 * returns, in this loop pass. A zero timeout costs another pass and an epoll_wait(). */
		txn_timer_stop(ev);
		event_active(ev, EV_TIMEOUT, 1);
		return;
	}
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

const char *txn_addr_fmt(const struct tp_addr *a, char *buf, size_t sz)
{
	char h[INET6_ADDRSTRLEN] = "-";
	unsigned port = 0;
	if (a && a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &s4->sin_addr, h, sizeof(h));
		port = ntohs(s4->sin_port);
		snprintf(buf, sz, "%s:%u", h, port);
	} else if (a && a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, h, sizeof(h));
		port = ntohs(s6->sin6_port);
		snprintf(buf, sz, "[%s]:%u", h, port);
	} else {
		snprintf(buf, sz, "-");
	}
	return buf;
}
