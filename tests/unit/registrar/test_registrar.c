/* Registrar over the mem store with a fake event loop: REGISTER bytes in, reply (status, reason,
 * header lines) out, location service and store inspected after. Digest answers are computed
 * here with the auth maths, as a phone would. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth/digest.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "registrar/internal.h"
#include "registrar/location.h"
#include "registrar/registrar.h"
#include "sip/msg.h"
#include "store/store.h"
#include "tls/ident.h"

/* ---- fake loop: a queue drained by the test thread ---- */

struct item {
	void (*fn)(void *);
	void *arg;
};
static struct item Q[4096];
static size_t QN;
static pthread_mutex_t QM = PTHREAD_MUTEX_INITIALIZER;
static int LOOP;

static void *fake_self(void)
{
	return &LOOP;
}

static void fake_post(void *loop, void (*fn)(void *), void *arg)
{
	assert_ptr_equal(loop, &LOOP);
	pthread_mutex_lock(&QM);
	assert_true(QN < sizeof(Q) / sizeof(Q[0]));
	Q[QN++] = (struct item){ fn, arg };
	pthread_mutex_unlock(&QM);
}

/* Set by a test: each posted callback runs in a later second than the step before it, as when
 * a store commit ends after the clock ticked. */
static bool SLOW_DRAIN;

static void drain(void)
{
	time_t last = time(NULL);
	for (;;) {
		pthread_mutex_lock(&QM);
		if (!QN) {
			pthread_mutex_unlock(&QM);
			return;
		}
		struct item it = Q[0];
		memmove(Q, Q + 1, (QN - 1) * sizeof(Q[0]));
		QN--;
		pthread_mutex_unlock(&QM);
		while (SLOW_DRAIN && time(NULL) == last)
			usleep(10000);
		it.fn(it.arg);
		last = time(NULL);
	}
}

/* ---- fixture ---- */

struct fx {
	struct conf *conf;
	struct store *s;
	struct location *loc;
	struct registrar *r;
	unsigned branch;
};

static const char *const BASE_CONF = "[global]\ndomains = example.com, example.org\n[registrar]\nmin_expires = 60\n"
				     "max_expires = 3600\ndefault_expires = 1800\n";

static void fx_setup(struct fx *f, const char *extra)
{
	memset(f, 0, sizeof(*f));
	char text[2048];
	snprintf(text, sizeof(text), "%s%s", BASE_CONF, extra ? extra : "");
	struct conf_error err;
	int e = conf_load_string("/tmp/registrar-test.conf", text, &f->conf, &err);
	if (e)
		conf_error_print(&err, stderr);
	assert_int_equal(e, 0);
	struct store_opts so = { .backend = STORE_BACKEND_MEM };
	assert_int_equal(store_open(&f->s, &so), 0);
	assert_int_equal(location_alloc(&f->loc), 0);
}

static void fx_start(struct fx *f)
{
	struct registrar_settings rs = {
		.conf = f->conf,
		.store = f->s,
		.location = f->loc,
		.loop_self = fake_self,
		.post = fake_post,
		.no_purge_thread = true,
	};
	assert_int_equal(registrar_alloc(&f->r, &rs), 0);
}

static void fx_free(struct fx *f)
{
	drain();
	registrar_close(f->r);
	f->r = mem_deref(f->r);
	store_close(f->s);
	drain();
	mem_deref(f->s);
	mem_deref(f->loc);
	mem_deref(f->conf);
}

static void add_user(struct fx *f, const char *user, const char *domain, const char *pw, unsigned algs,
		     const char *cert_identity)
{
	char ha1[STORE_HA1_COUNT][AUTH_HEX_MAX];
	struct store_user u = {
		.user = slice_from_cstr(user),
		.domain = slice_from_cstr(domain),
		.realm = slice_from_cstr(domain),
		.enabled = true,
		.cert_identity = slice_from_cstr(cert_identity ? cert_identity : ""),
		.updated = time(NULL),
	};
	for (int a = 0; a < AUTH_ALG__COUNT; a++) {
		if (!(algs & AUTH_ALG_BIT(a)))
			continue;
		assert_int_equal(auth_ha1((enum auth_alg)a, u.user, u.realm, slice_from_cstr(pw), ha1[a]), 0);
		u.ha1[a] = slice_from_cstr(ha1[a]);
	}
	assert_int_equal(store_user_put(f->s, &u), 0);
}

/* ---- requests and replies ---- */

struct rep {
	int called;
	uint16_t status;
	char reason[160];
	char hdrs[16384]; /* extra header lines, each ending in \n */
};

static void rep_h(uint16_t status, const char *reason, const struct slice *extra, size_t n, void *arg)
{
	struct rep *r = arg;
	r->called++;
	r->status = status;
	snprintf(r->reason, sizeof(r->reason), "%s", reason ? reason : "");
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		int w = snprintf(r->hdrs + off, sizeof(r->hdrs) - off, "%.*s\n", (int)extra[i].len, extra[i].p);
		assert_true(w > 0 && (size_t)w < sizeof(r->hdrs) - off);
		off += (size_t)w;
	}
}

struct req {
	const char *user;       /* To/From user, default alice */
	const char *domain;     /* default example.com */
	const char *ruri;       /* default sip:example.com */
	const char *to_uri;     /* default sip:user@domain */
	const char *call_id;    /* default "cid-1" */
	unsigned cseq;
	const char *hdrs;       /* Contact:, Expires:, ... lines each ending in \r\n */
	const char *auth;       /* full Authorization line ending in \r\n, or NULL */
};

