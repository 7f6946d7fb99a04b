/* Message parser: one pass over the header block with memchr line scanning. */
#include "sip/msg.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "base/mem.h"
#include "sip/hdrname.h"
#include "sip/lex.h"

/* Headers stored inside the message allocation; more grow a separate array in chunks. A
 * typical INVITE has 10-20, so the common case is one allocation per message. */
#define INLINE_HDRS 24

/* Fields up to `last` are zeroed per message; the rest is written before it is read (the
 * structured values are filled by their parsers, guarded by the has_ flags; last[id] is
 * read only when first[id] is set), which saves a KB of memset per message. */
struct sip_msg {
	void *owner;      /* referenced buffer (parse_ref), NULL when copied into data[] */
	const char *buf;  /* first octet of the start line */
	size_t len;       /* start line through body */
	size_t hdr_end;   /* offset of the empty line */
	uint8_t eoh_len;  /* 2 CRLF, 1 LF, 0 datagram ended without the empty line */
	bool request;
	struct slice start_line, method, version, reason;
	enum sip_method mid;
	uint16_t status;
	struct slice body;

	bool has_via, has_from, has_to, has_cseq, has_clen, has_mf;
	struct slice call_id;
	uint32_t clen, mf;

	uint16_t first[SIP_HDR__COUNT], num[SIP_HDR__COUNT];
	uint32_t nhdrs, cap;
	struct sip_hdr *ext; /* mem object when grown */

	uint16_t last[SIP_HDR__COUNT]; /* not zeroed from here on */
	struct sip_hdr *hdrs;
	struct sip_uri ruri;
	struct sip_via via;
	struct slice via_rest; /* the first Via header's value after the top Via */
	struct sip_nameaddr from, to;
	struct sip_cseq cseq;
	struct sip_hdr inl[INLINE_HDRS];
	char data[];
};

static void msg_destroy(void *arg)
{
	struct sip_msg *m = arg;
	mem_deref(m->ext);
	mem_deref(m->owner);
}

static struct sip_hdr *hdr_add(struct sip_msg *m, const struct sip_limits *lim)
{
	if (m->nhdrs >= lim->max_headers)
		return NULL;
	if (m->nhdrs == m->cap) {
		uint32_t ncap = m->cap * 2;
		if (ncap > lim->max_headers)
			ncap = lim->max_headers;
		struct sip_hdr *n = mem_alloc(sizeof(*n) * ncap, NULL);
		if (!n)
			return NULL;
		memcpy(n, m->hdrs, sizeof(*n) * m->nhdrs);
		mem_deref(m->ext);
		m->ext = n;
		m->hdrs = n;
		m->cap = ncap;
	}
	return &m->hdrs[m->nhdrs++]; /* the caller sets every field */
}

/* "SIP/" 1*DIGIT "." 1*DIGIT */
static bool version_like(struct slice v)
{
	if (v.len < 7 || memcmp(v.p, "SIP/", 4) != 0)
		return false;
	const char *p = v.p + 4, *end = v.p + v.len;
	const char *d = run(p, end, CC_DIGIT);
	if (d == p || d >= end || *d != '.')
		return false;
	const char *e = run(d + 1, end, CC_DIGIT);
	return e > d + 1 && e == end;
}

static bool version_ok(struct slice v)
{
	return v.len == 7 && memcmp(v.p, "SIP/2.0", 7) == 0;
}

