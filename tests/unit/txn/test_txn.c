/* Transaction layer (RFC 3261 17) on a real event_base with tiny timers: T1 = 10 ms, T2 = 40 ms,
 * T4 = 50 ms, so 64*T1 = 640 ms. A fake send handler records every message and its hop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "base/mem.h"
#include "base/timeutil.h"
#include "sip/msg.h"
#include "txn/internal.h"
#include "txn/txn.h"

#define T1 10u
#define T2 40u
#define T4 50u
#define T64 (64u * T1)
#define MAX_SENT 512
#define SLACK 35u /* ms a timer may fire late on a loaded host */

struct sent {
	struct txn_hop hop;
	char *buf;
	size_t len;
	uint64_t at;
};

struct got {
	uint16_t status[32];
	bool had_msg[32];
	size_t n;
};

static struct {
	struct event_base *base;
	struct txn_layer *l;
	struct sent sent[MAX_SENT];
	size_t nsent;
	int fail;       /* errno returned by the next sends */
	int fail_count; /* how many sends fail (-1: all) */
	int ends, end_reason;
} g;

static int fake_send(const struct txn_hop *hop, const char *buf, size_t len, void *arg)
{
	(void)arg;
	if (g.fail && g.fail_count) {
		if (g.fail_count > 0)
			g.fail_count--;
		return g.fail;
	}
	if (g.nsent < MAX_SENT) {
		struct sent *s = &g.sent[g.nsent++];
		s->hop = *hop;
		s->buf = malloc(len + 1);
		memcpy(s->buf, buf, len);
		s->buf[len] = '\0';
		s->len = len;
		s->at = time_mono_ms();
	}
	return 0;
}

static void sent_clear(void)
{
	for (size_t i = 0; i < g.nsent; i++)
		free(g.sent[i].buf);
	g.nsent = 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&g, 0, sizeof(g));
	g.base = event_base_new();
	struct txn_timers t = { T1, T2, T4 };
	assert_int_equal(txn_layer_alloc(&g.l, g.base, &t, fake_send, NULL), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	g.l = mem_deref(g.l);
	event_base_free(g.base);
	sent_clear();
	return 0;
}

static void run_ms(unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	event_base_loopexit(g.base, &tv);
	event_base_dispatch(g.base);
}

static struct sip_msg *parse(const char *s)
{
	struct sip_msg *m = NULL;
	assert_int_equal(sip_msg_parse(s, strlen(s), NULL, 0, &m, NULL), 0);
	return m;
}

/* A request arriving from the UAC 192.0.2.1. */
static struct sip_msg *req_in(const char *method, const char *branch, const char *cseq_method,
			      const char *to_tag)
{
	char b[1024];
	snprintf(b, sizeof(b),
		 "%s sip:bob@example.com SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: Alice <sip:alice@example.com>;tag=a1\r\n"
		 "To: Bob <sip:bob@example.com>%s%s\r\n"
		 "Call-ID: c1@192.0.2.1\r\n"
		 "CSeq: 1 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, branch, to_tag ? ";tag=" : "", to_tag ? to_tag : "", cseq_method);
	return parse(b);
}

/* A request we forward: our Via on top, the UAC's below, one Route. */
static size_t req_out(char *b, size_t sz, const char *method, const char *branch)
{
	int n = snprintf(b, sz,
			 "%s sip:bob@203.0.113.5:5070 SIP/2.0\r\n"
			 "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=%s, SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup\r\n"
			 "Max-Forwards: 69\r\n"
			 "Route: <sip:p2.example.net;lr>\r\n"
			 "From: Alice <sip:alice@example.com>;tag=a1\r\n"
			 "To: Bob <sip:bob@example.com>\r\n"
			 "Call-ID: c1@192.0.2.1\r\n"
			 "CSeq: 7 %s\r\n"
			 "Contact: <sip:alice@192.0.2.1>\r\n"
			 "Content-Length: 0\r\n\r\n",
			 method, branch, method);
	return (size_t)n;
}

static struct sip_msg *resp_in(unsigned status, const char *branch, const char *cseq_method)
{
	char b[1024];
	snprintf(b, sizeof(b),
		 "SIP/2.0 %u Whatever\r\n"
		 "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKup\r\n"
		 "From: Alice <sip:alice@example.com>;tag=a1\r\n"
		 "To: Bob <sip:bob@example.com>%s\r\n"
		 "Call-ID: c1@192.0.2.1\r\n"
		 "CSeq: 7 %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 status, branch, status > 100 ? ";tag=b9" : "", cseq_method);
	return parse(b);
}

static void set_addr(struct tp_addr *a, const char *ip, uint16_t port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
	memset(a, 0, sizeof(*a));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(port);
	inet_pton(AF_INET, ip, &s4->sin_addr);
	a->len = sizeof(*s4);
}

static struct txn_hop hop(enum conf_transport tp)
{
	struct txn_hop h = { .transport = tp, .conn_id = tp == CONF_TP_UDP ? 0 : 42 };
	set_addr(&h.addr, "192.0.2.1", 5060);
	return h;
}

static void on_end(struct txn_server *st, int reason, void *arg)
{
	(void)st;
	(void)arg;
	g.ends++;
	g.end_reason = reason;
}

static void on_end_other(struct txn_server *st, int reason, void *arg)
{
	(void)st;
	(void)reason;
	(void)arg;
}

static void on_resp(struct txn_client *ct, const struct sip_msg *resp, uint16_t status, void *arg)
{
	(void)ct;
	struct got *r = arg;
	if (r->n < 32) {
		r->had_msg[r->n] = resp != NULL;
		r->status[r->n++] = status;
	}
}

static bool starts(const struct sent *s, const char *prefix)
{
	return s->len >= strlen(prefix) && !memcmp(s->buf, prefix, strlen(prefix));
}

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- server ---- */

static void test_server_non_invite(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *m = req_in("OPTIONS", "z9hG4bKs1", "OPTIONS", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	assert_non_null(st);
	assert_ptr_equal(txn_server_request(st), m);
	assert_int_equal(txn_server_hop(st)->transport, CONF_TP_UDP);
	/* the owner's arg comes back only to the handler that set it (CANCEL finds its INVITE's
	 * forwarding context this way) */
	assert_null(txn_server_owner(st, on_end));
	int mine;
	txn_server_set_owner(st, on_end, &mine);
	assert_ptr_equal(txn_server_owner(st, on_end), &mine);
	assert_null(txn_server_owner(st, on_end_other));
	assert_null(txn_server_owner(NULL, on_end));
	txn_server_set_owner(st, NULL, NULL);
	assert_null(txn_server_owner(st, on_end));
	txn_server_set_owner(st, on_end, NULL);

	/* Trying: a retransmission is absorbed, nothing to re-send yet (17.2.2) */
	struct txn_server *st2 = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st2), TXN_RETRANSMISSION);
	assert_null(st2);
	assert_int_equal(g.nsent, 0);

	assert_int_equal(txn_server_reply(st, 200, NULL, NULL, 0), 0);
	assert_true(txn_server_final_sent(st));
	assert_int_equal(g.nsent, 1);
	assert_true(starts(&g.sent[0], "SIP/2.0 200 OK\r\n"));
	char tagp[64];
	snprintf(tagp, sizeof(tagp), ";tag=%s", txn_server_to_tag(st));
	assert_non_null(strstr(g.sent[0].buf, tagp));
	assert_int_equal(txn_server_respond(st, 200, "x", 1), EPROTO);

	/* Completed: the final goes out again for each retransmission */
	assert_int_equal(txn_server_recv(g.l, m, &h, &st2), TXN_RETRANSMISSION);
	assert_int_equal(g.nsent, 2);
	assert_string_equal(g.sent[1].buf, g.sent[0].buf);

	/* no retransmission timer for non-INVITE responses; timer J = 64*T1 */
	run_ms(T64 / 2);
	assert_int_equal(g.nsent, 2);
	assert_int_equal(g.ends, 0);
	run_ms(T64 / 2 + 100);
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, 0);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.servers, 0);
	assert_int_equal(s.finals_sent[2], 1);

	/* after Terminated the same request is a new transaction */
	assert_int_equal(txn_server_recv(g.l, m, &h, &st2), TXN_NEW);
	mem_deref(m);
	/* st2 is left live: the layer frees it at teardown */
}

