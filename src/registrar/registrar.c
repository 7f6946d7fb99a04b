/* Registrar (RFC 3261 10.3): REGISTER -> digest and/or certificate authorization -> binding
 * update -> (durable) store write -> location update -> 200 OK listing the bindings.
 *
 * Threads: registrar_handle() runs on the worker that received the REGISTER. Store work goes
 * through one store client per worker loop, so every completion comes back on that worker
 * (store.h), and the reply is sent from there. Updates of one AOR are serialised by a small
 * "busy AOR" table: a REGISTER for an AOR that has one in flight waits in that AOR's queue and is
 * resumed (posted to its own worker) when the first one has answered. That keeps RFC 3261 10.3
 * steps 6-8 (read bindings, check Call-ID/CSeq, write) atomic per AOR without holding a lock
 * across the store write; the rejected alternative, letting the store merge concurrent updates,
 * would let two workers apply location_replace() in the opposite order of the commits. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/cred.h"
#include "auth/digest.h"
#include "auth/nonce.h"
#include "auth/verify.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/outbuf.h"
#include "registrar/internal.h"
#include "registrar/location.h"
#include "registrar/registrar.h"
#include "sip/uri.h"
#include "store/store.h"
#include "tls/ident.h"
#include "transport/transport.h"

enum {
	REG_MAX_CONTACTS = 64,      /* Contact values in one REGISTER */
	REG_NC_ENTRIES = 65536,     /* nonce-count table slots (auth_nc_table evicts safely) */
	REG_CLIENTS_MAX = TP_MAX_WORKERS + 16,
	REG_BUSY_BUCKETS = 256,
	REG_RECV_MAX = 128,
};

struct loop_client {
	void *loop;
	struct store_client *c;
};

struct reg_req;

/* An AOR with a REGISTER in flight, and the ones waiting behind it. */
struct busy {
	struct busy *next;
	struct reg_req *head, *tail;
	char aor[];
};

struct registrar {
	const struct conf *conf;
	struct store *store;
	struct location *loc;
	struct reg_users *users;
	struct reg_ucache *ucache;
	struct auth_nonce_ctx *nonce;
	struct auth_nc_table *nc;
	reg_loop_self_h *loop_self;
	store_post_h *post;
	char realm[AUTH_REALM_MAX + 1];
	bool durable;

	pthread_mutex_t mtx; /* clients, busy */
	struct loop_client clients[REG_CLIENTS_MAX];
	size_t nclients;
	struct busy *busy[REG_BUSY_BUCKETS];

	pthread_mutex_t purge_mtx;
	pthread_cond_t purge_cond;
	pthread_t purge_th;
	bool purge_running, stopping;

	_Atomic uint64_t opaque_ctr;
	_Atomic uint64_t n_requests, n_ok, n_challenged, n_forbidden, n_bad, n_too_brief, n_store_errors;
};

struct reg_req {
	struct registrar *r;
	struct sip_msg *msg;
	reg_reply_h *reply;
	void *reply_arg;
	void *loop;
	struct store_client *client;
	enum conf_transport transport;
	uint64_t conn_id;
	struct tp_addr remote;
	enum conf_iface_auth auth;
	bool cert_verified;
	struct tls_peer_info *peer; /* referenced: the connection may close while we wait */
	char aor[256];
	char user[AUTH_USERNAME_MAX + 1];
	char domain[256];
	char cert_id[256];          /* certificate identity that proved the AOR */
	struct store_user *urec;    /* NULL: unknown or disabled */
	bool holds_aor;
	struct reg_req *next;       /* in its AOR's wait queue */
	/* set being written (durable) */
	struct loc_binding *set;
	size_t nset;
	time_t applied;             /* the second the set was computed in: its expiries count from it */
	bool require_outbound;
	bool proxy_auth;            /* registrar_authorize(): 407 / Proxy-Authorization, no binding */
	bool from_cache;            /* the user record came from the short-lived cache */
	struct auth_cred *cred;     /* the only (Proxy-)Authorization, parsed once; NULL: none or several */
};

/* ---- small helpers ---- */

