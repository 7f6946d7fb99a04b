#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "registrar/location.h"
#include "sip/uri.h"

/* A stored binding: the scalars of struct loc_binding, and its strings packed end to end. The
 * public struct is ~2.2 KiB of fixed arrays, mostly empty; kept as is, it was a tenth of the
 * memory of an idle registered connection (massif, 2,000 connections). */
enum { LS_AOR, LS_CONTACT, LS_CALL_ID, LS_INSTANCE, LS_PATH, LS_USER_AGENT, LS_CERT_IDENTITY, LS_N };

#define LS_FIELD(f) { offsetof(struct loc_binding, f), sizeof(((struct loc_binding *)0)->f) }
static const struct {
	size_t off, cap;
} ls_fields[LS_N] = {
	[LS_AOR] = LS_FIELD(aor),
	[LS_CONTACT] = LS_FIELD(contact),
	[LS_CALL_ID] = LS_FIELD(call_id),
	[LS_INSTANCE] = LS_FIELD(instance),
	[LS_PATH] = LS_FIELD(path),
	[LS_USER_AGENT] = LS_FIELD(user_agent),
	[LS_CERT_IDENTITY] = LS_FIELD(cert_identity),
};

struct loc_stored {
	const char *str;     /* the LS_N strings, each NUL-terminated, in the entry's allocation */
	uint16_t off[LS_N];  /* where each starts in str (all of them fit in 2 KiB) */
	uint16_t q1000;
	bool has_reg_id, flow_failed;
	uint32_t cseq, reg_id;
	enum conf_transport transport;
	time_t expires_at, updated;
	uint64_t conn_id;
	struct tp_addr received;
};

/* One allocation per AOR: the entry, its bindings, its key and all their strings. */
struct aor_entry {
	struct aor_entry *next;
	size_t n;
	struct loc_stored *b;
	const char *aor;
};

/* How many bindings ride on each connection, so a closing connection that carries none (the
 * common case: every OPTIONS ping, every handshake-only client) costs one lookup, not a walk
 * over every binding. */
enum { FLOWS_BUCKETS = 1 << 14 };
struct flow_count {
	struct flow_count *next;
	uint64_t conn_id;
	size_t n;
	bool failed; /* the connection closed: every binding on it reads flow_failed */
};

struct location {
	pthread_rwlock_t lock;
	struct aor_entry **tab;
	size_t cap, naors, nbindings;
	struct flow_count *flows[FLOWS_BUCKETS];
};

