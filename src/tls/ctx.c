/* Building and validating a TLS context from [tls:NAME]. Everything that can be checked before
 * the first handshake is checked here, so --check-config and a reload fail early with a
 * file:line message instead of at the first call. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/mem.h"
#include "tls/ident.h"
#include "tls/internal.h"

#define EXPIRY_WARN_DAYS 30
#define PASSWORD_MAX 1024

/* Modern defaults (issue 4): forward-secret AEAD only for TLS 1.2; TLS 1.3 suites are all AEAD. */
static const char default_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
				      "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
				      "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

void tls_err_set(struct conf_error *err, const char *file, unsigned line, const char *fmt, ...)
{
	if (!err)
		return;
	char msg[sizeof(err->msg)];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error_set(err, file ? file : "", line, "%s", msg);
}

static unsigned line_or(unsigned line, unsigned dflt)
{
	return line ? line : dflt;
}

/* Last OpenSSL reason, for messages ("bad decrypt", "no start line"); never key material. */
static const char *ossl_reason(void)
{
	/* the first error is the cause ("bad decrypt"), later ones only say where ("PEM lib") */
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	return r ? r : "unknown error";
}

static void ctx_destroy(void *arg)
{
	struct tls_ctx *c = arg;
	SSL_CTX_free(c->ssl_ctx);
	if (c->keylog_fd >= 0)
		close(c->keylog_fd);
	pthread_mutex_destroy(&c->keylog_lock);
	for (size_t i = 0; i < c->nsni; i++)
		mem_deref(c->sni[i]);
	mem_deref(c->sni);
	mem_deref(c->name);
	mem_deref(c->ciphers);
	mem_deref(c->ciphersuites);
	mem_deref(c->groups);
}

const char *tls_ctx_name(const struct tls_ctx *ctx)
{
	return ctx ? ctx->name : NULL;
}

SSL_CTX *tls_ctx_ssl_ctx(const struct tls_ctx *ctx)
{
	return ctx ? ctx->ssl_ctx : NULL;
}

time_t tls_ctx_not_after(const struct tls_ctx *ctx)
{
	return ctx ? ctx->not_after : 0;
}

bool tls_ctx_answers_sni(const struct tls_ctx *ctx, const char *servername)
{
	if (!ctx || !servername)
		return false;
	for (size_t i = 0; i < ctx->nsni; i++)
		if (strcasecmp(ctx->sni[i], servername) == 0)
			return true;
	return false;
}

static int proto_of(enum conf_tls_version v, int dflt)
{
	switch (v) {
	case CONF_TLS1_0:
		return TLS1_VERSION;
	case CONF_TLS1_1:
		return TLS1_1_VERSION;
	case CONF_TLS1_2:
		return TLS1_2_VERSION;
	case CONF_TLS1_3:
		return TLS1_3_VERSION;
	default:
		return dflt;
	}
}

/* Reject what no deployment should need (NULL encryption, anonymous, export, RC4, (3)DES, MD5);
 * accept but warn about legacy suites (static RSA key exchange, CBC) that old gateways such as
 * the IMG 2020 (TLS_RSA_WITH_AES_128_CBC_SHA only) force on us. */
