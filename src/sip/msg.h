/* SIP messages (RFC 3261 7, 20, 25): one pass over the header block, every header kept in
 * order as slices into the message buffer, the fields every transaction needs (top Via,
 * From, To, Call-ID, CSeq, Content-Length, Max-Forwards, Request-URI) structured eagerly,
 * the rest on demand through the typed accessors below.
 *
 * Ownership: a message is a mem object (mem_deref() it). sip_msg_parse() copies the bytes into
 * the message's single allocation; sip_msg_parse_ref() takes a reference on a caller's mem
 * object instead (zero copy). Slices stay valid as long as the message lives.
 *
 * Errors: 0, EINVAL (bad argument), EBADMSG (malformed), EOVERFLOW (a limit), ENOMEM. On
 * failure *msgp is untouched and the verdict says what to answer (or to drop). */
#ifndef SIPSD_SIP_MSG_H
#define SIPSD_SIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "sip/limits.h"
#include "sip/uri.h"
#include "sip/verdict.h"

/* Headers the stack knows by name; compact forms (RFC 3261 7.3.3 and later RFCs) map here. */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_CONTACT,   /* a */
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS,     /* u */
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_CALL_ID,          /* i */
	SIP_HDR_CONTACT,          /* m */
	SIP_HDR_CONTENT_ENCODING, /* e */
	SIP_HDR_CONTENT_LENGTH,   /* l */
	SIP_HDR_CONTENT_TYPE,     /* c */
	SIP_HDR_CSEQ,
	SIP_HDR_DATE,
	SIP_HDR_EVENT,            /* o */
	SIP_HDR_EXPIRES,
	SIP_HDR_FROM,             /* f */
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_PATH,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_REFER_TO,         /* r */
	SIP_HDR_REQUIRE,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_ROUTE,
	SIP_HDR_SERVER,
	SIP_HDR_SUBJECT,          /* s */
	SIP_HDR_SUPPORTED,        /* k */
	SIP_HDR_TIMESTAMP,
	SIP_HDR_TO,               /* t */
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_USER_AGENT,
	SIP_HDR_VIA,              /* v */
	SIP_HDR_WARNING,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR__COUNT
};

/* Maps a header name (full or compact, any case) to its id; SIP_HDR_OTHER when unknown. */
enum sip_hdr_id sip_hdr_lookup(const char *name, size_t len);
/* Canonical full name of an id ("Call-ID"); NULL for SIP_HDR_OTHER. */
const char *sip_hdr_name(enum sip_hdr_id id);

struct sip_hdr {
	struct slice name;  /* as written */
	struct slice value; /* trimmed; may span folded lines (CRLF/LF + SP/HTAB inside) */
	uint32_t raw_len;   /* the field from name.p through its line end: see sip_hdr_raw() */
	uint16_t id;        /* enum sip_hdr_id */
	uint16_t next;      /* index + 1 of the next header with the same known id, 0 at the end */
};

/* The whole field as received, name through line end (CRLF or LF). A length rather than a
 * second slice keeps struct sip_hdr at 40 bytes: the header array is zeroed per message. */
static inline struct slice sip_hdr_raw(const struct sip_hdr *h)
{
	return (struct slice){ h->name.p, h->raw_len };
}

enum sip_method {
	SIP_METHOD_UNKNOWN = 0,
	SIP_METHOD_INVITE,
	SIP_METHOD_ACK,
	SIP_METHOD_BYE,
	SIP_METHOD_CANCEL,
	SIP_METHOD_REGISTER,
	SIP_METHOD_OPTIONS,
	SIP_METHOD_INFO,
	SIP_METHOD_PRACK,
	SIP_METHOD_UPDATE,
	SIP_METHOD_SUBSCRIBE,
	SIP_METHOD_NOTIFY,
	SIP_METHOD_REFER,
	SIP_METHOD_MESSAGE,
	SIP_METHOD_PUBLISH,
};

/* Case-sensitive (RFC 3261 7.1: methods are case-sensitive). */
enum sip_method sip_method_lookup(struct slice s);

/* Via value (RFC 3261 20.42, 18.2.1). */
struct sip_via {
	struct slice proto_name;    /* "SIP" */
	struct slice proto_version; /* "2.0" */
	struct slice transport;     /* "UDP", "TCP", "TLS", "SCTP", "WS", "WSS" or other token */
	struct slice host;          /* IPv6 references with brackets */
	struct slice port_s;
	uint16_t port;              /* 0 when absent */
	struct slice params;        /* ";branch=...;rport" (with leading ';'), empty when none */
	struct slice branch, received, rport, maddr, ttl, alias; /* values, empty when absent */
	bool has_rport, has_alias;  /* present, possibly without value */
	struct slice raw;           /* the whole via-parm */
};

