/* sipsctl's management API client: a small blocking HTTP/1.1 client over the Unix socket, or
 * over HTTPS with a client certificate (mutual TLS). One request per connection
 * (Connection: close), bounded size and time. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "conf/conf.h"
#include "mgmt/json.h"
#include "sipsctl.h"

enum { MAX_RESPONSE = 64 << 20 };

static void set_timeouts(int fd, unsigned secs)
{
	struct timeval tv = { secs, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static const char *socket_of(struct sipsctl *ctl)
{
	if (ctl->socket_path)
		return ctl->socket_path;
	if (ctl->conf_path && !ctl->conf) {
		struct conf_error err;
		memset(&err, 0, sizeof(err));
		if (conf_load(ctl->conf_path, &ctl->conf, &err)) {
			fprintf(stderr, "sipsctl: ");
			conf_error_print(&err, stderr);
			return NULL;
		}
	}
	if (ctl->conf && ctl->conf->mgmt.socket)
		return ctl->conf->mgmt.socket;
	return SIPSCTL_DEFAULT_SOCKET;
}

static int connect_unix(const char *path, unsigned timeout)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	set_timeouts(fd, timeout);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* https://HOST[:PORT][/...] -> host (without brackets), port */
static int parse_url(const char *url, char *host, size_t hsz, char *port, size_t psz)
{
	if (strncasecmp(url, "https://", 8) != 0)
		return EINVAL;
	const char *h = url + 8, *end;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return EINVAL;
		snprintf(host, hsz, "%.*s", (int)(end - h - 1), h + 1);
		end++;
	} else {
		end = h + strcspn(h, ":/");
		snprintf(host, hsz, "%.*s", (int)(end - h), h);
	}
	if (*end == ':') {
		const char *pe = end + 1 + strcspn(end + 1, "/");
		snprintf(port, psz, "%.*s", (int)(pe - end - 1), end + 1);
	} else {
		snprintf(port, psz, "443");
	}
	return host[0] ? 0 : EINVAL;
}

static int connect_tcp(const char *host, const char *port, unsigned timeout)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int e = getaddrinfo(host, port, &hints, &res);
	if (e)
		return -EHOSTUNREACH;
	int fd = -ECONNREFUSED;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (s < 0)
			continue;
		set_timeouts(s, timeout);
		if (connect(s, a->ai_addr, a->ai_addrlen) == 0) {
			fd = s;
			break;
		}
		fd = -errno;
		close(s);
	}
	freeaddrinfo(res);
	return fd;
}

struct conn {
	int fd;
	SSL *ssl;
};

