/* Endpoint registry: method mask + path prefix -> handler. Longest prefix wins, so a module can
 * register "/trust" and another "/trust/special" without knowing of each other. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "mgmt/mgmt.h"

enum { MAX_ROUTES = 128, MAX_PREFIX = 128 };

struct route {
	unsigned methods;
	char prefix[MAX_PREFIX];
	size_t plen;
	mgmt_route_h *h;
	void *arg;
};

struct mgmt_routes {
	struct route r[MAX_ROUTES];
	size_t n;
};

int mgmt_routes_alloc(struct mgmt_routes **rp)
{
	struct mgmt_routes *r = mem_zalloc(sizeof(*r), NULL);
	if (!r)
		return ENOMEM;
	*rp = r;
	return 0;
}

int mgmt_routes_add(struct mgmt_routes *r, unsigned methods, const char *prefix, mgmt_route_h *h, void *arg)
{
	if (!r || !prefix || prefix[0] != '/' || !h || !methods ||
	    (methods & ~(unsigned)(MGMT_GET | MGMT_POST | MGMT_DELETE)))
		return EINVAL;
	size_t plen = strlen(prefix);
	while (plen > 1 && prefix[plen - 1] == '/')
		plen--; /* "/trust/" is "/trust" */
	if (plen >= MAX_PREFIX)
		return EINVAL;
	for (size_t i = 0; i < r->n; i++) {
		struct route *x = &r->r[i];
		if (x->plen == plen && memcmp(x->prefix, prefix, plen) == 0 && x->methods == methods) {
			x->h = h;
			x->arg = arg;
			return 0;
		}
	}
	if (r->n >= MAX_ROUTES)
		return ENOSPC;
	struct route *x = &r->r[r->n++];
	x->methods = methods;
	memcpy(x->prefix, prefix, plen);
	x->prefix[plen] = '\0';
	x->plen = plen;
	x->h = h;
	x->arg = arg;
	return 0;
}

/* prefix matches path at a segment boundary; "/" matches only "/" itself. */
static bool prefix_match(const struct route *x, const char *path, size_t pathlen)
{
	if (x->plen == 1)
		return pathlen == 1 && path[0] == '/';
	if (pathlen < x->plen || memcmp(path, x->prefix, x->plen) != 0)
		return false;
	return pathlen == x->plen || path[x->plen] == '/';
}

enum mgmt_match mgmt_routes_match(const struct mgmt_routes *r, enum mgmt_method m, const char *path,
				  mgmt_route_h **hp, void **argp, const char **rest, unsigned *allowed)
{
	if (!r || !path || path[0] != '/')
		return MGMT_MATCH_NO_PATH;
	size_t pathlen = strlen(path);
	const struct route *best = NULL;
	size_t best_len = 0;
	unsigned methods_at_best = 0;
	/* The longest matching prefix decides the resource; the method then picks among the
	 * routes of exactly that prefix. */
	for (size_t i = 0; i < r->n; i++) {
		const struct route *x = &r->r[i];
		if (!prefix_match(x, path, pathlen))
			continue;
		if (x->plen > best_len) {
			best_len = x->plen;
			methods_at_best = 0;
			best = NULL;
		}
		if (x->plen == best_len) {
			methods_at_best |= x->methods;
			if (x->methods & (unsigned)m)
				best = x;
		}
	}
	if (!best_len)
		return MGMT_MATCH_NO_PATH;
	if (!best) {
		if (allowed)
			*allowed = methods_at_best;
		return MGMT_MATCH_BAD_METHOD;
	}
	if (hp)
		*hp = best->h;
	if (argp)
		*argp = best->arg;
	if (rest) {
		const char *p = path + best->plen;
		while (*p == '/')
			p++;
		*rest = p;
	}
	return MGMT_MATCH_OK;
}

void mgmt_routes_foreach(const struct mgmt_routes *r, void (*h)(unsigned methods, const char *prefix, void *arg),
			 void *arg)
{
	for (size_t i = 0; r && i < r->n; i++)
		h(r->r[i].methods, r->r[i].prefix, arg);
}