/* The user cache's key, "user@domain": the AOR after "sip:" (split_aor's two parts). */
static const char *ucache_key(const struct reg_req *q)
{
	return q->aor + 4;
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void *tp_self(void)
{
	return tp_worker_self();
}

static void tp_post(void *loop, void (*fn)(void *), void *arg)
{
	/* store.h: a poster must not fail; tp_worker_post only fails on ENOMEM, so retry briefly */
	for (int i = 0; i < 100; i++) {
		if (tp_worker_post(loop, fn, arg) == 0)
			return;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	log_err("registrar.post_failed", "why=\"out of memory\" effect=\"one REGISTER left unanswered\"");
}

static bool domain_is_ours(const struct conf *c, struct slice host)
{
	for (size_t i = 0; i < c->global.domains.n; i++)
		if (slice_eq_cstr_ci(host, c->global.domains.v[i]))
			return true;
	return false;
}

static const char *remote_str(const struct reg_req *q, char *buf, size_t sz)
{
	return tp_addr_fmt(&q->remote, buf, sz);
}

static void req_free(struct reg_req *q)
{
	mem_deref(q->msg);
	mem_deref(q->peer);
	mem_deref(q->urec);
	free(q->set);
	free(q->cred);
	free(q);
}

static void aor_release(struct reg_req *q);

/* Answers, releases the AOR if held, frees q. */
static void finish(struct reg_req *q, uint16_t status, const char *reason, const struct slice *extra, size_t n)
{
	struct registrar *r = q->r;
	if (status >= 200 && status < 300)
		atomic_fetch_add(&r->n_ok, 1);
	else if (status == 401 || status == 407)
		atomic_fetch_add(&r->n_challenged, 1);
	else if (status == 403)
		atomic_fetch_add(&r->n_forbidden, 1);
	else if (status == 423)
		atomic_fetch_add(&r->n_too_brief, 1);
	else if (status == 400)
		atomic_fetch_add(&r->n_bad, 1);
	q->reply(status, reason, extra, n, q->reply_arg);
	if (q->holds_aor)
		aor_release(q);
	req_free(q);
}

static void finish_log(struct reg_req *q, uint16_t status, const char *reason, const char *why)
{
	char ra[80];
	struct slice cid = sip_msg_call_id(q->msg);
	log_notice("registrar.rejected", "aor=\"%s\" remote=%s call_id=\"%.*s\" status=%u why=\"%s\"", q->aor,
		   remote_str(q, ra, sizeof(ra)), (int)cid.len, cid.p, status, why);
	finish(q, status, reason, NULL, 0);
}

/* RFC 3261 10.3 step 8 / 20.17: Date in rfc1123 form, GMT, C-locale names; rebuilt once a
 * second per thread rather than formatted per reply. */
static struct slice date_hdr(time_t now)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static _Thread_local time_t at = -1;
	static _Thread_local char buf[48];
	static _Thread_local size_t len;
	if (now != at) {
		struct tm tm;
		if (!gmtime_r(&now, &tm))
			return (struct slice){ NULL, 0 };
		int w = snprintf(buf, sizeof(buf), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday],
				 tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		if (w <= 0 || (size_t)w >= sizeof(buf))
			return (struct slice){ NULL, 0 };
		at = now;
		len = (size_t)w;
	}
	return (struct slice){ buf, len };
}

/* q-value of RFC 3261 25.1: "1" or "0." and up to three digits, trailing zeros dropped. */
static void put_q(struct outbuf *o, uint16_t q1000)
{
	if (q1000 >= 1000) {
		outbuf_puts(o, "1");
		return;
	}
	char d[3] = { (char)('0' + q1000 / 100), (char)('0' + q1000 / 10 % 10), (char)('0' + q1000 % 10) };
	size_t n = 3;
	while (n > 1 && d[n - 1] == '0')
		n--;
	outbuf_puts(o, "0.");
	outbuf_put(o, d, n);
}

/* 200 OK: every current binding with its remaining time (RFC 3261 10.3 step 8), a Date, the
 * request's Path values (RFC 3327 5.3), and Require: outbound when a flow was registered
 * (RFC 5626 6). */
/* granted: the second the set was computed in; each Contact's expires counts from it. */
static void reply_ok(struct reg_req *q, const struct loc_binding *set, size_t n, time_t granted)
{
	size_t per = sizeof(set->contact) + sizeof(set->instance) + 96;
	size_t bufsz = 256 + n * per, npath = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(q->msg, SIP_HDR_PATH); h; h = sip_msg_hdr_next(q->msg, h)) {
		npath++;
		bufsz += h->value.len + 8;
	}
	char *buf = malloc(bufsz);
	struct slice *extra = malloc((n + 2 + npath) * sizeof(*extra));
	if (!buf || !extra) {
		free(buf);
		free(extra);
		finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
		return;
	}
	struct outbuf o = OUTBUF_INIT(buf, bufsz);
	size_t ne = 0;
	for (size_t i = 0; i < n && !o.over; i++) {
		const struct loc_binding *b = &set[i];
		long left = (long)(b->expires_at - granted);
		if (left <= 0)
			continue;
		size_t from = o.len;
		outbuf_puts(&o, "Contact: <");
		outbuf_puts(&o, b->contact);
		outbuf_puts(&o, ">;expires=");
		outbuf_put_u32(&o, left > UINT32_MAX ? UINT32_MAX : (uint32_t)left);
		if (b->q1000 != 1000) {
			outbuf_puts(&o, ";q=");
			put_q(&o, b->q1000);
		}
		if (b->instance[0]) {
			outbuf_puts(&o, ";+sip.instance=\"");
			outbuf_puts(&o, b->instance);
			outbuf_puts(&o, "\"");
		}
		if (b->has_reg_id) {
			outbuf_puts(&o, ";reg-id=");
			outbuf_put_u32(&o, b->reg_id);
		}
		if (!o.over)
			extra[ne++] = (struct slice){ buf + from, o.len - from };
	}
	struct slice date = date_hdr(time(NULL)); /* RFC 3261 20.17: when the response is sent */
	if (date.len)
		extra[ne++] = date;
	for (const struct sip_hdr *h = sip_msg_hdr(q->msg, SIP_HDR_PATH); h && !o.over; h = sip_msg_hdr_next(q->msg, h)) {
		if (memchr(h->value.p, '\n', h->value.len))
			continue; /* folded: our builder takes single lines only */
		size_t from = o.len;
		outbuf_puts(&o, "Path: ");
		outbuf_put_slice(&o, h->value);
		if (!o.over)
			extra[ne++] = (struct slice){ buf + from, o.len - from };
	}
	if (q->require_outbound)
		extra[ne++] = SLICE_LIT("Require: outbound");
	finish(q, 200, NULL, extra, ne);
	free(buf);
	free(extra);
}

/* ---- per-loop store clients ---- */

static struct store_client *client_for(struct registrar *r, void *loop)
{
	struct store_client *c = NULL;
	pthread_mutex_lock(&r->mtx);
	for (size_t i = 0; i < r->nclients && !c; i++)
		if (r->clients[i].loop == loop)
			c = r->clients[i].c;
	if (!c && r->nclients < REG_CLIENTS_MAX && store_client_alloc(&c, r->store, r->post, loop) == 0)
		r->clients[r->nclients++] = (struct loop_client){ loop, c };
	pthread_mutex_unlock(&r->mtx);
	return c;
}

/* ---- per-AOR serialisation ---- */

static void apply(struct reg_req *q);

static void resume_h(void *arg)
{
	apply(arg);
}

/* Runs apply(q) now if no REGISTER for q's AOR is in flight, else queues q behind it. */
static void aor_acquire(struct reg_req *q)
{
	struct registrar *r = q->r;
	size_t bi = hash_str(q->aor) & (REG_BUSY_BUCKETS - 1);
	pthread_mutex_lock(&r->mtx);
	struct busy *b = r->busy[bi];
	while (b && strcmp(b->aor, q->aor) != 0)
		b = b->next;
	if (b) {
		q->next = NULL;
		if (b->tail)
			b->tail->next = q;
		else
			b->head = q;
		b->tail = q;
		q->holds_aor = true; /* it will hold it when resumed */
		pthread_mutex_unlock(&r->mtx);
		return;
	}
	size_t len = strlen(q->aor) + 1;
	b = calloc(1, sizeof(*b) + len);
	if (!b) {
		pthread_mutex_unlock(&r->mtx);
		finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
		return;
	}
	memcpy(b->aor, q->aor, len);
	b->next = r->busy[bi];
	r->busy[bi] = b;
	q->holds_aor = true;
	pthread_mutex_unlock(&r->mtx);
	apply(q);
}

static void aor_release(struct reg_req *q)
{
	struct registrar *r = q->r;
	size_t bi = hash_str(q->aor) & (REG_BUSY_BUCKETS - 1);
	struct reg_req *next = NULL;
	pthread_mutex_lock(&r->mtx);
	struct busy **pp = &r->busy[bi];
	while (*pp && strcmp((*pp)->aor, q->aor) != 0)
		pp = &(*pp)->next;
	struct busy *b = *pp;
	if (b) {
		next = b->head;
		if (next) {
			b->head = next->next;
			if (!b->head)
				b->tail = NULL;
		} else {
			*pp = b->next;
			free(b);
		}
	}
	pthread_mutex_unlock(&r->mtx);
	q->holds_aor = false;
	if (next)
		r->post(next->loop, resume_h, next); /* on its own worker: its store client and reply live there */
}

/* ---- authorization (RFC 3261 10.3 steps 3-4, 22; RFC 7616; RFC 8760) ---- */

static unsigned user_algs(const struct registrar *r, const struct store_user *u)
{
	unsigned m = 0;
	if (u) {
		for (int a = 0; a < AUTH_ALG__COUNT && a < STORE_HA1_COUNT; a++)
			if (u->ha1[a].len == auth_alg_hexlen((enum auth_alg)a))
				m |= AUTH_ALG_BIT(a);
	} else {
		m = AUTH_ALG_ALL; /* unknown user: the same challenge as a known one (no user probing) */
	}
	if (!r->conf->registrar.md5)
		m &= ~AUTH_ALG_BIT(AUTH_ALG_MD5);
	return m;
}

