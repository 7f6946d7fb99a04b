/* Message parser and validator against RFC 4475 and RFC 5118, table-driven from the
 * VERDICTS.tsv files so a wrong verdict names the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>

#include "base/mem.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "testutil.h"

#define FAILF(...)                   \
	do {                         \
		print_error(__VA_ARGS__); \
		fail();              \
	} while (0)

static bool sl_is(struct slice s, const char *c)
{
	return slice_eq_cstr(s, c);
}

#define CHECK_SL(file, s, want)                                                                  \
	do {                                                                                     \
		if (!sl_is((s), (want)))                                                         \
			FAILF("%s: %s is \"%.*s\", want \"%s\"\n", (file), #s, (int)(s).len, (s).p, \
			      (want));                                                           \
	} while (0)

#define CHECK(file, cond)                                         \
	do {                                                      \
		if (!(cond))                                      \
			FAILF("%s: failed: %s\n", (file), #cond); \
	} while (0)

/* Expected outcome for a datagram-received message at a proxy (parse, then validate). */
struct expect {
	const char *file;
	int status; /* 0 accepted */
	bool drop;
	const char *reason; /* NULL: any */
};

/* RFC 4475 sections 3.1.2, 3.3: the code each invalid / application-level case deserves.
 * Valid ones (3.1.1, 3.3.11-14, 3.4.1) must be accepted. */
static const struct expect rfc4475[] = {
	{ "wsinv.dat", 0, false, NULL },
	{ "intmeth.dat", 0, false, NULL },
	{ "esc01.dat", 0, false, NULL },
	{ "escnull.dat", 0, false, NULL },
	{ "esc02.dat", 0, false, NULL },
	{ "lwsdisp.dat", 0, false, NULL },
	{ "longreq.dat", 0, false, NULL },
	{ "dblreq.dat", 0, false, NULL },
	{ "semiuri.dat", 0, false, NULL },
	{ "transports.dat", 0, false, NULL },
	{ "mpart01.dat", 0, false, NULL },
	{ "unreason.dat", 0, false, NULL },
	{ "noreason.dat", 0, false, NULL },
	{ "badinv01.dat", 400, false, "Bad Via" },
	{ "clerr.dat", 400, false, "Content-Length Exceeds Message" },
	{ "ncl.dat", 400, false, "Bad Content-Length" },
	{ "scalar02.dat", 400, false, "Bad CSeq" },
	{ "scalarlg.dat", 0, true, NULL },
	{ "quotbal.dat", 400, false, "Bad To" },
	{ "ltgtruri.dat", 400, false, "Bad Request-URI" },
	{ "lwsruri.dat", 400, false, "Bad Request-Line" },
	{ "lwsstart.dat", 400, false, "Bad Request-Line" },
	{ "trws.dat", 400, false, "Bad Request-Line" },
	{ "escruri.dat", 400, false, "Headers in Request-URI" },
	{ "baddate.dat", 400, false, "Bad Date" },
	{ "regbadct.dat", 400, false, "Bad Contact" },
	{ "badaspec.dat", 400, false, "Bad To" },
	{ "baddn.dat", 400, false, "Bad From" },
	{ "badvers.dat", 505, false, NULL },
	{ "mismatch01.dat", 400, false, "CSeq Method Mismatch" },
	{ "mismatch02.dat", 501, false, NULL },
	{ "bigcode.dat", 0, true, NULL },
	{ "badbranch.dat", 0, false, NULL },
	{ "insuf.dat", 400, false, "Missing To" },
	{ "unkscm.dat", 416, false, NULL },
	{ "novelsc.dat", 416, false, NULL },
	{ "unksm2.dat", 0, false, NULL }, /* proxy: fine; registrar: 400, checked below */
	{ "bext01.dat", 0, false, NULL }, /* 420 comes from sip_msg_check_extensions */
	{ "invut.dat", 0, false, NULL },
	{ "regaut01.dat", 0, false, NULL },
	{ "multi01.dat", 400, false, NULL },
	{ "mcl01.dat", 400, false, "Multiple Content-Length" },
	{ "bcast.dat", 0, false, NULL },
	{ "zeromf.dat", 0, false, NULL }, /* 483 from sip_msg_check_max_forwards */
	{ "cparam01.dat", 0, false, NULL },
	{ "cparam02.dat", 0, false, NULL },
	{ "regescrt.dat", 0, false, NULL },
	{ "sdp01.dat", 0, false, NULL },
	{ "inv2543.dat", 0, false, NULL },
	{ "test.dat", 400, false, NULL }, /* unreferenced: no SIP-Version on its request line */
};

static const struct expect *expect_of(const char *file)
{
	for (size_t i = 0; i < sizeof(rfc4475) / sizeof(rfc4475[0]); i++) {
		if (strcmp(rfc4475[i].file, file) == 0)
			return &rfc4475[i];
	}
	return NULL;
}

/* Parses + validates; returns the message on acceptance (caller derefs). */
static struct sip_msg *judge(const char *buf, size_t len, enum sip_role role, unsigned flags,
			     struct sip_verdict *v)
{
	struct sip_msg *m = NULL;
	if (sip_msg_parse(buf, len, NULL, flags, &m, v))
		return NULL;
	if (sip_msg_validate(m, role, NULL, v)) {
		mem_deref(m);
		return NULL;
	}
	return m;
}

static void roundtrip(const char *file, const struct sip_msg *m)
{
	struct slice raw = sip_msg_raw(m);
	char *out = malloc(raw.len + 1);
	size_t n = 0;
	int err = sip_build_copy(m, out, raw.len, &n);
	if (err || n != raw.len || memcmp(out, raw.p, n) != 0)
		FAILF("%s: round trip differs (err %d, %zu vs %zu bytes)\n", file, err, n, raw.len);
	if (raw.len && sip_build_copy(m, out, raw.len - 1, &n) != EOVERFLOW)
		FAILF("%s: build into a short buffer did not fail\n", file);
	free(out);
}

/* Walking the Vias hands out the top one parsed with the message: it must be what parsing the
 * first Via header's value gives, and the walk must go on from where that parse stopped. */
static void top_via_walk(const char *file, const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_VIA);
	if (!h || !sip_msg_via(m))
		return;
	struct slice r = h->value;
	struct sip_via want, got;
	if (sip_via_parse(&r, &want) != 0)
		FAILF("%s: top Via parsed with the message but not alone\n", file);
	struct sip_hdr_iter it;
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	if (sip_hdr_iter_via(&it, &got) != 0)
		FAILF("%s: no first Via from the walk\n", file);
	const struct slice *a[] = { &want.transport, &want.host, &want.params, &want.branch, &want.received, &want.raw };
	const struct slice *b[] = { &got.transport, &got.host, &got.params, &got.branch, &got.received, &got.raw };
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		if (a[i]->len != b[i]->len || (a[i]->len && memcmp(a[i]->p, b[i]->p, a[i]->len) != 0))
			FAILF("%s: walked top Via differs in field %zu\n", file, i);
	if (want.port != got.port || it.rest.p != r.p || it.rest.len != r.len)
		FAILF("%s: walk resumes elsewhere than the parse stopped\n", file);
	/* A peek at a request's first lines, when it answers, agrees with the full parse. */
	struct slice raw = sip_msg_raw(m), method;
	struct sip_via peek;
	if (sip_msg_is_request(m) && sip_request_peek(raw.p, raw.len, &method, &peek) == 0 &&
	    (!slice_eq(method, sip_msg_method(m)) || !slice_eq(peek.branch, want.branch) ||
	     !slice_eq(peek.host, want.host) || peek.port != want.port || !slice_eq(peek.raw, want.raw)))
		FAILF("%s: peeked method or top Via differs from the parse\n", file);
}