static struct reg_origin origin_tls(uint64_t conn_id)
{
	struct reg_origin o = { .iface = "main", .transport = CONF_TP_TLS, .conn_id = conn_id, .auth = CONF_AUTH_DIGEST };
	tp_addr_from_host_port(&o.remote, "192.0.2.10", 40000);
	return o;
}

static void send_req(struct fx *f, const struct req *rq, const struct reg_origin *o, struct rep *out)
{
	const char *user = rq->user ? rq->user : "alice";
	const char *dom = rq->domain ? rq->domain : "example.com";
	char to[256];
	if (rq->to_uri)
		snprintf(to, sizeof(to), "%s", rq->to_uri);
	else
		snprintf(to, sizeof(to), "sip:%s@%s", user, dom);
	char buf[16384];
	int n = snprintf(buf, sizeof(buf),
			 "REGISTER %s SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.10:40000;branch=z9hG4bK%u\r\n"
			 "Max-Forwards: 70\r\nFrom: <%s>;tag=ft\r\nTo: <%s>\r\nCall-ID: %s\r\nCSeq: %u REGISTER\r\n"
			 "%s%sContent-Length: 0\r\n\r\n",
			 rq->ruri ? rq->ruri : "sip:example.com", ++f->branch, to, to, rq->call_id ? rq->call_id : "cid-1",
			 rq->cseq ? rq->cseq : 1, rq->hdrs ? rq->hdrs : "", rq->auth ? rq->auth : "");
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	int e = sip_msg_parse(buf, (size_t)n, NULL, 0, &m, &v);
	if (e)
		fprintf(stderr, "parse failed: %d %s\n%s", e, v.reason ? v.reason : "", buf);
	assert_int_equal(e, 0);
	memset(out, 0, sizeof(*out));
	assert_int_equal(registrar_handle(m, o, rep_h, out, f->r), 0);
	mem_deref(m); /* the registrar holds its own reference while it waits */
	drain();
	assert_int_equal(out->called, 1);
}

/* Value of param in the first header line of hdrs starting with prefix and containing
 * "algorithm=<alg>," (alg NULL: first such line). */
static bool chal_param(const char *hdrs, const char *alg, const char *param, char *val, size_t sz)
{
	const char *p = hdrs;
	while ((p = strstr(p, "WWW-Authenticate: Digest ")) != NULL) {
		const char *eol = strchr(p, '\n');
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(eol - p), p);
		p = eol;
		char want[64];
		snprintf(want, sizeof(want), "algorithm=%s,", alg ? alg : "");
		if (alg && !strstr(line, want))
			continue;
		char key[64];
		snprintf(key, sizeof(key), "%s=", param);
		const char *k = strstr(line, key);
		if (!k)
			return false;
		k += strlen(key);
		bool quoted = *k == '"';
		k += quoted;
		size_t n = strcspn(k, quoted ? "\"" : ",");
		snprintf(val, sz, "%.*s", (int)n, k);
		return true;
	}
	return false;
}

static int count_lines(const char *hdrs, const char *prefix)
{
	int n = 0;
	for (const char *p = hdrs; (p = strstr(p, prefix)) != NULL; p++)
		n++;
	return n;
}

/* Authorization line answering the 401 in chal with alg ("SHA-256"...). */
static void make_auth(const struct rep *chal, const char *alg, const char *user, const char *pw, const char *uri,
		      char *out, size_t sz)
{
	char nonce[128], realm[128], opaque[64];
	assert_true(chal_param(chal->hdrs, alg, "nonce", nonce, sizeof(nonce)));
	assert_true(chal_param(chal->hdrs, alg, "opaque", opaque, sizeof(opaque)));
	assert_true(chal_param(chal->hdrs, alg, "realm", realm, sizeof(realm)));
	enum auth_alg a;
	bool sess;
	assert_int_equal(auth_alg_parse(slice_from_cstr(alg), &a, &sess), 0);
	char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
	assert_int_equal(auth_ha1(a, slice_from_cstr(user), slice_from_cstr(realm), slice_from_cstr(pw), ha1), 0);
	struct auth_digest_in in = {
		.alg = a,
		.ha1 = slice_from_cstr(ha1),
		.nonce = slice_from_cstr(nonce),
		.nc = SLICE_LIT("00000001"),
		.cnonce = SLICE_LIT("c0ffee"),
		.qop = SLICE_LIT("auth"),
		.method = SLICE_LIT("REGISTER"),
		.uri = slice_from_cstr(uri),
	};
	assert_int_equal(auth_digest_response(&in, resp), 0);
	snprintf(out, sz,
		 "Authorization: Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\", "
		 "algorithm=%s, qop=auth, nc=00000001, cnonce=\"c0ffee\", opaque=\"%s\"\r\n",
		 user, realm, nonce, uri, resp, alg, opaque);
}

