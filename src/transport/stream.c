/* TCP and TLS connections: non-blocking handshake, framed reads, queued writes, orderly close
 * with close_notify. The TLS engine knows nothing about sockets; this file owns the fds. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/timeutil.h"
#include "sip/frame.h"
#include "transport/stream.h"

static atomic_uint_fast64_t next_conn_id = 1;

enum { RX_CHUNK = 4096, TX_MAX_QUEUED = 4u << 20, TX_COALESCE_MAX = 16384 /* one TLS record */ };

static void conn_read_h(evutil_socket_t fd, short what, void *arg);
static void conn_write_h(evutil_socket_t fd, short what, void *arg);
static void conn_flush(struct tp_conn *c);

uint64_t tp_conn_id(const struct tp_conn *c)
{
	return c->id;
}

const struct tls_peer_info *tp_conn_tls_info(const struct tp_conn *c)
{
	return c->peer;
}

bool tp_conn_verified(const struct tp_conn *c)
{
	return c->authenticated;
}

static void conn_unlink(struct tp_conn *c)
{
	struct tp_worker *w = c->w;
	if (!w)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	tp_worker_conn_remove(w, c);
	w->nconns--;
	tp_pool_conn_closed(w->pool, c->id);
	c->w = NULL;
	tp_worker_conn_gone(w);
}

static void conn_release(struct tp_conn *c)
{
	if (c->rev)
		event_free(c->rev);
	if (c->wev)
		event_free(c->wev);
	c->rev = c->wev = NULL;
	if (c->ssl)
		SSL_free(c->ssl);
	c->ssl = NULL;
	c->peer = mem_deref(c->peer);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	while (c->tx_head) {
		struct tp_txbuf *b = c->tx_head;
		c->tx_head = b->next;
		free(b);
	}
	c->tx_tail = NULL;
}

static void conn_destroy(void *data)
{
	struct tp_conn *c = data;
	conn_release(c);
	/* Freed only here: a message handler may still read rx while the connection dies. */
	free(c->rx);
}

void tp_conn_destroy_now(struct tp_conn *c)
{
	if (c->state == TP_CONN_CLOSED)
		return;
	c->state = TP_CONN_CLOSED;
	if (c->tpeer)
		tp_peer_conn_gone(c->tpeer, c, c->close_reason);
	c->tpeer = NULL;
	conn_unlink(c);
	conn_release(c);
	mem_deref(c);
}

static void conn_log_close(struct tp_conn *c, const char *why)
{
	log_info("transport.conn_closed",
		 "conn=%llu transport=%s remote=%s reason=\"%s\" age_ms=%llu bytes_in=%llu bytes_out=%llu",
		 (unsigned long long)c->id, conf_transport_name(c->transport), c->remote_text, why,
		 (unsigned long long)(time_mono_ms() - c->created_ms), (unsigned long long)c->bytes_in,
		 (unsigned long long)c->bytes_out);
}

void tp_conn_fail(struct tp_conn *c, const char *why)
{
	if (c->state == TP_CONN_CLOSED)
		return;
	c->close_reason = why;
	conn_log_close(c, why);
	tp_conn_destroy_now(c);
}

/* RFC 5246 7.2.1 / RFC 8446 6.1: an orderly close sends close_notify. We don't wait for the
 * peer's reply (allowed by both RFCs) so a silent peer can't hold the connection open. */
static void conn_finish_close(struct tp_conn *c)
{
	if (c->ssl && (c->state == TP_CONN_UP || c->state == TP_CONN_CLOSING)) {
		ERR_clear_error();
		int r = SSL_shutdown(c->ssl);
		if (r < 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE) {
				/* Socket full: retry when writable; the sweep bounds the wait. */
				c->state = TP_CONN_CLOSING;
				event_add(c->wev, NULL);
				return;
			}
		}
	}
	tp_conn_destroy_now(c);
}

void tp_conn_close(struct tp_conn *c, const char *why)
{
	if (c->state == TP_CONN_CLOSED || c->state == TP_CONN_CLOSING)
		return;
	c->close_reason = why;
	conn_log_close(c, why);
	if (c->state != TP_CONN_UP) {
		tp_conn_destroy_now(c);
		return;
	}
	c->state = TP_CONN_CLOSING;
	c->last_rx_ms = time_mono_ms(); /* the sweep gives CLOSING 5 s to flush */
	event_del(c->rev);
	if (c->tx_head)
		conn_flush(c); /* finishes the close when the queue drains */
	else
		conn_finish_close(c);
}

