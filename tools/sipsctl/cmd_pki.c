/* sipsctl pki init-ca | issue-server NAME --san ... | issue-client user@domain: a lab PKI with
 * OpenSSL's API, writing the three PEM files operators know from the IMG 2020: the private key
 * (NAME.key, mode 0600), the certificate (NAME.pem, "publickey.pem") and the CA list
 * (CAList.pem). Defaults: P-256 keys, 1-year leaves (10-year CA), serverAuth+clientAuth for
 * servers (a SIP server is also the TLS client of its peers), clientAuth for users, SAN URI
 * sip:domain / sip:user@domain (RFC 5922). Keys are written to files only, never printed. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "sipsctl.h"

enum { MAX_SANS = 32 };

struct pki_opts {
	const char *dir;
	const char *name;
	unsigned days;
	const char *sans[MAX_SANS];
	size_t nsans;
	bool force;
};

static void pki_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl pki init-ca [--dir DIR] [--name CN] [--days N] [--force]\n"
		   "       sipsctl pki issue-server NAME --san sip:DOMAIN --san dns:HOST --san ip:ADDR [--dir DIR] [--days N]\n"
		   "       sipsctl pki issue-client USER@DOMAIN [--dir DIR] [--days N]\n"
		   "files in DIR (default .): ca.key ca.pem | NAME.key NAME.pem | CAList.pem\n");
}

static void ossl_err(const char *what)
{
	unsigned long e = ERR_get_error();
	fprintf(stderr, "sipsctl: %s: %s\n", what, e ? ERR_reason_error_string(e) : "failed");
	ERR_clear_error();
}

static int path_of(char *buf, size_t sz, const char *dir, const char *name, const char *ext)
{
	int n = snprintf(buf, sz, "%s/%s%s", dir, name, ext);
	return n < 0 || (size_t)n >= sz ? ENAMETOOLONG : 0;
}

/* O_EXCL unless force: never overwrite a key by accident. */
static FILE *open_out(const char *path, mode_t mode, bool force)
{
	if (force)
		unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0) {
		fprintf(stderr, "sipsctl: cannot create %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (use --force to replace)" : "");
		return NULL;
	}
	fchmod(fd, mode);
	FILE *f = fdopen(fd, "w");
	if (!f)
		close(fd);
	return f;
}

static int write_key(const char *path, EVP_PKEY *k, bool force)
{
	FILE *f = open_out(path, 0600, force);
	if (!f)
		return SIPSCTL_FAIL;
	int ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || !ok) {
		ossl_err("writing the key");
		return SIPSCTL_FAIL;
	}
	return SIPSCTL_OK;
}

static int write_cert(const char *path, X509 *x, bool force)
{
	FILE *f = open_out(path, 0644, force);
	if (!f)
		return SIPSCTL_FAIL;
	int ok = PEM_write_X509(f, x);
	if (fclose(f) != 0 || !ok) {
		ossl_err("writing the certificate");
		return SIPSCTL_FAIL;
	}
	return SIPSCTL_OK;
}

static bool add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!e)
		return false;
	bool ok = X509_add_ext(x, e, -1) == 1;
	X509_EXTENSION_free(e);
	return ok;
}

