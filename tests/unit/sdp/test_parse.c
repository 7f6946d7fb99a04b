/* SDP parser and filtering builder (RFC 8866). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "sdp/crypto.h"
#include "sdp/sdp.h"
#include "sdptest.h"

static int parse(struct sdp **sdpp, const char *body, struct sdp_error *err)
{
	return sdp_parse(sdpp, slice_from_cstr(body), NULL, err);
}

static const char full_offer[] =
	"v=0\r\n"
	"o=alice 2890844526 2890844527 IN IP4 192.0.2.10\r\n"
	"s= \r\n"
	"c=IN IP4 192.0.2.10\r\n"
	"t=0 0\r\n"
	"a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyONQ6gAAAAAJAAAQbWlrZXlAZXhhbXBsZS5jb20=\r\n"
	"a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB\r\n"
	"m=audio 49170 RTP/SAVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32\r\n"
	"a=sendonly\r\n"
	"m=video 51372/2 RTP/SAVPF 99\r\n"
	"c=IN IP6 2001:db8::1\r\n"
	"a=inactive\r\n"
	"m=audio 5004 UDP/TLS/RTP/SAVP 0\r\n"
	"a=setup:actpass\r\n"
	"m=image 6000 udptl t38\r\n";

static void test_parse_full_offer(void **state)
{
	(void)state;
	struct sdp *sdp = NULL;
	struct sdp_error err;
	assert_int_equal(parse(&sdp, full_offer, &err), 0);
	const struct sdp_session *s = sdp_session_get(sdp);
	assert_true(s->conn.present);
	assert_false(s->conn.ipv6);
	assert_true(slice_eq_cstr(s->conn.addr, "192.0.2.10"));
	assert_int_equal(s->n_mikey, 1);
	assert_int_equal(s->n_fingerprint, 1);
	assert_int_equal(s->attr_count, 2);
	assert_int_equal(sdp_media_count(sdp), 4);

	const struct sdp_media *m = sdp_media_get(sdp, 0);
	assert_true(slice_eq_cstr(m->media, "audio"));
	assert_int_equal(m->port, 49170);
	assert_int_equal(m->nports, 1);
	assert_int_equal(m->proto, SDP_PROTO_RTP_SAVP);
	assert_true(slice_eq_cstr(m->fmts, "0 8 101"));
	assert_int_equal(m->n_rtpmap, 2);
	assert_int_equal(m->n_crypto, 1);
	assert_int_equal(m->dir, SDP_DIR_SENDONLY);
	assert_int_equal(m->attr_count, 4);
	assert_ptr_equal(sdp_media_conn(sdp, m), &s->conn);
	const struct sdp_attr *a = sdp_attr_find(sdp, m, "RTPMAP");
	assert_non_null(a);
	assert_true(slice_eq_cstr(a->value, "0 PCMU/8000"));
	a = sdp_attr_get(sdp, m, 3);
	assert_true(slice_eq_cstr(a->name, "sendonly"));
	assert_int_equal(a->value.len, 0);
	assert_null(sdp_attr_get(sdp, m, 4));

	m = sdp_media_get(sdp, 1);
	assert_int_equal(m->port, 51372);
	assert_int_equal(m->nports, 2);
	assert_int_equal(m->proto, SDP_PROTO_RTP_SAVPF);
	assert_true(sdp_media_conn(sdp, m)->ipv6);
	assert_int_equal(m->dir, SDP_DIR_INACTIVE);

	m = sdp_media_get(sdp, 2);
	assert_int_equal(m->proto, SDP_PROTO_UDP_TLS_SAVP);
	assert_true(sdp_proto_is_dtls(m->proto));
	assert_int_equal(m->setup, SDP_SETUP_ACTPASS);

	m = sdp_media_get(sdp, 3);
	assert_int_equal(m->proto, SDP_PROTO_OTHER);
	assert_true(slice_eq_cstr(m->proto_text, "udptl"));
	assert_false(sdp_proto_is_rtp(m->proto));
	assert_null(sdp_media_get(sdp, 4));
	mem_deref(sdp);
}

static void test_parse_lf_and_crlf_agree(void **state)
{
	(void)state;
	char lf[sizeof(full_offer)];
	size_t n = 0;
	for (size_t i = 0; full_offer[i]; i++)
		if (full_offer[i] != '\r')
			lf[n++] = full_offer[i];
	lf[n] = '\0';
	struct sdp *a = NULL, *b = NULL;
	assert_int_equal(parse(&a, full_offer, NULL), 0);
	assert_int_equal(parse(&b, lf, NULL), 0);
	assert_int_equal(sdp_media_count(a), sdp_media_count(b));
	for (size_t i = 0; i < sdp_media_count(a); i++) {
		assert_int_equal(sdp_media_get(a, i)->attr_count, sdp_media_get(b, i)->attr_count);
		assert_int_equal(sdp_media_get(a, i)->proto, sdp_media_get(b, i)->proto);
	}
	mem_deref(a);
	mem_deref(b);
}

static void test_parse_last_line_without_eol_and_blank_lines(void **state)
{
	(void)state;
	struct sdp *sdp = NULL;
	assert_int_equal(parse(&sdp, "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\n\nm=audio 4000 RTP/AVP 0\r\n\r\na=rtpmap:0 PCMU/8000", NULL), 0);
	assert_int_equal(sdp_media_get(sdp, 0)->n_rtpmap, 1);
	mem_deref(sdp);
}

struct bad_case {
	const char *body;
	unsigned line;
	const char *reason;
};

static void test_parse_errors_name_line_and_reason(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ "", 0, "empty body" },
		{ "o=- 1 1 IN IP4 h\r\n", 1, "first line is not v=" },
		{ "v=1\r\n", 1, "v= is not the single version 0" },
		{ "v=0\r\nv=0\r\n", 2, "v= is not the single version 0" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\n", 0, "missing o= or s=" },
		{ "v=0\r\no=- 1 1 AF IP4 h\r\ns=-\r\n", 2, "network type is not IN" },
		{ "v=0\r\no=- 1 1 IN IP9 h\r\ns=-\r\n", 2, "address type is not IP4 or IP6" },
		{ "v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", 2, "o= needs exactly one unicast address" },
		{ "v=0\r\no=- 1\r\ns=-\r\n", 2, "o= has too few fields" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=\r\n", 3, "s= empty, repeated or misplaced" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP7 h\r\n", 4, "address type is not IP4 or IP6" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", 4, "c= needs exactly one connection address" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", 4, "m= port is not a number up to 65535" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 7/0 RTP/AVP 0\r\n", 4, "m= port is not a number up to 65535" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 7 RTP/AVP\r\n", 4, "m= has no format" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 7\r\n", 4, "m= has too few fields" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=\r\n", 4, "a= name is not a token" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nx=1\r\n", 4, "unknown line type" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nnot a line\r\n", 4, "line is not <type>=<value>" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\rx\r\n", 3, "CR or NUL inside a line" },
		{ "v=0\r\nm=audio 7 RTP/AVP 0\r\n", 2, "m= before o= and s=" },
		{ "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 7 RTP/AVP 0\r\ns=x\r\n", 5, "s= empty, repeated or misplaced" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sdp *sdp = NULL;
		struct sdp_error err;
		int rc = parse(&sdp, cases[i].body, &err);
		if (rc != EBADMSG || err.line != cases[i].line || !err.reason ||
		    strcmp(err.reason, cases[i].reason) != 0) {
			print_error("case %zu: rc=%d line=%u reason=%s, want line %u %s\n", i, rc, err.line,
				    err.reason ? err.reason : "(null)", cases[i].line, cases[i].reason);
			fail();
		}
		assert_null(sdp);
	}
	/* A NUL inside a line cannot be written as a C string literal. */
	static const char nul[] = "v=0\r\no=- 1 1 IN IP4 h\r\ns=a\0b\r\n";
	struct sdp *sdp = NULL;
	struct sdp_error err;
	assert_int_equal(sdp_parse(&sdp, (struct slice){ nul, sizeof(nul) - 1 }, NULL, &err), EBADMSG);
	assert_int_equal(err.line, 3);
}

