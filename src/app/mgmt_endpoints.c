/* The management endpoints: the app owns the glue between the management server (which knows
 * no module) and the transport, registrar, proxy and TLS contexts. Handlers run on the API
 * thread; what workers own is collected by posting a job to each worker and waiting a bounded
 * time (a wedged worker makes a partial answer marked "incomplete", never a hung API). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "app/mgmt_internal.h"
#include "base/log.h"
#include "base/mem.h"
#include "mgmt/x509.h"
#include "proxy/proxy.h"
#include "registrar/registrar.h"
#include "sdp/policy.h"
#include "registrar/location.h"
#include "tls/tls.h"
#include "tls/verify.h"
#include "transport/transport.h"

enum { GATHER_TIMEOUT_MS = 2000, EXPIRY_CHECK_MS = 10000, MAX_PEER_CERTS = 1000 };

/* ---------------- collecting from workers ---------------- */

enum gather_mode { G_ROWS, G_CERTS, G_COUNTS, G_PEERS, G_CLOSE };

struct peer_cert {
	char subject[256];
	time_t not_after;
	char remote[80];
	char peer[64];
};

struct gather_slot {
	bool done;
	struct json_w rows;        /* G_ROWS, G_PEERS: a JSON array */
	unsigned counts[3];        /* by transport */
	struct peer_cert *certs;   /* G_CERTS */
	size_t ncerts, capcerts;
	time_t cert_horizon;       /* G_CERTS: only certificates expiring before this (0 = all) */
	int result;                /* G_CLOSE */
};

struct gather {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum gather_mode mode;
	unsigned n, pending;
	uint64_t conn_id; /* G_CLOSE */
	struct tp_pool *pool;
	struct gather_slot *slots;
};

struct gather_job {
	struct gather *g;
	unsigned idx;
};

static void gather_destroy(void *data)
{
	struct gather *g = data;
	for (unsigned i = 0; i < g->n; i++) {
		json_w_free(&g->slots[i].rows);
		free(g->slots[i].certs);
	}
	free(g->slots);
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
}

static void row_json(struct json_w *w, const struct tp_conn_row *r)
{
	time_t now = time(NULL);
	json_obj_begin(w);
	json_kv_uint(w, "id", r->id);
	json_kv_str(w, "transport", conf_transport_name(r->transport));
	json_kv_str(w, "direction", r->inbound ? "in" : "out");
	json_kv_str(w, "interface", r->iface);
	json_kv_str(w, "local", r->local);
	json_kv_str(w, "remote", r->remote);
	json_kv_str(w, "peer", r->peer_name);
	json_kv_str(w, "state", r->state);
	json_kv_str(w, "tls_version", r->tls_version);
	json_kv_str(w, "cipher", r->cipher);
	json_kv_str(w, "sni", r->sni);
	json_kv_str(w, "subject", r->subject);
	json_key(w, "sans");
	json_arr_begin(w);
	const char *p = r->sans;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		json_strn(w, p, n);
		p += n + (e ? 1 : 0);
	}
	json_arr_end(w);
	char t[32];
	mgmt_time_iso(r->not_after, t, sizeof(t));
	json_kv_str(w, "not_after", r->not_after ? t : "");
	if (r->not_after)
		json_kv_int(w, "days_left", ((long long)r->not_after - (long long)now) / 86400);
	else {
		json_key(w, "days_left");
		json_null(w);
	}
	json_kv_str(w, "identity", r->identity);
	json_kv_str(w, "verify", r->verify);
	json_kv_bool(w, "verified", r->cert_verified);
	json_kv_uint(w, "age_s", r->age_ms / 1000);
	json_kv_uint(w, "idle_s", r->idle_ms / 1000);
	json_kv_uint(w, "bytes_in", r->bytes_in);
	json_kv_uint(w, "bytes_out", r->bytes_out);
	json_obj_end(w);
}

static void rows_h(const struct tp_conn_row *r, void *arg)
{
	row_json(arg, r);
}

static void certs_h(const struct tp_conn_row *r, void *arg)
{
	struct gather_slot *s = arg;
	if (!r->not_after || (s->cert_horizon && r->not_after > s->cert_horizon) || s->ncerts >= MAX_PEER_CERTS)
		return;
	if (s->ncerts == s->capcerts) {
		size_t nc = s->capcerts ? s->capcerts * 2 : 16;
		struct peer_cert *n = realloc(s->certs, nc * sizeof(*n));
		if (!n)
			return;
		s->certs = n;
		s->capcerts = nc;
	}
	struct peer_cert *c = &s->certs[s->ncerts++];
	snprintf(c->subject, sizeof(c->subject), "%s", r->subject);
	c->not_after = r->not_after;
	snprintf(c->remote, sizeof(c->remote), "%s", r->remote);
	snprintf(c->peer, sizeof(c->peer), "%s", r->peer_name);
}

static void peers_h(const struct tp_peer_status *st, void *arg)
{
	struct json_w *w = arg;
	json_obj_begin(w);
	json_kv_str(w, "name", st->name);
	json_kv_str(w, "state", tp_peer_state_name(st->state));
	json_kv_int(w, "local_port", st->local_port);
	json_kv_str(w, "remote_host", st->remote_host);
	json_kv_int(w, "remote_port", st->remote_port);
	json_kv_str(w, "remote_addr", st->remote_addr);
	json_kv_str(w, "last_error", st->last_error);
	json_kv_uint(w, "connects", st->connects);
	json_kv_uint(w, "failures", st->failures);
	json_kv_uint(w, "conn_id", st->conn_id);
	json_obj_end(w);
}

