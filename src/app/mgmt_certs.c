/* GET /certificates (every certificate sipsd holds: own "Host" certificates, their chains, the
 * trusted roots) and /trust/{context} (the Mediant "Trusted Root Certificates" store of a TLS
 * context: list, import, remove). Trust changes are files in the context's ca_dir (named by
 * subject hash, as OpenSSL's directory lookup wants) and take effect through the same atomic
 * reload as SIGHUP; if that reload fails, the change is rolled back. Private keys are never
 * accepted here and never returned. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "app/mgmt_internal.h"
#include "base/log.h"
#include "base/mem.h"
#include "mgmt/x509.h"

enum { MAX_ENTRIES = 4096, ID_LEN = 16, MAX_PEM_FILE = 1 << 20 };

struct cert_entry {
	X509 *x;
	char fp[65];
	char file[512];
	const char *kind;   /* "host", "chain", "trusted" */
	const char *source; /* "certificate", "ca_list", "ca_dir" */
	char contexts[512]; /* comma separated */
};

struct cert_set {
	struct cert_entry *e;
	size_t n, cap;
};

static void set_free(struct cert_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		X509_free(s->e[i].x);
	free(s->e);
	memset(s, 0, sizeof(*s));
}

static void add_ctx_name(char *list, size_t sz, const char *name)
{
	/* exact membership in the comma list */
	size_t nl = strlen(name);
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == nl && memcmp(p, name, l) == 0)
			return;
		p += l + (e ? 1 : 0);
	}
	size_t n = strlen(list);
	snprintf(list + n, sz - n, "%s%s", n ? "," : "", name);
}

/* dedupe: true when added or merged (x is consumed either way) */
static void set_add(struct cert_set *s, X509 *x, const char *file, const char *kind, const char *source,
		    const char *ctxname, bool dedupe)
{
	char fp[65];
	mgmt_x509_sha256(x, fp);
	if (dedupe) {
		for (size_t i = 0; i < s->n; i++) {
			if (strcmp(s->e[i].fp, fp) == 0) {
				add_ctx_name(s->e[i].contexts, sizeof(s->e[i].contexts), ctxname);
				X509_free(x);
				return;
			}
		}
	}
	if (s->n >= MAX_ENTRIES) {
		X509_free(x);
		return;
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 32;
		struct cert_entry *ne = realloc(s->e, nc * sizeof(*ne));
		if (!ne) {
			X509_free(x);
			return;
		}
		s->e = ne;
		s->cap = nc;
	}
	struct cert_entry *e = &s->e[s->n++];
	memset(e, 0, sizeof(*e));
	e->x = x;
	memcpy(e->fp, fp, sizeof(fp));
	snprintf(e->file, sizeof(e->file), "%s", file);
	e->kind = kind;
	e->source = source;
	add_ctx_name(e->contexts, sizeof(e->contexts), ctxname);
}

static void add_file(struct cert_set *s, const char *path, bool own, const char *source, const char *ctxname,
		     bool dedupe)
{
	STACK_OF(X509) *sk = mgmt_pem_read_certs(path);
	for (int i = 0; sk && i < sk_X509_num(sk); i++) {
		X509 *x = sk_X509_value(sk, i);
		X509_up_ref(x);
		const char *kind = own ? (i == 0 ? "host" : "chain") : "trusted";
		set_add(s, x, path, kind, source, ctxname, dedupe);
	}
	if (sk)
		sk_X509_pop_free(sk, X509_free);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every regular file of the directory holding certificates, in name order. */
static void add_dir(struct cert_set *s, const char *dir, const char *ctxname, bool dedupe)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	char *names[1024];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < sizeof(names) / sizeof(names[0])) {
		if (de->d_name[0] == '.')
			continue;
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[1024];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < MAX_PEM_FILE)
			add_file(s, path, false, "ca_dir", ctxname, dedupe);
		free(names[i]);
	}
}

static void ctx_trust(struct cert_set *s, const struct conf_tls *ct, bool dedupe)
{
	for (size_t k = 0; k < ct->ca_list.n; k++)
		add_file(s, ct->ca_list.v[k], false, "ca_list", ct->name, dedupe);
	if (ct->ca_dir)
		add_dir(s, ct->ca_dir, ct->name, dedupe);
}

