/* sipsbench: a mutual-TLS SIP load generator (libevent + OpenSSL, one event loop per thread).
 *
 * Always bounded: the run phase stops after --duration seconds (default 10) and/or --count
 * operations, setup after --setup-timeout, idle holds for --hold; loopback targets only unless
 * --allow-remote. See usage() and bench/README.md. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

_Atomic int g_phase = PH_SETUP;
SSL_CTX **g_ctxs;
size_t g_nctx;
static volatile sig_atomic_t g_interrupted;

uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipsbench SCENARIO [options]\n"
		"scenarios:\n"
		"  handshake   new mutual-TLS connection, OPTIONS -> 200, close_notify (one op each)\n"
		"  resume      the same, resuming the UA's last session (--tls-version 1.3 tickets/cache,\n"
		"              1.2 session IDs); sessions are seeded by one full handshake per UA first\n"
		"  register    --uas persistent connections; REGISTER -> 401 -> REGISTER+digest -> 200\n"
		"  call        --uas/2 registered pairs; INVITE/100/180/200/ACK/BYE/200 via the proxy\n"
		"  idle        open and register (--no-register: OPTIONS) --uas connections, hold --hold s\n"
		"target and identity:\n"
		"  -t, --target HOST:PORT     server (default 127.0.0.1:5061; loopback only)\n"
		"      --allow-remote         permit a non-loopback target or source\n"
		"  -s, --src A[-B][,C...]     source addresses, e.g. 127.0.0.2-127.0.0.50 (bound before connect)\n"
		"      --cert FILE --key FILE one client certificate for every UA\n"
		"      --cert-dir DIR         NAME.pem + NAME.key pairs; UA i uses the i-th (natural order)\n"
		"      --ca FILE              verify the server against this CA (else no verification)\n"
		"      --auto-chain           also send the CA certificates of --ca that complete the UA's\n"
		"                             chain (OpenSSL's client default); by default a UA sends\n"
		"                             exactly the chain its certificate file holds\n"
		"      --servername NAME      SNI\n"
		"      --tls-version 1.2|1.3  pin the TLS version (default: 1.2..1.3)\n"
		"      --groups LIST          key exchange groups (OpenSSL list, default OpenSSL's)\n"
		"      --domain D             SIP domain (default localhost)\n"
		"      --user-prefix P        user names P0..PN-1 (default user)\n"
		"      --password PW          digest password (default secret)\n"
		"      --digest-alg MD5|SHA-256  preferred challenge when several are offered\n"
		"      --contact-sip          Contact sip:...;transport=tls instead of sips:\n"
		"load:\n"
		"  -r, --rate R|A-B           ops per second (0 = closed loop), or a ramp from A to B\n"
		"  -c, --max-inflight N       concurrent operations (default 64)\n"
		"  -d, --duration S           run phase seconds (default 10; idle: time to open all)\n"
		"  -n, --count N              stop after N ops (and/or --duration)\n"
		"  -u, --uas N                UAs: persistent connections or resume slots (default 100)\n"
		"  -T, --threads N            worker threads (default 1)\n"
		"      --timeout S            per-operation timeout (default 5)\n"
		"      --setup-timeout S      bound on the setup phase (default 120)\n"
		"      --hold S               idle: seconds to hold the connections (default 5)\n"
		"      --no-register          idle: OPTIONS instead of REGISTER\n"
		"output:\n"
		"  -p, --server-pid PID       sample the server's CPU (utime+stime), context switches, page\n"
		"                             faults and RSS/PSS from /proc (the process and its children)\n"
		"      --json                 JSON result on stdout (summary goes to stderr)\n"
		"      --no-progress          no live line even on a terminal\n");
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-')
		return false;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
	return false;
}

static bool parse_target(const char *s, struct opts *o)
{
	char host[64];
	const char *port;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return false;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		port = rb + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(host))
			return false;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	uint64_t p;
	if (!parse_u64(port, 1, 65535, &p))
		return false;
	memset(&o->dst, 0, sizeof(o->dst));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&o->dst;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&o->dst;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		o->dstlen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		o->dstlen = sizeof(*s6);
	} else {
		return false; /* addresses only: no DNS, so nothing leaves the box by surprise */
	}
	snprintf(o->target, sizeof(o->target), "%s", s);
	return true;
}

static bool add_src(struct opts *o, const struct sockaddr_storage *ss)
{
	if (o->nsrc >= 65536)
		return false;
	struct sockaddr_storage *n = realloc(o->srcs, (o->nsrc + 1) * sizeof(*n));
	if (!n)
		return false;
	o->srcs = n;
	o->srcs[o->nsrc++] = *ss;
	return true;
}

