/* SQLite backend: WAL, synchronous=FULL by default, prepared statements, schema versioned with
 * PRAGMA user_version. Called only under store.c's mutex (the connection is opened NOMUTEX). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/backend.h"

/* 2: no index on bindings(expires). Keeping it cost every REGISTER a delete and an insert in a
 * second b-tree (a third of the store thread's instructions, and a third more WAL frames per
 * commit); expired bindings are deleted by key instead (store_binding_expire_keys) and a full
 * scan runs only at start-up. */
#define SCHEMA_VERSION 2
#define SCHEMA_VERSION_STR "2"

static const char schema[] =
	"CREATE TABLE users ("
	" user TEXT NOT NULL, domain TEXT NOT NULL, realm TEXT NOT NULL,"
	" ha1_md5 TEXT NOT NULL DEFAULT '', ha1_sha256 TEXT NOT NULL DEFAULT '',"
	" ha1_sha512_256 TEXT NOT NULL DEFAULT '',"
	" enabled INTEGER NOT NULL DEFAULT 1, cert_identity TEXT NOT NULL DEFAULT '',"
	" updated INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (user, domain)) WITHOUT ROWID;"
	"CREATE TABLE bindings ("
	" aor TEXT NOT NULL, bkey TEXT NOT NULL, contact TEXT NOT NULL,"
	" expires INTEGER NOT NULL, q INTEGER NOT NULL, call_id TEXT NOT NULL,"
	" cseq INTEGER NOT NULL, instance TEXT NOT NULL, reg_id INTEGER NOT NULL,"
	" path TEXT NOT NULL, user_agent TEXT NOT NULL, received TEXT NOT NULL,"
	" flow_id INTEGER NOT NULL, cert_identity TEXT NOT NULL, updated INTEGER NOT NULL,"
	" PRIMARY KEY (aor, bkey)) WITHOUT ROWID;";

#define USER_COLS "user, domain, realm, ha1_md5, ha1_sha256, ha1_sha512_256, enabled, cert_identity, updated"
#define BIND_COLS "aor, contact, expires, q, call_id, cseq, instance, reg_id, path, user_agent, received, " \
		  "flow_id, cert_identity, updated"
#define BIND_ORDER "q DESC, updated DESC, contact ASC"

enum stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_USER_GET, S_USER_PUT, S_USER_DEL, S_USER_LIST,
	S_B_PUT, S_B_GET, S_B_DEL, S_B_DEL_AOR, S_B_EXPIRE, S_B_EXPIRE_KEY, S_B_ALL,
	S__COUNT
};

