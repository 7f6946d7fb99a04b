/* RFC 3261 17 transactions: client and server, INVITE and non-INVITE state machines with timers
 * A-K on one libevent event_base. One struct txn_layer per worker thread; not thread-safe by design
 * (one loop, one owner). The layer never touches a socket: every message leaves through the
 * txn_send_h given at allocation, so the state machines run in unit tests with a fake sender.
 *
 * Ownership: the layer owns every transaction. A pointer handed out stays valid
 *  - server: until its end handler ran (txn_server_set_owner), or, without an owner, until the
 *    call that sent its final response returned;
 *  - client: until its handler got a final status (>= 200) or txn_client_detach() was called.
 * Take a mem_ref() to keep one longer; calls on a finished transaction return ESHUTDOWN.
 * Callbacks may free their owner's context and call any function here (the transaction is pinned
 * while a callback runs and released after it returns), but must not free the layer.
 *
 * Errors: 0, EINVAL bad argument, EPROTO not allowed in this state, ESHUTDOWN transaction over,
 * EAGAIN live-transaction limit reached, ENOMEM, or the errno of the send handler. */
#ifndef SIPSD_TXN_TXN_H
#define SIPSD_TXN_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "conf/conf.h"
#include "sip/msg.h"
#include "transport/transport.h" /* struct tp_addr only: the layer never calls the transport */

struct event_base;
struct txn_layer;
struct txn_server;
struct txn_client;

struct txn_timers {
	unsigned t1_ms, t2_ms, t4_ms; /* 0 = default 500, 4000, 5000 (RFC 3261 17.1.1.1) */
};

struct txn_hop {                   /* where bytes go */
	enum conf_transport transport; /* UDP, TCP, TLS */
	uint64_t conn_id;              /* stream: the connection (0 = none yet) */
	struct tp_addr addr;           /* UDP destination / remote address (for logs) */
	/* reliable = transport != CONF_TP_UDP: no retransmission timers (17.1.1.2, 17.1.2.2) */
};

/* Sends one message; 0 or an errno (a transport error: the layer reports it, 17.1.4 / 17.2.4). */
typedef int(txn_send_h)(const struct txn_hop *hop, const char *buf, size_t len, void *arg);

int txn_layer_alloc(struct txn_layer **lp, struct event_base *base, const struct txn_timers *t,
		    txn_send_h *sendh, void *arg);
/* Live transactions (server + client) allowed at once; beyond it new ones are refused
 * (TXN_REFUSED / EAGAIN) and the caller answers 503. Default 65536. */
void txn_layer_set_limit(struct txn_layer *l, size_t max_txns);

struct txn_stats {
	size_t servers, clients;        /* live now */
	uint64_t finals_sent[7];        /* server finals by class: [2] 2xx .. [6] 6xx */
	uint64_t retransmits_sent;      /* requests (A/E), responses (G, absorbed requests), ACKs */
	uint64_t retransmits_absorbed;  /* incoming request/response retransmissions */
	uint64_t timeouts;              /* timers B/F (408) and H */
	uint64_t transport_errors;
	uint64_t refused;               /* over the limit or out of memory */
};
void txn_layer_stats(const struct txn_layer *l, struct txn_stats *st);

/* ---- server transactions (17.2) ---- */

enum txn_recv_result {
	TXN_NEW,            /* *stp: a new server txn; the caller processes the request */
	TXN_RETRANSMISSION, /* absorbed; the last response (if any) was re-sent (17.2.1, 17.2.2) */
	TXN_ACK_ABSORBED,   /* ACK for a non-2xx final: Completed -> Confirmed, timer I */
	TXN_NO_MATCH_ACK,   /* ACK matching no txn (ACK for 2xx): forward it statelessly */
	TXN_REFUSED,        /* no txn could be made (limit, ENOMEM, no top Via/CSeq): 503 or drop */
};

/* Feed every incoming request. Matching per 17.2.3: branch with the magic cookie + sent-by +
 * method (ACK matches INVITE); RFC 2543 requests (no cookie) by Request-URI, tags, Call-ID,
 * CSeq and top Via. CANCEL makes its own non-INVITE txn (TXN_NEW). TXN_NEW holds a reference on
 * req and a copy of from. An INVITE retransmission after a 2xx is absorbed (RFC 6026 Accepted). */
enum txn_recv_result txn_server_recv(struct txn_layer *l, struct sip_msg *req,
				     const struct txn_hop *from, struct txn_server **stp);
/* Send a response whose bytes the caller built; status is the one in its status line. Stores it
 * for retransmissions (17.2.1, 17.2.2) and drives the state machine. A 2xx to INVITE is sent
 * once, never retransmitted by the txn (end to end), and moves it to RFC 6026 Accepted: INVITE
 * retransmissions absorbed silently, ACKs returned as TXN_NO_MATCH_ACK, further 2xx (other
 * forks) sent through, anything else EPROTO; it ends (end handler, reason 0) at timer L, 64*T1.
 * A send error ends the txn (EPIPE to the owner) and is returned. */
