/* sipsd: arguments, configuration, wiring of the layers, signals and reload. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "app/app.h"
#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"

enum { EXIT_CONFIG = 2 };

static void usage(FILE *f)
{
	fprintf(f, "usage: sipsd -c FILE [-f]       run in the foreground with FILE\n"
		   "       sipsd --check-config FILE  validate FILE (and its certificates) and exit\n"
		   "       sipsd --version\n"
		   "options:\n"
		   "  -c, --config FILE   configuration file (INI, see docs/config.md)\n"
		   "  -f, --foreground    stay in the foreground (the only mode; systemd Type=simple)\n"
		   "  -t, --check-config  validate and exit: 0 good, 2 bad (file:line: reason on stderr)\n");
}

/* Loads and cross-checks everything a config names, opening no socket. */
static int load_checked(const char *path, struct conf **confp, struct app_tls **tlsp)
{
	struct conf *conf = NULL;
	struct conf_error err = { 0 };
	int e = conf_load(path, &conf, &err);
	if (e) {
		conf_error_print(&err, stderr);
		return e;
	}
	struct app_tls *tls = NULL;
	e = app_tls_build(conf, &tls, &err);
	if (e) {
		conf_error_print(&err, stderr);
		mem_deref(conf);
		return e;
	}
	*confp = conf;
	*tlsp = tls;
	return 0;
}

struct app {
	struct conf *conf;
	struct app_tls *tls;
	struct event_base *base;
	struct app_workers *workers;
	struct app_mgmt *mgmt;
	const char *path;
	/* SIGHUP (main thread) and the management API (its thread) reload through app_reload();
	 * the lock serializes them and guards app->conf. */
	pthread_mutex_t lock;
};

static int app_reload(struct app *app, struct conf_error *err)
{
	pthread_mutex_lock(&app->lock);
	log_notice("config.reload_started", "file=%s", app->path);
	struct conf *conf = NULL;
	int e = conf_load(app->path, &conf, err);
	if (!e)
		e = app_tls_reload(app->tls, conf, err);
	if (e) {
		/* Keep running with what we have: a typo must not take the edge down. */
		log_err("config.reload_failed", "file=%s line=%u error=\"%s\" action=\"kept running configuration\"",
			err->file, err->line, err->msg);
		mem_deref(conf);
		pthread_mutex_unlock(&app->lock);
		return e;
	}
	log_setup(conf->log.level, conf->log.target, "sipsd");
	mem_deref(app->conf);
	app->conf = conf;
	log_notice("config.reloaded", "file=%s", app->path);
	pthread_mutex_unlock(&app->lock);
	return 0;
}

static void reload_h(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	struct conf_error err = { 0 };
	app_reload(arg, &err);
}

static int mgmt_reload_h(void *arg, struct conf_error *err)
{
	return app_reload(arg, err);
}

static struct conf *mgmt_conf_h(void *arg)
{
	struct app *app = arg;
	pthread_mutex_lock(&app->lock);
	struct conf *c = mem_ref(app->conf);
	pthread_mutex_unlock(&app->lock);
	return c;
}

static void stop_h(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct app *app = arg;
	log_notice("sipsd.stopping", "signal=%s timeout_s=%u", sig == SIGTERM ? "TERM" : "INT",
		   app->conf->global.shutdown_timeout);
	event_base_loopexit(app->base, NULL);
}

static int run(const char *path)
{
	struct app app = { .path = path, .lock = PTHREAD_MUTEX_INITIALIZER };
	if (load_checked(path, &app.conf, &app.tls))
		return EXIT_CONFIG;
	log_setup(app.conf->log.level, app.conf->log.target, "sipsd");
	signal(SIGPIPE, SIG_IGN);

	int rc = 0;
	app.base = event_base_new();
	struct event *sighup = evsignal_new(app.base, SIGHUP, reload_h, &app);
	struct event *sigterm = evsignal_new(app.base, SIGTERM, stop_h, &app);
	struct event *sigint = evsignal_new(app.base, SIGINT, stop_h, &app);
	if (!app.base || !sighup || !sigterm || !sigint || event_add(sighup, NULL) || event_add(sigterm, NULL) ||
	    event_add(sigint, NULL)) {
		log_err("sipsd.start_failed", "error=\"event setup\"");
		rc = 1;
		goto out;
	}
	if (app_workers_start(app.conf, app.tls, &app.workers)) {
		rc = 1;
		goto out;
	}
	struct app_mgmt_hooks mh = { .conf_get = mgmt_conf_h, .reload = mgmt_reload_h, .arg = &app };
	if (app_mgmt_start(app.conf, app.tls, app.workers, &mh, &app.mgmt)) {
		app_workers_stop(app.workers, 0);
		app.workers = NULL;
		rc = 1;
		goto out;
	}
	log_notice("sipsd.started", "version=%s config=%s pid=%ld", SIPSD_VERSION, path, (long)getpid());
	event_base_dispatch(app.base);
	app_mgmt_stop(app.mgmt); /* before the workers: the API posts jobs to them */
	app.mgmt = NULL;
	app_workers_stop(app.workers, app.conf->global.shutdown_timeout * 1000u);
	app.workers = NULL;
	log_notice("sipsd.stopped", "pid=%ld", (long)getpid());
out:
	if (sighup)
		event_free(sighup);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (app.base)
		event_base_free(app.base);
	mem_deref(app.tls);
	mem_deref(app.conf);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool check = false;
	int o;
	while ((o = getopt_long(argc, argv, "c:ftVh", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("sipsd %s\n", SIPSD_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_CONFIG;
		}
	}
	/* --check-config FILE: the file may follow as a plain argument. */
	if (!path && optind < argc)
		path = argv[optind++];
	if (!path || optind != argc) {
		usage(stderr);
		return EXIT_CONFIG;
	}
	if (evthread_use_pthreads() < 0) {
		fprintf(stderr, "sipsd: libevent thread support unavailable\n");
		return 1;
	}
	if (check) {
		struct conf *conf = NULL;
		struct app_tls *tls = NULL;
		if (load_checked(path, &conf, &tls))
			return EXIT_CONFIG;
		printf("%s: configuration OK (%zu TLS contexts, %zu interfaces, %zu peers)\n", path, conf->ntls,
		       conf->nifaces, conf->npeers);
		mem_deref(tls);
		mem_deref(conf);
		return 0;
	}
	return run(path);
}