/* Runs on the worker. */
static void gather_job_h(void *arg)
{
	struct gather_job *j = arg;
	struct gather *g = j->g;
	struct gather_slot *s = &g->slots[j->idx];
	struct tp_worker *w = tp_pool_worker(g->pool, j->idx);
	switch (g->mode) {
	case G_ROWS:
		json_arr_begin(&s->rows);
		tp_worker_conns_snapshot(w, rows_h, &s->rows);
		json_arr_end(&s->rows);
		break;
	case G_CERTS:
		tp_worker_conns_snapshot(w, certs_h, s);
		break;
	case G_COUNTS:
		break;
	case G_PEERS:
		json_arr_begin(&s->rows);
		tp_worker_peers_status(w, peers_h, &s->rows);
		json_arr_end(&s->rows);
		break;
	case G_CLOSE:
		s->result = tp_worker_conn_close_id(w, g->conn_id);
		break;
	}
	tp_worker_conn_counts(w, s->counts);
	pthread_mutex_lock(&g->lock);
	s->done = true;
	g->pending--;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
	mem_deref(g);
	free(j);
}

/* Posts the job to every worker (or only to `only` when >= 0) and waits up to the timeout.
 * Returns the gather (mem_deref it) with *complete telling whether every worker answered;
 * read only slots whose `done` was set (under the lock, copied to done_seen). */
static struct gather *gather_run(struct app_mgmt *am, enum gather_mode mode, int only, uint64_t conn_id,
				 time_t horizon, bool *complete)
{
	struct tp_pool *pool = app_workers_pool(am->ws);
	struct gather *g = mem_zalloc(sizeof(*g), gather_destroy);
	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->mode = mode;
	g->pool = pool;
	g->conn_id = conn_id;
	unsigned n = tp_pool_size(pool);
	g->slots = calloc(n, sizeof(*g->slots));
	if (!g->slots)
		return mem_deref(g);
	g->n = n;
	for (unsigned i = 0; i < n; i++) {
		json_w_init(&g->slots[i].rows, 32u << 20);
		g->slots[i].cert_horizon = horizon;
	}
	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < n; i++) {
		if (only >= 0 && (unsigned)only != i)
			continue;
		struct gather_job *j = malloc(sizeof(*j));
		if (!j)
			continue;
		j->g = mem_ref(g);
		j->idx = i;
		g->pending++;
		if (tp_worker_post(tp_pool_worker(pool, i), gather_job_h, j)) {
			g->pending--;
			mem_deref(g);
			free(j);
		}
	}
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += GATHER_TIMEOUT_MS / 1000;
	dl.tv_nsec += (long)(GATHER_TIMEOUT_MS % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (g->pending > 0)
		if (pthread_cond_timedwait(&g->cond, &g->lock, &dl) == ETIMEDOUT)
			break;
	*complete = g->pending == 0;
	/* A worker answering later only writes its own slot, which readers skip (slot_done). */
	pthread_mutex_unlock(&g->lock);
	return g;
}

/* done flags read under the lock, so a late worker's slot is never read half-written */
static bool slot_done(struct gather *g, unsigned i)
{
	pthread_mutex_lock(&g->lock);
	bool d = g->slots[i].done;
	pthread_mutex_unlock(&g->lock);
	return d;
}

/* Joins the per-worker JSON arrays into one array value. */
static void write_joined(struct json_w *w, struct gather *g)
{
	size_t total = 2;
	for (unsigned i = 0; i < g->n; i++)
		if (slot_done(g, i))
			total += g->slots[i].rows.len + 1;
	char *buf = malloc(total + 1);
	if (!buf) {
		json_null(w);
		return;
	}
	size_t o = 0;
	buf[o++] = '[';
	for (unsigned i = 0; i < g->n; i++) {
		if (!slot_done(g, i))
			continue;
		size_t len = 0;
		const char *t = json_w_text(&g->slots[i].rows, &len);
		if (!t || len < 2)
			continue;
		if (len == 2) /* [] */
			continue;
		if (o > 1)
			buf[o++] = ',';
		memcpy(buf + o, t + 1, len - 2);
		o += len - 2;
	}
	buf[o++] = ']';
	json_raw(w, buf, o);
	free(buf);
}

/* ---------------- small helpers ---------------- */

static struct conf *conf_get(struct app_mgmt *am)
{
	return am->hooks.conf_get(am->hooks.arg);
}

static void listen_text(const struct conf_listen *l, char *buf, size_t sz)
{
	bool v6 = strchr(l->host, ':') != NULL;
	snprintf(buf, sz, "%s:%s%s%s:%u", conf_transport_name(l->transport), v6 ? "[" : "", l->host, v6 ? "]" : "",
		 l->port);
}

static X509 *ctx_leaf(struct tls_ctx *ctx)
{
	SSL_CTX *sc = tls_ctx_ssl_ctx(ctx);
	return sc ? SSL_CTX_get0_certificate(sc) : NULL;
}

/* ---------------- GET /status ---------------- */