static struct flow_count **flow_slot(struct location *loc, uint64_t id)
{
	struct flow_count **pp = &loc->flows[(id * 0x9E3779B97F4A7C15ull) >> 50];
	while (*pp && (*pp)->conn_id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Called with the write lock held. */
static void flows_add(struct location *loc, const struct loc_stored *b, size_t n, int delta)
{
	for (size_t i = 0; i < n; i++) {
		if (!b[i].conn_id)
			continue;
		struct flow_count **pp = flow_slot(loc, b[i].conn_id);
		if (delta > 0) {
			if (!*pp && (*pp = calloc(1, sizeof(**pp))))
				(*pp)->conn_id = b[i].conn_id;
			if (*pp)
				(*pp)->n++;
		} else if (*pp && --(*pp)->n == 0) {
			struct flow_count *f = *pp;
			*pp = f->next;
			free(f);
		}
	}
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static void entry_free(struct aor_entry *e)
{
	free(e);
}

static void location_destroy(void *data)
{
	struct location *loc = data;
	for (size_t i = 0; i < loc->cap; i++) {
		struct aor_entry *e = loc->tab[i];
		while (e) {
			struct aor_entry *n = e->next;
			entry_free(e);
			e = n;
		}
	}
	free(loc->tab);
	for (size_t i = 0; i < FLOWS_BUCKETS; i++)
		while (loc->flows[i]) {
			struct flow_count *f = loc->flows[i];
			loc->flows[i] = f->next;
			free(f);
		}
	pthread_rwlock_destroy(&loc->lock);
}

int location_alloc(struct location **locp)
{
	struct location *loc = mem_zalloc(sizeof(*loc), location_destroy);
	if (!loc)
		return ENOMEM;
	pthread_rwlock_init(&loc->lock, NULL); /* first, so the destructor may always destroy it */
	loc->cap = 1024;
	loc->tab = calloc(loc->cap, sizeof(*loc->tab));
	if (!loc->tab) {
		loc->cap = 0;
		mem_deref(loc);
		return ENOMEM;
	}
	*locp = loc;
	return 0;
}

static struct aor_entry **find_slot(struct location *loc, const char *aor)
{
	struct aor_entry **pp = &loc->tab[hash_str(aor) & (loc->cap - 1)];
	while (*pp && strcmp((*pp)->aor, aor) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void grow(struct location *loc)
{
	size_t ncap = loc->cap * 2;
	struct aor_entry **nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return; /* keep the longer chains */
	for (size_t i = 0; i < loc->cap; i++) {
		struct aor_entry *e = loc->tab[i];
		while (e) {
			struct aor_entry *n = e->next;
			size_t b = hash_str(e->aor) & (ncap - 1);
			e->next = nt[b];
			nt[b] = e;
			e = n;
		}
	}
	free(loc->tab);
	loc->tab = nt;
	loc->cap = ncap;
}

static int by_q_desc(const void *a, const void *b)
{
	const struct loc_binding *x = a, *y = b;
	if (x->q1000 != y->q1000)
		return x->q1000 > y->q1000 ? -1 : 1;
	/* Same q: most recently refreshed first. */
	return x->updated > y->updated ? -1 : x->updated < y->updated;
}

static const char *field_of(const struct loc_binding *b, int i)
{
	return (const char *)b + ls_fields[i].off;
}

/* Each string of b up to its NUL, capped as its array caps it. */
static size_t field_len(const struct loc_binding *b, int i)
{
	return strnlen(field_of(b, i), ls_fields[i].cap - 1);
}

/* Packs s with its strings at str; returns how many bytes of str it used. */
static size_t pack(struct loc_stored *d, const struct loc_binding *s, char *str)
{
	size_t o = 0;
	for (int i = 0; i < LS_N; i++) {
		size_t n = field_len(s, i);
		d->off[i] = (uint16_t)o;
		memcpy(str + o, field_of(s, i), n);
		str[o + n] = '\0';
		o += n + 1;
	}
	d->str = str;
	d->q1000 = s->q1000;
	d->has_reg_id = s->has_reg_id;
	d->flow_failed = s->flow_failed;
	d->cseq = s->cseq;
	d->reg_id = s->reg_id;
	d->transport = s->transport;
	d->expires_at = s->expires_at;
	d->updated = s->updated;
	d->conn_id = s->conn_id;
	d->received = s->received;
	return o;
}

/* Field by field, the strings up to their NUL: a few cache lines instead of the whole struct
 * (whole-struct copies in lookup were 1.7% of a REGISTER's CPU, mostly cache misses). */
static void unpack(struct location *loc, struct loc_binding *d, const struct loc_stored *s)
{
	for (int i = 0; i < LS_N; i++) {
		const char *src = s->str + s->off[i];
		size_t n = strlen(src);
		char *dst = (char *)d + ls_fields[i].off;
		memcpy(dst, src, n + 1);
	}
	d->q1000 = s->q1000;
	d->has_reg_id = s->has_reg_id;
	d->flow_failed = s->flow_failed;
	if (!d->flow_failed && s->conn_id) {
		const struct flow_count *f = *flow_slot(loc, s->conn_id);
		d->flow_failed = f && f->failed;
	}
	d->cseq = s->cseq;
	d->reg_id = s->reg_id;
	d->transport = s->transport;
	d->expires_at = s->expires_at;
	d->updated = s->updated;
	d->conn_id = s->conn_id;
	d->received = s->received;
}

size_t location_lookup(struct location *loc, const char *aor, time_t now, struct loc_binding *out, size_t max)
{
	size_t live = 0;
	pthread_rwlock_rdlock(&loc->lock);
	struct aor_entry *e = *find_slot(loc, aor);
	if (e) {
		for (size_t i = 0; i < e->n; i++) {
			if (e->b[i].expires_at <= now)
				continue;
			if (live < max)
				unpack(loc, &out[live], &e->b[i]);
			live++;
		}
	}
	pthread_rwlock_unlock(&loc->lock);
	if (live > 1 && max > 1)
		qsort(out, live < max ? live : max, sizeof(*out), by_q_desc);
	return live;
}

bool location_has(struct location *loc, const char *aor, time_t now)
{
	bool has = false;
	pthread_rwlock_rdlock(&loc->lock);
	struct aor_entry *e = *find_slot(loc, aor);
	for (size_t i = 0; e && i < e->n && !has; i++)
		has = e->b[i].expires_at > now;
	pthread_rwlock_unlock(&loc->lock);
	return has;
}

int location_replace(struct location *loc, const char *aor, const struct loc_binding *set, size_t n)
{
	struct aor_entry *ne = NULL;
	if (n) {
		size_t alen = strlen(aor) + 1, strs = 0;
		for (size_t i = 0; i < n; i++)
			for (int f = 0; f < LS_N; f++)
				strs += field_len(&set[i], f) + 1;
		ne = malloc(sizeof(*ne) + n * sizeof(*ne->b) + alen + strs);
		if (!ne)
			return ENOMEM;
		ne->b = (struct loc_stored *)(ne + 1);
		char *p = (char *)(ne->b + n);
		memcpy(p, aor, alen);
		ne->aor = p;
		p += alen;
		for (size_t i = 0; i < n; i++)
			p += pack(&ne->b[i], &set[i], p);
		ne->n = n;
	}
	pthread_rwlock_wrlock(&loc->lock);
	struct aor_entry **pp = find_slot(loc, aor);
	struct aor_entry *old = *pp;
	if (old) {
		*pp = old->next;
		loc->nbindings -= old->n;
		loc->naors--;
	}
	if (ne) {
		if (loc->naors + 1 > loc->cap)
			grow(loc);
		pp = find_slot(loc, aor);
		ne->next = *pp;
		*pp = ne;
		loc->naors++;
		loc->nbindings += n;
		flows_add(loc, ne->b, n, +1);
	}
	/* after the new set's: a refresh on the same connection keeps its counter instead of
	 * freeing it and allocating it again */
	if (old)
		flows_add(loc, old->b, old->n, -1);
	pthread_rwlock_unlock(&loc->lock);
	if (old)
		entry_free(old);
	return 0;
}

/* O(1): the flow is marked, not its bindings. A walk over every binding per closing connection
 * made 15,000 registered connections closing at once cost 0.5 s of CPU under the write lock
 * (perf: 68% of sipsd's CPU while they closed), growing with the square of their number. */
void location_conn_closed(struct location *loc, uint64_t conn_id)
{
	if (!conn_id)
		return;
	pthread_rwlock_wrlock(&loc->lock);
	struct flow_count *f = *flow_slot(loc, conn_id);
	if (f)
		f->failed = true;
	pthread_rwlock_unlock(&loc->lock);
}

size_t location_purge(struct location *loc, time_t now, void (*h)(const struct loc_binding *b, void *arg), void *arg)
{
	size_t removed = 0;
	pthread_rwlock_wrlock(&loc->lock);
	for (size_t i = 0; i < loc->cap; i++) {
		struct aor_entry **pp = &loc->tab[i];
		while (*pp) {
			struct aor_entry *e = *pp;
			size_t keep = 0;
			for (size_t k = 0; k < e->n; k++) {
				if (e->b[k].expires_at > now) {
					e->b[keep++] = e->b[k];
				} else {
					if (h) {
						struct loc_binding b;
						unpack(loc, &b, &e->b[k]);
						h(&b, arg);
					}
					flows_add(loc, &e->b[k], 1, -1);
					removed++;
				}
			}
			loc->nbindings -= e->n - keep;
			e->n = keep;
			if (keep == 0) {
				*pp = e->next;
				loc->naors--;
				entry_free(e);
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_rwlock_unlock(&loc->lock);
	return removed;
}

void location_foreach(struct location *loc, void (*h)(const struct loc_binding *b, void *arg), void *arg)
{
	pthread_rwlock_rdlock(&loc->lock);
	for (size_t i = 0; i < loc->cap; i++)
		for (struct aor_entry *e = loc->tab[i]; e; e = e->next)
			for (size_t k = 0; k < e->n; k++) {
				struct loc_binding b;
				unpack(loc, &b, &e->b[k]);
				h(&b, arg);
			}
	pthread_rwlock_unlock(&loc->lock);
}

size_t location_count(struct location *loc)
{
	pthread_rwlock_rdlock(&loc->lock);
	size_t n = loc->nbindings;
	pthread_rwlock_unlock(&loc->lock);
	return n;
}

int location_aor_of(const struct sip_uri *uri, char *buf, size_t bufsz)
{
	if (!uri || (uri->scheme != SIP_URI_SIP && uri->scheme != SIP_URI_SIPS) || uri->host.len == 0)
		return EINVAL;
	char user[256];
	size_t ulen = 0;
	if (uri->has_user && sip_unescape(uri->user, user, sizeof(user) - 1, &ulen))
		return EINVAL;
	user[ulen] = '\0';
	if (memchr(user, '\0', ulen))
		return EINVAL; /* %00 in a user part can't be an AOR key */
	size_t need = 4 + (ulen ? ulen + 1 : 0) + uri->host.len; /* "sip:" [user "@"] host */
	if (need >= bufsz)
		return EINVAL;
	memcpy(buf, "sip:", 4);
	char *p = buf + 4;
	if (ulen) {
		memcpy(p, user, ulen);
		p += ulen;
		*p++ = '@';
	}
	for (size_t i = 0; i < uri->host.len; i++)
		*p++ = (char)tolower((unsigned char)uri->host.p[i]);
	*p = '\0';
	return 0;
}
