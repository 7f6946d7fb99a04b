#include "tls/verify.h"

#include <stdatomic.h>

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include "base/log.h"
#include "tls/internal.h"

static const char *const reason_names[TLS_FAIL__COUNT] = {
	[TLS_FAIL_NONE] = "none",
	[TLS_FAIL_NO_CERTIFICATE] = "no_certificate",
	[TLS_FAIL_UNKNOWN_CA] = "unknown_ca",
	[TLS_FAIL_EXPIRED] = "expired",
	[TLS_FAIL_NOT_YET_VALID] = "not_yet_valid",
	[TLS_FAIL_CHAIN_TOO_DEEP] = "chain_too_deep",
	[TLS_FAIL_REVOKED] = "revoked",
	[TLS_FAIL_CRL_UNAVAILABLE] = "crl_unavailable",
	[TLS_FAIL_WRONG_USAGE] = "wrong_usage",
	[TLS_FAIL_NAME_MISMATCH] = "name_mismatch",
	[TLS_FAIL_PROTOCOL_VERSION] = "protocol_version",
	[TLS_FAIL_NO_SHARED_CIPHER] = "no_shared_cipher",
	[TLS_FAIL_BAD_CERTIFICATE] = "bad_certificate",
	[TLS_FAIL_CLOSED] = "closed",
	[TLS_FAIL_HANDSHAKE] = "handshake",
};

static atomic_uint_fast64_t counters[2][TLS_FAIL__COUNT];

const char *tls_fail_reason_name(enum tls_fail_reason r)
{
	return (unsigned)r < TLS_FAIL__COUNT ? reason_names[r] : "?";
}

void tls_fail_count(enum tls_role role, enum tls_fail_reason r)
{
	if ((unsigned)role > 1 || (unsigned)r >= TLS_FAIL__COUNT)
		return;
	atomic_fetch_add_explicit(&counters[role][r], 1, memory_order_relaxed);
}

void tls_fail_stats_snapshot(struct tls_fail_stats *out)
{
	for (unsigned s = 0; s < 2; s++)
		for (unsigned r = 0; r < TLS_FAIL__COUNT; r++)
			out->count[s][r] = atomic_load_explicit(&counters[s][r], memory_order_relaxed);
}

enum tls_fail_reason tls_fail_from_x509(int e)
{
	switch (e) {
	case X509_V_OK:
		return TLS_FAIL_NONE;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_CERT_UNTRUSTED:
		return TLS_FAIL_UNKNOWN_CA;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return TLS_FAIL_EXPIRED;
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return TLS_FAIL_NOT_YET_VALID;
	case X509_V_ERR_CERT_CHAIN_TOO_LONG:
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		return TLS_FAIL_CHAIN_TOO_DEEP;
	case X509_V_ERR_CERT_REVOKED:
		return TLS_FAIL_REVOKED;
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
		return TLS_FAIL_CRL_UNAVAILABLE;
	case X509_V_ERR_INVALID_PURPOSE:
	case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
		return TLS_FAIL_WRONG_USAGE;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return TLS_FAIL_NAME_MISMATCH;
	default:
		return TLS_FAIL_BAD_CERTIFICATE;
	}
}

/* Reasons in the error queue: local decisions and alerts received from the peer. */
static enum tls_fail_reason from_ssl_reason(int r)
{
	switch (r) {
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_CIPHERS_AVAILABLE:
	case SSL_R_NO_SHARED_GROUPS:
		return TLS_FAIL_NO_SHARED_CIPHER;
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
	case SSL_R_NO_PROTOCOLS_AVAILABLE:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_VERSION_TOO_HIGH:
	case SSL_R_UNSUPPORTED_SSL_VERSION:
	case SSL_R_TLSV1_ALERT_INAPPROPRIATE_FALLBACK:
		return TLS_FAIL_PROTOCOL_VERSION;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		return TLS_FAIL_NO_CERTIFICATE;
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		return TLS_FAIL_UNKNOWN_CA;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		return TLS_FAIL_EXPIRED;
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
		return TLS_FAIL_REVOKED;
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
		return TLS_FAIL_WRONG_USAGE; /* OpenSSL's alert for X509_V_ERR_INVALID_PURPOSE */
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		return TLS_FAIL_BAD_CERTIFICATE;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return TLS_FAIL_CLOSED;
	default:
		return TLS_FAIL_NONE;
	}
}

enum tls_fail_reason tls_fail_classify(const SSL *ssl, int ssl_error)
{
	enum tls_fail_reason r = TLS_FAIL_NONE;
	const struct tls_conn *c = ssl ? tls_conn_get(ssl) : NULL;

	/* Our own record first: SSL_get_verify_result() also keeps errors the policy overrode. */
	if (c) {
		if (c->verify_err)
			r = tls_fail_from_x509(c->verify_err);
	} else if (ssl && (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) &&
		   SSL_get_verify_result(ssl) != X509_V_OK) {
		r = tls_fail_from_x509((int)SSL_get_verify_result(ssl));
	}
	bool any_err = false;
	unsigned long e;
	while ((e = ERR_get_error()) != 0) {
		any_err = true;
		if (r == TLS_FAIL_NONE && ERR_GET_LIB(e) == ERR_LIB_SSL)
			r = from_ssl_reason(ERR_GET_REASON(e));
	}
	if (r == TLS_FAIL_NONE && !any_err &&
	    (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN))
		r = TLS_FAIL_CLOSED;
	return r == TLS_FAIL_NONE ? TLS_FAIL_HANDSHAKE : r;
}

enum tls_fail_reason tls_session_fail(const SSL *ssl, int ssl_error, const char *peer)
{
	const struct tls_conn *c = ssl ? tls_conn_get(ssl) : NULL;
	enum tls_role role = c ? c->role : (ssl && SSL_is_server(ssl) ? TLS_ROLE_SERVER : TLS_ROLE_CLIENT);
	enum tls_fail_reason r = tls_fail_classify(ssl, ssl_error);
	tls_fail_count(role, r);
	const char *x509 = c && c->verify_err ? X509_verify_cert_error_string(c->verify_err) : "-";
	log_notice("tls.handshake_failed", "peer=%s side=%s reason=%s context=%s identity=%s x509=\"%s\"",
		   peer ? peer : "-", role == TLS_ROLE_SERVER ? "server" : "client",
		   tls_fail_reason_name(r), c && c->ctx ? c->ctx->name : "-",
		   c && c->expected ? c->expected : "-", x509);
	return r;
}