/* name-addr / addr-spec followed by header parameters (From, To, Contact, Route, ...). */
struct sip_nameaddr {
	struct slice display;       /* without quotes (quoted-pairs left escaped), or tokens */
	bool display_quoted;
	bool angle;                 /* the URI was in <> */
	struct sip_uri uri;
	struct slice params;        /* ";tag=..." (with leading ';'), empty when none */
	struct slice tag;           /* tag parameter value, empty when absent */
	struct slice raw;           /* the whole value */
};

/* Contact value (RFC 3261 20.10, RFC 5626 4.2 +sip.instance and reg-id). */
struct sip_contact {
	bool star;                  /* "Contact: *" */
	struct sip_nameaddr na;
	bool has_expires;
	uint32_t expires;           /* saturates at UINT32_MAX on overflow (RFC 3261 20.19) */
	struct slice q;             /* as written ("0.5"); empty when absent */
	uint16_t q1000;             /* q scaled by 1000, 1000 when absent */
	struct slice instance;      /* +sip.instance value without quotes */
	bool has_reg_id;
	uint32_t reg_id;
};

struct sip_cseq {
	uint32_t num;
	struct slice method;
	enum sip_method mid;
};

/* Credentials / challenge (RFC 3261 20.7, 20.27, 20.28, 20.44): scheme + auth-params. */
struct sip_auth {
	struct slice scheme;        /* "Digest" or other */
	struct slice params;        /* "username=...,realm=..." */
};

/* Returns a param of an auth header by name (case-insensitive), quotes stripped. */
bool sip_auth_param(const struct sip_auth *a, const char *name, struct slice *value);
int sip_auth_parse(struct slice value, struct sip_auth *a);

/* Value parsers usable on any slice. Each consumes one element from *rest (leading LWS and a
 * separating comma are skipped), so lists are parsed by calling again until *rest is empty.
 * 0, ENOENT when *rest holds nothing more, EBADMSG on bad syntax. */
int sip_via_parse(struct slice *rest, struct sip_via *via);
int sip_nameaddr_parse(struct slice *rest, struct sip_nameaddr *na, bool list);
int sip_contact_parse(struct slice *rest, struct sip_contact *c);
int sip_cseq_parse(struct slice value, struct sip_cseq *cseq);
/* Next token of a comma-separated token list (Supported, Require, Allow, ...). */
int sip_token_list_next(struct slice *rest, struct slice *token);

struct sip_msg;

#define SIP_PARSE_STREAM 0x1u /* stream transport: Content-Length mandatory (RFC 3261 18.3) */

/* Parses one message. Datagram semantics by default: bytes after Content-Length are ignored
 * (RFC 4475 3.1.1.8), no Content-Length means the body is the rest (RFC 3261 18.3, 2543);
 * a Content-Length larger than what is there gives 400 (RFC 4475 3.1.2.2).
 * With SIP_PARSE_STREAM, len should be what sip_frame_next() reported. lim NULL = defaults. */
int sip_msg_parse(const char *buf, size_t len, const struct sip_limits *lim, unsigned flags,
		  struct sip_msg **msgp, struct sip_verdict *v);
/* Same but zero copy: buf lies inside the mem object owner, which the message references. */
int sip_msg_parse_ref(void *owner, const char *buf, size_t len, const struct sip_limits *lim,
		      unsigned flags, struct sip_msg **msgp, struct sip_verdict *v);

/* A request's method and top Via from its request line and first Via header line alone, the
 * rest unread: for a layer that built the request itself and needs only these. 0, ENOENT (no
 * Via), EBADMSG; a folded or odd first Via line may give EBADMSG where the full parse would not. */
int sip_request_peek(const char *buf, size_t len, struct slice *method, struct sip_via *top);

/* Start line. */
bool sip_msg_is_request(const struct sip_msg *msg);
struct slice sip_msg_method(const struct sip_msg *msg);   /* requests */
enum sip_method sip_msg_method_id(const struct sip_msg *msg);
const struct sip_uri *sip_msg_ruri(const struct sip_msg *msg); /* requests, else NULL */
uint16_t sip_msg_status(const struct sip_msg *msg);        /* responses */
struct slice sip_msg_reason(const struct sip_msg *msg);    /* may be empty (RFC 4475 3.1.1.13) */
struct slice sip_msg_start_line(const struct sip_msg *msg); /* without line end */

/* The message as parsed: start line through body; excludes trailing datagram bytes. */
struct slice sip_msg_raw(const struct sip_msg *msg);
struct slice sip_msg_body(const struct sip_msg *msg);
/* Offset in sip_msg_raw() of the empty line ending the headers, and that line's length. */
size_t sip_msg_hdr_end(const struct sip_msg *msg, size_t *eoh_len);

