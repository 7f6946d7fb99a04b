/* RFC 5922 SIP domain identities in X.509 certificates, and what a handshake proved about the
 * peer (for the proxy's post-connection checks and the registrar's certificate binding).
 * Pure functions over X509 / a finished SSL; no I/O. */
#ifndef SIPSD_TLS_IDENT_H
#define SIPSD_TLS_IDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

enum tls_match_via {
	TLS_MATCH_NONE = 0,
	TLS_MATCH_SAN_URI, /* subjectAltName URI sip:domain (RFC 5922 §7.1) */
	TLS_MATCH_SAN_DNS, /* dNSName, only when no sip: URI identity exists (§7.1) */
	TLS_MATCH_SAN_IP,  /* iPAddress, for IP-literal peers (not covered by RFC 5922) */
	TLS_MATCH_CN,      /* subject CN, only when there is no subjectAltName at all (§7.1) */
};

/* Why a match succeeded or failed, for the log line. */
struct tls_match_detail {
	enum tls_match_via via;
	bool has_san;          /* subjectAltName present, so CN was not considered */
	unsigned sip_uris;     /* acceptable sip: URI identities (dNSName ignored when > 0) */
	unsigned dns_names;
	unsigned ip_addrs;
	bool wildcard_refused; /* a "*." name would have matched but wildcards are off (§7.2) */
	char matched[256];     /* the certificate value that matched */
};

/* Does cert prove `expected` (a domain, or an IPv4/IPv6 literal, brackets allowed)?
 * RFC 5922 §7.1-7.2: sip: URI SANs without user part first; dNSName only if the certificate has
 * no such URI; CN only if it has no subjectAltName at all; case-insensitive whole-name
 * comparison; "*.example.com" matches one left-most label only when allow_wildcards (the RFC
 * forbids it, some deployments need it). why may be NULL. */
bool tls_identity_match(X509 *cert, const char *expected, bool allow_wildcards,
			struct tls_match_detail *why);

/* The SIP domain identity a certificate proves by the same rules (first sip: URI host, else
 * first dNSName, else CN when no SAN). Returns false when it proves none. */
bool tls_cert_sip_domain(X509 *cert, char *buf, size_t bufsz);

/* Refcounted list of strings (free with mem_deref). */
struct tls_strlist {
	size_t n;
	char **v;
};

/* All subjectAltName URIs as written (sip:alice@example.com included), so the registrar can
 * bind a user's certificate to an AOR; all dNSNames. 0 and an (possibly empty) list, or ENOMEM. */
int tls_cert_san_uris(X509 *cert, struct tls_strlist **listp);
int tls_cert_san_dns(X509 *cert, struct tls_strlist **listp);

/* What a finished handshake proved (refcounted, free with mem_deref). */
struct tls_peer_info {
	bool cert_presented;     /* the peer sent a certificate */
	bool cert_verified;      /* ... and it verified against our trust store */
	bool resumed;            /* session resumption: facts come from the cached session */
	char *subject;           /* RFC 2253 one-line, NULL without certificate */
	char *sip_domain;        /* tls_cert_sip_domain(), NULL when none */
	struct tls_strlist *san_uris;
	struct tls_strlist *san_dns;
	time_t not_after;        /* 0 without certificate */
	char version[16];        /* "TLSv1.3" */
	char cipher[64];         /* OpenSSL name, "TLS_AES_128_GCM_SHA256" */
};

/* 0 and *infop; EINVAL when the handshake is not finished; ENOMEM. */
int tls_peer_info_get(const SSL *ssl, struct tls_peer_info **infop);

#endif
