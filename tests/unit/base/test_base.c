#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/outbuf.h"
#include "base/slice.h"

static int destroyed;

static void count_destroy(void *data)
{
	(void)data;
	destroyed++;
}

static void test_mem_refcount_runs_destructor_once(void **state)
{
	(void)state;
	destroyed = 0;
	int *p = mem_zalloc(sizeof(*p), count_destroy);
	assert_non_null(p);
	assert_int_equal(*p, 0);
	assert_int_equal(mem_nrefs(p), 1);
	assert_ptr_equal(mem_ref(p), p);
	assert_int_equal(mem_nrefs(p), 2);
	assert_null(mem_deref(p));
	assert_int_equal(destroyed, 0);
	assert_null(mem_deref(p));
	assert_int_equal(destroyed, 1);
	assert_null(mem_deref(NULL));
	assert_null(mem_ref(NULL));
}

static void test_mem_alignment_and_strdup(void **state)
{
	(void)state;
	void *p = mem_zalloc(1, NULL);
	assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
	mem_deref(p);
	char *s = mem_strndup("hello world", 5);
	assert_string_equal(s, "hello");
	mem_deref(s);
	assert_null(mem_strdup(NULL));
	assert_null(mem_zalloc(SIZE_MAX, NULL));
}

static void test_mem_pooled_recycles_and_runs_destructor(void **state)
{
	(void)state;
	destroyed = 0;
	char *a = mem_alloc_pooled(100, count_destroy);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % _Alignof(max_align_t), 0);
	assert_int_equal(mem_nrefs(a), 1);
	memset(a, 'x', 100);
	mem_ref(a);
	assert_null(mem_deref(a));
	assert_int_equal(destroyed, 0);
	void *old = a;
	assert_null(mem_deref(a));
	assert_int_equal(destroyed, 1);
	/* the slot comes back to the same thread, whatever size it is asked for */
	char *b = mem_alloc_pooled(MEM_POOL_SLOT - 64, NULL);
	assert_ptr_equal(b, old);
	assert_int_equal(mem_nrefs(b), 1);
	memset(b, 'y', MEM_POOL_SLOT - 64);
	mem_deref(b);
	/* too large for a slot: an ordinary allocation, freed as one */
	char *c = mem_alloc_pooled(MEM_POOL_SLOT, count_destroy);
	assert_non_null(c);
	memset(c, 'z', MEM_POOL_SLOT);
	mem_deref(c);
	assert_int_equal(destroyed, 2);
	assert_null(mem_alloc_pooled(SIZE_MAX, NULL));
	/* more frees than the cache keeps: the rest go back to malloc (ASan checks no leak) */
	void *many[MEM_POOL_MAX * 2];
	for (size_t i = 0; i < MEM_POOL_MAX * 2; i++)
		assert_non_null(many[i] = mem_alloc_pooled(64, NULL));
	for (size_t i = 0; i < MEM_POOL_MAX * 2; i++)
		mem_deref(many[i]);
}

/* Objects allocated on one thread are freed on another (a message handed to a worker), and
 * a thread exits with slots in its cache. */
static void *pool_thread(void *arg)
{
	void **objs = arg;
	for (size_t i = 0; i < 8; i++)
		mem_deref(objs[i]);
	void *mine = mem_alloc_pooled(200, count_destroy);
	mem_deref(mine);
	return NULL;
}

static void test_mem_pooled_across_threads(void **state)
{
	(void)state;
	destroyed = 0;
	void *objs[8];
	for (size_t i = 0; i < 8; i++)
		assert_non_null(objs[i] = mem_alloc_pooled(300, count_destroy));
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, pool_thread, objs), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(destroyed, 9);
}

static void test_slice_compare_trim(void **state)
{
	(void)state;
	struct slice a = SLICE_LIT("Via");
	assert_true(slice_eq_cstr(a, "Via"));
	assert_false(slice_eq_cstr(a, "via"));
	assert_true(slice_eq_cstr_ci(a, "vIA"));
	assert_false(slice_eq_cstr_ci(a, "Vias"));
	struct slice t = slice_trim(SLICE_LIT(" \t x y\t "));
	assert_true(slice_eq_cstr(t, "x y"));
	assert_int_equal(slice_trim(SLICE_LIT("   ")).len, 0);
}

