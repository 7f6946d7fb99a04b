/* Internal to the transport layer: the worker and connection structures. */
#ifndef SIPSD_TRANSPORT_CONN_H
#define SIPSD_TRANSPORT_CONN_H

#include <openssl/ssl.h>
#include <event2/event.h>
#include <pthread.h>

#include "transport/transport.h"

struct tls_peer_info;

enum tp_conn_state {
	TP_CONN_CONNECTING, /* outbound TCP connect in progress */
	TP_CONN_HANDSHAKE,  /* TLS handshake in progress */
	TP_CONN_UP,
	TP_CONN_CLOSING,    /* flushing, then close_notify */
	TP_CONN_CLOSED,
};

/* A function to run on a worker's own thread (cross-worker hand-off). */
struct tp_post {
	struct tp_post *next;
	void (*fn)(void *arg);
	void *arg;
};

struct tp_txbuf {
	struct tp_txbuf *next;
	size_t len, off;
	char data[];
};

struct tp_conn {
	struct tp_conn *prev, *next; /* worker's connection list */
	struct tp_conn *hnext;       /* worker's id hash chain */
	struct tp_worker *w;
	struct tp_listener *lst; /* inbound: the listener it came from */
	uint64_t id;
	int fd;
	enum conf_transport transport;
	enum tp_conn_state state;
	bool inbound;
	struct tp_addr local, remote;
	char remote_text[64];
	SSL *ssl;
	struct event *rev, *wev;
	/* Receive buffer: allocated while a message is partially read, freed when empty, so an
	 * idle connection holds no buffer memory. */
	char *rx;
	size_t rx_len, rx_cap;
	struct tp_txbuf *tx_head, *tx_tail;
	struct tp_conn *flush_next; /* worker's deferred-flush list (holds a reference) */
	bool flush_queued;
	uint64_t created_ms, last_rx_ms;
	uint64_t bytes_in, bytes_out;
	unsigned idle_timeout;
	bool want_write_for_read; /* SSL_read asked for a writable socket */
	bool authenticated;        /* peer presented a certificate that verified */
	struct tls_peer_info *peer; /* what the handshake proved (TLS only) */
	struct tp_peer *tpeer;      /* outbound link this connection serves, if any */
	const char *close_reason;   /* static or conn-lifetime text for the peer table */
};

struct tp_listener {
	struct tp_listener *next;
	struct tp_worker *w;
	struct tp_listen_spec spec;
	char iface[64];
	int fd;
	struct event *ev;
	struct tp_addr local;
};

struct tp_worker {
	unsigned index;
	struct event_base *base;
	struct tp_settings set;
	tp_msg_h *msgh;
	void *arg;
	struct tp_listener *listeners;
	struct tp_conn *conns;
	unsigned nconns;
	struct event *sweep;    /* 1 s timer: idle and handshake timeouts */
	struct event *stop_ev;  /* user event: graceful stop requested */
	struct event *stop_deadline;
	unsigned stop_timeout_ms;
	bool stopping;
	uint64_t accepted, accepted_at_sweep, accepted_at_trim;
	struct tp_peer *peers;
	struct evdns_base *dns; /* created on first name lookup */
	struct tp_pool *pool;
	/* Inbox: work posted by other threads, run on this worker's loop. */
	pthread_mutex_t inbox_lock;
	struct tp_post *inbox_head, *inbox_tail;
	struct event *inbox_ev;
	/* Connections by id (chained hash, power-of-two buckets). */
	struct tp_conn **ctab;
	size_t ctab_cap;
	/* While a read is dispatched, sends only queue; the connections written to are flushed
	 * once it returns, so messages for one peer leave together (stream.c). */
	unsigned batch_depth;
	struct tp_conn *flush_head, *flush_tail;
};

#endif
