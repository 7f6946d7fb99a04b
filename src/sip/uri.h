/* URIs (RFC 3261 19.1, 25.1; RFC 3966 tel). Zero-copy: every field is a slice into the text
 * passed to sip_uri_parse(), escapes left as written (use sip_unescape() to decode). */
#ifndef SIPSD_SIP_URI_H
#define SIPSD_SIP_URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"

enum sip_uri_scheme {
	SIP_URI_NONE = 0,
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL,
	SIP_URI_UNKNOWN, /* syntactically an absoluteURI of another scheme: opaque */
};

struct sip_uri {
	enum sip_uri_scheme scheme;
	struct slice whole;    /* the full URI text */
	struct slice scheme_s; /* as written, without ':' */
	struct slice user;     /* sip/sips: userinfo user; tel: the number; may contain ';' (semiuri) */
	struct slice password; /* sip/sips only */
	struct slice host;     /* IPv6 references keep their brackets: "[2001:db8::1]" */
	struct slice port_s;   /* digits as written, empty when absent */
	uint16_t port;         /* 0 when absent */
	bool has_user;         /* an '@' was present */
	bool host_ipv6;
	struct slice params;   /* ";a=b;lr" including the leading ';', empty when none */
	struct slice headers;  /* "?h=v&..." including the leading '?', empty when none */
	struct slice opaque;   /* unknown scheme: everything after "scheme:" */
};

/* Parses a complete URI (no surrounding LWS, no '<' '>'). 0 or EBADMSG (EINVAL on NULL). */
int sip_uri_parse(struct sip_uri *uri, const char *p, size_t len);

/* Finds a ";name[=value]" parameter (name case-insensitive) in a URI or header parameter
 * list, tolerating LWS around ';' and '='. A quoted value is returned without its quotes.
 * Valueless parameters give an empty value. */
bool sip_param_get(struct slice params, const char *name, struct slice *value);
bool sip_param_exists(struct slice params, const char *name);

/* Iterates ";name[=value]" pairs. *rest advances; false at the end. EBADMSG-type errors
 * (empty name) stop the iteration and set *bad when bad is non-NULL. */
bool sip_param_next(struct slice *rest, struct slice *name, struct slice *value, bool *bad);

/* Decodes %HH escapes of s into dst (not NUL-terminated; %00 gives a NUL byte).
 * 0, EBADMSG for a bad escape, EOVERFLOW when dst is too small. */
int sip_unescape(struct slice s, char *dst, size_t dstsz, size_t *outlen);

/* RFC 3261 19.1.4 equivalence of two sip/sips URIs (escapes decoded, host and known params
 * case-insensitive, user/password case-sensitive, user/ttl/method/maddr/transport must match
 * when present in either, other params only when present in both, headers all compared).
 * Other schemes compare as case-insensitive scheme and exact remaining text. URIs with more
 * than 32 parameters + header fields compare equal only when byte-identical (bounds CPU). */
bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b);

#endif
