/* A small, bounded JSON writer and reader for the management API and sipsctl.
 *
 * Writer: appends to a growable buffer that never exceeds its maximum; commas and nesting are
 * tracked for the caller, strings are escaped (RFC 8259 7: quote, backslash, control
 * characters; bytes >= 0x80 are passed through when they form valid UTF-8 and replaced by
 * U+FFFD otherwise, so peer-supplied certificate text can't break the document). The first
 * failure (overflow, nesting too deep, key/value out of order) sticks: json_w_error() tells,
 * and the partial text must not be sent.
 *
 * Reader: parses a whole document into a tree (bounded depth and size); numbers as double. */
#ifndef SIPSD_MGMT_JSON_H
#define SIPSD_MGMT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 32

struct json_w {
	char *buf;
	size_t len, cap, max;
	unsigned depth;
	bool first[JSON_MAX_DEPTH + 1]; /* nothing written yet at this level */
	bool is_obj[JSON_MAX_DEPTH + 1];
	bool want_value;               /* a key was written, its value comes next */
	int err;                        /* 0, ENOMEM, ENOSPC (max reached), EINVAL (misuse) */
};

/* max: largest document in bytes. */
void json_w_init(struct json_w *w, size_t max);
void json_w_reset(struct json_w *w);
void json_w_free(struct json_w *w);
int json_w_error(const struct json_w *w);
/* NUL-terminated text (valid while w lives), or NULL after an error. */
const char *json_w_text(const struct json_w *w, size_t *len);

void json_obj_begin(struct json_w *w);
void json_obj_end(struct json_w *w);
void json_arr_begin(struct json_w *w);
void json_arr_end(struct json_w *w);
void json_key(struct json_w *w, const char *key);
void json_str(struct json_w *w, const char *s); /* NULL writes null */
void json_strn(struct json_w *w, const char *s, size_t n);
void json_int(struct json_w *w, int64_t v);
void json_uint(struct json_w *w, uint64_t v);
void json_double(struct json_w *w, double v);
void json_bool(struct json_w *w, bool v);
void json_null(struct json_w *w);
/* A value that is already valid JSON (e.g. a fragment built by another writer). */
void json_raw(struct json_w *w, const char *text, size_t n);

/* key + value shorthands */
void json_kv_str(struct json_w *w, const char *key, const char *s);
void json_kv_int(struct json_w *w, const char *key, int64_t v);
void json_kv_uint(struct json_w *w, const char *key, uint64_t v);
void json_kv_bool(struct json_w *w, const char *key, bool v);

/* ---- reader ---- */
enum json_type { JSON_NULL, JSON_BOOL, JSON_NUM, JSON_STR, JSON_ARR, JSON_OBJ };

struct json_val {
	enum json_type type;
	bool b;
	double num;
	char *str;             /* JSON_STR: decoded, NUL-terminated (may contain no NUL) */
	size_t n;              /* JSON_ARR / JSON_OBJ: number of children */
	struct json_val *kids; /* children */
	char **keys;           /* JSON_OBJ: key of each child */
};

/* Parse text[len] (max depth JSON_MAX_DEPTH). 0 and *vp (free with json_free), EBADMSG with
 * *erroff the byte offset of the problem, ENOMEM. */
int json_parse(const char *text, size_t len, struct json_val **vp, size_t *erroff);
void json_free(struct json_val *v);
/* Member of an object by key, NULL when absent or v is not an object. */
const struct json_val *json_get(const struct json_val *v, const char *key);
/* String member, or dflt. */
const char *json_get_str(const struct json_val *v, const char *key, const char *dflt);
double json_get_num(const struct json_val *v, const char *key, double dflt);
bool json_get_bool(const struct json_val *v, const char *key, bool dflt);

#endif
