/* sipsctl probe sips:host[:port]: connect like sipsd would and say, step by step, where a TLS
 * link fails -- TCP connect time, TLS version and cipher, the peer chain, the verification
 * result with the precise reason (src/tls's classification), the RFC 5922 identity verdict for
 * the requested domain, then OPTIONS with its response and round-trip time. Exit 0 only when
 * every step passed: "why won't my TLS link come up?" without Wireshark. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/log.h"
#include "base/mem.h"
#include "conf/conf.h"
#include "mgmt/json.h"
#include "mgmt/x509.h"
#include "sipsctl.h"
#include "tls/ident.h"
#include "tls/tls.h"
#include "tls/verify.h"

struct probe {
	const char *uri, *cert, *key, *ca, *sni, *tlsver, *domain;
	unsigned timeout;
	char host[256];
	uint16_t port;
	bool failed;
};

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void step(struct probe *p, const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void step(struct probe *p, const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("%-10s %-4s ", name, ok ? "ok" : "FAIL");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (!ok)
		p->failed = true;
	fflush(stdout);
}

/* sips:host[:port] or sip:host[:port];transport=tls; IPv6 in brackets. */
static int parse_target(struct probe *p)
{
	const char *s = p->uri;
	if (strncasecmp(s, "sips:", 5) == 0)
		s += 5;
	else if (strncasecmp(s, "sip:", 4) == 0)
		s += 4;
	else
		return EINVAL;
	const char *at = strchr(s, '@');
	if (at)
		s = at + 1;
	const char *end;
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end)
			return EINVAL;
		snprintf(p->host, sizeof(p->host), "%.*s", (int)(end - s - 1), s + 1);
		end++;
	} else {
		end = s + strcspn(s, ":;>?");
		snprintf(p->host, sizeof(p->host), "%.*s", (int)(end - s), s);
	}
	p->port = 5061;
	if (*end == ':') {
		char *e2;
		unsigned long v = strtoul(end + 1, &e2, 10);
		if (v == 0 || v > 65535 || (*e2 && *e2 != ';'))
			return EINVAL;
		p->port = (uint16_t)v;
	}
	return p->host[0] ? 0 : EINVAL;
}

static void print_cert(int depth, X509 *x)
{
	char subj[256], iss[256], nb[32], na[32], sans[1024] = "";
	X509_NAME_oneline(X509_get_subject_name(x), subj, sizeof(subj));
	X509_NAME_oneline(X509_get_issuer_name(x), iss, sizeof(iss));
	mgmt_time_iso(mgmt_asn1_time(X509_get0_notBefore(x)), nb, sizeof(nb));
	mgmt_time_iso(mgmt_asn1_time(X509_get0_notAfter(x)), na, sizeof(na));
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char item[300] = "";
		if (g->type == GEN_URI || g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->type == GEN_URI ? g->d.uniformResourceIdentifier : g->d.dNSName;
			snprintf(item, sizeof(item), "%s:%.*s", g->type == GEN_URI ? "URI" : "DNS", ASN1_STRING_length(s),
				 (const char *)ASN1_STRING_get0_data(s));
		} else if (g->type == GEN_IPADD) {
			char ip[INET6_ADDRSTRLEN] = "?";
			int l = ASN1_STRING_length(g->d.iPAddress);
			inet_ntop(l == 16 ? AF_INET6 : AF_INET, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof(ip));
			snprintf(item, sizeof(item), "IP:%s", ip);
		}
		if (item[0]) {
			size_t n = strlen(sans);
			snprintf(sans + n, sizeof(sans) - n, "%s%s", n ? ", " : "", item);
		}
	}
	GENERAL_NAMES_free(gens);
	time_t now = time(NULL);
	time_t t_na = mgmt_asn1_time(X509_get0_notAfter(x)), t_nb = mgmt_asn1_time(X509_get0_notBefore(x));
	const char *valid = now > t_na ? " EXPIRED" : now < t_nb ? " NOT YET VALID" : "";
	printf("  chain[%d] subject  %s\n", depth, subj);
	printf("           issuer   %s\n", iss);
	printf("           validity %s .. %s%s\n", nb, na, valid);
	if (sans[0])
		printf("           SANs     %s\n", sans);
}

