#include "auth/nonce.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/mem.h"

#define TS_LEN 8
#define MAC_LEN 32
#define RAW_LEN (TS_LEN + MAC_LEN)
#define SECRET_MAX 64

struct auth_nonce_ctx {
	uint8_t secret[SECRET_MAX];
	size_t secret_len;
	uint32_t lifetime;
	uint64_t key_gen; /* names this secret in the threads' keyed HMAC contexts */
};

/* Every secret gets a process-unique number, so a thread's keyed context is never mistaken for
 * another's (a freed context's address may come back). */
static _Atomic uint64_t key_gens;

static void nonce_ctx_destroy(void *data)
{
	struct auth_nonce_ctx *ctx = data;
	OPENSSL_cleanse(ctx->secret, sizeof(ctx->secret));
}

int auth_nonce_ctx_alloc(struct auth_nonce_ctx **ctxp, uint32_t lifetime)
{
	if (!ctxp || lifetime == 0)
		return EINVAL;
	struct auth_nonce_ctx *ctx = mem_zalloc(sizeof(*ctx), nonce_ctx_destroy);
	if (!ctx)
		return ENOMEM;
	ctx->lifetime = lifetime;
	ctx->secret_len = 32;
	ctx->key_gen = atomic_fetch_add(&key_gens, 1) + 1;
	if (RAND_bytes(ctx->secret, (int)ctx->secret_len) != 1) {
		mem_deref(ctx);
		return EIO;
	}
	*ctxp = ctx;
	return 0;
}

int auth_nonce_ctx_set_secret(struct auth_nonce_ctx *ctx, const void *key, size_t len)
{
	if (!ctx || !key || len < 16 || len > SECRET_MAX)
		return EINVAL;
	OPENSSL_cleanse(ctx->secret, sizeof(ctx->secret));
	memcpy(ctx->secret, key, len);
	ctx->secret_len = len;
	ctx->key_gen = atomic_fetch_add(&key_gens, 1) + 1;
	return 0;
}

uint32_t auth_nonce_ctx_lifetime(const struct auth_nonce_ctx *ctx)
{
	return ctx ? ctx->lifetime : 0;
}

static void put_len(uint8_t *p, size_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

/* HMAC-SHA256 keyed once per thread and secret: the one-shot HMAC() fetches the algorithm and
 * builds a context on every call (two per registration: the challenge and the check). */
static pthread_key_t mac_key;
static pthread_once_t mac_key_once = PTHREAD_ONCE_INIT;
static _Thread_local struct {
	uint64_t gen;
	EVP_MAC_CTX *m;
} tl_mac;

static void mac_ctx_free(void *p)
{
	EVP_MAC_CTX_free(p);
}

static void mac_key_init(void)
{
	pthread_key_create(&mac_key, mac_ctx_free);
}

static EVP_MAC_CTX *keyed_mac(const struct auth_nonce_ctx *ctx)
{
	if (tl_mac.m && tl_mac.gen == ctx->key_gen)
		return EVP_MAC_init(tl_mac.m, NULL, 0, NULL) == 1 ? tl_mac.m : NULL;
	if (!tl_mac.m) {
		pthread_once(&mac_key_once, mac_key_init);
		EVP_MAC *alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
		tl_mac.m = alg ? EVP_MAC_CTX_new(alg) : NULL;
		EVP_MAC_free(alg);
		if (!tl_mac.m)
			return NULL;
		pthread_setspecific(mac_key, tl_mac.m); /* freed when the thread ends */
	}
	OSSL_PARAM params[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0), OSSL_PARAM_END };
	tl_mac.gen = 0;
	if (EVP_MAC_init(tl_mac.m, ctx->secret, ctx->secret_len, params) != 1)
		return NULL;
	tl_mac.gen = ctx->key_gen;
	return tl_mac.m;
}

