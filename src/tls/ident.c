#include "tls/ident.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "base/mem.h"
#include "tls/internal.h"

#define NAME_MAX_LEN 255 /* RFC 1035 2.3.4 */

bool tls_ip_parse(const char *s, unsigned char out[16], size_t *outlen)
{
	char buf[64];
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, out) == 1) {
		*outlen = 4;
		return true;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*outlen = 16;
		return true;
	}
	return false;
}

/* ASN.1 IA5String/UTF8 value as a C string; false if it contains NUL (an embedded NUL is the
 * classic trick to make "good.example\0.evil.example" pass a strcmp). */
static bool asn1_text(const ASN1_STRING *a, char *buf, size_t bufsz)
{
	int len = ASN1_STRING_length(a);
	const unsigned char *p = ASN1_STRING_get0_data(a);
	if (len <= 0 || (size_t)len >= bufsz || memchr(p, 0, (size_t)len))
		return false;
	memcpy(buf, p, (size_t)len);
	buf[len] = '\0';
	return true;
}

/* RFC 5922 §7.1: a URI SAN is a SIP domain identity only with scheme "sip" and no user part;
 * the identity is its host part. */
static bool sip_uri_host(const char *uri, char *host, size_t hostsz)
{
	if (strncasecmp(uri, "sip:", 4) != 0)
		return false;
	const char *p = uri + 4;
	size_t end = strcspn(p, ";?>");
	if (memchr(p, '@', end))
		return false;
	const char *h = p, *he;
	if (*h == '[') {
		he = memchr(h, ']', end);
		if (!he)
			return false;
		he++;
	} else {
		he = h + strcspn(h, ":;?>");
	}
	size_t hl = (size_t)(he - h);
	if (hl == 0 || hl >= hostsz)
		return false;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return true;
}

/* RFC 5922 §7.2: whole-name, case-insensitive (RFC 4343); a trailing root dot is ignored. */
static bool dns_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la && a[la - 1] == '.')
		la--;
	if (lb && b[lb - 1] == '.')
		lb--;
	return la == lb && strncasecmp(a, b, la) == 0;
}

/* "*.example.com" against "foo.example.com": exactly one left-most label. */
static bool wildcard_match(const char *pattern, const char *name)
{
	if (strncmp(pattern, "*.", 2) != 0)
		return false;
	const char *dot = strchr(name, '.');
	if (!dot || dot == name)
		return false;
	/* the suffix must itself have two labels, so "*.com" proves nothing */
	if (!strchr(pattern + 2, '.'))
		return false;
	return dns_equal(pattern + 2, dot + 1);
}

static void detail_set(struct tls_match_detail *why, enum tls_match_via via, const char *v)
{
	if (!why)
		return;
	why->via = via;
	size_t n = strlen(v);
	if (n >= sizeof(why->matched))
		n = sizeof(why->matched) - 1;
	memcpy(why->matched, v, n);
	why->matched[n] = '\0';
}

static bool name_match(const char *certname, const char *expected, bool allow_wildcards,
		       struct tls_match_detail *why)
{
	if (dns_equal(certname, expected))
		return true;
	if (wildcard_match(certname, expected)) {
		if (allow_wildcards)
			return true;
		if (why)
			why->wildcard_refused = true;
	}
	return false;
}

bool tls_identity_match(X509 *cert, const char *expected, bool allow_wildcards,
			struct tls_match_detail *why)
{
	struct tls_match_detail dummy;
	if (!why)
		why = &dummy;
	memset(why, 0, sizeof(*why));
	if (!cert || !expected || !*expected || strlen(expected) > NAME_MAX_LEN)
		return false;

	unsigned char want_ip[16];
	size_t want_iplen = 0;
	bool is_ip = tls_ip_parse(expected, want_ip, &want_iplen);
	char buf[NAME_MAX_LEN + 1], host[NAME_MAX_LEN + 1];
	bool ok = false;

	why->has_san = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0;
	GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = san ? sk_GENERAL_NAME_num(san) : 0;

