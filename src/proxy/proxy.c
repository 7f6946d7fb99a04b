/* RFC 3261 16 stateful proxy: request validation, routing to registered flows and peers, forking,
 * response selection, CANCEL, stateless relay of ACK-for-2xx and late 2xx retransmissions. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/outbuf.h"
#include "proxy/internal.h"
#include "registrar/location.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "tls/ident.h"

enum { MAX_BRANCHES = LOC_MAX_BINDINGS_PER_AOR, OUT_MAX = 70000 };

static const char *const supported_tags[] = { "outbound", "path" };

/* ---- helpers ---- */

struct proxy_origin;
static void proxy_forward(struct proxy_worker *pw, struct txn_server *st, struct sip_msg *req, const struct txn_hop *from,
			  const struct proxy_origin *o);
static bool local_hostport(struct proxy_worker *pw, enum conf_transport tp, char *host, size_t hostsz, uint16_t *port);
static const char *tp_upper(enum conf_transport tp);

static struct proxy_worker *self_worker(struct proxy *p)
{
	struct tp_worker *w = tp_worker_self();
	return w ? p->pw[tp_worker_index(w)] : NULL;
}

static int send_h(const struct txn_hop *hop, const char *buf, size_t len, void *arg)
{
	struct proxy_worker *pw = arg;
	if (hop->transport == CONF_TP_UDP)
		return tp_worker_send_udp(pw->w, &hop->addr, buf, len);
	if (!hop->conn_id)
		return ENOTCONN;
	return tp_pool_send_conn(pw->p->pool, hop->conn_id, buf, len);
}

/* Finals sent upstream by method and class (the management API's transaction counters). */
static void count_final(struct proxy *p, const struct sip_msg *req, uint16_t status)
{
	if (status < 200 || !req)
		return;
	unsigned m = (unsigned)sip_msg_method_id(req);
	if (m >= PROXY_METHODS)
		m = 0;
	atomic_fetch_add(&p->stats.txn_final[m][status / 100 < 7 ? status / 100 : 6], 1);
}

static int srv_reply(struct proxy *p, struct txn_server *st, uint16_t status, const char *reason,
		     const struct slice *extra, size_t n_extra)
{
	count_final(p, txn_server_request(st), status);
	return txn_server_reply(st, status, reason, extra, n_extra);
}

static int srv_respond(struct proxy *p, struct txn_server *st, uint16_t status, const char *buf, size_t len)
{
	count_final(p, txn_server_request(st), status);
	return txn_server_respond(st, status, buf, len);
}

/* Answers a request that has no transaction (parse-level faults, refused transactions). */
static void reply_stateless(struct proxy_worker *pw, const struct sip_msg *req, const struct txn_hop *hop,
			    uint16_t status, const char *reason, const struct sip_verdict *v)
{
	char buf[8192], tag[17];
	size_t len = 0;
	proxy_random_hex(tag, 8);
	struct sip_resp_opts o = { .to_tag = { tag, 16 }, .verdict = v };
	if (sip_build_response(req, status, reason, &o, buf, sizeof(buf), &len) == 0) {
		send_h(hop, buf, len, pw);
		count_final(pw->p, req, status);
	}
	atomic_fetch_add(&pw->p->stats.local_replies, 1);
}

static void reply(struct proxy_worker *pw, struct txn_server *st, uint16_t status, const char *reason,
		  const struct slice *extra, size_t n_extra)
{
	(void)pw;
	srv_reply(pw->p, st, status, reason, extra, n_extra);
	atomic_fetch_add(&pw->p->stats.local_replies, 1);
}

