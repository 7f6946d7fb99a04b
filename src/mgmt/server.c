/* The management API's HTTP server: its own thread and event_base, an evhttp on the Unix socket
 * and one on the HTTPS listener (bufferevent_openssl, client certificate always required). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "base/log.h"
#include "base/mem.h"
#include "mgmt/mgmt.h"
#include "tls/tls.h"

enum { MAX_TIMERS = 16, JSON_MAX = 64u << 20, DEFAULT_BODY = 1u << 20 };

struct mgmt_timer {
	struct event *ev;
	unsigned interval_ms;
	void (*fn)(void *arg);
	void *arg;
};

struct listener_ctx {
	struct mgmt *m;
	bool local;
};

struct mgmt {
	char *socket_path;
	char *https_host;
	uint16_t https_port;
	struct tls_holder *tls;
	size_t max_body;
	unsigned timeout_s;
	struct mgmt_routes *routes;
	struct event_base *base;
	struct evhttp *http_unix, *http_tls;
	struct listener_ctx lc_unix, lc_tls;
	bool unix_open;
	dev_t sock_dev;
	ino_t sock_ino;
	struct mgmt_timer timers[MAX_TIMERS];
	size_t ntimers;
	pthread_t th;
	bool running;
};

struct mgmt_req {
	struct mgmt *m;
	struct evhttp_request *r;
	enum mgmt_method method;
	char *path;
	const char *rest;
	struct evkeyvalq query;
	bool have_query;
	char *body;
	size_t body_len;
	bool local;
	char client[256];
	struct json_w json;
	bool replied;
	int status;
};

static void mgmt_destroy(void *data)
{
	struct mgmt *m = data;
	mgmt_stop(m);
	for (size_t i = 0; i < m->ntimers; i++)
		if (m->timers[i].ev)
			event_free(m->timers[i].ev);
	if (m->http_unix)
		evhttp_free(m->http_unix);
	if (m->http_tls)
		evhttp_free(m->http_tls);
	if (m->base)
		event_base_free(m->base);
	mem_deref(m->routes);
	mem_deref(m->tls);
	mem_deref(m->socket_path);
	mem_deref(m->https_host);
}

int mgmt_alloc(struct mgmt **mp, const struct mgmt_settings *s)
{
	if (!mp || !s || (s->https_host && !s->https_tls))
		return EINVAL;
	struct mgmt *m = mem_zalloc(sizeof(*m), mgmt_destroy);
	if (!m)
		return ENOMEM;
	m->max_body = s->max_body ? s->max_body : DEFAULT_BODY;
	m->timeout_s = s->timeout_s ? s->timeout_s : 10;
	m->https_port = s->https_port;
	m->tls = mem_ref(s->https_tls);
	if ((s->socket_path && !(m->socket_path = mem_strdup(s->socket_path))) ||
	    (s->https_host && !(m->https_host = mem_strdup(s->https_host))) || mgmt_routes_alloc(&m->routes)) {
		mem_deref(m);
		return ENOMEM;
	}
	m->base = event_base_new();
	if (!m->base) {
		mem_deref(m);
		return ENOMEM;
	}
	*mp = m;
	return 0;
}

int mgmt_route_add(struct mgmt *m, unsigned methods, const char *prefix, mgmt_route_h *h, void *arg)
{
	return mgmt_routes_add(m->routes, methods, prefix, h, arg);
}

static void timer_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct mgmt_timer *t = arg;
	t->fn(t->arg);
}

int mgmt_timer_add(struct mgmt *m, unsigned interval_ms, void (*fn)(void *arg), void *arg)
{
	if (m->running)
		return EBUSY;
	if (m->ntimers >= MAX_TIMERS || !fn || !interval_ms)
		return EINVAL;
	struct mgmt_timer *t = &m->timers[m->ntimers];
	t->interval_ms = interval_ms;
	t->fn = fn;
	t->arg = arg;
	t->ev = event_new(m->base, -1, EV_PERSIST, timer_h, t);
	if (!t->ev)
		return ENOMEM;
	m->ntimers++;
	return 0;
}

const char *mgmt_socket_path(const struct mgmt *m)
{
	return m && m->unix_open ? m->socket_path : NULL;
}

/* ---------------- requests ---------------- */

static const char *reason_of(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 422: return "Unprocessable Entity";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
	}
}

