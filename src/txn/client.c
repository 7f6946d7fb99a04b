/* Client transactions (RFC 3261 17.1): INVITE (Calling, Proceeding, Completed; timers A, B, D)
 * and non-INVITE (Trying, Proceeding, Completed; timers E, F, K), the hop-by-hop ACK for non-2xx
 * finals (17.1.1.3) and CANCEL (9.1). Every entry point pins the txn (mem_ref) while it runs, so
 * a handler may detach or drop references and the memory goes only after it returned. */
#include <errno.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/mem.h"
#include "txn/internal.h"

enum cli_state {
	CLI_CALLING, /* "Calling" (INVITE) / "Trying" (non-INVITE) */
	CLI_PROCEEDING,
	CLI_COMPLETED,
	CLI_TERMINATED,
};

struct txn_client {
	struct txn_hlink hl;
	struct hlink node; /* in the layer's all_cli */
	struct txn_layer *l;     /* NULL once released by the layer */
	struct txn_hop hop;
	char *req;               /* the request as sent (mem) */
	size_t len;
	struct sip_msg *msg;     /* parsed over req, zero copy; on first need when started with a branch */
	struct slice branch, method; /* into req */
	bool invite;
	bool internal;           /* our own CANCEL: responses absorbed */
	enum cli_state state;
	struct event *tmr_rt;    /* A, E */
	struct event *tmr_to;    /* B, F, D, K, and 64*T1 after a CANCEL */
	struct event *ev_end;    /* synthesized 503 from the loop */
	struct event evs[3];     /* the three above, embedded: no allocation per transaction */
	unsigned rt_ms;
	char *ack;               /* 17.1.1.3 ACK, re-sent for each retransmitted final (mem) */
	size_t ack_len;
	char *cancel_reason;     /* mem, NULL = none */
	bool got_prov, cancel_wanted, cancel_sent, final_seen;
	txn_client_resp_h *h;
	void *arg;
};

static void cli_destroy(void *data)
{
	struct txn_client *ct = data;
	if (ct->tmr_rt) {
		txn_timer_stop(ct->tmr_rt);
		txn_timer_stop(ct->tmr_to);
		txn_timer_stop(ct->ev_end);
	}
	mem_deref(ct->msg);
	mem_deref(ct->req);
	mem_deref(ct->ack);
	mem_deref(ct->cancel_reason);
}

/* Terminated: out of the tables, timers stopped, the layer's reference dropped. Callers hold
 * their own reference while they still use ct. */
static void cli_release(struct txn_client *ct)
{
	struct txn_layer *l = ct->l;
	ct->state = CLI_TERMINATED;
	if (!l)
		return;
	txn_table_remove(&l->cli, &ct->hl);
	hlink_unlink(&ct->node);
	l->st.clients--;
	ct->l = NULL;
	txn_timer_stop(ct->tmr_rt);
	txn_timer_stop(ct->tmr_to);
	txn_timer_stop(ct->ev_end);
	mem_deref(ct);
}

void txn_client_layer_gone(struct hlink *n)
{
	struct txn_client *ct = CONTAINER_OF(n, struct txn_client, node);
	ct->h = NULL;
	cli_release(ct);
}

static void cli_deliver(struct txn_client *ct, const struct sip_msg *resp, uint16_t status)
{
	txn_client_resp_h *h = ct->h;
	if (status >= 200) {
		ct->final_seen = true;
		ct->h = NULL; /* the final is the last call */
	}
	if (h && !ct->internal)
		h(ct, resp, status, ct->arg);
}

/* A synthesized final (408, 503), unless a real one came first; ends the txn. */
static void cli_fail(struct txn_client *ct, uint16_t status)
{
	bool notify = !ct->final_seen;
	cli_release(ct);
	if (notify)
		cli_deliver(ct, NULL, status);
}

static int cli_send(struct txn_client *ct, const char *buf, size_t len)
{
	int err = txn_layer_send(ct->l, &ct->hop, buf, len);
	if (err) {
		char a[64];
		log_info("txn.send_failed", "method=%.*s transport=%s remote=%s err=%d",
			 (int)ct->method.len, ct->method.p, conf_transport_name(ct->hop.transport),
			 txn_addr_fmt(&ct->hop.addr, a, sizeof(a)), err);
	}
	return err;
}

