#include "sip/uri.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/lex.h"

#define URI_USER (CC_ALNUM | CC_MARK | CC_USER)
#define URI_PASS (CC_ALNUM | CC_MARK | CC_PASS)
#define URI_PARAM (CC_ALNUM | CC_MARK | CC_PARAM)
#define URI_HNV (CC_ALNUM | CC_MARK | CC_HNV)

/* ";pname[=pvalue]" list then "?h=v&..." (RFC 3261 25.1 uri-parameters, headers). */
static int uri_tail(struct sip_uri *u, const char *p, const char *end)
{
	bool bad = false;
	const char *ps = p;
	while (p < end && *p == ';') {
		/* '=' is not a paramchar, so the name run stops there */
		const char *ne = lex_uri_run(p + 1, end, URI_PARAM, &bad);
		if (bad || ne == p + 1)
			return EBADMSG;
		p = ne;
		if (p < end && *p == '=') {
			p = lex_uri_run(p + 1, end, URI_PARAM, &bad);
			if (bad)
				return EBADMSG;
		}
	}
	u->params = sl(ps, p);
	if (p < end && *p == '?') {
		const char *hs = p;
		do {
			const char *ne = lex_uri_run(p + 1, end, URI_HNV, &bad);
			if (bad || ne == p + 1 || ne >= end || *ne != '=')
				return EBADMSG;
			p = lex_uri_run(ne + 1, end, URI_HNV, &bad);
			if (bad)
				return EBADMSG;
		} while (p < end && *p == '&');
		u->headers = sl(hs, p);
	}
	return p == end ? 0 : EBADMSG;
}

static inline __attribute__((always_inline)) int uri_sip(struct sip_uri *u, const char *p, const char *end)
{
	bool bad = false;
	const char *at = memchr(p, '@', (size_t)(end - p));
	if (at) {
		const char *ue = lex_uri_run(p, at, URI_USER, &bad);
		if (bad || ue == p)
			return EBADMSG;
		u->user = sl(p, ue);
		if (ue < at) {
			if (*ue != ':')
				return EBADMSG;
			const char *pe = lex_uri_run(ue + 1, at, URI_PASS, &bad);
			if (bad || pe != at)
				return EBADMSG;
			u->password = sl(ue + 1, at);
		}
		u->has_user = true;
		p = at + 1;
	}
	const char *h = p;
	if (p < end && *p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb || !lex_ipv6(p + 1, rb))
			return EBADMSG;
		p = rb + 1;
		u->host_ipv6 = true;
	} else {
		p = run(p, end, CC_HOST);
		if (p == h)
			return EBADMSG;
	}
	u->host = sl(h, p);
	if (p < end && *p == ':') {
		const char *d = lex_port(p + 1, end, &u->port);
		if (!d)
			return EBADMSG;
		u->port_s = sl(p + 1, d);
		p = d;
	}
	if (p == end) {
		/* no parameters, no headers: the usual end of a sip URI in a header */
		u->params = sl(p, p);
		return 0;
	}
	return uri_tail(u, p, end);
}

/* RFC 3966: global or local number, then ;params (checked like SIP URI params). */
static int uri_tel(struct sip_uri *u, const char *p, const char *end)
{
	const char *s = p;
	while (p < end && (cc(*p, CC_ALNUM | CC_MARK) || *p == '+' || *p == '*' || *p == '#'))
		p++;
	if (p == s)
		return EBADMSG;
	u->user = sl(s, p);
	u->has_user = true;
	return uri_tail(u, p, end);
}