static void fields_4475(const char *file, const struct sip_msg *m)
{
	const struct sip_uri *ru = sip_msg_ruri(m);
	char u[256];
	size_t n;
	if (!strcmp(file, "wsinv.dat")) {
		CHECK_SL(file, sip_msg_to(m)->tag, "1918181833n");
		CHECK_SL(file, sip_msg_from(m)->tag, "98asjd8");
		CHECK_SL(file, sip_msg_from(m)->display, "J Rosenberg \\\\\\\"");
		CHECK_SL(file, sip_msg_via(m)->transport, "UDP");
		CHECK_SL(file, sip_msg_via(m)->host, "192.0.2.2");
		CHECK_SL(file, sip_msg_via(m)->branch, "390skdjuw");
		CHECK_SL(file, sip_msg_cseq(m)->method, "INVITE");
		CHECK(file, sip_msg_cseq(m)->num == 9);
		uint32_t mf;
		CHECK(file, sip_msg_max_forwards(m, &mf) && mf == 68);
		CHECK(file, sip_msg_hdr_num(m, SIP_HDR_VIA) == 2);
		struct sip_hdr_iter it;
		struct sip_via via;
		sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
		CHECK(file, sip_hdr_iter_via(&it, &via) == 0);
		CHECK(file, sip_hdr_iter_via(&it, &via) == 0);
		CHECK_SL(file, via.transport, "TCP");
		CHECK_SL(file, via.host, "spindle.example.com");
		CHECK_SL(file, via.branch, "z9hG4bK9ikj8");
		CHECK(file, sip_hdr_iter_via(&it, &via) == 0);
		CHECK_SL(file, via.host, "192.168.255.111");
		CHECK_SL(file, via.branch, "z9hG4bK30239");
		CHECK(file, sip_hdr_iter_via(&it, &via) == ENOENT);
		struct sip_contact c;
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		CHECK(file, sip_hdr_iter_contact(&it, &c) == 0);
		CHECK(file, c.q1000 == 330);
		CHECK_SL(file, c.na.display, "Quoted string \\\"\\\"");
		struct slice pv;
		CHECK(file, sip_param_get(c.na.params, "newparam", &pv) && sl_is(pv, "newvalue"));
		CHECK(file, sip_msg_hdr_by_name(m, "NewFangledHeader") != NULL);
		CHECK(file, sip_msg_body(m).len == 150);
	} else if (!strcmp(file, "esc01.dat")) {
		CHECK(file, sip_unescape(ru->user, u, sizeof(u), &n) == 0);
		CHECK(file, n == 21 && memcmp(u, "sips:user@example.com", n) == 0);
		CHECK(file, sip_unescape(sip_msg_to(m)->uri.user, u, sizeof(u), &n) == 0);
		CHECK(file, n == 4 && memcmp(u, "user", 4) == 0);
		CHECK(file, sip_unescape(sip_msg_from(m)->uri.user, u, sizeof(u), &n) == 0);
		CHECK(file, n == 13 && memcmp(u, "I have spaces", 13) == 0);
		CHECK_SL(file, sip_msg_call_id(m), "esc01.239409asdfakjkn23onasd0-3234");
	} else if (!strcmp(file, "escnull.dat")) {
		CHECK(file, sip_unescape(sip_msg_to(m)->uri.user, u, sizeof(u), &n) == 0);
		CHECK(file, n == 11 && memcmp(u, "null-\0-null", 11) == 0);
		CHECK(file, sip_msg_hdr_num(m, SIP_HDR_CONTACT) == 2);
	} else if (!strcmp(file, "esc02.dat")) {
		CHECK_SL(file, sip_msg_method(m), "RE%47IST%45R");
		CHECK(file, sip_msg_method_id(m) == SIP_METHOD_UNKNOWN);
		CHECK_SL(file, sip_msg_from(m)->display, "%Z%45");
		struct sip_hdr_iter it;
		struct sip_contact c;
		int k = 0;
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		while (sip_hdr_iter_contact(&it, &c) == 0)
			k++;
		CHECK(file, k == 2);
		CHECK(file, sip_msg_hdr_by_name(m, "C%6Fntact") != NULL);
	} else if (!strcmp(file, "intmeth.dat")) {
		CHECK_SL(file, sip_msg_method(m), "!interesting-Method0123456789_*+`.%indeed'~");
		CHECK_SL(file, ru->user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
		CHECK_SL(file, ru->password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
		CHECK_SL(file, sip_msg_from(m)->tag, "_token~1'+`*%!-.");
		CHECK_SL(file, sip_msg_call_id(m), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
	} else if (!strcmp(file, "lwsdisp.dat")) {
		CHECK_SL(file, sip_msg_from(m)->display, "caller");
	} else if (!strcmp(file, "semiuri.dat")) {
		CHECK_SL(file, ru->user, "user;par=u%40example.net");
		CHECK(file, sip_unescape(ru->user, u, sizeof(u), &n) == 0);
		CHECK(file, n == 22 && memcmp(u, "user;par=u@example.net", n) == 0);
		CHECK_SL(file, ru->host, "example.com");
		CHECK(file, ru->params.len == 0);
	} else if (!strcmp(file, "longreq.dat")) {
		CHECK(file, sip_msg_hdr_num(m, SIP_HDR_VIA) == 34);
		CHECK(file, sip_msg_to(m)->display.len > 90);
		CHECK(file, sip_msg_from(m)->tag.len > 100);
		CHECK(file, sip_msg_call_id(m).len > 100);
		CHECK_SL(file, sip_msg_via(m)->host, "sip33.example.com");
		CHECK(file, sip_msg_body(m).len == 150);
		const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_VIA);
		while (sip_msg_hdr_next(m, h))
			h = sip_msg_hdr_next(m, h);
		struct slice r = h->value;
		struct sip_via via;
		CHECK(file, sip_via_parse(&r, &via) == 0);
		CHECK(file, via.branch.len > 100);
		CHECK_SL(file, via.received, "192.0.2.5");
	} else if (!strcmp(file, "dblreq.dat")) {
		CHECK_SL(file, sip_msg_method(m), "REGISTER");
		CHECK(file, sip_msg_body(m).len == 0);
		struct slice raw = sip_msg_raw(m);
		CHECK(file, raw.len > 4 && memcmp(raw.p + raw.len - 4, "\r\n\r\n", 4) == 0);
	} else if (!strcmp(file, "transports.dat")) {
		static const char *const tp[] = { "UDP", "SCTP", "TLS", "UNKNOWN", "TCP" };
		struct sip_hdr_iter it;
		struct sip_via via;
		sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
		for (int i = 0; i < 5; i++) {
			CHECK(file, sip_hdr_iter_via(&it, &via) == 0);
			CHECK_SL(file, via.transport, tp[i]);
		}
		CHECK(file, sip_hdr_iter_via(&it, &via) == ENOENT);
	} else if (!strcmp(file, "mpart01.dat")) {
		CHECK(file, sip_msg_body(m).len == 553);
		CHECK(file, memcmp(sip_msg_body(m).p, "--7a9cbec02ceef655", 18) == 0);
		CHECK_SL(file, sip_msg_content_type(m), "multipart/mixed;boundary=7a9cbec02ceef655");
		CHECK_SL(file, sip_msg_via(m)->rport, "");
		CHECK(file, sip_msg_via(m)->has_rport);
	} else if (!strcmp(file, "unreason.dat")) {
		CHECK(file, sip_msg_status(m) == 200);
		CHECK(file, sip_msg_reason(m).len > 20 && sip_msg_reason(m).p[0] == '=');
	} else if (!strcmp(file, "noreason.dat")) {
		CHECK(file, sip_msg_status(m) == 100);
		CHECK(file, sip_msg_reason(m).len == 0);
	} else if (!strcmp(file, "inv2543.dat")) {
		CHECK(file, !sip_msg_max_forwards(m, NULL));
		CHECK(file, !sip_msg_content_length(m, NULL));
		CHECK(file, sip_msg_from(m)->tag.len == 0);
		CHECK(file, sip_msg_via(m)->branch.len == 0);
		CHECK(file, sip_msg_body(m).len > 0 && sip_msg_body(m).p[0] == 'v');
	} else if (!strcmp(file, "cparam01.dat")) {
		struct sip_hdr_iter it;
		struct sip_contact c;
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		CHECK(file, sip_hdr_iter_contact(&it, &c) == 0);
		CHECK(file, !c.na.angle && c.na.uri.params.len == 0);
		CHECK(file, sip_param_exists(c.na.params, "unknownparam"));
	} else if (!strcmp(file, "cparam02.dat")) {
		struct sip_hdr_iter it;
		struct sip_contact c;
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		CHECK(file, sip_hdr_iter_contact(&it, &c) == 0);
		CHECK(file, c.na.angle && sip_param_exists(c.na.uri.params, "unknownparam"));
		CHECK(file, c.na.params.len == 0);
	} else if (!strcmp(file, "regescrt.dat")) {
		struct sip_hdr_iter it;
		struct sip_contact c;
		sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
		CHECK(file, sip_hdr_iter_contact(&it, &c) == 0);
		CHECK_SL(file, c.na.uri.headers, "?Route=%3Csip:sip.example.com%3E");
	} else if (!strcmp(file, "regaut01.dat")) {
		struct sip_auth a;
		CHECK(file, sip_auth_parse(sip_msg_hdr(m, SIP_HDR_AUTHORIZATION)->value, &a) == 0);
		CHECK_SL(file, a.scheme, "NoOneKnowsThisScheme");
		struct slice pv;
		CHECK(file, sip_auth_param(&a, "opaque-data", &pv) && sl_is(pv, "here"));
	} else if (!strcmp(file, "unkscm.dat")) {
		CHECK(file, ru->scheme == SIP_URI_UNKNOWN);
		CHECK_SL(file, ru->scheme_s, "nobodyKnowsThisScheme");
	}
}

static void test_rfc4475(void **state)
{
	(void)state;
	size_t tl;
	char *tsv = td_read("rfc4475/VERDICTS.tsv", &tl);
	assert_non_null(tsv);
	char *cur = tsv, *cols[5];
	int rows = 0, nc;
	td_tsv_next(&cur, cols, 5); /* header */
	while ((nc = td_tsv_next(&cur, cols, 5)) > 0) {
		if (nc < 4)
			continue;
		const char *file = cols[0], *cls = cols[3];
		const struct expect *e = expect_of(file);
		if (!e)
			FAILF("%s: no expectation in the test table\n", file);
		/* the class in VERDICTS.tsv and the table must agree */
		if (!strcmp(cls, "valid") && (e->status || e->drop))
			FAILF("%s: VERDICTS says valid, table expects %d\n", file, e->status);
		if (!strcmp(cls, "invalid") && !e->status && !e->drop)
			FAILF("%s: VERDICTS says invalid, table expects acceptance\n", file);
		char rel[256];
		snprintf(rel, sizeof(rel), "rfc4475/%s", file);
		size_t len;
		char *buf = td_read(rel, &len);
		if (!buf)
			FAILF("%s: cannot read\n", file);
		struct sip_verdict v;
		struct sip_msg *m = judge(buf, len, SIP_ROLE_PROXY, 0, &v);
		/* a dropped message keeps the fault in status/reason for logging only */
		if ((m != NULL) != (!e->status && !e->drop) || (!e->drop && v.status != (m ? 0 : e->status)) ||
		    v.drop != e->drop || (e->reason && (!v.reason || strcmp(v.reason, e->reason))))
			FAILF("%s (%s): got %s status %d drop %d reason \"%s\", want status %d drop %d reason \"%s\"\n",
			      file, cls, m ? "accepted" : "rejected", v.status, v.drop, v.reason ? v.reason : "",
			      e->status, e->drop, e->reason ? e->reason : "");
		if (m) {
			fields_4475(file, m);
			roundtrip(file, m);
			top_via_walk(file, m);
			/* raw covers the whole file, except dblreq's trailing octets */
			struct slice raw = sip_msg_raw(m);
			if (strcmp(file, "dblreq.dat") && (raw.len != len || raw.p[0] != buf[0]))
				FAILF("%s: raw is %zu of %zu bytes\n", file, raw.len, len);
			mem_deref(m);
		} else if (strcmp(file, "test.dat")) {
			/* a message rejected at validation still round-trips after parse */
			struct sip_msg *pm = NULL;
			struct sip_verdict pv;
			if (!sip_msg_parse(buf, len, NULL, 0, &pm, &pv)) {
				roundtrip(file, pm);
				mem_deref(pm);
			}
		}
		free(buf);
		rows++;
	}
	assert_int_equal(rows, 50);
	free(tsv);
}

static struct sip_msg *load(const char *rel, size_t *lenp, char **bufp)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	*bufp = td_read(rel, lenp);
	assert_non_null(*bufp);
	if (sip_msg_parse(*bufp, *lenp, NULL, 0, &m, &v))
		FAILF("%s: parse failed: %d %s\n", rel, v.status, v.reason);
	return m;
}

static void test_rfc4475_roles(void **state)
{
	(void)state;
	size_t len;
	char *buf;
	struct sip_verdict v;
	/* 3.3.4: a registrar needs a SIP/SIPS AOR in To */
	struct sip_msg *m = load("rfc4475/unksm2.dat", &len, &buf);
	sip_verdict_clear(&v);
	assert_int_equal(sip_msg_validate(m, SIP_ROLE_REGISTRAR, NULL, &v), EBADMSG);
	assert_int_equal(v.status, 400);
	mem_deref(m);
	free(buf);

	/* 3.3.5: 420 listing the unsupported tags of Proxy-Require (proxy) or Require (UAS) */
	m = load("rfc4475/bext01.dat", &len, &buf);
	static const char *const sup[] = { "path", "outbound", "nothingSupportsThisEither" };
	sip_verdict_clear(&v);
	assert_int_equal(sip_msg_check_extensions(m, SIP_ROLE_PROXY, sup, 2, &v), EPROTO);
	assert_int_equal(v.status, 420);
	assert_int_equal(v.n_unsupported, 2);
	assert_true(sl_is(v.unsupported[0], "noProxiesSupportThis"));
	assert_true(sl_is(v.unsupported[1], "norDoAnyProxiesSupportThis"));
	sip_verdict_clear(&v);
	assert_int_equal(sip_msg_check_extensions(m, SIP_ROLE_UAS, sup, 3, &v), EPROTO);
	assert_int_equal(v.n_unsupported, 1);
	assert_true(sl_is(v.unsupported[0], "nothingSupportsThis"));
	char out[2048];
	size_t n;
	assert_int_equal(sip_build_verdict_response(m, &v, SLICE_LIT("t1"), out, sizeof(out), &n), 0);
	assert_non_null(memmem(out, n, "SIP/2.0 420 Bad Extension\r\n", 27));
	assert_non_null(memmem(out, n, "\r\nUnsupported: nothingSupportsThis\r\n", 36));
	mem_deref(m);
	free(buf);

	/* 3.3.11: a proxy answers 483, an endpoint processes it */
	m = load("rfc4475/zeromf.dat", &len, &buf);
	sip_verdict_clear(&v);
	assert_int_equal(sip_msg_check_max_forwards(m, &v), EPROTO);
	assert_int_equal(v.status, 483);
	assert_int_equal(sip_msg_validate(m, SIP_ROLE_UAS, NULL, &v), 0);
	mem_deref(m);
	free(buf);

	/* 3.1.2.2 on a stream: not an error for the parser to see, the framer waits */
	m = load("rfc4475/esc01.dat", &len, &buf);
	assert_int_equal(sip_msg_check_max_forwards(m, &v), 0);
	mem_deref(m);
	free(buf);

	/* 3.4.1 on a stream: no Content-Length is an error there */
	buf = td_read("rfc4475/inv2543.dat", &len);
	assert_int_equal(sip_msg_parse(buf, len, NULL, SIP_PARSE_STREAM, &m, &v), EBADMSG);
	assert_int_equal(v.status, 400);
	free(buf);
}

/* RFC 5118. The archive files (bare LF) are accepted: bare LF line ends are tolerated as
 * many stacks do. Two archive files (ipv6-in-sdp, mult-ip-in-sdp) state a Content-Length
 * computed for CRLF bodies, larger than their LF body; as datagrams they get the same 400
 * as RFC 4475 3.1.2.2 (clerr) rather than a guessed length. Their CRLF variants, with the
 * corrected length, are accepted. */
static void check_5118(const char *dir, bool lf)
{
	size_t tl;
	char *tsv = td_read("rfc5118/VERDICTS.tsv", &tl);
	assert_non_null(tsv);
	char *cur = tsv, *cols[4];
	int rows = 0, nc;
	td_tsv_next(&cur, cols, 4);
	while ((nc = td_tsv_next(&cur, cols, 4)) > 0) {
		if (nc < 4)
			continue;
		const char *file = cols[0];
		bool accept = strncmp(cols[3], "accept", 6) == 0 || strncmp(cols[3], "tolerate", 8) == 0;
		bool cl_short = lf && (!strcmp(file, "ipv6-in-sdp") || !strcmp(file, "mult-ip-in-sdp"));
		char rel[256];
		snprintf(rel, sizeof(rel), "%s/%s", dir, file);
		size_t len;
		char *buf = td_read(rel, &len);
		if (!buf)
			FAILF("%s: cannot read\n", rel);
		struct sip_verdict v;
		struct sip_msg *m = judge(buf, len, SIP_ROLE_PROXY, 0, &v);
		if (cl_short) {
			if (m || v.status != 400 || strcmp(v.reason, "Content-Length Exceeds Message"))
				FAILF("%s: want 400 Content-Length Exceeds Message, got %d\n", rel, v.status);
		} else if (accept != (m != NULL) || (!accept && v.status != 400)) {
			FAILF("%s: got %s %d %s, want %s\n", rel, m ? "accept" : "reject", v.status,
			      v.reason ? v.reason : "", cols[3]);
		}
		if (m) {
			const struct sip_uri *ru = sip_msg_ruri(m);
			if (!strcmp(file, "port-ambiguous")) {
				CHECK_SL(rel, ru->host, "[2001:db8::10:5070]");
				CHECK(rel, ru->port == 0 && ru->port_s.len == 0 && ru->host_ipv6);
			} else if (!strcmp(file, "port-unambiguous")) {
				CHECK_SL(rel, ru->host, "[2001:db8::10]");
				CHECK(rel, ru->port == 5070);
			} else if (!strcmp(file, "ipv6-good")) {
				CHECK_SL(rel, ru->host, "[2001:db8::10]");
				CHECK_SL(rel, sip_msg_via(m)->host, "[2001:db8::9:1]");
			} else if (!strcmp(file, "via-received-param-with-delim")) {
				CHECK_SL(rel, sip_msg_via(m)->received, "[2001:db8::9:255]");
			} else if (!strcmp(file, "via-received-param-no-delim")) {
				CHECK_SL(rel, sip_msg_via(m)->received, "2001:db8::9:255");
			} else if (!strcmp(file, "ipv4-mapped-ipv6")) {
				CHECK_SL(rel, sip_msg_via(m)->host, "[::ffff:192.0.2.10]");
				CHECK(rel, sip_msg_via(m)->port == 19823);
				struct sip_hdr_iter it;
				struct sip_contact c;
				sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
				CHECK(rel, sip_hdr_iter_contact(&it, &c) == 0);
				CHECK_SL(rel, c.na.uri.host, "[::ffff:192.0.2.2]");
			} else if (!strcmp(file, "ipv6-bug-abnf-3-colons")) {
				CHECK_SL(rel, ru->host, "[2001:db8:::192.0.2.1]");
			} else if (!strcmp(file, "mult-ip-in-header")) {
				struct sip_hdr_iter it;
				struct sip_via via;
				sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
				CHECK(rel, sip_hdr_iter_via(&it, &via) == 0 && via.port == 6050);
				CHECK(rel, sip_hdr_iter_via(&it, &via) == 0);
				CHECK_SL(rel, via.host, "192.0.2.1");
				CHECK(rel, sip_hdr_iter_via(&it, &via) == 0);
				CHECK_SL(rel, via.received, "192.0.2.200");
			} else if (!strcmp(file, "ipv6-in-sdp")) {
				CHECK(rel, sip_msg_body(m).len == 241);
			}
			roundtrip(rel, m);
			top_via_walk(rel, m);
			mem_deref(m);
		}
		free(buf);
		rows++;
	}
	assert_int_equal(rows, 12);
	free(tsv);
}

static void test_rfc5118(void **state)
{
	(void)state;
	check_5118("rfc5118", true);
	check_5118("rfc5118-crlf-variant-ersip", false);
}

static const char reg[] = "REGISTER sips:example.com SIP/2.0\r\n"
			  "Via: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bKnashds7;rport;alias\r\n"
			  "Max-Forwards: 70\r\n"
			  "To: Bob <sips:bob@example.com>\r\n"
			  "From: Bob <sips:bob@example.com>;tag=456248\r\n"
			  "Call-ID: 843817637684230@998sdasdh09\r\n"
			  "CSeq: 1826 REGISTER\r\n"
			  "Supported: path, outbound\r\n"
			  "k: gruu\r\n"
			  "Contact: <sips:bob@192.0.2.4;transport=tls>;expires=7200;q=0.7;"
			  "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\";reg-id=1,"
			  " \"Second\" <sip:bob@192.0.2.5>;expires=99999999999\r\n"
			  "Authorization: Digest username=\"bob\", realm=\"example.com\", "
			  "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sips:example.com\", "
			  "response=\"6629fae49393a05397450978507c4ef1\", algorithm=MD5, qop=auth, nc=00000001, "
			  "cnonce=\"0a4f113b\"\r\n"
			  "Expires: 7200\r\n"
			  "Min-Expires: 60\r\n"
			  "Content-Length: 0\r\n"
			  "\r\n";

static void test_request_peek(void **state)
{
	(void)state;
	struct slice method;
	struct sip_via v;
	static const char compact[] = "INVITE sip:b@example.com SIP/2.0\r\nMax-Forwards: 70\r\n"
				      "v : SIP/2.0/TLS 192.0.2.1:5061;BRANCH=z9hG4bKpk1, SIP/2.0/TLS h2;branch=z9hG4bKpk2\r\n"
				      "Via: SIP/2.0/TLS h3;branch=z9hG4bKpk3\r\n\r\n";
	assert_int_equal(sip_request_peek(compact, strlen(compact), &method, &v), 0);
	assert_true(sl_is(method, "INVITE"));
	assert_true(sl_is(v.host, "192.0.2.1") && v.port == 5061);
	assert_true(sl_is(v.branch, "z9hG4bKpk1"));
	static const char novia[] = "BYE sip:b@example.com SIP/2.0\r\nVia-Extra: x\r\nCSeq: 1 BYE\r\n\r\n"
				    "Via: SIP/2.0/TLS in-the-body\r\n";
	assert_int_equal(sip_request_peek(novia, strlen(novia), &method, &v), ENOENT);
	static const char bad[] = "OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TLS ;;\r\n\r\n";
	assert_int_equal(sip_request_peek(bad, strlen(bad), &method, &v), EBADMSG);
	assert_int_equal(sip_request_peek("garbage", 7, &method, &v), EBADMSG);
}

static void test_accessors(void **state)
{
	(void)state;
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	assert_int_equal(sip_msg_parse(reg, sizeof(reg) - 1, NULL, SIP_PARSE_STREAM, &m, &v), 0);
	assert_int_equal(sip_msg_validate(m, SIP_ROLE_REGISTRAR, NULL, &v), 0);
	assert_int_equal(sip_msg_method_id(m), SIP_METHOD_REGISTER);
	assert_int_equal(sip_msg_ruri(m)->scheme, SIP_URI_SIPS);
	const struct sip_via *via = sip_msg_via(m);
	assert_true(sl_is(via->transport, "TLS"));
	assert_int_equal(via->port, 5061);
	assert_true(via->has_rport && via->has_alias);
	assert_true(sl_is(via->branch, "z9hG4bKnashds7"));
	assert_true(sl_is(sip_msg_to(m)->display, "Bob"));
	assert_true(sip_msg_has_option(m, SIP_HDR_SUPPORTED, "outbound"));
	assert_true(sip_msg_has_option(m, SIP_HDR_SUPPORTED, "GRUU"));
	assert_false(sip_msg_has_option(m, SIP_HDR_SUPPORTED, "100rel"));
	uint32_t e;
	assert_int_equal(sip_msg_expires(m, &e), 0);
	assert_int_equal(e, 7200);
	assert_int_equal(sip_msg_min_expires(m, &e), 0);
	assert_int_equal(e, 60);

	struct sip_hdr_iter it;
	struct sip_contact c;
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_hdr_iter_contact(&it, &c), 0);
	assert_true(c.has_expires);
	assert_int_equal(c.expires, 7200);
	assert_int_equal(c.q1000, 700);
	assert_true(sl_is(c.instance, "<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"));
	assert_true(c.has_reg_id);
	assert_int_equal(c.reg_id, 1);
	assert_true(sip_param_exists(c.na.uri.params, "transport"));
	assert_int_equal(sip_hdr_iter_contact(&it, &c), 0);
	assert_true(sl_is(c.na.display, "Second"));
	assert_int_equal(c.expires, UINT32_MAX); /* saturated */
	assert_int_equal(sip_hdr_iter_contact(&it, &c), ENOENT);

	struct sip_auth a;
	struct slice pv;
	assert_int_equal(sip_auth_parse(sip_msg_hdr(m, SIP_HDR_AUTHORIZATION)->value, &a), 0);
	assert_true(sl_is(a.scheme, "Digest"));
	assert_true(sip_auth_param(&a, "nonce", &pv) && sl_is(pv, "dcd98b7102dd2f0e8b11d0f600bfb0c093"));
	assert_true(sip_auth_param(&a, "QOP", &pv) && sl_is(pv, "auth"));
	assert_true(sip_auth_param(&a, "cnonce", &pv) && sl_is(pv, "0a4f113b"));
	assert_false(sip_auth_param(&a, "opaque", &pv));

	assert_int_equal(sip_hdr_lookup("i", 1), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_lookup("CONTENT-LENGTH", 14), SIP_HDR_CONTENT_LENGTH);
	assert_int_equal(sip_hdr_lookup("X-Foo", 5), SIP_HDR_OTHER);
	assert_string_equal(sip_hdr_name(SIP_HDR_WWW_AUTHENTICATE), "WWW-Authenticate");
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const char *nm = sip_hdr_name((enum sip_hdr_id)id);
		assert_int_equal(sip_hdr_lookup(nm, strlen(nm)), id);
	}
	mem_deref(m);

	/* zero copy: the message holds a reference on the caller's buffer */
	char *owned = mem_zalloc(sizeof(reg), NULL);
	memcpy(owned, reg, sizeof(reg));
	assert_int_equal(sip_msg_parse_ref(owned, owned, sizeof(reg) - 1, NULL, 0, &m, &v), 0);
	assert_int_equal(mem_nrefs(owned), 2);
	assert_ptr_equal(sip_msg_raw(m).p, owned);
	mem_deref(owned);
	assert_true(sl_is(sip_msg_call_id(m), "843817637684230@998sdasdh09"));
	mem_deref(m);
}