static void status_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = conf_get(am);
	bool complete = false;
	struct gather *g = gather_run(am, G_COUNTS, -1, 0, 0, &complete);
	struct json_w *w = mgmt_req_json(q);
	time_t now = time(NULL);
	json_obj_begin(w);
	json_kv_str(w, "version", SIPSD_VERSION);
	json_kv_int(w, "pid", (int64_t)getpid());
	char t[32];
	mgmt_time_iso(am->started, t, sizeof(t));
	json_kv_str(w, "started", t);
	json_kv_int(w, "uptime_s", (int64_t)(now - am->started));
	json_kv_str(w, "config", conf ? conf->path : "");
	json_kv_uint(w, "workers", tp_pool_size(app_workers_pool(am->ws)));
	json_key(w, "interfaces");
	json_arr_begin(w);
	for (size_t i = 0; conf && i < conf->nifaces; i++) {
		const struct conf_interface *ifc = &conf->ifaces[i];
		json_obj_begin(w);
		json_kv_str(w, "name", ifc->name);
		json_key(w, "listen");
		json_arr_begin(w);
		for (size_t k = 0; k < ifc->nlisten; k++) {
			char lt[120];
			listen_text(&ifc->listen[k], lt, sizeof(lt));
			json_str(w, lt);
		}
		json_arr_end(w);
		json_kv_str(w, "tls", ifc->tls);
		json_kv_str(w, "mutual_auth", conf_mutual_auth_name(ifc->mutual_auth));
		json_obj_end(w);
	}
	json_arr_end(w);
	unsigned counts[3] = { 0 };
	for (unsigned i = 0; g && i < g->n; i++)
		if (slot_done(g, i))
			for (int k = 0; k < 3; k++)
				counts[k] += g->slots[i].counts[k];
	json_key(w, "connections");
	json_obj_begin(w);
	json_kv_uint(w, "tcp", counts[CONF_TP_TCP]);
	json_kv_uint(w, "tls", counts[CONF_TP_TLS]);
	json_kv_uint(w, "total", counts[CONF_TP_TCP] + counts[CONF_TP_TLS]);
	json_obj_end(w);
	json_kv_uint(w, "peers", conf ? conf->npeers : 0);
	json_kv_uint(w, "registrations", location_count(app_workers_location(am->ws)));
	struct tls_fail_stats fs;
	tls_fail_stats_snapshot(&fs);
	struct tp_tls_stats ts;
	tp_tls_stats_get(&ts);
	json_key(w, "handshakes");
	json_obj_begin(w);
	for (int side = 0; side < 2; side++) {
		uint64_t failed = 0;
		for (int r = 1; r < TLS_FAIL__COUNT; r++)
			failed += fs.count[side][r];
		json_key(w, side == TLS_ROLE_SERVER ? "server" : "client");
		json_obj_begin(w);
		json_kv_uint(w, "ok", ts.handshakes_ok[side]);
		json_kv_uint(w, "failed", failed);
		json_obj_end(w);
	}
	json_obj_end(w);
	json_key(w, "tls_contexts");
	json_arr_begin(w);
	for (size_t i = 0; i < app_tls_count(am->tls); i++) {
		const char *name = app_tls_name(am->tls, i);
		struct tls_holder *h = app_tls_holder(am->tls, name);
		struct tls_ctx *ctx = h ? tls_holder_get(h) : NULL;
		json_obj_begin(w);
		json_kv_str(w, "name", name);
		time_t na = ctx ? tls_ctx_not_after(ctx) : 0;
		mgmt_time_iso(na, t, sizeof(t));
		json_kv_str(w, "not_after", na ? t : "");
		if (na)
			json_kv_int(w, "days_left", ((long long)na - (long long)now) / 86400);
		json_kv_uint(w, "reloads", h ? tls_holder_generation(h) : 0);
		json_kv_bool(w, "keylog", ctx && tls_ctx_keylog_active(ctx));
		json_obj_end(w);
		mem_deref(ctx);
	}
	json_arr_end(w);
	json_key(w, "mgmt");
	json_obj_begin(w);
	json_kv_str(w, "socket", mgmt_socket_path(am->srv));
	json_kv_str(w, "https", conf ? conf->mgmt.listen : NULL);
	json_obj_end(w);
	json_kv_bool(w, "incomplete", !complete);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
	mem_deref(g);
	mem_deref(conf);
}

/* ---------------- /connections ---------------- */

/* {"<key>": [rows from every worker], "incomplete": bool} */
static void reply_gathered(struct mgmt_req *q, struct app_mgmt *am, enum gather_mode kind, const char *key)
{
	bool complete = false;
	struct gather *g = gather_run(am, kind, -1, 0, 0, &complete);
	if (!g) {
		mgmt_reply_error(q, 500, "out of memory");
		return;
	}
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_key(w, key);
	write_joined(w, g);
	json_kv_bool(w, "incomplete", !complete);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
	mem_deref(g);
}

static void conns_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	if (*mgmt_req_rest(q)) {
		mgmt_reply_error(q, 404, "GET /connections takes no id; the list has every connection");
		return;
	}
	reply_gathered(q, am, G_ROWS, "connections");
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!*s)
		return false;
	uint64_t v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*out = v;
	return true;
}

static void conns_delete_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	uint64_t id;
	if (!parse_u64(mgmt_req_rest(q), &id)) {
		mgmt_reply_error(q, 400, "DELETE /connections/ID: ID is a connection id from GET /connections");
		return;
	}
	unsigned widx = (unsigned)(id & 0xffu);
	if (widx >= tp_pool_size(app_workers_pool(am->ws))) {
		mgmt_reply_error(q, 404, "no connection %" PRIu64, id);
		return;
	}
	bool complete = false;
	struct gather *g = gather_run(am, G_CLOSE, (int)widx, id, 0, &complete);
	if (!g || !complete || !slot_done(g, widx)) {
		mgmt_reply_error(q, 504, "worker %u did not answer", widx);
		mem_deref(g);
		return;
	}
	int r = g->slots[widx].result;
	mem_deref(g);
	if (r) {
		mgmt_reply_error(q, 404, "no connection %" PRIu64, id);
		return;
	}
	log_notice("mgmt.conn_closed", "conn=%" PRIu64 " by=\"%s\"", id, mgmt_req_client(q));
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_kv_uint(w, "closed", id);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
}