/* Copies resp without its top Via value (RFC 3261 16.7 item 3). */
static int strip_top_via(const struct sip_msg *resp, char *out, size_t outsz, size_t *lenp)
{
	const struct sip_hdr *h = sip_msg_hdr(resp, SIP_HDR_VIA);
	const struct sip_via *via = sip_msg_via(resp);
	if (!h || !via)
		return EBADMSG;
	struct slice raw = sip_msg_raw(resp);
	const char *cut_from, *cut_to;
	const char *vend = via->raw.p + via->raw.len;
	const char *hend = h->value.p + h->value.len;
	/* More values after the first in the same header line: drop "value," only. */
	const char *q = vend;
	while (q < hend && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
		q++;
	if (q < hend && *q == ',') {
		q++;
		while (q < hend && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
			q++;
		cut_from = via->raw.p;
		cut_to = q;
	} else {
		struct slice hr = sip_hdr_raw(h);
		cut_from = hr.p;
		cut_to = hr.p + hr.len;
	}
	size_t a = (size_t)(cut_from - raw.p), b = (size_t)(raw.p + raw.len - cut_to);
	if (a + b > outsz)
		return EOVERFLOW;
	memcpy(out, raw.p, a);
	memcpy(out + a, cut_to, b);
	*lenp = a + b;
	return 0;
}

bool proxy_host_is_ours(struct proxy *p, struct slice host, uint16_t port)
{
	if (host.len >= 2 && host.p[0] == '[') {
		host.p++;
		host.len -= 2;
	}
	const struct conf *c = p->conf;
	for (size_t i = 0; i < c->global.domains.n; i++)
		if (slice_eq_cstr_ci(host, c->global.domains.v[i]))
			return true;
	for (size_t i = 0; i < c->nifaces; i++)
		for (size_t k = 0; k < c->ifaces[i].nlisten; k++) {
			const struct conf_listen *l = &c->ifaces[i].listen[k];
			if (slice_eq_cstr_ci(host, l->host) && (port == 0 || port == l->port))
				return true;
		}
	return false;
}

static bool domain_is_ours(struct proxy *p, struct slice host)
{
	const struct conf *c = p->conf;
	for (size_t i = 0; i < c->global.domains.n; i++)
		if (slice_eq_cstr_ci(host, c->global.domains.v[i]))
			return true;
	return false;
}

/* ---- branch ids: z9hG4bK + "sd" + worker + inbound conn + loop hash + sequence ----
 * The worker lets any worker hand a response to the one holding the transaction; the inbound
 * connection lets a late 2xx find its way back statelessly; the loop hash is RFC 3261 16.6
 * item 8's, compared by 16.3 item 4. */
#define BRANCH_PREFIX "z9hG4bKsd"

/* Over what stays the same when a request comes back to us unchanged (RFC 3261 16.6 item 8
 * lists the top Via too, but a looped request's top Via is the last hop's, so including it
 * would hide every loop; a spiral changes the Request-URI and is not flagged). */
static uint32_t loop_hash(const struct sip_msg *m)
{
	const struct sip_uri *ru = sip_msg_ruri(m);
	const struct sip_nameaddr *f = sip_msg_from(m), *t = sip_msg_to(m);
	const struct sip_cseq *cs = sip_msg_cseq(m);
	struct slice parts[5] = {
		ru ? ru->whole : (struct slice){ 0 }, f ? f->tag : (struct slice){ 0 }, t ? t->tag : (struct slice){ 0 },
		sip_msg_call_id(m), cs ? cs->method : (struct slice){ 0 },
	};
	/* Every forwarded request is hashed. Each part's length goes in too, so moving bytes from
	 * one part to the next changes the hash. */
	uint64_t h = cs ? cs->num : 0;
	for (size_t i = 0; i < 5; i++)
		h = slice_hash(parts[i], h, false);
	return (uint32_t)(h ^ (h >> 32));
}

static size_t make_branch(struct proxy_worker *pw, uint64_t in_conn, uint32_t lh, char *out, size_t outsz)
{
	/* BRANCH_PREFIX "%02x.%llx.%08x.%llx", without printf on every forwarded request */
	struct outbuf o = OUTBUF_INIT_CSTR(out, outsz);
	outbuf_puts(&o, BRANCH_PREFIX);
	outbuf_put_hex(&o, pw->index, 2);
	outbuf_puts(&o, ".");
	outbuf_put_hex(&o, in_conn, 1);
	outbuf_puts(&o, ".");
	outbuf_put_hex(&o, lh, 8);
	outbuf_puts(&o, ".");
	outbuf_put_hex(&o, ++pw->branch_seq, 1);
	return outbuf_cstr(&o);
}

/* Takes 1 to 16 hex digits off the front of s, and the '.' after them when dot is set: the
 * fields of our branches and flow tokens (strtoull would need a copy to NUL-terminate). */
static bool take_hex(struct slice *s, bool dot, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < s->len && i <= 16; i++) {
		unsigned char c = (unsigned char)s->p[i];
		unsigned dec = (unsigned)c - '0', hex = ((unsigned)c | 0x20) - 'a'; /* wrap below '0' / 'a' */
		unsigned d = dec <= 9 ? dec : hex <= 5 ? hex + 10 : 16;
		if (d > 15)
			break;
		v = v << 4 | d;
	}
	if (i == 0 || i > 16)
		return false;
	if (dot) {
		if (i == s->len || s->p[i] != '.')
			return false;
		i++;
	}
	s->p += i;
	s->len -= i;
	*out = v;
	return true;
}

/* Parses a branch we made; false when it isn't ours. */
static bool parse_branch(struct slice b, unsigned *worker, uint64_t *in_conn, uint32_t *lh)
{
	size_t pl = sizeof(BRANCH_PREFIX) - 1;
	if (b.len <= pl || memcmp(b.p, BRANCH_PREFIX, pl) != 0 || b.len > 80)
		return false;
	struct slice rest = { b.p + pl, b.len - pl };
	uint64_t w, c, h;
	if (!take_hex(&rest, true, &w) || !take_hex(&rest, true, &c) || !take_hex(&rest, true, &h) ||
	    w > UINT_MAX || h > UINT32_MAX)
		return false;
	*worker = (unsigned)w;
	*in_conn = c;
	*lh = (uint32_t)h;
	return true;
}

/* ---- flow tokens in Record-Route (RFC 5626 5.3 spirit): both flows of a dialog, MAC'd ---- */

/* HMAC-SHA256 over both flow ids, truncated to 64 bits, from the worker's keyed context: a
 * one-shot HMAC() fetches the digest on every call, which cost ~7 us per proxied call. */
static bool flow_mac(struct proxy_worker *pw, uint64_t a, uint64_t b, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	/* Only our own results are remembered, so a hit is exactly what the HMAC would give. Two
	 * ways per set, most recent first: two busy trunks sharing a set must not evict each other
	 * on every call (measured with one way: a miss, ~6k instructions, per proxied call). */
	struct flow_mac_memo *set = pw->mac_memo[hash_mix64(a ^ hash_mix64(b)) % PROXY_MAC_MEMO_SETS];
	for (int w = 0; w < 2; w++) {
		if (set[w].set && set[w].a == a && set[w].b == b) {
			memcpy(out, set[w].mac, 17);
			if (w) {
				struct flow_mac_memo t = set[0];
				set[0] = set[1];
				set[1] = t;
			}
			return true;
		}
	}
	unsigned char in[16], md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	for (int i = 0; i < 8; i++) {
		in[i] = (unsigned char)(a >> (8 * i));
		in[8 + i] = (unsigned char)(b >> (8 * i));
	}
	if (!pw->mac || EVP_MAC_init(pw->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(pw->mac, in, sizeof(in)) != 1 ||
	    EVP_MAC_final(pw->mac, md, &mdlen, sizeof(md)) != 1 || mdlen < 8)
		return false;
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[16] = '\0';
	set[1] = set[0];
	set[0] = (struct flow_mac_memo){ .a = a, .b = b, .set = true };
	memcpy(set[0].mac, out, 17);
	return true;
}

static size_t flow_token(struct proxy_worker *pw, uint64_t a, uint64_t b, char *out, size_t outsz)
{
	char mac[17];
	if (!flow_mac(pw, a, b, mac))
		return 0; /* no token: the dialog is then routed by its Request-URI */
	struct outbuf o = OUTBUF_INIT_CSTR(out, outsz); /* "f.%llx.%llx.%s" */
	outbuf_puts(&o, "f.");
	outbuf_put_hex(&o, a, 1);
	outbuf_puts(&o, ".");
	outbuf_put_hex(&o, b, 1);
	outbuf_puts(&o, ".");
	outbuf_puts(&o, mac);
	return outbuf_cstr(&o);
}

static bool flow_token_parse(struct proxy_worker *pw, struct slice user, uint64_t *a, uint64_t *b)
{
	if (user.len < 4 || user.p[0] != 'f' || user.p[1] != '.')
		return false;
	struct slice rest = { user.p + 2, user.len - 2 };
	uint64_t x, y;
	if (!take_hex(&rest, true, &x) || !take_hex(&rest, true, &y) || rest.len != 16)
		return false;
	char mac[17];
	if (!flow_mac(pw, x, y, mac))
		return false;
	if (CRYPTO_memcmp(mac, rest.p, 16) != 0)
		return false; /* forged or from before a restart */
	*a = x;
	*b = y;
	return true;
}

/* ---- where a request goes ---- */

struct target {
	struct txn_hop hop;
	char ruri[512]; /* new Request-URI, "" keeps it */
	bool tls;
	bool final_hop;                /* a registered UA: nothing lies beyond this hop */
	const struct proxy_peer *pp;   /* a peer: the hop is chosen among its hosts as the branch starts */
	size_t host, host_end;         /* peer hosts to try, in order: [host, host_end) */
	const char *route_set;         /* RFC 3327: the binding's Path, put before the Route values */
	char desc[160];
};

/* What every branch of a request changes besides its target (RFC 3261 16.6). */
struct route_edits {
	bool record_route;
	bool add_path;       /* RFC 3327 5.1: a REGISTER we relay gets our Path */
	unsigned drop_first; /* Route values to remove from the top: ours, a strict next hop's */
	bool drop_last;      /* 16.4: strict-routed to us, the last value is the Request-URI now */
	char new_ruri[512];  /* that value's URI */
	char append[520];    /* 16.6 item 6: the old Request-URI, after a strict next hop's */
};

/* ---- forwarding context: one per proxied request with its branches (RFC 3261 16.7) ---- */

struct branch {
	struct fwd *f;
	struct txn_client *ct;
	bool done;
	struct hlink by_conn; /* in pw->by_conn while started over a stream and not done */
	struct target *retry; /* a peer target: hosts left to fail over to (RFC 3263 4.3) */
	char target[160];
	/* Media policy state (RFC 4568 / issue 7): the offer as forwarded, to judge the answer. */
	struct txn_hop hop;
	char *offer;
	size_t offer_len;
	struct sdp *offer_sdp; /* offer parsed (points into offer), unless it was stripped */
	struct sdp_policy pol;
	struct sdp_hop shop;
	bool check_answer;
};

struct fwd {
	struct hlink link;       /* in pw->fwds, for teardown */
	struct proxy_worker *pw;
	struct txn_server *st;   /* NULL once the server txn ended */
	struct txn_hop up_hop;   /* where the request came from (late 2xx go there) */
	struct proxy_origin o;
	struct route_edits e;    /* for branches started later (failover) */
	uint32_t loop_hash;      /* of the request, in every branch's Via (16.6 item 8) */
	bool is_invite;
	bool trying_due;         /* INVITE over a stream: 100 Trying if nothing came back in 200 ms */
	bool sips;               /* sips Request-URI: TLS hops only (RFC 3261 26.2) */
	bool final_sent;
	bool cancelled;
	size_t nbr, pending;
	uint16_t best;           /* best final so far (16.7 item 6), 0 = none */
	char *best_bytes;        /* its bytes with our Via stripped; NULL for synthesized */
	size_t best_len;
	struct event *timer_c;   /* RFC 3261 16.6 item 11: an INVITE can't ring forever */
	struct branch br[MAX_BRANCHES]; /* last: zeroed one by one as branches are made */
};

enum { TIMER_C_S = 180 }; /* "greater than 3 minutes" is the RFC's advice; 180 s is the floor */
/* RFC 3261 17.2.1: the 100 may be left out when an answer comes within 200 ms. Over a stream
 * nothing is retransmitted, so waiting costs nothing and saves a message per call. */
enum { TRYING_DELAY_MS = 200 };

static struct hlink **conn_bucket(struct proxy_worker *pw, uint64_t conn_id)
{
	return &pw->by_conn[hash_mix64(conn_id) % PROXY_CONN_BUCKETS];
}

static void branch_index(struct proxy_worker *pw, struct branch *b)
{
	if (b->hop.transport != CONF_TP_UDP && b->hop.conn_id)
		hlink_push(conn_bucket(pw, b->hop.conn_id), &b->by_conn);
}

static void fwd_unlink_free(struct fwd *f)
{
	struct proxy_worker *pw = f->pw;
	hlink_unlink(&f->link);
	if (f->st)
		txn_server_set_owner(f->st, NULL, NULL);
	if (f->timer_c)
		event_free(f->timer_c);
	for (size_t i = 0; i < f->nbr; i++) {
		hlink_unlink(&f->br[i].by_conn);
		mem_deref(f->br[i].offer_sdp);
		free(f->br[i].offer);
		free(f->br[i].retry);
	}
	free(f->best_bytes);
	atomic_fetch_sub(&pw->nfwds, 1);
	free(f);
}

static void fwd_maybe_free(struct fwd *f)
{
	if (f->pending == 0 && (f->final_sent || !f->st))
		fwd_unlink_free(f);
}

static void server_end_h(struct txn_server *st, int reason, void *arg)
{
	(void)st;
	struct fwd *f = arg;
	f->st = NULL;
	if (reason && !f->cancelled) {
		/* The upstream side is gone (no ACK, transport error): stop ringing downstream. */
		for (size_t i = 0; i < f->nbr; i++)
			if (!f->br[i].done && f->br[i].ct)
				txn_client_cancel(f->br[i].ct);
	}
	fwd_maybe_free(f);
}

static void cancel_others(struct fwd *f, const struct branch *keep, const char *why)
{
	for (size_t i = 0; i < f->nbr; i++) {
		struct branch *b = &f->br[i];
		if (b == keep || b->done || !b->ct)
			continue;
		if (why)
			txn_client_cancel_reason(b->ct, slice_from_cstr(why));
		else
			txn_client_cancel(b->ct);
	}
}

/* RFC 3261 16.7 item 6: 6xx first, else the lowest class, 503 reported as 500. */
static bool better_final(uint16_t cand, uint16_t cur)
{
	if (cur == 0)
		return true;
	if (cur >= 600)
		return false;
	if (cand >= 600)
		return true;
	return cand / 100 < cur / 100;
}

static void relay_up(struct fwd *f, uint16_t status, const char *bytes, size_t len)
{
	if (f->st) {
		srv_respond(f->pw->p, f->st, status, bytes, len);
		return;
	}
	/* RFC 3261 16.7 item 10: a later 2xx (a fork that answered despite the CANCEL) goes up
	 * even after the server transaction ended. */
	if (status >= 200 && status < 300)
		send_h(&f->up_hop, bytes, len, f->pw);
}

static void send_best(struct fwd *f)
{
	if (f->final_sent || !f->st)
		return;
	f->final_sent = true;
	struct proxy *p = f->pw->p;
	uint16_t s = f->best ? f->best : 408;
	atomic_fetch_add(&p->stats.by_final[s / 100 < 7 ? s / 100 : 6], 1);
	if (f->best_bytes && s != 503) {
		relay_up(f, s, f->best_bytes, f->best_len);
		return;
	}
	if (s == 503)
		srv_reply(p, f->st, 500, "Server Internal Error (next hop unavailable)", NULL, 0);
	else if (s == 408)
		srv_reply(p, f->st, 408, "Request Timeout (no answer from the next hop)", NULL, 0);
	else
		srv_reply(p, f->st, s, NULL, NULL, 0);
}

static void timer_c_arm(struct fwd *f);

static void timer_c_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct fwd *f = arg;
	if (f->trying_due) {
		/* RFC 3261 17.2.1: nothing came back within 200 ms, so say we are on it. */
		f->trying_due = false;
		if (f->st && !f->final_sent)
			txn_server_reply(f->st, 100, NULL, NULL, 0);
		timer_c_arm(f);
		return;
	}
	log_info("proxy.timer_c", "branches=%zu pending=%zu", f->nbr, f->pending);
	cancel_others(f, NULL, NULL); /* the 487s (or 408s) then finish the transaction */
}

static void timer_c_arm(struct fwd *f)
{
	struct timeval tv = { TIMER_C_S, 0 };
	if (f->trying_due)
		tv = (struct timeval){ 0, TRYING_DELAY_MS * 1000 };
	if (f->timer_c)
		event_add(f->timer_c, &tv);
}

static void detached_h(struct txn_client *ct, const struct sip_msg *resp, uint16_t status, void *arg)
{
	(void)ct;
	(void)resp;
	(void)status;
	(void)arg;
}

/* ACK then BYE to a callee whose 2xx we refuse (RFC 3261 13.2.2.4, 15.1.1): the proxy ends the
 * dialog it won't let through. */
static void hang_up_callee(struct fwd *f, struct branch *b, const struct sip_msg *resp)
{
	struct proxy_worker *pw = f->pw;
	/* From as we forwarded it: the caller's, unchanged (the client txn is already over). */
	const struct sip_msg *req = f->st ? txn_server_request(f->st) : NULL;
	const struct sip_hdr *contact = sip_msg_hdr(resp, SIP_HDR_CONTACT);
	const struct sip_hdr *to = sip_msg_hdr(resp, SIP_HDR_TO);
	const struct sip_hdr *from = req ? sip_msg_hdr(req, SIP_HDR_FROM) : NULL;
	const struct sip_cseq *cs = sip_msg_cseq(resp);
	struct slice cid = sip_msg_call_id(resp);
	struct sip_contact c;
	struct slice rest = contact ? contact->value : (struct slice){ 0 };
	if (!contact || !to || !from || !cs || sip_contact_parse(&rest, &c))
		return;
	char vhost[80], branch[96], buf[4096];
	uint16_t vport = 0;
	enum conf_transport tp = b->hop.transport == CONF_TP_UDP ? CONF_TP_UDP : tp_conn_id_transport(b->hop.conn_id);
	if (!local_hostport(pw, tp, vhost, sizeof(vhost), &vport))
		snprintf(vhost, sizeof(vhost), "127.0.0.1");
	struct slice tov = to->value, fromv = from->value, uri = c.na.uri.whole;
	for (int i = 0; i < 2; i++) {
		const char *m = i ? "BYE" : "ACK";
		make_branch(pw, 0, 0, branch, sizeof(branch));
		int n = snprintf(buf, sizeof(buf),
				 "%s %.*s SIP/2.0\r\nVia: SIP/2.0/%s %s:%u;branch=%s\r\nMax-Forwards: 70\r\n"
				 "From: %.*s\r\nTo: %.*s\r\nCall-ID: %.*s\r\nCSeq: %u %s\r\n%s"
				 "Content-Length: 0\r\n\r\n",
				 m, (int)uri.len, uri.p, tp_upper(tp), vhost, vport, branch, (int)fromv.len, fromv.p,
				 (int)tov.len, tov.p, (int)cid.len, cid.p, cs->num + (unsigned)i, m,
				 i ? "Reason: SIP;cause=488;text=\"media policy\"\r\n" : "");
		if (n <= 0 || (size_t)n >= sizeof(buf))
			return;
		if (i == 0) {
			send_h(&b->hop, buf, (size_t)n, pw);
		} else {
			struct txn_client *bye = NULL;
			if (txn_client_start(pw->txl, &b->hop, buf, (size_t)n, slice_from_cstr(branch), detached_h, NULL,
					     &bye) == 0)
				txn_client_detach(bye);
		}
	}
}

static bool answer_refused(struct fwd *f, struct branch *b, const struct sip_msg *resp)
{
	struct slice body = sip_msg_body(resp);
	if (!body.len)
		return false; /* answer comes in the ACK (late offer): judged there by the UA */
	struct sdp_verdict v = { 0 };
	struct proxy *p = f->pw->p;
	int e = b->offer_sdp ? sdp_policy_check_answer_to(&v, b->offer_sdp, body, &b->pol, &b->shop, p->warn_host,
							  &p->sdp_metrics)
			     : sdp_policy_check_answer_body(&v, (struct slice){ b->offer, b->offer_len }, body, &b->pol,
							    &b->shop, p->warn_host, &p->sdp_metrics);
	bool refuse = e == 0 && v.action == SDP_REJECT;
	if (refuse) {
		struct slice cid = sip_msg_call_id(resp);
		log_notice("media.answer_refused", "call_id=\"%.*s\" target=\"%s\" reason=%s", (int)cid.len, cid.p,
			   b->target, sdp_reason_name(v.reason));
		hang_up_callee(f, b, resp);
		if (!f->final_sent && f->st) {
			char warn[SDP_WARNING_MAX + 16];
			snprintf(warn, sizeof(warn), "Warning: %s", v.warning);
			struct slice extra = slice_from_cstr(warn);
			f->final_sent = true;
			srv_reply(p, f->st, 488, "Not Acceptable Here", &extra, 1);
		}
	}
	sdp_verdict_clear(&v);
	return refuse;
}

static bool fail_over(struct fwd *f, struct branch *b, const struct sip_msg *resp, uint16_t status);

static void client_resp_h(struct txn_client *ct, const struct sip_msg *resp, uint16_t status, void *arg)
{
	(void)ct;
	struct branch *b = arg;
	struct fwd *f = b->f;
	static _Thread_local char out[OUT_MAX];
	size_t len = 0;
	bool have_bytes = resp && strip_top_via(resp, out, sizeof(out), &len) == 0;

	if (status < 200) {
		/* 16.7 item 5: forward provisionals (not 100: that one is hop-by-hop). */
		if (status > 100 && have_bytes && !f->final_sent)
			relay_up(f, status, out, len);
		if (status > 100) {
			f->trying_due = false; /* a provisional went up instead of our 100 */
			timer_c_arm(f);        /* 16.7 item 2: reset by provisionals */
		}
		return;
	}
	b->done = true;
	hlink_unlink(&b->by_conn);
	f->pending--;
	if (fail_over(f, b, resp, status))
		return;
	if (status < 300 && b->check_answer && resp && answer_refused(f, b, resp)) {
		/* The answer broke the leg's media policy: the callee is hung up on and the caller
		 * gets the failure instead of the 2xx. */
		status = 488;
		have_bytes = false;
	}
	if (status < 300) {
		/* 16.7 item 5 / 10: every 2xx goes up at once; other INVITE branches are cancelled. */
		if (have_bytes)
			relay_up(f, status, out, len);
		if (!f->final_sent)
			atomic_fetch_add(&f->pw->p->stats.by_final[2], 1);
		f->final_sent = true;
		if (f->is_invite)
			cancel_others(f, b, "SIP;cause=200;text=\"Call completed elsewhere\"");
	} else if (status == 488 && f->final_sent) {
		/* refused answer: the failure already went up; stop the other branches too */
		if (f->is_invite)
			cancel_others(f, b, NULL);
	} else {
		if (better_final(status, f->best)) {
			f->best = status;
			free(f->best_bytes);
			f->best_bytes = NULL;
			if (have_bytes && (f->best_bytes = malloc(len))) {
				memcpy(f->best_bytes, out, len);
				f->best_len = len;
			}
		}
		if (status >= 600 && f->is_invite)
			cancel_others(f, b, NULL); /* 16.7 item 9 */
		if (f->pending == 0)
			send_best(f);
	}
	fwd_maybe_free(f);
}

/* ---- routing ---- */

static void hop_for_binding(const struct loc_binding *b, struct target *t)
{
	t->hop.transport = b->transport;
	t->hop.conn_id = b->conn_id;
	t->hop.addr = b->received;
	t->tls = b->transport == CONF_TP_TLS;
	t->final_hop = !b->path[0];
	t->route_set = b->path[0] ? b->path : NULL;
	slice_copy(slice_from_cstr(b->contact), t->ruri, sizeof(t->ruri));
	struct outbuf d = OUTBUF_INIT_CSTR(t->desc, sizeof(t->desc)); /* "binding %s conn=%llu", clipped */
	outbuf_puts(&d, "binding ");
	outbuf_put(&d, b->contact, strnlen(b->contact, sizeof(t->desc) - 40));
	outbuf_puts(&d, " conn=");
	outbuf_put_u64(&d, b->conn_id);
	outbuf_cstr(&d);
}

struct route_result {
	uint16_t status;    /* nonzero: answer with this */
	const char *reason;
	size_t ntargets;
	struct route_edits e;
	struct target t[MAX_BRANCHES]; /* last: cleared one by one by new_target() */
};

static struct target *new_target(struct route_result *r)
{
	struct target *t = &r->t[r->ntargets++];
	memset(t, 0, sizeof(*t));
	return t;
}

static void route_fail(struct route_result *r, uint16_t status, const char *reason)
{
	r->status = status;
	r->reason = reason;
}

/* Hosts [first, end) of a peer as one target; the hop is picked when the branch starts. */
static void target_peer(const struct proxy_peer *pp, size_t first, size_t end, struct target *t)
{
	t->pp = pp;
	t->host = first;
	t->host_end = end;
	for (size_t h = first; h < end; h++)
		t->tls |= pp->hosts[h].transport == CONF_TP_TLS;
	snprintf(t->desc, sizeof(t->desc), "peer %s", pp->cp->name);
}

/* A dialog's flow reference (flow token) to a target. */
static void target_flow(struct proxy *p, uint64_t ref, struct target *t)
{
	size_t h = 0;
	const struct proxy_peer *pp = proxy_peer_of_ref(p, ref, &h);
	if (pp) {
		target_peer(pp, h, h + 1, t); /* the dialog lives on that host: no failover */
		return;
	}
	t->hop.transport = CONF_TP_TLS; /* any stream transport: send_h routes by conn id */
	t->hop.conn_id = ref;
	t->tls = tp_conn_id_transport(ref) == CONF_TP_TLS;
	struct outbuf d = OUTBUF_INIT_CSTR(t->desc, sizeof(t->desc)); /* for logs; every in-dialog request */
	outbuf_puts(&d, "dialog flow conn=");
	outbuf_put_u64(&d, ref);
	outbuf_cstr(&d);
}

static bool flow_is(uint64_t ref, const struct proxy_origin *o, const struct txn_hop *from)
{
	return ref == o->flow || ref == from->conn_id;
}

static void route_to_aor(struct proxy_worker *pw, const struct sip_uri *ruri, struct route_result *r)
{
	struct proxy *p = pw->p;
	char aor[256];
	if (location_aor_of(ruri, aor, sizeof(aor))) {
		route_fail(r, 400, "Bad Request-URI");
		return;
	}
	struct loc_binding *bs = pw->scratch;
	size_t n = location_lookup(p->location, aor, time(NULL), bs, MAX_BRANCHES);
	if (n > MAX_BRANCHES)
		n = MAX_BRANCHES;
	size_t failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (bs[i].flow_failed || (bs[i].transport != CONF_TP_UDP && !bs[i].conn_id)) {
			failed++;
			continue; /* RFC 3261 / 5626: never open a new connection to a UA behind NAT */
		}
		hop_for_binding(&bs[i], new_target(r));
	}
	if (r->ntargets)
		return;
	if (failed)
		route_fail(r, 430, "Flow Failed"); /* RFC 5626 5.3 */
	else if (p->user_known && p->user_known(aor, p->user_known_arg))
		route_fail(r, 480, "Temporarily Unavailable (not registered)");
	else
		route_fail(r, 404, "Not Found");
}