static int cipher_policy(const struct tls_ctx *c, SSL_CTX *sc, const struct conf_tls *ct,
			 const char *conf_path, struct conf_error *err)
{
	STACK_OF(SSL_CIPHER) *sk = SSL_CTX_get_ciphers(sc);
	int n = sk ? sk_SSL_CIPHER_num(sk) : 0;
	unsigned legacy = 0;
	char first_legacy[64] = "";
	for (int i = 0; i < n; i++) {
		const SSL_CIPHER *ci = sk_SSL_CIPHER_value(sk, i);
		const char *name = SSL_CIPHER_get_name(ci);
		int enc = SSL_CIPHER_get_cipher_nid(ci);
		int auth = SSL_CIPHER_get_auth_nid(ci);
		int dig = SSL_CIPHER_get_digest_nid(ci);
		int kx = SSL_CIPHER_get_kx_nid(ci);
		const char *why = NULL;
		if (enc == NID_undef)
			why = "NULL encryption";
		else if (auth == NID_auth_null)
			why = "anonymous (no authentication)";
		else if (auth == NID_auth_psk || auth == NID_auth_srp)
			why = "not certificate-authenticated";
		else if (enc == NID_rc4 || enc == NID_rc4_40)
			why = "RC4";
		else if (enc == NID_des_ede3_cbc || enc == NID_des_cbc)
			why = "DES/3DES";
		else if (dig == NID_md5)
			why = "MD5";
		else if (strstr(name, "EXP"))
			why = "export grade";
		if (why) {
			tls_err_set(err, conf_path, line_or(ct->ciphers_line, ct->line),
				    "[tls:%s] cipher list enables %s (%s); remove it or add !%s",
				    c->name, name, why, name);
			return EINVAL;
		}
		if (SSL_CIPHER_get_protocol_id(ci) >> 8 != 0x13 &&
		    (kx == NID_kx_rsa || !SSL_CIPHER_is_aead(ci))) {
			if (!legacy++)
				snprintf(first_legacy, sizeof(first_legacy), "%s", name);
		}
	}
	if (n == 0) {
		tls_err_set(err, conf_path, line_or(ct->ciphers_line, ct->line), "[tls:%s] cipher list selects no cipher", c->name);
		return EINVAL;
	}
	if (legacy)
		log_warn("tls.legacy_cipher", "context=%s first=%s count=%u note=\"no forward secrecy "
			 "or CBC; allowed because configured explicitly\"", c->name, first_legacy, legacy);
	return 0;
}

static int passwd_h(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pw = u;
	if (!pw)
		return 0; /* never fall back to a terminal prompt */
	size_t len = strlen(pw);
	if (len > (size_t)size)
		return 0;
	memcpy(buf, pw, len);
	return (int)len;
}

static int read_password(const char *path, char *pw, size_t pwsz)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return errno ? errno : ENOENT;
	size_t n = fread(pw, 1, pwsz - 1, f);
	fclose(f);
	pw[n] = '\0';
	pw[strcspn(pw, "\r\n")] = '\0';
	return 0;
}