/* 401 then the authenticated REGISTER (cseq, cseq+1); returns the final reply. */
static void reg_auth(struct fx *f, struct req rq, const char *alg, const char *pw, const struct reg_origin *o,
		     struct rep *out)
{
	struct rep chal;
	send_req(f, &rq, o, &chal);
	assert_int_equal(chal.status, 401);
	char auth[1024];
	make_auth(&chal, alg ? alg : "SHA-256", rq.user ? rq.user : "alice", pw, rq.ruri ? rq.ruri : "sip:example.com",
		  auth, sizeof(auth));
	rq.auth = auth;
	rq.cseq = (rq.cseq ? rq.cseq : 1) + 1;
	send_req(f, &rq, o, out);
}

static size_t bindings(struct fx *f, const char *aor, struct loc_binding *out, size_t max)
{
	return location_lookup(f->loc, aor, time(NULL), out, max);
}

static size_t stored(struct fx *f, const char *aor)
{
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, slice_from_cstr(aor), &l), 0);
	size_t n = l->n;
	mem_deref(l);
	return n;
}

/* The store holds exactly the contacts of the location service (what a restart would load). */
static void assert_store_matches(struct fx *f, const char *aor)
{
	struct loc_binding b[8];
	size_t n = bindings(f, aor, b, 8);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, slice_from_cstr(aor), &l), 0);
	assert_int_equal(l->n, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t k = 0; k < l->n && !found; k++)
			found = slice_eq_cstr(l->v[k]->contact, b[i].contact) && l->v[k]->expires == (int64_t)b[i].expires_at &&
				l->v[k]->cseq == b[i].cseq;
		assert_true(found);
	}
	mem_deref(l);
}

/* ---- tests ---- */

static void test_register_refresh_unregister_wildcard(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(0x101);
	struct rep rep;
	/* challenge: every algorithm, strongest first (RFC 8760 2.4) */
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10:40000;transport=tls>\r\nExpires: 600\r\n", .cseq = 1 };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 401);
	assert_int_equal(count_lines(rep.hdrs, "WWW-Authenticate:"), 3);
	assert_true(strstr(rep.hdrs, "algorithm=SHA-512-256") < strstr(rep.hdrs, "algorithm=SHA-256"));
	assert_true(strstr(rep.hdrs, "algorithm=SHA-256") < strstr(rep.hdrs, "algorithm=MD5"));
	assert_non_null(strstr(rep.hdrs, "realm=\"example.com\""));
	assert_non_null(strstr(rep.hdrs, "qop=\"auth\""));

	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_non_null(strstr(rep.hdrs, "Contact: <sip:alice@192.0.2.10:40000;transport=tls>;expires=600"));
	assert_non_null(strstr(rep.hdrs, "Date: "));
	assert_non_null(strstr(rep.hdrs, " GMT\n"));
	struct loc_binding b[4];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 1);
	assert_int_equal(b[0].conn_id, 0x101);
	assert_int_equal(b[0].transport, CONF_TP_TLS);
	assert_false(b[0].flow_failed);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 1);
	assert_true(registrar_user_known("sip:alice@example.com", f.r));
	assert_false(registrar_user_known("sip:bob@example.com", f.r));

	/* refresh with other digest algorithms; expires above max is clamped */
	rq.cseq = 10;
	rq.hdrs = "Contact: <sip:alice@192.0.2.10:40000;transport=tls>\r\nExpires: 99999\r\n";
	reg_auth(&f, rq, "SHA-512-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_non_null(strstr(rep.hdrs, ";expires=3600"));
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 1);
	assert_int_equal(b[0].cseq, 11);

	/* fetch: no Contact lists the bindings (RFC 3261 10.2.3) */
	rq.cseq = 20;
	rq.hdrs = NULL;
	reg_auth(&f, rq, "MD5", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(count_lines(rep.hdrs, "Contact: "), 1);

	/* unregister one contact (expires=0 param) */
	rq.cseq = 30;
	rq.hdrs = "Contact: <sip:alice@192.0.2.10:40000;transport=tls>;expires=0\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(count_lines(rep.hdrs, "Contact: "), 0);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 0);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 0);

	/* two bindings, then the wildcard removes both */
	rq.cseq = 40;
	rq.hdrs = "Contact: <sip:alice@192.0.2.10:40000>, <sip:alice@192.0.2.11:5060>\r\nExpires: 300\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	/* "*" without Expires: 0 -> 400 */
	rq.cseq = 50;
	rq.hdrs = "Contact: *\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	/* "*" with another contact -> 400 */
	rq.cseq = 52;
	rq.hdrs = "Contact: *\r\nContact: <sip:alice@192.0.2.10:40000>\r\nExpires: 0\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	rq.cseq = 60;
	rq.hdrs = "Contact: *\r\nExpires: 0\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 0);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 0);
	fx_free(&f);
}

