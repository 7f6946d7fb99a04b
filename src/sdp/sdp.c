/* SDP parser and filtering builder (RFC 8866). Two passes over the body: the first finds the
 * line ends, checks every line's bytes and length and counts lines, a= lines and m= sections
 * against the limits, so that the object and its arrays are one allocation of the exact size;
 * the second parses the lines and fills the arrays with slices into the body. A limit or a bad
 * byte anywhere is reported before a syntax error on an earlier line, as the first pass sees the
 * whole body first. */
#include "sdp/sdp.h"

#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "base/mem.h"
#include "sdp/crypto.h"
#include "sdp/lex.h"

struct sdp {
	struct slice body;
	struct sdp_session sess;
	struct sdp_media *media; /* these arrays follow the struct in the same allocation */
	size_t n_media;
	struct sdp_attr *attrs; /* session attributes first, then each section's in body order */
	size_t n_attrs;
	/* Each a=crypto attribute parsed once, here, in the order of attrs: the policy judges the
	 * offer, then the answer against it, from these (RFC 4568 7.1). */
	struct sdp_crypto_info *crypto;
	size_t n_crypto;
};

/* The arrays are laid out right after struct sdp without padding. */
_Static_assert(sizeof(struct sdp) % alignof(struct sdp_media) == 0, "sdp_media array alignment");
_Static_assert(sizeof(struct sdp_media) % alignof(struct sdp_attr) == 0, "sdp_attr array alignment");
_Static_assert(sizeof(struct sdp_attr) % alignof(struct sdp_crypto_info) == 0, "crypto array alignment");

/* Where count_pass() found the first lines to end, so that fill_pass() does not search for
 * them again. SIP offers have a few dozen lines; past this many (a large WebRTC offer) the
 * second pass searches for the rest itself. */
#define LINE_ENDS_KEPT 128

struct line_ends {
	size_t n;
	size_t next[LINE_ENDS_KEPT]; /* offset just past line i + 1's LF (or the body's end) */
};

struct line_iter {
	struct slice body;
	size_t pos;
	unsigned lineno;
	const struct line_ends *ends;
};

/* One physical line. RFC 8866 5 says CRLF, but also asks parsers to accept a bare LF. */
struct line {
	struct slice text; /* without the line end */
	size_t off;
	size_t len; /* with the line end */
	unsigned lineno;
};

static bool fail(struct sdp_error *err, unsigned line, const char *reason)
{
	if (err) {
		err->line = line;
		err->reason = reason;
	}
	return false;
}

static int fail_rc(struct sdp_error *err, unsigned line, const char *reason, int rc)
{
	fail(err, line, reason);
	return rc;
}

/* The next line, or false at the end. Only the line end is needed: count_pass() has already
 * refused CR and NUL inside lines, and found where the first LINE_ENDS_KEPT lines end. */
static bool line_next(struct line_iter *it, struct line *ln)
{
	if (it->pos >= it->body.len)
		return false;
	const char *p = it->body.p + it->pos;
	size_t len;
	if (it->lineno < it->ends->n) {
		len = it->ends->next[it->lineno] - it->pos;
	} else {
		size_t rest = it->body.len - it->pos;
		const char *nl = memchr(p, '\n', rest);
		len = nl ? (size_t)(nl - p) + 1 : rest;
	}
	size_t textlen = len; /* at least 1 */
	if (p[textlen - 1] == '\n')
		textlen--;
	if (textlen && p[textlen - 1] == '\r')
		textlen--;
	ln->text = (struct slice){ p, textlen };
	ln->off = it->pos;
	ln->len = len;
	ln->lineno = ++it->lineno;
	it->pos += len;
	return true;
}

static bool is_token(struct slice s)
{
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if (!lex_is(s.p[i], LEX_TOKEN))
			return false;
	return true;
}

