/* Secure media policy: offers, the SDES hop guard, answers, Warning texts, metrics. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "sdp/policy.h"
#include "sdptest.h"

#define HOST "sipsd.example"
#define KEY30 "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz"

static const struct sdp_hop tls_hop = { true, true };
static const struct sdp_hop udp_hop = { false, false };
static const struct sdp_hop tls_sip_hop = { true, false };

#define HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"

static const char plain_offer[] = HEAD "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
static const char sdes_offer[] = HEAD "m=audio 4000 RTP/SAVP 0\r\n"
				      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "|2^20|1:4\r\n"
				      "a=rtpmap:0 PCMU/8000\r\n";
/* Seed 003: with MIKEY chosen, the keys go in a session-level a=key-mgmt. */
static const char mikey_offer[] = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
				       "a=key-mgmt:mikey AQAFgM0XflABAAAAAAAAAAAAAAsAyONQ6gAAAAAJAAAQbWlrZXk=\r\n"
				       "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0\r\n";
static const char dtls_offer[] = HEAD "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B\r\n"
				      "m=audio 4000 UDP/TLS/RTP/SAVP 0\r\na=setup:actpass\r\n";

static struct sdp_policy pol_of(enum sdp_media_mode media, unsigned km, unsigned status,
				enum sdp_sdes_hop hop)
{
	return (struct sdp_policy){ media, km, status, hop };
}

static void check(const char *body, struct sdp_policy pol, const struct sdp_hop *hop,
		  enum sdp_action action, unsigned status, enum sdp_reason reason, const char *warning,
		  struct sdp_verdict *out)
{
	struct sdp_verdict v;
	assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(body), &pol, hop, HOST, NULL), 0);
	if (v.action != action || v.status != status || v.reason != reason ||
	    (warning && strcmp(v.warning, warning) != 0)) {
		print_error("offer %s\n -> action %d status %u reason %s warning [%s]\n want action %d status %u reason %s warning [%s]\n",
			    sdptest_redacted(slice_from_cstr(body)), v.action, v.status, sdp_reason_name(v.reason),
			    v.warning, action, status, sdp_reason_name(reason), warning ? warning : "*");
		fail();
	}
	sdptest_no_key_in(v.warning, slice_from_cstr(body), "warning");
	/* The same verdict when the offer is kept parsed; kept only when accepted as it is. */
	struct sdp_verdict k;
	struct sdp *kept = (struct sdp *)&k; /* must be overwritten */
	assert_int_equal(sdp_policy_check_offer_keep(&k, slice_from_cstr(body), &pol, hop, HOST, NULL, &kept), 0);
	assert_int_equal(k.action, v.action);
	assert_int_equal(k.status, v.status);
	assert_int_equal(k.reason, v.reason);
	assert_string_equal(k.warning, v.warning);
	if (action == SDP_ACCEPT) {
		assert_non_null(kept);
		assert_ptr_equal(sdp_body(kept).p, body); /* points into the body, not a copy */
		assert_int_equal(sdp_body(kept).len, strlen(body));
	} else {
		assert_null(kept);
	}
	mem_deref(kept);
	sdp_verdict_clear(&k);
	if (out)
		*out = v;
	else
		sdp_verdict_clear(&v);
}

static void test_secure_required_plain_offer_488(void **state)
{
	(void)state;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	check(plain_offer, p, &tls_hop, SDP_REJECT, 488, SDP_REASON_NO_SECURE_MEDIA,
	      "399 sipsd.example \"no secure media offered\"", NULL);
	check(sdes_offer, p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, "", NULL);
	check(mikey_offer, p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, "", NULL);
	check(dtls_offer, p, &udp_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, "", NULL);
	/* no media at all is not secure media either */
	check(HEAD, p, &tls_hop, SDP_REJECT, 488, SDP_REASON_NO_SECURE_MEDIA, NULL, NULL);
	/* T.38 alone: seed 003 refuses unsecure T.38 next to secure RTP by default */
	check(HEAD "m=image 4000 udptl t38\r\n", p, &tls_hop, SDP_REJECT, 488, SDP_REASON_NO_SECURE_MEDIA,
	      NULL, NULL);
	/* one secure stream is enough for the offer; the answer check covers the rest */
	struct sdp_verdict v;
	check(HEAD "m=audio 4000 RTP/AVP 0\r\nm=audio 4002 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
	      p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, &v);
	assert_true(v.insecure_media);
	sdp_verdict_clear(&v);
}

