/* The same behavioural suite over both backends (sqlite in a mkdtemp dir, mem), then what only
 * SQLite has: persistence across reopen, schema version, group commit durability. Async
 * completions are delivered through a test poster and run on the test thread. */
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
#include <sqlite3.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/store.h"

/* ---- test poster: a queue drained by the test thread, standing in for an event loop ---- */

struct item {
	void (*fn)(void *);
	void *arg;
};

struct poster {
	pthread_mutex_t mtx;
	pthread_cond_t cond;
	struct item items[4096];
	size_t head, n;
	unsigned run;
};

static struct poster P = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };
static pthread_t test_thread;

static void test_post(void *loop_arg, void (*fn)(void *), void *fn_arg)
{
	struct poster *p = loop_arg;
	pthread_mutex_lock(&p->mtx);
	assert_true(p->n < sizeof(p->items) / sizeof(p->items[0]));
	p->items[(p->head + p->n++) % 4096] = (struct item){ fn, fn_arg };
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->mtx);
}

/* Runs posted completions until `want` have run (10 s at most). */
static void poster_drain(struct poster *p, unsigned want)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&p->mtx);
	while (p->run < want) {
		while (p->n == 0)
			if (pthread_cond_timedwait(&p->cond, &p->mtx, &dl) == ETIMEDOUT)
				fail_msg("only %u of %u completions arrived", p->run, want);
		struct item it = p->items[p->head];
		p->head = (p->head + 1) % 4096;
		p->n--;
		p->run++;
		pthread_mutex_unlock(&p->mtx);
		it.fn(it.arg);
		pthread_mutex_lock(&p->mtx);
	}
	pthread_mutex_unlock(&p->mtx);
}

static size_t poster_pending(struct poster *p)
{
	pthread_mutex_lock(&p->mtx);
	size_t n = p->n;
	pthread_mutex_unlock(&p->mtx);
	return n;
}

/* ---- fixture ---- */

struct fx {
	enum store_backend backend;
	bool thread;
	char dir[64];
	char path[128];
	struct store *s;
	struct store_client *c;
};

static struct fx fx_sqlite = { .backend = STORE_BACKEND_SQLITE, .thread = true };
static struct fx fx_mem = { .backend = STORE_BACKEND_MEM, .thread = true };
static struct fx fx_sqlite_inline = { .backend = STORE_BACKEND_SQLITE, .thread = false };
static struct fx fx_mem_inline = { .backend = STORE_BACKEND_MEM, .thread = false };

static int fx_open(struct fx *f, unsigned batch_max)
{
	struct store_opts o = { .backend = f->backend, .path = f->path, .thread = f->thread,
				.batch_max = batch_max };
	int e = store_open(&f->s, &o);
	if (e)
		return e;
	return store_client_alloc(&f->c, f->s, test_post, &P);
}

static void fx_close(struct fx *f)
{
	store_close(f->s);
	f->c = mem_deref(f->c);
	f->s = mem_deref(f->s);
}

