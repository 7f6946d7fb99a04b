/* Why a TLS handshake failed, and process-wide counters per reason and side.
 *
 * The verifying side learns the precise reason from the X.509 verification (captured in the
 * verify callback); the other side only learns what the TLS alert it received says, so the same
 * failure can be counted as, e.g., "revoked" on the server and "revoked" (alert
 * certificate_revoked) or "bad_certificate" on the client, depending on the alert. */
#ifndef SIPSD_TLS_VERIFY_H
#define SIPSD_TLS_VERIFY_H

#include <stdint.h>

#include <openssl/ssl.h>

enum tls_role { TLS_ROLE_SERVER = 0, TLS_ROLE_CLIENT = 1 };

enum tls_fail_reason {
	TLS_FAIL_NONE = 0,
	TLS_FAIL_NO_CERTIFICATE,   /* peer sent no certificate but one is required */
	TLS_FAIL_UNKNOWN_CA,       /* chain does not lead to a trusted CA */
	TLS_FAIL_EXPIRED,
	TLS_FAIL_NOT_YET_VALID,
	TLS_FAIL_CHAIN_TOO_DEEP,   /* more intermediates than verify_depth */
	TLS_FAIL_REVOKED,          /* listed in a configured CRL */
	TLS_FAIL_CRL_UNAVAILABLE,  /* crl configured but none (or only an expired one) for an issuer */
	TLS_FAIL_WRONG_USAGE,      /* EKU/key usage does not allow clientAuth/serverAuth */
	TLS_FAIL_NAME_MISMATCH,    /* RFC 5922 §7.3: certificate does not name the peer */
	TLS_FAIL_PROTOCOL_VERSION, /* no common TLS version (e.g. TLS 1.0 peer) */
	TLS_FAIL_NO_SHARED_CIPHER,
	TLS_FAIL_BAD_CERTIFICATE,  /* any other certificate problem (signature, format, ...) */
	TLS_FAIL_CLOSED,           /* peer closed the transport in the middle of the handshake */
	TLS_FAIL_HANDSHAKE,        /* anything else */
	TLS_FAIL__COUNT
};

/* Short stable token for logs and metrics ("unknown_ca"); "?" for out-of-range values. */
const char *tls_fail_reason_name(enum tls_fail_reason r);

/* Classify a failed handshake (or a failure seen by the first SSL_read after it, TLS 1.3
 * clients learn about rejection there). ssl_error is SSL_get_error()'s result. Uses the
 * verification error recorded for SSL objects made by tls_session_new(), then the error queue,
 * which it drains (the transport clears it after a failure anyway). No counting, no logging. */
enum tls_fail_reason tls_fail_classify(const SSL *ssl, int ssl_error);

/* Classify, count and log one rejected handshake ("tls.handshake_failed" with side, reason and
 * the caller's peer description, e.g. "192.0.2.1:5061"). Returns the reason. */
enum tls_fail_reason tls_session_fail(const SSL *ssl, int ssl_error, const char *peer);

/* Process-wide counters (relaxed atomics; a snapshot is not a consistent cut). */
struct tls_fail_stats {
	uint64_t count[2][TLS_FAIL__COUNT]; /* [enum tls_role][enum tls_fail_reason] */
};
void tls_fail_count(enum tls_role role, enum tls_fail_reason r);
void tls_fail_stats_snapshot(struct tls_fail_stats *out);

#endif
