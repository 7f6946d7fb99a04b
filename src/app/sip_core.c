/* The stateless SIP core the daemon runs until the transaction layer, registrar and proxy
 * land: parse, validate, answer what must be answered (errors with their verdicts, OPTIONS
 * pings) and refuse the rest clearly. */
#include <stdio.h>
#include <string.h>

#include <openssl/rand.h>

#include "app/app.h"
#include "base/log.h"
#include "base/mem.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "transport/transport.h"

static const char *const supported_tags[] = { "outbound", "path" };

static void to_tag(char buf[17])
{
	unsigned char r[8];
	if (RAND_bytes(r, sizeof(r)) != 1)
		memset(r, 0x5a, sizeof(r));
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(buf + 2 * i, 3, "%02x", r[i]);
}

static void send_response(const struct tp_source *src, const struct sip_msg *req, uint16_t status,
			  const char *reason, const struct sip_verdict *v, const struct slice *extra, size_t nextra)
{
	char buf[8192], tag[17], ra[80];
	size_t len = 0;
	to_tag(tag);
	struct sip_resp_opts o = {
		.to_tag = { tag, 16 },
		.extra = extra,
		.n_extra = nextra,
		.verdict = v,
	};
	int e = sip_build_response(req, status, reason, &o, buf, sizeof(buf), &len);
	if (e) {
		log_warn("sip.response_build_failed", "remote=%s status=%u", tp_addr_fmt(&src->remote, ra, sizeof(ra)),
			 status);
		return;
	}
	tp_send(src, buf, len);
}

void app_sip_recv(const struct tp_source *src, const char *data, size_t len, void *arg)
{
	const struct sip_limits *lim = arg;
	char ra[80];
	struct sip_msg *msg = NULL;
	struct sip_verdict v;
	sip_verdict_clear(&v);
	unsigned flags = src->transport == CONF_TP_UDP ? 0 : SIP_PARSE_STREAM;
	int e = sip_msg_parse(data, len, lim, flags, &msg, &v);
	if (e) {
		/* Without a parsed Via there is nowhere to send a response (RFC 3261 18.2.2). */
		log_notice("sip.parse_error", "remote=%s transport=%s status=%d error=\"%s\"",
			   tp_addr_fmt(&src->remote, ra, sizeof(ra)), conf_transport_name(src->transport), v.status,
			   v.reason ? v.reason : "malformed");
		if (v.close && src->conn)
			tp_conn_close(src->conn, "SIP framing lost");
		return;
	}
	struct slice cid = sip_msg_call_id(msg);
	if (!sip_msg_is_request(msg)) {
		/* No client transactions yet: a response can match nothing (RFC 3261 18.1.2). */
		log_debug("sip.response_dropped", "remote=%s call_id=\"%.*s\" status=%u",
			  tp_addr_fmt(&src->remote, ra, sizeof(ra)), (int)cid.len, cid.p, sip_msg_status(msg));
		goto out;
	}
	if (sip_msg_validate(msg, SIP_ROLE_PROXY, lim, &v) ||
	    sip_msg_check_extensions(msg, SIP_ROLE_PROXY, supported_tags,
				     sizeof(supported_tags) / sizeof(supported_tags[0]), &v)) {
		log_notice("sip.request_rejected", "remote=%s call_id=\"%.*s\" status=%d reason=\"%s\"",
			   tp_addr_fmt(&src->remote, ra, sizeof(ra)), (int)cid.len, cid.p, v.status,
			   v.reason ? v.reason : "");
		if (!v.drop && v.status)
			send_response(src, msg, (uint16_t)v.status, v.reason, &v, NULL, 0);
		if (v.close && src->conn)
			tp_conn_close(src->conn, "SIP framing lost");
		goto out;
	}
	enum sip_method m = sip_msg_method_id(msg);
	if (m == SIP_METHOD_ACK)
		goto out; /* RFC 3261 17.2.1: ACK is never answered */
	if (m == SIP_METHOD_OPTIONS) {
		static const struct slice extra[] = {
			SLICE_LIT("Allow: OPTIONS, ACK"),
			SLICE_LIT("Accept: application/sdp"),
			SLICE_LIT("Supported: outbound, path"),
			SLICE_LIT("Server: sipsd/" SIPSD_VERSION),
		};
		send_response(src, msg, 200, NULL, NULL, extra, sizeof(extra) / sizeof(extra[0]));
		goto out;
	}
	if (sip_msg_check_max_forwards(msg, &v)) {
		send_response(src, msg, (uint16_t)v.status, v.reason, &v, NULL, 0);
		goto out;
	}
	{
		struct slice meth = sip_msg_method(msg);
		log_info("sip.request_refused", "remote=%s call_id=\"%.*s\" method=%.*s status=501",
			 tp_addr_fmt(&src->remote, ra, sizeof(ra)), (int)cid.len, cid.p, (int)meth.len, meth.p);
		static const struct slice allow[] = { SLICE_LIT("Allow: OPTIONS, ACK") };
		send_response(src, msg, 501, "Not Implemented (registrar and proxy not configured)", NULL, allow, 1);
	}
out:
	mem_deref(msg);
}
