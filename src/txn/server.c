/* Server transactions (RFC 3261 17.2): INVITE (Proceeding, Completed, Confirmed; timers G, H,
 * I), RFC 6026 Accepted after a 2xx (timer L), non-INVITE (Trying, Proceeding, Completed;
 * timer J). The owner hears of the end from the loop, never from inside one of its calls. */
#include <errno.h>
#include <string.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "base/log.h"
#include "base/mem.h"
#include "sip/build.h"
#include "txn/internal.h"

enum srv_state {
	SRV_TRYING, /* non-INVITE only */
	SRV_PROCEEDING,
	SRV_COMPLETED,
	SRV_CONFIRMED,  /* INVITE only */
	SRV_ACCEPTED,   /* INVITE after a 2xx, RFC 6026 7.1 */
	SRV_TERMINATED,
};

struct txn_server {
	struct txn_hlink hl;
	struct hlink node; /* in the layer's all_srv */
	struct txn_layer *l;    /* NULL once released by the layer */
	struct sip_msg *req;    /* reference */
	struct txn_hop hop;
	struct slice key;       /* branch (cookie) or Call-ID (RFC 2543), into req */
	bool rfc2543, invite;
	enum srv_state state;
	char *resp;             /* last response sent (mem), for retransmissions */
	size_t resp_len;
	uint16_t resp_status;
	struct event *tmr_rt;   /* G */
	struct event *tmr_to;   /* H, I, J, L */
	struct event *ev_end;   /* owner notification from the loop */
	struct event evs[3];    /* the three above, embedded: no allocation per transaction */
	unsigned rt_ms;
	int end_reason;
	bool end_pending;
	char to_tag[17];
	char *sent_to_tag;      /* RFC 2543 ACK matching: tag of the final sent (mem) */
	txn_server_end_h *endh;
	void *end_arg;
};

static void srv_destroy(void *data)
{
	struct txn_server *st = data;
	if (st->tmr_rt) {
		txn_timer_stop(st->tmr_rt);
		txn_timer_stop(st->tmr_to);
		txn_timer_stop(st->ev_end);
	}
	mem_deref(st->resp);
	mem_deref(st->sent_to_tag);
	mem_deref(st->req);
}

/* The layer lets go: out of its tables, timers stopped, its reference dropped. */
static void srv_release(struct txn_server *st)
{
	struct txn_layer *l = st->l;
	if (!l)
		return;
	txn_table_remove(&l->srv, &st->hl);
	hlink_unlink(&st->node);
	l->st.servers--;
	st->l = NULL;
	st->state = SRV_TERMINATED;
	txn_timer_stop(st->tmr_rt);
	txn_timer_stop(st->tmr_to);
	txn_timer_stop(st->ev_end);
	mem_deref(st);
}

void txn_server_layer_gone(struct hlink *n)
{
	struct txn_server *st = CONTAINER_OF(n, struct txn_server, node);
	st->endh = NULL;
	srv_release(st);
}

/* Tell the owner (from the loop) that the txn is over for it. */
static void srv_notify_end(struct txn_server *st, int reason)
{
	if (st->end_pending)
		return;
	st->end_pending = true;
	st->end_reason = reason;
	txn_timer_arm(st->ev_end, 0);
}

/* 17.2.1/17.2.2 "Terminated": no more matching; the owner hears from the loop, then release. */
static void srv_terminate(struct txn_server *st, int reason)
{
	if (st->state == SRV_TERMINATED)
		return;
	st->state = SRV_TERMINATED;
	txn_table_remove(&st->l->srv, &st->hl);
	txn_timer_stop(st->tmr_rt);
	txn_timer_stop(st->tmr_to);
	srv_notify_end(st, reason);
}

static void ev_end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_server *st = mem_ref(arg); /* the handler may drop other references */
	txn_server_end_h *h = st->endh;
	st->endh = NULL;
	st->end_pending = false;
	if (h)
		h(st, st->end_reason, st->end_arg);
	if (st->state == SRV_TERMINATED)
		srv_release(st);
	mem_deref(st);
}

static int srv_send(struct txn_server *st, const char *buf, size_t len)
{
	int err = txn_layer_send(st->l, &st->hop, buf, len);
	if (err) {
		/* RFC 3261 17.2.4: report the transport failure, the txn is over */
		char a[64];
		log_info("txn.send_failed", "transport=%s remote=%s status=%u err=%d",
			 conf_transport_name(st->hop.transport), txn_addr_fmt(&st->hop.addr, a, sizeof(a)),
			 st->resp_status, err);
		srv_terminate(st, EPIPE);
	}
	return err;
}