static void entry_json(struct json_w *w, const struct cert_entry *e, time_t now, bool with_contexts)
{
	json_obj_begin(w);
	char id[ID_LEN + 1];
	snprintf(id, sizeof(id), "%.*s", ID_LEN, e->fp);
	json_kv_str(w, "id", id);
	json_kv_str(w, "file", e->file);
	json_kv_str(w, "kind", e->kind);
	json_kv_str(w, "source", e->source);
	json_kv_bool(w, "removable", strcmp(e->source, "ca_dir") == 0);
	if (with_contexts) {
		json_key(w, "contexts");
		json_arr_begin(w);
		const char *p = e->contexts;
		while (*p) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			json_strn(w, p, l);
			p += l + (c ? 1 : 0);
		}
		json_arr_end(w);
	}
	mgmt_x509_json(w, e->x, now);
	json_obj_end(w);
}

/* ---------------- GET /certificates ---------------- */

static void certs_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = am->hooks.conf_get(am->hooks.arg);
	struct cert_set s = { 0 };
	for (size_t i = 0; conf && i < conf->ntls; i++) {
		const struct conf_tls *ct = &conf->tls[i];
		if (ct->certificate)
			add_file(&s, ct->certificate, true, "certificate", ct->name, true);
		ctx_trust(&s, ct, true);
	}
	time_t now = time(NULL);
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_key(w, "certificates");
	json_arr_begin(w);
	for (size_t i = 0; i < s.n; i++)
		entry_json(w, &s.e[i], now, true);
	json_arr_end(w);
	json_obj_end(w);
	mgmt_reply_json(q, 200);
	set_free(&s);
	mem_deref(conf);
}

/* ---------------- /trust ---------------- */

static void trust_ctx_json(struct json_w *w, const struct conf_tls *ct, time_t now)
{
	struct cert_set s = { 0 };
	ctx_trust(&s, ct, false);
	json_obj_begin(w);
	json_kv_str(w, "context", ct->name);
	json_kv_str(w, "ca_dir", ct->ca_dir);
	json_key(w, "entries");
	json_arr_begin(w);
	for (size_t i = 0; i < s.n; i++)
		entry_json(w, &s.e[i], now, false);
	json_arr_end(w);
	json_obj_end(w);
	set_free(&s);
}

static void trust_get_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = am->hooks.conf_get(am->hooks.arg);
	const char *name = mgmt_req_rest(q);
	time_t now = time(NULL);
	struct json_w *w = mgmt_req_json(q);
	if (*name) {
		const struct conf_tls *ct = conf ? conf_tls_find(conf, name) : NULL;
		if (!ct) {
			mgmt_reply_error(q, 404, "no TLS context '%s'", name);
		} else {
			trust_ctx_json(w, ct, now);
			mgmt_reply_json(q, 200);
		}
	} else {
		json_obj_begin(w);
		json_key(w, "contexts");
		json_arr_begin(w);
		for (size_t i = 0; conf && i < conf->ntls; i++)
			trust_ctx_json(w, &conf->tls[i], now);
		json_arr_end(w);
		json_obj_end(w);
		mgmt_reply_json(q, 200);
	}
	mem_deref(conf);
}

/* POST /trust (no context): the one context with a ca_dir, if exactly one has. */
static const struct conf_tls *pick_ctx(struct mgmt_req *q, const struct conf *conf, const char *name)
{
	if (*name) {
		const struct conf_tls *ct = conf_tls_find(conf, name);
		if (!ct)
			mgmt_reply_error(q, 404, "no TLS context '%s'", name);
		return ct;
	}
	const struct conf_tls *only = NULL;
	size_t n = 0;
	for (size_t i = 0; i < conf->ntls; i++)
		if (conf->tls[i].ca_dir) {
			only = &conf->tls[i];
			n++;
		}
	if (n != 1) {
		mgmt_reply_error(q, 400, "name the context: /trust/CONTEXT (%zu contexts have a ca_dir)", n);
		return NULL;
	}
	return only;
}

static int write_file(const char *path, const char *data, size_t len)
{
	char tmp[1100];
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0) {
			int e = errno;
			close(fd);
			unlink(tmp);
			return e;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
		int e = errno;
		unlink(tmp);
		return e;
	}
	return 0;
}

static char *x509_pem(X509 *x, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	if (!b || PEM_write_bio_X509(b, x) != 1) {
		BIO_free(b);
		return NULL;
	}
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	char *out = n > 0 ? malloc((size_t)n) : NULL;
	if (out) {
		memcpy(out, p, (size_t)n);
		*len = (size_t)n;
	}
	BIO_free(b);
	return out;
}

