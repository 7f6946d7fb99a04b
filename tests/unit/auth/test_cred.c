/* Credentials parser: well-formed variants and a table of malformed ones, each with the reason
 * the registrar would put in its 400. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/cred.h"

#define OKP "username=\"bob\", realm=\"biloxi.com\", nonce=\"n1\", uri=\"sip:bob@biloxi.com\", "
#define R32 "response=\"0123456789abcdef0123456789abcdef\""
#define R64 "response=\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\""

static void test_good(void **state)
{
	(void)state;
	struct auth_cred c;
	enum auth_err why = AUTH_ERR__COUNT;
	/* minimal RFC 2069 form */
	assert_int_equal(auth_cred_parse(slice_from_cstr("Digest " OKP R32), &c, &why), 0);
	assert_int_equal(why, AUTH_ERR_NONE);
	assert_string_equal(c.username, "bob");
	assert_int_equal(c.alg, AUTH_ALG_MD5);
	assert_false(c.has_algorithm);
	assert_int_equal(c.qop, AUTH_QOP_NONE);

	/* every field, odd case, odd spacing, folded line, quoted qop and algorithm, unknown param */
	const char *full = "  digest   USERNAME = \"bob\" ,realm=\"biloxi.com\",\r\n nonce=\"n1\","
			   "uri=\"sip:bob@biloxi.com\",  RESPONSE=\"0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef\","
			   "algorithm=\"sha-256-SESS\", qop=\"auth-int\", nc=0000000A, cnonce=\"c n\","
			   "opaque=\"\", userhash=TRUE, future-param=\"x,y\", other=tok  ";
	assert_int_equal(auth_cred_parse(slice_from_cstr(full), &c, &why), 0);
	assert_int_equal(c.alg, AUTH_ALG_SHA256);
	assert_true(c.sess);
	assert_int_equal(c.qop, AUTH_QOP_AUTH_INT);
	assert_string_equal(c.qop_str, "auth-int");
	assert_int_equal(c.nc, 10);
	assert_string_equal(c.nc_str, "0000000A");
	assert_string_equal(c.cnonce, "c n");
	assert_true(c.has_opaque);
	assert_string_equal(c.opaque, "");
	assert_true(c.userhash);
	assert_string_equal(c.response, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

	/* quoted-pair unescaped; unquoted uri and nonce accepted */
	assert_int_equal(auth_cred_parse(slice_from_cstr("Digest username=\"b\\\"o\\\\b\", realm=\"r\", nonce=ab/c+d=, "
							  "uri=sip:x@y;transport=tls, " R32),
				     &c, &why), 0);
	assert_string_equal(c.username, "b\"o\\b");
	assert_string_equal(c.nonce, "ab/c+d=");
	assert_string_equal(c.uri, "sip:x@y;transport=tls");

	/* RFC 7616 username* (RFC 8187 encoding) */
	assert_int_equal(auth_cred_parse(slice_from_cstr("Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm=\"r\", "
							  "nonce=\"n\", uri=\"/\", algorithm=SHA-512-256, " R64),
				     &c, &why), 0);
	assert_string_equal(c.username, "J\xc3\xa4s\xc3\xb8n Doe");
	assert_int_equal(c.alg, AUTH_ALG_SHA512_256);

	/* values at their bound */
	char big[AUTH_URI_MAX + 200];
	int n = snprintf(big, sizeof(big), "Digest username=\"u\", realm=\"r\", nonce=\"n\", " R32 ", uri=\"");
	memset(big + n, 'a', AUTH_URI_MAX);
	memcpy(big + n + AUTH_URI_MAX, "\"", 2);
	assert_int_equal(auth_cred_parse(slice_from_cstr(big), &c, &why), 0);
	assert_int_equal(strlen(c.uri), AUTH_URI_MAX);
}

struct bad {
	const char *name;
	const char *value; /* NULL: built by the test */
	enum auth_err want;
};

