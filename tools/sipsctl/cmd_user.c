/* sipsctl user add|passwd|del|enable|disable|list: digest credentials in the database.
 * Only HA1 = H(user:realm:password) per enabled algorithm is stored (RFC 7616 3.4.2), never the
 * password; the password is read from the terminal with echo off, or as one line from stdin
 * when stdin is not a terminal -- never from argv, where ps and shell history would show it. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auth/digest.h"
#include "base/mem.h"
#include "sipsctl.h"
#include "store/store.h"

_Static_assert((int)STORE_HA1_MD5 == (int)AUTH_ALG_MD5 && (int)STORE_HA1_SHA256 == (int)AUTH_ALG_SHA256 &&
		       (int)STORE_HA1_SHA512_256 == (int)AUTH_ALG_SHA512_256 &&
		       (int)STORE_HA1_COUNT == (int)AUTH_ALG__COUNT,
	       "store HA1 slots follow enum auth_alg");

#define PASSWORD_MAX 1024
#define NAME_MAX_ 256

struct aor {
	char user[NAME_MAX_];
	char domain[NAME_MAX_];
};

/* "alice@example.com", also with a sip: or sips: prefix. Domains compare case-insensitively
 * (RFC 3261 19.1.4), so they are stored lowercased; the user part is kept as written. */
static bool aor_parse(const char *s, struct aor *a)
{
	if (strncasecmp(s, "sips:", 5) == 0)
		s += 5;
	else if (strncasecmp(s, "sip:", 4) == 0)
		s += 4;
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	size_t ul = (size_t)(at - s), dl = strlen(at + 1);
	if (ul >= sizeof(a->user) || dl >= sizeof(a->domain))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == ':' || *p == ';' || *p == '>' || *p == '<')
			return false;
	memcpy(a->user, s, ul);
	a->user[ul] = '\0';
	for (size_t i = 0; i <= dl; i++)
		a->domain[i] = (char)tolower((unsigned char)at[1 + i]);
	return true;
}

/* "md5,sha256,sha512-256" (also the RFC names) -> AUTH_ALG_BIT mask; 0 on error. */
static unsigned algs_parse(const char *list)
{
	unsigned mask = 0;
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ',');
		struct slice t = slice_trim((struct slice){ p, e ? (size_t)(e - p) : strlen(p) });
		enum auth_alg a;
		bool sess = false;
		bool ok = auth_alg_parse(t, &a, &sess) == 0 && !sess;
		for (int i = 0; !ok && i < AUTH_ALG__COUNT; i++) {
			char alt[32];
			snprintf(alt, sizeof(alt), "%s", auth_alg_key((enum auth_alg)i));
			if (slice_eq_cstr_ci(t, alt)) {
				a = (enum auth_alg)i;
				ok = true;
			}
			for (char *q = alt; *q; q++)
				if (*q == '_')
					*q = '-';
			if (!ok && slice_eq_cstr_ci(t, alt)) {
				a = (enum auth_alg)i;
				ok = true;
			}
		}
		if (!ok) {
			fprintf(stderr, "sipsctl: unknown algorithm '%.*s' (md5, sha256, sha512-256)\n",
				(int)t.len, t.p);
			return 0;
		}
		mask |= AUTH_ALG_BIT(a);
		p = e ? e + 1 : p + strlen(p);
	}
	return mask;
}

/* ---- password input ---- */

static struct termios saved_tio;
static volatile sig_atomic_t echo_off;

static void restore_echo(void)
{
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
		echo_off = 0;
	}
}