static struct slice user_realm(const struct reg_req *q)
{
	if (q->urec && q->urec->realm.len)
		return q->urec->realm;
	return slice_from_cstr(q->r->realm);
}

static void challenge(struct reg_req *q, unsigned algs, bool stale, const char *why)
{
	struct registrar *r = q->r;
	char buf[2048];
	size_t len = 0;
	/* Nonces are HMAC(ts, realm, binding) and so the same for every challenge of one second:
	 * two phones answering with nc=1 would look like a replay of each other. A per-challenge
	 * opaque (RFC 7616 3.3: returned unchanged) used as the binding makes each nonce unique;
	 * it needs no secrecy (the nonce MAC covers it) so a counter does. */
	char opaque[24];
	struct outbuf ob = OUTBUF_INIT_CSTR(opaque, sizeof(opaque)); /* "%016llx" without printf */
	outbuf_put_hex(&ob, atomic_fetch_add(&r->opaque_ctr, 1), 16);
	outbuf_cstr(&ob);
	struct auth_challenge ch = {
		.realm = user_realm(q),
		.algs = algs,
		.stale = stale,
		.proxy = q->proxy_auth,
		.opaque = slice_from_cstr(opaque),
		.binding = slice_from_cstr(opaque),
	};
	if (auth_challenge_build(r->nonce, &ch, (uint64_t)time(NULL), buf, sizeof(buf), &len)) {
		finish_log(q, 500, "Server Internal Error (challenge)", "challenge could not be built");
		return;
	}
	struct slice extra[AUTH_ALG__COUNT];
	size_t ne = 0;
	const char *p = buf, *end = buf + len;
	while (p < end && ne < AUTH_ALG__COUNT) {
		const char *e = memchr(p, '\r', (size_t)(end - p));
		if (!e)
			e = end;
		if (e > p)
			extra[ne++] = (struct slice){ p, (size_t)(e - p) };
		p = e + 2;
	}
	log_debug("registrar.challenge", "aor=\"%s\" stale=%d why=\"%s\"", q->aor, stale, why);
	finish(q, q->proxy_auth ? 407 : 401, NULL, extra, ne);
}

enum authz { AUTHZ_OK, AUTHZ_DONE };

/* Finds the credentials for our realm among the Authorization headers (RFC 3261 22.4: a UA
 * may send several). 1 found, 0 none, -1 malformed (already answered 400). */
static int find_cred(struct reg_req *q, struct slice realm, struct auth_cred *cred)
{
	int found = 0;
	enum sip_hdr_id hid = q->proxy_auth ? SIP_HDR_PROXY_AUTHORIZATION : SIP_HDR_AUTHORIZATION;
	for (const struct sip_hdr *h = sip_msg_hdr(q->msg, hid); h; h = sip_msg_hdr_next(q->msg, h)) {
		enum auth_err why = AUTH_ERR_NONE;
		if (auth_cred_parse(h->value, cred, &why)) {
			char reason[96];
			snprintf(reason, sizeof(reason), "Bad Request (Authorization: %s)", auth_err_reason(why));
			finish_log(q, 400, reason, auth_err_reason(why));
			return -1;
		}
		if (slice_eq_cstr(realm, cred->realm))
			return 1;
		found = 1; /* another realm: auth_verify says AUTH_REALM unless a later one is ours */
	}
	if (found) {
		/* re-parse the first one (the last parse left another realm's values) */
		enum auth_err why;
		auth_cred_parse(sip_msg_hdr(q->msg, hid)->value, cred, &why);
	}
	return found;
}

static enum authz check_digest(struct reg_req *q)
{
	struct registrar *r = q->r;
	unsigned algs = user_algs(r, q->urec);
	if (!algs) {
		finish_log(q, 403, "Forbidden (no digest algorithm allowed for this user)", "no allowed algorithm");
		return AUTHZ_DONE;
	}
	struct slice realm = user_realm(q);
	/* the only credentials header was parsed on arrival (credentials_parse); if it names
	 * another realm, auth_verify answers AUTH_REALM as find_cred's caller would */
	struct auth_cred *cred = q->cred;
	int f = 1;
	q->cred = NULL;
	if (!cred) {
		if (!(cred = malloc(sizeof(*cred)))) {
			finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
			return AUTHZ_DONE;
		}
		f = find_cred(q, realm, cred);
	}
	if (f <= 0) {
		free(cred);
		if (f == 0)
			challenge(q, algs, false, "no credentials");
		return AUTHZ_DONE;
	}
	/* RFC 3261 10.3 step 4: the authenticated user must own the AOR (no third-party
	 * registration). With userhash the username is H(user:realm) (RFC 7616 3.4.4). */
	bool owner;
	if (cred->userhash) {
		char uh[AUTH_HEX_MAX];
		owner = auth_userhash(cred->alg, slice_from_cstr(q->user), realm, uh) == 0 && strcmp(uh, cred->username) == 0;
	} else {
		owner = strcmp(cred->username, q->user) == 0;
	}
	if (!owner) {
		free(cred);
		finish_log(q, 403, "Forbidden (credentials do not own the AOR)", "username is not the AOR's user");
		return AUTHZ_DONE;
	}
	/* An unknown or disabled user verifies against a HA1 nobody knows: the same answers and
	 * timing as a wrong password (403 after the challenge), so users cannot be probed. */
	static const char dummy[AUTH_HEX_MAX] = "0000000000000000000000000000000000000000000000000000000000000000";
	struct slice ha1 = { NULL, 0 };
	if (cred->alg < AUTH_ALG__COUNT && (algs & AUTH_ALG_BIT(cred->alg)))
		ha1 = q->urec ? q->urec->ha1[cred->alg] : (struct slice){ dummy, auth_alg_hexlen(cred->alg) };
	struct auth_verify_params vp = {
		.method = sip_msg_method(q->msg),
		.realm = realm,
		.binding = cred->has_opaque ? slice_from_cstr(cred->opaque) : (struct slice){ NULL, 0 },
		.ha1 = ha1,
		.body = sip_msg_body(q->msg),
		.now = (uint64_t)time(NULL),
		.allow_no_qop = false,
	};
	enum auth_result res = auth_verify(r->nonce, r->nc, cred, &vp);
	free(cred);
	switch (res) {
	case AUTH_OK:
		if (!q->urec) { /* only possible if the dummy matched: never */
			finish_log(q, 403, "Forbidden", "unknown user");
			return AUTHZ_DONE;
		}
		return AUTHZ_OK;
	case AUTH_WRONG:
		finish_log(q, 403, "Forbidden (wrong credentials)", q->urec ? "wrong password" : "unknown or disabled user");
		return AUTHZ_DONE;
	case AUTH_STALE:
		challenge(q, algs, true, "stale nonce");
		return AUTHZ_DONE;
	case AUTH_ALGORITHM:
		/* e.g. MD5 when disabled: refuse it by challenging again with what is allowed */
		challenge(q, algs, false, "algorithm not allowed");
		return AUTHZ_DONE;
	case AUTH_NONCE:
	case AUTH_REPLAY:
	case AUTH_REALM:
	case AUTH_NO_QOP:
		challenge(q, algs, false, auth_result_name(res));
		return AUTHZ_DONE;
	case AUTH_BAD:
	default:
		finish_log(q, 500, "Server Internal Error (digest)", "digest verification failed");
		return AUTHZ_DONE;
	}
}

