/* a=crypto (SDES, RFC 4568) parsing and validation for the SRTP transport.
 *
 * The parsed form holds slices that point at key material (key_salt). Nothing in this module
 * copies, decodes into memory or prints a key; callers must not log those slices either. Use
 * sdp_redact_keys() to describe a line or a body. */
#ifndef SIPSD_SDP_CRYPTO_H
#define SIPSD_SDP_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/* RFC 4568 6.2 / RFC 6188 / RFC 7714 12 / NULL debug suites (no encryption). */
struct sdp_crypto_suite {
	const char *name;  /* registered spelling, used in Warning texts */
	const char *alias; /* widespread non-registered spelling (pjsip, Asterisk), or NULL */
	uint8_t key_len;
	uint8_t salt_len;
	bool insecure; /* media would flow unencrypted */
};

const struct sdp_crypto_suite *sdp_crypto_suite_find(struct slice name);

enum sdp_crypto_status {
	SDP_CRYPTO_OK,
	/* Well-formed but not selectable: RFC 4568 7.1.2 lets the answerer skip such lines. */
	SDP_CRYPTO_UNKNOWN_SUITE,
	SDP_CRYPTO_UNKNOWN_METHOD, /* key method other than "inline" */
	SDP_CRYPTO_UNKNOWN_PARAM,  /* mandatory session parameter not understood (6.3.7) */
	/* Malformed from here on: the whole offer is refused. */
	SDP_CRYPTO_BAD_TAG,
	SDP_CRYPTO_BAD_SYNTAX,
	SDP_CRYPTO_NO_KEY,
	SDP_CRYPTO_BAD_KEY_METHOD,
	SDP_CRYPTO_BAD_BASE64,
	SDP_CRYPTO_BAD_KEY_LENGTH,
	SDP_CRYPTO_BAD_LIFETIME,
	SDP_CRYPTO_BAD_MKI,
	SDP_CRYPTO_BAD_SESSION_PARAM,
	SDP_CRYPTO_TOO_MANY_KEYS,
};

bool sdp_crypto_status_malformed(enum sdp_crypto_status st);
/* Short static text for Warning headers and logs, e.g. "malformed tag". */
const char *sdp_crypto_status_text(enum sdp_crypto_status st);

#define SDP_CRYPTO_MAX_KEYS 8

struct sdp_crypto_key {
	struct slice key_salt; /* KEY MATERIAL: never log, print or copy */
	size_t decoded_len;    /* octets the base64 decodes to */
	bool has_lifetime;
	uint64_t lifetime; /* packets */
	bool has_mki;
	uint64_t mki; /* value, when it fits 64 bits */
	unsigned mki_len;
};

enum {
	SDP_CRYPTO_F_UNENCRYPTED_SRTP = 1 << 0,
	SDP_CRYPTO_F_UNENCRYPTED_SRTCP = 1 << 1,
	SDP_CRYPTO_F_UNAUTHENTICATED_SRTP = 1 << 2,
	SDP_CRYPTO_F_KDR = 1 << 3,
	SDP_CRYPTO_F_FEC_ORDER = 1 << 4,
	SDP_CRYPTO_F_FEC_KEY = 1 << 5,
	SDP_CRYPTO_F_WSH = 1 << 6,
};

struct sdp_crypto {
	enum sdp_crypto_status status;
	uint32_t tag;
	bool tag_valid;
	struct slice suite_name;
	const struct sdp_crypto_suite *suite; /* NULL when unknown */
	unsigned n_keys;
	struct sdp_crypto_key keys[SDP_CRYPTO_MAX_KEYS];
	unsigned flags; /* SDP_CRYPTO_F_* */
	unsigned kdr;
	unsigned wsh;
	/* With SDP_CRYPTO_BAD_KEY_LENGTH: what the bad key decodes to and what the suite needs. */
	size_t bad_len;
	size_t need_len;
};

/* Parse the value of one a=crypto attribute (after "crypto:"). Fills *c and returns its status;
 * never fails otherwise. */
enum sdp_crypto_status sdp_crypto_parse(struct sdp_crypto *c, struct slice value);

/* What judging a line and naming it in a Warning take from its sdp_crypto, without the keys.
 * sdp_parse() keeps one per a=crypto attribute (sdp_crypto_get()), so an offer kept for its
 * answer is not parsed again. */
struct sdp_crypto_info {
	enum sdp_crypto_status status;
	uint32_t tag;
	bool tag_valid;
	bool insecure; /* sdp_crypto_insecure() */
	const struct sdp_crypto_suite *suite;
	struct slice suite_name;
	size_t bad_len;
	size_t need_len;
};

void sdp_crypto_info_from(struct sdp_crypto_info *ci, const struct sdp_crypto *c);

/* True when SRTP under this line would not protect the media (NULL suite, UNENCRYPTED_SRTP,
 * UNAUTHENTICATED_SRTP). */
bool sdp_crypto_insecure(const struct sdp_crypto *c);

/* Copy text into buf (NUL-terminated, truncated to bufsz-1) with every inline: key and every
 * k= line value replaced by "<redacted>". For logs and test failure messages. Returns the length
 * written. */
size_t sdp_redact_keys(struct slice text, char *buf, size_t bufsz);

#endif