static int setup(void **state)
{
	struct fx *f = *state;
	snprintf(f->dir, sizeof(f->dir), "/tmp/sipsd-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/sipsd.db", f->dir);
	P.head = P.n = P.run = 0;
	return fx_open(f, 0) ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	fx_close(f);
	assert_int_equal(poster_pending(&P), 0);
	char p[192];
	const char *sfx[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	return 0;
}

/* ---- records ---- */

static struct store_user user(const char *u, const char *d)
{
	return (struct store_user){
		.user = slice_from_cstr(u), .domain = slice_from_cstr(d), .realm = slice_from_cstr(d),
		.ha1 = { SLICE_LIT("0123456789abcdef0123456789abcdef"),
			 SLICE_LIT("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
			 SLICE_LIT("") },
		.enabled = true, .updated = 1700000000,
	};
}

static struct store_binding bnd(const char *aor, const char *contact, int64_t expires, uint16_t q)
{
	return (struct store_binding){
		.aor = slice_from_cstr(aor), .contact = slice_from_cstr(contact),
		.call_id = SLICE_LIT("cid@host"), .expires = expires, .updated = 1000, .cseq = 1, .q = q,
		.received = SLICE_LIT("tls:192.0.2.1:5061"),
	};
}

#define assert_slice(s, str) assert_true(slice_eq_cstr((s), (str)))

/* ---- behavioural suite (both backends, sync API) ---- */

static void test_users(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_user *got = NULL;
	assert_int_equal(store_user_get(s, SLICE_LIT("alice"), SLICE_LIT("a.example"), &got), ENOENT);
	struct store_user a = user("alice", "a.example"), b = user("bob", "a.example"), c = user("alice", "b.example");
	c.cert_identity = SLICE_LIT("sip:alice@b.example");
	c.enabled = false;
	c.realm = SLICE_LIT("corp");
	assert_int_equal(store_user_put(s, &b), 0);
	assert_int_equal(store_user_put(s, &c), 0);
	assert_int_equal(store_user_put(s, &a), 0);
	assert_int_equal(store_user_get(s, SLICE_LIT("alice"), SLICE_LIT("b.example"), &got), 0);
	assert_slice(got->realm, "corp");
	assert_slice(got->cert_identity, "sip:alice@b.example");
	assert_false(got->enabled);
	assert_slice(got->ha1[STORE_HA1_MD5], "0123456789abcdef0123456789abcdef");
	assert_int_equal(got->ha1[STORE_HA1_SHA512_256].len, 0);
	assert_int_equal(got->updated, 1700000000);
	assert_int_equal(got->user.p[got->user.len], '\0');
	got = mem_deref(got);
	/* upsert */
	a.ha1[STORE_HA1_MD5] = SLICE_LIT("");
	a.enabled = false;
	assert_int_equal(store_user_put(s, &a), 0);
	assert_int_equal(store_user_get(s, SLICE_LIT("alice"), SLICE_LIT("a.example"), &got), 0);
	assert_int_equal(got->ha1[STORE_HA1_MD5].len, 0);
	assert_false(got->enabled);
	got = mem_deref(got);
	/* list ordered by domain, user */
	struct store_users *l = NULL;
	assert_int_equal(store_user_list(s, &l), 0);
	assert_int_equal(l->n, 3);
	assert_slice(l->v[0]->user, "alice");
	assert_slice(l->v[0]->domain, "a.example");
	assert_slice(l->v[1]->user, "bob");
	assert_slice(l->v[2]->domain, "b.example");
	mem_deref(l);
	assert_int_equal(store_user_del(s, SLICE_LIT("bob"), SLICE_LIT("a.example")), 0);
	assert_int_equal(store_user_del(s, SLICE_LIT("bob"), SLICE_LIT("a.example")), ENOENT);
	assert_int_equal(store_user_list(s, &l), 0);
	assert_int_equal(l->n, 2);
	mem_deref(l);
	/* invalid */
	struct store_user bad = user("", "a.example");
	assert_int_equal(store_user_put(s, &bad), EINVAL);
	assert_int_equal(store_user_put(s, NULL), EINVAL);
}

static void test_bindings_upsert_order(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:a@x"), &l), 0);
	assert_int_equal(l->n, 0);
	l = mem_deref(l);

	struct store_binding b1 = bnd("sip:a@x", "sip:a@192.0.2.1", 5000, 500);
	struct store_binding b2 = bnd("sip:a@x", "sip:a@192.0.2.2", 5000, 1000);
	struct store_binding b3 = bnd("sip:b@x", "sip:b@192.0.2.3", 5000, 1000);
	assert_int_equal(store_binding_put(s, &b1), 0);
	assert_int_equal(store_binding_put(s, &b2), 0);
	assert_int_equal(store_binding_put(s, &b3), 0);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:a@x"), &l), 0);
	assert_int_equal(l->n, 2);
	assert_slice(l->v[0]->contact, "sip:a@192.0.2.2"); /* q 1.0 first */
	assert_slice(l->v[1]->contact, "sip:a@192.0.2.1");
	l = mem_deref(l);

	/* same AOR+contact: replaced (refresh), q now highest */
	b1.expires = 9000;
	b1.cseq = 2;
	b1.q = 1000;
	b1.updated = 2000;
	assert_int_equal(store_binding_put(s, &b1), 0);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:a@x"), &l), 0);
	assert_int_equal(l->n, 2);
	assert_slice(l->v[0]->contact, "sip:a@192.0.2.1"); /* same q, more recent first */
	assert_int_equal(l->v[0]->expires, 9000);
	assert_int_equal(l->v[0]->cseq, 2);
	l = mem_deref(l);

	/* RFC 5626 flows: key is AOR+instance+reg-id; a new contact replaces the flow */
	struct store_binding f1 = bnd("sip:c@x", "sip:c@198.51.100.1;ob", 5000, 1000);
	f1.instance = SLICE_LIT("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>");
	f1.reg_id = 1;
	struct store_binding f2 = f1;
	f2.reg_id = 2; /* second flow, same contact */
	assert_int_equal(store_binding_put(s, &f1), 0);
	assert_int_equal(store_binding_put(s, &f2), 0);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:c@x"), &l), 0);
	assert_int_equal(l->n, 2);
	l = mem_deref(l);
	struct store_binding f1b = f1;
	f1b.contact = SLICE_LIT("sip:c@198.51.100.9;ob");
	f1b.flow_id = 77;
	assert_int_equal(store_binding_put(s, &f1b), 0);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:c@x"), &l), 0);
	assert_int_equal(l->n, 2);
	bool seen9 = false;
	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i]->reg_id == 1) {
			assert_slice(l->v[i]->contact, "sip:c@198.51.100.9;ob");
			assert_int_equal(l->v[i]->flow_id, 77);
			seen9 = true;
		}
	}
	assert_true(seen9);
	l = mem_deref(l);
	/* delete one flow by key (contact irrelevant) */
	struct store_binding key = f2;
	key.contact = SLICE_LIT("sip:whatever");
	assert_int_equal(store_binding_del(s, &key), 0);
	assert_int_equal(store_binding_del(s, &key), ENOENT);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:c@x"), &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0]->reg_id, 1);
	l = mem_deref(l);

	/* load_all: by aor, then q */
	assert_int_equal(store_binding_load_all(s, &l), 0);
	assert_int_equal(l->n, 4);
	assert_slice(l->v[0]->aor, "sip:a@x");
	assert_slice(l->v[2]->aor, "sip:b@x");
	assert_slice(l->v[3]->aor, "sip:c@x");
	l = mem_deref(l);

	/* invalid: no aor, no contact, a field too long */
	struct store_binding bad = bnd("", "sip:x", 1, 1);
	assert_int_equal(store_binding_put(s, &bad), EINVAL);
	bad = bnd("sip:a@x", "", 1, 1);
	assert_int_equal(store_binding_put(s, &bad), EINVAL);
	char *huge = calloc(1, STORE_FIELD_MAX + 2);
	memset(huge, 'u', STORE_FIELD_MAX + 1);
	bad = bnd("sip:a@x", "sip:y", 1, 1);
	bad.user_agent = slice_from_cstr(huge);
	assert_int_equal(store_binding_put(s, &bad), EINVAL);
	assert_null(store_binding_dup(&bad));
	free(huge);
}