static int load_key(struct tls_ctx *c, SSL_CTX *sc, const struct conf_tls *ct,
		    const char *conf_path, struct conf_error *err)
{
	char pw[PASSWORD_MAX];
	bool have_pw = false;
	int rc = 0;
	if (ct->private_key_password_file) {
		rc = read_password(ct->private_key_password_file, pw, sizeof(pw));
		if (rc) {
			tls_err_set(err, conf_path, line_or(ct->private_key_password_file_line, ct->private_key_line),
				    "[tls:%s] cannot read private_key_password_file %s: %s", c->name,
				    ct->private_key_password_file, strerror(rc));
			return rc;
		}
		have_pw = true;
	}
	ERR_clear_error();
	/* read in OpenSSL's default library context: sipsd's own decodes certificates only */
	BIO *b = BIO_new_file(ct->private_key, "r");
	EVP_PKEY *pkey = b ? PEM_read_bio_PrivateKey(b, NULL, passwd_h, have_pw ? pw : NULL) : NULL;
	BIO_free(b);
	bool loaded = pkey && SSL_CTX_use_PrivateKey(sc, pkey) == 1;
	EVP_PKEY_free(pkey);
	unsigned long e = ERR_peek_last_error();
	/* OpenSSL 3 already checks the pair while loading; check again in case it did not */
	bool mismatch = loaded ? SSL_CTX_check_private_key(sc) != 1
			       : ERR_GET_LIB(e) == ERR_LIB_X509 &&
					 (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
					  ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
	if (mismatch) {
		rc = EINVAL;
		tls_err_set(err, conf_path, ct->private_key_line,
			    "[tls:%s] private_key %s does not match certificate %s", c->name,
			    ct->private_key, ct->certificate);
	} else if (!loaded) {
		struct stat st;
		rc = stat(ct->private_key, &st) != 0 ? ENOENT : EINVAL;
		tls_err_set(err, conf_path, ct->private_key_line,
			    "[tls:%s] cannot load private_key %s (malformed, wrong password or "
			    "unsupported type): %s", c->name, ct->private_key,
			    rc == ENOENT ? "no such file" : ossl_reason());
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	return rc;
}

/* Read every PEM object of a file; each CA list may hold many CAs (IMG's CAList.pem). */
static int load_pem_objects(const char *path, X509_STORE *store, bool want_crl, unsigned *count,
			    const char **why)
{
	*count = 0;
	BIO *b = BIO_new_file(path, "r");
	if (!b) {
		*why = "cannot open";
		return ENOENT;
	}
	ERR_clear_error();
	STACK_OF(X509_INFO) *infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
	BIO_free(b);
	if (!infos) {
		*why = ossl_reason();
		return EINVAL;
	}
	int rc = 0;
	for (int i = 0; i < sk_X509_INFO_num(infos) && !rc; i++) {
		X509_INFO *xi = sk_X509_INFO_value(infos, i);
		if (!want_crl && xi->x509) {
			if (!X509_STORE_add_cert(store, xi->x509))
				rc = ENOMEM;
			else
				(*count)++;
		} else if (want_crl && xi->crl) {
			if (!X509_STORE_add_crl(store, xi->crl))
				rc = ENOMEM;
			else
				(*count)++;
		}
	}
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	if (!rc && *count == 0) {
		*why = want_crl ? "no CRL in file" : "no certificate in file";
		rc = EINVAL;
	}
	if (rc == ENOMEM)
		*why = "out of memory";
	return rc;
}

static int load_trust(struct tls_ctx *c, SSL_CTX *sc, const struct conf_tls *ct,
		      const char *conf_path, struct conf_error *err)
{
	X509_STORE *store = SSL_CTX_get_cert_store(sc);
	const char *why = NULL;
	unsigned count;
	for (size_t i = 0; i < ct->ca_list.n; i++) {
		int rc = load_pem_objects(ct->ca_list.v[i], store, false, &count, &why);
		if (rc) {
			tls_err_set(err, conf_path, ct->ca_list_line, "[tls:%s] ca_list %s: %s",
				    c->name, ct->ca_list.v[i], why);
			return rc;
		}
		c->has_trust = true;
	}
	if (ct->ca_dir) {
		struct stat st;
		if (stat(ct->ca_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
			tls_err_set(err, conf_path, line_or(ct->ca_dir_line, ct->line),
				    "[tls:%s] ca_dir %s is not a directory", c->name, ct->ca_dir);
			return ENOENT;
		}
		if (SSL_CTX_load_verify_dir(sc, ct->ca_dir) != 1) {
			tls_err_set(err, conf_path, line_or(ct->ca_dir_line, ct->line), "[tls:%s] ca_dir %s: %s", c->name,
				    ct->ca_dir, ossl_reason());
			return EINVAL;
		}
		c->has_trust = true;
	}
	for (size_t i = 0; i < ct->crl.n; i++) {
		int rc = load_pem_objects(ct->crl.v[i], store, true, &count, &why);
		if (rc) {
			tls_err_set(err, conf_path, ct->crl_line, "[tls:%s] crl %s: %s", c->name,
				    ct->crl.v[i], why);
			return rc;
		}
		c->has_crl = true;
	}
	if (c->has_crl) {
		/* CRL_CHECK_ALL: every certificate of the chain needs a CRL from its issuer; a
		 * missing one fails the handshake (TLS_FAIL_CRL_UNAVAILABLE) rather than passing */
		X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(sc),
					    X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
	}
	return 0;
}

/* CRL problems of the CRLs themselves (expired, bad signature) are warnings: they would make
 * every handshake from that CA fail, which the operator must hear about, but refusing the
 * reload would only keep an older CRL. */
static void crl_warnings(const struct tls_ctx *c, X509_STORE *store)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		if (!crl)
			continue;
		char issuer[256];
		X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
		const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
		if (next && X509_cmp_current_time(next) < 0)
			log_warn("tls.crl_expired", "context=%s issuer=\"%s\" note=\"certificates from "
				 "this issuer will be rejected\"", c->name, issuer);
		bool signer = false;
		for (int j = 0; j < sk_X509_OBJECT_num(objs) && !signer; j++) {
			X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, j));
			if (ca && X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) == 0) {
				EVP_PKEY *pk = X509_get0_pubkey(ca);
				signer = pk && X509_CRL_verify(crl, pk) == 1;
			}
		}
		if (!signer)
			log_warn("tls.crl_unverified", "context=%s issuer=\"%s\" note=\"no CA in ca_list "
				 "signed this CRL\"", c->name, issuer);
	}
}

