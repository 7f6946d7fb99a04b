/* Aligned text tables for sipsctl's human output (the device tables operators know). */
#include <stdlib.h>
#include <string.h>

#include "sipsctl.h"

struct sipsctl_table {
	size_t ncols, nrows, cap;
	char **cells; /* (nrows + 1) * ncols, row 0 = headers */
};

static char *dup_cell(const char *s)
{
	/* one line per cell: control characters from peer-supplied text become spaces */
	char *d = strdup(s ? s : "");
	for (char *p = d; d && *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	return d;
}

struct sipsctl_table *sipsctl_table_new(const char *const *headers, size_t ncols)
{
	struct sipsctl_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ncols = ncols;
	t->cap = 16;
	t->cells = calloc(t->cap * ncols, sizeof(char *));
	if (!t->cells) {
		free(t);
		return NULL;
	}
	for (size_t c = 0; c < ncols; c++)
		t->cells[c] = dup_cell(headers[c]);
	return t;
}

void sipsctl_table_add(struct sipsctl_table *t, const char *const *cells)
{
	if (!t)
		return;
	if (t->nrows + 2 > t->cap) {
		size_t nc = t->cap * 2;
		char **n = realloc(t->cells, nc * t->ncols * sizeof(char *));
		if (!n)
			return;
		t->cells = n;
		t->cap = nc;
	}
	t->nrows++;
	for (size_t c = 0; c < t->ncols; c++)
		t->cells[t->nrows * t->ncols + c] = dup_cell(cells[c]);
}

void sipsctl_table_print(struct sipsctl_table *t, FILE *f)
{
	if (!t)
		return;
	size_t *w = calloc(t->ncols, sizeof(*w));
	if (!w)
		return;
	for (size_t r = 0; r <= t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			size_t l = s ? strlen(s) : 0;
			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r <= t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (c + 1 == t->ncols)
				fprintf(f, "%s", s ? s : "");
			else
				fprintf(f, "%-*s  ", (int)w[c], s ? s : "");
		}
		fputc('\n', f);
	}
	free(w);
}

void sipsctl_table_free(struct sipsctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < (t->nrows + 1) * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}
