/* Just enough SIP for a load generator: stream framing (Content-Length), the start line, header
 * lookup by name, parameter lookup, and digest credentials (RFC 3261 22.4, RFC 7616 via EVP).
 * A full parser lives in src/sip; this tool only reads what its own scenarios need, from
 * servers it is pointed at, and treats anything surprising as a "parse" error. */
#ifndef SIPSBENCH_SIPSCAN_H
#define SIPSBENCH_SIPSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/slice.h"

#define SIPSCAN_MAX_MSG 65536

struct smsg {
	const char *buf;
	size_t len;
	bool is_resp;
	unsigned status;
	struct slice method, ruri;
	struct slice hdrs; /* first header line .. before the empty line */
	struct slice body;
};

/* Length of the complete message (or keep-alive CRLFs) at the head of buf: > 0 complete,
 * 0 need more bytes, -1 malformed or larger than SIPSCAN_MAX_MSG. */
long sipscan_frame(const char *buf, size_t len);
/* Parse a framed message; false when malformed. Leading CRLFs must already be skipped. */
bool sipscan_parse(const char *buf, size_t len, struct smsg *m);
/* The idx-th occurrence (0-based) of header name (or its compact form, 0 for none).
 * *val is the trimmed value, *line (may be NULL) the whole line including CRLF. */
bool sipscan_hdr(const struct smsg *m, const char *name, char compact, unsigned idx,
		 struct slice *val, struct slice *line);
/* ;name=value parameter of a header value (after the URI's closing '>' when there is one). */
bool sipscan_hparam(struct slice v, const char *name, struct slice *out);
/* name=value or name="value" in a digest challenge (comma separated auth-params). */
bool sipscan_authparam(struct slice v, const char *name, struct slice *out);
/* The URI inside <...> of a name-addr, or the value up to ';' for an addr-spec. */
struct slice sipscan_uri(struct slice v);
/* CSeq method of a message. */
struct slice sipscan_cseq_method(const struct smsg *m);

struct digest_in {
	const char *user, *password, *method, *uri;
	struct slice challenge; /* the WWW-Authenticate value, "Digest ..." */
	unsigned nc;
};

/* Build the Authorization value (without the header name) into out. Returns its length, or
 * -1 when the challenge is unusable (unknown algorithm, missing nonce) or out is too small. */
int digest_answer(const struct digest_in *in, char *out, size_t outsz);
/* Which algorithm a challenge names: "MD5" (also when absent), "SHA-256", or NULL when unknown. */
const char *digest_alg(struct slice challenge);

#endif
