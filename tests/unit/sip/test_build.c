/* Response and forwarding builders; every output is parsed again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "base/mem.h"
#include "sip/build.h"
#include "sip/msg.h"
#include "testutil.h"

static const char inv[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9\r\n"
	"v: SIP/2.0/TLS proxy.atlanta.example.com;branch=z9hG4bK1, SIP/2.0/TCP x.example.com;branch=z9hG4bK2\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sips:proxy.biloxi.example.com;lr>, <sips:next.example.com;lr>\r\n"
	"Route: <sips:last.example.com;lr>\r\n"
	"From: Alice <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"To: Bob <sips:bob@biloxi.example.com>\r\n"
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	"Record-Route: <sips:p1.example.com;lr>\r\n"
	"CSeq: 1 INVITE\r\n"
	"Timestamp: 54\r\n"
	"Contact: <sips:alice@client.atlanta.example.com>\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 4\r\n"
	"\r\n"
	"v=0\n";

static struct sip_msg *parse(const char *b, size_t n)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	int err = sip_msg_parse(b, n, NULL, SIP_PARSE_STREAM, &m, &v);
	if (err)
		print_error("reparse failed: %d %s\n%.*s\n", v.status, v.reason, (int)n, b);
	assert_int_equal(err, 0);
	assert_int_equal(sip_msg_validate(m, SIP_ROLE_PROXY, NULL, &v), 0);
	return m;
}

static bool is(struct slice s, const char *c)
{
	return slice_eq_cstr(s, c);
}

static void test_response(void **state)
{
	(void)state;
	struct sip_msg *req = parse(inv, sizeof(inv) - 1);
	char out[4096];
	size_t n;
	struct slice extra[] = { SLICE_LIT("Server: sipsd"), SLICE_LIT("Allow: INVITE, ACK") };
	struct sip_resp_opts o = { .to_tag = SLICE_LIT("as83kd"), .extra = extra, .n_extra = 2 };
	assert_int_equal(sip_build_response(req, 486, NULL, &o, out, sizeof(out), &n), 0);
	struct sip_msg *r = parse(out, n);
	assert_false(sip_msg_is_request(r));
	assert_int_equal(sip_msg_status(r), 486);
	assert_true(is(sip_msg_reason(r), "Busy Here"));
	assert_true(is(sip_msg_to(r)->tag, "as83kd"));
	assert_true(is(sip_msg_from(r)->tag, "9fxced76sl"));
	assert_true(slice_eq(sip_msg_call_id(r), sip_msg_call_id(req)));
	assert_int_equal(sip_msg_cseq(r)->num, 1);
	assert_int_equal(sip_msg_hdr_num(r, SIP_HDR_VIA), 2);
	struct sip_hdr_iter it;
	struct sip_via via;
	int k = 0;
	sip_hdr_iter_init(&it, r, SIP_HDR_VIA);
	while (sip_hdr_iter_via(&it, &via) == 0)
		k++;
	assert_int_equal(k, 3);
	assert_null(sip_msg_hdr(r, SIP_HDR_TIMESTAMP)); /* only in 100 */
	assert_null(sip_msg_hdr(r, SIP_HDR_ROUTE));
	assert_true(is(sip_msg_hdr(r, SIP_HDR_SERVER)->value, "sipsd"));
	assert_int_equal(sip_msg_body(r).len, 0);
	mem_deref(r);

	/* 100: no tag, Timestamp echoed; a body with its type */
	o = (struct sip_resp_opts){ .to_tag = SLICE_LIT("x"), .body = SLICE_LIT("hi"),
				    .content_type = SLICE_LIT("text/plain") };
	assert_int_equal(sip_build_response(req, 100, "Trying", &o, out, sizeof(out), &n), 0);
	r = parse(out, n);
	assert_int_equal(sip_msg_to(r)->tag.len, 0);
	assert_non_null(sip_msg_hdr(r, SIP_HDR_TIMESTAMP));
	assert_true(is(sip_msg_body(r), "hi"));
	assert_true(is(sip_msg_content_type(r), "text/plain"));
	mem_deref(r);

	/* bounded: every short buffer fails cleanly */
	assert_int_equal(sip_build_response(req, 486, NULL, NULL, out, sizeof(out), &n), 0);
	for (size_t sz = 0; sz < n; sz++) {
		size_t m2;
		assert_int_equal(sip_build_response(req, 486, NULL, NULL, out, sz, &m2), EOVERFLOW);
	}
	/* header injection through caller strings is refused */
	o = (struct sip_resp_opts){ .to_tag = SLICE_LIT("a\r\nX: y") };
	assert_int_equal(sip_build_response(req, 486, NULL, &o, out, sizeof(out), &n), EINVAL);
	assert_int_equal(sip_build_response(req, 486, "x\r\ny", NULL, out, sizeof(out), &n), EINVAL);
	assert_int_equal(sip_build_response(req, 99, NULL, NULL, out, sizeof(out), &n), EINVAL);
	mem_deref(req);
}

