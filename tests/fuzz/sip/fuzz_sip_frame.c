/* Stream framing over arbitrary bytes: frames stay inside the buffer, a frame is not
 * reported before its last byte arrived, and every MESSAGE is handed to the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "sip/frame.h"
#include "sip/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	for (unsigned flags = 0; flags < 2; flags++) {
		size_t off = 0;
		while (off < size) {
			struct sip_frame f, g;
			sip_frame_next_flags(p + off, size - off, 65536, flags, &f);
			if (f.kind == SIP_FRAME_NEED_MORE || f.kind == SIP_FRAME_ERROR)
				break;
			if (f.len == 0 || f.len > size - off)
				abort();
			/* a client takes the first CRLF of a ping as a pong at once (by design) */
			sip_frame_next_flags(p + off, f.len - 1, 65536, flags, &g);
			if (g.kind != SIP_FRAME_NEED_MORE && !(flags && f.kind == SIP_FRAME_PING))
				abort();
			if (f.kind == SIP_FRAME_MESSAGE) {
				struct sip_msg *m = NULL;
				struct sip_verdict v;
				if (sip_msg_parse(p + off, f.len, NULL, SIP_PARSE_STREAM, &m, &v) == 0) {
					if (sip_msg_raw(m).len > f.len)
						abort();
					mem_deref(m);
				}
			}
			off += f.len;
		}
	}
	return 0;
}
