/* Lexing helpers shared by the SDP parsers (sdp.c, crypto.c, policy.c; private to the module).
 * They run on every line of every offer and answer a proxied call carries, so they are static
 * inline, compare against literals without strlen() or strncasecmp() calls, and test character
 * classes with one table lookup (lex.c).
 *
 * Case folding is ASCII only: SDP names and RFC 4568 literals are ABNF strings (RFC 5234 2.3),
 * which is also what strncasecmp() did here in the C locale sipsd runs in. */
#ifndef SIPSD_SDP_LEX_H
#define SIPSD_SDP_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/slice.h"

/* s equals the string literal lit, byte for byte. */
#define LEX_EQ(s, lit) ((s).len == sizeof(lit) - 1 && memcmp((s).p, (lit), sizeof(lit) - 1) == 0)

static inline unsigned char lex_lower(unsigned char c)
{
	return (unsigned char)(c - 'A') < 26u ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* n bytes of a and b equal ignoring ASCII case; bytes written in the same case (the usual) cost
 * one compare. */
static inline bool lex_same_ci(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i] && lex_lower((unsigned char)a[i]) != lex_lower((unsigned char)b[i]))
			return false;
	return true;
}

/* s equals the string literal lit ignoring ASCII case: the length is compared first. */
#define LEX_EQ_CI(s, lit) ((s).len == sizeof(lit) - 1 && lex_same_ci((s).p, (lit), sizeof(lit) - 1))

/* s equals the NUL-terminated lit ignoring ASCII case, for names held in tables; stops at the
 * first difference rather than measuring lit. */
static inline bool lex_eq_ci(struct slice s, const char *lit)
{
	size_t i = 0;
	for (; i < s.len; i++)
		if (!lit[i] || (s.p[i] != lit[i] && lex_lower((unsigned char)s.p[i]) != lex_lower((unsigned char)lit[i])))
			return false;
	return lit[i] == '\0';
}

/* s starts with the literal lit ignoring ASCII case; *rest gets what follows. */
#define LEX_PREFIX_CI(s, lit, rest) lex_prefix_ci((s), (lit), sizeof(lit) - 1, (rest))
static inline bool lex_prefix_ci(struct slice s, const char *lit, size_t n, struct slice *rest)
{
	if (s.len < n || !lex_same_ci(s.p, lit, n))
		return false;
	*rest = (struct slice){ s.p + n, s.len - n };
	return true;
}

/* Character classes (lex.c), tested with one table lookup per byte. */
enum {
	LEX_TOKEN = 1 << 0, /* RFC 8866 9 token-char */
	LEX_B64 = 1 << 1,   /* RFC 4648 4 base64 alphabet, without "=" */
	LEX_SUITE = 1 << 2, /* RFC 4568 9.1 crypto-suite name character */
};
extern const uint8_t lex_class[256];

static inline bool lex_is(char c, unsigned cls)
{
	return (lex_class[(unsigned char)c] & cls) != 0;
}

static inline bool lex_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Same contract as slice_next_field(): skip SP/HTAB, take the next run of other bytes. */
static inline bool lex_next_field(struct slice *rest, struct slice *field)
{
	const char *p = rest->p, *end = rest->p + rest->len;
	while (p < end && lex_is_blank(*p))
		p++;
	const char *start = p;
	/* Every byte above SP is a field byte: one compare for the common case. */
	while (p < end && ((unsigned char)*p > ' ' || !lex_is_blank(*p)))
		p++;
	if (p == start)
		return false;
	*field = (struct slice){ start, (size_t)(p - start) };
	rest->len -= (size_t)(p - rest->p);
	rest->p = p;
	return true;
}

/* lex_next_field() for fields that are usually long (an a=crypto suite, its key parameters): the
 * end is found with memchr, many bytes a step, rather than byte by byte. */
static inline bool lex_next_long_field(struct slice *rest, struct slice *field)
{
	const char *p = rest->p, *end = rest->p + rest->len;
	while (p < end && lex_is_blank(*p))
		p++;
	if (p == end)
		return false;
	const char *e = memchr(p, ' ', (size_t)(end - p));
	if (!e)
		e = end;
	const char *tab = memchr(p, '\t', (size_t)(e - p));
	if (tab)
		e = tab;
	*field = (struct slice){ p, (size_t)(e - p) };
	rest->len -= (size_t)(e - rest->p);
	rest->p = e;
	return true;
}

/* Same as slice_trim(): strip SP/HTAB on both ends. */
static inline struct slice lex_trim(struct slice s)
{
	while (s.len && lex_is_blank(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len && lex_is_blank(s.p[s.len - 1]))
		s.len--;
	return s;
}

#endif
