/* Checks a parsed message against what RFC 3261 requires of a well-formed one; the parser
 * only looks at what transactions need, so an element calls this before acting. */
#include <errno.h>
#include <string.h>

#include "sip/lex.h"
#include "sip/msg.h"

static int fail(const struct sip_msg *m, struct sip_verdict *v, int err, int status, const char *reason)
{
	sip_verdict_set(v, err, status, reason);
	/* RFC 3261 8.1.3.1 / 16.7: a malformed response is dropped, never answered */
	if (v && !sip_msg_is_request(m))
		v->drop = true;
	return err;
}

static bool is_digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!cc(p[i], CC_DIGIT))
			return false;
	}
	return true;
}

/* rfc1123-date = wkday "," SP date1 SP time SP "GMT" (RFC 3261 20.17) */
static bool date_ok(struct slice d)
{
	static const char wk[] = "MonTueWedThuFriSatSun";
	static const char mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = d.p;
	if (d.len != 29 || p[3] != ',' || p[4] != ' ' || p[7] != ' ' || p[11] != ' ' || p[16] != ' ' ||
	    p[19] != ':' || p[22] != ':' || p[25] != ' ' || memcmp(p + 26, "GMT", 3) != 0)
		return false;
	bool w = false, mm = false;
	for (int i = 0; i < 7; i++)
		w |= memcmp(p, wk + 3 * i, 3) == 0;
	for (int i = 0; i < 12; i++)
		mm |= memcmp(p + 8, mo + 3 * i, 3) == 0;
	return w && mm && is_digits(p + 5, 2) && is_digits(p + 12, 4) && is_digits(p + 17, 2) &&
	       is_digits(p + 20, 2) && is_digits(p + 23, 2);
}

static const struct {
	enum sip_hdr_id id;
	const char *missing, *dup;
} single[] = {
	{ SIP_HDR_TO, "Missing To", "Multiple To" },
	{ SIP_HDR_FROM, "Missing From", "Multiple From" },
	{ SIP_HDR_CALL_ID, "Missing Call-ID", "Multiple Call-ID" },
	{ SIP_HDR_CSEQ, "Missing CSeq", "Multiple CSeq" },
	{ SIP_HDR_MAX_FORWARDS, NULL, "Multiple Max-Forwards" },
	{ SIP_HDR_CONTENT_TYPE, NULL, "Multiple Content-Type" },
	{ SIP_HDR_EXPIRES, NULL, "Multiple Expires" },
	{ SIP_HDR_MIN_EXPIRES, NULL, "Multiple Min-Expires" },
	{ SIP_HDR_DATE, NULL, "Multiple Date" },
};

int sip_msg_validate(const struct sip_msg *m, enum sip_role role, const struct sip_limits *lim,
		     struct sip_verdict *v)
{
	if (!m)
		return EINVAL;
	struct sip_limits dl = lim ? *lim : sip_limits_default();
	bool req = sip_msg_is_request(m);

	if (!sip_msg_via(m))
		return fail(m, v, EBADMSG, 400, "Missing Via");
	for (size_t i = 0; i < sizeof(single) / sizeof(single[0]); i++) {
		size_t n = sip_msg_hdr_num(m, single[i].id);
		if (n == 0 && single[i].missing)
			return fail(m, v, EBADMSG, 400, single[i].missing);
		/* RFC 4475 3.3.8 */
		if (n > 1)
			return fail(m, v, EBADMSG, 400, single[i].dup);
	}

	struct sip_hdr_iter it;
	struct sip_via via;
	uint32_t nvia = 0;
	int err;
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	while ((err = sip_hdr_iter_via(&it, &via)) == 0) {
		if (++nvia > dl.max_via)
			return fail(m, v, EOVERFLOW, 400, "Too Many Via");
	}
	if (err != ENOENT)
		return fail(m, v, EBADMSG, 400, "Bad Via");

	struct sip_contact c;
	size_t ncontact = 0;
	bool star = false;
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	while ((err = sip_hdr_iter_contact(&it, &c)) == 0) {
		ncontact++;
		star |= c.star;
		if (!c.star && c.na.uri.whole.len > dl.max_uri_length)
			return fail(m, v, EOVERFLOW, 400, "URI Too Long");
	}
	if (err != ENOENT || (star && ncontact > 1))
		return fail(m, v, EBADMSG, 400, "Bad Contact");

