/* Digest maths against ../shared/testdata/digest (read in place), nonces, nc replay, challenge
 * and verification. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "auth/cred.h"
#include "auth/digest.h"
#include "auth/nonce.h"
#include "auth/verify.h"
#include "base/mem.h"
#include "testdata.h"

/* ---- digest-vectors.tsv ---- */

enum col {
	C_ID, C_SOURCE, C_ALG, C_USER, C_REALM, C_PASS, C_METHOD, C_URI, C_NONCE, C_NC, C_CNONCE,
	C_QOP, C_BODYHASH, C_OPAQUE, C_EXPECTED, C_VERIFIED, C__COUNT
};

/* RFC 7616 3.9.2 as published was computed with SHA-512 truncated to 256 bits, not SHA-512/256
 * (testdata/digest/NOTES.md). These are the values real SHA-512/256 gives for that row. */
#define RFC7616_392_ID "rfc7616-3.9.2-sha512-256-AS-PUBLISHED"
#define RFC7616_392_RESPONSE "3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5"
#define RFC7616_392_USERHASH "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
#define RFC7616_392_USERHASH_PUBLISHED "488869477bf257147b804c45308cd62ac4e25eb717b12b298c79e62dcea254ec"

static struct slice dash_empty(struct slice s)
{
	return slice_eq_cstr(s, "-") ? (struct slice){ s.p, 0 } : s;
}

static size_t split_tabs(char *line, struct slice *f, size_t max)
{
	size_t n = 0;
	char *p = line;
	while (n < max) {
		char *t = strchr(p, '\t');
		f[n++] = (struct slice){ p, t ? (size_t)(t - p) : strlen(p) };
		if (!t)
			break;
		p = t + 1;
	}
	return n;
}

static void test_vectors_table(void **state)
{
	(void)state;
	char *text = testdata_read("digest/digest-vectors.tsv", NULL);
	assert_non_null(text);
	unsigned rows = 0, known_bad = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t ll = strlen(line);
		if (ll && line[ll - 1] == '\r')
			line[ll - 1] = '\0';
		if (!line[0] || strncmp(line, "id\t", 3) == 0)
			continue;
		struct slice f[C__COUNT + 1];
		size_t nf = split_tabs(line, f, C__COUNT + 1);
		if (nf != C__COUNT)
			fail_msg("row '%.40s': %zu columns, want %d", line, nf, C__COUNT);
		char id[128];
		slice_copy(f[C_ID], id, sizeof(id));

		enum auth_alg alg;
		bool sess;
		if (auth_alg_parse(f[C_ALG], &alg, &sess))
			fail_msg("row %s: algorithm '%.*s' not parsed", id, (int)f[C_ALG].len, f[C_ALG].p);
		char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
		if (auth_ha1(alg, f[C_USER], f[C_REALM], f[C_PASS], ha1))
			fail_msg("row %s: HA1 failed", id);
		struct auth_digest_in in = {
			.alg = alg,
			.sess = sess,
			.ha1 = slice_from_cstr(ha1),
			.nonce = f[C_NONCE],
			.nc = dash_empty(f[C_NC]),
			.cnonce = dash_empty(f[C_CNONCE]),
			.qop = dash_empty(f[C_QOP]),
			.method = f[C_METHOD],
			.uri = f[C_URI],
			.body_hash = dash_empty(f[C_BODYHASH]),
		};
		if (auth_digest_response(&in, resp))
			fail_msg("row %s: response computation failed", id);
		struct slice got = slice_from_cstr(resp);
		if (strcmp(id, RFC7616_392_ID) == 0) {
			known_bad++;
			if (slice_eq(got, f[C_EXPECTED]))
				fail_msg("row %s: matches the published (truncated SHA-512) value", id);
			if (!slice_eq_cstr(got, RFC7616_392_RESPONSE))
				fail_msg("row %s: got %s, want FIPS SHA-512/256 %s", id, resp,
					 RFC7616_392_RESPONSE);
			char uh[AUTH_HEX_MAX];
			assert_int_equal(auth_userhash(alg, f[C_USER], f[C_REALM], uh), 0);
			if (strcmp(uh, RFC7616_392_USERHASH) != 0 ||
			    strcmp(uh, RFC7616_392_USERHASH_PUBLISHED) == 0)
				fail_msg("row %s: userhash %s", id, uh);
		} else if (!slice_eq(got, f[C_EXPECTED])) {
			fail_msg("row %s: got %s, want %.*s", id, resp, (int)f[C_EXPECTED].len,
				 f[C_EXPECTED].p);
		}
		rows++;
	}
	free(text);
	assert_int_equal(known_bad, 1);
	assert_true(rows >= 10);
}

