/* Secure media policy for a proxy leg: pure functions from (parsed SDP, policy, facts about the
 * hop) to a verdict. No I/O, no logging, no globals; the proxy applies the verdict.
 *
 * Offer: accept, accept with the a=crypto lines stripped (the rewritten body is in the verdict),
 * or reject with 400/415/488 and a Warning (RFC 3261 20.43) naming the reason.
 * Answer: accept, or fail (the proxy then replaces the 2xx and tears the call down). */
#ifndef SIPSD_SDP_POLICY_H
#define SIPSD_SDP_POLICY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "sdp/sdp.h"

enum sdp_media_mode {
	SDP_MEDIA_SECURE_REQUIRED,  /* at least one SRTP stream offered; answers keep SRTP */
	SDP_MEDIA_SECURE_PREFERRED, /* anything usable; unprotected media is flagged, not refused */
	SDP_MEDIA_ANY,              /* no demand on media security (key checks still apply) */
};

/* Key management protocols (bitmask). */
enum {
	SDP_KM_SDES = 1 << 0,  /* a=crypto, RFC 4568 */
	SDP_KM_MIKEY = 1 << 1, /* a=key-mgmt:mikey, RFC 4567 / RFC 3830 */
	SDP_KM_DTLS = 1 << 2,  /* a=fingerprint on UDP/TLS/RTP/SAVP(F), RFC 5763 */
	SDP_KM_ANY = SDP_KM_SDES | SDP_KM_MIKEY | SDP_KM_DTLS,
	SDP_KM_NONE = 0, /* an SRTP-less peer: SRTP offers are refused */
};

enum sdp_sdes_hop {
	SDP_SDES_HOP_REFUSE, /* 488 "SDES keys require TLS on every hop" */
	SDP_SDES_HOP_STRIP,  /* remove a=crypto, then judge what is left */
};

struct sdp_policy {
	enum sdp_media_mode media;
	unsigned key_mgmt;        /* SDP_KM_* mask */
	unsigned mismatch_status; /* 415 (seed 003 behaviour) or 488, for key management refusals */
	enum sdp_sdes_hop sdes_on_insecure_hop;
};
#define SDP_POLICY_DEFAULT \
	((struct sdp_policy){ SDP_MEDIA_SECURE_PREFERRED, SDP_KM_ANY, 415, SDP_SDES_HOP_REFUSE })

/* Config value parsers for the proxy's directive table: "secure-required|secure-preferred|any";
 * "any", "none" or a comma list of "sdes", "mikey", "dtls"; "415|488"; "refuse|strip". */
bool sdp_policy_media_parse(const char *s, enum sdp_media_mode *out);
bool sdp_policy_key_mgmt_parse(const char *s, unsigned *out);
bool sdp_policy_status_parse(const char *s, unsigned *out);
bool sdp_policy_sdes_hop_parse(const char *s, enum sdp_sdes_hop *out);
const char *sdp_media_mode_name(enum sdp_media_mode m);

/* Facts about the hop the SDP is about to travel. RFC 4568 8: SDES keys may only travel where
 * every hop is protected: the next hop is TLS and the target is a sips: URI (RFC 3261 26.2.2:
 * sips asks for TLS on each hop up to the target domain). */
struct sdp_hop {
	bool next_hop_tls;
	bool target_sips;
};

enum sdp_reason {
	SDP_REASON_NONE,
	SDP_REASON_MALFORMED_SDP,
	SDP_REASON_NO_SECURE_MEDIA,
	SDP_REASON_NO_KEY_MGMT,         /* RTP/SAVP or UDP/TLS/RTP/SAVP with no keys at all */
	SDP_REASON_KM_NOT_ACCEPTED,     /* e.g. mikey where only sdes is accepted */
	SDP_REASON_CRYPTO_MALFORMED,    /* tag, syntax, base64, lifetime, MKI, session params */
	SDP_REASON_CRYPTO_KEY_LENGTH,   /* key+salt length does not fit the suite */
	SDP_REASON_CRYPTO_DUP_TAG,      /* RFC 4568 9.1: tags unique per m= */
	SDP_REASON_CRYPTO_UNSUPPORTED,  /* only unknown suites / methods / parameters */
	SDP_REASON_CRYPTO_INSECURE,     /* only NULL suites or UNENCRYPTED_/UNAUTHENTICATED_SRTP */
	SDP_REASON_SDES_INSECURE_HOP,
	SDP_REASON_ANSWER_MISMATCH,     /* answer does not fit its offer (RFC 3264 6, RFC 4568 7) */
	SDP_REASON_ANSWER_NOT_SECURE,   /* answer drops SRTP on a secure-required leg */
	SDP_REASON_COUNT
};
/* Stable lower_snake_case label for metrics and logs ("no_secure_media"). */
const char *sdp_reason_name(enum sdp_reason r);

enum sdp_action { SDP_ACCEPT, SDP_ACCEPT_STRIPPED, SDP_REJECT };

#define SDP_WARNING_MAX 256