static void test_server_non_invite_reliable_timer_j_zero(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_TLS);
	struct sip_msg *m = req_in("MESSAGE", "z9hG4bKs2", "MESSAGE", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	assert_int_equal(txn_server_reply(st, 202, NULL, NULL, 0), 0);
	assert_int_equal(g.sent[0].hop.conn_id, 42);
	assert_int_equal(g.ends, 0); /* never from inside the call */
	run_ms(20);
	assert_int_equal(g.ends, 1);
	mem_deref(m);
}

static void test_server_invite_udp_timer_g_and_ack(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *m = req_in("INVITE", "z9hG4bKi1", "INVITE", NULL);
	struct txn_server *st = NULL, *x = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	/* RFC 3261 16.2: the proxy answers 100 at once; no To tag on it (8.2.6.2) */
	assert_int_equal(txn_server_reply(st, 100, NULL, NULL, 0), 0);
	assert_true(starts(&g.sent[0], "SIP/2.0 100 Trying\r\n"));
	assert_non_null(strstr(g.sent[0].buf, "\r\nTo: Bob <sip:bob@example.com>\r\n"));
	assert_false(txn_server_final_sent(st));
	/* Proceeding: a retransmitted INVITE gets the last provisional */
	assert_int_equal(txn_server_recv(g.l, m, &h, &x), TXN_RETRANSMISSION);
	assert_int_equal(g.nsent, 2);
	assert_true(starts(&g.sent[1], "SIP/2.0 100 Trying\r\n"));

	struct slice extra[] = { SLICE_LIT("Retry-After: 30") };
	assert_int_equal(txn_server_reply(st, 486, NULL, extra, 1), 0);
	assert_int_equal(g.nsent, 3);
	assert_true(starts(&g.sent[2], "SIP/2.0 486 Busy Here\r\n"));
	assert_non_null(strstr(g.sent[2].buf, "Retry-After: 30\r\n"));
	size_t first = 2;

	/* timer G: T1, 2T1, 4T1 capped at T2 */
	run_ms(250);
	size_t n = g.nsent - first - 1;
	assert_true(n >= 4 && n <= 10);
	for (size_t i = first + 1; i < g.nsent; i++)
		assert_string_equal(g.sent[i].buf, g.sent[first].buf);
	uint64_t d1 = g.sent[first + 1].at - g.sent[first].at;
	uint64_t d2 = g.sent[first + 2].at - g.sent[first + 1].at;
	uint64_t d3 = g.sent[first + 3].at - g.sent[first + 2].at;
	uint64_t d4 = g.sent[first + 4].at - g.sent[first + 3].at;
	/* lower bounds exact (timers never fire early), upper ones loose for loaded CI hosts */
	assert_true(d1 >= T1 - 1 && d1 < T1 + SLACK);
	assert_true(d2 >= 2 * T1 - 1 && d2 < 2 * T1 + SLACK);
	assert_true(d3 >= T2 - 1 && d3 < T2 + SLACK);
	assert_true(d4 >= T2 - 1 && d4 < T2 + SLACK);

	/* the ACK (same branch, To tag of our final) confirms: retransmissions stop, timer I */
	struct sip_msg *ack = req_in("ACK", "z9hG4bKi1", "ACK", txn_server_to_tag(st));
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_ACK_ABSORBED);
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_ACK_ABSORBED);
	/* Confirmed absorbs INVITE retransmissions without answering */
	size_t before = g.nsent;
	assert_int_equal(txn_server_recv(g.l, m, &h, &x), TXN_RETRANSMISSION);
	run_ms(T4 / 2);
	assert_int_equal(g.nsent, before);
	assert_int_equal(g.ends, 0);
	run_ms(T4);
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, 0);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.servers, 0);
	assert_int_equal(s.finals_sent[4], 1);
	mem_deref(ack);
	mem_deref(m);
}

