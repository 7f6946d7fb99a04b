/* Character classes for src/sdp/lex.h, one table lookup per byte. The table is written out by
 * the preprocessor from the grammar's ranges below, so the ranges are the only thing to read. */
#include "sdp/lex.h"

/* RFC 8866 9: token-char = %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E */
#define IS_TOKEN(c)                                                                                     \
	((c) == 0x21 || ((c) >= 0x23 && (c) <= 0x27) || (c) == 0x2a || (c) == 0x2b || (c) == 0x2d ||   \
	 (c) == 0x2e || ((c) >= 0x30 && (c) <= 0x39) || ((c) >= 0x41 && (c) <= 0x5a) ||                \
	 ((c) >= 0x5e && (c) <= 0x7e))
#define IS_ALNUM(c) (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || ((c) >= '0' && (c) <= '9'))
/* RFC 4648 4 base64 alphabet */
#define IS_B64(c) (IS_ALNUM(c) || (c) == '+' || (c) == '/')
/* RFC 4568 9.1: srtp-crypto-suite = 1*(ALPHA / DIGIT / "_") */
#define IS_SUITE(c) (IS_ALNUM(c) || (c) == '_')

#define CLASS(c) ((IS_TOKEN(c) ? LEX_TOKEN : 0) | (IS_B64(c) ? LEX_B64 : 0) | (IS_SUITE(c) ? LEX_SUITE : 0))
#define ROW4(c) CLASS(c), CLASS((c) + 1), CLASS((c) + 2), CLASS((c) + 3)
#define ROW16(c) ROW4(c), ROW4((c) + 4), ROW4((c) + 8), ROW4((c) + 12)
#define ROW64(c) ROW16(c), ROW16((c) + 16), ROW16((c) + 32), ROW16((c) + 48)

const uint8_t lex_class[256] = { ROW64(0x00), ROW64(0x40), ROW64(0x80), ROW64(0xc0) };