static void tmr_rt_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_client *ct = mem_ref(arg);
	struct txn_layer *l = ct->l;
	bool go = ct->state == CLI_CALLING || (!ct->invite && ct->state == CLI_PROCEEDING);
	if (l && go) {
		l->st.retransmits_sent++;
		if (cli_send(ct, ct->req, ct->len)) {
			cli_fail(ct, 503); /* 17.1.4 */
		} else if (ct->invite) {
			ct->rt_ms *= 2; /* 17.1.1.2 timer A: doubling, bounded by timer B */
			txn_timer_arm(ct->tmr_rt, ct->rt_ms);
		} else {
			/* 17.1.2.2 timer E: doubling up to T2 in Trying, T2 in Proceeding */
			unsigned next = ct->rt_ms * 2 < l->t2 ? ct->rt_ms * 2 : l->t2;
			ct->rt_ms = ct->state == CLI_PROCEEDING ? l->t2 : next;
			txn_timer_arm(ct->tmr_rt, ct->rt_ms);
		}
	}
	mem_deref(ct);
}

static void tmr_to_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_client *ct = mem_ref(arg);
	if (ct->l) {
		if (ct->state == CLI_CALLING || ct->state == CLI_PROCEEDING) {
			/* timer B / F (17.1.1.2, 17.1.2.2), or no final 64*T1 after CANCEL (9.1) */
			char a[64];
			ct->l->st.timeouts++;
			log_info("txn.timeout", "method=%.*s remote=%s", (int)ct->method.len, ct->method.p,
				 txn_addr_fmt(&ct->hop.addr, a, sizeof(a)));
			cli_fail(ct, 408);
		} else {
			cli_release(ct); /* timer D / K */
		}
	}
	mem_deref(ct);
}

static void ev_end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_client *ct = mem_ref(arg);
	if (ct->l)
		cli_fail(ct, 503);
	mem_deref(ct);
}

/* The request parsed, for building a CANCEL or an ACK; NULL if it does not parse. */
static const struct sip_msg *cli_msg(struct txn_client *ct)
{
	if (!ct->msg)
		sip_msg_parse_ref(ct->req, ct->req, ct->len, NULL, 0, &ct->msg, NULL);
	return ct->msg;
}

/* Takes ownership of buf (mem). */
static int cli_start(struct txn_layer *l, const struct txn_hop *to, char *buf, size_t len,
		     struct slice branch, bool internal, txn_client_resp_h *h, void *arg,
		     struct txn_client **ctp)
{
	if (txn_layer_full(l)) {
		mem_deref(buf);
		l->st.refused++;
		return EAGAIN;
	}
	struct txn_client *ct = mem_zalloc(sizeof(*ct), cli_destroy);
	if (!ct) {
		mem_deref(buf);
		return ENOMEM;
	}
	ct->req = buf;
	ct->len = len;
	int err;
	enum sip_method mid;
	struct sip_via top;
	/* A request our own layers built names its branch: its request line and top Via are all a
	 * start needs. The full parse (about 6 k instructions, a third of a forwarded INVITE's own
	 * cost) waits until a CANCEL or ACK is built from it, which most transactions never need;
	 * anything unexpected takes the full parse, whose verdict stands. */
	if (branch.len && sip_request_peek(buf, len, &ct->method, &top) == 0 && slice_eq(top.branch, branch) &&
	    (mid = sip_method_lookup(ct->method)) != SIP_METHOD_ACK && mid != SIP_METHOD_UNKNOWN) {
		ct->branch = top.branch;
	} else {
		struct sip_msg *m = NULL;
		err = sip_msg_parse_ref(buf, buf, len, NULL, 0, &m, NULL);
		if (err)
			goto out;
		ct->msg = m;
		const struct sip_via *via = sip_msg_via(m);
		const struct sip_cseq *cseq = sip_msg_cseq(m);
		mid = sip_msg_method_id(m);
		/* 17.1.3 matches on the branch: it must be there; ACK is no transaction (17.1) */
		if (!sip_msg_is_request(m) || !via || !via->branch.len || !cseq || mid == SIP_METHOD_ACK ||
		    (branch.len && !slice_eq(branch, via->branch))) {
			err = EINVAL;
			goto out;
		}
		ct->branch = via->branch;
		ct->method = sip_msg_method(m);
	}
	ct->invite = mid == SIP_METHOD_INVITE;
	ct->internal = internal;
	ct->hop = *to;
	ct->h = h;
	ct->arg = arg;
	if (evtimer_assign(&ct->evs[0], l->base, tmr_rt_cb, ct) || evtimer_assign(&ct->evs[1], l->base, tmr_to_cb, ct) ||
	    evtimer_assign(&ct->evs[2], l->base, ev_end_cb, ct)) {
		err = EINVAL;
		goto out;
	}
	ct->tmr_rt = &ct->evs[0];
	ct->tmr_to = &ct->evs[1];
	ct->ev_end = &ct->evs[2];
	ct->l = l;
	txn_table_insert(&l->cli, &ct->hl, txn_hash_ci(ct->branch));
	hlink_push(&l->all_cli, &ct->node);
	l->st.clients++;
	if (cli_send(ct, ct->req, ct->len)) {
		/* 17.1.4: reported as 503, from the loop so the caller gets *ctp first */
		txn_timer_arm(ct->ev_end, 0);
	} else {
		if (!txn_hop_reliable(to)) {
			ct->rt_ms = l->t1; /* timer A / E */
			txn_timer_arm(ct->tmr_rt, ct->rt_ms);
		}
		txn_timer_arm(ct->tmr_to, 64 * l->t1); /* timer B / F, on every transport */
	}
	if (ctp)
		*ctp = ct;
	return 0;
out:
	mem_deref(ct);
	return err;
}

