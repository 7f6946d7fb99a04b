/* The third-party SDP files of ../shared/testdata/sdes, read in place (SIPSD_TESTDATA).
 *
 * pjproject-pjsua-sendto-sdp/: INDEX-derived.tsv gives, per file, the response code pjsua sends
 * as the answering UA and the pjsua options it ran with. The table below is driven by that
 * index. sipsd is a proxy, not the answering UA, so each pjsua setting is mapped to the policy
 * that makes the proxy give the same answer at the edge:
 *
 *   pjsua --use-srtp 0 (also when absent: pjsua's default is disabled)
 *       -> media = any,              key_management = none, mismatch_response = 488
 *   pjsua --use-srtp 1 (optional)    -> media = secure-preferred, key_management = any
 *   pjsua --use-srtp 2 (mandatory)   -> media = secure-required,  key_management = any
 *
 * mismatch_response = 488 everywhere: pjsua answers 488 to RTP/SAVP when SRTP is disabled
 * (301_srtp0_recv_savp), which is the key-management refusal here. The hop is TLS with a sips
 * target: these files test the answer, not the hop (the hop guard is checked separately below).
 *
 * Codes: 200 -> accept; 400 -> 400; 488 -> 488; 406 -> 488. pjsua uses 406 Not Acceptable for
 * SDES errors; RFC 3261 21.4.26 makes 488 the code for an unacceptable session description and
 * issue 7 asks for it, so the same refusal is expected with 488.
 *
 * Four files are refused by pjsua for reasons a proxy does not judge (its codec list, its own
 * rule about empty offers); for those the proxy forwards the offer and the endpoint answers.
 * They are listed in `deviations` with the reason, and still checked.
 *
 * pjproject-fuzz-sdes-seeds/: no index; SOURCES.md states each seed's intent by its name. Their
 * key bytes do not match their suites (28 octets for AES_CM_128, 47 for AES_256), so the seeds
 * meant as valid are refused for key length only: everything else on their lines parses.
 *
 * rfc4568-examples/: README says every a=crypto line is valid and all keys are 30 octets. */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "sdp/crypto.h"
#include "sdp/policy.h"
#include "sdp/sdp.h"
#include "sdptest.h"

#define HOST "sipsd.example"
#define PJSUA_DIR "sdes/pjproject-pjsua-sendto-sdp"
#define SEEDS_DIR "sdes/pjproject-fuzz-sdes-seeds"
#define RFC_DIR "sdes/rfc4568-examples"

static const struct sdp_hop tls_hop = { true, true };
static const struct sdp_hop udp_hop = { false, false };

struct deviation {
	const char *file;
	unsigned pjsua_code;
	const char *why;
};

static const struct deviation deviations[] = {
	{ "151_err_sdp_video.sdp", 488, "pjsua runs without video; codec support is the endpoint's call" },
	{ "153_err_sdp_unsupported_codec.sdp", 488, "unknown codec; codec support is the endpoint's call" },
	{ "158_err_sdp_bad_transport_type.sdp", 488,
	  "RTP/XAVP is kept as an unknown transport; the endpoint refuses it" },
	{ "152_err_sdp_no_media.sdp", 400, "RFC 3264 5 allows an offer without media; 400 is pjsua's rule" },
};

static const struct deviation *deviation_for(const char *file)
{
	for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
		if (!strcmp(deviations[i].file, file))
			return &deviations[i];
	return NULL;
}

static struct sdp_policy policy_for_pjsua(const char *args, int *use_srtp)
{
	const char *p = strstr(args, "--use-srtp ");
	*use_srtp = p ? p[11] - '0' : 0;
	switch (*use_srtp) {
	case 1: return (struct sdp_policy){ SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 488, SDP_SDES_HOP_REFUSE };
	case 2: return (struct sdp_policy){ SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 488, SDP_SDES_HOP_REFUSE };
	default: return (struct sdp_policy){ SDP_MEDIA_ANY, SDP_KM_NONE, 488, SDP_SDES_HOP_REFUSE };
	}
}

