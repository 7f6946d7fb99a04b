/* Secure media policy (issue 7). Each active m= section is classified once (scan_media), then the
 * offer or answer is judged from the classes. Checks run in a fixed order so the Warning names
 * the most useful reason: malformed keys, then the SDES hop guard, then what is offered. */
#include "sdp/policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"
#include "sdp/crypto.h"
#include "sdp/lex.h"

#define MAX_CRYPTO_PER_MEDIA 32

/* ---- config values ---- */

bool sdp_policy_media_parse(const char *s, enum sdp_media_mode *out)
{
	if (!s)
		return false;
	if (!strcmp(s, "secure-required"))
		*out = SDP_MEDIA_SECURE_REQUIRED;
	else if (!strcmp(s, "secure-preferred"))
		*out = SDP_MEDIA_SECURE_PREFERRED;
	else if (!strcmp(s, "any"))
		*out = SDP_MEDIA_ANY;
	else
		return false;
	return true;
}

const char *sdp_media_mode_name(enum sdp_media_mode m)
{
	switch (m) {
	case SDP_MEDIA_SECURE_REQUIRED: return "secure-required";
	case SDP_MEDIA_SECURE_PREFERRED: return "secure-preferred";
	case SDP_MEDIA_ANY: return "any";
	}
	return "?";
}

bool sdp_policy_key_mgmt_parse(const char *s, unsigned *out)
{
	if (!s || !*s)
		return false;
	if (!strcmp(s, "any")) {
		*out = SDP_KM_ANY;
		return true;
	}
	if (!strcmp(s, "none")) {
		*out = SDP_KM_NONE;
		return true;
	}
	unsigned mask = 0;
	struct slice rest = slice_from_cstr(s);
	while (rest.len) {
		const char *comma = memchr(rest.p, ',', rest.len);
		struct slice item = { rest.p, comma ? (size_t)(comma - rest.p) : rest.len };
		rest = comma ? (struct slice){ comma + 1, rest.len - item.len - 1 } : (struct slice){ NULL, 0 };
		item = slice_trim(item);
		if (slice_eq_cstr(item, "sdes"))
			mask |= SDP_KM_SDES;
		else if (slice_eq_cstr(item, "mikey"))
			mask |= SDP_KM_MIKEY;
		else if (slice_eq_cstr(item, "dtls"))
			mask |= SDP_KM_DTLS;
		else
			return false;
		if (comma && rest.len == 0)
			return false;
	}
	*out = mask;
	return true;
}

bool sdp_policy_status_parse(const char *s, unsigned *out)
{
	if (s && !strcmp(s, "415"))
		*out = 415;
	else if (s && !strcmp(s, "488"))
		*out = 488;
	else
		return false;
	return true;
}

bool sdp_policy_sdes_hop_parse(const char *s, enum sdp_sdes_hop *out)
{
	if (s && !strcmp(s, "refuse"))
		*out = SDP_SDES_HOP_REFUSE;
	else if (s && !strcmp(s, "strip"))
		*out = SDP_SDES_HOP_STRIP;
	else
		return false;
	return true;
}

const char *sdp_reason_name(enum sdp_reason r)
{
	switch (r) {
	case SDP_REASON_NONE: return "none";
	case SDP_REASON_MALFORMED_SDP: return "malformed_sdp";
	case SDP_REASON_NO_SECURE_MEDIA: return "no_secure_media";
	case SDP_REASON_NO_KEY_MGMT: return "no_key_mgmt";
	case SDP_REASON_KM_NOT_ACCEPTED: return "key_mgmt_not_accepted";
	case SDP_REASON_CRYPTO_MALFORMED: return "crypto_malformed";
	case SDP_REASON_CRYPTO_KEY_LENGTH: return "crypto_key_length";
	case SDP_REASON_CRYPTO_DUP_TAG: return "crypto_duplicate_tag";
	case SDP_REASON_CRYPTO_UNSUPPORTED: return "crypto_unsupported";
	case SDP_REASON_CRYPTO_INSECURE: return "crypto_insecure";
	case SDP_REASON_SDES_INSECURE_HOP: return "sdes_insecure_hop";
	case SDP_REASON_ANSWER_MISMATCH: return "answer_mismatch";
	case SDP_REASON_ANSWER_NOT_SECURE: return "answer_not_secure";
	case SDP_REASON_COUNT: break;
	}
	return "unknown";
}

const char *sdp_mclass_name(enum sdp_mclass c)
{
	static const char *const n[SDP_MCLASS_COUNT] = { "rtp", "srtp", "dtls_srtp", "other" };
	return (unsigned)c < SDP_MCLASS_COUNT ? n[c] : "?";
}