static void test_request_checks(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep rep;
	/* RFC 3261 10.3 step 1 */
	struct req rq = { .ruri = "sip:other.net", .hdrs = "Contact: <sip:a@192.0.2.1>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 404);
	assert_string_equal(rep.reason, "Domain not served here");
	/* RFC 4475 3.3.4 (unksm2): To of another scheme */
	rq = (struct req){ .to_uri = "isbn:2983792873", .hdrs = "Contact: <sip:a@192.0.2.1>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 400);
	/* AOR in a foreign domain */
	rq = (struct req){ .domain = "other.net", .hdrs = "Contact: <sip:a@192.0.2.1>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 404);
	/* an unknown user is challenged like a known one, then refused */
	rq = (struct req){ .user = "mallory", .hdrs = "Contact: <sip:m@192.0.2.1>\r\n" };
	reg_auth(&f, rq, "SHA-256", "guess", &o, &rep);
	assert_int_equal(rep.status, 403);
	/* credentials of another user for alice's AOR */
	add_user(&f, "bob", "example.com", "bobpw", AUTH_ALG_ALL, NULL);
	rq = (struct req){ .hdrs = "Contact: <sip:m@192.0.2.1>\r\n" };
	struct rep chal;
	send_req(&f, &rq, &o, &chal);
	char auth[1024];
	make_auth(&chal, "SHA-256", "bob", "bobpw", "sip:example.com", auth, sizeof(auth));
	rq.auth = auth;
	rq.cseq = 2;
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 403);
	assert_non_null(strstr(rep.reason, "own the AOR"));
	/* nonce-count replay: the same Authorization again -> fresh challenge */
	rq = (struct req){ .hdrs = "Contact: <sip:a@192.0.2.1>\r\n" };
	send_req(&f, &rq, &o, &chal);
	make_auth(&chal, "SHA-256", "alice", "secret", "sip:example.com", auth, sizeof(auth));
	rq.auth = auth;
	rq.cseq = 2;
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 200);
	rq.cseq = 3;
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 401);
	fx_free(&f);
}

static void test_interval_too_brief(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep rep;
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10>\r\nExpires: 30\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 423);
	assert_non_null(strstr(rep.hdrs, "Min-Expires: 60\n"));
	/* the contact parameter wins over the header */
	rq.cseq = 5;
	rq.hdrs = "Contact: <sip:alice@192.0.2.10>;expires=10\r\nExpires: 600\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 423);
	/* default_expires when neither is given */
	rq.cseq = 9;
	rq.hdrs = "Contact: <sip:alice@192.0.2.10>\r\n";
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_non_null(strstr(rep.hdrs, ";expires=1800"));
	fx_free(&f);
}

static void test_wrong_password(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep rep;
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	reg_auth(&f, rq, "SHA-256", "wrong", &o, &rep);
	assert_int_equal(rep.status, 403);
	struct loc_binding b[2];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 2), 0);
	fx_free(&f);
}

static void test_md5_disabled(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, "md5 = no\n");
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep chal, rep;
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &chal);
	assert_int_equal(chal.status, 401);
	assert_int_equal(count_lines(chal.hdrs, "WWW-Authenticate:"), 2);
	assert_null(strstr(chal.hdrs, "MD5"));
	/* an MD5 answer (computed over the offered nonce) is refused: challenged again without MD5 */
	char nonce[128], opaque[64], auth[1024], ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
	assert_true(chal_param(chal.hdrs, NULL, "nonce", nonce, sizeof(nonce)));
	assert_true(chal_param(chal.hdrs, NULL, "opaque", opaque, sizeof(opaque)));
	auth_ha1(AUTH_ALG_MD5, SLICE_LIT("alice"), SLICE_LIT("example.com"), SLICE_LIT("secret"), ha1);
	struct auth_digest_in in = { .alg = AUTH_ALG_MD5, .ha1 = slice_from_cstr(ha1), .nonce = slice_from_cstr(nonce),
				     .nc = SLICE_LIT("00000001"), .cnonce = SLICE_LIT("x"), .qop = SLICE_LIT("auth"),
				     .method = SLICE_LIT("REGISTER"), .uri = SLICE_LIT("sip:example.com") };
	auth_digest_response(&in, resp);
	snprintf(auth, sizeof(auth),
		 "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"%s\", uri=\"sip:example.com\", "
		 "response=\"%s\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"x\", opaque=\"%s\"\r\n",
		 nonce, resp, opaque);
	rq.auth = auth;
	rq.cseq = 2;
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 401);
	assert_null(strstr(rep.hdrs, "MD5"));
	struct loc_binding b[2];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 2), 0);
	/* a user with only an MD5 HA1 cannot register at all */
	add_user(&f, "old", "example.com", "pw", AUTH_ALG_BIT(AUTH_ALG_MD5), NULL);
	rq = (struct req){ .user = "old", .hdrs = "Contact: <sip:old@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 403);
	/* per user: no MD5 HA1 -> not offered even with md5 on globally (other fixture) */
	fx_free(&f);

	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_BIT(AUTH_ALG_SHA256) | AUTH_ALG_BIT(AUTH_ALG_SHA512_256), NULL);
	fx_start(&f);
	rq = (struct req){ .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &chal);
	assert_int_equal(count_lines(chal.hdrs, "WWW-Authenticate:"), 2);
	assert_null(strstr(chal.hdrs, "MD5"));
	fx_free(&f);
}

static struct tls_peer_info *peer_with(const char **uris, size_t n, const char *subject)
{
	struct tls_peer_info *pi = mem_zalloc(sizeof(*pi), NULL);
	struct tls_strlist *l = mem_zalloc(sizeof(*l), NULL);
	l->v = (char **)uris;
	l->n = n;
	pi->cert_presented = pi->cert_verified = true;
	pi->san_uris = l;
	pi->subject = (char *)subject;
	return pi;
}

static void peer_free(struct tls_peer_info *pi)
{
	mem_deref(pi->san_uris);
	mem_deref(pi);
}

