/* The scenarios: what a simulated UA sends and expects.
 *
 * handshake  new connection, mutual TLS, OPTIONS -> 200, close_notify, close
 * resume     the same, offering the UA's newest session (TLS 1.3 ticket or TLS 1.2 session ID)
 * register   persistent connections; REGISTER -> 401, REGISTER + digest -> 200
 * call       registered pairs; INVITE -> (100) 180 200, ACK, BYE -> 200 through the proxy,
 *            the callee UA answering on its registered connection
 * idle       open K connections, REGISTER (or OPTIONS with --no-register) each, keep them */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/outbuf.h"
#include "bench.h"
#include "sipscan.h"

struct dlg {
	char ruri[256];   /* remote target (Contact of the 2xx) */
	char route[1024]; /* "Route: ...\r\n" from the reversed Record-Route, or "" */
	char to[320];     /* To value with the remote tag */
	char branch[48];  /* the INVITE's branch (ACK for a non-2xx reuses it) */
	char ruri0[128];  /* the INVITE's Request-URI */
};

/* ---------------------------------------------------------------- helpers */

/* Unique per worker and run (worker id, sequence number, 32 random bits). The random bits
 * come from a per-worker generator seeded from RAND_bytes: RAND_bytes itself costs a getpid()
 * syscall per call (OpenSSL's fork check), six per call scenario, 6% of the client's CPU. */
static void new_token(struct worker *w, char *out, size_t sz)
{
	uint64_t z = (w->rng += 0x9E3779B97F4A7C15ull); /* splitmix64 */
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	/* "%x%llx%08x" without printf: the builders below run for every message, and printf
	 * was 5% of sipsbench's CPU per call (perf), CPU a client that must outrun the server
	 * cannot spare */
	struct outbuf o = OUTBUF_INIT_CSTR(out, sz);
	outbuf_put_hex(&o, w->id, 1);
	outbuf_put_hex(&o, ++w->seq, 1);
	outbuf_put_hex(&o, z >> 32, 8);
	outbuf_cstr(&o);
}

static void user_name(const struct opts *o, unsigned ua, char *out, size_t sz)
{
	struct outbuf b = OUTBUF_INIT_CSTR(out, sz);
	outbuf_puts(&b, o->user_prefix);
	outbuf_put_u32(&b, ua);
	outbuf_cstr(&b);
}

static bool op_running(const struct conn *c)
{
	return c->t_op != 0;
}

static void op_begin(struct conn *c, bool measured, uint64_t t0)
{
	struct worker *w = c->w;
	c->t_op = t0 ? t0 : now_us();
	c->measured = measured;
	if (measured)
		w->inflight++;
	else
		w->setup_pending++;
	conn_deadline(c, w->o->timeout);
}

/* End the operation; err >= 0 is counted here (conn_fail counts its own before calling us). */
static void op_end(struct conn *c, bool ok, int err)
{
	struct worker *w = c->w;
	if (!op_running(c))
		return;
	if (c->measured) {
		if (ok) {
			atomic_fetch_add_explicit(&w->st.ops, 1, memory_order_relaxed);
			hist_add(&w->st.lat, now_us() - c->t_op);
		}
		w->inflight--;
		event_active(&w->kick, EV_TIMEOUT, 0); /* closed loop: start the next one soon */
	} else {
		if (ok)
			atomic_fetch_add_explicit(&w->st.setup_ok, 1, memory_order_relaxed);
		w->setup_pending--;
	}
	if (err >= 0)
		atomic_fetch_add_explicit(&w->st.errs[err], 1, memory_order_relaxed);
	c->t_op = 0;
	c->measured = false;
	conn_deadline(c, 0);
	free(c->dlg);
	c->dlg = NULL;
}

void scen_op_done(struct conn *c, bool ok, int err)
{
	op_end(c, ok, err);
}

