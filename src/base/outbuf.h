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

void outbuf_put(struct outbuf *o, const char *s, size_t n);
void outbuf_puts(struct outbuf *o, const char *s);
void outbuf_put_slice(struct outbuf *o, struct slice s);
void outbuf_put_u32(struct outbuf *o, uint32_t v);
void outbuf_put_u64(struct outbuf *o, uint64_t v);
/* Lowercase hex, at least min_digits (zero-padded, 16 at most), like "%0*llx". */
void outbuf_put_hex(struct outbuf *o, uint64_t v, unsigned min_digits);
/* A text line as received (CRLF or bare LF end, or none) written with a CRLF end. */
void outbuf_put_line(struct outbuf *o, struct slice raw);

#endif
