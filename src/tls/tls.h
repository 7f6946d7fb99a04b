/* TLS contexts: one per [tls:NAME] (AudioCodes' "TLS Context": own certificate + key, the
 * "Trusted Root Certificates" CA list, CRLs, versions, ciphers), per-connection SSL objects with
 * the verification policy applied, SNI selection among an interface's contexts, and atomic
 * reload. OpenSSL only; no sockets, no event loop: the transport feeds the SSL objects.
 *
 * Ownership: every object here is refcounted (base/mem.h). A function that keeps a pointer
 * takes its own reference; functions returning `struct tls_ctx *` return a new reference the
 * caller must mem_deref(). An SSL made by tls_session_new() holds references to its SSL_CTX
 * (OpenSSL refcount) and to its tls_ctx (released by SSL_free()), so a context swapped out by a
 * reload lives until its last connection ends. */
#ifndef SIPSD_TLS_TLS_H
#define SIPSD_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "tls/verify.h"

/* Roles a context is built for (tls_ctx_build() checks what each role needs). */
#define TLS_CTX_SERVER 0x1u /* needs certificate + key */
#define TLS_CTX_CLIENT 0x2u /* needs a trust store to verify servers */

struct tls_ctx;

/* Build and validate a context from ct (--check-config and reload use the same path).
 * One SSL_CTX serves both roles; the per-role policy is set on each SSL.
 * conf_path names the file in errors. Returns 0 and *ctxp, or an errno and err naming the
 * offending key's line (EINVAL bad content, ENOENT missing file, ENOMEM). Warnings (legacy
 * cipher or version, certificate expiring within 30 days, own issuer not in ca_list, keylog on)
 * are logged. */
int tls_ctx_build(const struct conf_tls *ct, const char *conf_path, unsigned roles,
		  struct tls_ctx **ctxp, struct conf_error *err);

const char *tls_ctx_name(const struct tls_ctx *ctx);
/* Borrowed; valid while the caller holds ctx. */
SSL_CTX *tls_ctx_ssl_ctx(const struct tls_ctx *ctx);
/* notAfter of the own certificate, 0 when the context has none. */
time_t tls_ctx_not_after(const struct tls_ctx *ctx);
/* Run-time key log control (management API, issue 8): append this context's TLS secrets in
 * NSS key log format to path (created 0600, symlinks refused), or stop (path NULL). Safe while
 * other threads handshake on the context; the caller logs the switch loudly. 0 or an errno. */
int tls_ctx_keylog_set(struct tls_ctx *ctx, const char *path);
bool tls_ctx_keylog_active(const struct tls_ctx *ctx);
/* Case-insensitive exact match against the context's `sni` names. */
bool tls_ctx_answers_sni(const struct tls_ctx *ctx, const char *servername);

/* New SSL for one connection, in accept (server) or connect (client) state, without BIOs.
 * Server: ma = off (no CertificateRequest), optional (a missing certificate is accepted and
 * reported as unauthenticated; a PRESENT certificate that fails verification is still rejected:
 * anonymous is a deliberate choice of the peer, a broken certificate is an attack or an error
 * that must be visible), required (no certificate -> alert, TLS_FAIL_NO_CERTIFICATE).
 * Client: the server is always verified and must prove expected_identity (domain of the request
 * or IP literal, RFC 5922 §7.3) inside the handshake, so a mismatch aborts it with an alert
 * (TLS_FAIL_NAME_MISMATCH); SNI is sent only for a DNS name (RFC 6066 §3). ma is ignored.
 * Returns 0 and *sslp (free with SSL_free), EINVAL (e.g. client without identity, or
 * verification asked of a context with no trust store), ENOMEM.
 * Resumption: the identity check does not run again on a resumed session, so a client may
 * SSL_set_session() only a session saved for the same expected_identity and context. Send
 * close_notify (SSL_shutdown) before SSL_free(): OpenSSL drops the cached session of a
 * connection freed without it. A TLS 1.3 client learns that the server rejected its
 * certificate only on its first SSL_read() after the handshake; classify that failure with
 * tls_session_fail() too. */
int tls_session_new(struct tls_ctx *ctx, enum tls_role role, enum conf_mutual_auth ma,
		    const char *expected_identity, SSL **sslp);

/* The tls_ctx an SSL made here currently uses (after SNI selection); borrowed, NULL if none. */
struct tls_ctx *tls_session_ctx(const SSL *ssl);

/* --- reload: one holder per [tls:NAME] --- */
struct tls_holder;

int tls_holder_alloc(struct tls_holder **holderp, struct tls_ctx *initial);
/* New reference to the current context. */
struct tls_ctx *tls_holder_get(struct tls_holder *holder);
/* Atomically make ctx current (the holder takes its own reference) and drop the holder's
 * reference to the old one; connections using the old one keep it alive. */
void tls_holder_swap(struct tls_holder *holder, struct tls_ctx *ctx);
/* Build from ct; on success swap, on failure keep the old context, log why, return the error. */
int tls_holder_reload(struct tls_holder *holder, const struct conf_tls *ct, const char *conf_path,
		      unsigned roles, struct conf_error *err);
/* Number of successful swaps since allocation. */
uint64_t tls_holder_generation(struct tls_holder *holder);

/* --- SNI: the contexts of one server interface; the first is the default --- */
struct tls_sni_set;

int tls_sni_set_alloc(struct tls_sni_set **setp, struct tls_holder *const *holders, size_t n);
/* New reference to the context whose `sni` list holds servername (case-insensitive, exact),
 * else to the default. servername may be NULL (client sent no SNI). */
struct tls_ctx *tls_sni_select(struct tls_sni_set *set, const char *servername);
/* Server SSL on the set's default context that switches context on the ClientHello's SNI. */
int tls_sni_session_new(struct tls_sni_set *set, enum conf_mutual_auth ma, SSL **sslp);

#endif