/* The end of every message: extra headers, the body's type, more headers, its length, the body. */
static void put_tail(struct outbuf *b, const char *extra, const char *more, const char *body)
{
	size_t bl = body ? strlen(body) : 0;
	if (extra)
		outbuf_puts(b, extra);
	if (bl)
		outbuf_puts(b, "Content-Type: application/sdp\r\n");
	outbuf_puts(b, more);
	outbuf_puts(b, "Content-Length: ");
	outbuf_put_u32(b, (uint32_t)bl);
	outbuf_puts(b, "\r\n\r\n");
	outbuf_put(b, body ? body : "", bl);
}

static int build_req(struct conn *c, char *out, size_t sz, const char *method, const char *ruri,
		     const char *to, uint32_t cseq, const char *branch, const char *extra,
		     const char *body)
{
	const struct opts *o = c->w->o;
	char user[64];
	user_name(o, c->ua, user, sizeof(user));
	struct outbuf b = OUTBUF_INIT_CSTR(out, sz);
	outbuf_puts(&b, method);
	outbuf_put(&b, " ", 1);
	outbuf_puts(&b, ruri);
	outbuf_puts(&b, " SIP/2.0\r\nVia: SIP/2.0/TLS ");
	outbuf_puts(&b, c->laddr);
	outbuf_put(&b, ":", 1);
	outbuf_put_u32(&b, c->lport);
	outbuf_puts(&b, ";branch=z9hG4bK");
	outbuf_puts(&b, branch);
	outbuf_puts(&b, ";rport\r\nMax-Forwards: 70\r\nFrom: <sip:");
	outbuf_puts(&b, user);
	outbuf_put(&b, "@", 1);
	outbuf_puts(&b, o->domain);
	outbuf_puts(&b, ">;tag=");
	outbuf_puts(&b, c->tag);
	outbuf_puts(&b, "\r\nTo: ");
	outbuf_puts(&b, to);
	outbuf_puts(&b, "\r\nCall-ID: ");
	outbuf_puts(&b, c->callid);
	outbuf_puts(&b, "\r\nCSeq: ");
	outbuf_put_u32(&b, cseq);
	outbuf_put(&b, " ", 1);
	outbuf_puts(&b, method);
	outbuf_puts(&b, "\r\n");
	put_tail(&b, extra, "User-Agent: sipsbench\r\n", body);
	size_t n = outbuf_cstr(&b);
	return n ? (int)n : -1;
}

static void pc_remove(struct conn *c);

static bool send_built(struct conn *c, const char *buf, int n)
{
	if (n < 0) {
		op_end(c, false, ERR_PARSE);
		pc_remove(c);
		conn_close(c);
		return false;
	}
	return conn_send(c, buf, (size_t)n);
}

enum answer_hdr { HDR_SKIP, HDR_COPY, HDR_TO };

/* What an answer does with a request header: copies Via, Record-Route, From, Call-ID and CSeq
 * (long or compact form), rewrites To. By length first: one compare per header, not eight. */
static enum answer_hdr answer_hdr_kind(struct slice nm)
{
	switch (nm.len) {
	case 1:
		return slice_eq_cstr_ci(nm, "t") ? HDR_TO
		       : (slice_eq_cstr_ci(nm, "v") || slice_eq_cstr_ci(nm, "f") || slice_eq_cstr_ci(nm, "i")) ? HDR_COPY
		       : HDR_SKIP;
	case 2: return slice_eq_cstr_ci(nm, "To") ? HDR_TO : HDR_SKIP;
	case 3: return slice_eq_cstr_ci(nm, "Via") ? HDR_COPY : HDR_SKIP;
	case 4: return (slice_eq_cstr_ci(nm, "From") || slice_eq_cstr_ci(nm, "CSeq")) ? HDR_COPY : HDR_SKIP;
	case 7: return slice_eq_cstr_ci(nm, "Call-ID") ? HDR_COPY : HDR_SKIP;
	case 12: return slice_eq_cstr_ci(nm, "Record-Route") ? HDR_COPY : HDR_SKIP;
	default: return HDR_SKIP;
	}
}

