/* sipsctl [GLOBAL OPTIONS] GROUP COMMAND [ARGS]: dispatch to the command groups. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/slice.h"
#include "conf/conf.h"
#include "sipsctl.h"
#include "store/store.h"

static const struct sipsctl_group *const groups[] = {
	&sipsctl_group_status, &sipsctl_group_connections, &sipsctl_group_conn,   &sipsctl_group_peers,
	&sipsctl_group_certs,  &sipsctl_group_trust,       &sipsctl_group_regs,   &sipsctl_group_reload,
	&sipsctl_group_keylog, &sipsctl_group_user,        &sipsctl_group_pki,    &sipsctl_group_probe,
};

#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: sipsctl [-c CONFIG | --store FILE] [-s SOCKET | --url URL --cert F --key F --ca F]\n"
		   "               GROUP COMMAND [ARGS]\n"
		   "\n"
		   "  -c, --config FILE  sipsd configuration (gives [store] path and [mgmt] socket)\n"
		   "      --store FILE   database file, instead of the configuration's\n"
		   "  -s, --socket PATH  management API socket (default [mgmt] socket, else " SIPSCTL_DEFAULT_SOCKET ")\n"
		   "      --url URL      HTTPS management API (https://HOST:PORT), mutual TLS with:\n"
		   "      --cert FILE --key FILE --ca FILE\n"
		   "      --timeout S    API timeout (default 10)\n"
		   "      --json         JSON output for scripts (also accepted after the command)\n"
		   "  -h, --help         this help; 'sipsctl GROUP --help' for a group\n"
		   "  -V, --version\n"
		   "\ngroups:\n");
	for (size_t i = 0; i < NGROUPS; i++)
		fprintf(f, "  %-12s %s\n", groups[i]->name, groups[i]->summary);
}

int sipsctl_store(struct sipsctl *ctl, struct store **sp)
{
	if (ctl->store) {
		*sp = ctl->store;
		return 0;
	}
	const char *path = ctl->store_path;
	if (!path && ctl->conf_path) {
		struct conf_error err;
		memset(&err, 0, sizeof(err));
		int e = conf_load(ctl->conf_path, &ctl->conf, &err);
		if (e) {
			fprintf(stderr, "sipsctl: ");
			conf_error_print(&err, stderr);
			return e;
		}
		path = ctl->conf->store.path;
	}
	if (!path) {
		fprintf(stderr, "sipsctl: no database: give -c CONFIG or --store FILE\n");
		return EINVAL;
	}
	/* no store thread: a tool runs one request at a time */
	struct store_opts o = { .backend = STORE_BACKEND_SQLITE, .path = path };
	int e = store_open(&ctl->store, &o);
	if (e) {
		fprintf(stderr, "sipsctl: cannot open database %s: %s\n", path, strerror(e));
		return e;
	}
	*sp = ctl->store;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "store", required_argument, NULL, 'S' },
		{ "socket", required_argument, NULL, 's' },
		{ "url", required_argument, NULL, 'u' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "ca", required_argument, NULL, 'A' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct sipsctl ctl = { 0 };
	int o;
	log_setup(LOG_LVL_WARN, LOG_TO_STDERR, "sipsctl");
	/* '+': stop at the group name; what follows belongs to the group */
	while ((o = getopt_long(argc, argv, "+c:s:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'c': ctl.conf_path = optarg; break;
		case 'S': ctl.store_path = optarg; break;
		case 's': ctl.socket_path = optarg; break;
		case 'u': ctl.url = optarg; break;
		case 'C': ctl.cert = optarg; break;
		case 'K': ctl.key = optarg; break;
		case 'A': ctl.ca = optarg; break;
		case 'T': {
			uint64_t t = 0;
			if (!slice_to_u64(slice_from_cstr(optarg), 3600, &t) || t == 0) {
				fprintf(stderr, "sipsctl: bad --timeout '%s' (seconds, 1 to 3600)\n", optarg);
				return SIPSCTL_USAGE;
			}
			ctl.timeout_s = (unsigned)t;
			break;
		}
		case 'J': ctl.json = true; break;
		case 'h': usage(stdout); return SIPSCTL_OK;
		case 'V': printf("sipsctl %s\n", SIPSD_VERSION); return SIPSCTL_OK;
		default: usage(stderr); return SIPSCTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return SIPSCTL_USAGE;
	}
	const struct sipsctl_group *g = NULL;
	for (size_t i = 0; i < NGROUPS; i++)
		if (strcmp(argv[optind], groups[i]->name) == 0)
			g = groups[i];
	if (!g) {
		fprintf(stderr, "sipsctl: unknown group '%s'\n", argv[optind]);
		usage(stderr);
		return SIPSCTL_USAGE;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0; /* glibc: re-initialise getopt for the group's own parsing */
	int rc = g->run(&ctl, sub_argc, sub_argv);
	store_close(ctl.store);
	mem_deref(ctl.store);
	mem_deref(ctl.conf);
	return rc;
}
