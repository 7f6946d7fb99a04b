/* The location service's flow bookkeeping: a closing connection marks exactly the bindings that
 * rode on it as failed (RFC 5626 5.3), and the per-connection counts follow replace and purge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "base/mem.h"
#include "registrar/location.h"

static struct loc_binding binding(const char *aor, const char *contact, uint64_t conn, time_t exp)
{
	struct loc_binding b;
	memset(&b, 0, sizeof(b));
	snprintf(b.aor, sizeof(b.aor), "%s", aor);
	snprintf(b.contact, sizeof(b.contact), "%s", contact);
	b.conn_id = conn;
	b.transport = CONF_TP_TLS;
	b.expires_at = exp;
	b.q1000 = 1000;
	return b;
}

static void test_conn_close_marks_only_its_flows(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding a[2] = { binding("sip:a@x", "sip:a@1.1.1.1", 7, 2000), binding("sip:a@x", "sip:a@2.2.2.2", 8, 2000) };
	struct loc_binding b = binding("sip:b@x", "sip:b@3.3.3.3", 9, 2000);
	assert_int_equal(location_replace(loc, "sip:a@x", a, 2), 0);
	assert_int_equal(location_replace(loc, "sip:b@x", &b, 1), 0);
	location_conn_closed(loc, 42); /* carries nothing */
	location_conn_closed(loc, 8);
	struct loc_binding out[4];
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, out, 4), 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(out[i].flow_failed, out[i].conn_id == 8);
	assert_int_equal(location_lookup(loc, "sip:b@x", 1000, out, 4), 1);
	assert_false(out[0].flow_failed);
	mem_deref(loc);
}

/* A REGISTER that looked its bindings up before their connection closed writes them back
 * unmarked: the closed flow still reads as failed. */
static void test_closed_flow_stays_failed_across_replace(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding a = binding("sip:a@x", "sip:a@1.1.1.1", 7, 2000);
	assert_int_equal(location_replace(loc, "sip:a@x", &a, 1), 0);
	struct loc_binding seen;
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, &seen, 1), 1);
	assert_false(seen.flow_failed);
	location_conn_closed(loc, 7);
	struct loc_binding two[2] = { seen, binding("sip:a@x", "sip:a@2.2.2.2", 8, 2000) };
	assert_int_equal(location_replace(loc, "sip:a@x", two, 2), 0);
	struct loc_binding out[2];
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, out, 2), 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(out[i].flow_failed, out[i].conn_id == 7);
	mem_deref(loc);
}

static void test_counts_follow_replace_and_purge(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding a = binding("sip:a@x", "sip:a@1.1.1.1", 7, 1500);
	assert_int_equal(location_replace(loc, "sip:a@x", &a, 1), 0);
	/* Re-registration over a new connection: the old flow no longer carries the binding. */
	struct loc_binding a2 = binding("sip:a@x", "sip:a@1.1.1.1", 11, 1500);
	assert_int_equal(location_replace(loc, "sip:a@x", &a2, 1), 0);
	location_conn_closed(loc, 7);
	struct loc_binding out[2];
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, out, 2), 1);
	assert_false(out[0].flow_failed);
	/* After expiry and purge nothing is left to mark, and nothing breaks. */
	assert_int_equal(location_purge(loc, 2000, NULL, NULL), 1);
	location_conn_closed(loc, 11);
	assert_int_equal(location_count(loc), 0);
	mem_deref(loc);
}

/* A lookup gives the live bindings, best q first and then the most recently refreshed, with
 * what routing needs of each (the proxy routes from it). */
static void test_lookup_orders_and_keeps_routes(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding set[4] = {
		binding("sip:a@x", "sip:a@1.1.1.1;transport=tls", 7, 2000),
		binding("sip:a@x", "sip:a@2.2.2.2", 8, 900), /* expired at 1000 */
		binding("sip:a@x", "sip:a@3.3.3.3", 9, 2000),
		binding("sip:a@x", "sip:a@4.4.4.4", 10, 2000),
	};
	set[0].q1000 = 500;
	set[2].updated = 20;
	set[3].updated = 30;
	snprintf(set[3].path, sizeof(set[3].path), "<sip:edge.example;lr>");
	assert_int_equal(location_replace(loc, "sip:a@x", set, 4), 0);
	location_conn_closed(loc, 9);
	struct loc_binding lb[4];
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, lb, 4), 3);
	const char *want[3] = { "sip:a@4.4.4.4", "sip:a@3.3.3.3", "sip:a@1.1.1.1;transport=tls" };
	const uint64_t conn[3] = { 10, 9, 7 };
	for (int i = 0; i < 3; i++) {
		assert_string_equal(lb[i].contact, want[i]);
		assert_int_equal(lb[i].conn_id, conn[i]);
		assert_int_equal(lb[i].transport, CONF_TP_TLS);
	}
	assert_true(lb[1].flow_failed);
	assert_false(lb[0].flow_failed);
	assert_int_equal(lb[2].q1000, 500);
	assert_string_equal(lb[0].path, "<sip:edge.example;lr>");
	assert_string_equal(lb[1].path, "");
	/* more than fit: the count is still all of them */
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, lb, 1), 3);
	assert_int_equal(location_lookup(loc, "sip:none@x", 1000, lb, 4), 0);
	mem_deref(loc);
}