static void test_secure_preferred_and_any_accept_plain(void **state)
{
	(void)state;
	struct sdp_verdict v;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	check(plain_offer, p, &udp_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, &v);
	assert_true(v.insecure_media);
	assert_int_equal(v.km_offered, 0);
	sdp_verdict_clear(&v);
	check(sdes_offer, p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, &v);
	assert_false(v.insecure_media);
	assert_int_equal(v.km_offered, SDP_KM_SDES);
	sdp_verdict_clear(&v);
	p.media = SDP_MEDIA_ANY;
	check(plain_offer, p, &udp_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\n", p, &udp_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	p.media = SDP_MEDIA_SECURE_PREFERRED;
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\n", p, &udp_hop, SDP_REJECT, 488, SDP_REASON_NO_KEY_MGMT,
	      "399 sipsd.example \"m=audio RTP/SAVP offers no key management\"", NULL);
}

static void test_seed003_mikey_vs_sdes_415_or_488(void **state)
{
	(void)state;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_SDES, 415, SDP_SDES_HOP_REFUSE);
	check(mikey_offer, p, &tls_hop, SDP_REJECT, 415, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management mikey not accepted (sdes required)\"", NULL);
	p.mismatch_status = 488;
	check(mikey_offer, p, &tls_hop, SDP_REJECT, 488, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management mikey not accepted (sdes required)\"", NULL);
	/* and the other way round: an SDES offer to a MIKEY-only leg */
	p = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_MIKEY, 415, SDP_SDES_HOP_REFUSE);
	check(sdes_offer, p, &tls_hop, SDP_REJECT, 415, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management sdes not accepted (mikey required)\"", NULL);
	p.key_mgmt = SDP_KM_SDES | SDP_KM_DTLS;
	check(mikey_offer, p, &tls_hop, SDP_REJECT, 415, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management mikey not accepted (sdes or dtls required)\"", NULL);
	p.key_mgmt = SDP_KM_SDES;
	check(dtls_offer, p, &tls_hop, SDP_REJECT, 415, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management dtls not accepted (sdes required)\"", NULL);
	/* both offered on one line: the answerer can pick the accepted one */
	check(HEAD "a=key-mgmt:mikey AQAFgM0X\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
	      p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	/* key_management = none: an SRTP-less leg */
	p = pol_of(SDP_MEDIA_ANY, SDP_KM_NONE, 488, SDP_SDES_HOP_REFUSE);
	check(sdes_offer, p, &tls_hop, SDP_REJECT, 488, SDP_REASON_KM_NOT_ACCEPTED,
	      "399 sipsd.example \"key management sdes not accepted (no SRTP on this leg)\"", NULL);
}

static void test_crypto_errors_name_the_line(void **state)
{
	(void)state;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhM=\r\n",
	      p, &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_KEY_LENGTH,
	      "399 sipsd.example \"a=crypto tag 1: key length 20, AES_CM_128_HMAC_SHA1_80 needs 30\"", NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
		   "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n",
	      p, &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_DUP_TAG,
	      "399 sipsd.example \"a=crypto tag 3: duplicate crypto tag\"", NULL);
	/* the same tag on two different m= lines is fine (unique per m=) */
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
		   "m=video 4002 RTP/SAVP 31\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
	      p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 CRYPTO_X inline:" KEY30 "\r\n", p, &tls_hop,
	      SDP_REJECT, 488, SDP_REASON_CRYPTO_UNSUPPORTED,
	      "399 sipsd.example \"a=crypto tag 1: unknown crypto suite CRYPTO_X\"", NULL);
	/* an unknown suite next to a known one is just skipped */
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 CRYPTO_X inline:" KEY30 "\r\n"
		   "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
	      p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:x AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n", p,
	      &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_MALFORMED,
	      "399 sipsd.example \"a=crypto: malformed tag\"", NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "|2^99\r\n", p,
	      &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_MALFORMED,
	      "399 sipsd.example \"a=crypto tag 1: malformed key lifetime\"", NULL);
	/* a malformed line on an RTP/AVP stream is refused too (pjsua answers 406) */
	check(HEAD "m=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n", p, &tls_hop,
	      SDP_REJECT, 488, SDP_REASON_CRYPTO_MALFORMED,
	      "399 sipsd.example \"a=crypto tag 1: missing crypto-suite or key parameters\"", NULL);
	/* a disabled stream's keys are not judged */
	check(HEAD "m=audio 0 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\nm=audio 4000 RTP/AVP 0\r\n",
	      p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
}

