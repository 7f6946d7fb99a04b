/* INI file -> struct conf, driven by one directive table (nginx habit).
 *
 * libinih does the key/value splitting; we feed it lines through our own ini_reader because
 * Debian's libinih is built without INI_HANDLER_LINENO, so the handler never learns the line
 * number. The reader counts lines (the handler runs for the line the reader returned last),
 * sees section headers first (so an empty [interface:x] still exists and header errors get
 * their own line), and hands inih lines without leading blanks, which switches off inih's
 * configparser-style continuation lines without touching its Debian-only global knobs. */
#include "conf/conf.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/slice.h"
#include "conf/conf_value.h"

/* A config file larger than this is surely not one. */
#define CONF_MAX_FILE (1024 * 1024)

enum sec { SEC_GLOBAL, SEC_LOG, SEC_STORE, SEC_MGMT, SEC_REGISTRAR, SEC_TLS, SEC_IFACE, SEC_PEER, SEC_COUNT };

static const struct {
	const char *name;
	bool named;
} sec_types[SEC_COUNT] = {
	[SEC_GLOBAL] = { "global", false }, [SEC_LOG] = { "log", false },
	[SEC_STORE] = { "store", false },   [SEC_MGMT] = { "mgmt", false },
	[SEC_REGISTRAR] = { "registrar", false },
	[SEC_TLS] = { "tls", true },        [SEC_IFACE] = { "interface", true },
	[SEC_PEER] = { "peer", true },
};

enum vtype {
	VT_BOOL,
	VT_UINT,     /* unsigned integer field of any width, bounds min..max */
	VT_SECONDS,  /* like VT_UINT, with an optional s/m/h/d unit */
	VT_STRING,
	VT_NAME,     /* reference to a [tls:NAME] */
	VT_DOMAIN,   /* host name */
	VT_PATH,
	VT_STRLIST,  /* comma separated; the key may repeat, each line appends */
	VT_PATHLIST,
	VT_URILIST,
	VT_ENUM,
	VT_LISTEN,   /* [interface] listen list */
	VT_HOSTPORT, /* [mgmt] listen */
	VT_KEYMGMT,  /* media key_management: comma list -> CONF_KM_* mask */
};

/* What a path must be on disk when the config is loaded. */
enum pcheck { PC_NONE, PC_FILE, PC_DIR, PC_PARENT };

struct enum_val {
	const char *name;
	int value;
};

struct directive {
	struct conf_directive_info info;
	enum sec sec;
	enum vtype type;
	size_t off, size; /* field in the section struct */
	size_t line_off;  /* offset + 1 of an `unsigned` line field; 0 = none */
	uint64_t min, max;
	enum pcheck pcheck;
	const struct enum_val *enums;
};

static const struct enum_val ev_level[] = {
	{ "error", LOG_LVL_ERR },   { "warning", LOG_LVL_WARN }, { "notice", LOG_LVL_NOTICE },
	{ "info", LOG_LVL_INFO },   { "debug", LOG_LVL_DEBUG },  { NULL, 0 },
};
static const struct enum_val ev_target[] = {
	{ "stderr", LOG_TO_STDERR }, { "syslog", LOG_TO_SYSLOG }, { NULL, 0 },
};
static const struct enum_val ev_tlsver[] = {
	{ "tls1.0", CONF_TLS1_0 }, { "tls1.1", CONF_TLS1_1 }, { "tls1.2", CONF_TLS1_2 },
	{ "tls1.3", CONF_TLS1_3 }, { NULL, 0 },
};
static const struct enum_val ev_auth[] = {
	{ "digest", CONF_AUTH_DIGEST }, { "certificate", CONF_AUTH_CERTIFICATE },
	{ "digest+certificate", CONF_AUTH_DIGEST_CERTIFICATE }, { NULL, 0 },
};
static const struct enum_val ev_overflow[] = {
	{ "replace", CONF_OVERFLOW_REPLACE }, { "reject", CONF_OVERFLOW_REJECT }, { NULL, 0 },
};
static const struct enum_val ev_sync[] = { { "full", 1 }, { "normal", 0 }, { NULL, 0 } };
static const struct enum_val ev_media[] = {
	{ "secure-required", CONF_MEDIA_SECURE_REQUIRED }, { "secure-preferred", CONF_MEDIA_SECURE_PREFERRED },
	{ "any", CONF_MEDIA_ANY }, { NULL, 0 },
};
static const struct enum_val ev_mismatch[] = { { "415", 415 }, { "488", 488 }, { NULL, 0 } };
static const struct enum_val ev_sdes_hop[] = {
	{ "refuse", CONF_SDES_HOP_REFUSE }, { "strip", CONF_SDES_HOP_STRIP }, { NULL, 0 },
};
static const struct enum_val ev_mutual[] = {
	{ "off", CONF_MA_OFF }, { "optional", CONF_MA_OPTIONAL }, { "required", CONF_MA_REQUIRED },
	{ NULL, 0 },
};

#define FLD(st, m) .off = offsetof(struct st, m), .size = sizeof(((struct st *)0)->m)
#define LINE(st, m) .line_off = offsetof(struct st, m) + 1
#define DIR(s, secname, k, def, tt) .info = { secname, k, def, tt }, .sec = s
/* Bounds are stringified into the documented type so the two cannot drift apart. */
#define UINT(lo, hi) .type = VT_UINT, .min = lo, .max = hi
#define SECS(lo, hi) .type = VT_SECONDS, .min = lo, .max = hi
#define TT_UINT(lo, hi) "integer " #lo ".." #hi
#define TT_SECS(lo, hi) "seconds " #lo ".." #hi

