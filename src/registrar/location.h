/* The location service (RFC 3261 10): AOR -> bindings, shared by every worker thread.
 * Reads take a shared lock and copy what they need; writes replace an AOR's binding set under
 * the exclusive lock, so a reader never sees half of a REGISTER. Durability is the registrar's
 * job (it writes the store before answering); this is the in-memory index the proxy routes from. */
#ifndef SIPSD_REGISTRAR_LOCATION_H
#define SIPSD_REGISTRAR_LOCATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "transport/transport.h"

enum { LOC_MAX_BINDINGS_PER_AOR = 64 };

/* location.c stores bindings packed (pack/unpack copy field by field, the strings up to their
 * NUL; its ls_fields lists the strings): a new field goes there too. */
struct loc_binding {
	char aor[256];          /* canonical: sip:user@host, lowercase host, no params */
	char contact[512];      /* the Contact URI as registered (url-parameters kept, RFC 4475 3.3.13) */
	time_t expires_at;      /* absolute; 0 = removed */
	uint16_t q1000;
	char call_id[256];
	uint32_t cseq;
	char instance[128];     /* +sip.instance, "" when none (RFC 5626) */
	uint32_t reg_id;
	bool has_reg_id;
	char path[512];         /* Path header values to route through (RFC 3327), "" when none */
	char user_agent[128];
	enum conf_transport transport;
	uint64_t conn_id;       /* the flow it registered on (0 = none, e.g. UDP) */
	struct tp_addr received;/* source address of the REGISTER */
	char cert_identity[256];/* certificate identity that registered it, "" when digest only */
	bool flow_failed;       /* its connection closed (RFC 5626 5.3: 430 Flow Failed) */
	time_t updated;
};

struct location;

int location_alloc(struct location **locp);
/* Copies the live bindings of aor (not expired), q-ordered (highest first), into out[max].
 * Returns how many there are (may exceed max: only max copied; out may be NULL when max is 0). */
size_t location_lookup(struct location *loc, const char *aor, time_t now, struct loc_binding *out, size_t max);
/* Replaces the binding set of aor with set[n] (n = 0 removes the AOR). */
int location_replace(struct location *loc, const char *aor, const struct loc_binding *set, size_t n);
/* True when the AOR has at least one live binding. */
bool location_has(struct location *loc, const char *aor, time_t now);
/* RFC 5626 5.3: bindings on a closed connection keep existing but are marked failed. */
void location_conn_closed(struct location *loc, uint64_t conn_id);
/* Drops expired bindings; returns how many; calls h for each removed binding (for the store). */
size_t location_purge(struct location *loc, time_t now, void (*h)(const struct loc_binding *b, void *arg),
		      void *arg);
/* Calls h for every binding (management listing); h must not call back into loc. */
void location_foreach(struct location *loc, void (*h)(const struct loc_binding *b, void *arg), void *arg);
size_t location_count(struct location *loc);

/* Canonical AOR of a sip:/sips: URI (RFC 3261 10.3 step 5): "sip:" user "@" lowercase host,
 * escapes decoded, parameters dropped; sips maps to sip so a user has one AOR. 0 or EINVAL. */
struct sip_uri;
int location_aor_of(const struct sip_uri *uri, char *buf, size_t bufsz);

#endif
