/* sdp unit tests: parser and builder, a=crypto, media policy, and the third-party SDP files of
 * ../shared/testdata/sdes read in place. */
#include "sdptest.h"

int main(void)
{
	int failed = 0;
	failed += run_parse_tests();
	failed += run_crypto_tests();
	failed += run_policy_tests();
	failed += run_testdata_tests();
	return failed ? 1 : 0;
}
