/* One reloadable holder per [tls:NAME], and the SNI set of each TLS interface. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/log.h"
#include "base/mem.h"
#include "tls/tls.h"

struct app_tls {
	size_t n;
	char **names;
	struct tls_holder **holders;
	size_t nsets;
	char **set_names; /* interface names */
	struct tls_sni_set **sets;
};

static void app_tls_destroy(void *data)
{
	struct app_tls *t = data;
	for (size_t i = 0; i < t->nsets; i++) {
		mem_deref(t->sets[i]);
		mem_deref(t->set_names[i]);
	}
	for (size_t i = 0; i < t->n; i++) {
		mem_deref(t->holders[i]);
		mem_deref(t->names[i]);
	}
	free(t->sets);
	free(t->set_names);
	free(t->holders);
	free(t->names);
}

/* Which roles a context must be able to play, from who names it. */
static unsigned ctx_roles(const struct conf *conf, const char *name)
{
	unsigned roles = 0;
	for (size_t i = 0; i < conf->nifaces; i++) {
		const struct conf_interface *ifc = &conf->ifaces[i];
		if (ifc->tls && strcmp(ifc->tls, name) == 0)
			roles |= TLS_CTX_SERVER;
		for (size_t k = 0; k < ifc->sni_contexts.n; k++)
			if (strcmp(ifc->sni_contexts.v[k], name) == 0)
				roles |= TLS_CTX_SERVER;
	}
	for (size_t i = 0; i < conf->npeers; i++)
		if (conf->peers[i].tls && strcmp(conf->peers[i].tls, name) == 0)
			roles |= TLS_CTX_CLIENT;
	if (conf->mgmt.tls && strcmp(conf->mgmt.tls, name) == 0)
		roles |= TLS_CTX_SERVER;
	return roles ? roles : TLS_CTX_SERVER;
}

/* Build every context first; nothing is kept unless all succeed. */
static int build_all(const struct conf *conf, struct tls_ctx **ctxs, struct conf_error *err)
{
	for (size_t i = 0; i < conf->ntls; i++) {
		int e = tls_ctx_build(&conf->tls[i], conf->path, ctx_roles(conf, conf->tls[i].name), &ctxs[i], err);
		if (e) {
			for (size_t k = 0; k < i; k++)
				ctxs[k] = mem_deref(ctxs[k]);
			return e;
		}
	}
	return 0;
}

int app_tls_build(const struct conf *conf, struct app_tls **tlsp, struct conf_error *err)
{
	struct tls_ctx **ctxs = calloc(conf->ntls ? conf->ntls : 1, sizeof(*ctxs));
	struct app_tls *t = mem_zalloc(sizeof(*t), app_tls_destroy);
	int e = ENOMEM;
	if (!ctxs || !t)
		goto out;
	e = build_all(conf, ctxs, err);
	if (e)
		goto out;
	e = ENOMEM;
	t->names = calloc(conf->ntls + 1, sizeof(*t->names));
	t->holders = calloc(conf->ntls + 1, sizeof(*t->holders));
	t->set_names = calloc(conf->nifaces + 1, sizeof(*t->set_names));
	t->sets = calloc(conf->nifaces + 1, sizeof(*t->sets));
	if (!t->names || !t->holders || !t->set_names || !t->sets)
		goto out;
	for (size_t i = 0; i < conf->ntls; i++, t->n++) {
		t->names[i] = mem_strdup(conf->tls[i].name);
		if (!t->names[i] || tls_holder_alloc(&t->holders[i], ctxs[i]))
			goto out;
	}
	for (size_t i = 0; i < conf->nifaces; i++) {
		const struct conf_interface *ifc = &conf->ifaces[i];
		struct tls_holder *hs[1 + 16];
		size_t nh = 0;
		if (!ifc->tls || !(hs[nh++] = app_tls_holder(t, ifc->tls)))
			continue;
		/* The default context first, then those chosen by SNI (conf checked they exist). */
		for (size_t k = 0; k < ifc->sni_contexts.n && nh < sizeof(hs) / sizeof(hs[0]); k++)
			if ((hs[nh] = app_tls_holder(t, ifc->sni_contexts.v[k])))
				nh++;
		t->set_names[t->nsets] = mem_strdup(ifc->name);
		if (!t->set_names[t->nsets] || tls_sni_set_alloc(&t->sets[t->nsets], hs, nh)) {
			t->set_names[t->nsets] = mem_deref(t->set_names[t->nsets]);
			goto out;
		}
		t->nsets++;
	}
	*tlsp = t;
	t = NULL;
	e = 0;
out:
	if (e == ENOMEM)
		conf_error_set(err, conf->path, 0, "out of memory building TLS contexts");
	for (size_t i = 0; ctxs && i < conf->ntls; i++)
		mem_deref(ctxs[i]); /* holders took their own references */
	free(ctxs);
	mem_deref(t);
	return e;
}

int app_tls_reload(struct app_tls *t, const struct conf *conf, struct conf_error *err)
{
	struct tls_ctx **ctxs = calloc(conf->ntls ? conf->ntls : 1, sizeof(*ctxs));
	if (!ctxs)
		return ENOMEM;
	int e = build_all(conf, ctxs, err);
	if (!e) {
		for (size_t i = 0; i < conf->ntls; i++) {
			struct tls_holder *h = app_tls_holder(t, conf->tls[i].name);
			if (h)
				tls_holder_swap(h, ctxs[i]);
			else
				log_warn("config.reload_partial",
					 "tls=%s note=\"new TLS context is used after a restart\"", conf->tls[i].name);
		}
	}
	for (size_t i = 0; i < conf->ntls; i++)
		mem_deref(ctxs[i]);
	free(ctxs);
	return e;
}

struct tls_holder *app_tls_holder(struct app_tls *t, const char *name)
{
	for (size_t i = 0; t && i < t->n; i++)
		if (strcmp(t->names[i], name) == 0)
			return t->holders[i];
	return NULL;
}

struct tls_sni_set *app_tls_sni_set(struct app_tls *t, const char *iface)
{
	for (size_t i = 0; t && i < t->nsets; i++)
		if (strcmp(t->set_names[i], iface) == 0)
			return t->sets[i];
	return NULL;
}

size_t app_tls_count(const struct app_tls *t)
{
	return t ? t->n : 0;
}

const char *app_tls_name(const struct app_tls *t, size_t i)
{
	return t && i < t->n ? t->names[i] : NULL;
}