	static const struct {
		enum sip_hdr_id id;
		const char *bad;
	} routes[] = { { SIP_HDR_ROUTE, "Bad Route" }, { SIP_HDR_RECORD_ROUTE, "Bad Record-Route" },
		       { SIP_HDR_PATH, "Bad Path" } };
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct sip_nameaddr na;
		sip_hdr_iter_init(&it, m, routes[i].id);
		while ((err = sip_hdr_iter_nameaddr(&it, &na)) == 0) {
			if (na.uri.whole.len > dl.max_uri_length)
				return fail(m, v, EOVERFLOW, 400, "URI Too Long");
		}
		if (err != ENOENT)
			return fail(m, v, EBADMSG, 400, routes[i].bad);
	}

	static const struct {
		enum sip_hdr_id id;
		const char *bad;
	} tokens[] = { { SIP_HDR_REQUIRE, "Bad Require" }, { SIP_HDR_PROXY_REQUIRE, "Bad Proxy-Require" },
		       { SIP_HDR_SUPPORTED, "Bad Supported" } };
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		struct slice t;
		sip_hdr_iter_init(&it, m, tokens[i].id);
		while ((err = sip_hdr_iter_token(&it, &t)) == 0)
			;
		if (err != ENOENT)
			return fail(m, v, EBADMSG, 400, tokens[i].bad);
	}

	/* RFC 4475 3.1.2.12: Date must be an rfc1123-date in GMT */
	const struct sip_hdr *d = sip_msg_hdr(m, SIP_HDR_DATE);
	if (d && !date_ok(d->value))
		return fail(m, v, EBADMSG, 400, "Bad Date");

	uint32_t mf;
	/* RFC 3261 20.22: 0-255 */
	if (sip_msg_max_forwards(m, &mf) && mf > 255)
		return fail(m, v, EBADMSG, 400, "Bad Max-Forwards");

	if (!req)
		return 0;

	/* RFC 3261 8.2.6.1 / RFC 4475 3.1.2.17-18 */
	const struct sip_cseq *cs = sip_msg_cseq(m);
	struct slice meth = sip_msg_method(m);
	if (!slice_eq(cs->method, meth)) {
		if (sip_msg_method_id(m) == SIP_METHOD_UNKNOWN)
			return fail(m, v, EBADMSG, 501, "Not Implemented");
		return fail(m, v, EBADMSG, 400, "CSeq Method Mismatch");
	}

	const struct sip_uri *ru = sip_msg_ruri(m);
	/* RFC 3261 19.1.5: headers are not allowed in a Request-URI (RFC 4475 3.1.2.11) */
	if (ru->headers.len)
		return fail(m, v, EBADMSG, 400, "Headers in Request-URI");
	/* RFC 3261 8.2.2.1 */
	if (ru->scheme == SIP_URI_UNKNOWN)
		return fail(m, v, EPROTO, 416, "Unsupported URI Scheme");

	if (role == SIP_ROLE_REGISTRAR && sip_msg_method_id(m) == SIP_METHOD_REGISTER) {
		/* RFC 3261 10.3 item 5 / RFC 4475 3.3.4: the AOR in To is a SIP or SIPS URI */
		enum sip_uri_scheme s = sip_msg_to(m)->uri.scheme;
		if (s != SIP_URI_SIP && s != SIP_URI_SIPS)
			return fail(m, v, EBADMSG, 400, "Bad To URI Scheme");
	}
	return 0;
}

int sip_msg_check_extensions(const struct sip_msg *m, enum sip_role role,
			     const char *const *supported, size_t n_supported, struct sip_verdict *v)
{
	if (!m || (!supported && n_supported))
		return EINVAL;
	/* RFC 3261 8.2.2.3: not for CANCEL; ACK is never answered */
	enum sip_method mid = sip_msg_method_id(m);
	if (!sip_msg_is_request(m) || mid == SIP_METHOD_ACK || mid == SIP_METHOD_CANCEL)
		return 0;
	enum sip_hdr_id id = role == SIP_ROLE_PROXY ? SIP_HDR_PROXY_REQUIRE : SIP_HDR_REQUIRE;
	struct sip_hdr_iter it;
	struct slice t;
	size_t n = 0;
	sip_hdr_iter_init(&it, m, id);
	while (sip_hdr_iter_token(&it, &t) == 0) {
		bool ok = false;
		for (size_t i = 0; i < n_supported && !ok; i++)
			ok = slice_eq_cstr_ci(t, supported[i]);
		if (ok)
			continue;
		if (v && n < SIP_VERDICT_MAX_UNSUPPORTED && !v->status)
			v->unsupported[n] = t;
		n++;
	}
	if (!n)
		return 0;
	if (v && !v->status) {
		v->n_unsupported = n < SIP_VERDICT_MAX_UNSUPPORTED ? n : SIP_VERDICT_MAX_UNSUPPORTED;
		sip_verdict_set(v, 0, 420, "Bad Extension");
	}
	return EPROTO;
}

int sip_msg_check_max_forwards(const struct sip_msg *m, struct sip_verdict *v)
{
	uint32_t mf;
	if (!m)
		return EINVAL;
	if (sip_msg_is_request(m) && sip_msg_max_forwards(m, &mf) && mf == 0)
		return sip_verdict_set(v, EPROTO, 483, "Too Many Hops");
	return 0;
}
