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
 * SubjectPublicKeyInfo decoders. Private keys and PEM files are read in the default library
 * context, which keeps every decoder.
 */
#include "base/log.h"
#include "tls/internal.h"

#include <openssl/core_dispatch.h>
#include <openssl/provider.h>

#include <pthread.h>
#include <string.h>

#define SPKI_DECODERS_MAX 32

static OSSL_PROVIDER *dflt;
static OSSL_ALGORITHM spki_decoders[SPKI_DECODERS_MAX + 1];
static OSSL_LIB_CTX *libctx;
static pthread_once_t libctx_once = PTHREAD_ONCE_INIT;

static const OSSL_ALGORITHM *query_h(void *provctx, int op, int *no_cache)
{
	(void)provctx;
	if (op == OSSL_OP_DECODER) {
		*no_cache = 0;
		return spki_decoders;
	}
	return OSSL_PROVIDER_query_operation(dflt, op, no_cache);
}

static void unquery_h(void *provctx, int op, const OSSL_ALGORITHM *algs)
{
	(void)provctx;
	if (op != OSSL_OP_DECODER)
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

static bool keep_decoder(const OSSL_ALGORITHM *a)
{
	const char *p = a->property_definition;
	/* "DER" is the SubjectPublicKeyInfo-to-type-specific step, not needed for a key */
	return p && strstr(p, "input=der") && strstr(p, "structure=SubjectPublicKeyInfo") &&
	       strcmp(a->algorithm_names, "DER") != 0;
}

static void libctx_init(void)
{
	dflt = OSSL_PROVIDER_load(NULL, "default");
	if (!dflt)
		return;
	int no_cache = 0;
	const OSSL_ALGORITHM *a = OSSL_PROVIDER_query_operation(dflt, OSSL_OP_DECODER, &no_cache);
	size_t n = 0;
	for (; a && a->algorithm_names && n < SPKI_DECODERS_MAX; a++)
		if (keep_decoder(a))
			spki_decoders[n++] = *a;
	OSSL_LIB_CTX *lc = n ? OSSL_LIB_CTX_new() : NULL;
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
