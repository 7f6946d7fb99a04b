/* Internal to src/sip: character classes of RFC 3261 25.1 and small scanners. */
#ifndef SIPSD_SIP_LEX_H
#define SIPSD_SIP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/slice.h"

#define CC_ALNUM 0x0001u
#define CC_MARK 0x0002u
#define CC_TOKEN 0x0004u
#define CC_USER 0x0008u
#define CC_PASS 0x0010u
#define CC_PARAM 0x0020u
#define CC_HNV 0x0040u
#define CC_WORD 0x0080u
#define CC_HEX 0x0100u
#define CC_HOST 0x0200u
#define CC_SCHEME 0x0400u
#define CC_WS 0x0800u
#define CC_DIGIT 0x1000u
#define CC_URIC 0x2000u
#define CC_GVAL 0x4000u  /* gen-value octets outside quotes: token, ':' '[' ']' (RFC 5118 4.5) */
#define CC_ASEND 0x8000u /* ends an addr-spec outside <>: ';' SP HTAB CR LF (RFC 3261 20.10) */
extern const uint16_t sip_cc[256];

static inline bool cc(char c, uint16_t m)
{
	return (sip_cc[(unsigned char)c] & m) != 0;
}

/* LWS inside a header value: SP, HTAB and the CR/LF of a folded line (the header scanner
 * only lets CR/LF through when a continuation line follows). */
static inline const char *lws_skip(const char *p, const char *end)
{
	/* most calls find no LWS at all: leave before the loop is set up */
	if (p >= end || !cc(*p, CC_WS))
		return p;
	do
		p++;
	while (p < end && cc(*p, CC_WS));
	return p;
}

/* Longest prefix of [p, end) in class m. Four octets per test while they last: one branch
 * for four table lookups (hosts, tokens and Call-IDs are runs of tens of octets). */
static inline __attribute__((always_inline)) const char *run(const char *p, const char *end, uint16_t m)
{
	const unsigned char *u = (const unsigned char *)p;
	size_t n = (size_t)(end - p), i = 0;
	/* an index against a fixed length: the loop keeps one counter, no pointer copies */
	while (n - i >= 4 && (sip_cc[u[i]] & sip_cc[u[i + 1]] & sip_cc[u[i + 2]] & sip_cc[u[i + 3]] & m))
		i += 4;
	while (i < n && (sip_cc[u[i]] & m))
		i++;
	return p + i;
}

/* Longest prefix of [p, end) with no octet in class m; four octets per branch. */
static inline const char *run_until(const char *p, const char *end, uint16_t m)
{
	while (end - p >= 4) {
		const unsigned char *u = (const unsigned char *)p;
		if ((sip_cc[u[0]] | sip_cc[u[1]] | sip_cc[u[2]] | sip_cc[u[3]]) & m)
			break;
		p += 4;
	}
	while (p < end && !cc(*p, m))
		p++;
	return p;
}

static inline struct slice sl(const char *a, const char *b)
{
	return (struct slice){ a, (size_t)(b - a) };
}

static inline char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Case-insensitive compare of s with literal l of length n, a word at a time. l holds only
 * lower-case letters and octets below 0x40 (digits, '-', '.', '+'): then (t & 0x40) >> 1 is
 * exactly the 0x20 of its letters, where the input may have that bit clear (upper case), and
 * every other octet must be equal, so the test is exact for any input. Overlapping loads:
 * nothing outside s[0..n) and l[0..n) is read. */
static inline uint64_t lex_ld64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t lex_ld32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t lex_ld16(const char *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

#define LEX_CI_EQ(x, t, m) (((x) | (((t) & (m)) >> 1)) == (t))

static inline bool lex_eq_lc(const char *s, const char *l, size_t n)
{
	if (n >= 8) {
		for (size_t i = 0; i + 8 < n; i += 8) {
			if (!LEX_CI_EQ(lex_ld64(s + i), lex_ld64(l + i), 0x4040404040404040u))
				return false;
		}
		return LEX_CI_EQ(lex_ld64(s + n - 8), lex_ld64(l + n - 8), 0x4040404040404040u);
	}
	if (n >= 4)
		return LEX_CI_EQ(lex_ld32(s), lex_ld32(l), 0x40404040u) &&
		       LEX_CI_EQ(lex_ld32(s + n - 4), lex_ld32(l + n - 4), 0x40404040u);
	if (n >= 2)
		return LEX_CI_EQ(lex_ld16(s), lex_ld16(l), 0x4040u) &&
		       LEX_CI_EQ(lex_ld16(s + n - 2), lex_ld16(l + n - 2), 0x4040u);
	return n == 0 || lc(s[0]) == l[0];
}

/* Decimal, no sign, at most max; false on empty, non-digit or overflow. */
static inline bool lex_u32(struct slice s, uint32_t max, uint32_t *out)
{
	uint64_t v = 0;
	if (!s.len)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return false;
		v = v * 10 + d; /* stays far below 2^64: v <= max before each step */
		if (v > max)
			return false;
	}
	*out = (uint32_t)v;
	return true;
}

/* port = 1*DIGIT (RFC 3261 25.1), at most 65535 here: the digits are scanned and valued in
 * one pass. Returns the end of the digits; NULL when there are none or the value is over. */
static inline __attribute__((always_inline)) const char *lex_port(const char *p, const char *end,
								    uint16_t *port)
{
	const char *d = p;
	uint32_t v = 0;
	while (d < end && (unsigned char)(*d - '0') <= 9) {
		v = v * 10 + (uint32_t)(*d - '0');
		if (v > 65535)
			v = 65536; /* saturate: too big however many digits follow */
		d++;
	}
	if (d == p || v > 65535)
		return NULL;
	*port = (uint16_t)v;
	return d;
}

/* p at '"': returns the position after the closing quote, NULL if unterminated.
 * quoted-pair (RFC 3261 25.1) escapes any octet but CR and LF. */
const char *lex_qstr_end(const char *p, const char *end);
/* Characters of a URI part: the classes in m, or %HH. Returns the end of the run; *bad is
 * set on a '%' not followed by two hex digits. Escapes are rare (RFC 3261 19.1.2 lists which
 * octets need them): run() takes the plain stretches four octets per test. */
static inline const char *lex_uri_run(const char *p, const char *end, uint16_t m, bool *bad)
{
	for (;;) {
		p = run(p, end, m);
		if (p >= end || *p != '%')
			return p;
		if (end - p < 3 || !cc(p[1], CC_HEX) || !cc(p[2], CC_HEX)) {
			*bad = true;
			return p;
		}
		p += 3;
	}
}
bool lex_ipv4(const char *p, const char *end);
bool lex_ipv6(const char *p, const char *end);

#endif