/* The RFC 2617 3.5 text: parse its Authorization header with our parser, recompute. */
static void test_rfc2617_text_example(void **state)
{
	(void)state;
	char *text = testdata_read("digest/rfc2617-section-3.5-example.txt", NULL);
	assert_non_null(text);
	char *h = strstr(text, "Authorization: ");
	assert_non_null(h);
	h += strlen("Authorization: ");
	struct slice v = { h, strlen(h) };
	/* the header runs to the end of the text; keep its folds, drop the trailing newline */
	while (v.len && (v.p[v.len - 1] == '\n' || v.p[v.len - 1] == ' '))
		v.len--;
	struct auth_cred c;
	enum auth_err why;
	int e = auth_cred_parse(v, &c, &why);
	if (e)
		fail_msg("parse failed: %s", auth_err_reason(why));
	assert_string_equal(c.username, "Mufasa");
	assert_string_equal(c.realm, "testrealm@host.com");
	assert_string_equal(c.uri, "/dir/index.html");
	assert_int_equal(c.qop, AUTH_QOP_AUTH);
	assert_int_equal(c.nc, 1);
	assert_true(c.has_opaque);
	assert_string_equal(c.opaque, "5ccc069c403ebaf9f0171e9517f40e41");
	char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX];
	/* "the password is "Circle Of Life"" (the text, 3.5) */
	assert_non_null(strstr(text, "password is \"Circle Of Life\""));
	assert_int_equal(auth_ha1(c.alg, slice_from_cstr(c.username), slice_from_cstr(c.realm),
				  SLICE_LIT("Circle Of Life"), ha1), 0);
	assert_string_equal(ha1, "939e7578ed9e3c518a452acee763bce9");
	struct auth_digest_in in = {
		.alg = c.alg, .ha1 = slice_from_cstr(ha1), .nonce = slice_from_cstr(c.nonce),
		.nc = slice_from_cstr(c.nc_str), .cnonce = slice_from_cstr(c.cnonce),
		.qop = slice_from_cstr(c.qop_str), .method = SLICE_LIT("GET"),
		.uri = slice_from_cstr(c.uri),
	};
	assert_int_equal(auth_digest_response(&in, resp), 0);
	assert_string_equal(resp, c.response);
	free(text);
}

/* Parts are hashed joined when they fit a buffer and one by one when not: both give H(a:b:c),
 * checked against OpenSSL's one-shot digest, switching algorithms on the same thread. */
static void test_long_and_short_parts(void **state)
{
	(void)state;
	static const char *const md_names[] = { "MD5", "SHA256", "SHA512-256" };
	static const enum auth_alg algs[] = { AUTH_ALG_MD5, AUTH_ALG_SHA256, AUTH_ALG_SHA512_256 };
	static const size_t user_lens[] = { 5, 1000, 3000 };
	for (size_t round = 0; round < 2; round++)
		for (size_t u = 0; u < sizeof(user_lens) / sizeof(user_lens[0]); u++)
			for (size_t a = 0; a < 3; a++) {
				char user[3001], text[3100], want[AUTH_HEX_MAX], got[AUTH_HEX_MAX];
				memset(user, 'u', user_lens[u]);
				user[user_lens[u]] = '\0';
				int tl = snprintf(text, sizeof(text), "%s:realm.example:secret", user);
				unsigned char h[EVP_MAX_MD_SIZE];
				unsigned hl = 0;
				EVP_MD *md = EVP_MD_fetch(NULL, md_names[a], NULL);
				assert_non_null(md);
				assert_int_equal(EVP_Digest(text, (size_t)tl, h, &hl, md, NULL), 1);
				EVP_MD_free(md);
				for (unsigned i = 0; i < hl; i++)
					snprintf(want + 2 * i, 3, "%02x", h[i]);
				assert_int_equal(auth_ha1(algs[a], slice_from_cstr(user), slice_from_cstr("realm.example"),
							  slice_from_cstr("secret"), got),
						 0);
				assert_string_equal(got, want);
			}
}