static void test_slice_to_u64_bounds(void **state)
{
	(void)state;
	uint64_t v = 0;
	assert_true(slice_to_u64(SLICE_LIT("4294967295"), UINT32_MAX, &v));
	assert_int_equal(v, UINT32_MAX);
	assert_false(slice_to_u64(SLICE_LIT("4294967296"), UINT32_MAX, &v));
	assert_false(slice_to_u64(SLICE_LIT("18446744073709551616"), UINT64_MAX, &v));
	assert_true(slice_to_u64(SLICE_LIT("18446744073709551615"), UINT64_MAX, &v));
	assert_false(slice_to_u64(SLICE_LIT(""), 10, &v));
	assert_false(slice_to_u64(SLICE_LIT("-1"), 10, &v));
	assert_false(slice_to_u64(SLICE_LIT("1a"), 10, &v));
	char buf[4];
	assert_int_equal(slice_copy(SLICE_LIT("abcdef"), buf, sizeof(buf)), 3);
	assert_string_equal(buf, "abc");
}

static void test_slice_next_field(void **state)
{
	(void)state;
	struct slice rest = SLICE_LIT("  IN \tIP4  192.0.2.1 "), f;
	assert_true(slice_next_field(&rest, &f));
	assert_true(slice_eq_cstr(f, "IN"));
	assert_true(slice_next_field(&rest, &f));
	assert_true(slice_eq_cstr(f, "IP4"));
	assert_true(slice_next_field(&rest, &f));
	assert_true(slice_eq_cstr(f, "192.0.2.1"));
	assert_false(slice_next_field(&rest, &f));
	struct slice empty = SLICE_LIT("");
	assert_false(slice_next_field(&empty, &f));
}

static void test_outbuf_lines_numbers_and_overflow(void **state)
{
	(void)state;
	char buf[32];
	struct outbuf o = OUTBUF_INIT(buf, sizeof(buf));
	outbuf_puts(&o, "CSeq: ");
	outbuf_put_u32(&o, 4294967295u);
	outbuf_put_line(&o, SLICE_LIT(" X\n")); /* bare LF becomes CRLF */
	assert_false(o.over);
	assert_int_equal(o.len, 20);
	assert_memory_equal(buf, "CSeq: 4294967295 X\r\n", 20);
	outbuf_put_slice(&o, SLICE_LIT("0123456789abc")); /* 33 > 32: refused, sticky */
	assert_true(o.over);
	assert_int_equal(o.len, 20);
	outbuf_puts(&o, "a");
	assert_true(o.over);
	assert_int_equal(o.len, 20);
}

/* The hex and 64-bit forms match printf's ("%0*llx", "%llu"), which they replace. */
static void test_outbuf_hex_u64(void **state)
{
	(void)state;
	static const struct {
		uint64_t v;
		unsigned w;
	} hv[] = { { 0, 1 }, { 0, 8 }, { 0xa, 2 }, { 0xdeadbeef, 8 }, { 0x1f, 8 }, { UINT64_MAX, 1 }, { UINT64_MAX, 20 },
		   { 0x123456789abcdefull, 0 } };
	for (size_t i = 0; i < sizeof(hv) / sizeof(hv[0]); i++) {
		char buf[40], want[40];
		struct outbuf o = OUTBUF_INIT(buf, sizeof(buf));
		outbuf_put_hex(&o, hv[i].v, hv[i].w);
		int n = snprintf(want, sizeof(want), "%0*llx", (int)(hv[i].w > 16 ? 16 : hv[i].w), (unsigned long long)hv[i].v);
		assert_int_equal(o.len, (size_t)n);
		assert_memory_equal(buf, want, o.len);
	}
	static const uint64_t dv[] = { 0, 7, 4294967296ull, 18446744073709551615ull };
	for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++) {
		char buf[24], want[24];
		struct outbuf o = OUTBUF_INIT(buf, sizeof(buf));
		outbuf_put_u64(&o, dv[i]);
		int n = snprintf(want, sizeof(want), "%llu", (unsigned long long)dv[i]);
		assert_int_equal(o.len, (size_t)n);
		assert_memory_equal(buf, want, o.len);
	}
	char small[3];
	struct outbuf o = OUTBUF_INIT(small, sizeof(small));
	outbuf_put_hex(&o, 0xabcd, 1);
	assert_true(o.over);
	assert_int_equal(o.len, 0);
}

/* C strings keep a byte for the NUL: sz - 1 characters fit, sz do not, and a 0-byte buffer
 * takes nothing (not even the NUL). */
static void test_outbuf_cstr(void **state)
{
	(void)state;
	char buf[4] = "xxx";
	struct outbuf o = OUTBUF_INIT_CSTR(buf, sizeof(buf));
	outbuf_puts(&o, "abc");
	assert_int_equal(outbuf_cstr(&o), 3);
	assert_string_equal(buf, "abc");
	o = OUTBUF_INIT_CSTR(buf, sizeof(buf));
	outbuf_puts(&o, "abcd");
	assert_int_equal(outbuf_cstr(&o), 0);
	o = OUTBUF_INIT_CSTR(buf, 0);
	assert_true(o.over);
	assert_int_equal(outbuf_cstr(&o), 0);
	assert_memory_equal(buf, "abc", 4); /* untouched */
}

static void test_log_levels(void **state)
{
	(void)state;
	enum log_level l;
	assert_true(log_level_parse("debug", &l));
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_false(log_level_parse("loud", &l));
	log_setup(LOG_LVL_WARN, LOG_TO_STDERR, "test");
	assert_true(log_enabled(LOG_LVL_ERR));
	assert_false(log_enabled(LOG_LVL_INFO));
	assert_string_equal(log_level_name(LOG_LVL_NOTICE), "notice");
	log_setup(LOG_LVL_INFO, LOG_TO_STDERR, "test");
}

/* slice_hash folds case only when asked, at every length around its 8-byte steps, and tells
 * where one part ends and the next begins (the proxy's loop hash chains parts). */
static void test_slice_hash(void **state)
{
	(void)state;
	char lo[40], up[40];
	for (size_t len = 0; len < sizeof(lo); len++) {
		for (size_t i = 0; i < len; i++) {
			lo[i] = (char)('a' + (i * 5 + len) % 26);
			up[i] = (char)(lo[i] - 32);
		}
		struct slice l = { lo, len }, u = { up, len };
		assert_true(slice_hash(l, 7, true) == slice_hash(u, 7, true));
		if (len)
			assert_true(slice_hash(l, 7, false) != slice_hash(u, 7, false));
		assert_true(slice_hash(l, 7, false) != slice_hash(l, 8, false)); /* the seed counts */
	}
	uint64_t ab_c = slice_hash(SLICE_LIT("c"), slice_hash(SLICE_LIT("ab"), 0, false), false);
	uint64_t a_bc = slice_hash(SLICE_LIT("bc"), slice_hash(SLICE_LIT("a"), 0, false), false);
	assert_true(ab_c != a_bc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slice_hash),
		cmocka_unit_test(test_mem_refcount_runs_destructor_once),
		cmocka_unit_test(test_mem_alignment_and_strdup),
		cmocka_unit_test(test_mem_pooled_recycles_and_runs_destructor),
		cmocka_unit_test(test_mem_pooled_across_threads),
		cmocka_unit_test(test_slice_compare_trim),
		cmocka_unit_test(test_slice_to_u64_bounds),
		cmocka_unit_test(test_slice_next_field),
		cmocka_unit_test(test_outbuf_lines_numbers_and_overflow),
		cmocka_unit_test(test_outbuf_hex_u64),
		cmocka_unit_test(test_outbuf_cstr),
		cmocka_unit_test(test_log_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