static void test_server_invite_timer_h(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *m = req_in("INVITE", "z9hG4bKi2", "INVITE", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	assert_int_equal(txn_server_reply(st, 503, NULL, NULL, 0), 0);
	run_ms(T64 + 100);
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, ETIMEDOUT);
	/* 640 ms at most 40 ms apart: about 18 retransmissions */
	assert_true(g.nsent >= 8 && g.nsent <= 22);
	uint64_t dt = g.sent[g.nsent - 1].at - g.sent[g.nsent - 2].at;
	assert_true(dt >= T2 - 1 && dt <= T2 + SLACK);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.timeouts, 1);
	mem_deref(m);
}

static void test_server_invite_reliable_no_retransmission(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_TCP);
	struct sip_msg *m = req_in("INVITE", "z9hG4bKi3", "INVITE", NULL);
	struct txn_server *st = NULL, *x = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	assert_int_equal(txn_server_reply(st, 404, NULL, NULL, 0), 0);
	run_ms(150);
	assert_int_equal(g.nsent, 1);
	/* the request itself retransmitted (a UAC bug over TCP) still gets the final (17.2.1) */
	assert_int_equal(txn_server_recv(g.l, m, &h, &x), TXN_RETRANSMISSION);
	assert_int_equal(g.nsent, 2);
	struct sip_msg *ack = req_in("ACK", "z9hG4bKi3", "ACK", txn_server_to_tag(st));
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_ACK_ABSORBED);
	run_ms(10); /* timer I = 0 on reliable transports */
	assert_int_equal(g.ends, 1);
	mem_deref(ack);
	mem_deref(m);
}

static void test_server_invite_timer_h_reliable(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_TLS);
	struct sip_msg *m = req_in("INVITE", "z9hG4bKi4", "INVITE", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	assert_int_equal(txn_server_reply(st, 480, NULL, NULL, 0), 0);
	run_ms(T64 + 100);
	assert_int_equal(g.nsent, 1);
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, ETIMEDOUT);
	mem_deref(m);
}

static void test_server_invite_2xx_terminates(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *m = req_in("INVITE", "z9hG4bKi5", "INVITE", NULL);
	struct txn_server *st = NULL, *x = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	const char *ok = "SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";
	assert_int_equal(txn_server_respond(st, 200, ok, strlen(ok)), 0);
	assert_true(txn_server_final_sent(st));
	/* no retransmission of the 2xx by the txn (the UAS does it end to end) */
	run_ms(60);
	assert_int_equal(g.nsent, 1);
	assert_int_equal(g.ends, 0);
	/* a 2xx of another fork goes through; a non-2xx does not */
	assert_int_equal(txn_server_respond(st, 200, ok, strlen(ok)), 0);
	assert_int_equal(g.nsent, 2);
	assert_int_equal(txn_server_reply(st, 486, NULL, NULL, 0), EPROTO);
	assert_null(txn_server_find_invite(g.l, m)); /* too late to CANCEL */
	g.nsent = 1;
	free(g.sent[1].buf);
	/* RFC 6026 Accepted: the INVITE retransmission is absorbed without a reply, the ACK for
	 * the 2xx (its own branch, or even this one) goes end to end */
	assert_int_equal(txn_server_recv(g.l, m, &h, &x), TXN_RETRANSMISSION);
	assert_int_equal(g.nsent, 1);
	struct sip_msg *ack = req_in("ACK", "z9hG4bKack5", "ACK", "t5");
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_NO_MATCH_ACK);
	struct sip_msg *ack2 = req_in("ACK", "z9hG4bKi5", "ACK", "t5");
	assert_int_equal(txn_server_recv(g.l, ack2, &h, &x), TXN_NO_MATCH_ACK);
	run_ms(T64 + 50); /* timer L */
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, 0);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.servers, 0);
	/* after Terminated the same INVITE is a new transaction */
	assert_int_equal(txn_server_recv(g.l, m, &h, &x), TXN_NEW);
	mem_deref(ack2);
	mem_deref(ack);
	mem_deref(m);
}

static void test_server_cancel_matching(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *inv = req_in("INVITE", "z9hG4bKc1", "INVITE", NULL);
	struct sip_msg *can = req_in("CANCEL", "z9hG4bKc1", "CANCEL", NULL);
	struct sip_msg *other = req_in("CANCEL", "z9hG4bKzz", "CANCEL", NULL);
	struct txn_server *ist = NULL, *cst = NULL, *x = NULL;
	assert_int_equal(txn_server_recv(g.l, inv, &h, &ist), TXN_NEW);
	assert_int_equal(txn_server_reply(ist, 100, NULL, NULL, 0), 0);
	/* the CANCEL is its own non-INVITE txn (9.2), pointing at the INVITE one */
	assert_int_equal(txn_server_recv(g.l, can, &h, &cst), TXN_NEW);
	assert_ptr_not_equal(cst, ist);
	assert_ptr_equal(txn_server_find_invite(g.l, can), ist);
	assert_null(txn_server_find_invite(g.l, other));
	assert_int_equal(txn_server_recv(g.l, can, &h, &x), TXN_RETRANSMISSION);
	assert_int_equal(txn_server_reply(cst, 200, NULL, NULL, 0), 0);
	assert_int_equal(txn_server_reply(ist, 487, NULL, NULL, 0), 0);
	assert_true(starts(&g.sent[g.nsent - 1], "SIP/2.0 487 Request Terminated\r\n"));
	/* both responses of the INVITE txn carry the same To tag */
	assert_non_null(strstr(g.sent[g.nsent - 1].buf, txn_server_to_tag(ist)));
	/* a different sent-by does not match (17.2.3) */
	const char *s =
		"CANCEL sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bKc1\r\n"
		"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:bob@example.com>\r\n"
		"Call-ID: c1@192.0.2.1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *spoof = parse(s);
	assert_null(txn_server_find_invite(g.l, spoof));
	mem_deref(spoof);
	mem_deref(other);
	mem_deref(can);
	mem_deref(inv);
}

