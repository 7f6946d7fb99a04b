#include "auth/cred.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

static const char *const reasons[AUTH_ERR__COUNT] = {
	[AUTH_ERR_NONE] = "ok",
	[AUTH_ERR_SCHEME] = "unsupported authorization scheme",
	[AUTH_ERR_SYNTAX] = "malformed credentials",
	[AUTH_ERR_UNTERMINATED] = "unterminated quoted string",
	[AUTH_ERR_BAD_CHAR] = "bad character in credentials",
	[AUTH_ERR_DUPLICATE] = "duplicate parameter",
	[AUTH_ERR_TOO_LONG] = "credentials value too long",
	[AUTH_ERR_TOO_MANY] = "too many credentials parameters",
	[AUTH_ERR_MISSING_USERNAME] = "missing username",
	[AUTH_ERR_MISSING_REALM] = "missing realm",
	[AUTH_ERR_MISSING_NONCE] = "missing nonce",
	[AUTH_ERR_MISSING_URI] = "missing uri",
	[AUTH_ERR_MISSING_RESPONSE] = "missing response",
	[AUTH_ERR_MISSING_CNONCE] = "missing cnonce",
	[AUTH_ERR_MISSING_NC] = "missing nc",
	[AUTH_ERR_QOP_PARAMS] = "cnonce or nc without qop",
	[AUTH_ERR_SESS_NO_QOP] = "sess algorithm without qop",
	[AUTH_ERR_BAD_NC] = "bad nc",
	[AUTH_ERR_BAD_QOP] = "bad qop",
	[AUTH_ERR_BAD_ALGORITHM] = "unsupported algorithm",
	[AUTH_ERR_BAD_RESPONSE] = "bad response",
	[AUTH_ERR_BAD_USERHASH] = "bad userhash",
	[AUTH_ERR_BAD_USERNAME_EXT] = "bad username*",
};

const char *auth_err_reason(enum auth_err e)
{
	return (unsigned)e < AUTH_ERR__COUNT ? reasons[e] : "bad credentials";
}

enum pid {
	P_USERNAME,
	P_USERNAME_EXT,
	P_REALM,
	P_NONCE,
	P_URI,
	P_RESPONSE,
	P_ALGORITHM,
	P_CNONCE,
	P_OPAQUE,
	P_QOP,
	P_NC,
	P_USERHASH,
	P__COUNT,
	P_UNKNOWN = P__COUNT
};

#define PNAME(s) { s, sizeof(s) - 1 }
static const struct {
	const char *name;
	size_t len;
} pnames[P__COUNT] = {
	PNAME("username"), PNAME("username*"), PNAME("realm"), PNAME("nonce"), PNAME("uri"),
	PNAME("response"), PNAME("algorithm"), PNAME("cnonce"), PNAME("opaque"), PNAME("qop"),
	PNAME("nc"), PNAME("userhash"),
};
#undef PNAME

/* Character classes, one table lookup per character (the parser runs on every REGISTER). */
enum { C_TCHAR = 1, C_BARE = 2, C_QTEXT = 4 };

static const unsigned char cclass[256] = {
#define T_ (C_TCHAR | C_BARE | C_QTEXT)
#define B_ (C_BARE | C_QTEXT)
	['\t'] = C_QTEXT, [' '] = C_QTEXT,
	['!'] = T_, ['"'] = 0, ['#'] = B_, ['$'] = B_, ['%'] = T_, ['&'] = B_, ['\''] = T_,
	['('] = B_, [')'] = B_, ['*'] = T_, ['+'] = T_, [','] = C_QTEXT, ['-'] = T_, ['.'] = T_,
	['/'] = B_,
	['0'] = T_, ['1'] = T_, ['2'] = T_, ['3'] = T_, ['4'] = T_, ['5'] = T_, ['6'] = T_,
	['7'] = T_, ['8'] = T_, ['9'] = T_,
	[':'] = B_, [';'] = B_, ['<'] = B_, ['='] = B_, ['>'] = B_, ['?'] = B_, ['@'] = B_,
	['A'] = T_, ['B'] = T_, ['C'] = T_, ['D'] = T_, ['E'] = T_, ['F'] = T_, ['G'] = T_,
	['H'] = T_, ['I'] = T_, ['J'] = T_, ['K'] = T_, ['L'] = T_, ['M'] = T_, ['N'] = T_,
	['O'] = T_, ['P'] = T_, ['Q'] = T_, ['R'] = T_, ['S'] = T_, ['T'] = T_, ['U'] = T_,
	['V'] = T_, ['W'] = T_, ['X'] = T_, ['Y'] = T_, ['Z'] = T_,
	['['] = B_, ['\\'] = 0, [']'] = B_, ['^'] = B_, ['_'] = T_, ['`'] = T_,
	['a'] = T_, ['b'] = T_, ['c'] = T_, ['d'] = T_, ['e'] = T_, ['f'] = T_, ['g'] = T_,
	['h'] = T_, ['i'] = T_, ['j'] = T_, ['k'] = T_, ['l'] = T_, ['m'] = T_, ['n'] = T_,
	['o'] = T_, ['p'] = T_, ['q'] = T_, ['r'] = T_, ['s'] = T_, ['t'] = T_, ['u'] = T_,
	['v'] = T_, ['w'] = T_, ['x'] = T_, ['y'] = T_, ['z'] = T_,
	['{'] = B_, ['|'] = B_, ['}'] = B_, ['~'] = T_,
	/* 0x80-0xff: UTF-8 inside quoted strings only */
	[0x80 ... 0xff] = C_QTEXT,
#undef T_
#undef B_
};