static void test_bindings_fields_roundtrip(void **state)
{
	struct fx *f = *state;
	struct store_binding b = {
		.aor = SLICE_LIT("sip:alice@example.com"),
		.contact = SLICE_LIT("sip:alice@[2001:db8::1]:5061;transport=tls"),
		.call_id = SLICE_LIT("a84b4c76e66710@pc33.example.com"),
		.instance = SLICE_LIT("<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>"),
		.path = SLICE_LIT("<sip:edge.example.com;lr>,<sip:p2.example.com;lr>"),
		.user_agent = SLICE_LIT("Mediatrix 4102 \"quoted\" \xc3\xa9"),
		.received = SLICE_LIT("tls:[2001:db8::1]:40312"),
		.cert_identity = SLICE_LIT("sip:alice@example.com"),
		.expires = INT64_C(4102444800),
		.updated = INT64_C(1700000123),
		.cseq = UINT32_MAX,
		.reg_id = 2147483647u,
		.q = 1000,
		.flow_id = UINT64_MAX,
	};
	assert_int_equal(store_binding_put(f->s, &b), 0);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, b.aor, &l), 0);
	assert_int_equal(l->n, 1);
	const struct store_binding *g = l->v[0];
	assert_true(slice_eq(g->contact, b.contact));
	assert_true(slice_eq(g->call_id, b.call_id));
	assert_true(slice_eq(g->instance, b.instance));
	assert_true(slice_eq(g->path, b.path));
	assert_true(slice_eq(g->user_agent, b.user_agent));
	assert_true(slice_eq(g->received, b.received));
	assert_true(slice_eq(g->cert_identity, b.cert_identity));
	assert_int_equal(g->expires, b.expires);
	assert_int_equal(g->updated, b.updated);
	assert_int_equal(g->cseq, b.cseq);
	assert_int_equal(g->reg_id, b.reg_id);
	assert_int_equal(g->q, b.q);
	assert_true(g->flow_id == UINT64_MAX);
	mem_deref(l);
}