struct sdp_verdict {
	enum sdp_action action;
	unsigned status; /* 400, 415 or 488 with SDP_REJECT; 0 otherwise */
	enum sdp_reason reason;
	/* Accepted, yet some active RTP stream may flow unencrypted, which can be intercepted
	 * (seed 003): the proxy logs it and counts it. */
	bool insecure_media;
	unsigned km_offered; /* SDP_KM_* seen on active streams */
	/* With SDP_REJECT: the Warning header value, `399 <host> "<text>"`. Never holds keys. */
	char warning[SDP_WARNING_MAX];
	/* With SDP_ACCEPT_STRIPPED: the body to forward (mem string, freed by
	 * sdp_verdict_clear()). */
	char *body;
	size_t body_len;
};

/* Release what a verdict holds and zero it. Call before reuse and when done. */
void sdp_verdict_clear(struct sdp_verdict *v);

/* Counters the management API reads through sdp_metrics_snapshot(). Zero-initialise (static or
 * memset); updates are relaxed atomics, safe from any worker thread. */
enum sdp_mclass {
	SDP_MCLASS_RTP,
	SDP_MCLASS_SRTP,
	SDP_MCLASS_DTLS_SRTP,
	SDP_MCLASS_OTHER,
	SDP_MCLASS_COUNT
};
enum sdp_kmclass {
	SDP_KMCLASS_NONE,
	SDP_KMCLASS_SDES,
	SDP_KMCLASS_MIKEY,
	SDP_KMCLASS_DTLS,
	SDP_KMCLASS_COUNT
};

struct sdp_metrics {
	atomic_uint_least64_t offers;
	atomic_uint_least64_t offers_by_proto[SDP_MCLASS_COUNT]; /* offers with >= 1 such stream */
	atomic_uint_least64_t offers_by_km[SDP_KMCLASS_COUNT];
	atomic_uint_least64_t offers_accepted;
	atomic_uint_least64_t offers_stripped;
	atomic_uint_least64_t offers_insecure; /* accepted with insecure_media */
	atomic_uint_least64_t offers_rejected[SDP_REASON_COUNT];
	atomic_uint_least64_t answers;
	atomic_uint_least64_t answers_rejected[SDP_REASON_COUNT];
};

struct sdp_metrics_snapshot {
	uint64_t offers;
	uint64_t offers_by_proto[SDP_MCLASS_COUNT];
	uint64_t offers_by_km[SDP_KMCLASS_COUNT];
	uint64_t offers_accepted;
	uint64_t offers_stripped;
	uint64_t offers_insecure;
	uint64_t offers_rejected[SDP_REASON_COUNT];
	uint64_t answers;
	uint64_t answers_rejected[SDP_REASON_COUNT];
};

void sdp_metrics_snapshot(const struct sdp_metrics *m, struct sdp_metrics_snapshot *out);
const char *sdp_mclass_name(enum sdp_mclass c); /* "rtp", "srtp", "dtls_srtp", "other" */
const char *sdp_kmclass_name(enum sdp_kmclass c); /* "none", "sdes", "mikey", "dtls" */

/* Judge an offer about to be forwarded over hop. warn_host names this server in the Warning
 * (RFC 3261 20.43 warn-agent). metrics may be NULL. Returns 0 with *v filled (accept or
 * reject), EINVAL on bad arguments, ENOMEM (when stripping). */
int sdp_policy_check_offer(struct sdp_verdict *v, const struct sdp *offer,
			   const struct sdp_policy *pol, const struct sdp_hop *hop,
			   const char *warn_host, struct sdp_metrics *metrics);
/* Same from the raw body; an unparsable body is rejected 400 "malformed SDP: ...". */
int sdp_policy_check_offer_body(struct sdp_verdict *v, struct slice body,
				const struct sdp_policy *pol, const struct sdp_hop *hop,
				const char *warn_host, struct sdp_metrics *metrics);
/* Same, and when the offer is accepted as it is and keep is not NULL, *keep gets it parsed,
 * for sdp_policy_check_answer_to (mem_deref it). It points into body, which must outlive it. */
int sdp_policy_check_offer_keep(struct sdp_verdict *v, struct slice body,
				const struct sdp_policy *pol, const struct sdp_hop *hop,
				const char *warn_host, struct sdp_metrics *metrics, struct sdp **keep);

/* Judge an answer against the offer that was forwarded (the stripped one, if stripped). hop is
 * the hop the answer travels back on. Failures carry status 488 and a Warning. */
int sdp_policy_check_answer(struct sdp_verdict *v, const struct sdp *offer,
			    const struct sdp *answer, const struct sdp_policy *pol,
			    const struct sdp_hop *hop, const char *warn_host,
			    struct sdp_metrics *metrics);
int sdp_policy_check_answer_body(struct sdp_verdict *v, struct slice offer, struct slice answer,
				 const struct sdp_policy *pol, const struct sdp_hop *hop,
				 const char *warn_host, struct sdp_metrics *metrics);
/* The answer's raw body against an offer parsed before (sdp_policy_check_offer_keep), so a
 * proxied call parses its offer once. */
int sdp_policy_check_answer_to(struct sdp_verdict *v, const struct sdp *offer, struct slice answer,
			       const struct sdp_policy *pol, const struct sdp_hop *hop,
			       const char *warn_host, struct sdp_metrics *metrics);

#endif