/* nettype SP addrtype: only IN IP4 / IN IP6 (RFC 8866 5.7) are meaningful to a SIP proxy. */
static bool parse_nettype(struct slice *rest, bool *ipv6, const char **why)
{
	struct slice nt, at;
	if (!lex_next_field(rest, &nt) || !lex_next_field(rest, &at)) {
		*why = "missing network or address type";
		return false;
	}
	if (!LEX_EQ(nt, "IN")) {
		*why = "network type is not IN";
		return false;
	}
	if (LEX_EQ(at, "IP4"))
		*ipv6 = false;
	else if (LEX_EQ(at, "IP6"))
		*ipv6 = true;
	else {
		*why = "address type is not IP4 or IP6";
		return false;
	}
	return true;
}

static bool parse_conn(struct slice v, struct sdp_conn *c, const char **why)
{
	struct slice addr, extra;
	if (!parse_nettype(&v, &c->ipv6, why))
		return false;
	if (!lex_next_field(&v, &addr) || lex_next_field(&v, &extra)) {
		*why = "c= needs exactly one connection address";
		return false;
	}
	c->present = true;
	c->addr = addr;
	return true;
}

static bool parse_origin(struct slice v, const char **why)
{
	struct slice f;
	bool ipv6;
	for (int i = 0; i < 3; i++) {
		if (!lex_next_field(&v, &f)) {
			*why = "o= has too few fields";
			return false;
		}
	}
	if (!parse_nettype(&v, &ipv6, why))
		return false;
	if (!lex_next_field(&v, &f) || lex_next_field(&v, &f)) {
		*why = "o= needs exactly one unicast address";
		return false;
	}
	return true;
}