static void test_bindings_delete_expire(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	for (int i = 0; i < 5; i++) {
		char c[32];
		snprintf(c, sizeof(c), "sip:a@10.0.0.%d", i);
		struct store_binding b = bnd("sip:a@x", c, 100 + i, 1000);
		assert_int_equal(store_binding_put(s, &b), 0);
	}
	struct store_binding o = bnd("sip:o@x", "sip:o@10.0.0.9", 1000, 1000);
	assert_int_equal(store_binding_put(s, &o), 0);
	size_t n = 99;
	/* expires <= now goes: 100, 101, 102 */
	assert_int_equal(store_binding_expire(s, 102, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_binding_expire(s, 102, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_binding_del_aor(s, SLICE_LIT("sip:a@x"), &n), 0);
	assert_int_equal(n, 2);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_load_all(s, &l), 0);
	assert_int_equal(l->n, 1);
	assert_slice(l->v[0]->aor, "sip:o@x");
	mem_deref(l);
	assert_int_equal(store_binding_del_aor(s, SLICE_LIT("sip:none@x"), &n), 0);
	assert_int_equal(n, 0);
}

/* Purge by key: only a binding whose stored expiry has passed goes, so one refreshed after the
 * location service dropped it survives. */
static void test_bindings_expire_keys(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_binding a1 = bnd("sip:a@x", "sip:a@10.0.0.1", 100, 1000);
	struct store_binding a2 = bnd("sip:a@x", "sip:a@10.0.0.2", 200, 1000);
	struct store_binding o1 = bnd("sip:o@x", "sip:a@10.0.0.1", 100, 1000); /* same contact, other AOR */
	struct store_binding ghost = bnd("sip:a@x", "sip:a@10.0.0.3", 100, 1000); /* never stored */
	assert_int_equal(store_binding_put(s, &a1), 0);
	assert_int_equal(store_binding_put(s, &a2), 0);
	assert_int_equal(store_binding_put(s, &o1), 0);
	const struct store_binding *keys[] = { &a1, &a2, &ghost };
	size_t n = 99;
	assert_int_equal(store_binding_expire_keys(s, keys, 3, 150, &n), 0);
	assert_int_equal(n, 1); /* a1; a2 not yet expired, ghost absent */
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_load_all(s, &l), 0);
	assert_int_equal(l->n, 2);
	assert_slice(l->v[0]->contact, "sip:a@10.0.0.2");
	assert_slice(l->v[1]->aor, "sip:o@x");
	mem_deref(l);

	/* refreshed since: the stale key does not delete it */
	struct store_binding a2r = a2;
	a2r.expires = 900;
	assert_int_equal(store_binding_put(s, &a2r), 0);
	const struct store_binding *stale[] = { &a2 };
	assert_int_equal(store_binding_expire_keys(s, stale, 1, 300, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_binding_get(s, SLICE_LIT("sip:a@x"), &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0]->expires, 900);
	mem_deref(l);

	/* instance keys (RFC 5626) too */
	struct store_binding in = bnd("sip:a@x", "sip:a@10.0.0.4", 100, 1000);
	in.instance = SLICE_LIT("<urn:uuid:00000000-0000-1000-8000-000000000001>");
	in.reg_id = 1;
	assert_int_equal(store_binding_put(s, &in), 0);
	const struct store_binding *ik[] = { &in };
	assert_int_equal(store_binding_expire_keys(s, ik, 1, 100, &n), 0);
	assert_int_equal(n, 1);

	assert_int_equal(store_binding_expire_keys(s, NULL, 0, 300, &n), 0);
	assert_int_equal(n, 0);
	struct store_binding bad = bnd("", "", 1, 1);
	const struct store_binding *bk[] = { &bad };
	assert_int_equal(store_binding_expire_keys(s, bk, 1, 300, &n), EINVAL);
}

/* ---- async ---- */

struct res {
	int calls, err;
	size_t n;
	struct store_bindings *l;
	struct store_user *u;
	int order[64];
	int norder;
};

static void done_h(int err, size_t n, void *arg)
{
	struct res *r = arg;
	assert_true(pthread_equal(pthread_self(), test_thread)); /* on "the loop", never the store thread */
	r->calls++;
	r->err = err;
	r->n = n;
}

static void bindings_h(int err, struct store_bindings *l, void *arg)
{
	struct res *r = arg;
	assert_true(pthread_equal(pthread_self(), test_thread));
	r->calls++;
	r->err = err;
	mem_deref(r->l);
	r->l = l;
}

static void user_h(int err, struct store_user *u, void *arg)
{
	struct res *r = arg;
	r->calls++;
	r->err = err;
	mem_deref(r->u);
	r->u = u;
}

struct ordered {
	struct res *r;
	int id;
};

static void ordered_h(int err, size_t n, void *arg)
{
	(void)n;
	struct ordered *o = arg;
	assert_int_equal(err, 0);
	o->r->order[o->r->norder++] = o->id;
}

static void test_async(void **state)
{
	struct fx *f = *state;
	struct res r = { 0 };
	struct store_user u = user("carol", "c.example");
	assert_int_equal(store_user_put(f->s, &u), 0);

	struct store_binding b1 = bnd("sip:carol@c.example", "sip:carol@192.0.2.7", 5000, 800);
	assert_int_equal(store_binding_put_async(f->c, &b1, done_h, &r), 0);
	/* the callback never runs inside submit, even without a store thread */
	assert_int_equal(r.calls, 0);
	poster_drain(&P, 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, 0);

	assert_int_equal(store_binding_get_async(f->c, SLICE_LIT("sip:carol@c.example"), bindings_h, &r), 0);
	poster_drain(&P, 2);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.l->n, 1);

	assert_int_equal(store_user_get_async(f->c, SLICE_LIT("carol"), SLICE_LIT("c.example"), user_h, &r), 0);
	assert_int_equal(store_user_get_async(f->c, SLICE_LIT("nobody"), SLICE_LIT("c.example"), user_h, &r), 0);
	poster_drain(&P, 3);
	assert_non_null(r.u);
	assert_slice(r.u->realm, "c.example");
	poster_drain(&P, 4);
	assert_int_equal(r.err, ENOENT);
	assert_null(r.u);

	/* one REGISTER: Contact: * then two new contacts, result lists the AOR's bindings */
	struct store_binding n1 = bnd("sip:carol@c.example", "sip:carol@192.0.2.8", 6000, 1000);
	struct store_binding n2 = bnd("sip:carol@c.example", "sip:carol@192.0.2.9", 6000, 100);
	const struct store_binding *puts[] = { &n1, &n2 };
	assert_int_equal(store_binding_update_async(f->c, SLICE_LIT("sip:carol@c.example"), true, NULL, 0,
						    puts, 2, bindings_h, &r), 0);
	poster_drain(&P, 5);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.l->n, 2);
	assert_slice(r.l->v[0]->contact, "sip:carol@192.0.2.8");
	assert_slice(r.l->v[1]->contact, "sip:carol@192.0.2.9");
	/* delete one, refresh the other */
	n1.expires = 7000;
	const struct store_binding *dels[] = { &n2 }, *puts2[] = { &n1 };
	assert_int_equal(store_binding_update_async(f->c, SLICE_LIT("sip:carol@c.example"), false, dels, 1,
						    puts2, 1, bindings_h, &r), 0);
	poster_drain(&P, 6);
	assert_int_equal(r.l->n, 1);
	assert_int_equal(r.l->v[0]->expires, 7000);
	/* a binding of another AOR in an update is refused up front, callback never runs */
	struct store_binding other = bnd("sip:dave@c.example", "sip:dave@192.0.2.1", 1, 1);
	const struct store_binding *bad[] = { &other };
	assert_int_equal(store_binding_update_async(f->c, SLICE_LIT("sip:carol@c.example"), false, NULL, 0,
						    bad, 1, bindings_h, &r), EINVAL);
	assert_int_equal(store_binding_put_async(f->c, NULL, done_h, &r), EINVAL);

	assert_int_equal(store_binding_expire_async(f->c, 6500, done_h, &r), 0);
	poster_drain(&P, 7);
	assert_int_equal(r.n, 0);
	assert_int_equal(store_binding_del_aor_async(f->c, SLICE_LIT("sip:carol@c.example"), done_h, &r), 0);
	poster_drain(&P, 8);
	assert_int_equal(r.n, 1);
	assert_int_equal(store_binding_del_async(f->c, &n1, done_h, &r), 0);
	poster_drain(&P, 9);
	assert_int_equal(r.err, ENOENT);

	/* the registrar's write: no read-back, the count of rows changed; then the set is there */
	const struct store_binding *puts3[] = { &n1, &n2 };
	assert_int_equal(store_binding_write_async(f->c, SLICE_LIT("sip:carol@c.example"), true, NULL, 0, puts3, 2,
						   done_h, &r), 0);
	poster_drain(&P, 10);
	assert_int_equal(r.err, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(store_binding_write_async(f->c, SLICE_LIT("sip:carol@c.example"), true, NULL, 0, puts2, 1,
						   done_h, &r), 0);
	poster_drain(&P, 11);
	assert_int_equal(r.n, 3); /* two deleted, one put */
	assert_int_equal(store_binding_get_async(f->c, SLICE_LIT("sip:carol@c.example"), bindings_h, &r), 0);
	poster_drain(&P, 12);
	assert_int_equal(r.l->n, 1);
	assert_slice(r.l->v[0]->contact, "sip:carol@192.0.2.8");
	assert_int_equal(store_binding_write_async(f->c, SLICE_LIT("sip:carol@c.example"), false, NULL, 0, bad, 1,
						   done_h, &r), EINVAL);
	assert_int_equal(store_binding_del_aor_async(f->c, SLICE_LIT("sip:carol@c.example"), done_h, &r), 0);
	poster_drain(&P, 13);

	/* completions in submission order */
	struct ordered ord[20];
	for (int i = 0; i < 20; i++) {
		char c[32];
		snprintf(c, sizeof(c), "sip:o@10.1.0.%d", i);
		struct store_binding b = bnd("sip:o@x", c, 5000, 1000);
		ord[i] = (struct ordered){ &r, i };
		assert_int_equal(store_binding_put_async(f->c, &b, ordered_h, &ord[i]), 0);
	}
	poster_drain(&P, 33);
	assert_int_equal(r.norder, 20);
	for (int i = 0; i < 20; i++)
		assert_int_equal(r.order[i], i);
	mem_deref(r.l);
	mem_deref(r.u);
}

