/*
 * The OpenSSL library context every TLS context of sipsd uses.
 *
 * OpenSSL 3.0 decodes the public key of each certificate it parses (the peer's, on every
 * full handshake) through OSSL_DECODER_CTX_new_for_pkey, which rebuilds its decoder chains
 * from every decoder of every loaded provider each time: about 60 decoders in the default
 * provider, each turned into a method with its property string parsed again (openssl#17950,
 * openssl#19119; 3.1 added a cache). Certificates only ever need DER SubjectPublicKeyInfo.
 *
 * So sipsd's library context holds one provider, "sipsd", that is the default provider (same
 * algorithm tables, same provider context) except that it offers only the
 * SubjectPublicKeyInfo decoders, and only the key managers TLS can use (each decode also
 * walks all of them). Private keys (PEM, possibly encrypted) are read in the default library
 * context, which keeps everything.
 */
#include "base/log.h"
#include "tls/internal.h"

#include <openssl/core_dispatch.h>
#include <openssl/provider.h>

#include <pthread.h>
#include <string.h>

#define ALGS_MAX 48

static OSSL_PROVIDER *dflt;
static OSSL_ALGORITHM spki_decoders[ALGS_MAX + 1], tls_keymgmts[ALGS_MAX + 1];
static OSSL_LIB_CTX *libctx;
static pthread_once_t libctx_once = PTHREAD_ONCE_INIT;

static const OSSL_ALGORITHM *query_h(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	if (op == OSSL_OP_DECODER) {
		*no_cache = 0;
		return spki_decoders;
	}
	if (op == OSSL_OP_KEYMGMT) {
		*no_cache = 0;
		return tls_keymgmts;
	}
	return OSSL_PROVIDER_query_operation(dflt, op, no_cache);
}

static void unquery_h(void *provctx, int op, const OSSL_ALGORITHM *algs)
{
	(void)provctx;
	if (op != OSSL_OP_DECODER && op != OSSL_OP_KEYMGMT)
		OSSL_PROVIDER_unquery_operation(dflt, op, algs);
}

/* libssl learns the TLS groups and signature algorithms from here */
static int capabilities_h(void *provctx, const char *capability, OSSL_CALLBACK *cb, void *arg)
{
	(void)provctx;
	return OSSL_PROVIDER_get_capabilities(dflt, capability, cb, arg);
}

static const OSSL_DISPATCH sipsd_provider_dispatch[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))query_h },
	{ OSSL_FUNC_PROVIDER_UNQUERY_OPERATION, (void (*)(void))unquery_h },
	{ OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))capabilities_h },
	{ 0, NULL },
};

static int sipsd_provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
			       const OSSL_DISPATCH **out, void **provctx)
{
	(void)handle;
	(void)in;
	*out = sipsd_provider_dispatch;
	/* the default provider's algorithms get the context they were made for */
	*provctx = OSSL_PROVIDER_get0_provider_ctx(dflt);
	return *provctx != NULL;
}

/* SM2 shares the EC OID, so every EC key would be decoded a second time as SM2; libssl 3.0
 * has no SM2 suites. */
static bool sm2(const OSSL_ALGORITHM *a)
{
	return strstr(a->algorithm_names, "SM2") != NULL;
}

static bool keep_decoder(const OSSL_ALGORITHM *a)
{
	const char *p = a->property_definition;
	/* "DER" is the SubjectPublicKeyInfo-to-type-specific step, not needed for a key */
	return p && strstr(p, "input=der") && strstr(p, "structure=SubjectPublicKeyInfo") &&
	       strcmp(a->algorithm_names, "DER") != 0 && !sm2(a);
}

/* MAC and password-hash keys (CMAC, Poly1305, SipHash, scrypt) have no use in TLS. */
static bool keep_keymgmt(const OSSL_ALGORITHM *a)
{
	static const char *const unused[] = { "CMAC", "POLY1305", "SIPHASH", "SCRYPT" };
	for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]); i++)
		if (strstr(a->algorithm_names, unused[i]))
			return false;
	return !sm2(a);
}

static size_t pick(int op, bool (*keep)(const OSSL_ALGORITHM *), OSSL_ALGORITHM *out)
{
	int no_cache = 0;
	const OSSL_ALGORITHM *a = OSSL_PROVIDER_query_operation(dflt, op, &no_cache);
	size_t n = 0;
	for (; a && a->algorithm_names && n < ALGS_MAX; a++)
		if (keep(a))
			out[n++] = *a;
	return n;
}

static void libctx_init(void)
{
	dflt = OSSL_PROVIDER_load(NULL, "default");
	bool ok = dflt && pick(OSSL_OP_DECODER, keep_decoder, spki_decoders) &&
		  pick(OSSL_OP_KEYMGMT, keep_keymgmt, tls_keymgmts);
	OSSL_LIB_CTX *lc = ok ? OSSL_LIB_CTX_new() : NULL;
	if (lc && OSSL_PROVIDER_add_builtin(lc, "sipsd", sipsd_provider_init) &&
	    OSSL_PROVIDER_load(lc, "sipsd")) {
		libctx = lc;
		return;
	}
	OSSL_LIB_CTX_free(lc);
	log_warn("tls.libctx", "note=\"cannot set up the lean provider; certificates are decoded "
		 "the slow way\"");
}

OSSL_LIB_CTX *tls_libctx(void)
{
	pthread_once(&libctx_once, libctx_init);
	return libctx;
}