/* Header names are matched a word at a time, in place: near misses must stay unknown. */
static void test_hdr_names(void **state)
{
	(void)state;
	assert_int_equal(sip_hdr_lookup("cAlL-iD", 7), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_lookup("v", 1), SIP_HDR_VIA);
	assert_int_equal(sip_hdr_lookup("x", 1), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("Call_ID", 7), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("Call\rID", 7), SIP_HDR_OTHER);  /* '\r' | 0x20 is '-' */
	assert_int_equal(sip_hdr_lookup("Call\x0did", 7), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("C\x01ll-ID", 7), SIP_HDR_OTHER); /* 'a' & ~0x60 */
	assert_int_equal(sip_hdr_lookup("Content-Lengt", 13), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("Content-Lengthx", 15), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("Content-Lengtj", 14), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("Dontent-Length", 14), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_lookup("TO", 2), SIP_HDR_TO);
	assert_int_equal(sip_hdr_lookup("Tp", 2), SIP_HDR_OTHER);

	/* methods: case-sensitive (RFC 3261 7.1), every known one, near misses unknown */
	static const struct {
		const char *n;
		enum sip_method id;
	} ms[] = { { "INVITE", SIP_METHOD_INVITE },	  { "ACK", SIP_METHOD_ACK },
		   { "BYE", SIP_METHOD_BYE },		  { "CANCEL", SIP_METHOD_CANCEL },
		   { "REGISTER", SIP_METHOD_REGISTER },	  { "OPTIONS", SIP_METHOD_OPTIONS },
		   { "INFO", SIP_METHOD_INFO },		  { "PRACK", SIP_METHOD_PRACK },
		   { "UPDATE", SIP_METHOD_UPDATE },	  { "SUBSCRIBE", SIP_METHOD_SUBSCRIBE },
		   { "NOTIFY", SIP_METHOD_NOTIFY },	  { "REFER", SIP_METHOD_REFER },
		   { "MESSAGE", SIP_METHOD_MESSAGE },	  { "PUBLISH", SIP_METHOD_PUBLISH },
		   { "invite", SIP_METHOD_UNKNOWN },	  { "INVITEX", SIP_METHOD_UNKNOWN },
		   { "INVIT", SIP_METHOD_UNKNOWN },	  { "NEWMETHOD", SIP_METHOD_UNKNOWN },
		   { "", SIP_METHOD_UNKNOWN } };
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		assert_int_equal(sip_method_lookup(slice_from_cstr(ms[i].n)), ms[i].id);

	static const char msg[] = "OPTIONS sip:a@example.com SIP/2.0\r\n"
				  "v  :SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"
				  "TO\t: <sip:a@example.com>\r\n"
				  "f: <sip:b@example.com>;tag=1\r\n"
				  "Call-ID: x@y\r\n"
				  "CSeq: 1 OPTIONS\r\n"
				  "Tox: 1\r\n"
				  "Via-Extra: 2\r\n"
				  "Content-Lengthy: 5\r\n"
				  "Allow-Events: a\r\n"
				  "Allow: INVITE\r\n"
				  "X: 3\r\n"
				  "l: 0\r\n"
				  "\r\n";
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	assert_int_equal(sip_msg_parse(msg, sizeof(msg) - 1, NULL, 0, &m, &v), 0);
	assert_int_equal(sip_msg_hdr_count(m), 12);
	static const enum sip_hdr_id ids[] = { SIP_HDR_VIA,	     SIP_HDR_TO,	  SIP_HDR_FROM,
					       SIP_HDR_CALL_ID,	     SIP_HDR_CSEQ,	  SIP_HDR_OTHER,
					       SIP_HDR_OTHER,	     SIP_HDR_OTHER,	  SIP_HDR_ALLOW_EVENTS,
					       SIP_HDR_ALLOW,	     SIP_HDR_OTHER,	  SIP_HDR_CONTENT_LENGTH };
	static const char *const names[] = { "v", "TO", "f", "Call-ID", "CSeq", "Tox", "Via-Extra",
					     "Content-Lengthy", "Allow-Events", "Allow", "X", "l" };
	for (size_t i = 0; i < 12; i++) {
		assert_int_equal(sip_msg_hdr_at(m, i)->id, ids[i]);
		assert_true(sl_is(sip_msg_hdr_at(m, i)->name, names[i]));
	}
	assert_true(sl_is(sip_msg_via(m)->branch, "z9hG4bK1"));
	assert_true(sl_is(sip_msg_hdr_by_name(m, "via-extra")->value, "2"));
	uint32_t cl = 1;
	assert_true(sip_msg_content_length(m, &cl));
	assert_int_equal(cl, 0);
	assert_int_equal(sip_msg_hdr_num(m, SIP_HDR_VIA), 1);
	mem_deref(m);

	/* a bad name is still one: not a token, or no colon on its line */
	static const char *const bad[] = { "OPTIONS sip:a@example.com SIP/2.0\r\nVia\r\n: x\r\n\r\n",
					   "OPTIONS sip:a@example.com SIP/2.0\r\nTo x: y\r\n\r\n",
					   "OPTIONS sip:a@example.com SIP/2.0\r\nT\x01: y\r\n\r\n",
					   "OPTIONS sip:a@example.com SIP/2.0\r\nCSeq" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		m = NULL;
		assert_int_equal(sip_msg_parse(bad[i], strlen(bad[i]), NULL, 0, &m, &v), EBADMSG);
		assert_null(m);
		assert_string_equal(v.reason, "Bad Header");
	}
}