static const char *action_name(enum sdp_action a)
{
	return a == SDP_ACCEPT ? "accept" : a == SDP_ACCEPT_STRIPPED ? "accept-stripped" : "reject";
}

/* Split the next TSV field off *line (the line is modified in place). */
static char *tsv_field(char **line)
{
	char *f = *line;
	if (!f)
		return NULL;
	char *tab = strchr(f, '\t');
	if (tab) {
		*tab = '\0';
		*line = tab + 1;
	} else {
		*line = NULL;
	}
	return f;
}

static bool listed(const char *name, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return true;
	return false;
}

/* Every .sdp file in dir must be covered by the table, so a new file cannot slip by. */
static void every_file_listed(const char *dir, char **names, size_t n)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", sdptest_root(), dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	int missing = 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (len > 4 && !strcmp(e->d_name + len - 4, ".sdp") && !listed(e->d_name, names, n)) {
			print_error("%s/%s: not in the expectation table\n", dir, e->d_name);
			missing++;
		}
	}
	closedir(d);
	assert_int_equal(missing, 0);
}

static void test_pjsua_index(void **state)
{
	(void)state;
	size_t len = 0;
	char *index = sdptest_read(PJSUA_DIR "/INDEX-derived.tsv", &len);
	assert_non_null(index);
	char *names[128];
	size_t n = 0;
	int failures = 0, deviated = 0;
	char *save = index;
	char *line = strsep(&save, "\n"); /* header */
	assert_non_null(strstr(line, "expected_response_code"));
	while ((line = strsep(&save, "\n"))) {
		if (!*line)
			continue;
		char *rest = line;
		char *file = tsv_field(&rest), *desc = tsv_field(&rest), *code = tsv_field(&rest);
		char *args = tsv_field(&rest);
		assert_non_null(args);
		assert_true(n < sizeof(names) / sizeof(names[0]));
		names[n++] = file;

		int use_srtp;
		struct sdp_policy pol = policy_for_pjsua(args, &use_srtp);
		unsigned pj = 0;
		if (sscanf(code, "%u", &pj) != 1)
			fail_msg("%s: bad code field", file);
		const struct deviation *dev = deviation_for(file);
		enum sdp_action want = SDP_ACCEPT;
		unsigned want_status = 0;
		if (dev) {
			assert_int_equal(dev->pjsua_code, pj); /* the index still says what we think */
			deviated++;
		} else if (pj == 200) {
			want = SDP_ACCEPT;
		} else if (pj == 400 || pj == 488 || pj == 406) {
			want = SDP_REJECT;
			want_status = pj == 406 ? 488 : pj;
		} else {
			fail_msg("%s: no mapping for pjsua code %u", file, pj);
		}

		char rel[512];
		snprintf(rel, sizeof(rel), PJSUA_DIR "/%s", file);
		size_t blen = 0;
		char *body = sdptest_read(rel, &blen);
		assert_non_null(body);
		struct sdp_verdict v;
		assert_int_equal(sdp_policy_check_offer_body(&v, (struct slice){ body, blen }, &pol, &tls_hop, HOST, NULL), 0);
		if (v.action != want || v.status != want_status) {
			print_error("%s (%s; pjsua %u with --use-srtp %d, policy media=%s): got %s %u [%s], want %s %u\n",
				    file, desc, pj, use_srtp, sdp_media_mode_name(pol.media), action_name(v.action),
				    v.status, v.warning, action_name(want), want_status);
			failures++;
		}
		sdptest_no_key_in(v.warning, (struct slice){ body, blen }, file);
		sdp_verdict_clear(&v);
		mem_deref(body);
	}
	assert_int_equal(n, 46);
	assert_int_equal(deviated, (int)(sizeof(deviations) / sizeof(deviations[0])));
	every_file_listed(PJSUA_DIR, names, n);
	mem_deref(index);
	assert_int_equal(failures, 0);
}

