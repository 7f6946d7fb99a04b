/* Bounded JSON writer and a small tree reader (see json.h). */
#include "mgmt/json.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void json_w_init(struct json_w *w, size_t max)
{
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->first[0] = true;
}

void json_w_reset(struct json_w *w)
{
	size_t max = w->max;
	char *buf = w->buf;
	size_t cap = w->cap;
	memset(w, 0, sizeof(*w));
	w->max = max;
	w->buf = buf;
	w->cap = cap;
	w->first[0] = true;
	if (buf)
		buf[0] = '\0';
}

void json_w_free(struct json_w *w)
{
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
}

int json_w_error(const struct json_w *w)
{
	return w->err;
}

const char *json_w_text(const struct json_w *w, size_t *len)
{
	if (w->err)
		return NULL;
	if (len)
		*len = w->len;
	return w->buf ? w->buf : "";
}

static void put(struct json_w *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (w->len + n + 1 > w->max) {
		w->err = ENOSPC;
		return;
	}
	if (w->len + n + 1 > w->cap) {
		size_t ncap = w->cap ? w->cap : 256;
		while (ncap < w->len + n + 1)
			ncap *= 2;
		if (ncap > w->max)
			ncap = w->max;
		char *nb = realloc(w->buf, ncap);
		if (!nb) {
			w->err = ENOMEM;
			return;
		}
		w->buf = nb;
		w->cap = ncap;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

/* Before any value: a comma when needed; inside an object a key must have come first. */
static void pre_value(struct json_w *w)
{
	if (w->err)
		return;
	if (w->is_obj[w->depth]) {
		if (!w->want_value) {
			w->err = EINVAL;
			return;
		}
		w->want_value = false;
		return;
	}
	if (w->depth == 0 && !w->first[0]) {
		w->err = EINVAL; /* one top-level value only */
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
}

static void open_(struct json_w *w, bool obj)
{
	pre_value(w);
	if (w->err)
		return;
	if (w->depth >= JSON_MAX_DEPTH) {
		w->err = EINVAL;
		return;
	}
	put(w, obj ? "{" : "[", 1);
	w->depth++;
	w->first[w->depth] = true;
	w->is_obj[w->depth] = obj;
	w->want_value = false;
}

static void close_(struct json_w *w, bool obj)
{
	if (w->err)
		return;
	if (w->depth == 0 || w->is_obj[w->depth] != obj || w->want_value) {
		w->err = EINVAL;
		return;
	}
	w->depth--;
	put(w, obj ? "}" : "]", 1);
}

void json_obj_begin(struct json_w *w)
{
	open_(w, true);
}

void json_obj_end(struct json_w *w)
{
	close_(w, true);
}

void json_arr_begin(struct json_w *w)
{
	open_(w, false);
}

void json_arr_end(struct json_w *w)
{
	close_(w, false);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	unsigned cp = c & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static void put_escaped(struct json_w *w, const char *s, size_t n)
{
	put(w, "\"", 1);
	size_t run = 0; /* start of bytes copied as they are */
	for (size_t i = 0; i < n && !w->err;) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char u[8];
		size_t skip = 1;
		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", c);
			esc = u;
		} else if (c >= 0x80) {
			size_t l = utf8_len((const unsigned char *)s + i, n - i);
			if (l == 0)
				esc = "\\ufffd";
			else
				skip = l;
		}
		if (esc) {
			put(w, s + run, i - run);
			put(w, esc, strlen(esc));
			i += skip;
			run = i;
		} else {
			i += skip;
		}
	}
	put(w, s + run, n - run);
	put(w, "\"", 1);
}

void json_key(struct json_w *w, const char *key)
{
	if (w->err)
		return;
	if (!w->is_obj[w->depth] || w->want_value || !key) {
		w->err = EINVAL;
		return;
	}
	if (!w->first[w->depth])
		put(w, ",", 1);
	w->first[w->depth] = false;
	put_escaped(w, key, strlen(key));
	put(w, ":", 1);
	w->want_value = true;
}

void json_strn(struct json_w *w, const char *s, size_t n)
{
	pre_value(w);
	if (!s)
		put(w, "null", 4);
	else
		put_escaped(w, s, n);
}

void json_str(struct json_w *w, const char *s)
{
	json_strn(w, s, s ? strlen(s) : 0);
}

void json_int(struct json_w *w, int64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%lld", (long long)v);
	pre_value(w);
	put(w, b, (size_t)n);
}

void json_uint(struct json_w *w, uint64_t v)
{
	char b[32];
	int n = snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	pre_value(w);
	put(w, b, (size_t)n);
}

void json_double(struct json_w *w, double v)
{
	pre_value(w);
	if (!isfinite(v)) {
		put(w, "null", 4); /* JSON has no NaN/Inf */
		return;
	}
	char b[48];
	int n = snprintf(b, sizeof(b), "%.17g", v);
	put(w, b, (size_t)n);
}

void json_bool(struct json_w *w, bool v)
{
	pre_value(w);
	put(w, v ? "true" : "false", v ? 4 : 5);
}

void json_null(struct json_w *w)
{
	pre_value(w);
	put(w, "null", 4);
}

void json_raw(struct json_w *w, const char *text, size_t n)
{
	pre_value(w);
	put(w, text, n);
}

void json_kv_str(struct json_w *w, const char *key, const char *s)
{
	json_key(w, key);
	json_str(w, s);
}

void json_kv_int(struct json_w *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_kv_uint(struct json_w *w, const char *key, uint64_t v)
{
	json_key(w, key);
	json_uint(w, v);
}

void json_kv_bool(struct json_w *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

/* ---------------- reader ---------------- */

struct rd {
	const char *p, *end, *start;
	int err;
	unsigned depth;
};

static void val_clear(struct json_val *v)
{
	free(v->str);
	for (size_t i = 0; i < v->n; i++) {
		val_clear(&v->kids[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->kids);
	free(v->keys);
	memset(v, 0, sizeof(*v));
}

void json_free(struct json_val *v)
{
	if (!v)
		return;
	val_clear(v);
	free(v);
}

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool hex4(struct rd *r, unsigned *out)
{
	if (r->end - r->p < 4)
		return false;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(r->p[i]);
		if (h < 0)
			return false;
		v = v << 4 | (unsigned)h;
	}
	r->p += 4;
	*out = v;
	return true;
}

static size_t utf8_put(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote. Decoded output is never longer than the input. */
static char *rd_string(struct rd *r)
{
	r->p++;
	const char *s = r->p;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\')
			r->p++;
		r->p++;
	}
	if (r->p >= r->end) {
		r->err = EBADMSG;
		return NULL;
	}
	size_t rawlen = (size_t)(r->p - s);
	char *out = malloc(rawlen + 1);
	if (!out) {
		r->err = ENOMEM;
		return NULL;
	}
	const char *endq = r->p;
	r->p = s;
	size_t o = 0;
	while (r->p < endq) {
		unsigned char c = (unsigned char)*r->p;
		if (c < 0x20)
			goto bad;
		if (c != '\\') {
			out[o++] = (char)c;
			r->p++;
			continue;
		}
		r->p++;
		char e = *r->p++;
		switch (e) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u': {
			unsigned cp;
			if (!hex4(r, &cp))
				goto bad;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo;
				if (endq - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
					goto bad;
				r->p += 2;
				if (!hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				goto bad;
			}
			if (cp == 0)
				goto bad; /* no NUL inside C strings */
			o += utf8_put(out + o, cp);
			break;
		}
		default:
			goto bad;
		}
	}
	out[o] = '\0';
	r->p = endq + 1;
	return out;
bad:
	free(out);
	r->err = EBADMSG;
	return NULL;
}

static bool lit(struct rd *r, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
		return false;
	r->p += n;
	return true;
}

static void rd_value(struct rd *r, struct json_val *v);

static bool grow(struct rd *r, struct json_val *v, size_t *cap, bool keys)
{
	if (v->n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 4;
	struct json_val *nk = realloc(v->kids, nc * sizeof(*nk));
	if (!nk) {
		r->err = ENOMEM;
		return false;
	}
	v->kids = nk;
	if (keys) {
		char **kk = realloc(v->keys, nc * sizeof(*kk));
		if (!kk) {
			r->err = ENOMEM;
			return false;
		}
		v->keys = kk;
	}
	*cap = nc;
	return true;
}

static void rd_container(struct rd *r, struct json_val *v, bool obj)
{
	if (++r->depth > JSON_MAX_DEPTH) {
		r->err = EBADMSG;
		return;
	}
	v->type = obj ? JSON_OBJ : JSON_ARR;
	r->p++;
	ws(r);
	size_t cap = 0;
	if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
		r->p++;
		r->depth--;
		return;
	}
	for (;;) {
		if (!grow(r, v, &cap, obj))
			return;
		char *key = NULL;
		if (obj) {
			ws(r);
			if (r->p >= r->end || *r->p != '"') {
				r->err = EBADMSG;
				return;
			}
			key = rd_string(r);
			if (!key)
				return;
			ws(r);
			if (r->p >= r->end || *r->p != ':') {
				free(key);
				r->err = EBADMSG;
				return;
			}
			r->p++;
			v->keys[v->n] = key;
		}
		memset(&v->kids[v->n], 0, sizeof(v->kids[0]));
		v->n++;
		rd_value(r, &v->kids[v->n - 1]);
		if (r->err)
			return;
		ws(r);
		if (r->p < r->end && *r->p == ',') {
			r->p++;
			continue;
		}
		if (r->p < r->end && *r->p == (obj ? '}' : ']')) {
			r->p++;
			r->depth--;
			return;
		}
		r->err = EBADMSG;
		return;
	}
}

static void rd_number(struct rd *r, struct json_val *v)
{
	const char *s = r->p;
	if (r->p < r->end && *r->p == '-')
		r->p++;
	if (r->p >= r->end || *r->p < '0' || *r->p > '9') {
		r->err = EBADMSG;
		return;
	}
	if (*r->p == '0')
		r->p++;
	else
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9') {
			r->err = EBADMSG;
			return;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (r->p >= r->end || *r->p < '0' || *r->p > '9') {
			r->err = EBADMSG;
			return;
		}
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
	}
	char buf[64];
	size_t n = (size_t)(r->p - s);
	if (n >= sizeof(buf)) {
		r->err = EBADMSG;
		return;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	v->type = JSON_NUM;
	v->num = strtod(buf, NULL);
}

static void rd_value(struct rd *r, struct json_val *v)
{
	ws(r);
	if (r->p >= r->end) {
		r->err = EBADMSG;
		return;
	}
	switch (*r->p) {
	case '{':
		rd_container(r, v, true);
		return;
	case '[':
		rd_container(r, v, false);
		return;
	case '"':
		v->type = JSON_STR;
		v->str = rd_string(r);
		return;
	case 't':
		if (lit(r, "true")) {
			v->type = JSON_BOOL;
			v->b = true;
			return;
		}
		break;
	case 'f':
		if (lit(r, "false")) {
			v->type = JSON_BOOL;
			return;
		}
		break;
	case 'n':
		if (lit(r, "null")) {
			v->type = JSON_NULL;
			return;
		}
		break;
	default:
		rd_number(r, v);
		return;
	}
	r->err = EBADMSG;
}

int json_parse(const char *text, size_t len, struct json_val **vp, size_t *erroff)
{
	struct json_val *v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	struct rd r = { .p = text, .end = text + len, .start = text };
	rd_value(&r, v);
	if (!r.err) {
		ws(&r);
		if (r.p != r.end)
			r.err = EBADMSG;
	}
	if (r.err) {
		if (erroff)
			*erroff = (size_t)(r.p - text);
		json_free(v);
		return r.err;
	}
	*vp = v;
	return 0;
}

const struct json_val *json_get(const struct json_val *v, const char *key)
{
	if (!v || v->type != JSON_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->keys[i], key) == 0)
			return &v->kids[i];
	return NULL;
}

const char *json_get_str(const struct json_val *v, const char *key, const char *dflt)
{
	const struct json_val *m = json_get(v, key);
	return m && m->type == JSON_STR ? m->str : dflt;
}

double json_get_num(const struct json_val *v, const char *key, double dflt)
{
	const struct json_val *m = json_get(v, key);
	return m && m->type == JSON_NUM ? m->num : dflt;
}

bool json_get_bool(const struct json_val *v, const char *key, bool dflt)
{
	const struct json_val *m = json_get(v, key);
	return m && m->type == JSON_BOOL ? m->b : dflt;
}