/* Answer a request: copy Via, Record-Route, From, Call-ID, CSeq; To gets to_tag when absent. */
static bool respond(struct conn *c, const struct smsg *m, unsigned code, const char *reason,
		    const char *to_tag, const char *extra, const char *body)
{
	char out[8192];
	struct outbuf b = OUTBUF_INIT(out, sizeof(out));
	outbuf_puts(&b, "SIP/2.0 ");
	outbuf_put_u32(&b, code);
	outbuf_put(&b, " ", 1);
	outbuf_puts(&b, reason);
	outbuf_puts(&b, "\r\n");
	const char *p = m->hdrs.p, *end = m->hdrs.p + m->hdrs.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol ? eol + 1 : end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			struct slice nm = slice_trim((struct slice){ p, (size_t)(colon - p) });
			enum answer_hdr k = answer_hdr_kind(nm);
			if (k == HDR_COPY) {
				outbuf_put(&b, p, (size_t)(eol - p));
			} else if (k == HDR_TO) {
				struct slice v = { colon + 1, (size_t)(eol - colon - 1) };
				while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
					v.len--;
				v = slice_trim(v);
				struct slice t;
				bool tagged = sipscan_hparam(v, "tag", &t);
				outbuf_puts(&b, "To: ");
				outbuf_put_slice(&b, v);
				if (!tagged && to_tag) {
					outbuf_puts(&b, ";tag=");
					outbuf_puts(&b, to_tag);
				}
				outbuf_puts(&b, "\r\n");
			}
		}
		p = eol;
	}
	put_tail(&b, extra, "", body);
	if (b.over)
		return true; /* too big to answer: drop (the caller side times out) */
	return conn_send(c, out, b.len);
}

static void sdp_body(struct conn *c, char *out, size_t sz)
{
	/* RTP/SAVP with an SDES key (RFC 4568): a sips policy may insist on it. */
	snprintf(out, sz,
		 "v=0\r\n"
		 "o=- %llu 1 IN IP4 %s\r\n"
		 "s=-\r\n"
		 "c=IN IP4 %s\r\n"
		 "t=0 0\r\n"
		 "m=audio %u RTP/SAVP 0 8 101\r\n"
		 "a=rtpmap:0 PCMU/8000\r\n"
		 "a=rtpmap:8 PCMA/8000\r\n"
		 "a=rtpmap:101 telephone-event/8000\r\n"
		 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:c2lwc2JlbmNoIFNSVFAga2V5IGFuZCBzYWx0IDMw\r\n"
		 "a=sendrecv\r\n",
		 (unsigned long long)c->w->seq, c->laddr, c->laddr, 20000u + 2u * (c->ua % 10000u));
}

/* Unhandled requests on a UA connection (server keep-alive OPTIONS, stray NOTIFY): answer so
 * the server's transaction completes. */
static bool answer_request(struct conn *c, const struct smsg *m)
{
	if (slice_eq_cstr(m->method, "ACK"))
		return true;
	return respond(c, m, 200, "OK", NULL, NULL, NULL);
}

/* ------------------------------------------------------- OPTIONS (handshake, resume) */

static bool send_options(struct conn *c)
{
	const struct opts *o = c->w->o;
	char buf[2048], to[160], br[32], ruri[160];
	new_token(c->w, c->tag, sizeof(c->tag));
	new_token(c->w, c->callid, sizeof(c->callid));
	new_token(c->w, br, sizeof(br));
	snprintf(ruri, sizeof(ruri), "sip:%s", o->domain);
	snprintf(to, sizeof(to), "<sip:%s>", o->domain);
	int n = build_req(c, buf, sizeof(buf), "OPTIONS", ruri, to, ++c->cseq, br, NULL, NULL);
	return send_built(c, buf, n);
}

static void hs_release_slot(struct conn *c, SSL_SESSION *keep)
{
	struct worker *w = c->w;
	if (w->o->scen != SC_RESUME || c->slot >= w->nslots) {
		if (keep)
			SSL_SESSION_free(keep);
		return;
	}
	struct ua_slot *s = &w->slots[c->slot];
	if (keep) {
		if (s->sess)
			SSL_SESSION_free(s->sess);
		s->sess = keep;
	}
	s->busy = false;
	c->slot = UINT32_MAX;
}