static struct sip_msg *parse_ok(const char *msg)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	int r = sip_msg_parse(msg, strlen(msg), NULL, 0, &m, &v);
	if (r)
		FAILF("parse failed %d/%d/%s for:\n%s\n", r, v.status, v.reason ? v.reason : "", msg);
	return m;
}

static void parse_bad(const char *msg, const char *reason)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	int r = sip_msg_parse(msg, strlen(msg), NULL, 0, &m, &v);
	if (r != EBADMSG || strcmp(v.reason ? v.reason : "", reason))
		FAILF("got %d/%s want EBADMSG/%s for:\n%s\n", r, v.reason ? v.reason : "", reason, msg);
	assert_null(m);
}

#define REQ_START "OPTIONS sip:a@example.com SIP/2.0\r\n"
#define REQ_REST                                     \
	"To: <sip:a@example.com>\r\n"                \
	"From: <sip:b@example.com>;tag=1\r\n"        \
	"Call-ID: x@y\r\n"                           \
	"CSeq: 1 OPTIONS\r\n"                        \
	"\r\n"

/* The header loop's shortcuts (colon right after the name, one SP after it, no trailing
 * blanks) must give the same fields as the general paths they skip (RFC 3261 7.3.1). */
static void test_hdr_line_shapes(void **state)
{
	(void)state;
	static const char msg[] = REQ_START
		"Via \t : SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n" /* blanks before ':' */
		"Max-Forwards:70\r\n"                                 /* no SWS after ':' */
		"User-Agent: \t  ua 1 \t \r\n"                        /* blanks on both sides */
		"Subject: one\r\n two\r\n\t three  \r\n"              /* folded, trailing blanks */
		"cSeQ: 7 OPTIONS\r\n"                                 /* mixed case, second CSeq */
		"X-Empty:\r\n"
		"X-Blank:   \r\n"
		"I: second@call\r\n"                                  /* compact, upper case */
		"CONTENT-LENGTH: 0\r\n"
		REQ_REST;
	struct sip_msg *m = parse_ok(msg);
	assert_non_null(m);
	const struct sip_hdr *h = sip_msg_hdr_at(m, 0);
	assert_int_equal(h->id, SIP_HDR_VIA);
	assert_true(sl_is(h->name, "Via"));
	assert_true(sl_is(h->value, "SIP/2.0/UDP h.example.com;branch=z9hG4bK1"));
	assert_true(sl_is(sip_msg_hdr(m, SIP_HDR_MAX_FORWARDS)->value, "70"));
	assert_true(sl_is(sip_msg_hdr(m, SIP_HDR_USER_AGENT)->value, "ua 1"));
	assert_true(sl_is(sip_msg_hdr(m, SIP_HDR_SUBJECT)->value, "one\r\n two\r\n\t three"));
	assert_int_equal(sip_msg_hdr(m, SIP_HDR_SUBJECT)->raw_len,
			 strlen("Subject: one\r\n two\r\n\t three  \r\n"));
	assert_true(sl_is(sip_msg_hdr_by_name(m, "x-empty")->value, ""));
	assert_true(sl_is(sip_msg_hdr_by_name(m, "x-blank")->value, ""));
	assert_int_equal(sip_msg_hdr_num(m, SIP_HDR_CSEQ), 2);
	assert_int_equal(sip_msg_cseq(m)->num, 7); /* the first CSeq line is the eager one */
	assert_true(sl_is(sip_msg_call_id(m), "second@call"));
	assert_true(sl_is(sip_msg_hdr(m, SIP_HDR_CALL_ID)->name, "I"));
	uint32_t n = 1;
	assert_true(sip_msg_content_length(m, &n) && n == 0);
	assert_true(sip_msg_max_forwards(m, &n) && n == 70);
	mem_deref(m);

	/* LF-only lines, a fold right after the colon, a tab as the only SWS */
	m = parse_ok("OPTIONS sip:a@example.com SIP/2.0\n"
		     "v:\n SIP/2.0/TCP [2001:db8::1]:5060 ;received=192.0.2.1\n"
		     "t:\t<sip:a@example.com>\n"
		     "F:<sip:b@example.com> ; tag = 9\n"
		     "i:\tx@y\n"
		     "CSeq:1\tOPTIONS\n"
		     "\n");
	assert_non_null(m);
	const struct sip_via *via = sip_msg_via(m);
	assert_true(sl_is(via->transport, "TCP"));
	assert_true(sl_is(via->host, "[2001:db8::1]"));
	assert_int_equal(via->port, 5060);
	assert_true(sl_is(via->received, "192.0.2.1"));
	assert_true(sl_is(sip_msg_from(m)->tag, "9"));
	assert_true(sl_is(sip_msg_from(m)->params, "; tag = 9"));
	assert_true(sl_is(sip_msg_to(m)->uri.host, "example.com"));
	assert_true(sl_is(sip_msg_call_id(m), "x@y"));
	mem_deref(m);

	parse_bad(REQ_START "Via \t x: SIP/2.0/UDP h\r\n" REQ_REST, "Bad Header");
	parse_bad(REQ_START "Via  \r\n: SIP/2.0/UDP h\r\n" REQ_REST, "Bad Header");
	parse_bad(REQ_START "To\r\n" REQ_REST, "Bad Header");
}

