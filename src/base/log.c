#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_LVL_INFO;
static enum log_target target = LOG_TO_STDERR;

static const char *const names[] = { "error", "warning", "notice", "info", "debug" };

void log_setup(enum log_level min, enum log_target t, const char *ident)
{
	atomic_store(&min_level, (int)min);
	if (t == LOG_TO_SYSLOG && target != LOG_TO_SYSLOG)
		openlog(ident ? ident : "sipsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (t != LOG_TO_SYSLOG && target == LOG_TO_SYSLOG)
		closelog();
	target = t;
}

bool log_enabled(enum log_level lvl)
{
	return (int)lvl <= atomic_load(&min_level);
}

bool log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level lvl)
{
	return (unsigned)lvl < sizeof(names) / sizeof(names[0]) ? names[lvl] : "?";
}

void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	char line[2048];
	size_t n = 0;
	if (target == LOG_TO_STDERR) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ ", ts.tv_nsec / 1000000);
	}
	int w = snprintf(line + n, sizeof(line) - n, "level=%s event=%s", names[lvl], event);
	if (w > 0)
		n = (size_t)w + n < sizeof(line) ? n + (size_t)w : sizeof(line) - 1;
	if (fmt && *fmt && n < sizeof(line) - 2) {
		line[n++] = ' ';
		va_list ap;
		va_start(ap, fmt);
		w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
		if (w > 0)
			n = (size_t)w + n < sizeof(line) ? n + (size_t)w : sizeof(line) - 1;
	}
	/* Neutralise control characters so peer-supplied text can't forge log lines. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = ' ';
	if (target == LOG_TO_SYSLOG) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG };
		line[n] = '\0';
		syslog(prio[lvl], "%s", line);
		return;
	}
	line[n++] = '\n';
	/* One write() per line keeps lines from different threads whole. */
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r;
}