/* Decides where a request goes (RFC 3261 16.4-16.5). */
static void route_request(struct proxy_worker *pw, const struct sip_msg *req, const struct txn_hop *from,
			  const struct proxy_origin *o, struct route_result *r)
{
	struct proxy *p = pw->p;
	/* Only the header: targets are cleared as they are added (the array is ~50 KB). */
	memset(r, 0, offsetof(struct route_result, t));
	const struct sip_uri *ruri = sip_msg_ruri(req);
	const struct sip_nameaddr *to = sip_msg_to(req);
	bool in_dialog = to && to->tag.len;
	enum sip_method m = sip_msg_method_id(req);

	struct sip_hdr_iter it;
	struct sip_nameaddr na, top[2], last;
	size_t nroutes = 0;
	sip_hdr_iter_init(&it, req, SIP_HDR_ROUTE);
	while (sip_hdr_iter_nameaddr(&it, &na) == 0) {
		if (nroutes < 2)
			top[nroutes] = na;
		last = na;
		nroutes++;
	}
	uint64_t fa = 0, fb = 0;
	bool token = false;
	size_t next = 0; /* the Route value to follow, if next < nroutes */
	if (ruri && ruri->has_user && proxy_host_is_ours(p, ruri->host, ruri->port) &&
	    flow_token_parse(pw, ruri->user, &fa, &fb)) {
		/* 16.4: a strict router before us put our Record-Route URI in the Request-URI and the
		 * remote target last in Route: that one becomes the Request-URI again. */
		token = true;
		if (nroutes) {
			r->e.drop_last = true;
			slice_copy(last.uri.whole, r->e.new_ruri, sizeof(r->e.new_ruri));
			nroutes--;
		}
	} else if (nroutes && proxy_host_is_ours(p, top[0].uri.host, top[0].uri.port)) {
		/* 16.4: a top Route naming us is removed; its flow token tells the dialog's flows. */
		r->e.drop_first = 1;
		token = top[0].uri.has_user && flow_token_parse(pw, top[0].uri.user, &fa, &fb);
		next = 1;
	}
	if (token) {
		/* Both flows of the dialog are known: out on the one it did not come in on, which
		 * leads to the next hop whatever Route values follow (RFC 5626 5.3). */
		uint64_t out = flow_is(fa, o, from) ? fb : flow_is(fb, o, from) ? fa : 0;
		if (out) {
			target_flow(p, out, new_target(r));
			/* A dialog starting on a Path we put in (RFC 3327): stay in its route set. */
			r->e.record_route = !in_dialog && m != SIP_METHOD_REGISTER && m != SIP_METHOD_OPTIONS;
			return;
		}
	}
	if (next < nroutes) {
		/* Routing to another hop: of the hops we don't own, only peers are reachable, and a
		 * new request only for those who may reach other domains at all. */
		const struct sip_nameaddr *nr = &top[next];
		if (!in_dialog && !o->trusted && !o->authenticated) {
			route_fail(r, 403, "Forbidden (authenticate to reach other domains)");
			return;
		}
		size_t h = 0;
		const struct proxy_peer *pp = proxy_peer_for_host(p, nr->uri.host, nr->uri.port, &h);
		if (!pp) {
			route_fail(r, 404, "Not Found (no route to the next Route hop)");
			return;
		}
		struct target *t = new_target(r);
		target_peer(pp, h, h + 1, t);
		struct slice lr;
		if (!sip_param_get(nr->uri.params, "lr", &lr) && ruri) {
			/* 16.6 item 6: a strict router takes the request with its URI as Request-URI, and the
			 * Request-URI goes last in Route. */
			slice_copy(nr->uri.whole, t->ruri, sizeof(t->ruri));
			r->e.drop_first = (unsigned)next + 1;
			snprintf(r->e.append, sizeof(r->e.append), "<%.*s>",
				 (int)(r->e.new_ruri[0] ? strlen(r->e.new_ruri) : ruri->whole.len),
				 r->e.new_ruri[0] ? r->e.new_ruri : ruri->whole.p);
		}
		return;
	}
	if (!ruri || (ruri->scheme != SIP_URI_SIP && ruri->scheme != SIP_URI_SIPS)) {
		route_fail(r, 416, "Unsupported URI Scheme");
		return;
	}
	r->e.record_route = !in_dialog && m != SIP_METHOD_REGISTER && m != SIP_METHOD_OPTIONS;
	if (domain_is_ours(p, ruri->host) || proxy_host_is_ours(p, ruri->host, ruri->port)) {
		route_to_aor(pw, ruri, r);
		return;
	}
	/* Another domain: a peer (trunk) must take it. */
	if (!o->trusted && !o->authenticated) {
		route_fail(r, 403, "Forbidden (authenticate to reach other domains)");
		return;
	}
	const struct proxy_peer *pp = proxy_peer_for_domain(p, ruri->host);
	if (!pp) {
		route_fail(r, 404, "Not Found (no route to domain)");
		return;
	}
	target_peer(pp, 0, pp->nhosts, new_target(r));
	/* RFC 3327 5.1: be on the path of requests to a UA registering through us. */
	r->e.add_path = m == SIP_METHOD_REGISTER && sip_msg_has_option(req, SIP_HDR_SUPPORTED, "path");
}

