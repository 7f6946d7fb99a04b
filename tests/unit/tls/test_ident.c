/* RFC 5922 §7.1-7.2 identity matching as a pure function over certificates made here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "testpki.h"
#include "tls/ident.h"

static struct tpki_cert ca;

static X509 *leaf(const char *cn, const char *san)
{
	struct tpki_cert c;
	struct tpki_spec s = { .cn = cn, .san = san, .eku = "serverAuth,clientAuth", .issuer = &ca };
	assert_int_equal(tpki_issue(&s, &c), 0);
	EVP_PKEY_free(c.key);
	return c.cert;
}

static int setup(void **state)
{
	(void)state;
	struct tpki_spec s = { .cn = "Test Root", .ca = true };
	return tpki_issue(&s, &ca);
}

static int teardown(void **state)
{
	(void)state;
	tpki_free(&ca);
	return 0;
}

static void test_san_uri_wins_over_dns(void **state)
{
	(void)state;
	X509 *x = leaf("cn.example", "URI:sip:a.example,DNS:b.example");
	struct tls_match_detail why;
	assert_true(tls_identity_match(x, "a.example", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_URI);
	assert_string_equal(why.matched, "sip:a.example");
	/* §7.1: dNSName only if no sip: URI identity exists */
	assert_false(tls_identity_match(x, "b.example", false, &why));
	assert_int_equal(why.sip_uris, 1);
	assert_false(tls_identity_match(x, "cn.example", false, NULL));
	X509_free(x);
}

static void test_uri_forms(void **state)
{
	(void)state;
	/* user part: not a domain identity; sips: not accepted; port and params ignored */
	X509 *x = leaf(NULL, "URI:sip:alice@c.example,URI:sips:d.example,DNS:c.example");
	struct tls_match_detail why;
	assert_true(tls_identity_match(x, "c.example", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_DNS);
	assert_int_equal(why.sip_uris, 0);
	assert_false(tls_identity_match(x, "d.example", false, NULL));
	X509_free(x);
	x = leaf(NULL, "URI:sip:E.Example:5061;transport=tls");
	assert_true(tls_identity_match(x, "e.example", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_URI);
	X509_free(x);
}

static void test_dns_only(void **state)
{
	(void)state;
	X509 *x = leaf("ignored.example", "DNS:sip.example.com");
	struct tls_match_detail why;
	assert_true(tls_identity_match(x, "sip.example.com", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_DNS);
	assert_true(tls_identity_match(x, "SIP.Example.COM", false, NULL)); /* RFC 4343 */
	assert_true(tls_identity_match(x, "sip.example.com.", false, NULL));
	assert_false(tls_identity_match(x, "example.com", false, NULL)); /* no suffix match */
	assert_false(tls_identity_match(x, "x.sip.example.com", false, NULL));
	/* CN ignored when SAN present */
	assert_false(tls_identity_match(x, "ignored.example", false, &why));
	assert_true(why.has_san);
	assert_false(tls_identity_match(x, "", false, NULL));
	assert_false(tls_identity_match(NULL, "sip.example.com", false, NULL));
	X509_free(x);
}

static void test_cn_without_san(void **state)
{
	(void)state;
	X509 *x = leaf("legacy.example", NULL);
	struct tls_match_detail why;
	assert_true(tls_identity_match(x, "legacy.example", false, &why));
	assert_int_equal(why.via, TLS_MATCH_CN);
	assert_false(why.has_san);
	assert_false(tls_identity_match(x, "other.example", false, NULL));
	char dom[256];
	assert_true(tls_cert_sip_domain(x, dom, sizeof(dom)));
	assert_string_equal(dom, "legacy.example");
	X509_free(x);
}

static void test_wildcard(void **state)
{
	(void)state;
	X509 *x = leaf(NULL, "DNS:*.example.com");
	struct tls_match_detail why;
	/* RFC 5922 §7.2: no wildcards unless the operator allows them */
	assert_false(tls_identity_match(x, "foo.example.com", false, &why));
	assert_true(why.wildcard_refused);
	assert_true(tls_identity_match(x, "foo.example.com", true, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_DNS);
	assert_false(tls_identity_match(x, "a.b.example.com", true, NULL));
	assert_false(tls_identity_match(x, "example.com", true, NULL));
	assert_true(tls_identity_match(x, "*.example.com", false, NULL)); /* literal */
	X509_free(x);
	x = leaf(NULL, "DNS:*.com");
	assert_false(tls_identity_match(x, "example.com", true, NULL));
	X509_free(x);
}

static void test_ip_literal(void **state)
{
	(void)state;
	X509 *x = leaf("192.0.2.1", "IP:192.0.2.1,IP:2001:db8::1,DNS:host.example");
	struct tls_match_detail why;
	assert_true(tls_identity_match(x, "192.0.2.1", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_IP);
	assert_true(tls_identity_match(x, "[2001:db8::1]", false, NULL));
	assert_true(tls_identity_match(x, "2001:DB8:0::1", false, NULL));
	assert_false(tls_identity_match(x, "192.0.2.2", false, NULL));
	assert_true(tls_identity_match(x, "host.example", false, NULL));
	X509_free(x);
	/* an IP in a dNSName or CN does not prove an IP literal */
	x = leaf("192.0.2.9", "DNS:192.0.2.9");
	assert_false(tls_identity_match(x, "192.0.2.9", false, NULL));
	X509_free(x);
	x = leaf(NULL, "URI:sip:192.0.2.7");
	assert_true(tls_identity_match(x, "192.0.2.7", false, &why));
	assert_int_equal(why.via, TLS_MATCH_SAN_URI);
	X509_free(x);
}

static void test_san_lists(void **state)
{
	(void)state;
	X509 *x = leaf("ua", "URI:sip:alice@example.com,URI:sip:example.com,DNS:ua.example.com,URI:https://x");
	struct tls_strlist *u = NULL, *d = NULL;
	assert_int_equal(tls_cert_san_uris(x, &u), 0);
	assert_int_equal(u->n, 3);
	assert_string_equal(u->v[0], "sip:alice@example.com");
	assert_string_equal(u->v[1], "sip:example.com");
	assert_int_equal(tls_cert_san_dns(x, &d), 0);
	assert_int_equal(d->n, 1);
	assert_string_equal(d->v[0], "ua.example.com");
	char dom[256];
	assert_true(tls_cert_sip_domain(x, dom, sizeof(dom)));
	assert_string_equal(dom, "example.com");
	mem_deref(u);
	mem_deref(d);
	X509_free(x);
	x = leaf("n", "URI:sip:bob@example.org");
	assert_false(tls_cert_sip_domain(x, dom, sizeof(dom)));
	X509_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_san_uri_wins_over_dns),
		cmocka_unit_test(test_uri_forms),
		cmocka_unit_test(test_dns_only),
		cmocka_unit_test(test_cn_without_san),
		cmocka_unit_test(test_wildcard),
		cmocka_unit_test(test_ip_literal),
		cmocka_unit_test(test_san_lists),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	tpki_cleanup();
	return rc;
}