/* RFC 3261 7.1 / 7.2; the element separators are exactly one SP (RFC 4475 3.1.2.8-10). */
static int start_line(struct sip_msg *m, const char *p, const char *le, const struct sip_limits *lim,
		      struct sip_verdict *v)
{
	m->start_line = sl(p, le);
	if (le - p >= 4 && memcmp(p, "SIP/", 4) == 0) {
		/* RFC 4475 3.1.2.5, 3.1.2.19: a bad response is discarded, never answered */
		const char *sp = memchr(p, ' ', (size_t)(le - p));
		if (!sp)
			return sip_verdict_set(v, EBADMSG, 400, "Bad Status-Line");
		m->version = sl(p, sp);
		const char *c = sp + 1, *ce = run(c, le, CC_DIGIT);
		uint32_t code;
		if (!version_ok(m->version) || ce - c != 3 || (ce < le && *ce != ' ') ||
		    !lex_u32(sl(c, ce), 699, &code) || code < 100)
			return sip_verdict_set(v, EBADMSG, 400, "Bad Status-Line");
		m->status = (uint16_t)code;
		m->reason = ce < le ? sl(ce + 1, le) : sl(le, le);
		return 0;
	}
	m->request = true;
	const char *sp1 = memchr(p, ' ', (size_t)(le - p));
	if (!sp1 || sp1 == p || run(p, sp1, CC_TOKEN) != sp1)
		return sip_verdict_set(v, EBADMSG, 400, "Bad Request-Line");
	const char *u = sp1 + 1;
	const char *sp2 = memchr(u, ' ', (size_t)(le - u));
	/* a version of exactly "SIP/2.0" holds no SP and no HTAB: then only the URI needs the
	 * searches (a third SP, or an HTAB, makes the line bad whatever the version says) */
	bool v20 = sp2 && le - sp2 == 8 && memcmp(sp2 + 1, "SIP/2.0", 7) == 0;
	if (!sp2 || sp2 == u ||
	    (!v20 && (memchr(sp2 + 1, ' ', (size_t)(le - sp2 - 1)) || sp2 + 1 == le)) ||
	    memchr(u, '\t', (size_t)((v20 ? sp2 : le) - u)))
		return sip_verdict_set(v, EBADMSG, 400, "Bad Request-Line");
	m->method = sl(p, sp1);
	m->mid = sip_method_lookup(m->method);
	m->version = sl(sp2 + 1, le);
	if (!version_ok(m->version)) {
		if (version_like(m->version))
			return sip_verdict_set(v, EBADMSG, 505, "Version Not Supported");
		return sip_verdict_set(v, EBADMSG, 400, "Bad Request-Line");
	}
	if ((size_t)(sp2 - u) > lim->max_uri_length)
		return sip_verdict_set(v, EOVERFLOW, 414, "Request-URI Too Long");
	if (sip_uri_parse(&m->ruri, u, (size_t)(sp2 - u)))
		return sip_verdict_set(v, EBADMSG, 400, "Bad Request-URI");
	return 0;
}

static bool digits_value(struct slice val, uint32_t *out)
{
	return lex_u32(val, UINT32_MAX, out);
}

/* callid = word [ "@" word ] (RFC 3261 25.1): no LWS inside, at most one '@' */
static bool callid_ok(struct slice r)
{
	const char *p = r.p, *end = p + r.len;
	const char *w = run(p, end, CC_WORD);
	if (w == p)
		return false;
	if (w == end)
		return true;
	if (*w != '@')
		return false;
	const char *w2 = run(w + 1, end, CC_WORD);
	return w2 > w + 1 && w2 == end;
}

/* Structures the headers every transaction needs, as they are met. */
/* id and value come as arguments, not re-read from the header just written: reloading a
 * freshly stored slice stalls on store forwarding (measured: ~20% of the parse). */
static int hdr_eager(struct sip_msg *m, enum sip_hdr_id id, struct slice r, const struct sip_limits *lim,
		     struct sip_verdict *v)
{
	switch (id) {
	case SIP_HDR_VIA:
		if (m->num[SIP_HDR_VIA] > lim->max_via)
			return sip_verdict_set(v, EOVERFLOW, 400, "Too Many Via");
		if (m->has_via)
			return 0;
		if (sip_via_parse(&r, &m->via))
			return sip_verdict_set(v, EBADMSG, 400, "Bad Via");
		m->via_rest = r;
		m->has_via = true;
		return 0;
	case SIP_HDR_FROM:
	case SIP_HDR_TO: {
		bool from = id == SIP_HDR_FROM;
		if (from ? m->has_from : m->has_to)
			return 0;
		struct sip_nameaddr *na = from ? &m->from : &m->to;
		int err = sip_nameaddr_parse(&r, na, false);
		if (err)
			return sip_verdict_set(v, EBADMSG, 400, from ? "Bad From" : "Bad To");
		if (na->uri.whole.len > lim->max_uri_length)
			return sip_verdict_set(v, EOVERFLOW, 400, "URI Too Long");
		if (from)
			m->has_from = true;
		else
			m->has_to = true;
		return 0;
	}
	case SIP_HDR_CALL_ID:
		if (m->call_id.p)
			return 0;
		/* callid = word [ "@" word ]: no LWS inside */
		if (!callid_ok(r))
			return sip_verdict_set(v, EBADMSG, 400, "Bad Call-ID");
		m->call_id = r;
		return 0;
	case SIP_HDR_CSEQ:
		if (m->has_cseq)
			return 0;
		if (sip_cseq_parse(r, &m->cseq))
			return sip_verdict_set(v, EBADMSG, 400, "Bad CSeq");
		m->has_cseq = true;
		return 0;
	case SIP_HDR_CONTENT_LENGTH:
		/* RFC 4475 3.3.9: two Content-Length values leave the framing unknown */
		if (m->has_clen)
			return sip_verdict_set(v, EBADMSG, 400, "Multiple Content-Length");
		if (!digits_value(r, &m->clen))
			return sip_verdict_set(v, EBADMSG, 400, "Bad Content-Length");
		m->has_clen = true;
		return 0;
	case SIP_HDR_MAX_FORWARDS:
		if (m->has_mf)
			return 0;
		if (!digits_value(r, &m->mf))
			return sip_verdict_set(v, EBADMSG, 400, "Bad Max-Forwards");
		m->has_mf = true;
		return 0;
	default:
		return 0;
	}
}