/* ---------------- GET /peers ---------------- */

static void peers_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	reply_gathered(q, am, G_PEERS, "peers");
}

/* ---------------- GET /registrations ---------------- */

struct regs_ctx {
	struct json_w *w;
	time_t now;
};

static void reg_h(const struct loc_binding *b, void *arg)
{
	struct regs_ctx *rc = arg;
	struct json_w *w = rc->w;
	if (!b->expires_at)
		return;
	json_obj_begin(w);
	json_kv_str(w, "aor", b->aor);
	json_kv_str(w, "contact", b->contact);
	json_kv_str(w, "transport", conf_transport_name(b->transport));
	json_kv_uint(w, "conn_id", b->conn_id);
	json_kv_bool(w, "flow_failed", b->flow_failed);
	char ra[80];
	json_kv_str(w, "received", b->received.len ? tp_addr_fmt(&b->received, ra, sizeof(ra)) : "");
	json_kv_int(w, "expires_s", (int64_t)(b->expires_at - rc->now));
	char t[32];
	mgmt_time_iso(b->expires_at, t, sizeof(t));
	json_kv_str(w, "expires_at", t);
	json_kv_str(w, "user_agent", b->user_agent);
	json_kv_str(w, "cert_identity", b->cert_identity);
	json_kv_str(w, "instance", b->instance);
	if (b->has_reg_id)
		json_kv_uint(w, "reg_id", b->reg_id);
	json_key(w, "q");
	json_double(w, b->q1000 / 1000.0);
	json_obj_end(w);
}

static void regs_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct json_w *w = mgmt_req_json(q);
	struct regs_ctx rc = { w, time(NULL) };
	json_obj_begin(w);
	json_key(w, "registrations");
	json_arr_begin(w);
	location_foreach(app_workers_location(am->ws), reg_h, &rc);
	json_arr_end(w);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
}

/* ---------------- POST /reload ---------------- */

int app_mgmt_reload(struct app_mgmt *am, char *why, size_t whysz)
{
	struct conf_error err;
	memset(&err, 0, sizeof(err));
	int e = am->hooks.reload(am->hooks.arg, &err);
	if (e) {
		if (err.line)
			snprintf(why, whysz, "%s:%u: %s", err.file, err.line, err.msg);
		else
			snprintf(why, whysz, "%s: %s", err.file, err.msg[0] ? err.msg : strerror(e));
	}
	return e;
}

static void reload_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	log_notice("mgmt.reload", "by=\"%s\"", mgmt_req_client(q));
	char why[1200];
	if (app_mgmt_reload(am, why, sizeof(why))) {
		mgmt_reply_error(q, 422, "reload failed, running configuration kept: %s", why);
		return;
	}
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_kv_bool(w, "reloaded", true);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
}

/* ---------------- key log control ---------------- */

static struct app_keylog *keylog_slot(struct app_mgmt *am, const char *ctxname, bool create)
{
	for (size_t i = 0; i < am->nkeylog; i++)
		if (strcmp(am->keylog[i].context, ctxname) == 0)
			return &am->keylog[i];
	if (!create || am->nkeylog >= APP_MGMT_MAX_CTX)
		return NULL;
	struct app_keylog *k = &am->keylog[am->nkeylog++];
	memset(k, 0, sizeof(*k));
	snprintf(k->context, sizeof(k->context), "%s", ctxname);
	return k;
}

static void keylog_off(struct app_keylog *k, const char *why)
{
	if (!k->active)
		return;
	tls_ctx_keylog_set(k->ctx, NULL);
	k->ctx = mem_deref(k->ctx);
	k->active = false;
	log_warn("tls.keylog_disabled", "context=%s file=%s reason=\"%s\"", k->context, k->file, why);
}

static void keylog_tick(void *arg)
{
	struct app_mgmt *am = arg;
	time_t now = time(NULL);
	for (size_t i = 0; i < am->nkeylog; i++) {
		struct app_keylog *k = &am->keylog[i];
		if (!k->active)
			continue;
		if (now >= k->until) {
			keylog_off(k, "timer expired");
			continue;
		}
		/* A reload built a new context: follow it, and stop writing through the old one. */
		struct tls_holder *h = app_tls_holder(am->tls, k->context);
		struct tls_ctx *cur = h ? tls_holder_get(h) : NULL;
		if (cur && cur != k->ctx) {
			tls_ctx_keylog_set(k->ctx, NULL);
			mem_deref(k->ctx);
			k->ctx = mem_ref(cur);
			if (tls_ctx_keylog_set(cur, k->file) != 0)
				keylog_off(k, "reopen after reload failed");
		}
		mem_deref(cur);
	}
}