static void test_alg_names(void **state)
{
	(void)state;
	enum auth_alg a;
	bool s;
	assert_int_equal(auth_alg_parse(SLICE_LIT("sha-512-256-SESS"), &a, &s), 0);
	assert_int_equal(a, AUTH_ALG_SHA512_256);
	assert_true(s);
	assert_int_equal(auth_alg_parse(SLICE_LIT("SHA-512"), &a, &s), ENOTSUP);
	assert_int_equal(auth_alg_parse(SLICE_LIT("MD5-"), &a, &s), ENOTSUP);
	assert_string_equal(auth_alg_name(AUTH_ALG_SHA256, true), "SHA-256-sess");
	assert_string_equal(auth_alg_key(AUTH_ALG_SHA512_256), "sha512_256");
	assert_int_equal(auth_alg_hexlen(AUTH_ALG_MD5), 32);
	assert_int_equal(auth_alg_hexlen(AUTH_ALG_SHA512_256), 64);
}

/* ---- nonces ---- */

static const uint8_t test_secret[32] = "0123456789abcdef0123456789abcdef";
#define T0 1700000000u
#define LIFE 300u

static struct auth_nonce_ctx *nctx(void)
{
	struct auth_nonce_ctx *ctx = NULL;
	assert_int_equal(auth_nonce_ctx_alloc(&ctx, LIFE), 0);
	assert_int_equal(auth_nonce_ctx_set_secret(ctx, test_secret, sizeof(test_secret)), 0);
	return ctx;
}

static void test_nonce_states(void **state)
{
	(void)state;
	struct auth_nonce_ctx *ctx = nctx();
	char n[AUTH_NONCE_LEN + 1];
	struct slice realm = SLICE_LIT("example.com"), bind = SLICE_LIT("conn-42");
	assert_int_equal(auth_nonce_make(ctx, realm, bind, T0, n), 0);
	assert_int_equal(strlen(n), AUTH_NONCE_LEN);
	struct slice ns = slice_from_cstr(n);
	struct auth_nonce_info ni;
	assert_int_equal(auth_nonce_check(ctx, ns, realm, bind, T0, &ni), AUTH_NONCE_VALID);
	assert_int_equal(ni.issued, T0);
	assert_int_equal(auth_nonce_check(ctx, ns, realm, bind, T0 + LIFE, NULL), AUTH_NONCE_VALID);
	assert_int_equal(auth_nonce_check(ctx, ns, realm, bind, T0 + LIFE + 1, NULL), AUTH_NONCE_STALE);
	/* wrong realm, wrong binding, from the future, forged */
	assert_int_equal(auth_nonce_check(ctx, ns, SLICE_LIT("example.org"), bind, T0, NULL),
			 AUTH_NONCE_INVALID);
	assert_int_equal(auth_nonce_check(ctx, ns, realm, SLICE_LIT("conn-43"), T0, NULL),
			 AUTH_NONCE_INVALID);
	assert_int_equal(auth_nonce_check(ctx, ns, realm, bind, T0 - AUTH_NONCE_SKEW - 1, NULL),
			 AUTH_NONCE_INVALID);
	/* realm/binding boundaries cannot be shifted ("a"+"bc" vs "ab"+"c") */
	char n2[AUTH_NONCE_LEN + 1];
	assert_int_equal(auth_nonce_make(ctx, SLICE_LIT("a"), SLICE_LIT("bc"), T0, n2), 0);
	assert_int_equal(auth_nonce_check(ctx, slice_from_cstr(n2), SLICE_LIT("ab"), SLICE_LIT("c"), T0, NULL),
			 AUTH_NONCE_INVALID);
	for (size_t i = 0; i < AUTH_NONCE_LEN; i++) {
		char f[AUTH_NONCE_LEN + 1];
		memcpy(f, n, sizeof(f));
		f[i] = f[i] == 'A' ? 'B' : 'A';
		if (auth_nonce_check(ctx, slice_from_cstr(f), realm, bind, T0, NULL) != AUTH_NONCE_INVALID)
			fail_msg("nonce with char %zu changed accepted", i);
	}
	/* truncated, extended, bad alphabet */
	assert_int_equal(auth_nonce_check(ctx, (struct slice){ n, AUTH_NONCE_LEN - 1 }, realm, bind, T0, NULL),
			 AUTH_NONCE_INVALID);
	assert_int_equal(auth_nonce_check(ctx, SLICE_LIT(""), realm, bind, T0, NULL), AUTH_NONCE_INVALID);
	char plus[AUTH_NONCE_LEN + 1];
	memcpy(plus, n, sizeof(plus));
	plus[3] = '+';
	assert_int_equal(auth_nonce_check(ctx, slice_from_cstr(plus), realm, bind, T0, NULL), AUTH_NONCE_INVALID);

	/* another secret (a restart) -> invalid */
	struct auth_nonce_ctx *other = NULL;
	assert_int_equal(auth_nonce_ctx_alloc(&other, LIFE), 0);
	assert_int_equal(auth_nonce_check(other, ns, realm, bind, T0, NULL), AUTH_NONCE_INVALID);
	assert_int_equal(auth_nonce_ctx_set_secret(other, test_secret, 8), EINVAL);
	mem_deref(other);
	mem_deref(ctx);
}