static int parse(struct sip_msg *m, const char *buf, size_t len, const struct sip_limits *lim,
		 unsigned flags, struct sip_verdict *v)
{
	const char *p = buf, *end = buf + len;
	/* RFC 3261 7.5: CRLFs before the start line are ignored */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	m->buf = p;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return sip_verdict_set(v, EBADMSG, 400, "Incomplete Message");
	const char *le = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
	if ((size_t)(le - p) > lim->max_line_length)
		return sip_verdict_set(v, EOVERFLOW, 400, "Line Too Long");
	int err = start_line(m, p, le, lim, v);
	if (err)
		return err;
	p = nl + 1;

	for (;;) {
		if (p >= end) {
			/* a datagram may end right after its last header (RFC 5118 archive) */
			if (flags & SIP_PARSE_STREAM)
				return sip_verdict_set(v, EBADMSG, 400, "Incomplete Message");
			m->eoh_len = 0;
			break;
		}
		if (*p == '\n' || (*p == '\r' && end - p >= 2 && p[1] == '\n')) {
			m->eoh_len = *p == '\n' ? 1 : 2;
			break;
		}
		const char *ls = p;
		/* the name and its colon lie on the first physical line: find its end first, so a
		 * known name is matched in place, without scanning it as a token */
		nl = memchr(ls, '\n', (size_t)(end - ls));
		const char *le1 = nl ? nl : end;
		size_t nlen;
		enum sip_hdr_id id = sip_hdr_match(ls, (size_t)(le1 - ls), &nlen);
		const char *ne = id != SIP_HDR_OTHER ? ls + nlen : run(ls, le1, CC_TOKEN);
		if (ne == p)
			return sip_verdict_set(v, EBADMSG, 400, "Bad Header");
		/* header-name HCOLON, HCOLON = *( SP / HTAB ) ":" SWS (RFC 3261 25.1): the colon
		 * nearly always follows the name at once, so test that before looping on blanks */
		const char *c = ne;
		if (c >= le1 || *c != ':') {
			while (c < le1 && (*c == ' ' || *c == '\t'))
				c++;
			if (c >= le1 || *c != ':')
				return sip_verdict_set(v, EBADMSG, 400, "Bad Header");
		}
		/* logical line: physical lines joined while the next starts with SP/HTAB (7.3.1) */
		const char *lstart = ls, *ve;
		for (;; nl = memchr(lstart, '\n', (size_t)(end - lstart))) {
			if (!nl)
				return sip_verdict_set(v, EBADMSG, 400, "Incomplete Message");
			if ((size_t)(nl - lstart) > lim->max_line_length + 1u)
				return sip_verdict_set(v, EOVERFLOW, 400, "Line Too Long");
			if (nl + 1 < end && (nl[1] == ' ' || nl[1] == '\t')) {
				lstart = nl + 1;
				continue;
			}
			break;
		}
		ve = (nl > c && nl[-1] == '\r') ? nl - 1 : nl;
		struct sip_hdr *h = hdr_add(m, lim);
		if (!h) {
			if (m->nhdrs >= lim->max_headers)
				return sip_verdict_set(v, EOVERFLOW, 400, "Too Many Headers");
			return sip_verdict_set(v, ENOMEM, 500, "Server Internal Error");
		}
		/* HCOLON ends in SWS, nearly always one SP: step over it before the LWS scan */
		const char *vs = c + 1;
		if (vs < ve && *vs == ' ')
			vs++;
		vs = lws_skip(vs, ve);
		/* trailing LWS is not part of the value (7.3.1); one test when there is none */
		if (ve > vs && cc(ve[-1], CC_WS)) {
			do
				ve--;
			while (ve > vs && cc(ve[-1], CC_WS));
		}
		struct slice val = sl(vs, ve);
		h->name = sl(ls, ne);
		h->value = val;
		h->raw_len = (uint32_t)(nl + 1 - ls);
		h->id = (uint16_t)id;
		h->next = 0;
		if (id != SIP_HDR_OTHER) {
			uint16_t idx = (uint16_t)(m->nhdrs); /* index + 1 */
			if (m->first[id])
				m->hdrs[m->last[id] - 1].next = idx;
			else
				m->first[id] = idx;
			m->last[id] = idx;
			m->num[id]++;
			err = hdr_eager(m, id, val, lim, v);
			if (err)
				return err;
		}
		p = nl + 1;
	}

	m->hdr_end = (size_t)(p - m->buf);
	const char *body = p + m->eoh_len;
	size_t avail = (size_t)(end - body);
	if (m->has_clen) {
		if (m->clen > lim->max_message_size)
			return sip_verdict_set(v, EOVERFLOW, 513, "Message Too Large");
		/* RFC 4475 3.1.2.2: over UDP a Content-Length past the datagram is a 400; extra
		 * octets after it are ignored (3.1.1.8) */
		if (m->clen > avail)
			return sip_verdict_set(v, EBADMSG, 400, "Content-Length Exceeds Message");
		m->body = sl(body, body + m->clen);
	} else {
		/* RFC 3261 18.3: mandatory on streams; on a datagram the body is the rest */
		if (flags & SIP_PARSE_STREAM)
			return sip_verdict_set(v, EBADMSG, 400, "Missing Content-Length");
		m->body = sl(body, end);
	}
	m->len = (size_t)(m->body.p + m->body.len - m->buf);
	if (m->len > lim->max_message_size)
		return sip_verdict_set(v, EOVERFLOW, 513, "Message Too Large");
	return 0;
}