static int own_verify_h(int ok, X509_STORE_CTX *xs)
{
	/* our own CA may publish no CRL for us; that is the peers' concern, not a load error */
	int e = X509_STORE_CTX_get_error(xs);
	if (!ok && (e == X509_V_ERR_UNABLE_TO_GET_CRL || e == X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER ||
		    e == X509_V_ERR_CRL_HAS_EXPIRED))
		return 1;
	return ok;
}

static time_t asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* The own certificate: dates, chain to our trust store, names for SNI. */
static int check_own_cert(struct tls_ctx *c, SSL_CTX *sc, const struct conf_tls *ct,
			  const char *conf_path, struct conf_error *err)
{
	X509 *leaf = SSL_CTX_get0_certificate(sc);
	if (!leaf)
		return 0;
	STACK_OF(X509) *chain = NULL;
	SSL_CTX_get0_chain_certs(sc, &chain);
	c->not_after = asn1_time(X509_get0_notAfter(leaf));

	int nchain = chain ? sk_X509_num(chain) : 0; /* sk_X509_num(NULL) is -1 */
	for (int i = -1; i < nchain; i++) {
		X509 *x = i < 0 ? leaf : sk_X509_value(chain, i);
		char subj[256];
		X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
		if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
			tls_err_set(err, conf_path, ct->certificate_line,
				    "[tls:%s] certificate %s: \"%s\" is not valid yet", c->name,
				    ct->certificate, subj);
			return EINVAL;
		}
		if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
			tls_err_set(err, conf_path, ct->certificate_line,
				    "[tls:%s] certificate %s: \"%s\" has expired", c->name,
				    ct->certificate, subj);
			return EINVAL;
		}
	}
	time_t now = time(NULL);
	if (c->not_after && c->not_after - now < (time_t)EXPIRY_WARN_DAYS * 86400)
		log_warn("tls.certificate_expiring", "context=%s file=%s days_left=%lld", c->name,
			 ct->certificate, (long long)((c->not_after - now) / 86400));

	/* Self-signed leaf: nothing to chain. Otherwise verify against our own trust store. An
	 * unknown issuer is only a warning: the CA list is what we trust in PEERS (a public CA for
	 * our server certificate and a private one for clients is a valid setup); any other
	 * failure (bad signature, CA not a CA, revoked) is an error. */
	if (X509_self_signed(leaf, 0) == 1)
		return 0;
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	if (!xs || !X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(sc), leaf, chain)) {
		X509_STORE_CTX_free(xs);
		tls_err_set(err, conf_path, ct->certificate_line, "out of memory");
		return ENOMEM;
	}
	X509_STORE_CTX_set_verify_cb(xs, own_verify_h);
	if (c->has_crl)
		X509_STORE_CTX_set_flags(xs, X509_V_FLAG_CRL_CHECK);
	int rc = 0;
	if (X509_verify_cert(xs) != 1) {
		int e = X509_STORE_CTX_get_error(xs);
		enum tls_fail_reason r = tls_fail_from_x509(e);
		if (r == TLS_FAIL_UNKNOWN_CA) {
			log_warn("tls.own_issuer_untrusted", "context=%s file=%s note=\"issuer of the own "
				 "certificate is not in ca_list/ca_dir: %s\"", c->name, ct->certificate,
				 X509_verify_cert_error_string(e));
		} else {
			tls_err_set(err, conf_path, ct->certificate_line,
				    "[tls:%s] certificate %s does not verify: %s", c->name,
				    ct->certificate, X509_verify_cert_error_string(e));
			rc = EINVAL;
		}
	}
	X509_STORE_CTX_free(xs);
	if (rc)
		return rc;

	/* reload check of issue 4: the certificate must cover the names we answer SNI for */
	for (size_t i = 0; i < ct->sni.n; i++) {
		if (!tls_identity_match(leaf, ct->sni.v[i], true, NULL)) {
			tls_err_set(err, conf_path, ct->certificate_line,
				    "[tls:%s] certificate %s does not name sni %s", c->name,
				    ct->certificate, ct->sni.v[i]);
			return EINVAL;
		}
	}
	return 0;
}

