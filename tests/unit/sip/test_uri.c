/* URI parsing, escapes and RFC 3261 19.1.4 comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/uri.h"

static struct sip_uri P(const char *s)
{
	struct sip_uri u;
	int err = sip_uri_parse(&u, s, strlen(s));
	if (err)
		print_error("parse failed: %s\n", s);
	assert_int_equal(err, 0);
	return u;
}

static bool is(struct slice s, const char *c)
{
	return slice_eq_cstr(s, c);
}

static void test_parse(void **state)
{
	(void)state;
	struct sip_uri u = P("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=hi&x=");
	assert_int_equal(u.scheme, SIP_URI_SIPS);
	assert_true(is(u.user, "alice") && is(u.password, "secret"));
	assert_true(is(u.host, "[2001:db8::1]") && u.host_ipv6 && u.port == 5061);
	assert_true(is(u.params, ";transport=tls;lr"));
	assert_true(is(u.headers, "?subject=hi&x="));
	struct slice v;
	assert_true(sip_param_get(u.params, "TRANSPORT", &v) && is(v, "tls"));
	assert_true(sip_param_get(u.params, "lr", &v) && v.len == 0);
	assert_false(sip_param_exists(u.params, "maddr"));

	u = P("sip:example.com");
	assert_false(u.has_user);
	assert_true(is(u.host, "example.com") && u.port == 0);

	u = P("tel:+1-201-555-0123;phone-context=example.com");
	assert_int_equal(u.scheme, SIP_URI_TEL);
	assert_true(is(u.user, "+1-201-555-0123"));
	assert_true(sip_param_get(u.params, "phone-context", &v) && is(v, "example.com"));

	u = P("urn:service:sos");
	assert_int_equal(u.scheme, SIP_URI_UNKNOWN);
	assert_true(is(u.scheme_s, "urn") && is(u.opaque, "service:sos"));

	u = P("sip:[::ffff:192.0.2.1]");
	assert_true(u.host_ipv6);
	u = P("sip:192.0.2.1:0");
	assert_true(is(u.port_s, "0"));

	static const char *const bad[] = {
		"", "sip:", "sip:@host", "sip:user@", "sip:host:99999", "sip:host:", "sip:[::1",
		"sip:[1::2::3]", "sip:[12345::1]", "sip:a b", "sip:host;=x", "sip:host?x", "sip:host?=y",
		"sip:h%4", "sip:u%zz@h", "<sip:a@b>", "1sip:a", "x:", "x:a b", "tel:", "sip:[1:2:3:4:5:6:7:8:9]",
		"sip:host;a=b c", "sip:user@host@host",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_uri b;
		if (sip_uri_parse(&b, bad[i], strlen(bad[i])) != EBADMSG) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
	}
	assert_int_equal(sip_uri_parse(NULL, "sip:a", 5), EINVAL);
}

/* "sip:" and "sips:" are matched whole in any case; other schemes and near misses take the
 * general path. A URI that ends at its host or port skips the parameter scan. */
static void test_scheme_shapes(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		enum sip_uri_scheme scheme;
		const char *scheme_s, *host;
		uint16_t port;
	} ok[] = {
		{ "sip:a@h", SIP_URI_SIP, "sip", "h", 0 },
		{ "SIP:a@h:5060", SIP_URI_SIP, "SIP", "h", 5060 },
		{ "sIpS:h:0000065535", SIP_URI_SIPS, "sIpS", "h", 65535 },
		{ "SIPS:h", SIP_URI_SIPS, "SIPS", "h", 0 },
		{ "sipx:anything", SIP_URI_UNKNOWN, "sipx", "", 0 },
		{ "sip+x:anything", SIP_URI_UNKNOWN, "sip+x", "", 0 },
		{ "tel:+1-555", SIP_URI_TEL, "tel", "", 0 },
		{ "sip:h;lr", SIP_URI_SIP, "sip", "h", 0 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct sip_uri u = P(ok[i].s);
		if (u.scheme != ok[i].scheme || !is(u.scheme_s, ok[i].scheme_s) || !is(u.host, ok[i].host) ||
		    u.port != ok[i].port) {
			print_error("%s: scheme %d \"%.*s\" host \"%.*s\" port %u\n", ok[i].s, u.scheme,
				    (int)u.scheme_s.len, u.scheme_s.p, (int)u.host.len, u.host.p, u.port);
			fail();
		}
	}
	struct sip_uri u = P("sip:a@h");
	assert_true(u.params.p && u.params.len == 0 && !u.headers.p);
	static const char *const bad[] = { "sip:", "sips:", "sip:@h", "sip:h:65536", "sip:h:",
					   "sip:h:99999999999999999999", "sip:a@h x", "sips;h" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sip_uri b;
		if (sip_uri_parse(&b, bad[i], strlen(bad[i])) != EBADMSG) {
			print_error("accepted: %s\n", bad[i]);
			fail();
		}
	}
}

static void test_unescape(void **state)
{
	(void)state;
	char b[32];
	size_t n;
	assert_int_equal(sip_unescape(SLICE_LIT("a%20b%2f%00"), b, sizeof(b), &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(b, "a b/\0", 5);
	assert_int_equal(sip_unescape(SLICE_LIT("%2"), b, sizeof(b), &n), EBADMSG);
	assert_int_equal(sip_unescape(SLICE_LIT("%g0"), b, sizeof(b), &n), EBADMSG);
	assert_int_equal(sip_unescape(SLICE_LIT("abcd"), b, 3, &n), EOVERFLOW);
	assert_int_equal(sip_unescape(SLICE_LIT(""), b, 0, &n), 0);
}

static bool eq(const char *a, const char *b)
{
	struct sip_uri x = P(a), y = P(b);
	bool r = sip_uri_eq(&x, &y);
	assert_int_equal(r, sip_uri_eq(&y, &x)); /* symmetric */
	return r;
}

/* The examples of RFC 3261 19.1.4. */
static void test_compare(void **state)
{
	(void)state;
	assert_true(eq("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"));
	assert_true(eq("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"));
	assert_true(eq("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"));
	assert_true(eq("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"));
	assert_true(eq("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
		       "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"));
	assert_true(eq("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
		       "sip:alice@atlanta.com?priority=urgent&subject=project%20x"));

	assert_false(eq("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"));
	assert_false(eq("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"));
	assert_false(eq("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"));
	assert_false(eq("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"));
	assert_false(eq("sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"));
	assert_false(eq("sip:a@b", "sips:a@b"));
	assert_true(eq("tel:+1234", "tel:+1234"));
	assert_true(eq("URN:x", "urn:x"));

	/* past 32 parameters only identical text compares equal (CPU bound) */
	char a[512], b[512];
	size_t n = (size_t)snprintf(a, sizeof(a), "sip:h");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(a + n, sizeof(a) - n, ";p%d", i);
	memcpy(b, a, n + 1);
	assert_true(eq(a, b));
	b[n - 1] = 'x';
	assert_false(eq(a, b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_scheme_shapes),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_compare),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