static void send_reply(struct mgmt_req *q, int status, const char *ctype, const char *text, size_t len)
{
	if (q->replied)
		return;
	q->replied = true;
	q->status = status;
	struct evkeyvalq *h = evhttp_request_get_output_headers(q->r);
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	struct evbuffer *out = evhttp_request_get_output_buffer(q->r);
	if (len)
		evbuffer_add(out, text, len);
	evhttp_send_reply(q->r, status, reason_of(status), NULL);
}

void mgmt_reply_text(struct mgmt_req *q, int status, const char *content_type, const char *text, size_t len)
{
	send_reply(q, status, content_type, text, len);
}

void mgmt_reply_error(struct mgmt_req *q, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	struct json_w w;
	json_w_init(&w, 4096);
	json_obj_begin(&w);
	json_kv_str(&w, "error", msg);
	json_kv_int(&w, "status", status);
	json_obj_end(&w);
	size_t n = 0;
	const char *t = json_w_text(&w, &n);
	if (!t) {
		/* cannot fail for 4 KiB of escaped 512 bytes; keep a fallback anyway */
		t = "{\"error\":\"error\"}";
		n = strlen(t);
	}
	send_reply(q, status, "application/json", t, n);
	json_w_free(&w);
}

void mgmt_reply_json(struct mgmt_req *q, int status)
{
	size_t n = 0;
	const char *t = json_w_text(&q->json, &n);
	if (!t) {
		mgmt_reply_error(q, 500, "response could not be built (%s)", strerror(json_w_error(&q->json)));
		return;
	}
	char *copy = malloc(n + 1);
	if (!copy) {
		mgmt_reply_error(q, 500, "out of memory");
		return;
	}
	memcpy(copy, t, n);
	copy[n] = '\n';
	send_reply(q, status, "application/json", copy, n + 1);
	free(copy);
}

enum mgmt_method mgmt_req_method(const struct mgmt_req *q)
{
	return q->method;
}

const char *mgmt_req_path(const struct mgmt_req *q)
{
	return q->path;
}

const char *mgmt_req_rest(const struct mgmt_req *q)
{
	return q->rest ? q->rest : "";
}

const char *mgmt_req_query(const struct mgmt_req *q, const char *key)
{
	if (!q->have_query)
		return NULL;
	return evhttp_find_header(&((struct mgmt_req *)q)->query, key);
}

const char *mgmt_req_body(struct mgmt_req *q, size_t *len)
{
	if (!q->body) {
		struct evbuffer *in = evhttp_request_get_input_buffer(q->r);
		size_t n = in ? evbuffer_get_length(in) : 0;
		if (n > q->m->max_body)
			n = q->m->max_body;
		q->body = malloc(n + 1);
		if (!q->body) {
			if (len)
				*len = 0;
			return "";
		}
		if (n)
			evbuffer_copyout(in, q->body, n);
		q->body[n] = '\0';
		q->body_len = n;
	}
	if (len)
		*len = q->body_len;
	return q->body;
}

bool mgmt_req_local(const struct mgmt_req *q)
{
	return q->local;
}

const char *mgmt_req_client(const struct mgmt_req *q)
{
	return q->client;
}

struct json_w *mgmt_req_json(struct mgmt_req *q)
{
	return &q->json;
}

static enum mgmt_method method_of(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET: return MGMT_GET;
	case EVHTTP_REQ_POST: return MGMT_POST;
	case EVHTTP_REQ_DELETE: return MGMT_DELETE;
	default: return 0;
	}
}

static const char *method_name(enum mgmt_method m)
{
	return m == MGMT_GET ? "GET" : m == MGMT_POST ? "POST" : m == MGMT_DELETE ? "DELETE" : "?";
}

/* HTTPS: the connection must be TLS with a verified client certificate. The context already
 * refuses the handshake otherwise (mutual_auth required); this is the second lock, and the one
 * that stops a plain-HTTP connection evhttp would make if the bufferevent could not be built. */
static bool tls_client_ok(struct mgmt_req *q)
{
	struct evhttp_connection *ec = evhttp_request_get_connection(q->r);
	struct bufferevent *bev = ec ? evhttp_connection_get_bufferevent(ec) : NULL;
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	if (!ssl)
		return false;
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
		return false;
	X509_NAME_oneline(X509_get_subject_name(cert), q->client, sizeof(q->client));
	return true;
}

