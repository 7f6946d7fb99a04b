/* Private to the app's management glue (mgmt_endpoints.c, mgmt_certs.c). */
#ifndef SIPSD_APP_MGMT_INTERNAL_H
#define SIPSD_APP_MGMT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "app/app.h"
#include "mgmt/mgmt.h"

struct tls_ctx;

enum { APP_MGMT_ALARMS = 1024, APP_MGMT_MAX_CTX = 64 };

struct app_alarm {
	char key[300];     /* "own|<sha256>" or "peer|<subject>|<notAfter>" */
	unsigned fired;    /* bit i: threshold i of [mgmt] expiry_alarm_days reported */
	time_t seen;
};

struct app_keylog {
	char context[64];
	bool active;
	char file[512];
	time_t until;
	struct tls_ctx *ctx; /* the context it was switched on for (reload makes a new one) */
};

struct app_mgmt {
	struct mgmt *srv;
	struct app_tls *tls;
	struct app_workers *ws;
	struct app_mgmt_hooks hooks;
	time_t started;
	struct app_alarm alarms[APP_MGMT_ALARMS];
	struct app_keylog keylog[APP_MGMT_MAX_CTX];
	size_t nkeylog;
};

/* mgmt_certs.c */
void app_mgmt_certs_register(struct app_mgmt *am);
/* Reload through the daemon's serialized SIGHUP path; writes the error text on failure. */
int app_mgmt_reload(struct app_mgmt *am, char *why, size_t whysz);

#endif