/* A new certificate for key signed by (ca, cakey); self-signed when ca is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, unsigned days, X509 *ca, EVP_PKEY *cakey, bool is_ca,
		       const char *eku, const char *san)
{
	X509 *x = X509_new();
	if (!x)
		return NULL;
	unsigned char rnd[16];
	BIGNUM *bn = NULL;
	bool ok = RAND_bytes(rnd, sizeof(rnd)) == 1;
	rnd[0] &= 0x7f; /* positive, RFC 5280 4.1.2.2 */
	ok = ok && (bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	ok = ok && X509_set_version(x, 2) == 1;
	ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), -300) && /* clock skew */
	     X509_gmtime_adj(X509_getm_notAfter(x), (long)days * 86400);
	X509_NAME *name = X509_get_subject_name(x);
	ok = ok && X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1;
	ok = ok && X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : name) == 1;
	ok = ok && X509_set_pubkey(x, key) == 1;
	X509 *iss = ca ? ca : x;
	if (is_ca) {
		ok = ok && add_ext(x, iss, NID_basic_constraints, "critical,CA:TRUE") &&
		     add_ext(x, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		ok = ok && add_ext(x, iss, NID_basic_constraints, "critical,CA:FALSE") &&
		     add_ext(x, iss, NID_key_usage, "critical,digitalSignature,keyAgreement");
	}
	ok = ok && add_ext(x, iss, NID_subject_key_identifier, "hash");
	if (ca)
		ok = ok && add_ext(x, iss, NID_authority_key_identifier, "keyid:always");
	if (eku)
		ok = ok && add_ext(x, iss, NID_ext_key_usage, eku);
	if (san)
		ok = ok && add_ext(x, iss, NID_subject_alt_name, san);
	ok = ok && X509_sign(x, ca ? cakey : key, EVP_sha256()) > 0;
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int parse_opts(int argc, char **argv, struct pki_opts *o, bool want_name)
{
	static const struct option lo[] = {
		{ "dir", required_argument, NULL, 'd' }, { "name", required_argument, NULL, 'n' },
		{ "days", required_argument, NULL, 'D' }, { "san", required_argument, NULL, 's' },
		{ "force", no_argument, NULL, 'f' },     { NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof(*o));
	o->dir = ".";
	optind = 0; /* glibc: full re-initialisation */
	int c;
	while ((c = getopt_long(argc, argv, "d:n:D:s:f", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'n': o->name = optarg; break;
		case 'f': o->force = true; break;
		case 'D': {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*end || v == 0 || v > 36500) {
				fprintf(stderr, "sipsctl: --days 1..36500\n");
				return SIPSCTL_USAGE;
			}
			o->days = (unsigned)v;
			break;
		}
		case 's':
			if (o->nsans >= MAX_SANS)
				return SIPSCTL_USAGE;
			o->sans[o->nsans++] = optarg;
			break;
		default: return SIPSCTL_USAGE;
		}
	}
	if (want_name) {
		if (optind + 1 != argc)
			return SIPSCTL_USAGE;
		o->name = argv[optind];
	} else if (optind != argc) {
		return SIPSCTL_USAGE;
	}
	return SIPSCTL_OK;
}

static int load_ca(const char *dir, X509 **ca, EVP_PKEY **key)
{
	char p[1024];
	path_of(p, sizeof(p), dir, "ca", ".pem");
	FILE *f = fopen(p, "r");
	*ca = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	path_of(p, sizeof(p), dir, "ca", ".key");
	f = fopen(p, "r");
	*key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!*ca || !*key) {
		fprintf(stderr, "sipsctl: no CA in %s (ca.pem + ca.key): run 'sipsctl pki init-ca --dir %s' first\n", dir,
			dir);
		X509_free(*ca);
		EVP_PKEY_free(*key);
		ERR_clear_error();
		return SIPSCTL_FAIL;
	}
	return SIPSCTL_OK;
}

/* CAList.pem: the CA list peers and sipsd load ("Trusted Root Certificates"). */
static int write_ca_list(const char *dir, X509 *ca)
{
	char p[1024];
	path_of(p, sizeof(p), dir, "CAList", ".pem");
	return write_cert(p, ca, true);
}

static int init_ca(int argc, char **argv)
{
	struct pki_opts o;
	if (parse_opts(argc, argv, &o, false)) {
		pki_usage(stderr);
		return SIPSCTL_USAGE;
	}
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? make_cert(k, o.name ? o.name : "sipsd lab CA", o.days ? o.days : 3650, NULL, NULL, true, NULL,
				NULL)
		    : NULL;
	int rc = SIPSCTL_FAIL;
	char kp[1024], cp[1024];
	if (!x)
		ossl_err("making the CA");
	else if (path_of(kp, sizeof(kp), o.dir, "ca", ".key") || path_of(cp, sizeof(cp), o.dir, "ca", ".pem"))
		fprintf(stderr, "sipsctl: --dir too long\n");
	else if (!write_key(kp, k, o.force) && !write_cert(cp, x, o.force) && !write_ca_list(o.dir, x)) {
		printf("CA key         %s (keep it offline)\nCA certificate %s\nCA list        %s/CAList.pem\n", kp, cp,
		       o.dir);
		rc = SIPSCTL_OK;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

static int issue(int argc, char **argv, bool server)
{
	struct pki_opts o;
	if (parse_opts(argc, argv, &o, true) || (!server && o.nsans)) {
		pki_usage(stderr);
		return SIPSCTL_USAGE;
	}
	char san[4096] = "";
	char cn[256];
	snprintf(cn, sizeof(cn), "%s", o.name);
	if (server) {
		for (size_t i = 0; i < o.nsans; i++) {
			const char *s = o.sans[i];
			const char *type = NULL, *val = NULL;
			if (strncasecmp(s, "sip:", 4) == 0) {
				type = "URI";
				val = s; /* the whole sip:domain URI, RFC 5922 7.1 */
			} else if (strncasecmp(s, "dns:", 4) == 0) {
				type = "DNS";
				val = s + 4;
			} else if (strncasecmp(s, "ip:", 3) == 0) {
				type = "IP";
				val = s + 3;
			}
			if (!type || !*val || strpbrk(val, ", \t")) {
				fprintf(stderr, "sipsctl: bad --san '%s' (sip:DOMAIN, dns:HOST or ip:ADDRESS)\n", s);
				return SIPSCTL_USAGE;
			}
			size_t n = strlen(san);
			snprintf(san + n, sizeof(san) - n, "%s%s:%s", n ? "," : "", type, val);
		}
		if (!o.nsans) {
			fprintf(stderr, "sipsctl: issue-server needs at least one --san (sip:DOMAIN for RFC 5922)\n");
			return SIPSCTL_USAGE;
		}
	} else {
		const char *at = strchr(o.name, '@');
		if (!at || at == o.name || !at[1] || strpbrk(o.name, ", \t/:;")) {
			fprintf(stderr, "sipsctl: issue-client USER@DOMAIN\n");
			return SIPSCTL_USAGE;
		}
		snprintf(san, sizeof(san), "URI:sip:%s", o.name);
	}
	if (strchr(o.name, '/') || o.name[0] == '.') {
		fprintf(stderr, "sipsctl: NAME must be a plain file name\n");
		return SIPSCTL_USAGE;
	}
	X509 *ca = NULL;
	EVP_PKEY *cakey = NULL;
	if (load_ca(o.dir, &ca, &cakey))
		return SIPSCTL_FAIL;
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = k ? make_cert(k, cn, o.days ? o.days : 365, ca, cakey, false,
				server ? "serverAuth,clientAuth" : "clientAuth", san)
		    : NULL;
	int rc = SIPSCTL_FAIL;
	char kp[1024], cp[1024];
	if (!x)
		ossl_err("issuing the certificate");
	else if (path_of(kp, sizeof(kp), o.dir, o.name, ".key") || path_of(cp, sizeof(cp), o.dir, o.name, ".pem"))
		fprintf(stderr, "sipsctl: --dir too long\n");
	else if (!write_key(kp, k, o.force) && !write_cert(cp, x, o.force) && !write_ca_list(o.dir, ca)) {
		printf("private key  %s\ncertificate  %s\nCA list      %s/CAList.pem\nsubjectAltName %s\n", kp, cp, o.dir,
		       san);
		rc = SIPSCTL_OK;
	}
	X509_free(x);
	EVP_PKEY_free(k);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

static int pki_run(struct sipsctl *ctl, int argc, char **argv)
{
	(void)ctl;
	if (argc < 2) {
		pki_usage(stderr);
		return SIPSCTL_USAGE;
	}
	if (strcmp(argv[1], "init-ca") == 0)
		return init_ca(argc - 1, argv + 1);
	if (strcmp(argv[1], "issue-server") == 0)
		return issue(argc - 1, argv + 1, true);
	if (strcmp(argv[1], "issue-client") == 0)
		return issue(argc - 1, argv + 1, false);
	pki_usage(strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return strcmp(argv[1], "--help") == 0 ? SIPSCTL_OK : SIPSCTL_USAGE;
}

const struct sipsctl_group sipsctl_group_pki = {
	.name = "pki",
	.summary = "lab PKI: init-ca, issue-server, issue-client (P-256, PEM files)",
	.run = pki_run,
	.usage = pki_usage,
};