/* ---- nc table ---- */

static struct auth_nonce_info info_of(struct auth_nonce_ctx *ctx, uint64_t t, unsigned i)
{
	char b[32], n[AUTH_NONCE_LEN + 1];
	snprintf(b, sizeof(b), "conn-%u", i);
	assert_int_equal(auth_nonce_make(ctx, SLICE_LIT("r"), slice_from_cstr(b), t, n), 0);
	struct auth_nonce_info ni;
	assert_int_equal(auth_nonce_check(ctx, slice_from_cstr(n), SLICE_LIT("r"), slice_from_cstr(b), t, &ni),
			 AUTH_NONCE_VALID);
	return ni;
}

static void nc_replay_suite(bool locked)
{
	struct auth_nonce_ctx *ctx = nctx();
	struct auth_nc_table *t = NULL;
	assert_int_equal(auth_nc_table_alloc(&t, 4, LIFE, locked), 0);
	struct auth_nonce_info a = info_of(ctx, T0, 1), b = info_of(ctx, T0, 2);
	assert_int_equal(auth_nc_check(t, &a, 1, T0), AUTH_NC_OK);
	assert_int_equal(auth_nc_check(t, &a, 1, T0), AUTH_NC_REPLAY);
	assert_int_equal(auth_nc_check(t, &a, 3, T0), AUTH_NC_OK);
	assert_int_equal(auth_nc_check(t, &a, 2, T0), AUTH_NC_REPLAY);
	assert_int_equal(auth_nc_check(t, &b, 1, T0), AUTH_NC_OK); /* independent per nonce */
	/* no-qop (nc 0): single use */
	struct auth_nonce_info c = info_of(ctx, T0, 3);
	assert_int_equal(auth_nc_check(t, &c, 0, T0), AUTH_NC_OK);
	assert_int_equal(auth_nc_check(t, &c, 0, T0), AUTH_NC_REPLAY);
	assert_int_equal(auth_nc_table_count(t), 3);

	/* Fill past the cap: the least recently used live nonce is evicted, and from then on it
	 * (and anything issued no later) is answered EVICTED, never accepted again. */
	struct auth_nonce_info d = info_of(ctx, T0 + 1, 4), e = info_of(ctx, T0 + 2, 5);
	assert_int_equal(auth_nc_check(t, &a, 4, T0 + 2), AUTH_NC_OK); /* a most recent now */
	assert_int_equal(auth_nc_check(t, &d, 1, T0 + 2), AUTH_NC_OK); /* 4 entries */
	assert_int_equal(auth_nc_check(t, &e, 1, T0 + 2), AUTH_NC_OK); /* evicts b (LRU) */
	assert_int_equal(auth_nc_table_count(t), 4);
	assert_int_equal(auth_nc_check(t, &b, 1, T0 + 2), AUTH_NC_EVICTED);
	assert_int_equal(auth_nc_check(t, &b, 2, T0 + 2), AUTH_NC_EVICTED);
	assert_int_equal(auth_nc_check(t, &a, 5, T0 + 2), AUTH_NC_OK); /* still tracked */
	struct auth_nonce_info f = info_of(ctx, T0 + 3, 6);
	assert_int_equal(auth_nc_check(t, &f, 1, T0 + 3), AUTH_NC_OK); /* newer than the floor */

	/* After the lifetime, expired entries make room without raising the floor. */
	struct auth_nonce_info g = info_of(ctx, T0 + LIFE + 10, 7);
	assert_int_equal(auth_nc_check(t, &g, 1, T0 + LIFE + 10), AUTH_NC_OK);
	assert_true(auth_nc_table_count(t) <= 4);
	mem_deref(t);
	mem_deref(ctx);
}