static const char *const sql[S__COUNT] = {
	/* IMMEDIATE: take the write lock up front, so a concurrent sipsctl makes us wait (busy
	 * timeout) instead of failing a half-done batch with SQLITE_BUSY on lock upgrade. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT req",
	[S_RELEASE] = "RELEASE req",
	[S_ROLLBACK_TO] = "ROLLBACK TO req",
	[S_USER_GET] = "SELECT " USER_COLS " FROM users WHERE user = ?1 AND domain = ?2",
	[S_USER_PUT] = "INSERT OR REPLACE INTO users (" USER_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_USER_DEL] = "DELETE FROM users WHERE user = ?1 AND domain = ?2",
	[S_USER_LIST] = "SELECT " USER_COLS " FROM users ORDER BY domain, user",
	[S_B_PUT] = "INSERT OR REPLACE INTO bindings (bkey, " BIND_COLS ") VALUES "
		    "(?15, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
	[S_B_GET] = "SELECT " BIND_COLS " FROM bindings WHERE aor = ?1 ORDER BY " BIND_ORDER,
	[S_B_DEL] = "DELETE FROM bindings WHERE aor = ?1 AND bkey = ?2",
	[S_B_DEL_AOR] = "DELETE FROM bindings WHERE aor = ?1",
	[S_B_EXPIRE] = "DELETE FROM bindings WHERE expires <= ?1",
	[S_B_EXPIRE_KEY] = "DELETE FROM bindings WHERE aor = ?1 AND bkey = ?2 AND expires <= ?3",
	[S_B_ALL] = "SELECT " BIND_COLS " FROM bindings ORDER BY aor, " BIND_ORDER,
};

struct sq {
	sqlite3 *db;
	const char *path;
	sqlite3_stmt *st[S__COUNT];
};

static int errno_of(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_DONE: case SQLITE_ROW: return 0;
	case SQLITE_BUSY: case SQLITE_LOCKED: return EBUSY;
	case SQLITE_NOMEM: return ENOMEM;
	case SQLITE_FULL: return ENOSPC;
	case SQLITE_READONLY: case SQLITE_PERM: case SQLITE_AUTH: return EACCES;
	case SQLITE_CANTOPEN: return ENOENT;
	case SQLITE_TOOBIG: case SQLITE_RANGE: case SQLITE_MISMATCH: return EINVAL;
	default: return EIO;
	}
}

/* Log with the database path and SQLite's own words; bound values (HA1s) never appear. */
static int fail(struct sq *q, const char *op, int rc)
{
	log_err("store.sqlite_error", "path=\"%s\" op=%s code=%d error=\"%s\"", q->path, op, rc,
		q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
	return errno_of(rc);
}

static sqlite3_stmt *prep(struct sq *q, enum stmt i)
{
	sqlite3_stmt *s = q->st[i];
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

static void bind_text(sqlite3_stmt *s, int i, struct slice v)
{
	sqlite3_bind_text(s, i, v.len ? v.p : "", (int)v.len, SQLITE_STATIC);
}

static int step_done(struct sq *q, enum stmt i, const char *op)
{
	int rc = sqlite3_step(q->st[i]);
	int e = rc == SQLITE_DONE ? 0 : fail(q, op, rc);
	sqlite3_reset(q->st[i]);
	return e;
}

static int exec_simple(struct sq *q, enum stmt i)
{
	prep(q, i);
	return step_done(q, i, sql[i]);
}

static int sq_begin(void *be) { return exec_simple(be, S_BEGIN); }
static int sq_commit(void *be) { return exec_simple(be, S_COMMIT); }
static int sq_savepoint(void *be) { return exec_simple(be, S_SAVEPOINT); }
static int sq_release(void *be) { return exec_simple(be, S_RELEASE); }

static void sq_rollback(void *be)
{
	struct sq *q = be;
	if (!sqlite3_get_autocommit(q->db))
		exec_simple(q, S_ROLLBACK);
}

static void sq_rollback_to(void *be)
{
	exec_simple(be, S_ROLLBACK_TO);
}

static struct slice col(sqlite3_stmt *s, int i)
{
	const char *p = (const char *)sqlite3_column_text(s, i);
	return (struct slice){ p ? p : "", p ? (size_t)sqlite3_column_bytes(s, i) : 0 };
}

static struct store_user *row_user(sqlite3_stmt *s)
{
	struct store_user u = {
		.user = col(s, 0), .domain = col(s, 1), .realm = col(s, 2),
		.ha1 = { col(s, 3), col(s, 4), col(s, 5) },
		.enabled = sqlite3_column_int(s, 6) != 0,
		.cert_identity = col(s, 7),
		.updated = sqlite3_column_int64(s, 8),
	};
	return store_user_dup(&u);
}

static struct store_binding *row_binding(sqlite3_stmt *s)
{
	struct store_binding b = {
		.aor = col(s, 0), .contact = col(s, 1),
		.expires = sqlite3_column_int64(s, 2),
		.q = (uint16_t)sqlite3_column_int(s, 3),
		.call_id = col(s, 4),
		.cseq = (uint32_t)sqlite3_column_int64(s, 5),
		.instance = col(s, 6),
		.reg_id = (uint32_t)sqlite3_column_int64(s, 7),
		.path = col(s, 8), .user_agent = col(s, 9), .received = col(s, 10),
		.flow_id = (uint64_t)sqlite3_column_int64(s, 11),
		.cert_identity = col(s, 12),
		.updated = sqlite3_column_int64(s, 13),
	};
	return store_binding_dup(&b);
}

static int sq_user_get(void *be, struct slice user, struct slice domain, struct store_user **up)
{
	struct sq *q = be;
	sqlite3_stmt *s = prep(q, S_USER_GET);
	bind_text(s, 1, user);
	bind_text(s, 2, domain);
	int rc = sqlite3_step(s), e;
	if (rc == SQLITE_ROW)
		e = (*up = row_user(s)) ? 0 : ENOMEM;
	else
		e = rc == SQLITE_DONE ? ENOENT : fail(q, "user_get", rc);
	sqlite3_reset(s);
	return e;
}

static int sq_user_put(void *be, const struct store_user *u)
{
	struct sq *q = be;
	sqlite3_stmt *s = prep(q, S_USER_PUT);
	bind_text(s, 1, u->user);
	bind_text(s, 2, u->domain);
	bind_text(s, 3, u->realm);
	for (int i = 0; i < STORE_HA1_COUNT; i++)
		bind_text(s, 4 + i, u->ha1[i]);
	sqlite3_bind_int(s, 7, u->enabled ? 1 : 0);
	bind_text(s, 8, u->cert_identity);
	sqlite3_bind_int64(s, 9, u->updated);
	return step_done(q, S_USER_PUT, "user_put");
}

static int sq_user_del(void *be, struct slice user, struct slice domain)
{
	struct sq *q = be;
	sqlite3_stmt *s = prep(q, S_USER_DEL);
	bind_text(s, 1, user);
	bind_text(s, 2, domain);
	int e = step_done(q, S_USER_DEL, "user_del");
	return e ? e : sqlite3_changes(q->db) ? 0 : ENOENT;
}

static int sq_user_list(void *be, struct store_users **lp)
{
	struct sq *q = be;
	struct store_users *l = NULL;
	int e = store_users_alloc(&l), rc;
	sqlite3_stmt *s = prep(q, S_USER_LIST);
	while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW)
		e = store_users_add(l, row_user(s));
	if (!e && rc != SQLITE_DONE)
		e = fail(q, "user_list", rc);
	sqlite3_reset(s);
	if (e)
		mem_deref(l);
	else
		*lp = l;
	return e;
}

static int sq_binding_put(void *be, const struct store_binding *b)
{
	struct sq *q = be;
	char key[2 * STORE_FIELD_MAX + 32];
	size_t kl = store_binding_key(b, key, sizeof(key));
	sqlite3_stmt *s = prep(q, S_B_PUT);
	bind_text(s, 1, b->aor);
	bind_text(s, 2, b->contact);
	sqlite3_bind_int64(s, 3, b->expires);
	sqlite3_bind_int(s, 4, b->q);
	bind_text(s, 5, b->call_id);
	sqlite3_bind_int64(s, 6, b->cseq);
	bind_text(s, 7, b->instance);
	sqlite3_bind_int64(s, 8, b->reg_id);
	bind_text(s, 9, b->path);
	bind_text(s, 10, b->user_agent);
	bind_text(s, 11, b->received);
	sqlite3_bind_int64(s, 12, (sqlite3_int64)b->flow_id);
	bind_text(s, 13, b->cert_identity);
	sqlite3_bind_int64(s, 14, b->updated);
	sqlite3_bind_text(s, 15, key, (int)kl, SQLITE_STATIC);
	return step_done(q, S_B_PUT, "binding_put");
}

static int bindings_query(struct sq *q, enum stmt i, struct slice aor, struct store_bindings **lp)
{
	struct store_bindings *l = NULL;
	int e = store_bindings_alloc(&l), rc;
	sqlite3_stmt *s = prep(q, i);
	if (i == S_B_GET)
		bind_text(s, 1, aor);
	while (!e && (rc = sqlite3_step(s)) == SQLITE_ROW)
		e = store_bindings_add(l, row_binding(s));
	if (!e && rc != SQLITE_DONE)
		e = fail(q, i == S_B_GET ? "binding_get" : "binding_load_all", rc);
	sqlite3_reset(s);
	if (e)
		mem_deref(l);
	else
		*lp = l;
	return e;
}

static int sq_binding_get(void *be, struct slice aor, struct store_bindings **lp)
{
	return bindings_query(be, S_B_GET, aor, lp);
}

static int sq_binding_load_all(void *be, struct store_bindings **lp)
{
	return bindings_query(be, S_B_ALL, (struct slice){ NULL, 0 }, lp);
}

/* Deletes key's binding (statement i: ?1 aor, ?2 binding key, ?3 now when expire_at is set). */
static int delete_by_key(struct sq *q, enum stmt i, const char *what, const struct store_binding *key,
			 const int64_t *expire_at, size_t *n)
{
	char k[2 * STORE_FIELD_MAX + 32];
	size_t kl = store_binding_key(key, k, sizeof(k));
	sqlite3_stmt *s = prep(q, i);
	bind_text(s, 1, key->aor);
	sqlite3_bind_text(s, 2, k, (int)kl, SQLITE_STATIC);
	if (expire_at)
		sqlite3_bind_int64(s, 3, *expire_at);
	int e = step_done(q, i, what);
	*n = e ? 0 : (size_t)sqlite3_changes(q->db);
	return e;
}

static int sq_binding_del(void *be, const struct store_binding *key, size_t *n)
{
	return delete_by_key(be, S_B_DEL, "binding_del", key, NULL, n);
}

static int sq_binding_del_aor(void *be, struct slice aor, size_t *n)
{
	struct sq *q = be;
	sqlite3_stmt *s = prep(q, S_B_DEL_AOR);
	bind_text(s, 1, aor);
	int e = step_done(q, S_B_DEL_AOR, "binding_del_aor");
	*n = e ? 0 : (size_t)sqlite3_changes(q->db);
	return e;
}

static int sq_binding_expire(void *be, int64_t now, size_t *n)
{
	struct sq *q = be;
	sqlite3_stmt *s = prep(q, S_B_EXPIRE);
	sqlite3_bind_int64(s, 1, now);
	int e = step_done(q, S_B_EXPIRE, "binding_expire");
	*n = e ? 0 : (size_t)sqlite3_changes(q->db);
	return e;
}

static int sq_binding_expire_key(void *be, const struct store_binding *key, int64_t now, size_t *n)
{
	return delete_by_key(be, S_B_EXPIRE_KEY, "binding_expire_key", key, &now, n);
}

static void sq_close(void *be)
{
	struct sq *q = be;
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(q->st[i]);
	/* the last connection to close checkpoints the WAL into the database file */
	if (q->db && sqlite3_close(q->db) != SQLITE_OK)
		log_warn("store.sqlite_close", "path=\"%s\" error=\"%s\"", q->path, sqlite3_errmsg(q->db));
	free(q);
}

static const struct store_backend_ops sq_ops = {
	.name = "sqlite",
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.rollback_to = sq_rollback_to,
	.user_get = sq_user_get,
	.user_put = sq_user_put,
	.user_del = sq_user_del,
	.user_list = sq_user_list,
	.binding_put = sq_binding_put,
	.binding_get = sq_binding_get,
	.binding_del = sq_binding_del,
	.binding_del_aor = sq_binding_del_aor,
	.binding_expire = sq_binding_expire,
	.binding_expire_key = sq_binding_expire_key,
	.binding_load_all = sq_binding_load_all,
	.close = sq_close,
};

static int pragma_int(struct sq *q, const char *stmt, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(q->db, stmt, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		*out = sqlite3_column_int(s, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_OK ? 0 : fail(q, stmt, rc);
}

static int exec_sql(struct sq *q, const char *what, const char *text)
{
	int rc = sqlite3_exec(q->db, text, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : fail(q, what, rc);
}

/* Creates the schema on first open; refuses a newer one. */
static int schema_setup(struct sq *q)
{
	int v = 0, e = exec_sql(q, "begin", "BEGIN IMMEDIATE");
	if (!e)
		e = pragma_int(q, "PRAGMA user_version", &v);
	if (!e && v == 0) {
		e = exec_sql(q, "create schema", schema);
		if (!e)
			e = exec_sql(q, "set version", "PRAGMA user_version = " SCHEMA_VERSION_STR);
		if (!e)
			log_notice("store.created", "path=\"%s\" schema=%d", q->path, SCHEMA_VERSION);
	} else if (!e && v > SCHEMA_VERSION) {
		log_err("store.schema_newer", "path=\"%s\" schema=%d supported=%d", q->path, v, SCHEMA_VERSION);
		e = EPROTO;
	}
	/* migrations, v -> v + 1, inside this transaction */
	if (!e && v == 1) {
		e = exec_sql(q, "migrate to 2", "DROP INDEX IF EXISTS bindings_expires; PRAGMA user_version = 2");
		if (!e)
			log_notice("store.migrated", "path=\"%s\" schema=2 from=1 change=\"dropped index bindings_expires\"",
				   q->path);
	}
	if (!e)
		e = exec_sql(q, "commit", "COMMIT");
	if (e && q->db && !sqlite3_get_autocommit(q->db))
		sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
	return e;
}

int store_sqlite_open(const struct store_opts *o, void **bep, const struct store_backend_ops **opsp)
{
	struct sq *q = calloc(1, sizeof(*q));
	if (!q)
		return ENOMEM;
	q->path = o->path;
	int rc = sqlite3_open_v2(o->path, &q->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	int e = rc == SQLITE_OK ? 0 : fail(q, "open", rc);
	if (!e)
		sqlite3_busy_timeout(q->db, (int)o->busy_timeout_ms);
	/* WAL: readers (sipsctl user list) never block the writer, and a commit is one append. */
	char mode[16] = "";
	if (!e) {
		sqlite3_stmt *s = NULL;
		rc = sqlite3_prepare_v2(q->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
		if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
			slice_copy(slice_from_cstr((const char *)sqlite3_column_text(s, 0)), mode, sizeof(mode));
		else
			e = fail(q, "journal_mode", rc == SQLITE_OK ? sqlite3_errcode(q->db) : rc);
		sqlite3_finalize(s);
		if (!e && strcmp(mode, "wal") != 0) {
			log_err("store.sqlite_error", "path=\"%s\" op=journal_mode error=\"WAL refused (%s)\"",
				q->path, mode);
			e = EIO;
		}
	}
	/* FULL: the WAL is fsynced at every commit, so a completed write survives power loss. */
	if (!e)
		e = exec_sql(q, "synchronous",
			     o->sync_normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	if (!e)
		e = schema_setup(q);
	for (int i = 0; !e && i < S__COUNT; i++) {
		rc = sqlite3_prepare_v3(q->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL);
		if (rc != SQLITE_OK)
			e = fail(q, "prepare", rc);
	}
	if (e) {
		sq_close(q);
		return e;
	}
	*bep = q;
	*opsp = &sq_ops;
	return 0;
}
