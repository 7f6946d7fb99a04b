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
};

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

#endif