int txn_client_start(struct txn_layer *l, const struct txn_hop *to, const char *req, size_t len,
		     struct slice branch, txn_client_resp_h *h, void *arg, struct txn_client **ctp)
{
	if (!l || !to || !req || !len || !ctp)
		return EINVAL;
	char *buf = mem_zalloc(len, NULL);
	if (!buf)
		return ENOMEM;
	memcpy(buf, req, len);
	return cli_start(l, to, buf, len, branch, false, h, arg, ctp);
}

static void cli_send_cancel(struct txn_client *ct)
{
	char *buf = NULL;
	size_t len = 0;
	struct slice reason = ct->cancel_reason ? slice_from_cstr(ct->cancel_reason) : (struct slice){ 0 };
	ct->cancel_sent = true;
	int err = cli_msg(ct) ? txn_build_cancel(ct->msg, reason, &buf, &len) : EBADMSG;
	struct txn_client *cc = NULL;
	if (!err)
		err = cli_start(ct->l, &ct->hop, buf, len, ct->branch, true, NULL, NULL, &cc);
	if (err)
		log_notice("txn.cancel_failed", "err=%d", err);
	/* 9.1: without a final 64*T1 after the CANCEL, the INVITE is over (even in Proceeding) */
	txn_timer_arm(ct->tmr_to, 64 * ct->l->t1);
}