void proxy_random_hex(char *out, size_t nbytes)
{
	unsigned char r[32];
	if (nbytes > sizeof(r))
		nbytes = sizeof(r);
	if (RAND_bytes(r, (int)nbytes) != 1)
		memset(r, 0x5a, nbytes);
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* Our address for a Via or Record-Route on this transport, as "host" + port. */
static bool local_hostport(struct proxy_worker *pw, enum conf_transport tp, char *host, size_t hostsz, uint16_t *port)
{
	if ((unsigned)tp >= sizeof(pw->local) / sizeof(pw->local[0]))
		return false;
	struct local_hostport *lh = &pw->local[tp];
	if (!lh->known) {
		/* Listeners don't move while we run: format once per worker and transport. */
		struct tp_addr a;
		if (!tp_worker_local_addr(pw->w, tp, AF_UNSPEC, &a))
			return false;
		char txt[80];
		tp_addr_fmt(&a, txt, sizeof(txt));
		char *colon = strrchr(txt, ':');
		if (!colon)
			return false;
		*colon = '\0';
		lh->port = (uint16_t)strtoul(colon + 1, NULL, 10);
		snprintf(lh->host, sizeof(lh->host), "%s", txt);
		lh->known = true;
	}
	*port = lh->port;
	slice_copy(slice_from_cstr(lh->host), host, hostsz);
	return true;
}

static const char *tp_upper(enum conf_transport tp)
{
	return tp == CONF_TP_TLS ? "TLS" : tp == CONF_TP_TCP ? "TCP" : "UDP";
}

/* sip[s]:TOKEN@host:port;transport=X;lr: how we name ourselves in Record-Route and Path, on the
 * side the request came from, with both flows in the token (RFC 5626 5.3 style). */
static size_t own_uri(struct proxy_worker *pw, const struct txn_hop *from, uint64_t from_flow, uint64_t to_flow,
		      bool sips, const char *fallback_host, const char *params, char *out, size_t outsz)
{
	char host[80], tok[80];
	uint16_t port = 0;
	if (!local_hostport(pw, from->transport, host, sizeof(host), &port))
		snprintf(host, sizeof(host), "%s", fallback_host);
	size_t tl = flow_token(pw, from_flow, to_flow, tok, sizeof(tok));
	bool v6 = strchr(host, ':') != NULL;
	struct outbuf o = OUTBUF_INIT_CSTR(out, outsz);
	outbuf_puts(&o, sips ? "sips:" : "sip:");
	if (tl) {
		outbuf_put(&o, tok, tl);
		outbuf_puts(&o, "@");
	}
	outbuf_puts(&o, v6 ? "[" : "");
	outbuf_puts(&o, host);
	outbuf_puts(&o, v6 ? "]:" : ":");
	outbuf_put_u32(&o, port);
	outbuf_puts(&o, from->transport == CONF_TP_TLS ? ";transport=tls;lr"
			: from->transport == CONF_TP_TCP ? ";transport=tcp;lr" : ";transport=udp;lr");
	outbuf_puts(&o, params);
	return outbuf_cstr(&o);
}

/* Builds the forwarded copy of req for target t (RFC 3261 16.6); t's hop is chosen. */
static int build_forward(struct proxy_worker *pw, const struct sip_msg *req, const struct txn_hop *from,
			 uint64_t from_flow, uint32_t lh, const struct route_edits *e, const struct target *t,
			 char *out, size_t outsz, size_t *lenp, char *branch, size_t branchsz)
{
	char vhost[80], rr[400], path[400];
	uint16_t vport = 0;
	enum conf_transport otp = t->hop.transport == CONF_TP_UDP ? CONF_TP_UDP : tp_conn_id_transport(t->hop.conn_id);
	if (otp == CONF_TP_UDP && t->hop.transport != CONF_TP_UDP)
		otp = CONF_TP_TLS;
	if (!local_hostport(pw, otp, vhost, sizeof(vhost), &vport) &&
	    !local_hostport(pw, from->transport, vhost, sizeof(vhost), &vport))
		snprintf(vhost, sizeof(vhost), "127.0.0.1");
	size_t blen = make_branch(pw, from->conn_id, lh, branch, branchsz);
	const char *ruri = t->ruri[0] ? t->ruri : e->new_ruri;
	struct sip_fwd_opts o = {
		.transport = slice_from_cstr(tp_upper(otp)),
		.host = slice_from_cstr(vhost),
		.port = vport,
		.branch_unique = { branch + 7, blen - 7 }, /* after the magic cookie */
		.via_params = otp == CONF_TP_UDP ? SLICE_LIT(";rport") : (struct slice){ 0 },
		.new_ruri = slice_from_cstr(ruri),
		.route_drop_last = e->drop_last,
		.route_prepend = t->route_set ? slice_from_cstr(t->route_set) : (struct slice){ 0 },
	};
	if (t->ruri[0] && e->append[0])
		o.route_append = slice_from_cstr(e->append);
	/* The top value alone goes byte-preserving; any other change rewrites the Route field. */
	if (e->drop_first == 1 && !o.route_drop_last && !o.route_prepend.len && !o.route_append.len)
		o.pop_route = true;
	else
		o.route_drop_first = e->drop_first;
	uint64_t to_flow = t->pp ? proxy_peer_ref(t->pp, t->host) : t->hop.conn_id;
	bool sips = from->transport == CONF_TP_TLS && t->tls;
	size_t n;
	if (e->record_route && (n = own_uri(pw, from, from_flow, to_flow, sips, vhost, "", rr, sizeof(rr))))
		o.record_route = (struct slice){ rr, n };
	if (e->add_path && (n = own_uri(pw, from, from_flow, to_flow, sips, vhost, ";ob", path, sizeof(path))))
		o.path = (struct slice){ path, n };
	return sip_build_forward(req, &o, out, outsz, lenp);
}

/* The hop of a target with one host (a dialog flow, a Route): ACKs for 2xx go there. */
static int target_hop(struct proxy_worker *pw, struct target *t)
{
	if (!t->pp)
		return 0;
	const char *why = NULL;
	for (; t->host < t->host_end; t->host++)
		if (proxy_peer_hop(pw, t->pp, t->host, &t->hop, &why) == 0) {
			t->tls = t->hop.transport == CONF_TP_TLS;
			return 0;
		}
	return ENOTCONN;
}

/* ACK for 2xx and other requests forwarded without a transaction (RFC 3261 16.11). */
static void forward_stateless(struct proxy_worker *pw, struct sip_msg *req, const struct txn_hop *from,
			      const struct proxy_origin *o)
{
	struct route_result *r = malloc(sizeof(*r));
	if (!r)
		return;
	route_request(pw, req, from, o, r);
	if (!r->status && r->ntargets && target_hop(pw, &r->t[0]) == 0) {
		static _Thread_local char out[OUT_MAX];
		char branch[96];
		size_t len = 0;
		r->e.record_route = false;
		if (build_forward(pw, req, from, o->flow, loop_hash(req), &r->e, &r->t[0], out, sizeof(out), &len,
				  branch, sizeof(branch)) == 0) {
			send_h(&r->t[0].hop, out, len, pw);
			atomic_fetch_add(&pw->p->stats.stateless_fwd, 1);
		}
	}
	free(r);
}

static void policy_of(const struct conf_media_policy *c, struct sdp_policy *pol)
{
	*pol = SDP_POLICY_DEFAULT;
	if (!c)
		return;
	pol->media = c->media == CONF_MEDIA_SECURE_REQUIRED	 ? SDP_MEDIA_SECURE_REQUIRED
		     : c->media == CONF_MEDIA_SECURE_PREFERRED ? SDP_MEDIA_SECURE_PREFERRED
							     : SDP_MEDIA_ANY;
	pol->key_mgmt = ((c->key_management & CONF_KM_SDES) ? SDP_KM_SDES : 0) |
			((c->key_management & CONF_KM_MIKEY) ? SDP_KM_MIKEY : 0) |
			((c->key_management & CONF_KM_DTLS) ? SDP_KM_DTLS : 0);
	pol->mismatch_status = c->mismatch_response;
	pol->sdes_on_insecure_hop = c->sdes_on_insecure_hop == CONF_SDES_HOP_STRIP ? SDP_SDES_HOP_STRIP : SDP_SDES_HOP_REFUSE;
}

/* Swaps the body of a built message (keys stripped) and fixes its Content-Length. */
static int replace_body(char *msg, size_t *lenp, size_t cap, const char *body, size_t blen)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	if (sip_msg_parse(msg, *lenp, NULL, SIP_PARSE_STREAM, &m, &v))
		return EBADMSG;
	const struct sip_hdr *cl = sip_msg_hdr(m, SIP_HDR_CONTENT_LENGTH);
	size_t eoh_len = 0, eoh = sip_msg_hdr_end(m, &eoh_len);
	if (!cl) {
		mem_deref(m);
		return EBADMSG;
	}
	struct slice raw = sip_hdr_raw(cl);
	static _Thread_local char tmp[OUT_MAX];
	/* Offsets within the parser's copy of msg, which has the same layout. */
	size_t a = (size_t)(raw.p - sip_msg_raw(m).p);
	size_t b0 = a + raw.len;
	size_t headers_end = eoh + eoh_len;
	mem_deref(m);
	int n = snprintf(tmp, sizeof(tmp), "%.*sContent-Length: %zu\r\n%.*s", (int)a, msg, blen, (int)(headers_end - b0),
			 msg + b0);
	if (n < 0 || (size_t)n + blen > cap || (size_t)n + blen > sizeof(tmp))
		return EOVERFLOW;
	memcpy(tmp + n, body, blen);
	memcpy(msg, tmp, (size_t)n + blen);
	*lenp = (size_t)n + blen;
	return 0;
}