static void hs_start(struct worker *w, unsigned slot, bool measured)
{
	const struct opts *o = w->o;
	SSL_SESSION *sess = NULL;
	unsigned ua;
	if (o->scen == SC_RESUME) {
		struct ua_slot *s = &w->slots[slot];
		s->busy = true;
		sess = s->sess;
		s->sess = NULL; /* single use (RFC 8446 C.4); the connection brings a fresh one */
		ua = w->id + o->threads * slot;
	} else {
		unsigned share = (o->uas + o->threads - 1 - w->id) / o->threads;
		ua = w->id + o->threads * (unsigned)(w->rr++ % (share ? share : 1));
	}
	uint64_t t0 = now_us();
	struct conn *c = conn_open(w, ua, sess);
	if (sess)
		SSL_SESSION_free(sess);
	if (!c) {
		if (o->scen == SC_RESUME)
			w->slots[slot].busy = false;
		return;
	}
	c->slot = o->scen == SC_RESUME ? slot : UINT32_MAX;
	op_begin(c, measured, t0);
}

static void hs_setup(struct worker *w)
{
	if (w->o->scen != SC_RESUME)
		return;
	/* Seed one session per UA slot with a full handshake (not measured). */
	while (w->setup_next < w->nslots && w->setup_pending < w->max_inflight)
		hs_start(w, (unsigned)w->setup_next++, false);
}

static bool hs_setup_done(struct worker *w)
{
	return w->o->scen != SC_RESUME || (w->setup_next >= w->nslots && w->setup_pending == 0);
}

static bool hs_launch(struct worker *w)
{
	if (w->o->scen == SC_RESUME) {
		for (unsigned i = 0; i < w->nslots; i++) {
			unsigned s = (unsigned)(w->rr++ % w->nslots);
			if (!w->slots[s].busy) {
				w->launched++;
				hs_start(w, s, true);
				return true;
			}
		}
		return false;
	}
	w->launched++;
	hs_start(w, 0, true);
	return true;
}

static bool hs_established(struct conn *c)
{
	return send_options(c);
}

static bool hs_message(struct conn *c, const char *buf, size_t len)
{
	struct smsg m;
	if (!sipscan_parse(buf, len, &m)) {
		op_end(c, false, ERR_PARSE);
		hs_release_slot(c, NULL);
		conn_close(c);
		return false;
	}
	if (!m.is_resp)
		return answer_request(c, &m);
	if (m.status < 200)
		return true;
	bool ok = m.status == 200;
	op_end(c, ok, ok ? -1 : ERR_STATUS);
	/* TLS 1.3 tickets arrived before the 200, so this is the newest session. */
	hs_release_slot(c, ok ? SSL_get1_session(c->ssl) : NULL);
	conn_close(c);
	return false;
}

static void hs_closed(struct conn *c, int err)
{
	(void)err;
	op_end(c, false, -1);
	hs_release_slot(c, NULL);
}

static void hs_timeout(struct conn *c)
{
	op_end(c, false, ERR_TIMEOUT);
	hs_release_slot(c, NULL);
	conn_close(c);
}

/* ------------------------------------------------ persistent connections (register, call, idle) */

static void pc_remove(struct conn *c)
{
	struct worker *w = c->w;
	if (c->persistent && c->idx < w->nconns && w->conns[c->idx] == c)
		w->conns[c->idx] = NULL;
	if (c->peer) {
		c->peer->peer = NULL;
		c->peer = NULL;
	}
}

static bool pc_add(struct worker *w, struct conn *c)
{
	if (w->nconns == w->nconns_cap) {
		unsigned cap = w->nconns_cap ? w->nconns_cap * 2 : 64;
		struct conn **nc = realloc(w->conns, cap * sizeof(*nc));
		if (!nc)
			return false;
		w->conns = nc;
		w->nconns_cap = cap;
	}
	c->persistent = true;
	c->idx = w->nconns;
	w->conns[w->nconns++] = c;
	return true;
}

