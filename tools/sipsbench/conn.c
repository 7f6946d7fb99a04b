/* Non-blocking TCP connect + TLS client handshake + framed SIP reads on one event_base.
 *
 * One persistent read event per connection and a write event armed only while a connect or a
 * TLS write is pending (nginx's "again": WANT_READ/WANT_WRITE re-arm and return). Writes use
 * SSL_MODE_ENABLE_PARTIAL_WRITE + ACCEPT_MOVING_WRITE_BUFFER so the pending buffer may grow
 * between retries. A connection is freed inside its own callback only through conn_close()
 * or conn_fail(), after which the caller must not touch it (hooks return false). */
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "bench.h"
#include "sipscan.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static void conn_io_h(evutil_socket_t fd, short what, void *arg);
static void conn_tmo_h(evutil_socket_t fd, short what, void *arg);

static void conn_free(struct conn *c)
{
	event_del(&c->rev);
	if (c->wev_on)
		event_del(&c->wev);
	if (c->tmo_on)
		event_del(&c->tmo);
	if (c->ssl)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	atomic_fetch_sub_explicit(&c->w->st.open_conns, 1, memory_order_relaxed);
	free(c->rbuf);
	free(c->wbuf);
	free(c->dlg);
	free(c);
}

void conn_close(struct conn *c)
{
	if (c->st == CS_OPEN && c->ssl) {
		/* RFC 8446 6.1: send close_notify; we don't wait for the peer's (the socket closes
		 * next, so a late reply is simply dropped by the kernel). */
		SSL_shutdown(c->ssl);
	}
	c->st = CS_CLOSED;
	conn_free(c);
}

void conn_fail(struct conn *c, int err)
{
	if (err >= 0)
		atomic_fetch_add_explicit(&c->w->st.errs[err], 1, memory_order_relaxed);
	c->st = CS_CLOSED;
	if (c->w->ops->closed)
		c->w->ops->closed(c, err);
	conn_free(c);
}

void conn_deadline(struct conn *c, double secs)
{
	if (c->tmo_on) {
		event_del(&c->tmo);
		c->tmo_on = false;
	}
	if (secs > 0) {
		struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6) };
		event_add(&c->tmo, &tv);
		c->tmo_on = true;
	}
}

static void want_write(struct conn *c, bool on)
{
	if (on && !c->wev_on) {
		event_add(&c->wev, NULL);
		c->wev_on = true;
	} else if (!on && c->wev_on) {
		event_del(&c->wev);
		c->wev_on = false;
	}
}

struct conn *conn_open(struct worker *w, unsigned ua, SSL_SESSION *sess)
{
	const struct opts *o = w->o;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->w = w;
	c->ua = ua;
	c->fd = socket(o->dst.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd < 0) {
		atomic_fetch_add_explicit(&w->st.errs[ERR_CONNECT], 1, memory_order_relaxed);
		free(c);
		return NULL;
	}
	atomic_fetch_add_explicit(&w->st.open_conns, 1, memory_order_relaxed);
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->nsrc) {
		const struct sockaddr_storage *src = &o->srcs[(w->src_next++ + w->id) % o->nsrc];
		socklen_t sl = src->ss_family == AF_INET ? sizeof(struct sockaddr_in) :
							   sizeof(struct sockaddr_in6);
		/* Let connect() pick the port per 4-tuple, so one source address can carry more
		 * than ~28k connections across destinations (Linux >= 4.2). */
		if (src->ss_family == AF_INET)
			setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (const struct sockaddr *)src, sl) != 0)
			goto fail;
	}
	c->ssl = SSL_new(g_ctxs[ua % g_nctx]);
	if (!c->ssl)
		goto fail;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_connect_state(c->ssl);
	if (o->servername)
		SSL_set_tlsext_host_name(c->ssl, o->servername);
	if (sess)
		SSL_set_session(c->ssl, sess);
	event_assign(&c->rev, w->base, c->fd, EV_READ | EV_PERSIST, conn_io_h, c);
	event_assign(&c->wev, w->base, c->fd, EV_WRITE | EV_PERSIST, conn_io_h, c);
	evtimer_assign(&c->tmo, w->base, conn_tmo_h, c);
	c->st = CS_CONNECTING;
	if (connect(c->fd, (const struct sockaddr *)&o->dst, o->dstlen) != 0 && errno != EINPROGRESS)
		goto fail;
	want_write(c, true);
	return c;
fail:
	atomic_fetch_add_explicit(&w->st.errs[ERR_CONNECT], 1, memory_order_relaxed);
	if (c->ssl)
		SSL_free(c->ssl);
	close(c->fd);
	atomic_fetch_sub_explicit(&w->st.open_conns, 1, memory_order_relaxed);
	free(c);
	return NULL;
}

static bool conn_flush(struct conn *c)
{
	while (c->woff < c->wlen) {
		ERR_clear_error();
		int n = SSL_write(c->ssl, c->wbuf + c->woff, (int)(c->wlen - c->woff));
		if (n > 0) {
			c->woff += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_WRITE) {
			want_write(c, true);
			return true;
		}
		if (e == SSL_ERROR_WANT_READ)
			return true;
		conn_fail(c, ERR_IO);
		return false;
	}
	c->wlen = c->woff = 0;
	want_write(c, false);
	/* Idle connections keep no buffers (RELEASE_BUFFERS does the same inside OpenSSL). */
	if (c->wcap > 4096) {
		free(c->wbuf);
		c->wbuf = NULL;
		c->wcap = 0;
	}
	return true;
}