static void test_null_suites_are_insecure(void **state)
{
	(void)state;
	const char *body = HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 NULL_HMAC_SHA1_80 inline:" KEY30 "\r\n";
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	check(body, p, &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_INSECURE,
	      "399 sipsd.example \"a=crypto tag 1: NULL_HMAC_SHA1_80 does not encrypt media\"", NULL);
	check(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 " UNENCRYPTED_SRTP\r\n",
	      p, &tls_hop, SDP_REJECT, 488, SDP_REASON_CRYPTO_INSECURE,
	      "399 sipsd.example \"a=crypto tag 4: session parameters disable SRTP protection\"", NULL);
	struct sdp_verdict v;
	p.media = SDP_MEDIA_SECURE_PREFERRED;
	check(body, p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, &v);
	assert_true(v.insecure_media);
	sdp_verdict_clear(&v);
}

static void test_sdes_hop_guard_refuse(void **state)
{
	(void)state;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	check(sdes_offer, p, &udp_hop, SDP_REJECT, 488, SDP_REASON_SDES_INSECURE_HOP,
	      "399 sipsd.example \"SDES keys require TLS on every hop\"", NULL);
	check(sdes_offer, p, &tls_sip_hop, SDP_REJECT, 488, SDP_REASON_SDES_INSECURE_HOP, NULL, NULL);
	/* MIKEY and DTLS carry no key in clear: no guard */
	check(mikey_offer, p, &udp_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, NULL);
	/* keys on a disabled stream or at session level are keys all the same */
	check(HEAD "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\nm=audio 4000 RTP/AVP 0\r\n", p,
	      &udp_hop, SDP_REJECT, 488, SDP_REASON_SDES_INSECURE_HOP, NULL, NULL);
	check(HEAD "m=audio 0 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n", p,
	      &udp_hop, SDP_REJECT, 488, SDP_REASON_SDES_INSECURE_HOP, NULL, NULL);
}

static void test_sdes_hop_guard_strip(void **state)
{
	(void)state;
	struct sdp_verdict v;
	/* best-effort offer (RFC 4568 keys on RTP/AVP, pjsua "optional"): stripped, call goes on */
	static const char be[] = HEAD "m=audio 4000 RTP/AVP 0\r\n"
				      "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				      "a=rtpmap:0 PCMU/8000\r\n";
	static const char be_stripped[] = HEAD "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_STRIP);
	check(be, p, &udp_hop, SDP_ACCEPT_STRIPPED, 0, SDP_REASON_NONE, NULL, &v);
	assert_true(v.insecure_media);
	assert_int_equal(v.body_len, strlen(be_stripped));
	assert_memory_equal(v.body, be_stripped, v.body_len); /* key-free on both sides */
	sdp_verdict_clear(&v);
	assert_null(v.body);
	/* over a secure hop nothing is stripped */
	check(be, p, &tls_hop, SDP_ACCEPT, 0, SDP_REASON_NONE, NULL, &v);
	assert_null(v.body);
	/* secure-required: stripping leaves nothing secure, so the hop is the reason */
	p.media = SDP_MEDIA_SECURE_REQUIRED;
	check(sdes_offer, p, &udp_hop, SDP_REJECT, 488, SDP_REASON_SDES_INSECURE_HOP,
	      "399 sipsd.example \"SDES keys require TLS on every hop\"", NULL);
	/* ...unless another key management survives the strip */
	check(HEAD "a=key-mgmt:mikey AQAFgM0X\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
	      p, &udp_hop, SDP_ACCEPT_STRIPPED, 0, SDP_REASON_NONE, NULL, &v);
	assert_null(memmem(v.body, v.body_len, "a=crypto", 8));
	assert_non_null(memmem(v.body, v.body_len, "a=key-mgmt", 10));
	sdp_verdict_clear(&v);
	/* malformed keys are refused before any stripping */
	check(HEAD "m=audio 4000 RTP/AVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n", p, &udp_hop,
	      SDP_REJECT, 488, SDP_REASON_CRYPTO_KEY_LENGTH, NULL, NULL);
}

