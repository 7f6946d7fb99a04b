/* sipsctl: one command group per file (cmd_user.c, later cmd_status.c, cmd_connections.c...),
 * each a struct sipsctl_group listed in main.c's table. Groups that work on the database get it
 * from sipsctl_store(); groups that talk to the management API will get a client the same way. */
#ifndef SIPSD_SIPSCTL_H
#define SIPSD_SIPSCTL_H

#include <stdbool.h>
#include <stdio.h>

struct store;
struct conf;

enum { SIPSCTL_OK = 0, SIPSCTL_FAIL = 1, SIPSCTL_USAGE = 2 };

struct sipsctl {
	const char *conf_path;  /* -c, --config */
	const char *store_path; /* --store: overrides [store] path */
	struct conf *conf;      /* loaded on first use */
	struct store *store;    /* opened on first use */
	/* management API: the Unix socket (default) or the HTTPS endpoint with mutual TLS */
	const char *socket_path; /* -s, --socket; else [mgmt] socket of -c; else the default */
	const char *url;         /* --url https://HOST:PORT */
	const char *cert, *key, *ca; /* --cert --key --ca for --url */
	unsigned timeout_s;      /* --timeout, default 10 */
	bool json;               /* --json: raw JSON instead of tables */
};

#define SIPSCTL_DEFAULT_SOCKET "/run/sipsd/sipsd.sock"

/* One API call. status: HTTP status (0 when no answer); *body: malloc'd, NUL-terminated.
 * Prints why on transport failure and returns an errno; 0 once an HTTP answer came. */
int sipsctl_http(struct sipsctl *ctl, const char *method, const char *path, const char *ctype,
		 const char *body, size_t blen, int *status, char **resp, size_t *resplen);
struct json_val;
/* API call expecting JSON: prints the API's error message and returns SIPSCTL_FAIL unless the
 * status is 2xx; with --json prints the body as it came (and *vp is still set). */
int sipsctl_api(struct sipsctl *ctl, const char *method, const char *path, const char *body, size_t blen,
		struct json_val **vp);
/* Removes "--json" from argv (sets ctl->json); returns the new argc. */
int sipsctl_take_json(struct sipsctl *ctl, int argc, char **argv);
/* True, after saying so with the usage on stderr, when argv has arguments from index first on:
 * commands that take none refuse them rather than ignore a mistyped option. */
bool sipsctl_extra_args(int argc, char **argv, int first, void (*usage)(FILE *f));

/* Aligned text tables. */
struct sipsctl_table;
struct sipsctl_table *sipsctl_table_new(const char *const *headers, size_t ncols);
void sipsctl_table_add(struct sipsctl_table *t, const char *const *cells);
void sipsctl_table_print(struct sipsctl_table *t, FILE *f);
void sipsctl_table_free(struct sipsctl_table *t);

/* The store named by --store or the configuration's [store] path; prints why on failure. */
int sipsctl_store(struct sipsctl *ctl, struct store **sp);

struct sipsctl_group {
	const char *name;
	const char *summary;
	/* argv[0] is the group name; returns SIPSCTL_* */
	int (*run)(struct sipsctl *ctl, int argc, char **argv);
	void (*usage)(FILE *f);
};

extern const struct sipsctl_group sipsctl_group_user;
extern const struct sipsctl_group sipsctl_group_status, sipsctl_group_reload, sipsctl_group_connections,
	sipsctl_group_conn, sipsctl_group_peers, sipsctl_group_regs, sipsctl_group_certs, sipsctl_group_trust,
	sipsctl_group_keylog, sipsctl_group_pki, sipsctl_group_probe;

#endif
