/* a=crypto (RFC 4568 9.1 grammar, 6.1-6.3 SRTP key and session parameters).
 *
 * Keys are validated by counting what their base64 decodes to; they are never decoded into
 * memory, so there is nothing to wipe and nothing that could leak into a log. */
#include "sdp/crypto.h"

#include <string.h>

#include "sdp/lex.h"

/* Each suite with the lengths of its spellings, so that a lookup compares lengths first. */
static const struct suite_entry {
	struct sdp_crypto_suite suite;
	uint8_t name_len;
	uint8_t alias_len; /* 0: no alias */
} suites[] = {
#define SUITE(name, key, salt, insecure) { { name, NULL, key, salt, insecure }, sizeof(name) - 1, 0 }
#define SUITE_ALIAS(name, alias, key, salt) { { name, alias, key, salt, false }, sizeof(name) - 1, sizeof(alias) - 1 }
	/* RFC 4568 6.2: 128-bit master key, 112-bit salt */
	SUITE("AES_CM_128_HMAC_SHA1_80", 16, 14, false),
	SUITE("AES_CM_128_HMAC_SHA1_32", 16, 14, false),
	SUITE("F8_128_HMAC_SHA1_80", 16, 14, false),
	/* RFC 6188 7.1; pjsip and others also write AES_CM_192/256_... */
	SUITE_ALIAS("AES_192_CM_HMAC_SHA1_80", "AES_CM_192_HMAC_SHA1_80", 24, 14),
	SUITE_ALIAS("AES_192_CM_HMAC_SHA1_32", "AES_CM_192_HMAC_SHA1_32", 24, 14),
	SUITE_ALIAS("AES_256_CM_HMAC_SHA1_80", "AES_CM_256_HMAC_SHA1_80", 32, 14),
	SUITE_ALIAS("AES_256_CM_HMAC_SHA1_32", "AES_CM_256_HMAC_SHA1_32", 32, 14),
	/* RFC 7714 12: 96-bit salt */
	SUITE("AEAD_AES_128_GCM", 16, 12, false),
	SUITE("AEAD_AES_256_GCM", 32, 12, false),
	/* Debug suites without encryption (libsrtp's null cipher; seed 003's "NULL" choice).
	 * They still carry a 30-octet master key for the HMAC key derivation. */
	SUITE("NULL_HMAC_SHA1_80", 16, 14, true),
	SUITE("NULL_HMAC_SHA1_32", 16, 14, true),
#undef SUITE
#undef SUITE_ALIAS
};

/* RFC 3711 3.2.1 / RFC 7714 14: at most 2^48 SRTP packets per master key. */
#define SRTP_MAX_LIFETIME_LOG2 48

/* RFC 4568 9.1 crypto-suite names are ABNF literals, hence case-insensitive; stacks send them
 * as registered, upper case, so an exact memcmp decides first. */
static bool suite_name_is(struct slice s, const char *name, size_t len)
{
	return s.len == len && (memcmp(s.p, name, len) == 0 || lex_same_ci(s.p, name, len));
}

const struct sdp_crypto_suite *sdp_crypto_suite_find(struct slice name)
{
	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++) {
		const struct suite_entry *e = &suites[i];
		if (suite_name_is(name, e->suite.name, e->name_len) ||
		    (e->alias_len && suite_name_is(name, e->suite.alias, e->alias_len)))
			return &e->suite;
	}
	return NULL;
}

bool sdp_crypto_status_malformed(enum sdp_crypto_status st)
{
	return st >= SDP_CRYPTO_BAD_TAG;
}

const char *sdp_crypto_status_text(enum sdp_crypto_status st)
{
	switch (st) {
	case SDP_CRYPTO_OK: return "ok";
	case SDP_CRYPTO_UNKNOWN_SUITE: return "unknown crypto suite";
	case SDP_CRYPTO_UNKNOWN_METHOD: return "unknown key method";
	case SDP_CRYPTO_UNKNOWN_PARAM: return "unknown mandatory session parameter";
	case SDP_CRYPTO_BAD_TAG: return "malformed tag";
	case SDP_CRYPTO_BAD_SYNTAX: return "missing crypto-suite or key parameters";
	case SDP_CRYPTO_NO_KEY: return "missing key";
	case SDP_CRYPTO_BAD_KEY_METHOD: return "key parameter without method";
	case SDP_CRYPTO_BAD_BASE64: return "key is not base64";
	case SDP_CRYPTO_BAD_KEY_LENGTH: return "wrong key length";
	case SDP_CRYPTO_BAD_LIFETIME: return "malformed key lifetime";
	case SDP_CRYPTO_BAD_MKI: return "malformed MKI";
	case SDP_CRYPTO_BAD_SESSION_PARAM: return "malformed session parameter";
	case SDP_CRYPTO_TOO_MANY_KEYS: return "too many keys";
	}
	return "invalid";
}

