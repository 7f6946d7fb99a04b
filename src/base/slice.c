#include "base/slice.h"

#include <string.h>
#include <strings.h>

struct slice slice_from_cstr(const char *s)
{
	return (struct slice){ s, s ? strlen(s) : 0 };
}

bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

bool slice_eq_ci(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || strncasecmp(a.p, b.p, a.len) == 0);
}

bool slice_eq_cstr(struct slice a, const char *s)
{
	return slice_eq(a, slice_from_cstr(s));
}

bool slice_eq_cstr_ci(struct slice a, const char *s)
{
	return slice_eq_ci(a, slice_from_cstr(s));
}

struct slice slice_trim(struct slice s)
{
	while (s.len && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

bool slice_to_u64(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	if (s.len == 0)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned d = (unsigned char)s.p[i] - '0';
		if (d > 9)
			return false;
		if (v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

size_t slice_copy(struct slice s, char *dst, size_t dstsz)
{
	if (dstsz == 0)
		return 0;
	size_t n = s.len < dstsz - 1 ? s.len : dstsz - 1;
	if (n)
		memcpy(dst, s.p, n);
	dst[n] = '\0';
	return n;
}

bool slice_next_field(struct slice *rest, struct slice *field)
{
	size_t i = 0;
	while (i < rest->len && (rest->p[i] == ' ' || rest->p[i] == '\t'))
		i++;
	size_t start = i;
	while (i < rest->len && rest->p[i] != ' ' && rest->p[i] != '\t')
		i++;
	if (i == start)
		return false;
	*field = (struct slice){ rest->p + start, i - start };
	rest->p += i;
	rest->len -= i;
	return true;
}

uint64_t slice_hash(struct slice s, uint64_t h, bool fold_case)
{
	const uint64_t k = 0x9E3779B97F4A7C15ull, fold = fold_case ? 0x2020202020202020ull : 0;
	h = (h ^ s.len) * k;
	size_t i = 0;
	for (; i + 8 <= s.len; i += 8) {
		uint64_t w;
		memcpy(&w, s.p + i, 8);
		h = (h ^ (w | fold)) * k;
		h ^= h >> 29;
	}
	uint64_t w = 0;
	for (size_t b = 0; i < s.len; i++, b++)
		w |= (uint64_t)((unsigned char)s.p[i] | (unsigned char)fold) << (8 * b);
	h = (h ^ w) * k;
	return h ^ (h >> 29);
}