/* Headers in order. */
size_t sip_msg_hdr_count(const struct sip_msg *msg);
const struct sip_hdr *sip_msg_hdr_at(const struct sip_msg *msg, size_t i);
/* First header with this id (compact forms included), NULL when none; then hdr_next(). */
const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id);
const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg, const struct sip_hdr *h);
size_t sip_msg_hdr_num(const struct sip_msg *msg, enum sip_hdr_id id); /* header lines */
/* First header whose name matches (case-insensitive; for unknown extension headers). */
const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *msg, const char *name);

/* Eagerly parsed fields (valid after a successful parse; absent ones are zero/empty). */
const struct sip_via *sip_msg_via(const struct sip_msg *msg);        /* top Via, NULL if none */
const struct sip_nameaddr *sip_msg_from(const struct sip_msg *msg);  /* NULL if none */
const struct sip_nameaddr *sip_msg_to(const struct sip_msg *msg);    /* NULL if none */
struct slice sip_msg_call_id(const struct sip_msg *msg);
const struct sip_cseq *sip_msg_cseq(const struct sip_msg *msg);      /* NULL if none */
bool sip_msg_content_length(const struct sip_msg *msg, uint32_t *len);
bool sip_msg_max_forwards(const struct sip_msg *msg, uint32_t *mf);
struct slice sip_msg_content_type(const struct sip_msg *msg);        /* value, empty if none */

/* Lazy accessors: 0, ENOENT when absent, EBADMSG malformed, EOVERFLOW over 2^32-1. */
int sip_msg_expires(const struct sip_msg *msg, uint32_t *secs);
int sip_msg_min_expires(const struct sip_msg *msg, uint32_t *secs);

/* Iteration over every comma-separated value of every header with one id, in order. */
struct sip_hdr_iter {
	const struct sip_msg *msg;
	const struct sip_hdr *hdr;
	struct slice rest;
};
void sip_hdr_iter_init(struct sip_hdr_iter *it, const struct sip_msg *msg, enum sip_hdr_id id);
/* 0, ENOENT at the end, EBADMSG on a malformed value (iteration then stops). */
int sip_hdr_iter_via(struct sip_hdr_iter *it, struct sip_via *via);
int sip_hdr_iter_contact(struct sip_hdr_iter *it, struct sip_contact *c);
int sip_hdr_iter_nameaddr(struct sip_hdr_iter *it, struct sip_nameaddr *na); /* Route, RR, Path */
int sip_hdr_iter_token(struct sip_hdr_iter *it, struct slice *token); /* Supported, Require... */

/* True if a token list header (Supported, Require, ...) holds tag (case-insensitive). */
bool sip_msg_has_option(const struct sip_msg *msg, enum sip_hdr_id id, const char *tag);

enum sip_role {
	SIP_ROLE_PROXY,     /* RFC 3261 16 */
	SIP_ROLE_REGISTRAR, /* RFC 3261 10.3 */
	SIP_ROLE_UAS,       /* RFC 3261 8.2 */
};

/* Semantic checks after a successful parse (RFC 3261 8.1.1, 8.2, 16.3; RFC 4475 3.1.2, 3.3):
 * mandatory To/From/CSeq/Call-ID/Via (Max-Forwards may be absent, RFC 4475 3.4.1), single
 * headers appearing twice, CSeq method mismatch (400, 501 for unknown methods), every Via,
 * Contact, Route, Record-Route value, Date syntax, Max-Forwards > 255, headers in the R-URI,
 * R-URI scheme (416), and for a registrar the To/From scheme (RFC 4475 3.3.4).
 * Responses that fail are to be dropped. 0 or EBADMSG/EOVERFLOW with the verdict set. */
int sip_msg_validate(const struct sip_msg *msg, enum sip_role role, const struct sip_limits *lim,
		     struct sip_verdict *v);

/* RFC 3261 8.2.2.3 / 16.3 item 2 (role proxy: Proxy-Require, else Require): 420 with the
 * option-tags not in supported[] copied to v->unsupported. 0 or EPROTO. */
int sip_msg_check_extensions(const struct sip_msg *msg, enum sip_role role,
			     const char *const *supported, size_t n_supported, struct sip_verdict *v);
/* RFC 3261 16.3 item 3: 483 Too Many Hops when a proxy sees Max-Forwards 0 (not for OPTIONS
 * addressed to it, which the caller handles). 0 or EPROTO. */
int sip_msg_check_max_forwards(const struct sip_msg *msg, struct sip_verdict *v);

#endif
