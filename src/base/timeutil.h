#ifndef SIPSD_BASE_TIMEUTIL_H
#define SIPSD_BASE_TIMEUTIL_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC: for timeouts and ages, never for wall-clock display. */
uint64_t time_mono_ms(void);

#endif
