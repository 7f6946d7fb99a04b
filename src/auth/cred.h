/* Authorization / Proxy-Authorization credentials (RFC 3261 20.7, 20.28, 25.1; RFC 7616 3.4;
 * RFC 8760). Strict: every error has its own reason so the registrar can answer
 * "400 <reason>" and the operator can see what a device got wrong.
 *
 * Values are copied, unescaped (quoted-pair), into bounded buffers in the struct, so the struct
 * does not depend on the message buffer and can be copied. Quoting is accepted either way for
 * every parameter (RFC 7616 says which must be quoted, but deployed phones quote qop and
 * algorithm, and interoperability costs nothing here); the value grammar is enforced after.
 * Unknown parameters are ignored (RFC 7616 3.4) but still lexed and counted. Line folds are
 * accepted between parameters but refused inside a quoted value (what would the UA have
 * hashed?), as are NUL and other controls anywhere. */
#ifndef SIPSD_AUTH_CRED_H
#define SIPSD_AUTH_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include "auth/digest.h"
#include "base/slice.h"

#define AUTH_USERNAME_MAX 256
#define AUTH_REALM_MAX 256
#define AUTH_NONCE_MAX 256
#define AUTH_URI_MAX 2048
#define AUTH_CNONCE_MAX 256
#define AUTH_OPAQUE_MAX 256
#define AUTH_PARAMS_MAX 32 /* auth-params in one header, unknown ones included */

enum auth_qop { AUTH_QOP_NONE = 0, AUTH_QOP_AUTH, AUTH_QOP_AUTH_INT };

enum auth_err {
	AUTH_ERR_NONE = 0,
	AUTH_ERR_SCHEME,          /* not Digest */
	AUTH_ERR_SYNTAX,          /* malformed auth-param list */
	AUTH_ERR_UNTERMINATED,    /* quoted-string without its closing quote */
	AUTH_ERR_BAD_CHAR,        /* control character (CR, LF, NUL...) in a value */
	AUTH_ERR_DUPLICATE,       /* a parameter twice, or username and username* */
	AUTH_ERR_TOO_LONG,        /* a value over its bound */
	AUTH_ERR_TOO_MANY,        /* more than AUTH_PARAMS_MAX parameters */
	AUTH_ERR_MISSING_USERNAME,
	AUTH_ERR_MISSING_REALM,
	AUTH_ERR_MISSING_NONCE,
	AUTH_ERR_MISSING_URI,
	AUTH_ERR_MISSING_RESPONSE,
	AUTH_ERR_MISSING_CNONCE,  /* qop given without cnonce */
	AUTH_ERR_MISSING_NC,      /* qop given without nc */
	AUTH_ERR_QOP_PARAMS,      /* cnonce or nc without qop (RFC 2617 3.2.2) */
	AUTH_ERR_SESS_NO_QOP,     /* -sess algorithm needs cnonce, hence qop */
	AUTH_ERR_BAD_NC,          /* not 8 hex digits, or zero */
	AUTH_ERR_BAD_QOP,
	AUTH_ERR_BAD_ALGORITHM,
	AUTH_ERR_BAD_RESPONSE,    /* not hex of the algorithm's length */
	AUTH_ERR_BAD_USERHASH,    /* not true/false */
	AUTH_ERR_BAD_USERNAME_EXT,/* username* not a UTF-8 RFC 8187 ext-value */
	AUTH_ERR__COUNT
};

/* Reason phrase for a 400 ("missing nonce", "bad nc", "duplicate parameter"...). */
const char *auth_err_reason(enum auth_err e);

struct auth_cred {
	char username[AUTH_USERNAME_MAX + 1]; /* decoded from username* when that was used */
	char realm[AUTH_REALM_MAX + 1];
	char nonce[AUTH_NONCE_MAX + 1];
	char uri[AUTH_URI_MAX + 1];
	char response[AUTH_HEX_MAX];          /* lowercased */
	char cnonce[AUTH_CNONCE_MAX + 1];
	char opaque[AUTH_OPAQUE_MAX + 1];
	char nc_str[9];                       /* as sent; part of the hashed input */
	char qop_str[9];                      /* as sent ("auth" / "auth-int", any case) */
	uint32_t nc;
	enum auth_qop qop;
	enum auth_alg alg;                    /* MD5 when absent (RFC 2617 3.2.1) */
	bool sess;
	bool has_algorithm;
	bool has_opaque;
	bool userhash;                        /* username is H(user:realm) (RFC 7616 3.4.4) */
};

/* Parses a credentials header value ("Digest username=..., ..."). 0 and *c filled, or EBADMSG
 * with *why set (c then holds garbage), EINVAL on NULL arguments. Never logs values. */
int auth_cred_parse(struct slice value, struct auth_cred *c, enum auth_err *why);

#endif
