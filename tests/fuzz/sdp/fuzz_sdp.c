/* libFuzzer harness for the SDP core: parser, a=crypto validation, the filtering builder and the
 * policy over every setting, plus the answer check with the input as both offer and answer.
 * Invariants checked beyond "no sanitizer report": the stripped body re-parses with the same
 * number of m= sections and holds no a=crypto line, and a Warning never contains a key. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "sdp/crypto.h"
#include "sdp/policy.h"
#include "sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when text occurs in body somewhere that is not an inline: key, e.g. as a suite name:
 * the Warning may echo that occurrence legitimately. */
static bool occurs_elsewhere(struct slice body, struct slice text)
{
	const char *p = body.p, *end = body.p + body.len;
	while (p < end) {
		const char *hit = memmem(p, (size_t)(end - p), text.p, text.len);
		if (!hit)
			return false;
		if (hit - body.p < 7 || strncasecmp(hit - 7, "inline:", 7) != 0)
			return true;
		p = hit + 1;
	}
	return false;
}

static void check_no_key(const char *warning, const struct sdp *sdp)
{
	/* Every inline: key of 8+ characters must be absent from the Warning. */
	const struct sdp_attr *a;
	for (size_t mi = 0; mi <= sdp_media_count(sdp); mi++) {
		const struct sdp_media *m = mi ? sdp_media_get(sdp, mi - 1) : NULL;
		for (size_t i = 0; (a = sdp_attr_get(sdp, m, i)); i++) {
			struct sdp_crypto c;
			if (!slice_eq_cstr_ci(a->name, "crypto"))
				continue;
			sdp_crypto_parse(&c, a->value);
			for (unsigned k = 0; k < c.n_keys; k++)
				if (c.keys[k].key_salt.len >= 8 && !occurs_elsewhere(sdp_body(sdp), c.keys[k].key_salt) &&
				    memmem(warning, strlen(warning), c.keys[k].key_salt.p, c.keys[k].key_salt.len))
					abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct slice body = { (const char *)data, size };
	struct sdp *sdp = NULL;
	struct sdp_error err;
	char red[512];

	sdp_redact_keys(body, red, sizeof(red));
	if (sdp_parse(&sdp, body, NULL, &err) != 0)
		return 0;

	static const struct sdp_hop hops[] = { { true, true }, { false, false } };
	for (int media = SDP_MEDIA_SECURE_REQUIRED; media <= SDP_MEDIA_ANY; media++) {
		for (unsigned km = 0; km <= SDP_KM_ANY; km += 3) {
			for (int h = 0; h < 2; h++) {
				struct sdp_policy pol = { (enum sdp_media_mode)media, km, 415,
							  h ? SDP_SDES_HOP_STRIP : SDP_SDES_HOP_REFUSE };
				struct sdp_verdict v;
				if (sdp_policy_check_offer(&v, sdp, &pol, &hops[h], "fuzz.example", NULL) != 0)
					continue;
				check_no_key(v.warning, sdp);
				if (v.action == SDP_ACCEPT_STRIPPED) {
					struct sdp *s2 = NULL;
					if (sdp_parse(&s2, (struct slice){ v.body, v.body_len }, NULL, NULL) != 0)
						abort();
					if (sdp_media_count(s2) != sdp_media_count(sdp))
						abort();
					for (size_t mi = 0; mi < sdp_media_count(s2); mi++)
						if (sdp_media_get(s2, mi)->n_crypto)
							abort();
					if (sdp_session_get(s2)->n_crypto)
						abort();
					mem_deref(s2);
				}
				sdp_verdict_clear(&v);
				struct sdp_verdict a;
				if (sdp_policy_check_answer(&a, sdp, sdp, &pol, &hops[h], "fuzz.example", NULL) == 0) {
					check_no_key(a.warning, sdp);
					sdp_verdict_clear(&a);
				}
			}
		}
	}
	mem_deref(sdp);
	return 0;
}