static const struct bad bad_rows[] = {
	{ "other scheme", "Basic dXNlcjpwYXNz", AUTH_ERR_SCHEME },
	{ "scheme only", "Digest", AUTH_ERR_SYNTAX },
	{ "scheme glued", "Digestusername=\"a\"", AUTH_ERR_SCHEME },
	{ "empty", "", AUTH_ERR_SYNTAX },
	{ "no equals", "Digest username \"bob\"", AUTH_ERR_SYNTAX },
	{ "empty bare value", "Digest username=, realm=\"r\"", AUTH_ERR_SYNTAX },
	{ "missing comma", "Digest username=\"bob\" realm=\"r\"", AUTH_ERR_SYNTAX },
	{ "trailing comma", "Digest " OKP R32 ",", AUTH_ERR_SYNTAX },
	{ "double comma", "Digest username=\"bob\",, realm=\"r\"", AUTH_ERR_SYNTAX },
	{ "junk after quote", "Digest username=\"bob\"x, realm=\"r\"", AUTH_ERR_SYNTAX },
	{ "unterminated", "Digest " OKP "response=\"0123", AUTH_ERR_UNTERMINATED },
	{ "unterminated escape", "Digest username=\"bob\\", AUTH_ERR_UNTERMINATED },
	{ "CR in quoted", "Digest username=\"b\rob\", realm=\"r\"", AUTH_ERR_BAD_CHAR },
	{ "LF not a fold", "Digest username=\"bob\",\nrealm=\"r\"", AUTH_ERR_BAD_CHAR },
	{ "escaped control", "Digest username=\"b\\\x01ob\"", AUTH_ERR_BAD_CHAR },
	{ "DEL bare", "Digest username=\x7f", AUTH_ERR_BAD_CHAR },
	{ "duplicate realm", "Digest " OKP R32 ", realm=\"x\"", AUTH_ERR_DUPLICATE },
	{ "duplicate any case", "Digest " OKP R32 ", NONCE=\"x\"", AUTH_ERR_DUPLICATE },
	{ "username and username*", "Digest " OKP R32 ", username*=UTF-8''bob", AUTH_ERR_DUPLICATE },
	{ "missing username", "Digest realm=\"r\", nonce=\"n\", uri=\"u\", " R32, AUTH_ERR_MISSING_USERNAME },
	{ "empty username", "Digest username=\"\", realm=\"r\", nonce=\"n\", uri=\"u\", " R32, AUTH_ERR_MISSING_USERNAME },
	{ "missing realm", "Digest username=\"u\", nonce=\"n\", uri=\"u\", " R32, AUTH_ERR_MISSING_REALM },
	{ "missing nonce", "Digest username=\"u\", realm=\"r\", uri=\"u\", " R32, AUTH_ERR_MISSING_NONCE },
	{ "empty nonce", "Digest username=\"u\", realm=\"r\", nonce=\"\", uri=\"u\", " R32, AUTH_ERR_MISSING_NONCE },
	{ "missing uri", "Digest username=\"u\", realm=\"r\", nonce=\"n\", " R32, AUTH_ERR_MISSING_URI },
	{ "missing response", "Digest " OKP "algorithm=MD5", AUTH_ERR_MISSING_RESPONSE },
	{ "qop without cnonce", "Digest " OKP R32 ", qop=auth, nc=00000001", AUTH_ERR_MISSING_CNONCE },
	{ "qop without nc", "Digest " OKP R32 ", qop=auth, cnonce=\"c\"", AUTH_ERR_MISSING_NC },
	{ "nc without qop", "Digest " OKP R32 ", nc=00000001", AUTH_ERR_QOP_PARAMS },
	{ "sess without qop", "Digest " OKP R32 ", algorithm=MD5-sess", AUTH_ERR_SESS_NO_QOP },
	{ "nc short", "Digest " OKP R32 ", qop=auth, cnonce=\"c\", nc=0001", AUTH_ERR_BAD_NC },
	{ "nc long", "Digest " OKP R32 ", qop=auth, cnonce=\"c\", nc=000000001", AUTH_ERR_BAD_NC },
	{ "nc not hex", "Digest " OKP R32 ", qop=auth, cnonce=\"c\", nc=0000000g", AUTH_ERR_BAD_NC },
	{ "nc zero", "Digest " OKP R32 ", qop=auth, cnonce=\"c\", nc=00000000", AUTH_ERR_BAD_NC },
	{ "qop list", "Digest " OKP R32 ", qop=\"auth,auth-int\", cnonce=\"c\", nc=00000001", AUTH_ERR_BAD_QOP },
	{ "qop unknown", "Digest " OKP R32 ", qop=authx, cnonce=\"c\", nc=00000001", AUTH_ERR_BAD_QOP },
	{ "algorithm unknown", "Digest " OKP R32 ", algorithm=SHA-1", AUTH_ERR_BAD_ALGORITHM },
	{ "algorithm SHA-512", "Digest " OKP R32 ", algorithm=SHA-512", AUTH_ERR_BAD_ALGORITHM },
	{ "response short", "Digest " OKP "response=\"0123\"", AUTH_ERR_BAD_RESPONSE },
	{ "response md5 length for sha256", "Digest " OKP R32 ", algorithm=SHA-256", AUTH_ERR_BAD_RESPONSE },
	{ "response not hex", "Digest " OKP "response=\"0123456789abcdef0123456789abcdeg\"", AUTH_ERR_BAD_RESPONSE },
	{ "userhash bad", "Digest " OKP R32 ", userhash=yes", AUTH_ERR_BAD_USERHASH },
	{ "username* latin1", "Digest username*=ISO-8859-1''J%E4, realm=\"r\", nonce=\"n\", uri=\"u\", " R32,
	  AUTH_ERR_BAD_USERNAME_EXT },
	{ "username* bad pct", "Digest username*=UTF-8''J%G4, realm=\"r\", nonce=\"n\", uri=\"u\", " R32,
	  AUTH_ERR_BAD_USERNAME_EXT },
	{ "username* NUL", "Digest username*=UTF-8''a%00b, realm=\"r\", nonce=\"n\", uri=\"u\", " R32,
	  AUTH_ERR_BAD_USERNAME_EXT },
	{ "huge username", NULL, AUTH_ERR_TOO_LONG },
	{ "huge uri", NULL, AUTH_ERR_TOO_LONG },
	{ "huge response", NULL, AUTH_ERR_BAD_RESPONSE },
	{ "too many params", NULL, AUTH_ERR_TOO_MANY },
};

