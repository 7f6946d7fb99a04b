/* Config loader: every value type, every error class with its line, defaults, and the docs.
 * Each test works in its own mkdtemp() directory holding dummy PEM files, because path keys
 * must name files that exist. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/mem.h"
#include "conf/conf.h"
#include "conf/conf_value.h"

struct fx {
	char dir[PATH_MAX];  /* as created */
	char rdir[PATH_MAX]; /* realpath, what conf resolves against */
	char conf[PATH_MAX];
};

static void touch(const struct fx *fx, const char *name)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", fx->dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs("-----BEGIN CERTIFICATE-----\ndummy\n-----END CERTIFICATE-----\n", f);
	fclose(f);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	const char *tmp = getenv("TMPDIR");
	snprintf(fx->dir, sizeof(fx->dir), "%s/sipsd-conf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(fx->dir));
	assert_non_null(realpath(fx->dir, fx->rdir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/sipsd.conf", fx->dir);
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/cadir", fx->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/sub", fx->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	static const char *const files[] = { "cert.pem",  "key.pem",  "ca.pem",     "ca2.pem",
					     "crl.pem",   "crl2.pem", "pass.txt",   "sub/rel.pem",
					     "img.pem",   "img.key",  "CAList.pem", "publickey.pem" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		touch(fx, files[i]);
	*state = fx;
	return 0;
}

static int rm_h(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	nftw(fx->dir, rm_h, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void write_conf(const struct fx *fx, const char *text)
{
	FILE *f = fopen(fx->conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int load(const struct fx *fx, const char *text, struct conf **c, struct conf_error *err)
{
	write_conf(fx, text);
	*c = NULL;
	int rc = conf_load(fx->conf, c, err);
	if (rc == 0)
		assert_non_null(*c);
	else
		assert_null(*c);
	return rc;
}

static struct conf *load_ok(const struct fx *fx, const char *text)
{
	struct conf *c;
	struct conf_error err;
	int rc = load(fx, text, &c, &err);
	if (rc)
		conf_error_print(&err, stderr);
	assert_int_equal(rc, 0);
	return c;
}

/* "<dir>/<name>" as conf resolves it. */
static const char *rpath(const struct fx *fx, const char *name)
{
	static char buf[PATH_MAX * 2];
	snprintf(buf, sizeof(buf), "%s/%s", fx->rdir, name);
	return buf;
}

static const char *const tls_ok = "[tls:main]\n"
				  "certificate = cert.pem\n"
				  "private_key = key.pem\n"
				  "ca_list = ca.pem\n";

/* ---- good files ---- */

static void test_full_file(void **state)
{
	struct fx *fx = *state;
	char text[8192];
	snprintf(text, sizeof(text),
		 "; complete file, every key given\n"
		 "[global]\n"
		 "workers = 4\n"
		 "domains = example.com, sip.example.net\n"
		 "require_client_certificate = no\n"
		 "shutdown_timeout = 10s\n"
		 "max_message_size = 32768\n"
		 "max_headers = 128\n"
		 "max_line_length = 4096\n"
		 "max_uri_length = 2048\n"
		 "max_via = 16\n"
		 "\n"
		 "[log]\n"
		 "level = debug\n"
		 "target = syslog\n"
		 "[store]\n"
		 "path = sub/state.db\n"
		 "[mgmt]\n"
		 "socket = /run/sipsd/other.sock\n"
		 "listen = 127.0.0.1:8443\n"
		 "tls = main\n"
		 "[tls:main]\n"
		 "certificate = cert.pem\n"
		 "private_key = %s/key.pem\n"
		 "private_key_password_file = pass.txt\n"
		 "ca_list = ca.pem, ca2.pem\n"
		 "ca_dir = cadir\n"
		 "crl = crl.pem,crl2.pem\n"
		 "verify_depth = 6\n"
		 "min_version = tls1.3\n"
		 "max_version = TLS1.3\n"
		 "ciphers = ECDHE+AESGCM\n"
		 "ciphersuites = TLS_AES_256_GCM_SHA384\n"
		 "groups = P-256\n"
		 "session_cache = no\n"
		 "session_tickets = yes\n"
		 "session_timeout = 2h\n"
		 "keylog_file = sub/keys.log\n"
		 "require_eku = no\n"
		 "allow_wildcards = yes\n"
		 "sni = sip.example.com, example.com\n"
		 "[tls:img]\n"
		 "certificate = publickey.pem\n"
		 "private_key = img.key\n"
		 "ca_list = CAList.pem\n"
		 "ciphers = AES128-SHA\n"
		 "[interface:public]\n"
		 "listen = tls:192.0.2.10:5061, tcp:[2001:db8::10]:5060\n"
		 "listen = udp:0.0.0.0\n"
		 "tls = main\n"
		 "mutual_auth = optional\n"
		 "idle_timeout = 5m\n"
		 "[peer:core]\n"
		 "uri = sips:core1.example.com:5061, sips:core2.example.com;transport=tls\n"
		 "tls = img\n"
		 "identity = core.example.com\n"
		 "persistent = yes\n"
		 "local_port = 16000\n"
		 "keepalive = 0\n",
		 fx->dir);
	struct conf *c = load_ok(fx, text);

	assert_string_equal(c->path, fx->conf);
	assert_string_equal(c->dir, fx->rdir);
	assert_int_equal(c->global.workers, 4);
	assert_int_equal(c->global.domains.n, 2);
	assert_string_equal(c->global.domains.v[0], "example.com");
	assert_string_equal(c->global.domains.v[1], "sip.example.net");
	assert_false(c->global.require_client_certificate);
	assert_int_equal(c->global.shutdown_timeout, 10);
	assert_int_equal(c->global.limits.max_message_size, 32768);
	assert_int_equal(c->global.limits.max_headers, 128);
	assert_int_equal(c->global.limits.max_line_length, 4096);
	assert_int_equal(c->global.limits.max_uri_length, 2048);
	assert_int_equal(c->global.limits.max_via, 16);
	assert_int_equal(c->log.level, LOG_LVL_DEBUG);
	assert_int_equal(c->log.target, LOG_TO_SYSLOG);
	assert_string_equal(c->store.path, rpath(fx, "sub/state.db"));
	assert_string_equal(c->mgmt.socket, "/run/sipsd/other.sock");
	assert_string_equal(c->mgmt.listen, "127.0.0.1:8443");
	assert_string_equal(c->mgmt.listen_addr.host, "127.0.0.1");
	assert_int_equal(c->mgmt.listen_addr.port, 8443);
	assert_int_equal(c->mgmt.listen_line, 20);
	assert_string_equal(c->mgmt.tls, "main");
	assert_int_equal(c->mgmt.tls_line, 21);

	assert_int_equal(c->ntls, 2);
	const struct conf_tls *t = conf_tls_find(c, "main");
	assert_ptr_equal(t, &c->tls[0]);
	assert_string_equal(t->name, "main");
	assert_int_equal(t->line, 22);
	assert_string_equal(t->certificate, rpath(fx, "cert.pem"));
	assert_int_equal(t->certificate_line, 23);
	char abs[PATH_MAX * 2];
	snprintf(abs, sizeof(abs), "%s/key.pem", fx->dir); /* absolute paths kept as written */
	assert_string_equal(t->private_key, abs);
	assert_int_equal(t->private_key_line, 24);
	assert_string_equal(t->private_key_password_file, rpath(fx, "pass.txt"));
	assert_int_equal(t->private_key_password_file_line, 25);
	assert_int_equal(t->ca_list.n, 2);
	assert_string_equal(t->ca_list.v[0], rpath(fx, "ca.pem"));
	assert_string_equal(t->ca_list.v[1], rpath(fx, "ca2.pem"));
	assert_int_equal(t->ca_list_line, 26);
	assert_string_equal(t->ca_dir, rpath(fx, "cadir"));
	assert_int_equal(t->ca_dir_line, 27);
	assert_int_equal(t->crl.n, 2);
	assert_string_equal(t->crl.v[0], rpath(fx, "crl.pem"));
	assert_string_equal(t->crl.v[1], rpath(fx, "crl2.pem"));
	assert_int_equal(t->crl_line, 28);
	assert_int_equal(t->verify_depth, 6);
	assert_int_equal(t->min_version, CONF_TLS1_3);
	assert_int_equal(t->max_version, CONF_TLS1_3);
	assert_string_equal(t->ciphers, "ECDHE+AESGCM");
	assert_int_equal(t->ciphers_line, 32);
	assert_string_equal(t->ciphersuites, "TLS_AES_256_GCM_SHA384");
	assert_int_equal(t->ciphersuites_line, 33);
	assert_string_equal(t->groups, "P-256");
	assert_int_equal(t->groups_line, 34);
	assert_false(t->session_cache);
	assert_true(t->session_tickets);
	assert_int_equal(t->session_timeout, 7200);
	assert_string_equal(t->keylog_file, rpath(fx, "sub/keys.log"));
	assert_int_equal(t->keylog_file_line, 38);
	assert_false(t->require_eku);
	assert_true(t->allow_wildcards);
	assert_int_equal(t->sni.n, 2);
	assert_string_equal(t->sni.v[0], "sip.example.com");
	assert_string_equal(t->sni.v[1], "example.com");

	t = conf_tls_find(c, "img");
	assert_ptr_equal(t, &c->tls[1]);
	assert_string_equal(t->certificate, rpath(fx, "publickey.pem"));
	assert_string_equal(t->ciphers, "AES128-SHA");
	assert_null(conf_tls_find(c, "nope"));
	assert_null(conf_tls_find(c, "MAIN")); /* names are case-sensitive */

	assert_int_equal(c->nifaces, 1);
	const struct conf_interface *ifc = &c->ifaces[0];
	assert_string_equal(ifc->name, "public");
	assert_int_equal(ifc->line, 47);
	assert_int_equal(ifc->nlisten, 3);
	assert_int_equal(ifc->listen[0].transport, CONF_TP_TLS);
	assert_string_equal(ifc->listen[0].host, "192.0.2.10");
	assert_int_equal(ifc->listen[0].port, 5061);
	assert_int_equal(ifc->listen[0].line, 48);
	assert_int_equal(ifc->listen[1].transport, CONF_TP_TCP);
	assert_string_equal(ifc->listen[1].host, "2001:db8::10");
	assert_int_equal(ifc->listen[1].port, 5060);
	assert_int_equal(ifc->listen[2].transport, CONF_TP_UDP);
	assert_string_equal(ifc->listen[2].host, "0.0.0.0");
	assert_int_equal(ifc->listen[2].port, 5060); /* RFC 3261 19.1.2 default */
	assert_int_equal(ifc->listen[2].line, 49);
	assert_string_equal(ifc->tls, "main");
	assert_int_equal(ifc->tls_line, 50);
	assert_int_equal(ifc->mutual_auth, CONF_MA_OPTIONAL);
	assert_false(ifc->mutual_auth_forced);
	assert_int_equal(ifc->idle_timeout, 300);

	assert_int_equal(c->npeers, 1);
	const struct conf_peer *p = &c->peers[0];
	assert_string_equal(p->name, "core");
	assert_int_equal(p->line, 53);
	assert_int_equal(p->uri.n, 2);
	assert_string_equal(p->uri.v[0], "sips:core1.example.com:5061");
	assert_string_equal(p->uri.v[1], "sips:core2.example.com;transport=tls");
	assert_int_equal(p->uri_line, 54);
	assert_string_equal(p->tls, "img");
	assert_int_equal(p->tls_line, 55);
	assert_string_equal(p->identity, "core.example.com");
	assert_true(p->persistent);
	assert_int_equal(p->local_port, 16000);
	assert_int_equal(p->keepalive, 0);

	/* Refcounted: a holder keeps it alive across the loader's deref. */
	assert_ptr_equal(mem_ref(c), c);
	assert_int_equal(mem_nrefs(c), 2);
	mem_deref(c);
	assert_int_equal(mem_nrefs(c), 1);
	mem_deref(c);
}

static void test_defaults(void **state)
{
	struct fx *fx = *state;
	struct conf *c = load_ok(fx, "");
	assert_int_equal(c->global.workers, 0);
	assert_int_equal(c->global.domains.n, 0);
	assert_false(c->global.require_client_certificate);
	assert_int_equal(c->global.shutdown_timeout, 5);
	assert_int_equal(c->global.limits.max_message_size, 65536);
	assert_int_equal(c->global.limits.max_headers, 256);
	assert_int_equal(c->global.limits.max_line_length, 8192);
	assert_int_equal(c->global.limits.max_uri_length, 4096);
	assert_int_equal(c->global.limits.max_via, 32);
	assert_int_equal(c->log.level, LOG_LVL_INFO);
	assert_int_equal(c->log.target, LOG_TO_STDERR);
	assert_string_equal(c->store.path, rpath(fx, "sipsd.db"));
	assert_string_equal(c->mgmt.socket, "/run/sipsd/sipsd.sock");
	assert_null(c->mgmt.listen);
	assert_null(c->mgmt.tls);
	assert_int_equal(c->ntls + c->nifaces + c->npeers, 0);
	mem_deref(c);

	char text[1024];
	snprintf(text, sizeof(text),
		 "%s[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = main\n"
		 "[peer:p]\nuri = sip:192.0.2.1\n",
		 tls_ok);
	c = load_ok(fx, text);
	const struct conf_tls *t = &c->tls[0];
	assert_null(t->private_key_password_file);
	assert_null(t->ca_dir);
	assert_int_equal(t->crl.n, 0);
	assert_int_equal(t->verify_depth, 4);
	assert_int_equal(t->min_version, CONF_TLS1_2);
	assert_int_equal(t->max_version, CONF_TLS1_3);
	assert_string_equal(t->ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!eNULL:!MD5:!RC4:!3DES:!EXPORT");
	assert_string_equal(t->ciphersuites,
			    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	assert_string_equal(t->groups, "X25519:P-256:P-384");
	assert_int_equal(t->ciphers_line, 0);
	assert_true(t->session_cache);
	assert_false(t->session_tickets);
	assert_int_equal(t->session_timeout, 3600);
	assert_null(t->keylog_file);
	assert_true(t->require_eku);
	assert_false(t->allow_wildcards);
	assert_int_equal(t->sni.n, 0);
	const struct conf_interface *ifc = &c->ifaces[0];
	assert_int_equal(ifc->mutual_auth, CONF_MA_REQUIRED);
	assert_int_equal(ifc->idle_timeout, 3600);
	const struct conf_peer *p = &c->peers[0];
	assert_null(p->tls);
	assert_null(p->identity);
	assert_false(p->persistent);
	assert_int_equal(p->local_port, 0);
	assert_int_equal(p->keepalive, 30);
	mem_deref(c);
}

static void test_require_client_certificate(void **state)
{
	struct fx *fx = *state;
	char text[1024];
	snprintf(text, sizeof(text),
		 "[global]\nrequire_client_certificate = yes\n%s"
		 "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = main\nmutual_auth = off\n"
		 "[interface:b]\nlisten = tls:127.0.0.2:5061\ntls = main\nmutual_auth = optional\n"
		 "[interface:c]\nlisten = tls:127.0.0.3:5061\ntls = main\n",
		 tls_ok);
	struct conf *c = load_ok(fx, text);
	assert_true(c->global.require_client_certificate);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(c->ifaces[i].mutual_auth, CONF_MA_REQUIRED);
	assert_true(c->ifaces[0].mutual_auth_forced);
	assert_true(c->ifaces[1].mutual_auth_forced);
	assert_false(c->ifaces[2].mutual_auth_forced); /* was required already */
	mem_deref(c);

	/* Without it, each interface keeps its own setting. */
	c = load_ok(fx, text + strlen("[global]\nrequire_client_certificate = yes\n"));
	assert_int_equal(c->ifaces[0].mutual_auth, CONF_MA_OFF);
	assert_int_equal(c->ifaces[1].mutual_auth, CONF_MA_OPTIONAL);
	assert_false(c->ifaces[0].mutual_auth_forced);
	mem_deref(c);
}

static void test_bools(void **state)
{
	struct fx *fx = *state;
	static const struct {
		const char *text;
		bool v;
	} cases[] = {
		{ "yes", true },  { "no", false }, { "true", true },  { "false", false },
		{ "on", true },   { "off", false }, { "1", true },     { "0", false },
		{ "YES", true },  { "Off", false }, { "True", true },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "[global]\nrequire_client_certificate = %s\n", cases[i].text);
		struct conf *c = load_ok(fx, text);
		assert_int_equal(c->global.require_client_certificate, cases[i].v);
		mem_deref(c);
	}
	bool b;
	assert_non_null(conf_value_bool("yess", &b));
	assert_non_null(conf_value_bool("", &b));
	assert_non_null(conf_value_bool("2", &b));
}

static void test_relative_paths(void **state)
{
	struct fx *fx = *state;
	struct conf *c = load_ok(fx, "[tls:a]\ncertificate = sub/rel.pem\nprivate_key = ./key.pem\n"
				     "ca_list = sub/../ca.pem\nca_dir = cadir\n"
				     "[store]\npath = sub/x.db\n[mgmt]\nsocket = ctl.sock\n");
	assert_string_equal(c->tls[0].certificate, rpath(fx, "sub/rel.pem"));
	assert_string_equal(c->tls[0].private_key, rpath(fx, "./key.pem"));
	assert_string_equal(c->tls[0].ca_list.v[0], rpath(fx, "sub/../ca.pem"));
	assert_string_equal(c->tls[0].ca_dir, rpath(fx, "cadir"));
	assert_string_equal(c->store.path, rpath(fx, "sub/x.db"));
	assert_string_equal(c->mgmt.socket, rpath(fx, "ctl.sock"));
	mem_deref(c);

	/* A config path given relative to the cwd still yields absolute paths. */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	struct conf_error err;
	int rc = conf_load("sipsd.conf", &c, &err);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(c->path, "sipsd.conf");
	assert_string_equal(c->dir, fx->rdir);
	assert_string_equal(c->tls[0].certificate, rpath(fx, "sub/rel.pem"));
	mem_deref(c);
}

static void test_lists(void **state)
{
	struct fx *fx = *state;
	struct conf *c = load_ok(fx, "[global]\ndomains =  a.example ,b.example,   c.example  \n"
				     "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\n"
				     "ca_list = ca.pem ,  ca2.pem\n"
				     "; a list key may repeat: each line appends\n"
				     "ca_list = CAList.pem\n"
				     "crl=crl.pem\n");
	assert_int_equal(c->global.domains.n, 3);
	assert_string_equal(c->global.domains.v[0], "a.example");
	assert_string_equal(c->global.domains.v[1], "b.example");
	assert_string_equal(c->global.domains.v[2], "c.example");
	const struct conf_tls *t = &c->tls[0];
	assert_int_equal(t->ca_list.n, 3);
	assert_string_equal(t->ca_list.v[0], rpath(fx, "ca.pem"));
	assert_string_equal(t->ca_list.v[1], rpath(fx, "ca2.pem"));
	assert_string_equal(t->ca_list.v[2], rpath(fx, "CAList.pem"));
	assert_int_equal(t->ca_list_line, 6); /* first line it was given on */
	assert_int_equal(t->crl.n, 1);
	mem_deref(c);
}

static void test_syntax(void **state)
{
	struct fx *fx = *state;
	/* Comments: ';' or '#' at line start, ';' after a blank inline; indentation, CRLF, BOM,
	 * "key: value" (inih's configparser concession). */
	struct conf *c = load_ok(fx, "\xEF\xBB\xBF# comment\r\n"
				     "; comment\r\n"
				     "[global] ; trailing comment\r\n"
				     "   workers = 3 ; inline comment\r\n"
				     "\tshutdown_timeout: 7\r\n"
				     "[log]\n"
				     "level=warning\n");
	assert_int_equal(c->global.workers, 3);
	assert_int_equal(c->global.shutdown_timeout, 7);
	assert_int_equal(c->log.level, LOG_LVL_WARN);
	mem_deref(c);

	/* '#' is not an inline comment: the value keeps it, and is then wrong. */
	struct conf_error err;
	assert_int_equal(load(fx, "[log]\nlevel = info # x\n", &c, &err), EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "'info # x'"));

	/* A line of 197 characters is fine, 198 is not (inih's buffer). */
	char text[512];
	char dom[256];
	memset(dom, 'a', sizeof(dom));
	size_t pre = strlen("domains = ");
	dom[197 - pre] = '\0';
	snprintf(text, sizeof(text), "[global]\ndomains = %s\n", dom);
	c = load_ok(fx, text);
	assert_int_equal(strlen(c->global.domains.v[0]), 197 - pre);
	mem_deref(c);
	dom[197 - pre] = 'a';
	dom[198 - pre] = '\0';
	snprintf(text, sizeof(text), "[global]\ndomains = %s\n", dom);
	assert_int_equal(load(fx, text, &c, &err), EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.msg, "line too long"));
}

/* The case named in issue 2's acceptance: unknown key at line 7. */
static void test_unknown_key_line_7(void **state)
{
	struct fx *fx = *state;
	struct conf *c;
	struct conf_error err;
	int rc = load(fx,
		      "; sipsd\n"
		      "[global]\n"
		      "workers = 2\n"
		      "\n"
		      "[log]\n"
		      "level = info\n"
		      "foo = bar\n"
		      "target = stderr\n",
		      &c, &err);
	assert_int_equal(rc, EINVAL);
	assert_string_equal(err.file, fx->conf);
	assert_int_equal(err.line, 7);
	assert_string_equal(err.msg, "unknown key 'foo' in [log]");

	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	assert_non_null(f);
	conf_error_print(&err, f);
	fclose(f);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s:7: unknown key 'foo' in [log]\n", fx->conf);
	assert_string_equal(out, want);
	free(out);

	rc = load(fx, "[global]\n\n\n\n\n\nfoo = 1\n", &c, &err);
	assert_int_equal(rc, EINVAL);
	assert_int_equal(err.line, 7);
	assert_string_equal(err.msg, "unknown key 'foo' in [global]");
}

static void test_missing_file(void **state)
{
	struct fx *fx = *state;
	struct conf *c = (struct conf *)&c; /* must stay untouched */
	struct conf *before = c;
	struct conf_error err;
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/nope.conf", fx->dir);
	assert_int_equal(conf_load(p, &c, &err), ENOENT);
	assert_ptr_equal(c, before);
	assert_string_equal(err.file, p);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.msg, "No such file"));

	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	conf_error_print(&err, f);
	fclose(f);
	assert_int_equal(strncmp(out, p, strlen(p)), 0);
	assert_string_equal(out + strlen(p), ": cannot open: No such file or directory\n");
	free(out);

	/* A directory is not a config file. */
	assert_int_equal(conf_load(fx->dir, &c, &err), EINVAL);
	assert_int_equal(err.line, 0);
}

/* Each case marks the line the error belongs to with an inline comment "; <-". */
struct err_case {
	const char *text;
	const char *want[3]; /* substrings of the message */
};

static const struct err_case err_cases[] = {
	/* sections */
	{ "[global]\n[foo] ; <-\n", { "unknown section [foo]" } },
	{ "[Global] ; <-\n", { "unknown section [Global]" } },
	{ "[tls] ; <-\n", { "[tls:NAME]" } },
	{ "[global:x] ; <-\n", { "takes no name" } },
	{ "[tls:a b] ; <-\n", { "bad section name 'a b'" } },
	{ "[tls:a/b] ; <-\n", { "bad section name" } },
	{ "[global ; <-\n", { "without ']'" } },
	{ "[global] x ; <-\n", { "text after section header" } },
	{ "[log]\n[log] ; <-\n", { "duplicate section [log]", "line 1" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\n[tls:a] ; <-\n",
	  { "duplicate section [tls:a]", "first at line 1" } },
	{ "[peer:x]\nuri = sip:a.example\n[interface:x]\nlisten = udp:127.0.0.1\n[peer:x] ; <-\n",
	  { "duplicate section [peer:x]" } },
	/* keys and syntax */
	{ "workers = 1 ; <-\n", { "'workers'", "outside any section" } },
	{ "[global]\nfoo = 1 ; <-\n", { "unknown key 'foo' in [global]" } },
	{ "[tls:a]\ncertificat = cert.pem ; <-\n", { "unknown key 'certificat' in [tls:a]" } },
	{ "[global]\nWorkers = 1 ; <-\n", { "unknown key 'Workers'" } },
	{ "[global]\nworkers = 1\n\nworkers = 2 ; <-\n",
	  { "duplicate key 'workers' in [global]", "first given at line 2" } },
	{ "[global]\nworkers = ; <-\n", { "no value for 'workers'" } },
	{ "[global]\ndomains = a.example\n   b.example ; <-\n", { "continuation lines" } },
	{ "[global]\njust some words ; <-\n", { "expected '[section]' or 'key = value'" } },
	/* values */
	{ "[global]\nworkers = many ; <-\n", { "'workers' in [global]", "not a number" } },
	{ "[global]\nworkers = -1 ; <-\n", { "'workers'", "not a number" } },
	{ "[global]\nworkers = 1025 ; <-\n", { "'workers'", "out of range 0..1024" } },
	{ "[global]\nworkers = 99999999999999999999999 ; <-\n", { "'workers'", "too large" } },
	{ "[global]\nshutdown_timeout = 5x ; <-\n", { "'shutdown_timeout'", "unit" } },
	{ "[global]\nshutdown_timeout = 11m ; <-\n", { "'shutdown_timeout'", "out of range 0..600" } },
	{ "[global]\nmax_via = 0 ; <-\n", { "'max_via'", "out of range 1..256" } },
	{ "[global]\ndomains = a,,b ; <-\n", { "'domains'", "empty item" } },
	{ "[global]\nrequire_client_certificate = maybe ; <-\n",
	  { "'require_client_certificate'", "yes/no" } },
	{ "[log]\nlevel = loud ; <-\n",
	  { "'level' in [log]", "must be one of error, warning, notice, info, debug" } },
	{ "[log]\ntarget = file ; <-\n", { "'target'", "stderr, syslog" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\nmin_version = ssl3 ; <-\n",
	  { "'min_version' in [tls:a]", "tls1.0, tls1.1, tls1.2, tls1.3" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\nsession_timeout = 0 ; <-\n",
	  { "'session_timeout'", "out of range 1..86400" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\nverify_depth = 17 ; <-\n",
	  { "'verify_depth'", "out of range 1..16" } },
	{ "[interface:a]\nlisten = tls:localhost:5061 ; <-\n", { "'listen' in [interface:a]", "IPv4" } },
	{ "[interface:a]\nlisten = sctp:127.0.0.1:5061 ; <-\n", { "'listen'", "udp:, tcp: or tls:" } },
	{ "[interface:a]\nlisten = udp:127.0.0.1:0 ; <-\n", { "'listen'", "port out of range" } },
	{ "[interface:a]\nlisten = udp:127.0.0.1:65536 ; <-\n", { "'listen'", "port out of range" } },
	{ "[interface:a]\nlisten = udp:127.0.0.1:5x ; <-\n", { "'listen'", "port is not a number" } },
	{ "[interface:a]\nlisten = tcp:::1:5060 ; <-\n", { "'listen'", "brackets" } },
	{ "[interface:a]\nlisten = tcp:[::1:5060 ; <-\n", { "'listen'", "']'" } },
	{ "[interface:a]\nlisten = tcp:[127.0.0.1]:5060 ; <-\n", { "'listen'", "not an IPv6" } },
	{ "[interface:a]\nmutual_auth = sometimes ; <-\n",
	  { "'mutual_auth'", "off, optional, required" } },
	{ "[interface:a]\ntls = bad/name ; <-\n", { "'tls' in [interface:a]" } },
	{ "[peer:p]\nuri = sip:x.example\nidentity = x_y.example ; <-\n", { "'identity'", "host name" } },
	{ "[peer:p]\nuri = http://x.example ; <-\n", { "'uri' in [peer:p]", "sip: or sips:" } },
	{ "[peer:p]\nuri = sip:alice@x.example ; <-\n", { "'uri'", "no user part" } },
	{ "[peer:p]\nuri = sip:x.example:0 ; <-\n", { "'uri'", "port" } },
	{ "[peer:p]\nuri = sip:x.example, sip: ; <-\n", { "'uri'", "missing host" } },
	{ "[peer:p]\nuri = sip:x.example\nlocal_port = 65536 ; <-\n", { "'local_port'", "0..65535" } },
	{ "[peer:p]\nuri = sip:x.example\nkeepalive = 2h ; <-\n", { "'keepalive'", "0..3600" } },
	{ "[mgmt]\nlisten = 127.0.0.1 ; <-\n", { "'listen' in [mgmt]", "missing port" } },
	/* files */
	{ "[tls:a]\ncertificate = nope.pem ; <-\n", { "'certificate' in [tls:a]", "No such file" } },
	{ "[tls:a]\ncertificate = cadir ; <-\n", { "'certificate'", "is a directory" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = nope.key ; <-\n",
	  { "'private_key'", "No such file" } },
	{ "[tls:a]\nprivate_key_password_file = nope.txt ; <-\n",
	  { "'private_key_password_file'", "No such file" } },
	{ "[tls:a]\nca_list = ca.pem, nope.pem ; <-\n", { "'ca_list'", "nope.pem", "No such file" } },
	{ "[tls:a]\nca_dir = ca.pem ; <-\n", { "'ca_dir'", "not a directory" } },
	{ "[tls:a]\nca_dir = nodir ; <-\n", { "'ca_dir'", "No such file" } },
	{ "[tls:a]\ncrl = crl.pem\ncrl = nope.pem ; <-\n", { "'crl'", "No such file" } },
	{ "[tls:a]\nkeylog_file = nodir/keys.log ; <-\n", { "'keylog_file'", "does not exist" } },
	{ "[store]\npath = nodir/sipsd.db ; <-\n", { "'path' in [store]", "does not exist" } },
	/* cross-checks */
	{ "[tls:a] ; <-\nprivate_key = key.pem\n", { "[tls:a]", "'certificate'" } },
	{ "[tls:a] ; <-\ncertificate = cert.pem\n", { "[tls:a]", "'private_key'" } },
	{ "[tls:a]\ncertificate = cert.pem\nprivate_key = key.pem\nmax_version = tls1.1 ; <-\n",
	  { "'min_version' tls1.2 is above 'max_version' tls1.1" } },
	{ "[tls:a]\ncertificate = cert.pem\nmin_version = tls1.3\nmax_version = tls1.2 ; <-\n"
	  "private_key = key.pem\n",
	  { "'min_version'" } },
	{ "[tls:a]\ncertificate = cert.pem\nmax_version = tls1.2\nprivate_key = key.pem\n"
	  "min_version = tls1.3 ; <-\n",
	  { "'max_version'" } },
	{ "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = nope ; <-\n",
	  { "'tls' in [interface:a]", "'nope'", "no [tls:nope]" } },
	{ "[peer:p]\nuri = sip:x.example\ntls = nope ; <-\n", { "'tls' in [peer:p]", "no [tls:nope]" } },
	{ "[mgmt]\ntls = nope ; <-\n", { "'tls' in [mgmt]", "no [tls:nope]" } },
	{ "[interface:a]\nlisten = udp:127.0.0.1:5060\nlisten = tls:127.0.0.1:5061 ; <-\n",
	  { "'listen' tls:127.0.0.1:5061 in [interface:a]", "'tls = CONTEXT'" } },
	{ "[interface:a] ; <-\nmutual_auth = off\n", { "[interface:a] has no 'listen'" } },
	{ "[mgmt]\nlisten = 127.0.0.1:8443 ; <-\n", { "'listen' in [mgmt]", "'tls = CONTEXT'" } },
	{ "[peer:p] ; <-\npersistent = yes\n", { "[peer:p] has no 'uri'" } },
	{ "[peer:p]\nuri = sip:a.example, sips:b.example ; <-\n", { "'uri' sips:b.example", "'tls = CONTEXT'" } },
	{ "[peer:p]\nuri = sip:a.example;transport=TLS ; <-\n", { "'uri'", "'tls = CONTEXT'" } },
	{ "[interface:a]\nlisten = tcp:127.0.0.1:5061\n[interface:b]\nlisten = udp:127.0.0.1:5061\n"
	  "listen = tls:0.0.0.0:5061 ; <-\ntls = m\n"
	  "[tls:m]\ncertificate = cert.pem\nprivate_key = key.pem\nca_list = ca.pem\n",
	  { "'listen' tls:0.0.0.0 port 5061 in [interface:b]", "clashes",
	    "tcp:127.0.0.1 in [interface:a] (line 2)" } },
	{ "[interface:a]\nlisten = udp:[::1]:5060, udp:[0::1]:5060 ; <-\n", { "clashes" } },
	{ "[tls:m]\ncertificate = cert.pem\nprivate_key = key.pem\nca_list = ca.pem\n"
	  "[interface:a]\nlisten = tcp:127.0.0.1:8443\n[mgmt]\nlisten = 127.0.0.1:8443 ; <-\ntls = m\n",
	  { "'listen' 127.0.0.1:8443 in [mgmt]", "clashes" } },
};

static void test_errors(void **state)
{
	struct fx *fx = *state;
	for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *ec = &err_cases[i];
		unsigned want_line = 0, line = 1;
		for (const char *q = ec->text; *q; q++) {
			if (*q == '\n')
				line++;
			else if (q[0] == '<' && q[1] == '-')
				want_line = line;
		}
		assert_int_not_equal(want_line, 0);
		struct conf *c;
		struct conf_error err;
		int rc = load(fx, ec->text, &c, &err);
		if (rc != EINVAL || err.line != want_line)
			fprintf(stderr, "case %zu: rc %d, got %s:%u: %s; want line %u\n", i, rc, err.file,
				err.line, err.msg, want_line);
		assert_int_equal(rc, EINVAL);
		assert_int_equal(err.line, want_line);
		assert_string_equal(err.file, fx->conf);
		for (size_t k = 0; k < 3 && ec->want[k]; k++) {
			if (!strstr(err.msg, ec->want[k]))
				fprintf(stderr, "case %zu: '%s' lacks '%s'\n", i, err.msg, ec->want[k]);
			assert_non_null(strstr(err.msg, ec->want[k]));
		}
	}
}

/* Cross-checks that need a valid TLS context around them. */
static void test_tls_cross_checks(void **state)
{
	struct fx *fx = *state;
	struct conf *c;
	struct conf_error err;
	char text[1024];

	/* No trust store, yet client certificates are asked for: at the tls line. */
	snprintf(text, sizeof(text),
		 "[tls:nostore]\ncertificate = cert.pem\nprivate_key = key.pem\n"
		 "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = nostore\n");
	assert_int_equal(load(fx, text, &c, &err), EINVAL);
	assert_int_equal(err.line, 6);
	assert_non_null(strstr(err.msg, "'ca_list' or 'ca_dir'"));

	/* ... fine with mutual_auth = off, unless require_client_certificate forces it on. */
	snprintf(text, sizeof(text),
		 "[tls:nostore]\ncertificate = cert.pem\nprivate_key = key.pem\n"
		 "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = nostore\nmutual_auth = off\n");
	c = load_ok(fx, text);
	mem_deref(c);
	snprintf(text, sizeof(text),
		 "[global]\nrequire_client_certificate = yes\n"
		 "[tls:nostore]\ncertificate = cert.pem\nprivate_key = key.pem\n"
		 "[interface:a]\nlisten = tls:127.0.0.1:5061\ntls = nostore\nmutual_auth = off\n");
	assert_int_equal(load(fx, text, &c, &err), EINVAL);
	assert_int_equal(err.line, 8);
	assert_non_null(strstr(err.msg, "require_client_certificate"));

	/* A peer verifies the server with the context's trust store. */
	snprintf(text, sizeof(text),
		 "[tls:nostore]\ncertificate = cert.pem\nprivate_key = key.pem\n"
		 "[peer:p]\nuri = sips:x.example\ntls = nostore\n");
	assert_int_equal(load(fx, text, &c, &err), EINVAL);
	assert_int_equal(err.line, 6);
	assert_non_null(strstr(err.msg, "[peer:p]"));

	/* A context may be defined after its users. */
	snprintf(text, sizeof(text),
		 "[mgmt]\nlisten = [::1]:8443\ntls = main\n"
		 "[interface:a]\nlisten = tls:[::1]:5061\ntls = main\n"
		 "[peer:p]\nuri = sips:[2001:db8::1]:5061\ntls = main\n%s",
		 tls_ok);
	c = load_ok(fx, text);
	assert_string_equal(c->mgmt.listen_addr.host, "::1");
	assert_int_equal(c->mgmt.listen_addr.port, 8443);
	assert_string_equal(c->ifaces[0].listen[0].host, "::1");
	mem_deref(c);

	/* udp and tcp may share a port; tls and tcp may not. */
	c = load_ok(fx, "[interface:a]\nlisten = udp:127.0.0.1:5060, tcp:127.0.0.1:5060\n");
	mem_deref(c);
}

static void test_load_string(void **state)
{
	struct fx *fx = *state;
	struct conf *c;
	struct conf_error err;
	char name[PATH_MAX * 2];
	snprintf(name, sizeof(name), "%s/virtual.conf", fx->dir);
	/* Relative paths resolve against the directory of name. */
	assert_int_equal(conf_load_string(name, tls_ok, &c, &err), 0);
	assert_string_equal(c->tls[0].certificate, rpath(fx, "cert.pem"));
	mem_deref(c);
	assert_int_equal(conf_load_string("inline", "[log]\nlevel = x\n", &c, &err), EINVAL);
	assert_string_equal(err.file, "inline");
	assert_int_equal(err.line, 2);
	/* NUL inside the text ends it (C string); a NUL byte in a file is refused. */
	write_conf(fx, "");
	FILE *f = fopen(fx->conf, "w");
	fwrite("[log]\n\0x\n", 1, 9, f);
	fclose(f);
	assert_int_equal(conf_load(fx->conf, &c, &err), EINVAL);
	assert_int_equal(err.line, 2);
	/* err may be NULL */
	assert_int_equal(conf_load_string("x", "[nope]\n", &c, NULL), EINVAL);
}

static void test_names_and_helpers(void **state)
{
	(void)state;
	assert_string_equal(conf_transport_name(CONF_TP_UDP), "udp");
	assert_string_equal(conf_transport_name(CONF_TP_TCP), "tcp");
	assert_string_equal(conf_transport_name(CONF_TP_TLS), "tls");
	assert_string_equal(conf_mutual_auth_name(CONF_MA_OFF), "off");
	assert_string_equal(conf_mutual_auth_name(CONF_MA_OPTIONAL), "optional");
	assert_string_equal(conf_mutual_auth_name(CONF_MA_REQUIRED), "required");
	assert_string_equal(conf_tls_version_name(CONF_TLS1_0), "tls1.0");
	assert_string_equal(conf_tls_version_name(CONF_TLS1_3), "tls1.3");

	struct conf_error err;
	conf_error_set(&err, "a.conf", 3, "bad %s %d", "thing", 42);
	assert_string_equal(err.file, "a.conf");
	assert_int_equal(err.line, 3);
	assert_string_equal(err.msg, "bad thing 42");

	struct conf_listen l;
	assert_null(conf_value_listen("tls:[2001:DB8:0::1]", true, &l));
	assert_string_equal(l.host, "2001:db8::1");
	assert_int_equal(l.port, 5061);
	assert_null(conf_value_listen("tcp:10.0.0.1", true, &l));
	assert_int_equal(l.port, 5060);
	assert_null(conf_value_listen("TLS:10.0.0.1:65535", true, &l));
	assert_int_equal(l.transport, CONF_TP_TLS);
	assert_int_equal(l.port, 65535);
	assert_non_null(conf_value_listen("10.0.0.1:5061", true, &l));
	assert_non_null(conf_value_listen("tls:[::1]x", true, &l));

	uint64_t v;
	assert_null(conf_value_seconds("1d", &v));
	assert_int_equal(v, 86400);
	assert_non_null(conf_value_seconds("h", &v));
	assert_non_null(conf_value_seconds("1hs", &v));
	bool tls;
	assert_null(conf_value_uri("SIPS:gw.example.com", &tls));
	assert_true(tls);
	assert_null(conf_value_uri("sip:gw.example.com;lr;transport=tls", &tls));
	assert_true(tls);
	assert_non_null(conf_value_uri("sip:gw.example.com;transport=tlsx", &tls));
	assert_null(conf_value_uri("sip:gw.example.com;transport=UDP", &tls));
	assert_false(tls);
	assert_non_null(conf_value_uri("sips:gw.example.com;transport=udp", &tls));
	assert_non_null(conf_value_uri("sip:gw.example.com?x=y", &tls));
}

/* Every default in the table must parse, and every key be documented under its section. */
static void test_directive_table(void **state)
{
	(void)state;
	size_t n = conf_directive_count();
	assert_true(n > 30);
	assert_null(conf_directive_at(n));
	for (size_t i = 0; i < n; i++) {
		const struct conf_directive_info *d = conf_directive_at(i);
		assert_non_null(d->section);
		assert_non_null(d->key);
		assert_non_null(d->default_text);
		assert_non_null(d->type_text);
		for (size_t j = 0; j < i; j++) {
			const struct conf_directive_info *o = conf_directive_at(j);
			assert_false(strcmp(o->section, d->section) == 0 && strcmp(o->key, d->key) == 0);
		}
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = (cap + 4096) * 2;
			char *nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		size_t r = fread(buf + len, 1, 4096, f);
		len += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* The text of docs/config.md under "## [section]" or "## [section:NAME]", up to the next "## ". */
static bool doc_section(const char *doc, const char *section, const char **start, size_t *len)
{
	char h1[64], h2[64];
	snprintf(h1, sizeof(h1), "\n## [%s]", section);
	snprintf(h2, sizeof(h2), "\n## [%s:", section);
	const char *s = strstr(doc, h1);
	if (!s)
		s = strstr(doc, h2);
	if (!s)
		return false;
	s++;
	const char *e = strstr(s + 3, "\n## ");
	*start = s;
	*len = e ? (size_t)(e - s) : strlen(s);
	return true;
}

static bool contains(const char *s, size_t len, const char *needle)
{
	size_t nl = strlen(needle);
	for (size_t i = 0; i + nl <= len; i++)
		if (memcmp(s + i, needle, nl) == 0)
			return true;
	return false;
}

static void test_docs(void **state)
{
	(void)state;
	const char *src = getenv("SIPSD_SOURCE_DIR");
	if (!src || !*src) {
		fprintf(stderr, "SIPSD_SOURCE_DIR not set (ctest sets it); skipping the docs check\n");
		skip();
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/docs/config.md", src);
	char *doc = slurp(path);
	if (!doc)
		fail_msg("cannot read %s", path);
	for (size_t i = 0; i < conf_directive_count(); i++) {
		const struct conf_directive_info *d = conf_directive_at(i);
		const char *sec;
		size_t len;
		if (!doc_section(doc, d->section, &sec, &len)) {
			free(doc);
			fail_msg("docs/config.md has no '## [%s' heading", d->section);
		}
		char key[96];
		snprintf(key, sizeof(key), "`%s`", d->key);
		if (!contains(sec, len, key)) {
			free(doc);
			fail_msg("docs/config.md: %s not documented under [%s]", key, d->section);
		}
		if (d->default_text[0] && !contains(sec, len, d->default_text)) {
			free(doc);
			fail_msg("docs/config.md: default '%s' of %s not in [%s]", d->default_text, key,
				 d->section);
		}
	}
	free(doc);
}

/* The example file at the top of docs/config.md must load (with its files faked here). */
static void test_docs_example(void **state)
{
	struct fx *fx = *state;
	const char *src = getenv("SIPSD_SOURCE_DIR");
	if (!src || !*src)
		skip();
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/docs/config.md", src);
	char *doc = slurp(path);
	assert_non_null(doc);
	const char *s = strstr(doc, "```ini\n");
	assert_non_null(s);
	s += 7;
	const char *e = strstr(s, "```");
	assert_non_null(e);
	char *ex = strndup(s, (size_t)(e - s));
	free(doc);
	assert_non_null(ex);
	/* Point /etc/sipsd/ and /var/lib/sipsd/ at the temp dir; create the files the example names. */
	size_t cap = strlen(ex) * 2 + 1024;
	char *text = malloc(cap);
	size_t n = 0;
	static const char *const prefixes[] = { "/etc/sipsd/", "/var/lib/sipsd/" };
	for (const char *q = ex; *q;) {
		size_t k;
		for (k = 0; k < 2; k++)
			if (strncmp(q, prefixes[k], strlen(prefixes[k])) == 0)
				break;
		if (k < 2) {
			n += (size_t)snprintf(text + n, cap - n, "%s/", fx->dir);
			q += strlen(prefixes[k]);
		} else {
			text[n++] = *q++;
		}
	}
	text[n] = '\0';
	free(ex);
	static const char *const dirs[] = { "pki", "pki/img2020", "pki/peers" };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char p[PATH_MAX * 2];
		snprintf(p, sizeof(p), "%s/%s", fx->dir, dirs[i]);
		mkdir(p, 0700);
	}
	/* Touch every "pki/..." file the example mentions. */
	for (const char *q = text; (q = strstr(q, "pki/")); q++) {
		size_t l = strcspn(q, " ,\n");
		char rel[256];
		snprintf(rel, sizeof(rel), "%.*s", (int)l, q);
		if (rel[l - 1] != '/')
			touch(fx, rel);
	}
	struct conf *c;
	struct conf_error err;
	int rc = load(fx, text, &c, &err);
	if (rc)
		conf_error_print(&err, stderr);
	free(text);
	assert_int_equal(rc, 0);
	mem_deref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_require_client_certificate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bools, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_key_line_7, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls_cross_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_string, setup, teardown),
		cmocka_unit_test(test_names_and_helpers),
		cmocka_unit_test(test_directive_table),
		cmocka_unit_test(test_docs),
		cmocka_unit_test_setup_teardown(test_docs_example, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