static enum sdp_proto proto_from(struct slice s)
{
	/* Compared case-insensitively: RFC 8866 registers them upper-case but deployed stacks
	 * (and RFC 4568's own example, "udp") vary. */
	static const struct {
		const char *name;
		enum sdp_proto p;
	} tab[] = {
		{ "RTP/AVP", SDP_PROTO_RTP_AVP },
		{ "RTP/AVPF", SDP_PROTO_RTP_AVPF },
		{ "RTP/SAVP", SDP_PROTO_RTP_SAVP },
		{ "RTP/SAVPF", SDP_PROTO_RTP_SAVPF },
		{ "UDP/TLS/RTP/SAVP", SDP_PROTO_UDP_TLS_SAVP },
		{ "UDP/TLS/RTP/SAVPF", SDP_PROTO_UDP_TLS_SAVPF },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (lex_eq_ci(s, tab[i].name))
			return tab[i].p;
	return SDP_PROTO_OTHER;
}

const char *sdp_proto_name(enum sdp_proto p)
{
	switch (p) {
	case SDP_PROTO_RTP_AVP: return "RTP/AVP";
	case SDP_PROTO_RTP_AVPF: return "RTP/AVPF";
	case SDP_PROTO_RTP_SAVP: return "RTP/SAVP";
	case SDP_PROTO_RTP_SAVPF: return "RTP/SAVPF";
	case SDP_PROTO_UDP_TLS_SAVP: return "UDP/TLS/RTP/SAVP";
	case SDP_PROTO_UDP_TLS_SAVPF: return "UDP/TLS/RTP/SAVPF";
	case SDP_PROTO_OTHER: break;
	}
	return "other";
}

bool sdp_proto_is_rtp(enum sdp_proto p)
{
	return p != SDP_PROTO_OTHER;
}

bool sdp_proto_is_savp(enum sdp_proto p)
{
	return p == SDP_PROTO_RTP_SAVP || p == SDP_PROTO_RTP_SAVPF;
}

bool sdp_proto_is_dtls(enum sdp_proto p)
{
	return p == SDP_PROTO_UDP_TLS_SAVP || p == SDP_PROTO_UDP_TLS_SAVPF;
}

static bool parse_port(struct slice s, uint32_t *port, uint32_t *nports)
{
	const char *slash = memchr(s.p, '/', s.len);
	struct slice p = s, n = { NULL, 0 };
	uint64_t v;
	if (slash) {
		p.len = (size_t)(slash - s.p);
		n = (struct slice){ slash + 1, s.len - p.len - 1 };
	}
	if (!slice_to_u64(p, 65535, &v))
		return false;
	*port = (uint32_t)v;
	*nports = 1;
	if (slash) {
		if (!slice_to_u64(n, 65535, &v) || v == 0)
			return false;
		*nports = (uint32_t)v;
	}
	return true;
}

static bool parse_media(struct slice v, struct sdp_media *m, const char **why)
{
	struct slice port, fmt;
	if (!lex_next_field(&v, &m->media) || !lex_next_field(&v, &port) || !lex_next_field(&v, &m->proto_text)) {
		*why = "m= has too few fields";
		return false;
	}
	if (!is_token(m->media)) {
		*why = "m= media is not a token";
		return false;
	}
	if (!parse_port(port, &m->port, &m->nports)) {
		*why = "m= port is not a number up to 65535";
		return false;
	}
	m->proto = proto_from(m->proto_text);
	struct slice first = v;
	if (!lex_next_field(&first, &fmt)) {
		*why = "m= has no format";
		return false;
	}
	m->fmts = lex_trim(v);
	return true;
}

/* RFC 8866 6.7 direction attributes, matched as written (case-sensitive, as before). */
static enum sdp_dir dir_from(struct slice name)
{
	if (LEX_EQ(name, "sendrecv"))
		return SDP_DIR_SENDRECV;
	if (LEX_EQ(name, "sendonly"))
		return SDP_DIR_SENDONLY;
	if (LEX_EQ(name, "recvonly"))
		return SDP_DIR_RECVONLY;
	if (LEX_EQ(name, "inactive"))
		return SDP_DIR_INACTIVE;
	return SDP_DIR_UNSET;
}

static enum sdp_setup setup_from(struct slice v)
{
	v = lex_trim(v);
	if (LEX_EQ_CI(v, "active"))
		return SDP_SETUP_ACTIVE;
	if (LEX_EQ_CI(v, "passive"))
		return SDP_SETUP_PASSIVE;
	if (LEX_EQ_CI(v, "actpass"))
		return SDP_SETUP_ACTPASS;
	if (LEX_EQ_CI(v, "holdconn"))
		return SDP_SETUP_HOLDCONN;
	return SDP_SETUP_UNSET;
}

/* RFC 4567 3.1: key-mgmt:<prtcl-id> <keymgmt-data>; only "mikey" is registered. */
static bool is_mikey(struct slice v)
{
	struct slice id;
	return lex_next_field(&v, &id) && LEX_EQ_CI(id, "mikey");
}

/* Counts and facts an attribute contributes to its level (m, or the session when m is NULL).
 * The names have distinct lengths but for two pairs, so the length picks the candidates. */
static void note_attr(struct sdp *sdp, struct sdp_media *m, const struct sdp_attr *a)
{
	struct slice n = a->name;
	enum sdp_dir d;
	switch (n.len) {
	case 5:
		if (LEX_EQ_CI(n, "setup"))
			*(m ? &m->setup : &sdp->sess.setup) = setup_from(a->value);
		break;
	case 6:
		if (LEX_EQ_CI(n, "crypto")) {
			struct sdp_crypto c;
			sdp_crypto_parse(&c, a->value);
			sdp_crypto_info_from(&sdp->crypto[sdp->n_crypto++], &c);
			(*(m ? &m->n_crypto : &sdp->sess.n_crypto))++;
		} else if (m && LEX_EQ_CI(n, "rtpmap"))
			m->n_rtpmap++;
		break;
	case 8:
		if ((d = dir_from(n)) != SDP_DIR_UNSET)
			*(m ? &m->dir : &sdp->sess.dir) = d;
		else if (LEX_EQ_CI(n, "key-mgmt") && is_mikey(a->value))
			(*(m ? &m->n_mikey : &sdp->sess.n_mikey))++;
		break;
	case 11:
		if (LEX_EQ_CI(n, "fingerprint"))
			(*(m ? &m->n_fingerprint : &sdp->sess.n_fingerprint))++;
		break;
	}
}

/* RFC 8866 9: attribute = attribute-name [":" attribute-value], the name a token. ":" is not a
 * token character, so one scan both finds the end of the name and checks it. */
static bool parse_attr(struct slice v, struct sdp_attr *a, const char **why)
{
	size_t n = 0;
	while (n < v.len && lex_is(v.p[n], LEX_TOKEN))
		n++;
	if (n == 0 || (n < v.len && v.p[n] != ':')) {
		*why = "a= name is not a token";
		return false;
	}
	a->name = (struct slice){ v.p, n };
	a->value = n < v.len ? (struct slice){ v.p + n + 1, v.len - n - 1 } : (struct slice){ v.p + v.len, 0 };
	return true;
}

struct counts {
	size_t lines, attrs, media;
	size_t crypto; /* a= lines that may be a=crypto: at least as many as there are */
};

/* Whether the a= line text may hold an a=crypto attribute, judged the way fill_pass() reads the
 * name (after "a=" and any blanks), without its checks: an upper bound is enough to size the
 * array of parsed a=crypto lines. */
static bool maybe_crypto(struct slice text)
{
	struct slice rest;
	if (text.len < 2)
		return false;
	return LEX_PREFIX_CI(lex_trim((struct slice){ text.p + 2, text.len - 2 }), "crypto", &rest);
}

/* Also the only check for bad bytes: a CR not followed by LF, or a NUL, is malformed (RFC 8866 5:
 * text fields exclude NUL, CR and LF). Rather than searching each line three times, the next CR
 * and the first NUL are known ahead: one memchr for the NUL over the whole body, and one per line
 * for CRs (in a CRLF body, the one ending the line). */
static int count_pass(struct slice body, const struct sdp_limits *lim, struct counts *c,
		      struct line_ends *ends, struct sdp_error *err)
{
	const char *p = body.p, *end = body.p + body.len;
	const char *nul = body.len ? memchr(p, '\0', body.len) : NULL;
	const char *cr = body.len ? memchr(p, '\r', body.len) : NULL;
	unsigned lineno = 0;
	if (!nul)
		nul = end;
	if (!cr)
		cr = end;
	memset(c, 0, sizeof(*c));
	ends->n = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *next = nl ? nl + 1 : end;
		const char *text_end = nl ? nl : end;
		if (text_end > p && text_end[-1] == '\r')
			text_end--;
		if (ends->n < LINE_ENDS_KEPT)
			ends->next[ends->n++] = (size_t)(next - body.p);
		lineno++;
		if (nul < text_end || cr < text_end)
			return fail_rc(err, lineno, "CR or NUL inside a line", EBADMSG);
		if (cr < next) {
			/* the CR of this line's CRLF (or of a last line's lone CR): find the next one */
			cr = next < end ? memchr(next, '\r', (size_t)(end - next)) : NULL;
			if (!cr)
				cr = end;
		}
		struct slice text = { p, (size_t)(text_end - p) };
		size_t textlen = text.len;
		const char type = *p;
		p = next;
		if (textlen > lim->max_line_len)
			return fail_rc(err, lineno, "line too long", EMSGSIZE);
		if (textlen == 0)
			continue;
		if (++c->lines > lim->max_lines)
			return fail_rc(err, lineno, "too many lines", EMSGSIZE);
		if (type == 'a') {
			c->attrs++;
			if (maybe_crypto(text))
				c->crypto++;
		} else if (type == 'm' && ++c->media > lim->max_media)
			return fail_rc(err, lineno, "too many media sections", EMSGSIZE);
	}
	return 0;
}

