/* One line per event, key=value, with context (connection id, peer, Call-ID) supplied by the
 * caller. Never pass secrets (keys, passwords, digest responses, SDES keys) to these functions. */
#ifndef SIPSD_BASE_LOG_H
#define SIPSD_BASE_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG };
enum log_target { LOG_TO_STDERR, LOG_TO_SYSLOG };

void log_setup(enum log_level min, enum log_target target, const char *ident);
bool log_enabled(enum log_level lvl);
/* Parse "error|warning|notice|info|debug"; false on anything else. */
bool log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);

/* event is a dotted name ("tls.handshake_failed"); fmt continues the line with key=value pairs. */
void log_event(enum log_level lvl, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_err(ev, ...) log_event(LOG_LVL_ERR, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_event(LOG_LVL_WARN, ev, __VA_ARGS__)
#define log_notice(ev, ...) log_event(LOG_LVL_NOTICE, ev, __VA_ARGS__)
#define log_info(ev, ...) log_event(LOG_LVL_INFO, ev, __VA_ARGS__)
#define log_debug(ev, ...) \
	do { \
		if (log_enabled(LOG_LVL_DEBUG)) \
			log_event(LOG_LVL_DEBUG, ev, __VA_ARGS__); \
	} while (0)

#endif
