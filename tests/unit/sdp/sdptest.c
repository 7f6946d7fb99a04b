#include "sdptest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "sdp/crypto.h"

const char *sdptest_root(void)
{
	const char *r = getenv("SIPSD_TESTDATA");
	return r && *r ? r : SIPSD_TESTDATA_DEFAULT;
}

char *sdptest_read(const char *rel, size_t *lenp)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", sdptest_root(), rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = NULL;
	long sz;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = mem_zalloc((size_t)sz + 1, NULL)) != NULL) {
		if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
			buf = mem_deref(buf);
		else if (lenp)
			*lenp = (size_t)sz;
	}
	fclose(f);
	return buf;
}

const char *sdptest_redacted(struct slice text)
{
	static char buf[8192];
	sdp_redact_keys(text, buf, sizeof(buf));
	return buf;
}

void sdptest_no_key_in(const char *text, struct slice body, const char *what)
{
	const char *p = body.p, *end = body.p + body.len;
	while (p < end) {
		const char *hit = NULL;
		for (const char *q = p; q + 7 <= end; q++) {
			if (strncasecmp(q, "inline:", 7) == 0) {
				hit = q + 7;
				break;
			}
		}
		if (!hit)
			return;
		size_t n = 0;
		while (hit + n < end && hit[n] != '|' && hit[n] != ';' && hit[n] != ' ' && hit[n] != '\r' &&
		       hit[n] != '\n')
			n++;
		/* Short fragments ("AAAA") could match by chance; 8+ characters cannot. */
		if (n >= 8 && memmem(text, strlen(text), hit, n)) {
			print_error("%s: key material leaked into: %s\n", what,
				    sdptest_redacted(slice_from_cstr(text)));
			fail();
		}
		p = hit + n;
	}
}