/* A failing request in a batch does not undo the others (one savepoint per request). */
static void test_batch_isolation(void **state)
{
	struct fx *f = *state;
	struct res a = { 0 }, b = { 0 }, c = { 0 };
	store_hold(f->s, true);
	struct store_binding x = bnd("sip:i@x", "sip:i@1", 5000, 1000), y = bnd("sip:i@x", "sip:i@2", 5000, 1000);
	struct store_binding missing = bnd("sip:i@x", "sip:i@nope", 5000, 1000);
	assert_int_equal(store_binding_put_async(f->c, &x, done_h, &a), 0);
	assert_int_equal(store_binding_del_async(f->c, &missing, done_h, &b), 0);
	assert_int_equal(store_binding_put_async(f->c, &y, done_h, &c), 0);
	store_hold(f->s, false);
	poster_drain(&P, 3);
	assert_int_equal(a.err, 0);
	assert_int_equal(b.err, ENOENT);
	assert_int_equal(c.err, 0);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, SLICE_LIT("sip:i@x"), &l), 0);
	assert_int_equal(l->n, 2);
	mem_deref(l);
}

/* Group commit: 1,000 queued puts run in a handful of transactions, every completion comes after
 * its commit, and (SQLite) every one of them is there after reopening the file. */
static void test_group_commit(void **state)
{
	struct fx *f = *state;
	fx_close(f);
	assert_int_equal(fx_open(f, 256), 0);
	enum { N = 1000 };
	static struct res r[N];
	memset(r, 0, sizeof(r));
	store_hold(f->s, true);
	for (int i = 0; i < N; i++) {
		char aor[32], c[32];
		snprintf(aor, sizeof(aor), "sip:u%d@x", i % 100);
		snprintf(c, sizeof(c), "sip:u@10.2.%d.%d", i / 250, i % 250);
		struct store_binding b = bnd(aor, c, 5000 + i, 1000);
		assert_int_equal(store_binding_put_async(f->c, &b, done_h, &r[i]), 0);
	}
	struct store_stats st;
	store_stats(f->s, &st);
	if (f->thread)
		assert_int_equal(st.queued, N);
	store_hold(f->s, false);
	store_flush(f->s);
	poster_drain(&P, N);
	for (int i = 0; i < N; i++)
		if (r[i].calls != 1 || r[i].err)
			fail_msg("put %d: calls %d err %d", i, r[i].calls, r[i].err);
	store_stats(f->s, &st);
	assert_int_equal(st.requests, N);
	assert_int_equal(st.failures, 0);
	if (f->thread)
		assert_int_equal(st.batches, (N + 255) / 256); /* 1000 requests, 4 transactions */
	else
		assert_int_equal(st.batches, N);
	if (f->backend != STORE_BACKEND_SQLITE)
		return;
	fx_close(f);
	assert_int_equal(fx_open(f, 0), 0);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_load_all(f->s, &l), 0);
	assert_int_equal(l->n, N);
	mem_deref(l);
}