static void test_malformed_body_400(void **state)
{
	(void)state;
	struct sdp_policy p = SDP_POLICY_DEFAULT;
	check("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP7 h\r\n", p, &tls_hop, SDP_REJECT, 400,
	      SDP_REASON_MALFORMED_SDP,
	      "399 sipsd.example \"malformed SDP: line 4: address type is not IP4 or IP6\"", NULL);
}

static void test_warning_is_a_safe_quoted_string(void **state)
{
	(void)state;
	struct sdp_verdict v;
	struct sdp_policy p = SDP_POLICY_DEFAULT;
	/* Only tokens (RFC 8866 9) are echoed from the SDP, and a '"' is not a token character:
	 * such a line is refused by the parser with a static reason. */
	assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(HEAD "m=a\"b 4000 RTP/SAVP 0\r\n"), &p,
						     &tls_hop, "h", NULL), 0);
	assert_string_equal(v.warning, "399 h \"malformed SDP: line 6: m= media is not a token\"");
	sdp_verdict_clear(&v);
	assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(HEAD "m=x-y 4000 RTP/SAVP 0\r\n"), &p,
						     &tls_hop, "h", NULL), 0);
	assert_string_equal(v.warning, "399 h \"m=x-y RTP/SAVP offers no key management\"");
	sdp_verdict_clear(&v);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct sdp_verdict v;
	struct sdp_policy p = SDP_POLICY_DEFAULT;
	assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(plain_offer), &p, NULL, HOST, NULL), EINVAL);
	p.mismatch_status = 500;
	assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(plain_offer), &p, &tls_hop, HOST, NULL), EINVAL);
}

/* The answer checked against an offer already parsed gives the verdict want. */
static void assert_answer_to_gives(const struct sdp *offer, const char *answer, struct sdp_policy pol,
				   const struct sdp_hop *hop, const struct sdp_verdict *want)
{
	struct sdp_verdict t;
	assert_int_equal(sdp_policy_check_answer_to(&t, offer, slice_from_cstr(answer), &pol, hop, HOST, NULL), 0);
	assert_int_equal(t.action, want->action);
	assert_int_equal(t.status, want->status);
	assert_int_equal(t.reason, want->reason);
	assert_int_equal(t.insecure_media, want->insecure_media);
	assert_int_equal(t.km_offered, want->km_offered);
	assert_string_equal(t.warning, want->warning);
	sdp_verdict_clear(&t);
}

static void check_answer(const char *offer, const char *answer, struct sdp_policy pol,
			 const struct sdp_hop *hop, enum sdp_action action, enum sdp_reason reason,
			 const char *warning)
{
	struct sdp_verdict v;
	assert_int_equal(sdp_policy_check_answer_body(&v, slice_from_cstr(offer), slice_from_cstr(answer), &pol,
						      hop, HOST, NULL), 0);
	if (v.action != action || v.reason != reason || (warning && strcmp(v.warning, warning) != 0) ||
	    (action == SDP_REJECT) != (v.status == 488)) {
		print_error("answer %s\n -> action %d status %u reason %s warning [%s]\n",
			    sdptest_redacted(slice_from_cstr(answer)), v.action, v.status,
			    sdp_reason_name(v.reason), v.warning);
		fail();
	}
	sdptest_no_key_in(v.warning, slice_from_cstr(answer), "warning");
	/* Against the offer parsed before, the same verdict. */
	struct sdp *o = NULL;
	if (sdp_parse(&o, slice_from_cstr(offer), NULL, NULL) == 0) {
		assert_answer_to_gives(o, answer, pol, hop, &v);
		mem_deref(o);
	}
	/* And against the offer as the proxy keeps it from its own check, when it is kept. */
	struct sdp_verdict ov;
	struct sdp *kept = NULL;
	assert_int_equal(sdp_policy_check_offer_keep(&ov, slice_from_cstr(offer), &pol, hop, HOST, NULL, &kept), 0);
	if (kept) {
		assert_answer_to_gives(kept, answer, pol, hop, &v);
		mem_deref(kept);
	}
	sdp_verdict_clear(&ov);
	sdp_verdict_clear(&v);
}

