/* Internal to src/sip: character classes of RFC 3261 25.1 and small scanners. */
#ifndef SIPSD_SIP_LEX_H
#define SIPSD_SIP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
extern const uint16_t sip_cc[256];

static inline bool cc(char c, uint16_t m)
{
	return (sip_cc[(unsigned char)c] & m) != 0;
}

/* LWS inside a header value: SP, HTAB and the CR/LF of a folded line (the header scanner
 * only lets CR/LF through when a continuation line follows). */
static inline const char *lws_skip(const char *p, const char *end)
{
	while (p < end && cc(*p, CC_WS))
		p++;
	return p;
}

/* Longest prefix of [p, end) in class m. Four octets per test while they last: one branch
 * for four table lookups (hosts, tokens and Call-IDs are runs of tens of octets). */
static inline const char *run(const char *p, const char *end, uint16_t m)
{
	while (end - p >= 4) {
		const unsigned char *u = (const unsigned char *)p;
		if (!(sip_cc[u[0]] & sip_cc[u[1]] & sip_cc[u[2]] & sip_cc[u[3]] & m))
			break;
		p += 4;
	}
	while (p < end && cc(*p, m))
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

/* Case-insensitive compare of s with lower-case literal l of length n. */
static inline bool lex_eq_lc(const char *s, const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (lc(s[i]) != l[i])
			return false;
	}
	return true;
}

/* Header name at p, the line holding avail more octets: the id of the known name (full or
 * compact) that p starts with, followed by ':', SP or HTAB, its length in *len; else
 * SIP_HDR_OTHER (0), and the caller scans the token. */
unsigned sip_hdr_match(const char *p, size_t avail, size_t *len);

/* p at '"': returns the position after the closing quote, NULL if unterminated.
 * quoted-pair (RFC 3261 25.1) escapes any octet but CR and LF. */
const char *lex_qstr_end(const char *p, const char *end);
/* Characters of a URI part: the classes in m, or %HH. Returns the end of the run; *bad is
 * set on a '%' not followed by two hex digits. */
const char *lex_uri_run(const char *p, const char *end, uint16_t m, bool *bad);
/* Decimal, no sign, at most max; false on empty, non-digit or overflow. */
bool lex_u32(struct slice s, uint32_t max, uint32_t *out);
bool lex_ipv4(const char *p, const char *end);
bool lex_ipv6(const char *p, const char *end);

#endif