int sip_uri_parse(struct sip_uri *u, const char *p, size_t len)
{
	if (!u || (!p && len))
		return EINVAL;
	memset(u, 0, sizeof(*u));
	const char *end = p + len;
	u->whole = sl(p, end);
	/* "sip:" and "sips:" (any case, RFC 3261 19.1.4) are nearly all URIs: match them whole
	 * instead of scanning the scheme as a run and comparing it after */
	if (len > 4 && lex_eq_lc(p, "sip", 3)) {
		if (p[3] == ':') {
			u->scheme_s = sl(p, p + 3);
			u->scheme = SIP_URI_SIP;
			return uri_sip(u, p + 4, end);
		}
		if (lc(p[3]) == 's' && p[4] == ':') {
			u->scheme_s = sl(p, p + 4);
			u->scheme = SIP_URI_SIPS;
			return uri_sip(u, p + 5, end);
		}
	}
	if (!len || !cc(*p, CC_ALNUM) || cc(*p, CC_DIGIT))
		return EBADMSG;
	const char *c = run(p, end, CC_SCHEME);
	if (c == end || *c != ':')
		return EBADMSG;
	u->scheme_s = sl(p, c);
	size_t n = (size_t)(c - p);
	const char *r = c + 1;
	if (n == 3 && lex_eq_lc(p, "sip", 3)) {
		u->scheme = SIP_URI_SIP;
		return uri_sip(u, r, end);
	}
	if (n == 4 && lex_eq_lc(p, "sips", 4)) {
		u->scheme = SIP_URI_SIPS;
		return uri_sip(u, r, end);
	}
	if (n == 3 && lex_eq_lc(p, "tel", 3)) {
		u->scheme = SIP_URI_TEL;
		return uri_tel(u, r, end);
	}
	/* RFC 3261 25.1 absoluteURI: opaque, but no LWS, '<', '>' or '"' */
	if (r == end || run(r, end, CC_URIC) != end)
		return EBADMSG;
	u->scheme = SIP_URI_UNKNOWN;
	u->opaque = sl(r, end);
	return 0;
}

bool sip_param_next(struct slice *rest, struct slice *name, struct slice *value, bool *bad)
{
	if (!rest || !rest->len)
		return false;
	const char *p = rest->p, *end = p + rest->len;
	p = lws_skip(p, end);
	if (p >= end || *p != ';')
		return false;
	p = lws_skip(p + 1, end);
	const char *n = p;
	while (p < end && *p != ';' && *p != '=' && *p != ',' && *p != '?' && !cc(*p, CC_WS))
		p++;
	if (p == n) {
		if (bad)
			*bad = true;
		return false;
	}
	*name = sl(n, p);
	*value = sl(p, p);
	const char *q = lws_skip(p, end);
	if (q < end && *q == '=') {
		q = lws_skip(q + 1, end);
		if (q < end && *q == '"') {
			const char *e = lex_qstr_end(q, end);
			if (!e) {
				if (bad)
					*bad = true;
				return false;
			}
			*value = sl(q + 1, e - 1);
			p = e;
		} else {
			const char *v = q;
			while (q < end && *q != ';' && *q != ',' && *q != '?' && !cc(*q, CC_WS))
				q++;
			*value = sl(v, q);
			p = q;
		}
	}
	*rest = sl(p, end);
	return true;
}

bool sip_param_get(struct slice params, const char *name, struct slice *value)
{
	struct slice n, v;
	size_t nl = strlen(name);
	while (sip_param_next(&params, &n, &v, NULL)) {
		if (n.len == nl && strncasecmp(n.p, name, nl) == 0) {
			if (value)
				*value = v;
			return true;
		}
	}
	return false;
}

