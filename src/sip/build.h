/* Building messages from a parsed one by copying its untouched byte ranges (headers are
 * never re-printed unless edited). All builders write into a caller buffer, bounded:
 * 0, EINVAL bad argument, EOVERFLOW when dst is too small (*lenp then holds nothing useful). */
#ifndef SIPSD_SIP_BUILD_H
#define SIPSD_SIP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "sip/msg.h"

/* Serialises msg unchanged from its header index (start line, every header field, end of
 * headers, body): the round-trip identity sip_msg_raw(). */
int sip_build_copy(const struct sip_msg *msg, char *dst, size_t dstsz, size_t *lenp);

struct sip_resp_opts {
	struct slice to_tag;          /* added to To when it has none (not for 100, 8.2.6.2) */
	const struct slice *extra;    /* complete header lines without line end ("Server: x") */
	size_t n_extra;
	struct slice content_type;    /* with a body */
	struct slice body;
	const struct sip_verdict *verdict; /* adds "Unsupported:" for 420 */
};

/* RFC 3261 8.2.6: status line, then Via (all, in order), From, To (+tag), Call-ID, CSeq
 * copied from the request, Timestamp for 100 (8.2.6.1), extra headers, Content-Length.
 * reason NULL picks the standard phrase. */
int sip_build_response(const struct sip_msg *req, uint16_t status, const char *reason,
		       const struct sip_resp_opts *opts, char *dst, size_t dstsz, size_t *lenp);
/* Response carrying a verdict (status, reason, Unsupported for 420). */
int sip_build_verdict_response(const struct sip_msg *req, const struct sip_verdict *v,
			       struct slice to_tag, char *dst, size_t dstsz, size_t *lenp);

/* Standard reason phrase for a status code (RFC 3261 21), "Unknown" otherwise. */
const char *sip_reason_phrase(uint16_t status);

struct sip_fwd_opts {
	/* new top Via (RFC 3261 16.6 item 8): "Via: SIP/2.0/<transport> <host>[:port];branch=
	 * z9hG4bK<branch_unique><via_params>" */
	struct slice transport;     /* "UDP", "TCP", "TLS" */
	struct slice host;          /* IPv6 with brackets */
	uint16_t port;              /* 0: omitted */
	struct slice branch_unique; /* caller's random/unique token chars, appended to z9hG4bK */
	struct slice via_params;    /* extra, e.g. ";rport"; with leading ';' */
	bool pop_route;             /* 16.4: remove the top Route value (it named us) */
	struct slice record_route;  /* 16.6 item 4: URI to insert as Record-Route: <uri> */
	struct slice path;          /* RFC 3327 5.1: URI to insert as the first Path: <uri> (REGISTER) */
	struct slice new_ruri;      /* replace the Request-URI (16.6 item 6), empty: keep */
	/* Route rewrite (16.4 strict-routed requests, 16.6 items 6-7, RFC 3327 Path). When any is
	 * set, the Route values are written as one header field: route_prepend (values, as
	 * "<uri>;lr, <uri>"), then the request's values without the first route_drop_first and,
	 * with route_drop_last, the last one, then route_append. pop_route is ignored then. */
	struct slice route_prepend;
	unsigned route_drop_first;
	bool route_drop_last;
	struct slice route_append;
};

/* RFC 3261 16.6: the request to forward. Max-Forwards is decremented, or inserted as 70 when
 * absent (item 3); EINVAL when it is already 0 (answer 483 instead). A Content-Length is
 * added when the request had none (its datagram body), as streams need one. */
int sip_build_forward(const struct sip_msg *req, const struct sip_fwd_opts *o, char *dst,
		      size_t dstsz, size_t *lenp);

#endif
