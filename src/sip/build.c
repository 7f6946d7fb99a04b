/* Builders copy byte ranges of the parsed message; only edited fields are printed. */
#include "sip/build.h"

#include <errno.h>
#include <string.h>

#include "base/outbuf.h"
#include "sip/lex.h"

static int finish(struct outbuf *o, size_t *lenp)
{
	if (o->over)
		return EOVERFLOW;
	if (lenp)
		*lenp = o->len;
	return 0;
}

int sip_build_copy(const struct sip_msg *m, char *dst, size_t dstsz, size_t *lenp)
{
	if (!m || (!dst && dstsz))
		return EINVAL;
	struct outbuf o = OUTBUF_INIT(dst, dstsz);
	struct slice raw = sip_msg_raw(m);
	size_t eoh, he = sip_msg_hdr_end(m, &eoh);
	size_t n = sip_msg_hdr_count(m);
	const char *first = n ? sip_msg_hdr_at(m, 0)->name.p : raw.p + he;
	outbuf_put(&o, raw.p, (size_t)(first - raw.p));
	for (size_t i = 0; i < n; i++)
		outbuf_put_slice(&o, sip_hdr_raw(sip_msg_hdr_at(m, i)));
	outbuf_put(&o, raw.p + he, eoh);
	outbuf_put_slice(&o, sip_msg_body(m));
	return finish(&o, lenp);
}

const char *sip_reason_phrase(uint16_t s)
{
	switch (s) {
	case 100: return "Trying";
	case 180: return "Ringing";
	case 181: return "Call Is Being Forwarded";
	case 182: return "Queued";
	case 183: return "Session Progress";
	case 200: return "OK";
	case 202: return "Accepted";
	case 300: return "Multiple Choices";
	case 301: return "Moved Permanently";
	case 302: return "Moved Temporarily";
	case 305: return "Use Proxy";
	case 380: return "Alternative Service";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 402: return "Payment Required";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 410: return "Gone";
	case 413: return "Request Entity Too Large";
	case 414: return "Request-URI Too Long";
	case 415: return "Unsupported Media Type";
	case 416: return "Unsupported URI Scheme";
	case 420: return "Bad Extension";
	case 421: return "Extension Required";
	case 423: return "Interval Too Brief";
	case 430: return "Flow Failed";
	case 439: return "First Hop Lacks Outbound Support";
	case 480: return "Temporarily Unavailable";
	case 481: return "Call/Transaction Does Not Exist";
	case 482: return "Loop Detected";
	case 483: return "Too Many Hops";
	case 484: return "Address Incomplete";
	case 485: return "Ambiguous";
	case 486: return "Busy Here";
	case 487: return "Request Terminated";
	case 488: return "Not Acceptable Here";
	case 491: return "Request Pending";
	case 493: return "Undecipherable";
	case 500: return "Server Internal Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Server Time-out";
	case 505: return "Version Not Supported";
	case 513: return "Message Too Large";
	case 600: return "Busy Everywhere";
	case 603: return "Decline";
	case 604: return "Does Not Exist Anywhere";
	case 606: return "Not Acceptable";
	default: return "Unknown";
	}
}

static bool all_cc(struct slice s, uint16_t m)
{
	return s.len && run(s.p, s.p + s.len, m) == s.p + s.len;
}

/* No CR/LF may reach the output from caller strings (header injection). */
static bool has_ch(struct slice s, char c)
{
	return s.len && memchr(s.p, c, s.len);
}

static bool no_crlf(struct slice s)
{
	return !has_ch(s, '\r') && !has_ch(s, '\n');
}

