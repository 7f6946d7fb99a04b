/* Certificate facts as operators read them in the device tables ("issued to", "issued by",
 * valid from/to, usage, CA), for the management API and sipsctl. OpenSSL only. */
#ifndef SIPSD_MGMT_X509_H
#define SIPSD_MGMT_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "mgmt/json.h"

/* SHA-256 of the DER, lowercase hex without separators (65 bytes with the NUL). */
void mgmt_x509_sha256(X509 *x, char hex[65]);
/* "2025-01-31T12:00:00Z" */
void mgmt_time_iso(time_t t, char *buf, size_t sz);
time_t mgmt_asn1_time(const ASN1_TIME *t);
bool mgmt_x509_is_ca(X509 *x);
/* Writes the members (inside an object the caller opened): subject, issuer, serial,
 * not_before, not_after, days_left, seconds_left, key_type, key_bits, ca, key_usage[], eku[],
 * san_uri[], san_dns[], san_ip[], sha256. */
void mgmt_x509_json(struct json_w *w, X509 *x, time_t now);
/* Every certificate of a PEM file (CA lists hold many); free with
 * sk_X509_pop_free(sk, X509_free). NULL when the file can't be read or holds none. */
STACK_OF(X509) *mgmt_pem_read_certs(const char *path);
/* Same from memory. */
STACK_OF(X509) *mgmt_pem_parse_certs(const char *pem, size_t len);

#endif