static void test_server_rfc2543_matching(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *inv = req_in("INVITE", "oldbranch", "INVITE", NULL);
	struct txn_server *st = NULL, *x = NULL;
	assert_int_equal(txn_server_recv(g.l, inv, &h, &st), TXN_NEW);
	assert_int_equal(txn_server_recv(g.l, inv, &h, &x), TXN_RETRANSMISSION);
	assert_int_equal(txn_server_reply(st, 603, NULL, NULL, 0), 0);
	/* the ACK matches with the To tag of our response */
	struct sip_msg *bad = req_in("ACK", "oldbranch", "ACK", "nottag");
	assert_int_equal(txn_server_recv(g.l, bad, &h, &x), TXN_NO_MATCH_ACK);
	struct sip_msg *ack = req_in("ACK", "oldbranch", "ACK", txn_server_to_tag(st));
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_ACK_ABSORBED);
	/* another CSeq is another transaction */
	const char *s =
		"INVITE sip:bob@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=oldbranch\r\n"
		"From: Alice <sip:alice@example.com>;tag=a1\r\nTo: Bob <sip:bob@example.com>\r\n"
		"Call-ID: c1@192.0.2.1\r\nCSeq: 2 INVITE\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *inv2 = parse(s);
	assert_int_equal(txn_server_recv(g.l, inv2, &h, &x), TXN_NEW);
	mem_deref(inv2);
	mem_deref(ack);
	mem_deref(bad);
	mem_deref(inv);
}

static void test_server_transport_error(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_TCP);
	struct sip_msg *m = req_in("BYE", "z9hG4bKb1", "BYE", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	txn_server_set_owner(st, on_end, NULL);
	g.fail = ENOTCONN;
	g.fail_count = -1;
	assert_int_equal(txn_server_reply(st, 200, NULL, NULL, 0), ENOTCONN);
	assert_int_equal(g.ends, 0);
	run_ms(5);
	assert_int_equal(g.ends, 1);
	assert_int_equal(g.end_reason, EPIPE);
	mem_deref(m);
}

static void test_server_ack_without_txn(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct sip_msg *ack = req_in("ACK", "z9hG4bKnone", "ACK", "x");
	struct txn_server *x = NULL;
	assert_int_equal(txn_server_recv(g.l, ack, &h, &x), TXN_NO_MATCH_ACK);
	assert_null(x);
	mem_deref(ack);
}

/* ---- client ---- */

static struct txn_client *start(const char *method, const char *branch, enum conf_transport tp,
				struct got *r)
{
	char b[1024];
	size_t n = req_out(b, sizeof(b), method, branch);
	struct txn_hop h = hop(tp);
	set_addr(&h.addr, "203.0.113.5", 5070);
	struct txn_client *ct = NULL;
	assert_int_equal(txn_client_start(g.l, &h, b, n, slice_from_cstr(branch), on_resp, r, &ct), 0);
	return ct;
}

static void feed(unsigned status, const char *branch, const char *method, int expect)
{
	struct sip_msg *m = resp_in(status, branch, method);
	assert_int_equal(txn_client_recv(g.l, m), expect);
	mem_deref(m);
}

static void test_client_invite_timer_a_b(void **state)
{
	(void)state;
	struct got r = { 0 };
	start("INVITE", "z9hG4bKa1", CONF_TP_UDP, &r);
	assert_int_equal(g.nsent, 1);
	assert_true(starts(&g.sent[0], "INVITE sip:bob@203.0.113.5:5070 SIP/2.0\r\n"));
	run_ms(T64 + 60);
	/* timer A at 10, 30, 70, 150, 310, 630 ms; timer B at 640 */
	assert_true(g.nsent >= 5 && g.nsent <= 7);
	for (size_t i = 1; i < g.nsent; i++)
		assert_string_equal(g.sent[i].buf, g.sent[0].buf);
	for (size_t i = 2; i + 1 < g.nsent; i++) {
		uint64_t a = g.sent[i].at - g.sent[i - 1].at, b = g.sent[i + 1].at - g.sent[i].at;
		/* doubling, no T2 cap for INVITE; a late firing lengthens a, b is re-armed from it */
		assert_true(b + 2 * SLACK >= 2 * a && b <= 2 * a + SLACK);
	}
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status[0], 408);
	assert_false(r.had_msg[0]);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.clients, 0);
	assert_int_equal(s.timeouts, 1);
}