/* Starts a branch towards t (RFC 3261 16.6): judges the offer by the leg's media policy, then
 * for a peer tries its hosts in order until one takes the request. 0, or an errno when no
 * branch started; a refused offer fills *refused (first refusal kept). */
static int start_branch(struct fwd *f, const struct sip_msg *req, const struct target *t, struct sdp_verdict *refused)
{
	struct proxy_worker *pw = f->pw;
	struct proxy *p = pw->p;
	static _Thread_local char out[OUT_MAX];
	struct slice cid = sip_msg_call_id(req);
	struct slice body = sip_msg_body(req);
	enum sip_method m = sip_msg_method_id(req);
	bool offer = (m == SIP_METHOD_INVITE || m == SIP_METHOD_UPDATE) && body.len &&
		     slice_eq_cstr_ci(sip_msg_content_type(req), "application/sdp");
	if (f->nbr >= MAX_BRANCHES)
		return ENOSPC;
	struct sdp_verdict sv = { 0 };
	struct sdp_policy pol;
	struct sdp_hop shop = { 0 };
	/* The offer as forwarded, kept with the branch to judge the answer; parsed once, here. */
	char *kept = NULL;
	struct sdp *kept_sdp = NULL;
	if (offer) {
		/* RFC 4568 8: keys only where every hop is TLS; the leg's policy judges the rest. */
		policy_of(t->pp ? &t->pp->cp->media : f->o.iface ? &f->o.iface->media : NULL, &pol);
		shop.next_hop_tls = t->tls;
		shop.target_sips = f->sips || (t->final_hop && f->o.tls);
		if ((kept = malloc(body.len + 1)))
			memcpy(kept, body.p, body.len);
		if (sdp_policy_check_offer_keep(&sv, kept ? (struct slice){ kept, body.len } : body, &pol, &shop,
						p->warn_host, &p->sdp_metrics, kept ? &kept_sdp : NULL) ||
		    sv.action == SDP_REJECT) {
			free(kept);
			log_info("media.offer_refused", "call_id=\"%.*s\" target=\"%s\" status=%u reason=%s", (int)cid.len,
				 cid.p, t->desc, sv.status, sdp_reason_name(sv.reason));
			if (refused && !refused->status) {
				sdp_verdict_clear(refused);
				*refused = sv;
			} else {
				sdp_verdict_clear(&sv);
			}
			return EPERM;
		}
		if (sv.insecure_media)
			log_notice("media.insecure", "call_id=\"%.*s\" target=\"%s\" note=\"RTP without SRTP can be intercepted\"",
				   (int)cid.len, cid.p, t->desc);
	}
	struct target tt = *t;
	size_t end = t->pp ? t->host_end : t->host + 1;
	int err = ENOTCONN;
	for (size_t h = t->host; h < end; h++) {
		tt.host = h;
		if (t->pp) {
			const char *why = "";
			if (f->sips && t->pp->hosts[h].transport != CONF_TP_TLS)
				continue;
			if (proxy_peer_hop(pw, t->pp, h, &tt.hop, &why)) {
				log_info("proxy.peer_host_skipped", "call_id=\"%.*s\" peer=%s host=%s reason=\"%s\"", (int)cid.len,
					 cid.p, t->pp->cp->name, t->pp->hosts[h].host, why);
				continue;
			}
			tt.tls = tt.hop.transport == CONF_TP_TLS;
			snprintf(tt.desc, sizeof(tt.desc), "peer %s host %s", t->pp->cp->name, t->pp->hosts[h].host);
		}
		char branch[96];
		size_t len = 0;
		if (build_forward(pw, req, &f->up_hop, f->o.flow, f->loop_hash, &f->e, &tt, out, sizeof(out), &len, branch,
				  sizeof(branch)) ||
		    (sv.action == SDP_ACCEPT_STRIPPED && replace_body(out, &len, sizeof(out), sv.body, sv.body_len))) {
			log_warn("proxy.build_failed", "call_id=\"%.*s\" target=\"%s\"", (int)cid.len, cid.p, tt.desc);
			err = EMSGSIZE;
			break;
		}
		struct branch *b = &f->br[f->nbr];
		memset(b, 0, sizeof(*b));
		b->f = f;
		b->hop = tt.hop;
		slice_copy(slice_from_cstr(tt.desc), b->target, sizeof(b->target));
		err = txn_client_start(pw->txl, &tt.hop, out, len, slice_from_cstr(branch), client_resp_h, b, &b->ct);
		if (err)
			continue; /* the next host, if any */
		if (offer) {
			if (sv.action == SDP_ACCEPT_STRIPPED) {
				free(kept);
				if ((kept = malloc(sv.body_len + 1)))
					memcpy(kept, sv.body, sv.body_len);
			}
			if (kept) {
				b->offer = kept;
				b->offer_len = sv.action == SDP_ACCEPT_STRIPPED ? sv.body_len : body.len;
				b->offer_sdp = kept_sdp;
				b->pol = pol;
				b->shop = shop;
				b->check_answer = m == SIP_METHOD_INVITE;
				kept = NULL;
				kept_sdp = NULL;
			}
		}
		if (t->pp && h + 1 < end && (b->retry = malloc(sizeof(*b->retry))))
			*b->retry = tt;
		branch_index(pw, b);
		f->nbr++;
		f->pending++;
		atomic_fetch_add(&p->stats.forwarded, 1);
		log_debug("proxy.forwarded", "call_id=\"%.*s\" target=\"%s\"", (int)cid.len, cid.p, tt.desc);
		sdp_verdict_clear(&sv);
		return 0;
	}
	mem_deref(kept_sdp);
	free(kept);
	sdp_verdict_clear(&sv);
	return err;
}