/* HMAC over length-prefixed fields so (realm, binding) pairs cannot be shifted into each other. */
static int mac(const struct auth_nonce_ctx *ctx, const uint8_t ts[TS_LEN], struct slice realm,
	       struct slice binding, uint8_t out[MAC_LEN])
{
	if (realm.len > AUTH_NONCE_BINDING_MAX || binding.len > AUTH_NONCE_BINDING_MAX ||
	    (realm.len && !realm.p) || (binding.len && !binding.p))
		return EINVAL;
	uint8_t buf[TS_LEN + 8 + 2 * AUTH_NONCE_BINDING_MAX];
	size_t n = 0;
	memcpy(buf, ts, TS_LEN);
	n += TS_LEN;
	put_len(buf + n, realm.len);
	n += 4;
	if (realm.len)
		memcpy(buf + n, realm.p, realm.len);
	n += realm.len;
	put_len(buf + n, binding.len);
	n += 4;
	if (binding.len)
		memcpy(buf + n, binding.p, binding.len);
	n += binding.len;
	size_t ml = 0;
	EVP_MAC_CTX *m = keyed_mac(ctx);
	if (!m || EVP_MAC_update(m, buf, n) != 1 || EVP_MAC_final(m, out, &ml, MAC_LEN) != 1 || ml != MAC_LEN)
		return EIO;
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void b64url_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64[v >> 18];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = b64[(v >> 6) & 63];
	}
	out[o] = '\0';
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* Exactly AUTH_NONCE_LEN characters -> RAW_LEN bytes; the unused low bits must be zero so that
 * each nonce has a single spelling. */
static bool b64url_decode_nonce(struct slice s, uint8_t out[RAW_LEN])
{
	if (s.len != AUTH_NONCE_LEN)
		return false;
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < s.len; i++) {
		int v = b64val(s.p[i]);
		if (v < 0)
			return false;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o == RAW_LEN && acc == 0;
}

/* The nonces this thread issued lately. A challenged request's authenticated retry comes back
 * on its connection, so to the worker that challenged it: a nonce found here, issued for the
 * same realm, binding and secret, is one we made, without the second HMAC (about 4% of a
 * registration's instructions, callgrind). Direct-mapped by the MAC's first byte (a fresh
 * opaque per challenge makes every nonce differ); only what this thread computed goes in, so a
 * hit proves what the MAC check would. */
#define ISSUED_SLOTS 64
#define ISSUED_FIELD_MAX 64
static _Thread_local struct issued {
	uint64_t gen; /* the secret's key_gen; 0 = empty */
	uint8_t raw[RAW_LEN];
	uint8_t realm_len, binding_len;
	char realm[ISSUED_FIELD_MAX], binding[ISSUED_FIELD_MAX];
} tl_issued[ISSUED_SLOTS];

static void issued_note(const struct auth_nonce_ctx *ctx, const uint8_t raw[RAW_LEN], struct slice realm,
			struct slice binding)
{
	if (realm.len > ISSUED_FIELD_MAX || binding.len > ISSUED_FIELD_MAX)
		return;
	struct issued *e = &tl_issued[raw[TS_LEN] % ISSUED_SLOTS];
	e->gen = ctx->key_gen;
	memcpy(e->raw, raw, RAW_LEN);
	e->realm_len = (uint8_t)realm.len;
	e->binding_len = (uint8_t)binding.len;
	if (realm.len)
		memcpy(e->realm, realm.p, realm.len);
	if (binding.len)
		memcpy(e->binding, binding.p, binding.len);
}

static bool issued_here(const struct auth_nonce_ctx *ctx, const uint8_t raw[RAW_LEN], struct slice realm,
			struct slice binding)
{
	const struct issued *e = &tl_issued[raw[TS_LEN] % ISSUED_SLOTS];
	return e->gen == ctx->key_gen && CRYPTO_memcmp(e->raw, raw, RAW_LEN) == 0 && e->realm_len == realm.len &&
	       e->binding_len == binding.len && (!realm.len || memcmp(e->realm, realm.p, realm.len) == 0) &&
	       (!binding.len || memcmp(e->binding, binding.p, binding.len) == 0);
}