/* Split s at the first sep: head before it, s after it; false (head = all) when absent. */
static bool split_at(struct slice *s, char sep, struct slice *head)
{
	const char *at = s->len ? memchr(s->p, sep, s->len) : NULL;
	if (!at) {
		*head = *s;
		*s = (struct slice){ s->p + s->len, 0 };
		return false;
	}
	*head = (struct slice){ s->p, (size_t)(at - s->p) };
	s->len -= head->len + 1;
	s->p = at + 1;
	return true;
}

static bool is_b64(char c)
{
	return lex_is(c, LEX_B64);
}

/* RFC 4648 4 alphabet. Padding is optional (some stacks drop it) but, when present, must end
 * the text and complete a 4-character group. */
static bool b64_decoded_len(struct slice s, size_t *out)
{
	size_t n = 0, pad = 0;
	while (n < s.len && is_b64(s.p[n]))
		n++;
	while (n + pad < s.len && s.p[n + pad] == '=')
		if (++pad > 2)
			return false;
	if (n + pad != s.len)
		return false; /* not base64, or something after the padding */
	if (n == 0 || n % 4 == 1 || (pad && (n + pad) % 4))
		return false;
	*out = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
	return true;
}

/* lifetime = ["2^"] 1*(DIGIT) (RFC 4568 9.2) */
static bool parse_lifetime(struct slice s, uint64_t *out)
{
	struct slice exp;
	uint64_t v;
	if (LEX_PREFIX_CI(s, "2^", &exp)) {
		if (exp.len > 2 || !slice_to_u64(exp, SRTP_MAX_LIFETIME_LOG2, &v))
			return false;
		*out = UINT64_C(1) << v;
		return true;
	}
	if (!slice_to_u64(s, UINT64_C(1) << SRTP_MAX_LIFETIME_LOG2, &v) || v == 0)
		return false;
	*out = v;
	return true;
}

/* mki = mki-value ":" mki-length; mki-length = 1*3DIGIT, 1..128 octets (RFC 4568 6.1) */
static bool parse_mki(struct slice s, struct sdp_crypto_key *k)
{
	struct slice val;
	uint64_t len;
	if (!split_at(&s, ':', &val) || val.len == 0 || s.len > 3 ||
	    !slice_to_u64(s, 128, &len) || len == 0)
		return false;
	for (size_t i = 0; i < val.len; i++)
		if (val.p[i] < '0' || val.p[i] > '9')
			return false;
	k->has_mki = true;
	k->mki_len = (unsigned)len;
	k->mki = 0;
	/* The value must fit the declared length; only checkable when that is under 8 octets. */
	if (!slice_to_u64(val, UINT64_MAX, &k->mki)) {
		if (len <= 8)
			return false;
	} else if (len < 8 && k->mki >> (8 * len)) {
		return false;
	}
	return true;
}

/* key-salt ["|" lifetime] ["|" mki] (RFC 4568 6.1). The key length is checked last so that a
 * wrong-length key still reports its lifetime and MKI. */
static enum sdp_crypto_status parse_key_info(struct slice info, struct sdp_crypto_key *k)
{
	struct slice part;
	bool more = split_at(&info, '|', &k->key_salt);
	if (k->key_salt.len == 0)
		return SDP_CRYPTO_NO_KEY;
	if (!b64_decoded_len(k->key_salt, &k->decoded_len))
		return SDP_CRYPTO_BAD_BASE64;
	if (!more)
		return SDP_CRYPTO_OK;
	if (info.len == 0)
		return SDP_CRYPTO_BAD_LIFETIME;
	more = split_at(&info, '|', &part);
	if (memchr(part.p, ':', part.len)) {
		/* lifetime omitted, this is the MKI */
		if (more)
			return SDP_CRYPTO_BAD_MKI;
		return parse_mki(part, k) ? SDP_CRYPTO_OK : SDP_CRYPTO_BAD_MKI;
	}
	if (!parse_lifetime(part, &k->lifetime))
		return SDP_CRYPTO_BAD_LIFETIME;
	k->has_lifetime = true;
	if (!more)
		return SDP_CRYPTO_OK;
	return parse_mki(info, k) ? SDP_CRYPTO_OK : SDP_CRYPTO_BAD_MKI;
}

