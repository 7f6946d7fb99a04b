/* A bounded output buffer for building messages: appends stop at the end and set a sticky
 * overflow flag, so a builder writes straight through and checks once at the end. */
#ifndef SIPSD_BASE_OUTBUF_H
#define SIPSD_BASE_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

struct outbuf {
	char *p;
	size_t size, len;
	bool over; /* something did not fit; the contents are then incomplete */
};

#define OUTBUF_INIT(buf, sz) ((struct outbuf){ (buf), (sz), 0, false })
/* For a NUL-terminated string: one byte is kept for the NUL that outbuf_cstr() writes. */
#define OUTBUF_INIT_CSTR(buf, sz) ((struct outbuf){ (buf), (sz) ? (sz) - 1 : 0, 0, (sz) == 0 })

void outbuf_put(struct outbuf *o, const char *s, size_t n);
void outbuf_puts(struct outbuf *o, const char *s);
void outbuf_put_slice(struct outbuf *o, struct slice s);
void outbuf_put_u32(struct outbuf *o, uint32_t v);
void outbuf_put_u64(struct outbuf *o, uint64_t v);
/* Lowercase hex, at least min_digits (zero-padded, 16 at most), like "%0*llx". */
void outbuf_put_hex(struct outbuf *o, uint64_t v, unsigned min_digits);
/* Ends a string begun with OUTBUF_INIT_CSTR: NUL-terminates it and returns its length, or 0
 * when something did not fit. */
size_t outbuf_cstr(struct outbuf *o);
/* A text line as received (CRLF or bare LF end, or none) written with a CRLF end. */
void outbuf_put_line(struct outbuf *o, struct slice raw);

#endif
