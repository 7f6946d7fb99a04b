/* Outbound stream connections: socket, optional fixed source port, non-blocking connect and the
 * TLS client session. Shared by the persistent peer links (peer.c) and the connections the proxy
 * opens on demand to peers that are not kept up. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "tls/tls.h"
#include "transport/stream.h"

struct tp_conn *tp_connect(struct tp_worker *w, const struct tp_connect_spec *s, struct tp_peer *peer, char *why,
			   size_t whysz)
{
	const struct tp_addr *ra = s->remote;
	int fd = socket(ra->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(why, whysz, "socket: %s", strerror(errno));
		return NULL;
	}
	if (s->local_port) {
		/* Fixed source port (seed 003's persistent links use 16000). */
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		struct tp_addr la = { 0 };
		la.ss.ss_family = ra->ss.ss_family;
		if (ra->ss.ss_family == AF_INET) {
			((struct sockaddr_in *)&la.ss)->sin_port = htons(s->local_port);
			la.len = sizeof(struct sockaddr_in);
		} else {
			((struct sockaddr_in6 *)&la.ss)->sin6_port = htons(s->local_port);
			la.len = sizeof(struct sockaddr_in6);
		}
		if (bind(fd, (struct sockaddr *)&la.ss, la.len) < 0) {
			snprintf(why, whysz, "bind to local port %u: %s", s->local_port, strerror(errno));
			close(fd);
			return NULL;
		}
	}
	if (connect(fd, (const struct sockaddr *)&ra->ss, ra->len) < 0 && errno != EINPROGRESS) {
		snprintf(why, whysz, "connect: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	SSL *ssl = NULL;
	if (s->transport == CONF_TP_TLS) {
		struct tls_ctx *ctx = s->tls ? tls_holder_get(s->tls) : NULL;
		int e = ctx ? tls_session_new(ctx, TLS_ROLE_CLIENT, CONF_MA_REQUIRED, s->identity, &ssl) : EINVAL;
		mem_deref(ctx);
		if (e) {
			snprintf(why, whysz, "TLS setup failed");
			close(fd);
			return NULL;
		}
	}
	struct tp_conn *c = tp_conn_outbound(w, fd, ra, s->transport, ssl, peer);
	if (!c) {
		snprintf(why, whysz, "out of memory");
		return NULL;
	}
	c->idle_timeout = s->idle_timeout;
	return c;
}

int tp_worker_connect(struct tp_worker *w, const struct tp_connect_spec *s, uint64_t *conn_id, char *why,
		      size_t whysz)
{
	if (!w || !s || !s->remote || (s->transport != CONF_TP_TCP && s->transport != CONF_TP_TLS))
		return EINVAL;
	struct tp_conn *c = tp_connect(w, s, NULL, why, whysz);
	if (!c)
		return ECONNREFUSED;
	*conn_id = c->id;
	return 0;
}
