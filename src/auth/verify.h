/* Digest challenge and verification (RFC 3261 22.4, RFC 7616 3.3-3.5, RFC 8760 2.4).
 * Policy stays with the caller (the registrar): which algorithms a user may use, whether
 * responses without qop are accepted, how each result maps to a response code. */
#ifndef SIPSD_AUTH_VERIFY_H
#define SIPSD_AUTH_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/cred.h"
#include "auth/digest.h"
#include "auth/nonce.h"
#include "base/slice.h"

struct auth_challenge {
	struct slice realm;
	unsigned algs;       /* AUTH_ALG_BIT() mask: the algorithms this user has an HA1 for */
	bool stale;          /* RFC 7616 3.3: the last response was right but its nonce expired */
	bool proxy;          /* Proxy-Authenticate (407) instead of WWW-Authenticate (401) */
	bool userhash;       /* advertise userhash=true (RFC 7616 3.4.4) */
	struct slice opaque; /* empty: none */
	struct slice binding;/* nonce binding, as later given to auth_verify() */
};

/* Writes one header line per offered algorithm, strongest first (RFC 8760 2.4: the preferred
 * algorithm first), each "WWW-Authenticate: Digest realm=..., nonce=..., algorithm=...,
 * qop=\"auth\"\r\n", all with the same fresh nonce. Algorithms whose hash the crypto provider
 * lacks are skipped. *lenp = bytes written (without the NUL added after them).
 * 0, EINVAL (no algorithm left, bad realm), ENOSPC (buf too small). */
int auth_challenge_build(const struct auth_nonce_ctx *ctx, const struct auth_challenge *ch,
			 uint64_t now, char *buf, size_t bufsz, size_t *lenp);

enum auth_result {
	AUTH_OK,
	AUTH_WRONG,     /* response mismatch: wrong password (403 after a challenge) */
	AUTH_STALE,     /* right response on an expired nonce, or one whose nc history was
			 * evicted: 401 with stale=true (RFC 7616 3.3) */
	AUTH_NONCE,     /* nonce not ours (forged, other realm or binding, from before a
			 * restart): 401 with a fresh challenge */
	AUTH_REPLAY,    /* nc not above the highest seen for the nonce: 401 fresh challenge */
	AUTH_REALM,     /* credentials for another realm: 401 fresh challenge */
	AUTH_ALGORITHM, /* no stored HA1 for the credentials' algorithm (disabled for the user) */
	AUTH_NO_QOP,    /* RFC 2069-style response refused by policy */
	AUTH_BAD,       /* arguments unusable (the caller's bug, or a hash unavailable) */
};
const char *auth_result_name(enum auth_result r);

struct auth_verify_params {
	struct slice method;  /* request method (RFC 3261 22.4: A2 uses it, not CSeq's) */
	struct slice realm;   /* realm this request is challenged in */
	struct slice binding; /* as given to the challenge */
	struct slice ha1;     /* stored hex HA1 for cred->alg; empty: AUTH_ALGORITHM */
	struct slice body;    /* message body (qop=auth-int) */
	uint64_t now;         /* unix seconds */
	bool allow_no_qop;    /* accept RFC 2069 responses (each nonce then single use) */
};

/* Order: realm, nonce authenticity, algorithm, qop policy, response (CRYPTO_memcmp), then the nc
 * table (nct may be NULL: no replay detection) -- nc is recorded only for a right response.
 * Neither logs nor keeps the response or HA1. */
enum auth_result auth_verify(const struct auth_nonce_ctx *ctx, struct auth_nc_table *nct,
			     const struct auth_cred *cred, const struct auth_verify_params *p);

#endif