/* Does the verified client certificate prove the AOR? A SAN URI whose AOR is ours (RFC 5922
 * 7.1 spirit, applied to users), or the user's configured cert_identity among its SAN URIs or
 * equal to its subject (the "mapping from subject to AOR"). */
static bool check_certificate(struct reg_req *q)
{
	const struct tls_peer_info *pi = q->peer;
	if (!q->cert_verified || !pi || !pi->cert_verified)
		return false;
	struct slice want = q->urec ? q->urec->cert_identity : (struct slice){ NULL, 0 };
	for (size_t i = 0; pi->san_uris && i < pi->san_uris->n; i++) {
		const char *s = pi->san_uris->v[i];
		struct sip_uri u;
		char aor[256];
		if (sip_uri_parse(&u, s, strlen(s)) == 0 && location_aor_of(&u, aor, sizeof(aor)) == 0 &&
		    strcmp(aor, q->aor) == 0) {
			snprintf(q->cert_id, sizeof(q->cert_id), "%s", s);
			return true;
		}
		if (want.len && slice_eq_cstr_ci(want, s)) {
			snprintf(q->cert_id, sizeof(q->cert_id), "%s", s);
			return true;
		}
	}
	if (want.len && pi->subject && slice_eq_cstr(want, pi->subject)) {
		snprintf(q->cert_id, sizeof(q->cert_id), "%s", pi->subject);
		return true;
	}
	return false;
}

static void user_done(int err, struct store_user *u, void *arg)
{
	struct reg_req *q = arg;
	struct registrar *r = q->r;
	if (err && err != ENOENT) {
		atomic_fetch_add(&r->n_store_errors, 1);
		mem_deref(u);
		log_err("registrar.store_failed", "aor=\"%s\" op=user_get err=%d", q->aor, err);
		static const struct slice ra[] = { SLICE_LIT("Retry-After: 5") };
		finish(q, 500, "Server Internal Error (store)", ra, 1);
		return;
	}
	if (!q->from_cache)
		reg_ucache_put(r->ucache, ucache_key(q), err ? NULL : u, time(NULL));
	bool disabled = !err && !u->enabled;
	if (!err && u->enabled)
		q->urec = u;
	else
		mem_deref(u);
	reg_users_note(r->users, q->aor, q->urec != NULL);
	if (q->proxy_auth) {
		/* RFC 3261 22.3: a proxy authenticates the caller with the same credentials. */
		if (check_digest(q) == AUTHZ_OK)
			finish(q, 0, NULL, NULL, 0);
		return;
	}
	if (q->auth == CONF_AUTH_CERTIFICATE || q->auth == CONF_AUTH_DIGEST_CERTIFICATE) {
		if (!check_certificate(q)) {
			finish_log(q, 403, "Forbidden (certificate does not match AOR)",
				   q->cert_verified ? "no certificate identity for this AOR" : "no verified client certificate");
			return;
		}
		if (disabled) {
			finish_log(q, 403, "Forbidden (user disabled)", "user disabled");
			return;
		}
	}
	/* digest: a disabled user takes the unknown user's path (challenge, then 403) */
	if (q->auth != CONF_AUTH_CERTIFICATE && check_digest(q) != AUTHZ_OK)
		return;
	aor_acquire(q);
}

/* ---- binding update (RFC 3261 10.3 steps 6-8, RFC 5626 6) ---- */

static bool same_key(const struct loc_binding *b, const struct sip_contact *c, struct slice inst, bool has_reg_id)
{
	if (inst.len || b->instance[0]) {
		/* RFC 5626 6 / RFC 5627: an instance's binding is keyed by (instance, reg-id) */
		return slice_eq_cstr(inst, b->instance) && has_reg_id == b->has_reg_id && (!has_reg_id || c->reg_id == b->reg_id);
	}
	struct sip_uri bu;
	/* RFC 3261 10.3 step 7: contacts compared with the URI equality of 19.1.4 */
	return sip_uri_parse(&bu, b->contact, strlen(b->contact)) == 0 && sip_uri_eq(&bu, &c->na.uri);
}

static int by_q_desc(const void *a, const void *b)
{
	const struct loc_binding *x = a, *y = b;
	if (x->q1000 != y->q1000)
		return x->q1000 > y->q1000 ? -1 : 1;
	return x->updated > y->updated ? -1 : x->updated < y->updated;
}

static void path_of(const struct sip_msg *m, char *buf, size_t sz)
{
	size_t off = 0;
	buf[0] = '\0';
	for (const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_PATH); h; h = sip_msg_hdr_next(m, h)) {
		int w = snprintf(buf + off, sz - off, "%s%.*s", off ? ", " : "", (int)h->value.len, h->value.p);
		if (w < 0 || (size_t)w >= sz - off) {
			buf[off] = '\0';
			return;
		}
		off += (size_t)w;
	}
}

static void store_done(int err, size_t nrows, void *arg)
{
	(void)nrows;
	struct reg_req *q = arg;
	struct registrar *r = q->r;
	if (err) {
		atomic_fetch_add(&r->n_store_errors, 1);
		log_err("registrar.store_failed", "aor=\"%s\" op=update err=%d", q->aor, err);
		static const struct slice ra[] = { SLICE_LIT("Retry-After: 5") };
		finish(q, 500, "Server Internal Error (store)", ra, 1);
		return;
	}
	/* The write is durable (store.h): only now may the proxy route to it and the UA hear 200. */
	if (location_replace(r->loc, q->aor, q->set, q->nset)) {
		finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
		return;
	}
	log_info("registrar.registered", "aor=\"%s\" bindings=%zu durable=1", q->aor, q->nset);
	/* Expiries as granted when the set was computed (RFC 3261 10.3 step 8): counted from the
	 * commit's end, a commit that crosses a second would answer 3599 for an Expires of 3600. */
	reply_ok(q, q->set, q->nset, q->applied);
}

/* fresh: the AOR had no live binding before this REGISTER; gone[ngone]: bindings it had and
 * this REGISTER removed (expires 0, or replaced beyond max_contacts). */
