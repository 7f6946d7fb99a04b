#include "auth/verify.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>

const char *auth_result_name(enum auth_result r)
{
	switch (r) {
	case AUTH_OK: return "ok";
	case AUTH_WRONG: return "wrong_password";
	case AUTH_STALE: return "stale_nonce";
	case AUTH_NONCE: return "invalid_nonce";
	case AUTH_REPLAY: return "nc_replay";
	case AUTH_REALM: return "wrong_realm";
	case AUTH_ALGORITHM: return "algorithm_not_allowed";
	case AUTH_NO_QOP: return "qop_required";
	case AUTH_BAD: return "bad_arguments";
	}
	return "?";
}

struct out {
	char *p;
	size_t n, cap;
	bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->over || n >= o->cap - o->n) {
		o->over = true;
		return;
	}
	memcpy(o->p + o->n, s, n);
	o->n += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* quoted-string with quoted-pair for '"' and '\' (RFC 3261 25.1). */
static void put_quoted(struct out *o, struct slice s)
{
	put(o, "\"", 1);
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '"' || s.p[i] == '\\')
			put(o, "\\", 1);
		put(o, s.p + i, 1);
	}
	put(o, "\"", 1);
}

static bool printable(struct slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return false;
	}
	return true;
}

int auth_challenge_build(const struct auth_nonce_ctx *ctx, const struct auth_challenge *ch,
			 uint64_t now, char *buf, size_t bufsz, size_t *lenp)
{
	if (!ctx || !ch || !buf || bufsz == 0 || !printable(ch->realm) || !printable(ch->opaque))
		return EINVAL;
	char nonce[AUTH_NONCE_LEN + 1];
	int e = auth_nonce_make(ctx, ch->realm, ch->binding, now, nonce);
	if (e)
		return e;
	struct out o = { buf, 0, bufsz, false };
	unsigned offered = 0;
	for (int a = AUTH_ALG__COUNT - 1; a >= 0; a--) {
		if (!(ch->algs & AUTH_ALG_BIT(a)) || !auth_alg_available((enum auth_alg)a))
			continue;
		offered++;
		puts_(&o, ch->proxy ? "Proxy-Authenticate: Digest realm=" : "WWW-Authenticate: Digest realm=");
		put_quoted(&o, ch->realm);
		puts_(&o, ", nonce=\"");
		puts_(&o, nonce);
		puts_(&o, "\"");
		if (ch->opaque.len) {
			puts_(&o, ", opaque=");
			put_quoted(&o, ch->opaque);
		}
		puts_(&o, ", algorithm=");
		puts_(&o, auth_alg_name((enum auth_alg)a, false));
		puts_(&o, ", qop=\"auth\"");
		if (ch->stale)
			puts_(&o, ", stale=true");
		if (ch->userhash)
			puts_(&o, ", userhash=true");
		puts_(&o, "\r\n");
	}
	if (!offered)
		return EINVAL;
	if (o.over)
		return ENOSPC;
	buf[o.n] = '\0';
	if (lenp)
		*lenp = o.n;
	return 0;
}

enum auth_result auth_verify(const struct auth_nonce_ctx *ctx, struct auth_nc_table *nct,
			     const struct auth_cred *c, const struct auth_verify_params *p)
{
	if (!ctx || !c || !p)
		return AUTH_BAD;
	/* RFC 3261 22.4: the realm must be the one we challenged with */
	if (!slice_eq(slice_from_cstr(c->realm), p->realm))
		return AUTH_REALM;
	struct auth_nonce_info ni;
	enum auth_nonce_state ns = auth_nonce_check(ctx, slice_from_cstr(c->nonce), p->realm,
						    p->binding, p->now, &ni);
	if (ns == AUTH_NONCE_INVALID)
		return AUTH_NONCE;
	if (p->ha1.len == 0)
		return AUTH_ALGORITHM;
	if (p->ha1.len != auth_alg_hexlen(c->alg))
		return AUTH_BAD;
	if (c->qop == AUTH_QOP_NONE && !p->allow_no_qop)
		return AUTH_NO_QOP;

	char body_hash[AUTH_HEX_MAX] = "";
	if (c->qop == AUTH_QOP_AUTH_INT && auth_body_hash(c->alg, p->body, body_hash))
		return AUTH_BAD;
	struct auth_digest_in in = {
		.alg = c->alg,
		.sess = c->sess,
		.ha1 = p->ha1,
		.nonce = slice_from_cstr(c->nonce),
		.nc = slice_from_cstr(c->nc_str),
		.cnonce = slice_from_cstr(c->cnonce),
		.qop = slice_from_cstr(c->qop_str),
		.method = p->method,
		.uri = slice_from_cstr(c->uri),
		.body_hash = slice_from_cstr(body_hash),
	};
	char want[AUTH_HEX_MAX];
	if (auth_digest_response(&in, want))
		return AUTH_BAD;
	size_t n = auth_alg_hexlen(c->alg);
	/* Constant time: a timing difference would let an attacker learn the response byte by byte. */
	int diff = CRYPTO_memcmp(want, c->response, n);
	OPENSSL_cleanse(want, sizeof(want));
	if (diff != 0)
		return AUTH_WRONG;
	/* RFC 7616 3.3: stale only when the response itself was right. */
	if (ns == AUTH_NONCE_STALE)
		return AUTH_STALE;
	if (nct) {
		switch (auth_nc_check(nct, &ni, c->qop == AUTH_QOP_NONE ? 0 : c->nc, p->now)) {
		case AUTH_NC_OK: break;
		case AUTH_NC_REPLAY: return AUTH_REPLAY;
		case AUTH_NC_EVICTED: return AUTH_STALE;
		}
	}
	return AUTH_OK;
}