struct made_elsewhere {
	struct auth_nonce_ctx *ctx;
	char nonce[AUTH_NONCE_LEN + 1];
};

static void *make_on_thread(void *arg)
{
	struct made_elsewhere *m = arg; /* no cmocka assert off the test's thread */
	return auth_nonce_make(m->ctx, SLICE_LIT("example.com"), SLICE_LIT("conn-7"), T0, m->nonce) ? arg : NULL;
}

/* A thread remembers the nonces it issued; the answer is the same whether the check finds it
 * there or recomputes the MAC: another thread's nonce is valid, another secret's is not. */
static void test_nonce_issued_elsewhere(void **state)
{
	(void)state;
	struct made_elsewhere m = { .ctx = nctx() };
	pthread_t t;
	void *failed = &m;
	assert_int_equal(pthread_create(&t, NULL, make_on_thread, &m), 0);
	assert_int_equal(pthread_join(t, &failed), 0);
	assert_null(failed);
	struct slice ns = slice_from_cstr(m.nonce);
	assert_int_equal(auth_nonce_check(m.ctx, ns, SLICE_LIT("example.com"), SLICE_LIT("conn-7"), T0, NULL),
			 AUTH_NONCE_VALID);
	assert_int_equal(auth_nonce_check(m.ctx, ns, SLICE_LIT("example.com"), SLICE_LIT("conn-8"), T0, NULL),
			 AUTH_NONCE_INVALID);
	/* made here under one secret, checked under another */
	struct auth_nonce_ctx *other = NULL;
	assert_int_equal(auth_nonce_ctx_alloc(&other, LIFE), 0); /* a random secret */
	char n[AUTH_NONCE_LEN + 1];
	assert_int_equal(auth_nonce_make(m.ctx, SLICE_LIT("example.com"), SLICE_LIT("conn-9"), T0, n), 0);
	assert_int_equal(auth_nonce_check(other, slice_from_cstr(n), SLICE_LIT("example.com"), SLICE_LIT("conn-9"), T0,
					  NULL),
			 AUTH_NONCE_INVALID);
	assert_int_equal(auth_nonce_check(m.ctx, slice_from_cstr(n), SLICE_LIT("example.com"), SLICE_LIT("conn-9"), T0,
					  NULL),
			 AUTH_NONCE_VALID);
	/* a secret replaced in place is another secret too */
	static const uint8_t key[32] = { 1, 2, 3 };
	assert_int_equal(auth_nonce_ctx_set_secret(m.ctx, key, sizeof(key)), 0);
	assert_int_equal(auth_nonce_check(m.ctx, slice_from_cstr(n), SLICE_LIT("example.com"), SLICE_LIT("conn-9"), T0,
					  NULL),
			 AUTH_NONCE_INVALID);
	mem_deref(other);
	mem_deref(m.ctx);
}

static void test_nc_replay(void **state)
{
	(void)state;
	nc_replay_suite(false);
	nc_replay_suite(true);
}

