/* a=crypto parsing and validation (RFC 4568 6, 9; RFC 6188; RFC 7714). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sdp/crypto.h"
#include "sdptest.h"

/* base64 of n made-up octets, so tests can ask for any key+salt length. */
static const char *b64_of(size_t n, char *buf, size_t sz)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)((i * 7 + 1) & 0xff) << 16;
		if (i + 1 < n)
			v |= (uint32_t)(((i + 1) * 7 + 1) & 0xff) << 8;
		if (i + 2 < n)
			v |= (uint32_t)(((i + 2) * 7 + 1) & 0xff);
		assert_true(o + 4 < sz);
		buf[o++] = al[(v >> 18) & 63];
		buf[o++] = al[(v >> 12) & 63];
		buf[o++] = i + 1 < n ? al[(v >> 6) & 63] : '=';
		buf[o++] = i + 2 < n ? al[v & 63] : '=';
	}
	buf[o] = '\0';
	return buf;
}

static enum sdp_crypto_status parse(struct sdp_crypto *c, const char *v)
{
	return sdp_crypto_parse(c, slice_from_cstr(v));
}

/* Failure messages show the line through the redaction helper, never the key. */
static void expect(const char *value, enum sdp_crypto_status want)
{
	struct sdp_crypto c;
	enum sdp_crypto_status got = parse(&c, value);
	if (got != want) {
		print_error("a=crypto:%s -> %s, want %s\n", sdptest_redacted(slice_from_cstr(value)),
			    sdp_crypto_status_text(got), sdp_crypto_status_text(want));
		fail();
	}
}

static void test_suites_and_exact_key_lengths(void **state)
{
	(void)state;
	static const struct {
		const char *suite;
		size_t len;
		bool insecure;
	} tab[] = {
		{ "AES_CM_128_HMAC_SHA1_80", 30, false }, { "AES_CM_128_HMAC_SHA1_32", 30, false },
		{ "F8_128_HMAC_SHA1_80", 30, false },     { "AES_192_CM_HMAC_SHA1_80", 38, false },
		{ "AES_192_CM_HMAC_SHA1_32", 38, false }, { "AES_256_CM_HMAC_SHA1_80", 46, false },
		{ "AES_256_CM_HMAC_SHA1_32", 46, false }, { "AES_CM_256_HMAC_SHA1_80", 46, false },
		{ "AES_CM_192_HMAC_SHA1_32", 38, false }, { "AEAD_AES_128_GCM", 28, false },
		{ "AEAD_AES_256_GCM", 44, false },        { "NULL_HMAC_SHA1_80", 30, true },
		{ "NULL_HMAC_SHA1_32", 30, true },        { "aes_cm_128_hmac_sha1_80", 30, false },
	};
	char key[128], line[256];
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		struct sdp_crypto c;
		snprintf(line, sizeof(line), "1 %s inline:%s", tab[i].suite, b64_of(tab[i].len, key, sizeof(key)));
		expect(line, SDP_CRYPTO_OK);
		parse(&c, line);
		assert_non_null(c.suite);
		assert_int_equal(c.keys[0].decoded_len, tab[i].len);
		assert_int_equal(sdp_crypto_insecure(&c), tab[i].insecure);
		for (int d = -2; d <= 2; d += 4) {
			snprintf(line, sizeof(line), "1 %s inline:%s", tab[i].suite,
				 b64_of(tab[i].len + (size_t)d, key, sizeof(key)));
			expect(line, SDP_CRYPTO_BAD_KEY_LENGTH);
			parse(&c, line);
			assert_int_equal(c.bad_len, tab[i].len + (size_t)d);
			assert_int_equal(c.need_len, tab[i].len);
		}
	}
	/* the registered name is what Warning texts use, whatever spelling came in */
	struct sdp_crypto c;
	parse(&c, "1 aes_cm_256_hmac_sha1_32 inline:AAAA");
	assert_string_equal(c.suite->name, "AES_256_CM_HMAC_SHA1_32");
	assert_int_equal(c.status, SDP_CRYPTO_BAD_KEY_LENGTH);
	assert_int_equal(c.bad_len, 3);
}

/* Every registered name and alias finds its suite in any case; a name one character off,
 * shorter or longer, finds none. */