/* Lookup and replace copy bindings field by field: every field comes back as it went in. */
static void test_every_field_survives_replace_and_lookup(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding b = binding("sip:a@x", "sip:a@1.1.1.1;transport=tls;ob", 7, 2000);
	b.q1000 = 700;
	snprintf(b.call_id, sizeof(b.call_id), "c1@host");
	b.cseq = 42;
	snprintf(b.instance, sizeof(b.instance), "<urn:uuid:00000000-0000-1000-8000-000a95a0e128>");
	b.reg_id = 2;
	b.has_reg_id = true;
	snprintf(b.path, sizeof(b.path), "<sip:edge.example;lr>");
	snprintf(b.user_agent, sizeof(b.user_agent), "test/1");
	b.received.ss.ss_family = AF_INET;
	snprintf(b.cert_identity, sizeof(b.cert_identity), "a.example");
	b.updated = 990;
	memset(b.contact + strlen(b.contact) + 1, 'x', 10); /* bytes past the NUL are not content */
	assert_int_equal(location_replace(loc, "sip:a@x", &b, 1), 0);
	struct loc_binding out;
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, &out, 1), 1);
	assert_string_equal(out.aor, b.aor);
	assert_string_equal(out.contact, b.contact);
	assert_int_equal(out.expires_at, b.expires_at);
	assert_int_equal(out.q1000, b.q1000);
	assert_string_equal(out.call_id, b.call_id);
	assert_int_equal(out.cseq, b.cseq);
	assert_string_equal(out.instance, b.instance);
	assert_int_equal(out.reg_id, b.reg_id);
	assert_true(out.has_reg_id);
	assert_string_equal(out.path, b.path);
	assert_string_equal(out.user_agent, b.user_agent);
	assert_int_equal(out.transport, b.transport);
	assert_int_equal(out.conn_id, b.conn_id);
	assert_int_equal(out.received.ss.ss_family, AF_INET);
	assert_string_equal(out.cert_identity, b.cert_identity);
	assert_false(out.flow_failed);
	assert_int_equal(out.updated, b.updated);
	mem_deref(loc);
}

static void fill(char *f, size_t cap, char c)
{
	memset(f, c, cap - 1);
	f[cap - 1] = '\0';
}

/* Every string at its longest, in several bindings of one AOR: the packed strings of one never
 * run into the next, and the purge keeps the survivors' strings while handing the removed one,
 * whole, to its callback (the store deletes by it). */
static void on_binding(const struct loc_binding *b, void *arg)
{
	struct loc_binding *seen = arg;
	seen[b->cseq] = *b;
}

static void test_longest_strings_stay_apart(void **state)
{
	(void)state;
	struct location *loc = NULL;
	assert_int_equal(location_alloc(&loc), 0);
	struct loc_binding set[3];
	for (int i = 0; i < 3; i++) {
		set[i] = binding("sip:a@x", "", (uint64_t)(10 + i), i == 1 ? 1500 : 2000);
		char c = (char)('a' + i);
		fill(set[i].aor, sizeof(set[i].aor), c);
		fill(set[i].contact, sizeof(set[i].contact), c);
		fill(set[i].call_id, sizeof(set[i].call_id), c);
		fill(set[i].instance, sizeof(set[i].instance), c);
		fill(set[i].path, sizeof(set[i].path), c);
		fill(set[i].user_agent, sizeof(set[i].user_agent), c);
		fill(set[i].cert_identity, sizeof(set[i].cert_identity), c);
		set[i].cseq = (uint32_t)i;
		set[i].q1000 = (uint16_t)(900 - i);
	}
	memset(set[2].call_id, 'c', sizeof(set[2].call_id)); /* no NUL at all: cut at its size - 1 */
	assert_int_equal(location_replace(loc, "sip:a@x", set, 3), 0);

	struct loc_binding out[3];
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, out, 3), 3);
	for (int i = 0; i < 3; i++) {
		char want[sizeof(set[i].path)];
		fill(want, sizeof(out[i].aor), (char)('a' + i));
		assert_string_equal(out[i].aor, want);
		fill(want, sizeof(out[i].cert_identity), (char)('a' + i));
		assert_string_equal(out[i].cert_identity, want);
		fill(want, sizeof(want), (char)('a' + i));
		assert_string_equal(out[i].path, want);
		assert_string_equal(out[i].contact, want);
		assert_int_equal(strlen(out[i].call_id), sizeof(out[i].call_id) - 1);
		assert_int_equal(strlen(out[i].instance), sizeof(out[i].instance) - 1);
		assert_int_equal(strlen(out[i].user_agent), sizeof(out[i].user_agent) - 1);
		assert_int_equal(out[i].cseq, (uint32_t)i);
	}

	struct loc_binding seen[3];
	memset(seen, 0, sizeof(seen));
	location_foreach(loc, on_binding, seen);
	for (int i = 0; i < 3; i++)
		assert_int_equal(strlen(seen[i].contact), sizeof(seen[i].contact) - 1);

	memset(seen, 0, sizeof(seen));
	assert_int_equal(location_purge(loc, 1600, on_binding, seen), 1);
	assert_int_equal(seen[1].contact[0], 'b');
	assert_int_equal(strlen(seen[1].path), sizeof(seen[1].path) - 1);
	assert_int_equal(location_lookup(loc, "sip:a@x", 1000, out, 3), 2);
	assert_int_equal(out[0].contact[0], 'a');
	assert_int_equal(out[1].contact[0], 'c');
	assert_int_equal(strlen(out[1].contact), sizeof(out[1].contact) - 1);
	assert_int_equal(location_count(loc), 2);
	mem_deref(loc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field_survives_replace_and_lookup),
		cmocka_unit_test(test_lookup_orders_and_keeps_routes),
		cmocka_unit_test(test_conn_close_marks_only_its_flows),
		cmocka_unit_test(test_counts_follow_replace_and_purge),
		cmocka_unit_test(test_longest_strings_stay_apart),
		cmocka_unit_test(test_closed_flow_stays_failed_across_replace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