int auth_nonce_make(const struct auth_nonce_ctx *ctx, struct slice realm, struct slice binding,
		    uint64_t now, char out[AUTH_NONCE_LEN + 1])
{
	if (!ctx || !out)
		return EINVAL;
	uint8_t raw[RAW_LEN];
	for (int i = 0; i < TS_LEN; i++)
		raw[i] = (uint8_t)(now >> (56 - 8 * i));
	int e = mac(ctx, raw, realm, binding, raw + TS_LEN);
	if (e)
		return e;
	issued_note(ctx, raw, realm, binding);
	b64url_encode(raw, RAW_LEN, out);
	return 0;
}

const char *auth_nonce_state_name(enum auth_nonce_state s)
{
	switch (s) {
	case AUTH_NONCE_VALID: return "valid";
	case AUTH_NONCE_STALE: return "stale";
	case AUTH_NONCE_INVALID: return "invalid";
	}
	return "?";
}

enum auth_nonce_state auth_nonce_check(const struct auth_nonce_ctx *ctx, struct slice nonce,
				       struct slice realm, struct slice binding, uint64_t now,
				       struct auth_nonce_info *info)
{
	uint8_t raw[RAW_LEN], want[MAC_LEN];
	if (!ctx || !b64url_decode_nonce(nonce, raw))
		return AUTH_NONCE_INVALID;
	if (!issued_here(ctx, raw, realm, binding) &&
	    (mac(ctx, raw, realm, binding, want) || CRYPTO_memcmp(want, raw + TS_LEN, MAC_LEN) != 0))
		return AUTH_NONCE_INVALID;
	uint64_t ts = 0;
	for (int i = 0; i < TS_LEN; i++)
		ts = ts << 8 | raw[i];
	if (ts > now + AUTH_NONCE_SKEW)
		return AUTH_NONCE_INVALID;
	if (info) {
		info->issued = ts;
		memcpy(info->tag, raw + TS_LEN, sizeof(info->tag));
	}
	return now > ts && now - ts > ctx->lifetime ? AUTH_NONCE_STALE : AUTH_NONCE_VALID;
}

/* ---- nonce-count table ---- */

#define NIL 0u /* indices are stored +1 so 0 means none */

struct nc_ent {
	uint64_t k0, k1;
	uint64_t issued;
	uint32_t nc;
	uint32_t hnext; /* bucket chain, or free list */
	uint32_t prev, next; /* LRU: prev towards head (most recent) */
};

struct auth_nc_table {
	struct nc_ent *ents;
	uint32_t *buckets;
	size_t cap, nbuckets, count;
	uint32_t head, tail, free_list;
	uint64_t floor;
	bool has_floor;
	uint32_t lifetime;
	bool locked;
	pthread_mutex_t mtx;
};

static void nc_destroy(void *data)
{
	struct auth_nc_table *t = data;
	free(t->ents);
	free(t->buckets);
	if (t->locked)
		pthread_mutex_destroy(&t->mtx);
}

int auth_nc_table_alloc(struct auth_nc_table **tp, size_t max_entries, uint32_t lifetime, bool locked)
{
	if (!tp || max_entries == 0 || max_entries > (1u << 30))
		return EINVAL;
	struct auth_nc_table *t = mem_zalloc(sizeof(*t), nc_destroy);
	if (!t)
		return ENOMEM;
	t->cap = max_entries;
	t->nbuckets = 1;
	while (t->nbuckets < max_entries)
		t->nbuckets <<= 1;
	t->lifetime = lifetime;
	t->ents = calloc(t->cap, sizeof(*t->ents));
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->ents || !t->buckets) {
		mem_deref(t);
		return ENOMEM;
	}
	for (size_t i = 0; i < t->cap; i++)
		t->ents[i].hnext = i + 1 < t->cap ? (uint32_t)(i + 2) : NIL;
	t->free_list = 1;
	if (locked) {
		if (pthread_mutex_init(&t->mtx, NULL)) {
			mem_deref(t);
			return ENOMEM;
		}
		t->locked = true;
	}
	*tp = t;
	return 0;
}

