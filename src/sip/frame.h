/* Message boundaries in a TCP/TLS byte stream (RFC 3261 18.3, RFC 5626 4.4.1). Looks at the
 * bytes in place, copies nothing, keeps no state: call again with more bytes after NEED_MORE,
 * and advance by len after PING, PONG or MESSAGE. */
#ifndef SIPSD_SIP_FRAME_H
#define SIPSD_SIP_FRAME_H

#include <stddef.h>

enum sip_frame_kind {
	SIP_FRAME_NEED_MORE, /* not enough bytes yet */
	SIP_FRAME_MESSAGE,   /* one message of len bytes (headers + Content-Length body) */
	SIP_FRAME_PING,      /* CRLFCRLF keepalive (4 bytes): answer with a CRLF pong */
	SIP_FRAME_PONG,      /* single CRLF: a pong, or a stray CRLF before a start line (7.5) */
	SIP_FRAME_ERROR,     /* framing lost: missing/bad/duplicate Content-Length, too large */
};

struct sip_frame {
	enum sip_frame_kind kind;
	size_t len;        /* bytes to consume (0 for NEED_MORE and ERROR) */
	int status;        /* ERROR: a response code worth logging (400, 513) */
	const char *error; /* ERROR: static text naming the fault */
};

#define SIP_FRAME_CLIENT 0x1u /* a lone CRLF is a pong now, not maybe half of a ping */

/* Server side: a lone CRLF at the end of buf is NEED_MORE, as it may be the first half of a
 * ping split across reads. max_message_size bounds the header block and the whole message. */
void sip_frame_next(const char *buf, size_t len, size_t max_message_size, struct sip_frame *f);
void sip_frame_next_flags(const char *buf, size_t len, size_t max_message_size, unsigned flags,
			  struct sip_frame *f);

#endif