static void tmr_rt_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_server *st = arg;
	if (st->state != SRV_COMPLETED || !st->resp)
		return;
	/* 17.2.1 timer G: re-send the final, interval doubling up to T2 */
	st->l->st.retransmits_sent++;
	if (srv_send(st, st->resp, st->resp_len))
		return;
	st->rt_ms = st->rt_ms * 2 < st->l->t2 ? st->rt_ms * 2 : st->l->t2;
	txn_timer_arm(st->tmr_rt, st->rt_ms);
}

static void tmr_to_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct txn_server *st = arg;
	switch (st->state) {
	case SRV_COMPLETED:
		if (st->invite) {
			/* 17.2.1 timer H: no ACK came */
			char a[64];
			st->l->st.timeouts++;
			log_info("txn.ack_timeout", "remote=%s status=%u",
				 txn_addr_fmt(&st->hop.addr, a, sizeof(a)), st->resp_status);
			srv_terminate(st, ETIMEDOUT);
		} else {
			srv_terminate(st, 0); /* 17.2.2 timer J */
		}
		break;
	case SRV_CONFIRMED: /* 17.2.1 timer I */
	case SRV_ACCEPTED:  /* RFC 6026 timer L */
		srv_terminate(st, 0);
		break;
	default:
		break;
	}
}

static bool is_cookie(struct slice branch)
{
	/* RFC 3261 8.1.1.7: the magic cookie marks an RFC 3261 branch */
	return branch.len > 7 && !memcmp(branch.p, "z9hG4bK", 7);
}

static struct slice tag_of(const struct sip_nameaddr *na)
{
	return na ? na->tag : (struct slice){ NULL, 0 };
}

/* sent-by (17.2.3), and the Via transport too: a retransmission never changes transport, so a
 * request over another transport with a reused branch is a new request, not one to absorb. */
static bool same_sent_by(const struct sip_via *a, const struct sip_via *b)
{
	return slice_eq_ci(a->host, b->host) && a->port == b->port && slice_eq_ci(a->transport, b->transport);
}

/* RFC 3261 17.2.3. method_as: the method the request must match (INVITE for ACK). */
static bool srv_match(const struct txn_server *st, const struct sip_msg *req, struct slice method_as,
		      bool ack)
{
	if (st->state == SRV_TERMINATED)
		return false;
	const struct sip_msg *o = st->req;
	if (!slice_eq(sip_msg_method(o), method_as))
		return false;
	const struct sip_via *ov = sip_msg_via(o), *rv = sip_msg_via(req);
	if (!st->rfc2543)
		return slice_eq_ci(ov->branch, rv->branch) && same_sent_by(ov, rv);
	/* RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq, top Via; To tag (for an ACK,
	 * the one of the response we sent) */
	const struct sip_cseq *oc = sip_msg_cseq(o), *rc = sip_msg_cseq(req);
	if (oc->num != rc->num || !slice_eq(sip_msg_call_id(o), sip_msg_call_id(req)) ||
	    !slice_eq(tag_of(sip_msg_from(o)), tag_of(sip_msg_from(req))) || !same_sent_by(ov, rv) ||
	    !slice_eq_ci(ov->branch, rv->branch) || !sip_uri_eq(sip_msg_ruri(o), sip_msg_ruri(req)))
		return false;
	struct slice rtag = tag_of(sip_msg_to(req));
	if (ack && st->sent_to_tag)
		return slice_eq(rtag, slice_from_cstr(st->sent_to_tag));
	return slice_eq(tag_of(sip_msg_to(o)), rtag);
}

static struct slice srv_key(const struct sip_msg *req, bool *rfc2543)
{
	struct slice b = sip_msg_via(req)->branch;
	*rfc2543 = !is_cookie(b);
	return *rfc2543 ? sip_msg_call_id(req) : b;
}

static struct txn_server *srv_lookup(struct txn_layer *l, const struct sip_msg *req,
				     struct slice method_as, bool ack)
{
	bool old;
	struct slice key = srv_key(req, &old);
	uint32_t h = txn_hash_ci(key);
	for (struct hlink *e = txn_table_first(&l->srv, h); e; e = e->next) {
		struct txn_server *st = CONTAINER_OF(e, struct txn_server, hl.l);
		if (st->hl.hash != h)
			continue;
		if (st->rfc2543 == old && srv_match(st, req, method_as, ack))
			return st;
	}
	return NULL;
}

static bool req_usable(const struct sip_msg *req)
{
	return req && sip_msg_is_request(req) && sip_msg_via(req) && sip_msg_cseq(req) &&
	       sip_msg_ruri(req);
}

