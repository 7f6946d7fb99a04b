/* Internal to the transport layer: stream (TCP/TLS) connection lifecycle. */
#ifndef SIPSD_TRANSPORT_STREAM_H
#define SIPSD_TRANSPORT_STREAM_H

#include "transport/conn.h"

void tp_conn_accept(struct tp_listener *l, int fd, const struct tp_addr *remote);
/* Handshake/connect failure: logged and counted by the caller's reason; closes at once. */
void tp_conn_fail(struct tp_conn *c, const char *why);
/* Unlink and free now, without flushing. */
void tp_conn_destroy_now(struct tp_conn *c);
void tp_worker_conn_gone(struct tp_worker *w);
/* Between begin and end, sends on a connection only queue; end flushes them, so messages for
 * one peer leave in one TLS record. Nests. */
void tp_worker_batch_begin(struct tp_worker *w);
void tp_worker_batch_end(struct tp_worker *w);
int tp_socket_nonblock(int fd);

/* Outbound connection (connect() already issued); ssl NULL for TCP. */
struct tp_conn *tp_conn_outbound(struct tp_worker *w, int fd, const struct tp_addr *remote,
				 enum conf_transport tp, SSL *ssl, struct tp_peer *peer);

/* connect.c: an outbound connection for a peer link (peer) or on demand (peer NULL); NULL with
 * why filled in when it could not even start. */
struct tp_conn *tp_connect(struct tp_worker *w, const struct tp_connect_spec *s, struct tp_peer *peer, char *why,
			   size_t whysz);

/* peer.c */
void tp_peer_conn_gone(struct tp_peer *p, struct tp_conn *c, const char *why);
void tp_peer_conn_up(struct tp_peer *p, struct tp_conn *c);
void tp_peer_pong(struct tp_peer *p);
/* Bytes arrived on the peer's connection (confirms a TLS 1.3 link). */
void tp_peer_data(struct tp_peer *p, struct tp_conn *c);
void tp_peer_stop(struct tp_peer *p);
struct tp_peer *tp_peer_next_in_list(struct tp_peer *p);
void tp_peer_set_next(struct tp_peer *p, struct tp_peer *next);
/* pool.c */
void tp_pool_conn_closed(struct tp_pool *pool, uint64_t conn_id);
void tp_worker_set_self(struct tp_worker *w);
void tp_worker_inbox_h(evutil_socket_t fd, short what, void *arg);
void tp_worker_inbox_drain(struct tp_worker *w);
int tp_worker_conn_insert(struct tp_worker *w, struct tp_conn *c);
void tp_worker_conn_remove(struct tp_worker *w, struct tp_conn *c);
/* worker.c */
int tp_worker_alloc(struct tp_worker **wp, unsigned index, const struct tp_settings *s, tp_msg_h *msgh,
		    void *arg);
struct evdns_base *tp_worker_dns(struct tp_worker *w);
void tp_worker_add_peer(struct tp_worker *w, struct tp_peer *p);

/* TLS glue (tls_glue.c): the only place transport talks to the tls module. */
SSL *tp_tls_server_new(struct tp_listener *l);
/* After a successful handshake: log the peer, record identity. */
void tp_tls_handshake_done(struct tp_conn *c);
/* After a failed handshake: classify, count and log once; returns the reason's name. */
const char *tp_tls_handshake_failed(struct tp_conn *c, int ssl_err);

#endif