/* The answer is judged against the a=crypto lines the offer's own check parsed (kept with the
 * offer): RFC 4568 7.1.2 wants the answer's tag and suite among the offered lines that were
 * usable, whichever m= section (the ninth too: the answer check keeps eight evaluations). */
static void test_answer_against_kept_offer(void **state)
{
	(void)state;
	struct sdp_policy req = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	struct sdp_policy pref = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	static const char offer[] = HEAD "m=audio 4000 RTP/SAVP 0\r\n"
					 "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
					 "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n"
					 "a=crypto:3 FOO_BAR inline:" KEY30 "\r\n";
#define ANSWER(lines) HEAD "m=audio 5000 RTP/SAVP 0\r\n" lines
	check_answer(offer, ANSWER("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n"), req, &tls_hop,
		     SDP_ACCEPT, SDP_REASON_NONE, NULL);
	check_answer(offer, ANSWER("a=crypto:1 aes_cm_128_hmac_sha1_80 inline:" KEY30 "\r\n"), req, &tls_hop,
		     SDP_ACCEPT, SDP_REASON_NONE, NULL);
	/* a tag nobody offered */
	check_answer(offer, ANSWER("a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"), req, &tls_hop,
		     SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 4 was not offered\"");
	/* an offered tag with another suite */
	check_answer(offer, ANSWER("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"), pref, &tls_hop,
		     SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 2 was not offered\"");
	/* the offered line that was not usable (unknown suite) cannot be selected either */
	check_answer(offer, ANSWER("a=crypto:3 FOO_BAR inline:" KEY30 "\r\n"), pref, &tls_hop, SDP_REJECT,
		     SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 3 was not offered\"");
	/* the first line not offered is named, before the count */
	check_answer(offer,
		     ANSWER("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
			    "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"),
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 9 was not offered\"");
	check_answer(offer,
		     ANSWER("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
			    "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n"),
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: m=audio selects 2 a=crypto lines\"");
#undef ANSWER
	/* nine m= sections, each offering its own tag; the ninth answered with the eighth's tag */
	char o9[4096], a9[4096], bad9[4096];
	size_t lo = (size_t)snprintf(o9, sizeof(o9), "%s", HEAD), la = lo, lb = lo;
	memcpy(a9, o9, lo + 1);
	memcpy(bad9, o9, lo + 1);
	for (int i = 1; i <= 9; i++) {
		lo += (size_t)snprintf(o9 + lo, sizeof(o9) - lo,
				       "m=audio %d RTP/SAVP 0\r\na=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:%s\r\n",
				       4000 + 2 * i, i, KEY30);
		la += (size_t)snprintf(a9 + la, sizeof(a9) - la,
				       "m=audio %d RTP/SAVP 0\r\na=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:%s\r\n",
				       5000 + 2 * i, i, KEY30);
		lb += (size_t)snprintf(bad9 + lb, sizeof(bad9) - lb,
				       "m=audio %d RTP/SAVP 0\r\na=crypto:%d AES_CM_128_HMAC_SHA1_80 inline:%s\r\n",
				       5000 + 2 * i, i == 9 ? 8 : i, KEY30);
	}
	assert_true(lo < sizeof(o9) && la < sizeof(a9) && lb < sizeof(bad9));
	check_answer(o9, a9, req, &tls_hop, SDP_ACCEPT, SDP_REASON_NONE, NULL);
	check_answer(o9, bad9, req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 8 was not offered\"");
}

