/* Worker: one event_base per thread, its listeners and connections, timeouts, graceful stop. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/thread.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/outbuf.h"
#include "base/timeutil.h"
#include "transport/conn.h"
#include "transport/stream.h"

/* Without printf: every registration stores its received address as text (convert.c). IPv6
 * text is inet_ntop's (RFC 5952). When the buffer is too small the pieces that fit are kept,
 * and the string is always ended. */
const char *tp_addr_fmt(const struct tp_addr *a, char *buf, size_t sz)
{
	if (!sz)
		return buf;
	struct outbuf o = OUTBUF_INIT_CSTR(buf, sz);
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&a->ss;
		const uint8_t *b = (const uint8_t *)&s->sin_addr;
		for (int i = 0; i < 4; i++) {
			if (i)
				outbuf_put(&o, ".", 1);
			outbuf_put_u32(&o, b[i]);
		}
		outbuf_put(&o, ":", 1);
		outbuf_put_u32(&o, ntohs(s->sin_port));
	} else if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&a->ss;
		char host[INET6_ADDRSTRLEN] = "?";
		inet_ntop(AF_INET6, &s->sin6_addr, host, sizeof(host));
		outbuf_put(&o, "[", 1);
		outbuf_puts(&o, host);
		outbuf_put(&o, "]:", 2);
		outbuf_put_u32(&o, ntohs(s->sin6_port));
	} else {
		outbuf_put(&o, "?", 1);
	}
	buf[o.len] = '\0';
	return buf;
}

int tp_addr_from_host_port(struct tp_addr *a, const char *host, uint16_t port)
{
	memset(a, 0, sizeof(*a));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
		return 0;
	}
	return EINVAL;
}

static void sweep_h(evutil_socket_t fd, short what, void *arg);
static void stop_h(evutil_socket_t fd, short what, void *arg);
static void stop_deadline_h(evutil_socket_t fd, short what, void *arg);

static void worker_destroy(void *data)
{
	struct tp_worker *w = data;
	for (struct tp_peer *p = w->peers; p; p = tp_peer_next_in_list(p))
		tp_peer_stop(p);
	while (w->conns)
		tp_conn_destroy_now(w->conns);
	while (w->peers) {
		struct tp_peer *p = w->peers;
		w->peers = tp_peer_next_in_list(p);
		mem_deref(p);
	}
	if (w->dns)
		evdns_base_free(w->dns, 1);
	while (w->listeners) {
		struct tp_listener *l = w->listeners;
		w->listeners = l->next;
		if (l->ev)
			event_free(l->ev);
		if (l->fd >= 0)
			close(l->fd);
		free(l);
	}
	if (w->sweep)
		event_free(w->sweep);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->stop_deadline)
		event_free(w->stop_deadline);
	tp_worker_inbox_drain(w); /* posted jobs own memory */
	if (w->inbox_ev)
		event_free(w->inbox_ev);
	pthread_mutex_destroy(&w->inbox_lock);
	free(w->ctab);
	if (w->base)
		event_base_free(w->base);
}

int tp_worker_alloc(struct tp_worker **wp, unsigned index, const struct tp_settings *s, tp_msg_h *msgh,
		    void *arg)
{
	if (!wp || !s || !msgh)
		return EINVAL;
	struct tp_worker *w = mem_zalloc(sizeof(*w), worker_destroy);
	if (!w)
		return ENOMEM;
	w->index = index;
	w->set = *s;
	w->msgh = msgh;
	w->arg = arg;
	pthread_mutex_init(&w->inbox_lock, NULL);
	w->base = event_base_new();
	if (!w->base)
		goto nomem;
	w->inbox_ev = event_new(w->base, -1, 0, tp_worker_inbox_h, w);
	if (!w->inbox_ev)
		goto nomem;
	w->sweep = event_new(w->base, -1, EV_PERSIST, sweep_h, w);
	w->stop_ev = event_new(w->base, -1, 0, stop_h, w);
	w->stop_deadline = evtimer_new(w->base, stop_deadline_h, w);
	if (!w->sweep || !w->stop_ev || !w->stop_deadline)
		goto nomem;
	struct timeval one = { 1, 0 };
	event_add(w->sweep, &one);
	*wp = w;
	return 0;
nomem:
	mem_deref(w);
	return ENOMEM;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int tp_socket_nonblock(int fd)
{
	return set_nonblock(fd);
}

static void accept_h(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct tp_listener *l = arg;
	/* Bounded batch per wakeup so one busy listener can't starve the loop. */
	for (int i = 0; i < 64 && !l->w->stopping; i++) {
		struct tp_addr ra = { .len = sizeof(ra.ss) };
		int cfd = accept4(fd, (struct sockaddr *)&ra.ss, &ra.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
				char la[80];
				log_warn("transport.accept_failed", "iface=%s local=%s error=\"%s\"", l->iface,
					 tp_addr_fmt(&l->local, la, sizeof(la)), strerror(errno));
			}
			return;
		}
		tp_conn_accept(l, cfd, &ra);
	}
}

