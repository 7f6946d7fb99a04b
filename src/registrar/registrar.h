/* Registrar (RFC 3261 10.3) with digest (RFC 7616, RFC 8760) and certificate-bound identities,
 * over the durable store and the in-memory location service the proxy routes from.
 * Thread-safe: one registrar for all workers; replies come back on the calling worker. */
#ifndef SIPSD_REGISTRAR_REGISTRAR_H
#define SIPSD_REGISTRAR_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "conf/conf.h"
#include "sip/msg.h"
#include "transport/transport.h"

struct location;
struct registrar;
struct tls_peer_info;

/* What the transport knows about the request's origin. */
struct reg_origin {
	const char *iface;               /* interface name, "" for peer links */
	enum conf_transport transport;
	uint64_t conn_id;                /* stream connection, 0 for UDP */
	struct tp_addr remote;
	enum conf_iface_auth auth;       /* the interface's `auth` */
	bool cert_verified;              /* mutual TLS with a verified client certificate */
	const struct tls_peer_info *peer;/* what it proved (SAN URIs...), NULL without TLS */
};

/* Called exactly once per registrar_handle(), on the caller's worker thread, possibly later
 * (after the durable write). extra: complete header lines without line end. */
typedef void(reg_reply_h)(uint16_t status, const char *reason, const struct slice *extra, size_t n_extra,
			  void *arg);

/* Handles one REGISTER; reply is called exactly once (see reg_reply_h). 0, or an errno when
 * nothing was done (the caller answers 500). */
typedef int(reg_handle_h)(struct sip_msg *req, const struct reg_origin *o, reg_reply_h *reply, void *reply_arg,
			  void *arg);

/* Posts fn(arg) to the event loop of the calling worker (the registrar uses it to deliver
 * replies after store work). */
typedef int(reg_post_h)(void (*fn)(void *arg), void *arg);

#endif
