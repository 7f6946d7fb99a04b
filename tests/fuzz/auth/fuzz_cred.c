/* libFuzzer harness for the credentials parser (and, when it accepts, verification).
 * The input is tried as a header value, and every Authorization / Proxy-Authorization line in
 * it (the seeds are whole SIP messages) is tried too. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "auth/cred.h"
#include "auth/nonce.h"
#include "auth/verify.h"
#include "base/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct auth_nonce_ctx *ctx;
static struct auth_nc_table *nct;

static void one(struct slice v)
{
	struct auth_cred c;
	enum auth_err why = AUTH_ERR_NONE;
	if (auth_cred_parse(v, &c, &why) != 0) {
		if (why == AUTH_ERR_NONE || !auth_err_reason(why)[0])
			__builtin_trap();
		return;
	}
	if (strlen(c.response) != auth_alg_hexlen(c.alg) || !c.username[0] || !c.nonce[0])
		__builtin_trap();
	char ha1[AUTH_HEX_MAX];
	if (auth_ha1(c.alg, slice_from_cstr(c.username), slice_from_cstr(c.realm), SLICE_LIT("pw"), ha1))
		return;
	struct auth_verify_params p = {
		.method = SLICE_LIT("REGISTER"), .realm = slice_from_cstr(c.realm),
		.ha1 = slice_from_cstr(ha1), .body = v, .now = 1700000000, .allow_no_qop = true,
	};
	(void)auth_verify(ctx, nct, &c, &p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!ctx) {
		static const uint8_t key[32] = { 1 };
		if (auth_nonce_ctx_alloc(&ctx, 300) || auth_nonce_ctx_set_secret(ctx, key, sizeof(key)) ||
		    auth_nc_table_alloc(&nct, 64, 300, false))
			__builtin_trap();
	}
	const char *p = (const char *)data, *end = p + size;
	one((struct slice){ p, size });
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);
		static const char *const names[] = { "Authorization:", "Proxy-Authorization:" };
		for (size_t i = 0; i < 2; i++) {
			size_t nlen = strlen(names[i]);
			if (ll > nlen && strncasecmp(p, names[i], nlen) == 0) {
				struct slice v = { p + nlen, ll - nlen };
				if (v.len && v.p[v.len - 1] == '\r')
					v.len--;
				one(v);
			}
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}
