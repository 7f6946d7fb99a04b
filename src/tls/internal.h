/* Private to src/tls. */
#ifndef SIPSD_TLS_INTERNAL_H
#define SIPSD_TLS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "conf/conf.h"
#include "tls/tls.h"

#define TLS_SID_CTX_LEN 32

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	char *name;
	unsigned roles;
	bool has_trust;       /* ca_list or ca_dir configured */
	bool has_crl;
	bool require_eku;
	bool allow_wildcards;
	bool session_tickets;
	unsigned verify_depth;
	int min_proto, max_proto;
	int sec_level;
	char *ciphers, *ciphersuites, *groups; /* effective strings, NULL = OpenSSL's */
	char **sni;
	size_t nsni;
	/* -1 when off. Atomic and guarded by keylog_lock: the management API switches it at run
	 * time (tls_ctx_keylog_set) while handshakes on worker threads write through it. */
	_Atomic int keylog_fd;
	pthread_mutex_t keylog_lock;
	time_t not_after;
	_Atomic int64_t next_flush; /* when session_new() next clears expired cached sessions */
	/* session id context per conf_mutual_auth, so a session made without a client certificate
	 * can't be resumed on an interface that requires one */
	unsigned char sid_ctx[3][TLS_SID_CTX_LEN];
};

/* Per-SSL state, in SSL ex_data; freed by SSL_free(). */
struct tls_conn {
	struct tls_ctx *ctx;     /* reference: the context in use (changes on SNI selection) */
	struct tls_sni_set *set; /* reference, server with SNI only */
	enum tls_role role;
	enum conf_mutual_auth ma;
	char *expected;          /* client: identity the server must prove */
	bool name_checked;
	int verify_err;          /* first X.509 error that failed the handshake, 0 = none */
	int verify_err_depth;
};

/* The library context of every SSL_CTX: the default provider with lean certificate decoding
 * (libctx.c). NULL (OpenSSL's default context) if it could not be set up. */
OSSL_LIB_CTX *tls_libctx(void);

struct tls_conn *tls_conn_get(const SSL *ssl);
/* Apply ctx's per-connection policy to ssl (after SSL_new or an SNI switch). */
int tls_conn_apply(SSL *ssl, struct tls_conn *c, bool switched);
enum tls_fail_reason tls_fail_from_x509(int x509_err);
int tls_client_hello_h(SSL *ssl, int *alert, void *arg);
void tls_keylog_h(const SSL *ssl, const char *line);

/* conf_error_set() with a printf-style message formatted here. */
void tls_err_set(struct conf_error *err, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

bool tls_ip_parse(const char *s, unsigned char out[16], size_t *outlen);

/* ident.c: registers the session slot that keeps a handshake's peer info for resumptions; call
 * before the first SSL is made (session_new does), so every session has the slot. */
void tls_sess_index_init(void);

#endif
