/* Shared helpers for the sdp unit tests. Nothing here prints key material: describe bodies and
 * lines through sdptest_redacted(). */
#ifndef SIPSD_TEST_SDPTEST_H
#define SIPSD_TEST_SDPTEST_H

#include <stddef.h>

#include "base/slice.h"

int run_parse_tests(void);
int run_crypto_tests(void);
int run_policy_tests(void);
int run_testdata_tests(void);

/* Read SIPSD_TESTDATA/<rel> (or the in-tree default when unset) into a mem string; NULL when
 * missing. */
char *sdptest_read(const char *rel, size_t *lenp);
/* Path of the testdata root. */
const char *sdptest_root(void);
/* Key-free copy of text for messages (static buffer, overwritten by the next call). */
const char *sdptest_redacted(struct slice text);
/* Fails the test when any inline: key of body appears in text. */
void sdptest_no_key_in(const char *text, struct slice body, const char *what);

#endif