static void udp_read_h(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct tp_listener *l = arg;
	static _Thread_local char buf[65536];
	for (int i = 0; i < 64; i++) {
		struct tp_source src = { .transport = CONF_TP_UDP, .udp = l, .local = l->local, .iface = l->iface };
		src.remote.len = sizeof(src.remote.ss);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), MSG_TRUNC, (struct sockaddr *)&src.remote.ss,
				     &src.remote.len);
		if (n < 0)
			return;
		if ((size_t)n > l->w->set.max_message_size || (size_t)n > sizeof(buf)) {
			char ra[80];
			log_notice("transport.datagram_too_large", "iface=%s remote=%s bytes=%zd", l->iface,
				   tp_addr_fmt(&src.remote, ra, sizeof(ra)), n);
			continue;
		}
		/* RFC 5626 4.4.2: bare CRLF datagrams are keepalives (STUN is not handled here). */
		if (n <= 4 && (n == 0 || buf[0] == '\r' || buf[0] == '\n'))
			continue;
		l->w->msgh(&src, buf, (size_t)n, l->w->arg);
	}
}

int tp_worker_listen(struct tp_worker *w, const struct tp_listen_spec *spec)
{
	struct tp_listener *l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->w = w;
	l->spec = *spec;
	l->fd = -1;
	snprintf(l->iface, sizeof(l->iface), "%s", spec->iface ? spec->iface : "?");
	l->spec.iface = l->iface;
	char addrtxt[80];
	int err = tp_addr_from_host_port(&l->local, spec->listen.host, spec->listen.port);
	if (err) {
		log_err("transport.listen_failed", "iface=%s address=%s error=\"not an IP address\"", l->iface,
			spec->listen.host);
		free(l);
		return err;
	}
	tp_addr_fmt(&l->local, addrtxt, sizeof(addrtxt));
	bool dgram = spec->listen.transport == CONF_TP_UDP;
	if (w->index == 0) {
		/* SO_REUSEPORT would let a second sipsd (or anything else of ours) join this address
		 * and silently take half the connections: make sure nobody holds it first. */
		int probe = socket(l->local.ss.ss_family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
		int one = 1;
		if (probe >= 0)
			setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (probe >= 0 && bind(probe, (struct sockaddr *)&l->local.ss, l->local.len) < 0) {
			err = errno;
			close(probe);
			log_err("transport.listen_failed", "iface=%s transport=%s address=%s error=\"%s\"", l->iface,
				conf_transport_name(spec->listen.transport), addrtxt, strerror(err));
			free(l);
			return err;
		}
		if (probe >= 0)
			close(probe);
	}
	int fd = socket(l->local.ss.ss_family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (fd < 0)
		goto fail;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* Each worker binds its own socket; the kernel balances connections across them. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (l->local.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&l->local.ss, l->local.len) < 0)
		goto fail_fd;
	/* Accepted connections inherit TCP_NODELAY from the listener (stream.c sets it on
	 * outbound ones): one setsockopt() per listener instead of per connection. */
	if (!dgram)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!dgram && listen(fd, 1024) < 0)
		goto fail_fd;
	l->fd = fd;
	l->ev = event_new(w->base, fd, EV_READ | EV_PERSIST, dgram ? udp_read_h : accept_h, l);
	if (!l->ev || event_add(l->ev, NULL) < 0) {
		err = ENOMEM;
		log_err("transport.listen_failed", "iface=%s address=%s error=\"event setup\"", l->iface, addrtxt);
		if (l->ev)
			event_free(l->ev);
		close(fd);
		free(l);
		return err;
	}
	l->next = w->listeners;
	w->listeners = l;
	if (w->index == 0)
		log_info("transport.listening", "iface=%s transport=%s address=%s", l->iface,
			 conf_transport_name(spec->listen.transport), addrtxt);
	return 0;
fail_fd:
	err = errno;
	close(fd);
	errno = err;
fail:
	err = errno;
	log_err("transport.listen_failed", "iface=%s transport=%s address=%s error=\"%s\"", l->iface,
		conf_transport_name(spec->listen.transport), addrtxt, strerror(err));
	free(l);
	return err;
}