/* Request line: with the version exactly "SIP/2.0" the SP and HTAB searches cover only the
 * Request-URI; a stray SP or HTAB anywhere still makes the line bad (RFC 3261 7.1). */
static void test_request_line_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		int status;
		const char *reason;
	} cases[] = {
		{ "OPTIONS sip:a@example.com SIP/2.0", 0, "" },
		{ "OPTIONS sip:a@example.com\t SIP/2.0", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a\t@example.com SIP/2.0", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com SIP/2.0 ", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com SIP/2.0\t", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com SIP/2.0 x", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com  SIP/2.0", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com ", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com SIP/2.1", 505, "Version Not Supported" },
		{ "OPTIONS sip:a@example.com SIP/2.00", 505, "Version Not Supported" },
		{ "OPTIONS sip:a@example.com SIP/2.0x", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@example.com sip/2.0", 400, "Bad Request-Line" },
		{ "OPTIONS sip:a@exa\tmple.com SIP/2.1", 400, "Bad Request-Line" },
	};
	char buf[512];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s\r\nVia: SIP/2.0/UDP h\r\n" REQ_REST, cases[i].line);
		struct sip_msg *m = NULL;
		struct sip_verdict v;
		int r = sip_msg_parse(buf, strlen(buf), NULL, 0, &m, &v);
		if (v.status != cases[i].status || (r == 0) != (cases[i].status == 0) ||
		    (cases[i].status && strcmp(v.reason, cases[i].reason)))
			FAILF("\"%s\": got %d/%d/%s\n", cases[i].line, r, v.status, v.reason ? v.reason : "");
		mem_deref(m);
	}
}

