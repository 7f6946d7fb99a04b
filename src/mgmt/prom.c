/* Bounded text buffer and the Prometheus text exposition format (0.0.4). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/mgmt.h"

void mgmt_buf_init(struct mgmt_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void mgmt_buf_free(struct mgmt_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static bool reserve(struct mgmt_buf *b, size_t more)
{
	if (b->err)
		return false;
	if (b->len + more + 1 > b->max) {
		b->err = ENOSPC;
		return false;
	}
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t nc = b->cap ? b->cap : 1024;
	while (nc < b->len + more + 1)
		nc *= 2;
	if (nc > b->max)
		nc = b->max;
	char *np = realloc(b->p, nc);
	if (!np) {
		b->err = ENOMEM;
		return false;
	}
	b->p = np;
	b->cap = nc;
	return true;
}

static void buf_put(struct mgmt_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void mgmt_buf_printf(struct mgmt_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char tmp[512];
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = EINVAL;
		return;
	}
	if ((size_t)n < sizeof(tmp)) {
		buf_put(b, tmp, (size_t)n);
		return;
	}
	if (!reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void prom_family(struct mgmt_buf *b, const char *name, const char *type, const char *help)
{
	mgmt_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: backslash, double quote and line feed are escaped; other control bytes dropped. */
static void label_value(struct mgmt_buf *b, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			buf_put(b, "\\\\", 2);
		else if (*p == '"')
			buf_put(b, "\\\"", 2);
		else if (*p == '\n')
			buf_put(b, "\\n", 2);
		else if ((unsigned char)*p >= 0x20)
			buf_put(b, p, 1);
	}
}

static void labels(struct mgmt_buf *b, const char *name, va_list ap)
{
	buf_put(b, name, strlen(name));
	const char *k = va_arg(ap, const char *);
	bool any = false;
	while (k) {
		const char *v = va_arg(ap, const char *);
		buf_put(b, any ? "," : "{", 1);
		buf_put(b, k, strlen(k));
		buf_put(b, "=\"", 2);
		label_value(b, v ? v : "");
		buf_put(b, "\"", 1);
		any = true;
		k = va_arg(ap, const char *);
	}
	if (any)
		buf_put(b, "}", 1);
}

void prom_sample(struct mgmt_buf *b, const char *name, double value, ...)
{
	va_list ap;
	va_start(ap, value);
	labels(b, name, ap);
	va_end(ap);
	if (isnan(value))
		mgmt_buf_printf(b, " NaN\n");
	else if (isinf(value))
		mgmt_buf_printf(b, value > 0 ? " +Inf\n" : " -Inf\n");
	else
		mgmt_buf_printf(b, " %.17g\n", value);
}

void prom_sample_u64(struct mgmt_buf *b, const char *name, uint64_t value, ...)
{
	va_list ap;
	va_start(ap, value);
	labels(b, name, ap);
	va_end(ap);
	mgmt_buf_printf(b, " %llu\n", (unsigned long long)value);
}