static struct tp_conn *conn_new(struct tp_worker *w, int fd, const struct tp_addr *remote, enum conf_transport tp)
{
	struct tp_conn *c = mem_zalloc(sizeof(*c), conn_destroy);
	if (!c) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	/* Low 8 bits: the owning worker, so any thread can route to it (pool.c); next 2: transport. */
	c->id = (atomic_fetch_add(&next_conn_id, 1) << 10) | ((uint64_t)tp & 3u) << 8 | (w->index & 0xffu);
	c->transport = tp;
	c->remote = *remote;
	c->created_ms = c->last_rx_ms = time_mono_ms();
	tp_addr_fmt(remote, c->remote_text, sizeof(c->remote_text));
	c->rev = event_new(w->base, fd, EV_READ | EV_PERSIST, conn_read_h, c);
	c->wev = event_new(w->base, fd, EV_WRITE, conn_write_h, c);
	if (!c->rev || !c->wev)
		return mem_deref(c);
	return c;
}

static void conn_link(struct tp_worker *w, struct tp_conn *c)
{
	if (tp_worker_conn_insert(w, c)) {
		/* No memory for the index: the connection still works, it just can't be addressed
		 * by id from other workers. */
		log_warn("transport.conn_index_failed", "conn=%llu", (unsigned long long)c->id);
	}
	c->w = w;
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
}

struct tp_conn *tp_conn_outbound(struct tp_worker *w, int fd, const struct tp_addr *remote, enum conf_transport tp,
				 SSL *ssl, struct tp_peer *peer)
{
	/* SIP messages are small and answered at once: Nagle plus delayed ACKs would hold each
	 * message ~40 ms waiting for more bytes (RFC 896 / RFC 1122 4.2.3.2). Accepted
	 * connections have it from their listener (worker.c). */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct tp_conn *c = conn_new(w, fd, remote, tp);
	if (!c) {
		if (ssl)
			SSL_free(ssl);
		return NULL;
	}
	c->tpeer = peer;
	if (ssl) {
		c->ssl = ssl;
		if (SSL_set_fd(ssl, fd) != 1) {
			c->tpeer = NULL;
			mem_deref(c);
			return NULL;
		}
		SSL_set_connect_state(ssl);
		SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	c->state = TP_CONN_CONNECTING;
	conn_link(w, c);
	event_add(c->wev, NULL);
	log_debug("transport.conn_connecting", "conn=%llu transport=%s remote=%s", (unsigned long long)c->id,
		  conf_transport_name(tp), c->remote_text);
	return c;
}

void tp_conn_accept(struct tp_listener *l, int fd, const struct tp_addr *remote)
{
	struct tp_worker *w = l->w;
	struct tp_conn *c = conn_new(w, fd, remote, l->spec.listen.transport);
	if (!c)
		return;
	c->lst = l;
	c->inbound = true;
	w->accepted++;
	c->local = l->local;
	c->idle_timeout = l->spec.idle_timeout;
	if (c->transport == CONF_TP_TLS) {
		c->ssl = tp_tls_server_new(l);
		if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
			log_err("tls.setup_failed", "iface=%s remote=%s", l->iface, c->remote_text);
			mem_deref(c);
			return;
		}
		SSL_set_accept_state(c->ssl);
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
		c->state = TP_CONN_HANDSHAKE;
	} else {
		c->state = TP_CONN_UP;
	}
	conn_link(w, c);
	event_add(c->rev, NULL);
	log_debug("transport.conn_accepted", "conn=%llu iface=%s transport=%s remote=%s",
		  (unsigned long long)c->id, l->iface, conf_transport_name(c->transport), c->remote_text);
}

/* SSL_get_error() needs an empty error queue before each TLS call. ERR_clear_error() walks
 * all 16 slots even when the queue is empty (about 1.7 k instructions, 7% of a proxied call's
 * user-space work, callgrind), so it runs only when something is queued. */