static char *build(const char *name)
{
	size_t cap = 64 * 1024;
	char *b = malloc(cap);
	assert_non_null(b);
	int n;
	if (strcmp(name, "huge username") == 0) {
		n = snprintf(b, cap, "Digest username=\"");
		memset(b + n, 'u', AUTH_USERNAME_MAX + 1);
		snprintf(b + n + AUTH_USERNAME_MAX + 1, cap - (size_t)n - AUTH_USERNAME_MAX - 1,
			 "\", realm=\"r\", nonce=\"n\", uri=\"u\", " R32);
	} else if (strcmp(name, "huge uri") == 0) {
		n = snprintf(b, cap, "Digest username=\"u\", realm=\"r\", nonce=\"n\", " R32 ", uri=");
		memset(b + n, 'a', 40000); /* unquoted */
		b[n + 40000] = '\0';
	} else if (strcmp(name, "huge response") == 0) {
		n = snprintf(b, cap, "Digest " OKP "response=\"");
		memset(b + n, 'a', 30000);
		memcpy(b + n + 30000, "\"", 2);
	} else {
		n = snprintf(b, cap, "Digest " OKP R32);
		for (int i = 0; i < AUTH_PARAMS_MAX; i++)
			n += snprintf(b + n, cap - (size_t)n, ", x%d=1", i);
	}
	return b;
}

static void test_bad_table(void **state)
{
	(void)state;
	bool seen[AUTH_ERR__COUNT] = { false };
	for (size_t i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad *r = &bad_rows[i];
		char *owned = r->value ? NULL : build(r->name);
		const char *v = r->value ? r->value : owned;
		struct auth_cred c;
		enum auth_err why = AUTH_ERR_NONE;
		int e = auth_cred_parse(slice_from_cstr(v), &c, &why);
		if (e != EBADMSG || why != r->want)
			fail_msg("row '%s': got %d '%s', want '%s'", r->name, e, auth_err_reason(why),
				 auth_err_reason(r->want));
		seen[why] = true;
		free(owned);
	}
	/* every reason is reachable, and reasons are distinct phrases */
	for (int i = 1; i < AUTH_ERR__COUNT; i++) {
		if (!seen[i])
			fail_msg("reason '%s' not covered by the table", auth_err_reason((enum auth_err)i));
		for (int j = 1; j < i; j++)
			assert_string_not_equal(auth_err_reason((enum auth_err)i), auth_err_reason((enum auth_err)j));
	}
	assert_int_equal(auth_cred_parse(slice_from_cstr("Digest x=1"), NULL, NULL), EINVAL);
	/* embedded NUL (slice, not C string) */
	struct auth_cred c;
	enum auth_err why;
	static const char nul[] = "Digest username=\"a\0b\", realm=\"r\"";
	assert_int_equal(auth_cred_parse((struct slice){ nul, sizeof(nul) - 1 }, &c, &why), EBADMSG);
	assert_int_equal(why, AUTH_ERR_BAD_CHAR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