static int io_write(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w;
		if (c->ssl) {
			int r = SSL_write(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
			if (r <= 0)
				return EIO;
			w = r;
		} else {
			w = write(c->fd, p, n);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return errno;
			}
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* bytes read, 0 at end, -1 error */
static ssize_t io_read(struct conn *c, char *p, size_t n)
{
	if (c->ssl) {
		int r = SSL_read(c->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
		if (r > 0)
			return r;
		int e = SSL_get_error(c->ssl, r);
		return e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL ? 0 : -1;
	}
	for (;;) {
		ssize_t r = read(c->fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		return r;
	}
}

static SSL *tls_open(struct sipsctl *ctl, int fd, const char *host)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	SSL *ssl = NULL;
	if (!sc)
		return NULL;
	SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
	/* the answer ends at the close (Connection: close); evhttp may not send close_notify */
	SSL_CTX_set_options(sc, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (!ctl->ca || SSL_CTX_load_verify_locations(sc, ctl->ca, NULL) != 1) {
		fprintf(stderr, "sipsctl: --url needs --ca FILE (the CA that signed the API's certificate)\n");
		goto fail;
	}
	if (!ctl->cert || !ctl->key || SSL_CTX_use_certificate_chain_file(sc, ctl->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sc, ctl->key, SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "sipsctl: --url needs --cert FILE and --key FILE (the API requires a client "
				"certificate)\n");
		goto fail;
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
	ssl = SSL_new(sc);
	if (!ssl)
		goto fail;
	X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
	if (X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1) {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		long v = SSL_get_verify_result(ssl);
		unsigned long e = ERR_peek_error();
		fprintf(stderr, "sipsctl: TLS handshake with the API failed: %s\n",
			v != X509_V_OK ? X509_verify_cert_error_string(v)
				       : (e ? ERR_reason_error_string(e) : "connection closed"));
		SSL_free(ssl);
		ssl = NULL;
	}
fail:
	SSL_CTX_free(sc);
	return ssl;
}

int sipsctl_http(struct sipsctl *ctl, const char *method, const char *path, const char *ctype, const char *body,
		 size_t blen, int *status, char **resp, size_t *resplen)
{
	unsigned timeout = ctl->timeout_s ? ctl->timeout_s : 10;
	struct conn c = { .fd = -1 };
	char host[256] = "localhost", port[16];
	*status = 0;
	*resp = NULL;
	*resplen = 0;
	if (ctl->url) {
		if (parse_url(ctl->url, host, sizeof(host), port, sizeof(port))) {
			fprintf(stderr, "sipsctl: bad --url '%s' (https://HOST:PORT)\n", ctl->url);
			return EINVAL;
		}
		c.fd = connect_tcp(host, port, timeout);
		if (c.fd < 0) {
			fprintf(stderr, "sipsctl: cannot connect to %s: %s\n", ctl->url, strerror(-c.fd));
			return -c.fd;
		}
		c.ssl = tls_open(ctl, c.fd, host);
		if (!c.ssl) {
			close(c.fd);
			return EPROTO;
		}
	} else {
		const char *sp = socket_of(ctl);
		if (!sp)
			return EINVAL;
		c.fd = connect_unix(sp, timeout);
		if (c.fd < 0) {
			fprintf(stderr, "sipsctl: cannot connect to %s: %s (is sipsd running? -s PATH or -c CONFIG)\n", sp,
				strerror(-c.fd));
			return -c.fd;
		}
	}
	char head[2048];
	int hn = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: sipsctl/%s\r\nAccept: application/json\r\n"
			  "Connection: close\r\nContent-Length: %zu\r\n%s%s%s\r\n",
			  method, path, host, SIPSD_VERSION, blen, ctype ? "Content-Type: " : "", ctype ? ctype : "",
			  ctype ? "\r\n" : "");
	int err = (hn < 0 || (size_t)hn >= sizeof(head)) ? EINVAL : io_write(&c, head, (size_t)hn);
	if (!err && blen)
		err = io_write(&c, body, blen);
	size_t cap = 65536, len = 0;
	char *buf = err ? NULL : malloc(cap + 1);
	if (!err && !buf)
		err = ENOMEM;
	while (!err) {
		if (len == cap) {
			if (cap >= MAX_RESPONSE) {
				err = EFBIG;
				break;
			}
			char *nb = realloc(buf, cap * 2 + 1);
			if (!nb) {
				err = ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = io_read(&c, buf + len, cap - len);
		if (r < 0) {
			err = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : EIO;
			break;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		SSL_free(c.ssl);
	}
	close(c.fd);
	if (err) {
		fprintf(stderr, "sipsctl: API request failed: %s\n", strerror(err));
		free(buf);
		return err;
	}
	buf[len] = '\0';
	char *hend = strstr(buf, "\r\n\r\n");
	int st = 0;
	if (!hend || sscanf(buf, "HTTP/1.%*d %d", &st) != 1) {
		fprintf(stderr, "sipsctl: malformed answer from the API\n");
		free(buf);
		return EPROTO;
	}
	size_t off = (size_t)(hend + 4 - buf);
	memmove(buf, buf + off, len - off + 1);
	*status = st;
	*resp = buf;
	*resplen = len - off;
	return 0;
}

int sipsctl_take_json(struct sipsctl *ctl, int argc, char **argv)
{
	int o = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = true;
		else
			argv[o++] = argv[i];
	}
	argv[o] = NULL;
	return o;
}

bool sipsctl_extra_args(int argc, char **argv, int first, void (*usage)(FILE *f))
{
	if (argc <= first)
		return false;
	fprintf(stderr, "sipsctl %s: unexpected argument '%s'\n", argv[0], argv[first]);
	usage(stderr);
	return true;
}

int sipsctl_api(struct sipsctl *ctl, const char *method, const char *path, const char *body, size_t blen,
		struct json_val **vp)
{
	int st = 0;
	char *resp = NULL;
	size_t rl = 0;
	*vp = NULL;
	if (sipsctl_http(ctl, method, path, body ? "application/x-pem-file" : NULL, body, blen, &st, &resp, &rl))
		return SIPSCTL_FAIL;
	struct json_val *v = NULL;
	size_t eo = 0;
	bool ok = st >= 200 && st < 300;
	if (json_parse(resp, rl, &v, &eo) != 0) {
		if (!ok || !ctl->json)
			fprintf(stderr, "sipsctl: %s %s: HTTP %d%s%.*s\n", method, path, st, rl ? ": " : "",
				(int)(rl > 300 ? 300 : rl), resp);
		free(resp);
		return SIPSCTL_FAIL;
	}
	if (ctl->json)
		fwrite(resp, 1, rl, stdout);
	if (!ok && !ctl->json)
		fprintf(stderr, "sipsctl: %s\n", json_get_str(v, "error", "request failed"));
	free(resp);
	if (!ok) {
		json_free(v);
		return SIPSCTL_FAIL;
	}
	*vp = v;
	return SIPSCTL_OK;
}