static void commit(struct reg_req *q, time_t now, bool fresh, const struct loc_binding *gone, size_t ngone)
{
	struct registrar *r = q->r;
	q->applied = now;
	if (!r->durable) {
		if (location_replace(r->loc, q->aor, q->set, q->nset)) {
			finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
			return;
		}
		log_info("registrar.registered", "aor=\"%s\" bindings=%zu durable=0", q->aor, q->nset);
		reply_ok(q, q->set, q->nset, now);
		return;
	}
	/* Only the difference reaches the store, in one transaction group-committed with other
	 * REGISTERs: the bindings this REGISTER added or refreshed, and the old ones it removed. A
	 * phone that came back on a new connection leaves its old contact untouched until expiry,
	 * and rewriting those on every refresh made each registration cost more than the last.
	 * What this REGISTER wrote carries updated == now (an untouched binding refreshed earlier
	 * in the same second is written again unchanged, which is harmless). */
	size_t n = q->nset, cap = n + ngone;
	/* every entry used is filled by reg_binding_to_store */
	struct store_binding *sb = malloc((cap ? cap : 1) * sizeof(*sb));
	const struct store_binding **pv = malloc((cap ? cap : 1) * sizeof(*pv));
	char *rbuf = malloc((cap ? cap : 1) * REG_RECV_MAX);
	int err = sb && pv && rbuf ? 0 : ENOMEM;
	size_t nput = 0, ndel = 0;
	for (size_t i = 0; !err && i < n; i++) {
		if (!fresh && q->set[i].updated != now)
			continue;
		reg_binding_to_store(&q->set[i], &sb[nput], rbuf + nput * REG_RECV_MAX, REG_RECV_MAX);
		pv[nput] = &sb[nput];
		nput++;
	}
	const struct store_binding **dv = pv + nput;
	for (size_t i = 0; !err && !fresh && i < ngone; i++) {
		size_t k = nput + ndel;
		reg_binding_to_store(&gone[i], &sb[k], rbuf + k * REG_RECV_MAX, REG_RECV_MAX);
		dv[ndel++] = &sb[k];
	}
	if (!err && n == 0) /* Contact: * or the last binding removed: nothing stays (stale rows neither) */
		err = store_binding_del_aor_async(q->client, slice_from_cstr(q->aor), store_done, q);
	else if (!err && fresh) /* also clears rows that expired but were not purged yet */
		err = store_binding_write_async(q->client, slice_from_cstr(q->aor), true, NULL, 0, pv, nput, store_done, q);
	else if (!err && nput + ndel)
		err = store_binding_write_async(q->client, slice_from_cstr(q->aor), false, ndel ? dv : NULL, ndel,
						nput ? pv : NULL, nput, store_done, q);
	else if (!err)
		store_done(0, 0, q); /* nothing changed: nothing to make durable */
	free(sb);
	free(pv);
	free(rbuf);
	if (err) {
		atomic_fetch_add(&r->n_store_errors, 1);
		log_err("registrar.store_failed", "aor=\"%s\" op=submit err=%d", q->aor, err);
		static const struct slice ra[] = { SLICE_LIT("Retry-After: 5") };
		if (err == EAGAIN)
			finish(q, 503, "Service Unavailable (store busy)", ra, 1);
		else
			finish(q, 500, "Server Internal Error (store)", ra, 1);
	}
}

/* Keeps a copy of a removed binding for the store's delete (durable only); false on ENOMEM. */
static bool gone_add(const struct registrar *r, struct loc_binding **gone, size_t *ngone, size_t cap,
		     const struct loc_binding *b)
{
	if (!r->durable)
		return true;
	if (!*gone && !(*gone = malloc((cap ? cap : 1) * sizeof(**gone))))
		return false;
	if (*ngone < cap)
		(*gone)[(*ngone)++] = *b;
	return true;
}

