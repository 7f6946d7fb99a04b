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
int tp_socket_nonblock(int fd);

/* TLS glue (tls_glue.c): the only place transport talks to the tls module. */
SSL *tp_tls_server_new(struct tp_listener *l);
/* After a successful handshake: log the peer, record identity. */
void tp_tls_handshake_done(struct tp_conn *c);
/* After a failed handshake: classify, count and log once. */
void tp_tls_handshake_failed(struct tp_conn *c, int ssl_err);

#endif
