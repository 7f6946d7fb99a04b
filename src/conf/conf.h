/* sipsd configuration: one INI file (libinih) -> an immutable, refcounted struct conf.
 *
 * Sections: [global] [log] [store] [mgmt] and named ones [tls:NAME] [interface:NAME] [peer:NAME].
 * Every key is declared once in a directive table (conf.c) with its type, bounds and default;
 * docs/config.md documents each one. Any error -> conf_load() fails with "file:line: what".
 * Relative paths are resolved against the directory of the config file.
 *
 * The object is read-only after load and freed with mem_deref(); a reload builds a new one and
 * swaps it, so holders keep a reference for as long as they use it. Reading it from any number
 * of threads is safe; loading keeps no global state. Its strings and arrays are owned by it
 * (plain heap, freed by its destructor): never free or mem_ref() them, hold the conf instead.
 * Paths read from the file come out absolute (conf->path stays as given). */
#ifndef SIPSD_CONF_CONF_H
#define SIPSD_CONF_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/log.h"

enum conf_transport { CONF_TP_UDP, CONF_TP_TCP, CONF_TP_TLS };
enum conf_mutual_auth { CONF_MA_OFF, CONF_MA_OPTIONAL, CONF_MA_REQUIRED };
/* Protocol versions as written in the file: tls1.0 .. tls1.3 */
/* How an interface authenticates REGISTERs and requests to foreign domains. */
enum conf_iface_auth { CONF_AUTH_DIGEST, CONF_AUTH_CERTIFICATE, CONF_AUTH_DIGEST_CERTIFICATE };
enum conf_overflow { CONF_OVERFLOW_REPLACE, CONF_OVERFLOW_REJECT };
/* Secure media policy of a leg (docs/media-policy.md). */
enum conf_media { CONF_MEDIA_SECURE_REQUIRED, CONF_MEDIA_SECURE_PREFERRED, CONF_MEDIA_ANY };
enum conf_sdes_hop { CONF_SDES_HOP_REFUSE, CONF_SDES_HOP_STRIP };
#define CONF_KM_SDES 0x1u
#define CONF_KM_MIKEY 0x2u
#define CONF_KM_DTLS 0x4u

struct conf_media_policy {
	enum conf_media media;         /* default secure-preferred */
	unsigned key_management;       /* CONF_KM_* mask; default all */
	unsigned mismatch_response;    /* 415 or 488; default 415 */
	enum conf_sdes_hop sdes_on_insecure_hop;
};
enum conf_tls_version { CONF_TLS1_0 = 10, CONF_TLS1_1 = 11, CONF_TLS1_2 = 12, CONF_TLS1_3 = 13 };

struct conf_strlist {
	char **v;
	size_t n;
};

/* listen = tls:127.0.0.1:5061, tcp:[::1]:5060 */
struct conf_listen {
	enum conf_transport transport;
	char host[64]; /* literal address, without [] for IPv6 */
	uint16_t port;
	unsigned line; /* line of the listen key that gave it (0 for defaults) */
};

struct conf_sip_limits {
	uint32_t max_message_size; /* default 65536 */
	uint32_t max_headers;      /* default 256 */
	uint32_t max_line_length;  /* default 8192 */
	uint32_t max_uri_length;   /* default 4096 */
	uint32_t max_via;          /* default 32 */
};

/* SIP timers (RFC 3261 17.1.1.1), milliseconds. */
struct conf_timers {
	unsigned t1, t2, t4;
};

struct conf_global {
	unsigned workers;          /* 0 = one per core */
	struct conf_strlist domains;
	bool require_client_certificate;
	unsigned shutdown_timeout; /* seconds, graceful stop bound */
	struct conf_sip_limits limits;
	struct conf_timers timers;
	char *default_peer;        /* [peer:NAME] for domains no peer claims; NULL = none */
};

struct conf_registrar {
	char *realm;               /* default: the first of [global] domains */
	unsigned min_expires;      /* 423 below it (RFC 3261 10.3 step 7) */
	unsigned max_expires;
	unsigned default_expires;
	unsigned max_contacts;     /* per AOR */
	enum conf_overflow contacts_overflow;
	bool md5;                  /* offer/accept MD5 digest at all */
	unsigned nonce_lifetime;   /* seconds */
	unsigned purge_interval;   /* seconds between expired-binding sweeps */
	bool durable;              /* write bindings to the store before answering */
};

struct conf_log {
	enum log_level level;
	enum log_target target;
};

struct conf_store {
	char *path; /* default: sipsd.db beside the config file */
	int sync_full; /* 1: SQLite synchronous=FULL (power-loss safe); 0: NORMAL (crash safe, faster) */
	unsigned commit_window_us; /* group commit: how long a batch may fill under load */
};

