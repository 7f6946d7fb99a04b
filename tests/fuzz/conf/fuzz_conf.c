/* libFuzzer harness for the configuration loader (libinih + our typed sections and checks).
 * The text is loaded as if read from DIR/sipsd.conf, where DIR holds empty cert.pem, key.pem,
 * ca.pem and a store directory, so relative file references in the seeds pass the existence
 * checks and the cross-section checks behind them are reached. Invariants beyond "no sanitizer
 * report": success yields a configuration; failure yields an errno and a message naming the
 * file, with a line whenever the loader blames content (EINVAL). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "conf/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char conf_dir[256], conf_name[512];
static const char *const files[] = { "cert.pem", "key.pem", "ca.pem" };

static void touch(const char *dir, const char *file)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, file);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fclose(f);
}

static void cleanup(void)
{
	char p[512];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", conf_dir, files[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/db", conf_dir);
	rmdir(p);
	rmdir(conf_dir);
}

static void setup(void)
{
	snprintf(conf_dir, sizeof(conf_dir), "%s/sipsd-fuzz-conf.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(conf_dir))
		abort();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		touch(conf_dir, files[i]);
	char p[512];
	snprintf(p, sizeof(p), "%s/db", conf_dir);
	if (mkdir(p, 0700) != 0)
		abort();
	snprintf(conf_name, sizeof(conf_name), "%s/sipsd.conf", conf_dir);
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!conf_name[0])
		setup();
	if (size > 64 * 1024)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct conf *c = NULL;
	struct conf_error err;
	memset(&err, 0, sizeof(err));
	int rc = conf_load_string(conf_name, text, &c, &err);
	free(text);
	if (getenv("FUZZ_CONF_VERBOSE")) /* to check what a seed reaches: -runs=0 seeds/... */
		rc ? conf_error_print(&err, stderr) : (void)fprintf(stderr, "loaded\n");
	if (rc == 0) {
		if (!c)
			abort();
		mem_deref(c);
		return 0;
	}
	if (c || !err.msg[0] || strcmp(err.file, conf_name) != 0)
		abort();
	if (rc == EINVAL && err.line == 0)
		abort(); /* content errors must say which line (docs/config.md) */
	return 0;
}
