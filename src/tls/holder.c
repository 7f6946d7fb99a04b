/* Atomic reload and SNI sets.
 *
 * The holder is a mutex around one pointer rather than a C11 atomic pointer: "load the pointer,
 * then take a reference" must be one step, or a concurrent swap could free the context between
 * the two (the classic refcount/RCU race). The critical section is a few instructions and runs
 * once per new connection, so the lock costs nothing measurable. */
#include <errno.h>
#include <pthread.h>

#include "base/log.h"
#include "base/mem.h"
#include "tls/internal.h"

struct tls_holder {
	pthread_mutex_t lock;
	struct tls_ctx *cur;
	uint64_t generation;
};

static void holder_destroy(void *arg)
{
	struct tls_holder *h = arg;
	mem_deref(h->cur);
	pthread_mutex_destroy(&h->lock);
}

int tls_holder_alloc(struct tls_holder **holderp, struct tls_ctx *initial)
{
	if (!holderp || !initial)
		return EINVAL;
	struct tls_holder *h = mem_zalloc(sizeof(*h), holder_destroy);
	if (!h)
		return ENOMEM;
	/* zeroed memory is PTHREAD_MUTEX_INITIALIZER on glibc; init for portability */
	pthread_mutex_init(&h->lock, NULL);
	h->cur = mem_ref(initial);
	*holderp = h;
	return 0;
}

struct tls_ctx *tls_holder_get(struct tls_holder *h)
{
	if (!h)
		return NULL;
	pthread_mutex_lock(&h->lock);
	struct tls_ctx *c = mem_ref(h->cur);
	pthread_mutex_unlock(&h->lock);
	return c;
}

void tls_holder_swap(struct tls_holder *h, struct tls_ctx *ctx)
{
	if (!h || !ctx)
		return;
	mem_ref(ctx);
	pthread_mutex_lock(&h->lock);
	struct tls_ctx *old = h->cur;
	h->cur = ctx;
	h->generation++;
	pthread_mutex_unlock(&h->lock);
	/* outside the lock: the last reference may free an SSL_CTX, which takes a while */
	mem_deref(old);
}

uint64_t tls_holder_generation(struct tls_holder *h)
{
	if (!h)
		return 0;
	pthread_mutex_lock(&h->lock);
	uint64_t g = h->generation;
	pthread_mutex_unlock(&h->lock);
	return g;
}

int tls_holder_reload(struct tls_holder *h, const struct conf_tls *ct, const char *conf_path,
		      unsigned roles, struct conf_error *err)
{
	struct tls_ctx *c = NULL;
	int rc = tls_ctx_build(ct, conf_path, roles, &c, err);
	if (rc) {
		log_err("tls.reload_failed", "context=%s error=\"%s:%u: %s\" note=\"keeping the "
			"previous context\"", ct && ct->name ? ct->name : "-", err ? err->file : "",
			err ? err->line : 0, err ? err->msg : "");
		return rc;
	}
	tls_holder_swap(h, c);
	mem_deref(c);
	log_notice("tls.reloaded", "context=%s generation=%llu", ct->name ? ct->name : "-",
		   (unsigned long long)tls_holder_generation(h));
	return 0;
}

struct tls_sni_set {
	size_t n;
	struct tls_holder **v;
};

static void set_destroy(void *arg)
{
	struct tls_sni_set *s = arg;
	for (size_t i = 0; i < s->n; i++)
		mem_deref(s->v[i]);
	mem_deref(s->v);
}

int tls_sni_set_alloc(struct tls_sni_set **setp, struct tls_holder *const *holders, size_t n)
{
	if (!setp || !holders || n == 0)
		return EINVAL;
	struct tls_sni_set *s = mem_zalloc(sizeof(*s), set_destroy);
	if (!s)
		return ENOMEM;
	s->v = mem_zalloc(n * sizeof(*s->v), NULL);
	if (!s->v) {
		mem_deref(s);
		return ENOMEM;
	}
	for (; s->n < n; s->n++)
		s->v[s->n] = mem_ref(holders[s->n]);
	*setp = s;
	return 0;
}

struct tls_ctx *tls_sni_select(struct tls_sni_set *set, const char *servername)
{
	if (!set || set->n == 0)
		return NULL;
	if (servername) {
		for (size_t i = 0; i < set->n; i++) {
			struct tls_ctx *c = tls_holder_get(set->v[i]);
			if (tls_ctx_answers_sni(c, servername))
				return c;
			mem_deref(c);
		}
	}
	return tls_holder_get(set->v[0]);
}