static int parse_common(void *owner, const char *buf, size_t len, const struct sip_limits *lim,
			unsigned flags, struct sip_msg **msgp, struct sip_verdict *v)
{
	struct sip_limits dl;
	if (!msgp || (!buf && len))
		return EINVAL;
	dl = lim ? *lim : sip_limits_default();
	if (dl.max_headers > UINT16_MAX - 1)
		dl.max_headers = UINT16_MAX - 1; /* header indexes are 16 bit */
	lim = &dl;
	sip_verdict_clear(v);
	/* a datagram may carry noise after the message; only the size limit is binding */
	if (len > lim->max_message_size && ((flags & SIP_PARSE_STREAM) || len > 2u * lim->max_message_size))
		return sip_verdict_set(v, EOVERFLOW, 513, "Message Too Large");
	/* Pooled: messages are made and freed at the packet rate. Only the index part is zeroed
	 * (see struct sip_msg); the data area is overwritten. */
	struct sip_msg *m = mem_alloc_pooled(sizeof(*m) + (owner ? 0 : len), msg_destroy);
	if (!m)
		return sip_verdict_set(v, ENOMEM, 500, "Server Internal Error");
	memset(m, 0, offsetof(struct sip_msg, last));
	if (owner) {
		m->owner = mem_ref(owner);
	} else if (len) {
		memcpy(m->data, buf, len);
		buf = m->data;
	}
	m->hdrs = m->inl;
	m->cap = INLINE_HDRS;
	int err = parse(m, buf ? buf : "", len, lim, flags, v);
	if (err) {
		/* answers are never sent to responses (RFC 3261 8.1.3.1 has no error response) */
		if (v && !m->request && m->start_line.p)
			v->drop = true;
		mem_deref(m);
		return err;
	}
	*msgp = m;
	return 0;
}

int sip_msg_parse(const char *buf, size_t len, const struct sip_limits *lim, unsigned flags,
		  struct sip_msg **msgp, struct sip_verdict *v)
{
	return parse_common(NULL, buf, len, lim, flags, msgp, v);
}

int sip_msg_parse_ref(void *owner, const char *buf, size_t len, const struct sip_limits *lim,
		      unsigned flags, struct sip_msg **msgp, struct sip_verdict *v)
{
	if (!owner)
		return EINVAL;
	return parse_common(owner, buf, len, lim, flags, msgp, v);
}

bool sip_msg_is_request(const struct sip_msg *m)
{
	return m && m->request;
}

struct slice sip_msg_method(const struct sip_msg *m)
{
	return m ? m->method : (struct slice){ 0 };
}