/* Is, still valid, and a CA: what a trust entry must be. */
static bool validate_ca(X509 *x, char *why, size_t sz)
{
	char subj[256];
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	if (!mgmt_x509_is_ca(x)) {
		snprintf(why, sz, "\"%s\" is not a CA certificate (basicConstraints CA:TRUE missing)", subj);
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
		snprintf(why, sz, "\"%s\" has expired", subj);
		return false;
	}
	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
		snprintf(why, sz, "\"%s\" is not valid yet", subj);
		return false;
	}
	if (X509_self_signed(x, 1) == 0 &&
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0) {
		snprintf(why, sz, "\"%s\" claims to be self-signed but its signature does not verify", subj);
		return false;
	}
	return true;
}

static void trust_post_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = am->hooks.conf_get(am->hooks.arg);
	const struct conf_tls *ct = conf ? pick_ctx(q, conf, mgmt_req_rest(q)) : NULL;
	if (!ct) {
		if (!conf)
			mgmt_reply_error(q, 500, "no configuration");
		mem_deref(conf);
		return;
	}
	if (!ct->ca_dir) {
		mgmt_reply_error(q, 409,
				 "[tls:%s] has no ca_dir: add 'ca_dir = DIRECTORY' to it so trust entries can be "
				 "stored (ca_list files are edited by hand)", ct->name);
		mem_deref(conf);
		return;
	}
	size_t len = 0;
	const char *body = mgmt_req_body(q, &len);
	if (strstr(body, "PRIVATE KEY")) {
		/* never accepted: a trust entry is a CA certificate, nothing else */
		mgmt_reply_error(q, 400, "the body holds a private key; send only the CA certificate");
		mem_deref(conf);
		return;
	}
	STACK_OF(X509) *sk = mgmt_pem_parse_certs(body, len);
	if (!sk) {
		mgmt_reply_error(q, 400, "no PEM certificate in the request body");
		mem_deref(conf);
		return;
	}
	char why[600];
	for (int i = 0; i < sk_X509_num(sk); i++) {
		if (!validate_ca(sk_X509_value(sk, i), why, sizeof(why))) {
			mgmt_reply_error(q, 422, "refused: %s", why);
			sk_X509_pop_free(sk, X509_free);
			mem_deref(conf);
			return;
		}
	}
	struct cert_set have = { 0 };
	ctx_trust(&have, ct, false);
	char written[16][1100];
	size_t nwritten = 0;
	struct json_w *w = mgmt_req_json(q);
	json_obj_begin(w);
	json_kv_str(w, "context", ct->name);
	json_key(w, "added");
	json_arr_begin(w);
	int err = 0;
	size_t already = 0;
	for (int i = 0; i < sk_X509_num(sk) && !err && nwritten < 16; i++) {
		X509 *x = sk_X509_value(sk, i);
		char fp[65];
		mgmt_x509_sha256(x, fp);
		bool dup = false;
		for (size_t k = 0; k < have.n && !dup; k++)
			dup = strcmp(have.e[k].fp, fp) == 0;
		if (dup) {
			already++;
			continue;
		}
		unsigned long h = X509_subject_name_hash(x);
		char path[1100];
		struct stat st;
		int n = 0;
		do
			snprintf(path, sizeof(path), "%s/%08lx.%d", ct->ca_dir, h, n);
		while (stat(path, &st) == 0 && ++n < 100);
		size_t plen = 0;
		char *pem = x509_pem(x, &plen);
		err = pem ? write_file(path, pem, plen) : ENOMEM;
		free(pem);
		if (err) {
			snprintf(why, sizeof(why), "cannot write %s: %s", path, strerror(err));
			break;
		}
		snprintf(written[nwritten++], sizeof(written[0]), "%s", path);
		char subj[256];
		X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
		json_obj_begin(w);
		char id[ID_LEN + 1];
		snprintf(id, sizeof(id), "%.*s", ID_LEN, fp);
		json_kv_str(w, "id", id);
		json_kv_str(w, "file", path);
		json_kv_str(w, "subject", subj);
		json_kv_str(w, "sha256", fp);
		json_obj_end(w);
		log_notice("mgmt.trust_added", "context=%s file=%s subject=\"%s\" sha256=%s by=\"%s\"", ct->name, path,
			   subj, fp, mgmt_req_client(q));
	}
	json_arr_end(w);
	json_kv_uint(w, "already_trusted", already);
	set_free(&have);
	sk_X509_pop_free(sk, X509_free);
	if (!err && nwritten) {
		char rwhy[1200];
		if (app_mgmt_reload(am, rwhy, sizeof(rwhy))) {
			snprintf(why, sizeof(why), "reload failed, nothing added: %s", rwhy);
			err = EINVAL;
		}
	}
	if (err) {
		for (size_t i = 0; i < nwritten; i++)
			unlink(written[i]);
		mgmt_reply_error(q, err == EINVAL ? 422 : 500, "%s", why);
	} else {
		json_kv_bool(w, "reloaded", nwritten > 0);
		json_obj_end(w);
		mgmt_reply_json(q, nwritten ? 201 : 200);
	}
	mem_deref(conf);
}

