/* Stream framing: every split point, keepalives, Content-Length faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/mem.h"
#include "sip/frame.h"
#include "sip/msg.h"
#include "testutil.h"

#define M1 "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n"
#define M2 "MESSAGE sip:a@b SIP/2.0\r\nl:5\r\nContent-Type: text/plain\r\n\r\nhello"
#define M3 "SIP/2.0 200 OK\r\nContent-Length:\r\n  3\r\n\r\nabc"

struct ev {
	enum sip_frame_kind kind;
	size_t len;
};

/* Feeds s in two reads split at cut; records what the framer reports. */
static size_t feed(const char *s, size_t len, size_t cut, struct ev *out, size_t max)
{
	size_t n = 0, off = 0, have = cut;
	for (;;) {
		struct sip_frame f;
		sip_frame_next(s + off, have - off, 65536, &f);
		if (f.kind == SIP_FRAME_NEED_MORE || f.kind == SIP_FRAME_ERROR) {
			if (f.kind == SIP_FRAME_ERROR || have == len) {
				if (f.kind == SIP_FRAME_ERROR && n < max)
					out[n++] = (struct ev){ f.kind, 0 };
				return n;
			}
			have = len;
			continue;
		}
		assert_true(f.len > 0 && f.len <= have - off);
		if (n < max)
			out[n++] = (struct ev){ f.kind, f.len };
		off += f.len;
	}
}

static void test_split_everywhere(void **state)
{
	(void)state;
	static const char s[] = "\r\n\r\n" M1 M2 "\r\n\r\n" M3 "\r\n" M1;
	const struct ev want[] = {
		{ SIP_FRAME_PING, 4 },	  { SIP_FRAME_MESSAGE, sizeof(M1) - 1 }, { SIP_FRAME_MESSAGE, sizeof(M2) - 1 },
		{ SIP_FRAME_PING, 4 },	  { SIP_FRAME_MESSAGE, sizeof(M3) - 1 }, { SIP_FRAME_PONG, 2 },
		{ SIP_FRAME_MESSAGE, sizeof(M1) - 1 },
	};
	size_t len = sizeof(s) - 1;
	for (size_t cut = 0; cut <= len; cut++) {
		struct ev got[16];
		size_t n = feed(s, len, cut, got, 16);
		if (n != sizeof(want) / sizeof(want[0])) {
			print_error("cut %zu: %zu frames\n", cut, n);
			fail();
		}
		for (size_t i = 0; i < n; i++) {
			if (got[i].kind != want[i].kind || got[i].len != want[i].len) {
				print_error("cut %zu frame %zu: kind %d len %zu\n", cut, i, got[i].kind, got[i].len);
				fail();
			}
		}
	}
}

static void expect(const char *s, size_t max, unsigned flags, enum sip_frame_kind kind, size_t len)
{
	struct sip_frame f;
	sip_frame_next_flags(s, strlen(s), max, flags, &f);
	if (f.kind != kind || f.len != len) {
		print_error("\"%s\": kind %d len %zu (%s), want %d %zu\n", s, f.kind, f.len, f.error ? f.error : "",
			    kind, len);
		fail();
	}
}

static void test_keepalive(void **state)
{
	(void)state;
	expect("\r\n\r\n", 65536, 0, SIP_FRAME_PING, 4);
	expect("\r\n", 65536, 0, SIP_FRAME_NEED_MORE, 0);
	expect("\r\n\r", 65536, 0, SIP_FRAME_NEED_MORE, 0);
	expect("\r", 65536, 0, SIP_FRAME_NEED_MORE, 0);
	expect("\r\n", 65536, SIP_FRAME_CLIENT, SIP_FRAME_PONG, 2);
	expect("\r\nINVITE", 65536, 0, SIP_FRAME_PONG, 2);
	expect("\rX", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("", 65536, 0, SIP_FRAME_NEED_MORE, 0);
}

static void test_errors(void **state)
{
	(void)state;
	expect("INVITE sip:a@b SIP/2.0\r\nVia: x\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length: 1x\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length: 99999999999\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 1\r\n\r\nx", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length:\r\nVia: x\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length: 100\r\n\r\n", 64, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nX: 0123456789012345678901234567890123456789", 64, 0, SIP_FRAME_ERROR, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nX: 0123456789", 64, 0, SIP_FRAME_NEED_MORE, 0);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Length: 4\r\n\r\nabc", 65536, 0, SIP_FRAME_NEED_MORE, 0);
	expect("INVITE sip:a@b SIP/2.0\nContent-Length: 1\n\nab", 65536, 0, SIP_FRAME_MESSAGE, 43);
	/* a Content-Length-like name is not one */
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Lengths: 4\r\n\r\n", 65536, 0, SIP_FRAME_ERROR, 0);
	/* names are case-insensitive, may have blanks before ':', and come compact (RFC 3261
	 * 7.3.1, 7.3.3); names sharing letters with Content-Length are other fields */
	expect("INVITE sip:a@b SIP/2.0\r\ncONTENT-lENGTH  : 3\r\n\r\nabc", 65536, 0, SIP_FRAME_MESSAGE, 50);
	expect("INVITE sip:a@b SIP/2.0\r\nL:3\r\n\r\nabc", 65536, 0, SIP_FRAME_MESSAGE, 34);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Type: 5\r\nContact: 5\r\nContent-Lang: 5\r\nl: 0\r\n\r\n",
	       65536, 0, SIP_FRAME_MESSAGE, 78);
	expect("INVITE sip:a@b SIP/2.0\r\nContent-Type: 5\r\nCall-ID: 5\r\nLength: 5\r\n\r\n", 65536, 0,
	       SIP_FRAME_ERROR, 0);
}

/* The RFC 4475 messages as if received on TCP. */
static void test_rfc4475_stream(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		enum sip_frame_kind kind;
	} t[] = {
		{ "clerr.dat", SIP_FRAME_NEED_MORE }, /* 3.1.2.2: wait for more */
		{ "ncl.dat", SIP_FRAME_ERROR },	      /* 3.1.2.3: close */
		{ "mcl01.dat", SIP_FRAME_ERROR },     /* 3.3.9 */
		{ "inv2543.dat", SIP_FRAME_ERROR },   /* no Content-Length on a stream */
		{ "wsinv.dat", SIP_FRAME_MESSAGE },   { "longreq.dat", SIP_FRAME_MESSAGE },
		{ "mpart01.dat", SIP_FRAME_MESSAGE }, { "dblreq.dat", SIP_FRAME_MESSAGE },
		{ "esc01.dat", SIP_FRAME_MESSAGE },   { "unreason.dat", SIP_FRAME_MESSAGE },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char rel[128];
		size_t len;
		snprintf(rel, sizeof(rel), "rfc4475/%s", t[i].file);
		char *buf = td_read(rel, &len);
		assert_non_null(buf);
		struct sip_frame f;
		sip_frame_next(buf, len, 65536, &f);
		if (f.kind != t[i].kind) {
			print_error("%s: kind %d (%s)\n", t[i].file, f.kind, f.error ? f.error : "");
			fail();
		}
		if (f.kind == SIP_FRAME_MESSAGE) {
			struct sip_msg *m = NULL;
			struct sip_verdict v;
			assert_int_equal(sip_msg_parse(buf, f.len, NULL, SIP_PARSE_STREAM, &m, &v), 0);
			assert_int_equal(sip_msg_raw(m).len, f.len);
			mem_deref(m);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_rfc4475_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