static void keylog_json(struct json_w *w, struct app_mgmt *am, const char *name)
{
	struct app_keylog *k = keylog_slot(am, name, false);
	struct tls_holder *h = app_tls_holder(am->tls, name);
	struct tls_ctx *ctx = h ? tls_holder_get(h) : NULL;
	time_t now = time(NULL);
	json_obj_begin(w);
	json_kv_str(w, "context", name);
	json_kv_bool(w, "active", ctx && tls_ctx_keylog_active(ctx));
	json_kv_bool(w, "runtime", k && k->active);
	json_kv_str(w, "file", k && k->active ? k->file : "");
	json_kv_int(w, "remaining_s", k && k->active ? (int64_t)(k->until - now) : 0);
	json_obj_end(w);
	mem_deref(ctx);
}

static void keylog_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_key(w, "keylog");
	json_arr_begin(w);
	for (size_t i = 0; i < app_tls_count(am->tls); i++)
		keylog_json(w, am, app_tls_name(am->tls, i));
	json_arr_end(w);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
}

static void keylog_post_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	const char *name = mgmt_req_rest(q);
	struct tls_holder *h = *name ? app_tls_holder(am->tls, name) : NULL;
	if (!h) {
		mgmt_reply_error(q, 404, "no TLS context '%s'", name);
		return;
	}
	struct conf *conf = conf_get(am);
	const struct conf_tls *ct = conf ? conf_tls_find(conf, name) : NULL;
	unsigned max = conf ? conf->mgmt.keylog_timeout : 600;
	uint64_t secs = max;
	const char *qs = mgmt_req_query(q, "seconds");
	if (qs && (!parse_u64(qs, &secs) || secs == 0 || secs > max)) {
		mgmt_reply_error(q, 400, "seconds must be 1..%u ([mgmt] keylog_timeout)", max);
		mem_deref(conf);
		return;
	}
	char file[512];
	if (ct && ct->keylog_file)
		snprintf(file, sizeof(file), "%s", ct->keylog_file);
	else if (conf && conf->mgmt.keylog_dir)
		snprintf(file, sizeof(file), "%s/%s.keylog", conf->mgmt.keylog_dir, name);
	else
		file[0] = '\0';
	mem_deref(conf);
	if (!file[0]) {
		mgmt_reply_error(q, 409, "no place for the key log: set [mgmt] keylog_dir or [tls:%s] keylog_file", name);
		return;
	}
	struct app_keylog *k = keylog_slot(am, name, true);
	if (!k) {
		mgmt_reply_error(q, 500, "too many contexts");
		return;
	}
	struct tls_ctx *ctx = tls_holder_get(h);
	int e = tls_ctx_keylog_set(ctx, file);
	if (e) {
		mem_deref(ctx);
		mgmt_reply_error(q, 500, "cannot open %s: %s", file, strerror(e));
		return;
	}
	if (k->ctx && k->ctx != ctx)
		tls_ctx_keylog_set(k->ctx, NULL);
	mem_deref(k->ctx);
	k->ctx = ctx;
	k->active = true;
	snprintf(k->file, sizeof(k->file), "%s", file);
	k->until = time(NULL) + (time_t)secs;
	log_warn("tls.keylog_enabled",
		 "context=%s file=%s seconds=%" PRIu64 " by=\"%s\" note=\"session secrets are written for "
		 "debugging; anyone with this file can decrypt the traffic\"",
		 name, file, secs, mgmt_req_client(q));
	struct json_w *w = mgmt_req_json(q);
	keylog_json(w, am, name);
	mgmt_reply_json(q, 200);
}

static void keylog_delete_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	const char *name = mgmt_req_rest(q);
	if (!*name || !app_tls_holder(am->tls, name)) {
		mgmt_reply_error(q, 404, "no TLS context '%s'", name);
		return;
	}
	struct app_keylog *k = keylog_slot(am, name, false);
	if (k && k->active) {
		char why[200];
		snprintf(why, sizeof(why), "switched off by %s", mgmt_req_client(q));
		keylog_off(k, why);
	}
	struct json_w *w = mgmt_req_json(q);
	keylog_json(w, am, name);
	mgmt_reply_json(q, 200);
}

/* ---------------- expiry alarms ---------------- */

static struct app_alarm *alarm_find(struct app_mgmt *am, const char *key, time_t now)
{
	struct app_alarm *free_slot = NULL, *oldest = &am->alarms[0];
	for (size_t i = 0; i < APP_MGMT_ALARMS; i++) {
		struct app_alarm *a = &am->alarms[i];
		if (a->key[0] && strcmp(a->key, key) == 0) {
			a->seen = now;
			return a;
		}
		if (!a->key[0] && !free_slot)
			free_slot = a;
		if (a->seen < oldest->seen)
			oldest = a;
	}
	struct app_alarm *a = free_slot ? free_slot : oldest; /* forget the longest unseen */
	memset(a, 0, sizeof(*a));
	snprintf(a->key, sizeof(a->key), "%s", key);
	a->seen = now;
	return a;
}

/* Returns the tightest threshold newly crossed, or -1. */
static int alarm_check(struct app_mgmt *am, const struct conf *conf, const char *key, time_t not_after, time_t now)
{
	const struct conf_mgmt *m = &conf->mgmt;
	long long left = (long long)not_after - (long long)now;
	int tight = -1;
	for (size_t i = 0; i < m->nexpiry_alarm_days; i++)
		if (left <= (long long)m->expiry_alarm_days[i] * 86400)
			tight = (int)i; /* descending: the last crossed is the tightest */
	if (tight < 0)
		return -1;
	struct app_alarm *a = alarm_find(am, key, now);
	if (a->fired & (1u << tight))
		return -1;
	for (int i = 0; i <= tight; i++)
		a->fired |= 1u << i;
	return (int)m->expiry_alarm_days[tight];
}