/* "127.0.0.2-127.0.0.50,127.0.1.1" or "::1" */
static bool parse_src(const char *arg, struct opts *o)
{
	char buf[256];
	if (strlen(arg) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *tok = buf, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = '\0';
		struct sockaddr_storage ss;
		memset(&ss, 0, sizeof(ss));
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		struct in_addr a, b;
		if (inet_pton(AF_INET, tok, &a) == 1) {
			b = a;
			if (dash && inet_pton(AF_INET, dash + 1, &b) != 1)
				return false;
			uint32_t lo = ntohl(a.s_addr), hi = ntohl(b.s_addr);
			if (hi < lo || hi - lo > 65535)
				return false;
			for (uint32_t x = lo; x <= hi; x++) {
				struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
				s4->sin_family = AF_INET;
				s4->sin_addr.s_addr = htonl(x);
				if (!add_src(o, &ss))
					return false;
			}
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			if (dash || inet_pton(AF_INET6, tok, &s6->sin6_addr) != 1)
				return false;
			s6->sin6_family = AF_INET6;
			if (!add_src(o, &ss))
				return false;
		}
	}
	return o->nsrc > 0;
}

/* ------------------------------------------------------------- TLS contexts */

static int natural_cmp(const void *pa, const void *pb)
{
	const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
	while (*a && *b) {
		if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
			char *ea, *eb;
			unsigned long long x = strtoull(a, &ea, 10), y = strtoull(b, &eb, 10);
			if (x != y)
				return x < y ? -1 : 1;
			a = ea;
			b = eb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

/* CPU seconds of this process (all its threads) so far. */
static double self_cpu_s(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static SSL_CTX *make_ctx(const struct opts *o, const char *cert, const char *key, X509_STORE *store)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	int minv = TLS1_2_VERSION, maxv = TLS1_3_VERSION;
	if (o->tls_version == 12)
		maxv = TLS1_2_VERSION;
	if (o->tls_version == 13)
		minv = TLS1_3_VERSION;
	SSL_CTX_set_min_proto_version(ctx, minv);
	SSL_CTX_set_max_proto_version(ctx, maxv);
	/* TLS 1.2: resume by session ID, which is what the benchmark measures (no tickets). */
	if (o->tls_version == 12)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
				      /* a UA sends the chain it was given, not the root from --ca too */
				      (o->auto_chain ? 0 : SSL_MODE_NO_AUTO_CHAIN));
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* we keep sessions per UA */
	/* One read() takes whatever arrived rather than a record header, then its body (conn.c's
	 * conn_read stops at a short read): the client's syscalls per message, and so its CPU,
	 * stay low enough to load a server that is faster than it. */
	SSL_CTX_set_read_ahead(ctx, 1);
	if (o->groups && SSL_CTX_set1_groups_list(ctx, o->groups) != 1) {
		fprintf(stderr, "sipsbench: bad --groups %s\n", o->groups);
		goto fail;
	}
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1) {
			fprintf(stderr, "sipsbench: cannot load %s / %s\n", cert, key);
			ERR_print_errors_fp(stderr);
			goto fail;
		}
	}
	if (store) {
		SSL_CTX_set1_cert_store(ctx, store);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

#define MAX_CERTS 100000

static bool load_ctxs(const struct opts *o)
{
	X509_STORE *store = NULL;
	if (o->ca) {
		store = X509_STORE_new();
		if (!store || X509_STORE_load_file(store, o->ca) != 1) {
			fprintf(stderr, "sipsbench: cannot load CA %s\n", o->ca);
			X509_STORE_free(store);
			return false;
		}
	}
	bool ok = false;
	if (o->cert_dir) {
		DIR *d = opendir(o->cert_dir);
		if (!d) {
			fprintf(stderr, "sipsbench: cannot open %s: %s\n", o->cert_dir, strerror(errno));
			goto out;
		}
		char **names = NULL;
		size_t n = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL && n < MAX_CERTS) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".pem") != 0 || strcmp(de->d_name, "ca.pem") == 0)
				continue;
			char kp[4096];
			snprintf(kp, sizeof(kp), "%s/%.*s.key", o->cert_dir, (int)(l - 4), de->d_name);
			if (access(kp, R_OK) != 0)
				continue;
			char **nn = realloc(names, (n + 1) * sizeof(*nn));
			if (!nn)
				break;
			names = nn;
			if (!(names[n] = strndup(de->d_name, l - 4)))
				break;
			n++;
		}
		closedir(d);
		if (n)
			qsort(names, n, sizeof(*names), natural_cmp);
		g_ctxs = calloc(n ? n : 1, sizeof(*g_ctxs));
		for (size_t i = 0; g_ctxs && i < n; i++) {
			char cp[4096], kp[4096];
			snprintf(cp, sizeof(cp), "%s/%s.pem", o->cert_dir, names[i]);
			snprintf(kp, sizeof(kp), "%s/%s.key", o->cert_dir, names[i]);
			g_ctxs[g_nctx] = make_ctx(o, cp, kp, store);
			if (!g_ctxs[g_nctx])
				break;
			g_nctx++;
		}
		ok = g_nctx == n && n > 0;
		if (n == 0)
			fprintf(stderr, "sipsbench: no NAME.pem + NAME.key pairs in %s\n", o->cert_dir);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
	} else {
		g_ctxs = calloc(1, sizeof(*g_ctxs));
		if (g_ctxs && (g_ctxs[0] = make_ctx(o, o->cert, o->key, store)) != NULL) {
			g_nctx = 1;
			ok = true;
		}
	}