static void on_signal(int sig)
{
	restore_echo();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* One line without its line end; false on EOF, error or a line too long. */
static bool read_line(char *buf, size_t sz)
{
	if (!fgets(buf, (int)sz, stdin))
		return false;
	size_t n = strlen(buf);
	if (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(stdin))
		return false; /* longer than the buffer */
	if (n && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return true;
}

static bool prompt(const char *text, char *buf, size_t sz)
{
	fputs(text, stderr);
	fflush(stderr);
	struct termios t = saved_tio;
	t.c_lflag &= (tcflag_t)~ECHO;
	t.c_lflag |= ECHONL;
	echo_off = 1;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
	bool ok = read_line(buf, sz);
	restore_echo();
	return ok;
}

/* Terminal: asked twice with echo off. Otherwise: one line from stdin (scripts, pipes). */
static int password_read(const char *aor, char *pw, size_t sz)
{
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_tio) == 0) {
		char again[PASSWORD_MAX];
		char text[600];
		snprintf(text, sizeof(text), "Password for %s: ", aor);
		struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, &old_int);
		sigaction(SIGTERM, &sa, &old_term);
		bool ok = prompt(text, pw, sz) && prompt("Retype password: ", again, sizeof(again));
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		bool same = ok && strcmp(pw, again) == 0;
		explicit_bzero(again, sizeof(again));
		if (!ok) {
			fprintf(stderr, "sipsctl: no password read\n");
			return EINVAL;
		}
		if (!same) {
			fprintf(stderr, "sipsctl: passwords do not match\n");
			return EINVAL;
		}
	} else if (!read_line(pw, sz)) {
		fprintf(stderr, "sipsctl: no password on stdin (one line, at most %d bytes)\n", PASSWORD_MAX - 1);
		return EINVAL;
	}
	if (!pw[0]) {
		fprintf(stderr, "sipsctl: empty password refused\n");
		return EINVAL;
	}
	return 0;
}

/* HA1 for each algorithm in mask into ha1[][]; the rest stay empty. */
static int ha1_compute(unsigned mask, const struct aor *a, const char *realm, const char *pw,
		       char ha1[AUTH_ALG__COUNT][AUTH_HEX_MAX])
{
	for (int i = 0; i < AUTH_ALG__COUNT; i++) {
		ha1[i][0] = '\0';
		if (!(mask & AUTH_ALG_BIT(i)))
			continue;
		if (!auth_alg_available((enum auth_alg)i)) {
			fprintf(stderr, "sipsctl: %s is not available from the crypto provider\n",
				auth_alg_name((enum auth_alg)i, false));
			return ENOTSUP;
		}
		int e = auth_ha1((enum auth_alg)i, slice_from_cstr(a->user), slice_from_cstr(realm),
				 slice_from_cstr(pw), ha1[i]);
		if (e)
			return e;
	}
	return 0;
}

/* ---- commands ---- */

struct opts {
	const char *realm;
	const char *cert;
	unsigned algs;
	bool algs_given, no_md5, disabled, no_cert, json;
};

enum { O_NO_MD5 = 256, O_ALGS, O_REALM, O_CERT, O_NO_CERT, O_DISABLED, O_JSON, O_HELP };