static void test_answers(void **state)
{
	(void)state;
	struct sdp_policy req = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	struct sdp_policy pref = pol_of(SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE);
	static const char offer2[] = HEAD "m=audio 4000 RTP/SAVP 0\r\n"
					  "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
					  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n"
					  "m=audio 4002 RTP/AVP 0\r\n";
	static const char good[] = HEAD "m=audio 5000 RTP/SAVP 0\r\n"
					"a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\n"
					"m=audio 0 RTP/AVP 0\r\n";
	check_answer(offer2, good, req, &tls_hop, SDP_ACCEPT, SDP_REASON_NONE, NULL);
	check_answer(offer2, good, req, &udp_hop, SDP_REJECT, SDP_REASON_SDES_INSECURE_HOP,
		     "399 sipsd.example \"SDES keys require TLS on every hop\"");
	/* the answerer took the plain RTP alternative on a secure-required leg */
	static const char plain[] = HEAD "m=audio 0 RTP/SAVP 0\r\nm=audio 5000 RTP/AVP 0\r\n";
	check_answer(offer2, plain, req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_NOT_SECURE,
		     "399 sipsd.example \"answer drops SRTP on m=audio (secure media required)\"");
	check_answer(offer2, plain, pref, &tls_hop, SDP_ACCEPT, SDP_REASON_NONE, NULL);
	/* SRTP line answered without keys */
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\nm=audio 0 RTP/AVP 0\r\n", req, &tls_hop, SDP_REJECT,
		     SDP_REASON_ANSWER_NOT_SECURE, NULL);
	/* RFC 4568 7.1: the answer echoes an offered tag and suite */
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\na=crypto:7 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\nm=audio 0 RTP/AVP 0\r\n",
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: a=crypto tag 7 was not offered\"");
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\nm=audio 0 RTP/AVP 0\r\n",
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH, NULL);
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
				  "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "\r\nm=audio 0 RTP/AVP 0\r\n",
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH, NULL);
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\nm=audio 0 RTP/AVP 0\r\n",
		     req, &tls_hop, SDP_REJECT, SDP_REASON_CRYPTO_KEY_LENGTH,
		     "399 sipsd.example \"a=crypto tag 1: key length 3, AES_CM_128_HMAC_SHA1_80 needs 30\"");
	/* RFC 3264 6 structure */
	check_answer(offer2, HEAD "m=audio 5000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
		     req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: number of m= lines differs\"");
	check_answer(offer2, HEAD "m=audio 5000 RTP/AVP 0\r\nm=audio 0 RTP/AVP 0\r\n", pref, &tls_hop, SDP_REJECT,
		     SDP_REASON_ANSWER_MISMATCH,
		     "399 sipsd.example \"answer does not match offer: m=audio transport RTP/AVP, offered RTP/SAVP\"");
	check_answer(HEAD "m=audio 0 RTP/AVP 0\r\n", HEAD "m=audio 5000 RTP/AVP 0\r\n", pref, &tls_hop, SDP_REJECT,
		     SDP_REASON_ANSWER_MISMATCH, NULL);
	/* MIKEY answer on an SDES-only leg */
	struct sdp_policy sdes_only = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_SDES, 415, SDP_SDES_HOP_REFUSE);
	check_answer(HEAD "a=key-mgmt:mikey AQAF\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n",
		     HEAD "a=key-mgmt:mikey AQAF\r\nm=audio 5000 RTP/SAVP 0\r\n", sdes_only, &tls_hop, SDP_REJECT,
		     SDP_REASON_KM_NOT_ACCEPTED, "399 sipsd.example \"answer uses key management mikey, not accepted here\"");
	/* T.38 only, on a secure-required leg */
	check_answer(HEAD "m=audio 4000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\nm=image 4002 udptl t38\r\n",
		     HEAD "m=audio 0 RTP/SAVP 0\r\nm=image 5002 udptl t38\r\n", req, &tls_hop, SDP_REJECT,
		     SDP_REASON_ANSWER_NOT_SECURE, "399 sipsd.example \"answer keeps no secure media\"");
	/* DTLS */
	check_answer(dtls_offer, HEAD "a=fingerprint:sha-256 11:22\r\nm=audio 5000 UDP/TLS/RTP/SAVP 0\r\na=setup:active\r\n",
		     req, &udp_hop, SDP_ACCEPT, SDP_REASON_NONE, NULL);
	check_answer(offer2, "v=0\r\n", req, &tls_hop, SDP_REJECT, SDP_REASON_MALFORMED_SDP,
		     "399 sipsd.example \"malformed SDP answer: missing o= or s=\"");
	/* many m= lines: each judged, those past the kept ones too (the 9th takes the NULL cipher) */
	char many_offer[8192], many_ok[8192], many_null_9th[8192];
	size_t lo = (size_t)snprintf(many_offer, sizeof(many_offer), "%s", HEAD), lk = lo, ln = lo;
	memcpy(many_ok, many_offer, lo + 1);
	memcpy(many_null_9th, many_offer, lo + 1);
	for (int i = 0; i < 11; i++) {
		char m[64], c1[128], c2[128];
		snprintf(m, sizeof(m), "m=audio %d RTP/SAVP 0\r\n", 4000 + 2 * i);
		snprintf(c1, sizeof(c1), "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n", KEY30);
		snprintf(c2, sizeof(c2), "a=crypto:2 NULL_HMAC_SHA1_80 inline:%s\r\n", KEY30);
		lo += (size_t)snprintf(many_offer + lo, sizeof(many_offer) - lo, "%s%s%s", m, c1, c2);
		lk += (size_t)snprintf(many_ok + lk, sizeof(many_ok) - lk, "%s%s", m, c1);
		ln += (size_t)snprintf(many_null_9th + ln, sizeof(many_null_9th) - ln, "%s%s", m, i == 8 ? c2 : c1);
	}
	assert_true(lo < sizeof(many_offer) && lk < sizeof(many_ok) && ln < sizeof(many_null_9th));
	check_answer(many_offer, many_ok, req, &tls_hop, SDP_ACCEPT, SDP_REASON_NONE, NULL);
	check_answer(many_offer, many_null_9th, req, &tls_hop, SDP_REJECT, SDP_REASON_ANSWER_NOT_SECURE,
		     "399 sipsd.example \"answer drops SRTP on m=audio (secure media required)\"");
}