out:
	X509_STORE_free(store); /* each context holds its own reference */
	return ok;
}

/* ------------------------------------------------------------- workers */

static void launch_due(struct worker *w)
{
	const struct opts *o = w->o;
	double t = (double)(now_us() - w->run_t0_us) / 1e6;
	double due;
	if (w->rate_share_from <= 0 && w->rate_share_to <= 0) {
		due = 1e18;
	} else {
		double tt = t < o->duration ? t : o->duration;
		double slope = o->duration > 0 ? (w->rate_share_to - w->rate_share_from) / o->duration : 0;
		due = w->rate_share_from * tt + slope * tt * tt / 2 + (t - tt) * w->rate_share_to + 1;
	}
	for (int burst = 0; burst < 1024; burst++) {
		if ((double)w->launched >= due || w->inflight >= w->max_inflight)
			break;
		if (w->count_share && w->launched >= w->count_share)
			break;
		if (!w->ops->launch(w))
			break;
	}
}

static void worker_finish_check(struct worker *w)
{
	bool done = w->inflight == 0 && w->count_share && w->launched >= w->count_share;
	if (done)
		atomic_store(&w->finished, true);
}

static void tick_h(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	enum phase ph = (enum phase)atomic_load(&g_phase);
	switch (ph) {
	case PH_SETUP:
	case PH_READY:
		if (w->ops->setup)
			w->ops->setup(w);
		if (!w->ops->setup_done || w->ops->setup_done(w))
			atomic_store(&w->ready, true);
		break;
	case PH_RUN:
		if (w->seen != PH_RUN) {
			w->seen = PH_RUN;
			w->run_t0_us = now_us();
		}
		launch_due(w);
		worker_finish_check(w);
		break;
	case PH_HOLD:
		break;
	case PH_DRAIN:
		if (w->inflight == 0)
			atomic_store(&w->finished, true);
		break;
	case PH_DONE:
		scen_close_all(w);
		event_base_loopbreak(w->base);
		break;
	}
}

static void kick_h(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	(void)fd;
	(void)what;
	if (atomic_load(&g_phase) == PH_RUN && w->seen == PH_RUN) {
		launch_due(w);
		worker_finish_check(w);
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct timeval tv = { 0, 1000 };
	event_assign(&w->tick, w->base, -1, EV_PERSIST, tick_h, w);
	event_assign(&w->kick, w->base, -1, 0, kick_h, w);
	event_add(&w->tick, &tv);
	event_base_dispatch(w->base);
	event_del(&w->tick);
	return NULL;
}

/* ------------------------------------------------------------- reporting */

static void sum_stats(struct worker *ws, unsigned n, struct stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++)
		stats_merge(out, &ws[i].st);
}

