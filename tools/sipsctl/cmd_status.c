/* sipsctl status | reload | connections [--json] | conn close ID | peers | regs: read-outs of the
 * running daemon over the management API. Human tables by default, --json for scripts. */
#include <inttypes.h>
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

/* ---- status ---- */

static void status_usage(FILE *f);

static int status_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (sipsctl_extra_args(sipsctl_take_json(ctl, argc, argv), argv, 1, status_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", "/status", NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	char a[32], b[32], c[32];
	num(a, sizeof(a), v, "uptime_s");
	num(b, sizeof(b), v, "pid");
	num(c, sizeof(c), v, "workers");
	printf("sipsd %s  pid %s  up %s s  workers %s\n", s_(v, "version"), b, a, c);
	printf("config       %s\n", s_(v, "config"));
	const struct json_val *cn = json_get(v, "connections");
	num(a, sizeof(a), cn, "tls");
	num(b, sizeof(b), cn, "tcp");
	printf("connections  tls %s  tcp %s\n", a, b);
	num(a, sizeof(a), v, "registrations");
	num(b, sizeof(b), v, "peers");
	printf("registrations %s  peers %s\n", a, b);
	const struct json_val *hs = json_get(v, "handshakes");
	for (int side = 0; side < 2; side++) {
		const struct json_val *x = json_get(hs, side ? "client" : "server");
		num(a, sizeof(a), x, "ok");
		num(b, sizeof(b), x, "failed");
		printf("handshakes   %-6s ok %s  failed %s\n", side ? "client" : "server", a, b);
	}
	printf("\n");
	static const char *const ih[] = { "INTERFACE", "LISTEN", "TLS CONTEXT", "MUTUAL AUTH" };
	struct sipsctl_table *t = sipsctl_table_new(ih, 4);
	const struct json_val *ifs = json_get(v, "interfaces");
	for (size_t i = 0; ifs && ifs->type == JSON_ARR && i < ifs->n; i++) {
		const struct json_val *x = &ifs->kids[i];
		char lst[512] = "";
		const struct json_val *l = json_get(x, "listen");
		for (size_t k = 0; l && k < l->n; k++) {
			size_t n = strlen(lst);
			snprintf(lst + n, sizeof(lst) - n, "%s%s", n ? ", " : "", l->kids[k].str ? l->kids[k].str : "");
		}
		const char *row[] = { s_(x, "name"), lst, s_(x, "tls"), s_(x, "mutual_auth") };
		sipsctl_table_add(t, row);
	}
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	printf("\n");
	static const char *const ch[] = { "TLS CONTEXT", "VALID TO", "DAYS LEFT", "RELOADS", "KEYLOG" };
	t = sipsctl_table_new(ch, 5);
	const struct json_val *cs = json_get(v, "tls_contexts");
	for (size_t i = 0; cs && cs->type == JSON_ARR && i < cs->n; i++) {
		const struct json_val *x = &cs->kids[i];
		num(a, sizeof(a), x, "days_left");
		num(b, sizeof(b), x, "reloads");
		const char *row[] = { s_(x, "name"), s_(x, "not_after"), a, b,
				      json_get_bool(x, "keylog", false) ? "ON" : "off" };
		sipsctl_table_add(t, row);
	}
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	json_free(v);
	return SIPSCTL_OK;
}

static void status_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl status [--json]\n");
}

const struct sipsctl_group sipsctl_group_status = {
	.name = "status",
	.summary = "version, uptime, workers, interfaces, counts",
	.run = status_run,
	.usage = status_usage,
};

/* ---- reload ---- */

static void reload_usage(FILE *f);

static int reload_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (sipsctl_extra_args(sipsctl_take_json(ctl, argc, argv), argv, 1, reload_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "POST", "/reload", NULL, 0, &v);
	if (!rc && !ctl->json)
		printf("reloaded\n");
	json_free(v);
	return rc;
}

static void reload_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl reload   (the same atomic reload as SIGHUP)\n");
}

const struct sipsctl_group sipsctl_group_reload = {
	.name = "reload",
	.summary = "reload the configuration and certificates (like SIGHUP)",
	.run = reload_run,
	.usage = reload_usage,
};