static bool fill_pass(struct sdp *sdp, const struct line_ends *ends, struct sdp_error *err)
{
	struct line_iter it = { sdp->body, 0, 0, ends };
	struct line ln;
	bool seen_v = false, seen_o = false, seen_s = false;
	const char *why = NULL;
	struct sdp_media *m = NULL;

	while (line_next(&it, &ln)) {
		/* Blank lines are not in the grammar; skipping them costs nothing and keeps bodies
		 * with a trailing extra CRLF (seen in the wild) usable. */
		if (ln.text.len == 0)
			continue;
		if (ln.text.len < 2 || ln.text.p[1] != '=')
			return fail(err, ln.lineno, "line is not <type>=<value>");
		char type = ln.text.p[0];
		/* Trailing SP/HTAB is not in the grammar either; tolerated like blank lines. */
		struct slice v = lex_trim((struct slice){ ln.text.p + 2, ln.text.len - 2 });
		if (!seen_v && type != 'v')
			return fail(err, ln.lineno, "first line is not v=");
		switch (type) {
		case 'v':
			if (seen_v || !LEX_EQ(v, "0"))
				return fail(err, ln.lineno, "v= is not the single version 0");
			seen_v = true;
			break;
		case 'o':
			if (seen_o || m)
				return fail(err, ln.lineno, "o= repeated or misplaced");
			if (!parse_origin(v, &why))
				return fail(err, ln.lineno, why);
			sdp->sess.origin = v;
			seen_o = true;
			break;
		case 's':
			/* RFC 8866 5.3: s= carries at least one character ("s= " when none). */
			if (seen_s || m || ln.text.len < 3)
				return fail(err, ln.lineno, "s= empty, repeated or misplaced");
			sdp->sess.name = v;
			seen_s = true;
			break;
		case 'c': {
			struct sdp_conn *c = m ? &m->conn : &sdp->sess.conn;
			struct sdp_conn tmp = { 0 };
			if (!parse_conn(v, &tmp, &why))
				return fail(err, ln.lineno, why);
			/* Several c= lines are for layered multicast (RFC 8866 5.7); the first rules. */
			if (!c->present)
				*c = tmp;
			break;
		}
		case 'm':
			if (!seen_o || !seen_s)
				return fail(err, ln.lineno, "m= before o= and s=");
			m = &sdp->media[sdp->n_media];
			if (!parse_media(v, m, &why))
				return fail(err, ln.lineno, why);
			m->attr_first = sdp->n_attrs;
			m->crypto_first = sdp->n_crypto;
			m->lineno = ln.lineno;
			sdp->n_media++;
			break;
		case 'a': {
			struct sdp_attr *a = &sdp->attrs[sdp->n_attrs];
			if (!parse_attr(v, a, &why))
				return fail(err, ln.lineno, why);
			a->off = ln.off;
			a->len = ln.len;
			a->lineno = ln.lineno;
			sdp->n_attrs++;
			note_attr(sdp, m, a);
			if (m)
				m->attr_count++;
			else
				sdp->sess.attr_count++;
			break;
		}
		case 'i': case 'u': case 'e': case 'p': case 'b': case 't': case 'r': case 'z': case 'k':
			/* Known (RFC 8866 5.4-5.12); nothing here bears on media security. */
			break;
		default:
			/* RFC 8866 5: unknown type letters make the whole description unusable. */
			return fail(err, ln.lineno, "unknown line type");
		}
	}
	if (!seen_v)
		return fail(err, 0, "empty body");
	if (!seen_o || !seen_s)
		return fail(err, 0, "missing o= or s=");
	return true;
}