/* RFC 3261 25.1 token characters. */
static bool is_tchar(unsigned char ch)
{
	return cclass[ch] & C_TCHAR;
}

/* Unquoted values: any visible character but the ones that delimit (lenient on purpose: some
 * UAs send uri or nonce unquoted; the per-parameter grammar is checked afterwards). */
static bool is_bare(unsigned char ch)
{
	return cclass[ch] & C_BARE;
}

/* LWS = [*WSP CRLF] 1*WSP (RFC 3261 25.1). A CR or LF that is not part of a fold is refused. */
static enum auth_err skip_lws(const char **pp, const char *end)
{
	const char *p = *pp;
	while (p < end) {
		if (*p == ' ' || *p == '\t') {
			p++;
		} else if (*p == '\r' || *p == '\n') {
			const char *q = p + (*p == '\r' && p + 1 < end && p[1] == '\n' ? 2 : 1);
			if (q >= end || (*q != ' ' && *q != '\t'))
				return AUTH_ERR_BAD_CHAR;
			p = q;
		} else {
			break;
		}
	}
	*pp = p;
	return AUTH_ERR_NONE;
}

/* One value (token-ish or quoted-string), unescaped into dst (cap chars + NUL) unless dst is
 * NULL. A value longer than cap fails with `overflow`. */
static enum auth_err read_value(const char **pp, const char *end, char *dst, size_t cap,
				enum auth_err overflow)
{
	const char *p = *pp;
	size_t n = 0;
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			/* runs of plain text at once; quotes, escapes and controls one by one */
			const char *run = p;
			while (p < end && (cclass[(unsigned char)*p] & C_QTEXT))
				p++;
			size_t rn = (size_t)(p - run);
			if (rn) {
				if (dst) {
					if (n + rn > cap)
						return overflow;
					memcpy(dst + n, run, rn);
				}
				n += rn;
			}
			if (p >= end)
				return AUTH_ERR_UNTERMINATED;
			unsigned char ch = (unsigned char)*p++;
			if (ch == '"')
				break;
			if (ch == '\\') {
				/* quoted-pair; NUL, CR, LF and other controls are never wanted in a value */
				if (p >= end)
					return AUTH_ERR_UNTERMINATED;
				ch = (unsigned char)*p++;
				if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
					return AUTH_ERR_BAD_CHAR;
			} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				return AUTH_ERR_BAD_CHAR;
			}
			if (dst) {
				if (n >= cap)
					return overflow;
				dst[n] = (char)ch;
			}
			n++;
		}
	} else {
		const char *s = p;
		while (p < end && is_bare((unsigned char)*p))
			p++;
		if (p == s)
			return p < end && ((unsigned char)*p < 0x20 || *p == 0x7f) ? AUTH_ERR_BAD_CHAR
										  : AUTH_ERR_SYNTAX;
		n = (size_t)(p - s);
		if (dst) {
			if (n > cap)
				return overflow;
			memcpy(dst, s, n);
		}
	}
	if (dst)
		dst[n] = '\0';
	*pp = p;
	return AUTH_ERR_NONE;
}

static int hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (unsigned char)tolower(ch);
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

