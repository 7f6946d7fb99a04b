/* sipsctl certs | trust [--context NAME] list|add FILE|remove ID | keylog on|off|status: the
 * certificate list ("Host" and "Other" certificates), the trusted-root store of a TLS context,
 * and run-time key logging. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgmt/json.h"
#include "sipsctl.h"

static const char *s_(const struct json_val *v, const char *k)
{
	return json_get_str(v, k, "");
}

static void num(char *buf, size_t sz, const struct json_val *v, const char *k)
{
	const struct json_val *m = json_get(v, k);
	if (m && m->type == JSON_NUM)
		snprintf(buf, sz, "%.0f", m->num);
	else
		snprintf(buf, sz, "-");
}

static void join(char *buf, size_t sz, const struct json_val *arr)
{
	buf[0] = '\0';
	for (size_t k = 0; arr && arr->type == JSON_ARR && k < arr->n; k++) {
		size_t n = strlen(buf);
		snprintf(buf + n, sz - n, "%s%s", n ? "," : "", arr->kids[k].str ? arr->kids[k].str : "");
	}
}

/* "2026-01-31T10:00:00Z" -> "2026-01-31 10:00:00" (the device tables' format) */
static void day(char *buf, size_t sz, const char *iso)
{
	snprintf(buf, sz, "%.19s", iso);
	if (strlen(buf) > 10 && buf[10] == 'T')
		buf[10] = ' ';
}

static void cert_row(struct sipsctl_table *t, const struct json_val *x, bool contexts)
{
	char from[32], to[32], days[16], key[64], usage[256], eku[200], ctxs[256], bits[16];
	day(from, sizeof(from), s_(x, "not_before"));
	day(to, sizeof(to), s_(x, "not_after"));
	num(days, sizeof(days), x, "days_left");
	num(bits, sizeof(bits), x, "key_bits");
	snprintf(key, sizeof(key), "%s/%s", s_(x, "key_type"), bits);
	join(eku, sizeof(eku), json_get(x, "eku"));
	join(usage, sizeof(usage), json_get(x, "key_usage"));
	if (eku[0]) {
		size_t n = strlen(usage);
		snprintf(usage + n, sizeof(usage) - n, "%s%s", n ? "," : "", eku);
	}
	join(ctxs, sizeof(ctxs), json_get(x, "contexts"));
	const char *file = s_(x, "file");
	const char *base = strrchr(file, '/');
	if (contexts) {
		const char *row[] = { base ? base + 1 : file, s_(x, "kind"), s_(x, "subject"), s_(x, "issuer"), from, to,
				      days, key, usage, json_get_bool(x, "ca", false) ? "Yes" : "No", ctxs, s_(x, "id") };
		sipsctl_table_add(t, row);
	} else {
		const char *row[] = { s_(x, "id"), base ? base + 1 : file, s_(x, "source"), s_(x, "subject"),
				      s_(x, "issuer"), from, to, days };
		sipsctl_table_add(t, row);
	}
}

/* ---- certs ---- */

static void certs_usage(FILE *f);

static int certs_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (sipsctl_extra_args(sipsctl_take_json(ctl, argc, argv), argv, 1, certs_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", "/certificates", NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	static const char *const h[] = { "FILE",       "KIND",     "ISSUED TO", "ISSUED BY", "VALID FROM", "VALID TO",
					 "DAYS LEFT", "KEY",      "USAGE",     "CA",        "CONTEXTS",   "ID" };
	struct sipsctl_table *t = sipsctl_table_new(h, 12);
	const struct json_val *cs = json_get(v, "certificates");
	for (size_t i = 0; cs && cs->type == JSON_ARR && i < cs->n; i++)
		cert_row(t, &cs->kids[i], true);
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	json_free(v);
	return SIPSCTL_OK;
}

static void certs_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl certs [--json]\n");
}

const struct sipsctl_group sipsctl_group_certs = {
	.name = "certs",
	.summary = "every certificate sipsd holds: own, chain, trusted roots",
	.run = certs_run,
	.usage = certs_usage,
};

/* ---- trust ---- */

