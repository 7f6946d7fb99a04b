/* SDP (RFC 8866) parsed zero-copy over a body the caller keeps alive, and a builder that
 * re-emits the body with some attribute lines left out (copying every other byte as is). */
#ifndef SIPSD_SDP_SDP_H
#define SIPSD_SDP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

/* Bounds on what one body may hold; exceeding one is EMSGSIZE, not EBADMSG. */
struct sdp_limits {
	size_t max_body;     /* bytes */
	size_t max_lines;    /* non-empty lines */
	size_t max_line_len; /* bytes, without the line end */
	size_t max_media;    /* m= sections */
};
#define SDP_LIMITS_DEFAULT ((struct sdp_limits){ 65536, 1024, 4096, 32 })

/* Where and why a parse failed; reason is a static string safe to log and to put in a Warning
 * (it never quotes the input). line is 1-based, 0 when not tied to a line. */
struct sdp_error {
	unsigned line;
	const char *reason;
};

/* RFC 8866 5.14 transport protocols we reason about; anything else is SDP_PROTO_OTHER and kept
 * as text in sdp_media.proto_text. */
enum sdp_proto {
	SDP_PROTO_OTHER,
	SDP_PROTO_RTP_AVP,
	SDP_PROTO_RTP_AVPF,
	SDP_PROTO_RTP_SAVP,      /* RFC 3711 */
	SDP_PROTO_RTP_SAVPF,     /* RFC 5124 */
	SDP_PROTO_UDP_TLS_SAVP,  /* UDP/TLS/RTP/SAVP, DTLS-SRTP (RFC 5764) */
	SDP_PROTO_UDP_TLS_SAVPF, /* UDP/TLS/RTP/SAVPF */
};

enum sdp_dir {
	SDP_DIR_UNSET,
	SDP_DIR_SENDRECV,
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

/* RFC 4145 a=setup (DTLS-SRTP role, RFC 5763 5) */
enum sdp_setup {
	SDP_SETUP_UNSET,
	SDP_SETUP_ACTIVE,
	SDP_SETUP_PASSIVE,
	SDP_SETUP_ACTPASS,
	SDP_SETUP_HOLDCONN,
};

struct sdp_conn {
	bool present;
	bool ipv6;
	struct slice addr; /* as written: may carry /ttl or /count */
};

/* One a= line. value is empty for property attributes ("a=sendrecv"). off/len locate the whole
 * line, line end included, in the body (the builder uses them). */
struct sdp_attr {
	struct slice name;
	struct slice value;
	size_t off;
	size_t len;
	unsigned lineno;
};

struct sdp_media {
	struct slice media; /* "audio", "video", ... */
	uint32_t port;
	uint32_t nports; /* 1 unless "port/n" */
	enum sdp_proto proto;
	struct slice proto_text;
	struct slice fmts; /* the format list as written */
	struct sdp_conn conn;
	enum sdp_dir dir;
	enum sdp_setup setup;
	unsigned n_rtpmap;
	unsigned n_crypto;      /* a=crypto lines (RFC 4568) */
	unsigned n_mikey;       /* a=key-mgmt:mikey lines (RFC 4567) */
	unsigned n_fingerprint; /* a=fingerprint lines (RFC 8122) */
	size_t attr_first;      /* this section's attributes, see sdp_attr_get() */
	size_t attr_count;
	size_t crypto_first;    /* its n_crypto a=crypto lines, see sdp_crypto_get() */
	unsigned lineno;
};

/* Session-level facts (before the first m=). */
struct sdp_session {
	struct slice origin; /* o= value */
	struct slice name;   /* s= value */
	struct sdp_conn conn;
	enum sdp_dir dir;
	enum sdp_setup setup;
	unsigned n_crypto; /* not defined by RFC 4568 9.1 at this level, but stripped all the same */
	unsigned n_mikey;
	unsigned n_fingerprint;
	size_t attr_count;
};

struct sdp;
struct sdp_crypto_info; /* sdp/crypto.h */

/* Parse body (CRLF or bare LF line ends). lim NULL means SDP_LIMITS_DEFAULT. On success *sdpp
 * holds a refcounted object that points into body: keep body alive while using it. Returns 0,
 * EINVAL (bad argument), EBADMSG (malformed; err says where), EMSGSIZE (a limit), ENOMEM. */
int sdp_parse(struct sdp **sdpp, struct slice body, const struct sdp_limits *lim,
	      struct sdp_error *err);

struct slice sdp_body(const struct sdp *sdp);
const struct sdp_session *sdp_session_get(const struct sdp *sdp);
size_t sdp_media_count(const struct sdp *sdp);
const struct sdp_media *sdp_media_get(const struct sdp *sdp, size_t i);
/* Attribute i of media m, or of the session when m is NULL; NULL past the end. */
const struct sdp_attr *sdp_attr_get(const struct sdp *sdp, const struct sdp_media *m, size_t i);
/* First attribute named name (case-insensitive) at m's level (session if m NULL). */
const struct sdp_attr *sdp_attr_find(const struct sdp *sdp, const struct sdp_media *m,
				     const char *name);
/* The i-th a=crypto attribute of m (session level when m is NULL), as sdp_crypto_parse() judged
 * it when the body was parsed (RFC 4568 9.1); NULL past n_crypto. */
const struct sdp_crypto_info *sdp_crypto_get(const struct sdp *sdp, const struct sdp_media *m, size_t i);
/* Connection address in force for m (media c= else session c=); NULL when neither exists. */
const struct sdp_conn *sdp_media_conn(const struct sdp *sdp, const struct sdp_media *m);

bool sdp_proto_is_rtp(enum sdp_proto p);
bool sdp_proto_is_savp(enum sdp_proto p); /* RTP/SAVP, RTP/SAVPF */
bool sdp_proto_is_dtls(enum sdp_proto p); /* UDP/TLS/RTP/SAVP(F) */
const char *sdp_proto_name(enum sdp_proto p);

/* Decide for each attribute whether the builder keeps it; m is NULL at session level. */
typedef bool(sdp_attr_keep_h)(const struct sdp_attr *a, const struct sdp_media *m, void *arg);

/* Re-emit the body without the attribute lines keeph rejects, every other byte copied
 * unchanged. *outp is a NUL-terminated mem string (mem_deref it), *lenp its length. */
int sdp_build_filtered(char **outp, size_t *lenp, const struct sdp *sdp, sdp_attr_keep_h *keeph,
		       void *arg);

#endif