/* Route hosts of a message, in order, space separated. */
static void route_hosts(const struct sip_msg *m, char *buf, size_t sz)
{
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	size_t off = 0;
	buf[0] = '\0';
	sip_hdr_iter_init(&it, m, SIP_HDR_ROUTE);
	while (sip_hdr_iter_nameaddr(&it, &na) == 0 && off < sz)
		off += (size_t)snprintf(buf + off, sz - off, "%s%.*s", off ? " " : "", (int)na.uri.host.len, na.uri.host.p);
}

static void test_forward_route_rewrite(void **state)
{
	(void)state;
	struct sip_msg *req = parse(inv, sizeof(inv) - 1);
	char out[4096], hosts[256];
	size_t n;
	struct sip_fwd_opts f = {
		.transport = SLICE_LIT("TLS"),
		.host = SLICE_LIT("proxy.biloxi.example.com"),
		.branch_unique = SLICE_LIT("rw1"),
	};
	/* RFC 3261 16.6 items 6-7: strict next hop next.example.com becomes the Request-URI, the old
	 * one goes last */
	f.new_ruri = SLICE_LIT("sips:next.example.com");
	f.route_drop_first = 2;
	f.route_append = SLICE_LIT("<sip:bob@biloxi.example.com>");
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	struct sip_msg *r = parse(out, n);
	route_hosts(r, hosts, sizeof(hosts));
	assert_string_equal(hosts, "last.example.com biloxi.example.com");
	assert_true(is(sip_msg_ruri(r)->host, "next.example.com"));
	assert_int_equal(sip_msg_hdr_num(r, SIP_HDR_ROUTE), 1);
	mem_deref(r);

	/* 16.4: a strict-routed request loses its last Route value; RFC 3327: Path values go first */
	f = (struct sip_fwd_opts){ .transport = SLICE_LIT("TLS"), .host = SLICE_LIT("p.example.com"),
				   .branch_unique = SLICE_LIT("rw2"), .route_drop_last = true,
				   .route_prepend = SLICE_LIT("<sip:edge.example.com;lr>, <sip:edge2.example.com;lr>") };
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	r = parse(out, n);
	route_hosts(r, hosts, sizeof(hosts));
	assert_string_equal(hosts, "edge.example.com edge2.example.com proxy.biloxi.example.com next.example.com");
	mem_deref(r);
	mem_deref(req);

	/* a request without Route gets one after our Via; dropping every value removes the field */
	static const char opt[] = "OPTIONS sip:a@b.example.com SIP/2.0\r\nVia: SIP/2.0/TLS c.example.com;branch=z9hG4bKo1\r\n"
				  "From: <sip:x@b.example.com>;tag=1\r\nTo: <sip:a@b.example.com>\r\nCall-ID: c1\r\n"
				  "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	req = parse(opt, sizeof(opt) - 1);
	f = (struct sip_fwd_opts){ .transport = SLICE_LIT("TLS"), .host = SLICE_LIT("p.example.com"),
				   .branch_unique = SLICE_LIT("rw3"), .route_prepend = SLICE_LIT("<sip:edge.example.com;lr>") };
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	assert_non_null(memmem(out, n, "z9hG4bKo1\r\nRoute: <sip:edge.example.com;lr>\r\nFrom:", 50));
	r = parse(out, n);
	f.route_prepend = (struct slice){ 0 };
	f.route_drop_first = 1;
	assert_int_equal(sip_build_forward(r, &f, out, sizeof(out), &n), 0);
	assert_null(memmem(out, n, "Route", 5));
	/* RFC 3327: our Path goes first, before the Path values already there */
	f = (struct sip_fwd_opts){ .transport = SLICE_LIT("TLS"), .host = SLICE_LIT("p.example.com"),
				   .branch_unique = SLICE_LIT("rw4"), .path = SLICE_LIT("sip:f.1@p.example.com;lr;ob") };
	assert_int_equal(sip_build_forward(r, &f, out, sizeof(out), &n), 0);
	assert_non_null(memmem(out, n, "\r\nPath: <sip:f.1@p.example.com;lr;ob>\r\n", 39));
	struct sip_msg *r2 = parse(out, n);
	f.path = SLICE_LIT("sip:second.example.com;lr");
	assert_int_equal(sip_build_forward(r2, &f, out, sizeof(out), &n), 0);
	mem_deref(r2);
	r2 = parse(out, n);
	struct sip_hdr_iter pit;
	struct sip_nameaddr pna;
	sip_hdr_iter_init(&pit, r2, SIP_HDR_PATH);
	assert_int_equal(sip_hdr_iter_nameaddr(&pit, &pna), 0);
	assert_true(is(pna.uri.host, "second.example.com"));
	assert_int_equal(sip_hdr_iter_nameaddr(&pit, &pna), 0);
	assert_true(is(pna.uri.host, "p.example.com"));
	mem_deref(r2);
	f = (struct sip_fwd_opts){ .transport = SLICE_LIT("TLS"), .host = SLICE_LIT("p.example.com"),
				   .branch_unique = SLICE_LIT("rw5"), .route_drop_first = 1 };
	/* header injection through the route strings is refused */
	f.route_append = SLICE_LIT("<sip:x>\r\nX: y");
	assert_int_equal(sip_build_forward(r, &f, out, sizeof(out), &n), EINVAL);
	mem_deref(r);
	mem_deref(req);
}