static const struct option long_opts[] = {
	{ "no-md5", no_argument, NULL, O_NO_MD5 },
	{ "algorithms", required_argument, NULL, O_ALGS },
	{ "realm", required_argument, NULL, O_REALM },
	{ "cert-identity", required_argument, NULL, O_CERT },
	{ "no-cert-identity", no_argument, NULL, O_NO_CERT },
	{ "disabled", no_argument, NULL, O_DISABLED },
	{ "json", no_argument, NULL, O_JSON },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

static void user_usage(FILE *f)
{
	fprintf(f,
		"usage: sipsctl [-c CONFIG | --store FILE] user COMMAND ...\n"
		"\n"
		"  add USER@DOMAIN      new user; password from the terminal or one line of stdin\n"
		"      --realm REALM              digest realm (default: DOMAIN)\n"
		"      --algorithms LIST          md5,sha256,sha512-256 (default: all)\n"
		"      --no-md5                   no MD5 HA1 stored: MD5 never offered nor accepted\n"
		"      --cert-identity ID         e.g. sip:alice@example.com, for certificate auth\n"
		"      --disabled                 create disabled\n"
		"  import               'USER@DOMAIN PASSWORD' lines on stdin (--realm, --algorithms, --no-md5)\n"
		"  passwd USER@DOMAIN   new password (keeps the algorithms unless --algorithms/--no-md5;\n"
		"                       --realm changes the realm)\n"
		"  del USER@DOMAIN\n"
		"  enable USER@DOMAIN | disable USER@DOMAIN\n"
		"  set USER@DOMAIN --cert-identity ID | --no-cert-identity\n"
		"  list [--json]        users, realms, algorithms, state, certificate identity\n");
}

/* Parses options of a command; argv[0] = the command. Sets *aor from the one positional. */
static int parse(int argc, char **argv, struct opts *o, const char **aor, bool want_aor, const char *allowed)
{
	memset(o, 0, sizeof(*o));
	o->algs = AUTH_ALG_ALL;
	optind = 0;
	int c;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		const char *name = NULL;
		for (const struct option *lo = long_opts; lo->name; lo++)
			if (lo->val == c)
				name = lo->name;
		if (c == O_HELP) {
			user_usage(stdout);
			return -1;
		}
		if (c == '?' || !name || !strstr(allowed, name)) {
			if (name)
				fprintf(stderr, "sipsctl: --%s does not apply to 'user %s'\n", name, argv[0]);
			user_usage(stderr);
			return SIPSCTL_USAGE;
		}
		switch (c) {
		case O_NO_MD5: o->no_md5 = true; break;
		case O_ALGS:
			if (!(o->algs = algs_parse(optarg)))
				return SIPSCTL_USAGE;
			o->algs_given = true;
			break;
		case O_REALM: o->realm = optarg; break;
		case O_CERT: o->cert = optarg; break;
		case O_NO_CERT: o->no_cert = true; break;
		case O_DISABLED: o->disabled = true; break;
		case O_JSON: o->json = true; break;
		}
	}
	int npos = argc - optind;
	if (want_aor ? npos != 1 : npos != 0) {
		fprintf(stderr, want_aor ? "sipsctl: 'user %s' needs one USER@DOMAIN\n"
					 : "sipsctl: 'user %s' takes no argument\n", argv[0]);
		return SIPSCTL_USAGE;
	}
	if (want_aor)
		*aor = argv[optind];
	if (o->no_md5)
		o->algs &= ~AUTH_ALG_BIT(AUTH_ALG_MD5);
	if (o->realm && (!o->realm[0] || strlen(o->realm) >= NAME_MAX_)) {
		fprintf(stderr, "sipsctl: bad realm\n");
		return SIPSCTL_USAGE;
	}
	return 0;
}

static unsigned algs_of(const struct store_user *u)
{
	unsigned m = 0;
	for (int i = 0; i < STORE_HA1_COUNT; i++)
		if (u->ha1[i].len)
			m |= AUTH_ALG_BIT(i);
	return m;
}

static int get_aor(const char *text, struct aor *a)
{
	if (!aor_parse(text, a)) {
		fprintf(stderr, "sipsctl: '%s' is not USER@DOMAIN\n", text);
		return SIPSCTL_USAGE;
	}
	return 0;
}