/* Via: "SIP/2.0/" is taken whole; any other spelling goes through the token scans. */
static void test_via_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		const char *name, *version, *transport, *host, *branch;
		uint16_t port;
	} ok[] = {
		{ "SIP/2.0/TLS h.example.com:5061;branch=z9hG4bK1", "SIP", "2.0", "TLS", "h.example.com", "z9hG4bK1", 5061 },
		{ "SIP / 2.0 / UDP h;branch=b", "SIP", "2.0", "UDP", "h", "b", 0 },
		{ "SIP/2.0/ UDP h;branch=b", "SIP", "2.0", "UDP", "h", "b", 0 },
		{ "SIP/2.0 /UDP h", "SIP", "2.0", "UDP", "h", "", 0 },
		{ "sip/2.0/udp h : 0000065535 ; branch = \"q\"", "sip", "2.0", "udp", "h", "q", 65535 },
		{ "SIP/3.0/SCTP h", "SIP", "3.0", "SCTP", "h", "", 0 },
		{ "SIP/2.0/X-NEW h:1", "SIP", "2.0", "X-NEW", "h", "", 1 },
	};
	char buf[512];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), REQ_START "Via: %s\r\n" REQ_REST, ok[i].value);
		struct sip_msg *m = parse_ok(buf);
		assert_non_null(m);
		const struct sip_via *v = sip_msg_via(m);
		CHECK_SL(ok[i].value, v->proto_name, ok[i].name);
		CHECK_SL(ok[i].value, v->proto_version, ok[i].version);
		CHECK_SL(ok[i].value, v->transport, ok[i].transport);
		CHECK_SL(ok[i].value, v->host, ok[i].host);
		CHECK_SL(ok[i].value, v->branch, ok[i].branch);
		CHECK(ok[i].value, v->port == ok[i].port);
		mem_deref(m);
	}
	static const char *const bad[] = { "SIP/2.0/", "SIP/2.0/ ", "SIP/2.0TLS h", "SIP/2.0/TLS",
					   "SIP/2.0/TLSh", "SIP/2.0//TLS h", "SIP/2.0/TLS h:65536",
					   "SIP/2.0/TLS h:99999999999999999999", "SIP/2.0/TLS h:" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), REQ_START "Via: %s\r\n" REQ_REST, bad[i]);
		parse_bad(buf, "Bad Via");
	}
}