	/* §7.1 step 1, URI first */
	for (int i = 0; i < n && !ok; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type != GEN_URI || !asn1_text(g->d.uniformResourceIdentifier, buf, sizeof(buf)))
			continue;
		if (!sip_uri_host(buf, host, sizeof(host)))
			continue;
		why->sip_uris++;
		if (is_ip) {
			unsigned char ip[16];
			size_t iplen;
			ok = tls_ip_parse(host, ip, &iplen) && iplen == want_iplen &&
			     memcmp(ip, want_ip, iplen) == 0;
		} else {
			/* no wildcards in URIs: RFC 5922 §7.2 */
			ok = dns_equal(host, expected);
		}
		if (ok)
			detail_set(why, TLS_MATCH_SAN_URI, buf);
	}
	/* §7.1: dNSName "if and only if no other identity is found that matches the sip URI type";
	 * iPAddress is outside RFC 5922 and checked for IP-literal peers in the same pass. */
	for (int i = 0; i < n && !ok; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_DNS) {
			why->dns_names++;
			if (is_ip || why->sip_uris > 0 || !asn1_text(g->d.dNSName, buf, sizeof(buf)))
				continue;
			if (name_match(buf, expected, allow_wildcards, why)) {
				ok = true;
				detail_set(why, TLS_MATCH_SAN_DNS, buf);
			}
		} else if (g->type == GEN_IPADD) {
			why->ip_addrs++;
			const ASN1_OCTET_STRING *a = g->d.iPAddress;
			if (is_ip && (size_t)ASN1_STRING_length(a) == want_iplen &&
			    memcmp(ASN1_STRING_get0_data(a), want_ip, want_iplen) == 0) {
				ok = true;
				detail_set(why, TLS_MATCH_SAN_IP, expected);
			}
		}
	}
	GENERAL_NAMES_free(san);

	/* §7.1 step 2: CN only "if and only if the subjectAltName does not appear" */
	if (!ok && !why->has_san && !is_ip) {
		const X509_NAME *subj = X509_get_subject_name(cert);
		for (int i = -1; !ok && (i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0;) {
			const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
			unsigned char *u = NULL;
			int ul = ASN1_STRING_to_UTF8(&u, cn);
			if (ul > 0 && (size_t)ul < sizeof(buf) && !memchr(u, 0, (size_t)ul)) {
				memcpy(buf, u, (size_t)ul);
				buf[ul] = '\0';
				if (name_match(buf, expected, allow_wildcards, why)) {
					ok = true;
					detail_set(why, TLS_MATCH_CN, buf);
				}
			}
			OPENSSL_free(u);
		}
	}
	return ok;
}

bool tls_cert_sip_domain(X509 *cert, char *out, size_t outsz)
{
	if (!cert || outsz == 0)
		return false;
	char buf[NAME_MAX_LEN + 1], host[NAME_MAX_LEN + 1];
	const char *found = NULL;
	bool has_san = X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) >= 0;
	GENERAL_NAMES *san = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int n = san ? sk_GENERAL_NAME_num(san) : 0;
	for (int i = 0; i < n && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_URI && asn1_text(g->d.uniformResourceIdentifier, buf, sizeof(buf)) &&
		    sip_uri_host(buf, host, sizeof(host)))
			found = host;
	}
	for (int i = 0; i < n && !found; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type == GEN_DNS && asn1_text(g->d.dNSName, buf, sizeof(buf)))
			found = buf;
	}
	GENERAL_NAMES_free(san);
	if (!found && !has_san) {
		const X509_NAME *subj = X509_get_subject_name(cert);
		int i = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
		if (i >= 0) {
			unsigned char *u = NULL;
			int ul = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i)));
			if (ul > 0 && (size_t)ul < sizeof(buf) && !memchr(u, 0, (size_t)ul)) {
				memcpy(buf, u, (size_t)ul);
				buf[ul] = '\0';
				found = buf;
			}
			OPENSSL_free(u);
		}
	}
	if (!found || strlen(found) >= outsz)
		return false;
	memcpy(out, found, strlen(found) + 1);
	return true;
}

static void strlist_destroy(void *arg)
{
	struct tls_strlist *l = arg;
	for (size_t i = 0; i < l->n; i++)
		mem_deref(l->v[i]);
	mem_deref(l->v);
}

static int san_list(X509 *cert, int type, struct tls_strlist **listp)
{
	struct tls_strlist *l = mem_zalloc(sizeof(*l), strlist_destroy);
	if (!l)
		return ENOMEM;
	int err = 0;
	GENERAL_NAMES *san = cert ? X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL) : NULL;
	int n = san ? sk_GENERAL_NAME_num(san) : 0;
	if (n > 0) {
		l->v = mem_zalloc((size_t)n * sizeof(*l->v), NULL);
		if (!l->v)
			err = ENOMEM;
	}
	char buf[1024];
	for (int i = 0; i < n && !err; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
		if (g->type != type)
			continue;
		const ASN1_STRING *a = type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
		if (!asn1_text(a, buf, sizeof(buf)))
			continue;
		l->v[l->n] = mem_strdup(buf);
		if (!l->v[l->n])
			err = ENOMEM;
		else
			l->n++;
	}
	GENERAL_NAMES_free(san);
	if (err) {
		mem_deref(l);
		return err;
	}
	*listp = l;
	return 0;
}

int tls_cert_san_uris(X509 *cert, struct tls_strlist **listp)
{
	return san_list(cert, GEN_URI, listp);
}

int tls_cert_san_dns(X509 *cert, struct tls_strlist **listp)
{
	return san_list(cert, GEN_DNS, listp);
}