static void test_certificate_bound(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	add_user(&f, "gw", "example.com", "gwpw", AUTH_ALG_ALL, "CN=gateway-7,O=Lab");
	fx_start(&f);
	const char *uris[] = { "sip:alice@Example.COM" };
	struct tls_peer_info *pi = peer_with(uris, 1, "CN=alice");
	struct reg_origin o = origin_tls(7);
	o.auth = CONF_AUTH_CERTIFICATE;
	o.cert_verified = true;
	o.peer = pi;
	struct rep rep;
	/* matching AOR: no digest needed */
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10;transport=tls>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 200);
	struct loc_binding b[2];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 2), 1);
	assert_string_equal(b[0].cert_identity, "sip:alice@Example.COM");
	/* another AOR with the same certificate */
	rq = (struct req){ .user = "bob", .hdrs = "Contact: <sip:bob@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 403);
	assert_string_equal(rep.reason, "Forbidden (certificate does not match AOR)");
	/* an unverified certificate proves nothing */
	o.cert_verified = false;
	rq = (struct req){ .cseq = 5, .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 403);
	/* the store's cert_identity (subject mapping) */
	struct tls_peer_info *gwpi = peer_with(NULL, 0, "CN=gateway-7,O=Lab");
	o.peer = gwpi;
	o.cert_verified = true;
	rq = (struct req){ .user = "gw", .hdrs = "Contact: <sip:gw@192.0.2.20>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 200);
	/* digest+certificate: the certificate alone is not enough, then both pass */
	o.peer = pi;
	o.auth = CONF_AUTH_DIGEST_CERTIFICATE;
	rq = (struct req){ .cseq = 10, .hdrs = "Contact: <sip:alice@192.0.2.10;transport=tls>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 401);
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	rq = (struct req){ .user = "bob", .hdrs = "Contact: <sip:bob@192.0.2.10>\r\n" };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 403);
	fx_free(&f);
	peer_free(pi);
	peer_free(gwpi);
}

static void test_two_contacts_q_ordered(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep rep;
	struct req rq = { .hdrs = "Contact: <sip:low@192.0.2.10>;q=0.2, <sip:high@192.0.2.11>;q=0.9\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	struct loc_binding b[4];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	assert_string_equal(b[0].contact, "sip:high@192.0.2.11");
	assert_int_equal(b[0].q1000, 900);
	assert_string_equal(b[1].contact, "sip:low@192.0.2.10");
	assert_non_null(strstr(rep.hdrs, "<sip:low@192.0.2.10>;expires=1800;q=0.2"));
	assert_non_null(strstr(rep.hdrs, "<sip:high@192.0.2.11>;expires=1800;q=0.9"));
	fx_free(&f);
}

static void test_flow_replacement(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(0x201);
	struct rep rep;
	const char *inst = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";
	char hdrs[512];
	snprintf(hdrs, sizeof(hdrs), "Supported: outbound\r\nContact: <sip:alice@192.0.2.10:40000;transport=tls>;%s;reg-id=1\r\n",
		 inst);
	struct req rq = { .call_id = "flow-a", .hdrs = hdrs };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_non_null(strstr(rep.hdrs, "Require: outbound"));
	assert_non_null(strstr(rep.hdrs, ";+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1"));
	/* the same instance and reg-id over a new connection, new Call-ID, new port: replaced */
	struct reg_origin o2 = origin_tls(0x301);
	snprintf(hdrs, sizeof(hdrs), "Supported: outbound\r\nContact: <sip:alice@192.0.2.10:40002;transport=tls>;%s;reg-id=1\r\n",
		 inst);
	rq = (struct req){ .call_id = "flow-b", .hdrs = hdrs };
	reg_auth(&f, rq, "SHA-256", "secret", &o2, &rep);
	assert_int_equal(rep.status, 200);
	struct loc_binding b[4];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 1);
	assert_int_equal(b[0].conn_id, 0x301);
	assert_string_equal(b[0].contact, "sip:alice@192.0.2.10:40002;transport=tls");
	assert_true(b[0].has_reg_id);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 1);
	/* a second flow (reg-id 2) of the same instance is a binding of its own */
	snprintf(hdrs, sizeof(hdrs), "Supported: outbound\r\nContact: <sip:alice@192.0.2.10:40004;transport=tls>;%s;reg-id=2\r\n",
		 inst);
	rq = (struct req){ .call_id = "flow-c", .hdrs = hdrs };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	/* the flow's connection dies: the binding stays, marked failed (RFC 5626 5.3) */
	location_conn_closed(f.loc, 0x301);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	assert_true(b[0].flow_failed != b[1].flow_failed);
	/* two reg-id contacts in one REGISTER -> 400 (RFC 5626 6) */
	snprintf(hdrs, sizeof(hdrs), "Supported: outbound\r\nContact: <sip:a@192.0.2.10>;%s;reg-id=1, <sip:b@192.0.2.10>;%s;reg-id=2\r\n",
		 inst, inst);
	rq = (struct req){ .call_id = "flow-d", .hdrs = hdrs };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	/* without Supported: outbound the reg-id is ignored and no Require is sent */
	snprintf(hdrs, sizeof(hdrs), "Contact: <sip:alice@192.0.2.10:40009>;%s;reg-id=5\r\n", inst);
	rq = (struct req){ .call_id = "flow-e", .hdrs = hdrs };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_null(strstr(rep.hdrs, "Require: outbound"));
	fx_free(&f);
}

