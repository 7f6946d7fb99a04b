/* Stateless nonces and nonce-count replay detection (RFC 7616 3.3, 3.4, 5.5; RFC 3261 22.4).
 *
 * nonce = base64url(ts || HMAC-SHA256(secret, ts || realm || binding)), ts = 8 bytes big-endian
 * unix seconds: the server keeps nothing per challenge, yet can tell a nonce it issued (valid),
 * one it issued longer than `lifetime` ago (stale: answer 401 with stale=true so the UA retries
 * without asking its user), and one it did not issue or issued for another realm or connection
 * (invalid: plain 401). The binding is optional (e.g. a connection id) and ties the nonce to it.
 * The secret comes from RAND_bytes at allocation, so a restart invalidates outstanding nonces;
 * UAs then get a fresh challenge. A shared secret (several processes) can be set instead.
 *
 * Threading: an auth_nonce_ctx is read-only after setup; share it between workers freely. Set
 * the secret before any thread uses it. An auth_nc_table is used either by one thread only
 * (one per worker: cheapest; fine when nonces are bound to a connection, which never changes
 * worker) or with locked=true by all workers (needed when nonces are not bound, otherwise a
 * nonce replayed over a connection on another worker would not be seen). */
#ifndef SIPSD_AUTH_NONCE_H
#define SIPSD_AUTH_NONCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

#define AUTH_NONCE_LEN 54         /* base64url of 8 + 32 bytes, no padding */
#define AUTH_NONCE_BINDING_MAX 512 /* bytes of realm and of binding each */
#define AUTH_NONCE_SKEW 5         /* seconds a nonce may come from "the future" (clock steps) */

struct auth_nonce_ctx;

/* New context with a random 32-byte secret; lifetime in seconds (> 0). 0, EINVAL, ENOMEM, EIO
 * (no randomness). mem_deref() it; the secret is wiped. */
int auth_nonce_ctx_alloc(struct auth_nonce_ctx **ctxp, uint32_t lifetime);
/* Replace the secret (tests; or a secret shared by several processes). 16..64 bytes. */
int auth_nonce_ctx_set_secret(struct auth_nonce_ctx *ctx, const void *key, size_t len);
uint32_t auth_nonce_ctx_lifetime(const struct auth_nonce_ctx *ctx);

/* Writes AUTH_NONCE_LEN characters + NUL into out. now in unix seconds. 0 or EINVAL. */
int auth_nonce_make(const struct auth_nonce_ctx *ctx, struct slice realm, struct slice binding,
		    uint64_t now, char out[AUTH_NONCE_LEN + 1]);

enum auth_nonce_state {
	AUTH_NONCE_VALID,
	AUTH_NONCE_STALE,   /* ours, for this realm and binding, but older than the lifetime */
	AUTH_NONCE_INVALID, /* not ours: malformed, forged, other realm or binding, from the future */
};
const char *auth_nonce_state_name(enum auth_nonce_state s);

/* What the nc table needs of an authentic nonce. */
struct auth_nonce_info {
	uint64_t issued;  /* unix seconds */
	uint8_t tag[16];  /* first half of its MAC: unpredictable, so a fine hash key */
};

/* Constant-time MAC comparison (CRYPTO_memcmp). info filled unless INVALID (may be NULL). */
enum auth_nonce_state auth_nonce_check(const struct auth_nonce_ctx *ctx, struct slice nonce,
				       struct slice realm, struct slice binding, uint64_t now,
				       struct auth_nonce_info *info);

/* Highest nonce-count seen per nonce, fixed memory: max_entries slots, least recently used
 * evicted first. Evicting a still-live nonce raises a floor: a nonce issued at or before it and
 * not in the table is answered EVICTED (-> 401 stale=true, the UA takes a fresh nonce), so an
 * eviction can never open a replay window. */
struct auth_nc_table;

/* max_entries >= 1; lifetime should equal the nonce lifetime (older entries are dropped). */
int auth_nc_table_alloc(struct auth_nc_table **tp, size_t max_entries, uint32_t lifetime, bool locked);

enum auth_nc_result {
	AUTH_NC_OK,      /* nc above every nc seen for this nonce; recorded */
	AUTH_NC_REPLAY,  /* nc not above the highest seen (RFC 7616 5.5) */
	AUTH_NC_EVICTED, /* this nonce's history was evicted; treat as stale */
};
const char *auth_nc_result_name(enum auth_nc_result r);

/* Records nc for an authentic nonce (call only after the response verified, or a forger who
 * saw a nonce could burn nc values of the real UA). nc 0 = a response without qop (RFC 2069):
 * such a nonce is then usable once. */
enum auth_nc_result auth_nc_check(struct auth_nc_table *t, const struct auth_nonce_info *ni,
				  uint32_t nc, uint64_t now);
size_t auth_nc_table_count(struct auth_nc_table *t);

#endif