/* Closing runs what is queued (even while held) and refuses new requests. */
static void test_close_drains(void **state)
{
	struct fx *f = *state;
	struct res r = { 0 };
	store_hold(f->s, true);
	for (int i = 0; i < 10; i++) {
		char c[32];
		snprintf(c, sizeof(c), "sip:d@10.3.0.%d", i);
		struct store_binding b = bnd("sip:d@x", c, 5000, 1000);
		assert_int_equal(store_binding_put_async(f->c, &b, done_h, &r), 0);
	}
	store_close(f->s);
	poster_drain(&P, 10);
	assert_int_equal(r.calls, 10);
	assert_int_equal(r.err, 0);
	struct store_binding b = bnd("sip:d@x", "sip:late", 5000, 1000);
	assert_int_equal(store_binding_put_async(f->c, &b, done_h, &r), ESHUTDOWN);
	/* the synchronous API still reads */
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, SLICE_LIT("sip:d@x"), &l), 0);
	assert_int_equal(l->n, 10);
	mem_deref(l);
}

/* ---- SQLite only ---- */

static void test_sqlite_reopen_and_schema(void **state)
{
	struct fx *f = *state;
	struct store_user u = user("erin", "e.example");
	u.cert_identity = SLICE_LIT("sip:erin@e.example");
	assert_int_equal(store_user_put(f->s, &u), 0);
	struct store_binding b = bnd("sip:erin@e.example", "sip:erin@192.0.2.5", 5000, 700);
	assert_int_equal(store_binding_put(f->s, &b), 0);
	/* WAL mode while open */
	char wal[192];
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(access(wal, F_OK), 0);
	fx_close(f);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	/* no index on expires: it made every REGISTER dearer (schema 2) */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = "
					    "'bindings_expires'", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	/* no plaintext anywhere: the users table has HA1 columns only */
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info('users') WHERE name LIKE '%pass%'",
					    -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);

	assert_int_equal(fx_open(f, 0), 0);
	struct store_user *g = NULL;
	assert_int_equal(store_user_get(f->s, SLICE_LIT("erin"), SLICE_LIT("e.example"), &g), 0);
	assert_slice(g->cert_identity, "sip:erin@e.example");
	mem_deref(g);
	struct store_bindings *l = NULL;
	assert_int_equal(store_binding_get(f->s, SLICE_LIT("sip:erin@e.example"), &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->v[0]->q, 700);
	mem_deref(l);
	fx_close(f);

	/* a schema from a newer sipsd is refused */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(fx_open(f, 0), EPROTO);
	assert_null(f->s);
	/* a schema 1 database (with its index on expires) is migrated, its rows kept */
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE INDEX bindings_expires ON bindings(expires); PRAGMA user_version = 1",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(fx_open(f, 0), 0);
	assert_int_equal(store_binding_get(f->s, SLICE_LIT("sip:erin@e.example"), &l), 0);
	assert_int_equal(l->n, 1);
	mem_deref(l);
	fx_close(f);
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) "
					    "FROM sqlite_master WHERE name = 'bindings_expires')", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	assert_int_equal(sqlite3_column_int(st, 1), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(fx_open(f, 0), 0);
}

