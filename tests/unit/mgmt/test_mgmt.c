/* mgmt: the bounded JSON writer (escaping, nesting, limits), the reader, route matching and
 * the Prometheus text format. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/mem.h"
#include "mgmt/json.h"
#include "mgmt/mgmt.h"

static const char *text(struct json_w *w)
{
	const char *t = json_w_text(w, NULL);
	assert_non_null(t);
	return t;
}

static void test_writer_basic(void **state)
{
	(void)state;
	struct json_w w;
	json_w_init(&w, 4096);
	json_obj_begin(&w);
	json_kv_str(&w, "a", "x");
	json_kv_int(&w, "b", -5);
	json_kv_uint(&w, "c", 18446744073709551615ull);
	json_kv_bool(&w, "d", true);
	json_key(&w, "e");
	json_arr_begin(&w);
	json_null(&w);
	json_str(&w, NULL);
	json_double(&w, 0.5);
	json_obj_begin(&w);
	json_obj_end(&w);
	json_arr_begin(&w);
	json_arr_end(&w);
	json_arr_end(&w);
	json_obj_end(&w);
	assert_string_equal(text(&w), "{\"a\":\"x\",\"b\":-5,\"c\":18446744073709551615,\"d\":true,"
				      "\"e\":[null,null,0.5,{},[]]}");
	json_w_free(&w);
}

static void test_writer_escaping(void **state)
{
	(void)state;
	struct json_w w;
	json_w_init(&w, 4096);
	/* quote, backslash, controls, DEL, valid UTF-8 kept, invalid bytes replaced */
	const char in[] = "q\"b\\n\n\r\t\x01\x1f\x7f \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xff\xc3 \xed\xa0\x80";
	json_str(&w, in);
	assert_string_equal(text(&w), "\"q\\\"b\\\\n\\n\\r\\t\\u0001\\u001f\\u007f \xc3\xa9 \xe2\x82\xac "
				      "\xf0\x9f\x98\x80 \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd\"");
	/* embedded NUL through json_strn */
	json_w_reset(&w);
	json_strn(&w, "a\0b", 3);
	assert_string_equal(text(&w), "\"a\\u0000b\"");
	/* keys are escaped too */
	json_w_reset(&w);
	json_obj_begin(&w);
	json_kv_str(&w, "k\"", "v");
	json_obj_end(&w);
	assert_string_equal(text(&w), "{\"k\\\"\":\"v\"}");
	/* non-finite doubles are not JSON */
	json_w_reset(&w);
	json_double(&w, 1.0 / 0.0);
	assert_string_equal(text(&w), "null");
	json_w_free(&w);
}

static void test_writer_misuse_and_limits(void **state)
{
	(void)state;
	struct json_w w;
	json_w_init(&w, 16);
	json_str(&w, "0123456789abcdefghij");
	assert_int_equal(json_w_error(&w), ENOSPC);
	assert_null(json_w_text(&w, NULL));
	json_w_free(&w);

	json_w_init(&w, 4096);
	json_obj_begin(&w);
	json_str(&w, "value without key");
	assert_int_equal(json_w_error(&w), EINVAL);
	json_w_free(&w);

	json_w_init(&w, 4096);
	json_arr_begin(&w);
	json_obj_end(&w); /* wrong closer */
	assert_int_equal(json_w_error(&w), EINVAL);
	json_w_free(&w);

	json_w_init(&w, 4096);
	json_obj_begin(&w);
	json_key(&w, "a");
	json_obj_end(&w); /* key without value */
	assert_int_equal(json_w_error(&w), EINVAL);
	json_w_free(&w);

	json_w_init(&w, 4096);
	json_int(&w, 1);
	json_int(&w, 2); /* two top-level values */
	assert_int_equal(json_w_error(&w), EINVAL);
	json_w_free(&w);

	json_w_init(&w, 1 << 20);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_arr_begin(&w);
	assert_int_equal(json_w_error(&w), EINVAL);
	json_w_free(&w);
}

static void test_reader(void **state)
{
	(void)state;
	const char *doc = " {\"a\": [1, -2.5e1, true, false, null], \"s\": \"x\\u00e9\\ud83d\\ude00\\n\", \"o\": {}} ";
	struct json_val *v = NULL;
	assert_int_equal(json_parse(doc, strlen(doc), &v, NULL), 0);
	const struct json_val *a = json_get(v, "a");
	assert_non_null(a);
	assert_int_equal(a->type, JSON_ARR);
	assert_int_equal(a->n, 5);
	assert_true(a->kids[1].num == -25.0);
	assert_true(a->kids[2].b);
	assert_string_equal(json_get_str(v, "s", ""), "x\xc3\xa9\xf0\x9f\x98\x80\n");
	assert_int_equal(json_get(v, "o")->type, JSON_OBJ);
	assert_null(json_get(v, "missing"));
	json_free(v);

	static const char *const bad[] = { "", "{", "[1,]", "{\"a\" 1}", "\"\\x\"", "01", "1.", "[1] 2", "\"\\u0000\"",
					   "\"\\ud800\"", "tru", "\"a\nb\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t off = 0;
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), &v, &off), EBADMSG);
	}
	/* nesting bound */
	char deep[200];
	memset(deep, '[', sizeof(deep));
	assert_int_equal(json_parse(deep, sizeof(deep), &v, NULL), EBADMSG);
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct json_w w;
	json_w_init(&w, 4096);
	json_obj_begin(&w);
	json_kv_str(&w, "subject", "CN=\"evil\"\\,O=x\x01");
	json_obj_end(&w);
	size_t n = 0;
	const char *t = json_w_text(&w, &n);
	struct json_val *v = NULL;
	assert_int_equal(json_parse(t, n, &v, NULL), 0);
	assert_string_equal(json_get_str(v, "subject", ""), "CN=\"evil\"\\,O=x\x01");
	json_free(v);
	json_w_free(&w);
}