static inline void tls_err_reset(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* Returns 1 done, 0 again (waiting for I/O), -1 failed (connection destroyed). */
static int conn_handshake(struct tp_conn *c)
{
	tls_err_reset();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		mem_ref(c); /* a failed write below (the peer's first ping) frees the connection */
		c->state = TP_CONN_UP;
		c->last_rx_ms = time_mono_ms();
		tp_tls_handshake_done(c);
		if (c->tpeer && c->state == TP_CONN_UP)
			tp_peer_conn_up(c->tpeer, c);
		if (c->tx_head && c->state == TP_CONN_UP)
			conn_flush(c); /* requests queued while connecting (on-demand connections) */
		int up = c->state == TP_CONN_UP ? 1 : -1;
		mem_deref(c);
		return up;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		return 0;
	if (e == SSL_ERROR_WANT_WRITE) {
		event_add(c->wev, NULL);
		return 0;
	}
	c->close_reason = tp_tls_handshake_failed(c, e);
	tp_conn_destroy_now(c);
	return -1;
}

static bool rx_reserve(struct tp_conn *c, size_t want)
{
	if (c->rx_cap - c->rx_len >= want)
		return true;
	size_t limit = (size_t)c->w->set.max_message_size + RX_CHUNK;
	size_t ncap = c->rx_cap ? c->rx_cap * 2 : RX_CHUNK;
	while (ncap - c->rx_len < want)
		ncap *= 2;
	if (ncap > limit)
		ncap = limit;
	if (ncap <= c->rx_len)
		return false;
	char *p = realloc(c->rx, ncap);
	if (!p)
		return false;
	c->rx = p;
	c->rx_cap = ncap;
	return true;
}

/* Frames and dispatches every complete message in rx. Returns false if the connection went away. */
static bool conn_dispatch(struct tp_conn *c)
{
	size_t off = 0;
	bool alive = true;
	mem_ref(c);
	while (off < c->rx_len && c->state == TP_CONN_UP) {
		struct sip_frame fr;
		sip_frame_next_flags(c->rx + off, c->rx_len - off, c->w->set.max_message_size,
				     c->inbound ? 0 : SIP_FRAME_CLIENT, &fr);
		if (fr.kind == SIP_FRAME_NEED_MORE)
			break;
		if (fr.kind == SIP_FRAME_ERROR) {
			/* RFC 4475 3.1.2.3 / 3.3.9: framing can't recover on a stream; close. */
			log_notice("sip.framing_error", "conn=%llu remote=%s error=\"%s\"", (unsigned long long)c->id,
				   c->remote_text, fr.error ? fr.error : "bad framing");
			tp_conn_close(c, "framing error");
			break;
		}
		if (fr.kind == SIP_FRAME_PING) {
			/* RFC 5626 4.4.1: answer a double-CRLF ping with a single-CRLF pong. */
			struct tp_source src = { .transport = c->transport, .conn = c };
			tp_send(&src, "\r\n", 2);
		} else if (fr.kind == SIP_FRAME_PONG) {
			if (c->tpeer)
				tp_peer_pong(c->tpeer);
		} else if (fr.kind == SIP_FRAME_MESSAGE) {
			struct tp_source src = { .transport = c->transport, .conn = c, .remote = c->remote,
						 .local = c->local, .iface = c->lst ? c->lst->iface : NULL };
			c->w->msgh(&src, c->rx + off, fr.len, c->w->arg);
		}
		off += fr.len;
	}
	if (c->state == TP_CONN_CLOSED) {
		alive = false;
	} else if (off) {
		memmove(c->rx, c->rx + off, c->rx_len - off);
		c->rx_len -= off;
	}
	if (alive && c->rx_len == 0) {
		free(c->rx); /* idle connections hold no receive buffer */
		c->rx = NULL;
		c->rx_cap = 0;
	}
	mem_deref(c);
	return alive;
}

static void conn_read(struct tp_conn *c)
{
	for (;;) {
		if (!rx_reserve(c, RX_CHUNK / 2)) {
			if (c->rx_len >= c->w->set.max_message_size) {
				log_notice("sip.message_too_large", "conn=%llu remote=%s limit=%u",
					   (unsigned long long)c->id, c->remote_text, c->w->set.max_message_size);
				tp_conn_close(c, "message too large");
			} else {
				tp_conn_close(c, "out of memory");
			}
			return;
		}
		size_t room = c->rx_cap - c->rx_len;
		ssize_t n;
		if (c->ssl) {
			tls_err_reset();
			int r = SSL_read(c->ssl, c->rx + c->rx_len, room > INT32_MAX ? INT32_MAX : (int)room);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ)
					break;
				if (e == SSL_ERROR_WANT_WRITE) {
					c->want_write_for_read = true;
					event_add(c->wev, NULL);
					break;
				}
				if (e == SSL_ERROR_ZERO_RETURN) {
					/* Peer sent close_notify: answer with ours. */
					tp_conn_close(c, "peer closed (close_notify)");
				} else if (!c->inbound && c->bytes_in == 0 && e == SSL_ERROR_SSL) {
					/* TLS 1.3: a client learns that the server refused its certificate
					 * only on its first read after the handshake. */
					c->close_reason = tp_tls_handshake_failed(c, e);
					tp_conn_destroy_now(c);
				} else {
					tp_conn_fail(c, e == SSL_ERROR_SYSCALL ? "peer closed without close_notify"
										: "TLS error");
				}
				return;
			}
			n = r;
		} else {
			n = read(c->fd, c->rx + c->rx_len, room);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				break;
			if (n <= 0) {
				tp_conn_fail(c, n == 0 ? "peer closed" : strerror(errno));
				return;
			}
		}
		c->rx_len += (size_t)n;
		c->bytes_in += (uint64_t)n;
		if (c->tpeer)
			tp_peer_data(c->tpeer, c);
		c->last_rx_ms = time_mono_ms();
		if (!conn_dispatch(c) || c->state != TP_CONN_UP)
			return;
		/* A short read drained the socket for now: the level-triggered read event fires again
		 * if more arrives, so skip the read that would only say EAGAIN (one syscall per
		 * message saved). Bytes OpenSSL already holds raise no event: keep reading those. */
		if ((size_t)n < room && !(c->ssl && SSL_has_pending(c->ssl)))
			break;
	}
	if (c->rx_len == 0 && c->rx) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
}