/* add and passwd: read the password, compute HA1s, write. */
static int set_password(struct sipsctl *ctl, int argc, char **argv, bool add)
{
	struct opts o;
	const char *text = NULL;
	int rc = parse(argc, argv, &o, &text, true,
		       add ? "no-md5 algorithms realm cert-identity disabled" : "no-md5 algorithms realm");
	if (rc)
		return rc < 0 ? SIPSCTL_OK : rc;
	struct aor a;
	if ((rc = get_aor(text, &a)))
		return rc;
	struct store *s = NULL;
	if (sipsctl_store(ctl, &s))
		return SIPSCTL_FAIL;
	struct store_user *old = NULL;
	int e = store_user_get(s, slice_from_cstr(a.user), slice_from_cstr(a.domain), &old);
	if (add && e == 0) {
		fprintf(stderr, "sipsctl: %s@%s exists (use 'user passwd')\n", a.user, a.domain);
		mem_deref(old);
		return SIPSCTL_FAIL;
	}
	if (!add && e) {
		fprintf(stderr, "sipsctl: %s@%s: %s\n", a.user, a.domain, e == ENOENT ? "no such user" : strerror(e));
		return SIPSCTL_FAIL;
	}
	if (add && e != ENOENT) {
		fprintf(stderr, "sipsctl: %s@%s: %s\n", a.user, a.domain, strerror(e));
		return SIPSCTL_FAIL;
	}
	char realm[NAME_MAX_];
	if (o.realm)
		snprintf(realm, sizeof(realm), "%s", o.realm);
	else if (old)
		slice_copy(old->realm, realm, sizeof(realm));
	else
		snprintf(realm, sizeof(realm), "%s", a.domain);
	unsigned algs = o.algs;
	if (old && !o.algs_given) {
		algs = algs_of(old);
		if (!algs)
			algs = AUTH_ALG_ALL;
		if (o.no_md5)
			algs &= ~AUTH_ALG_BIT(AUTH_ALG_MD5);
	}
	if (!algs) {
		fprintf(stderr, "sipsctl: no algorithm left\n");
		mem_deref(old);
		return SIPSCTL_USAGE;
	}

	char pw[PASSWORD_MAX];
	char aortext[2 * NAME_MAX_ + 2];
	snprintf(aortext, sizeof(aortext), "%s@%s", a.user, a.domain);
	char ha1[AUTH_ALG__COUNT][AUTH_HEX_MAX];
	e = password_read(aortext, pw, sizeof(pw));
	if (!e)
		e = ha1_compute(algs, &a, realm, pw, ha1);
	explicit_bzero(pw, sizeof(pw));
	if (!e) {
		struct store_user u = {
			.user = slice_from_cstr(a.user),
			.domain = slice_from_cstr(a.domain),
			.realm = slice_from_cstr(realm),
			.enabled = old ? old->enabled : !o.disabled,
			.cert_identity = old ? old->cert_identity : slice_from_cstr(o.cert),
			.updated = (int64_t)time(NULL),
		};
		for (int i = 0; i < STORE_HA1_COUNT; i++)
			u.ha1[i] = slice_from_cstr(ha1[i]);
		e = store_user_put(s, &u);
		if (e)
			fprintf(stderr, "sipsctl: cannot write %s: %s\n", aortext, strerror(e));
	}
	explicit_bzero(ha1, sizeof(ha1));
	mem_deref(old);
	if (e)
		return SIPSCTL_FAIL;
	fprintf(stderr, "%s %s (realm %s)\n", add ? "added" : "password changed for", aortext, realm);
	return SIPSCTL_OK;
}

static int cmd_add(struct sipsctl *ctl, int argc, char **argv)
{
	return set_password(ctl, argc, argv, true);
}

/* import: "USER@DOMAIN PASSWORD" per line on stdin, each added or replaced (labs, benchmarks:
 * thousands of users without a process each). Passwords never come from argv here either. */
static int cmd_import(struct sipsctl *ctl, int argc, char **argv)
{
	struct opts o;
	const char *none = NULL;
	int rc = parse(argc, argv, &o, &none, false, "no-md5 algorithms realm");
	if (rc)
		return rc < 0 ? SIPSCTL_OK : rc;
	struct store *s = NULL;
	if (sipsctl_store(ctl, &s))
		return SIPSCTL_FAIL;
	char line[PASSWORD_MAX + 2 * NAME_MAX_ + 8];
	unsigned n = 0, lineno = 0;
	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		char *sp = strchr(line, ' ');
		struct aor a;
		if (!sp || !sp[1]) {
			fprintf(stderr, "sipsctl: stdin:%u: expected 'USER@DOMAIN PASSWORD'\n", lineno);
			explicit_bzero(line, sizeof(line));
			return SIPSCTL_USAGE;
		}
		*sp = '\0';
		if (get_aor(line, &a)) {
			explicit_bzero(line, sizeof(line));
			return SIPSCTL_USAGE;
		}
		char realm[NAME_MAX_];
		snprintf(realm, sizeof(realm), "%s", o.realm ? o.realm : a.domain);
		char ha1[AUTH_ALG__COUNT][AUTH_HEX_MAX];
		int e = ha1_compute(o.algs, &a, realm, sp + 1, ha1);
		explicit_bzero(line, sizeof(line));
		if (!e) {
			struct store_user u = {
				.user = slice_from_cstr(a.user),
				.domain = slice_from_cstr(a.domain),
				.realm = slice_from_cstr(realm),
				.enabled = true,
				.updated = (int64_t)time(NULL),
			};
			for (int i = 0; i < STORE_HA1_COUNT; i++)
				u.ha1[i] = slice_from_cstr(ha1[i]);
			e = store_user_put(s, &u);
		}
		explicit_bzero(ha1, sizeof(ha1));
		if (e) {
			fprintf(stderr, "sipsctl: stdin:%u: %s@%s: %s\n", lineno, a.user, a.domain, strerror(e));
			return SIPSCTL_FAIL;
		}
		n++;
	}
	fprintf(stderr, "imported %u users\n", n);
	return SIPSCTL_OK;
}