void tls_keylog_h(const SSL *ssl, const char *line)
{
	const struct tls_conn *cn = tls_conn_get(ssl);
	const struct tls_ctx *c = cn ? cn->ctx : NULL;
	if (!c || atomic_load(&c->keylog_fd) < 0 || !line)
		return;
	/* NSS key log format, one write() per line so concurrent writers don't interleave */
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "%s\n", line);
	if (n > 0 && (size_t)n < sizeof(buf)) {
		/* under the lock: tls_ctx_keylog_set() must not close (and the fd number be reused
		 * for another file) between our load and our write */
		pthread_mutex_t *lk = (pthread_mutex_t *)&c->keylog_lock;
		pthread_mutex_lock(lk);
		int fd = atomic_load(&c->keylog_fd);
		if (fd >= 0) {
			ssize_t w = write(fd, buf, (size_t)n);
			(void)w;
		}
		pthread_mutex_unlock(lk);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
}

int tls_ctx_keylog_set(struct tls_ctx *ctx, const char *path)
{
	if (!ctx)
		return EINVAL;
	int fd = -1;
	if (path) {
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return errno;
		if (fchmod(fd, 0600) != 0) {
			int e = errno;
			close(fd);
			return e;
		}
	}
	pthread_mutex_lock(&ctx->keylog_lock);
	int old = atomic_exchange(&ctx->keylog_fd, fd);
	/* The callback is installed only while a file is open: with one set, OpenSSL formats every
	 * secret of every handshake in hex before calling it (~4% of a resumed handshake). The
	 * store is one aligned pointer; a handshake already running sees the old or the new value,
	 * and tls_keylog_h() writes nothing once keylog_fd is -1. */
	SSL_CTX_set_keylog_callback(ctx->ssl_ctx, fd >= 0 ? tls_keylog_h : NULL);
	pthread_mutex_unlock(&ctx->keylog_lock);
	if (old >= 0)
		close(old);
	return 0;
}

bool tls_ctx_keylog_active(const struct tls_ctx *ctx)
{
	return ctx && atomic_load(&ctx->keylog_fd) >= 0;
}

static int sid_ctx_init(struct tls_ctx *c)
{
	for (unsigned ma = 0; ma < 3; ma++) {
		char in[300];
		int n = snprintf(in, sizeof(in), "sipsd/%s/%u", c->name, ma);
		unsigned int outlen = 0;
		unsigned char md[EVP_MAX_MD_SIZE];
		if (n < 0 || !EVP_Digest(in, (size_t)n, md, &outlen, EVP_sha256(), NULL) ||
		    outlen < TLS_SID_CTX_LEN)
			return ENOMEM;
		memcpy(c->sid_ctx[ma], md, TLS_SID_CTX_LEN);
	}
	return 0;
}

static int dup_opt(char **dst, const char *src)
{
	if (!src || !*src)
		return 0;
	*dst = mem_strdup(src);
	return *dst ? 0 : ENOMEM;
}