int txn_client_recv(struct txn_layer *l, struct sip_msg *resp)
{
	if (!l || !resp || sip_msg_is_request(resp))
		return EINVAL;
	const struct sip_via *via = sip_msg_via(resp);
	const struct sip_cseq *cseq = sip_msg_cseq(resp);
	if (!via || !via->branch.len || !cseq)
		return ENOENT;
	struct txn_client *ct = NULL;
	uint32_t hash = txn_hash_ci(via->branch);
	for (struct hlink *e = txn_table_first(&l->cli, hash); e; e = e->next) {
		struct txn_client *c = CONTAINER_OF(e, struct txn_client, hl.l);
		/* 17.1.3: branch of the top Via and the CSeq method (CANCEL shares INVITE's branch) */
		if (c->hl.hash == hash && slice_eq_ci(c->branch, via->branch) && slice_eq(c->method, cseq->method)) {
			ct = c;
			break;
		}
	}
	if (!ct)
		return ENOENT;
	uint16_t status = sip_msg_status(resp);
	bool unreliable = !txn_hop_reliable(&ct->hop);
	int ret = 0;
	mem_ref(ct);
	if (ct->state == CLI_COMPLETED) {
		if (ct->invite && status >= 200 && status < 300) {
			ret = ENOENT; /* a 2xx from another fork: the proxy relays it (16.7) */
		} else {
			l->st.retransmits_absorbed++;
			if (ct->invite && status >= 300 && ct->ack) {
				/* 17.1.1.2: every retransmitted final gets the ACK again */
				l->st.retransmits_sent++;
				cli_send(ct, ct->ack, ct->ack_len);
			}
		}
	} else if (status < 200) {
		ct->state = CLI_PROCEEDING;
		ct->got_prov = true;
		if (ct->invite) {
			/* 17.1.1.2: no retransmission and no timer B in Proceeding */
			txn_timer_stop(ct->tmr_rt);
			if (!ct->cancel_sent)
				txn_timer_stop(ct->tmr_to);
			if (ct->cancel_wanted && !ct->cancel_sent)
				cli_send_cancel(ct); /* 9.1: a provisional makes the CANCEL possible */
		}
		cli_deliver(ct, resp, status);
	} else if (ct->invite && status < 300) {
		/* 17.1.1.2: a 2xx ends the INVITE txn; its ACK is end to end */
		cli_release(ct);
		cli_deliver(ct, resp, status);
	} else {
		ct->state = CLI_COMPLETED;
		txn_timer_stop(ct->tmr_rt);
		txn_timer_stop(ct->tmr_to);
		if (ct->invite) {
			/* 17.1.1.3: the ACK comes from the txn; timer D (>= 32 s, 64*T1) on UDP */
			int err = cli_msg(ct) ? txn_build_ack(ct->msg, resp, &ct->ack, &ct->ack_len) : EBADMSG;
			if (err)
				log_notice("txn.ack_failed", "err=%d", err);
			else
				cli_send(ct, ct->ack, ct->ack_len);
			txn_timer_arm(ct->tmr_to, unreliable ? 64 * l->t1 : 0);
		} else {
			txn_timer_arm(ct->tmr_to, unreliable ? l->t4 : 0); /* 17.1.2.2 timer K */
		}
		cli_deliver(ct, resp, status);
	}
	mem_deref(ct);
	return ret;
}

static int cli_usable(const struct txn_client *ct)
{
	if (!ct)
		return EINVAL;
	return ct->l && ct->state != CLI_TERMINATED ? 0 : ESHUTDOWN;
}

int txn_client_cancel_reason(struct txn_client *ct, struct slice reason)
{
	int err = cli_usable(ct);
	if (err)
		return err;
	if (!ct->invite || ct->internal)
		return EINVAL;
	if (ct->cancel_wanted || ct->final_seen || ct->state == CLI_COMPLETED)
		return EALREADY; /* 9.1: never after a final */
	if (reason.len) {
		if (memchr(reason.p, '\r', reason.len) || memchr(reason.p, '\n', reason.len))
			return EINVAL;
		ct->cancel_reason = mem_strndup(reason.p, reason.len);
		if (!ct->cancel_reason)
			return ENOMEM;
	}
	ct->cancel_wanted = true;
	if (ct->got_prov) {
		mem_ref(ct);
		cli_send_cancel(ct);
		mem_deref(ct);
	}
	return 0;
}

int txn_client_cancel(struct txn_client *ct)
{
	return txn_client_cancel_reason(ct, (struct slice){ NULL, 0 });
}

void txn_client_detach(struct txn_client *ct)
{
	if (!ct)
		return;
	ct->h = NULL;
	ct->arg = NULL;
}

void txn_client_set_conn(struct txn_client *ct, uint64_t conn_id)
{
	if (ct)
		ct->hop.conn_id = conn_id;
}

void txn_client_transport_error(struct txn_client *ct, int err)
{
	if (cli_usable(ct) || ct->final_seen || ct->state == CLI_COMPLETED)
		return;
	char a[64];
	log_info("txn.transport_error", "method=%.*s remote=%s err=%d", (int)ct->method.len,
		 ct->method.p, txn_addr_fmt(&ct->hop.addr, a, sizeof(a)), err);
	ct->l->st.transport_errors++;
	txn_timer_stop(ct->tmr_rt);
	txn_timer_arm(ct->ev_end, 0);
}

const struct txn_hop *txn_client_hop(const struct txn_client *ct)
{
	return ct ? &ct->hop : NULL;
}

const struct sip_msg *txn_client_request(struct txn_client *ct)
{
	return ct && ct->l ? cli_msg(ct) : NULL;
}