int txn_server_respond(struct txn_server *st, uint16_t status, const char *buf, size_t len);
/* sip_build_response() + txn_server_respond(); to_tag: one per txn, generated (never on 100).
 * extra: complete header lines without line end, as sip_resp_opts. */
int txn_server_reply(struct txn_server *st, uint16_t status, const char *reason,
		     const struct slice *extra, size_t n_extra);
/* RFC 3261 9.2: the live INVITE server txn a CANCEL refers to, or NULL. */
struct txn_server *txn_server_find_invite(struct txn_layer *l, const struct sip_msg *cancel);
const struct sip_msg *txn_server_request(const struct txn_server *st);
const struct txn_hop *txn_server_hop(const struct txn_server *st);
/* Where responses go, when not where the request came from (18.2.2: maddr, Via port). */
void txn_server_set_hop(struct txn_server *st, const struct txn_hop *hop);
/* The To tag the txn puts on its generated responses (NUL-terminated). */
const char *txn_server_to_tag(const struct txn_server *st);

/* Called once when the txn ends: reason 0 normal (timer I, J or L),
 * ETIMEDOUT timer H (no ACK), EPIPE transport error. Never from inside a call into the layer:
 * always from the event loop. endh NULL clears the owner. */
typedef void(txn_server_end_h)(struct txn_server *st, int reason, void *arg);
void txn_server_set_owner(struct txn_server *st, txn_server_end_h *endh, void *arg);
/* The arg its owner set with endh; NULL when st has no owner or another handler. */
void *txn_server_owner(const struct txn_server *st, txn_server_end_h *endh);
bool txn_server_final_sent(const struct txn_server *st);

/* ---- client transactions (17.1) ---- */

/* resp NULL: a synthesized result, 408 (timer B/F, or 64*T1 after a CANCEL got no final, 9.1)
 * or 503 (transport error, 17.1.4 / RFC 3263 4.3). Each provisional and the final (once) are
 * delivered; final retransmissions are absorbed. Status >= 200 is the last call. */
typedef void(txn_client_resp_h)(struct txn_client *ct, const struct sip_msg *resp, uint16_t status,
				void *arg);

/* req: the complete request bytes (the caller put our Via with branch on top), copied. branch:
 * that Via's branch (checked; empty = take it from the Via). The method comes from the bytes;
 * ACK is refused (EINVAL: not a transaction). Timers A/B/D (INVITE), E/F/K (non-INVITE); on a
 * non-2xx final to INVITE the layer sends the ACK itself (17.1.1.3) and re-sends it for each
 * retransmitted final (timer D). A 2xx to INVITE is delivered and ends the txn. A send error on
 * the first send is delivered as 503 from the loop (never from inside this call). EAGAIN when
 * over the limit. */
int txn_client_start(struct txn_layer *l, const struct txn_hop *to, const char *req, size_t len,
		     struct slice branch, txn_client_resp_h *h, void *arg, struct txn_client **ctp);
/* Feed every incoming response: top Via branch + CSeq method (17.1.3). 0 matched (delivered or
 * absorbed), ENOENT no match (forward statelessly or drop, 16.7 / 18.1.2), including a 2xx
 * arriving after the INVITE txn ended. */
int txn_client_recv(struct txn_layer *l, struct sip_msg *resp);
/* RFC 3261 9.1: CANCEL an INVITE client txn once a provisional arrived (before: remembered and
 * sent when one arrives; never after a final). The CANCEL (same Request-URI, Call-ID, From, To,
 * CSeq number, top Via, Route) runs as its own non-INVITE client txn whose response is
 * absorbed. If no final arrives within 64*T1 of the CANCEL, 408 is delivered (9.1).
 * 0, EALREADY (already cancelled, or a final came), EINVAL (not INVITE), ESHUTDOWN. */
int txn_client_cancel(struct txn_client *ct);
/* Same with a Reason header value (RFC 3326), e.g. "SIP;cause=200;text=\"Call completed elsewhere\"". */
int txn_client_cancel_reason(struct txn_client *ct, struct slice reason);
/* Stop notifying h (the owner went away); the txn finishes on its own. */
void txn_client_detach(struct txn_client *ct);
/* Stream: the connection the request went out on, once known (ACK and CANCEL follow it). */
void txn_client_set_conn(struct txn_client *ct, uint64_t conn_id);
/* A transport failure learnt later (connect failed, connection lost before the final):
 * 503 delivered from the loop, txn ended (17.1.4). No effect once a final came. */
void txn_client_transport_error(struct txn_client *ct, int err);
const struct txn_hop *txn_client_hop(const struct txn_client *ct);
/* The request as sent (parsed); NULL once over. */
const struct sip_msg *txn_client_request(struct txn_client *ct);

#endif
