/* Digest maths (RFC 3261 22.4, RFC 7616 3.4, RFC 8760 2): HA1, HA2, response, userhash.
 * Pure functions over OpenSSL EVP; no state, safe from any thread.
 *
 * "SHA-512-256" is FIPS 180-4 SHA-512/256 (its own initial values, EVP_sha512_256), as RFC 7616
 * 3.2 and RFC 8760 name it -- not SHA-512 cut to 256 bits. The worked example printed in RFC 7616
 * 3.9.2 was computed with the truncation and is a known-bad vector (testdata/digest/NOTES.md).
 *
 * Hex output is lowercase and NUL-terminated; AUTH_HEX_MAX holds any of them. */
#ifndef SIPSD_AUTH_DIGEST_H
#define SIPSD_AUTH_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

/* Order = preference, weakest first; challenges are emitted strongest first. */
enum auth_alg {
	AUTH_ALG_MD5 = 0,
	AUTH_ALG_SHA256,
	AUTH_ALG_SHA512_256,
	AUTH_ALG__COUNT
};

#define AUTH_ALG_BIT(a) (1u << (unsigned)(a))
#define AUTH_ALG_ALL ((1u << AUTH_ALG__COUNT) - 1u)

#define AUTH_HASH_MAX 32 /* bytes of the largest digest used */
#define AUTH_HEX_MAX (2 * AUTH_HASH_MAX + 1)

/* "MD5", "SHA-256", "SHA-512-256", with "-sess" appended when sess. */
const char *auth_alg_name(enum auth_alg alg, bool sess);
/* Short name for storage and tools: "md5", "sha256", "sha512_256". */
const char *auth_alg_key(enum auth_alg alg);
/* RFC 7616 3.4: algorithm tokens, case-insensitive, optionally "-sess". 0 or ENOTSUP. */
int auth_alg_parse(struct slice s, enum auth_alg *alg, bool *sess);
/* Number of hex characters of this algorithm's output (32 or 64). */
size_t auth_alg_hexlen(enum auth_alg alg);
/* False when the OpenSSL provider lacks the hash (MD5 under a FIPS provider). */
bool auth_alg_available(enum auth_alg alg);

/* HA1 = H(username ":" realm ":" password), what the store keeps instead of the password.
 * 0, EINVAL, ENOTSUP (hash unavailable), ENOMEM. */
int auth_ha1(enum auth_alg alg, struct slice username, struct slice realm, struct slice password,
	     char out[AUTH_HEX_MAX]);
/* RFC 7616 3.4.4: userhash = H(username ":" realm). */
int auth_userhash(enum auth_alg alg, struct slice username, struct slice realm, char out[AUTH_HEX_MAX]);
/* H(entity-body), for qop=auth-int. */
int auth_body_hash(enum auth_alg alg, struct slice body, char out[AUTH_HEX_MAX]);

/* Everything the response depends on; slices as they appear on the wire. */
struct auth_digest_in {
	enum auth_alg alg;
	bool sess;              /* -sess: HA1' = H(HA1 ":" nonce ":" cnonce) */
	struct slice ha1;       /* hex H(user:realm:password) */
	struct slice nonce;
	struct slice nc;        /* 8LHEX; ignored without qop */
	struct slice cnonce;
	struct slice qop;       /* "auth", "auth-int" or empty (RFC 2069 / 2617 compatibility) */
	struct slice method;
	struct slice uri;       /* digest-uri as sent */
	struct slice body_hash; /* hex H(entity-body), qop=auth-int only */
};

/* request-digest (RFC 7616 3.4.1): H(HA1:nonce:nc:cnonce:qop:HA2), or H(HA1:nonce:HA2) without
 * qop. 0, EINVAL (auth-int without body hash, sess without cnonce), ENOTSUP, ENOMEM. */
int auth_digest_response(const struct auth_digest_in *in, char out[AUTH_HEX_MAX]);

#endif
