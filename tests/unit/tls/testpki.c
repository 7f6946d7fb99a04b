#include "testpki.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#define MAX_PATHS 256

static char dir[256];
static char *paths[MAX_PATHS];
static size_t npaths;
static long next_serial = 1000;

const char *tpki_dir(void)
{
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/sipsd-tls-test-XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			abort();
		}
	}
	return dir;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

void tpki_cleanup(void)
{
	if (dir[0])
		nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	npaths = 0;
}

const char *tpki_path(const char *fname)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s/%s", tpki_dir(), fname);
	if (npaths == MAX_PATHS)
		abort();
	paths[npaths] = strdup(buf);
	return paths[npaths++];
}

static EVP_PKEY *new_key(bool rsa)
{
	return rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
}

static int add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

int tpki_issue(const struct tpki_spec *s, struct tpki_cert *out)
{
	memset(out, 0, sizeof(*out));
	out->key = new_key(s->rsa);
	out->cert = X509_new();
	if (!out->key || !out->cert)
		return -1;
	X509 *x = out->cert;
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), s->serial ? s->serial : next_serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), (long)(s->not_before ? s->not_before : -1) * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), (long)(s->not_after ? s->not_after : 365) * 86400);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"sipsd test", -1, -1, 0);
	if (s->cn)
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)s->cn, -1, -1, 0);
	X509 *icert = s->issuer ? s->issuer->cert : x;
	EVP_PKEY *ikey = s->issuer ? s->issuer->key : out->key;
	X509_set_issuer_name(x, X509_get_subject_name(icert));
	X509_set_pubkey(x, out->key);
	int rc = 0;
	if (s->ca) {
		rc |= add_ext(x, icert, NID_basic_constraints, "critical,CA:TRUE");
		rc |= add_ext(x, icert, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		rc |= add_ext(x, icert, NID_basic_constraints, "critical,CA:FALSE");
		rc |= add_ext(x, icert, NID_key_usage,
			      s->rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature");
	}
	rc |= add_ext(x, icert, NID_subject_key_identifier, "hash");
	if (s->issuer)
		rc |= add_ext(x, icert, NID_authority_key_identifier, "keyid:always");
	if (s->san)
		rc |= add_ext(x, icert, NID_subject_alt_name, s->san);
	if (s->eku)
		rc |= add_ext(x, icert, NID_ext_key_usage, s->eku);
	if (rc || !X509_sign(x, ikey, EVP_sha256()))
		return -1;
	return 0;
}

void tpki_free(struct tpki_cert *c)
{
	EVP_PKEY_free(c->key);
	X509_free(c->cert);
	memset(c, 0, sizeof(*c));
}

const char *tpki_write_certs(const char *fname, X509 *const *certs, size_t n)
{
	const char *p = tpki_path(fname);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	for (size_t i = 0; i < n; i++)
		PEM_write_X509(f, certs[i]);
	fclose(f);
	return p;
}

const char *tpki_write_key(const char *fname, EVP_PKEY *key, const char *password)
{
	const char *p = tpki_path(fname);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	if (password)
		PEM_write_PrivateKey(f, key, EVP_aes_128_cbc(), (const unsigned char *)password,
				     (int)strlen(password), NULL, NULL);
	else
		PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	return p;
}

const char *tpki_write_crl(const char *fname, const struct tpki_cert *ca, const long *serials, size_t n)
{
	X509_CRL *crl = X509_CRL_new();
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert));
	ASN1_TIME *t = ASN1_TIME_adj(NULL, time(NULL), -1, 0);
	X509_CRL_set1_lastUpdate(crl, t);
	ASN1_TIME_adj(t, time(NULL), 30, 0);
	X509_CRL_set1_nextUpdate(crl, t);
	for (size_t i = 0; i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *sn = ASN1_INTEGER_new();
		ASN1_INTEGER_set(sn, serials[i]);
		X509_REVOKED_set_serialNumber(r, sn);
		ASN1_TIME_adj(t, time(NULL), -1, 0);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(sn);
	}
	ASN1_TIME_free(t);
	X509_CRL_sort(crl);
	X509_CRL_sign(crl, ca->key, EVP_sha256());
	const char *p = tpki_path(fname);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	PEM_write_X509_CRL(f, crl);
	fclose(f);
	X509_CRL_free(crl);
	return p;
}

const char *tpki_write_text(const char *fname, const char *text)
{
	const char *p = tpki_path(fname);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs(text, f);
	fclose(f);
	return p;
}