static void on_signal(int sig)
{
	(void)sig;
	g_interrupted = 1;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static const char *phase_name(int ph)
{
	static const char *const n[] = { "setup", "ready", "run", "hold", "drain", "done" };
	return (ph >= 0 && ph <= PH_DONE) ? n[ph] : "?";
}

struct progress {
	bool on;
	uint64_t t0, last_t, last_ops;
};

static void progress_line(struct progress *p, struct worker *ws, unsigned n, int ph)
{
	if (!p->on)
		return;
	uint64_t t = now_us();
	if (t - p->last_t < 1000000)
		return;
	struct stats *s = calloc(1, sizeof(*s));
	if (!s)
		return;
	sum_stats(ws, n, s);
	double dt = (double)(t - p->last_t) / 1e6;
	double rate = (double)(s->ops - p->last_ops) / dt;
	fprintf(stderr, "\r\033[K[%6.1fs] %-5s ops=%llu rate=%.0f/s err=%llu p50=%.2fms open=%llu setup=%llu",
		(double)(t - p->t0) / 1e6, phase_name(ph), (unsigned long long)s->ops, rate,
		(unsigned long long)stats_errors(s), (double)hist_quantile(&s->lat, 0.5) / 1000.0,
		(unsigned long long)s->open_conns, (unsigned long long)s->setup_ok);
	fflush(stderr);
	p->last_t = t;
	p->last_ops = s->ops;
	free(s);
}

static bool all_flag(struct worker *ws, unsigned n, bool ready)
{
	for (unsigned i = 0; i < n; i++) {
		if (!atomic_load(ready ? &ws[i].ready : &ws[i].finished))
			return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.rate_from = 0, .rate_to = 0, .max_inflight = 64, .duration = 10, .threads = 1, .uas = 100,
		.domain = "localhost", .user_prefix = "user", .password = "secret", .hold = 5,
		.timeout = 5, .setup_timeout = 120,
	};
	bool progress = true, target_set = false, duration_set = false;
	enum {
		O_CERT = 256, O_KEY, O_CERTDIR, O_CA, O_SNI, O_TLSV, O_GROUPS, O_DOMAIN, O_UPFX, O_PW,
		O_DALG, O_TIMEOUT, O_SETUP_TMO, O_HOLD, O_NOREG, O_JSON, O_NOPROG, O_REMOTE, O_CSIP, O_ACHAIN,
	};
	static const struct option lo[] = {
		{ "target", required_argument, NULL, 't' }, { "src", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' }, { "max-inflight", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 'd' }, { "count", required_argument, NULL, 'n' },
		{ "uas", required_argument, NULL, 'u' }, { "connections", required_argument, NULL, 'u' },
		{ "threads", required_argument, NULL, 'T' }, { "server-pid", required_argument, NULL, 'p' },
		{ "cert", required_argument, NULL, O_CERT }, { "key", required_argument, NULL, O_KEY },
		{ "cert-dir", required_argument, NULL, O_CERTDIR }, { "ca", required_argument, NULL, O_CA },
		{ "servername", required_argument, NULL, O_SNI },
		{ "tls-version", required_argument, NULL, O_TLSV },
		{ "groups", required_argument, NULL, O_GROUPS }, { "domain", required_argument, NULL, O_DOMAIN },
		{ "user-prefix", required_argument, NULL, O_UPFX },
		{ "password", required_argument, NULL, O_PW }, { "digest-alg", required_argument, NULL, O_DALG },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "setup-timeout", required_argument, NULL, O_SETUP_TMO },
		{ "hold", required_argument, NULL, O_HOLD }, { "no-register", no_argument, NULL, O_NOREG },
		{ "json", no_argument, NULL, O_JSON }, { "no-progress", no_argument, NULL, O_NOPROG },
		{ "allow-remote", no_argument, NULL, O_REMOTE },
		{ "contact-sip", no_argument, NULL, O_CSIP }, { "auto-chain", no_argument, NULL, O_ACHAIN },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	if (argc < 2 || argv[1][0] == '-') {
		bool help = argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0);
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	static const char *const scen_names[] = { "handshake", "resume", "register", "call", "idle" };
	o.scen_name = argv[1];
	bool found = false;
	for (unsigned i = 0; i < sizeof(scen_names) / sizeof(scen_names[0]); i++) {
		if (strcmp(argv[1], scen_names[i]) == 0) {
			o.scen = (enum scen_id)i;
			found = true;
		}
	}
	if (!found) {
		fprintf(stderr, "sipsbench: unknown scenario %s\n", argv[1]);
		usage(stderr);
		return 2;
	}
	optind = 2;
	int ch;
	uint64_t u;
	while ((ch = getopt_long(argc, argv, "t:s:r:c:d:n:u:T:p:h", lo, NULL)) != -1) {
		bool ok = true;
		switch (ch) {
		case 't': ok = parse_target(optarg, &o); target_set = ok; break;
		case 's': ok = parse_src(optarg, &o); break;
		case 'r': {
			const char *dash = strchr(optarg, '-');
			if (dash) {
				char a[32];
				ok = (size_t)(dash - optarg) < sizeof(a);
				if (ok) {
					memcpy(a, optarg, (size_t)(dash - optarg));
					a[dash - optarg] = '\0';
					ok = parse_double(a, 0, 1e7, &o.rate_from) &&
					     parse_double(dash + 1, 0, 1e7, &o.rate_to);
				}
			} else {
				ok = parse_double(optarg, 0, 1e7, &o.rate_from);
				o.rate_to = o.rate_from;
			}
			break;
		}
		case 'c': ok = parse_u64(optarg, 1, 1000000, &u); o.max_inflight = (unsigned)u; break;
		case 'd': ok = parse_double(optarg, 0.1, 86400, &o.duration); duration_set = true; break;
		case 'n': ok = parse_u64(optarg, 1, UINT64_MAX / 2, &o.count); break;
		case 'u': ok = parse_u64(optarg, 1, 1000000, &u); o.uas = (unsigned)u; break;
		case 'T': ok = parse_u64(optarg, 1, 64, &u); o.threads = (unsigned)u; break;
		case 'p': ok = parse_u64(optarg, 1, 1u << 30, &u); o.server_pid = (pid_t)u; break;
		case O_CERT: o.cert = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_CERTDIR: o.cert_dir = optarg; break;
		case O_CA: o.ca = optarg; break;
		case O_SNI: o.servername = optarg; break;
		case O_TLSV:
			ok = strcmp(optarg, "1.2") == 0 || strcmp(optarg, "1.3") == 0;
			o.tls_version = strcmp(optarg, "1.2") == 0 ? 12 : 13;
			break;
		case O_GROUPS: o.groups = optarg; break;
		case O_DOMAIN: o.domain = optarg; ok = strlen(optarg) < 64; break;
		case O_UPFX: o.user_prefix = optarg; ok = strlen(optarg) < 32; break;
		case O_PW: o.password = optarg; ok = strlen(optarg) < 100; break;
		case O_DALG: /* the algorithms sipscan's digest_answer implements */
			o.digest_alg = optarg;
			ok = strcasecmp(optarg, "MD5") == 0 || strcasecmp(optarg, "SHA-256") == 0;
			break;
		case O_TIMEOUT: ok = parse_double(optarg, 0.01, 3600, &o.timeout); break;
		case O_SETUP_TMO: ok = parse_double(optarg, 0.1, 86400, &o.setup_timeout); break;
		case O_HOLD: ok = parse_double(optarg, 0, 86400, &o.hold); break;
		case O_NOREG: o.no_register = true; break;
		case O_JSON: o.json = true; break;
		case O_NOPROG: progress = false; break;
		case O_REMOTE: o.allow_remote = true; break;
		case O_CSIP: o.contact_sip = true; break;
		case O_ACHAIN: o.auto_chain = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (!ok) {
			const char *name = "?";
			for (const struct option *x = lo; x->name; x++)
				if (x->val == ch) {
					name = x->name;
					break;
				}
			if (ch < 256)
				fprintf(stderr, "sipsbench: bad value for -%c/--%s: %s\n", ch, name, optarg ? optarg : "");
			else
				fprintf(stderr, "sipsbench: bad value for --%s: %s\n", name, optarg ? optarg : "");
			return 2;
		}
	}
	(void)duration_set;
	if (!target_set && !parse_target("127.0.0.1:5061", &o))
		return 2;
	if (!o.allow_remote) {
		if (!is_loopback(&o.dst)) {
			fprintf(stderr, "sipsbench: %s is not a loopback address (use --allow-remote)\n", o.target);
			return 2;
		}
		for (size_t i = 0; i < o.nsrc; i++) {
			if (!is_loopback(&o.srcs[i])) {
				fprintf(stderr, "sipsbench: source addresses must be loopback (use --allow-remote)\n");
				return 2;
			}
		}
	}
	for (size_t i = 0; i < o.nsrc; i++) {
		if (o.srcs[i].ss_family != o.dst.ss_family) {
			fprintf(stderr, "sipsbench: source and target address families differ\n");
			return 2;
		}
	}
	if ((o.cert == NULL) != (o.key == NULL) || (o.cert && o.cert_dir)) {
		fprintf(stderr, "sipsbench: give --cert with --key, or --cert-dir\n");
		return 2;
	}
	if (o.scen == SC_CALL && o.uas < 2) {
		fprintf(stderr, "sipsbench: call needs --uas >= 2\n");
		return 2;
	}
	if (o.scen == SC_IDLE && !o.count)
		o.count = o.uas;
	if (o.scen == SC_IDLE && o.count > o.uas)
		o.uas = (unsigned)o.count;
	if (o.threads > o.uas && o.scen != SC_HANDSHAKE)
		o.threads = o.uas;
	o.progress = progress && isatty(STDERR_FILENO);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if ((o.scen == SC_REGISTER || o.scen == SC_CALL || o.scen == SC_IDLE) && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    (rlim_t)o.uas + 64 > rl.rlim_cur)
		fprintf(stderr, "sipsbench: warning: --uas %u exceeds the descriptor limit %llu\n", o.uas,
			(unsigned long long)rl.rlim_cur);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!load_ctxs(&o))
		return 2;

	struct worker *ws = calloc(o.threads, sizeof(*ws));
	if (!ws)
		return 1;
	for (unsigned i = 0; i < o.threads; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		if (RAND_bytes((unsigned char *)&w->rng, sizeof(w->rng)) != 1)
			w->rng = (uint64_t)now_us() ^ ((uint64_t)getpid() << 32) ^ i;
		w->o = &o;
		w->ops = scen_get(o.scen);
		w->base = event_base_new();
		if (!w->base)
			return 1;
		w->rate_share_from = o.rate_from / o.threads;
		w->rate_share_to = o.rate_to / o.threads;
		w->max_inflight = (o.max_inflight + o.threads - 1 - i) / o.threads;
		if (!w->max_inflight)
			w->max_inflight = 1;
		if (o.count)
			w->count_share = (o.count + o.threads - 1 - i) / o.threads;
		if (o.count && !w->count_share)
			w->count_share = UINT64_MAX; /* no share: never launches (see launch_due) */
		if (o.scen == SC_RESUME) {
			w->nslots = (o.uas + o.threads - 1 - i) / o.threads;
			w->slots = calloc(w->nslots ? w->nslots : 1, sizeof(*w->slots));
			if (!w->slots)
				return 1;
		}
	}
	if (o.count)
		for (unsigned i = 0; i < o.threads; i++)
			if (ws[i].count_share == UINT64_MAX)
				ws[i].count_share = 0, atomic_store(&ws[i].finished, true);

	struct proc_sample before = { 0 }, after = { 0 }, after_hold = { 0 };
	uint64_t t_start = now_us();
	atomic_store(&g_phase, PH_SETUP);
	if (o.scen == SC_IDLE && o.server_pid)
		proc_sample(o.server_pid, &before);
	for (unsigned i = 0; i < o.threads; i++)
		pthread_create(&ws[i].th, NULL, worker_main, &ws[i]);

	struct progress pg = { .on = o.progress, .t0 = t_start, .last_t = t_start };
	/* setup */
	uint64_t setup_deadline = t_start + (uint64_t)(o.setup_timeout * 1e6);
	bool setup_timed_out = false;
	while (!all_flag(ws, o.threads, true) && !g_interrupted) {
		if (now_us() > setup_deadline) {
			setup_timed_out = true;
			break;
		}
		progress_line(&pg, ws, o.threads, PH_SETUP);
		sleep_ms(20);
	}
	double setup_s = (double)(now_us() - t_start) / 1e6;
	/* register and call measure UAs that connected in the setup: when none did, say why now
	 * rather than idle through --duration */
	bool no_uas = false;
	if ((o.scen == SC_REGISTER || o.scen == SC_CALL) && !g_interrupted) {
		uint64_t ok = 0;
		for (unsigned i = 0; i < o.threads; i++)
			ok += atomic_load_explicit(&ws[i].st.setup_ok, memory_order_relaxed);
		if (ok == 0) {
			no_uas = true;
			fprintf(stderr, "sipsbench: none of the %u UAs got through setup (connect, TLS%s), so there is "
					"nothing to measure: is the server at %s up, and does it accept these certificates?\n",
				o.uas, o.scen == SC_CALL ? ", REGISTER" : "", o.target);
		}
	}
	if (o.scen != SC_IDLE && o.server_pid)
		proc_sample(o.server_pid, &before);
	/* run */
	double client_cpu0 = self_cpu_s();
	uint64_t run_t0 = now_us();
	atomic_store(&g_phase, PH_RUN);
	uint64_t run_deadline = run_t0 + (uint64_t)(o.duration * 1e6);
	while (!g_interrupted && !setup_timed_out && !no_uas && now_us() < run_deadline) {
		if (o.count && all_flag(ws, o.threads, false))
			break;
		progress_line(&pg, ws, o.threads, PH_RUN);
		sleep_ms(5);
	}
	/* drain: in-flight operations get up to --timeout to finish */
	for (unsigned i = 0; i < o.threads; i++)
		atomic_store(&ws[i].finished, false);
	atomic_store(&g_phase, PH_DRAIN);
	uint64_t drain_deadline = now_us() + (uint64_t)(o.timeout * 1e6) + 100000;
	while (!all_flag(ws, o.threads, false) && now_us() < drain_deadline && !g_interrupted)
		sleep_ms(2);
	uint64_t run_t1 = now_us();
	double run_s = (double)(run_t1 - run_t0) / 1e6;
	double client_cpu = self_cpu_s() - client_cpu0;
	uint64_t held = 0, held_end = 0;
	if (o.server_pid && o.scen != SC_IDLE)
		proc_sample(o.server_pid, &after);
	if (o.scen == SC_IDLE) {
		atomic_store(&g_phase, PH_HOLD);
		sleep_ms(1000); /* let the server settle (deferred frees, buffers released) */
		struct stats *s = calloc(1, sizeof(*s));
		if (s) {
			sum_stats(ws, o.threads, s);
			held = s->open_conns;
		}
		if (o.server_pid)
			proc_sample(o.server_pid, &after);
		uint64_t hold_end = now_us() + (uint64_t)(o.hold * 1e6);
		while (now_us() < hold_end && !g_interrupted) {
			progress_line(&pg, ws, o.threads, PH_HOLD);
			sleep_ms(50);
		}
		if (o.server_pid)
			proc_sample(o.server_pid, &after_hold);
		if (s) {
			memset(s, 0, sizeof(*s));
			sum_stats(ws, o.threads, s);
			held_end = s->open_conns;
			free(s);
		}
	}
	atomic_store(&g_phase, PH_DONE);
	for (unsigned i = 0; i < o.threads; i++)
		pthread_join(ws[i].th, NULL);
	if (pg.on)
		fprintf(stderr, "\r\033[K");

	struct stats *s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	sum_stats(ws, o.threads, s);
	uint64_t errs = stats_errors(s);
	double rate = run_s > 0 ? (double)s->ops / run_s : 0;
	long tck = proc_clk_tck();
	double cpu_s = (before.ok && after.ok) ? (double)(after.ticks - before.ticks) / (double)tck : -1;
	double cpu_us_op = (cpu_s >= 0 && s->ops) ? cpu_s * 1e6 / (double)s->ops : -1;
	/* How busy the server was, and how often it went to sleep: a server that keeps up with the
	 * load sleeps between messages, and each wake-up costs it CPU that a saturated server
	 * (batching many messages per wake-up) does not pay. Explains CPU per op across machines. */
	bool busy_ok = cpu_s >= 0 && o.scen != SC_IDLE && s->ops && run_s > 0;
	double busy = busy_ok ? cpu_s / run_s : -1;
	/* a thread that ended during the run takes its counts along: then say nothing */
	bool switches_ok = busy_ok && after.sleeps >= before.sleeps && after.preempts >= before.preempts;
	double sleeps_op = switches_ok ? (double)(after.sleeps - before.sleeps) / (double)s->ops : -1;
	double preempts_op = switches_ok ? (double)(after.preempts - before.preempts) / (double)s->ops : -1;
	/* page faults per op: a server still growing its memory (first touches) pays them, one in
	 * steady state does not; comparisons should start once they have settled */
	bool faults_ok = busy_ok && after.faults >= before.faults;
	double faults_op = faults_ok ? (double)(after.faults - before.faults) / (double)s->ops : -1;
	/* this process's own share: near 100% of its core, the client set the rate */
	bool client_ok = o.scen != SC_IDLE && s->ops && run_s > 0;
	double client_us_op = client_ok ? client_cpu * 1e6 / (double)s->ops : -1;
	double client_busy = client_ok ? client_cpu / run_s : -1;
	uint64_t conns_for_mem = o.scen == SC_IDLE ? held : 0;
	double rss_per = (before.ok && after.ok && conns_for_mem) ?
				 ((double)after.rss_kib - (double)before.rss_kib) / (double)conns_for_mem : -1;
	double pss_per = (before.ok && after.ok && conns_for_mem) ?
				 ((double)after.pss_kib - (double)before.pss_kib) / (double)conns_for_mem : -1;
	const char *tlsv = o.tls_version == 12 ? "1.2" : o.tls_version == 13 ? "1.3" : "1.2-1.3";

	FILE *sf = o.json ? stderr : stdout;
	fprintf(sf, "sipsbench %s -> %s (TLS %s, %u thread%s, %zu client cert%s, %zu source address%s)\n",
		o.scen_name, o.target, tlsv, o.threads, o.threads == 1 ? "" : "s", g_nctx,
		g_nctx == 1 ? "" : "s", o.nsrc ? o.nsrc : 1, o.nsrc > 1 ? "es" : "");
	fprintf(sf, "  setup    %.2f s, %llu steps ok%s\n", setup_s, (unsigned long long)s->setup_ok,
		setup_timed_out ? " (TIMED OUT)" : "");
	fprintf(sf, "  ops      %llu in %.2f s = %.1f/s\n", (unsigned long long)s->ops, run_s, rate);
	if (s->lat.n)
		fprintf(sf, "  latency  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n",
			(double)hist_quantile(&s->lat, 0.5) / 1e3, (double)hist_quantile(&s->lat, 0.9) / 1e3,
			(double)hist_quantile(&s->lat, 0.99) / 1e3, (double)s->lat.max / 1e3);
	else
		fprintf(sf, "  latency  - (no operation completed)\n");
	if (o.scen == SC_HANDSHAKE || o.scen == SC_RESUME)
		fprintf(sf, "  tls      %llu full, %llu resumed handshakes\n", (unsigned long long)s->full,
			(unsigned long long)s->resumed);
	fprintf(sf, "  errors   %llu", (unsigned long long)errs);
	for (int k = 0; k < ERR__COUNT; k++)
		if (s->errs[k])
			fprintf(sf, "  %s=%llu", err_kind_name(k), (unsigned long long)s->errs[k]);
	fprintf(sf, "\n");
	if (cpu_s >= 0)
		fprintf(sf, "  server   %u process%s, CPU %.3f s = %.1f us/op\n", after.nproc,
			after.nproc == 1 ? "" : "es", cpu_s, cpu_us_op);
	if (busy_ok) {
		fprintf(sf, "           busy %.0f%% of one core", busy * 100);
		if (switches_ok)
			fprintf(sf, "; per op %.2f sleeps (voluntary context switches), %.2f preemptions",
				sleeps_op, preempts_op);
		if (faults_ok)
			fprintf(sf, ", %.2f page faults", faults_op);
		fprintf(sf, "\n");
	}
	if (client_ok)
		fprintf(sf, "  client   CPU %.3f s = %.1f us/op, busy %.0f%% of one core (%u thread%s)\n", client_cpu,
			client_us_op, client_busy * 100, o.threads, o.threads == 1 ? "" : "s");
	if (o.scen == SC_IDLE) {
		fprintf(sf, "  idle     %llu connections held (%llu at the end of a %.0f s hold)\n",
			(unsigned long long)held, (unsigned long long)held_end, o.hold);
		if (rss_per >= 0)
			fprintf(sf, "  memory   RSS %llu -> %llu KiB (%.2f KiB/conn), PSS %llu -> %llu KiB (%.2f KiB/conn)\n",
				(unsigned long long)before.rss_kib, (unsigned long long)after.rss_kib, rss_per,
				(unsigned long long)before.pss_kib, (unsigned long long)after.pss_kib, pss_per);
	}
	if (o.json) {
		printf("{\"scenario\":\"%s\",\"target\":\"%s\",\"tls_version\":\"%s\",\"threads\":%u,"
		       "\"client_certs\":%zu,\"sources\":%zu,\"uas\":%u,\"max_inflight\":%u,"
		       "\"rate_target\":[%.1f,%.1f],\"setup_s\":%.3f,\"setup_ok\":%llu,\"setup_timed_out\":%s,"
		       "\"duration_s\":%.3f,\"ops\":%llu,\"rate\":%.2f,",
		       o.scen_name, o.target, tlsv, o.threads, g_nctx, o.nsrc ? o.nsrc : 1, o.uas,
		       o.max_inflight, o.rate_from, o.rate_to, setup_s, (unsigned long long)s->setup_ok,
		       setup_timed_out ? "true" : "false", run_s, (unsigned long long)s->ops, rate);
		printf("\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"max\":%llu,\"mean\":%.1f},",
		       (unsigned long long)hist_quantile(&s->lat, 0.5),
		       (unsigned long long)hist_quantile(&s->lat, 0.9),
		       (unsigned long long)hist_quantile(&s->lat, 0.99), (unsigned long long)s->lat.max,
		       s->lat.n ? (double)s->lat.sum / (double)s->lat.n : 0.0);
		printf("\"handshakes\":{\"full\":%llu,\"resumed\":%llu},", (unsigned long long)s->full,
		       (unsigned long long)s->resumed);
		printf("\"errors\":{\"total\":%llu", (unsigned long long)errs);
		for (int k = 0; k < ERR__COUNT; k++)
			printf(",\"%s\":%llu", err_kind_name(k), (unsigned long long)s->errs[k]);
		printf("}");
		if (client_ok)
			printf(",\"client\":{\"cpu_s\":%.3f,\"cpu_us_per_op\":%.2f,\"busy\":%.3f}", client_cpu,
			       client_us_op, client_busy);
		if (o.scen == SC_IDLE)
			printf(",\"idle\":{\"held\":%llu,\"held_end\":%llu,\"hold_s\":%.1f}",
			       (unsigned long long)held, (unsigned long long)held_end, o.hold);
		if (o.server_pid) {
			printf(",\"server\":{\"pid\":%d,\"processes\":%u,\"clk_tck\":%ld", (int)o.server_pid,
			       after.nproc, tck);
			if (cpu_s >= 0)
				printf(",\"cpu_s\":%.3f,\"cpu_us_per_op\":%.2f", cpu_s, cpu_us_op);
			if (busy_ok)
				printf(",\"busy\":%.3f", busy);
			if (switches_ok)
				printf(",\"sleeps_per_op\":%.3f,\"preemptions_per_op\":%.3f", sleeps_op,
				       preempts_op);
			if (faults_ok)
				printf(",\"faults_per_op\":%.3f", faults_op);
			printf(",\"rss_kib_before\":%llu,\"rss_kib_after\":%llu,\"pss_kib_before\":%llu,"
			       "\"pss_kib_after\":%llu",
			       (unsigned long long)before.rss_kib, (unsigned long long)after.rss_kib,
			       (unsigned long long)before.pss_kib, (unsigned long long)after.pss_kib);
			if (o.scen == SC_IDLE)
				printf(",\"rss_kib_after_hold\":%llu,\"pss_kib_after_hold\":%llu",
				       (unsigned long long)after_hold.rss_kib,
				       (unsigned long long)after_hold.pss_kib);
			if (rss_per >= 0)
				printf(",\"rss_kib_per_conn\":%.3f,\"pss_kib_per_conn\":%.3f", rss_per, pss_per);
			printf("}");
		}
		printf("}\n");
	}
	for (unsigned i = 0; i < o.threads; i++) {
		for (unsigned k = 0; k < ws[i].nslots; k++)
			if (ws[i].slots[k].sess)
				SSL_SESSION_free(ws[i].slots[k].sess);
		free(ws[i].slots);
		free(ws[i].conns);
		event_base_free(ws[i].base);
	}
	for (size_t i = 0; i < g_nctx; i++)
		SSL_CTX_free(g_ctxs[i]);
	free(g_ctxs);
	free(o.srcs);
	free(ws);
	free(s);
	return errs ? 1 : 0;
}
