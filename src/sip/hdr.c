/* Header names and header value grammars (RFC 3261 20, 25.1). */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/hdrname.h"
#include "sip/lex.h"
#include "sip/msg.h"

/* RFC 3261 7.3.3 and the RFCs that registered later compact forms (3265, 3515, 3841, 4028
 * are not all listed; unknown letters stay SIP_HDR_OTHER). */
const uint8_t sip_hdr_compact[26] = {
	['a' - 'a'] = SIP_HDR_ACCEPT_CONTACT, ['c' - 'a'] = SIP_HDR_CONTENT_TYPE,
	['e' - 'a'] = SIP_HDR_CONTENT_ENCODING, ['f' - 'a'] = SIP_HDR_FROM,
	['i' - 'a'] = SIP_HDR_CALL_ID, ['k' - 'a'] = SIP_HDR_SUPPORTED,
	['l' - 'a'] = SIP_HDR_CONTENT_LENGTH, ['m' - 'a'] = SIP_HDR_CONTACT,
	['o' - 'a'] = SIP_HDR_EVENT, ['r' - 'a'] = SIP_HDR_REFER_TO, ['s' - 'a'] = SIP_HDR_SUBJECT,
	['t' - 'a'] = SIP_HDR_TO, ['u' - 'a'] = SIP_HDR_ALLOW_EVENTS, ['v' - 'a'] = SIP_HDR_VIA,
};

