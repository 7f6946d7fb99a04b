/* Certificate facts for the management views (see x509.h). */
#include "mgmt/x509.h"

#include <stdio.h>
#include <string.h>

#include <stdint.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

void mgmt_x509_sha256(X509 *x, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	hex[0] = '\0';
	if (!x || X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned i = 0; i < n && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

void mgmt_time_iso(time_t t, char *buf, size_t sz)
{
	struct tm tm;
	if (!t || !gmtime_r(&t, &tm)) {
		snprintf(buf, sz, "-");
		return;
	}
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t mgmt_asn1_time(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

bool mgmt_x509_is_ca(X509 *x)
{
	return X509_check_ca(x) > 0 && (X509_get_extension_flags(x) & EXFLAG_CA);
}

static void name_json(struct json_w *w, const char *key, const X509_NAME *n)
{
	char buf[512] = "";
	BIO *b = BIO_new(BIO_s_mem());
	if (b && X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		int len = BIO_read(b, buf, (int)sizeof(buf) - 1);
		buf[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
	json_kv_str(w, key, buf);
}

static void key_json(struct json_w *w, X509 *x)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *type = "unknown";
	char tbuf[64];
	if (pk) {
		int id = EVP_PKEY_get_base_id(pk);
		if (id == EVP_PKEY_RSA)
			type = "RSA";
		else if (id == EVP_PKEY_EC) {
			char grp[48] = "";
			size_t gl = 0;
			if (EVP_PKEY_get_utf8_string_param(pk, "group", grp, sizeof(grp), &gl) == 1)
				snprintf(tbuf, sizeof(tbuf), "EC %s", grp);
			else
				snprintf(tbuf, sizeof(tbuf), "EC");
			type = tbuf;
		} else if (id == EVP_PKEY_ED25519)
			type = "Ed25519";
		else if (id == EVP_PKEY_ED448)
			type = "Ed448";
		else
			type = OBJ_nid2sn(id);
	}
	json_kv_str(w, "key_type", type);
	json_kv_int(w, "key_bits", pk ? EVP_PKEY_get_bits(pk) : 0);
}

static void usage_json(struct json_w *w, X509 *x)
{
	uint32_t ku = X509_get_key_usage(x);
	static const struct {
		uint32_t bit;
		const char *name;
	} kus[] = {
		{ KU_DIGITAL_SIGNATURE, "digitalSignature" }, { KU_NON_REPUDIATION, "nonRepudiation" },
		{ KU_KEY_ENCIPHERMENT, "keyEncipherment" },   { KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ KU_KEY_AGREEMENT, "keyAgreement" },         { KU_KEY_CERT_SIGN, "keyCertSign" },
		{ KU_CRL_SIGN, "cRLSign" },
	};
	json_key(w, "key_usage");
	json_arr_begin(w);
	if (ku != UINT32_MAX)
		for (size_t i = 0; i < sizeof(kus) / sizeof(kus[0]); i++)
			if (ku & kus[i].bit)
				json_str(w, kus[i].name);
	json_arr_end(w);
	json_key(w, "eku");
	json_arr_begin(w);
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
		const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		char txt[80];
		if (nid != NID_undef)
			snprintf(txt, sizeof(txt), "%s", OBJ_nid2sn(nid));
		else
			OBJ_obj2txt(txt, sizeof(txt), o, 1);
		json_str(w, txt);
	}
	EXTENDED_KEY_USAGE_free(eku);
	json_arr_end(w);
}

static void sans_json(struct json_w *w, X509 *x)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	static const int types[] = { GEN_URI, GEN_DNS, GEN_IPADD };
	static const char *const keys[] = { "san_uri", "san_dns", "san_ip" };
	for (size_t t = 0; t < 3; t++) {
		json_key(w, keys[t]);
		json_arr_begin(w);
		for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
			const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
			if (g->type != types[t])
				continue;
			if (g->type == GEN_IPADD) {
				char ip[64] = "";
				const ASN1_OCTET_STRING *o = g->d.iPAddress;
				if (o->length == 4)
					snprintf(ip, sizeof(ip), "%u.%u.%u.%u", o->data[0], o->data[1], o->data[2], o->data[3]);
				else if (o->length == 16)
					for (int k = 0; k < 16; k += 2) {
						size_t l = strlen(ip);
						snprintf(ip + l, sizeof(ip) - l, "%s%x", k ? ":" : "",
							 (unsigned)(o->data[k] << 8 | o->data[k + 1]));
					}
				json_str(w, ip);
			} else {
				const ASN1_IA5STRING *s = g->type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
				json_strn(w, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
			}
		}
		json_arr_end(w);
	}
	GENERAL_NAMES_free(gens);
}

void mgmt_x509_json(struct json_w *w, X509 *x, time_t now)
{
	name_json(w, "subject", X509_get_subject_name(x));
	name_json(w, "issuer", X509_get_issuer_name(x));
	char serial[128] = "";
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	if (hex)
		snprintf(serial, sizeof(serial), "%s", hex);
	OPENSSL_free(hex);
	BN_free(bn);
	json_kv_str(w, "serial", serial);
	time_t nb = mgmt_asn1_time(X509_get0_notBefore(x)), na = mgmt_asn1_time(X509_get0_notAfter(x));
	char tb[32];
	mgmt_time_iso(nb, tb, sizeof(tb));
	json_kv_str(w, "not_before", tb);
	mgmt_time_iso(na, tb, sizeof(tb));
	json_kv_str(w, "not_after", tb);
	long long left = (long long)na - (long long)now;
	json_kv_int(w, "seconds_left", left);
	/* floor division: -0.5 days left is day -1, expired */
	json_kv_int(w, "days_left", left >= 0 ? left / 86400 : -((-left + 86399) / 86400));
	key_json(w, x);
	json_kv_bool(w, "ca", mgmt_x509_is_ca(x));
	usage_json(w, x);
	sans_json(w, x);
	char fp[65];
	mgmt_x509_sha256(x, fp);
	json_kv_str(w, "sha256", fp);
}

static STACK_OF(X509) *read_bio(BIO *b)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	if (!sk)
		return NULL;
	for (;;) {
		X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
		if (!x)
			break;
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			break;
		}
	}
	ERR_clear_error();
	if (sk_X509_num(sk) == 0) {
		sk_X509_free(sk);
		return NULL;
	}
	return sk;
}

STACK_OF(X509) *mgmt_pem_read_certs(const char *path)
{
	BIO *b = BIO_new_file(path, "r");
	if (!b) {
		ERR_clear_error();
		return NULL;
	}
	STACK_OF(X509) *sk = read_bio(b);
	BIO_free(b);
	return sk;
}

STACK_OF(X509) *mgmt_pem_parse_certs(const char *pem, size_t len)
{
	if (len > INT32_MAX)
		return NULL;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	if (!b)
		return NULL;
	STACK_OF(X509) *sk = read_bio(b);
	BIO_free(b);
	return sk;
}
