/* Reading ../shared/testdata in place (SIPSD_TESTDATA, set by ctest). */
#ifndef SIPSD_TEST_SIP_UTIL_H
#define SIPSD_TEST_SIP_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns a malloc'ed buffer (NUL-terminated for convenience) or NULL. */
static inline char *td_read(const char *rel, size_t *lenp)
{
	const char *root = getenv("SIPSD_TESTDATA");
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", root ? root : "../shared/testdata", rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *b = malloc(cap);
	for (;;) {
		if (len + 1 >= cap) {
			cap *= 2;
			char *nb = realloc(b, cap);
			if (!nb) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		size_t n = fread(b + len, 1, cap - len - 1, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	b[len] = '\0';
	*lenp = len;
	return b;
}

/* Iterates the rows of a VERDICTS.tsv: fills cols (up to max) with pointers into line,
 * tab-separated. Returns the number of columns, 0 at the end. */
static inline int td_tsv_next(char **cursor, char **cols, int max)
{
	char *p = *cursor;
	if (!p || !*p)
		return 0;
	char *nl = strchr(p, '\n');
	if (nl)
		*nl = '\0';
	*cursor = nl ? nl + 1 : p + strlen(p);
	int n = 0;
	while (n < max) {
		cols[n++] = p;
		char *t = strchr(p, '\t');
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	return n;
}

#endif