static void test_nc_many(void **state)
{
	(void)state;
	struct auth_nonce_ctx *ctx = nctx();
	struct auth_nc_table *t = NULL;
	assert_int_equal(auth_nc_table_alloc(&t, 1000, LIFE, false), 0);
	for (unsigned i = 0; i < 5000; i++) {
		struct auth_nonce_info ni = info_of(ctx, T0 + i / 100, i);
		enum auth_nc_result r = auth_nc_check(t, &ni, 1, T0 + i / 100);
		if (r != AUTH_NC_OK)
			fail_msg("nonce %u: %s", i, auth_nc_result_name(r));
		if (auth_nc_check(t, &ni, 1, T0 + i / 100) != AUTH_NC_REPLAY)
			fail_msg("nonce %u: replay not seen", i);
	}
	assert_int_equal(auth_nc_table_count(t), 1000);
	assert_int_equal(auth_nc_table_alloc(&t, 0, LIFE, false), EINVAL);
	mem_deref(t);
	mem_deref(ctx);
}

/* ---- challenge ---- */

static void test_challenge_order_and_md5_off(void **state)
{
	(void)state;
	struct auth_nonce_ctx *ctx = nctx();
	char buf[2048];
	size_t n = 0;
	struct auth_challenge ch = { .realm = SLICE_LIT("example.com"), .algs = AUTH_ALG_ALL };
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, strlen(buf));
	const char *a = strstr(buf, "algorithm=SHA-512-256,"), *b = strstr(buf, "algorithm=SHA-256,"),
		   *c = strstr(buf, "algorithm=MD5,");
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(a < b && b < c);
	assert_int_equal(strncmp(buf, "WWW-Authenticate: Digest realm=\"example.com\", nonce=\"", 52), 0);
	assert_null(strstr(buf, "stale"));
	assert_non_null(strstr(buf, "qop=\"auth\"\r\n"));
	/* the nonce in the header verifies */
	const char *np = strstr(buf, "nonce=\"") + 7;
	assert_int_equal(auth_nonce_check(ctx, (struct slice){ np, AUTH_NONCE_LEN }, ch.realm, ch.binding, T0, NULL),
			 AUTH_NONCE_VALID);
	/* three lines */
	unsigned lines = 0;
	for (const char *p = buf; (p = strstr(p, "\r\n")); p += 2)
		lines++;
	assert_int_equal(lines, 3);

	/* MD5 off, stale, proxy, opaque, realm escaping */
	ch.algs = AUTH_ALG_ALL & ~AUTH_ALG_BIT(AUTH_ALG_MD5);
	ch.stale = true;
	ch.proxy = true;
	ch.opaque = SLICE_LIT("xyz");
	ch.realm = SLICE_LIT("we\"ird\\realm");
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, sizeof(buf), &n), 0);
	assert_null(strstr(buf, "MD5"));
	assert_null(strstr(buf, "WWW-"));
	assert_non_null(strstr(buf, "Proxy-Authenticate: Digest realm=\"we\\\"ird\\\\realm\""));
	assert_non_null(strstr(buf, "stale=true"));
	assert_non_null(strstr(buf, "opaque=\"xyz\""));
	assert_true(strstr(buf, "SHA-512-256") < strstr(buf, "SHA-256,"));

	/* only MD5 */
	ch = (struct auth_challenge){ .realm = SLICE_LIT("r"), .algs = AUTH_ALG_BIT(AUTH_ALG_MD5) };
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, sizeof(buf), &n), 0);
	assert_null(strstr(buf, "SHA"));
	/* nothing to offer, too small, control character in realm */
	ch.algs = 0;
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, sizeof(buf), &n), EINVAL);
	ch.algs = AUTH_ALG_ALL;
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, 100, &n), ENOSPC);
	ch.realm = SLICE_LIT("a\r\nInjected: yes");
	assert_int_equal(auth_challenge_build(ctx, &ch, T0, buf, sizeof(buf), &n), EINVAL);
	mem_deref(ctx);
}

/* ---- verify ---- */

struct client {
	const char *user, *realm, *password, *method, *uri, *qop, *cnonce, *alg, *body;
	unsigned nc;
};