static void apply(struct reg_req *q)
{
	struct registrar *r = q->r;
	const struct conf_registrar *rc = &r->conf->registrar;
	struct sip_msg *m = q->msg;
	time_t now = time(NULL);

	/* Sized to what this AOR and request need: a worst-case (64 + 64 bindings) calloc per
	 * REGISTER is ~300 KB of fresh pages, which measurably dominated the CPU per registration. */
	struct sip_hdr_iter it;
	struct sip_contact tmp;
	size_t ncontacts = 0;
	int e;
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	while (ncontacts <= REG_MAX_CONTACTS && (e = sip_hdr_iter_contact(&it, &tmp)) == 0)
		ncontacts++;
	size_t ncur = location_lookup(r->loc, q->aor, now, NULL, 0); /* only counts */
	if (ncur > LOC_MAX_BINDINGS_PER_AOR)
		ncur = LOC_MAX_BINDINGS_PER_AOR;
	size_t ccap = ncontacts > REG_MAX_CONTACTS ? REG_MAX_CONTACTS : ncontacts;
	size_t cap = ncur + ccap + 1;
	struct sip_contact *cs = calloc(ccap + 1, sizeof(*cs));
	struct loc_binding *set = malloc(cap * sizeof(*set)); /* each entry is written before use */
	bool *touched = calloc(cap, sizeof(*touched));
	if (!cs || !set || !touched) {
		free(cs);
		free(set);
		free(touched);
		finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
		return;
	}
	uint16_t status = 0;
	const char *reason = NULL, *why = NULL;
	struct loc_binding *gone = NULL; /* bindings of the AOR this REGISTER removes (for the store) */
	size_t ngone = 0;
	size_t nc = 0;
	bool star = false;
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	while (nc < ccap && (e = sip_hdr_iter_contact(&it, &cs[nc])) == 0)
		star |= cs[nc++].star;
	if (nc == ccap)
		e = sip_hdr_iter_contact(&it, &tmp);
	if (e == EBADMSG) {
		status = 400, reason = "Bad Request (malformed Contact)", why = "malformed Contact";
		goto out;
	}
	if (e == 0) {
		status = 403, reason = "Forbidden (too many contacts)", why = "too many Contact values";
		goto out;
	}
	uint32_t hexp = 0;
	bool has_hexp = false;
	e = sip_msg_expires(m, &hexp);
	if (e == 0 || e == EOVERFLOW) {
		has_hexp = true;
		if (e == EOVERFLOW)
			hexp = UINT32_MAX; /* RFC 3261 20.19: treat as the largest value */
	} else if (e != ENOENT) {
		status = 400, reason = "Bad Request (malformed Expires)", why = "malformed Expires";
		goto out;
	}
	struct slice cid = sip_msg_call_id(m);
	const struct sip_cseq *cseq = sip_msg_cseq(m);
	uint32_t cseqn = cseq ? cseq->num : 0;
	if (cid.len >= sizeof(set->call_id)) {
		status = 400, reason = "Bad Request (Call-ID too long)", why = "Call-ID too long";
		goto out;
	}

	/* the AOR is ours (aor_acquire), so only the purge can have shrunk it since */
	size_t n = location_lookup(r->loc, q->aor, now, set, ncur);
	if (n > ncur)
		n = ncur;
	bool fresh = n == 0;

	if (nc == 0) {
		/* RFC 3261 10.2.3: no Contact -- just list the bindings */
		free(cs);
		free(touched);
		q->set = set;
		q->nset = n;
		reply_ok(q, set, n, now);
		return;
	}

	if (star) {
		/* RFC 3261 10.3 step 6: "*" only alone and with Expires: 0 */
		if (nc != 1 || !has_hexp || hexp != 0) {
			status = 400, reason = "Bad Request (Contact: * needs Expires: 0 and no other Contact)",
			why = "bad wildcard";
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			if (slice_eq_cstr(cid, set[i].call_id) && cseqn <= set[i].cseq) {
				status = 400, reason = "Bad Request (CSeq not above the binding's for this Call-ID)",
				why = "out-of-order CSeq";
				goto out;
			}
		}
		n = 0;
	} else {
		/* RFC 5626 6: reg-id counts only when the UA supports outbound, and then only one
		 * Contact may carry it. */
		bool outbound = sip_msg_has_option(m, SIP_HDR_SUPPORTED, "outbound");
		ncur = n;
		size_t nregid = 0;
		for (size_t i = 0; i < nc; i++)
			nregid += outbound && cs[i].has_reg_id && cs[i].instance.len;
		if (nregid > 1) {
			status = 400, reason = "Bad Request (more than one Contact with reg-id)", why = "several reg-id";
			goto out;
		}
		q->require_outbound = nregid == 1;
		char path[sizeof(set->path)];
		path_of(m, path, sizeof(path));
		const struct sip_hdr *uah = sip_msg_hdr(m, SIP_HDR_USER_AGENT);
		for (size_t i = 0; i < nc; i++) {
			const struct sip_contact *c = &cs[i];
			uint32_t exp = c->has_expires ? c->expires : has_hexp ? hexp : rc->default_expires;
			if (exp != 0 && exp < rc->min_expires) {
				status = 423; /* RFC 3261 10.3 step 7 */
				goto out;
			}
			if (exp > rc->max_expires)
				exp = rc->max_expires;
			struct slice inst = c->instance;
			bool has_reg_id = outbound && c->has_reg_id && inst.len && c->reg_id != 0;
			if (c->na.uri.whole.len >= sizeof(set->contact) || inst.len >= sizeof(set->instance)) {
				status = 400, reason = "Bad Request (Contact too long)", why = "Contact too long";
				goto out;
			}
			size_t k = 0;
			while (k < n && !same_key(&set[k], c, inst, has_reg_id))
				k++;
			if (k < n && !touched[k] && k < ncur && slice_eq_cstr(cid, set[k].call_id) && cseqn <= set[k].cseq) {
				/* RFC 3261 10.3 step 7: same Call-ID, CSeq not higher -> abort the update */
				status = 400, reason = "Bad Request (CSeq not above the binding's for this Call-ID)",
				why = "out-of-order CSeq";
				goto out;
			}
			if (k == n) {
				if (exp == 0)
					continue; /* removing what is not there */
				n++;
			}
			struct loc_binding *b = &set[k];
			memset(b, 0, sizeof(*b));
			touched[k] = true;
			slice_copy(slice_from_cstr(q->aor), b->aor, sizeof(b->aor));
			slice_copy(c->na.uri.whole, b->contact, sizeof(b->contact));
			b->expires_at = exp ? now + (time_t)exp : 0; /* 0: removed below */
			b->q1000 = c->q1000 > 1000 ? 1000 : c->q1000;
			slice_copy(cid, b->call_id, sizeof(b->call_id));
			b->cseq = cseqn;
			slice_copy(inst, b->instance, sizeof(b->instance));
			b->has_reg_id = has_reg_id;
			b->reg_id = has_reg_id ? c->reg_id : 0;
			slice_copy(slice_from_cstr(path), b->path, sizeof(b->path));
			if (uah)
				slice_copy(uah->value, b->user_agent, sizeof(b->user_agent));
			b->transport = q->transport;
			/* the flow it came on (RFC 5626 5.2): requests go back down this connection */
			b->conn_id = q->transport == CONF_TP_UDP ? 0 : q->conn_id;
			b->received = q->remote;
			slice_copy(slice_from_cstr(q->cert_id), b->cert_identity, sizeof(b->cert_identity));
			b->updated = now;
		}
		/* drop removals (expires 0), keeping touched[] aligned; set[0, ncur) are the bindings
		 * the AOR had, the store's to delete (one added and removed again by this same
		 * REGISTER never reached it) */
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (set[i].expires_at == 0) {
				if (i < ncur && !gone_add(r, &gone, &ngone, ncur, &set[i])) {
					status = 500, reason = "Server Internal Error (out of memory)", why = "out of memory";
					goto out;
				}
				continue;
			}
			if (w != i) {
				touched[w] = touched[i];
				set[w] = set[i];
			}
			w++;
		}
		n = w;
		if (n > rc->max_contacts) {
			size_t added = 0;
			for (size_t i = 0; i < n; i++)
				added += touched[i];
			if (rc->contacts_overflow == CONF_OVERFLOW_REJECT || added > rc->max_contacts) {
				status = 403, reason = "Forbidden (too many contacts for this AOR)", why = "max_contacts";
				goto out;
			}
			/* replace: drop the least recently refreshed bindings this REGISTER did not touch */
			while (n > rc->max_contacts) {
				size_t old = n;
				for (size_t i = 0; i < n; i++)
					if (!touched[i] && (old == n || set[i].updated < set[old].updated))
						old = i;
				if (old == n)
					break;
				/* untouched, so one the AOR had */
				if (!gone_add(r, &gone, &ngone, ncur, &set[old])) {
					status = 500, reason = "Server Internal Error (out of memory)", why = "out of memory";
					goto out;
				}
				memmove(&set[old], &set[old + 1], (n - old - 1) * sizeof(*set));
				memmove(&touched[old], &touched[old + 1], (n - old - 1) * sizeof(*touched));
				n--;
			}
		}
	}
	free(cs);
	free(touched);
	qsort(set, n, sizeof(*set), by_q_desc); /* the 200 lists them in routing order */
	q->set = set;
	q->nset = n;
	commit(q, now, fresh, gone, ngone);
	free(gone);
	return;
out:
	free(cs);
	free(set);
	free(touched);
	free(gone);
	if (status == 423) {
		char mx[48];
		snprintf(mx, sizeof(mx), "Min-Expires: %u", rc->min_expires);
		struct slice ex[] = { slice_from_cstr(mx) };
		log_info("registrar.too_brief", "aor=\"%s\" min_expires=%u", q->aor, rc->min_expires);
		finish(q, 423, NULL, ex, 1);
		return;
	}
	finish_log(q, status, reason, why);
}

/* ---- entry point ---- */

/* A fresh cached record answers at once, on this worker, without a store round trip. */
static bool user_lookup_cached(struct reg_req *q)
{
	struct store_user *u = NULL;
	if (!reg_ucache_get(q->r->ucache, ucache_key(q), time(NULL), &u))
		return false;
	q->from_cache = true;
	user_done(u ? 0 : ENOENT, u, q);
	return true;
}