static void test_client_invite_non2xx_ack(void **state)
{
	(void)state;
	struct got r = { 0 };
	struct txn_client *ct = start("INVITE", "z9hG4bKa2", CONF_TP_UDP, &r);
	feed(100, "z9hG4bKa2", "INVITE", 0);
	feed(180, "z9hG4bKa2", "INVITE", 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[0], 100);
	assert_int_equal(r.status[1], 180);
	assert_true(r.had_msg[1]);
	size_t before = g.nsent;
	run_ms(100); /* Proceeding: no more retransmissions */
	assert_int_equal(g.nsent, before);

	mem_ref(ct); /* keep it past the final to poke at it */
	feed(486, "z9hG4bKa2", "INVITE", 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.status[2], 486);
	assert_int_equal(g.nsent, before + 1);
	const char *ack = g.sent[before].buf;
	/* 17.1.1.3: R-URI of the request, its top Via only, To of the response, CSeq num ACK */
	assert_true(starts(&g.sent[before], "ACK sip:bob@203.0.113.5:5070 SIP/2.0\r\n"));
	assert_int_equal(count_substr(ack, "Via:"), 1);
	assert_int_equal(count_substr(ack, "SIP/2.0/UDP"), 1);
	assert_non_null(strstr(ack, "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bKa2\r\n"));
	assert_non_null(strstr(ack, "\r\nTo: Bob <sip:bob@example.com>;tag=b9\r\n"));
	assert_non_null(strstr(ack, "\r\nFrom: Alice <sip:alice@example.com>;tag=a1\r\n"));
	assert_non_null(strstr(ack, "\r\nCall-ID: c1@192.0.2.1\r\n"));
	assert_non_null(strstr(ack, "\r\nCSeq: 7 ACK\r\n"));
	assert_non_null(strstr(ack, "\r\nRoute: <sip:p2.example.net;lr>\r\n"));
	assert_non_null(strstr(ack, "\r\nMax-Forwards: 70\r\n"));
	assert_null(strstr(ack, "Contact:"));
	assert_true(strstr(ack, "\r\nContent-Length: 0\r\n\r\n") == ack + strlen(ack) - 23);
	struct sip_msg *am = parse(ack);
	assert_int_equal(sip_msg_method_id(am), SIP_METHOD_ACK);
	mem_deref(am);

	/* retransmitted final: absorbed, ACK re-sent */
	feed(486, "z9hG4bKa2", "INVITE", 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(g.nsent, before + 2);
	assert_string_equal(g.sent[before + 1].buf, g.sent[before].buf);
	assert_int_equal(txn_client_cancel(ct), EALREADY);
	/* a 2xx from another fork is not the txn's: the proxy relays it */
	feed(200, "z9hG4bKa2", "INVITE", ENOENT);
	/* timer D = 64*T1 on UDP */
	run_ms(T64 + 50);
	feed(486, "z9hG4bKa2", "INVITE", ENOENT);
	assert_int_equal(txn_client_cancel(ct), ESHUTDOWN);
	mem_deref(ct);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.clients, 0);
}

static void test_client_invite_2xx(void **state)
{
	(void)state;
	struct got r = { 0 };
	start("INVITE", "z9hG4bKa3", CONF_TP_UDP, &r);
	feed(200, "z9hG4bKa3", "INVITE", 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status[0], 200);
	assert_int_equal(g.nsent, 1); /* no ACK from the txn: ACK for 2xx is end to end */
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.clients, 0);
	/* the 2xx retransmission no longer matches: relayed statelessly */
	feed(200, "z9hG4bKa3", "INVITE", ENOENT);
	run_ms(100);
	assert_int_equal(g.nsent, 1);
	assert_int_equal(r.n, 1);
}

static void test_client_non_invite_timer_e_f(void **state)
{
	(void)state;
	struct got r = { 0 };
	start("OPTIONS", "z9hG4bKn1", CONF_TP_UDP, &r);
	run_ms(T64 + 60);
	/* E at 10, 30, 70, 110, ... up to 630: 1 + 17 sends */
	assert_true(g.nsent >= 10 && g.nsent <= 20);
	uint64_t d1 = g.sent[1].at - g.sent[0].at, d2 = g.sent[2].at - g.sent[1].at;
	assert_true(d1 >= T1 - 1 && d1 < T1 + SLACK);
	assert_true(d2 >= 2 * T1 - 1 && d2 < 2 * T1 + SLACK);
	for (size_t i = 4; i < g.nsent; i++) {
		uint64_t d = g.sent[i].at - g.sent[i - 1].at;
		assert_true(d >= T2 - 1 && d < T2 + SLACK); /* capped at T2 */
	}
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status[0], 408);
	assert_false(r.had_msg[0]);
}

static void test_client_non_invite_final(void **state)
{
	(void)state;
	struct got r = { 0 };
	start("REGISTER", "z9hG4bKn2", CONF_TP_UDP, &r);
	run_ms(15);
	feed(100, "z9hG4bKn2", "REGISTER", 0);
	/* Proceeding: retransmissions continue every T2 */
	size_t before = g.nsent;
	run_ms(T2 + 10);
	assert_true(g.nsent >= before + 1);
	feed(401, "z9hG4bKn2", "REGISTER", 0);
	feed(401, "z9hG4bKn2", "REGISTER", 0); /* absorbed */
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[1], 401);
	before = g.nsent;
	run_ms(T4 + 20); /* timer K, and no more retransmissions */
	assert_int_equal(g.nsent, before);
	feed(401, "z9hG4bKn2", "REGISTER", ENOENT);
	assert_int_equal(r.n, 2);
}

static void test_client_reliable_no_retransmission(void **state)
{
	(void)state;
	struct got ri = { 0 }, rn = { 0 };
	start("INVITE", "z9hG4bKr1", CONF_TP_TLS, &ri);
	start("BYE", "z9hG4bKr2", CONF_TP_TCP, &rn);
	assert_int_equal(g.nsent, 2);
	assert_int_equal(g.sent[0].hop.transport, CONF_TP_TLS);
	assert_int_equal(g.sent[0].hop.conn_id, 42);
	run_ms(T64 + 60);
	assert_int_equal(g.nsent, 2);
	/* timers B and F run on every transport */
	assert_int_equal(ri.n, 1);
	assert_int_equal(ri.status[0], 408);
	assert_int_equal(rn.n, 1);
	assert_int_equal(rn.status[0], 408);
}

static void test_client_reliable_final_ack_and_timer_d_zero(void **state)
{
	(void)state;
	struct got r = { 0 };
	struct txn_client *ct = start("INVITE", "z9hG4bKr3", CONF_TP_TLS, &r);
	/* the connection became known after the send: the ACK follows it */
	txn_client_set_conn(ct, 77);
	assert_int_equal(txn_client_hop(ct)->conn_id, 77);
	assert_int_equal(sip_msg_method_id(txn_client_request(ct)), SIP_METHOD_INVITE);
	feed(603, "z9hG4bKr3", "INVITE", 0);
	assert_int_equal(g.nsent, 2);
	assert_true(starts(&g.sent[1], "ACK "));
	assert_int_equal(g.sent[1].hop.conn_id, 77);
	run_ms(10); /* timer D = 0 */
	feed(603, "z9hG4bKr3", "INVITE", ENOENT);
}