static void expiry_check(void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = conf_get(am);
	if (!conf)
		return;
	time_t now = time(NULL);
	unsigned maxdays = conf->mgmt.nexpiry_alarm_days ? conf->mgmt.expiry_alarm_days[0] : 0;
	if (!conf->mgmt.nexpiry_alarm_days) {
		mem_deref(conf);
		return;
	}
	char t[32];
	/* own certificates: what the live contexts present */
	for (size_t i = 0; i < app_tls_count(am->tls); i++) {
		const char *name = app_tls_name(am->tls, i);
		struct tls_holder *h = app_tls_holder(am->tls, name);
		struct tls_ctx *ctx = h ? tls_holder_get(h) : NULL;
		X509 *leaf = ctx ? ctx_leaf(ctx) : NULL;
		if (leaf) {
			char fp[65], key[300], subj[256];
			mgmt_x509_sha256(leaf, fp);
			snprintf(key, sizeof(key), "own|%s|%s", name, fp);
			time_t na = tls_ctx_not_after(ctx);
			int th = alarm_check(am, conf, key, na, now);
			if (th >= 0) {
				X509_NAME_oneline(X509_get_subject_name(leaf), subj, sizeof(subj));
				mgmt_time_iso(na, t, sizeof(t));
				log_warn("cert.expiry_alarm",
					 "kind=own context=%s subject=\"%s\" not_after=%s days_left=%lld threshold_days=%d "
					 "sha256=%s",
					 name, subj, t, ((long long)na - (long long)now) / 86400, th, fp);
			}
		}
		mem_deref(ctx);
	}
	/* peer certificates seen on live connections (only those near expiry leave the workers) */
	bool complete = false;
	struct gather *g = gather_run(am, G_CERTS, -1, 0, now + (time_t)maxdays * 86400 + 86400, &complete);
	for (unsigned i = 0; g && i < g->n; i++) {
		if (!slot_done(g, i))
			continue;
		for (size_t k = 0; k < g->slots[i].ncerts; k++) {
			const struct peer_cert *pc = &g->slots[i].certs[k];
			char key[300];
			snprintf(key, sizeof(key), "peer|%s|%lld", pc->subject, (long long)pc->not_after);
			int th = alarm_check(am, conf, key, pc->not_after, now);
			if (th < 0)
				continue;
			mgmt_time_iso(pc->not_after, t, sizeof(t));
			log_warn("cert.expiry_alarm",
				 "kind=peer subject=\"%s\" remote=%s peer=%s not_after=%s days_left=%lld threshold_days=%d",
				 pc->subject, pc->remote, pc->peer[0] ? pc->peer : "-", t,
				 ((long long)pc->not_after - (long long)now) / 86400, th);
		}
	}
	mem_deref(g);
	mem_deref(conf);
}

/* ---------------- GET /metrics ---------------- */