static int srv_alloc(struct txn_layer *l, struct sip_msg *req, const struct txn_hop *from,
		     struct txn_server **stp)
{
	if (txn_layer_full(l))
		return EAGAIN;
	struct txn_server *st = mem_zalloc(sizeof(*st), srv_destroy);
	if (!st)
		return ENOMEM;
	if (evtimer_assign(&st->evs[0], l->base, tmr_rt_cb, st) || evtimer_assign(&st->evs[1], l->base, tmr_to_cb, st) ||
	    evtimer_assign(&st->evs[2], l->base, ev_end_cb, st)) {
		mem_deref(st);
		return EINVAL;
	}
	st->tmr_rt = &st->evs[0];
	st->tmr_to = &st->evs[1];
	st->ev_end = &st->evs[2];
	st->req = mem_ref(req);
	st->hop = *from;
	st->invite = sip_msg_method_id(req) == SIP_METHOD_INVITE;
	st->state = st->invite ? SRV_PROCEEDING : SRV_TRYING;
	st->key = srv_key(req, &st->rfc2543);
	uint64_t r = txn_layer_rand(l);
	for (int i = 0; i < 16; i++)
		st->to_tag[i] = "0123456789abcdef"[(r >> (i * 4)) & 0xf];
	st->l = l;
	txn_table_insert(&l->srv, &st->hl, txn_hash_ci(st->key));
	hlink_push(&l->all_srv, &st->node);
	l->st.servers++;
	*stp = st;
	return 0;
}

enum txn_recv_result txn_server_recv(struct txn_layer *l, struct sip_msg *req,
				     const struct txn_hop *from, struct txn_server **stp)
{
	if (!l || !from || !stp || !req_usable(req)) {
		if (l)
			l->st.refused++;
		return TXN_REFUSED;
	}
	bool ack = sip_msg_method_id(req) == SIP_METHOD_ACK;
	struct slice method_as = ack ? SLICE_LIT("INVITE") : sip_msg_method(req);
	struct txn_server *st = srv_lookup(l, req, method_as, ack);
	if (!st) {
		if (ack)
			return TXN_NO_MATCH_ACK; /* ACK for a 2xx: end to end (17.2.3, 16.7) */
		int err = srv_alloc(l, req, from, stp);
		if (err) {
			l->st.refused++;
			log_notice("txn.refused", "err=%d live=%zu", err, l->st.servers + l->st.clients);
			return TXN_REFUSED;
		}
		return TXN_NEW;
	}
	if (ack) {
		switch (st->state) {
		case SRV_COMPLETED:
			/* 17.2.1: Confirmed; timer I = T4 on UDP, 0 on reliable transports */
			st->state = SRV_CONFIRMED;
			txn_timer_stop(st->tmr_rt);
			txn_timer_arm(st->tmr_to, txn_hop_reliable(&st->hop) ? 0 : st->l->t4);
			return TXN_ACK_ABSORBED;
		case SRV_ACCEPTED:
			return TXN_NO_MATCH_ACK; /* RFC 6026 7.1: ACK for the 2xx goes to the TU */
		default:
			l->st.retransmits_absorbed++;
			return TXN_ACK_ABSORBED;
		}
	}
	l->st.retransmits_absorbed++;
	/* 17.2.1 / 17.2.2: re-send the last provisional (Proceeding) or final (Completed);
	 * absorb silently in Trying, Confirmed and Accepted */
	if ((st->state == SRV_PROCEEDING || st->state == SRV_COMPLETED) && st->resp) {
		mem_ref(st);
		l->st.retransmits_sent++;
		srv_send(st, st->resp, st->resp_len);
		mem_deref(st);
	}
	return TXN_RETRANSMISSION;
}