static void test_client_transport_error(void **state)
{
	(void)state;
	struct got r = { 0 };
	g.fail = ECONNREFUSED;
	g.fail_count = 1;
	struct txn_client *ct = start("INVITE", "z9hG4bKt1", CONF_TP_TLS, &r);
	assert_non_null(ct);
	assert_int_equal(r.n, 0); /* never from inside txn_client_start */
	run_ms(5);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.status[0], 503);
	assert_false(r.had_msg[0]);

	/* a failing retransmission (timer A) */
	struct got r2 = { 0 };
	start("INVITE", "z9hG4bKt2", CONF_TP_UDP, &r2);
	g.fail = EHOSTUNREACH;
	g.fail_count = -1;
	run_ms(30);
	assert_int_equal(r2.n, 1);
	assert_int_equal(r2.status[0], 503);
	g.fail = 0;

	/* learnt later (connection lost) */
	struct got r3 = { 0 };
	struct txn_client *c3 = start("OPTIONS", "z9hG4bKt3", CONF_TP_TCP, &r3);
	txn_client_transport_error(c3, ECONNRESET);
	assert_int_equal(r3.n, 0);
	run_ms(5);
	assert_int_equal(r3.n, 1);
	assert_int_equal(r3.status[0], 503);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.clients, 0);
	assert_true(s.transport_errors >= 3);
}

static void check_cancel(const struct sent *c, const char *branch)
{
	char via[128];
	snprintf(via, sizeof(via), "Via: SIP/2.0/UDP 198.51.100.1:5060;branch=%s\r\n", branch);
	assert_true(starts(c, "CANCEL sip:bob@203.0.113.5:5070 SIP/2.0\r\n"));
	assert_non_null(strstr(c->buf, via));
	assert_int_equal(count_substr(c->buf, "SIP/2.0/UDP"), 1);
	assert_non_null(strstr(c->buf, "\r\nTo: Bob <sip:bob@example.com>\r\n"));
	assert_non_null(strstr(c->buf, "\r\nCSeq: 7 CANCEL\r\n"));
	assert_non_null(strstr(c->buf, "\r\nRoute: <sip:p2.example.net;lr>\r\n"));
	assert_non_null(strstr(c->buf, "\r\nCall-ID: c1@192.0.2.1\r\n"));
}

static void test_client_cancel_before_provisional(void **state)
{
	(void)state;
	struct got r = { 0 };
	struct txn_client *ct = start("INVITE", "z9hG4bKx1", CONF_TP_UDP, &r);
	assert_int_equal(txn_client_cancel(ct), 0);
	assert_int_equal(txn_client_cancel(ct), EALREADY);
	assert_int_equal(g.nsent, 1); /* 9.1: not before a provisional */
	run_ms(15);
	size_t before = g.nsent;
	feed(180, "z9hG4bKx1", "INVITE", 0);
	assert_int_equal(g.nsent, before + 1);
	check_cancel(&g.sent[before], "z9hG4bKx1");
	assert_null(strstr(g.sent[before].buf, "Reason:"));
	/* the CANCEL's own 200 is absorbed */
	feed(200, "z9hG4bKx1", "CANCEL", 0);
	assert_int_equal(r.n, 1);
	feed(487, "z9hG4bKx1", "INVITE", 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[1], 487);
	assert_true(starts(&g.sent[g.nsent - 1], "ACK "));
}

static void test_client_cancel_after_provisional(void **state)
{
	(void)state;
	struct got r = { 0 };
	struct txn_client *ct = start("INVITE", "z9hG4bKx2", CONF_TP_UDP, &r);
	feed(183, "z9hG4bKx2", "INVITE", 0);
	size_t before = g.nsent;
	assert_int_equal(txn_client_cancel_reason(ct, SLICE_LIT("SIP;cause=200;text=\"Call completed elsewhere\"")), 0);
	assert_int_equal(g.nsent, before + 1);
	check_cancel(&g.sent[before], "z9hG4bKx2");
	assert_non_null(strstr(g.sent[before].buf, "\r\nReason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n"));
	/* the CANCEL is retransmitted (timer E), the INVITE not */
	run_ms(35);
	for (size_t i = before + 1; i < g.nsent; i++)
		assert_true(starts(&g.sent[i], "CANCEL "));
	assert_true(g.nsent > before + 1);
	feed(200, "z9hG4bKx2", "CANCEL", 0);
	/* 9.1: no final 64*T1 after the CANCEL: the INVITE is given up */
	run_ms(T64 + 60);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.status[1], 408);
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.clients, 0);
}

static void test_client_cancel_final_first(void **state)
{
	(void)state;
	struct got r = { 0 };
	struct txn_client *ct = start("INVITE", "z9hG4bKx3", CONF_TP_UDP, &r);
	assert_int_equal(txn_client_cancel(ct), 0);
	feed(486, "z9hG4bKx3", "INVITE", 0);
	assert_int_equal(g.nsent, 2);
	assert_true(starts(&g.sent[1], "ACK "));
	run_ms(30);
	for (size_t i = 0; i < g.nsent; i++)
		assert_false(starts(&g.sent[i], "CANCEL "));
	assert_int_equal(r.n, 1);
	/* not INVITE: nothing to cancel */
	struct got r2 = { 0 };
	struct txn_client *c2 = start("OPTIONS", "z9hG4bKx4", CONF_TP_UDP, &r2);
	assert_int_equal(txn_client_cancel(c2), EINVAL);
}