static void h1(struct mgmt_req *q, void *arg)
{
	(void)q;
	(void)arg;
}

static void h2(struct mgmt_req *q, void *arg)
{
	(void)q;
	(void)arg;
}

static void test_routes(void **state)
{
	(void)state;
	struct mgmt_routes *r = NULL;
	assert_int_equal(mgmt_routes_alloc(&r), 0);
	int a1 = 1, a2 = 2, a3 = 3;
	assert_int_equal(mgmt_routes_add(r, MGMT_GET, "/connections", h1, &a1), 0);
	assert_int_equal(mgmt_routes_add(r, MGMT_DELETE, "/connections/", h2, &a2), 0);
	assert_int_equal(mgmt_routes_add(r, MGMT_GET | MGMT_POST, "/trust", h1, &a1), 0);
	assert_int_equal(mgmt_routes_add(r, MGMT_GET, "/trust/special", h2, &a3), 0);
	assert_int_equal(mgmt_routes_add(r, MGMT_GET, "no-slash", h1, NULL), EINVAL);
	assert_int_equal(mgmt_routes_add(r, 0, "/x", h1, NULL), EINVAL);

	mgmt_route_h *h = NULL;
	void *arg = NULL;
	const char *rest = NULL;
	unsigned allowed = 0;
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "/connections", &h, &arg, &rest, &allowed), MGMT_MATCH_OK);
	assert_ptr_equal(h, h1);
	assert_ptr_equal(arg, &a1);
	assert_string_equal(rest, "");
	assert_int_equal(mgmt_routes_match(r, MGMT_DELETE, "/connections/42", &h, &arg, &rest, &allowed),
			 MGMT_MATCH_OK);
	assert_ptr_equal(h, h2);
	assert_string_equal(rest, "42");
	/* segment boundary: no match on a longer word */
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "/connectionsX", &h, &arg, &rest, &allowed),
			 MGMT_MATCH_NO_PATH);
	assert_int_equal(mgmt_routes_match(r, MGMT_POST, "/connections", &h, &arg, &rest, &allowed),
			 MGMT_MATCH_BAD_METHOD);
	assert_int_equal(allowed, MGMT_GET | MGMT_DELETE);
	/* longest prefix wins, and then only its methods count */
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "/trust/special/x", &h, &arg, &rest, &allowed), MGMT_MATCH_OK);
	assert_ptr_equal(arg, &a3);
	assert_string_equal(rest, "x");
	assert_int_equal(mgmt_routes_match(r, MGMT_POST, "/trust/special", &h, &arg, &rest, &allowed),
			 MGMT_MATCH_BAD_METHOD);
	assert_int_equal(mgmt_routes_match(r, MGMT_POST, "/trust/default", &h, &arg, &rest, &allowed), MGMT_MATCH_OK);
	assert_ptr_equal(arg, &a1);
	assert_string_equal(rest, "default");
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "/", &h, &arg, &rest, &allowed), MGMT_MATCH_NO_PATH);
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "relative", &h, &arg, &rest, &allowed), MGMT_MATCH_NO_PATH);
	/* re-adding replaces */
	assert_int_equal(mgmt_routes_add(r, MGMT_GET, "/connections", h2, &a3), 0);
	assert_int_equal(mgmt_routes_match(r, MGMT_GET, "/connections", &h, &arg, &rest, &allowed), MGMT_MATCH_OK);
	assert_ptr_equal(h, h2);
	mem_deref(r);
}

static void test_prometheus(void **state)
{
	(void)state;
	struct mgmt_buf b;
	mgmt_buf_init(&b, 4096);
	prom_family(&b, "x_total", "counter", "Things.");
	prom_sample_u64(&b, "x_total", 3, "side", "server", "reason", "a\"b\\c\nd", NULL);
	prom_sample(&b, "y", 1.5, NULL);
	assert_int_equal(b.err, 0);
	assert_string_equal(b.p, "# HELP x_total Things.\n# TYPE x_total counter\n"
				 "x_total{side=\"server\",reason=\"a\\\"b\\\\c\\nd\"} 3\ny 1.5\n");
	mgmt_buf_free(&b);
	mgmt_buf_init(&b, 8);
	prom_sample(&b, "too_long_a_name", 1, NULL);
	assert_int_equal(b.err, ENOSPC);
	mgmt_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_writer_basic),  cmocka_unit_test(test_writer_escaping),
		cmocka_unit_test(test_writer_misuse_and_limits), cmocka_unit_test(test_reader),
		cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_routes),
		cmocka_unit_test(test_prometheus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