/* Sends made while a read is dispatched (or posts from other threads run, pool.c) only queue;
 * tp_worker_batch_end flushes them. The answers to messages that arrived together (a 180 and
 * a 200, an ACK and a BYE, many calls on one trunk) then leave in one TLS record and one
 * write(), as redis writes its replies before it sleeps. A record costs OpenSSL about 9 k
 * instructions (callgrind), a loopback write() about 5 µs (perf). */
void tp_worker_batch_begin(struct tp_worker *w)
{
	w->batch_depth++;
}

static void batch_defer(struct tp_conn *c)
{
	struct tp_worker *w = c->w;
	if (c->flush_queued)
		return;
	c->flush_queued = true;
	c->flush_next = NULL;
	mem_ref(c);
	if (w->flush_tail)
		w->flush_tail->flush_next = c;
	else
		w->flush_head = c;
	w->flush_tail = c;
}

void tp_worker_batch_end(struct tp_worker *w)
{
	if (--w->batch_depth)
		return;
	while (w->flush_head) {
		struct tp_conn *c = w->flush_head;
		w->flush_head = c->flush_next;
		if (!w->flush_head)
			w->flush_tail = NULL;
		c->flush_queued = false;
		if (c->state == TP_CONN_UP)
			conn_flush(c);
		mem_deref(c);
	}
}

static void conn_read_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_conn *c = arg;
	struct tp_worker *w = c->w; /* c may be unlinked from it below */
	tp_worker_batch_begin(w);
	if ((c->state != TP_CONN_HANDSHAKE || conn_handshake(c) == 1) && c->state == TP_CONN_UP)
		conn_read(c);
	tp_worker_batch_end(w);
}

/* A failed TLS write. An outbound connection that has read nothing yet may be failing because
 * the server refused our certificate (TLS 1.3: the alert comes after our handshake finished,
 * see conn_read) and closed: read that alert, if it is there, so the refusal is reported as
 * the handshake failure it is rather than as a write error. */
static void conn_fail_tls_write(struct tp_conn *c)
{
	if (!c->inbound && c->bytes_in == 0) {
		char b;
		ERR_clear_error();
		int r = SSL_read(c->ssl, &b, 1);
		if (r <= 0 && SSL_get_error(c->ssl, r) == SSL_ERROR_SSL) {
			c->close_reason = tp_tls_handshake_failed(c, SSL_ERROR_SSL);
			tp_conn_destroy_now(c);
			return;
		}
	}
	tp_conn_fail(c, "TLS write error");
}

/* Joins the queued messages (up to one TLS record) into one buffer, so they leave in one
 * SSL_write and one write(). A TLS write retried after WANT_WRITE may pass a longer buffer
 * that starts with the same bytes (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER), which this is. */
static void conn_coalesce(struct tp_conn *c)
{
	struct tp_txbuf *h = c->tx_head, *end = h;
	size_t total = 0;
	while (end && total + (end->len - end->off) <= TX_COALESCE_MAX) {
		total += end->len - end->off;
		end = end->next;
	}
	if (!h || end == h || end == h->next)
		return; /* fewer than two fit */
	struct tp_txbuf *m = malloc(sizeof(*m) + total);
	if (!m)
		return; /* one at a time then */
	m->len = total;
	m->off = 0;
	size_t at = 0;
	while (c->tx_head != end) {
		struct tp_txbuf *b = c->tx_head;
		memcpy(m->data + at, b->data + b->off, b->len - b->off);
		at += b->len - b->off;
		c->tx_head = b->next;
		free(b);
	}
	m->next = end;
	c->tx_head = m;
	if (!end)
		c->tx_tail = m;
}

