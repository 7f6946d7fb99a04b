/* Parser limits. Every one is checked while parsing; exceeding one is a clean error with a
 * verdict (see verdict.h), never undefined behaviour. */
#ifndef SIPSD_SIP_LIMITS_H
#define SIPSD_SIP_LIMITS_H

#include <stdint.h>

struct sip_limits {
	uint32_t max_message_size; /* start line + headers + body; over it: 513 */
	uint32_t max_headers;      /* header fields (lines, not comma values); over it: 400 */
	uint32_t max_line_length;  /* one physical line, CRLF excluded; over it: 400 */
	uint32_t max_uri_length;   /* any URI; over it: 414 for the Request-URI, else 400 */
	uint32_t max_via;          /* Via values (sip_msg_validate counts comma values too) */
};

/* 65536, 256, 8192, 4096, 70. max_via is 70, not 32: a request may legitimately cross as
 * many proxies as Max-Forwards allows (RFC 3261 16.6 item 3 suggests 70), and RFC 4475
 * 3.1.1.7 (longreq, a must-accept message) carries 34 Via values. */
struct sip_limits sip_limits_default(void);

#endif
