/* Management API server: JSON over HTTP/1.1 (libevent evhttp) on a Unix socket and, optionally,
 * on an HTTPS listener that always requires a client certificate verified against its TLS
 * context (no password-only remote management, no plain-HTTP remote listener).
 *
 * mgmt knows no module: the application registers endpoints (mgmt_route_add) and periodic jobs
 * (mgmt_timer_add) before mgmt_start(). Everything runs on the API's own thread and event_base,
 * so a slow client never stalls a SIP worker; handlers that need data owned by workers post to
 * them and wait with a bounded timeout (the handler runs on the API thread and may block). */
#ifndef SIPSD_MGMT_MGMT_H
#define SIPSD_MGMT_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "mgmt/json.h"

struct mgmt;
struct mgmt_req;
struct tls_holder;

enum mgmt_method { MGMT_GET = 1, MGMT_POST = 2, MGMT_DELETE = 4 };

/* Handlers must answer with exactly one mgmt_reply_*() before returning (the server answers
 * 500 otherwise). */
typedef void(mgmt_route_h)(struct mgmt_req *req, void *arg);

/* ---- routes (pure; unit tested) ---- */
struct mgmt_routes;

int mgmt_routes_alloc(struct mgmt_routes **rp);
/* prefix: "/connections" matches "/connections" and "/connections/..." (not "/connectionsX").
 * methods: a mask of enum mgmt_method. Later adds of the same prefix and method replace. */
int mgmt_routes_add(struct mgmt_routes *r, unsigned methods, const char *prefix, mgmt_route_h *h, void *arg);
enum mgmt_match { MGMT_MATCH_OK, MGMT_MATCH_NO_PATH, MGMT_MATCH_BAD_METHOD };
/* Longest matching prefix wins. On OK: *hp, *argp and *rest (the part after the prefix without
 * the leading '/', "" when none; points into path). BAD_METHOD: path known, method not;
 * *allowed gets the methods it has. */
enum mgmt_match mgmt_routes_match(const struct mgmt_routes *r, enum mgmt_method m, const char *path,
				  mgmt_route_h **hp, void **argp, const char **rest, unsigned *allowed);
/* Calls h for each route (for the index endpoint). */
void mgmt_routes_foreach(const struct mgmt_routes *r,
			 void (*h)(unsigned methods, const char *prefix, void *arg), void *arg);

/* ---- server ---- */
struct mgmt_settings {
	const char *socket_path;     /* Unix socket, NULL = none */
	const char *https_host;      /* HTTPS listener, NULL = none */
	uint16_t https_port;
	struct tls_holder *https_tls; /* its context: certificate + trust store for client certs */
	size_t max_body;             /* request body limit, default 1 MiB */
	unsigned timeout_s;          /* per-connection read/write timeout, default 10 s */
};

int mgmt_alloc(struct mgmt **mp, const struct mgmt_settings *s);
int mgmt_route_add(struct mgmt *m, unsigned methods, const char *prefix, mgmt_route_h *h, void *arg);
/* Run fn(arg) every interval_ms on the API thread (first run after interval_ms). */
int mgmt_timer_add(struct mgmt *m, unsigned interval_ms, void (*fn)(void *arg), void *arg);
/* Opens the listeners and starts the thread. A Unix socket that can't be opened is logged and
 * skipped (the daemon still runs); an HTTPS listener that can't be opened is an error. */
int mgmt_start(struct mgmt *m);
/* Stops the thread, closes listeners, removes the socket file; mem_deref() afterwards. */
void mgmt_stop(struct mgmt *m);
/* The Unix socket actually listening, NULL when none. */
const char *mgmt_socket_path(const struct mgmt *m);

/* ---- inside a handler ---- */
enum mgmt_method mgmt_req_method(const struct mgmt_req *q);
const char *mgmt_req_path(const struct mgmt_req *q); /* decoded path, no query */
const char *mgmt_req_rest(const struct mgmt_req *q); /* path after the route prefix, no '/' */
/* Query parameter (decoded), NULL when absent. */
const char *mgmt_req_query(const struct mgmt_req *q, const char *key);
/* Request body (NUL-terminated copy, bounded by max_body), "" when none. */
const char *mgmt_req_body(struct mgmt_req *q, size_t *len);
/* Came over the Unix socket (local administrator) rather than HTTPS. */
bool mgmt_req_local(const struct mgmt_req *q);
/* Who asked: "unix" or the verified client certificate's subject (for audit logs). */
const char *mgmt_req_client(const struct mgmt_req *q);
/* The response writer: build a JSON document, then mgmt_reply_json(). Bounded at 64 MiB. */
struct json_w *mgmt_req_json(struct mgmt_req *q);

void mgmt_reply_json(struct mgmt_req *q, int status);
void mgmt_reply_text(struct mgmt_req *q, int status, const char *content_type, const char *text, size_t len);
/* {"error": "..."} with status. */
void mgmt_reply_error(struct mgmt_req *q, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- Prometheus text exposition format (version 0.0.4) ---- */
struct mgmt_buf {
	char *p;
	size_t len, cap, max;
	int err;
};
void mgmt_buf_init(struct mgmt_buf *b, size_t max);
void mgmt_buf_free(struct mgmt_buf *b);
void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* # HELP and # TYPE lines (type "counter" or "gauge"). */
void prom_family(struct mgmt_buf *b, const char *name, const char *type, const char *help);
/* name{l1="v1",l2="v2"} value; labels: NULL-terminated key, value pairs (values escaped). */
void prom_sample(struct mgmt_buf *b, const char *name, double value, ...) __attribute__((sentinel));
void prom_sample_u64(struct mgmt_buf *b, const char *name, uint64_t value, ...) __attribute__((sentinel));

#endif