void scen_close_all(struct worker *w)
{
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = w->conns[i];
		if (!c)
			continue;
		w->conns[i] = NULL;
		c->persistent = false;
		if (c->peer) {
			c->peer->peer = NULL;
			c->peer = NULL;
		}
		op_end(c, false, -1);
		conn_close(c);
	}
	w->nconns = 0;
}

static void pc_fail(struct conn *c, int err)
{
	op_end(c, false, err);
	pc_remove(c);
	conn_close(c);
}

/* steps of a registration */
enum { ST_IDLE = 0, ST_REG1, ST_REG2, ST_OPT, ST_INVITE, ST_BYE };

static bool send_register(struct conn *c, const struct smsg *challenge)
{
	const struct opts *o = c->w->o;
	char buf[4096], extra[2048], to[160], br[32], ruri[160], user[64], contact[200];
	user_name(o, c->ua, user, sizeof(user));
	snprintf(ruri, sizeof(ruri), "sip:%s", o->domain);
	snprintf(to, sizeof(to), "<sip:%s@%s>", user, o->domain);
	if (o->contact_sip)
		snprintf(contact, sizeof(contact), "<sip:%s@%s:%u;transport=tls>", user, c->laddr, c->lport);
	else
		snprintf(contact, sizeof(contact), "<sips:%s@%s:%u>", user, c->laddr, c->lport);
	if (!c->callid[0]) /* RFC 3261 10.2: one Call-ID for all registrations of this UA */
		new_token(c->w, c->callid, sizeof(c->callid));
	new_token(c->w, c->tag, sizeof(c->tag));
	new_token(c->w, br, sizeof(br));
	int el = snprintf(extra, sizeof(extra), "Contact: %s\r\nExpires: 3600\r\n", contact);
	if (challenge) {
		struct slice ch = { NULL, 0 }, v;
		bool proxy = challenge->status == 407;
		const char *hn = proxy ? "Proxy-Authenticate" : "WWW-Authenticate";
		/* Several challenges (RFC 8760): take the preferred algorithm, else the first. */
		for (unsigned i = 0; sipscan_hdr(challenge, hn, 0, i, &v, NULL); i++) {
			const char *a = digest_alg(v);
			if (!a)
				continue;
			if (!ch.p)
				ch = v;
			if (o->digest_alg && strcasecmp(a, o->digest_alg) == 0) {
				ch = v;
				break;
			}
		}
		if (!ch.p) {
			pc_fail(c, ERR_AUTH);
			return false;
		}
		char pw[128];
		snprintf(pw, sizeof(pw), "%s", o->password);
		struct digest_in in = { .user = user, .password = pw, .method = "REGISTER",
					.uri = ruri, .challenge = ch, .nc = 1 };
		char ans[1500];
		int al = digest_answer(&in, ans, sizeof(ans));
		if (al < 0) {
			pc_fail(c, ERR_AUTH);
			return false;
		}
		snprintf(extra + el, sizeof(extra) - (size_t)el, "%s: %s\r\n",
			 proxy ? "Proxy-Authorization" : "Authorization", ans);
	}
	int n = build_req(c, buf, sizeof(buf), "REGISTER", ruri, to, ++c->cseq, br, extra, NULL);
	c->step = challenge ? ST_REG2 : ST_REG1;
	return send_built(c, buf, n);
}

/* Registration (or OPTIONS when --no-register) on an open persistent connection. */
static bool reg_start(struct conn *c)
{
	if (c->w->o->no_register) {
		c->step = ST_OPT;
		return send_options(c);
	}
	return send_register(c, NULL);
}