/* A request context on the calling worker's loop, or NULL with *err set. */
static struct reg_req *req_start(struct registrar *r, struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply,
				 void *reply_arg, int *err)
{
	*err = EINVAL;
	if (!r || !req || !o || !reply)
		return NULL;
	void *loop = r->loop_self();
	if (!loop)
		return NULL;
	*err = ENOMEM;
	struct store_client *c = client_for(r, loop);
	struct reg_req *q = c ? calloc(1, sizeof(*q)) : NULL;
	if (!q)
		return NULL;
	q->r = r;
	q->msg = mem_ref(req);
	q->reply = reply;
	q->reply_arg = reply_arg;
	q->loop = loop;
	q->client = c;
	q->transport = o->transport;
	q->conn_id = o->conn_id;
	q->remote = o->remote;
	q->auth = o->auth;
	q->cert_verified = o->cert_verified;
	q->peer = mem_ref((void *)o->peer);
	snprintf(q->aor, sizeof(q->aor), "-");
	*err = 0;
	return q;
}

/* Splits q->aor ("sip:user@domain") into q->user and q->domain; false without a user part. */
static bool split_aor(struct reg_req *q)
{
	const char *at = strchr(q->aor + 4, '@');
	if (!at || at == q->aor + 4 || (size_t)(at - (q->aor + 4)) > AUTH_USERNAME_MAX)
		return false;
	memcpy(q->user, q->aor + 4, (size_t)(at - (q->aor + 4)));
	q->user[at - (q->aor + 4)] = '\0';
	slice_copy(slice_from_cstr(at + 1), q->domain, sizeof(q->domain));
	return true;
}

/* A malformed (Proxy-)Authorization is answered 400 before any store work (RFC 3261 22.4 /
 * RFC 7616 3.4: the grammar is the client's fault, with the reason phrase saying what). */
static bool credentials_parse(struct reg_req *q, enum sip_hdr_id hid, const char *label)
{
	const struct sip_hdr *first = sip_msg_hdr(q->msg, hid);
	if (!first)
		return true;
	struct auth_cred *cred = malloc(sizeof(*cred));
	if (!cred) {
		finish(q, 500, "Server Internal Error (out of memory)", NULL, 0);
		return false;
	}
	for (const struct sip_hdr *h = first; h; h = sip_msg_hdr_next(q->msg, h)) {
		enum auth_err why = AUTH_ERR_NONE;
		if (auth_cred_parse(h->value, cred, &why)) {
			free(cred);
			char reason[96];
			snprintf(reason, sizeof(reason), "Bad Request (%s: %s)", label, auth_err_reason(why));
			finish_log(q, 400, reason, auth_err_reason(why));
			return false;
		}
	}
	if (sip_msg_hdr_next(q->msg, first))
		free(cred); /* several: find_cred picks the one for our realm once the realm is known */
	else
		q->cred = cred;
	return true;
}

/* The user record, from the short-lived cache or the store; user_done() continues. */
static void user_lookup(struct reg_req *q)
{
	if (user_lookup_cached(q))
		return;
	int err = store_user_get_async(q->client, slice_from_cstr(q->user), slice_from_cstr(q->domain), user_done, q);
	if (err) {
		atomic_fetch_add(&q->r->n_store_errors, 1);
		static const struct slice ra[] = { SLICE_LIT("Retry-After: 5") };
		finish(q, err == EAGAIN ? 503 : 500, err == EAGAIN ? "Service Unavailable (store busy)" : "Server Internal Error (store)",
		       ra, 1);
	}
}

int registrar_handle(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg, void *arg)
{
	struct registrar *r = arg;
	int err;
	struct reg_req *q = req_start(r, req, o, reply, reply_arg, &err);
	if (!q)
		return err;
	atomic_fetch_add(&r->n_requests, 1);

	/* RFC 3261 10.3 step 1: a domain we serve */
	const struct sip_uri *ruri = sip_msg_ruri(req);
	if (!ruri || (ruri->scheme != SIP_URI_SIP && ruri->scheme != SIP_URI_SIPS)) {
		finish_log(q, 416, NULL, "Request-URI not sip/sips");
		return 0;
	}
	if (!domain_is_ours(r->conf, ruri->host)) {
		finish_log(q, 404, "Domain not served here", "Request-URI domain not ours");
		return 0;
	}
	/* Step 5 (done first: the AOR names the user to challenge): To is a sip/sips AOR in one of
	 * our domains (RFC 4475 3.3.4: other schemes -> 400). */
	const struct sip_nameaddr *to = sip_msg_to(req);
	if (!to || (to->uri.scheme != SIP_URI_SIP && to->uri.scheme != SIP_URI_SIPS) ||
	    location_aor_of(&to->uri, q->aor, sizeof(q->aor))) {
		finish_log(q, 400, "Bad Request (To must be a sip or sips AOR)", "bad To URI");
		return 0;
	}
	if (!domain_is_ours(r->conf, to->uri.host)) {
		finish_log(q, 404, "Not Found (AOR not in a domain served here)", "To domain not ours");
		return 0;
	}
	if (!split_aor(q)) {
		finish_log(q, 404, "Not Found (AOR without user)", "AOR without user part");
		return 0;
	}
	if (q->auth != CONF_AUTH_CERTIFICATE && !credentials_parse(q, SIP_HDR_AUTHORIZATION, "Authorization"))
		return 0;
	user_lookup(q);
	return 0;
}

int registrar_authorize(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg,
			void *arg)
{
	struct registrar *r = arg;
	int err;
	struct reg_req *q = req_start(r, req, o, reply, reply_arg, &err);
	if (!q)
		return err;
	q->auth = CONF_AUTH_DIGEST;
	q->proxy_auth = true;
	/* The caller is who From names: one of our users (RFC 3261 22.3). */
	const struct sip_nameaddr *from = sip_msg_from(req);
	if (!from || location_aor_of(&from->uri, q->aor, sizeof(q->aor)) || !domain_is_ours(r->conf, from->uri.host)) {
		finish_log(q, 403, "Forbidden (caller is not a user of this domain)", "From not ours");
		return 0;
	}
	if (!split_aor(q)) {
		finish_log(q, 403, "Forbidden (From without user)", "From without user part");
		return 0;
	}
	if (credentials_parse(q, SIP_HDR_PROXY_AUTHORIZATION, "Proxy-Authorization"))
		user_lookup(q);
	return 0;
}

bool registrar_user_known(const char *aor, void *arg)
{
	struct registrar *r = arg;
	return r && aor && reg_users_has(r->users, aor);
}

/* The bindings a purge took out of the location service, as store keys. */
struct purged {
	struct store_binding **v;
	size_t n, cap;
	bool incomplete; /* out of memory: fall back to the full scan */
};

static void purged_add(const struct loc_binding *b, void *arg)
{
	struct purged *p = arg;
	if (p->incomplete)
		return;
	if (p->n == p->cap) {
		size_t ncap = p->cap ? 2 * p->cap : 64;
		struct store_binding **nv = realloc(p->v, ncap * sizeof(*nv));
		if (!nv) {
			p->incomplete = true;
			return;
		}
		p->v = nv;
		p->cap = ncap;
	}
	char rbuf[REG_RECV_MAX];
	struct store_binding sb;
	reg_binding_to_store(b, &sb, rbuf, sizeof(rbuf));
	if (!(p->v[p->n] = store_binding_dup(&sb)))
		p->incomplete = true;
	else
		p->n++;
}

