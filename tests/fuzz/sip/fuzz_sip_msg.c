/* Parse as datagram and as stream; on success exercise every accessor, the validator, the
 * round trip (must be exact) and the builders (their output must parse again). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sip/build.h"
#include "sip/limits.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char out[3 * 65536 + 4096];

static void must(int cond)
{
	if (!cond)
		abort();
}

static void walk(const struct sip_msg *m)
{
	struct sip_hdr_iter it;
	struct sip_via via;
	struct sip_contact c;
	struct sip_nameaddr na;
	struct slice t;
	sip_hdr_iter_init(&it, m, SIP_HDR_VIA);
	while (sip_hdr_iter_via(&it, &via) == 0)
		;
	sip_hdr_iter_init(&it, m, SIP_HDR_CONTACT);
	while (sip_hdr_iter_contact(&it, &c) == 0) {
		struct slice v;
		sip_param_get(c.na.uri.params, "transport", &v);
	}
	static const enum sip_hdr_id nas[] = { SIP_HDR_ROUTE, SIP_HDR_RECORD_ROUTE, SIP_HDR_PATH };
	for (size_t i = 0; i < 3; i++) {
		sip_hdr_iter_init(&it, m, nas[i]);
		while (sip_hdr_iter_nameaddr(&it, &na) == 0)
			;
	}
	static const enum sip_hdr_id toks[] = { SIP_HDR_SUPPORTED, SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE,
						SIP_HDR_ALLOW };
	for (size_t i = 0; i < 4; i++) {
		sip_hdr_iter_init(&it, m, toks[i]);
		while (sip_hdr_iter_token(&it, &t) == 0)
			;
	}
	static const enum sip_hdr_id auths[] = { SIP_HDR_AUTHORIZATION, SIP_HDR_PROXY_AUTHORIZATION,
						 SIP_HDR_WWW_AUTHENTICATE, SIP_HDR_PROXY_AUTHENTICATE };
	for (size_t i = 0; i < 4; i++) {
		for (const struct sip_hdr *h = sip_msg_hdr(m, auths[i]); h; h = sip_msg_hdr_next(m, h)) {
			struct sip_auth a;
			struct slice v;
			if (sip_auth_parse(h->value, &a) == 0) {
				sip_auth_param(&a, "nonce", &v);
				sip_auth_param(&a, "response", &v);
			}
		}
	}
	uint32_t u;
	sip_msg_expires(m, &u);
	sip_msg_min_expires(m, &u);
	sip_msg_hdr_by_name(m, "X-Unknown");
	const struct sip_nameaddr *to = sip_msg_to(m), *from = sip_msg_from(m);
	if (to && from)
		sip_uri_eq(&to->uri, &from->uri);
}

static void exercise(const struct sip_msg *m)
{
	size_t n;
	struct slice raw = sip_msg_raw(m);
	must(sip_build_copy(m, out, sizeof(out), &n) == 0);
	must(n == raw.len && memcmp(out, raw.p, n) == 0);
	walk(m);

	struct sip_verdict v;
	sip_verdict_clear(&v); /* the checks keep the first fault: they read the verdict */
	int verr = sip_msg_validate(m, SIP_ROLE_PROXY, NULL, &v);
	sip_verdict_clear(&v);
	sip_msg_validate(m, SIP_ROLE_REGISTRAR, NULL, &v);
	sip_verdict_clear(&v);
	static const char *const sup[] = { "path", "outbound" };
	sip_msg_check_extensions(m, SIP_ROLE_PROXY, sup, 2, &v);
	sip_verdict_clear(&v);
	sip_msg_check_max_forwards(m, &v);
	if (!sip_msg_is_request(m) || verr)
		return;

	struct sip_msg *r = NULL;
	struct sip_resp_opts o = { .to_tag = SLICE_LIT("fz1") };
	if (sip_build_response(m, 486, NULL, &o, out, sizeof(out), &n) == 0) {
		must(sip_msg_parse(out, n, NULL, SIP_PARSE_STREAM, &r, &v) == 0);
		must(sip_msg_status(r) == 486);
		r = mem_deref(r);
	}
	struct sip_fwd_opts f = { .transport = SLICE_LIT("TLS"), .host = SLICE_LIT("[2001:db8::1]"),
				  .port = 5061, .branch_unique = SLICE_LIT("fuzz"), .pop_route = true,
				  .record_route = SLICE_LIT("sips:p.example.com;lr") };
	if (sip_build_forward(m, &f, out, sizeof(out), &n) == 0) {
		/* A request at a limit is forwarded with our Via, Record-Route and maybe Max-Forwards
		 * and Content-Length on top: the next hop's limits judge that, not ours. */
		struct sip_limits grown = sip_limits_default();
		grown.max_headers += 4;
		grown.max_via += 1;
		grown.max_message_size += 1024;
		must(sip_msg_parse(out, n, &grown, SIP_PARSE_STREAM, &r, &v) == 0);
		must(slice_eq_cstr(sip_msg_via(r)->branch, "z9hG4bKfuzz"));
		r = mem_deref(r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg *m = NULL;
	struct sip_verdict v;
	if (sip_msg_parse((const char *)data, size, NULL, 0, &m, &v) == 0) {
		exercise(m);
		m = mem_deref(m);
	} else {
		must(v.status >= 400 || v.drop);
	}
	/* tight limits reach the limit paths */
	struct sip_limits lim = { 512, 8, 128, 64, 2 };
	if (sip_msg_parse((const char *)data, size, &lim, SIP_PARSE_STREAM, &m, &v) == 0) {
		exercise(m);
		mem_deref(m);
	}
	return 0;
}