/* A response in the registration flow; false when c was freed. */
static bool reg_response(struct conn *c, const struct smsg *m)
{
	if (m->status < 200)
		return true;
	if (c->step == ST_OPT) {
		c->step = ST_IDLE;
		if (m->status != 200) {
			pc_fail(c, ERR_STATUS);
			return false;
		}
		op_end(c, true, -1);
		return true;
	}
	if ((m->status == 401 || m->status == 407) && c->step == ST_REG1)
		return send_register(c, m);
	if (m->status == 200) {
		c->step = ST_IDLE;
		op_end(c, true, -1);
		return true;
	}
	int err = (m->status == 401 || m->status == 407 || m->status == 403) ? ERR_AUTH : ERR_STATUS;
	c->step = ST_IDLE;
	op_end(c, false, err);
	return true; /* the connection stays usable */
}

static void pc_closed(struct conn *c, int err)
{
	(void)err;
	struct conn *peer = c->peer;
	op_end(c, false, -1);
	pc_remove(c);
	/* A callee gone mid-call: the caller's operation fails now rather than at its deadline. */
	if (peer && op_running(peer) && peer->step >= ST_INVITE) {
		peer->step = ST_IDLE;
		op_end(peer, false, ERR_CLOSED);
	}
}

static void pc_timeout(struct conn *c)
{
	pc_fail(c, ERR_TIMEOUT);
}

/* open a persistent connection for UA ua; its first operation is the registration */
static void pc_open(struct worker *w, unsigned ua, bool measured)
{
	uint64_t t0 = now_us();
	struct conn *c = conn_open(w, ua, NULL);
	if (!c)
		return;
	if (!pc_add(w, c)) {
		conn_close(c);
		return;
	}
	op_begin(c, measured, t0);
}

static bool pc_established(struct conn *c)
{
	return reg_start(c);
}

/* ---------------------------------------------------------------- register */

static unsigned worker_share(const struct worker *w)
{
	return (w->o->uas + w->o->threads - 1 - w->id) / w->o->threads;
}

static void reg_setup(struct worker *w)
{
	/* This worker's UAs: global indices w->id, w->id + threads, ... */
	unsigned share = worker_share(w);
	while (w->setup_next < share && w->setup_pending < w->max_inflight)
		pc_open(w, w->id + w->o->threads * (unsigned)w->setup_next++, false);
}

static bool reg_setup_done(struct worker *w)
{
	return w->setup_next >= worker_share(w) && w->setup_pending == 0;
}

static bool reg_launch(struct worker *w)
{
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = w->conns[w->rr++ % w->nconns];
		if (c && c->st == CS_OPEN && !op_running(c)) {
			w->launched++;
			op_begin(c, true, 0);
			return send_register(c, NULL);
		}
	}
	return false;
}

static bool reg_message(struct conn *c, const char *buf, size_t len)
{
	struct smsg m;
	if (!sipscan_parse(buf, len, &m)) {
		pc_fail(c, ERR_PARSE);
		return false;
	}
	if (!m.is_resp)
		return answer_request(c, &m);
	if (!op_running(c))
		return true; /* late answer after a timeout */
	return reg_response(c, &m);
}

/* ---------------------------------------------------------------- idle */

static bool idle_launch(struct worker *w)
{
	unsigned ua = w->id + w->o->threads * (unsigned)w->launched;
	w->launched++;
	pc_open(w, ua, true);
	return true;
}

/* ---------------------------------------------------------------- call */

/* Pairs: UA 2k calls UA 2k+1; a pair lives in one worker (k % threads == worker id). */
static unsigned call_pairs(const struct worker *w)
{
	unsigned pairs = w->o->uas / 2;
	return (pairs + w->o->threads - 1 - w->id) / w->o->threads;
}

static void call_setup(struct worker *w)
{
	unsigned n = call_pairs(w) * 2;
	while (w->setup_next < n && w->setup_pending < w->max_inflight) {
		unsigned k = w->id + w->o->threads * (unsigned)(w->setup_next / 2);
		unsigned ua = 2 * k + (unsigned)(w->setup_next % 2);
		w->setup_next++;
		pc_open(w, ua, false);
	}
}