/* The first pass finds CR and NUL for the whole body ahead of the line it is on; each bad byte
 * is still reported on its own line, and before any syntax error on an earlier line. */
static void test_parse_bad_bytes_anywhere(void **state)
{
	(void)state;
	static const struct {
		const char *body;
		size_t len;
		int rc;
		unsigned line;
	} cases[] = {
#define C(lit, rc, line) { lit, sizeof(lit) - 1, rc, line }
		/* a bare CR after several CRLF lines, and in an LF body */
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nc=IN\rIP4 h\r\n", EBADMSG, 5),
		C("v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nc=IN\rIP4 h\n", EBADMSG, 5),
		/* CR CR LF: the first CR is inside the line */
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\r\n", EBADMSG, 3),
		/* a CR opening a line, a CR ending an LF-less last line (accepted), one after the LF */
		C("\rv=0\r\n", EBADMSG, 1),
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r", 0, 0),
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\r", 0, 0),
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\rx", EBADMSG, 4),
		/* a syntax error on line 2 loses to a bad byte on line 4 */
		C("v=0\r\nx=1\r\ns=-\r\nt=0\r0\r\n", EBADMSG, 4),
		C("v=0\r\nx=1\r\ns=-\r\nt=0\0000\r\n", EBADMSG, 4),
		/* NUL: alone on a last line, before the CR of a CRLF, and after a bare CR (which wins) */
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\000", EBADMSG, 4),
		C("v=0\r\no=- 1 1 IN IP4 h\000\r\ns=-\r\n", EBADMSG, 2),
		C("v=0\r\no=- 1 1\rIN IP4 h\r\ns=-\000\r\n", EBADMSG, 2),
		/* many CRLF lines: the next-CR search moves on line by line */
		C("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=a\r\na=b\r\na=c\r\na=d\r\na=e\r\na=f\r\n", 0, 0),
#undef C
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sdp *sdp = NULL;
		struct sdp_error err;
		int rc = sdp_parse(&sdp, (struct slice){ cases[i].body, cases[i].len }, NULL, &err);
		if (rc != cases[i].rc || err.line != cases[i].line ||
		    (rc && (!err.reason || strcmp(err.reason, "CR or NUL inside a line") != 0))) {
			print_error("case %zu: rc=%d line=%u reason=%s, want rc %d line %u\n", i, rc, err.line,
				    err.reason ? err.reason : "(null)", cases[i].rc, cases[i].line);
			fail();
		}
		mem_deref(sdp);
	}
}