static void test_metrics(void **state)
{
	(void)state;
	static struct sdp_metrics mx;
	struct sdp_metrics_snapshot s;
	struct sdp_verdict v;
	struct sdp_policy p = pol_of(SDP_MEDIA_SECURE_REQUIRED, SDP_KM_SDES, 415, SDP_SDES_HOP_REFUSE);
	const char *bodies[] = { plain_offer, sdes_offer, mikey_offer, dtls_offer, "junk" };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(sdp_policy_check_offer_body(&v, slice_from_cstr(bodies[i]), &p, &tls_hop, HOST, &mx), 0);
		sdp_verdict_clear(&v);
	}
	assert_int_equal(sdp_policy_check_answer_body(&v, slice_from_cstr(sdes_offer), slice_from_cstr(plain_offer),
						      &p, &tls_hop, HOST, &mx), 0);
	sdp_verdict_clear(&v);
	sdp_metrics_snapshot(&mx, &s);
	assert_int_equal(s.offers, 5);
	assert_int_equal(s.offers_by_proto[SDP_MCLASS_RTP], 1);
	assert_int_equal(s.offers_by_proto[SDP_MCLASS_SRTP], 2);
	assert_int_equal(s.offers_by_proto[SDP_MCLASS_DTLS_SRTP], 1);
	assert_int_equal(s.offers_by_km[SDP_KMCLASS_NONE], 1);
	assert_int_equal(s.offers_by_km[SDP_KMCLASS_SDES], 1);
	assert_int_equal(s.offers_by_km[SDP_KMCLASS_MIKEY], 1);
	assert_int_equal(s.offers_by_km[SDP_KMCLASS_DTLS], 1);
	assert_int_equal(s.offers_accepted, 1);
	assert_int_equal(s.offers_rejected[SDP_REASON_NO_SECURE_MEDIA], 1);
	assert_int_equal(s.offers_rejected[SDP_REASON_KM_NOT_ACCEPTED], 2);
	assert_int_equal(s.offers_rejected[SDP_REASON_MALFORMED_SDP], 1);
	assert_int_equal(s.answers, 1);
	assert_int_equal(s.answers_rejected[SDP_REASON_ANSWER_MISMATCH], 1);
	assert_string_equal(sdp_reason_name(SDP_REASON_SDES_INSECURE_HOP), "sdes_insecure_hop");
	assert_string_equal(sdp_mclass_name(SDP_MCLASS_DTLS_SRTP), "dtls_srtp");
	assert_string_equal(sdp_kmclass_name(SDP_KMCLASS_MIKEY), "mikey");
	for (int r = 0; r < SDP_REASON_COUNT; r++)
		assert_string_not_equal(sdp_reason_name((enum sdp_reason)r), "unknown");
}