/* Non-blocking connect bounded by the timeout; blocking afterwards with socket timeouts. */
static int tcp_connect(struct probe *p, double *ms, char *addrtxt, size_t asz)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", p->port);
	int e = getaddrinfo(p->host, port, &hints, &res);
	if (e) {
		step(p, "resolve", false, "%s: %s", p->host, gai_strerror(e));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		char h[INET6_ADDRSTRLEN] = "?";
		void *sa = a->ai_family == AF_INET ? (void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
						   : (void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
		inet_ntop(a->ai_family, sa, h, sizeof(h));
		snprintf(addrtxt, asz, a->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", h, p->port);
		int s = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s < 0)
			continue;
		double t0 = now_ms();
		int r = connect(s, a->ai_addr, a->ai_addrlen);
		if (r != 0 && errno == EINPROGRESS) {
			struct pollfd pf = { .fd = s, .events = POLLOUT };
			r = poll(&pf, 1, (int)(p->timeout * 1000));
			int soerr = 0;
			socklen_t sl = sizeof(soerr);
			if (r == 1 && getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
				r = 0;
			else
				errno = r == 0 ? ETIMEDOUT : (soerr ? soerr : errno), r = -1;
		}
		*ms = now_ms() - t0;
		if (r != 0) {
			step(p, "tcp", false, "connect %s: %s", addrtxt, strerror(errno));
			close(s);
			continue;
		}
		fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
		struct timeval tv = { p->timeout, 0 };
		setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		fd = s;
	}
	freeaddrinfo(res);
	return fd;
}

/* The [tls:probe] context through the same builder sipsd uses, with [tls:NAME]'s documented
 * defaults (docs/config.md); the client certificate is optional. */
static struct tls_ctx *build_ctx(struct probe *p)
{
	struct conf_tls ct;
	memset(&ct, 0, sizeof(ct));
	char *ca = (char *)p->ca;
	ct.name = (char *)"probe";
	ct.certificate = (char *)p->cert;
	ct.private_key = (char *)p->key;
	ct.ca_list.v = &ca;
	ct.ca_list.n = 1;
	ct.verify_depth = 4;
	ct.min_version = CONF_TLS1_2;
	ct.max_version = CONF_TLS1_3;
	ct.require_eku = true;
	if (p->tlsver) {
		if (strcmp(p->tlsver, "1.2") == 0 || strcasecmp(p->tlsver, "tls1.2") == 0)
			ct.min_version = ct.max_version = CONF_TLS1_2;
		else if (strcmp(p->tlsver, "1.3") == 0 || strcasecmp(p->tlsver, "tls1.3") == 0)
			ct.min_version = ct.max_version = CONF_TLS1_3;
		else {
			fprintf(stderr, "sipsctl: --tls-version 1.2 or 1.3\n");
			return NULL;
		}
	}
	struct tls_ctx *ctx = NULL;
	struct conf_error err;
	memset(&err, 0, sizeof(err));
	/* the probe's own certificate is not what is being diagnosed: no warnings about it */
	log_setup(LOG_LVL_ERR, LOG_TO_STDERR, "sipsctl");
	if (tls_ctx_build(&ct, "sipsctl probe", TLS_CTX_CLIENT, &ctx, &err)) {
		fprintf(stderr, "sipsctl: probe TLS settings: %s\n", err.msg);
		ctx = NULL;
	}
	log_setup(LOG_LVL_WARN, LOG_TO_STDERR, "sipsctl");
	return ctx;
}

/* When the verified handshake failed before we saw the chain: fetch it without verification,
 * only to show it. */
static STACK_OF(X509) *fetch_chain(struct probe *p, const char *sni)
{
	double ms;
	char at[128];
	bool was = p->failed;
	int fd = tcp_connect(p, &ms, at, sizeof(at));
	p->failed = was;
	if (fd < 0)
		return NULL;
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	SSL *ssl = sc ? SSL_new(sc) : NULL;
	STACK_OF(X509) *out = NULL;
	if (ssl) {
		SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
		if (p->cert && p->key) {
			SSL_use_certificate_chain_file(ssl, p->cert);
			SSL_use_PrivateKey_file(ssl, p->key, SSL_FILETYPE_PEM);
		}
		if (sni)
			SSL_set_tlsext_host_name(ssl, sni);
		SSL_set_fd(ssl, fd);
		if (SSL_connect(ssl) == 1 || SSL_get_peer_cert_chain(ssl)) {
			STACK_OF(X509) *ch = SSL_get_peer_cert_chain(ssl);
			if (ch) {
				out = sk_X509_new_null();
				for (int i = 0; out && i < sk_X509_num(ch); i++) {
					X509 *x = sk_X509_value(ch, i);
					X509_up_ref(x);
					sk_X509_push(out, x);
				}
			}
		}
		SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	SSL_CTX_free(sc);
	ERR_clear_error();
	close(fd);
	return out;
}

static int send_options(struct probe *p, SSL *ssl, const char *local, const char *domain)
{
	unsigned char r[8];
	RAND_bytes(r, sizeof(r));
	char id[17];
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", r[i]);
	char req[2048];
	int n = snprintf(req, sizeof(req),
			 "OPTIONS sips:%s SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS %s;branch=z9hG4bK%s;rport\r\n"
			 "Max-Forwards: 70\r\n"
			 "From: <sips:probe@%s>;tag=%.8s\r\n"
			 "To: <sips:%s>\r\n"
			 "Call-ID: %s@sipsctl\r\n"
			 "CSeq: 1 OPTIONS\r\n"
			 "Accept: application/sdp\r\n"
			 "User-Agent: sipsctl-probe/%s\r\n"
			 "Content-Length: 0\r\n\r\n",
			 domain, local, id, domain, id, domain, id, SIPSD_VERSION);
	double t0 = now_ms();
	ERR_clear_error();
	int wr = SSL_write(ssl, req, n);
	if (wr != n) {
		/* TLS 1.3: the server's refusal of our certificate arrives after the handshake */
		int we = SSL_get_error(ssl, wr);
		enum tls_fail_reason fr = tls_fail_classify(ssl, we);
		if (fr == TLS_FAIL_CLOSED || fr == TLS_FAIL_HANDSHAKE) {
			/* the write hit the closed socket first; the alert may still be readable */
			char tmp[64];
			ERR_clear_error();
			int rr = SSL_read(ssl, tmp, sizeof(tmp));
			if (rr <= 0 && SSL_get_error(ssl, rr) == SSL_ERROR_SSL)
				fr = tls_fail_classify(ssl, SSL_ERROR_SSL);
		}
		step(p, "options", false, "the server refused the connection after the handshake: reason=%s",
		     tls_fail_reason_name(fr));
		return -1;
	}
	char buf[8192];
	size_t len = 0;
	for (;;) {
		ERR_clear_error();
		int got = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (got <= 0) {
			int e = SSL_get_error(ssl, got);
			if (e == SSL_ERROR_SSL) {
				/* TLS 1.3: the server rejects our certificate after the handshake */
				enum tls_fail_reason fr = tls_fail_classify(ssl, e);
				step(p, "options", false, "the server refused the connection after the handshake: reason=%s",
				     tls_fail_reason_name(fr));
			} else {
				step(p, "options", false, "no response (%s)",
				     e == SSL_ERROR_ZERO_RETURN ? "closed by the server"
				     : errno == EAGAIN	       ? "timeout"
							       : "connection lost");
			}
			return -1;
		}
		len += (size_t)got;
		buf[len] = '\0';
		char *end;
		while ((end = strstr(buf, "\r\n\r\n"))) {
			/* skip the CRLF keepalive pongs and provisional responses */
			char *line = buf;
			while (*line == '\r' || *line == '\n')
				line++;
			int status = 0;
			if (sscanf(line, "SIP/2.0 %d", &status) == 1 && status >= 200) {
				char *eol = strstr(line, "\r\n");
				double rtt = now_ms() - t0;
				step(p, "options", status < 300, "%.*s  rtt=%.1f ms", (int)(eol - line), line, rtt);
				return status < 300 ? 0 : -1;
			}
			size_t used = (size_t)(end + 4 - buf);
			memmove(buf, end + 4, len - used + 1);
			len -= used;
		}
		if (len >= sizeof(buf) - 1) {
			step(p, "options", false, "response too large");
			return -1;
		}
	}
}

static void probe_usage(FILE *f)
{
	fprintf(f, "usage: sipsctl probe sips:HOST[:PORT] [--cert FILE --key FILE] [--ca FILE] [--sni NAME]\n"
		   "                     [--tls-version 1.2|1.3] [--domain DOMAIN] [--timeout S]\n"
		   "  --ca      CA list to verify the server with (default: the system's)\n"
		   "  --domain  identity the certificate must prove (default: the URI host; RFC 5922 7.3)\n"
		   "exit 0 only when TCP, TLS, verification, identity and OPTIONS all passed\n");
}

static int probe_run(struct sipsctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cert", required_argument, NULL, 'c' },    { "key", required_argument, NULL, 'k' },
		{ "ca", required_argument, NULL, 'a' },      { "sni", required_argument, NULL, 's' },
		{ "tls-version", required_argument, NULL, 'v' }, { "domain", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct probe p = { .timeout = ctl->timeout_s ? ctl->timeout_s : 5 };
	optind = 0; /* glibc: full re-initialisation */
	int c;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'c': p.cert = optarg; break;
		case 'k': p.key = optarg; break;
		case 'a': p.ca = optarg; break;
		case 's': p.sni = optarg; break;
		case 'v': p.tlsver = optarg; break;
		case 'd': p.domain = optarg; break;
		case 't': p.timeout = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'h': probe_usage(stdout); return SIPSCTL_OK;
		default: probe_usage(stderr); return SIPSCTL_USAGE;
		}
	}
	if (optind + 1 != argc || !p.timeout || (!p.cert != !p.key)) {
		probe_usage(stderr);
		return SIPSCTL_USAGE;
	}
	p.uri = argv[optind];
	if (parse_target(&p)) {
		fprintf(stderr, "sipsctl: bad target '%s' (sips:HOST[:PORT])\n", p.uri);
		return SIPSCTL_USAGE;
	}
	if (!p.ca)
		p.ca = access("/etc/ssl/certs/ca-certificates.crt", R_OK) == 0 ? "/etc/ssl/certs/ca-certificates.crt"
									      : "/etc/pki/tls/certs/ca-bundle.crt";
	const char *domain = p.domain ? p.domain : p.host;
	printf("probing %s (host %s port %u, identity %s)\n", p.uri, p.host, p.port, domain);
	struct tls_ctx *ctx = build_ctx(&p);
	if (!ctx)
		return SIPSCTL_FAIL;
	double ms = 0;
	char addr[128] = "";
	int fd = tcp_connect(&p, &ms, addr, sizeof(addr));
	if (fd < 0) {
		mem_deref(ctx);
		printf("result     FAIL\n");
		return SIPSCTL_FAIL;
	}
	p.failed = false; /* an earlier address may have failed; one connected */
	step(&p, "tcp", true, "connected to %s in %.1f ms", addr, ms);

	SSL *ssl = NULL;
	if (tls_session_new(ctx, TLS_ROLE_CLIENT, CONF_MA_REQUIRED, domain, &ssl)) {
		fprintf(stderr, "sipsctl: TLS setup failed\n");
		close(fd);
		mem_deref(ctx);
		return SIPSCTL_FAIL;
	}
	if (p.sni)
		SSL_set_tlsext_host_name(ssl, p.sni);
	SSL_set_fd(ssl, fd);
	double t0 = now_ms();
	ERR_clear_error();
	int r = SSL_connect(ssl);
	double hs_ms = now_ms() - t0;
	bool hs_ok = r == 1;
	enum tls_fail_reason fr = TLS_FAIL_NONE;
	if (hs_ok) {
		const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
		step(&p, "tls", true, "%s %s in %.1f ms (sni %s, resumed no)", SSL_get_version(ssl),
		     SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)), hs_ms, sent ? sent : "none");
	} else {
		long vr = SSL_get_verify_result(ssl);
		fr = tls_fail_classify(ssl, SSL_get_error(ssl, r));
		step(&p, "tls", false, "handshake failed after %.1f ms reason=%s%s%s%s", hs_ms, tls_fail_reason_name(fr),
		     vr != X509_V_OK ? " (x509: " : "", vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "",
		     vr != X509_V_OK ? ")" : "");
	}
	/* the peer chain, as received */
	STACK_OF(X509) *chain = NULL;
	STACK_OF(X509) *got = SSL_get_peer_cert_chain(ssl);
	if (got) {
		chain = sk_X509_new_null();
		for (int i = 0; chain && i < sk_X509_num(got); i++) {
			X509 *x = sk_X509_value(got, i);
			X509_up_ref(x);
			sk_X509_push(chain, x);
		}
	}
	if (!chain && !hs_ok)
		chain = fetch_chain(&p, p.sni ? p.sni : (inet_pton(AF_INET, domain, &(struct in6_addr){ 0 }) == 1 ||
							  inet_pton(AF_INET6, domain, &(struct in6_addr){ 0 }) == 1)
								 ? NULL
								 : domain);
	printf("chain      %d certificate(s)%s\n", chain ? sk_X509_num(chain) : 0,
	       hs_ok || !chain ? "" : " (fetched again without verification, for display)");
	for (int i = 0; chain && i < sk_X509_num(chain); i++)
		print_cert(i, sk_X509_value(chain, i));
	/* verification */
	if (hs_ok) {
		step(&p, "verify", true, "chain verified against %s", p.ca);
	} else if (fr == TLS_FAIL_NAME_MISMATCH) {
		step(&p, "verify", true, "chain verified; the name check failed (below)");
	} else {
		long vr = SSL_get_verify_result(ssl);
		step(&p, "verify", false, "reason=%s%s%s%s", tls_fail_reason_name(fr), vr != X509_V_OK ? " (" : "",
		     vr != X509_V_OK ? X509_verify_cert_error_string(vr) : "", vr != X509_V_OK ? ")" : "");
	}
	/* RFC 5922 identity */
	X509 *leaf = chain && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : NULL;
	if (leaf) {
		struct tls_match_detail why;
		memset(&why, 0, sizeof(why));
		bool m = tls_identity_match(leaf, domain, false, &why);
		static const char *const via[] = { "none", "SAN URI", "SAN dNSName", "SAN iPAddress", "subject CN" };
		if (m)
			step(&p, "identity", true, "%s matched by %s %s (RFC 5922 7.1)", domain, via[why.via], why.matched);
		else
			step(&p, "identity", false,
			     "reason=name_mismatch: certificate does not prove %s (sip URIs %u, dNSNames %u, IPs %u%s%s)",
			     domain, why.sip_uris, why.dns_names, why.ip_addrs,
			     why.sip_uris && why.dns_names ? "; dNSNames ignored when a sip: URI is present" : "",
			     why.wildcard_refused ? "; wildcard refused, RFC 5922 7.2" : "");
	} else {
		step(&p, "identity", false, "no server certificate to check");
	}
	/* OPTIONS */
	if (hs_ok) {
		struct sockaddr_storage ls = { 0 };
		socklen_t ll = sizeof(ls);
		char local[96] = "0.0.0.0:0", h[INET6_ADDRSTRLEN];
		if (getsockname(fd, (struct sockaddr *)&ls, &ll) == 0) {
			if (ls.ss_family == AF_INET) {
				inet_ntop(AF_INET, &((struct sockaddr_in *)&ls)->sin_addr, h, sizeof(h));
				snprintf(local, sizeof(local), "%s:%u", h, ntohs(((struct sockaddr_in *)&ls)->sin_port));
			} else {
				inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ls)->sin6_addr, h, sizeof(h));
				snprintf(local, sizeof(local), "[%s]:%u", h, ntohs(((struct sockaddr_in6 *)&ls)->sin6_port));
			}
		}
		send_options(&p, ssl, local, domain);
		SSL_shutdown(ssl);
	} else {
		step(&p, "options", false, "not sent (no TLS connection)");
	}
	if (chain)
		sk_X509_pop_free(chain, X509_free);
	SSL_free(ssl);
	close(fd);
	mem_deref(ctx);
	printf("result     %s\n", p.failed ? "FAIL" : "PASS");
	return p.failed ? SIPSCTL_FAIL : SIPSCTL_OK;
}

const struct sipsctl_group sipsctl_group_probe = {
	.name = "probe",
	.summary = "probe sips:HOST[:PORT]: TCP, TLS, chain, verification, identity, OPTIONS",
	.run = probe_run,
	.usage = probe_usage,
};