bool sip_param_exists(struct slice params, const char *name)
{
	return sip_param_get(params, name, NULL);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = lc(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int sip_unescape(struct slice s, char *dst, size_t dstsz, size_t *outlen)
{
	size_t o = 0;
	if ((!s.p && s.len) || (!dst && dstsz))
		return EINVAL;
	for (size_t i = 0; i < s.len; i++) {
		char c = s.p[i];
		if (c == '%') {
			if (i + 2 >= s.len)
				return EBADMSG;
			int h = hexval(s.p[i + 1]), l = hexval(s.p[i + 2]);
			if (h < 0 || l < 0)
				return EBADMSG;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (o >= dstsz)
			return EOVERFLOW;
		dst[o++] = c;
	}
	if (outlen)
		*outlen = o;
	return 0;
}

/* Compares two escaped strings after decoding, case-sensitive or not. */
static bool esc_eq(struct slice a, struct slice b, bool ci)
{
	size_t i = 0, j = 0;
	for (;;) {
		if (i >= a.len || j >= b.len)
			return i >= a.len && j >= b.len;
		int ca = (unsigned char)a.p[i], cb = (unsigned char)b.p[j];
		if (ca == '%' && i + 2 < a.len && hexval(a.p[i + 1]) >= 0 && hexval(a.p[i + 2]) >= 0) {
			ca = hexval(a.p[i + 1]) * 16 + hexval(a.p[i + 2]);
			i += 2;
		}
		if (cb == '%' && j + 2 < b.len && hexval(b.p[j + 1]) >= 0 && hexval(b.p[j + 2]) >= 0) {
			cb = hexval(b.p[j + 1]) * 16 + hexval(b.p[j + 2]);
			j += 2;
		}
		if (ci) {
			ca = lc((char)ca);
			cb = lc((char)cb);
		}
		if (ca != cb)
			return false;
		i++;
		j++;
	}
}

static bool param_in(struct slice params, struct slice name, struct slice *val)
{
	struct slice n, v;
	while (sip_param_next(&params, &n, &v, NULL)) {
		if (esc_eq(n, name, true)) {
			*val = v;
			return true;
		}
	}
	return false;
}

/* Header components: every one in either must be in both with equal values (19.1.4). */
static bool hdrs_subset(struct slice a, struct slice b)
{
	if (!a.len)
		return true;
	if (!b.len)
		return false;
	const char *p = a.p, *end = a.p + a.len;
	while (p < end) {
		p++; /* '?' or '&' */
		const char *e = memchr(p, '=', (size_t)(end - p));
		if (!e)
			return false;
		const char *ve = memchr(e, '&', (size_t)(end - e));
		if (!ve)
			ve = end;
		struct slice hn = sl(p, e), hv = sl(e + 1, ve);
		bool found = false;
		const char *q = b.p, *bend = b.p + b.len;
		while (q < bend && !found) {
			q++;
			const char *be = memchr(q, '=', (size_t)(bend - q));
			if (!be)
				break;
			const char *bve = memchr(be, '&', (size_t)(bend - be));
			if (!bve)
				bve = bend;
			if (esc_eq(sl(q, be), hn, true) && esc_eq(sl(be + 1, bve), hv, false))
				found = true;
			q = bve;
		}
		if (!found)
			return false;
		p = ve;
	}
	return true;
}

/* Parameter and header comparison is quadratic; past this many ';'/'&' a URI compares
 * equal only to the identical text, so a 4 KB URI of ";a;a;a..." costs no CPU storm. */
#define EQ_MAX_PARTS 32

static size_t count_ch(struct slice s, char c)
{
	size_t n = 0;
	for (size_t i = 0; i < s.len; i++)
		n += s.p[i] == c;
	return n;
}

bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	static const char *const must[] = { "user", "ttl", "method", "maddr", "transport" };
	if (!a || !b || a->scheme != b->scheme)
		return false;
	if (count_ch(a->params, ';') + count_ch(a->headers, '&') > EQ_MAX_PARTS ||
	    count_ch(b->params, ';') + count_ch(b->headers, '&') > EQ_MAX_PARTS)
		return slice_eq(a->whole, b->whole);
	if (a->scheme != SIP_URI_SIP && a->scheme != SIP_URI_SIPS) {
		if (a->scheme == SIP_URI_TEL)
			return esc_eq(a->user, b->user, false) && esc_eq(a->params, b->params, true);
		return slice_eq_ci(a->scheme_s, b->scheme_s) && slice_eq(a->opaque, b->opaque);
	}
	if (a->has_user != b->has_user || !esc_eq(a->user, b->user, false) ||
	    !esc_eq(a->password, b->password, false) || !slice_eq_ci(a->host, b->host) ||
	    a->port != b->port)
		return false;
	for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++) {
		struct slice n = slice_from_cstr(must[i]), va, vb;
		bool ia = param_in(a->params, n, &va), ib = param_in(b->params, n, &vb);
		if (ia != ib || (ia && !esc_eq(va, vb, true)))
			return false;
	}
	struct slice rest = a->params, n, va, vb;
	while (sip_param_next(&rest, &n, &va, NULL)) {
		/* a repeated name counts once, by its first value, on both sides */
		param_in(a->params, n, &va);
		if (param_in(b->params, n, &vb) && !esc_eq(va, vb, true))
			return false;
	}
	return hdrs_subset(a->headers, b->headers) && hdrs_subset(b->headers, a->headers);
}
