/* Integer mixing for table indexes and tags: uniqueness and spread, not secrecy. */
#ifndef SIPSD_BASE_HASH_H
#define SIPSD_BASE_HASH_H

#include <stdint.h>

/* splitmix64's finalizer: every input bit reaches every output bit, so ids that differ only in
 * a few middle bits (connection ids step by a generation) still spread over all slots. */
static inline uint64_t hash_mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif
