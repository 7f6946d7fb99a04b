/* The registrar's table of known AORs (users.c): loading it from the store, and keeping the
 * previous table when a reload runs out of memory. The test binary links with
 * -Wl,--wrap=calloc so that the table's bucket array can be made to fail. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "registrar/internal.h"
#include "store/store.h"

void *__real_calloc(size_t nmemb, size_t size);

/* fail the next calloc of a bucket array (256 or more pointers) */
static bool fail_buckets;

void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (fail_buckets && size == sizeof(void *) && nmemb >= 256) {
		fail_buckets = false;
		return NULL;
	}
	return __real_calloc(nmemb, size);
}

/* Leaves non-zero garbage where the next call's locals will be, so that a table left
 * uninitialised on the failure path is caught (it used to be freed with a garbage size). */
static __attribute__((noinline)) void scribble_stack(void)
{
	volatile unsigned char junk[16384];
	memset((void *)junk, 0xa5, sizeof(junk));
}

static void add_user(struct store *s, const char *name)
{
	struct store_user u = { .user = slice_from_cstr(name), .domain = SLICE_LIT("localhost"),
				.realm = SLICE_LIT("localhost"), .enabled = true };
	assert_int_equal(store_user_put(s, &u), 0);
}

static void test_reload_out_of_memory_keeps_the_table(void **state)
{
	(void)state;
	struct store *s = NULL;
	struct store_opts so = { .backend = STORE_BACKEND_MEM };
	assert_int_equal(store_open(&s, &so), 0);
	add_user(s, "alice");
	add_user(s, "bob");
	add_user(s, "carol");

	struct reg_users *u = NULL;
	assert_int_equal(reg_users_alloc(&u), 0);
	assert_int_equal(reg_users_load(u, s), 0);
	assert_int_equal(reg_users_count(u), 3);
	assert_true(reg_users_has(u, "sip:alice@localhost"));

	add_user(s, "dave");
	fail_buckets = true;
	scribble_stack();
	assert_int_equal(reg_users_load(u, s), ENOMEM);
	assert_false(fail_buckets);
	/* the table from the last good load still answers */
	assert_int_equal(reg_users_count(u), 3);
	assert_true(reg_users_has(u, "sip:alice@localhost"));
	assert_false(reg_users_has(u, "sip:dave@localhost"));

	assert_int_equal(reg_users_load(u, s), 0);
	assert_int_equal(reg_users_count(u), 4);
	assert_true(reg_users_has(u, "sip:dave@localhost"));
	mem_deref(u);
	store_close(s);
	mem_deref(s);
}

static void test_alloc_out_of_memory(void **state)
{
	(void)state;
	struct reg_users *u = NULL;
	fail_buckets = true;
	scribble_stack();
	assert_int_equal(reg_users_alloc(&u), ENOMEM);
	assert_null(u);
	assert_false(fail_buckets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reload_out_of_memory_keeps_the_table),
		cmocka_unit_test(test_alloc_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
