#include "sipscan.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *find_crlfcrlf(const char *p, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return p + i;
	}
	return NULL;
}

static bool ci_prefix(const char *p, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len >= n && strncasecmp(p, name, n) == 0;
}

/* Content-Length from a header block ("l" compact form too); -1 when malformed. */
static long content_length(const char *h, size_t len)
{
	const char *end = h + len;
	const char *line = h;
	while (line < end) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol)
			eol = end;
		size_t ll = (size_t)(eol - line);
		const char *colon = memchr(line, ':', ll);
		if (colon) {
			struct slice name = slice_trim((struct slice){ line, (size_t)(colon - line) });
			if (slice_eq_cstr_ci(name, "Content-Length") || slice_eq_cstr_ci(name, "l")) {
				struct slice v = { colon + 1, (size_t)(eol - colon - 1) };
				if (v.len && v.p[v.len - 1] == '\r')
					v.len--;
				uint64_t cl;
				if (!slice_to_u64(slice_trim(v), SIPSCAN_MAX_MSG, &cl))
					return -1;
				return (long)cl;
			}
		}
		line = eol + 1;
	}
	return 0; /* RFC 3261 18.3 requires it on streams; absent means no body here */
}

long sipscan_frame(const char *buf, size_t len)
{
	size_t skip = 0;
	while (skip < len && (buf[skip] == '\r' || buf[skip] == '\n'))
		skip++;
	if (skip)
		return (long)skip; /* keep-alive pong (RFC 5626 4.4.1) or stray line ends */
	const char *e = find_crlfcrlf(buf, len);
	if (!e)
		return len > SIPSCAN_MAX_MSG ? -1 : 0;
	size_t hlen = (size_t)(e - buf) + 4;
	long cl = content_length(buf, hlen);
	if (cl < 0 || hlen + (size_t)cl > SIPSCAN_MAX_MSG)
		return -1;
	if (len < hlen + (size_t)cl)
		return 0;
	return (long)(hlen + (size_t)cl);
}

bool sipscan_parse(const char *buf, size_t len, struct smsg *m)
{
	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	const char *e = find_crlfcrlf(buf, len);
	const char *sl_end = memchr(buf, '\r', len);
	if (!e || !sl_end)
		return false;
	struct slice sl = { buf, (size_t)(sl_end - buf) };
	if (ci_prefix(sl.p, sl.len, "SIP/2.0 ")) {
		if (sl.len < 11)
			return false;
		uint64_t st;
		if (!slice_to_u64((struct slice){ sl.p + 8, 3 }, 699, &st) || st < 100)
			return false;
		m->is_resp = true;
		m->status = (unsigned)st;
	} else {
		const char *sp = memchr(sl.p, ' ', sl.len);
		if (!sp)
			return false;
		m->method = (struct slice){ sl.p, (size_t)(sp - sl.p) };
		const char *sp2 = memchr(sp + 1, ' ', (size_t)(sl.p + sl.len - sp - 1));
		if (!sp2)
			return false;
		m->ruri = (struct slice){ sp + 1, (size_t)(sp2 - sp - 1) };
	}
	const char *h = sl_end + 2;
	m->hdrs = (struct slice){ h, e >= h ? (size_t)(e + 2 - h) : 0 };
	m->body = (struct slice){ e + 4, len - (size_t)(e + 4 - buf) };
	return true;
}

bool sipscan_hdr(const struct smsg *m, const char *name, char compact, unsigned idx,
		 struct slice *val, struct slice *line)
{
	const char *p = m->hdrs.p, *end = m->hdrs.p + m->hdrs.len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		eol = eol ? eol + 1 : end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (colon) {
			struct slice n = slice_trim((struct slice){ p, (size_t)(colon - p) });
			bool hit = slice_eq_cstr_ci(n, name) ||
				   (compact && n.len == 1 && (n.p[0] | 0x20) == (compact | 0x20));
			if (hit && idx-- == 0) {
				struct slice v = { colon + 1, (size_t)(eol - colon - 1) };
				while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == '\r'))
					v.len--;
				*val = slice_trim(v);
				if (line)
					*line = (struct slice){ p, (size_t)(eol - p) };
				return true;
			}
		}
		p = eol;
	}
	return false;
}

bool sipscan_hparam(struct slice v, const char *name, struct slice *out)
{
	const char *p = v.p, *end = v.p + v.len;
	const char *gt = memchr(p, '>', v.len);
	if (gt)
		p = gt + 1;
	size_t nl = strlen(name);
	while (p < end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			return false;
		p = semi + 1;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) >= nl && strncasecmp(p, name, nl) == 0 &&
		    (p + nl == end || p[nl] == '=' || p[nl] == ';' || p[nl] == ' ')) {
			const char *vs = p + nl;
			if (vs < end && *vs == '=')
				vs++;
			const char *ve = vs;
			while (ve < end && *ve != ';' && *ve != ',' && *ve != ' ')
				ve++;
			*out = (struct slice){ vs, (size_t)(ve - vs) };
			return true;
		}
	}
	return false;
}

bool sipscan_authparam(struct slice v, const char *name, struct slice *out)
{
	const char *p = v.p, *end = v.p + v.len;
	/* skip the scheme token */
	while (p < end && *p != ' ')
		p++;
	size_t nl = strlen(name);
	while (p < end) {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\t'))
			p++;
		const char *ns = p;
		while (p < end && *p != '=' && *p != ',')
			p++;
		struct slice n = slice_trim((struct slice){ ns, (size_t)(p - ns) });
		if (p >= end || *p != '=')
			continue;
		p++;
		while (p < end && *p == ' ')
			p++;
		struct slice val;
		if (p < end && *p == '"') {
			const char *vs = ++p;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				p++;
			}
			val = (struct slice){ vs, (size_t)(p - vs) };
			if (p < end)
				p++;
		} else {
			const char *vs = p;
			while (p < end && *p != ',')
				p++;
			val = slice_trim((struct slice){ vs, (size_t)(p - vs) });
		}
		if (n.len == nl && strncasecmp(n.p, name, nl) == 0) {
			*out = val;
			return true;
		}
	}
	return false;
}