/* What a UA would send, built from a challenge nonce. */
static void client_header(const struct client *cl, const char *nonce, char *out, size_t outsz)
{
	enum auth_alg alg = AUTH_ALG_MD5;
	bool sess = false;
	if (cl->alg)
		assert_int_equal(auth_alg_parse(slice_from_cstr(cl->alg), &alg, &sess), 0);
	char ha1[AUTH_HEX_MAX], resp[AUTH_HEX_MAX], nc[9], bh[AUTH_HEX_MAX] = "";
	snprintf(nc, sizeof(nc), "%08x", cl->nc);
	assert_int_equal(auth_ha1(alg, slice_from_cstr(cl->user), slice_from_cstr(cl->realm),
				  slice_from_cstr(cl->password), ha1), 0);
	if (cl->qop && strcmp(cl->qop, "auth-int") == 0)
		assert_int_equal(auth_body_hash(alg, slice_from_cstr(cl->body ? cl->body : ""), bh), 0);
	struct auth_digest_in in = {
		.alg = alg, .sess = sess, .ha1 = slice_from_cstr(ha1), .nonce = slice_from_cstr(nonce),
		.nc = slice_from_cstr(nc), .cnonce = slice_from_cstr(cl->cnonce ? cl->cnonce : ""),
		.qop = slice_from_cstr(cl->qop ? cl->qop : ""), .method = slice_from_cstr(cl->method),
		.uri = slice_from_cstr(cl->uri), .body_hash = slice_from_cstr(bh),
	};
	assert_int_equal(auth_digest_response(&in, resp), 0);
	int n = snprintf(out, outsz, "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", response=\"%s\"",
			 cl->user, cl->realm, nonce, cl->uri, resp);
	if (cl->alg)
		n += snprintf(out + n, outsz - (size_t)n, ", algorithm=%s", cl->alg);
	if (cl->qop)
		n += snprintf(out + n, outsz - (size_t)n, ", qop=%s, nc=%s, cnonce=\"%s\"", cl->qop, nc, cl->cnonce);
	assert_true((size_t)n < outsz);
}

static enum auth_result run_verify(struct auth_nonce_ctx *ctx, struct auth_nc_table *t,
				   const struct client *cl, const char *nonce, const char *stored_password,
				   uint64_t now, bool allow_no_qop)
{
	char hdr[2048];
	client_header(cl, nonce, hdr, sizeof(hdr));
	struct auth_cred c;
	enum auth_err why;
	if (auth_cred_parse(slice_from_cstr(hdr), &c, &why))
		fail_msg("own header not parsed (%s): %s", auth_err_reason(why), hdr);
	char ha1[AUTH_HEX_MAX] = "";
	if (stored_password)
		assert_int_equal(auth_ha1(c.alg, slice_from_cstr(c.username), SLICE_LIT("example.com"),
					  slice_from_cstr(stored_password), ha1), 0);
	struct auth_verify_params p = {
		.method = SLICE_LIT("REGISTER"), .realm = SLICE_LIT("example.com"),
		.binding = SLICE_LIT("conn-1"), .ha1 = slice_from_cstr(ha1),
		.body = slice_from_cstr(cl->body ? cl->body : ""), .now = now, .allow_no_qop = allow_no_qop,
	};
	return auth_verify(ctx, t, &c, &p);
}