static void test_config_values(void **state)
{
	(void)state;
	enum sdp_media_mode m;
	unsigned km, st;
	enum sdp_sdes_hop h;
	assert_true(sdp_policy_media_parse("secure-required", &m));
	assert_int_equal(m, SDP_MEDIA_SECURE_REQUIRED);
	assert_true(sdp_policy_media_parse("any", &m));
	assert_false(sdp_policy_media_parse("secure", &m));
	assert_string_equal(sdp_media_mode_name(SDP_MEDIA_SECURE_PREFERRED), "secure-preferred");
	assert_true(sdp_policy_key_mgmt_parse("sdes", &km));
	assert_int_equal(km, SDP_KM_SDES);
	assert_true(sdp_policy_key_mgmt_parse("sdes, dtls", &km));
	assert_int_equal(km, SDP_KM_SDES | SDP_KM_DTLS);
	assert_true(sdp_policy_key_mgmt_parse("any", &km));
	assert_int_equal(km, SDP_KM_ANY);
	assert_true(sdp_policy_key_mgmt_parse("none", &km));
	assert_int_equal(km, 0);
	assert_false(sdp_policy_key_mgmt_parse("sdes,", &km));
	assert_false(sdp_policy_key_mgmt_parse("zrtp", &km));
	assert_false(sdp_policy_key_mgmt_parse("", &km));
	assert_true(sdp_policy_status_parse("488", &st));
	assert_int_equal(st, 488);
	assert_false(sdp_policy_status_parse("406", &st));
	assert_true(sdp_policy_sdes_hop_parse("strip", &h));
	assert_int_equal(h, SDP_SDES_HOP_STRIP);
	assert_false(sdp_policy_sdes_hop_parse("drop", &h));
	struct sdp_policy d = SDP_POLICY_DEFAULT;
	assert_int_equal(d.media, SDP_MEDIA_SECURE_PREFERRED);
	assert_int_equal(d.key_mgmt, SDP_KM_ANY);
	assert_int_equal(d.mismatch_status, 415);
	assert_int_equal(d.sdes_on_insecure_hop, SDP_SDES_HOP_REFUSE);
}

int run_policy_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_secure_required_plain_offer_488),
		cmocka_unit_test(test_secure_preferred_and_any_accept_plain),
		cmocka_unit_test(test_seed003_mikey_vs_sdes_415_or_488),
		cmocka_unit_test(test_crypto_errors_name_the_line),
		cmocka_unit_test(test_null_suites_are_insecure),
		cmocka_unit_test(test_sdes_hop_guard_refuse),
		cmocka_unit_test(test_sdes_hop_guard_strip),
		cmocka_unit_test(test_malformed_body_400),
		cmocka_unit_test(test_warning_is_a_safe_quoted_string),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_answers),
		cmocka_unit_test(test_answer_against_kept_offer),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_config_values),
	};
	return cmocka_run_group_tests_name("sdp_policy", tests, NULL, NULL);
}