/* RFC 3263 4.3 / RFC 3261 16.7: a peer host that failed (transport error, no answer, 503) hands
 * the request to the next host of the proxy set. True when a new branch took over. */
static bool fail_over(struct fwd *f, struct branch *b, const struct sip_msg *resp, uint16_t status)
{
	if (!b->retry || !(status == 503 || (!resp && status == 408)) || !f->st || f->cancelled || f->final_sent)
		return false;
	struct target *t = b->retry;
	b->retry = NULL;
	const struct sip_msg *req = txn_server_request(f->st);
	struct slice cid = sip_msg_call_id(req);
	log_notice("proxy.failover", "call_id=\"%.*s\" peer=%s failed_host=%s status=%u%s", (int)cid.len, cid.p,
		   t->pp->cp->name, t->pp->hosts[t->host].host, status, resp ? "" : " (no response)");
	t->host++;
	bool ok = start_branch(f, req, t, NULL) == 0;
	free(t);
	return ok;
}

static void proxy_forward(struct proxy_worker *pw, struct txn_server *st, struct sip_msg *req, const struct txn_hop *from,
			  const struct proxy_origin *o)
{
	struct proxy *p = pw->p;
	struct sip_verdict v;
	sip_verdict_clear(&v);
	/* 16.3 item 3: Max-Forwards. */
	if (sip_msg_check_max_forwards(req, &v)) {
		reply(pw, st, (uint16_t)v.status, v.reason, NULL, 0);
		return;
	}
	/* 16.3 item 4: a Via of ours with this request's loop hash means it came back to us. */
	uint32_t lh = loop_hash(req);
	struct sip_hdr_iter it;
	struct sip_via via;
	sip_hdr_iter_init(&it, req, SIP_HDR_VIA);
	bool first = true;
	while (sip_hdr_iter_via(&it, &via) == 0) {
		unsigned w;
		uint64_t c;
		uint32_t h;
		if (!first && parse_branch(via.branch, &w, &c, &h) && h == lh &&
		    proxy_host_is_ours(p, via.host, via.port)) {
			reply(pw, st, 482, "Loop Detected", NULL, 0);
			return;
		}
		first = false;
	}
	struct route_result *r = malloc(sizeof(*r));
	if (!r) {
		reply(pw, st, 500, "Server Internal Error (out of memory)", NULL, 0);
		return;
	}
	route_request(pw, req, from, o, r);
	const struct sip_uri *ruri = sip_msg_ruri(req);
	bool sips = ruri && ruri->scheme == SIP_URI_SIPS;
	if (!r->status && sips) {
		/* RFC 3261 26.2 / RFC 5630 3: sips means TLS on every hop; drop targets that aren't. */
		size_t keep = 0;
		for (size_t i = 0; i < r->ntargets; i++)
			if (r->t[i].tls)
				r->t[keep++] = r->t[i];
		if (keep == 0)
			route_fail(r, 480, "Temporarily Unavailable (sips target not reachable over TLS)");
		r->ntargets = keep;
	}
	struct slice cid = sip_msg_call_id(req);
	if (r->status) {
		log_info("proxy.rejected", "call_id=\"%.*s\" status=%u reason=\"%s\"", (int)cid.len, cid.p, r->status,
			 r->reason);
		reply(pw, st, r->status, r->reason, NULL, 0);
		free(r);
		return;
	}
	/* Header zeroed here, branches as they are used: the branch array is ~16 KB. */
	struct fwd *f = malloc(sizeof(*f));
	if (f)
		memset(f, 0, offsetof(struct fwd, br));
	if (!f) {
		reply(pw, st, 500, "Server Internal Error (out of memory)", NULL, 0);
		free(r);
		return;
	}
	f->pw = pw;
	f->st = st;
	f->up_hop = *from;
	f->o = *o;
	f->e = r->e;
	f->loop_hash = lh;
	f->sips = sips;
	f->is_invite = sip_msg_method_id(req) == SIP_METHOD_INVITE;
	hlink_push(&pw->fwds, &f->link);
	atomic_fetch_add(&pw->nfwds, 1);
	txn_server_set_owner(st, server_end_h, f);
	if (f->is_invite) {
		/* Over UDP the 100 goes at once: it stops the caller's retransmissions (16.2). */
		if (from->transport == CONF_TP_UDP)
			txn_server_reply(st, 100, NULL, NULL, 0);
		else
			f->trying_due = true;
		f->timer_c = evtimer_new(tp_worker_base(pw->w), timer_c_h, f);
		timer_c_arm(f);
	}
	struct sdp_verdict refused = { 0 };
	for (size_t i = 0; i < r->ntargets && f->nbr < MAX_BRANCHES; i++)
		start_branch(f, req, &r->t[i], &refused);
	free(r);
	if (f->nbr == 0) {
		if (refused.status) {
			char warn[SDP_WARNING_MAX + 16];
			snprintf(warn, sizeof(warn), "Warning: %s", refused.warning);
			struct slice extra = slice_from_cstr(warn);
			srv_reply(p, st, (uint16_t)refused.status, NULL, &extra, 1);
		} else {
			srv_reply(p, st, 503, "Service Unavailable (no target could be reached)", NULL, 0);
		}
		f->final_sent = true;
		fwd_maybe_free(f);
	}
	sdp_verdict_clear(&refused);
}

static void handle_cancel(struct proxy_worker *pw, struct txn_server *st, const struct sip_msg *req)
{
	/* RFC 3261 16.10: answer the CANCEL, then cancel every pending branch of its INVITE. The
	 * INVITE's forwarding context owns its server txn, so no walk over every call in flight. */
	struct txn_server *inv = txn_server_find_invite(pw->txl, req);
	struct fwd *f = txn_server_owner(inv, server_end_h);
	if (!f) {
		reply(pw, st, 481, "Call/Transaction Does Not Exist", NULL, 0);
		return;
	}
	reply(pw, st, 200, NULL, NULL, 0);
	f->cancelled = true;
	cancel_others(f, NULL, NULL);
}