int sip_build_response(const struct sip_msg *req, uint16_t status, const char *reason,
		       const struct sip_resp_opts *opts, char *dst, size_t dstsz, size_t *lenp)
{
	static const struct sip_resp_opts none;
	if (!req || !sip_msg_is_request(req) || status < 100 || status > 699 || (!dst && dstsz))
		return EINVAL;
	if (!opts)
		opts = &none;
	if (!reason)
		reason = sip_reason_phrase(status);
	if (!no_crlf(slice_from_cstr(reason)) || (opts->to_tag.len && !all_cc(opts->to_tag, CC_TOKEN)) ||
	    !no_crlf(opts->content_type) || (opts->n_extra && !opts->extra))
		return EINVAL;
	for (size_t i = 0; i < opts->n_extra; i++) {
		if (!no_crlf(opts->extra[i]))
			return EINVAL;
	}
	struct outbuf o = OUTBUF_INIT(dst, dstsz);
	outbuf_puts(&o, "SIP/2.0 ");
	outbuf_put_u32(&o, status);
	outbuf_put(&o, " ", 1);
	outbuf_puts(&o, reason);
	outbuf_put(&o, "\r\n", 2);
	/* RFC 3261 8.2.6.2: Via (all, in order), From, Call-ID, CSeq copied; To gets a tag */
	for (const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_VIA); h; h = sip_msg_hdr_next(req, h))
		outbuf_put_line(&o, sip_hdr_raw(h));
	const struct sip_hdr *h = sip_msg_hdr(req, SIP_HDR_FROM);
	if (h)
		outbuf_put_line(&o, sip_hdr_raw(h));
	h = sip_msg_hdr(req, SIP_HDR_TO);
	const struct sip_nameaddr *to = sip_msg_to(req);
	if (h && to && !to->tag.len && status > 100 && opts->to_tag.len) {
		const char *ve = h->value.p + h->value.len;
		outbuf_put(&o, h->name.p, (size_t)(ve - h->name.p));
		outbuf_puts(&o, ";tag=");
		outbuf_put_slice(&o, opts->to_tag);
		outbuf_put_line(&o, sl(ve, h->name.p + h->raw_len));
	} else if (h) {
		outbuf_put_line(&o, sip_hdr_raw(h));
	}
	h = sip_msg_hdr(req, SIP_HDR_CALL_ID);
	if (h)
		outbuf_put_line(&o, sip_hdr_raw(h));
	h = sip_msg_hdr(req, SIP_HDR_CSEQ);
	if (h)
		outbuf_put_line(&o, sip_hdr_raw(h));
	/* RFC 3261 8.2.6.1 */
	h = sip_msg_hdr(req, SIP_HDR_TIMESTAMP);
	if (h && status == 100)
		outbuf_put_line(&o, sip_hdr_raw(h));
	const struct sip_verdict *v = opts->verdict;
	if (v && status == 420 && v->n_unsupported) {
		outbuf_puts(&o, "Unsupported: ");
		for (size_t i = 0; i < v->n_unsupported; i++) {
			if (i)
				outbuf_put(&o, ", ", 2);
			outbuf_put_slice(&o, v->unsupported[i]);
		}
		outbuf_put(&o, "\r\n", 2);
	}
	for (size_t i = 0; i < opts->n_extra; i++) {
		outbuf_put_slice(&o, opts->extra[i]);
		outbuf_put(&o, "\r\n", 2);
	}
	if (opts->body.len && opts->content_type.len) {
		outbuf_puts(&o, "Content-Type: ");
		outbuf_put_slice(&o, opts->content_type);
		outbuf_put(&o, "\r\n", 2);
	}
	outbuf_puts(&o, "Content-Length: ");
	outbuf_put_u32(&o, (uint32_t)opts->body.len);
	outbuf_put(&o, "\r\n\r\n", 4);
	outbuf_put_slice(&o, opts->body);
	return finish(&o, lenp);
}

int sip_build_verdict_response(const struct sip_msg *req, const struct sip_verdict *v,
			       struct slice to_tag, char *dst, size_t dstsz, size_t *lenp)
{
	if (!v || v->drop || v->status < 300)
		return EINVAL;
	struct sip_resp_opts o = { .to_tag = to_tag, .verdict = v };
	return sip_build_response(req, (uint16_t)v->status, v->reason, &o, dst, dstsz, lenp);
}

