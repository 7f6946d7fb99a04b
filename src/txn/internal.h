/* Private to src/txn. */
#ifndef SIPSD_TXN_INTERNAL_H
#define SIPSD_TXN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hlist.h"
#include "txn/txn.h"

struct event;

/* Intrusive chained hash (branch -> txns); grows by doubling, chains stay short. */
struct txn_hlink {
	struct hlink l;
	uint32_t hash;
};

struct txn_table {
	struct hlink **b;
	size_t nb, n;
};

struct txn_layer {
	struct event_base *base;
	unsigned t1, t2, t4;
	txn_send_h *sendh;
	void *arg;
	struct txn_table srv, cli;
	struct hlink *all_srv, *all_cli; /* every live txn, for teardown */
	size_t max_txns;
	uint64_t rng;
	struct txn_stats st;
};

uint32_t txn_hash_ci(struct slice s);
void txn_table_insert(struct txn_table *t, struct txn_hlink *e, uint32_t hash);
void txn_table_remove(struct txn_table *t, struct txn_hlink *e);
struct hlink *txn_table_first(const struct txn_table *t, uint32_t hash); /* chain of txn_hlink.l */
void txn_table_free(struct txn_table *t);

bool txn_layer_full(const struct txn_layer *l);
uint64_t txn_layer_rand(struct txn_layer *l);
int txn_layer_send(struct txn_layer *l, const struct txn_hop *hop, const char *buf, size_t len);
/* "192.0.2.1:5060" / "[2001:db8::1]:5061" for logs ("-" when unset); the transport's own
 * formatter is not called: txn includes transport.h for struct tp_addr only. */
const char *txn_addr_fmt(const struct tp_addr *a, char *buf, size_t sz);
/* Arms a one-shot timer (0 ms = next loop iteration). */
void txn_timer_arm(struct event *ev, unsigned ms);
void txn_timer_stop(struct event *ev);

/* Called by the layer destructor: release every txn without notifying anyone. */
void txn_server_layer_gone(struct hlink *n);
void txn_client_layer_gone(struct hlink *n);

/* RFC 3261 17.1.1.3 ACK for a non-2xx final, and 9.1 CANCEL, from the request as sent.
 * *bufp is a mem object. 0, EINVAL (request lacks what is needed), ENOMEM. */
int txn_build_ack(const struct sip_msg *req, const struct sip_msg *resp, char **bufp, size_t *lenp);
int txn_build_cancel(const struct sip_msg *req, struct slice reason, char **bufp, size_t *lenp);

static inline bool txn_hop_reliable(const struct txn_hop *h)
{
	return h->transport != CONF_TP_UDP;
}

#endif