/* CSeq digits are valued as they are scanned: 10 digits at most, up to 2^32-1. */
static void test_cseq_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		uint32_t num;
	} ok[] = { { "4294967295 OPTIONS", 4294967295u }, { "0000000001 OPTIONS", 1 },
		   { " \t 12  OPTIONS", 12 }, { "0 OPTIONS", 0 } };
	char buf[512];
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), REQ_START "Via: SIP/2.0/UDP h\r\nCSeq: %s\r\n" REQ_REST,
			 ok[i].value);
		struct sip_msg *m = parse_ok(buf);
		assert_non_null(m);
		CHECK(ok[i].value, sip_msg_cseq(m)->num == ok[i].num);
		CHECK_SL(ok[i].value, sip_msg_cseq(m)->method, "OPTIONS");
		mem_deref(m);
	}
	static const char *const bad[] = { "4294967296 OPTIONS", "00000000001 OPTIONS", "OPTIONS",
					   "12OPTIONS", "99999999999999999999 OPTIONS", "-1 OPTIONS" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), REQ_START "Via: SIP/2.0/UDP h\r\nCSeq: %s\r\n" REQ_REST,
			 bad[i]);
		parse_bad(buf, "Bad CSeq");
	}
}

static void expect_fail(const char *msg, size_t len, const struct sip_limits *lim, int err, int status,
			const char *reason)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	int r = sip_msg_parse(msg, len, lim, 0, &m, &v);
	if (r != err || v.status != status || (reason && strcmp(v.reason, reason)))
		FAILF("got %d/%d/%s want %d/%d/%s for:\n%.*s\n", r, v.status, v.reason ? v.reason : "", err,
		      status, reason ? reason : "", (int)(len > 200 ? 200 : len), msg);
	assert_null(m);
}