static bool options_for_us(struct proxy *p, const struct sip_msg *req)
{
	const struct sip_uri *u = sip_msg_ruri(req);
	return u && (u->scheme == SIP_URI_SIP || u->scheme == SIP_URI_SIPS) && !u->has_user &&
	       proxy_host_is_ours(p, u->host, u->port);
}

struct reg_reply_ctx {
	struct proxy_worker *pw;
	struct txn_server *st;
};

static void reg_reply_h_(uint16_t status, const char *reason, const struct slice *extra, size_t n_extra, void *arg)
{
	struct reg_reply_ctx *rc = arg;
	srv_reply(rc->pw->p, rc->st, status, reason, extra, n_extra);
	mem_deref(rc->st);
	free(rc);
}

/* A caller proving itself with digest before its request leaves for another domain. */
struct auth_wait {
	struct proxy_worker *pw;
	struct txn_server *st;
	struct txn_hop hop;
	struct proxy_origin o;
};

static void auth_done_h(uint16_t status, const char *reason, const struct slice *extra, size_t n_extra, void *arg)
{
	struct auth_wait *aw = arg;
	if (status == 0) {
		aw->o.authenticated = true;
		proxy_forward(aw->pw, aw->st, (struct sip_msg *)txn_server_request(aw->st), &aw->hop, &aw->o);
	} else {
		srv_reply(aw->pw->p, aw->st, status, reason, extra, n_extra);
	}
	mem_deref(aw->st);
	free(aw);
}

static bool needs_proxy_auth(struct proxy *p, const struct sip_msg *req, const struct proxy_origin *o)
{
	const struct sip_uri *ruri = sip_msg_ruri(req);
	const struct sip_nameaddr *to = sip_msg_to(req);
	if (o->trusted || o->authenticated || !ruri || (to && to->tag.len))
		return false; /* in-dialog requests follow their route set */
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	sip_hdr_iter_init(&it, req, SIP_HDR_ROUTE);
	while (sip_hdr_iter_nameaddr(&it, &na) == 0)
		if (!proxy_host_is_ours(p, na.uri.host, na.uri.port))
			return true; /* a pre-loaded route to another hop */
	return !domain_is_ours(p, ruri->host) && !proxy_host_is_ours(p, ruri->host, ruri->port);
}

static void origin_of(struct proxy *p, const struct tp_source *src, uint64_t conn_id, struct proxy_origin *o)
{
	memset(o, 0, sizeof(*o));
	o->tls = src->transport == CONF_TP_TLS;
	o->authenticated = src->conn && tp_conn_verified(src->conn);
	for (size_t i = 0; src->iface && i < p->conf->nifaces; i++)
		if (strcmp(p->conf->ifaces[i].name, src->iface) == 0)
			o->iface = &p->conf->ifaces[i];
	struct txn_hop from = { .transport = src->transport, .conn_id = conn_id, .addr = src->remote };
	size_t h = 0;
	const struct proxy_peer *pp = p->npeers ? proxy_peer_of_hop(p, &from, &h) : NULL;
	o->peer = pp ? pp->cp : NULL;
	o->flow = pp ? proxy_peer_ref(pp, h) : conn_id;
	o->trusted = o->peer != NULL;
}

static void handle_request(struct proxy_worker *pw, const struct tp_source *src, struct sip_msg *req,
			   const struct txn_hop *hop)
{
	struct proxy *p = pw->p;
	struct sip_verdict v;
	sip_verdict_clear(&v);
	char ra[80];
	struct slice cid = sip_msg_call_id(req);
	atomic_fetch_add(&p->stats.requests, 1);
	enum sip_method m = sip_msg_method_id(req);
	if (sip_msg_validate(req, SIP_ROLE_PROXY, NULL, &v) ||
	    sip_msg_check_extensions(req, SIP_ROLE_PROXY, supported_tags, sizeof(supported_tags) / sizeof(supported_tags[0]),
				     &v)) {
		log_notice("sip.request_rejected", "remote=%s call_id=\"%.*s\" status=%d reason=\"%s\"",
			   tp_addr_fmt(&src->remote, ra, sizeof(ra)), (int)cid.len, cid.p, v.status, v.reason ? v.reason : "");
		if (!v.drop && v.status && m != SIP_METHOD_ACK)
			reply_stateless(pw, req, hop, (uint16_t)v.status, v.reason, &v);
		if (v.close && src->conn)
			tp_conn_close(src->conn, "SIP framing lost");
		return;
	}
	struct proxy_origin o;
	origin_of(p, src, hop->conn_id, &o);
	const struct sip_uri *ruri = sip_msg_ruri(req);
	if (o.iface && o.iface->tls_only && !o.tls) {
		if (m != SIP_METHOD_ACK)
			reply_stateless(pw, req, hop, 403, "Forbidden (TLS required on this interface)", NULL);
		return;
	}
	if (ruri && ruri->scheme == SIP_URI_SIPS && !o.tls) {
		/* RFC 3261 26.2: a sips request must have arrived over TLS. */
		if (m != SIP_METHOD_ACK)
			reply_stateless(pw, req, hop, 416, "Unsupported URI Scheme (sips requires TLS)", NULL);
		return;
	}
	if (o.peer && !o.peer->trusted_relay && src->conn) {
		/* Identity check: a peer's requests must come From the domain its certificate proves. */
		const struct tls_peer_info *ti = tp_conn_tls_info(src->conn);
		const struct sip_nameaddr *from = sip_msg_from(req);
		if (ti && ti->sip_domain && from && !slice_eq_cstr_ci(from->uri.host, ti->sip_domain)) {
			log_notice("proxy.identity_mismatch", "call_id=\"%.*s\" from_domain=%.*s cert_domain=%s", (int)cid.len,
				   cid.p, (int)from->uri.host.len, from->uri.host.p, ti->sip_domain);
			if (m != SIP_METHOD_ACK)
				reply_stateless(pw, req, hop, 403, "Forbidden (From domain not proven by certificate)", NULL);
			return;
		}
	}
	struct txn_server *st = NULL;
	switch (txn_server_recv(pw->txl, req, hop, &st)) {
	case TXN_RETRANSMISSION:
	case TXN_ACK_ABSORBED:
		return;
	case TXN_REFUSED:
		if (m != SIP_METHOD_ACK)
			reply_stateless(pw, req, hop, 503, "Service Unavailable (overloaded)", NULL);
		return;
	case TXN_NO_MATCH_ACK:
		forward_stateless(pw, req, hop, &o);
		return;
	case TXN_NEW:
		break;
	}
	if (m == SIP_METHOD_CANCEL) {
		handle_cancel(pw, st, req);
		return;
	}
	if (m == SIP_METHOD_OPTIONS && options_for_us(p, req)) {
		static const struct slice extra[] = {
			SLICE_LIT("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, PRACK, SUBSCRIBE, NOTIFY, REFER, MESSAGE"),
			SLICE_LIT("Accept: application/sdp"),
			SLICE_LIT("Supported: outbound, path"),
			SLICE_LIT("Server: sipsd/" SIPSD_VERSION),
		};
		reply(pw, st, 200, NULL, extra, sizeof(extra) / sizeof(extra[0]));
		return;
	}
	if (m == SIP_METHOD_REGISTER && ruri && (domain_is_ours(p, ruri->host) || proxy_host_is_ours(p, ruri->host, ruri->port))) {
		if (!p->registerh) {
			reply(pw, st, 501, "Not Implemented (no registrar configured)", NULL, 0);
			return;
		}
		struct reg_reply_ctx *rc = malloc(sizeof(*rc));
		if (!rc) {
			reply(pw, st, 500, "Server Internal Error (out of memory)", NULL, 0);
			return;
		}
		rc->pw = pw;
		rc->st = mem_ref(st);
		struct reg_origin ro = {
			.iface = src->iface ? src->iface : "",
			.transport = src->transport,
			.conn_id = hop->conn_id,
			.remote = src->remote,
			.auth = o.iface ? o.iface->auth : CONF_AUTH_DIGEST,
			.cert_verified = o.authenticated,
			.peer = src->conn ? tp_conn_tls_info(src->conn) : NULL,
		};
		if (p->registerh(req, &ro, reg_reply_h_, rc, p->register_arg)) {
			reply(pw, st, 500, "Server Internal Error (registrar)", NULL, 0);
			mem_deref(rc->st);
			free(rc);
		}
		return;
	}
	if (p->authorizeh && needs_proxy_auth(p, req, &o)) {
		struct auth_wait *aw = malloc(sizeof(*aw));
		if (!aw) {
			reply(pw, st, 500, "Server Internal Error (out of memory)", NULL, 0);
			return;
		}
		*aw = (struct auth_wait){ .pw = pw, .st = mem_ref(st), .hop = *hop, .o = o };
		struct reg_origin ro = {
			.iface = src->iface ? src->iface : "",
			.transport = src->transport,
			.conn_id = hop->conn_id,
			.remote = src->remote,
			.auth = CONF_AUTH_DIGEST,
			.cert_verified = o.authenticated,
			.peer = src->conn ? tp_conn_tls_info(src->conn) : NULL,
		};
		if (p->authorizeh(req, &ro, auth_done_h, aw, p->authorize_arg)) {
			mem_deref(aw->st);
			free(aw);
			reply(pw, st, 500, "Server Internal Error (authorization)", NULL, 0);
		}
		return;
	}
	proxy_forward(pw, st, req, hop, &o);
}

/* A response whose transaction lives on another worker: re-run it there. */
struct resp_job {
	struct proxy *p;
	size_t len;
	char data[];
};

