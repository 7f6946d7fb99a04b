/* Stream framing (RFC 3261 18.3): header block, then exactly Content-Length octets. */
#include "sip/frame.h"

#include <string.h>

#include "sip/lex.h"

static void frame_err(struct sip_frame *f, int status, const char *why)
{
	f->kind = SIP_FRAME_ERROR;
	f->len = 0;
	f->status = status;
	f->error = why;
}

/* Is the line [p, e) a Content-Length field ("Content-Length" or compact "l")? Returns the
 * position after ':' or NULL. */
static const char *clen_field(const char *p, const char *e)
{
	/* Every header line of every message comes here: most names fail on the first letter, or
	 * the first two (Call-ID, CSeq, Contact), without scanning the name. */
	char c0 = lc(*p);
	if (c0 != 'l' && (c0 != 'c' || e - p < 15 || lc(p[1]) != 'o' || lc(p[8]) != 'l'))
		return NULL;
	const char *n = run(p, e, CC_TOKEN);
	size_t nl = (size_t)(n - p);
	if (!((nl == 1 && lc(*p) == 'l') || (nl == 14 && lex_eq_lc(p, "content-length", 14))))
		return NULL;
	while (n < e && (*n == ' ' || *n == '\t'))
		n++;
	return n < e && *n == ':' ? n + 1 : NULL;
}

void sip_frame_next_flags(const char *buf, size_t len, size_t max, unsigned flags, struct sip_frame *f)
{
	if (!f)
		return;
	memset(f, 0, sizeof(*f));
	f->kind = SIP_FRAME_NEED_MORE;
	if (!buf || !len)
		return;
	/* RFC 5626 4.4.1 keepalives: CRLFCRLF ping, CRLF pong */
	if (buf[0] == '\r') {
		if (len < 2)
			return;
		if (buf[1] != '\n') {
			frame_err(f, 400, "stray CR");
			return;
		}
		if (len >= 4 && buf[2] == '\r' && buf[3] == '\n') {
			f->kind = SIP_FRAME_PING;
			f->len = 4;
			return;
		}
		if ((len == 2 || (len == 3 && buf[2] == '\r')) && !(flags & SIP_FRAME_CLIENT))
			return; /* maybe the first half of a ping */
		f->kind = SIP_FRAME_PONG;
		f->len = 2;
		return;
	}
	if (buf[0] == '\n') {
		/* bare LF keepalive from sloppy clients: consume like a pong */
		f->kind = SIP_FRAME_PONG;
		f->len = 1;
		return;
	}
	/* walk the header lines up to the empty one, noting Content-Length */
	const char *p = buf;
	size_t lim = max && max < len ? max : len;
	bool have_cl = false, pending = false; /* pending: "Content-Length:" folded, value next */
	uint64_t cl = 0;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(buf + lim - p));
		if (!nl) {
			if (max && len >= max)
				frame_err(f, 513, "header block over the size limit");
			return;
		}
		const char *le = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
		if (p != buf && le == p) {
			p = nl + 1;
			break;
		}
		const char *v = NULL;
		if (p == buf) {
			/* start line */
		} else if (*p == ' ' || *p == '\t') {
			if (pending)
				v = p;
		} else {
			if (pending)
				break; /* reported as bad below */
			v = clen_field(p, le);
			if (v && have_cl) {
				frame_err(f, 400, "multiple Content-Length"); /* RFC 4475 3.3.9 */
				return;
			}
			if (v)
				have_cl = true;
		}
		if (v) {
			const char *d = v;
			while (d < le && (*d == ' ' || *d == '\t'))
				d++;
			pending = d == le;
			if (!pending) {
				const char *de = run(d, le, CC_DIGIT), *t = de;
				while (t < le && (*t == ' ' || *t == '\t'))
					t++;
				/* RFC 4475 3.1.2.3: "-999" and the like lose the framing */
				if (de == d || t != le || de - d > 10 ||
				    !slice_to_u64(sl(d, de), UINT32_MAX, &cl)) {
					frame_err(f, 400, "bad Content-Length");
					return;
				}
			}
		}
		p = nl + 1;
	}
	if (pending) {
		frame_err(f, 400, "bad Content-Length");
		return;
	}
	if (!have_cl) {
		frame_err(f, 400, "missing Content-Length"); /* RFC 3261 18.3: mandatory on streams */
		return;
	}
	size_t hlen = (size_t)(p - buf);
	if (max && (uint64_t)hlen + cl > max) {
		frame_err(f, 513, "message over the size limit");
		return;
	}
	if ((uint64_t)(len - hlen) < cl)
		return;
	f->kind = SIP_FRAME_MESSAGE;
	f->len = hlen + (size_t)cl;
}

void sip_frame_next(const char *buf, size_t len, size_t max_message_size, struct sip_frame *f)
{
	sip_frame_next_flags(buf, len, max_message_size, 0, f);
}