static void test_client_no_match(void **state)
{
	(void)state;
	struct got r = { 0 };
	start("INVITE", "z9hG4bKm1", CONF_TP_UDP, &r);
	feed(180, "z9hG4bKunknown", "INVITE", ENOENT);
	feed(180, "z9hG4bKm1", "BYE", ENOENT); /* 17.1.3: the CSeq method counts */
	feed(180, "z9hG4bKM1", "INVITE", 0);   /* branch compares case-insensitively */
	assert_int_equal(r.n, 1);
	const char *nv = "SIP/2.0 200 OK\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
			 "Call-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *m = parse(nv);
	assert_int_equal(txn_client_recv(g.l, m), ENOENT);
	mem_deref(m);
	/* bad starts */
	char b[1024];
	size_t n = req_out(b, sizeof(b), "ACK", "z9hG4bKm2");
	struct txn_hop h = hop(CONF_TP_UDP);
	struct txn_client *ct = NULL;
	assert_int_equal(txn_client_start(g.l, &h, b, n, (struct slice){ 0 }, on_resp, &r, &ct), EINVAL);
	n = req_out(b, sizeof(b), "INVITE", "z9hG4bKm3");
	assert_int_equal(txn_client_start(g.l, &h, b, n, SLICE_LIT("z9hG4bKother"), on_resp, &r, &ct), EINVAL);
	assert_null(ct);
	assert_int_equal(txn_client_start(g.l, &h, b, n, (struct slice){ 0 }, on_resp, &r, &ct), 0);
	assert_non_null(ct);
}

/* A start that names its branch takes it from the top Via's first value only, whole, in any
 * header form; otherwise the full parse decides. The request is parsed later, for a CANCEL. */
static void test_client_start_with_a_named_branch(void **state)
{
	(void)state;
	static const char rest[] = "Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\n"
				   "Call-ID: nb@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
	static const struct {
		const char *via;
		const char *branch;
		int want;
	} cases[] = {
		{ "v:SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKnb1\r\n", "z9hG4bKnb1", 0 },
		{ "VIA : SIP/2.0/UDP 198.51.100.1;BRANCH=z9hG4bKnb2;rport\r\n", "z9hG4bKnb2", 0 },
		{ "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKnb3x\r\n", "z9hG4bKnb3", EINVAL }, /* a prefix */
		{ "Via: SIP/2.0/UDP 198.51.100.1, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnb4\r\n", "z9hG4bKnb4",
		  EINVAL }, /* the second value's */
		{ "Via: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKup\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnb5\r\n",
		  "z9hG4bKnb5", EINVAL }, /* the second Via's */
		{ "Via-Not: SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKnb6\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKnb6\r\n",
		  "z9hG4bKnb6", 0 },
	};
	struct got r = { 0 };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char b[1024];
		int n = snprintf(b, sizeof(b), "INVITE sip:bob@203.0.113.5:5070 SIP/2.0\r\n%s%s", cases[i].via, rest);
		struct txn_hop h = hop(CONF_TP_TLS);
		struct txn_client *ct = NULL;
		assert_int_equal(txn_client_start(g.l, &h, b, (size_t)n, slice_from_cstr(cases[i].branch), on_resp, &r, &ct),
				 cases[i].want);
		if (cases[i].want)
			continue;
		size_t before = g.nsent;
		feed(180, cases[i].branch, "INVITE", 0); /* matched on the branch it was given */
		assert_int_equal(txn_client_cancel(ct), 0);
		assert_int_equal(g.nsent, before + 1);
		assert_true(starts(&g.sent[before], "CANCEL sip:bob@203.0.113.5:5070 SIP/2.0\r\n"));
		assert_non_null(strstr(g.sent[before].buf, cases[i].branch));
		assert_non_null(strstr(g.sent[before].buf, "\r\nCSeq: 1 CANCEL\r\n"));
	}
}

/* ---- lifetimes ---- */

struct owner {
	struct txn_client *ct;
	int calls;
	bool started_another;
	struct got child;
};

/* Frees its context and detaches, from inside the callback of its own txn. */
static void on_resp_free(struct txn_client *ct, const struct sip_msg *resp, uint16_t status, void *arg)
{
	(void)resp;
	struct owner *o = arg;
	assert_ptr_equal(o->ct, ct);
	o->calls++;
	if (status < 200) {
		/* re-entrancy: cancel and start another txn from inside the callback */
		assert_int_equal(txn_client_cancel(ct), 0);
		if (!o->started_another) {
			o->started_another = true;
			start("OPTIONS", "z9hG4bKchild", CONF_TP_UDP, &o->child);
		}
		return;
	}
	txn_client_detach(ct);
	free(o);
}

static void test_client_freed_inside_callback(void **state)
{
	(void)state;
	char b[1024];
	size_t n = req_out(b, sizeof(b), "INVITE", "z9hG4bKf1");
	struct txn_hop h = hop(CONF_TP_UDP);
	struct owner *o = calloc(1, sizeof(*o));
	assert_int_equal(txn_client_start(g.l, &h, b, n, (struct slice){ 0 }, on_resp_free, o, &o->ct), 0);
	feed(180, "z9hG4bKf1", "INVITE", 0);
	assert_int_equal(o->calls, 1);
	assert_true(starts(&g.sent[g.nsent - 1], "OPTIONS ") || starts(&g.sent[g.nsent - 2], "OPTIONS "));
	feed(200, "z9hG4bKf1", "INVITE", 0); /* frees o inside the callback */
	feed(200, "z9hG4bKf1", "INVITE", ENOENT);
	run_ms(20);
}

static void on_end_drop(struct txn_server *st, int reason, void *arg)
{
	(void)reason;
	int *p = arg;
	(*p)++;
	/* the owner's reference goes from inside the end handler */
	mem_deref(st);
	txn_server_set_owner(st, NULL, NULL); /* still valid: the layer pins it */
}

static void test_server_freed_inside_callback(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_TCP);
	struct sip_msg *m = req_in("OPTIONS", "z9hG4bKf2", "OPTIONS", NULL);
	struct txn_server *st = NULL;
	int calls = 0;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
	mem_ref(st);
	txn_server_set_owner(st, on_end_drop, &calls);
	mem_deref(m); /* the txn holds its own reference */
	assert_int_equal(txn_server_reply(st, 200, NULL, NULL, 0), 0);
	run_ms(10);
	assert_int_equal(calls, 1);
}