/* RFC 8866 9 token-char, spelled out: attribute names and m= media types take these only. */
static void test_parse_token_bytes(void **state)
{
	(void)state;
	static const char token[] = "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~";
	for (unsigned b = 1; b < 256; b++) {
		if (b == '\r' || b == '\n' || b == ':')
			continue;
		bool ok = memchr(token, (int)b, sizeof(token) - 1) != NULL;
		char body[128];
		int n = snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\na=x%cy:1\r\n", (char)b);
		struct sdp *sdp = NULL;
		struct sdp_error err;
		int rc = sdp_parse(&sdp, (struct slice){ body, (size_t)n }, NULL, &err);
		if ((rc == 0) != ok || (!ok && strcmp(err.reason, "a= name is not a token") != 0))
			fail_msg("a= name byte 0x%02x: rc %d %s", b, rc, rc ? err.reason : "");
		mem_deref(sdp);
		n = snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=au%cdio 4000 RTP/AVP 0\r\n", (char)b);
		rc = sdp_parse(&sdp, (struct slice){ body, (size_t)n }, NULL, &err);
		bool blank = b == ' ' || b == '\t'; /* splits the field: "dio" is no port */
		if ((rc == 0) != ok ||
		    (!ok && strcmp(err.reason, blank ? "m= port is not a number up to 65535" : "m= media is not a token") != 0))
			fail_msg("m= media byte 0x%02x: rc %d %s", b, rc, rc ? err.reason : "");
		mem_deref(sdp);
	}
}

