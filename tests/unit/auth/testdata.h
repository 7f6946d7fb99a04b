/* Reading ../shared/testdata in place (SIPSD_TESTDATA, set by ctest). */
#ifndef SIPSD_TEST_AUTH_TESTDATA_H
#define SIPSD_TEST_AUTH_TESTDATA_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* Whole file, NUL-terminated, malloc'd; NULL (with a message) when unreadable. */
static inline char *testdata_read(const char *rel, size_t *lenp)
{
	const char *dir = getenv("SIPSD_TESTDATA");
	if (!dir) {
		fprintf(stderr, "SIPSD_TESTDATA is not set (run through ctest)\n");
		return NULL;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		return NULL;
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		if (lenp)
			*lenp = n;
	}
	return buf;
}

#endif