static enum sdp_crypto_status parse_inline(struct sdp_crypto *c, struct slice info,
					   struct sdp_crypto_key *k)
{
	enum sdp_crypto_status st = parse_key_info(info, k);
	if (st != SDP_CRYPTO_OK || !c->suite)
		return st;
	size_t need = (size_t)c->suite->key_len + c->suite->salt_len;
	if (k->decoded_len != need) {
		c->bad_len = k->decoded_len;
		c->need_len = need;
		return SDP_CRYPTO_BAD_KEY_LENGTH;
	}
	return SDP_CRYPTO_OK;
}

/* key-params = key-param *(";" key-param); key-param = key-method ":" key-info */
static enum sdp_crypto_status parse_key_params(struct sdp_crypto *c, struct slice kp, bool *unknown)
{
	struct slice one, info;
	bool more = true;
	while (more) {
		more = split_at(&kp, ';', &one);
		if (!LEX_PREFIX_CI(one, "inline:", &info)) {
			/* Another key method (RFC 4568 5.1 allows them): needs method ":" info. */
			const char *colon = one.len ? memchr(one.p, ':', one.len) : NULL;
			if (!colon || colon == one.p || (size_t)(colon - one.p) + 1 == one.len)
				return SDP_CRYPTO_BAD_KEY_METHOD;
			*unknown = true;
			continue;
		}
		if (c->n_keys == SDP_CRYPTO_MAX_KEYS)
			return SDP_CRYPTO_TOO_MANY_KEYS;
		struct sdp_crypto_key *k = &c->keys[c->n_keys++];
		enum sdp_crypto_status st = parse_inline(c, info, k);
		if (st != SDP_CRYPTO_OK)
			return st;
	}
	/* RFC 4568 6.1: with several keys, each carries an MKI of one common length, values
	 * distinct, so the receiver can tell which key a packet uses. */
	if (c->n_keys > 1) {
		for (unsigned i = 0; i < c->n_keys; i++) {
			if (!c->keys[i].has_mki || c->keys[i].mki_len != c->keys[0].mki_len)
				return SDP_CRYPTO_BAD_MKI;
			for (unsigned j = 0; j < i; j++)
				if (c->keys[j].mki == c->keys[i].mki && c->keys[i].mki_len <= 8)
					return SDP_CRYPTO_BAD_MKI;
		}
	}
	return SDP_CRYPTO_OK;
}

/* RFC 4568 6.3 SRTP session parameters. */
static enum sdp_crypto_status parse_session_param(struct sdp_crypto *c, struct slice p, bool *unknown)
{
	struct slice v;
	uint64_t n;
	if (LEX_EQ_CI(p, "UNENCRYPTED_SRTP")) {
		c->flags |= SDP_CRYPTO_F_UNENCRYPTED_SRTP;
	} else if (LEX_EQ_CI(p, "UNENCRYPTED_SRTCP")) {
		c->flags |= SDP_CRYPTO_F_UNENCRYPTED_SRTCP;
	} else if (LEX_EQ_CI(p, "UNAUTHENTICATED_SRTP")) {
		c->flags |= SDP_CRYPTO_F_UNAUTHENTICATED_SRTP;
	} else if (LEX_PREFIX_CI(p, "KDR=", &v)) {
		/* 6.3.1: 1*2DIGIT, a power of two exponent 0..24 (RFC 3711 4.3.1) */
		if (v.len > 2 || !slice_to_u64(v, 24, &n))
			return SDP_CRYPTO_BAD_SESSION_PARAM;
		c->kdr = (unsigned)n;
		c->flags |= SDP_CRYPTO_F_KDR;
	} else if (LEX_PREFIX_CI(p, "FEC_ORDER=", &v)) {
		if (!LEX_EQ_CI(v, "FEC_SRTP") && !LEX_EQ_CI(v, "SRTP_FEC"))
			return SDP_CRYPTO_BAD_SESSION_PARAM;
		c->flags |= SDP_CRYPTO_F_FEC_ORDER;
	} else if (LEX_PREFIX_CI(p, "FEC_KEY=", &v)) {
		/* 6.3.4: key-params for the FEC stream, same rules as the main keys */
		struct sdp_crypto fec = { .suite = c->suite };
		enum sdp_crypto_status st = parse_key_params(&fec, v, unknown);
		if (st != SDP_CRYPTO_OK) {
			c->bad_len = fec.bad_len;
			c->need_len = fec.need_len;
			return st;
		}
		c->flags |= SDP_CRYPTO_F_FEC_KEY;
	} else if (LEX_PREFIX_CI(p, "WSH=", &v)) {
		/* 6.3.5: replay window size hint, at least 64 */
		if (v.len < 2 || !slice_to_u64(v, UINT32_MAX, &n) || n < 64)
			return SDP_CRYPTO_BAD_SESSION_PARAM;
		c->wsh = (unsigned)n;
		c->flags |= SDP_CRYPTO_F_WSH;
	} else if (p.p[0] == '-') {
		/* 6.3.7: extensions prefixed with "-" may be ignored */
	} else {
		/* 6.3.7: any other unknown parameter makes the line unusable, not malformed */
		*unknown = true;
	}
	return SDP_CRYPTO_OK;
}