static const char *const full_names[SIP_HDR__COUNT] = {
	[SIP_HDR_ACCEPT] = "Accept", [SIP_HDR_ACCEPT_CONTACT] = "Accept-Contact",
	[SIP_HDR_ALLOW] = "Allow", [SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[SIP_HDR_AUTHENTICATION_INFO] = "Authentication-Info",
	[SIP_HDR_AUTHORIZATION] = "Authorization", [SIP_HDR_CALL_ID] = "Call-ID",
	[SIP_HDR_CONTACT] = "Contact", [SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_HDR_CONTENT_LENGTH] = "Content-Length", [SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[SIP_HDR_CSEQ] = "CSeq", [SIP_HDR_DATE] = "Date", [SIP_HDR_EVENT] = "Event",
	[SIP_HDR_EXPIRES] = "Expires", [SIP_HDR_FROM] = "From",
	[SIP_HDR_MAX_FORWARDS] = "Max-Forwards", [SIP_HDR_MIN_EXPIRES] = "Min-Expires",
	[SIP_HDR_PATH] = "Path", [SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[SIP_HDR_PROXY_REQUIRE] = "Proxy-Require", [SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[SIP_HDR_REFER_TO] = "Refer-To", [SIP_HDR_REQUIRE] = "Require",
	[SIP_HDR_RETRY_AFTER] = "Retry-After", [SIP_HDR_ROUTE] = "Route",
	[SIP_HDR_SERVER] = "Server", [SIP_HDR_SUBJECT] = "Subject",
	[SIP_HDR_SUPPORTED] = "Supported", [SIP_HDR_TIMESTAMP] = "Timestamp", [SIP_HDR_TO] = "To",
	[SIP_HDR_UNSUPPORTED] = "Unsupported", [SIP_HDR_USER_AGENT] = "User-Agent",
	[SIP_HDR_VIA] = "Via", [SIP_HDR_WARNING] = "Warning",
	[SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};


enum sip_hdr_id sip_hdr_lookup(const char *name, size_t len)
{
	size_t n;
	if (!name || !len)
		return SIP_HDR_OTHER;
	return hdr_find(name, len, false, &n);
}


const char *sip_hdr_name(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_HDR__COUNT ? full_names[id] : NULL;
}

/* Case-sensitive (RFC 3261 7.1); a switch on the length, then fixed-size compares. */
#define METHOD(lit, id_)                                     \
	do {                                                 \
		if (memcmp(s.p, (lit), sizeof(lit) - 1) == 0) \
			return (id_);                        \
	} while (0)

enum sip_method sip_method_lookup(struct slice s)
{
	switch (s.len) {
	case 3:
		METHOD("ACK", SIP_METHOD_ACK);
		METHOD("BYE", SIP_METHOD_BYE);
		break;
	case 4:
		METHOD("INFO", SIP_METHOD_INFO);
		break;
	case 5:
		METHOD("PRACK", SIP_METHOD_PRACK);
		METHOD("REFER", SIP_METHOD_REFER);
		break;
	case 6:
		METHOD("INVITE", SIP_METHOD_INVITE);
		METHOD("CANCEL", SIP_METHOD_CANCEL);
		METHOD("UPDATE", SIP_METHOD_UPDATE);
		METHOD("NOTIFY", SIP_METHOD_NOTIFY);
		break;
	case 7:
		METHOD("OPTIONS", SIP_METHOD_OPTIONS);
		METHOD("MESSAGE", SIP_METHOD_MESSAGE);
		METHOD("PUBLISH", SIP_METHOD_PUBLISH);
		break;
	case 8:
		METHOD("REGISTER", SIP_METHOD_REGISTER);
		break;
	case 9:
		METHOD("SUBSCRIBE", SIP_METHOD_SUBSCRIBE);
		break;
	default:
		break;
	}
	return SIP_METHOD_UNKNOWN;
}
#undef METHOD

/* gen-value = token / host / quoted-string (RFC 3261 25.1); host adds ':' '[' ']' for IPv6
 * (RFC 5118 4.5 received=2001:db8::9:255 with or without brackets). */
static bool is_gvchar(char c)
{
	return cc(c, CC_GVAL);
}

/* One "; name [= value]" at *pp (LWS allowed around ';' and '='). 1: got one, 0: no ';' next
 * (*pp at the next non-LWS octet), -1: malformed. value excludes quotes.
 * Always inlined into its two loops (Via, name-addr): it runs for every parameter of every
 * top Via, From and To, and a call costs more than its common path (no LWS around ';', '='). */
static inline __attribute__((always_inline)) int hparam_next(const char **pp, const char *end, struct slice *name, struct slice *value,
		       bool *has_value)
{
	const char *p = lws_skip(*pp, end);
	if (p >= end || *p != ';') {
		*pp = p;
		return 0;
	}
	p = lws_skip(p + 1, end);
	const char *n = run(p, end, CC_TOKEN);
	if (n == p)
		return -1;
	*name = sl(p, n);
	*has_value = false;
	*value = sl(n, n);
	p = n;
	const char *q = lws_skip(p, end);
	if (q < end && *q == '=') {
		q = lws_skip(q + 1, end);
		if (q < end && *q == '"') {
			const char *e = lex_qstr_end(q, end);
			if (!e)
				return -1;
			*value = sl(q + 1, e - 1);
			p = e;
		} else {
			const char *v = q;
			q = run(q, end, CC_GVAL);
			if (q == v)
				return -1;
			*value = sl(v, q);
			p = q;
		}
		*has_value = true;
	}
	*pp = p;
	return 1;
}

/* After one list element: LWS, then ',' (consumed), or the end. */
static int list_sep(const char **pp, const char *end, bool list)
{
	const char *p = lws_skip(*pp, end);
	if (p < end) {
		if (!list || *p != ',')
			return EBADMSG;
		p++;
	}
	*pp = p;
	return 0;
}

/* Skips LWS and empty list elements before a value; ENOENT when nothing is left. */
static int list_start(const char **pp, const char *end)
{
	const char *p = *pp;
	while (p < end && (cc(*p, CC_WS) || *p == ','))
		p++;
	*pp = p;
	return p < end ? 0 : ENOENT;
}

static inline __attribute__((always_inline)) bool eq_name(struct slice n, const char *lcname, size_t len)
{
	return n.len == len && lex_eq_lc(n.p, lcname, len);
}

int sip_via_parse(struct slice *rest, struct sip_via *via)
{
	if (!rest || !via)
		return EINVAL;
	if (!rest->len)
		return ENOENT;
	const char *p = rest->p, *end = p + rest->len;
	memset(via, 0, sizeof(*via));
	if (list_start(&p, end))
		return ENOENT;
	const char *start = p, *t;
	/* sent-protocol = protocol-name SLASH protocol-version SLASH transport (SLASH = SWS/SWS) */
	struct slice *parts[3] = { &via->proto_name, &via->proto_version, &via->transport };
	int i = 0;
	bool slash_done = false;
	/* Nearly every Via starts "SIP/2.0/" with no SWS: take the two tokens as they stand (the
	 * token scans would stop at the same '/', which is not a tchar) and scan the transport. */
	if (end - p > 8 && memcmp(p, "SIP/2.0/", 8) == 0) {
		via->proto_name = sl(p, p + 3);
		via->proto_version = sl(p + 4, p + 7);
		p = lws_skip(p + 8, end);
		i = 2;
		slash_done = true;
	}
	for (; i < 3; i++) {
		if (i && !slash_done) {
			p = lws_skip(p, end);
			if (p >= end || *p != '/')
				return EBADMSG;
			p = lws_skip(p + 1, end);
		}
		t = run(p, end, CC_TOKEN);
		if (t == p)
			return EBADMSG;
		*parts[i] = sl(p, t);
		p = t;
	}
	t = lws_skip(p, end);
	if (t == p)
		return EBADMSG;
	p = t;
	const char *h = p;
	if (p < end && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb || !lex_ipv6(p + 1, rb))
			return EBADMSG;
		p = rb + 1;
	} else {
		p = run(p, end, CC_HOST);
		if (p == h)
			return EBADMSG;
	}
	via->host = sl(h, p);
	t = lws_skip(p, end);
	if (t < end && *t == ':') {
		t = lws_skip(t + 1, end);
		const char *d = lex_port(t, end, &via->port);
		if (!d)
			return EBADMSG;
		via->port_s = sl(t, d);
		p = d;
	}
	const char *ps = NULL, *pe = p;
	for (;;) {
		struct slice n, v;
		bool hv;
		const char *q = p;
		int r = hparam_next(&q, end, &n, &v, &hv);
		if (r < 0)
			return EBADMSG;
		if (r == 0)
			break;
		if (!ps)
			ps = lws_skip(p, end);
		p = pe = q;
		switch (n.len) {
		case 3:
			if (eq_name(n, "ttl", 3))
				via->ttl = v;
			break;
		case 5:
			if (eq_name(n, "rport", 5)) {
				via->rport = v;
				via->has_rport = true;
			} else if (eq_name(n, "maddr", 5)) {
				via->maddr = v;
			} else if (eq_name(n, "alias", 5)) {
				via->alias = v;
				via->has_alias = true;
			}
			break;
		case 6:
			if (eq_name(n, "branch", 6))
				via->branch = v;
			break;
		case 8:
			if (eq_name(n, "received", 8))
				via->received = v;
			break;
		default:
			break;
		}
	}
	if (ps)
		via->params = sl(ps, pe);
	via->raw = sl(start, pe);
	if (list_sep(&p, end, true))
		return EBADMSG;
	*rest = sl(p, end);
	return 0;
}

int sip_nameaddr_parse(struct slice *rest, struct sip_nameaddr *na, bool list)
{
	if (!rest || !na)
		return EINVAL;
	if (!rest->len)
		return ENOENT;
	const char *p = rest->p, *end = p + rest->len;
	memset(na, 0, sizeof(*na));
	if (list ? list_start(&p, end) : (p = lws_skip(p, end)) >= end)
		return ENOENT;
	const char *start = p;
	if (*p == '"') {
		const char *e = lex_qstr_end(p, end);
		if (!e)
			return EBADMSG;
		na->display = sl(p + 1, e - 1);
		na->display_quoted = true;
		p = lws_skip(e, end);
		if (p >= end || *p != '<')
			return EBADMSG;
	} else if (*p != '<') {
		/* display-name = *(token LWS): tokens then '<', else this is an addr-spec */
		const char *q = p, *te = p;
		while (q < end && (cc(*q, CC_TOKEN) || cc(*q, CC_WS))) {
			if (cc(*q, CC_TOKEN))
				te = q + 1;
			q++;
		}
		if (q < end && *q == '<' && te > p) {
			na->display = sl(p, te);
			p = q;
		}
	}
	if (*p == '<') {
		const char *gt = memchr(p + 1, '>', (size_t)(end - p - 1));
		if (!gt || sip_uri_parse(&na->uri, p + 1, (size_t)(gt - p - 1)))
			return EBADMSG;
		na->angle = true;
		p = gt + 1;
	} else {
		/* RFC 3261 20.10: an addr-spec with ',', ';' or '?' must be in <>; the first ';'
		 * starts header parameters. */
		const char *q = run_until(p, end, CC_ASEND);
		const char *comma = list ? memchr(p, ',', (size_t)(q - p)) : NULL;
		if (comma)
			q = comma;
		if (memchr(p, '?', (size_t)(q - p)) || sip_uri_parse(&na->uri, p, (size_t)(q - p)))
			return EBADMSG;
		p = q;
	}
	const char *ps = NULL, *pe = p;
	for (;;) {
		struct slice n, v;
		bool hv;
		const char *q = p;
		int r = hparam_next(&q, end, &n, &v, &hv);
		if (r < 0)
			return EBADMSG;
		if (r == 0)
			break;
		if (!ps)
			ps = lws_skip(p, end);
		p = pe = q;
		if (eq_name(n, "tag", 3))
			na->tag = v;
	}
	if (ps)
		na->params = sl(ps, pe);
	na->raw = sl(start, pe);
	if (list_sep(&p, end, list))
		return EBADMSG;
	*rest = sl(p, end);
	return 0;
}

/* RFC 3261 25.1 qvalue: "0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ] */
static bool parse_q(struct slice s, uint16_t *q1000)
{
	if (!s.len || (s.p[0] != '0' && s.p[0] != '1'))
		return false;
	unsigned v = (unsigned)(s.p[0] - '0') * 1000, scale = 100;
	if (s.len > 1) {
		if (s.p[1] != '.' || s.len > 5)
			return false;
		for (size_t i = 2; i < s.len; i++, scale /= 10) {
			if (!cc(s.p[i], CC_DIGIT))
				return false;
			v += (unsigned)(s.p[i] - '0') * scale;
		}
	}
	if (v > 1000)
		return false;
	*q1000 = (uint16_t)v;
	return true;
}

/* delta-seconds saturating at 2^32-1 (RFC 3261 20.19 lets the value be capped). */
static bool delta_sat(struct slice s, uint32_t *out)
{
	if (!s.len)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.len; i++) {
		if (!cc(s.p[i], CC_DIGIT))
			return false;
		if (v < UINT32_MAX)
			v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return true;
}

int sip_contact_parse(struct slice *rest, struct sip_contact *c)
{
	if (!rest || !c)
		return EINVAL;
	if (!rest->len)
		return ENOENT;
	memset(c, 0, sizeof(*c));
	c->q1000 = 1000;
	const char *p = rest->p, *end = p + rest->len;
	if (list_start(&p, end))
		return ENOENT;
	if (*p == '*') {
		/* RFC 3261 10.2.2: "*" stands alone */
		if (lws_skip(p + 1, end) != end)
			return EBADMSG;
		c->star = true;
		*rest = sl(end, end);
		return 0;
	}
	struct slice r = sl(p, end);
	int err = sip_nameaddr_parse(&r, &c->na, true);
	if (err)
		return err;
	struct slice params = c->na.params, n, v;
	while (sip_param_next(&params, &n, &v, NULL)) {
		if (eq_name(n, "expires", 7)) {
			if (!delta_sat(v, &c->expires))
				return EBADMSG;
			c->has_expires = true;
		} else if (eq_name(n, "q", 1)) {
			if (!parse_q(v, &c->q1000))
				return EBADMSG;
			c->q = v;
		} else if (eq_name(n, "+sip.instance", 13)) {
			c->instance = v;
		} else if (eq_name(n, "reg-id", 6)) {
			if (!lex_u32(v, UINT32_MAX, &c->reg_id))
				return EBADMSG;
			c->has_reg_id = true;
		}
	}
	*rest = r;
	return 0;
}

int sip_cseq_parse(struct slice value, struct sip_cseq *cs)
{
	if (!cs)
		return EINVAL;
	if (!value.len)
		return EBADMSG;
	memset(cs, 0, sizeof(*cs));
	const char *p = value.p, *end = p + value.len;
	p = lws_skip(p, end);
	/* RFC 3261 8.1.1.5: less than 2^31 when sent, but accept up to 2^32-1 (RFC 4475 3.1.2.4).
	 * Digits are scanned and valued in one pass; an 11th digit already makes it bad. */
	const char *d = p;
	uint64_t num = 0;
	while (d < end && d - p <= 10 && (unsigned char)(*d - '0') <= 9) {
		num = num * 10 + (unsigned)(*d - '0');
		d++;
	}
	if (d == p || d - p > 10 || num > UINT32_MAX)
		return EBADMSG;
	cs->num = (uint32_t)num;
	const char *m = lws_skip(d, end);
	if (m == d)
		return EBADMSG;
	const char *me = run(m, end, CC_TOKEN);
	if (me == m || lws_skip(me, end) != end)
		return EBADMSG;
	cs->method = sl(m, me);
	cs->mid = sip_method_lookup(cs->method);
	return 0;
}

int sip_token_list_next(struct slice *rest, struct slice *token)
{
	if (!rest || !token)
		return EINVAL;
	if (!rest->len)
		return ENOENT;
	const char *p = rest->p, *end = p + rest->len;
	if (list_start(&p, end))
		return ENOENT;
	const char *t = run(p, end, CC_TOKEN);
	if (t == p)
		return EBADMSG;
	*token = sl(p, t);
	if (list_sep(&t, end, true))
		return EBADMSG;
	*rest = sl(t, end);
	return 0;
}

int sip_auth_parse(struct slice value, struct sip_auth *a)
{
	if (!a)
		return EINVAL;
	if (!value.len)
		return EBADMSG;
	memset(a, 0, sizeof(*a));
	const char *p = value.p, *end = p + value.len;
	p = lws_skip(p, end);
	const char *t = run(p, end, CC_TOKEN);
	if (t == p)
		return EBADMSG;
	a->scheme = sl(p, t);
	const char *q = lws_skip(t, end);
	if (q < end && q == t)
		return EBADMSG;
	a->params = sl(q, end);
	/* auth-param = token EQUAL ( token / quoted-string ), comma separated */
	while (q < end) {
		const char *n = run(q, end, CC_TOKEN);
		if (n == q)
			return EBADMSG;
		q = lws_skip(n, end);
		if (q >= end || *q != '=')
			return EBADMSG;
		q = lws_skip(q + 1, end);
		if (q < end && *q == '"') {
			q = lex_qstr_end(q, end);
			if (!q)
				return EBADMSG;
		} else {
			const char *v = q;
			while (q < end && (is_gvchar(*q) || *q == '/'))
				q++;
			if (q == v)
				return EBADMSG;
		}
		q = lws_skip(q, end);
		if (q < end) {
			if (*q != ',')
				return EBADMSG;
			q = lws_skip(q + 1, end);
		}
	}
	return 0;
}

bool sip_auth_param(const struct sip_auth *a, const char *name, struct slice *value)
{
	if (!a || !name || !a->params.len)
		return false;
	const char *p = a->params.p, *end = p + a->params.len;
	size_t nl = strlen(name);
	while (p < end) {
		p = lws_skip(p, end);
		const char *n = run(p, end, CC_TOKEN);
		if (n == p)
			return false;
		struct slice nm = sl(p, n);
		p = lws_skip(n, end);
		if (p >= end || *p != '=')
			return false;
		p = lws_skip(p + 1, end);
		struct slice v;
		if (p < end && *p == '"') {
			const char *e = lex_qstr_end(p, end);
			if (!e)
				return false;
			v = sl(p + 1, e - 1);
			p = e;
		} else {
			const char *s = p;
			while (p < end && *p != ',' && !cc(*p, CC_WS))
				p++;
			v = sl(s, p);
		}
		if (nm.len == nl && strncasecmp(nm.p, name, nl) == 0) {
			if (value)
				*value = v;
			return true;
		}
		p = lws_skip(p, end);
		if (p < end && *p == ',')
			p++;
	}
	return false;
}