/* Attribute lines split at the first ":" into a token name and the rest. */
static void test_parse_attribute_split(void **state)
{
	(void)state;
	static const struct {
		const char *line;
		const char *name, *value; /* NULL name: refused */
	} cases[] = {
		{ "a=x", "x", "" },	      { "a=x:", "x", "" },	     { "a=x:y:z", "x", "y:z" },
		{ "a=x:y z", "x", "y z" },    { "a=  x-1.2:  v ", "x-1.2", "  v" }, { "a=:x", NULL, NULL },
		{ "a=x y:z", NULL, NULL },    { "a=x/y:z", NULL, NULL },    { "a=x\"y", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[128];
		snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n%s\r\n", cases[i].line);
		struct sdp *sdp = NULL;
		struct sdp_error err;
		int rc = parse(&sdp, body, &err);
		if (!cases[i].name) {
			if (rc != EBADMSG || strcmp(err.reason, "a= name is not a token") != 0)
				fail_msg("%s: rc %d, want refused", cases[i].line, rc);
			continue;
		}
		assert_int_equal(rc, 0);
		const struct sdp_attr *a = sdp_attr_get(sdp, NULL, 0);
		if (!slice_eq_cstr(a->name, cases[i].name) || !slice_eq_cstr(a->value, cases[i].value))
			fail_msg("%s: name [%.*s] value [%.*s]", cases[i].line, (int)a->name.len, a->name.p,
				 (int)a->value.len, a->value.p);
		mem_deref(sdp);
	}
}

/* More lines than the first pass keeps line ends for: the second finds the rest itself. Every
 * attribute is where it was written, with LF, CRLF, blank lines and no end on the last line. */
static void test_parse_many_lines(void **state)
{
	(void)state;
	enum { N = 300 };
	static char body[N * 24 + 64];
	static size_t off[N], len[N];
	static unsigned lineno[N];
	size_t n = (size_t)snprintf(body, sizeof(body), "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\nm=audio 4000 RTP/AVP 0\r\n");
	unsigned line = 4;
	for (unsigned i = 0; i < N; i++) {
		if (i % 7 == 0) {
			n += (size_t)snprintf(body + n, sizeof(body) - n, i % 2 ? "\n" : "\r\n");
			line++;
		}
		off[i] = n;
		const char *end = i == N - 1 ? "" : i % 3 ? "\r\n" : "\n";
		n += (size_t)snprintf(body + n, sizeof(body) - n, "a=n%u:v%u%s", i, i * 7, end);
		len[i] = n - off[i];
		lineno[i] = ++line;
	}
	assert_true(n < sizeof(body));
	struct sdp *sdp = NULL;
	struct sdp_error err;
	assert_int_equal(sdp_parse(&sdp, (struct slice){ body, n }, NULL, &err), 0);
	const struct sdp_media *m = sdp_media_get(sdp, 0);
	assert_int_equal(m->attr_count, N);
	for (unsigned i = 0; i < N; i++) {
		const struct sdp_attr *a = sdp_attr_get(sdp, m, i);
		char name[16], value[16];
		snprintf(name, sizeof(name), "n%u", i);
		snprintf(value, sizeof(value), "v%u", i * 7);
		if (a->off != off[i] || a->len != len[i] || a->lineno != lineno[i] || !slice_eq_cstr(a->name, name) ||
		    !slice_eq_cstr(a->value, value))
			fail_msg("attribute %u: off %zu len %zu line %u [%.*s:%.*s], want off %zu len %zu line %u", i,
				 a->off, a->len, a->lineno, (int)a->name.len, a->name.p, (int)a->value.len, a->value.p,
				 off[i], len[i], lineno[i]);
	}
	mem_deref(sdp);
	/* an error past the kept line ends is still reported on its line */
	memcpy(body + off[N - 2], "x", 1);
	assert_int_equal(sdp_parse(&sdp, (struct slice){ body, n }, NULL, &err), EBADMSG);
	assert_int_equal(err.line, lineno[N - 2]);
	assert_string_equal(err.reason, "unknown line type");
}

static void test_parse_limits(void **state)
{
	(void)state;
	struct sdp_limits lim = { 200, 6, 40, 2 };
	struct sdp *sdp = NULL;
	struct sdp_error err;
	const char *head = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n";
	char buf[512];

	snprintf(buf, sizeof(buf), "%sm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\n", head);
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(buf), &lim, &err), 0);
	sdp = mem_deref(sdp);

	snprintf(buf, sizeof(buf), "%sm=audio 1 RTP/AVP 0\r\nm=audio 2 RTP/AVP 0\r\nm=audio 3 RTP/AVP 0\r\n", head);
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(buf), &lim, &err), EMSGSIZE);
	assert_string_equal(err.reason, "too many media sections");
	assert_int_equal(err.line, 6);

	snprintf(buf, sizeof(buf), "%sa=a\r\na=b\r\na=c\r\na=d\r\n", head);
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(buf), &lim, &err), EMSGSIZE);
	assert_string_equal(err.reason, "too many lines");

	snprintf(buf, sizeof(buf), "%sa=0123456789012345678901234567890123456789\r\n", head);
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(buf), &lim, &err), EMSGSIZE);
	assert_string_equal(err.reason, "line too long");

	memset(buf, 'a', 300);
	buf[300] = '\0';
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(buf), &lim, &err), EMSGSIZE);
	assert_string_equal(err.reason, "body too large");
	assert_null(sdp);

	assert_int_equal(sdp_parse(NULL, slice_from_cstr(head), NULL, NULL), EINVAL);
}

