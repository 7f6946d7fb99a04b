/* Zero-copy (pointer, length) views into a buffer someone else holds. */
#ifndef SIPSD_BASE_SLICE_H
#define SIPSD_BASE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct slice {
	const char *p;
	size_t len;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })

struct slice slice_from_cstr(const char *s);
bool slice_eq(struct slice a, struct slice b);
bool slice_eq_ci(struct slice a, struct slice b);
bool slice_eq_cstr(struct slice a, const char *s);
bool slice_eq_cstr_ci(struct slice a, const char *s);
/* Strip leading/trailing SP and HTAB. */
struct slice slice_trim(struct slice s);
/* Decimal digits only, no sign, no overflow past max; false otherwise. */
bool slice_to_u64(struct slice s, uint64_t max, uint64_t *out);
/* Next field of a SP/HTAB-separated list (runs of blanks tolerated: SDP asks for one SP,
 * RFC 8866 5, but senders use more): skips leading blanks,
 * sets *field and advances *rest past it; false when nothing is left. */
bool slice_next_field(struct slice *rest, struct slice *field);
/* Mixes s (and its length) into h, eight bytes per multiply, for hash tables and fingerprints
 * on hot paths (a byte-at-a-time FNV chain costs one dependent multiply per byte). With
 * fold_case, bit 5 of every byte is set first: letters compare as lower case, and the few other
 * bytes it merges ('@' with '`') only share a bucket. */
uint64_t slice_hash(struct slice s, uint64_t h, bool fold_case);
/* Copy into dst (NUL-terminated, truncated to dstsz-1); returns bytes copied. */
size_t slice_copy(struct slice s, char *dst, size_t dstsz);

#endif