static void trust_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl trust [--context NAME] list\n"
		   "       sipsctl trust [--context NAME] add FILE.pem   (a CA certificate; reloads)\n"
		   "       sipsctl trust [--context NAME] remove ID      (ID from 'list'; reloads)\n"
		   "add/remove need a context with ca_dir; without --context the only such context is used\n");
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 20;
	char *b = malloc(cap + 1);
	size_t n = b ? fread(b, 1, cap, f) : 0;
	bool more = b && fgetc(f) != EOF;
	fclose(f);
	if (!b || more) {
		free(b);
		errno = EFBIG;
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	return b;
}

static int trust_list(struct sipsctl *ctl, const char *context)
{
	char path[256];
	snprintf(path, sizeof(path), "/trust%s%s", context ? "/" : "", context ? context : "");
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", path, NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	const struct json_val *list = context ? NULL : json_get(v, "contexts");
	size_t n = context ? 1 : (list && list->type == JSON_ARR ? list->n : 0);
	for (size_t i = 0; i < n; i++) {
		const struct json_val *c = context ? v : &list->kids[i];
		printf("%sTrusted root certificates of [tls:%s]%s%s\n", i ? "\n" : "", s_(c, "context"),
		       s_(c, "ca_dir")[0] ? "  ca_dir " : "", s_(c, "ca_dir"));
		static const char *const h[] = { "ID", "FILE", "SOURCE", "ISSUED TO", "ISSUED BY", "VALID FROM",
						 "VALID TO", "DAYS LEFT" };
		struct sipsctl_table *t = sipsctl_table_new(h, 8);
		const struct json_val *es = json_get(c, "entries");
		for (size_t k = 0; es && es->type == JSON_ARR && k < es->n; k++)
			cert_row(t, &es->kids[k], false);
		sipsctl_table_print(t, stdout);
		sipsctl_table_free(t);
	}
	json_free(v);
	return SIPSCTL_OK;
}

static int trust_run(struct sipsctl *ctl, int argc, char **argv)
{
	argc = sipsctl_take_json(ctl, argc, argv);
	const char *context = NULL;
	int o = 1;
	while (o + 1 < argc && (strcmp(argv[o], "--context") == 0 || strcmp(argv[o], "-t") == 0)) {
		context = argv[o + 1];
		o += 2;
	}
	if (o >= argc) {
		trust_usage(stderr);
		return SIPSCTL_USAGE;
	}
	const char *cmd = argv[o++];
	if (strcmp(cmd, "list") == 0 && o == argc)
		return trust_list(ctl, context);
	if (strcmp(cmd, "add") == 0 && o + 1 == argc) {
		size_t len = 0;
		char *pem = read_file(argv[o], &len);
		if (!pem) {
			fprintf(stderr, "sipsctl: cannot read %s: %s\n", argv[o], strerror(errno));
			return SIPSCTL_FAIL;
		}
		char path[256];
		snprintf(path, sizeof(path), "/trust%s%s", context ? "/" : "", context ? context : "");
		struct json_val *v;
		int rc = sipsctl_api(ctl, "POST", path, pem, len, &v);
		free(pem);
		if (!rc && !ctl->json) {
			const struct json_val *a = json_get(v, "added");
			for (size_t i = 0; a && a->type == JSON_ARR && i < a->n; i++)
				printf("added %s  %s  -> %s\n", s_(&a->kids[i], "id"), s_(&a->kids[i], "subject"),
				       s_(&a->kids[i], "file"));
			char al[16];
			num(al, sizeof(al), v, "already_trusted");
			if (strcmp(al, "0") != 0)
				printf("%s certificate(s) already trusted\n", al);
			printf("%s\n", json_get_bool(v, "reloaded", false) ? "reloaded" : "nothing to reload");
		}
		json_free(v);
		return rc;
	}
	if (strcmp(cmd, "remove") == 0 && o + 1 == argc) {
		if (!context) {
			/* find the context holding the entry */
			struct json_val *v;
			int rc = sipsctl_api(ctl, "GET", "/trust", NULL, 0, &v);
			if (rc) {
				json_free(v);
				return rc;
			}
			const struct json_val *list = json_get(v, "contexts");
			static char found[128];
			for (size_t i = 0; list && i < list->n && !context; i++) {
				const struct json_val *es = json_get(&list->kids[i], "entries");
				for (size_t k = 0; es && k < es->n; k++)
					if (strncmp(s_(&es->kids[k], "sha256"), argv[o], strlen(argv[o])) == 0 &&
					    json_get_bool(&es->kids[k], "removable", false)) {
						snprintf(found, sizeof(found), "%s", s_(&list->kids[i], "context"));
						context = found;
						break;
					}
			}
			json_free(v);
			if (!context) {
				fprintf(stderr, "sipsctl: no removable trust entry %s (see 'sipsctl trust list')\n", argv[o]);
				return SIPSCTL_FAIL;
			}
		}
		char path[512];
		snprintf(path, sizeof(path), "/trust/%s/%s", context, argv[o]);
		struct json_val *v;
		int rc = sipsctl_api(ctl, "DELETE", path, NULL, 0, &v);
		if (!rc && !ctl->json)
			printf("removed %s (%s) from [tls:%s]; reloaded\n", s_(v, "removed"), s_(v, "subject"), context);
		json_free(v);
		return rc;
	}
	trust_usage(stderr);
	return SIPSCTL_USAGE;
}

