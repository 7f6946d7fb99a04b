/* Internal to the proxy module. */
#ifndef SIPSD_PROXY_INTERNAL_H
#define SIPSD_PROXY_INTERNAL_H

#include <stdatomic.h>

#include "base/hlist.h"
#include "proxy/proxy.h"
#include "registrar/location.h"
#include "registrar/registrar.h"
#include "sdp/policy.h"
#include "txn/txn.h"

#define PROXY_MAC_MEMO_SETS 512 /* x 2 ways of recent flow-token MACs per worker, 40 KiB */
#define PROXY_CONN_BUCKETS 1024 /* branches in flight by connection, per worker: 8 KiB */

struct proxy_worker {
	struct proxy *p;
	unsigned index;
	struct tp_worker *w;
	struct txn_layer *txl;
	uint64_t branch_seq;
	struct hlink *fwds;        /* live forwarding contexts (struct fwd), freed at teardown */
	atomic_size_t nfwds;       /* read by other workers: is a closed connection worth telling us? */
	struct hlink *by_conn[PROXY_CONN_BUCKETS]; /* stream branches by hop.conn_id: a close finds its own */
	_Atomic uint64_t *on_demand; /* per peer host (flat index): this worker's on-demand connection */
	struct evp_mac_ctx_st *mac;  /* HMAC keyed with the proxy's secret (flow tokens) */
	/* flow-token MACs this worker computed, by flow pair: a dialog's INVITE, ACK and BYE (and
	 * the next calls between the same UAs) need the same one */
	struct flow_mac_memo { uint64_t a, b; char mac[17]; bool set; } mac_memo[PROXY_MAC_MEMO_SETS][2];
	struct local_hostport { char host[80]; uint16_t port; bool known; } local[3]; /* by transport */
	struct loc_binding scratch[LOC_MAX_BINDINGS_PER_AOR];
};

/* One host of a peer's proxy set. */
struct proxy_peer_host {
	char host[256];                /* without brackets */
	uint16_t port;
	enum conf_transport transport;
	struct tp_peer *link;          /* persistent stream link; NULL: on demand, or UDP */
	struct tp_addr addr;           /* on-demand and UDP hosts, resolved at start */
	bool resolved;
};

struct proxy_peer {
	const struct conf_peer *cp;
	size_t index;                  /* in conf->peers */
	struct tls_holder *tls;        /* client certificate, trust store */
	char identity[256];            /* the domain its certificate must prove (RFC 5922) */
	struct proxy_peer_host *hosts; /* in priority order */
	size_t nhosts;
	size_t first_flat;             /* index of hosts[0] among every peer's hosts */
};

/* Dialog flow references in flow tokens: a connection id, or (top bit set) a peer host, so an
 * in-dialog request reaches a peer over whatever connection or datagram socket serves it now. */
#define PROXY_PEER_REF_BIT (1ull << 63)

struct proxy {
	struct conf *conf;
	struct location *location;
	struct tp_pool *pool;
	struct proxy_peer *peers;  /* conf->peers order */
	size_t npeers;
	size_t nflat;              /* hosts of all peers */
	unsigned nworkers;
	struct proxy_worker **pw;
	unsigned char secret[32]; /* flow-token MACs */
	reg_handle_h *registerh;
	void *register_arg;
	reg_handle_h *authorizeh;
	void *authorize_arg;
	char warn_host[128];        /* RFC 3261 20.43 warn-agent in our Warning headers */
	struct sdp_metrics sdp_metrics;
	proxy_user_known_h *user_known;
	void *user_known_arg;
	struct {
		atomic_uint_fast64_t requests, responses, forwarded, local_replies, stateless_fwd;
		atomic_uint_fast64_t by_final[7];
		atomic_uint_fast64_t txn_final[PROXY_METHODS][7];
	} stats;
};

/* What the transport told us about where a request came from. */
struct proxy_origin {
	const struct conf_interface *iface; /* NULL for outbound connections */
	const struct conf_peer *peer;       /* the peer host it came from, if any */
	uint64_t flow;                      /* its flow reference (connection id or peer host) */
	bool tls;
	bool authenticated;                 /* verified client certificate */
	bool trusted;                       /* from a peer */
};

bool proxy_host_is_ours(struct proxy *p, struct slice host, uint16_t port);
void proxy_random_hex(char *out, size_t nbytes);

/* peers.c */
struct tls_holder;
/* Parses every peer's hosts, resolves those without a link and starts the persistent links. */
int proxy_peers_init(struct proxy *p, struct tls_holder *const *peer_tls);
void proxy_peers_free(struct proxy *p);
/* The peer whose domains match host, else the default peer, else NULL. */
const struct proxy_peer *proxy_peer_for_domain(struct proxy *p, struct slice host);
/* The peer with a host named host, on port unless 0 (a Route towards it), and which host. */
const struct proxy_peer *proxy_peer_for_host(struct proxy *p, struct slice host, uint16_t port, size_t *hidx);
/* The peer host a message came from (its link, an on-demand connection or its UDP address). */
const struct proxy_peer *proxy_peer_of_hop(struct proxy *p, const struct txn_hop *from, size_t *hidx);
uint64_t proxy_peer_ref(const struct proxy_peer *pp, size_t h);
const struct proxy_peer *proxy_peer_of_ref(struct proxy *p, uint64_t ref, size_t *hidx);
/* Where to send to host h now: the link's connection, this worker's on-demand connection
 * (opened here if needed: bytes wait until it is up), or the UDP address. 0, or an errno
 * with *why saying what is wrong with this host. */
int proxy_peer_hop(struct proxy_worker *pw, const struct proxy_peer *pp, size_t h, struct txn_hop *hop,
		   const char **why);
/* Worker-of-conn_id's on-demand connection to flat host index flat (thread-safe read). */
uint64_t proxy_on_demand_conn(struct proxy *p, size_t flat, uint64_t conn_id);

#endif