static bool call_setup_done(struct worker *w)
{
	if (w->setup_next < call_pairs(w) * 2 || w->setup_pending)
		return false;
	/* pair callers with callees once everything is registered */
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *a = w->conns[i];
		if (!a || (a->ua % 2) || a->peer)
			continue;
		for (unsigned j = 0; j < w->nconns; j++) {
			struct conn *b = w->conns[j];
			if (b && b->ua == a->ua + 1 && !b->peer) {
				a->peer = b;
				b->peer = a;
				break;
			}
		}
	}
	return true;
}

static bool call_launch(struct worker *w)
{
	const struct opts *o = w->o;
	for (unsigned i = 0; i < w->nconns; i++) {
		struct conn *c = w->conns[w->rr++ % w->nconns];
		if (!c || (c->ua % 2) || !c->peer || c->st != CS_OPEN || op_running(c) ||
		    c->peer->st != CS_OPEN)
			continue;
		struct dlg *d = calloc(1, sizeof(*d));
		if (!d)
			return false;
		w->launched++;
		op_begin(c, true, 0);
		c->dlg = d;
		char callee[64], to[200], contact[200], extra[400], body[1024], buf[4096];
		user_name(o, c->peer->ua, callee, sizeof(callee));
		snprintf(d->ruri0, sizeof(d->ruri0), "sip:%s@%s", callee, o->domain);
		snprintf(to, sizeof(to), "<%s>", d->ruri0);
		char me[64];
		user_name(o, c->ua, me, sizeof(me));
		snprintf(contact, sizeof(contact), "<%s:%s@%s:%u%s>", o->contact_sip ? "sip" : "sips", me,
			 c->laddr, c->lport, o->contact_sip ? ";transport=tls" : "");
		snprintf(extra, sizeof(extra), "Contact: %s\r\n", contact);
		new_token(w, c->callid, sizeof(c->callid));
		new_token(w, c->tag, sizeof(c->tag));
		new_token(w, d->branch, sizeof(d->branch));
		sdp_body(c, body, sizeof(body));
		c->step = ST_INVITE;
		c->cseq = 1;
		int n = build_req(c, buf, sizeof(buf), "INVITE", d->ruri0, to, 1, d->branch, extra, body);
		send_built(c, buf, n); /* on failure it closed c; progress was made either way */
		return true;
	}
	return false;
}

/* Record the dialog's route set (RFC 3261 12.1.2: Record-Route reversed on the UAC side). */
static void dlg_learn(struct dlg *d, const struct smsg *m)
{
	struct slice v, uri;
	struct slice rr[16];
	unsigned nrr = 0;
	for (unsigned i = 0; sipscan_hdr(m, "Record-Route", 0, i, &v, NULL); i++) {
		/* split "a, b" outside <> */
		const char *p = v.p, *end = v.p + v.len, *start = p;
		int depth = 0;
		for (; p <= end; p++) {
			if (p < end && *p == '<')
				depth++;
			else if (p < end && *p == '>')
				depth--;
			if ((p == end || (*p == ',' && depth == 0)) && nrr < 16) {
				rr[nrr++] = slice_trim((struct slice){ start, (size_t)(p - start) });
				start = p + 1;
			}
		}
	}
	size_t len = 0;
	d->route[0] = '\0';
	for (unsigned i = nrr; i-- > 0;) {
		int n = snprintf(d->route + len, sizeof(d->route) - len, "%s%.*s",
				 len ? ", " : "Route: ", (int)rr[i].len, rr[i].p);
		if (n < 0 || (size_t)n >= sizeof(d->route) - len)
			break;
		len += (size_t)n;
	}
	if (len && len + 3 < sizeof(d->route))
		memcpy(d->route + len, "\r\n", 3);
	if (sipscan_hdr(m, "Contact", 'm', 0, &v, NULL)) {
		uri = sipscan_uri(v);
		slice_copy(uri, d->ruri, sizeof(d->ruri));
	} else {
		slice_copy(slice_from_cstr(d->ruri0), d->ruri, sizeof(d->ruri));
	}
	if (sipscan_hdr(m, "To", 't', 0, &v, NULL))
		slice_copy(v, d->to, sizeof(d->to));
}