static void test_sqlite_open_errors(void **state)
{
	(void)state;
	struct store *s = NULL;
	struct store_opts o = { .backend = STORE_BACKEND_SQLITE, .path = "/nonexistent-dir/x/sipsd.db" };
	assert_int_not_equal(store_open(&s, &o), 0);
	assert_null(s);
	o.path = NULL;
	assert_int_equal(store_open(&s, &o), EINVAL);
	/* not a database */
	char dir[] = "/tmp/sipsd-store-XXXXXX", p[64];
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/junk.db", dir);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not an sqlite database\n", fp);
	fclose(fp);
	o.path = p;
	assert_int_not_equal(store_open(&s, &o), 0);
	unlink(p);
	rmdir(dir);
}

#define BOTH(fn)                                                                        \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &fx_sqlite),        \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &fx_mem),           \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &fx_sqlite_inline), \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, &fx_mem_inline)

int main(void)
{
	test_thread = pthread_self();
	log_setup(LOG_LVL_ERR, LOG_TO_STDERR, "test");
	const struct CMUnitTest tests[] = {
		BOTH(test_users),
		BOTH(test_bindings_upsert_order),
		BOTH(test_bindings_fields_roundtrip),
		BOTH(test_bindings_delete_expire),
		BOTH(test_bindings_expire_keys),
		BOTH(test_async),
		BOTH(test_batch_isolation),
		BOTH(test_group_commit),
		cmocka_unit_test_prestate_setup_teardown(test_close_drains, setup, teardown, &fx_sqlite),
		cmocka_unit_test_prestate_setup_teardown(test_close_drains, setup, teardown, &fx_mem),
		cmocka_unit_test_prestate_setup_teardown(test_sqlite_reopen_and_schema, setup, teardown, &fx_sqlite),
		cmocka_unit_test(test_sqlite_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
