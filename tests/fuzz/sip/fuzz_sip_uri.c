/* URI parser, parameter lookups, unescape and comparison. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sip/uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri u, w;
	char buf[256];
	size_t n;
	const char *p = (const char *)data;
	if (sip_uri_parse(&u, p, size) != 0)
		return 0;
	struct slice rest = u.params, name, val;
	bool bad = false;
	while (sip_param_next(&rest, &name, &val, &bad))
		;
	sip_param_get(u.params, "transport", &val);
	sip_param_get(u.params, "lr", &val);
	sip_unescape(u.user, buf, sizeof(buf), &n);
	sip_unescape(u.host, buf, sizeof(buf), &n);
	sip_unescape(u.headers, buf, sizeof(buf), &n);
	/* equivalence is reflexive, and a re-parse of the same text is equivalent */
	if (!sip_uri_eq(&u, &u))
		abort();
	if (sip_uri_parse(&w, p, size) != 0 || !sip_uri_eq(&u, &w))
		abort();
	/* a prefix must not read past its end (ASan checks the bounds) */
	if (size > 1 && sip_uri_parse(&w, p, size / 2) == 0)
		sip_uri_eq(&u, &w);
	return 0;
}