int sdp_parse(struct sdp **sdpp, struct slice body, const struct sdp_limits *lim,
	      struct sdp_error *err)
{
	struct sdp_limits dl = SDP_LIMITS_DEFAULT;
	struct counts c;
	struct line_ends ends;
	int rc;
	if (!sdpp || (!body.p && body.len))
		return EINVAL;
	if (!lim)
		lim = &dl;
	if (err) {
		err->line = 0;
		err->reason = NULL;
	}
	if (body.len > lim->max_body)
		return fail_rc(err, 0, "body too large", EMSGSIZE);
	rc = count_pass(body, lim, &c, &ends, err);
	if (rc)
		return rc;

	struct sdp *sdp = mem_zalloc(sizeof(*sdp) + c.media * sizeof(*sdp->media) + c.attrs * sizeof(*sdp->attrs) +
					     c.crypto * sizeof(*sdp->crypto),
				     NULL);
	if (!sdp)
		return ENOMEM;
	sdp->body = body;
	sdp->media = (struct sdp_media *)(sdp + 1);
	sdp->attrs = (struct sdp_attr *)(sdp->media + c.media);
	sdp->crypto = (struct sdp_crypto_info *)(sdp->attrs + c.attrs);
	if (!fill_pass(sdp, &ends, err)) {
		mem_deref(sdp);
		return EBADMSG;
	}
	*sdpp = sdp;
	return 0;
}