/* Takes ownership of buf (a mem object). */
static int srv_respond_take(struct txn_server *st, uint16_t status, char *buf, size_t len)
{
	struct txn_layer *l = st->l;
	if (st->state == SRV_ACCEPTED && status >= 200 && status < 300) {
		/* RFC 6026 7.1: further 2xx pass straight through */
		int err = txn_layer_send(l, &st->hop, buf, len);
		mem_deref(buf);
		return err;
	}
	if (st->state != SRV_TRYING && st->state != SRV_PROCEEDING) {
		mem_deref(buf);
		return EPROTO;
	}
	mem_deref(st->resp);
	st->resp = buf;
	st->resp_len = len;
	st->resp_status = status;
	bool unreliable = !txn_hop_reliable(&st->hop);
	if (status < 200) {
		st->state = SRV_PROCEEDING;
	} else if (st->invite && status < 300) {
		/* RFC 6026 7.1 (updating 17.2.1): Accepted, not Terminated: INVITE retransmissions
		 * are absorbed and 2xx from other forks pass through until timer L = 64*T1; the
		 * original rule let a retransmitted INVITE make a second transaction. Over a reliable
		 * transport nothing is retransmitted, so Accepted ends at once: at thousands of calls
		 * a second, 64*T1 of finished INVITEs would fill the transaction table. */
		st->state = SRV_ACCEPTED;
		txn_timer_arm(st->tmr_to, unreliable ? 64 * l->t1 : 0);
	} else if (st->invite) {
		/* 17.2.1: Completed; timer G (unreliable only) and H */
		st->state = SRV_COMPLETED;
		if (unreliable) {
			st->rt_ms = l->t1;
			txn_timer_arm(st->tmr_rt, st->rt_ms);
		}
		txn_timer_arm(st->tmr_to, 64 * l->t1);
	} else {
		/* 17.2.2: Completed; timer J = 64*T1 unreliable, 0 reliable */
		st->state = SRV_COMPLETED;
		txn_timer_arm(st->tmr_to, unreliable ? 64 * l->t1 : 0);
	}
	if (status >= 200)
		l->st.finals_sent[status / 100]++;
	if (st->rfc2543 && st->invite && status >= 300) {
		/* the ACK to this final will carry its To tag (17.2.3) */
		struct sip_msg *m = NULL;
		if (!sip_msg_parse(buf, len, NULL, 0, &m, NULL) && sip_msg_to(m) &&
		    sip_msg_to(m)->tag.len)
			st->sent_to_tag = mem_strndup(sip_msg_to(m)->tag.p, sip_msg_to(m)->tag.len);
		mem_deref(m);
	}
	return srv_send(st, buf, len);
}

static int srv_usable(const struct txn_server *st)
{
	if (!st)
		return EINVAL;
	return st->l && st->state != SRV_TERMINATED ? 0 : ESHUTDOWN;
}

int txn_server_respond(struct txn_server *st, uint16_t status, const char *buf, size_t len)
{
	int err = srv_usable(st);
	if (err)
		return err;
	if (!buf || !len || status < 100 || status > 699)
		return EINVAL;
	char *copy = mem_zalloc(len, NULL);
	if (!copy)
		return ENOMEM;
	memcpy(copy, buf, len);
	return srv_respond_take(st, status, copy, len);
}

int txn_server_reply(struct txn_server *st, uint16_t status, const char *reason,
		     const struct slice *extra, size_t n_extra)
{
	int err = srv_usable(st);
	if (err)
		return err;
	if (status < 100 || status > 699 || (n_extra && !extra))
		return EINVAL;
	/* everything copied from the request fits in its own size, plus one byte per line for
	 * line ends made CRLF */
	size_t size = sip_msg_raw(st->req).len + sip_msg_hdr_count(st->req) + 256 +
		      (reason ? strlen(reason) : 0);
	for (size_t i = 0; i < n_extra; i++)
		size += extra[i].len + 2;
	char *buf = mem_zalloc(size, NULL);
	if (!buf)
		return ENOMEM;
	struct sip_resp_opts o = {
		.to_tag = slice_from_cstr(st->to_tag),
		.extra = extra,
		.n_extra = n_extra,
	};
	size_t len = 0;
	err = sip_build_response(st->req, status, reason, &o, buf, size, &len);
	if (err) {
		mem_deref(buf);
		return err;
	}
	return srv_respond_take(st, status, buf, len);
}

struct txn_server *txn_server_find_invite(struct txn_layer *l, const struct sip_msg *cancel)
{
	if (!l || !req_usable(cancel))
		return NULL;
	/* RFC 3261 9.2: the 17.2.3 rules, with INVITE as the method to match */
	struct txn_server *st = srv_lookup(l, cancel, SLICE_LIT("INVITE"), false);
	return st && st->state != SRV_ACCEPTED ? st : NULL;
}

const struct sip_msg *txn_server_request(const struct txn_server *st)
{
	return st ? st->req : NULL;
}

const struct txn_hop *txn_server_hop(const struct txn_server *st)
{
	return st ? &st->hop : NULL;
}

void txn_server_set_hop(struct txn_server *st, const struct txn_hop *hop)
{
	if (st && hop)
		st->hop = *hop;
}

const char *txn_server_to_tag(const struct txn_server *st)
{
	return st ? st->to_tag : NULL;
}

void txn_server_set_owner(struct txn_server *st, txn_server_end_h *endh, void *arg)
{
	if (!st)
		return;
	st->endh = endh;
	st->end_arg = endh ? arg : NULL;
}

void *txn_server_owner(const struct txn_server *st, txn_server_end_h *endh)
{
	return st && endh && st->endh == endh ? st->end_arg : NULL;
}

bool txn_server_final_sent(const struct txn_server *st)
{
	return st && st->resp_status >= 200;
}