static int build(struct tls_ctx *c, const struct conf_tls *ct, const char *conf_path,
		 struct conf_error *err)
{
	int rc;
	c->verify_depth = ct->verify_depth;
	c->require_eku = ct->require_eku;
	c->allow_wildcards = ct->allow_wildcards;
	c->session_tickets = ct->session_tickets;
	c->min_proto = proto_of(ct->min_version, TLS1_2_VERSION);
	c->max_proto = proto_of(ct->max_version, TLS1_3_VERSION);
	if (c->min_proto > c->max_proto) {
		tls_err_set(err, conf_path, ct->line, "[tls:%s] min_version is above max_version", c->name);
		return EINVAL;
	}
	/* OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1/MD5 handshake signatures) above security level 0.
	 * An explicit min_version below 1.2 is the operator's informed choice for an old box, so it
	 * lowers the level for this context only; everywhere else level 1 (>= 80-bit) holds. */
	c->sec_level = c->min_proto < TLS1_2_VERSION ? 0 : 1;
	if (c->sec_level == 0)
		log_warn("tls.legacy_version", "context=%s min_version=%s note=\"TLS 1.0/1.1 are "
			 "deprecated (RFC 8996); security level lowered to 0 for this context\"",
			 c->name, c->min_proto == TLS1_VERSION ? "tls1.0" : "tls1.1");
	if ((rc = dup_opt(&c->ciphers, ct->ciphers ? ct->ciphers : default_ciphers)) ||
	    (rc = dup_opt(&c->ciphersuites, ct->ciphersuites)) || (rc = dup_opt(&c->groups, ct->groups)))
		return rc;
	if (ct->sni.n) {
		c->sni = mem_zalloc(ct->sni.n * sizeof(*c->sni), NULL);
		if (!c->sni)
			return ENOMEM;
		for (size_t i = 0; i < ct->sni.n; i++, c->nsni++)
			if (!(c->sni[i] = mem_strdup(ct->sni.v[i])))
				return ENOMEM;
	}
	if ((rc = sid_ctx_init(c)))
		return rc;

	SSL_CTX *sc = c->ssl_ctx = SSL_CTX_new_ex(tls_libctx(), NULL, TLS_method());
	if (!sc)
		return ENOMEM;
	/* No renegotiation (attack surface, and SIP never needs it); release idle buffers (about
	 * 34 KiB per idle connection); send the configured chain as is instead of building one per
	 * handshake (pre-built chains, issue 4). */
	SSL_CTX_set_options(sc, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				    SSL_OP_NO_COMPRESSION | (c->session_tickets ? 0 : SSL_OP_NO_TICKET));
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
	/* Read what the socket has, not a record header and then its body: two read() calls per
	 * record otherwise (a resumed TLS 1.2 connection took ten). The transport asks
	 * SSL_has_pending() before it waits for the socket again. */
	SSL_CTX_set_read_ahead(sc, 1);
	SSL_CTX_set_security_level(sc, c->sec_level);
	if (!SSL_CTX_set_min_proto_version(sc, c->min_proto) ||
	    !SSL_CTX_set_max_proto_version(sc, c->max_proto)) {
		tls_err_set(err, conf_path, ct->line, "[tls:%s] unsupported min/max_version", c->name);
		return EINVAL;
	}
	if (SSL_CTX_set_cipher_list(sc, c->ciphers) != 1) {
		tls_err_set(err, conf_path, line_or(ct->ciphers_line, ct->line), "[tls:%s] ciphers \"%s\": %s", c->name,
			    c->ciphers, ossl_reason());
		return EINVAL;
	}
	if (c->ciphersuites && SSL_CTX_set_ciphersuites(sc, c->ciphersuites) != 1) {
		tls_err_set(err, conf_path, line_or(ct->ciphersuites_line, ct->line), "[tls:%s] ciphersuites \"%s\": %s", c->name,
			    c->ciphersuites, ossl_reason());
		return EINVAL;
	}
	if (c->groups && SSL_CTX_set1_groups_list(sc, c->groups) != 1) {
		tls_err_set(err, conf_path, line_or(ct->groups_line, ct->line), "[tls:%s] groups \"%s\": %s", c->name, c->groups,
			    ossl_reason());
		return EINVAL;
	}
	if ((rc = cipher_policy(c, sc, ct, conf_path, err)))
		return rc;
	X509_VERIFY_PARAM_set_depth(SSL_CTX_get0_param(sc), (int)c->verify_depth);