static bool caller_response(struct conn *c, const struct smsg *m)
{
	struct dlg *d = c->dlg;
	struct slice meth = sipscan_cseq_method(m);
	char buf[4096], br[32];
	if (!d || m->status < 200)
		return true;
	if (c->step == ST_INVITE && slice_eq_cstr(meth, "INVITE")) {
		dlg_learn(d, m);
		if (m->status >= 300) {
			/* RFC 3261 17.1.1.3: ACK a non-2xx in the INVITE's transaction (same branch). */
			int n = build_req(c, buf, sizeof(buf), "ACK", d->ruri0, d->to, 1, d->branch, NULL,
					  NULL);
			c->step = ST_IDLE;
			op_end(c, false, ERR_STATUS);
			return n < 0 ? true : conn_send(c, buf, (size_t)n);
		}
		/* 2xx: ACK end to end (new branch), then hang up at once. */
		new_token(c->w, br, sizeof(br));
		int n = build_req(c, buf, sizeof(buf), "ACK", d->ruri, d->to, 1, br, d->route, NULL);
		if (!send_built(c, buf, n))
			return false;
		new_token(c->w, br, sizeof(br));
		n = build_req(c, buf, sizeof(buf), "BYE", d->ruri, d->to, 2, br, d->route, NULL);
		c->step = ST_BYE;
		return send_built(c, buf, n);
	}
	if (c->step == ST_BYE && slice_eq_cstr(meth, "BYE")) {
		c->step = ST_IDLE;
		op_end(c, m->status == 200, m->status == 200 ? -1 : ERR_STATUS);
		return true;
	}
	return true; /* a 2xx retransmission or a stray answer */
}

static bool callee_request(struct conn *c, const struct smsg *m)
{
	if (slice_eq_cstr(m->method, "INVITE")) {
		char tag[24], contact[240], body[1024], user[64];
		new_token(c->w, tag, sizeof(tag));
		user_name(c->w->o, c->ua, user, sizeof(user));
		snprintf(contact, sizeof(contact), "Contact: <%s:%s@%s:%u%s>\r\n",
			 c->w->o->contact_sip ? "sip" : "sips", user, c->laddr, c->lport,
			 c->w->o->contact_sip ? ";transport=tls" : "");
		sdp_body(c, body, sizeof(body));
		if (!respond(c, m, 180, "Ringing", tag, contact, NULL))
			return false;
		return respond(c, m, 200, "OK", tag, contact, body);
	}
	return answer_request(c, m);
}

static bool call_message(struct conn *c, const char *buf, size_t len)
{
	struct smsg m;
	if (!sipscan_parse(buf, len, &m)) {
		pc_fail(c, ERR_PARSE);
		return false;
	}
	if (!m.is_resp)
		return callee_request(c, &m);
	if (!op_running(c))
		return true;
	if (c->step >= ST_INVITE)
		return caller_response(c, &m);
	return reg_response(c, &m);
}

/* ---------------------------------------------------------------- table */

static const struct scen_ops scen_table[] = {
	[SC_HANDSHAKE] = { hs_setup, hs_setup_done, hs_launch, hs_established, hs_message, hs_closed,
			   hs_timeout },
	[SC_RESUME] = { hs_setup, hs_setup_done, hs_launch, hs_established, hs_message, hs_closed,
			hs_timeout },
	[SC_REGISTER] = { reg_setup, reg_setup_done, reg_launch, pc_established, reg_message, pc_closed,
			  pc_timeout },
	[SC_CALL] = { call_setup, call_setup_done, call_launch, pc_established, call_message, pc_closed,
		      pc_timeout },
	[SC_IDLE] = { NULL, NULL, idle_launch, pc_established, reg_message, pc_closed, pc_timeout },
};

const struct scen_ops *scen_get(enum scen_id id)
{
	return &scen_table[id];
}
