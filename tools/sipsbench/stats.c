#include "stats.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const err_names[ERR__COUNT] = {
	[ERR_CONNECT] = "connect", [ERR_HANDSHAKE] = "handshake", [ERR_TIMEOUT] = "timeout",
	[ERR_STATUS] = "bad_status", [ERR_CLOSED] = "closed", [ERR_IO] = "io",
	[ERR_PARSE] = "parse", [ERR_AUTH] = "auth",
};

const char *err_kind_name(int k)
{
	return (k >= 0 && k < ERR__COUNT) ? err_names[k] : "?";
}

static unsigned hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (unsigned)v;
	unsigned e = 63u - (unsigned)__builtin_clzll(v);
	if (e > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	unsigned m = (unsigned)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + m;
}

/* Middle of the bucket's range. */
static uint64_t hist_value(unsigned i)
{
	if (i < HIST_SUB)
		return i;
	unsigned e = (i - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	uint64_t m = (i - HIST_SUB) % HIST_SUB;
	uint64_t lo = (HIST_SUB + m) << (e - HIST_SUB_BITS);
	return lo + ((1ull << (e - HIST_SUB_BITS)) >> 1);
}

void hist_add(struct hist *h, uint64_t us)
{
	atomic_fetch_add_explicit(&h->b[hist_index(us)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->n, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, us, memory_order_relaxed);
	uint64_t m = atomic_load_explicit(&h->max, memory_order_relaxed);
	while (us > m && !atomic_compare_exchange_weak_explicit(&h->max, &m, us, memory_order_relaxed,
								 memory_order_relaxed))
		;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += atomic_load_explicit(&src->b[i], memory_order_relaxed);
	dst->n += atomic_load_explicit(&src->n, memory_order_relaxed);
	dst->sum += atomic_load_explicit(&src->sum, memory_order_relaxed);
	uint64_t m = atomic_load_explicit(&src->max, memory_order_relaxed);
	if (m > dst->max)
		dst->max = m;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		n += atomic_load_explicit(&h->b[i], memory_order_relaxed);
	if (n == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)n);
	if (want >= n)
		want = n - 1;
	uint64_t acc = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		acc += atomic_load_explicit(&h->b[i], memory_order_relaxed);
		if (acc > want) {
			uint64_t v = hist_value(i);
			uint64_t mx = atomic_load_explicit(&h->max, memory_order_relaxed);
			return v > mx ? mx : v;
		}
	}
	return atomic_load_explicit(&h->max, memory_order_relaxed);
}

void stats_merge(struct stats *dst, const struct stats *src)
{
	dst->ops += atomic_load_explicit(&src->ops, memory_order_relaxed);
	for (int k = 0; k < ERR__COUNT; k++)
		dst->errs[k] += atomic_load_explicit(&src->errs[k], memory_order_relaxed);
	dst->resumed += atomic_load_explicit(&src->resumed, memory_order_relaxed);
	dst->full += atomic_load_explicit(&src->full, memory_order_relaxed);
	dst->setup_ok += atomic_load_explicit(&src->setup_ok, memory_order_relaxed);
	dst->open_conns += atomic_load_explicit(&src->open_conns, memory_order_relaxed);
	hist_merge(&dst->lat, &src->lat);
}

uint64_t stats_errors(const struct stats *s)
{
	uint64_t n = 0;
	for (int k = 0; k < ERR__COUNT; k++)
		n += atomic_load_explicit(&s->errs[k], memory_order_relaxed);
	return n;
}

long proc_clk_tck(void)
{
	long t = sysconf(_SC_CLK_TCK);
	return t > 0 ? t : 100;
}

/* /proc/PID/stat: "pid (comm) state ppid ... minflt(10) ... utime(14) stime(15) ..."; comm may
 * hold spaces and parentheses, so fields are counted from the last ')'. minflt covers all the
 * process's threads. faults may be NULL. */
static bool read_stat(pid_t pid, pid_t *ppid, uint64_t *ticks, uint64_t *faults)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return false;
	p++;
	/* field 3 (state) is the first after ')' */
	unsigned long long f_vals[16] = { 0 };
	int field = 2;
	char *save = p;
	while (*save && field < 15) {
		while (*save == ' ')
			save++;
		field++;
		char *end = save;
		while (*end && *end != ' ')
			end++;
		if (field == 4 || field == 10 || field == 14 || field == 15)
			f_vals[field] = strtoull(save, NULL, 10);
		save = end;
	}
	if (field < 15)
		return false;
	*ppid = (pid_t)f_vals[4];
	*ticks = f_vals[14] + f_vals[15];
	if (faults)
		*faults = f_vals[10];
	return true;
}

static uint64_t read_u64_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[256];
	size_t kl = strlen(key);
	uint64_t v = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = strtoull(line + kl + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

/* Context switches of every thread of pid (/proc/PID/status counts the main thread only). */
static void add_ctxt_switches(pid_t pid, struct proc_sample *out)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char tpath[320];
		snprintf(tpath, sizeof(tpath), "/proc/%d/task/%s/status", (int)pid, de->d_name);
		out->sleeps += read_u64_field(tpath, "voluntary_ctxt_switches");
		out->preempts += read_u64_field(tpath, "nonvoluntary_ctxt_switches");
	}
	closedir(d);
}

#define PROC_TREE_MAX 512

bool proc_sample(pid_t root, struct proc_sample *out)
{
	memset(out, 0, sizeof(*out));
	pid_t tree[PROC_TREE_MAX];
	size_t nt = 0;
	uint64_t ticks;
	pid_t ppid;
	if (!read_stat(root, &ppid, &ticks, NULL))
		return false;
	tree[nt++] = root;
	/* Descendants: repeat the scan until no new child appears (Kamailio forks one level deep,
	 * so two passes suffice in practice; bounded anyway). */
	for (int pass = 0; pass < 4; pass++) {
		size_t before = nt;
		DIR *d = opendir("/proc");
		if (!d)
			break;
		struct dirent *de;
		while ((de = readdir(d)) != NULL && nt < PROC_TREE_MAX) {
			char *end;
			long pid = strtol(de->d_name, &end, 10);
			if (*end || pid <= 0)
				continue;
			bool known = false;
			for (size_t i = 0; i < nt; i++)
				known |= tree[i] == (pid_t)pid;
			if (known || !read_stat((pid_t)pid, &ppid, &ticks, NULL))
				continue;
			for (size_t i = 0; i < nt; i++) {
				if (tree[i] == ppid) {
					tree[nt++] = (pid_t)pid;
					break;
				}
			}
		}
		closedir(d);
		if (nt == before)
			break;
	}
	for (size_t i = 0; i < nt; i++) {
		char path[64];
		uint64_t faults;
		if (!read_stat(tree[i], &ppid, &ticks, &faults))
			continue;
		out->ticks += ticks;
		out->faults += faults;
		snprintf(path, sizeof(path), "/proc/%d/status", (int)tree[i]);
		out->rss_kib += read_u64_field(path, "VmRSS");
		snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)tree[i]);
		out->pss_kib += read_u64_field(path, "Pss");
		add_ctxt_switches(tree[i], out);
		out->nproc++;
	}
	out->ok = true;
	return true;
}