/* Specific reasons for the SRTP rows, so a right code for a wrong reason fails too. */
static void test_pjsua_reasons(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		int use_srtp;
		enum sdp_reason reason;
		const char *warning;
	} tab[] = {
		{ "300_srtp_duplicated_crypto_tag.sdp", 1, SDP_REASON_CRYPTO_DUP_TAG,
		  "399 sipsd.example \"a=crypto tag 1: duplicate crypto tag\"" },
		{ "300_srtp_invalid_crypto_tag_non_numeric.sdp", 1, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto: malformed tag\"" },
		{ "300_srtp_receive_no_key_1.sdp", 1, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto tag 0: missing crypto-suite or key parameters\"" },
		{ "300_srtp_receive_no_key_2.sdp", 1, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto tag 0: key parameter without method\"" },
		{ "300_srtp_receive_no_key_3.sdp", 1, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto tag 0: missing key\"" },
		{ "301_srtp0_recv_savp.sdp", 0, SDP_REASON_KM_NOT_ACCEPTED,
		  "399 sipsd.example \"key management sdes not accepted (no SRTP on this leg)\"" },
		{ "320_srtp2_no_crypto.sdp", 2, SDP_REASON_NO_KEY_MGMT,
		  "399 sipsd.example \"m=audio RTP/SAVP offers no key management\"" },
		{ "321_srtp2_recv_avp.sdp", 2, SDP_REASON_NO_SECURE_MEDIA,
		  "399 sipsd.example \"no secure media offered\"" },
		{ "323_srtp2_receive_too_long_key.sdp", 2, SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 1: key length 60, AES_CM_128_HMAC_SHA1_80 needs 30\"" },
		{ "323_srtp2_unsupported_crypto.sdp", 2, SDP_REASON_CRYPTO_UNSUPPORTED,
		  "399 sipsd.example \"a=crypto tag 1: unknown crypto suite CRYPTO_X\"" },
		{ "155_err_sdp_bad_syntax.sdp", 0, SDP_REASON_MALFORMED_SDP,
		  "399 sipsd.example \"malformed SDP: line 1: v= is not the single version 0\"" },
		{ "156_err_sdp_bad_net_type.sdp", 0, SDP_REASON_MALFORMED_SDP,
		  "399 sipsd.example \"malformed SDP: line 4: network type is not IN\"" },
		{ "157_err_sdp_bad_addr_type.sdp", 0, SDP_REASON_MALFORMED_SDP,
		  "399 sipsd.example \"malformed SDP: line 4: address type is not IP4 or IP6\"" },
	};
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		char rel[512], args[32];
		int us;
		snprintf(rel, sizeof(rel), PJSUA_DIR "/%s", tab[i].file);
		snprintf(args, sizeof(args), "--use-srtp %d", tab[i].use_srtp);
		struct sdp_policy pol = policy_for_pjsua(args, &us);
		size_t blen = 0;
		char *body = sdptest_read(rel, &blen);
		assert_non_null(body);
		struct sdp_verdict v;
		assert_int_equal(sdp_policy_check_offer_body(&v, (struct slice){ body, blen }, &pol, &tls_hop, HOST, NULL), 0);
		if (v.reason != tab[i].reason || strcmp(v.warning, tab[i].warning) != 0) {
			print_error("%s: reason %s [%s], want %s [%s]\n", tab[i].file, sdp_reason_name(v.reason),
				    v.warning, sdp_reason_name(tab[i].reason), tab[i].warning);
			fail();
		}
		sdp_verdict_clear(&v);
		mem_deref(body);
	}
}

/* The same files towards a plain UDP peer: every one that carries a=crypto and was not already
 * refused for its keys must now be refused by the hop guard (RFC 4568 8). */