static void index_h(unsigned methods, const char *prefix, void *arg)
{
	struct json_w *w = arg;
	json_obj_begin(w);
	json_kv_str(w, "path", prefix);
	json_key(w, "methods");
	json_arr_begin(w);
	for (unsigned b = MGMT_GET; b <= MGMT_DELETE; b <<= 1)
		if (methods & b)
			json_str(w, method_name(b));
	json_arr_end(w);
	json_obj_end(w);
}

static void request_h(struct evhttp_request *r, void *arg)
{
	struct listener_ctx *lc = arg;
	struct mgmt *m = lc->m;
	struct mgmt_req q = { .m = m, .r = r, .local = lc->local };
	json_w_init(&q.json, JSON_MAX);
	q.method = method_of(evhttp_request_get_command(r));
	if (lc->local) {
		snprintf(q.client, sizeof(q.client), "unix");
	} else if (!tls_client_ok(&q)) {
		log_warn("mgmt.refused", "listener=https reason=\"no verified client certificate\"");
		struct evhttp_connection *ec = evhttp_request_get_connection(r);
		send_reply(&q, 403, "text/plain", "", 0);
		if (ec)
			evhttp_connection_free_on_completion(ec);
		json_w_free(&q.json);
		return;
	}
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r);
	const char *raw = uri ? evhttp_uri_get_path(uri) : NULL;
	size_t plen = 0;
	q.path = raw ? evhttp_uridecode(raw, 0, &plen) : NULL;
	const char *qs = uri ? evhttp_uri_get_query(uri) : NULL;
	if (qs && evhttp_parse_query_str(qs, &q.query) == 0)
		q.have_query = true;
	if (!q.path || plen != strlen(q.path) || q.path[0] != '/') {
		mgmt_reply_error(&q, 400, "bad path");
	} else if (!q.method) {
		mgmt_reply_error(&q, 405, "method not allowed");
	} else if (strcmp(q.path, "/") == 0 && q.method == MGMT_GET) {
		json_arr_begin(&q.json);
		mgmt_routes_foreach(m->routes, index_h, &q.json);
		json_arr_end(&q.json);
		mgmt_reply_json(&q, 200);
	} else {
		mgmt_route_h *h = NULL;
		void *harg = NULL;
		unsigned allowed = 0;
		switch (mgmt_routes_match(m->routes, q.method, q.path, &h, &harg, &q.rest, &allowed)) {
		case MGMT_MATCH_OK:
			h(&q, harg);
			if (!q.replied)
				mgmt_reply_error(&q, 500, "handler gave no answer");
			break;
		case MGMT_MATCH_BAD_METHOD: {
			char allow[32] = "";
			for (unsigned b = MGMT_GET; b <= MGMT_DELETE; b <<= 1)
				if (allowed & b) {
					size_t l = strlen(allow);
					snprintf(allow + l, sizeof(allow) - l, "%s%s", l ? ", " : "", method_name(b));
				}
			evhttp_add_header(evhttp_request_get_output_headers(r), "Allow", allow);
			mgmt_reply_error(&q, 405, "method %s not allowed on %s", method_name(q.method), q.path);
			break;
		}
		case MGMT_MATCH_NO_PATH:
			mgmt_reply_error(&q, 404, "no such resource: %s", q.path);
			break;
		}
	}
	/* The access log names who did what; bodies (PEMs) and keys never appear in it. */
	log_info("mgmt.request", "listener=%s client=\"%s\" method=%s path=\"%s\" status=%d",
		 lc->local ? "unix" : "https", q.client, method_name(q.method), q.path ? q.path : "?", q.status);
	if (q.have_query)
		evhttp_clear_headers(&q.query);
	free(q.path);
	free(q.body);
	json_w_free(&q.json);
}

/* ---------------- listeners ---------------- */