const char *sdp_kmclass_name(enum sdp_kmclass c)
{
	static const char *const n[SDP_KMCLASS_COUNT] = { "none", "sdes", "mikey", "dtls" };
	return (unsigned)c < SDP_KMCLASS_COUNT ? n[c] : "?";
}

void sdp_verdict_clear(struct sdp_verdict *v)
{
	if (!v)
		return;
	mem_deref(v->body);
	memset(v, 0, sizeof(*v));
}

/* ---- metrics ---- */

static void bump(atomic_uint_least64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static uint64_t load(const atomic_uint_least64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

void sdp_metrics_snapshot(const struct sdp_metrics *m, struct sdp_metrics_snapshot *out)
{
	memset(out, 0, sizeof(*out));
	if (!m)
		return;
	out->offers = load(&m->offers);
	for (size_t i = 0; i < SDP_MCLASS_COUNT; i++)
		out->offers_by_proto[i] = load(&m->offers_by_proto[i]);
	for (size_t i = 0; i < SDP_KMCLASS_COUNT; i++)
		out->offers_by_km[i] = load(&m->offers_by_km[i]);
	out->offers_accepted = load(&m->offers_accepted);
	out->offers_stripped = load(&m->offers_stripped);
	out->offers_insecure = load(&m->offers_insecure);
	for (size_t i = 0; i < SDP_REASON_COUNT; i++) {
		out->offers_rejected[i] = load(&m->offers_rejected[i]);
		out->answers_rejected[i] = load(&m->answers_rejected[i]);
	}
	out->answers = load(&m->answers);
}

/* ---- classification of one m= section ---- */

enum line_state {
	LS_INACTIVE,       /* port 0 */
	LS_NON_RTP,        /* udptl (T.38), TCP/MSRP, ...: neither secure nor refused */
	LS_PLAIN,          /* RTP/AVP(F) */
	LS_BEST_EFFORT,    /* RTP/AVP(F) carrying usable keys */
	LS_SECURE,         /* SRTP with an accepted key management */
	LS_INSECURE_KEYS,  /* SRTP whose only usable crypto does not protect */
	LS_UNSUPPORTED,    /* SRTP whose crypto lines are all unknown */
	LS_KM_REFUSED,     /* SRTP keyed only by protocols the policy refuses */
	LS_NO_KEYS,        /* SRTP with no key management at all */
};

/* What a Warning needs to say about one a=crypto line; never the key. */
struct crypto_note {
	bool set;
	uint32_t tag;
	bool tag_valid;
	enum sdp_crypto_status st;
	const struct sdp_crypto_suite *suite;
	struct slice suite_name;
	size_t bad_len, need_len;
};

struct line_eval {
	enum line_state st;
	unsigned km;         /* offered on this line */
	unsigned km_refused; /* offered but not accepted */
	struct crypto_note unusable; /* first unknown-suite line */
	struct crypto_note insecure; /* first NULL-suite line */
	uint32_t tags[MAX_CRYPTO_PER_MEDIA];
	unsigned n_tags;
};

struct scan {
	enum sdp_reason fatal; /* first malformed a=crypto, or NONE */
	struct crypto_note fatal_note;
	const struct sdp_media *fatal_media;
	bool any_crypto; /* a=crypto anywhere: the hop guard looks at this */
	unsigned km;
	unsigned classes; /* 1 << sdp_mclass */
};

static void note_from(struct crypto_note *n, const struct sdp_crypto_info *c)
{
	n->set = true;
	n->tag = c->tag;
	n->tag_valid = c->tag_valid;
	n->st = c->status;
	n->suite = c->suite;
	n->suite_name = c->suite_name;
	n->bad_len = c->bad_len;
	n->need_len = c->need_len;
}

static enum sdp_mclass mclass_of(enum sdp_proto p)
{
	if (sdp_proto_is_dtls(p))
		return SDP_MCLASS_DTLS_SRTP;
	if (sdp_proto_is_savp(p))
		return SDP_MCLASS_SRTP;
	if (sdp_proto_is_rtp(p))
		return SDP_MCLASS_RTP;
	return SDP_MCLASS_OTHER;
}

/* Judge every a=crypto of m (as sdp_parse() validated it) and classify m. ignore_sdes: judge as
 * if the a=crypto lines had been stripped (they are still validated). */
static void scan_media(const struct sdp *sdp, const struct sdp_media *m, const struct sdp_policy *pol,
		       bool ignore_sdes, struct line_eval *le, struct scan *sc)
{
	const struct sdp_session *sess = sdp_session_get(sdp);
	unsigned usable_secure = 0, usable_insecure = 0, unusable = 0;
	memset(le, 0, sizeof(*le));

	if (m->n_crypto)
		sc->any_crypto = true;
	if (m->port == 0) {
		/* RFC 3264 5.1 / 6: a disabled stream carries nothing; its keys are not judged. */
		le->st = LS_INACTIVE;
		return;
	}
	sc->classes |= 1u << mclass_of(m->proto);
	for (size_t i = 0; i < m->n_crypto; i++) {
		const struct sdp_crypto_info *c = sdp_crypto_get(sdp, m, i);
		if (sdp_crypto_status_malformed(c->status)) {
			if (!sc->fatal) {
				sc->fatal = c->status == SDP_CRYPTO_BAD_KEY_LENGTH ? SDP_REASON_CRYPTO_KEY_LENGTH
										   : SDP_REASON_CRYPTO_MALFORMED;
				note_from(&sc->fatal_note, c);
				sc->fatal_media = m;
			}
			continue;
		}
		/* RFC 4568 9.1: the tag is unique within the m= section. */
		for (unsigned j = 0; j < le->n_tags; j++) {
			if (le->tags[j] == c->tag && !sc->fatal) {
				sc->fatal = SDP_REASON_CRYPTO_DUP_TAG;
				note_from(&sc->fatal_note, c);
				sc->fatal_media = m;
			}
		}
		if (le->n_tags == MAX_CRYPTO_PER_MEDIA) {
			if (!sc->fatal) {
				struct sdp_crypto_info many = *c;
				many.status = SDP_CRYPTO_TOO_MANY_KEYS;
				sc->fatal = SDP_REASON_CRYPTO_MALFORMED;
				note_from(&sc->fatal_note, &many);
				sc->fatal_media = m;
			}
			continue;
		}
		le->tags[le->n_tags++] = c->tag;
		if (ignore_sdes)
			continue;
		if (c->status != SDP_CRYPTO_OK) {
			unusable++;
			if (!le->unusable.set)
				note_from(&le->unusable, c);
		} else if (c->insecure) {
			usable_insecure++;
			if (!le->insecure.set)
				note_from(&le->insecure, c);
		} else {
			usable_secure++;
		}
	}

	bool has_sdes = !ignore_sdes && m->n_crypto > 0;
	bool has_mikey = m->n_mikey + sess->n_mikey > 0;
	bool has_dtls = sdp_proto_is_dtls(m->proto) && m->n_fingerprint + sess->n_fingerprint > 0;
	le->km = (has_sdes ? SDP_KM_SDES : 0) | (has_mikey ? SDP_KM_MIKEY : 0) | (has_dtls ? SDP_KM_DTLS : 0);
	le->km_refused = le->km & ~pol->key_mgmt;
	bool sdes_ok = (pol->key_mgmt & SDP_KM_SDES) != 0;
	bool mikey_ok = has_mikey && (pol->key_mgmt & SDP_KM_MIKEY);
	bool keyed = (sdes_ok && usable_secure) || mikey_ok;

	if (!sdp_proto_is_rtp(m->proto)) {
		le->st = LS_NON_RTP;
	} else if (sdp_proto_is_dtls(m->proto)) {
		if (has_dtls)
			le->st = (pol->key_mgmt & SDP_KM_DTLS) ? LS_SECURE : LS_KM_REFUSED;
		else
			le->st = LS_NO_KEYS;
	} else if (sdp_proto_is_savp(m->proto)) {
		if (keyed)
			le->st = LS_SECURE;
		else if (sdes_ok && usable_insecure)
			le->st = LS_INSECURE_KEYS;
		else if (le->km_refused)
			le->st = LS_KM_REFUSED;
		else if (sdes_ok && unusable)
			le->st = LS_UNSUPPORTED;
		else
			le->st = LS_NO_KEYS;
	} else {
		/* RTP/AVP with keys: the answerer may take SRTP or plain RTP (pjsua's "optional"). */
		le->st = keyed ? LS_BEST_EFFORT : LS_PLAIN;
	}
	sc->km |= le->km;
}

static bool acceptable(enum line_state st, enum sdp_media_mode mode)
{
	switch (mode) {
	case SDP_MEDIA_SECURE_REQUIRED:
		return st == LS_SECURE;
	case SDP_MEDIA_SECURE_PREFERRED:
		return st == LS_SECURE || st == LS_BEST_EFFORT || st == LS_PLAIN || st == LS_INSECURE_KEYS ||
		       st == LS_NON_RTP;
	case SDP_MEDIA_ANY:
		return st != LS_KM_REFUSED && st != LS_INACTIVE;
	}
	return false;
}

/* ---- Warning text ---- */

/* RFC 3261 20.43: warn-text is a quoted-string; keep it to plain printable ASCII without '"'
 * or '\' so nothing taken from the SDP can break out of it. */
static void set_warning(struct sdp_verdict *v, const char *host, const char *text)
{
	char clean[SDP_WARNING_MAX];
	size_t n = 0;
	for (; text[n] && n < sizeof(clean) - 1; n++) {
		unsigned char ch = (unsigned char)text[n];
		clean[n] = (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') ? '?' : (char)ch;
	}
	clean[n] = '\0';
	snprintf(v->warning, sizeof(v->warning), "399 %s \"%s\"", host && *host ? host : "-", clean);
}

static int clip(size_t len, size_t max)
{
	return (int)(len < max ? len : max);
}

static void km_list(unsigned mask, char *buf, size_t sz)
{
	static const char *const names[] = { "sdes", "mikey", "dtls" };
	size_t n = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < 3; i++) {
		if (!(mask & (1u << i)))
			continue;
		int w = snprintf(buf + n, sz - n, "%s%s", n ? " or " : "", names[i]);
		if (w < 0 || (size_t)w >= sz - n)
			return;
		n += (size_t)w;
	}
}

static void crypto_text(const struct crypto_note *cn, char *buf, size_t sz)
{
	if (!cn->tag_valid) {
		snprintf(buf, sz, "a=crypto: %s", sdp_crypto_status_text(cn->st));
		return;
	}
	if (cn->st == SDP_CRYPTO_BAD_KEY_LENGTH && cn->suite) {
		snprintf(buf, sz, "a=crypto tag %u: key length %zu, %s needs %zu", (unsigned)cn->tag,
			 cn->bad_len, cn->suite->name, cn->need_len);
		return;
	}
	if (cn->st == SDP_CRYPTO_UNKNOWN_SUITE) {
		snprintf(buf, sz, "a=crypto tag %u: unknown crypto suite %.*s", (unsigned)cn->tag,
			 clip(cn->suite_name.len, 40), cn->suite_name.p);
		return;
	}
	snprintf(buf, sz, "a=crypto tag %u: %s", (unsigned)cn->tag, sdp_crypto_status_text(cn->st));
}

static void reject(struct sdp_verdict *v, unsigned status, enum sdp_reason r, const char *host,
		   const char *text)
{
	v->action = SDP_REJECT;
	v->status = status;
	v->reason = r;
	set_warning(v, host, text);
}

/* ---- offers ---- */

struct offer_eval {
	struct scan sc;
	struct line_eval le;
	bool any_ok;
	bool any_active;
	bool insecure; /* some accepted active RTP stream is not SRTP */
	/* the most telling failure, for the Warning */
	enum line_state worst;
	const struct sdp_media *worst_m;
	struct line_eval worst_le;
};

static int state_rank(enum line_state st)
{
	switch (st) {
	case LS_KM_REFUSED: return 5;
	case LS_UNSUPPORTED: return 4;
	case LS_INSECURE_KEYS: return 3;
	case LS_NO_KEYS: return 2;
	default: return 1;
	}
}

static void eval_offer(const struct sdp *sdp, const struct sdp_policy *pol, bool ignore_sdes,
		       struct offer_eval *oe)
{
	memset(oe, 0, sizeof(*oe));
	oe->worst = LS_INACTIVE;
	if (sdp_session_get(sdp)->n_crypto)
		oe->sc.any_crypto = true;
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		const struct sdp_media *m = sdp_media_get(sdp, i);
		scan_media(sdp, m, pol, ignore_sdes, &oe->le, &oe->sc);
		if (oe->le.st == LS_INACTIVE)
			continue;
		oe->any_active = true;
		/* May flow unencrypted if the answerer picks it (the answer check has the last word). */
		if (oe->le.st == LS_PLAIN || oe->le.st == LS_BEST_EFFORT || oe->le.st == LS_INSECURE_KEYS)
			oe->insecure = true;
		if (acceptable(oe->le.st, pol->media))
			oe->any_ok = true;
		else if (!oe->worst_m || state_rank(oe->le.st) > state_rank(oe->worst)) {
			oe->worst = oe->le.st;
			oe->worst_m = m;
			oe->worst_le = oe->le;
		}
	}
}

/* Turn a failed evaluation into a reject verdict. */
static void reject_offer(struct sdp_verdict *v, const struct offer_eval *oe,
			 const struct sdp_policy *pol, const char *host)
{
	char text[200], list[40];
	const struct sdp_media *m = oe->worst_m;
	switch (oe->worst) {
	case LS_KM_REFUSED:
		km_list(oe->worst_le.km_refused, list, sizeof(list));
		if (pol->key_mgmt) {
			char need[40];
			km_list(pol->key_mgmt, need, sizeof(need));
			snprintf(text, sizeof(text), "key management %s not accepted (%s required)", list, need);
		} else {
			snprintf(text, sizeof(text), "key management %s not accepted (no SRTP on this leg)", list);
		}
		/* Seed 003: a Mediatrix answers 415 when the key management protocols differ. */
		reject(v, pol->mismatch_status, SDP_REASON_KM_NOT_ACCEPTED, host, text);
		return;
	case LS_UNSUPPORTED:
		crypto_text(&oe->worst_le.unusable, text, sizeof(text));
		reject(v, 488, SDP_REASON_CRYPTO_UNSUPPORTED, host, text);
		return;
	case LS_INSECURE_KEYS: {
		const struct crypto_note *cn = &oe->worst_le.insecure;
		if (cn->suite && cn->suite->insecure)
			snprintf(text, sizeof(text), "a=crypto tag %u: %s does not encrypt media", (unsigned)cn->tag,
				 cn->suite->name);
		else
			snprintf(text, sizeof(text), "a=crypto tag %u: session parameters disable SRTP protection",
				 (unsigned)cn->tag);
		reject(v, 488, SDP_REASON_CRYPTO_INSECURE, host, text);
		return;
	}
	case LS_NO_KEYS:
		snprintf(text, sizeof(text), "m=%.*s %s offers no key management", clip(m->media.len, 32),
			 m->media.p, sdp_proto_name(m->proto));
		reject(v, 488, SDP_REASON_NO_KEY_MGMT, host, text);
		return;
	default:
		reject(v, 488, SDP_REASON_NO_SECURE_MEDIA, host, "no secure media offered");
		return;
	}
}

/* Stripping is only safe when it breaks no stream: keys on RTP/AVP (best effort) or next to
 * MIKEY can go; an RTP/SAVP stream keyed by SDES alone would be left unusable. */
static bool strip_breaks_a_stream(const struct sdp *sdp, const struct sdp_policy *pol)
{
	struct line_eval before, after;
	struct scan sc;
	for (size_t i = 0; i < sdp_media_count(sdp); i++) {
		const struct sdp_media *m = sdp_media_get(sdp, i);
		memset(&sc, 0, sizeof(sc));
		scan_media(sdp, m, pol, false, &before, &sc);
		scan_media(sdp, m, pol, true, &after, &sc);
		if (acceptable(before.st, pol->media) && !acceptable(after.st, pol->media))
			return true;
	}
	return false;
}

static bool keep_non_crypto(const struct sdp_attr *a, const struct sdp_media *m, void *arg)
{
	(void)m;
	(void)arg;
	return !LEX_EQ_CI(a->name, "crypto");
}

static void count_offer(struct sdp_metrics *mx, const struct scan *sc, const struct sdp_verdict *v)
{
	if (!mx)
		return;
	bump(&mx->offers);
	for (unsigned i = 0; i < SDP_MCLASS_COUNT; i++)
		if (sc->classes & (1u << i))
			bump(&mx->offers_by_proto[i]);
	if (!sc->km)
		bump(&mx->offers_by_km[SDP_KMCLASS_NONE]);
	if (sc->km & SDP_KM_SDES)
		bump(&mx->offers_by_km[SDP_KMCLASS_SDES]);
	if (sc->km & SDP_KM_MIKEY)
		bump(&mx->offers_by_km[SDP_KMCLASS_MIKEY]);
	if (sc->km & SDP_KM_DTLS)
		bump(&mx->offers_by_km[SDP_KMCLASS_DTLS]);
	if (v->action == SDP_REJECT) {
		bump(&mx->offers_rejected[v->reason]);
		return;
	}
	bump(&mx->offers_accepted);
	if (v->action == SDP_ACCEPT_STRIPPED)
		bump(&mx->offers_stripped);
	if (v->insecure_media)
		bump(&mx->offers_insecure);
}

static bool args_ok(struct sdp_verdict *v, const struct sdp_policy *pol, const struct sdp_hop *hop)
{
	if (!v || !pol || !hop)
		return false;
	if (pol->mismatch_status != 415 && pol->mismatch_status != 488)
		return false;
	if ((unsigned)pol->media > SDP_MEDIA_ANY || (pol->key_mgmt & ~(unsigned)SDP_KM_ANY))
		return false;
	return true;
}

static void fatal_text(const struct scan *sc, char *text, size_t sz)
{
	if (sc->fatal == SDP_REASON_CRYPTO_DUP_TAG)
		snprintf(text, sz, "a=crypto tag %u: duplicate crypto tag", (unsigned)sc->fatal_note.tag);
	else
		crypto_text(&sc->fatal_note, text, sz);
}

int sdp_policy_check_offer(struct sdp_verdict *v, const struct sdp *offer,
			   const struct sdp_policy *pol, const struct sdp_hop *hop,
			   const char *warn_host, struct sdp_metrics *metrics)
{
	struct offer_eval oe;
	char text[200];
	int err = 0;

	if (!args_ok(v, pol, hop) || !offer)
		return EINVAL;
	memset(v, 0, sizeof(*v));
	eval_offer(offer, pol, false, &oe);
	v->km_offered = oe.sc.km;

	/* RFC 4568 9.1 / 6.1: a malformed a=crypto is refused outright, whatever else is offered
	 * (pjsua does the same, answering 406). */
	if (oe.sc.fatal) {
		fatal_text(&oe.sc, text, sizeof(text));
		reject(v, 488, oe.sc.fatal, warn_host, text);
		goto out;
	}

	/* RFC 4568 8: SDES keys travel in clear inside the SIP message; they must not leave over a
	 * hop that is not TLS all the way. */
	bool hop_secure = hop->next_hop_tls && hop->target_sips;
	bool strip = false;
	if (oe.sc.any_crypto && !hop_secure) {
		if (pol->sdes_on_insecure_hop == SDP_SDES_HOP_REFUSE) {
			reject(v, 488, SDP_REASON_SDES_INSECURE_HOP, warn_host,
			       "SDES keys require TLS on every hop");
			goto out;
		}
		if (strip_breaks_a_stream(offer, pol)) {
			reject(v, 488, SDP_REASON_SDES_INSECURE_HOP, warn_host,
			       "SDES keys require TLS on every hop");
			goto out;
		}
		strip = true;
		struct scan keep = oe.sc;
		eval_offer(offer, pol, true, &oe);
		oe.sc.classes = keep.classes; /* count what was offered, not what is left */
		oe.sc.km = keep.km;
	}

	if (!oe.any_ok && (oe.any_active || pol->media == SDP_MEDIA_SECURE_REQUIRED)) {
		reject_offer(v, &oe, pol, warn_host);
		/* Stripping is what made it fail unless key management was refused anyway. */
		if (strip && v->reason != SDP_REASON_KM_NOT_ACCEPTED) {
			sdp_verdict_clear(v);
			v->km_offered = oe.sc.km;
			reject(v, 488, SDP_REASON_SDES_INSECURE_HOP, warn_host,
			       "SDES keys require TLS on every hop");
		}
		goto out;
	}

	v->action = SDP_ACCEPT;
	v->insecure_media = oe.insecure;
	if (strip) {
		err = sdp_build_filtered(&v->body, &v->body_len, offer, keep_non_crypto, NULL);
		if (err) {
			sdp_verdict_clear(v);
			return err;
		}
		v->action = SDP_ACCEPT_STRIPPED;
	}
out:
	count_offer(metrics, &oe.sc, v);
	return 0;
}

static void malformed(struct sdp_verdict *v, unsigned status, const char *host, const char *what,
		      const struct sdp_error *pe, int rc)
{
	char text[200];
	const char *why = pe->reason ? pe->reason : (rc == ENOMEM ? "out of memory" : "invalid");
	if (pe->line)
		snprintf(text, sizeof(text), "malformed %s: line %u: %s", what, pe->line, why);
	else
		snprintf(text, sizeof(text), "malformed %s: %s", what, why);
	reject(v, status, SDP_REASON_MALFORMED_SDP, host, text);
}

int sdp_policy_check_offer_body(struct sdp_verdict *v, struct slice body,
				const struct sdp_policy *pol, const struct sdp_hop *hop,
				const char *warn_host, struct sdp_metrics *metrics)
{
	return sdp_policy_check_offer_keep(v, body, pol, hop, warn_host, metrics, NULL);
}

int sdp_policy_check_offer_keep(struct sdp_verdict *v, struct slice body,
				const struct sdp_policy *pol, const struct sdp_hop *hop,
				const char *warn_host, struct sdp_metrics *metrics, struct sdp **keep)
{
	struct sdp *sdp = NULL;
	if (keep)
		*keep = NULL;
	struct sdp_error pe;
	if (!args_ok(v, pol, hop))
		return EINVAL;
	int rc = sdp_parse(&sdp, body, NULL, &pe);
	if (rc == ENOMEM || rc == EINVAL)
		return rc;
	if (rc) {
		memset(v, 0, sizeof(*v));
		/* RFC 3261 21.4.1: the request is malformed; pjsua answers 400 with a Warning too. */
		malformed(v, 400, warn_host, "SDP", &pe, rc);
		if (metrics) {
			bump(&metrics->offers);
			bump(&metrics->offers_rejected[SDP_REASON_MALFORMED_SDP]);
		}
		return 0;
	}
	rc = sdp_policy_check_offer(v, sdp, pol, hop, warn_host, metrics);
	if (rc == 0 && keep && v->action == SDP_ACCEPT)
		*keep = sdp;
	else
		mem_deref(sdp);
	return rc;
}

/* ---- answers ---- */

/* The offer's lines come as sdp_parse() left them: an offer kept from its own check is not
 * parsed again for its answer. */
static bool tag_offered(const struct sdp *offer, const struct sdp_media *om, const struct sdp_crypto_info *ac)
{
	for (size_t i = 0; i < om->n_crypto; i++) {
		const struct sdp_crypto_info *oc = sdp_crypto_get(offer, om, i);
		if (oc->status == SDP_CRYPTO_OK && oc->tag == ac->tag && oc->suite == ac->suite)
			return true;
	}
	return false;
}

/* RFC 4568 7.1.2 / 7.1.3: an SRTP answer selects exactly one offered crypto, echoing its tag and
 * suite with the answerer's own key. */
static bool answer_crypto_fits(const struct sdp *offer, const struct sdp_media *om,
			       const struct sdp *answer, const struct sdp_media *am, char *text, size_t sz)
{
	unsigned n = 0;
	for (size_t i = 0; i < am->n_crypto; i++) {
		const struct sdp_crypto_info *ac = sdp_crypto_get(answer, am, i);
		n++;
		if (!tag_offered(offer, om, ac)) {
			snprintf(text, sz, "answer does not match offer: a=crypto tag %u was not offered",
				 (unsigned)ac->tag);
			return false;
		}
	}
	if (n > 1) {
		snprintf(text, sz, "answer does not match offer: m=%.*s selects %u a=crypto lines",
			 clip(am->media.len, 32), am->media.p, n);
		return false;
	}
	return true;
}

static void judge_answer(struct sdp_verdict *v, const struct sdp *offer, const struct sdp *answer,
			 const struct sdp_policy *pol, const struct sdp_hop *hop, const char *host)
{
	char text[200];
	size_t n = sdp_media_count(answer);
	struct scan sc = { 0 };
	struct line_eval le;
	bool any_secure = false, any_active = false;

	/* RFC 3264 6: one answer m= line per offered m= line, same order. */
	if (n != sdp_media_count(offer)) {
		reject(v, 488, SDP_REASON_ANSWER_MISMATCH, host,
		       "answer does not match offer: number of m= lines differs");
		return;
	}
	/* Each line's verdict depends on the line alone: the first few are kept for the loop below
	 * rather than scanned (and their keys parsed) twice. */
	enum { KEPT = 8 };
	struct line_eval kept[KEPT];
	for (size_t i = 0; i < n; i++)
		scan_media(answer, sdp_media_get(answer, i), pol, false, i < KEPT ? &kept[i] : &le, &sc);
	if (sc.fatal) {
		fatal_text(&sc, text, sizeof(text));
		reject(v, 488, sc.fatal, host, text);
		return;
	}
	if ((sc.any_crypto || sdp_session_get(answer)->n_crypto) && !(hop->next_hop_tls && hop->target_sips)) {
		reject(v, 488, SDP_REASON_SDES_INSECURE_HOP, host, "SDES keys require TLS on every hop");
		return;
	}
	v->km_offered = sc.km;
	for (size_t i = 0; i < n; i++) {
		const struct sdp_media *om = sdp_media_get(offer, i), *am = sdp_media_get(answer, i);
		if (am->port == 0)
			continue;
		if (om->port == 0) {
			/* RFC 3264 6: a stream refused in the offer stays refused. */
			reject(v, 488, SDP_REASON_ANSWER_MISMATCH, host,
			       "answer does not match offer: answer enables a disabled stream");
			return;
		}
		if (om->proto_text.len != am->proto_text.len ||
		    !lex_same_ci(om->proto_text.p, am->proto_text.p, am->proto_text.len)) {
			snprintf(text, sizeof(text), "answer does not match offer: m=%.*s transport %s, offered %s",
				 clip(am->media.len, 32), am->media.p, sdp_proto_name(am->proto),
				 sdp_proto_name(om->proto));
			reject(v, 488, SDP_REASON_ANSWER_MISMATCH, host, text);
			return;
		}
		if (!answer_crypto_fits(offer, om, answer, am, text, sizeof(text))) {
			reject(v, 488, SDP_REASON_ANSWER_MISMATCH, host, text);
			return;
		}
		if (i < KEPT)
			le = kept[i];
		else
			scan_media(answer, am, pol, false, &le, &sc);
		if (le.st == LS_KM_REFUSED) {
			char list[40];
			km_list(le.km_refused, list, sizeof(list));
			snprintf(text, sizeof(text), "answer uses key management %s, not accepted here", list);
			reject(v, 488, SDP_REASON_KM_NOT_ACCEPTED, host, text);
			return;
		}
		any_active = true;
		if (le.st == LS_NON_RTP)
			continue;
		if (le.st == LS_SECURE) {
			any_secure = true;
			continue;
		}
		if (pol->media == SDP_MEDIA_SECURE_REQUIRED) {
			snprintf(text, sizeof(text), "answer drops SRTP on m=%.*s (secure media required)",
				 clip(am->media.len, 32), am->media.p);
			reject(v, 488, SDP_REASON_ANSWER_NOT_SECURE, host, text);
			return;
		}
		v->insecure_media = true;
	}
	/* Only T.38 or other non-RTP streams left: nothing is protected (seed 003 refuses unsecure
	 * T.38 next to secure RTP by default). */
	if (pol->media == SDP_MEDIA_SECURE_REQUIRED && any_active && !any_secure) {
		reject(v, 488, SDP_REASON_ANSWER_NOT_SECURE, host, "answer keeps no secure media");
		return;
	}
	v->action = SDP_ACCEPT;
}

int sdp_policy_check_answer(struct sdp_verdict *v, const struct sdp *offer,
			    const struct sdp *answer, const struct sdp_policy *pol,
			    const struct sdp_hop *hop, const char *warn_host,
			    struct sdp_metrics *metrics)
{
	if (!args_ok(v, pol, hop) || !offer || !answer)
		return EINVAL;
	memset(v, 0, sizeof(*v));
	judge_answer(v, offer, answer, pol, hop, warn_host);
	if (metrics) {
		bump(&metrics->answers);
		if (v->action == SDP_REJECT)
			bump(&metrics->answers_rejected[v->reason]);
	}
	return 0;
}

/* Parses one side for an answer check. 0 with *out set, or 0 with *out NULL and v rejecting it
 * 488 (malformed, counted), or ENOMEM / EINVAL. */
static int parse_for_answer(struct sdp_verdict *v, struct slice body, const char *what, const char *warn_host,
			    struct sdp_metrics *metrics, struct sdp **out)
{
	struct sdp_error pe;
	*out = NULL;
	int rc = sdp_parse(out, body, NULL, &pe);
	if (rc == ENOMEM || rc == EINVAL)
		return rc;
	if (rc) {
		malformed(v, 488, warn_host, what, &pe, rc);
		if (metrics) {
			bump(&metrics->answers);
			bump(&metrics->answers_rejected[SDP_REASON_MALFORMED_SDP]);
		}
	}
	return 0;
}

int sdp_policy_check_answer_to(struct sdp_verdict *v, const struct sdp *offer, struct slice answer,
			       const struct sdp_policy *pol, const struct sdp_hop *hop,
			       const char *warn_host, struct sdp_metrics *metrics)
{
	struct sdp *a;
	if (!args_ok(v, pol, hop) || !offer)
		return EINVAL;
	memset(v, 0, sizeof(*v));
	int rc = parse_for_answer(v, answer, "SDP answer", warn_host, metrics, &a);
	if (rc || !a)
		return rc;
	rc = sdp_policy_check_answer(v, offer, a, pol, hop, warn_host, metrics);
	mem_deref(a);
	return rc;
}

int sdp_policy_check_answer_body(struct sdp_verdict *v, struct slice offer, struct slice answer,
				 const struct sdp_policy *pol, const struct sdp_hop *hop,
				 const char *warn_host, struct sdp_metrics *metrics)
{
	struct sdp *o;
	if (!args_ok(v, pol, hop))
		return EINVAL;
	memset(v, 0, sizeof(*v));
	int rc = parse_for_answer(v, offer, "SDP offer", warn_host, metrics, &o);
	if (rc || !o)
		return rc;
	rc = sdp_policy_check_answer_to(v, o, answer, pol, hop, warn_host, metrics);
	mem_deref(o);
	return rc;
}
