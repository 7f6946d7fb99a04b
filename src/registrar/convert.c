/* Bindings between the location service (fixed-size records the proxy copies) and the store
 * (slices), and the start-up load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/outbuf.h"
#include "registrar/internal.h"

int reg_received_fmt(enum conf_transport tp, const struct tp_addr *a, char *buf, size_t sz)
{
	char at[80] = "";
	struct outbuf o = OUTBUF_INIT_CSTR(buf, sz);
	outbuf_puts(&o, tp == CONF_TP_TLS ? "tls:" : tp == CONF_TP_TCP ? "tcp:" : "udp:");
	if (a->len)
		outbuf_puts(&o, tp_addr_fmt(a, at, sizeof(at)));
	return outbuf_cstr(&o) ? 0 : EINVAL;
}

int reg_received_parse(const char *s, enum conf_transport *tp, struct tp_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(s, "tls:", 4) == 0)
		*tp = CONF_TP_TLS;
	else if (strncmp(s, "tcp:", 4) == 0)
		*tp = CONF_TP_TCP;
	else if (strncmp(s, "udp:", 4) == 0)
		*tp = CONF_TP_UDP;
	else
		return EINVAL;
	s += 4;
	if (!*s)
		return 0; /* no address known */
	char host[64];
	const char *colon;
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return EINVAL;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return EINVAL;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
	}
	char *end = NULL;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!end || *end || end == colon + 1 || port > 65535)
		return EINVAL;
	return tp_addr_from_host_port(a, host, (uint16_t)port);
}

void reg_binding_to_store(const struct loc_binding *b, struct store_binding *sb, char *rbuf, size_t rbufsz)
{
	memset(sb, 0, sizeof(*sb));
	if (reg_received_fmt(b->transport, &b->received, rbuf, rbufsz))
		rbuf[0] = '\0';
	sb->aor = slice_from_cstr(b->aor);
	sb->contact = slice_from_cstr(b->contact);
	sb->call_id = slice_from_cstr(b->call_id);
	sb->instance = slice_from_cstr(b->instance);
	sb->path = slice_from_cstr(b->path);
	sb->user_agent = slice_from_cstr(b->user_agent);
	sb->received = slice_from_cstr(rbuf);
	sb->cert_identity = slice_from_cstr(b->cert_identity);
	sb->expires = (int64_t)b->expires_at;
	sb->updated = (int64_t)b->updated;
	sb->cseq = b->cseq;
	sb->reg_id = b->has_reg_id ? b->reg_id : 0; /* RFC 5626 4.2.1: reg-id is never 0 */
	sb->q = b->q1000;
	sb->flow_id = b->conn_id;
}

static int put(struct slice s, char *dst, size_t sz)
{
	if (s.len >= sz)
		return EINVAL;
	if (s.len)
		memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

int reg_binding_from_store(const struct store_binding *sb, struct loc_binding *b)
{
	memset(b, 0, sizeof(*b));
	char recv[128];
	if (put(sb->aor, b->aor, sizeof(b->aor)) || put(sb->contact, b->contact, sizeof(b->contact)) ||
	    put(sb->call_id, b->call_id, sizeof(b->call_id)) || put(sb->instance, b->instance, sizeof(b->instance)) ||
	    put(sb->path, b->path, sizeof(b->path)) || put(sb->cert_identity, b->cert_identity, sizeof(b->cert_identity)) ||
	    put(sb->received, recv, sizeof(recv)))
		return EINVAL;
	slice_copy(sb->user_agent, b->user_agent, sizeof(b->user_agent));
	if (reg_received_parse(recv, &b->transport, &b->received))
		return EINVAL;
	b->expires_at = (time_t)sb->expires;
	b->updated = (time_t)sb->updated;
	b->cseq = sb->cseq;
	b->reg_id = sb->reg_id;
	b->has_reg_id = sb->reg_id != 0;
	b->q1000 = sb->q;
	b->conn_id = sb->flow_id;
	/* Connection ids do not survive a restart: a stream binding's flow is gone until the UA
	 * registers again over a new connection (RFC 5626 4.4.1); UDP needs no connection. */
	b->flow_failed = b->transport != CONF_TP_UDP;
	return 0;
}

int reg_load_bindings(struct store *s, struct location *loc, time_t now, size_t *loaded)
{
	struct store_bindings *l = NULL;
	int err = store_binding_load_all(s, &l);
	if (err)
		return err;
	*loaded = 0;
	struct loc_binding *set = calloc(LOC_MAX_BINDINGS_PER_AOR, sizeof(*set));
	if (!set) {
		mem_deref(l);
		return ENOMEM;
	}
	size_t n = 0, skipped = 0;
	/* load_all is ordered by AOR: flush the set at each change of AOR */
	for (size_t i = 0; i <= l->n && !err; i++) {
		const struct store_binding *sb = i < l->n ? l->v[i] : NULL;
		if (n && (!sb || !slice_eq_cstr(sb->aor, set[0].aor))) {
			err = location_replace(loc, set[0].aor, set, n);
			*loaded += n;
			n = 0;
		}
		if (!sb || sb->expires <= (int64_t)now)
			continue;
		if (n == LOC_MAX_BINDINGS_PER_AOR || reg_binding_from_store(sb, &set[n])) {
			skipped++;
			continue;
		}
		n++;
	}
	if (skipped)
		log_warn("registrar.load_skipped", "bindings=%zu why=\"field too long or AOR over %d bindings\"", skipped,
			 LOC_MAX_BINDINGS_PER_AOR);
	free(set);
	mem_deref(l);
	return err;
}