static int cmd_passwd(struct sipsctl *ctl, int argc, char **argv)
{
	return set_password(ctl, argc, argv, false);
}

static int cmd_del(struct sipsctl *ctl, int argc, char **argv)
{
	struct opts o;
	const char *text = NULL;
	struct aor a;
	int rc = parse(argc, argv, &o, &text, true, "");
	if (rc || (rc = get_aor(text, &a)))
		return rc < 0 ? SIPSCTL_OK : rc;
	struct store *s = NULL;
	if (sipsctl_store(ctl, &s))
		return SIPSCTL_FAIL;
	int e = store_user_del(s, slice_from_cstr(a.user), slice_from_cstr(a.domain));
	if (e) {
		fprintf(stderr, "sipsctl: %s@%s: %s\n", a.user, a.domain, e == ENOENT ? "no such user" : strerror(e));
		return SIPSCTL_FAIL;
	}
	fprintf(stderr, "deleted %s@%s\n", a.user, a.domain);
	return SIPSCTL_OK;
}

/* enable, disable, set: change attributes, keep the HA1s. */
static int modify(struct sipsctl *ctl, int argc, char **argv, int enable)
{
	struct opts o;
	const char *text = NULL;
	struct aor a;
	int rc = parse(argc, argv, &o, &text, true, enable < 0 ? "cert-identity no-cert-identity" : "");
	if (rc || (rc = get_aor(text, &a)))
		return rc < 0 ? SIPSCTL_OK : rc;
	if (enable < 0 && !o.cert == !o.no_cert) {
		fprintf(stderr, "sipsctl: 'user set' needs --cert-identity ID or --no-cert-identity\n");
		return SIPSCTL_USAGE;
	}
	struct store *s = NULL;
	if (sipsctl_store(ctl, &s))
		return SIPSCTL_FAIL;
	struct store_user *u = NULL;
	int e = store_user_get(s, slice_from_cstr(a.user), slice_from_cstr(a.domain), &u);
	if (!e) {
		struct store_user n = *u;
		if (enable >= 0)
			n.enabled = enable != 0;
		else
			n.cert_identity = o.no_cert ? (struct slice){ NULL, 0 } : slice_from_cstr(o.cert);
		n.updated = (int64_t)time(NULL);
		e = store_user_put(s, &n);
	}
	mem_deref(u);
	if (e) {
		fprintf(stderr, "sipsctl: %s@%s: %s\n", a.user, a.domain, e == ENOENT ? "no such user" : strerror(e));
		return SIPSCTL_FAIL;
	}
	return SIPSCTL_OK;
}

static int cmd_enable(struct sipsctl *ctl, int argc, char **argv)
{
	return modify(ctl, argc, argv, 1);
}

static int cmd_disable(struct sipsctl *ctl, int argc, char **argv)
{
	return modify(ctl, argc, argv, 0);
}

static int cmd_set(struct sipsctl *ctl, int argc, char **argv)
{
	return modify(ctl, argc, argv, -1);
}

/* Algorithms strongest first, as they are offered (RFC 8760 2.4). */
static void algs_text(const struct store_user *u, char *buf, size_t sz, bool json)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = AUTH_ALG__COUNT - 1; i >= 0; i--) {
		if (!u->ha1[i].len)
			continue;
		int w = snprintf(buf + n, sz - n, json ? "%s\"%s\"" : "%s%s", n ? "," : "",
				 auth_alg_name((enum auth_alg)i, false));
		if (w < 0 || (size_t)w >= sz - n)
			break;
		n += (size_t)w;
	}
	if (!n && !json)
		snprintf(buf, sz, "-");
}