static void test_many_and_limit(void **state)
{
	(void)state;
	struct txn_hop h = hop(CONF_TP_UDP);
	struct got r = { 0 };
	char br[32];
	for (int i = 0; i < 600; i++) {
		snprintf(br, sizeof(br), "z9hG4bKmany%d", i);
		struct sip_msg *m = req_in(i % 2 ? "INVITE" : "OPTIONS", br, i % 2 ? "INVITE" : "OPTIONS", NULL);
		struct txn_server *st = NULL;
		assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_NEW);
		if (i % 3 == 0)
			assert_int_equal(txn_server_reply(st, i % 2 ? (i % 4 == 1 ? 200 : 486) : 200, NULL, NULL, 0), 0);
		mem_deref(m);
		char b[1024];
		size_t n = req_out(b, sizeof(b), i % 2 ? "INVITE" : "MESSAGE", br);
		struct txn_client *ct = NULL;
		assert_int_equal(txn_client_start(g.l, &h, b, n, (struct slice){ 0 }, on_resp, &r, &ct), 0);
		if (i % 5 == 0)
			feed(i % 2 ? 180 : 200, br, i % 2 ? "INVITE" : "MESSAGE", 0);
	}
	/* every one is findable among the others */
	for (int i = 0; i < 600; i += 7) {
		snprintf(br, sizeof(br), "z9hG4bKmany%d", i);
		struct sip_msg *m = req_in(i % 2 ? "INVITE" : "OPTIONS", br, i % 2 ? "INVITE" : "OPTIONS", NULL);
		struct txn_server *st = NULL;
		assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_RETRANSMISSION);
		mem_deref(m);
	}
	struct txn_stats s;
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.servers, 600);
	assert_int_equal(s.clients, 600); /* finals answered still wait in Completed (timer K) */

	/* the limit: refused, the caller answers 503 */
	txn_layer_set_limit(g.l, s.servers + s.clients);
	struct sip_msg *m = req_in("OPTIONS", "z9hG4bKover", "OPTIONS", NULL);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_REFUSED);
	mem_deref(m);
	char b[1024];
	size_t n = req_out(b, sizeof(b), "OPTIONS", "z9hG4bKover");
	struct txn_client *ct = NULL;
	assert_int_equal(txn_client_start(g.l, &h, b, n, (struct slice){ 0 }, on_resp, &r, &ct), EAGAIN);
	txn_layer_stats(g.l, &s);
	assert_int_equal(s.refused, 2);
	/* some time-out, the rest is freed by the layer at teardown (ASan checks for leaks) */
	run_ms(T4 + 20);
}

static void test_layer_args(void **state)
{
	(void)state;
	struct txn_layer *l = NULL;
	assert_int_equal(txn_layer_alloc(&l, NULL, NULL, fake_send, NULL), EINVAL);
	assert_int_equal(txn_layer_alloc(&l, g.base, NULL, NULL, NULL), EINVAL);
	struct txn_timers bad = { 500, 100, 0 };
	assert_int_equal(txn_layer_alloc(&l, g.base, &bad, fake_send, NULL), EINVAL);
	assert_int_equal(txn_layer_alloc(&l, g.base, NULL, fake_send, NULL), 0); /* defaults */
	mem_deref(l);
	struct txn_hop h = hop(CONF_TP_UDP);
	struct txn_server *st = NULL;
	assert_int_equal(txn_server_recv(g.l, NULL, &h, &st), TXN_REFUSED);
	const char *noVia = "OPTIONS sip:a@b SIP/2.0\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
			    "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
	struct sip_msg *m = parse(noVia);
	assert_int_equal(txn_server_recv(g.l, m, &h, &st), TXN_REFUSED);
	mem_deref(m);
}

/* The table hash folds case like the key comparison does (RFC 3261 7.3.1), at every length
 * around its 8-byte steps, and still spreads keys that differ in one character. */
static void test_hash_folds_case_and_spreads(void **state)
{
	(void)state;
	char key[80], upper[80];
	for (size_t len = 0; len < sizeof(key); len++) {
		for (size_t i = 0; i < len; i++) {
			key[i] = "z9hG4bK.-abcXYZ0123~!%*_+`'"[(i * 7 + len) % 27];
			upper[i] = key[i] >= 'a' && key[i] <= 'z' ? (char)(key[i] - 32) : key[i];
		}
		assert_int_equal(txn_hash_ci((struct slice){ key, len }), txn_hash_ci((struct slice){ upper, len }));
		if (len) {
			key[len - 1] ^= 1; /* one bit of the last byte, past the last full word */
			assert_int_not_equal(txn_hash_ci((struct slice){ key, len }),
					     txn_hash_ci((struct slice){ upper, len }));
		}
	}
	unsigned buckets[256] = { 0 }, max = 0;
	for (unsigned i = 0; i < 25600; i++) {
		int n = snprintf(key, sizeof(key), "z9hG4bKsipsd.01.%x.2f3a9c01.%x", i % 97, i);
		unsigned b = txn_hash_ci((struct slice){ key, (size_t)n }) & 255;
		if (++buckets[b] > max)
			max = buckets[b];
	}
	assert_true(max < 160); /* 100 per bucket on average */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_folds_case_and_spreads),
		cmocka_unit_test_setup_teardown(test_server_non_invite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_non_invite_reliable_timer_j_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_invite_udp_timer_g_and_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_invite_timer_h, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_invite_reliable_no_retransmission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_invite_timer_h_reliable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_invite_2xx_terminates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_cancel_matching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_rfc2543_matching, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_transport_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_ack_without_txn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_invite_timer_a_b, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_invite_non2xx_ack, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_invite_2xx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_non_invite_timer_e_f, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_non_invite_final, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_reliable_no_retransmission, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_reliable_final_ack_and_timer_d_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_transport_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cancel_before_provisional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_start_with_a_named_branch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cancel_after_provisional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cancel_final_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_no_match, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_freed_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_server_freed_inside_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_and_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_layer_args, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
