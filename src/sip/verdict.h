/* What a server must do with a message it could not accept: answer with status + reason, or
 * drop it silently (RFC 4475 3.1.2.5, 3.1.2.19: bad responses are discarded), or close the
 * stream (framing lost, RFC 4475 3.1.2.3). Filled by sip_msg_parse(), sip_msg_validate() and
 * the sip_msg_check_*() helpers; status 0 means "accept". */
#ifndef SIPSD_SIP_VERDICT_H
#define SIPSD_SIP_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

#define SIP_VERDICT_MAX_UNSUPPORTED 8

struct sip_verdict {
	int status;         /* response code to send, 0 when accepted */
	const char *reason; /* static string; names the fault for 400 ("Bad CSeq") */
	bool drop;          /* send nothing (the message was a response, or cannot be answered) */
	bool close;         /* on a stream: framing is lost, close the connection */
	/* 420: option-tags for the Unsupported header (slices into the message) */
	size_t n_unsupported;
	struct slice unsupported[SIP_VERDICT_MAX_UNSUPPORTED];
};

void sip_verdict_clear(struct sip_verdict *v);
/* Records the first fault only: a verdict already set is kept (NULL-safe). Returns err. */
int sip_verdict_set(struct sip_verdict *v, int err, int status, const char *reason);

#endif