static void json_str(FILE *f, struct slice s)
{
	fputc('"', f);
	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static int cmd_list(struct sipsctl *ctl, int argc, char **argv)
{
	struct opts o;
	int rc = parse(argc, argv, &o, NULL, false, "json");
	if (rc)
		return rc < 0 ? SIPSCTL_OK : rc;
	struct store *s = NULL;
	if (sipsctl_store(ctl, &s))
		return SIPSCTL_FAIL;
	struct store_users *l = NULL;
	int e = store_user_list(s, &l);
	if (e) {
		fprintf(stderr, "sipsctl: cannot list users: %s\n", strerror(e));
		return SIPSCTL_FAIL;
	}
	char algs[64];
	if (o.json) {
		fputs("[", stdout);
		for (size_t i = 0; i < l->n; i++) {
			const struct store_user *u = l->v[i];
			algs_text(u, algs, sizeof(algs), true);
			fputs(i ? ",\n {" : "\n {", stdout);
			fputs("\"user\": ", stdout);
			json_str(stdout, u->user);
			fputs(", \"domain\": ", stdout);
			json_str(stdout, u->domain);
			fputs(", \"realm\": ", stdout);
			json_str(stdout, u->realm);
			printf(", \"algorithms\": [%s], \"enabled\": %s, \"cert_identity\": ", algs,
			       u->enabled ? "true" : "false");
			if (u->cert_identity.len)
				json_str(stdout, u->cert_identity);
			else
				fputs("null", stdout);
			printf(", \"updated\": %lld}", (long long)u->updated);
		}
		fputs(l->n ? "\n]\n" : "]\n", stdout);
		mem_deref(l);
		return SIPSCTL_OK;
	}
	/* aligned table: widths from the data */
	int w_user = 4, w_realm = 5, w_algs = 10;
	for (size_t i = 0; i < l->n; i++) {
		const struct store_user *u = l->v[i];
		int uw = (int)(u->user.len + 1 + u->domain.len);
		algs_text(u, algs, sizeof(algs), false);
		if (uw > w_user)
			w_user = uw;
		if ((int)u->realm.len > w_realm)
			w_realm = (int)u->realm.len;
		if ((int)strlen(algs) > w_algs)
			w_algs = (int)strlen(algs);
	}
	printf("%-*s  %-*s  %-*s  %-7s  %s\n", w_user, "USER", w_realm, "REALM", w_algs, "ALGORITHMS",
	       "ENABLED", "CERT IDENTITY");
	for (size_t i = 0; i < l->n; i++) {
		const struct store_user *u = l->v[i];
		char who[2 * NAME_MAX_ + 2];
		snprintf(who, sizeof(who), "%.*s@%.*s", (int)u->user.len, u->user.p, (int)u->domain.len,
			 u->domain.p);
		algs_text(u, algs, sizeof(algs), false);
		printf("%-*s  %-*.*s  %-*s  %-7s  %.*s\n", w_user, who, w_realm, (int)u->realm.len, u->realm.p,
		       w_algs, algs, u->enabled ? "yes" : "no",
		       (int)(u->cert_identity.len ? u->cert_identity.len : 1),
		       u->cert_identity.len ? u->cert_identity.p : "-");
	}
	mem_deref(l);
	return SIPSCTL_OK;
}

struct command {
	const char *name;
	int (*run)(struct sipsctl *ctl, int argc, char **argv);
};

static const struct command commands[] = {
	{ "add", cmd_add },	    { "import", cmd_import }, { "passwd", cmd_passwd }, { "del", cmd_del }, { "enable", cmd_enable },
	{ "disable", cmd_disable }, { "set", cmd_set },	      { "list", cmd_list },
};

static int user_run(struct sipsctl *ctl, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		user_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? SIPSCTL_USAGE : SIPSCTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(ctl, argc - 1, argv + 1);
	fprintf(stderr, "sipsctl: unknown command 'user %s'\n", argv[1]);
	user_usage(stderr);
	return SIPSCTL_USAGE;
}

const struct sipsctl_group sipsctl_group_user = {
	.name = "user",
	.summary = "digest users: add, passwd, del, enable, disable, set, list",
	.run = user_run,
	.usage = user_usage,
};
