/* The registrar's short-lived user cache: hits within the TTL, misses after it, negative
 * entries, replacement, purge, and TTL 0 meaning "never cache". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "registrar/internal.h"

static struct store_user *user(const char *name)
{
	struct store_user u = { .user = slice_from_cstr(name), .domain = SLICE_LIT("localhost"), .enabled = true };
	return store_user_dup(&u);
}

static void test_hit_then_expiry(void **state)
{
	(void)state;
	struct reg_ucache *c = reg_ucache_alloc(5);
	struct store_user *u = user("alice"), *got = NULL;
	reg_ucache_put(c, "alice@localhost", u, 1000);
	assert_true(reg_ucache_get(c, "alice@localhost", 1004, &got));
	assert_ptr_equal(got, u);
	mem_deref(got);
	assert_false(reg_ucache_get(c, "alice@localhost", 1005, &got));
	assert_false(reg_ucache_get(c, "bob@localhost", 1000, &got));
	mem_deref(u);
	mem_deref(c);
}

static void test_negative_entry_and_replace(void **state)
{
	(void)state;
	struct reg_ucache *c = reg_ucache_alloc(5);
	struct store_user *got = (void *)1;
	reg_ucache_put(c, "nobody@localhost", NULL, 1000);
	assert_true(reg_ucache_get(c, "nobody@localhost", 1001, &got));
	assert_null(got);
	struct store_user *u = user("nobody");
	reg_ucache_put(c, "nobody@localhost", u, 1002);
	assert_true(reg_ucache_get(c, "nobody@localhost", 1003, &got));
	assert_ptr_equal(got, u);
	mem_deref(got);
	reg_ucache_purge(c, 1010);
	assert_false(reg_ucache_get(c, "nobody@localhost", 1003, &got));
	mem_deref(u);
	mem_deref(c);
}

static void test_ttl_zero_disables(void **state)
{
	(void)state;
	struct reg_ucache *c = reg_ucache_alloc(0);
	struct store_user *u = user("alice"), *got = NULL;
	reg_ucache_put(c, "alice@localhost", u, 1000);
	assert_false(reg_ucache_get(c, "alice@localhost", 1000, &got));
	mem_deref(u);
	mem_deref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_then_expiry),
		cmocka_unit_test(test_negative_entry_and_replace),
		cmocka_unit_test(test_ttl_zero_disables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