struct slice sdp_body(const struct sdp *sdp)
{
	return sdp ? sdp->body : (struct slice){ NULL, 0 };
}

const struct sdp_session *sdp_session_get(const struct sdp *sdp)
{
	return sdp ? &sdp->sess : NULL;
}

size_t sdp_media_count(const struct sdp *sdp)
{
	return sdp ? sdp->n_media : 0;
}

const struct sdp_media *sdp_media_get(const struct sdp *sdp, size_t i)
{
	return sdp && i < sdp->n_media ? &sdp->media[i] : NULL;
}

const struct sdp_attr *sdp_attr_get(const struct sdp *sdp, const struct sdp_media *m, size_t i)
{
	if (!sdp)
		return NULL;
	size_t first = m ? m->attr_first : 0;
	size_t count = m ? m->attr_count : sdp->sess.attr_count;
	return i < count ? &sdp->attrs[first + i] : NULL;
}

const struct sdp_crypto_info *sdp_crypto_get(const struct sdp *sdp, const struct sdp_media *m, size_t i)
{
	if (!sdp)
		return NULL;
	size_t first = m ? m->crypto_first : 0;
	size_t count = m ? m->n_crypto : sdp->sess.n_crypto;
	return i < count ? &sdp->crypto[first + i] : NULL;
}

const struct sdp_attr *sdp_attr_find(const struct sdp *sdp, const struct sdp_media *m,
				     const char *name)
{
	const struct sdp_attr *a;
	for (size_t i = 0; (a = sdp_attr_get(sdp, m, i)); i++)
		if (lex_eq_ci(a->name, name))
			return a;
	return NULL;
}

const struct sdp_conn *sdp_media_conn(const struct sdp *sdp, const struct sdp_media *m)
{
	if (m && m->conn.present)
		return &m->conn;
	return sdp && sdp->sess.conn.present ? &sdp->sess.conn : NULL;
}

static const struct sdp_media *media_of_attr(const struct sdp *sdp, size_t ai)
{
	for (size_t i = 0; i < sdp->n_media; i++) {
		const struct sdp_media *m = &sdp->media[i];
		if (ai >= m->attr_first && ai < m->attr_first + m->attr_count)
			return m;
	}
	return NULL;
}

int sdp_build_filtered(char **outp, size_t *lenp, const struct sdp *sdp, sdp_attr_keep_h *keeph,
		       void *arg)
{
	if (!outp || !sdp || !keeph)
		return EINVAL;
	char *out = mem_zalloc(sdp->body.len + 1, NULL);
	if (!out)
		return ENOMEM;
	size_t pos = 0, n = 0;
	for (size_t i = 0; i < sdp->n_attrs; i++) {
		const struct sdp_attr *a = &sdp->attrs[i];
		if (keeph(a, media_of_attr(sdp, i), arg))
			continue;
		memcpy(out + n, sdp->body.p + pos, a->off - pos);
		n += a->off - pos;
		pos = a->off + a->len;
	}
	if (sdp->body.len > pos) {
		memcpy(out + n, sdp->body.p + pos, sdp->body.len - pos);
		n += sdp->body.len - pos;
	}
	out[n] = '\0';
	*outp = out;
	if (lenp)
		*lenp = n;
	return 0;
}
