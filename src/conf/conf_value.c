#include "conf/conf_value.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "base/slice.h"

const char *conf_value_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return NULL;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return NULL;
		}
	}
	return "not a boolean (yes/no, true/false, on/off, 1/0)";
}

const char *conf_value_uint(const char *s, uint64_t *out)
{
	if (!slice_to_u64(slice_from_cstr(s), UINT64_MAX / 1000, out))
		return *s && strspn(s, "0123456789") == strlen(s) ? "number too large" : "not a number";
	return NULL;
}

const char *conf_value_seconds(const char *s, uint64_t *out)
{
	size_t n = strspn(s, "0123456789");
	uint64_t mult = 1;
	if (n == 0)
		return "not a number of seconds";
	if (s[n] != '\0') {
		switch (s[n]) {
		case 's': mult = 1; break;
		case 'm': mult = 60; break;
		case 'h': mult = 3600; break;
		case 'd': mult = 86400; break;
		default: return "bad unit (use s, m, h or d)";
		}
		if (s[n + 1] != '\0')
			return "bad unit (use s, m, h or d)";
	}
	uint64_t v;
	if (!slice_to_u64((struct slice){ s, n }, UINT32_MAX, &v))
		return "number too large";
	*out = v * mult;
	return NULL;
}

static const char *port_parse(struct slice p, uint16_t *out)
{
	uint64_t v;
	if (!slice_to_u64(p, 999999, &v))
		return "port is not a number";
	if (v == 0 || v > 65535)
		return "port out of range 1..65535";
	*out = (uint16_t)v;
	return NULL;
}

const char *conf_value_listen(const char *s, bool with_transport, struct conf_listen *out)
{
	struct conf_listen l = { 0 };
	const char *p = s;
	bool have_port = false;

	if (with_transport) {
		static const struct {
			const char *name;
			enum conf_transport tp;
		} tps[] = { { "udp:", CONF_TP_UDP }, { "tcp:", CONF_TP_TCP }, { "tls:", CONF_TP_TLS } };
		size_t i;
		for (i = 0; i < sizeof(tps) / sizeof(tps[0]); i++)
			if (strncasecmp(p, tps[i].name, 4) == 0)
				break;
		if (i == sizeof(tps) / sizeof(tps[0]))
			return "must start with udp:, tcp: or tls: (e.g. tls:192.0.2.10:5061)";
		l.transport = tps[i].tp;
		p += 4;
	} else {
		l.transport = CONF_TP_TLS;
	}

	char addr[64];
	struct slice host, port = { NULL, 0 };
	int af;
	if (*p == '[') {
		const char *rb = strchr(p, ']');
		if (!rb)
			return "missing ']' after IPv6 address";
		host = (struct slice){ p + 1, (size_t)(rb - p - 1) };
		af = AF_INET6;
		if (rb[1] == ':') {
			port = slice_from_cstr(rb + 2);
			have_port = true;
		} else if (rb[1] != '\0') {
			return "unexpected text after ']'";
		}
	} else {
		const char *c = strchr(p, ':');
		if (c && strchr(c + 1, ':'))
			return "IPv6 addresses go in brackets, e.g. tls:[2001:db8::1]:5061";
		host = c ? (struct slice){ p, (size_t)(c - p) } : slice_from_cstr(p);
		if (c) {
			port = slice_from_cstr(c + 1);
			have_port = true;
		}
		af = AF_INET;
	}
	if (host.len == 0)
		return "missing address";
	if (host.len >= sizeof(addr))
		return "address too long";
	slice_copy(host, addr, sizeof(addr));

	unsigned char bin[16];
	if (inet_pton(af, addr, bin) != 1)
		return af == AF_INET6 ? "not an IPv6 address"
				      : "not an IPv4 address (listen takes IP literals, not host names)";
	if (!inet_ntop(af, bin, l.host, sizeof(l.host)))
		return "bad address";

	if (have_port) {
		const char *why = port_parse(port, &l.port);
		if (why)
			return why;
	} else if (with_transport) {
		l.port = l.transport == CONF_TP_TLS ? 5061 : 5060;
	} else {
		return "missing port (ADDR:PORT)";
	}
	*out = l;
	return NULL;
}

static bool host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.';
}

const char *conf_value_uri(const char *s, bool *tls)
{
	const char *p;
	bool secure;
	if (strncasecmp(s, "sips:", 5) == 0) {
		p = s + 5;
		secure = true;
	} else if (strncasecmp(s, "sip:", 4) == 0) {
		p = s + 4;
		secure = false;
	} else {
		return "must be a sip: or sips: URI";
	}
	if (strpbrk(p, "@?"))
		return "takes host[:port][;params] only (no user part, no headers)";

	if (*p == '[') {
		const char *rb = strchr(p, ']');
		char addr[64];
		unsigned char bin[16];
		if (!rb || (size_t)(rb - p - 1) >= sizeof(addr))
			return "bad IPv6 reference";
		slice_copy((struct slice){ p + 1, (size_t)(rb - p - 1) }, addr, sizeof(addr));
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return "bad IPv6 reference";
		p = rb + 1;
	} else {
		const char *h = p;
		while (host_char(*p))
			p++;
		if (p == h)
			return "missing host";
	}
	if (*p == ':') {
		const char *ps = ++p;
		p += strspn(p, "0123456789");
		uint16_t port;
		const char *why = port_parse((struct slice){ ps, (size_t)(p - ps) }, &port);
		if (why)
			return why;
	}
	if (*p != '\0' && *p != ';')
		return "bad host";
	/* The transport parameter (RFC 3261 19.1.1): tls means TLS, udp and tcp are plain, and a
	 * sips: URI can't be reached without TLS (26.2). */
	bool tp_tls = false;
	for (const char *q = p; q && *q == ';'; q = strchr(q + 1, ';')) {
		if (strncasecmp(q + 1, "transport=", 10) != 0)
			continue;
		const char *v = q + 11;
		size_t vl = strcspn(v, ";");
		if (vl == 3 && strncasecmp(v, "tls", 3) == 0)
			tp_tls = true;
		else if (vl == 3 && (strncasecmp(v, "udp", 3) == 0 || strncasecmp(v, "tcp", 3) == 0)) {
			if (secure)
				return "a sips: URI is reached over TLS only (transport=tls or none)";
		} else
			return "transport must be udp, tcp or tls";
	}
	*tls = secure || tp_tls;
	return NULL;
}

bool conf_value_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!host_char(s[i]) && s[i] != '_')
			return false;
	return true;
}

bool conf_value_host_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!host_char(s[i]))
			return false;
	return true;
}

static bool is_wildcard(const char *host)
{
	return strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0;
}

static bool is_v6(const char *host)
{
	return strchr(host, ':') != NULL;
}

bool conf_listen_overlap(const struct conf_listen *a, const struct conf_listen *b)
{
	if (a->port != b->port)
		return false;
	if ((a->transport == CONF_TP_UDP) != (b->transport == CONF_TP_UDP))
		return false;
	if (is_v6(a->host) != is_v6(b->host))
		return false;
	return strcmp(a->host, b->host) == 0 || is_wildcard(a->host) || is_wildcard(b->host);
}