static void sweep_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_worker *w = arg;
	uint64_t now = time_mono_ms();
	/* After a burst of handshakes has calmed down, hand the freed handshake memory back to the
	 * kernel: glibc keeps it in per-thread arenas otherwise, and idle connections look fat. */
	if (w->accepted == w->accepted_at_sweep && w->accepted - w->accepted_at_trim >= 256) {
		malloc_trim(0);
		w->accepted_at_trim = w->accepted;
	}
	w->accepted_at_sweep = w->accepted;
	struct tp_conn *c = w->conns;
	while (c) {
		struct tp_conn *next = c->next;
		if (c->state == TP_CONN_HANDSHAKE || c->state == TP_CONN_CONNECTING) {
			if (now - c->created_ms > (uint64_t)w->set.handshake_timeout * 1000u)
				tp_conn_fail(c, "handshake timeout");
		} else if (c->state == TP_CONN_UP && c->idle_timeout &&
			   now - c->last_rx_ms > (uint64_t)c->idle_timeout * 1000u) {
			tp_conn_close(c, "idle timeout");
		} else if (c->state == TP_CONN_CLOSING && now - c->last_rx_ms > 5000u) {
			tp_conn_destroy_now(c);
		}
		c = next;
	}
}

static void maybe_finish_stop(struct tp_worker *w)
{
	if (w->stopping && w->nconns == 0)
		event_base_loopexit(w->base, NULL);
}

void tp_worker_conn_gone(struct tp_worker *w)
{
	maybe_finish_stop(w);
}

static void stop_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_worker *w = arg;
	w->stopping = true;
	for (struct tp_peer *p = w->peers; p; p = tp_peer_next_in_list(p))
		tp_peer_stop(p);
	for (struct tp_listener *l = w->listeners; l; l = l->next) {
		if (l->ev)
			event_del(l->ev);
		if (l->fd >= 0) {
			close(l->fd);
			l->fd = -1;
		}
	}
	struct tp_conn *c = w->conns;
	while (c) {
		struct tp_conn *next = c->next;
		tp_conn_close(c, "shutdown");
		c = next;
	}
	struct timeval tv = { w->stop_timeout_ms / 1000, (w->stop_timeout_ms % 1000) * 1000 };
	event_add(w->stop_deadline, &tv);
	maybe_finish_stop(w);
}

static void stop_deadline_h(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct tp_worker *w = arg;
	if (w->nconns)
		log_warn("transport.stop_forced", "worker=%u connections=%u", w->index, w->nconns);
	while (w->conns)
		tp_conn_destroy_now(w->conns);
	event_base_loopexit(w->base, NULL);
}

void tp_worker_stop(struct tp_worker *w, unsigned timeout_ms)
{
	w->stop_timeout_ms = timeout_ms;
	event_active(w->stop_ev, 0, 0);
}

int tp_worker_run(struct tp_worker *w)
{
	tp_worker_set_self(w);
	int r = event_base_dispatch(w->base);
	tp_worker_set_self(NULL);
	return r < 0 ? EIO : 0;
}

struct evdns_base *tp_worker_dns(struct tp_worker *w)
{
	if (!w->dns) {
		w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
		if (!w->dns) {
			/* No resolv.conf (e.g. an isolated namespace): /etc/hosts still works. */
			w->dns = evdns_base_new(w->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
			if (w->dns)
				evdns_base_load_hosts(w->dns, NULL);
		}
	}
	return w->dns;
}

void tp_worker_add_peer(struct tp_worker *w, struct tp_peer *p)
{
	tp_peer_set_next(p, w->peers);
	w->peers = p;
}

void tp_worker_peers_status(struct tp_worker *w, void (*h)(const struct tp_peer_status *st, void *arg), void *arg)
{
	for (struct tp_peer *p = w->peers; p; p = tp_peer_next_in_list(p)) {
		struct tp_peer_status st;
		tp_peer_status_get(p, &st);
		h(&st, arg);
	}
}

unsigned tp_worker_conn_count(const struct tp_worker *w)
{
	return w->nconns;
}

struct event_base *tp_worker_base(struct tp_worker *w)
{
	return w->base;
}

int tp_worker_send_udp(struct tp_worker *w, const struct tp_addr *dst, const void *buf, size_t len)
{
	for (struct tp_listener *l = w->listeners; l; l = l->next) {
		if (l->spec.listen.transport != CONF_TP_UDP || l->fd < 0 || l->local.ss.ss_family != dst->ss.ss_family)
			continue;
		ssize_t n = sendto(l->fd, buf, len, 0, (const struct sockaddr *)&dst->ss, dst->len);
		return n < 0 ? errno : 0;
	}
	return ENOTCONN;
}

bool tp_worker_local_addr(struct tp_worker *w, enum conf_transport tp, int family, struct tp_addr *out)
{
	for (struct tp_listener *l = w->listeners; l; l = l->next) {
		if (l->spec.listen.transport == tp && (family == AF_UNSPEC || l->local.ss.ss_family == family)) {
			*out = l->local;
			return true;
		}
	}
	return false;
}