static const struct directive directives[] = {
	/* [global] */
	{ DIR(SEC_GLOBAL, "global", "workers", "0", TT_UINT(0, 1024)), UINT(0, 1024),
	  FLD(conf_global, workers) },
	{ DIR(SEC_GLOBAL, "global", "domains", "", "list of strings"), .type = VT_STRLIST,
	  FLD(conf_global, domains) },
	{ DIR(SEC_GLOBAL, "global", "require_client_certificate", "no", "bool"), .type = VT_BOOL,
	  FLD(conf_global, require_client_certificate) },
	{ DIR(SEC_GLOBAL, "global", "shutdown_timeout", "5", TT_SECS(0, 600)), SECS(0, 600),
	  FLD(conf_global, shutdown_timeout) },
	{ DIR(SEC_GLOBAL, "global", "max_message_size", "65536", TT_UINT(1500, 16777216)),
	  UINT(1500, 16777216), FLD(conf_global, limits.max_message_size) },
	{ DIR(SEC_GLOBAL, "global", "max_headers", "256", TT_UINT(16, 4096)), UINT(16, 4096),
	  FLD(conf_global, limits.max_headers) },
	{ DIR(SEC_GLOBAL, "global", "max_line_length", "8192", TT_UINT(256, 65536)), UINT(256, 65536),
	  FLD(conf_global, limits.max_line_length) },
	{ DIR(SEC_GLOBAL, "global", "max_uri_length", "4096", TT_UINT(256, 65536)), UINT(256, 65536),
	  FLD(conf_global, limits.max_uri_length) },
	{ DIR(SEC_GLOBAL, "global", "max_via", "32", TT_UINT(1, 256)), UINT(1, 256),
	  FLD(conf_global, limits.max_via) },
	{ DIR(SEC_GLOBAL, "global", "timer_t1", "500", TT_UINT(50, 10000)), UINT(50, 10000),
	  FLD(conf_global, timers.t1) },
	{ DIR(SEC_GLOBAL, "global", "timer_t2", "4000", TT_UINT(100, 60000)), UINT(100, 60000),
	  FLD(conf_global, timers.t2) },
	{ DIR(SEC_GLOBAL, "global", "timer_t4", "5000", TT_UINT(100, 60000)), UINT(100, 60000),
	  FLD(conf_global, timers.t4) },
	{ DIR(SEC_GLOBAL, "global", "default_peer", "", "peer name"), .type = VT_STRING,
	  FLD(conf_global, default_peer) },

	/* [registrar] */
	{ DIR(SEC_REGISTRAR, "registrar", "realm", "", "string"), .type = VT_STRING,
	  FLD(conf_registrar, realm) },
	{ DIR(SEC_REGISTRAR, "registrar", "min_expires", "60", TT_SECS(1, 86400)), SECS(1, 86400),
	  FLD(conf_registrar, min_expires) },
	{ DIR(SEC_REGISTRAR, "registrar", "max_expires", "3600", TT_SECS(1, 604800)), SECS(1, 604800),
	  FLD(conf_registrar, max_expires) },
	{ DIR(SEC_REGISTRAR, "registrar", "default_expires", "3600", TT_SECS(1, 604800)), SECS(1, 604800),
	  FLD(conf_registrar, default_expires) },
	{ DIR(SEC_REGISTRAR, "registrar", "max_contacts", "10", TT_UINT(1, 64)), UINT(1, 64),
	  FLD(conf_registrar, max_contacts) },
	{ DIR(SEC_REGISTRAR, "registrar", "contacts_overflow", "replace", "enum"), .type = VT_ENUM,
	  .enums = ev_overflow, FLD(conf_registrar, contacts_overflow) },
	{ DIR(SEC_REGISTRAR, "registrar", "md5", "yes", "bool"), .type = VT_BOOL, FLD(conf_registrar, md5) },
	{ DIR(SEC_REGISTRAR, "registrar", "nonce_lifetime", "300", TT_SECS(10, 86400)), SECS(10, 86400),
	  FLD(conf_registrar, nonce_lifetime) },
	{ DIR(SEC_REGISTRAR, "registrar", "purge_interval", "30", TT_SECS(1, 3600)), SECS(1, 3600),
	  FLD(conf_registrar, purge_interval) },
	{ DIR(SEC_REGISTRAR, "registrar", "durable", "yes", "bool"), .type = VT_BOOL,
	  FLD(conf_registrar, durable) },

	/* [log] */
	{ DIR(SEC_LOG, "log", "level", "info", "enum"), .type = VT_ENUM, .enums = ev_level,
	  FLD(conf_log, level) },
	{ DIR(SEC_LOG, "log", "target", "stderr", "enum"), .type = VT_ENUM, .enums = ev_target,
	  FLD(conf_log, target) },

	/* [store] */
	{ DIR(SEC_STORE, "store", "path", "sipsd.db", "path (its directory must exist)"),
	  .type = VT_PATH, .pcheck = PC_PARENT, FLD(conf_store, path) },
	{ DIR(SEC_STORE, "store", "synchronous", "full", "enum"), .type = VT_ENUM, .enums = ev_sync,
	  FLD(conf_store, sync_full) },
	{ DIR(SEC_STORE, "store", "commit_window_us", "1000", TT_UINT(0, 100000)), UINT(0, 100000),
	  FLD(conf_store, commit_window_us) },

	/* [mgmt] */
	{ DIR(SEC_MGMT, "mgmt", "socket", "/run/sipsd/sipsd.sock", "path (not checked)"),
	  .type = VT_PATH, .pcheck = PC_NONE, FLD(conf_mgmt, socket) },
	{ DIR(SEC_MGMT, "mgmt", "listen", "", "ADDR:PORT"), .type = VT_HOSTPORT,
	  FLD(conf_mgmt, listen), LINE(conf_mgmt, listen_line) },
	{ DIR(SEC_MGMT, "mgmt", "tls", "", "TLS context name"), .type = VT_NAME, FLD(conf_mgmt, tls),
	  LINE(conf_mgmt, tls_line) },
	{ DIR(SEC_MGMT, "mgmt", "expiry_alarm_days", "30, 7, 1", "list of integers 0..3650"),
	  .type = VT_STRLIST, FLD(conf_mgmt, expiry_alarm_days_text), LINE(conf_mgmt, expiry_alarm_days_line) },
	{ DIR(SEC_MGMT, "mgmt", "keylog_dir", "", "path (directory must exist)"), .type = VT_PATH,
	  .pcheck = PC_DIR, FLD(conf_mgmt, keylog_dir) },
	{ DIR(SEC_MGMT, "mgmt", "keylog_timeout", "600", TT_SECS(1, 86400)), SECS(1, 86400),
	  FLD(conf_mgmt, keylog_timeout) },

	/* [tls:NAME] */
	{ DIR(SEC_TLS, "tls", "certificate", "", "path (file must exist)"), .type = VT_PATH,
	  .pcheck = PC_FILE, FLD(conf_tls, certificate), LINE(conf_tls, certificate_line) },
	{ DIR(SEC_TLS, "tls", "private_key", "", "path (file must exist)"), .type = VT_PATH,
	  .pcheck = PC_FILE, FLD(conf_tls, private_key), LINE(conf_tls, private_key_line) },
	{ DIR(SEC_TLS, "tls", "private_key_password_file", "", "path (file must exist)"),
	  .type = VT_PATH, .pcheck = PC_FILE, FLD(conf_tls, private_key_password_file),
	  LINE(conf_tls, private_key_password_file_line) },
	{ DIR(SEC_TLS, "tls", "ca_list", "", "list of paths (files must exist)"), .type = VT_PATHLIST,
	  .pcheck = PC_FILE, FLD(conf_tls, ca_list), LINE(conf_tls, ca_list_line) },
	{ DIR(SEC_TLS, "tls", "ca_dir", "", "path (directory must exist)"), .type = VT_PATH,
	  .pcheck = PC_DIR, FLD(conf_tls, ca_dir), LINE(conf_tls, ca_dir_line) },
	{ DIR(SEC_TLS, "tls", "crl", "", "list of paths (files must exist)"), .type = VT_PATHLIST,
	  .pcheck = PC_FILE, FLD(conf_tls, crl), LINE(conf_tls, crl_line) },
	{ DIR(SEC_TLS, "tls", "verify_depth", "4", TT_UINT(1, 16)), UINT(1, 16),
	  FLD(conf_tls, verify_depth) },
	{ DIR(SEC_TLS, "tls", "min_version", "tls1.2", "enum"), .type = VT_ENUM, .enums = ev_tlsver,
	  FLD(conf_tls, min_version) },
	{ DIR(SEC_TLS, "tls", "max_version", "tls1.3", "enum"), .type = VT_ENUM, .enums = ev_tlsver,
	  FLD(conf_tls, max_version) },
	{ DIR(SEC_TLS, "tls", "ciphers", "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES:!EXPORT",
	      "string (OpenSSL cipher list)"),
	  .type = VT_STRING, FLD(conf_tls, ciphers), LINE(conf_tls, ciphers_line) },
	{ DIR(SEC_TLS, "tls", "ciphersuites",
	      "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256",
	      "string (OpenSSL TLS 1.3 ciphersuites)"),
	  .type = VT_STRING, FLD(conf_tls, ciphersuites), LINE(conf_tls, ciphersuites_line) },
	{ DIR(SEC_TLS, "tls", "groups", "X25519:P-256:P-384", "string (OpenSSL groups list)"),
	  .type = VT_STRING, FLD(conf_tls, groups), LINE(conf_tls, groups_line) },
	{ DIR(SEC_TLS, "tls", "session_cache", "yes", "bool"), .type = VT_BOOL,
	  FLD(conf_tls, session_cache) },
	{ DIR(SEC_TLS, "tls", "session_tickets", "no", "bool"), .type = VT_BOOL,
	  FLD(conf_tls, session_tickets) },
	{ DIR(SEC_TLS, "tls", "session_timeout", "3600", TT_SECS(1, 86400)), SECS(1, 86400),
	  FLD(conf_tls, session_timeout) },
	{ DIR(SEC_TLS, "tls", "keylog_file", "", "path (its directory must exist)"), .type = VT_PATH,
	  .pcheck = PC_PARENT, FLD(conf_tls, keylog_file), LINE(conf_tls, keylog_file_line) },
	{ DIR(SEC_TLS, "tls", "require_eku", "yes", "bool"), .type = VT_BOOL,
	  FLD(conf_tls, require_eku) },
	{ DIR(SEC_TLS, "tls", "allow_wildcards", "no", "bool"), .type = VT_BOOL,
	  FLD(conf_tls, allow_wildcards) },
	{ DIR(SEC_TLS, "tls", "sni", "", "list of host names"), .type = VT_STRLIST,
	  FLD(conf_tls, sni) },

	/* [interface:NAME] */
	{ DIR(SEC_IFACE, "interface", "listen", "", "list of TRANSPORT:ADDR[:PORT]"),
	  .type = VT_LISTEN, FLD(conf_interface, listen) },
	{ DIR(SEC_IFACE, "interface", "tls", "", "TLS context name"), .type = VT_NAME,
	  FLD(conf_interface, tls), LINE(conf_interface, tls_line) },
	{ DIR(SEC_IFACE, "interface", "sni_contexts", "", "list of TLS context names"), .type = VT_STRLIST,
	  FLD(conf_interface, sni_contexts), LINE(conf_interface, sni_contexts_line) },
	{ DIR(SEC_IFACE, "interface", "mutual_auth", "required", "enum"), .type = VT_ENUM,
	  .enums = ev_mutual, FLD(conf_interface, mutual_auth) },
	{ DIR(SEC_IFACE, "interface", "idle_timeout", "3600", TT_SECS(0, 604800)), SECS(0, 604800),
	  FLD(conf_interface, idle_timeout) },
	{ DIR(SEC_IFACE, "interface", "auth", "digest", "enum"), .type = VT_ENUM, .enums = ev_auth,
	  FLD(conf_interface, auth) },
	{ DIR(SEC_IFACE, "interface", "tls_only", "no", "bool"), .type = VT_BOOL, FLD(conf_interface, tls_only) },
	{ DIR(SEC_IFACE, "interface", "media", "secure-preferred", "enum"), .type = VT_ENUM, .enums = ev_media,
	  FLD(conf_interface, media.media) },
	{ DIR(SEC_IFACE, "interface", "key_management", "any", "list of sdes, mikey, dtls; or any, none"),
	  .type = VT_KEYMGMT, FLD(conf_interface, media.key_management) },
	{ DIR(SEC_IFACE, "interface", "mismatch_response", "415", "enum"), .type = VT_ENUM, .enums = ev_mismatch,
	  FLD(conf_interface, media.mismatch_response) },
	{ DIR(SEC_IFACE, "interface", "sdes_on_insecure_hop", "refuse", "enum"), .type = VT_ENUM, .enums = ev_sdes_hop,
	  FLD(conf_interface, media.sdes_on_insecure_hop) },

	/* [peer:NAME] */
	{ DIR(SEC_PEER, "peer", "uri", "", "list of sip:/sips: URIs"), .type = VT_URILIST,
	  FLD(conf_peer, uri), LINE(conf_peer, uri_line) },
	{ DIR(SEC_PEER, "peer", "tls", "", "TLS context name"), .type = VT_NAME, FLD(conf_peer, tls),
	  LINE(conf_peer, tls_line) },
	{ DIR(SEC_PEER, "peer", "identity", "", "host name"), .type = VT_DOMAIN,
	  FLD(conf_peer, identity) },
	{ DIR(SEC_PEER, "peer", "persistent", "no", "bool"), .type = VT_BOOL,
	  FLD(conf_peer, persistent) },
	{ DIR(SEC_PEER, "peer", "local_port", "0", TT_UINT(0, 65535)), UINT(0, 65535),
	  FLD(conf_peer, local_port) },
	{ DIR(SEC_PEER, "peer", "keepalive", "30", TT_SECS(0, 3600)), SECS(0, 3600),
	  FLD(conf_peer, keepalive) },
	{ DIR(SEC_PEER, "peer", "domains", "", "list of strings"), .type = VT_STRLIST, FLD(conf_peer, domains) },
	{ DIR(SEC_PEER, "peer", "trusted_relay", "no", "bool"), .type = VT_BOOL, FLD(conf_peer, trusted_relay) },
	{ DIR(SEC_PEER, "peer", "media", "secure-preferred", "enum"), .type = VT_ENUM, .enums = ev_media,
	  FLD(conf_peer, media.media) },
	{ DIR(SEC_PEER, "peer", "key_management", "any", "list of sdes, mikey, dtls; or any, none"),
	  .type = VT_KEYMGMT, FLD(conf_peer, media.key_management) },
	{ DIR(SEC_PEER, "peer", "mismatch_response", "415", "enum"), .type = VT_ENUM, .enums = ev_mismatch,
	  FLD(conf_peer, media.mismatch_response) },
	{ DIR(SEC_PEER, "peer", "sdes_on_insecure_hop", "refuse", "enum"), .type = VT_ENUM, .enums = ev_sdes_hop,
	  FLD(conf_peer, media.sdes_on_insecure_hop) },
};