static void peer_info_destroy(void *arg)
{
	struct tls_peer_info *pi = arg;
	mem_deref(pi->subject);
	mem_deref(pi->sip_domain);
	mem_deref(pi->san_uris);
	mem_deref(pi->san_dns);
}

static time_t asn1_to_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* What a full handshake proved is kept with its session, so a resumption (same certificate, by
 * definition) doesn't print the subject and decode the subjectAltNames again. */
static int sess_idx = -1;
static pthread_once_t sess_idx_once = PTHREAD_ONCE_INIT;

static void sess_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	mem_deref(ptr);
}

/* OpenSSL copies a session (TLS 1.3 tickets) with its ex_data: the copy takes a reference. */
static int sess_ex_dup(CRYPTO_EX_DATA *to, const CRYPTO_EX_DATA *from, void **from_d, int idx, long argl, void *argp)
{
	(void)to, (void)from, (void)idx, (void)argl, (void)argp;
	if (from_d && *from_d)
		mem_ref(*from_d);
	return 1;
}

/* The slot is made when the session is: the pointer stored later, once the session may already
 * be visible in the cache to other workers, is then a plain store into it, never a reallocation
 * under a reader. */
static void sess_ex_new(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ptr, (void)argl, (void)argp;
	CRYPTO_set_ex_data(ad, idx, NULL);
}

static void sess_idx_init(void)
{
	sess_idx = SSL_SESSION_get_ex_new_index(0, NULL, sess_ex_new, sess_ex_dup, sess_ex_free);
}

void tls_sess_index_init(void)
{
	pthread_once(&sess_idx_once, sess_idx_init);
}

/* A new info for a resumed connection, sharing the cached one's strings. */
static struct tls_peer_info *peer_info_from_cache(const SSL *ssl, const struct tls_peer_info *c)
{
	struct tls_peer_info *pi = mem_zalloc(sizeof(*pi), peer_info_destroy);
	if (!pi)
		return NULL;
	*pi = *c;
	mem_ref(pi->subject);
	mem_ref(pi->sip_domain);
	mem_ref(pi->san_uris);
	mem_ref(pi->san_dns);
	pi->resumed = true;
	pi->cert_verified = c->cert_presented && SSL_get_verify_result(ssl) == X509_V_OK;
	snprintf(pi->version, sizeof(pi->version), "%s", SSL_get_version(ssl));
	snprintf(pi->cipher, sizeof(pi->cipher), "%s", SSL_get_cipher_name(ssl));
	return pi;
}

int tls_peer_info_get(const SSL *ssl, struct tls_peer_info **infop)
{
	if (!ssl || !infop || !SSL_is_init_finished(ssl))
		return EINVAL;
	tls_sess_index_init();
	SSL_SESSION *sess = SSL_get_session(ssl);
	const struct tls_peer_info *cached =
		sess && sess_idx >= 0 && SSL_session_reused(ssl) ? SSL_SESSION_get_ex_data(sess, sess_idx) : NULL;
	if (cached) {
		struct tls_peer_info *pi = peer_info_from_cache(ssl, cached);
		if (!pi)
			return ENOMEM;
		*infop = pi;
		return 0;
	}
	struct tls_peer_info *pi = mem_zalloc(sizeof(*pi), peer_info_destroy);
	if (!pi)
		return ENOMEM;
	int err = 0;
	snprintf(pi->version, sizeof(pi->version), "%s", SSL_get_version(ssl));
	snprintf(pi->cipher, sizeof(pi->cipher), "%s", SSL_get_cipher_name(ssl));
	pi->resumed = SSL_session_reused(ssl);
	X509 *cert = SSL_get0_peer_certificate(ssl);
	if (cert) {
		pi->cert_presented = true;
		pi->cert_verified = SSL_get_verify_result(ssl) == X509_V_OK;
		pi->not_after = asn1_to_time(X509_get0_notAfter(cert));
		BIO *b = BIO_new(BIO_s_mem());
		if (b && X509_NAME_print_ex(b, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
			char *p;
			long len = BIO_get_mem_data(b, &p);
			pi->subject = mem_strndup(p, len > 0 ? (size_t)len : 0);
		}
		BIO_free(b);
		if (!pi->subject)
			err = ENOMEM;
		char dom[NAME_MAX_LEN + 1];
		if (!err && tls_cert_sip_domain(cert, dom, sizeof(dom)) && !(pi->sip_domain = mem_strdup(dom)))
			err = ENOMEM;
	}
	if (!err)
		err = san_list(cert, GEN_URI, &pi->san_uris);
	if (!err)
		err = san_list(cert, GEN_DNS, &pi->san_dns);
	if (err) {
		mem_deref(pi);
		return err;
	}
	if (sess && sess_idx >= 0 && !pi->resumed && !SSL_SESSION_get_ex_data(sess, sess_idx) &&
	    SSL_SESSION_set_ex_data(sess, sess_idx, pi) == 1)
		mem_ref(pi);
	*infop = pi;
	return 0;
}