#define KEY30 "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"

/* Each a=crypto line is parsed with the body and kept per level in body order: what
 * sdp_crypto_get() returns is what sdp_crypto_parse() says about the attribute's value. */
static void test_parse_keeps_crypto_lines(void **state)
{
	(void)state;
	static const char body[] = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n"
				   "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				   "m=audio 4000 RTP/SAVP 0\r\n"
				   "a=rtpmap:0 PCMU/8000\r\n"
				   "a= \t crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				   "a=cryptox:5 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				   "a=CRYPTO:2 aes_cm_128_hmac_sha1_32 inline:" KEY30 "|2^20|1:4\r\n"
				   "a=crypto\r\n"
				   "m=audio 0 RTP/SAVP 0\r\n"
				   "m=video 4002 RTP/SAVP 96\r\n"
				   "a=crypto:3 NULL_HMAC_SHA1_80 inline:" KEY30 " UNENCRYPTED_SRTCP\r\n"
				   "a=crypto:4 FOO_BAR inline:" KEY30 "\r\n"
				   "a=crypto:6 AES_256_CM_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				   "a=\tcrypto:7 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 " UNENCRYPTED_SRTP\r\n";
	struct sdp *sdp = NULL;
	struct sdp_error err;
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(body), NULL, &err), 0);
	const struct sdp_media *m0 = sdp_media_get(sdp, 0), *m1 = sdp_media_get(sdp, 1), *m2 = sdp_media_get(sdp, 2);
	assert_int_equal(sdp_session_get(sdp)->n_crypto, 1);
	assert_int_equal(m0->n_crypto, 3);
	assert_int_equal(m1->n_crypto, 0);
	assert_int_equal(m2->n_crypto, 4);

	const struct sdp_crypto_info *c = sdp_crypto_get(sdp, NULL, 0);
	assert_non_null(c);
	assert_int_equal(c->tag, 9);
	assert_null(sdp_crypto_get(sdp, NULL, 1));
	assert_int_equal(sdp_crypto_get(sdp, m0, 0)->tag, 1);
	c = sdp_crypto_get(sdp, m0, 1);
	assert_int_equal(c->status, SDP_CRYPTO_OK);
	assert_int_equal(c->tag, 2);
	assert_string_equal(c->suite->name, "AES_CM_128_HMAC_SHA1_32");
	c = sdp_crypto_get(sdp, m0, 2);
	assert_int_equal(c->status, SDP_CRYPTO_BAD_TAG);
	assert_false(c->tag_valid);
	assert_null(sdp_crypto_get(sdp, m0, 3));
	assert_null(sdp_crypto_get(sdp, m1, 0));
	c = sdp_crypto_get(sdp, m2, 0);
	assert_int_equal(c->tag, 3);
	assert_true(c->insecure);
	c = sdp_crypto_get(sdp, m2, 1);
	assert_int_equal(c->status, SDP_CRYPTO_UNKNOWN_SUITE);
	assert_null(c->suite);
	assert_true(slice_eq_cstr(c->suite_name, "FOO_BAR"));
	c = sdp_crypto_get(sdp, m2, 2);
	assert_int_equal(c->status, SDP_CRYPTO_BAD_KEY_LENGTH);
	assert_int_equal(c->bad_len, 30);
	assert_int_equal(c->need_len, 46);
	c = sdp_crypto_get(sdp, m2, 3);
	assert_int_equal(c->tag, 7);
	assert_true(c->insecure);
	assert_null(sdp_crypto_get(sdp, m2, 4));
	assert_null(sdp_crypto_get(NULL, m0, 0));

	/* the same as parsing each attribute's value now */
	for (size_t mi = 0; mi <= sdp_media_count(sdp); mi++) {
		const struct sdp_media *m = mi ? sdp_media_get(sdp, mi - 1) : NULL;
		const struct sdp_attr *a;
		size_t k = 0;
		for (size_t i = 0; (a = sdp_attr_get(sdp, m, i)); i++) {
			if (!slice_eq_cstr_ci(a->name, "crypto"))
				continue;
			struct sdp_crypto fresh;
			struct sdp_crypto_info want;
			sdp_crypto_parse(&fresh, a->value);
			sdp_crypto_info_from(&want, &fresh);
			c = sdp_crypto_get(sdp, m, k++);
			assert_non_null(c);
			assert_int_equal(c->status, want.status);
			assert_int_equal(c->tag, want.tag);
			assert_int_equal(c->tag_valid, want.tag_valid);
			assert_int_equal(c->insecure, want.insecure);
			assert_ptr_equal(c->suite, want.suite);
			assert_ptr_equal(c->suite_name.p, want.suite_name.p);
			assert_int_equal(c->suite_name.len, want.suite_name.len);
			assert_int_equal(c->bad_len, want.bad_len);
			assert_int_equal(c->need_len, want.need_len);
		}
		assert_null(sdp_crypto_get(sdp, m, k));
	}
	mem_deref(sdp);

	/* The array is sized from a first look at each a= line; lines that fill it to the end of
	 * the allocation, written with blanks before the name (the ASan build checks the bound). */
	static const char blanks[] = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 4000 RTP/SAVP 0\r\n"
				     "a= crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				     "a=\t\tCrypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				     "a=  crypto \t\r\n";
	assert_int_equal(sdp_parse(&sdp, slice_from_cstr(blanks), NULL, &err), 0);
	m0 = sdp_media_get(sdp, 0);
	assert_int_equal(m0->n_crypto, 3);
	assert_int_equal(sdp_crypto_get(sdp, m0, 1)->tag, 2);
	assert_int_equal(sdp_crypto_get(sdp, m0, 2)->status, SDP_CRYPTO_BAD_TAG);
	mem_deref(sdp);
}