static enum sdp_crypto_status done(struct sdp_crypto *c, enum sdp_crypto_status st)
{
	c->status = st;
	return st;
}

enum sdp_crypto_status sdp_crypto_parse(struct sdp_crypto *c, struct slice value)
{
	struct slice tag, suite, kp, p;
	uint64_t t;
	bool unknown_method = false, unknown_param = false;
	enum sdp_crypto_status st;

	memset(c, 0, sizeof(*c));
	if (!lex_next_field(&value, &tag))
		return done(c, SDP_CRYPTO_BAD_TAG);
	/* 9.1: tag = 1*9DIGIT; leading zeros allowed, the value is what must be unique */
	if (tag.len > 9 || !slice_to_u64(tag, 999999999, &t))
		return done(c, SDP_CRYPTO_BAD_TAG);
	c->tag = (uint32_t)t;
	c->tag_valid = true;
	if (!lex_next_long_field(&value, &suite) || !lex_next_long_field(&value, &kp))
		return done(c, SDP_CRYPTO_BAD_SYNTAX);
	for (size_t i = 0; i < suite.len; i++)
		if (!lex_is(suite.p[i], LEX_SUITE))
			return done(c, SDP_CRYPTO_BAD_SYNTAX);
	c->suite_name = suite;
	c->suite = sdp_crypto_suite_find(suite);
	st = parse_key_params(c, kp, &unknown_method);
	if (st != SDP_CRYPTO_OK)
		return done(c, st);
	while (lex_next_field(&value, &p)) {
		st = parse_session_param(c, p, &unknown_param);
		if (st != SDP_CRYPTO_OK)
			return done(c, st);
	}
	if (!c->suite)
		return done(c, SDP_CRYPTO_UNKNOWN_SUITE);
	if (c->n_keys == 0 || unknown_method)
		return done(c, SDP_CRYPTO_UNKNOWN_METHOD);
	if (unknown_param)
		return done(c, SDP_CRYPTO_UNKNOWN_PARAM);
	return done(c, SDP_CRYPTO_OK);
}

bool sdp_crypto_insecure(const struct sdp_crypto *c)
{
	return (c->suite && c->suite->insecure) ||
	       (c->flags & (SDP_CRYPTO_F_UNENCRYPTED_SRTP | SDP_CRYPTO_F_UNAUTHENTICATED_SRTP));
}

void sdp_crypto_info_from(struct sdp_crypto_info *ci, const struct sdp_crypto *c)
{
	ci->status = c->status;
	ci->tag = c->tag;
	ci->tag_valid = c->tag_valid;
	ci->insecure = sdp_crypto_insecure(c);
	ci->suite = c->suite;
	ci->suite_name = c->suite_name;
	ci->bad_len = c->bad_len;
	ci->need_len = c->need_len;
}

static size_t put(char *buf, size_t bufsz, size_t n, const char *s, size_t len)
{
	if (n + 1 >= bufsz)
		return n;
	size_t room = bufsz - 1 - n;
	if (len > room)
		len = room;
	memcpy(buf + n, s, len);
	return n + len;
}

size_t sdp_redact_keys(struct slice text, char *buf, size_t bufsz)
{
	static const char red[] = "<redacted>";
	size_t n = 0, i = 0;
	bool bol = true;
	if (!buf || bufsz == 0)
		return 0;
	while (i < text.len) {
		struct slice rest = { text.p + i, text.len - i }, after;
		size_t skip = 0;
		if (LEX_PREFIX_CI(rest, "inline:", &after)) {
			n = put(buf, bufsz, n, rest.p, 7);
			skip = 7;
			while (skip < rest.len && is_b64(rest.p[skip]))
				skip++;
			while (skip < rest.len && rest.p[skip] == '=')
				skip++;
			n = put(buf, bufsz, n, red, sizeof(red) - 1);
		} else if (bol && LEX_PREFIX_CI(rest, "k=", &after)) {
			/* RFC 8866 5.12 k= may carry a key in clear */
			n = put(buf, bufsz, n, rest.p, 2);
			skip = 2;
			while (skip < rest.len && rest.p[skip] != '\r' && rest.p[skip] != '\n')
				skip++;
			n = put(buf, bufsz, n, red, sizeof(red) - 1);
		} else {
			n = put(buf, bufsz, n, rest.p, 1);
			skip = 1;
		}
		bol = rest.p[skip - 1] == '\n';
		i += skip;
	}
	buf[n] = '\0';
	return n;
}