static void test_pjsua_over_insecure_hop(void **state)
{
	(void)state;
	char path[1024];
	snprintf(path, sizeof(path), "%s/" PJSUA_DIR, sdptest_root());
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	int guarded = 0;
	struct sdp_policy pol = { SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE };
	while ((e = readdir(d))) {
		size_t nl = strlen(e->d_name);
		if (nl < 5 || strcmp(e->d_name + nl - 4, ".sdp"))
			continue;
		char rel[512];
		snprintf(rel, sizeof(rel), PJSUA_DIR "/%s", e->d_name);
		size_t blen = 0;
		char *body = sdptest_read(rel, &blen);
		assert_non_null(body);
		bool has_crypto = memmem(body, blen, "a=crypto", 8) != NULL;
		struct sdp_verdict on_tls, on_udp;
		struct slice b = { body, blen };
		assert_int_equal(sdp_policy_check_offer_body(&on_tls, b, &pol, &tls_hop, HOST, NULL), 0);
		assert_int_equal(sdp_policy_check_offer_body(&on_udp, b, &pol, &udp_hop, HOST, NULL), 0);
		if (has_crypto && on_tls.action == SDP_ACCEPT) {
			if (on_udp.reason != SDP_REASON_SDES_INSECURE_HOP) {
				print_error("%s: over UDP got %s [%s]\n", e->d_name, sdp_reason_name(on_udp.reason),
					    on_udp.warning);
				fail();
			}
			guarded++;
		} else if (!has_crypto) {
			assert_int_equal(on_udp.action, on_tls.action);
		}
		sdp_verdict_clear(&on_tls);
		sdp_verdict_clear(&on_udp);
		mem_deref(body);
	}
	closedir(d);
	assert_int_equal(guarded, 15);
}

struct seed_case {
	const char *file;
	const char *intent; /* as SOURCES.md states it */
	enum sdp_crypto_status first; /* status of the first a=crypto line */
	enum sdp_reason reason;       /* verdict reason under secure-required */
	const char *warning;          /* NULL: not checked */
};