#define NDIRECTIVES (sizeof(directives) / sizeof(directives[0]))

size_t conf_directive_count(void)
{
	return NDIRECTIVES;
}

const struct conf_directive_info *conf_directive_at(size_t i)
{
	return i < NDIRECTIVES ? &directives[i].info : NULL;
}

/* One [section] as it appeared in the file. */
struct sect {
	enum sec type;
	size_t idx;    /* into conf->tls / ifaces / peers */
	unsigned line; /* of the header */
	unsigned seen[NDIRECTIVES]; /* line each key was first given on, 0 = not given */
};

struct loader {
	struct conf *conf;
	struct conf_error *err;
	const char *file; /* for messages */
	int rc;           /* first error; once set, parsing stops */
	const char *p, *end;
	unsigned line;
	bool indented; /* current line had leading blanks */
	struct sect *sects;
	size_t nsects;
	bool in_section;
};

static void ld_err(struct loader *ld, int rc, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ld_err(struct loader *ld, int rc, unsigned line, const char *fmt, ...)
{
	if (ld->rc)
		return; /* first error wins */
	ld->rc = rc;
	conf_error_set(ld->err, ld->file, line, "%s", "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ld->err->msg, sizeof(ld->err->msg), fmt, ap);
	va_end(ap);
}

void conf_error_set(struct conf_error *err, const char *file, unsigned line, const char *fmt, ...)
{
	if (!err)
		return;
	snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
	err->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void conf_error_print(const struct conf_error *err, FILE *f)
{
	if (err->line)
		fprintf(f, "%s:%u: %s\n", err->file, err->line, err->msg);
	else
		fprintf(f, "%s: %s\n", err->file, err->msg);
}

/* ---- the object ---- */

static void strlist_clear(struct conf_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void tls_free(struct conf_tls *t)
{
	free(t->name);
	free(t->certificate);
	free(t->private_key);
	free(t->private_key_password_file);
	strlist_clear(&t->ca_list);
	free(t->ca_dir);
	strlist_clear(&t->crl);
	free(t->ciphers);
	free(t->ciphersuites);
	free(t->groups);
	free(t->keylog_file);
	strlist_clear(&t->sni);
}

static void conf_destroy(void *arg)
{
	struct conf *c = arg;
	free(c->path);
	free(c->dir);
	strlist_clear(&c->global.domains);
	free(c->store.path);
	free(c->mgmt.socket);
	free(c->mgmt.listen);
	free(c->mgmt.tls);
	strlist_clear(&c->mgmt.expiry_alarm_days_text);
	free(c->mgmt.keylog_dir);
	for (size_t i = 0; i < c->ntls; i++)
		tls_free(&c->tls[i]);
	free(c->tls);
	for (size_t i = 0; i < c->nifaces; i++) {
		free(c->ifaces[i].name);
		free(c->ifaces[i].listen);
		free(c->ifaces[i].tls);
		strlist_clear(&c->ifaces[i].sni_contexts);
	}
	free(c->ifaces);
	for (size_t i = 0; i < c->npeers; i++) {
		free(c->peers[i].name);
		strlist_clear(&c->peers[i].uri);
		free(c->peers[i].tls);
		free(c->peers[i].identity);
		strlist_clear(&c->peers[i].domains);
	}
	free(c->global.default_peer);
	free(c->registrar.realm);
	free(c->peers);
}

const struct conf_tls *conf_tls_find(const struct conf *conf, const char *name)
{
	if (!conf || !name)
		return NULL;
	for (size_t i = 0; i < conf->ntls; i++)
		if (strcmp(conf->tls[i].name, name) == 0)
			return &conf->tls[i];
	return NULL;
}

const char *conf_transport_name(enum conf_transport tp)
{
	switch (tp) {
	case CONF_TP_UDP: return "udp";
	case CONF_TP_TCP: return "tcp";
	case CONF_TP_TLS: return "tls";
	}
	return "?";
}

static const char *enum_name(const struct enum_val *ev, int v)
{
	for (; ev->name; ev++)
		if (ev->value == v)
			return ev->name;
	return "?";
}

const char *conf_mutual_auth_name(enum conf_mutual_auth ma)
{
	return enum_name(ev_mutual, (int)ma);
}

const char *conf_tls_version_name(enum conf_tls_version v)
{
	return enum_name(ev_tlsver, (int)v);
}

/* ---- sections ---- */

static void *sect_base(struct loader *ld, const struct sect *s)
{
	struct conf *c = ld->conf;
	switch (s->type) {
	case SEC_GLOBAL: return &c->global;
	case SEC_LOG: return &c->log;
	case SEC_STORE: return &c->store;
	case SEC_MGMT: return &c->mgmt;
	case SEC_REGISTRAR: return &c->registrar;
	case SEC_TLS: return &c->tls[s->idx];
	case SEC_IFACE: return &c->ifaces[s->idx];
	case SEC_PEER: return &c->peers[s->idx];
	case SEC_COUNT: break;
	}
	return NULL;
}

static const char *sect_name(struct loader *ld, const struct sect *s)
{
	switch (s->type) {
	case SEC_TLS: return ld->conf->tls[s->idx].name;
	case SEC_IFACE: return ld->conf->ifaces[s->idx].name;
	case SEC_PEER: return ld->conf->peers[s->idx].name;
	default: return NULL;
	}
}

/* "[tls:a]" for messages. */
static const char *sect_label(struct loader *ld, const struct sect *s, char *buf, size_t sz)
{
	const char *n = sect_name(ld, s);
	if (n)
		snprintf(buf, sz, "[%s:%s]", sec_types[s->type].name, n);
	else
		snprintf(buf, sz, "[%s]", sec_types[s->type].name);
	return buf;
}

static int set_value(struct loader *ld, const struct sect *s, const struct directive *d,
		     const char *value, unsigned line, bool first);

static void apply_defaults(struct loader *ld, const struct sect *s)
{
	for (size_t i = 0; i < NDIRECTIVES && !ld->rc; i++) {
		const struct directive *d = &directives[i];
		if (d->sec == s->type && d->info.default_text[0])
			set_value(ld, s, d, d->info.default_text, 0, true);
	}
}

/* Grow a named-section array by one zeroed element. */
static void *array_add(void *arr, size_t *n, size_t elsz)
{
	if (*n >= 4096)
		return NULL;
	char *a = realloc(arr, (*n + 1) * elsz);
	if (!a)
		return NULL;
	memset(a + *n * elsz, 0, elsz);
	(*n)++;
	return a;
}

static struct sect *sect_new(struct loader *ld, enum sec type, unsigned line)
{
	struct sect *ns = realloc(ld->sects, (ld->nsects + 1) * sizeof(*ns));
	if (!ns) {
		ld_err(ld, ENOMEM, line, "out of memory");
		return NULL;
	}
	ld->sects = ns;
	struct sect *s = &ld->sects[ld->nsects++];
	memset(s, 0, sizeof(*s));
	s->type = type;
	s->line = line;
	return s;
}

/* A "[...]" line, seen by the reader before inih. */
static void section_begin(struct loader *ld, const char *t, size_t len)
{
	const char *rb = memchr(t, ']', len);
	if (!rb) {
		ld_err(ld, EINVAL, ld->line, "section header without ']'");
		return;
	}
	for (const char *q = rb + 1; q < t + len; q++) {
		if (*q == ';' || *q == '#')
			break;
		if (*q != ' ' && *q != '\t') {
			ld_err(ld, EINVAL, ld->line, "text after section header");
			return;
		}
	}
	const char *in = t + 1;
	size_t inlen = (size_t)(rb - in);
	const char *colon = memchr(in, ':', inlen);
	size_t tlen = colon ? (size_t)(colon - in) : inlen;
	enum sec type;
	for (type = 0; type < SEC_COUNT; type++)
		if (strlen(sec_types[type].name) == tlen && memcmp(sec_types[type].name, in, tlen) == 0)
			break;
	if (type == SEC_COUNT) {
		ld_err(ld, EINVAL, ld->line,
		       "unknown section [%.*s] (known: [global] [log] [store] [mgmt] [tls:NAME] "
		       "[interface:NAME] [peer:NAME])",
		       (int)inlen, in);
		return;
	}
	const char *tname = sec_types[type].name;
	if (!sec_types[type].named) {
		if (colon) {
			ld_err(ld, EINVAL, ld->line, "section [%s] takes no name", tname);
			return;
		}
		for (size_t i = 0; i < ld->nsects; i++) {
			if (ld->sects[i].type == type) {
				ld_err(ld, EINVAL, ld->line, "duplicate section [%s] (first at line %u)", tname,
				       ld->sects[i].line);
				return;
			}
		}
		if (sect_new(ld, type, ld->line)) {
			ld->in_section = true;
		}
		return;
	}

	if (!colon) {
		ld_err(ld, EINVAL, ld->line, "section [%s] needs a name: [%s:NAME]", tname, tname);
		return;
	}
	const char *name = colon + 1;
	size_t nlen = (size_t)(rb - name);
	if (!conf_value_name_ok(name, nlen)) {
		ld_err(ld, EINVAL, ld->line,
		       "bad section name '%.*s' in [%s:...] (1 to 63 of A-Z a-z 0-9 _ . -)", (int)nlen,
		       name, tname);
		return;
	}
	for (size_t i = 0; i < ld->nsects; i++) {
		const char *other = sect_name(ld, &ld->sects[i]);
		if (ld->sects[i].type == type && strlen(other) == nlen && memcmp(other, name, nlen) == 0) {
			ld_err(ld, EINVAL, ld->line, "duplicate section [%s:%.*s] (first at line %u)", tname,
			       (int)nlen, name, ld->sects[i].line);
			return;
		}
	}

	struct conf *c = ld->conf;
	char *dup = strndup(name, nlen);
	size_t idx = 0;
	void *arr = NULL;
	if (dup) {
		switch (type) {
		case SEC_TLS:
			idx = c->ntls;
			if ((arr = array_add(c->tls, &c->ntls, sizeof(*c->tls)))) {
				c->tls = arr;
				c->tls[idx].name = dup;
				c->tls[idx].line = ld->line;
			}
			break;
		case SEC_IFACE:
			idx = c->nifaces;
			if ((arr = array_add(c->ifaces, &c->nifaces, sizeof(*c->ifaces)))) {
				c->ifaces = arr;
				c->ifaces[idx].name = dup;
				c->ifaces[idx].line = ld->line;
			}
			break;
		default:
			idx = c->npeers;
			if ((arr = array_add(c->peers, &c->npeers, sizeof(*c->peers)))) {
				c->peers = arr;
				c->peers[idx].name = dup;
				c->peers[idx].line = ld->line;
			}
			break;
		}
	}
	if (!arr) {
		free(dup);
		ld_err(ld, ENOMEM, ld->line, "out of memory (or more than 4096 sections)");
		return;
	}
	struct sect *s = sect_new(ld, type, ld->line);
	if (!s)
		return;
	s->idx = idx;
	ld->in_section = true;
	apply_defaults(ld, s);
}

/* ---- values ---- */

static void set_uint_field(void *f, size_t size, uint64_t v)
{
	switch (size) {
	case 1: *(uint8_t *)f = (uint8_t)v; break;
	case 2: *(uint16_t *)f = (uint16_t)v; break;
	case 4: *(uint32_t *)f = (uint32_t)v; break;
	default: *(uint64_t *)f = v; break;
	}
}

static char *path_resolve(struct loader *ld, const char *v)
{
	if (v[0] == '/')
		return strdup(v);
	size_t n = strlen(ld->conf->dir) + 1 + strlen(v) + 1;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", ld->conf->dir, v);
	return r;
}

/* NULL when the resolved path passes its on-disk check, else the reason. */
static const char *path_check(const char *p, enum pcheck pc, char *why, size_t whysz)
{
	struct stat st;
	char ebuf[128];
	switch (pc) {
	case PC_NONE: return NULL;
	case PC_FILE:
		if (stat(p, &st) != 0)
			break;
		if (S_ISDIR(st.st_mode))
			return "is a directory, not a file";
		if (access(p, R_OK) != 0)
			break;
		return NULL;
	case PC_DIR:
		if (stat(p, &st) != 0)
			break;
		if (!S_ISDIR(st.st_mode))
			return "is not a directory";
		return NULL;
	case PC_PARENT: {
		const char *slash = strrchr(p, '/');
		char parent[PATH_MAX];
		if (!slash)
			snprintf(parent, sizeof(parent), ".");
		else
			snprintf(parent, sizeof(parent), "%.*s", (int)(slash == p ? 1 : slash - p), p);
		if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
			snprintf(why, whysz, "directory %s does not exist", parent);
			return why;
		}
		return NULL;
	}
	}
	snprintf(why, whysz, "%s", strerror_r(errno, ebuf, sizeof(ebuf)));
	return why;
}

static bool strlist_add(struct conf_strlist *l, char *s)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	if (!v)
		return false;
	l->v = v;
	l->v[l->n++] = s;
	return true;
}

/* Calls item() on each comma separated, trimmed item; empty items are errors. */
static int list_each(struct loader *ld, const char *value, unsigned line, const char *what,
		     int (*item)(struct loader *ld, const char *it, void *arg), void *arg)
{
	const char *p = value;
	for (;;) {
		const char *c = strchr(p, ',');
		struct slice it = slice_trim((struct slice){ p, c ? (size_t)(c - p) : strlen(p) });
		if (it.len == 0) {
			ld_err(ld, EINVAL, line, "empty item in the list for %s", what);
			return EINVAL;
		}
		char *s = strndup(it.p, it.len);
		if (!s) {
			ld_err(ld, ENOMEM, line, "out of memory");
			return ENOMEM;
		}
		int err = item(ld, s, arg);
		free(s);
		if (err)
			return err;
		if (!c)
			return 0;
		p = c + 1;
	}
}

struct item_ctx {
	const struct directive *d;
	void *field;
	unsigned line;
	const char *what; /* "'ca_list' in [tls:a]" */
};

static int item_string(struct loader *ld, const char *it, void *arg)
{
	struct item_ctx *ic = arg;
	char why[300];
	char *v = NULL;
	if (ic->d->type == VT_URILIST) {
		bool tls;
		const char *w = conf_value_uri(it, &tls);
		if (w) {
			ld_err(ld, EINVAL, ic->line, "bad value '%s' for %s: %s", it, ic->what, w);
			return EINVAL;
		}
		v = strdup(it);
	} else if (ic->d->type == VT_PATHLIST) {
		v = path_resolve(ld, it);
		const char *w = v ? path_check(v, ic->d->pcheck, why, sizeof(why)) : NULL;
		if (w) {
			ld_err(ld, EINVAL, ic->line, "bad value '%s' for %s: %s: %s", it, ic->what, v, w);
			free(v);
			return EINVAL;
		}
	} else {
		v = strdup(it);
	}
	if (!v || !strlist_add(ic->field, v)) {
		free(v);
		ld_err(ld, ENOMEM, ic->line, "out of memory");
		return ENOMEM;
	}
	return 0;
}

static int item_listen(struct loader *ld, const char *it, void *arg)
{
	struct item_ctx *ic = arg;
	struct conf_interface *ifc = ic->field;
	struct conf_listen l;
	const char *w = conf_value_listen(it, true, &l);
	if (w) {
		ld_err(ld, EINVAL, ic->line, "bad value '%s' for %s: %s", it, ic->what, w);
		return EINVAL;
	}
	l.line = ic->line;
	struct conf_listen *nl = realloc(ifc->listen, (ifc->nlisten + 1) * sizeof(*nl));
	if (!nl) {
		ld_err(ld, ENOMEM, ic->line, "out of memory");
		return ENOMEM;
	}
	ifc->listen = nl;
	ifc->listen[ifc->nlisten++] = l;
	return 0;
}

static int set_value(struct loader *ld, const struct sect *s, const struct directive *d,
		     const char *value, unsigned line, bool first)
{
	void *base = sect_base(ld, s);
	void *field = (char *)base + d->off;
	char label[96], what[160], why[300];
	snprintf(what, sizeof(what), "'%s' in %s", d->info.key, sect_label(ld, s, label, sizeof(label)));
	const char *w = NULL;
	uint64_t u;

	switch (d->type) {
	case VT_BOOL:
		w = conf_value_bool(value, field);
		break;
	case VT_UINT:
	case VT_SECONDS:
		w = d->type == VT_UINT ? conf_value_uint(value, &u) : conf_value_seconds(value, &u);
		if (!w && (u < d->min || u > d->max)) {
			snprintf(why, sizeof(why), "out of range %llu..%llu", (unsigned long long)d->min,
				 (unsigned long long)d->max);
			w = why;
		}
		if (!w)
			set_uint_field(field, d->size, u);
		break;
	case VT_ENUM: {
		const struct enum_val *ev;
		for (ev = d->enums; ev->name; ev++)
			if (strcasecmp(ev->name, value) == 0)
				break;
		if (ev->name) {
			*(int *)field = ev->value;
			break;
		}
		size_t n = (size_t)snprintf(why, sizeof(why), "must be one of");
		for (ev = d->enums; ev->name && n < sizeof(why); ev++)
			n += (size_t)snprintf(why + n, sizeof(why) - n, "%s %s", ev == d->enums ? "" : ",",
					      ev->name);
		w = why;
		break;
	}
	case VT_KEYMGMT: {
		/* "any", "none" or a comma list of sdes, mikey, dtls (RFC 4568, RFC 4567, RFC 5763). */
		unsigned mask = 0;
		bool ok = true;
		if (strcasecmp(value, "any") == 0) {
			mask = CONF_KM_SDES | CONF_KM_MIKEY | CONF_KM_DTLS;
		} else if (strcasecmp(value, "none") != 0) {
			const char *p = value;
			while (*p && ok) {
				while (*p == ' ' || *p == '\t' || *p == ',')
					p++;
				size_t len = strcspn(p, ", \t");
				if (!len)
					break;
				if (len == 4 && strncasecmp(p, "sdes", 4) == 0)
					mask |= CONF_KM_SDES;
				else if (len == 5 && strncasecmp(p, "mikey", 5) == 0)
					mask |= CONF_KM_MIKEY;
				else if (len == 4 && strncasecmp(p, "dtls", 4) == 0)
					mask |= CONF_KM_DTLS;
				else
					ok = false;
				p += len;
			}
		}
		if (!ok)
			w = "must be any, none, or a list of sdes, mikey, dtls";
		else
			*(unsigned *)field = mask;
		break;
	}
	case VT_NAME:
	case VT_DOMAIN:
	case VT_STRING: {
		if (d->type == VT_NAME && !conf_value_name_ok(value, strlen(value)))
			w = "not a context name (1 to 63 of A-Z a-z 0-9 _ . -)";
		else if (d->type == VT_DOMAIN && !conf_value_host_ok(value))
			w = "not a host name";
		if (w)
			break;
		char *v = strdup(value);
		if (!v)
			goto nomem;
		free(*(char **)field);
		*(char **)field = v;
		break;
	}
	case VT_PATH: {
		char *v = path_resolve(ld, value);
		if (!v)
			goto nomem;
		w = path_check(v, d->pcheck, why, sizeof(why));
		if (w) {
			ld_err(ld, EINVAL, line, "bad value '%s' for %s: %s: %s", value, what, v, w);
			free(v);
			return EINVAL;
		}
		free(*(char **)field);
		*(char **)field = v;
		break;
	}
	case VT_STRLIST:
	case VT_PATHLIST:
	case VT_URILIST: {
		struct item_ctx ic = { d, field, line, what };
		if (first)
			strlist_clear(field);
		if (list_each(ld, value, line, what, item_string, &ic))
			return ld->rc;
		break;
	}
	case VT_LISTEN: {
		struct item_ctx ic = { d, base, line, what };
		if (list_each(ld, value, line, what, item_listen, &ic))
			return ld->rc;
		break;
	}
	case VT_HOSTPORT: {
		struct conf_mgmt *m = base;
		w = conf_value_listen(value, false, &m->listen_addr);
		if (w)
			break;
		m->listen_addr.line = line;
		char *v = strdup(value);
		if (!v)
			goto nomem;
		free(m->listen);
		m->listen = v;
		break;
	}
	}
	if (w) {
		if (line)
			ld_err(ld, EINVAL, line, "bad value '%s' for %s: %s", value, what, w);
		else /* a bad default in the table: a bug, caught by the unit test */
			ld_err(ld, EINVAL, 0, "internal: bad default '%s' for %s: %s", value, what, w);
		return EINVAL;
	}
	if (d->line_off && line && first)
		*(unsigned *)((char *)base + d->line_off - 1) = line;
	return 0;
nomem:
	ld_err(ld, ENOMEM, line, "out of memory");
	return ENOMEM;
}

static bool is_list(const struct directive *d)
{
	return d->type == VT_STRLIST || d->type == VT_PATHLIST || d->type == VT_URILIST ||
	       d->type == VT_LISTEN;
}

/* inih's handler: runs for the line the reader returned last. */
static int handler_h(void *arg, const char *section, const char *name, const char *value)
{
	struct loader *ld = arg;
	(void)section; /* we track sections ourselves, see section_begin() */
	if (ld->rc)
		return 0;
	if (!ld->in_section) {
		ld_err(ld, EINVAL, ld->line,
		       "key '%s' outside any section (put it under [global] or another section)", name);
		return 0;
	}
	struct sect *s = &ld->sects[ld->nsects - 1];
	char label[96];
	size_t i;
	for (i = 0; i < NDIRECTIVES; i++)
		if (directives[i].sec == s->type && strcmp(directives[i].info.key, name) == 0)
			break;
	if (i == NDIRECTIVES) {
		ld_err(ld, EINVAL, ld->line, "unknown key '%s' in %s", name,
		       sect_label(ld, s, label, sizeof(label)));
		return 0;
	}
	const struct directive *d = &directives[i];
	/* A repeated key is almost always a paste error; only lists may repeat, to append, which
	 * is also the way around inih's line length limit for long lists. */
	if (s->seen[i] && !is_list(d)) {
		ld_err(ld, EINVAL, ld->line, "duplicate key '%s' in %s (first given at line %u)", name,
		       sect_label(ld, s, label, sizeof(label)), s->seen[i]);
		return 0;
	}
	if (!*value) {
		ld_err(ld, EINVAL, ld->line, "no value for '%s' in %s (remove the line to get the default)",
		       name, sect_label(ld, s, label, sizeof(label)));
		return 0;
	}
	bool first = !s->seen[i];
	if (first)
		s->seen[i] = ld->line;
	return set_value(ld, s, d, value, ld->line, first) == 0;
}

/* Mirrors inih's test for a "name = value" line so we can say what is wrong with one that isn't:
 * the first '=' or ':' must come before any inline comment (';' after a blank). */
static bool looks_like_pair(const char *t, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '=' || t[i] == ':')
			return true;
		if (t[i] == ';' && i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
			return false;
	}
	return false;
}

/* inih's ini_reader: one line per call into its buffer of num bytes. */
static char *reader_h(char *str, int num, void *arg)
{
	struct loader *ld = arg;
	if (ld->rc || ld->p >= ld->end)
		return NULL;
	const char *s = ld->p;
	const char *nl = memchr(s, '\n', (size_t)(ld->end - s));
	const char *eol = nl ? nl : ld->end;
	ld->p = nl ? nl + 1 : ld->end;
	ld->line++;
	if (ld->line == 1 && eol - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3; /* UTF-8 byte order mark, as Windows editors write it */
	if (eol > s && eol[-1] == '\r')
		eol--;
	const char *t = s;
	while (t < eol && (*t == ' ' || *t == '\t'))
		t++;
	size_t len = (size_t)(eol - t);
	ld->indented = t > s && len > 0;

	/* inih's buffer is compile-time INI_MAX_LINE (200 on Debian) and it would silently split a
	 * longer line in two, so refuse it here. */
	if (num < 4 || len > (size_t)num - 3) {
		ld_err(ld, EINVAL, ld->line,
		       "line too long (%zu characters, at most %d): shorten paths, or split a list over "
		       "repeated keys",
		       len, num - 3);
		return NULL;
	}
	if (len && *t == '[') {
		section_begin(ld, t, len);
		if (ld->rc)
			return NULL;
	} else if (len && *t != ';' && *t != '#' && !looks_like_pair(t, len)) {
		if (ld->indented)
			ld_err(ld, EINVAL, ld->line,
			       "expected 'key = value' (continuation lines are not supported: put the value "
			       "on one line, or repeat a list key)");
		else
			ld_err(ld, EINVAL, ld->line, "expected '[section]' or 'key = value'");
		return NULL;
	}
	memcpy(str, t, len);
	str[len] = '\0';
	return str;
}

/* ---- cross-checks, after the whole file is read ---- */

static const struct conf_tls *need_tls(struct loader *ld, const char *name, unsigned line,
				       const char *label)
{
	const struct conf_tls *t = conf_tls_find(ld->conf, name);
	if (!t)
		ld_err(ld, EINVAL, line, "'tls' in %s names TLS context '%s', but there is no [tls:%s]",
		       label, name, name);
	return t;
}

static bool has_trust(const struct conf_tls *t)
{
	return t->ca_list.n || t->ca_dir;
}

static void check_tls(struct loader *ld, const struct sect *s)
{
	struct conf_tls *t = &ld->conf->tls[s->idx];
	if (!t->certificate)
		ld_err(ld, EINVAL, s->line,
		       "[tls:%s] has no 'certificate' (the PEM file with this side's certificate)", t->name);
	else if (!t->private_key)
		ld_err(ld, EINVAL, s->line,
		       "[tls:%s] has no 'private_key' (the PEM file with the key of 'certificate')", t->name);
	else if (t->min_version > t->max_version) {
		size_t imin = 0, imax = 0;
		for (size_t i = 0; i < NDIRECTIVES; i++) {
			if (directives[i].sec != SEC_TLS)
				continue;
			if (strcmp(directives[i].info.key, "min_version") == 0)
				imin = i;
			if (strcmp(directives[i].info.key, "max_version") == 0)
				imax = i;
		}
		/* Blame the later of the two lines: that is where the range became empty. */
		unsigned line = s->seen[imin] > s->seen[imax] ? s->seen[imin] : s->seen[imax];
		ld_err(ld, EINVAL, line ? line : s->line,
		       "'min_version' %s is above 'max_version' %s in [tls:%s]",
		       conf_tls_version_name(t->min_version), conf_tls_version_name(t->max_version), t->name);
	}
}

static void check_iface(struct loader *ld, const struct sect *s)
{
	struct conf *c = ld->conf;
	struct conf_interface *ifc = &c->ifaces[s->idx];
	char label[96];
	snprintf(label, sizeof(label), "[interface:%s]", ifc->name);
	const struct conf_tls *t = NULL;

	if (ifc->tls && !(t = need_tls(ld, ifc->tls, ifc->tls_line, label)))
		return;
	for (size_t i = 0; i < ifc->sni_contexts.n; i++) {
		const struct conf_tls *st = conf_tls_find(c, ifc->sni_contexts.v[i]);
		if (!st) {
			ld_err(ld, EINVAL, ifc->sni_contexts_line,
			       "'sni_contexts' in %s names TLS context '%s', but there is no [tls:%s]", label,
			       ifc->sni_contexts.v[i], ifc->sni_contexts.v[i]);
			return;
		}
		if (!t) {
			ld_err(ld, EINVAL, ifc->sni_contexts_line,
			       "'sni_contexts' in %s needs 'tls' (the default context) too", label);
			return;
		}
		if (st->sni.n == 0) {
			ld_err(ld, EINVAL, ifc->sni_contexts_line,
			       "[tls:%s] is in 'sni_contexts' of %s but has no 'sni' names to be chosen by", st->name,
			       label);
			return;
		}
	}
	if (ifc->nlisten == 0) {
		ld_err(ld, EINVAL, s->line, "%s has no 'listen'", label);
		return;
	}
	for (size_t i = 0; i < ifc->nlisten; i++) {
		const struct conf_listen *l = &ifc->listen[i];
		if (l->transport == CONF_TP_TLS && !t) {
			ld_err(ld, EINVAL, l->line, "'listen' tls:%s%s%s:%u in %s needs 'tls = CONTEXT' in the same section",
			       strchr(l->host, ':') ? "[" : "", l->host, strchr(l->host, ':') ? "]" : "",
			       l->port, label);
			return;
		}
		/* Against every address listed before it, in this or an earlier interface. */
		for (size_t j = 0; j <= s->idx; j++) {
			const struct conf_interface *o = &c->ifaces[j];
			size_t n = j == s->idx ? i : o->nlisten;
			for (size_t k = 0; k < n; k++) {
				if (conf_listen_overlap(l, &o->listen[k])) {
					ld_err(ld, EINVAL, l->line,
					       "'listen' %s:%s port %u in %s clashes with %s:%s in [interface:%s] (line %u)",
					       conf_transport_name(l->transport), l->host, l->port, label,
					       conf_transport_name(o->listen[k].transport), o->listen[k].host,
					       o->name, o->listen[k].line);
					return;
				}
			}
		}
	}
	if (t && ifc->mutual_auth != CONF_MA_OFF && !has_trust(t))
		ld_err(ld, EINVAL, ifc->tls_line,
		       "%s asks for client certificates (mutual_auth = %s%s) but [tls:%s] has no 'ca_list' "
		       "or 'ca_dir' to verify them",
		       label, conf_mutual_auth_name(ifc->mutual_auth),
		       ifc->mutual_auth_forced ? ", from require_client_certificate" : "", t->name);
}

static void check_peer(struct loader *ld, const struct sect *s)
{
	struct conf_peer *p = &ld->conf->peers[s->idx];
	char label[96];
	snprintf(label, sizeof(label), "[peer:%s]", p->name);
	const struct conf_tls *t = NULL;

	if (p->tls && !(t = need_tls(ld, p->tls, p->tls_line, label)))
		return;
	if (p->uri.n == 0) {
		ld_err(ld, EINVAL, s->line, "%s has no 'uri'", label);
		return;
	}
	for (size_t i = 0; i < p->uri.n; i++) {
		bool tls = false;
		(void)conf_value_uri(p->uri.v[i], &tls);
		if (tls && !t) {
			ld_err(ld, EINVAL, p->uri_line,
			       "'uri' %s in %s is reached over TLS and needs 'tls = CONTEXT' (its trust store "
			       "verifies the peer)",
			       p->uri.v[i], label);
			return;
		}
	}
	if (t && !has_trust(t))
		ld_err(ld, EINVAL, p->tls_line,
		       "%s: [tls:%s] has no 'ca_list' or 'ca_dir' to verify the peer's certificate", label,
		       t->name);
}

static unsigned sect_line(const struct loader *ld, enum sec type)
{
	for (size_t i = 0; i < ld->nsects; i++)
		if (ld->sects[i].type == type)
			return ld->sects[i].line;
	return 0;
}

static void check_registrar(struct loader *ld)
{
	struct conf *c = ld->conf;
	unsigned rline = sect_line(ld, SEC_REGISTRAR), gline = sect_line(ld, SEC_GLOBAL);
	struct conf_registrar *r = &c->registrar;
	if (r->min_expires > r->max_expires)
		ld_err(ld, EINVAL, rline, "[registrar] min_expires %u is above max_expires %u", r->min_expires,
		       r->max_expires);
	else if (r->default_expires < r->min_expires || r->default_expires > r->max_expires)
		ld_err(ld, EINVAL, rline, "[registrar] default_expires %u is outside min_expires..max_expires (%u..%u)",
		       r->default_expires, r->min_expires, r->max_expires);
	if (ld->rc || !c->global.default_peer)
		return;
	for (size_t i = 0; i < c->npeers; i++)
		if (strcmp(c->peers[i].name, c->global.default_peer) == 0)
			return;
	ld_err(ld, EINVAL, gline, "[global] default_peer names '%s', but there is no [peer:%s]", c->global.default_peer,
	       c->global.default_peer);
}

/* expiry_alarm_days = 30, 7, 1: distinct day counts, kept in descending order. */
static void parse_alarm_days(struct loader *ld, struct conf_mgmt *m)
{
	const struct conf_strlist *l = &m->expiry_alarm_days_text;
	m->nexpiry_alarm_days = 0;
	for (size_t i = 0; i < l->n; i++) {
		uint64_t v;
		if (!slice_to_u64(slice_trim(slice_from_cstr(l->v[i])), 3650, &v)) {
			ld_err(ld, EINVAL, m->expiry_alarm_days_line,
			       "bad value '%s' in expiry_alarm_days: expected days 0..3650", l->v[i]);
			return;
		}
		if (m->nexpiry_alarm_days >= sizeof(m->expiry_alarm_days) / sizeof(m->expiry_alarm_days[0])) {
			ld_err(ld, EINVAL, m->expiry_alarm_days_line, "expiry_alarm_days: at most 8 thresholds");
			return;
		}
		size_t k = m->nexpiry_alarm_days;
		for (size_t j = 0; j < m->nexpiry_alarm_days; j++)
			if (m->expiry_alarm_days[j] == v)
				k = SIZE_MAX;
		if (k == SIZE_MAX)
			continue;
		/* insertion into descending order */
		while (k > 0 && m->expiry_alarm_days[k - 1] < v) {
			m->expiry_alarm_days[k] = m->expiry_alarm_days[k - 1];
			k--;
		}
		m->expiry_alarm_days[k] = (unsigned)v;
		m->nexpiry_alarm_days++;
	}
}

static void check_mgmt(struct loader *ld)
{
	struct conf *c = ld->conf;
	struct conf_mgmt *m = &c->mgmt;
	const struct conf_tls *t = NULL;
	if (m->tls && !(t = need_tls(ld, m->tls, m->tls_line, "[mgmt]")))
		return;
	if (!m->listen)
		return;
	if (!t) {
		ld_err(ld, EINVAL, m->listen_line,
		       "'listen' in [mgmt] needs 'tls = CONTEXT': the HTTPS API is mutual TLS only");
		return;
	}
	if (!has_trust(t)) {
		ld_err(ld, EINVAL, m->tls_line,
		       "[mgmt]: [tls:%s] has no 'ca_list' or 'ca_dir' to verify client certificates", t->name);
		return;
	}
	for (size_t j = 0; j < c->nifaces; j++) {
		for (size_t k = 0; k < c->ifaces[j].nlisten; k++) {
			const struct conf_listen *o = &c->ifaces[j].listen[k];
			if (conf_listen_overlap(&m->listen_addr, o)) {
				ld_err(ld, EINVAL, m->listen_line,
				       "'listen' %s in [mgmt] clashes with %s:%s port %u in [interface:%s] (line %u)",
				       m->listen, conf_transport_name(o->transport), o->host, o->port,
				       c->ifaces[j].name, o->line);
				return;
			}
		}
	}
}

static void check_all(struct loader *ld)
{
	struct conf *c = ld->conf;
	/* AudioCodes' SIPSRequireClientCertificate: one switch for every interface. */
	if (c->global.require_client_certificate) {
		for (size_t i = 0; i < c->nifaces; i++) {
			if (c->ifaces[i].mutual_auth != CONF_MA_REQUIRED) {
				c->ifaces[i].mutual_auth = CONF_MA_REQUIRED;
				c->ifaces[i].mutual_auth_forced = true;
			}
		}
	}
	/* [mgmt] exists with its defaults even when not written */
	parse_alarm_days(ld, &c->mgmt);
	/* In file order, so the error reported is the first one an operator reads. */
	for (size_t i = 0; i < ld->nsects && !ld->rc; i++) {
		switch (ld->sects[i].type) {
		case SEC_TLS: check_tls(ld, &ld->sects[i]); break;
		case SEC_IFACE: check_iface(ld, &ld->sects[i]); break;
		case SEC_PEER: check_peer(ld, &ld->sects[i]); break;
		case SEC_MGMT: check_mgmt(ld); break;
		case SEC_REGISTRAR: break;
		default: break;
		}
	}
	if (!ld->rc)
		check_registrar(ld);
}

/* ---- entry points ---- */

static int load(const char *name, const char *text, size_t len, struct conf **confp,
		struct conf_error *err)
{
	struct conf_error dummy;
	struct loader ld = { .err = err ? err : &dummy, .file = name, .p = text, .end = text + len };
	memset(ld.err, 0, sizeof(*ld.err));

	struct conf *c = mem_zalloc(sizeof(*c), conf_destroy);
	if (!c) {
		ld_err(&ld, ENOMEM, 0, "out of memory");
		return ENOMEM;
	}
	ld.conf = c;
	c->path = strdup(name);
	const char *slash = strrchr(name, '/');
	char *dirpart = slash ? strndup(name, slash == name ? 1 : (size_t)(slash - name)) : strdup(".");
	if (dirpart) {
		/* Absolute, so the paths we hand out survive a later chdir(). */
		c->dir = realpath(dirpart, NULL);
		if (!c->dir) {
			c->dir = dirpart;
			dirpart = NULL;
		}
	}
	free(dirpart);
	if (!c->path || !c->dir) {
		ld_err(&ld, ENOMEM, 0, "out of memory");
		goto out;
	}

	const char *nul = memchr(text, '\0', len);
	if (nul) {
		unsigned line = 1;
		for (const char *q = text; q < nul; q++)
			line += *q == '\n';
		ld_err(&ld, EINVAL, line, "NUL byte in the file");
		goto out;
	}

	/* The singleton sections exist with their defaults even when not written. */
	for (enum sec t = SEC_GLOBAL; t <= SEC_REGISTRAR && !ld.rc; t++) {
		struct sect tmp = { .type = t };
		apply_defaults(&ld, &tmp);
	}
	if (ld.rc)
		goto out;

	int r = ini_parse_stream(reader_h, &ld, handler_h, &ld);
	if (!ld.rc && r > 0)
		ld_err(&ld, EINVAL, (unsigned)r, "syntax error");
	else if (!ld.rc && r < 0)
		ld_err(&ld, ENOMEM, 0, "parser failed (%d)", r);
	if (!ld.rc)
		check_all(&ld);
out:
	free(ld.sects);
	if (ld.rc) {
		mem_deref(c);
		return ld.rc;
	}
	*confp = c;
	return 0;
}

int conf_load_string(const char *name, const char *text, struct conf **confp, struct conf_error *err)
{
	if (!name || !text || !confp)
		return EINVAL;
	return load(name, text, strlen(text), confp, err);
}

int conf_load(const char *path, struct conf **confp, struct conf_error *err)
{
	if (!path || !confp)
		return EINVAL;
	char ebuf[128];
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		conf_error_set(err, path, 0, "cannot open: %s", strerror_r(e, ebuf, sizeof(ebuf)));
		return e;
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		conf_error_set(err, path, 0, "not a regular file");
		return EINVAL;
	}
	if (st.st_size > CONF_MAX_FILE) {
		fclose(f);
		conf_error_set(err, path, 0, "file larger than %d bytes", CONF_MAX_FILE);
		return EINVAL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fclose(f);
		conf_error_set(err, path, 0, "out of memory");
		return ENOMEM;
	}
	size_t n = fread(buf, 1, (size_t)st.st_size, f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr) {
		free(buf);
		conf_error_set(err, path, 0, "read error");
		return EIO;
	}
	buf[n] = '\0';
	int rc = load(path, buf, n, confp, err);
	free(buf);
	return rc;
}