struct slice sipscan_uri(struct slice v)
{
	const char *lt = memchr(v.p, '<', v.len);
	if (lt) {
		const char *gt = memchr(lt, '>', (size_t)(v.p + v.len - lt));
		if (gt)
			return (struct slice){ lt + 1, (size_t)(gt - lt - 1) };
	}
	const char *semi = memchr(v.p, ';', v.len);
	return slice_trim((struct slice){ v.p, semi ? (size_t)(semi - v.p) : v.len });
}

struct slice sipscan_cseq_method(const struct smsg *m)
{
	struct slice v;
	if (!sipscan_hdr(m, "CSeq", 0, 0, &v, NULL))
		return (struct slice){ "", 0 };
	const char *sp = memchr(v.p, ' ', v.len);
	if (!sp)
		return (struct slice){ "", 0 };
	return slice_trim((struct slice){ sp + 1, (size_t)(v.p + v.len - sp - 1) });
}

const char *digest_alg(struct slice ch)
{
	struct slice a;
	if (!sipscan_authparam(ch, "algorithm", &a) || slice_eq_cstr_ci(a, "MD5"))
		return "MD5";
	if (slice_eq_cstr_ci(a, "SHA-256"))
		return "SHA-256";
	return NULL;
}

static bool hex_digest(const EVP_MD *md, const char *in, size_t inlen, char *out, size_t outsz)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl = 0;
	if (!EVP_Digest(in, inlen, d, &dl, md, NULL) || outsz < (size_t)dl * 2 + 1)
		return false;
	static const char hx[] = "0123456789abcdef";
	for (unsigned i = 0; i < dl; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[2 * dl] = '\0';
	return true;
}

int digest_answer(const struct digest_in *in, char *out, size_t outsz)
{
	const char *alg = digest_alg(in->challenge);
	if (!alg)
		return -1;
	const EVP_MD *md = strcmp(alg, "MD5") == 0 ? EVP_md5() : EVP_sha256();
	struct slice realm = { "", 0 }, nonce, opaque, qop;
	sipscan_authparam(in->challenge, "realm", &realm);
	if (!sipscan_authparam(in->challenge, "nonce", &nonce) || nonce.len > 512 || realm.len > 256)
		return -1;
	bool has_opaque = sipscan_authparam(in->challenge, "opaque", &opaque) && opaque.len < 512;
	bool use_qop = false;
	if (sipscan_authparam(in->challenge, "qop", &qop)) {
		/* qop-options is a quoted list; we answer "auth" when offered (RFC 3261 22.4). */
		for (size_t i = 0; i + 4 <= qop.len; i++) {
			if (strncasecmp(qop.p + i, "auth", 4) == 0 &&
			    (i + 4 == qop.len || qop.p[i + 4] == ',' || qop.p[i + 4] == ' ') &&
			    (i == 0 || qop.p[i - 1] == ',' || qop.p[i - 1] == ' '))
				use_qop = true;
		}
	}
	char buf[1024], ha1[129], ha2[129], resp[129], cnonce[17] = { 0 };
	int n = snprintf(buf, sizeof(buf), "%s:%.*s:%s", in->user, (int)realm.len, realm.p, in->password);
	if (n < 0 || (size_t)n >= sizeof(buf) || !hex_digest(md, buf, (size_t)n, ha1, sizeof(ha1)))
		return -1;
	n = snprintf(buf, sizeof(buf), "%s:%s", in->method, in->uri);
	if (n < 0 || (size_t)n >= sizeof(buf) || !hex_digest(md, buf, (size_t)n, ha2, sizeof(ha2)))
		return -1;
	if (use_qop) {
		unsigned char r[8];
		if (RAND_bytes(r, sizeof(r)) != 1)
			return -1;
		for (int i = 0; i < 8; i++)
			snprintf(cnonce + 2 * i, 3, "%02x", r[i]);
		n = snprintf(buf, sizeof(buf), "%s:%.*s:%08x:%s:auth:%s", ha1, (int)nonce.len, nonce.p,
			     in->nc, cnonce, ha2);
	} else {
		n = snprintf(buf, sizeof(buf), "%s:%.*s:%s", ha1, (int)nonce.len, nonce.p, ha2);
	}
	if (n < 0 || (size_t)n >= sizeof(buf) || !hex_digest(md, buf, (size_t)n, resp, sizeof(resp)))
		return -1;
	int len = snprintf(out, outsz,
			   "Digest username=\"%s\", realm=\"%.*s\", nonce=\"%.*s\", uri=\"%s\", "
			   "response=\"%s\", algorithm=%s",
			   in->user, (int)realm.len, realm.p, (int)nonce.len, nonce.p, in->uri, resp, alg);
	if (len < 0 || (size_t)len >= outsz)
		return -1;
	if (use_qop) {
		int k = snprintf(out + len, outsz - (size_t)len, ", qop=auth, nc=%08x, cnonce=\"%s\"",
				 in->nc, cnonce);
		if (k < 0 || (size_t)k >= outsz - (size_t)len)
			return -1;
		len += k;
	}
	if (has_opaque) {
		int k = snprintf(out + len, outsz - (size_t)len, ", opaque=\"%.*s\"", (int)opaque.len,
				 opaque.p);
		if (k < 0 || (size_t)k >= outsz - (size_t)len)
			return -1;
		len += k;
	}
	return len;
}