static void test_forward(void **state)
{
	(void)state;
	struct sip_msg *req = parse(inv, sizeof(inv) - 1);
	char out[4096];
	size_t n;
	struct sip_fwd_opts f = {
		.transport = SLICE_LIT("TLS"),
		.host = SLICE_LIT("proxy.biloxi.example.com"),
		.port = 5061,
		.branch_unique = SLICE_LIT("a7c6a8dlze"),
		.via_params = SLICE_LIT(";rport"),
		.pop_route = true,
		.record_route = SLICE_LIT("sips:proxy.biloxi.example.com;lr"),
	};
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	struct sip_msg *r = parse(out, n);
	const struct sip_via *top = sip_msg_via(r);
	assert_true(is(top->branch, "z9hG4bKa7c6a8dlze"));
	assert_true(is(top->host, "proxy.biloxi.example.com") && top->port == 5061 && top->has_rport);
	assert_int_equal(sip_msg_hdr_num(r, SIP_HDR_VIA), 3);
	uint32_t mf;
	assert_true(sip_msg_max_forwards(r, &mf));
	assert_int_equal(mf, 69);
	/* first Route value gone, the rest kept in order */
	struct sip_hdr_iter it;
	struct sip_nameaddr na;
	sip_hdr_iter_init(&it, r, SIP_HDR_ROUTE);
	assert_int_equal(sip_hdr_iter_nameaddr(&it, &na), 0);
	assert_true(is(na.uri.host, "next.example.com"));
	assert_int_equal(sip_hdr_iter_nameaddr(&it, &na), 0);
	assert_true(is(na.uri.host, "last.example.com"));
	assert_int_equal(sip_hdr_iter_nameaddr(&it, &na), ENOENT);
	/* our Record-Route is the first one */
	sip_hdr_iter_init(&it, r, SIP_HDR_RECORD_ROUTE);
	assert_int_equal(sip_hdr_iter_nameaddr(&it, &na), 0);
	assert_true(is(na.uri.host, "proxy.biloxi.example.com"));
	assert_int_equal(sip_hdr_iter_nameaddr(&it, &na), 0);
	assert_true(is(na.uri.host, "p1.example.com"));
	assert_true(is(sip_msg_body(r), "v=0\n"));
	assert_true(slice_eq(sip_msg_call_id(r), sip_msg_call_id(req)));
	/* untouched fields are byte copies */
	assert_non_null(memmem(out, n, "\r\nv: SIP/2.0/TLS proxy.atlanta.example.com;branch=z9hG4bK1, SIP/2.0/TCP", 70));
	assert_non_null(memmem(out, n, "\r\nContact: <sips:alice@client.atlanta.example.com>\r\n", 52));
	assert_int_equal(n, sizeof(inv) - 1 + strlen("Via: SIP/2.0/TLS proxy.biloxi.example.com:5061;branch=z9hG4bKa7c6a8dlze;rport\r\n") +
				    strlen("Record-Route: <sips:proxy.biloxi.example.com;lr>\r\n") -
				    strlen("<sips:proxy.biloxi.example.com;lr>, "));
	mem_deref(r);

	/* a single-value Route field disappears; new R-URI; IPv6 Via host */
	f.new_ruri = SLICE_LIT("sips:bob@192.0.2.4");
	f.host = SLICE_LIT("[2001:db8::1]");
	f.record_route = (struct slice){ 0 };
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	r = parse(out, n);
	assert_true(is(sip_msg_ruri(r)->host, "192.0.2.4"));
	assert_true(is(sip_msg_via(r)->host, "[2001:db8::1]"));
	struct sip_msg *r2;
	struct sip_verdict v;
	mem_deref(req);
	req = r;
	assert_int_equal(sip_build_forward(req, &f, out, sizeof(out), &n), 0);
	assert_int_equal(sip_msg_parse(out, n, NULL, SIP_PARSE_STREAM, &r2, &v), 0);
	assert_int_equal(sip_msg_hdr_num(r2, SIP_HDR_ROUTE), 1); /* "next" popped, field gone */
	assert_int_equal(sip_msg_hdr_num(r2, SIP_HDR_VIA), 4);
	assert_true(is(sip_msg_hdr(r2, SIP_HDR_ROUTE)->value, "<sips:last.example.com;lr>"));
	mem_deref(r2);

	/* bad options */
	struct sip_fwd_opts g = f;
	g.branch_unique = SLICE_LIT("a b");
	assert_int_equal(sip_build_forward(req, &g, out, sizeof(out), &n), EINVAL);
	g = f;
	g.host = SLICE_LIT("[::1");
	assert_int_equal(sip_build_forward(req, &g, out, sizeof(out), &n), EINVAL);
	g = f;
	g.record_route = SLICE_LIT("sip:x>\r\nX: y");
	assert_int_equal(sip_build_forward(req, &g, out, sizeof(out), &n), EINVAL);
	for (size_t sz = 0; sz < 64; sz++)
		assert_int_equal(sip_build_forward(req, &f, out, sz, &n), EOVERFLOW);
	mem_deref(req);
}