static void trust_delete_h(struct mgmt_req *q, void *arg)
{
	struct app_mgmt *am = arg;
	struct conf *conf = am->hooks.conf_get(am->hooks.arg);
	char name[128];
	const char *rest = mgmt_req_rest(q);
	const char *slash = strchr(rest, '/');
	const char *id = slash ? slash + 1 : "";
	snprintf(name, sizeof(name), "%.*s", slash ? (int)(slash - rest) : (int)strlen(rest), rest);
	size_t idlen = strlen(id);
	if (!slash || idlen < 8 || idlen > 64 || strspn(id, "0123456789abcdef") != idlen) {
		mgmt_reply_error(q, 400, "DELETE /trust/CONTEXT/ID: ID is at least 8 lowercase hex digits of the "
					 "SHA-256 fingerprint (the id GET /trust shows)");
		mem_deref(conf);
		return;
	}
	const struct conf_tls *ct = conf ? conf_tls_find(conf, name) : NULL;
	if (!ct) {
		mgmt_reply_error(q, 404, "no TLS context '%s'", name);
		mem_deref(conf);
		return;
	}
	struct cert_set s = { 0 };
	ctx_trust(&s, ct, false);
	const struct cert_entry *hit = NULL;
	size_t nhit = 0;
	const char *in_list = NULL;
	for (size_t i = 0; i < s.n; i++) {
		if (strncmp(s.e[i].fp, id, idlen) != 0)
			continue;
		if (strcmp(s.e[i].source, "ca_dir") == 0) {
			if (!hit || strcmp(hit->file, s.e[i].file) != 0)
				nhit++;
			hit = &s.e[i];
		} else {
			in_list = s.e[i].file;
		}
	}
	if (!hit) {
		if (in_list)
			mgmt_reply_error(q, 409, "that certificate comes from the ca_list file %s of [tls:%s]; edit the "
						 "configuration to remove it", in_list, ct->name);
		else
			mgmt_reply_error(q, 404, "no trust entry %s in [tls:%s]", id, ct->name);
	} else if (nhit > 1) {
		mgmt_reply_error(q, 409, "id %s is ambiguous; give more digits", id);
	} else {
		/* keep the bytes so a failed reload can put the file back */
		char *old = NULL;
		size_t oldlen = 0;
		FILE *f = fopen(hit->file, "rb");
		if (f) {
			old = malloc(MAX_PEM_FILE);
			if (old)
				oldlen = fread(old, 1, MAX_PEM_FILE, f);
			fclose(f);
		}
		char subj[256], file[512], fp[65];
		X509_NAME_oneline(X509_get_subject_name(hit->x), subj, sizeof(subj));
		snprintf(file, sizeof(file), "%s", hit->file);
		memcpy(fp, hit->fp, sizeof(fp));
		if (unlink(file) != 0) {
			mgmt_reply_error(q, 500, "cannot remove %s: %s", file, strerror(errno));
		} else {
			char rwhy[1200];
			if (app_mgmt_reload(am, rwhy, sizeof(rwhy))) {
				if (old)
					write_file(file, old, oldlen);
				mgmt_reply_error(q, 422, "reload failed, entry kept: %s", rwhy);
			} else {
				log_notice("mgmt.trust_removed", "context=%s file=%s subject=\"%s\" sha256=%s by=\"%s\"",
					   ct->name, file, subj, fp, mgmt_req_client(q));
				struct json_w *w = mgmt_req_json(q);
				json_obj_begin(w);
				json_kv_str(w, "context", ct->name);
				json_kv_str(w, "removed", file);
				json_kv_str(w, "subject", subj);
				json_kv_bool(w, "reloaded", true);
				json_obj_end(w);
				mgmt_reply_json(q, 200);
			}
		}
		free(old);
	}
	set_free(&s);
	mem_deref(conf);
}

void app_mgmt_certs_register(struct app_mgmt *am)
{
	mgmt_route_add(am->srv, MGMT_GET, "/certificates", certs_get_h, am);
	mgmt_route_add(am->srv, MGMT_GET, "/trust", trust_get_h, am);
	mgmt_route_add(am->srv, MGMT_POST, "/trust", trust_post_h, am);
	mgmt_route_add(am->srv, MGMT_DELETE, "/trust", trust_delete_h, am);
}