/* The header field with its value replaced, name and line end kept as written. */
static void put_replaced(struct outbuf *o, const struct sip_hdr *h, struct slice val)
{
	outbuf_put(o, h->name.p, (size_t)(h->value.p - h->name.p));
	outbuf_put_slice(o, val);
	outbuf_put_line(o, sl(h->value.p + h->value.len, h->name.p + h->raw_len));
}

static void put_via(struct outbuf *o, const struct sip_fwd_opts *f)
{
	outbuf_puts(o, "Via: SIP/2.0/");
	outbuf_put_slice(o, f->transport);
	outbuf_put(o, " ", 1);
	outbuf_put_slice(o, f->host);
	if (f->port) {
		outbuf_put(o, ":", 1);
		outbuf_put_u32(o, f->port);
	}
	/* RFC 3261 8.1.1.7: the magic cookie marks a branch unique across space and time */
	outbuf_puts(o, ";branch=z9hG4bK");
	outbuf_put_slice(o, f->branch_unique);
	outbuf_put_slice(o, f->via_params);
	outbuf_put(o, "\r\n", 2);
}

/* "Name: <uri>" for the headers a proxy puts first in their list (Record-Route, Path). */
static void put_name_uri(struct outbuf *o, const char *name, struct slice uri)
{
	if (!uri.len)
		return;
	outbuf_puts(o, name);
	outbuf_puts(o, ": <");
	outbuf_put_slice(o, uri);
	outbuf_put(o, ">\r\n", 3);
}

static void put_rr(struct outbuf *o, const struct sip_fwd_opts *f)
{
	put_name_uri(o, "Record-Route", f->record_route);
}

static bool route_rewrite(const struct sip_fwd_opts *f)
{
	return f->route_prepend.len || f->route_drop_first || f->route_drop_last || f->route_append.len;
}

/* The rewritten Route header field (see sip_fwd_opts); nothing when no value is left. */
static int put_routes(struct outbuf *o, const struct sip_msg *req, const struct sip_fwd_opts *f)
{
	size_t total = 0;
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	sip_hdr_iter_init(&it, req, SIP_HDR_ROUTE);
	while (sip_hdr_iter_nameaddr(&it, &na) == 0)
		total++;
	size_t first = f->route_drop_first, end = total;
	if (f->route_drop_last && end > first)
		end--;
	bool any = false;
	if (f->route_prepend.len) {
		outbuf_puts(o, "Route: ");
		outbuf_put_slice(o, f->route_prepend);
		any = true;
	}
	sip_hdr_iter_init(&it, req, SIP_HDR_ROUTE);
	for (size_t i = 0; sip_hdr_iter_nameaddr(&it, &na) == 0; i++) {
		if (i < first || i >= end)
			continue;
		outbuf_puts(o, any ? ", " : "Route: ");
		outbuf_put_slice(o, na.raw);
		any = true;
	}
	if (f->route_append.len) {
		outbuf_puts(o, any ? ", " : "Route: ");
		outbuf_put_slice(o, f->route_append);
		any = true;
	}
	if (any)
		outbuf_put(o, "\r\n", 2);
	return 0;
}