static void conn_flush(struct tp_conn *c)
{
	while (c->tx_head) {
		conn_coalesce(c);
		struct tp_txbuf *b = c->tx_head;
		size_t left = b->len - b->off;
		ssize_t n;
		if (c->ssl) {
			tls_err_reset();
			int r = SSL_write(c->ssl, b->data + b->off, left > INT32_MAX ? INT32_MAX : (int)left);
			if (r <= 0) {
				int e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
					event_add(c->wev, NULL);
					return;
				}
				conn_fail_tls_write(c);
				return;
			}
			n = r;
		} else {
			n = write(c->fd, b->data + b->off, left);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
					event_add(c->wev, NULL);
					return;
				}
				tp_conn_fail(c, strerror(errno));
				return;
			}
		}
		b->off += (size_t)n;
		c->bytes_out += (uint64_t)n;
		if (b->off == b->len) {
			c->tx_head = b->next;
			if (!c->tx_head)
				c->tx_tail = NULL;
			free(b);
		}
	}
	if (c->state == TP_CONN_CLOSING)
		conn_finish_close(c);
}

static void conn_connected(struct tp_conn *c)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		soerr = errno;
	if (soerr) {
		if (soerr == EINPROGRESS || soerr == EALREADY) {
			event_add(c->wev, NULL);
			return;
		}
		char why[160];
		snprintf(why, sizeof(why), "connect: %s", strerror(soerr));
		/* why lives on this stack frame only: the peer copies it before we return. */
		tp_conn_fail(c, why);
		return;
	}
	c->local.len = sizeof(c->local.ss);
	getsockname(c->fd, (struct sockaddr *)&c->local.ss, &c->local.len);
	c->last_rx_ms = time_mono_ms();
	if (c->ssl) {
		c->state = TP_CONN_HANDSHAKE;
		event_add(c->rev, NULL);
		if (conn_handshake(c) == 1 && c->state == TP_CONN_UP)
			conn_read(c);
		return;
	}
	c->state = TP_CONN_UP;
	event_add(c->rev, NULL);
	mem_ref(c); /* the peer's hook may write, and a failed write frees the connection */
	if (c->tpeer)
		tp_peer_conn_up(c->tpeer, c);
	if (c->state == TP_CONN_UP)
		conn_flush(c);
	mem_deref(c);
}

static void conn_write_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_conn *c = arg;
	if (c->state == TP_CONN_CONNECTING) {
		conn_connected(c);
		return;
	}
	if (c->state == TP_CONN_HANDSHAKE) {
		if (conn_handshake(c) == 1 && c->state == TP_CONN_UP)
			conn_read(c);
		return;
	}
	if (c->want_write_for_read) {
		c->want_write_for_read = false;
		conn_read(c);
		if (c->state == TP_CONN_CLOSED)
			return;
	}
	if (c->state == TP_CONN_CLOSING && !c->tx_head) {
		conn_finish_close(c);
		return;
	}
	conn_flush(c);
}

static int conn_queue(struct tp_conn *c, const void *buf, size_t len)
{
	/* An outbound connection takes bytes while it connects: they leave once it is up. */
	if (c->state == TP_CONN_CLOSING || c->state == TP_CONN_CLOSED)
		return ENOTCONN;
	size_t queued = 0;
	for (struct tp_txbuf *b = c->tx_head; b; b = b->next)
		queued += b->len - b->off;
	if (queued + len > TX_MAX_QUEUED)
		return ENOBUFS; /* a peer that doesn't read must not eat our memory */
	struct tp_txbuf *b = malloc(sizeof(*b) + len);
	if (!b)
		return ENOMEM;
	b->next = NULL;
	b->len = len;
	b->off = 0;
	memcpy(b->data, buf, len);
	if (c->tx_tail)
		c->tx_tail->next = b;
	else
		c->tx_head = b;
	c->tx_tail = b;
	if (c->state == TP_CONN_UP) {
		if (c->w && c->w->batch_depth)
			batch_defer(c);
		else
			conn_flush(c);
	}
	return 0;
}

int tp_send(const struct tp_source *dst, const void *buf, size_t len)
{
	if (!dst || !buf)
		return EINVAL;
	if (dst->conn)
		return conn_queue(dst->conn, buf, len);
	if (dst->udp) {
		ssize_t n = sendto(dst->udp->fd, buf, len, 0, (const struct sockaddr *)&dst->remote.ss,
				   dst->remote.len);
		return n < 0 ? errno : 0;
	}
	return EINVAL;
}