enum sip_method sip_msg_method_id(const struct sip_msg *m)
{
	return m ? m->mid : SIP_METHOD_UNKNOWN;
}

const struct sip_uri *sip_msg_ruri(const struct sip_msg *m)
{
	return m && m->request ? &m->ruri : NULL;
}

uint16_t sip_msg_status(const struct sip_msg *m)
{
	return m ? m->status : 0;
}

struct slice sip_msg_reason(const struct sip_msg *m)
{
	return m ? m->reason : (struct slice){ 0 };
}

struct slice sip_msg_start_line(const struct sip_msg *m)
{
	return m ? m->start_line : (struct slice){ 0 };
}

struct slice sip_msg_raw(const struct sip_msg *m)
{
	return m ? (struct slice){ m->buf, m->len } : (struct slice){ 0 };
}

struct slice sip_msg_body(const struct sip_msg *m)
{
	return m ? m->body : (struct slice){ 0 };
}

size_t sip_msg_hdr_end(const struct sip_msg *m, size_t *eoh_len)
{
	if (eoh_len)
		*eoh_len = m ? m->eoh_len : 0;
	return m ? m->hdr_end : 0;
}

size_t sip_msg_hdr_count(const struct sip_msg *m)
{
	return m ? m->nhdrs : 0;
}

const struct sip_hdr *sip_msg_hdr_at(const struct sip_msg *m, size_t i)
{
	return m && i < m->nhdrs ? &m->hdrs[i] : NULL;
}

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *m, enum sip_hdr_id id)
{
	if (!m || id <= SIP_HDR_OTHER || id >= SIP_HDR__COUNT || !m->first[id])
		return NULL;
	return &m->hdrs[m->first[id] - 1];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *m, const struct sip_hdr *h)
{
	if (!m || !h || !h->next)
		return NULL;
	return &m->hdrs[h->next - 1];
}

size_t sip_msg_hdr_num(const struct sip_msg *m, enum sip_hdr_id id)
{
	if (!m || id <= SIP_HDR_OTHER || id >= SIP_HDR__COUNT)
		return 0;
	return m->num[id];
}

const struct sip_hdr *sip_msg_hdr_by_name(const struct sip_msg *m, const char *name)
{
	if (!m || !name)
		return NULL;
	size_t n = strlen(name);
	for (uint32_t i = 0; i < m->nhdrs; i++) {
		if (m->hdrs[i].name.len == n && strncasecmp(m->hdrs[i].name.p, name, n) == 0)
			return &m->hdrs[i];
	}
	return NULL;
}

const struct sip_via *sip_msg_via(const struct sip_msg *m)
{
	return m && m->has_via ? &m->via : NULL;
}

const struct sip_nameaddr *sip_msg_from(const struct sip_msg *m)
{
	return m && m->has_from ? &m->from : NULL;
}

const struct sip_nameaddr *sip_msg_to(const struct sip_msg *m)
{
	return m && m->has_to ? &m->to : NULL;
}

struct slice sip_msg_call_id(const struct sip_msg *m)
{
	return m ? m->call_id : (struct slice){ 0 };
}

const struct sip_cseq *sip_msg_cseq(const struct sip_msg *m)
{
	return m && m->has_cseq ? &m->cseq : NULL;
}

bool sip_msg_content_length(const struct sip_msg *m, uint32_t *len)
{
	if (!m || !m->has_clen)
		return false;
	if (len)
		*len = m->clen;
	return true;
}

bool sip_msg_max_forwards(const struct sip_msg *m, uint32_t *mf)
{
	if (!m || !m->has_mf)
		return false;
	if (mf)
		*mf = m->mf;
	return true;
}

struct slice sip_msg_content_type(const struct sip_msg *m)
{
	const struct sip_hdr *h = sip_msg_hdr(m, SIP_HDR_CONTENT_TYPE);
	return h ? h->value : (struct slice){ 0 };
}

static int delta_hdr(const struct sip_msg *m, enum sip_hdr_id id, uint32_t *secs)
{
	const struct sip_hdr *h = sip_msg_hdr(m, id);
	if (!h)
		return ENOENT;
	struct slice s = h->value;
	if (!s.len || run(s.p, s.p + s.len, CC_DIGIT) != s.p + s.len)
		return EBADMSG;
	uint32_t val;
	if (!lex_u32(s, UINT32_MAX, &val))
		return EOVERFLOW;
	if (secs)
		*secs = val;
	return 0;
}