bool conn_send(struct conn *c, const char *p, size_t len)
{
	if (c->wlen + len > c->wcap) {
		size_t cap = c->wcap ? c->wcap : 1024;
		while (cap < c->wlen + len)
			cap *= 2;
		if (cap > 4 * SIPSCAN_MAX_MSG) {
			conn_fail(c, ERR_IO);
			return false;
		}
		char *nb = realloc(c->wbuf, cap);
		if (!nb) {
			conn_fail(c, ERR_IO);
			return false;
		}
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, len);
	c->wlen += len;
	if (c->st != CS_OPEN)
		return true; /* flushed once the handshake completes */
	return conn_flush(c);
}

static void fill_local(struct conn *c)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &s4->sin_addr, c->laddr, sizeof(c->laddr));
		c->lport = ntohs(s4->sin_port);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(c->laddr, sizeof(c->laddr), "[%s]", a);
		c->lport = ntohs(s6->sin6_port);
	}
}

/* Read everything TLS has, then hand complete messages to the scenario. */
static bool conn_read(struct conn *c)
{
	char tmp[16384];
	for (;;) {
		ERR_clear_error();
		int n = SSL_read(c->ssl, tmp, sizeof(tmp));
		if (n > 0) {
			if (c->rlen + (size_t)n > 2 * SIPSCAN_MAX_MSG) {
				conn_fail(c, ERR_PARSE);
				return false;
			}
			if (c->rlen + (size_t)n > c->rcap) {
				size_t cap = c->rcap ? c->rcap : 4096;
				while (cap < c->rlen + (size_t)n)
					cap *= 2;
				char *nb = realloc(c->rbuf, cap);
				if (!nb) {
					conn_fail(c, ERR_IO);
					return false;
				}
				c->rbuf = nb;
				c->rcap = cap;
			}
			memcpy(c->rbuf + c->rlen, tmp, (size_t)n);
			c->rlen += (size_t)n;
			/* A short read with nothing left inside OpenSSL drained the socket for now: the
			 * level-triggered read event fires again when more arrives, so the read that would
			 * only say EAGAIN is skipped (read-ahead is on, main.c). */
			if ((size_t)n < sizeof(tmp) && !SSL_has_pending(c->ssl))
				break;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ)
			break;
		if (e == SSL_ERROR_WANT_WRITE) {
			want_write(c, true);
			break;
		}
		/* close_notify, EOF or error: an error only when an operation was running. */
		conn_fail(c, c->t_op ? (e == SSL_ERROR_ZERO_RETURN ? ERR_CLOSED : ERR_IO) : -1);
		return false;
	}
	size_t off = 0;
	while (off < c->rlen) {
		long fl = sipscan_frame(c->rbuf + off, c->rlen - off);
		if (fl < 0) {
			conn_fail(c, ERR_PARSE);
			return false;
		}
		if (fl == 0)
			break;
		const char *m = c->rbuf + off;
		off += (size_t)fl;
		if (m[0] == '\r' || m[0] == '\n')
			continue;
		/* The hook may send (which never touches rbuf) or close (then we stop here). */
		if (!c->w->ops->message(c, m, (size_t)fl))
			return false;
	}
	if (off == c->rlen) {
		c->rlen = 0;
		if (c->rcap > 4096 || c->persistent) {
			free(c->rbuf);
			c->rbuf = NULL;
			c->rcap = 0;
		}
	} else if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
	return true;
}

static void conn_handshake(struct conn *c)
{
	ERR_clear_error();
	int r = SSL_connect(c->ssl);
	if (r == 1) {
		c->st = CS_OPEN;
		want_write(c, false);
		if (c->measured) {
			if (SSL_session_reused(c->ssl))
				atomic_fetch_add_explicit(&c->w->st.resumed, 1, memory_order_relaxed);
			else
				atomic_fetch_add_explicit(&c->w->st.full, 1, memory_order_relaxed);
		}
		if (!c->w->ops->established(c))
			return;
		if (c->wlen && !conn_flush(c))
			return;
		conn_read(c); /* data may already sit in OpenSSL's buffer */
		return;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		want_write(c, false);
		return;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		want_write(c, true);
		return;
	}
	conn_fail(c, ERR_HANDSHAKE);
}

static void conn_io_h(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	switch (c->st) {
	case CS_CONNECTING: {
		int err = 0;
		socklen_t el = sizeof(err);
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
			conn_fail(c, ERR_CONNECT);
			return;
		}
		fill_local(c);
		c->st = CS_HANDSHAKING;
		event_add(&c->rev, NULL);
		conn_handshake(c);
		return;
	}
	case CS_HANDSHAKING:
		conn_handshake(c);
		return;
	case CS_OPEN:
		if (c->wlen && !conn_flush(c))
			return;
		conn_read(c);
		return;
	case CS_CLOSED:
		return;
	}
}

static void conn_tmo_h(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd;
	(void)what;
	c->tmo_on = false;
	c->w->ops->timeout(c);
}