/* RFC 2543-style request: Max-Forwards inserted as 70, Content-Length added. */
static void test_forward_2543(void **state)
{
	(void)state;
	size_t len;
	char *buf = td_read("rfc4475/inv2543.dat", &len);
	assert_non_null(buf);
	struct sip_msg *m = NULL, *r = NULL;
	struct sip_verdict v;
	assert_int_equal(sip_msg_parse(buf, len, NULL, 0, &m, &v), 0);
	char out[4096];
	size_t n;
	struct sip_fwd_opts f = { .transport = SLICE_LIT("UDP"), .host = SLICE_LIT("192.0.2.1"),
				  .branch_unique = SLICE_LIT("x1") };
	assert_int_equal(sip_build_forward(m, &f, out, sizeof(out), &n), 0);
	assert_int_equal(sip_msg_parse(out, n, NULL, SIP_PARSE_STREAM, &r, &v), 0);
	uint32_t mf, cl;
	assert_true(sip_msg_max_forwards(r, &mf) && mf == 70);
	assert_true(sip_msg_content_length(r, &cl) && cl == sip_msg_body(m).len);
	assert_true(slice_eq(sip_msg_body(r), sip_msg_body(m)));
	mem_deref(r);
	mem_deref(m);
	free(buf);

	/* Max-Forwards 0: the caller must answer 483, not forward */
	buf = td_read("rfc4475/zeromf.dat", &len);
	assert_int_equal(sip_msg_parse(buf, len, NULL, 0, &m, &v), 0);
	assert_int_equal(sip_build_forward(m, &f, out, sizeof(out), &n), EINVAL);
	assert_int_equal(sip_msg_check_max_forwards(m, &v), EPROTO);
	assert_int_equal(sip_build_verdict_response(m, &v, SLICE_LIT("t"), out, sizeof(out), &n), 0);
	assert_int_equal(memcmp(out, "SIP/2.0 483 Too Many Hops\r\n", 27), 0);
	mem_deref(m);
	free(buf);
}

/* Verdict responses for the rejected RFC 4475 requests parse and carry the To tag. */
static void test_verdict_responses(void **state)
{
	(void)state;
	static const char *const files[] = { "mismatch01.dat", "mismatch02.dat", "unkscm.dat", "insuf.dat",
					     "escruri.dat", "multi01.dat" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char rel[128];
		size_t len, n;
		snprintf(rel, sizeof(rel), "rfc4475/%s", files[i]);
		char *buf = td_read(rel, &len);
		struct sip_msg *m = NULL, *r = NULL;
		struct sip_verdict v;
		assert_int_equal(sip_msg_parse(buf, len, NULL, 0, &m, &v), 0);
		assert_int_not_equal(sip_msg_validate(m, SIP_ROLE_PROXY, NULL, &v), 0);
		char out[4096];
		assert_int_equal(sip_build_verdict_response(m, &v, SLICE_LIT("srv1"), out, sizeof(out), &n), 0);
		assert_int_equal(sip_msg_parse(out, n, NULL, SIP_PARSE_STREAM, &r, &v), 0);
		assert_true(sip_msg_status(r) >= 400);
		if (sip_msg_to(r))
			assert_true(is(sip_msg_to(r)->tag, "srv1"));
		mem_deref(r);
		mem_deref(m);
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_response),
		cmocka_unit_test(test_forward),
		cmocka_unit_test(test_forward_route_rewrite),
		cmocka_unit_test(test_forward_2543),
		cmocka_unit_test(test_verdict_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