static void handle_response(struct proxy_worker *pw, struct sip_msg *resp, const char *data, size_t len);

static void resp_job_h(void *arg)
{
	struct resp_job *j = arg;
	struct proxy_worker *pw = self_worker(j->p);
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	if (pw && sip_msg_parse(j->data, j->len, NULL, 0, &m, &v) == 0)
		handle_response(pw, m, j->data, j->len);
	mem_deref(m);
	free(j);
}

static void handle_response(struct proxy_worker *pw, struct sip_msg *resp, const char *data, size_t len)
{
	struct proxy *p = pw->p;
	atomic_fetch_add(&p->stats.responses, 1);
	const struct sip_via *via = sip_msg_via(resp);
	unsigned w = 0;
	uint64_t in_conn = 0;
	uint32_t lh = 0;
	if (!via || !parse_branch(via->branch, &w, &in_conn, &lh))
		return; /* 16.7 item 1 / 18.1.2: not ours, drop */
	if (w != pw->index) {
		struct tp_worker *tw = tp_pool_worker(p->pool, w);
		struct resp_job *j = tw ? malloc(sizeof(*j) + len) : NULL;
		if (!j)
			return;
		j->p = p;
		j->len = len;
		memcpy(j->data, data, len);
		if (tp_worker_post(tw, resp_job_h, j))
			free(j);
		return;
	}
	if (txn_client_recv(pw->txl, resp) == 0)
		return;
	/* No transaction: a retransmitted 2xx to INVITE (16.7 item 10 relays it statelessly). */
	uint16_t status = sip_msg_status(resp);
	if (status < 200 || status >= 300)
		return;
	static _Thread_local char out[OUT_MAX];
	size_t olen = 0;
	if (strip_top_via(resp, out, sizeof(out), &olen))
		return;
	struct txn_hop hop = { .transport = CONF_TP_TLS, .conn_id = in_conn };
	if (!in_conn) {
		/* Came in over UDP: back to the next Via's received/rport or sent-by. */
		struct sip_hdr_iter it;
		struct sip_via nv;
		sip_hdr_iter_init(&it, resp, SIP_HDR_VIA);
		if (sip_hdr_iter_via(&it, &nv) || sip_hdr_iter_via(&it, &nv))
			return;
		char host[64];
		slice_copy(nv.received.len ? nv.received : nv.host, host, sizeof(host));
		uint64_t port = nv.port ? nv.port : 5060;
		if (nv.rport.len)
			slice_to_u64(nv.rport, 65535, &port);
		hop.transport = CONF_TP_UDP;
		if (tp_addr_from_host_port(&hop.addr, host, (uint16_t)port))
			return;
	}
	send_h(&hop, out, olen, pw);
	atomic_fetch_add(&p->stats.stateless_fwd, 1);
}

void proxy_recv(const struct tp_source *src, const char *data, size_t len, void *arg)
{
	struct proxy *p = arg;
	struct proxy_worker *pw = self_worker(p);
	if (!pw)
		return;
	char ra[80];
	struct sip_msg *msg = NULL;
	struct sip_verdict v;
	sip_verdict_clear(&v);
	const struct conf_sip_limits *cl = &p->conf->global.limits;
	struct sip_limits lim = { cl->max_message_size, cl->max_headers, cl->max_line_length, cl->max_uri_length,
				  cl->max_via };
	unsigned flags = src->transport == CONF_TP_UDP ? 0 : SIP_PARSE_STREAM;
	if (sip_msg_parse(data, len, &lim, flags, &msg, &v)) {
		/* Without a parsed Via there is nowhere to send a response (RFC 3261 18.2.2). */
		log_notice("sip.parse_error", "remote=%s transport=%s status=%d error=\"%s\"",
			   tp_addr_fmt(&src->remote, ra, sizeof(ra)), conf_transport_name(src->transport), v.status,
			   v.reason ? v.reason : "malformed");
		if (v.close && src->conn)
			tp_conn_close(src->conn, "SIP framing lost");
		return;
	}
	struct txn_hop hop = {
		.transport = src->transport,
		.conn_id = src->conn ? tp_conn_id(src->conn) : 0,
		.addr = src->remote,
	};
	if (sip_msg_is_request(msg))
		handle_request(pw, src, msg, &hop);
	else
		handle_response(pw, msg, data, len);
	mem_deref(msg);
}

/* RFC 3261 17.1.4: a client transaction whose connection died fails now (503, and the peer's
 * next host takes over), not when its timer runs out. */
static void fail_branches_on(struct proxy_worker *pw, uint64_t conn_id)
{
	/* The 503s come from the loop later (txn_client_transport_error), so the bucket does not
	 * change under this walk. */
	for (struct hlink *e = *conn_bucket(pw, conn_id); e; e = e->next) {
		struct branch *b = CONTAINER_OF(e, struct branch, by_conn);
		if (b->hop.conn_id == conn_id) /* indexed once its txn started: b->ct is set */
			txn_client_transport_error(b->ct, ECONNRESET);
	}
}

struct closed_job {
	struct proxy_worker *pw;
	uint64_t conn_id;
};

static void closed_job_h(void *arg)
{
	struct closed_job *j = arg;
	fail_branches_on(j->pw, j->conn_id);
	free(j);
}

void proxy_conn_closed(uint64_t conn_id, void *arg)
{
	struct proxy *p = arg;
	if (p->location)
		location_conn_closed(p->location, conn_id);
	struct proxy_worker *self = self_worker(p);
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct proxy_worker *pw = p->pw[i];
		if (!pw || atomic_load(&pw->nfwds) == 0)
			continue; /* nothing in flight there (the common case: no message per close) */
		if (pw == self) {
			fail_branches_on(pw, conn_id);
			continue;
		}
		struct closed_job *j = malloc(sizeof(*j));
		if (!j)
			continue;
		*j = (struct closed_job){ pw, conn_id };
		if (tp_worker_post(pw->w, closed_job_h, j))
			free(j);
	}
}

void proxy_stats_get(struct proxy *p, struct proxy_stats *st)
{
	st->requests = atomic_load(&p->stats.requests);
	st->responses = atomic_load(&p->stats.responses);
	st->forwarded = atomic_load(&p->stats.forwarded);
	st->local_replies = atomic_load(&p->stats.local_replies);
	st->stateless_fwd = atomic_load(&p->stats.stateless_fwd);
	for (int m = 0; m < PROXY_METHODS; m++)
		for (int c = 0; c < 7; c++)
			st->txn_final[m][c] = atomic_load(&p->stats.txn_final[m][c]);
	for (int i = 0; i < 7; i++)
		st->by_final[i] = atomic_load(&p->stats.by_final[i]);
}

void proxy_sdp_metrics_get(struct proxy *p, struct sdp_metrics_snapshot *out)
{
	sdp_metrics_snapshot(&p->sdp_metrics, out);
}

static void proxy_destroy(void *data)
{
	struct proxy *p = data;
	for (unsigned i = 0; p->pw && i < p->nworkers; i++) {
		struct proxy_worker *pw = p->pw[i];
		if (!pw)
			continue;
		while (pw->fwds)
			fwd_unlink_free(CONTAINER_OF(pw->fwds, struct fwd, link));
		mem_deref(pw->txl);
		free((void *)pw->on_demand);
		EVP_MAC_CTX_free(pw->mac);
		free(pw);
	}
	free(p->pw);
	proxy_peers_free(p);
	mem_deref(p->conf);
	OPENSSL_cleanse(p->secret, sizeof(p->secret));
}

static int flow_mac_init(struct proxy_worker *pw)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	pw->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_END };
	if (!pw->mac || EVP_MAC_init(pw->mac, pw->p->secret, sizeof(pw->p->secret), params) != 1)
		return ENOMEM;
	return 0;
}

int proxy_alloc(struct proxy **pp, const struct proxy_settings *s)
{
	struct proxy *p = mem_zalloc(sizeof(*p), proxy_destroy);
	if (!p)
		return ENOMEM;
	p->conf = mem_ref((void *)s->conf);
	p->location = s->location;
	p->pool = s->pool;
	p->registerh = s->registerh;
	p->register_arg = s->register_arg;
	p->authorizeh = s->authorizeh;
	p->authorize_arg = s->authorize_arg;
	p->user_known = s->user_known;
	p->user_known_arg = s->user_known_arg;
	snprintf(p->warn_host, sizeof(p->warn_host), "%s", s->conf->global.domains.n ? s->conf->global.domains.v[0] : "sipsd");
	if (RAND_bytes(p->secret, sizeof(p->secret)) != 1)
		goto fail;
	p->nworkers = tp_pool_size(s->pool);
	p->pw = calloc(p->nworkers, sizeof(*p->pw));
	if (!p->pw)
		goto fail;
	int err = proxy_peers_init(p, s->peer_tls);
	if (err) {
		mem_deref(p);
		return err;
	}
	struct txn_timers tt = { s->conf->global.timers.t1, s->conf->global.timers.t2, s->conf->global.timers.t4 };
	for (unsigned i = 0; i < p->nworkers; i++) {
		struct proxy_worker *pw = calloc(1, sizeof(*pw));
		if (!pw)
			goto fail;
		p->pw[i] = pw;
		pw->p = p;
		pw->index = i;
		pw->w = tp_pool_worker(s->pool, i);
		pw->on_demand = calloc(p->nflat + 1, sizeof(*pw->on_demand));
		if (!pw->on_demand || flow_mac_init(pw) || txn_layer_alloc(&pw->txl, tp_worker_base(pw->w), &tt, send_h, pw))
			goto fail;
	}
	*pp = p;
	return 0;
fail:
	mem_deref(p);
	return ENOMEM;
}
