/* ACK and CANCEL built by the transaction layer itself (sip/build.h builds responses and
 * forwarded requests only): both copy header fields of the request as sent, byte for byte. */
#include <errno.h>
#include <string.h>

#include "base/mem.h"
#include "base/outbuf.h"
#include "txn/internal.h"

static size_t hdr_len(const struct sip_msg *m, enum sip_hdr_id id)
{
	size_t n = 0;
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h))
		n += sip_hdr_raw(h).len + 2;
	return n;
}

static void put_hdrs(struct outbuf *w, const struct sip_msg *m, enum sip_hdr_id id)
{
	for (const struct sip_hdr *h = sip_msg_hdr(m, id); h; h = sip_msg_hdr_next(m, h))
		outbuf_put_line(w, sip_hdr_raw(h));
}

/* Request line, top Via only, Route set, From, To, Call-ID, CSeq num + method, Max-Forwards,
 * [Reason], Content-Length: 0. to_msg gives the To header (the response for ACK). */
static int build_req(const struct sip_msg *req, const struct sip_msg *to_msg, const char *method,
		     struct slice reason, char **bufp, size_t *lenp)
{
	const struct sip_uri *ruri = sip_msg_ruri(req);
	const struct sip_via *via = sip_msg_via(req);
	const struct sip_cseq *cseq = sip_msg_cseq(req);
	const struct sip_hdr *from = sip_msg_hdr(req, SIP_HDR_FROM);
	const struct sip_hdr *to = sip_msg_hdr(to_msg, SIP_HDR_TO);
	const struct sip_hdr *cid = sip_msg_hdr(req, SIP_HDR_CALL_ID);
	if (!ruri || !via || !cseq || !from || !to || !cid)
		return EINVAL;
	if (reason.len && (memchr(reason.p, '\r', reason.len) || memchr(reason.p, '\n', reason.len)))
		return EINVAL;
	size_t size = strlen(method) * 2 + ruri->whole.len + 16 + via->raw.len + 8 +
		      hdr_len(req, SIP_HDR_ROUTE) + sip_hdr_raw(from).len + sip_hdr_raw(to).len + sip_hdr_raw(cid).len + 8 +
		      32 + 20 + (reason.len ? reason.len + 10 : 0) + 24;
	char *buf = mem_zalloc(size, NULL);
	if (!buf)
		return ENOMEM;
	struct outbuf w = OUTBUF_INIT(buf, size);
	outbuf_puts(&w, method);
	outbuf_put_slice(&w, SLICE_LIT(" "));
	outbuf_put_slice(&w, ruri->whole);
	outbuf_put_slice(&w, SLICE_LIT(" SIP/2.0\r\nVia: "));
	outbuf_put_slice(&w, via->raw);
	outbuf_put_slice(&w, SLICE_LIT("\r\n"));
	/* 17.1.1.3 / 9.1: the Route header fields of the request being acknowledged/cancelled */
	put_hdrs(&w, req, SIP_HDR_ROUTE);
	outbuf_put_line(&w, sip_hdr_raw(from));
	outbuf_put_line(&w, sip_hdr_raw(to));
	outbuf_put_line(&w, sip_hdr_raw(cid));
	outbuf_put_slice(&w, SLICE_LIT("CSeq: "));
	outbuf_put_u32(&w, cseq->num);
	outbuf_put_slice(&w, SLICE_LIT(" "));
	outbuf_puts(&w, method);
	outbuf_put_slice(&w, SLICE_LIT("\r\nMax-Forwards: 70\r\n"));
	if (reason.len) {
		outbuf_put_slice(&w, SLICE_LIT("Reason: "));
		outbuf_put_slice(&w, reason);
		outbuf_put_slice(&w, SLICE_LIT("\r\n"));
	}
	outbuf_put_slice(&w, SLICE_LIT("Content-Length: 0\r\n\r\n"));
	if (w.over) {
		mem_deref(buf);
		return EOVERFLOW;
	}
	*bufp = buf;
	*lenp = w.len;
	return 0;
}

int txn_build_ack(const struct sip_msg *req, const struct sip_msg *resp, char **bufp, size_t *lenp)
{
	/* RFC 3261 17.1.1.3: Request-URI, Call-ID, From, CSeq number and top Via of the request,
	 * To of the response (its tag), the request's Route set */
	if (!req || !resp || !bufp || !lenp)
		return EINVAL;
	return build_req(req, resp, "ACK", (struct slice){ NULL, 0 }, bufp, lenp);
}

int txn_build_cancel(const struct sip_msg *req, struct slice reason, char **bufp, size_t *lenp)
{
	/* RFC 3261 9.1: Request-URI, Call-ID, To, From, CSeq number and the single top Via of the
	 * request; its Route set */
	if (!req || !bufp || !lenp)
		return EINVAL;
	return build_req(req, req, "CANCEL", reason, bufp, lenp);
}