static void metrics_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct mgmt_buf b;
	mgmt_buf_init(&b, 64u << 20);
	time_t now = time(NULL);

	prom_family(&b, "sipsd_info", "gauge", "Build information.");
	prom_sample(&b, "sipsd_info", 1, "version", SIPSD_VERSION, NULL);
	prom_family(&b, "sipsd_uptime_seconds", "gauge", "Seconds since sipsd started.");
	prom_sample(&b, "sipsd_uptime_seconds", (double)(now - am->started), NULL);

	struct tls_fail_stats fs;
	tls_fail_stats_snapshot(&fs);
	struct tp_tls_stats ts;
	tp_tls_stats_get(&ts);
	static const char *const sides[2] = { "server", "client" };
	prom_family(&b, "sipsd_tls_handshakes_total", "counter", "TLS handshakes by side and result.");
	for (int s = 0; s < 2; s++) {
		uint64_t failed = 0;
		for (int r = 1; r < TLS_FAIL__COUNT; r++)
			failed += fs.count[s][r];
		prom_sample_u64(&b, "sipsd_tls_handshakes_total", ts.handshakes_ok[s], "side", sides[s], "result", "ok",
				NULL);
		prom_sample_u64(&b, "sipsd_tls_handshakes_total", failed, "side", sides[s], "result", "failed", NULL);
	}
	prom_family(&b, "sipsd_tls_handshake_failures_total", "counter",
		    "Rejected TLS handshakes by side and precise reason.");
	for (int s = 0; s < 2; s++)
		for (int r = 1; r < TLS_FAIL__COUNT; r++)
			prom_sample_u64(&b, "sipsd_tls_handshake_failures_total", fs.count[s][r], "side", sides[s],
					"reason", tls_fail_reason_name((enum tls_fail_reason)r), NULL);

	bool complete = false;
	struct gather *g = gather_run(am, G_CERTS, -1, 0, 0, &complete);
	unsigned counts[3] = { 0 };
	for (unsigned i = 0; g && i < g->n; i++)
		if (slot_done(g, i))
			for (int k = 0; k < 3; k++)
				counts[k] += g->slots[i].counts[k];
	prom_family(&b, "sipsd_connections_open", "gauge", "Open stream connections by transport.");
	prom_sample_u64(&b, "sipsd_connections_open", counts[CONF_TP_TCP], "transport", "tcp", NULL);
	prom_sample_u64(&b, "sipsd_connections_open", counts[CONF_TP_TLS], "transport", "tls", NULL);
	prom_family(&b, "sipsd_mgmt_collect_incomplete", "gauge", "1 when a worker did not answer in time.");
	prom_sample(&b, "sipsd_mgmt_collect_incomplete", complete ? 0 : 1, NULL);

	prom_family(&b, "sipsd_registrations", "gauge", "Registered contact bindings.");
	prom_sample_u64(&b, "sipsd_registrations", location_count(app_workers_location(am->ws)), NULL);

	struct proxy *px = app_workers_proxy(am->ws);
	if (px) {
		struct proxy_stats ps;
		memset(&ps, 0, sizeof(ps));
		proxy_stats_get(px, &ps);
		prom_family(&b, "sipsd_sip_requests_total", "counter", "SIP requests received.");
		prom_sample_u64(&b, "sipsd_sip_requests_total", ps.requests, NULL);
		prom_family(&b, "sipsd_sip_responses_total", "counter", "SIP responses received.");
		prom_sample_u64(&b, "sipsd_sip_responses_total", ps.responses, NULL);
		prom_family(&b, "sipsd_sip_forwarded_total", "counter", "Requests forwarded statefully.");
		prom_sample_u64(&b, "sipsd_sip_forwarded_total", ps.forwarded, NULL);
		prom_family(&b, "sipsd_sip_local_replies_total", "counter", "Requests answered by sipsd itself.");
		prom_sample_u64(&b, "sipsd_sip_local_replies_total", ps.local_replies, NULL);
		prom_family(&b, "sipsd_sip_final_responses_total", "counter",
			    "Final responses sent upstream by server transactions, by class.");
		for (int c = 2; c < 7; c++) {
			char cls[8];
			snprintf(cls, sizeof(cls), "%dxx", c);
			prom_sample_u64(&b, "sipsd_sip_final_responses_total", ps.by_final[c], "class", cls, NULL);
		}
		/* enum sip_method order; "other" collects unknown methods. */
		static const char *const methods[PROXY_METHODS] = {
			"other", "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO",
			"PRACK", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH",
		};
		prom_family(&b, "sipsd_sip_transactions_total", "counter",
			    "Server transactions ended by a final response, by request method and response class.");
		for (int m = 0; m < PROXY_METHODS; m++)
			for (int c = 2; c < 7; c++) {
				if (!ps.txn_final[m][c])
					continue;
				char cls[8];
				snprintf(cls, sizeof(cls), "%dxx", c);
				prom_sample_u64(&b, "sipsd_sip_transactions_total", ps.txn_final[m][c], "method", methods[m],
						"class", cls, NULL);
			}
	}

	if (px) {
		/* Media policy (issue 7): offers by media class and key management, refusals by reason. */
		struct sdp_metrics_snapshot sm;
		proxy_sdp_metrics_get(px, &sm);
		prom_family(&b, "sipsd_media_offers_total", "counter", "SDP offers judged by the media policy.");
		prom_sample_u64(&b, "sipsd_media_offers_total", sm.offers, NULL);
		prom_family(&b, "sipsd_media_offers_by_media_total", "counter", "Offers with at least one stream of this kind.");
		for (int i = 0; i < SDP_MCLASS_COUNT; i++)
			prom_sample_u64(&b, "sipsd_media_offers_by_media_total", sm.offers_by_proto[i], "media",
					sdp_mclass_name((enum sdp_mclass)i), NULL);
		prom_family(&b, "sipsd_media_offers_by_key_management_total", "counter", "Offers by key management.");
		for (int i = 0; i < SDP_KMCLASS_COUNT; i++)
			prom_sample_u64(&b, "sipsd_media_offers_by_key_management_total", sm.offers_by_km[i], "key_management",
					sdp_kmclass_name((enum sdp_kmclass)i), NULL);
		prom_family(&b, "sipsd_media_rejections_total", "counter", "Offers and answers refused, by reason.");
		for (int i = 1; i < SDP_REASON_COUNT; i++) {
			prom_sample_u64(&b, "sipsd_media_rejections_total", sm.offers_rejected[i], "kind", "offer", "reason",
					sdp_reason_name((enum sdp_reason)i), NULL);
			prom_sample_u64(&b, "sipsd_media_rejections_total", sm.answers_rejected[i], "kind", "answer", "reason",
					sdp_reason_name((enum sdp_reason)i), NULL);
		}
	}
	struct registrar *reg = app_workers_registrar(am->ws);
	if (reg) {
		struct registrar_stats rs;
		registrar_stats_get(reg, &rs);
		prom_family(&b, "sipsd_registrar_requests_total", "counter", "REGISTER requests by outcome.");
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.ok, "result", "ok", NULL);
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.challenged, "result", "challenged", NULL);
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.forbidden, "result", "forbidden", NULL);
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.bad, "result", "bad_request", NULL);
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.too_brief, "result", "interval_too_brief", NULL);
		prom_sample_u64(&b, "sipsd_registrar_requests_total", rs.store_errors, "result", "store_error", NULL);
	}
	prom_family(&b, "sipsd_certificate_expiry_seconds", "gauge",
		    "Seconds until notAfter of own certificates and of peer certificates on live connections.");
	for (size_t i = 0; i < app_tls_count(am->tls); i++) {
		const char *name = app_tls_name(am->tls, i);
		struct tls_holder *h = app_tls_holder(am->tls, name);
		struct tls_ctx *ctx = h ? tls_holder_get(h) : NULL;
		X509 *leaf = ctx ? ctx_leaf(ctx) : NULL;
		if (leaf) {
			char subj[256];
			X509_NAME_oneline(X509_get_subject_name(leaf), subj, sizeof(subj));
			prom_sample(&b, "sipsd_certificate_expiry_seconds",
				    (double)((long long)tls_ctx_not_after(ctx) - (long long)now), "kind", "own", "context",
				    name, "subject", subj, NULL);
		}
		mem_deref(ctx);
	}
	/* peer certificates, one series per distinct certificate (subject + notAfter) */
	size_t emitted = 0;
	for (unsigned i = 0; g && i < g->n; i++) {
		if (!slot_done(g, i))
			continue;
		for (size_t k = 0; k < g->slots[i].ncerts && emitted < MAX_PEER_CERTS; k++) {
			const struct peer_cert *pc = &g->slots[i].certs[k];
			bool dup = false;
			for (unsigned i2 = 0; i2 <= i && !dup; i2++) {
				size_t lim = i2 == i ? k : (slot_done(g, i2) ? g->slots[i2].ncerts : 0);
				for (size_t k2 = 0; k2 < lim && !dup; k2++)
					dup = g->slots[i2].certs[k2].not_after == pc->not_after &&
					      strcmp(g->slots[i2].certs[k2].subject, pc->subject) == 0;
			}
			if (dup)
				continue;
			char na[32];
			mgmt_time_iso(pc->not_after, na, sizeof(na));
			prom_sample(&b, "sipsd_certificate_expiry_seconds",
				    (double)((long long)pc->not_after - (long long)now), "kind", "peer", "subject",
				    pc->subject, "not_after", na, NULL);
			emitted++;
		}
	}
	mem_deref(g);

	prom_family(&b, "sipsd_keylog_active", "gauge", "1 while a context writes its TLS secrets to a key log.");
	for (size_t i = 0; i < app_tls_count(am->tls); i++) {
		const char *name = app_tls_name(am->tls, i);
		struct tls_holder *h = app_tls_holder(am->tls, name);
		struct tls_ctx *ctx = h ? tls_holder_get(h) : NULL;
		prom_sample(&b, "sipsd_keylog_active", ctx && tls_ctx_keylog_active(ctx) ? 1 : 0, "context", name, NULL);
		mem_deref(ctx);
	}

	if (b.err)
		mgmt_reply_error(q, 500, "metrics could not be rendered: %s", strerror(b.err));
	else
		mgmt_reply_text(q, 200, "text/plain; version=0.0.4; charset=utf-8", b.p ? b.p : "", b.len);
	mgmt_buf_free(&b);
}

