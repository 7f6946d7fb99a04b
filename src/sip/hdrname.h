/* Internal to src/sip: header-name matching, inlined into the header loop of msg.c (it runs
 * for every header line of every message) and used by sip_hdr_lookup() in hdr.c. */
#ifndef SIPSD_SIP_HDRNAME_H
#define SIPSD_SIP_HDRNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/lex.h"
#include "sip/msg.h"

/* Compact form letter - 'a' -> id (RFC 3261 7.3.3); defined in hdr.c. */
extern const uint8_t sip_hdr_compact[26];

/* ':' SP HTAB: one bit test on a mask of the three (all below 64) instead of three compares */
static inline bool name_end(char c)
{
	const uint64_t ends = (1ull << ':') | (1ull << ' ') | (1ull << '\t');
	return (unsigned char)c < 64 && ((ends >> (unsigned char)c) & 1u);
}

/* Dispatch on the first letter, then a length test and a word compare per candidate: no
 * hashing, no octet loop (this runs for every header of every message). In prefix mode the
 * name's length is not known yet: a candidate matches when it is followed by ':', SP or
 * HTAB, which only the end of a name can be (the name is then a token). */
#define CAND(s, id_)                                                               \
	do {                                                                       \
		const size_t n_ = sizeof(s) - 1;                                   \
		if ((prefix ? len > n_ && name_end(name[n_]) : len == n_) &&       \
		    lex_eq_lc(name, (s), n_)) {                                      \
			*nlen = n_;                                                \
			return (id_);                                              \
		}                                                                  \
	} while (0)

static inline __attribute__((always_inline)) enum sip_hdr_id hdr_find(const char *name, size_t len, bool prefix, size_t *nlen)
{
	/* | 0x20 lowers exactly the letters and maps no other octet into 'a'..'z', so it can
	 * stand for lc() in a dispatch whose cases and compact[] are lower-case letters */
	char c0 = (char)(name[0] | 0x20);
	switch (c0) {
	case 'a':
		CAND("accept", SIP_HDR_ACCEPT);
		CAND("allow", SIP_HDR_ALLOW);
		CAND("authorization", SIP_HDR_AUTHORIZATION);
		CAND("allow-events", SIP_HDR_ALLOW_EVENTS);
		CAND("accept-contact", SIP_HDR_ACCEPT_CONTACT);
		CAND("authentication-info", SIP_HDR_AUTHENTICATION_INFO);
		break;
	case 'c':
		CAND("contact", SIP_HDR_CONTACT);
		CAND("call-id", SIP_HDR_CALL_ID);
		CAND("cseq", SIP_HDR_CSEQ);
		CAND("content-length", SIP_HDR_CONTENT_LENGTH);
		CAND("content-type", SIP_HDR_CONTENT_TYPE);
		CAND("content-encoding", SIP_HDR_CONTENT_ENCODING);
		break;
	case 'd':
		CAND("date", SIP_HDR_DATE);
		break;
	case 'e':
		CAND("expires", SIP_HDR_EXPIRES);
		CAND("event", SIP_HDR_EVENT);
		break;
	case 'f':
		CAND("from", SIP_HDR_FROM);
		break;
	case 'm':
		CAND("max-forwards", SIP_HDR_MAX_FORWARDS);
		CAND("min-expires", SIP_HDR_MIN_EXPIRES);
		break;
	case 'p':
		CAND("proxy-require", SIP_HDR_PROXY_REQUIRE);
		CAND("path", SIP_HDR_PATH);
		CAND("proxy-authorization", SIP_HDR_PROXY_AUTHORIZATION);
		CAND("proxy-authenticate", SIP_HDR_PROXY_AUTHENTICATE);
		break;
	case 'r':
		CAND("route", SIP_HDR_ROUTE);
		CAND("record-route", SIP_HDR_RECORD_ROUTE);
		CAND("require", SIP_HDR_REQUIRE);
		CAND("retry-after", SIP_HDR_RETRY_AFTER);
		CAND("refer-to", SIP_HDR_REFER_TO);
		break;
	case 's':
		CAND("supported", SIP_HDR_SUPPORTED);
		CAND("server", SIP_HDR_SERVER);
		CAND("subject", SIP_HDR_SUBJECT);
		break;
	case 't':
		CAND("to", SIP_HDR_TO);
		CAND("timestamp", SIP_HDR_TIMESTAMP);
		break;
	case 'u':
		CAND("user-agent", SIP_HDR_USER_AGENT);
		CAND("unsupported", SIP_HDR_UNSUPPORTED);
		break;
	case 'v':
		CAND("via", SIP_HDR_VIA);
		break;
	case 'w':
		CAND("www-authenticate", SIP_HDR_WWW_AUTHENTICATE);
		CAND("warning", SIP_HDR_WARNING);
		break;
	default:
		break;
	}
	/* Compact forms (RFC 3261 7.3.3) are tested after the full names, which are far more
	 * common: no candidate above can match a one-letter name, as every full name's second
	 * octet is a letter and a compact name's is ':', SP or HTAB (or there is none). */
	if (prefix ? len > 1 && name_end(name[1]) : len == 1) {
		*nlen = 1;
		return (c0 >= 'a' && c0 <= 'z') ? (enum sip_hdr_id)sip_hdr_compact[c0 - 'a'] : SIP_HDR_OTHER;
	}
	return SIP_HDR_OTHER;
}
#undef CAND

/* Header name at p, the line holding avail more octets: the id of the known name (full or
 * compact) that p starts with, followed by ':', SP or HTAB, its length in *len; else
 * SIP_HDR_OTHER (0), and the caller scans the token. */
static inline __attribute__((always_inline)) unsigned sip_hdr_match(const char *p, size_t avail, size_t *len)
{
	if (!avail)
		return SIP_HDR_OTHER;
	return (unsigned)hdr_find(p, avail, true, len);
}

#endif