/* ---- connections ---- */

static void connections_usage(FILE *f);

static int connections_run(struct sipsctl *ctl, int argc, char **argv)
{
	argc = sipsctl_take_json(ctl, argc, argv);
	bool wide = argc > 1 && strcmp(argv[1], "--wide") == 0;
	if (sipsctl_extra_args(argc, argv, wide ? 2 : 1, connections_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", "/connections", NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	static const char *const h[] = { "ID",      "TP",     "DIR",   "LOCAL",    "REMOTE",   "PEER",
					 "STATE",   "TLS",    "CIPHER", "SNI",     "SUBJECT",  "IDENTITY",
					 "VERIFY",  "NOTAFTER", "AGE",  "IN",      "OUT",      "SANS" };
	size_t ncols = wide ? 18 : 14;
	static const char *const hn[] = { "ID",   "TP",      "DIR",    "LOCAL",    "REMOTE", "PEER", "STATE",
					  "TLS",  "SUBJECT", "IDENTITY", "VERIFY", "AGE",    "IN",   "OUT" };
	struct sipsctl_table *t = sipsctl_table_new(wide ? h : hn, ncols);
	const struct json_val *cs = json_get(v, "connections");
	for (size_t i = 0; cs && cs->type == JSON_ARR && i < cs->n; i++) {
		const struct json_val *x = &cs->kids[i];
		char id[32], age[32], in[32], out[32], sans[512] = "";
		num(id, sizeof(id), x, "id");
		num(age, sizeof(age), x, "age_s");
		num(in, sizeof(in), x, "bytes_in");
		num(out, sizeof(out), x, "bytes_out");
		const struct json_val *sv = json_get(x, "sans");
		for (size_t k = 0; sv && k < sv->n; k++) {
			size_t n = strlen(sans);
			snprintf(sans + n, sizeof(sans) - n, "%s%s", n ? "," : "", sv->kids[k].str ? sv->kids[k].str : "");
		}
		if (wide) {
			const char *row[] = { id, s_(x, "transport"), s_(x, "direction"), s_(x, "local"), s_(x, "remote"),
					      s_(x, "peer"), s_(x, "state"), s_(x, "tls_version"), s_(x, "cipher"),
					      s_(x, "sni"), s_(x, "subject"), s_(x, "identity"), s_(x, "verify"),
					      s_(x, "not_after"), age, in, out, sans };
			sipsctl_table_add(t, row);
		} else {
			const char *row[] = { id, s_(x, "transport"), s_(x, "direction"), s_(x, "local"), s_(x, "remote"),
					      s_(x, "peer"), s_(x, "state"), s_(x, "tls_version"), s_(x, "subject"),
					      s_(x, "identity"), s_(x, "verify"), age, in, out };
			sipsctl_table_add(t, row);
		}
	}
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	if (json_get_bool(v, "incomplete", false))
		fprintf(stderr, "sipsctl: a worker did not answer in time; the list is incomplete\n");
	json_free(v);
	return SIPSCTL_OK;
}

static void connections_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl connections [--wide] [--json]\n");
}

const struct sipsctl_group sipsctl_group_connections = {
	.name = "connections",
	.summary = "the connection table (TLS version, peer certificate, identity, bytes)",
	.run = connections_run,
	.usage = connections_usage,
};

/* ---- conn close ID ---- */

static int conn_run(struct sipsctl *ctl, int argc, char **argv)
{
	argc = sipsctl_take_json(ctl, argc, argv);
	if (argc != 3 || strcmp(argv[1], "close") != 0 || strspn(argv[2], "0123456789") != strlen(argv[2]) ||
	    !argv[2][0]) {
		fprintf(stderr, "usage: sipsctl conn close ID\n");
		return SIPSCTL_USAGE;
	}
	char path[64];
	snprintf(path, sizeof(path), "/connections/%s", argv[2]);
	struct json_val *v;
	int rc = sipsctl_api(ctl, "DELETE", path, NULL, 0, &v);
	if (!rc && !ctl->json)
		printf("closed connection %s\n", argv[2]);
	json_free(v);
	return rc;
}

