/* Internal to the proxy module. */
#ifndef SIPSD_PROXY_INTERNAL_H
#define SIPSD_PROXY_INTERNAL_H

#include <stdatomic.h>

#include "proxy/proxy.h"
#include "registrar/location.h"
#include "registrar/registrar.h"
#include "sdp/policy.h"
#include "txn/txn.h"

struct fwd;

struct proxy_worker {
	struct proxy *p;
	unsigned index;
	struct tp_worker *w;
	struct txn_layer *txl;
	uint64_t branch_seq;
	struct fwd *fwds; /* live forwarding contexts (CANCEL finds its INVITE's here) */
	struct loc_binding scratch[LOC_MAX_BINDINGS_PER_AOR];
};

struct proxy_peer_hosts {
	char host[256];
};

struct proxy {
	struct conf *conf;
	struct location *location;
	struct tp_pool *pool;
	struct tp_peer **peers;
	size_t npeers;
	struct proxy_peer_hosts *peer_hosts; /* first URI host of each peer */
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
	const struct conf_interface *iface; /* NULL for peer links */
	const struct conf_peer *peer;       /* the peer link it came on, if any */
	bool tls;
	bool authenticated;                 /* verified client certificate */
	bool trusted;                       /* from a peer link */
};

bool proxy_host_is_ours(struct proxy *p, struct slice host, uint16_t port);
struct tp_peer *proxy_peer_for_host(struct proxy *p, struct slice host, size_t *idx);
void proxy_random_hex(char *out, size_t nbytes);

#endif