const struct sipsctl_group sipsctl_group_trust = {
	.name = "trust",
	.summary = "trusted root certificates of a context: list, add, remove",
	.run = trust_run,
	.usage = trust_usage,
};

/* ---- keylog ---- */

static void keylog_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl keylog [status]\n"
		   "       sipsctl keylog on CONTEXT [SECONDS]   (switches itself off; at most [mgmt] keylog_timeout)\n"
		   "       sipsctl keylog off CONTEXT\n");
}

static int keylog_run(struct sipsctl *ctl, int argc, char **argv)
{
	argc = sipsctl_take_json(ctl, argc, argv);
	struct json_val *v = NULL;
	int rc;
	if (argc == 1 || (argc == 2 && strcmp(argv[1], "status") == 0)) {
		rc = sipsctl_api(ctl, "GET", "/keylog", NULL, 0, &v);
		if (!rc && !ctl->json) {
			static const char *const h[] = { "CONTEXT", "ACTIVE", "RUN-TIME", "FILE", "REMAINING S" };
			struct sipsctl_table *t = sipsctl_table_new(h, 5);
			const struct json_val *ks = json_get(v, "keylog");
			for (size_t i = 0; ks && ks->type == JSON_ARR && i < ks->n; i++) {
				const struct json_val *x = &ks->kids[i];
				char rem[16];
				num(rem, sizeof(rem), x, "remaining_s");
				const char *row[] = { s_(x, "context"), json_get_bool(x, "active", false) ? "YES" : "no",
						      json_get_bool(x, "runtime", false) ? "yes" : "no", s_(x, "file"), rem };
				sipsctl_table_add(t, row);
			}
			sipsctl_table_print(t, stdout);
			sipsctl_table_free(t);
		}
	} else if ((argc == 3 || argc == 4) && strcmp(argv[1], "on") == 0) {
		char path[256];
		if (argc == 4 && strspn(argv[3], "0123456789") != strlen(argv[3])) {
			keylog_usage(stderr);
			return SIPSCTL_USAGE;
		}
		snprintf(path, sizeof(path), "/keylog/%s%s%s", argv[2], argc == 4 ? "?seconds=" : "", argc == 4 ? argv[3] : "");
		rc = sipsctl_api(ctl, "POST", path, NULL, 0, &v);
		if (!rc && !ctl->json) {
			char rem[16];
			num(rem, sizeof(rem), v, "remaining_s");
			printf("key log of [tls:%s] ON -> %s for %s s (anyone with this file can decrypt the traffic)\n",
			       argv[2], s_(v, "file"), rem);
		}
	} else if (argc == 3 && strcmp(argv[1], "off") == 0) {
		char path[256];
		snprintf(path, sizeof(path), "/keylog/%s", argv[2]);
		rc = sipsctl_api(ctl, "DELETE", path, NULL, 0, &v);
		if (!rc && !ctl->json)
			printf("key log of [tls:%s] off\n", argv[2]);
	} else {
		keylog_usage(stderr);
		return SIPSCTL_USAGE;
	}
	json_free(v);
	return rc;
}

const struct sipsctl_group sipsctl_group_keylog = {
	.name = "keylog",
	.summary = "switch a context's TLS key log on/off at run time",
	.run = keylog_run,
	.usage = keylog_usage,
};