	if ((c->roles & TLS_CTX_SERVER) && (!ct->certificate || !ct->private_key)) {
		tls_err_set(err, conf_path, ct->line,
			    "[tls:%s] a server context needs certificate and private_key", c->name);
		return EINVAL;
	}
	if (!ct->certificate != !ct->private_key) {
		tls_err_set(err, conf_path, ct->certificate ? ct->certificate_line : ct->private_key_line,
			    "[tls:%s] certificate and private_key go together", c->name);
		return EINVAL;
	}
	if ((rc = load_trust(c, sc, ct, conf_path, err)))
		return rc;
	if ((c->roles & TLS_CTX_CLIENT) && !c->has_trust) {
		tls_err_set(err, conf_path, ct->line,
			    "[tls:%s] a client context needs ca_list or ca_dir to verify servers", c->name);
		return EINVAL;
	}
	if (ct->certificate) {
		ERR_clear_error();
		if (SSL_CTX_use_certificate_chain_file(sc, ct->certificate) != 1) {
			struct stat st;
			rc = stat(ct->certificate, &st) != 0 ? ENOENT : EINVAL;
			tls_err_set(err, conf_path, ct->certificate_line,
				    "[tls:%s] cannot load certificate %s: %s", c->name, ct->certificate,
				    rc == ENOENT ? "no such file" : ossl_reason());
			return rc;
		}
		if ((rc = load_key(c, sc, ct, conf_path, err)))
			return rc;
		if ((rc = check_own_cert(c, sc, ct, conf_path, err)))
			return rc;
	}
	if (c->has_crl)
		crl_warnings(c, SSL_CTX_get_cert_store(sc));

	/* Server-side stateful cache: TLS 1.2 session IDs, and TLS 1.3 resumption with stateful
	 * tickets when session_tickets is off. One ticket per connection: a SIP connection is long
	 * lived and reconnects one at a time. */
	/* No auto clear: OpenSSL would walk the whole cache every 255 handshakes; session_new()
	 * flushes expired sessions every 10 s instead. */
	SSL_CTX_set_session_cache_mode(sc, ct->session_cache ? SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR
							     : SSL_SESS_CACHE_OFF);
	if (ct->session_timeout)
		SSL_CTX_set_timeout(sc, (long)ct->session_timeout);
	SSL_CTX_set_num_tickets(sc, ct->session_cache || c->session_tickets ? 1 : 0);
	SSL_CTX_set_session_id_context(sc, c->sid_ctx[CONF_MA_OFF], TLS_SID_CTX_LEN);

	SSL_CTX_set_client_hello_cb(sc, tls_client_hello_h, NULL);
	if (ct->keylog_file) {
		c->keylog_fd = open(ct->keylog_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (c->keylog_fd < 0) {
			rc = errno;
			tls_err_set(err, conf_path, line_or(ct->keylog_file_line, ct->line), "[tls:%s] keylog_file %s: %s", c->name,
				    ct->keylog_file, strerror(rc));
			return rc;
		}
		log_warn("tls.keylog_enabled", "context=%s file=%s note=\"session secrets are written "
			 "for debugging; anyone with this file can decrypt the traffic\"", c->name,
			 ct->keylog_file);
		SSL_CTX_set_keylog_callback(sc, tls_keylog_h);
	}
	return 0;
}

int tls_ctx_build(const struct conf_tls *ct, const char *conf_path, unsigned roles,
		  struct tls_ctx **ctxp, struct conf_error *err)
{
	if (!ct || !ctxp || !roles) {
		tls_err_set(err, conf_path, ct ? ct->line : 0, "invalid arguments");
		return EINVAL;
	}
	struct tls_ctx *c = mem_zalloc(sizeof(*c), ctx_destroy);
	if (!c) {
		tls_err_set(err, conf_path, ct->line, "out of memory");
		return ENOMEM;
	}
	c->keylog_fd = -1;
	pthread_mutex_init(&c->keylog_lock, NULL);
	c->roles = roles;
	c->name = mem_strdup(ct->name ? ct->name : "");
	int rc = c->name ? build(c, ct, conf_path, err) : ENOMEM;
	ERR_clear_error();
	if (rc) {
		if (rc == ENOMEM && err && !err->msg[0])
			tls_err_set(err, conf_path, ct->line, "out of memory");
		mem_deref(c);
		return rc;
	}
	*ctxp = c;
	return 0;
}