size_t registrar_purge(struct registrar *r, time_t now)
{
	struct purged p = { 0 };
	size_t n = location_purge(r->loc, now, r->durable ? purged_add : NULL, &p);
	if (r->durable) {
		/* Every binding in the store is also in the location service (the registrar writes
		 * both; start-up loads the live ones after a full expire), so deleting what the
		 * location service dropped keeps the store clean without scanning it. */
		size_t sn = 0;
		int err = p.incomplete ? store_binding_expire(r->store, (int64_t)now, &sn)
				       : store_binding_expire_keys(r->store, (const struct store_binding *const *)p.v, p.n,
								   (int64_t)now, &sn);
		if (err)
			log_warn("registrar.purge_failed", "err=%d bindings=%zu", err, p.n);
		else if (sn)
			log_debug("registrar.purged_store", "bindings=%zu", sn);
	}
	for (size_t i = 0; i < p.n; i++)
		mem_deref(p.v[i]);
	free(p.v);
	if (n)
		log_info("registrar.purged", "bindings=%zu", n);
	return n;
}

int registrar_users_refresh(struct registrar *r)
{
	int err = reg_users_load(r->users, r->store);
	if (err)
		log_warn("registrar.users_refresh_failed", "err=%d", err);
	return err;
}

void registrar_stats_get(struct registrar *r, struct registrar_stats *st)
{
	st->requests = atomic_load(&r->n_requests);
	st->ok = atomic_load(&r->n_ok);
	st->challenged = atomic_load(&r->n_challenged);
	st->forbidden = atomic_load(&r->n_forbidden);
	st->bad = atomic_load(&r->n_bad);
	st->too_brief = atomic_load(&r->n_too_brief);
	st->store_errors = atomic_load(&r->n_store_errors);
}

/* ---- purge thread ----
 * A thread of its own rather than a timer on a worker loop: the purge and the user refresh use
 * the store's synchronous API (the expire of many rows, the full user list), which would stall
 * that worker's connections for the duration. */
static void *purge_main(void *arg)
{
	struct registrar *r = arg;
	unsigned interval = r->conf->registrar.purge_interval ? r->conf->registrar.purge_interval : 30;
	pthread_mutex_lock(&r->purge_mtx);
	while (!r->stopping) {
		struct timespec dl;
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_sec += interval;
		while (!r->stopping && pthread_cond_timedwait(&r->purge_cond, &r->purge_mtx, &dl) != ETIMEDOUT)
			;
		if (r->stopping)
			break;
		pthread_mutex_unlock(&r->purge_mtx);
		registrar_purge(r, time(NULL));
		registrar_users_refresh(r);
		reg_ucache_purge(r->ucache, time(NULL));
		pthread_mutex_lock(&r->purge_mtx);
	}
	pthread_mutex_unlock(&r->purge_mtx);
	return NULL;
}

void registrar_close(struct registrar *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->purge_mtx);
	r->stopping = true;
	pthread_cond_broadcast(&r->purge_cond);
	bool join = r->purge_running;
	r->purge_running = false;
	pthread_mutex_unlock(&r->purge_mtx);
	if (join)
		pthread_join(r->purge_th, NULL);
}

static void registrar_destroy(void *data)
{
	struct registrar *r = data;
	registrar_close(r);
	for (size_t i = 0; i < r->nclients; i++)
		mem_deref(r->clients[i].c);
	for (size_t i = 0; i < REG_BUSY_BUCKETS; i++) {
		while (r->busy[i]) {
			struct busy *b = r->busy[i];
			r->busy[i] = b->next;
			free(b);
		}
	}
	mem_deref(r->nc);
	mem_deref(r->nonce);
	mem_deref(r->users);
	mem_deref(r->ucache);
	mem_deref(r->loc);
	mem_deref(r->store);
	mem_deref((void *)r->conf);
	pthread_mutex_destroy(&r->mtx);
	pthread_mutex_destroy(&r->purge_mtx);
	pthread_cond_destroy(&r->purge_cond);
}

int registrar_alloc(struct registrar **rp, const struct registrar_settings *s)
{
	if (!rp || !s || !s->conf || !s->store || !s->location)
		return EINVAL;
	struct registrar *r = mem_zalloc(sizeof(*r), registrar_destroy);
	if (!r)
		return ENOMEM;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_mutex_init(&r->purge_mtx, NULL);
	pthread_cond_init(&r->purge_cond, NULL);
	r->conf = mem_ref((void *)s->conf);
	r->store = mem_ref(s->store);
	r->loc = mem_ref(s->location);
	r->loop_self = s->loop_self ? s->loop_self : tp_self;
	r->post = s->post ? s->post : tp_post;
	r->durable = s->conf->registrar.durable;
	/* distinct opaques across restarts too (the nonce secret changes anyway) */
	atomic_store(&r->opaque_ctr, (uint64_t)time(NULL) << 24);
	const char *realm = s->conf->registrar.realm;
	if (!realm || !realm[0])
		realm = s->conf->global.domains.n ? s->conf->global.domains.v[0] : "sipsd";
	snprintf(r->realm, sizeof(r->realm), "%s", realm);
	unsigned life = s->conf->registrar.nonce_lifetime ? s->conf->registrar.nonce_lifetime : 300;
	int err = auth_nonce_ctx_alloc(&r->nonce, life);
	if (!err && s->nonce_secret)
		err = auth_nonce_ctx_set_secret(r->nonce, s->nonce_secret, s->nonce_secret_len);
	/* locked: nonces are not bound to a connection, so a replay may arrive on any worker */
	if (!err)
		err = auth_nc_table_alloc(&r->nc, REG_NC_ENTRIES, life, true);
	if (!err)
		err = reg_users_alloc(&r->users);
	if (!err && !(r->ucache = reg_ucache_alloc(s->user_cache_ttl)))
		err = ENOMEM;
	if (!err) {
		err = reg_users_load(r->users, r->store);
		if (err)
			log_err("registrar.users_load_failed", "err=%d", err);
	}
	size_t loaded = 0;
	if (!err && r->durable) {
		/* the one full scan: rows that expired while we were down (registrar_purge then
		 * deletes by key what the location service drops) */
		time_t now = time(NULL);
		size_t gone = 0;
		int e = store_binding_expire(r->store, (int64_t)now, &gone);
		if (e)
			log_warn("registrar.purge_failed", "err=%d at=start", e);
		else if (gone)
			log_info("registrar.purged_store", "bindings=%zu at=start", gone);
		err = reg_load_bindings(r->store, r->loc, now, &loaded);
		if (err)
			log_err("registrar.bindings_load_failed", "err=%d", err);
	}
	if (!err && !s->no_purge_thread) {
		if (pthread_create(&r->purge_th, NULL, purge_main, r) == 0)
			r->purge_running = true;
		else
			err = EAGAIN;
	}
	if (err) {
		mem_deref(r);
		return err;
	}
	log_info("registrar.started", "realm=\"%s\" users=%zu bindings=%zu durable=%d md5=%d", r->realm,
		 reg_users_count(r->users), loaded, r->durable, s->conf->registrar.md5);
	*rp = r;
	return 0;
}