static void test_suite_names(void **state)
{
	(void)state;
	static const struct {
		const char *spelling, *name;
	} tab[] = {
		{ "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_80" },
		{ "AES_CM_128_HMAC_SHA1_32", "AES_CM_128_HMAC_SHA1_32" },
		{ "F8_128_HMAC_SHA1_80", "F8_128_HMAC_SHA1_80" },
		{ "AES_192_CM_HMAC_SHA1_80", "AES_192_CM_HMAC_SHA1_80" },
		{ "AES_CM_192_HMAC_SHA1_80", "AES_192_CM_HMAC_SHA1_80" },
		{ "AES_192_CM_HMAC_SHA1_32", "AES_192_CM_HMAC_SHA1_32" },
		{ "AES_CM_192_HMAC_SHA1_32", "AES_192_CM_HMAC_SHA1_32" },
		{ "AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_80" },
		{ "AES_CM_256_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_80" },
		{ "AES_256_CM_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_32" },
		{ "AES_CM_256_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_32" },
		{ "AEAD_AES_128_GCM", "AEAD_AES_128_GCM" },
		{ "AEAD_AES_256_GCM", "AEAD_AES_256_GCM" },
		{ "NULL_HMAC_SHA1_80", "NULL_HMAC_SHA1_80" },
		{ "NULL_HMAC_SHA1_32", "NULL_HMAC_SHA1_32" },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		char buf[64];
		size_t n = strlen(tab[i].spelling);
		for (int form = 0; form < 3; form++) {
			for (size_t k = 0; k < n; k++) {
				char ch = tab[i].spelling[k];
				buf[k] = form == 0 || (form == 2 && k % 2) ? ch : (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			}
			const struct sdp_crypto_suite *s = sdp_crypto_suite_find((struct slice){ buf, n });
			if (!s || strcmp(s->name, tab[i].name) != 0)
				fail_msg("%.*s: %s, want %s", (int)n, buf, s ? s->name : "none", tab[i].name);
		}
		memcpy(buf, tab[i].spelling, n);
		assert_null(sdp_crypto_suite_find((struct slice){ buf, n - 1 }));
		buf[n] = '0';
		assert_null(sdp_crypto_suite_find((struct slice){ buf, n + 1 }));
		buf[n - 1] = 'X';
		assert_null(sdp_crypto_suite_find((struct slice){ buf, n }));
	}
	assert_null(sdp_crypto_suite_find((struct slice){ "", 0 }));
}

static void test_tags(void **state)
{
	(void)state;
	struct sdp_crypto c;
	const char *k = "AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";
	char line[200];
	static const struct {
		const char *tag;
		enum sdp_crypto_status st;
		uint32_t val;
	} tab[] = {
		{ "0", SDP_CRYPTO_OK, 0 },           { "01", SDP_CRYPTO_OK, 1 },
		{ "999999999", SDP_CRYPTO_OK, 999999999 }, { "1000000000", SDP_CRYPTO_BAD_TAG, 0 },
		{ "0000000001", SDP_CRYPTO_BAD_TAG, 0 }, { "1a", SDP_CRYPTO_BAD_TAG, 0 },
		{ "x", SDP_CRYPTO_BAD_TAG, 0 },      { "-1", SDP_CRYPTO_BAD_TAG, 0 },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(line, sizeof(line), "%s %s", tab[i].tag, k);
		expect(line, tab[i].st);
		parse(&c, line);
		if (tab[i].st == SDP_CRYPTO_OK)
			assert_int_equal(c.tag, tab[i].val);
	}
	expect("", SDP_CRYPTO_BAD_TAG);
}

static void test_key_params(void **state)
{
	(void)state;
	struct sdp_crypto c;
	const char *key = "d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";
	char line[400];
	static const struct {
		const char *params;
		enum sdp_crypto_status st;
	} tab[] = {
		{ "", SDP_CRYPTO_BAD_SYNTAX },
		{ "inline", SDP_CRYPTO_BAD_KEY_METHOD },
		{ "inline:", SDP_CRYPTO_NO_KEY },
		{ "KEY", SDP_CRYPTO_BAD_KEY_METHOD },
		{ "inline:KEY|2^20|1:4", SDP_CRYPTO_OK },
		{ "INLINE:KEY", SDP_CRYPTO_OK },
		{ "inline:KEY|2^48", SDP_CRYPTO_OK },
		{ "inline:KEY|2^49", SDP_CRYPTO_BAD_LIFETIME },
		{ "inline:KEY|2^", SDP_CRYPTO_BAD_LIFETIME },
		{ "inline:KEY|1048576", SDP_CRYPTO_OK },
		{ "inline:KEY|0", SDP_CRYPTO_BAD_LIFETIME },
		{ "inline:KEY|", SDP_CRYPTO_BAD_LIFETIME },
		{ "inline:KEY|x", SDP_CRYPTO_BAD_LIFETIME },
		{ "inline:KEY|1:4", SDP_CRYPTO_OK },
		{ "inline:KEY|1:128", SDP_CRYPTO_OK },
		{ "inline:KEY|1:129", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|1:0", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|1:0004", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|:4", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|256:1", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|255:1", SDP_CRYPTO_OK },
		{ "inline:KEY|2^20|1:4|x", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|1:4|2^20", SDP_CRYPTO_BAD_MKI },
		/* several keys: MKI on each, one length, distinct values (RFC 4568 6.1) */
		{ "inline:KEY|2^20|1:4;inline:KEY|2^20|2:4", SDP_CRYPTO_OK },
		{ "inline:KEY|2^20|1:4;inline:KEY|2^20", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|1:4;inline:KEY|2:2", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY|1:4;inline:KEY|1:4", SDP_CRYPTO_BAD_MKI },
		{ "inline:KEY;", SDP_CRYPTO_BAD_KEY_METHOD },
		{ "other:opaque", SDP_CRYPTO_UNKNOWN_METHOD },
		{ "inline:KEY;other:opaque", SDP_CRYPTO_UNKNOWN_METHOD },
		{ "inline:@@@@", SDP_CRYPTO_BAD_BASE64 },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		char params[300];
		size_t o = 0;
		for (const char *p = tab[i].params; *p && o < sizeof(params) - 64;) {
			if (strncmp(p, "KEY", 3) == 0) {
				o += (size_t)snprintf(params + o, sizeof(params) - o, "%s", key);
				p += 3;
			} else {
				params[o++] = *p++;
			}
		}
		params[o] = '\0';
		snprintf(line, sizeof(line), "1 AES_CM_128_HMAC_SHA1_80 %s", params);
		expect(line, tab[i].st);
	}
	parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|7:4");
	assert_true(c.keys[0].has_lifetime);
	assert_int_equal(c.keys[0].lifetime, UINT64_C(1) << 20);
	assert_true(c.keys[0].has_mki);
	assert_int_equal(c.keys[0].mki, 7);
	assert_int_equal(c.keys[0].mki_len, 4);
	parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|1:4");
	assert_false(c.keys[0].has_lifetime);
	assert_true(c.keys[0].has_mki);
	/* more keys than we keep */
	char many[2048];
	size_t o = (size_t)snprintf(many, sizeof(many), "1 AES_CM_128_HMAC_SHA1_80 ");
	for (int i = 0; i < SDP_CRYPTO_MAX_KEYS + 1; i++)
		o += (size_t)snprintf(many + o, sizeof(many) - o, "%sinline:%s|%d:1", i ? ";" : "", key, i + 1);
	expect(many, SDP_CRYPTO_TOO_MANY_KEYS);
}

static void test_base64_forms(void **state)
{
	(void)state;
	/* 28 octets: padded "==", unpadded accepted (stacks drop the padding), stray '=' not */
	expect("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==", SDP_CRYPTO_OK);
	expect("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw", SDP_CRYPTO_OK);
	expect("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=", SDP_CRYPTO_BAD_BASE64);
	expect("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaG===", SDP_CRYPTO_BAD_BASE64);
	expect("1 AEAD_AES_128_GCM inline:AAEC=wQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==", SDP_CRYPTO_BAD_BASE64);
	expect("1 AEAD_AES_128_GCM inline:A", SDP_CRYPTO_BAD_BASE64);
	expect("1 AEAD_AES_128_GCM inline:InvalidBase64@@@###", SDP_CRYPTO_BAD_BASE64);
}

static void test_session_params(void **state)
{
	(void)state;
	struct sdp_crypto c;
	const char *base = "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj";
	char line[512];
	static const struct {
		const char *p;
		enum sdp_crypto_status st;
		unsigned flags;
	} tab[] = {
		{ "KDR=0", SDP_CRYPTO_OK, SDP_CRYPTO_F_KDR },
		{ "KDR=24", SDP_CRYPTO_OK, SDP_CRYPTO_F_KDR },
		{ "KDR=25", SDP_CRYPTO_BAD_SESSION_PARAM, 0 },
		{ "KDR=", SDP_CRYPTO_BAD_SESSION_PARAM, 0 },
		{ "UNENCRYPTED_SRTP", SDP_CRYPTO_OK, SDP_CRYPTO_F_UNENCRYPTED_SRTP },
		{ "UNENCRYPTED_SRTCP", SDP_CRYPTO_OK, SDP_CRYPTO_F_UNENCRYPTED_SRTCP },
		{ "UNAUTHENTICATED_SRTP", SDP_CRYPTO_OK, SDP_CRYPTO_F_UNAUTHENTICATED_SRTP },
		{ "FEC_ORDER=FEC_SRTP", SDP_CRYPTO_OK, SDP_CRYPTO_F_FEC_ORDER },
		{ "FEC_ORDER=SRTP_FEC", SDP_CRYPTO_OK, SDP_CRYPTO_F_FEC_ORDER },
		{ "FEC_ORDER=X", SDP_CRYPTO_BAD_SESSION_PARAM, 0 },
		{ "FEC_KEY=inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20", SDP_CRYPTO_OK, SDP_CRYPTO_F_FEC_KEY },
		{ "FEC_KEY=inline:AAAA", SDP_CRYPTO_BAD_KEY_LENGTH, 0 },
		{ "WSH=64", SDP_CRYPTO_OK, SDP_CRYPTO_F_WSH },
		{ "WSH=63", SDP_CRYPTO_BAD_SESSION_PARAM, 0 },
		{ "-vendor_thing=1", SDP_CRYPTO_OK, 0 },
		{ "VENDOR_THING=1", SDP_CRYPTO_UNKNOWN_PARAM, 0 },
		{ "KDR=1 UNENCRYPTED_SRTCP WSH=128", SDP_CRYPTO_OK,
		  SDP_CRYPTO_F_KDR | SDP_CRYPTO_F_UNENCRYPTED_SRTCP | SDP_CRYPTO_F_WSH },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(line, sizeof(line), "%s %s", base, tab[i].p);
		expect(line, tab[i].st);
		parse(&c, line);
		if (tab[i].st == SDP_CRYPTO_OK)
			assert_int_equal(c.flags, tab[i].flags);
	}
	/* UNENCRYPTED_SRTCP alone leaves the media protected; the other two do not */
	parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj UNENCRYPTED_SRTCP");
	assert_false(sdp_crypto_insecure(&c));
	parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj UNENCRYPTED_SRTP");
	assert_true(sdp_crypto_insecure(&c));
}

/* One byte of a value replaced by every byte value in turn: what is accepted is exactly the
 * grammar's alphabet, and case is folded for ASCII letters only (RFC 5234 2.3). */
static enum sdp_crypto_status with_byte(const char *value, size_t at, unsigned char b, struct sdp_crypto *c)
{
	char buf[256];
	size_t n = strlen(value);
	assert_true(n < sizeof(buf) && at < n);
	memcpy(buf, value, n);
	buf[at] = (char)b;
	return sdp_crypto_parse(c, (struct slice){ buf, n });
}

static void test_every_byte(void **state)
{
	(void)state;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static const char key_line[] = "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
	static const char param_line[] =
		"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNENCRYPTED_SRTP";
	const size_t key_at = sizeof("1 AES_CM_128_HMAC_SHA1_80 inline:WVNf") - 1; /* after 4 key chars */
	const size_t suite_at = sizeof("1 A") - 1;                                  /* the "E" */
	const size_t param_at = sizeof(key_line);                                   /* the "U" */
	const size_t under_at = param_at + sizeof("UNENCRYPTED") - 1;               /* the "_" */
	for (unsigned b = 0; b < 256; b++) {
		struct sdp_crypto c;
		char ch = (char)b;
		bool in_b64 = b && memchr(b64, (int)b, sizeof(b64) - 1);
		bool in_alnum = b && memchr(alnum, (int)b, sizeof(alnum) - 1);
		bool blank = b == ' ' || b == '\t';

		/* key: any base64 character keeps 30 octets; a blank or ";" ends it after 3 */
		enum sdp_crypto_status want = in_b64 ? SDP_CRYPTO_OK
					      : blank || ch == ';' ? SDP_CRYPTO_BAD_KEY_LENGTH
					      : ch == '|' ? SDP_CRYPTO_BAD_LIFETIME
							  : SDP_CRYPTO_BAD_BASE64;
		enum sdp_crypto_status got = with_byte(key_line, key_at, (unsigned char)b, &c);
		if (got != want)
			fail_msg("key byte 0x%02x: %s, want %s", b, sdp_crypto_status_text(got), sdp_crypto_status_text(want));

		/* suite: "E" or "e" names the suite; other letters, digits and "_" an unknown one */
		want = (ch == 'E' || ch == 'e')	 ? SDP_CRYPTO_OK
		       : (in_alnum || ch == '_') ? SDP_CRYPTO_UNKNOWN_SUITE
		       : blank			 ? SDP_CRYPTO_BAD_KEY_METHOD /* "S_CM_..." taken as key params */
						 : SDP_CRYPTO_BAD_SYNTAX;
		got = with_byte(key_line, suite_at, (unsigned char)b, &c);
		if (got != want)
			fail_msg("suite byte 0x%02x: %s, want %s", b, sdp_crypto_status_text(got), sdp_crypto_status_text(want));

		/* session parameter names: "U"/"u" only, "_" only (0x7f is not "_" in another case) */
		got = with_byte(param_line, param_at, (unsigned char)b, &c);
		bool flag = (c.flags & SDP_CRYPTO_F_UNENCRYPTED_SRTP) != 0;
		if ((ch == 'U' || ch == 'u') != flag || got != (ch == 'U' || ch == 'u' || ch == '-' ? SDP_CRYPTO_OK
											    : SDP_CRYPTO_UNKNOWN_PARAM))
			fail_msg("parameter byte 0x%02x: %s, flag %d", b, sdp_crypto_status_text(got), flag);
		got = with_byte(param_line, under_at, (unsigned char)b, &c);
		flag = (c.flags & SDP_CRYPTO_F_UNENCRYPTED_SRTP) != 0;
		if ((ch == '_') != flag || got != (ch == '_' ? SDP_CRYPTO_OK : SDP_CRYPTO_UNKNOWN_PARAM))
			fail_msg("parameter byte 0x%02x: %s, flag %d", b, sdp_crypto_status_text(got), flag);
	}
	/* the key method is matched without case too, the suite in any mix */
	expect("1 aes_cm_128_HMAC_sha1_80 INLINE:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SDP_CRYPTO_OK);
	expect("1 AES_CM_128_HMAC_SHA1_8 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SDP_CRYPTO_UNKNOWN_SUITE);
	expect("1 AES_CM_128_HMAC_SHA1_800 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SDP_CRYPTO_UNKNOWN_SUITE);
	expect("1 AES_CM_128_HMAC_SHA1_80 inlin:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz", SDP_CRYPTO_UNKNOWN_METHOD);
	expect("1 AES_CM_128_HMAC_SHA1_80 inline", SDP_CRYPTO_BAD_KEY_METHOD);
}

static void test_unknown_suite_is_not_malformed(void **state)
{
	(void)state;
	expect("1 CRYPTO_X inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ", SDP_CRYPTO_UNKNOWN_SUITE);
	expect("1 CRYPTO-X inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ", SDP_CRYPTO_BAD_SYNTAX);
	/* an unknown suite still has to be well-formed */
	expect("1 CRYPTO_X inline:@@", SDP_CRYPTO_BAD_BASE64);
	assert_false(sdp_crypto_status_malformed(SDP_CRYPTO_UNKNOWN_SUITE));
	assert_true(sdp_crypto_status_malformed(SDP_CRYPTO_BAD_KEY_LENGTH));
}

static void test_redaction_hides_every_key(void **state)
{
	(void)state;
	static const char body[] =
		"a=crypto:2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;"
		"INLINE:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_KEY=inline:WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ\r\n"
		"k=clear:secretpassword\r\n"
		"a=x:k=notakey\r\n";
	char out[512];
	size_t n = sdp_redact_keys(slice_from_cstr(body), out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_null(strstr(out, "MTIzNDU2"));
	assert_null(strstr(out, "QUJjZGVm"));
	assert_null(strstr(out, "WnD7c1ks"));
	assert_null(strstr(out, "secretpassword"));
	assert_non_null(strstr(out, "inline:<redacted>|2^20|1:4;INLINE:<redacted>|2^20|2:4"));
	assert_null(strstr(out, "k=clear")); /* the whole k= value goes */
	assert_non_null(strstr(out, "k=<redacted>\r\n"));
	assert_non_null(strstr(out, "a=x:k=notakey"));
	/* truncation keeps it NUL-terminated and still key-free */
	char small[40];
	sdp_redact_keys(slice_from_cstr(body), small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_null(strstr(small, "MTIz"));
	sdptest_no_key_in(out, slice_from_cstr(body), "redaction");
}

int run_crypto_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_suites_and_exact_key_lengths),
		cmocka_unit_test(test_suite_names),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_key_params),
		cmocka_unit_test(test_base64_forms),
		cmocka_unit_test(test_session_params),
		cmocka_unit_test(test_every_byte),
		cmocka_unit_test(test_unknown_suite_is_not_malformed),
		cmocka_unit_test(test_redaction_hides_every_key),
	};
	return cmocka_run_group_tests_name("sdp_crypto", tests, NULL, NULL);
}
