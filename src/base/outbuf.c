#include "base/outbuf.h"

#include <string.h>

void outbuf_put(struct outbuf *o, const char *s, size_t n)
{
	if (o->over || n > o->size - o->len) {
		o->over = true;
		return;
	}
	if (n)
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

void outbuf_puts(struct outbuf *o, const char *s)
{
	outbuf_put(o, s, strlen(s));
}

void outbuf_put_slice(struct outbuf *o, struct slice s)
{
	outbuf_put(o, s.p, s.len);
}

void outbuf_put_u32(struct outbuf *o, uint32_t v)
{
	outbuf_put_u64(o, v);
}

void outbuf_put_u64(struct outbuf *o, uint64_t v)
{
	char t[20];
	size_t i = sizeof(t);
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	outbuf_put(o, t + i, sizeof(t) - i);
}

void outbuf_put_hex(struct outbuf *o, uint64_t v, unsigned min_digits)
{
	char t[16];
	size_t i = sizeof(t);
	do {
		t[--i] = "0123456789abcdef"[v & 15];
		v >>= 4;
	} while (v || (sizeof(t) - i < min_digits && i > 0));
	outbuf_put(o, t + i, sizeof(t) - i);
}

size_t outbuf_cstr(struct outbuf *o)
{
	if (o->over)
		return 0;
	o->p[o->len] = '\0';
	return o->len;
}

void outbuf_put_line(struct outbuf *o, struct slice raw)
{
	size_t n = raw.len;
	if (n && raw.p[n - 1] == '\n')
		n--;
	if (n && raw.p[n - 1] == '\r')
		n--;
	outbuf_put(o, raw.p, n);
	outbuf_put(o, "\r\n", 2);
}