static void test_verify(void **state)
{
	(void)state;
	struct auth_nonce_ctx *ctx = nctx();
	struct auth_nc_table *t = NULL;
	assert_int_equal(auth_nc_table_alloc(&t, 64, LIFE, false), 0);
	char nonce[AUTH_NONCE_LEN + 1];
	assert_int_equal(auth_nonce_make(ctx, SLICE_LIT("example.com"), SLICE_LIT("conn-1"), T0, nonce), 0);

	struct client cl = { .user = "alice", .realm = "example.com", .password = "s3cret",
			     .method = "REGISTER", .uri = "sip:example.com", .qop = "auth",
			     .cnonce = "abc123", .alg = "SHA-512-256", .nc = 1 };
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "s3cret", T0 + 1, false), AUTH_OK);
	/* same nc again: replay; higher: fine */
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "s3cret", T0 + 1, false), AUTH_REPLAY);
	cl.nc = 2;
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "s3cret", T0 + 2, false), AUTH_OK);
	/* wrong password: WRONG, and nc 3 is not burnt by it */
	cl.nc = 3;
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "other", T0 + 2, false), AUTH_WRONG);
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "s3cret", T0 + 2, false), AUTH_OK);
	/* expired nonce: stale only with the right password */
	cl.nc = 4;
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "s3cret", T0 + LIFE + 1, false), AUTH_STALE);
	assert_int_equal(run_verify(ctx, t, &cl, nonce, "bad", T0 + LIFE + 1, false), AUTH_WRONG);
	/* no HA1 for this algorithm (disabled for the user) */
	assert_int_equal(run_verify(ctx, t, &cl, nonce, NULL, T0 + 3, false), AUTH_ALGORITHM);
	/* other realm in credentials */
	struct client other = cl;
	other.realm = "example.org";
	assert_int_equal(run_verify(ctx, t, &other, nonce, "s3cret", T0 + 3, false), AUTH_REALM);
	/* forged nonce */
	char forged[AUTH_NONCE_LEN + 1];
	memcpy(forged, nonce, sizeof(forged));
	forged[10] = forged[10] == 'x' ? 'y' : 'x';
	assert_int_equal(run_verify(ctx, t, &cl, forged, "s3cret", T0 + 3, false), AUTH_NONCE);

	/* every algorithm, -sess and auth-int */
	const char *algs[] = { "MD5", "SHA-256", "SHA-512-256", "MD5-sess", "SHA-256-sess", "SHA-512-256-sess" };
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		char nn[AUTH_NONCE_LEN + 1];
		assert_int_equal(auth_nonce_make(ctx, SLICE_LIT("example.com"), SLICE_LIT("conn-1"), T0 + 10 + i, nn), 0);
		struct client x = cl;
		x.alg = algs[i];
		x.nc = 1;
		x.qop = i % 2 ? "auth-int" : "auth";
		x.body = "v=0\r\n";
		enum auth_result r = run_verify(ctx, t, &x, nn, "s3cret", T0 + 20, false);
		if (r != AUTH_OK)
			fail_msg("%s %s: %s", algs[i], x.qop, auth_result_name(r));
		x.nc = 2;
		x.password = "nope";
		r = run_verify(ctx, t, &x, nn, "s3cret", T0 + 20, false);
		if (r != AUTH_WRONG)
			fail_msg("%s wrong password: %s", algs[i], auth_result_name(r));
	}

	/* RFC 2069 style (no qop): refused by policy, else accepted once per nonce */
	char n2[AUTH_NONCE_LEN + 1];
	assert_int_equal(auth_nonce_make(ctx, SLICE_LIT("example.com"), SLICE_LIT("conn-1"), T0 + 30, n2), 0);
	struct client legacy = { .user = "alice", .realm = "example.com", .password = "s3cret",
				 .method = "REGISTER", .uri = "sip:example.com" };
	assert_int_equal(run_verify(ctx, t, &legacy, n2, "s3cret", T0 + 31, false), AUTH_NO_QOP);
	assert_int_equal(run_verify(ctx, t, &legacy, n2, "s3cret", T0 + 31, true), AUTH_OK);
	assert_int_equal(run_verify(ctx, t, &legacy, n2, "s3cret", T0 + 31, true), AUTH_REPLAY);
	/* without a table, no replay detection */
	assert_int_equal(run_verify(ctx, NULL, &legacy, n2, "s3cret", T0 + 31, true), AUTH_OK);
	assert_int_equal(auth_verify(ctx, t, NULL, NULL), AUTH_BAD);
	mem_deref(t);
	mem_deref(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_table),
		cmocka_unit_test(test_rfc2617_text_example),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_long_and_short_parts),
		cmocka_unit_test(test_nonce_states),
		cmocka_unit_test(test_nonce_issued_elsewhere),
		cmocka_unit_test(test_nc_replay),
		cmocka_unit_test(test_nc_many),
		cmocka_unit_test(test_challenge_order_and_md5_off),
		cmocka_unit_test(test_verify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