static bool attr_char(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$&+-.^_`|~", ch));
}

/* RFC 7616 3.4.4 / RFC 8187: username*=UTF-8'[lang]'pct-encoded */
static enum auth_err decode_ext(const char *in, char *out, size_t cap)
{
	const char *q1 = strchr(in, '\'');
	if (!q1 || (size_t)(q1 - in) != 5 || strncasecmp(in, "UTF-8", 5) != 0)
		return AUTH_ERR_BAD_USERNAME_EXT;
	const char *q2 = strchr(q1 + 1, '\'');
	if (!q2)
		return AUTH_ERR_BAD_USERNAME_EXT;
	size_t n = 0;
	for (const char *p = q2 + 1; *p; p++) {
		int ch = (unsigned char)*p;
		if (ch == '%') {
			int h = hexval((unsigned char)p[1]), l = h < 0 ? -1 : hexval((unsigned char)p[2]);
			if (h < 0 || l < 0)
				return AUTH_ERR_BAD_USERNAME_EXT;
			ch = h * 16 + l;
			p += 2;
			if (ch < 0x20 || ch == 0x7f)
				return AUTH_ERR_BAD_USERNAME_EXT;
		} else if (!attr_char((unsigned char)ch)) {
			return AUTH_ERR_BAD_USERNAME_EXT;
		}
		if (n >= cap)
			return AUTH_ERR_TOO_LONG;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return n ? AUTH_ERR_NONE : AUTH_ERR_MISSING_USERNAME;
}

static enum pid lookup(const char *p, size_t n)
{
	unsigned char first = (unsigned char)(*p | 0x20); /* names are lower case letters first */
	for (int i = 0; i < P__COUNT; i++)
		if (pnames[i].len == n && (unsigned char)pnames[i].name[0] == first &&
		    strncasecmp(p, pnames[i].name, n) == 0)
			return (enum pid)i;
	return P_UNKNOWN;
}

struct scratch {
	char username_ext[3 * AUTH_USERNAME_MAX + 32];
	char response[2 * AUTH_HEX_MAX];
	char algorithm[24];
	char userhash[8];
};

static enum auth_err parse(struct slice v, struct auth_cred *c, struct scratch *s)
{
	const char *p = v.p, *end = v.p + v.len;
	enum auth_err e = skip_lws(&p, end);
	if (e)
		return e;
	const char *sch = p;
	while (p < end && is_tchar((unsigned char)*p))
		p++;
	if (p == sch)
		return AUTH_ERR_SYNTAX;
	if ((size_t)(p - sch) != 6 || strncasecmp(sch, "Digest", 6) != 0)
		return AUTH_ERR_SCHEME;
	const char *after = p;
	if ((e = skip_lws(&p, end)))
		return e;
	if (p == after || p >= end)
		return AUTH_ERR_SYNTAX; /* RFC 3261 25.1: scheme LWS params */

	unsigned seen = 0, count = 0;
	for (;;) {
		const char *nm = p;
		while (p < end && (is_tchar((unsigned char)*p) || *p == '*'))
			p++;
		if (p == nm)
			return AUTH_ERR_SYNTAX;
		enum pid id = lookup(nm, (size_t)(p - nm));
		if ((e = skip_lws(&p, end)))
			return e;
		if (p >= end || *p != '=')
			return AUTH_ERR_SYNTAX;
		p++;
		if ((e = skip_lws(&p, end)))
			return e;
		if (++count > AUTH_PARAMS_MAX)
			return AUTH_ERR_TOO_MANY;

		char *dst = NULL;
		size_t cap = 0;
		enum auth_err over = AUTH_ERR_TOO_LONG;
		if (id != P_UNKNOWN) {
			unsigned bit = 1u << id;
			/* RFC 7616 3.4.4: username and username* MUST NOT both appear */
			unsigned clash = id == P_USERNAME	 ? 1u << P_USERNAME_EXT
					 : id == P_USERNAME_EXT ? 1u << P_USERNAME
								 : 0;
			if (seen & (bit | clash))
				return AUTH_ERR_DUPLICATE;
			seen |= bit;
		}
		switch (id) {
		case P_USERNAME: dst = c->username, cap = AUTH_USERNAME_MAX; break;
		case P_USERNAME_EXT: dst = s->username_ext, cap = sizeof(s->username_ext) - 1; break;
		case P_REALM: dst = c->realm, cap = AUTH_REALM_MAX; break;
		case P_NONCE: dst = c->nonce, cap = AUTH_NONCE_MAX; break;
		case P_URI: dst = c->uri, cap = AUTH_URI_MAX; break;
		case P_CNONCE: dst = c->cnonce, cap = AUTH_CNONCE_MAX; break;
		case P_OPAQUE: dst = c->opaque, cap = AUTH_OPAQUE_MAX; break;
		case P_RESPONSE:
			dst = s->response, cap = sizeof(s->response) - 1, over = AUTH_ERR_BAD_RESPONSE;
			break;
		case P_ALGORITHM:
			dst = s->algorithm, cap = sizeof(s->algorithm) - 1, over = AUTH_ERR_BAD_ALGORITHM;
			break;
		case P_QOP: dst = c->qop_str, cap = sizeof(c->qop_str) - 1, over = AUTH_ERR_BAD_QOP; break;
		case P_NC: dst = c->nc_str, cap = sizeof(c->nc_str) - 1, over = AUTH_ERR_BAD_NC; break;
		case P_USERHASH:
			dst = s->userhash, cap = sizeof(s->userhash) - 1, over = AUTH_ERR_BAD_USERHASH;
			break;
		default: break;
		}
		if ((e = read_value(&p, end, dst, cap, over)))
			return e;
		if ((e = skip_lws(&p, end)))
			return e;
		if (p >= end)
			break;
		if (*p != ',')
			return AUTH_ERR_SYNTAX;
		p++;
		if ((e = skip_lws(&p, end)))
			return e;
		if (p >= end)
			return AUTH_ERR_SYNTAX; /* trailing comma */
	}

#define SEEN(id) ((seen & (1u << (id))) != 0)
	if (SEEN(P_USERNAME_EXT) && (e = decode_ext(s->username_ext, c->username, AUTH_USERNAME_MAX)))
		return e;
	if (!c->username[0])
		return AUTH_ERR_MISSING_USERNAME;
	if (!SEEN(P_REALM))
		return AUTH_ERR_MISSING_REALM;
	if (!c->nonce[0])
		return AUTH_ERR_MISSING_NONCE;
	if (!c->uri[0])
		return AUTH_ERR_MISSING_URI;
	if (!s->response[0])
		return AUTH_ERR_MISSING_RESPONSE;

	c->alg = AUTH_ALG_MD5; /* RFC 2617 3.2.1: absent means MD5 */
	if (SEEN(P_ALGORITHM)) {
		if (auth_alg_parse(slice_from_cstr(s->algorithm), &c->alg, &c->sess))
			return AUTH_ERR_BAD_ALGORITHM;
		c->has_algorithm = true;
	}
	size_t rl = strlen(s->response);
	if (rl != auth_alg_hexlen(c->alg))
		return AUTH_ERR_BAD_RESPONSE;
	for (size_t i = 0; i < rl; i++) {
		if (hexval((unsigned char)s->response[i]) < 0)
			return AUTH_ERR_BAD_RESPONSE;
		c->response[i] = (char)tolower((unsigned char)s->response[i]);
	}
	c->response[rl] = '\0';

	if (SEEN(P_QOP)) {
		/* RFC 7616 3.4: the client picks one qop-value */
		struct slice q = slice_from_cstr(c->qop_str);
		if (slice_eq_cstr_ci(q, "auth"))
			c->qop = AUTH_QOP_AUTH;
		else if (slice_eq_cstr_ci(q, "auth-int"))
			c->qop = AUTH_QOP_AUTH_INT;
		else
			return AUTH_ERR_BAD_QOP;
		if (!c->cnonce[0])
			return AUTH_ERR_MISSING_CNONCE;
		if (!SEEN(P_NC))
			return AUTH_ERR_MISSING_NC;
		/* nc-value = 8LHEX (RFC 7616 3.4); the first request uses 00000001 */
		if (strlen(c->nc_str) != 8)
			return AUTH_ERR_BAD_NC;
		uint32_t nc = 0;
		for (int i = 0; i < 8; i++) {
			int h = hexval((unsigned char)c->nc_str[i]);
			if (h < 0)
				return AUTH_ERR_BAD_NC;
			nc = nc << 4 | (uint32_t)h;
		}
		if (nc == 0)
			return AUTH_ERR_BAD_NC;
		c->nc = nc;
	} else {
		if (SEEN(P_CNONCE) || SEEN(P_NC))
			return AUTH_ERR_QOP_PARAMS;
		if (c->sess)
			return AUTH_ERR_SESS_NO_QOP;
	}
	if (SEEN(P_USERHASH)) {
		struct slice u = slice_from_cstr(s->userhash);
		if (slice_eq_cstr_ci(u, "true"))
			c->userhash = true;
		else if (!slice_eq_cstr_ci(u, "false"))
			return AUTH_ERR_BAD_USERHASH;
	}
	c->has_opaque = SEEN(P_OPAQUE);
#undef SEEN
	return AUTH_ERR_NONE;
}

int auth_cred_parse(struct slice value, struct auth_cred *c, enum auth_err *why)
{
	if (!c || (!value.p && value.len))
		return EINVAL;
	/* only what parse() reads before writing: the ~3 KiB of string buffers need their first
	 * byte, not a memset */
	c->username[0] = c->realm[0] = c->nonce[0] = c->uri[0] = c->response[0] = '\0';
	c->cnonce[0] = c->opaque[0] = c->nc_str[0] = c->qop_str[0] = '\0';
	c->nc = 0;
	c->qop = AUTH_QOP_NONE;
	c->alg = AUTH_ALG_MD5;
	c->sess = c->has_algorithm = c->has_opaque = c->userhash = false;
	struct scratch s;
	s.username_ext[0] = s.response[0] = s.algorithm[0] = s.userhash[0] = '\0';
	enum auth_err e = value.p ? parse(value, c, &s) : AUTH_ERR_SYNTAX;
	if (why)
		*why = e;
	return e ? EBADMSG : 0;
}