static void conn_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl conn close ID   (close_notify, then close)\n");
}

const struct sipsctl_group sipsctl_group_conn = {
	.name = "conn",
	.summary = "close ID: close one connection",
	.run = conn_run,
	.usage = conn_usage,
};

/* ---- peers ---- */

static void peers_usage(FILE *f);

static int peers_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (sipsctl_extra_args(sipsctl_take_json(ctl, argc, argv), argv, 1, peers_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", "/peers", NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	/* The Mediatrix "TLS Persistent Connections Status" table, plus why a link is down. */
	static const char *const h[] = { "GATEWAY", "LOCAL PORT", "REMOTE HOST", "REMOTE IP ADDRESS", "STATE",
					 "CONNECTS", "FAILURES", "LAST ERROR" };
	struct sipsctl_table *t = sipsctl_table_new(h, 8);
	const struct json_val *ps = json_get(v, "peers");
	for (size_t i = 0; ps && ps->type == JSON_ARR && i < ps->n; i++) {
		const struct json_val *x = &ps->kids[i];
		char lp[16], rh[300], cn[16], fl[16], port[16];
		num(lp, sizeof(lp), x, "local_port");
		num(port, sizeof(port), x, "remote_port");
		snprintf(rh, sizeof(rh), "%s:%s", s_(x, "remote_host"), port);
		num(cn, sizeof(cn), x, "connects");
		num(fl, sizeof(fl), x, "failures");
		const char *st = s_(x, "state");
		char state[16];
		snprintf(state, sizeof(state), "%c%s", st[0] ? (char)(st[0] - 32 * (st[0] >= 'a' && st[0] <= 'z')) : '-',
			 st[0] ? st + 1 : "");
		const char *row[] = { s_(x, "name"), strcmp(lp, "0") ? lp : "any", rh, s_(x, "remote_addr"), state, cn,
				      fl, s_(x, "last_error") };
		sipsctl_table_add(t, row);
	}
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	json_free(v);
	return SIPSCTL_OK;
}

static void peers_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl peers [--json]\n");
}

const struct sipsctl_group sipsctl_group_peers = {
	.name = "peers",
	.summary = "persistent peer links (TLS persistent connections status)",
	.run = peers_run,
	.usage = peers_usage,
};

/* ---- regs ---- */

static void regs_usage(FILE *f);

static int regs_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (sipsctl_extra_args(sipsctl_take_json(ctl, argc, argv), argv, 1, regs_usage))
		return SIPSCTL_USAGE;
	struct json_val *v;
	int rc = sipsctl_api(ctl, "GET", "/registrations", NULL, 0, &v);
	if (rc || ctl->json) {
		json_free(v);
		return rc;
	}
	static const char *const h[] = { "AOR", "CONTACT", "TRANSPORT", "CONN", "EXPIRES", "USER AGENT", "CERT IDENTITY" };
	struct sipsctl_table *t = sipsctl_table_new(h, 7);
	const struct json_val *rs = json_get(v, "registrations");
	for (size_t i = 0; rs && rs->type == JSON_ARR && i < rs->n; i++) {
		const struct json_val *x = &rs->kids[i];
		char conn[64], ex[32];
		num(conn, sizeof(conn), x, "conn_id");
		if (json_get_bool(x, "flow_failed", false)) {
			size_t n = strlen(conn);
			snprintf(conn + n, sizeof(conn) - n, " (failed)");
		}
		num(ex, sizeof(ex), x, "expires_s");
		const char *row[] = { s_(x, "aor"), s_(x, "contact"), s_(x, "transport"), conn, ex, s_(x, "user_agent"),
				      s_(x, "cert_identity") };
		sipsctl_table_add(t, row);
	}
	sipsctl_table_print(t, stdout);
	sipsctl_table_free(t);
	json_free(v);
	return SIPSCTL_OK;
}

static void regs_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl regs [--json]\n");
}

const struct sipsctl_group sipsctl_group_regs = {
	.name = "regs",
	.summary = "registered contacts (AOR, contact, flow, expires, certificate identity)",
	.run = regs_run,
	.usage = regs_usage,
};
