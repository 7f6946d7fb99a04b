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
/* A text line as received (CRLF or bare LF end, or none) written with a CRLF end. */
void outbuf_put_line(struct outbuf *o, struct slice raw);

#endif