/* ---------------- start / stop ---------------- */

static void am_destroy(void *data)
{
	struct app_mgmt *am = data;
	mgmt_stop(am->srv);
	for (size_t i = 0; i < am->nkeylog; i++)
		keylog_off(&am->keylog[i], "shutdown");
	mem_deref(am->srv);
}

int app_mgmt_start(const struct conf *conf, struct app_tls *tls, struct app_workers *ws,
		   const struct app_mgmt_hooks *hooks, struct app_mgmt **amp)
{
	const struct conf_mgmt *cm = &conf->mgmt;
	struct app_mgmt *am = mem_zalloc(sizeof(*am), am_destroy);
	if (!am)
		return ENOMEM;
	am->tls = tls;
	am->ws = ws;
	am->hooks = *hooks;
	am->started = time(NULL);
	struct mgmt_settings s = {
		.socket_path = cm->socket,
		.https_host = cm->listen ? cm->listen_addr.host : NULL,
		.https_port = cm->listen ? cm->listen_addr.port : 0,
		.https_tls = cm->tls && cm->listen ? app_tls_holder(tls, cm->tls) : NULL,
	};
	if (s.https_host && !s.https_tls) {
		log_err("mgmt.start_failed", "error=\"no TLS context %s\"", cm->tls ? cm->tls : "-");
		mem_deref(am);
		return EINVAL;
	}
	static const struct {
		enum mgmt_method method;
		const char *path;
		mgmt_route_h *h;
	} routes[] = {
		{ MGMT_GET, "/status", status_h },
		{ MGMT_GET, "/connections", conns_get_h },
		{ MGMT_DELETE, "/connections", conns_delete_h },
		{ MGMT_GET, "/peers", peers_get_h },
		{ MGMT_GET, "/registrations", regs_get_h },
		{ MGMT_POST, "/reload", reload_h },
		{ MGMT_GET, "/metrics", metrics_h },
		{ MGMT_GET, "/keylog", keylog_get_h },
		{ MGMT_POST, "/keylog", keylog_post_h },
		{ MGMT_DELETE, "/keylog", keylog_delete_h },
	};
	int e = mgmt_alloc(&am->srv, &s);
	for (size_t i = 0; !e && i < sizeof(routes) / sizeof(routes[0]); i++)
		e = mgmt_route_add(am->srv, routes[i].method, routes[i].path, routes[i].h, am);
	if (!e)
		e = mgmt_timer_add(am->srv, 1000, keylog_tick, am);
	if (!e)
		e = mgmt_timer_add(am->srv, EXPIRY_CHECK_MS, expiry_check, am);
	if (!e)
		app_mgmt_certs_register(am);
	if (!e) {
		/* first expiry check now, before the API thread exists (same thread discipline) */
		expiry_check(am);
		e = mgmt_start(am->srv);
	}
	if (e) {
		log_err("mgmt.start_failed", "error=\"%s\"", strerror(e));
		mem_deref(am);
		return e;
	}
	*amp = am;
	return 0;
}

void app_mgmt_stop(struct app_mgmt *am)
{
	mem_deref(am);
}