int sip_msg_expires(const struct sip_msg *m, uint32_t *secs)
{
	return delta_hdr(m, SIP_HDR_EXPIRES, secs);
}

int sip_msg_min_expires(const struct sip_msg *m, uint32_t *secs)
{
	return delta_hdr(m, SIP_HDR_MIN_EXPIRES, secs);
}

void sip_hdr_iter_init(struct sip_hdr_iter *it, const struct sip_msg *m, enum sip_hdr_id id)
{
	if (!it)
		return;
	it->msg = m;
	it->hdr = sip_msg_hdr(m, id);
	it->rest = it->hdr ? it->hdr->value : (struct slice){ 0 };
}

/* Moves to the next header of the same id when the current value list is exhausted. */
static bool iter_fill(struct sip_hdr_iter *it)
{
	for (;;) {
		if (!it->hdr)
			return false;
		const char *p = lws_skip(it->rest.p, it->rest.p + it->rest.len);
		while (p < it->rest.p + it->rest.len && (*p == ',' || cc(*p, CC_WS)))
			p++;
		if (p < it->rest.p + it->rest.len)
			return true;
		it->hdr = sip_msg_hdr_next(it->msg, it->hdr);
		it->rest = it->hdr ? it->hdr->value : (struct slice){ 0 };
	}
}

#define ITER_BODY(call)                       \
	if (!it)                              \
		return EINVAL;                \
	if (!iter_fill(it))                   \
		return ENOENT;                \
	int err = (call);                     \
	if (err) {                            \
		it->hdr = NULL;               \
		return err == ENOENT ? EBADMSG : err; \
	}                                     \
	return 0

int sip_request_peek(const char *buf, size_t len, struct slice *method, struct sip_via *top)
{
	const char *end = buf + len, *sp = buf ? memchr(buf, ' ', len) : NULL;
	if (!sp || sp == buf || !method || !top)
		return EBADMSG;
	*method = sl(buf, sp);
	for (const char *nl = memchr(sp, '\n', (size_t)(end - sp)); nl && nl + 1 < end;) {
		const char *ls = nl + 1;
		if (*ls == '\r' || *ls == '\n')
			return ENOENT; /* end of the headers */
		nl = memchr(ls, '\n', (size_t)(end - ls));
		const char *le = nl ? nl : end;
		size_t nlen;
		if (sip_hdr_match(ls, (size_t)(le - ls), &nlen) != SIP_HDR_VIA)
			continue;
		const char *c = ls + nlen;
		while (c < le && (*c == ' ' || *c == '\t'))
			c++;
		if (c >= le || *c != ':')
			return EBADMSG;
		const char *ve = le > c && le[-1] == '\r' ? le - 1 : le;
		struct slice r = sl(lws_skip(c + 1, ve), ve);
		return sip_via_parse(&r, top) ? EBADMSG : 0;
	}
	return ENOENT;
}

int sip_hdr_iter_via(struct sip_hdr_iter *it, struct sip_via *via)
{
	/* The top Via was parsed with the message: hand it out again rather than parse it twice
	 * (validation and forwarding walk every Via of every message). */
	if (it && via && it->hdr && it->msg->has_via && it->rest.p == it->hdr->value.p &&
	    it->rest.len == it->hdr->value.len && it->hdr == sip_msg_hdr(it->msg, SIP_HDR_VIA)) {
		*via = it->msg->via;
		it->rest = it->msg->via_rest;
		return 0;
	}
	ITER_BODY(sip_via_parse(&it->rest, via));
}

int sip_hdr_iter_contact(struct sip_hdr_iter *it, struct sip_contact *c)
{
	ITER_BODY(sip_contact_parse(&it->rest, c));
}

int sip_hdr_iter_nameaddr(struct sip_hdr_iter *it, struct sip_nameaddr *na)
{
	ITER_BODY(sip_nameaddr_parse(&it->rest, na, true));
}

int sip_hdr_iter_token(struct sip_hdr_iter *it, struct slice *token)
{
	ITER_BODY(sip_token_list_next(&it->rest, token));
}

bool sip_msg_has_option(const struct sip_msg *m, enum sip_hdr_id id, const char *tag)
{
	struct sip_hdr_iter it;
	struct slice t;
	if (!tag)
		return false;
	sip_hdr_iter_init(&it, m, id);
	while (sip_hdr_iter_token(&it, &t) == 0) {
		if (slice_eq_cstr_ci(t, tag))
			return true;
	}
	return false;
}
