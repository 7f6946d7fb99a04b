/* Test-time PKI: keys, CAs, leaves and CRLs made with the OpenSSL API, PEMs in a mkdtemp dir. */
#ifndef SIPSD_TEST_TESTPKI_H
#define SIPSD_TEST_TESTPKI_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct tpki_cert {
	EVP_PKEY *key;
	X509 *cert;
};

struct tpki_spec {
	const char *cn;
	const char *san;   /* X509v3 syntax: "URI:sip:a.example,DNS:b.example,IP:192.0.2.1" */
	const char *eku;   /* "serverAuth,clientAuth"; NULL = no EKU extension */
	bool ca;
	bool rsa;          /* RSA-2048 instead of EC P-256 */
	int not_before;    /* days from now; 0 = -1 */
	int not_after;     /* days from now; 0 = +365 */
	long serial;       /* 0 = random-ish */
	const struct tpki_cert *issuer; /* NULL = self-signed */
};

int tpki_issue(const struct tpki_spec *spec, struct tpki_cert *out);
void tpki_free(struct tpki_cert *c);

/* The temporary directory (created on first use). */
const char *tpki_dir(void);
/* Remove the directory and everything in it. */
void tpki_cleanup(void);

/* Write files into tpki_dir(); return a static-lifetime path (valid until tpki_cleanup). */
const char *tpki_write_certs(const char *fname, X509 *const *certs, size_t n);
const char *tpki_write_key(const char *fname, EVP_PKEY *key, const char *password);
const char *tpki_write_crl(const char *fname, const struct tpki_cert *ca, const long *serials,
			   size_t n);
const char *tpki_write_text(const char *fname, const char *text);
/* Just the path, nothing written. */
const char *tpki_path(const char *fname);

#endif
