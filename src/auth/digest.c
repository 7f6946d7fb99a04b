#include "auth/digest.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static const char *const names[AUTH_ALG__COUNT][2] = {
	[AUTH_ALG_MD5] = { "MD5", "MD5-sess" },
	[AUTH_ALG_SHA256] = { "SHA-256", "SHA-256-sess" },
	[AUTH_ALG_SHA512_256] = { "SHA-512-256", "SHA-512-256-sess" },
};
static const char *const keys[AUTH_ALG__COUNT] = { "md5", "sha256", "sha512_256" };
static const char *const fetch_names[AUTH_ALG__COUNT] = { "MD5", "SHA2-256", "SHA2-512/256" };

/* Fetched once: the implicit fetch behind EVP_sha256() costs a provider lookup per call. */
static EVP_MD *mds[AUTH_ALG__COUNT];
static pthread_once_t mds_once = PTHREAD_ONCE_INIT;

static void mds_fetch(void)
{
	for (int i = 0; i < AUTH_ALG__COUNT; i++)
		mds[i] = EVP_MD_fetch(NULL, fetch_names[i], NULL);
}

static const EVP_MD *md_of(enum auth_alg alg)
{
	if ((unsigned)alg >= AUTH_ALG__COUNT)
		return NULL;
	pthread_once(&mds_once, mds_fetch);
	return mds[alg];
}

const char *auth_alg_name(enum auth_alg alg, bool sess)
{
	return (unsigned)alg < AUTH_ALG__COUNT ? names[alg][sess ? 1 : 0] : "?";
}

const char *auth_alg_key(enum auth_alg alg)
{
	return (unsigned)alg < AUTH_ALG__COUNT ? keys[alg] : "?";
}

int auth_alg_parse(struct slice s, enum auth_alg *alg, bool *sess)
{
	for (int i = 0; i < AUTH_ALG__COUNT; i++) {
		for (int j = 0; j < 2; j++) {
			if (slice_eq_cstr_ci(s, names[i][j])) {
				if (alg)
					*alg = (enum auth_alg)i;
				if (sess)
					*sess = j == 1;
				return 0;
			}
		}
	}
	return ENOTSUP;
}

size_t auth_alg_hexlen(enum auth_alg alg)
{
	return alg == AUTH_ALG_MD5 ? 32 : 64;
}

bool auth_alg_available(enum auth_alg alg)
{
	return md_of(alg) != NULL;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* One digest context per thread, re-initialised per hash: a fresh EVP_MD_CTX per hash costs
 * OpenSSL 3.0 a provider context each time (about half of a registration's digest work). */
static pthread_key_t ctx_key;
static pthread_once_t ctx_key_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *tl_ctx;

static void ctx_free(void *p)
{
	EVP_MD_CTX_free(p);
}

static void ctx_key_init(void)
{
	pthread_key_create(&ctx_key, ctx_free);
}

static EVP_MD_CTX *thread_ctx(void)
{
	if (!tl_ctx) {
		pthread_once(&ctx_key_once, ctx_key_init);
		if (!(tl_ctx = EVP_MD_CTX_new()))
			return NULL;
		pthread_setspecific(ctx_key, tl_ctx); /* freed when the thread ends */
	}
	return tl_ctx;
}

/* H(p0 ":" p1 ":" ... ) as lowercase hex. The parts are joined first when they fit, so the
 * provider is entered once rather than twice per part. */
static int hash_join(enum auth_alg alg, const struct slice *parts, size_t n, char out[AUTH_HEX_MAX])
{
	const EVP_MD *md = md_of(alg);
	if (!md)
		return ENOTSUP;
	EVP_MD_CTX *ctx = thread_ctx();
	if (!ctx)
		return ENOMEM;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	char joined[1024];
	size_t jl = 0;
	for (size_t i = 0; i < n && jl <= sizeof(joined); i++)
		jl += (i ? 1 : 0) + parts[i].len;
	int ok = EVP_DigestInit_ex2(ctx, md, NULL);
	if (ok && jl <= sizeof(joined)) {
		jl = 0;
		for (size_t i = 0; i < n; i++) {
			if (i)
				joined[jl++] = ':';
			if (parts[i].len)
				memcpy(joined + jl, parts[i].p, parts[i].len);
			jl += parts[i].len;
		}
		ok = EVP_DigestUpdate(ctx, joined, jl);
		OPENSSL_cleanse(joined, jl); /* may hold HA1 */
	} else {
		for (size_t i = 0; ok && i < n; i++) {
			if (i)
				ok = EVP_DigestUpdate(ctx, ":", 1);
			if (ok && parts[i].len)
				ok = EVP_DigestUpdate(ctx, parts[i].p, parts[i].len);
		}
	}
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, h, &hl);
	if (!ok || hl > AUTH_HASH_MAX)
		return ENOMEM;
	hex_encode(h, hl, out);
	OPENSSL_cleanse(h, sizeof(h));
	return 0;
}

int auth_ha1(enum auth_alg alg, struct slice username, struct slice realm, struct slice password,
	     char out[AUTH_HEX_MAX])
{
	if (!out)
		return EINVAL;
	const struct slice parts[] = { username, realm, password };
	return hash_join(alg, parts, 3, out);
}

int auth_userhash(enum auth_alg alg, struct slice username, struct slice realm, char out[AUTH_HEX_MAX])
{
	if (!out)
		return EINVAL;
	const struct slice parts[] = { username, realm };
	return hash_join(alg, parts, 2, out);
}

int auth_body_hash(enum auth_alg alg, struct slice body, char out[AUTH_HEX_MAX])
{
	if (!out)
		return EINVAL;
	return hash_join(alg, &body, 1, out);
}

int auth_digest_response(const struct auth_digest_in *in, char out[AUTH_HEX_MAX])
{
	if (!in || !out || in->ha1.len == 0)
		return EINVAL;
	bool qop = in->qop.len > 0;
	bool auth_int = qop && slice_eq_cstr_ci(in->qop, "auth-int");
	if (auth_int && in->body_hash.len == 0)
		return EINVAL;
	if (in->sess && in->cnonce.len == 0)
		return EINVAL;

	char ha1[AUTH_HEX_MAX], ha2[AUTH_HEX_MAX];
	struct slice a1 = in->ha1;
	int e = 0;
	if (in->sess) {
		/* RFC 7616 3.4.2: -sess binds HA1 to this nonce and cnonce. */
		const struct slice p[] = { in->ha1, in->nonce, in->cnonce };
		e = hash_join(in->alg, p, 3, ha1);
		a1 = slice_from_cstr(ha1);
	}
	if (!e) {
		/* RFC 7616 3.4.3: A2 = method ":" uri [ ":" H(entity-body) ] */
		const struct slice p[] = { in->method, in->uri, in->body_hash };
		e = hash_join(in->alg, p, auth_int ? 3 : 2, ha2);
	}
	if (!e) {
		if (qop) {
			const struct slice p[] = { a1, in->nonce, in->nc, in->cnonce, in->qop,
						   slice_from_cstr(ha2) };
			e = hash_join(in->alg, p, 6, out);
		} else {
			const struct slice p[] = { a1, in->nonce, slice_from_cstr(ha2) };
			e = hash_join(in->alg, p, 3, out);
		}
	}
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return e;
}