static bool drop_crypto(const struct sdp_attr *a, const struct sdp_media *m, void *arg)
{
	(void)m;
	(*(int *)arg)++;
	return !slice_eq_cstr_ci(a->name, "crypto");
}

static void test_build_filtered_copies_untouched_bytes(void **state)
{
	(void)state;
	/* Mixed line ends and a last line without one: both must survive byte for byte. */
	static const char in[] =
		"v=0\r\no=- 1 1 IN IP4 h\ns=-\r\n"
		"a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n"
		"m=audio 1 RTP/SAVP 0\n"
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"a=CRYPTO:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj";
	static const char want[] =
		"v=0\r\no=- 1 1 IN IP4 h\ns=-\r\n"
		"m=audio 1 RTP/SAVP 0\n"
		"a=rtpmap:0 PCMU/8000\r\n";
	struct sdp *sdp = NULL;
	char *out = NULL;
	size_t len = 0;
	int calls = 0;
	assert_int_equal(parse(&sdp, in, NULL), 0);
	assert_int_equal(sdp_build_filtered(&out, &len, sdp, drop_crypto, &calls), 0);
	assert_int_equal(calls, 4);
	if (len != sizeof(want) - 1 || memcmp(out, want, len) != 0) {
		print_error("got: %s\n", sdptest_redacted((struct slice){ out, len }));
		fail();
	}
	assert_int_equal(out[len], '\0');
	mem_deref(out);
	mem_deref(sdp);
}

static bool keep_all(const struct sdp_attr *a, const struct sdp_media *m, void *arg)
{
	(void)a;
	(void)m;
	(void)arg;
	return true;
}

static void test_build_keep_all_is_identity(void **state)
{
	(void)state;
	struct sdp *sdp = NULL;
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(parse(&sdp, full_offer, NULL), 0);
	assert_int_equal(sdp_build_filtered(&out, &len, sdp, keep_all, NULL), 0);
	/* memcmp, not assert_memory_equal: a failure must not print the key bytes */
	if (len != strlen(full_offer) || memcmp(out, full_offer, len) != 0) {
		print_error("got: %s\n", sdptest_redacted((struct slice){ out, len }));
		fail();
	}
	mem_deref(out);
	mem_deref(sdp);
}

int run_parse_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full_offer),
		cmocka_unit_test(test_parse_lf_and_crlf_agree),
		cmocka_unit_test(test_parse_last_line_without_eol_and_blank_lines),
		cmocka_unit_test(test_parse_errors_name_line_and_reason),
		cmocka_unit_test(test_parse_bad_bytes_anywhere),
		cmocka_unit_test(test_parse_token_bytes),
		cmocka_unit_test(test_parse_attribute_split),
		cmocka_unit_test(test_parse_many_lines),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_keeps_crypto_lines),
		cmocka_unit_test(test_build_filtered_copies_untouched_bytes),
		cmocka_unit_test(test_build_keep_all_is_identity),
	};
	return cmocka_run_group_tests_name("sdp_parse", tests, NULL, NULL);
}