static void test_limits(void **state)
{
	(void)state;
	struct sip_limits lim = sip_limits_default();
	assert_int_equal(lim.max_message_size, 65536);
	assert_int_equal(lim.max_headers, 256);
	assert_int_equal(lim.max_line_length, 8192);
	assert_int_equal(lim.max_uri_length, 4096);
	assert_int_equal(lim.max_via, 70);

	size_t cap = 200000;
	char *b = malloc(cap);
	size_t n = (size_t)snprintf(b, cap, "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\n"
					    "Content-Length: 0\r\n");
	size_t base = n;
	/* too many headers */
	for (int i = 0; i < 300; i++)
		n += (size_t)snprintf(b + n, cap - n, "X-H%d: v\r\n", i);
	n += (size_t)snprintf(b + n, cap - n, "\r\n");
	expect_fail(b, n, NULL, EOVERFLOW, 400, "Too Many Headers");
	lim.max_headers = 1000;
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	assert_int_equal(sip_msg_parse(b, n, &lim, 0, &m, &v), 0);
	assert_int_equal(sip_msg_hdr_count(m), 302); /* grown past the inline array */
	assert_true(sl_is(sip_msg_hdr_at(m, 301)->name, "X-H299"));
	mem_deref(m);

	/* message size: 513 */
	lim = sip_limits_default();
	lim.max_message_size = 1000;
	expect_fail(b, n, &lim, EOVERFLOW, 513, "Message Too Large");

	/* line length */
	n = base;
	n += (size_t)snprintf(b + n, cap - n, "X-Long: ");
	memset(b + n, 'a', 9000);
	n += 9000;
	n += (size_t)snprintf(b + n, cap - n, "\r\n\r\n");
	expect_fail(b, n, NULL, EOVERFLOW, 400, "Line Too Long");

	/* Request-URI: 414 */
	n = (size_t)snprintf(b, cap, "OPTIONS sip:");
	memset(b + n, 'u', 5000);
	n += 5000;
	n += (size_t)snprintf(b + n, cap - n, "@b SIP/2.0\r\nContent-Length: 0\r\n\r\n");
	expect_fail(b, n, NULL, EOVERFLOW, 414, "Request-URI Too Long");

	/* Via count */
	n = (size_t)snprintf(b, cap, "OPTIONS sip:a@b SIP/2.0\r\n");
	for (int i = 0; i < 80; i++)
		n += (size_t)snprintf(b + n, cap - n, "Via: SIP/2.0/UDP h%d;branch=z9hG4bK%d\r\n", i, i);
	n += (size_t)snprintf(b + n, cap - n, "Content-Length: 0\r\n\r\n");
	expect_fail(b, n, NULL, EOVERFLOW, 400, "Too Many Via");
	/* and comma-separated values counted by validate */
	lim = sip_limits_default();
	lim.max_via = 3;
	n = (size_t)snprintf(b, cap, "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP a, SIP/2.0/UDP b, "
				     "SIP/2.0/UDP c, SIP/2.0/UDP d\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\n"
				     "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(sip_msg_parse(b, n, &lim, 0, &m, &v), 0);
	assert_int_equal(sip_msg_validate(m, SIP_ROLE_PROXY, &lim, &v), EOVERFLOW);
	assert_int_equal(v.status, 400);
	mem_deref(m);
	free(b);

	/* assorted malformed input */
	static const char *const bad[] = {
		"", "INVITE", "INVITE sip:a@b SIP/2.0", "INVITE sip:a@b SIP/2.0\r\nVia",
		"INVITE sip:a@b SIP/2.0\r\n Via: x\r\n\r\n", "INVITE sip:a@b SIP/2.0\r\nVia x\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nCSeq: 4294967296 INVITE\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nCSeq: 1INVITE\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nl: 1\r\nl: 1\r\n\r\nx",
		"INVITE sip:a@b SIP/2.0\r\nCall-ID: a b\r\n\r\n",
		"INVITE sip:[::1 SIP/2.0\r\n\r\n", "INVITE sip:a@b:65536 SIP/2.0\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP [1:2:3:4:5:6:7:8:9]\r\n\r\n",
		"INVITE sip:a@b SIP/2.0\r\nTo: \"x <sip:a@b>\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = sip_msg_parse(bad[i], strlen(bad[i]), NULL, 0, &m, &v);
		if (r != EBADMSG || v.status != 400)
			FAILF("bad[%zu] gave %d/%d\n", i, r, v.status);
	}
	assert_int_equal(sip_msg_parse(NULL, 0, NULL, 0, NULL, &v), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4475),	    cmocka_unit_test(test_rfc4475_roles),
		cmocka_unit_test(test_rfc5118),
		cmocka_unit_test(test_request_peek),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_limits),	    cmocka_unit_test(test_hdr_names),
		cmocka_unit_test(test_hdr_line_shapes), cmocka_unit_test(test_via_shapes),
		cmocka_unit_test(test_cseq_shapes), cmocka_unit_test(test_request_line_shapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