const char *auth_nc_result_name(enum auth_nc_result r)
{
	switch (r) {
	case AUTH_NC_OK: return "ok";
	case AUTH_NC_REPLAY: return "replay";
	case AUTH_NC_EVICTED: return "evicted";
	}
	return "?";
}

#define E(i) (&t->ents[(i) - 1])

static uint32_t *bucket_of(struct auth_nc_table *t, uint64_t k0)
{
	return &t->buckets[k0 & (t->nbuckets - 1)];
}

static void lru_unlink(struct auth_nc_table *t, uint32_t i)
{
	struct nc_ent *e = E(i);
	if (e->prev)
		E(e->prev)->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		E(e->next)->prev = e->prev;
	else
		t->tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_push_head(struct auth_nc_table *t, uint32_t i)
{
	struct nc_ent *e = E(i);
	e->prev = NIL;
	e->next = t->head;
	if (t->head)
		E(t->head)->prev = i;
	t->head = i;
	if (!t->tail)
		t->tail = i;
}

static void ent_remove(struct auth_nc_table *t, uint32_t i)
{
	struct nc_ent *e = E(i);
	uint32_t *pp = bucket_of(t, e->k0);
	while (*pp != i)
		pp = &E(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(t, i);
	e->hnext = t->free_list;
	t->free_list = i;
	t->count--;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static enum auth_nc_result nc_check_locked(struct auth_nc_table *t, const struct auth_nonce_info *ni,
					   uint32_t nc, uint64_t now)
{
	uint64_t k0 = load64(ni->tag), k1 = load64(ni->tag + 8);
	for (uint32_t i = *bucket_of(t, k0); i; i = E(i)->hnext) {
		struct nc_ent *e = E(i);
		if (e->k0 != k0 || e->k1 != k1)
			continue;
		/* RFC 7616 5.5: a repeated or lower nc is a replay */
		if (nc <= e->nc)
			return AUTH_NC_REPLAY;
		e->nc = nc;
		lru_unlink(t, i);
		lru_push_head(t, i);
		return AUTH_NC_OK;
	}
	if (t->has_floor && ni->issued <= t->floor)
		return AUTH_NC_EVICTED;
	/* Expired entries are useless (the nonce check answers stale first); drop them. */
	while (t->tail && E(t->tail)->issued + t->lifetime < now)
		ent_remove(t, t->tail);
	if (t->count == t->cap) {
		struct nc_ent *old = E(t->tail);
		if (!t->has_floor || old->issued > t->floor)
			t->floor = old->issued;
		t->has_floor = true;
		ent_remove(t, t->tail);
	}
	uint32_t i = t->free_list;
	struct nc_ent *e = E(i);
	t->free_list = e->hnext;
	e->k0 = k0;
	e->k1 = k1;
	e->issued = ni->issued;
	e->nc = nc;
	uint32_t *b = bucket_of(t, k0);
	e->hnext = *b;
	*b = i;
	lru_push_head(t, i);
	t->count++;
	return AUTH_NC_OK;
}

enum auth_nc_result auth_nc_check(struct auth_nc_table *t, const struct auth_nonce_info *ni,
				  uint32_t nc, uint64_t now)
{
	if (!t || !ni)
		return AUTH_NC_REPLAY;
	if (t->locked)
		pthread_mutex_lock(&t->mtx);
	enum auth_nc_result r = nc_check_locked(t, ni, nc, now);
	if (t->locked)
		pthread_mutex_unlock(&t->mtx);
	return r;
}

size_t auth_nc_table_count(struct auth_nc_table *t)
{
	if (!t)
		return 0;
	if (t->locked)
		pthread_mutex_lock(&t->mtx);
	size_t n = t->count;
	if (t->locked)
		pthread_mutex_unlock(&t->mtx);
	return n;
}