static void test_cseq_ordering(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep rep;
	struct req rq = { .call_id = "c1", .cseq = 20, .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep); /* stored with CSeq 21 */
	assert_int_equal(rep.status, 200);
	/* same Call-ID, lower CSeq (a reordered older REGISTER): the update is aborted */
	rq = (struct req){ .call_id = "c1", .cseq = 5, .hdrs = "Contact: <sip:alice@192.0.2.10>;expires=0\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	assert_non_null(strstr(rep.reason, "CSeq"));
	struct loc_binding b[2];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 2), 1);
	/* same CSeq again (20 -> 21 is the stored one) */
	rq = (struct req){ .call_id = "c1", .cseq = 20, .hdrs = "Contact: <sip:alice@192.0.2.10>;expires=0\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	/* wildcard is checked the same way */
	rq = (struct req){ .call_id = "c1", .cseq = 3, .hdrs = "Contact: *\r\nExpires: 0\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 400);
	/* another Call-ID (the UA rebooted) may update regardless of CSeq */
	rq = (struct req){ .call_id = "c2", .cseq = 1, .hdrs = "Contact: <sip:alice@192.0.2.10>;expires=0\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 2), 0);
	fx_free(&f);
}

/* Only what a REGISTER changes reaches the store: removals of some bindings among others, a
 * Contact added and removed again in one request, refreshes beside untouched bindings. */
/* A REGISTER that is answered 200, after which the store holds want bindings of aor, exactly
 * the location service's. */
static void reg_then_store(struct fx *f, struct req rq, const struct reg_origin *o, const char *aor, size_t want,
			   struct rep *rep)
{
	reg_auth(f, rq, "SHA-256", "secret", o, rep);
	assert_int_equal(rep->status, 200);
	assert_int_equal(stored(f, aor), want);
	assert_store_matches(f, aor);
}

/* Only what a REGISTER changes reaches the store: removals of some bindings among others, a
 * Contact added and removed again in one request, refreshes beside untouched bindings. */
static void test_store_follows_changes(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(7);
	struct rep rep;
	const char *aor = "sip:alice@example.com";
	struct req rq = { .call_id = "s1", .cseq = 1,
			  .hdrs = "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>, <sip:c@192.0.2.3>\r\nExpires: 600\r\n" };
	reg_then_store(&f, rq, &o, aor, 3, &rep);

	/* remove b, refresh c, add d and take it back in the same request; a stays untouched */
	rq = (struct req){ .call_id = "s2", .cseq = 1,
			   .hdrs = "Contact: <sip:b@192.0.2.2>;expires=0, <sip:c@192.0.2.3>;expires=900, "
				   "<sip:d@192.0.2.4>;expires=300, <sip:d@192.0.2.4>;expires=0\r\n" };
	reg_then_store(&f, rq, &o, aor, 2, &rep);
	assert_int_equal(count_lines(rep.hdrs, "Contact: "), 2);

	/* another device's REGISTER (other Call-ID) leaves a and c as they are */
	rq = (struct req){ .call_id = "s3", .cseq = 5, .hdrs = "Contact: <sip:e@192.0.2.5>\r\nExpires: 120\r\n" };
	reg_then_store(&f, rq, &o, aor, 3, &rep);

	/* the last bindings removed one by one */
	rq = (struct req){ .call_id = "s4", .cseq = 1,
			   .hdrs = "Contact: <sip:a@192.0.2.1>;expires=0, <sip:c@192.0.2.3>;expires=0, "
				   "<sip:e@192.0.2.5>;expires=0\r\n" };
	reg_then_store(&f, rq, &o, aor, 0, &rep);
	fx_free(&f);
}

static void test_max_contacts(void **state)
{
	(void)state;
	for (int mode = 0; mode < 2; mode++) {
		struct fx f;
		fx_setup(&f, mode ? "max_contacts = 2\ncontacts_overflow = reject\n" : "max_contacts = 2\ncontacts_overflow = replace\n");
		add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
		fx_start(&f);
		struct reg_origin o = origin_tls(1);
		struct rep rep;
		const char *c[] = { "Contact: <sip:one@192.0.2.1>\r\n", "Contact: <sip:two@192.0.2.2>\r\n",
				    "Contact: <sip:three@192.0.2.3>\r\n" };
		for (int i = 0; i < 3; i++) {
			char cid[16];
			snprintf(cid, sizeof(cid), "m%d", i);
			struct req rq = { .call_id = cid, .hdrs = c[i] };
			reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
			if (i == 0) {
				/* make "one" clearly the oldest */
				struct loc_binding b[1];
				assert_int_equal(bindings(&f, "sip:alice@example.com", b, 1), 1);
				b[0].updated -= 100;
				location_replace(f.loc, "sip:alice@example.com", b, 1);
			}
		}
		struct loc_binding b[4];
		size_t n = bindings(&f, "sip:alice@example.com", b, 4);
		assert_int_equal(n, 2);
		if (mode == 0) {
			assert_int_equal(rep.status, 200);
			assert_true(strcmp(b[0].contact, "sip:one@192.0.2.1") != 0 && strcmp(b[1].contact, "sip:one@192.0.2.1") != 0);
			assert_int_equal(stored(&f, "sip:alice@example.com"), 2);
			assert_store_matches(&f, "sip:alice@example.com");
		} else {
			assert_int_equal(rep.status, 403);
			assert_true(strcmp(b[0].contact, "sip:three@192.0.2.3") != 0 && strcmp(b[1].contact, "sip:three@192.0.2.3") != 0);
		}
		fx_free(&f);
	}
}

static void test_malformed_authorization(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	static const char *const bad[] = {
		"Authorization: Digest realm=\"example.com\", nonce=\"x\", uri=\"sip:example.com\", response=\"00\"\r\n",
		"Authorization: Digest username=\"alice, realm=\"example.com\"\r\n",
		"Authorization: Digest username=\"alice\", username=\"bob\", realm=\"example.com\", nonce=\"n\", "
		"uri=\"sip:example.com\", response=\"0123456789abcdef0123456789abcdef\"\r\n",
		"Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"n\", uri=\"sip:example.com\", "
		"response=\"0123456789abcdef0123456789abcdef\", qop=auth, nc=zz, cnonce=\"c\"\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rep rep;
		struct req rq = { .cseq = (unsigned)i + 1, .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n", .auth = bad[i] };
		send_req(&f, &rq, &o, &rep);
		assert_int_equal(rep.status, 400);
		assert_non_null(strstr(rep.reason, "Bad Request (Authorization: "));
	}
	/* a huge nonce */
	char huge[6000], line[6300];
	memset(huge, 'A', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	snprintf(line, sizeof(line),
		 "Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"%s\", uri=\"sip:example.com\", "
		 "response=\"0123456789abcdef0123456789abcdef\"\r\n",
		 huge);
	struct rep rep;
	struct req rq = { .cseq = 50, .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n", .auth = line };
	send_req(&f, &rq, &o, &rep);
	assert_int_equal(rep.status, 400);
	/* still serving */
	rq = (struct req){ .cseq = 60, .hdrs = "Contact: <sip:alice@192.0.2.10>\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	fx_free(&f);
}

/* Durable: a new registrar over the same store finds every binding, stream flows failed. */
static void test_reload_from_store_and_purge(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(0x55);
	struct reg_origin u = origin_tls(0);
	u.transport = CONF_TP_UDP;
	struct rep rep;
	struct req rq = { .call_id = "r1", .hdrs = "Contact: <sip:alice@192.0.2.10;transport=tls>\r\nExpires: 120\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	assert_int_equal(rep.status, 200);
	rq = (struct req){ .call_id = "r2", .hdrs = "Contact: <sip:alice@192.0.2.99>\r\nExpires: 3000\r\n" };
	reg_auth(&f, rq, "SHA-256", "secret", &u, &rep);
	assert_int_equal(rep.status, 200);
	registrar_close(f.r);
	f.r = mem_deref(f.r);
	f.loc = mem_deref(f.loc);
	assert_int_equal(location_alloc(&f.loc), 0);
	fx_start(&f);
	struct loc_binding b[4];
	assert_int_equal(bindings(&f, "sip:alice@example.com", b, 4), 2);
	for (int i = 0; i < 2; i++) {
		if (b[i].transport == CONF_TP_TLS) {
			assert_true(b[i].flow_failed);
			assert_int_equal(b[i].conn_id, 0x55);
		} else {
			assert_false(b[i].flow_failed);
		}
	}
	/* purge: the 120 s binding goes from memory and store, the other stays */
	assert_int_equal(registrar_purge(f.r, time(NULL) + 200), 1);
	assert_int_equal(location_count(f.loc), 1);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 1);
	fx_free(&f);
}

/* Two REGISTERs for one AOR in flight at once: serialised, both bindings kept. */
static void test_concurrent_same_aor(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(1);
	struct rep chal;
	struct req r1 = { .call_id = "p1", .hdrs = "Contact: <sip:one@192.0.2.1>\r\n" };
	struct req r2 = { .call_id = "p2", .hdrs = "Contact: <sip:two@192.0.2.2>\r\n" };
	send_req(&f, &r1, &o, &chal);
	char a1[1024], a2[1024];
	make_auth(&chal, "SHA-256", "alice", "secret", "sip:example.com", a1, sizeof(a1));
	send_req(&f, &r2, &o, &chal);
	make_auth(&chal, "SHA-256", "alice", "secret", "sip:example.com", a2, sizeof(a2));
	r1.auth = a1;
	r1.cseq = 2;
	r2.auth = a2;
	r2.cseq = 2;
	struct rep p1, p2;
	memset(&p1, 0, sizeof(p1));
	memset(&p2, 0, sizeof(p2));
	struct sip_msg *m1, *m2;
	struct sip_verdict v;
	char buf1[4096], buf2[4096];
	int n1 = snprintf(buf1, sizeof(buf1),
			  "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKp1\r\nFrom: "
			  "<sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: p1\r\nCSeq: 2 REGISTER\r\n%s%s"
			  "Content-Length: 0\r\n\r\n",
			  r1.hdrs, a1);
	int n2 = snprintf(buf2, sizeof(buf2),
			  "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bKp2\r\nFrom: "
			  "<sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: p2\r\nCSeq: 2 REGISTER\r\n%s%s"
			  "Content-Length: 0\r\n\r\n",
			  r2.hdrs, a2);
	assert_int_equal(sip_msg_parse(buf1, (size_t)n1, NULL, 0, &m1, &v), 0);
	assert_int_equal(sip_msg_parse(buf2, (size_t)n2, NULL, 0, &m2, &v), 0);
	assert_int_equal(registrar_handle(m1, &o, rep_h, &p1, f.r), 0);
	assert_int_equal(registrar_handle(m2, &o, rep_h, &p2, f.r), 0);
	mem_deref(m1);
	mem_deref(m2);
	drain();
	assert_int_equal(p1.called, 1);
	assert_int_equal(p2.called, 1);
	assert_int_equal(p1.status, 200);
	assert_int_equal(p2.status, 200);
	assert_int_equal(count_lines(p2.hdrs, "Contact: "), 2);
	assert_int_equal(stored(&f, "sip:alice@example.com"), 2);
	fx_free(&f);
}

/* The received address is stored as text and read back at start-up (convert.c). */
static void test_received_text_round_trips(void **state)
{
	(void)state;
	static const struct {
		const char *host;
		uint16_t port;
		enum conf_transport tp;
		const char *text;
	} cases[] = {
		{ "0.0.0.0", 0, CONF_TP_TLS, "tls:0.0.0.0:0" },
		{ "255.255.255.255", 65535, CONF_TP_TCP, "tcp:255.255.255.255:65535" },
		{ "10.20.30.4", 5061, CONF_TP_UDP, "udp:10.20.30.4:5061" },
		{ "192.0.2.109", 1, CONF_TP_TLS, "tls:192.0.2.109:1" },
		{ "::1", 5061, CONF_TP_TLS, "tls:[::1]:5061" },
		{ "2001:db8::a:1", 65535, CONF_TP_TCP, "tcp:[2001:db8::a:1]:65535" },
		{ "::ffff:192.0.2.1", 5060, CONF_TP_TLS, "tls:[::ffff:192.0.2.1]:5060" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tp_addr a, back;
		enum conf_transport tp;
		char text[96];
		assert_int_equal(tp_addr_from_host_port(&a, cases[i].host, cases[i].port), 0);
		assert_int_equal(reg_received_fmt(cases[i].tp, &a, text, sizeof(text)), 0);
		assert_string_equal(text, cases[i].text);
		assert_int_equal(reg_received_parse(text, &tp, &back), 0);
		assert_int_equal(tp, cases[i].tp);
		assert_int_equal(back.len, a.len);
		assert_memory_equal(&back.ss, &a.ss, a.len);
		/* one byte short of the text and its NUL: refused, not cut */
		assert_int_equal(reg_received_fmt(cases[i].tp, &a, text, strlen(cases[i].text)), EINVAL);
	}
	/* no address: the transport alone */
	struct tp_addr none = { 0 };
	char text[16];
	assert_int_equal(reg_received_fmt(CONF_TP_UDP, &none, text, sizeof(text)), 0);
	assert_string_equal(text, "udp:");
	/* tp_addr_fmt keeps the pieces that fit and always ends the string */
	struct tp_addr a;
	char small[5];
	tp_addr_from_host_port(&a, "10.20.30.4", 5061);
	assert_string_equal(tp_addr_fmt(&a, small, sizeof(small)), "10.");
	tp_addr_from_host_port(&a, "2001:db8::1", 7);
	assert_string_equal(tp_addr_fmt(&a, small, sizeof(small)), "[");
	assert_string_equal(tp_addr_fmt(&none, small, sizeof(small)), "?");
}

/* RFC 3261 10.3 step 8: the 200 gives each binding the expiry the registrar granted. A store
 * commit that ends a second after the binding was computed must not make it 3599 for 3600. */
static void test_expires_as_granted_when_commit_crosses_a_second(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f, NULL);
	add_user(&f, "alice", "example.com", "secret", AUTH_ALG_ALL, NULL);
	fx_start(&f);
	struct reg_origin o = origin_tls(0x301);
	struct req rq = { .hdrs = "Contact: <sip:alice@192.0.2.10:40000;transport=tls>\r\nExpires: 99999\r\n", .cseq = 1 };
	struct rep rep;
	SLOW_DRAIN = true;
	reg_auth(&f, rq, "SHA-256", "secret", &o, &rep);
	SLOW_DRAIN = false;
	assert_int_equal(rep.status, 200);
	assert_non_null(strstr(rep.hdrs, "Contact: <sip:alice@192.0.2.10:40000;transport=tls>;expires=3600\n"));
	assert_non_null(strstr(rep.hdrs, "Date: "));
	fx_free(&f);
}

int main(void)
{
	log_setup(LOG_LVL_WARN, LOG_TO_STDERR, "test_registrar");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_refresh_unregister_wildcard),
		cmocka_unit_test(test_request_checks),
		cmocka_unit_test(test_interval_too_brief),
		cmocka_unit_test(test_wrong_password),
		cmocka_unit_test(test_md5_disabled),
		cmocka_unit_test(test_certificate_bound),
		cmocka_unit_test(test_two_contacts_q_ordered),
		cmocka_unit_test(test_flow_replacement),
		cmocka_unit_test(test_cseq_ordering),
		cmocka_unit_test(test_max_contacts),
		cmocka_unit_test(test_store_follows_changes),
		cmocka_unit_test(test_malformed_authorization),
		cmocka_unit_test(test_reload_from_store_and_purge),
		cmocka_unit_test(test_concurrent_same_aor),
		cmocka_unit_test(test_received_text_round_trips),
		cmocka_unit_test(test_expires_as_granted_when_commit_crosses_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