int sip_build_forward(const struct sip_msg *req, const struct sip_fwd_opts *f, char *dst,
		      size_t dstsz, size_t *lenp)
{
	if (!req || !f || !sip_msg_is_request(req) || (!dst && dstsz))
		return EINVAL;
	bool host_ok = all_cc(f->host, CC_HOST) ||
		       (f->host.len > 2 && f->host.p[0] == '[' && f->host.p[f->host.len - 1] == ']' &&
			lex_ipv6(f->host.p + 1, f->host.p + f->host.len - 1));
	if (!all_cc(f->transport, CC_TOKEN) || !host_ok || !all_cc(f->branch_unique, CC_TOKEN) ||
	    !no_crlf(f->via_params) || !no_crlf(f->record_route) || !no_crlf(f->new_ruri) ||
	    !no_crlf(f->route_prepend) || !no_crlf(f->route_append) || !no_crlf(f->path) ||
	    has_ch(f->path, '>') || has_ch(f->record_route, '>') ||
	    has_ch(f->new_ruri, ' '))
		return EINVAL;
	uint32_t mf = 70;
	bool has_mf = sip_msg_max_forwards(req, &mf);
	if (has_mf && mf == 0)
		return EINVAL; /* RFC 3261 16.3 item 3: answer 483 instead */

	struct outbuf o = OUTBUF_INIT(dst, dstsz);
	if (f->new_ruri.len) {
		outbuf_put_slice(&o, sip_msg_method(req));
		outbuf_put(&o, " ", 1);
		outbuf_put_slice(&o, f->new_ruri);
		outbuf_put(&o, " SIP/2.0\r\n", 10);
	} else {
		outbuf_put_slice(&o, sip_msg_start_line(req));
		outbuf_put(&o, "\r\n", 2);
	}
	size_t n = sip_msg_hdr_count(req);
	const struct sip_hdr *first_via = sip_msg_hdr(req, SIP_HDR_VIA);
	const struct sip_hdr *first_rr = sip_msg_hdr(req, SIP_HDR_RECORD_ROUTE);
	const struct sip_hdr *first_route = sip_msg_hdr(req, SIP_HDR_ROUTE);
	const struct sip_hdr *first_mf = sip_msg_hdr(req, SIP_HDR_MAX_FORWARDS);
	const struct sip_hdr *first_path = sip_msg_hdr(req, SIP_HDR_PATH);
	const struct sip_hdr *last_via = first_via;
	for (const struct sip_hdr *h = first_via; h; h = sip_msg_hdr_next(req, h))
		last_via = h;
	bool rewrite = route_rewrite(f);
	if (!first_via) {
		put_via(&o, f);
		if (rewrite && !first_route)
			put_routes(&o, req, f);
	}
	for (size_t i = 0; i < n; i++) {
		const struct sip_hdr *h = sip_msg_hdr_at(req, i);
		if (h == first_via)
			put_via(&o, f);
		if (h == first_rr)
			put_rr(&o, f);
		if (h == first_path)
			put_name_uri(&o, "Path", f->path);
		if (rewrite && h->id == SIP_HDR_ROUTE) {
			if (h == first_route)
				put_routes(&o, req, f);
		} else if (h == first_mf) {
			char num[12];
			struct outbuf t = OUTBUF_INIT(num, sizeof(num));
			outbuf_put_u32(&t, mf - 1);
			put_replaced(&o, h, sl(num, num + t.len));
		} else if (h == first_route && f->pop_route) {
			/* RFC 3261 16.4: drop the value naming us; the rest of the field stays */
			struct slice rest = h->value;
			struct sip_nameaddr na;
			if (sip_nameaddr_parse(&rest, &na, true))
				return EINVAL;
			const char *rs = lws_skip(rest.p, rest.p + rest.len);
			if (rs < rest.p + rest.len)
				put_replaced(&o, h, sl(rs, rest.p + rest.len));
		} else {
			outbuf_put_line(&o, sip_hdr_raw(h));
		}
		if (h == last_via && !first_rr)
			put_rr(&o, f);
		if (h == last_via && rewrite && !first_route)
			put_routes(&o, req, f);
		if (h == last_via && !first_path)
			put_name_uri(&o, "Path", f->path);
	}
	if (!first_via && !first_rr)
		put_rr(&o, f);
	if (!first_via && !first_path)
		put_name_uri(&o, "Path", f->path);
	if (!has_mf)
		outbuf_puts(&o, "Max-Forwards: 70\r\n");
	struct slice body = sip_msg_body(req);
	if (!sip_msg_content_length(req, NULL)) {
		outbuf_puts(&o, "Content-Length: ");
		outbuf_put_u32(&o, (uint32_t)body.len);
		outbuf_put(&o, "\r\n", 2);
	}
	outbuf_put(&o, "\r\n", 2);
	outbuf_put_slice(&o, body);
	return finish(&o, lenp);
}
