/* Value parsers behind the directive table: pure functions of a string, no file access.
 * Each returns NULL on success or a short reason ("not a number") for the error message. */
#ifndef SIPSD_CONF_CONF_VALUE_H
#define SIPSD_CONF_CONF_VALUE_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"

/* yes/no, true/false, on/off, 1/0; case-insensitive. */
const char *conf_value_bool(const char *s, bool *out);
/* Decimal digits only; the caller reports bounds, so *out is set even when out of range. */
const char *conf_value_uint(const char *s, uint64_t *out);
/* Digits with an optional unit: s, m, h, d ("90", "90s", "5m", "1h", "1d"). */
const char *conf_value_seconds(const char *s, uint64_t *out);
/* One listen item. With transport: "tls:ADDR[:PORT]" (port defaults to 5060 / 5061 by
 * RFC 3261 19.1.2); without: "ADDR:PORT" (port required). ADDR is an IPv4 literal or an IPv6
 * literal in brackets; the host is stored normalised (inet_ntop) without brackets. */
const char *conf_value_listen(const char *s, bool with_transport, struct conf_listen *out);
/* Peer URI: sip:|sips: host[:port][;params]. *tls is set when the URI is sips: or has
 * ;transport=tls, i.e. when the peer needs a TLS context. */
const char *conf_value_uri(const char *s, bool *tls);
/* Section and context names: [A-Za-z0-9_.-]{1,63}. */
bool conf_value_name_ok(const char *s, size_t len);
/* Host names (peer identity): [A-Za-z0-9.-]{1,253}. */
bool conf_value_host_ok(const char *s);
/* Two listen addresses would fight for the same socket: same port, both UDP or both stream
 * (TCP and TLS share the TCP port space), and same address or one is the wildcard. */
bool conf_listen_overlap(const struct conf_listen *a, const struct conf_listen *b);

#endif
