#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "base/log.h"
#include "base/mem.h"
#include "proxy/proxy.h"
#include "registrar/location.h"
#include "registrar/registrar.h"
#include "store/store.h"
#include "sip/limits.h"
#include "transport/transport.h"

struct app_workers {
	unsigned n;
	struct tp_pool *pool;
	pthread_t *th;
	bool *started;
	struct tls_holder **peer_tls; /* per [peer:NAME] */
	struct location *location;
	struct store *store;         /* registrar wiring (issue 5) */
	struct registrar *registrar;
	struct proxy *proxy;
};

static void *worker_main(void *arg)
{
	tp_worker_run(arg);
	return NULL;
}

static void workers_free(struct app_workers *ws)
{
	mem_deref(ws->proxy);
	registrar_close(ws->registrar);
	mem_deref(ws->registrar);
	if (ws->store)
		store_close(ws->store);
	mem_deref(ws->store);
	mem_deref(ws->pool);
	mem_deref(ws->location);
	free(ws->peer_tls);
	free(ws->th);
	free(ws->started);
	free(ws);
}

int app_workers_start(const struct conf *conf, struct app_tls *tls, struct app_workers **wsp)
{
	unsigned n = conf->global.workers;
	if (n == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		n = cores > 0 ? (unsigned)cores : 1;
	}
	struct app_workers *ws = calloc(1, sizeof(*ws));
	if (!ws)
		return ENOMEM;
	if (n > TP_MAX_WORKERS)
		n = TP_MAX_WORKERS;
	ws->th = calloc(n, sizeof(*ws->th));
	ws->started = calloc(n, sizeof(*ws->started));
	if (!ws->th || !ws->started) {
		workers_free(ws);
		return ENOMEM;
	}
	ws->n = n;
	ws->peer_tls = calloc(conf->npeers + 1, sizeof(*ws->peer_tls));
	if (!ws->peer_tls || location_alloc(&ws->location)) {
		workers_free(ws);
		return ENOMEM;
	}
	struct tp_settings set = {
		.max_message_size = conf->global.limits.max_message_size,
		.handshake_timeout = 10,
	};
	int err = tp_pool_alloc(&ws->pool, n, &set, proxy_recv, NULL);
	for (unsigned i = 0; i < n && !err; i++) {
		for (size_t k = 0; k < conf->nifaces && !err; k++) {
			const struct conf_interface *ifc = &conf->ifaces[k];
			for (size_t j = 0; j < ifc->nlisten && !err; j++) {
				struct tp_listen_spec spec = {
					.iface = ifc->name,
					.listen = ifc->listen[j],
					.mutual_auth = ifc->mutual_auth,
					.idle_timeout = ifc->idle_timeout,
					.tls = app_tls_sni_set(tls, ifc->name),
				};
				err = tp_worker_listen(tp_pool_worker(ws->pool, i), &spec);
			}
		}
	}
	/* Peers: the proxy starts their links (persistent hosts, on worker 0) with these contexts. */
	for (size_t k = 0; k < conf->npeers && !err; k++)
		ws->peer_tls[k] = conf->peers[k].tls ? app_tls_holder(tls, conf->peers[k].tls) : NULL;
	/* Registrar wiring (issue 5): the store runs its own thread so SQLite never stalls a loop;
	 * the registrar loads the stored bindings into the location service before we listen. */
	if (!err) {
		struct store_opts so = { .backend = STORE_BACKEND_SQLITE, .path = conf->store.path, .thread = true,
					 .sync_normal = !conf->store.sync_full,
					 .commit_window_us = conf->store.commit_window_us };
		err = store_open(&ws->store, &so);
	}
	if (!err) {
		/* 5 s: the authenticated REGISTER follows its 401 within milliseconds; a sipsctl change
		 * reaches the registrar within that bound (docs/registrar.md). */
		struct registrar_settings rs = { .conf = conf, .store = ws->store, .location = ws->location,
						 .user_cache_ttl = 5 };
		err = registrar_alloc(&ws->registrar, &rs);
	}
	if (!err) {
		struct proxy_settings pset = {
			.conf = conf,
			.location = ws->location,
			.pool = ws->pool,
			.peer_tls = ws->peer_tls,
			.registerh = registrar_handle,
			.register_arg = ws->registrar,
			.authorizeh = registrar_authorize,
			.authorize_arg = ws->registrar,
			.user_known = registrar_user_known,
			.user_known_arg = ws->registrar,
		};
		err = proxy_alloc(&ws->proxy, &pset);
	}
	if (err) {
		workers_free(ws);
		return err;
	}
	tp_pool_set_handler(ws->pool, proxy_recv, ws->proxy);
	tp_pool_set_closed_handler(ws->pool, proxy_conn_closed, ws->proxy);
	/* Signals belong to the main thread's loop; workers never see them. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&ws->th[i], NULL, worker_main, tp_pool_worker(ws->pool, i)) == 0)
			ws->started[i] = true;
		else
			log_err("sipsd.thread_failed", "worker=%u", i);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	log_info("sipsd.workers_started", "workers=%u", n);
	*wsp = ws;
	return 0;
}

void app_workers_stop(struct app_workers *ws, unsigned timeout_ms)
{
	if (!ws)
		return;
	/* Registrar wiring (issue 5): finish queued store writes while the loops still run to take
	 * their completions (store.h), then stop the workers. */
	registrar_close(ws->registrar);
	if (ws->store)
		store_close(ws->store);
	for (unsigned i = 0; i < ws->n; i++)
		tp_worker_stop(tp_pool_worker(ws->pool, i), timeout_ms);
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000 + 2;
	bool all_joined = true;
	for (unsigned i = 0; i < ws->n; i++) {
		if (ws->started[i] && pthread_timedjoin_np(ws->th[i], NULL, &deadline) != 0) {
			log_err("sipsd.stop_timeout", "worker=%u", i);
			all_joined = false;
		}
	}
	/* A worker stuck past the bound still owns its loop: leave it to process exit. */
	if (all_joined)
		workers_free(ws);
}

/* Management API glue (issue 8): what the endpoints read. */
struct tp_pool *app_workers_pool(struct app_workers *ws)
{
	return ws ? ws->pool : NULL;
}

struct location *app_workers_location(struct app_workers *ws)
{
	return ws ? ws->location : NULL;
}

struct proxy *app_workers_proxy(struct app_workers *ws)
{
	return ws ? ws->proxy : NULL;
}

struct registrar *app_workers_registrar(struct app_workers *ws)
{
	return ws ? ws->registrar : NULL;
}