static void test_fuzz_sdes_seeds(void **state)
{
	(void)state;
	static const struct seed_case tab[] = {
		{ "seed-crypto-aes128.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 1: key length 28, AES_CM_128_HMAC_SHA1_80 needs 30\"" },
		{ "seed-crypto-aes256.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 1: key length 47, AES_256_CM_HMAC_SHA1_80 needs 46\"" },
		{ "seed-crypto-aes256-32.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-large-tag.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 999999999: key length 28, AES_CM_128_HMAC_SHA1_80 needs 30\"" },
		{ "seed-crypto-leading-zero-tag.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-lifetime-mki.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-session-params.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-multiple-tags.sdp", "valid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-unsupported-suite.sdp", "parses, not selected", SDP_CRYPTO_BAD_KEY_LENGTH,
		  SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 1: key length 32, AES_192_CM_HMAC_SHA1_80 needs 38\"" },
		{ "seed-crypto-duplicate-tags.sdp", "invalid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH, NULL },
		{ "seed-crypto-invalid-base64.sdp", "invalid", SDP_CRYPTO_BAD_BASE64, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto tag 1: key is not base64\"" },
		{ "seed-crypto-short-key.sdp", "invalid", SDP_CRYPTO_BAD_KEY_LENGTH, SDP_REASON_CRYPTO_KEY_LENGTH,
		  "399 sipsd.example \"a=crypto tag 1: key length 3, AES_CM_128_HMAC_SHA1_80 needs 30\"" },
		{ "seed-crypto-missing-components.sdp", "invalid", SDP_CRYPTO_BAD_SYNTAX, SDP_REASON_CRYPTO_MALFORMED, NULL },
		{ "seed-crypto-missing-method.sdp", "invalid", SDP_CRYPTO_BAD_KEY_METHOD, SDP_REASON_CRYPTO_MALFORMED, NULL },
		{ "seed-crypto-non-decimal-tag.sdp", "invalid", SDP_CRYPTO_BAD_TAG, SDP_REASON_CRYPTO_MALFORMED,
		  "399 sipsd.example \"a=crypto: malformed tag\"" },
	};
	char *names[32];
	size_t n = sizeof(tab) / sizeof(tab[0]);
	struct sdp_policy pol = { SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE };
	for (size_t i = 0; i < n; i++) {
		char rel[512];
		names[i] = (char *)tab[i].file;
		snprintf(rel, sizeof(rel), SEEDS_DIR "/%s", tab[i].file);
		size_t blen = 0;
		char *body = sdptest_read(rel, &blen);
		assert_non_null(body);
		struct slice b = { body, blen };
		struct sdp *sdp = NULL;
		struct sdp_error pe;
		if (sdp_parse(&sdp, b, NULL, &pe) != 0)
			fail_msg("%s: SDP does not parse: line %u %s", tab[i].file, pe.line, pe.reason);
		const struct sdp_media *m = sdp_media_get(sdp, 0);
		const struct sdp_attr *a = sdp_attr_find(sdp, m, "crypto");
		assert_non_null(a);
		struct sdp_crypto c;
		sdp_crypto_parse(&c, a->value);
		struct sdp_verdict v;
		assert_int_equal(sdp_policy_check_offer(&v, sdp, &pol, &tls_hop, HOST, NULL), 0);
		if (c.status != tab[i].first || v.reason != tab[i].reason || v.status != 488 ||
		    (tab[i].warning && strcmp(v.warning, tab[i].warning) != 0)) {
			print_error("%s (intent: %s): line a=crypto:%s -> %s; verdict %u %s [%s]\n", tab[i].file,
				    tab[i].intent, sdptest_redacted(a->value), sdp_crypto_status_text(c.status),
				    v.status, sdp_reason_name(v.reason), v.warning);
			fail();
		}
		sdptest_no_key_in(v.warning, b, tab[i].file);
		sdp_verdict_clear(&v);
		mem_deref(sdp);
		mem_deref(body);
	}
	/* What the "valid" seeds do get right parses as meant. */
	struct sdp_crypto c;
	sdp_crypto_parse(&c, slice_from_cstr("999999999 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="));
	assert_int_equal(c.tag, 999999999);
	size_t blen = 0;
	char *body = sdptest_read(SEEDS_DIR "/seed-crypto-lifetime-mki.sdp", &blen);
	assert_non_null(body);
	char *at = memmem(body, blen, "a=crypto:", 9);
	assert_non_null(at);
	char *eol = memchr(at, '\n', blen - (size_t)(at - body));
	sdp_crypto_parse(&c, (struct slice){ at + 9, (size_t)((eol ? eol : body + blen) - at - 9) });
	assert_int_equal(c.keys[0].decoded_len, 28);
	assert_true(c.keys[0].has_lifetime);
	assert_int_equal(c.keys[0].lifetime, UINT64_C(1) << 31);
	assert_int_equal(c.keys[0].mki, 1);
	assert_int_equal(c.keys[0].mki_len, 4);
	mem_deref(body);
	every_file_listed(SEEDS_DIR, names, n);
}

static size_t crypto_bytes(const struct sdp *sdp)
{
	size_t sum = 0;
	const struct sdp_attr *a;
	for (size_t mi = 0; mi <= sdp_media_count(sdp); mi++) {
		const struct sdp_media *m = mi ? sdp_media_get(sdp, mi - 1) : NULL;
		for (size_t i = 0; (a = sdp_attr_get(sdp, m, i)); i++)
			if (slice_eq_cstr_ci(a->name, "crypto"))
				sum += a->len;
	}
	return sum;
}

static void test_rfc4568_examples(void **state)
{
	(void)state;
	static const char *files[] = { "rfc4568-page8-example.sdp", "rfc4568-page27-example.sdp" };
	static const unsigned n_crypto[] = { 2, 2 };
	for (size_t i = 0; i < 2; i++) {
		char rel[512];
		snprintf(rel, sizeof(rel), RFC_DIR "/%s", files[i]);
		size_t blen = 0;
		char *body = sdptest_read(rel, &blen);
		assert_non_null(body);
		struct slice b = { body, blen };
		struct sdp *sdp = NULL;
		struct sdp_error pe;
		if (sdp_parse(&sdp, b, NULL, &pe) != 0)
			fail_msg("%s: line %u: %s", files[i], pe.line, pe.reason);
		unsigned seen = 0;
		for (size_t mi = 0; mi < sdp_media_count(sdp); mi++) {
			const struct sdp_media *m = sdp_media_get(sdp, mi);
			const struct sdp_attr *a;
			for (size_t ai = 0; (a = sdp_attr_get(sdp, m, ai)); ai++) {
				if (!slice_eq_cstr(a->name, "crypto"))
					continue;
				struct sdp_crypto c;
				if (sdp_crypto_parse(&c, a->value) != SDP_CRYPTO_OK) {
					print_error("%s line %u: a=crypto:%s -> %s\n", files[i], a->lineno,
						    sdptest_redacted(a->value), sdp_crypto_status_text(c.status));
					fail();
				}
				for (unsigned k = 0; k < c.n_keys; k++) {
					assert_int_equal(c.keys[k].decoded_len, 30);
					assert_int_equal(c.keys[k].lifetime, UINT64_C(1) << 20);
				}
				seen++;
			}
		}
		assert_int_equal(seen, n_crypto[i]);

		struct sdp_policy req = { SDP_MEDIA_SECURE_REQUIRED, SDP_KM_SDES, 415, SDP_SDES_HOP_STRIP };
		struct sdp_verdict v;
		assert_int_equal(sdp_policy_check_offer(&v, sdp, &req, &tls_hop, HOST, NULL), 0);
		assert_int_equal(v.action, SDP_ACCEPT);
		assert_false(v.insecure_media);
		sdp_verdict_clear(&v);
		/* towards a plain hop: refused under secure-required even when stripping */
		assert_int_equal(sdp_policy_check_offer(&v, sdp, &req, &udp_hop, HOST, NULL), 0);
		assert_int_equal(v.reason, SDP_REASON_SDES_INSECURE_HOP);
		sdp_verdict_clear(&v);
		/* secure-preferred with strip: still refused, stripping would leave RTP/SAVP unkeyed */
		struct sdp_policy pref = req;
		pref.media = SDP_MEDIA_SECURE_PREFERRED;
		assert_int_equal(sdp_policy_check_offer(&v, sdp, &pref, &udp_hop, HOST, NULL), 0);
		assert_int_equal(v.reason, SDP_REASON_SDES_INSECURE_HOP);
		sdp_verdict_clear(&v);
		mem_deref(sdp);
		mem_deref(body);
	}
	/* page 27: two keys with MKIs 1:4 and 2:4, and FEC_ORDER */
	size_t blen = 0;
	char *body = sdptest_read(RFC_DIR "/rfc4568-page27-example.sdp", &blen);
	assert_non_null(body);
	char *at = memmem(body, blen, "a=crypto:2 ", 11);
	assert_non_null(at);
	char *eol = memchr(at, '\r', blen - (size_t)(at - body));
	assert_non_null(eol);
	struct sdp_crypto c;
	assert_int_equal(sdp_crypto_parse(&c, (struct slice){ at + 9, (size_t)(eol - at - 9) }), SDP_CRYPTO_OK);
	assert_string_equal(c.suite->name, "F8_128_HMAC_SHA1_80");
	assert_int_equal(c.n_keys, 2);
	assert_int_equal(c.keys[0].mki, 1);
	assert_int_equal(c.keys[1].mki, 2);
	assert_int_equal(c.keys[1].mki_len, 4);
	assert_int_equal(c.flags, SDP_CRYPTO_F_FEC_ORDER);
	mem_deref(body);
}

/* Best-effort keys (RTP/AVP with a=crypto, pjsua's "optional") towards a plain hop with
 * sdes_on_insecure_hop = strip: forwarded without the keys, every other byte unchanged. */
static void test_strip_keeps_other_bytes(void **state)
{
	(void)state;
	size_t blen = 0;
	char *body = sdptest_read(PJSUA_DIR "/311_srtp1_recv_avp.sdp", &blen);
	assert_non_null(body);
	struct sdp *sdp = NULL;
	assert_int_equal(sdp_parse(&sdp, (struct slice){ body, blen }, NULL, NULL), 0);
	struct sdp_policy pref = { SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_STRIP };
	struct sdp_verdict v;
	assert_int_equal(sdp_policy_check_offer(&v, sdp, &pref, &udp_hop, HOST, NULL), 0);
	assert_int_equal(v.action, SDP_ACCEPT_STRIPPED);
	assert_true(v.insecure_media);
	assert_int_equal(v.body_len, blen - crypto_bytes(sdp));
	assert_null(memmem(v.body, v.body_len, "a=crypto", 8));
	assert_null(memmem(v.body, v.body_len, "inline:", 7));
	/* the kept bytes are the body's own, in order: the body up to the first a=crypto */
	char *first = memmem(body, blen, "a=crypto", 8);
	assert_non_null(first);
	assert_int_equal(v.body_len, (size_t)(first - body)); /* the two crypto lines end the file */
	assert_memory_equal(v.body, body, v.body_len);        /* key-free prefix */
	struct sdp *again = NULL;
	assert_int_equal(sdp_parse(&again, (struct slice){ v.body, v.body_len }, NULL, NULL), 0);
	assert_int_equal(sdp_media_get(again, 0)->n_rtpmap, 2);
	mem_deref(again);
	sdp_verdict_clear(&v);
	mem_deref(sdp);
	mem_deref(body);
}

/* Every file of dir, read into bodies[] (mem strings) with their lengths; returns the count. */
static size_t read_dir(const char *dir, char **bodies, size_t *lens, char (*names)[128], size_t max)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", sdptest_root(), dir);
	DIR *d = opendir(path);
	assert_non_null(d);
	struct dirent *e;
	size_t n = 0;
	while ((e = readdir(d)) && n < max) {
		size_t len = strlen(e->d_name);
		if (len <= 4 || strcmp(e->d_name + len - 4, ".sdp") != 0)
			continue;
		char rel[512];
		snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name);
		bodies[n] = sdptest_read(rel, &lens[n]);
		assert_non_null(bodies[n]);
		snprintf(names[n], sizeof(names[n]), "%s", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void same_verdict(const struct sdp_verdict *a, const struct sdp_verdict *b, const char *what)
{
	if (a->action != b->action || a->status != b->status || a->reason != b->reason ||
	    a->insecure_media != b->insecure_media || a->km_offered != b->km_offered ||
	    strcmp(a->warning, b->warning) != 0) {
		print_error("%s: kept offer %d %u [%s], parsed again %d %u [%s]\n", what, a->action, a->status,
			    a->warning, b->action, b->status, b->warning);
		fail();
	}
}

/* The parsed a=crypto lines kept in every file's sdp are what parsing the attribute says, and an
 * answer (each file of the directory in turn) gets the same verdict against the offer kept from
 * its own check as against the offer parsed again. */
static void test_kept_offers_judge_answers_alike(void **state)
{
	(void)state;
	static const char *dirs[] = { PJSUA_DIR, SEEDS_DIR, RFC_DIR };
	static const struct sdp_policy pols[] = {
		{ SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 488, SDP_SDES_HOP_REFUSE },
		{ SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 488, SDP_SDES_HOP_REFUSE },
		{ SDP_MEDIA_ANY, SDP_KM_NONE, 488, SDP_SDES_HOP_REFUSE },
		{ SDP_MEDIA_SECURE_PREFERRED, SDP_KM_SDES, 415, SDP_SDES_HOP_STRIP },
	};
	enum { MAX = 64 };
	static char *bodies[MAX];
	static size_t lens[MAX];
	static char names[MAX][128];
	unsigned kept_n = 0, crypto_n = 0;
	for (size_t di = 0; di < sizeof(dirs) / sizeof(dirs[0]); di++) {
		size_t n = read_dir(dirs[di], bodies, lens, names, MAX);
		for (size_t i = 0; i < n; i++) {
			struct slice offer = { bodies[i], lens[i] };
			struct sdp *sdp = NULL;
			if (sdp_parse(&sdp, offer, NULL, NULL) == 0) {
				for (size_t mi = 0; mi <= sdp_media_count(sdp); mi++) {
					const struct sdp_media *m = mi ? sdp_media_get(sdp, mi - 1) : NULL;
					const struct sdp_attr *a;
					size_t k = 0;
					for (size_t ai = 0; (a = sdp_attr_get(sdp, m, ai)); ai++) {
						if (!slice_eq_cstr_ci(a->name, "crypto"))
							continue;
						struct sdp_crypto c;
						sdp_crypto_parse(&c, a->value);
						const struct sdp_crypto_info *ci = sdp_crypto_get(sdp, m, k++);
						assert_non_null(ci);
						if (ci->status != c.status || ci->tag != c.tag || ci->suite != c.suite ||
						    ci->insecure != sdp_crypto_insecure(&c) || ci->bad_len != c.bad_len)
							fail_msg("%s line %u: kept a=crypto differs", names[i], a->lineno);
						crypto_n++;
					}
					assert_null(sdp_crypto_get(sdp, m, k));
				}
			}
			mem_deref(sdp);
			for (size_t p = 0; p < sizeof(pols) / sizeof(pols[0]); p++) {
				struct sdp_verdict ov;
				struct sdp *kept = NULL;
				assert_int_equal(sdp_policy_check_offer_keep(&ov, offer, &pols[p], &tls_hop, HOST, NULL, &kept), 0);
				sdp_verdict_clear(&ov);
				if (!kept)
					continue;
				kept_n++;
				for (size_t j = 0; j < n; j++) {
					struct slice answer = { bodies[j], lens[j] };
					struct sdp_verdict a, b;
					char what[300];
					snprintf(what, sizeof(what), "%s answered by %s, policy %zu", names[i], names[j], p);
					assert_int_equal(sdp_policy_check_answer_to(&a, kept, answer, &pols[p], &tls_hop, HOST, NULL), 0);
					assert_int_equal(sdp_policy_check_answer_body(&b, offer, answer, &pols[p], &tls_hop, HOST, NULL), 0);
					same_verdict(&a, &b, what);
					sdptest_no_key_in(a.warning, answer, what);
					sdp_verdict_clear(&a);
					sdp_verdict_clear(&b);
				}
				mem_deref(kept);
			}
		}
		for (size_t i = 0; i < n; i++)
			mem_deref(bodies[i]);
	}
	/* the directories hold offers that are kept, and a=crypto lines */
	assert_true(kept_n >= 40);
	assert_true(crypto_n >= 50);
}

int run_testdata_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pjsua_index),
		cmocka_unit_test(test_pjsua_reasons),
		cmocka_unit_test(test_pjsua_over_insecure_hop),
		cmocka_unit_test(test_fuzz_sdes_seeds),
		cmocka_unit_test(test_rfc4568_examples),
		cmocka_unit_test(test_strip_keeps_other_bytes),
		cmocka_unit_test(test_kept_offers_judge_answers_alike),
	};
	return cmocka_run_group_tests_name("sdp_testdata", tests, NULL, NULL);
}