static struct bufferevent *https_bev_h(struct event_base *base, void *arg)
{
	struct mgmt *m = arg;
	SSL *ssl = NULL;
	struct tls_ctx *ctx = tls_holder_get(m->tls);
	/* Client certificate always required, verified against the context's trust store. */
	int e = ctx ? tls_session_new(ctx, TLS_ROLE_SERVER, CONF_MA_REQUIRED, NULL, &ssl) : EINVAL;
	mem_deref(ctx);
	if (e) {
		log_err("mgmt.tls_setup_failed", "error=\"%s\"", strerror(e));
		return NULL; /* request_h refuses the plain connection evhttp then makes */
	}
	/* The contexts read ahead (the SIP transport drains what OpenSSL holds, SSL_has_pending).
	 * bufferevent_openssl does not: a request that came in with the client's Finished would
	 * sit in OpenSSL's buffer until the client gave up (seen under load with TLS 1.3). */
	SSL_set_read_ahead(ssl, 0);
	struct bufferevent *bev =
		bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

static struct evhttp *http_new(struct mgmt *m, struct listener_ctx *lc)
{
	struct evhttp *h = evhttp_new(m->base);
	if (!h)
		return NULL;
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(h, (ev_ssize_t)m->max_body);
	evhttp_set_max_headers_size(h, 16384);
	evhttp_set_timeout(h, (int)m->timeout_s);
	evhttp_set_gencb(h, request_h, lc);
	return h;
}

/* A socket file left by a crashed sipsd is removed; one a live process answers on is not. */
static int unix_prepare(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : errno;
	if (!S_ISSOCK(st.st_mode))
		return EEXIST;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	if (live)
		return EADDRINUSE;
	return unlink(path) == 0 ? 0 : errno;
}

static int unix_open(struct mgmt *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(m->socket_path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->socket_path);
	int e = unix_prepare(m->socket_path);
	if (e)
		return e;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	/* bind, then chmod, then listen: nobody can connect before the mode is 0660. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || chmod(m->socket_path, 0660) != 0) {
		e = errno;
		close(fd);
		return e;
	}
	struct stat st;
	if (stat(m->socket_path, &st) == 0) {
		m->sock_dev = st.st_dev;
		m->sock_ino = st.st_ino;
	}
	if (listen(fd, 64) != 0) {
		e = errno;
		close(fd);
		unlink(m->socket_path);
		return e;
	}
	m->http_unix = http_new(m, &m->lc_unix);
	if (!m->http_unix || !evhttp_accept_socket_with_handle(m->http_unix, fd)) {
		close(fd);
		unlink(m->socket_path);
		return ENOMEM;
	}
	m->unix_open = true;
	return 0;
}

static void *thread_main(void *arg)
{
	struct mgmt *m = arg;
	event_base_loop(m->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int mgmt_start(struct mgmt *m)
{
	m->lc_unix = (struct listener_ctx){ m, true };
	m->lc_tls = (struct listener_ctx){ m, false };
	if (m->socket_path) {
		int e = unix_open(m);
		if (e)
			log_warn("mgmt.socket_unavailable", "path=%s error=\"%s\" note=\"management API not on the Unix socket\"",
				 m->socket_path, strerror(e));
		else
			log_info("mgmt.listening", "listener=unix path=%s mode=0660", m->socket_path);
	}
	if (m->https_host) {
		m->http_tls = http_new(m, &m->lc_tls);
		if (!m->http_tls)
			return ENOMEM;
		evhttp_set_bevcb(m->http_tls, https_bev_h, m);
		if (!evhttp_bind_socket_with_handle(m->http_tls, m->https_host, m->https_port)) {
			int e = errno ? errno : EADDRINUSE;
			log_err("mgmt.listen_failed", "listener=https address=%s:%u error=\"%s\"", m->https_host,
				m->https_port, strerror(e));
			return e;
		}
		log_info("mgmt.listening", "listener=https address=%s:%u client_certificate=required", m->https_host,
			 m->https_port);
	}
	for (size_t i = 0; i < m->ntimers; i++) {
		struct timeval tv = { m->timers[i].interval_ms / 1000, (m->timers[i].interval_ms % 1000) * 1000 };
		event_add(m->timers[i].ev, &tv);
	}
	/* Signals belong to the main thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&m->th, NULL, thread_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return e;
	m->running = true;
	return 0;
}

void mgmt_stop(struct mgmt *m)
{
	if (!m || !m->running)
		return;
	event_base_loopbreak(m->base);
	pthread_join(m->th, NULL);
	m->running = false;
	if (m->unix_open) {
		/* remove the socket file only if it is still ours */
		struct stat st;
		if (stat(m->socket_path, &st) == 0 && st.st_dev == m->sock_dev && st.st_ino == m->sock_ino)
			unlink(m->socket_path);
		m->unix_open = false;
	}
}