struct conf_mgmt {
	char *socket;       /* default /run/sipsd/sipsd.sock */
	char *listen;       /* ADDR:PORT of the HTTPS listener, NULL = none */
	char *tls;          /* context for the HTTPS listener */
	unsigned tls_line;  /* line of the tls key, for cross-check errors */
	struct conf_listen listen_addr; /* listen parsed (transport CONF_TP_TLS); valid if listen */
	unsigned listen_line;
	/* Certificate expiry alarms: days before notAfter, as written and parsed (descending). */
	struct conf_strlist expiry_alarm_days_text;
	unsigned expiry_alarm_days_line;
	unsigned expiry_alarm_days[8];
	size_t nexpiry_alarm_days;
	char *keylog_dir;        /* where run-time key logs go (contexts without keylog_file); NULL = off */
	unsigned keylog_timeout; /* seconds: default and maximum of a run-time key log */
};

struct conf_tls {
	char *name;
	unsigned line; /* line of the [tls:NAME] header */
	char *certificate;
	unsigned certificate_line;
	char *private_key;
	unsigned private_key_line;
	char *private_key_password_file;
	unsigned private_key_password_file_line;
	struct conf_strlist ca_list;
	unsigned ca_list_line;
	char *ca_dir;
	unsigned ca_dir_line;
	struct conf_strlist crl;
	unsigned crl_line;
	unsigned verify_depth; /* default 4 */
	enum conf_tls_version min_version, max_version; /* default 1.2 / 1.3 */
	char *ciphers;      /* TLS <= 1.2 cipher list */
	char *ciphersuites; /* TLS 1.3 */
	char *groups;
	unsigned ciphers_line, ciphersuites_line, groups_line; /* for OpenSSL's verdict on them */
	bool session_cache;
	bool session_tickets;
	unsigned session_timeout; /* seconds */
	char *keylog_file;
	unsigned keylog_file_line;
	bool require_eku;
	bool allow_wildcards;
	struct conf_strlist sni;
};

struct conf_interface {
	char *name;
	unsigned line;
	struct conf_listen *listen;
	size_t nlisten;
	char *tls; /* context name, required when a listen is tls: */
	unsigned tls_line;
	struct conf_strlist sni_contexts; /* more contexts, chosen by the client's SNI (their `sni`) */
	unsigned sni_contexts_line;
	enum conf_mutual_auth mutual_auth; /* default required; forced by require_client_certificate */
	enum conf_iface_auth auth;         /* default digest */
	struct conf_media_policy media;
	bool tls_only;                     /* refuse non-TLS requests (the Mediatrix model) */
	unsigned idle_timeout;             /* seconds, default 3600 */
	bool mutual_auth_forced;           /* raised to required by [global] require_client_certificate */
};

struct conf_peer {
	char *name;
	unsigned line;
	struct conf_strlist uri; /* sip:/sips: host[:port], in priority order */
	unsigned uri_line;
	char *tls;
	unsigned tls_line;
	char *identity; /* domain the peer certificate must prove; NULL = URI host */
	bool persistent;
	uint16_t local_port;
	unsigned keepalive; /* seconds between CRLF pings, 0 = off */
	struct conf_strlist domains; /* request domains routed to this peer */
	bool trusted_relay;          /* may send requests From any domain */
	struct conf_media_policy media;
};

struct conf {
	char *path; /* as given */
	char *dir;  /* directory of path, for relative paths */
	struct conf_global global;
	struct conf_log log;
	struct conf_store store;
	struct conf_mgmt mgmt;
	struct conf_registrar registrar;
	struct conf_tls *tls;
	size_t ntls;
	struct conf_interface *ifaces;
	size_t nifaces;
	struct conf_peer *peers;
	size_t npeers;
};

struct conf_error {
	char file[512];
	unsigned line; /* 0 when not tied to a line (e.g. file missing) */
	char msg[512];
};

/* 0 and *confp on success; otherwise an errno and err filled in (EINVAL bad content, ENOENT
 * missing file, ENOMEM). */
int conf_load(const char *path, struct conf **confp, struct conf_error *err);
/* Same, from a string (for tests); name is used in messages, and relative paths are resolved
 * against its directory as if the text had been read from that file. */
int conf_load_string(const char *name, const char *text, struct conf **confp, struct conf_error *err);
/* Prints "file:line: msg" (or "file: msg" for line 0) and a newline. */
void conf_error_print(const struct conf_error *err, FILE *f);
/* Fill err as file:line: fmt (for layers that cross-check what conf loaded, e.g. TLS files). */
void conf_error_set(struct conf_error *err, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

const struct conf_tls *conf_tls_find(const struct conf *conf, const char *name);
const char *conf_transport_name(enum conf_transport tp);
/* "off" / "optional" / "required" */
const char *conf_mutual_auth_name(enum conf_mutual_auth ma);
/* "tls1.0" .. "tls1.3" */
const char *conf_tls_version_name(enum conf_tls_version v);

/* The directive table, for documentation checks. */
struct conf_directive_info {
	const char *section; /* "global", "tls", "interface", ... */
	const char *key;
	const char *default_text; /* as documented; "" when none */
	const char *type_text;    /* value type as documented, e.g. "seconds 1..86400" */
};
size_t conf_directive_count(void);
const struct conf_directive_info *conf_directive_at(size_t i);

#endif
