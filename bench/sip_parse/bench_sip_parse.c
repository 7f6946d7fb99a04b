/* sipsd SIP parse vs GNU oSIP osip_message_parse(), single thread, same inputs.
 * Each measurement runs for about BENCH_MS of wall time (calibrated, bounded iterations)
 * and keeps the best of three rounds. sipsd: sip_msg_parse() (copies the buffer, indexes
 * every header, structures top Via/From/To/CSeq/Call-ID/Content-Length/Max-Forwards and the
 * Request-URI) + mem_deref(). oSIP: osip_message_init() + osip_message_parse() +
 * osip_message_free(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <osipparser2/osip_message.h>
#include <osipparser2/osip_parser.h>
#include <osipparser2/osip_port.h>

#include "base/mem.h"
#include "sip/msg.h"

#define BENCH_MS 300
#define MAX_ITERS 20000000u

static const char invite[] =
	"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
	"Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;rport\r\n"
	"Max-Forwards: 70\r\n"
	"Route: <sips:edge.example.com;lr>\r\n"
	"From: \"Alice Liddell\" <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"To: \"Bob\" <sips:bob@biloxi.example.com>\r\n"
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	"CSeq: 31862 INVITE\r\n"
	"Contact: <sips:alice@client.atlanta.example.com;transport=tls;ob>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\"\r\n"
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, UPDATE, PRACK, INFO\r\n"
	"Supported: replaces, outbound, gruu, 100rel, timer\r\n"
	"User-Agent: ExamplePhone/4.2.1 (build 5521)\r\n"
	"Session-Expires: 1800;refresher=uac\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 410\r\n"
	"\r\n"
	"v=0\r\n"
	"o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.101\r\n"
	"t=0 0\r\n"
	"m=audio 49172 RTP/SAVP 0 8 101\r\n"
	"a=rtpmap:0 PCMU/8000\r\n"
	"a=rtpmap:8 PCMA/8000\r\n"
	"a=rtpmap:101 telephone-event/8000\r\n"
	"a=fmtp:101 0-16\r\n"
	"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
	"a=ptime:20\r\n"
	"a=sendrecv\r\n"
	"a=rtcp-mux\r\n"
	"m=video 0 RTP/SAVP 96\r\n"
	"a=inactive\r\n"
	"a=label:1\r\n"
	"a=x-pad:0123456789\r\n";

static const char reg[] =
	"REGISTER sips:example.com SIP/2.0\r\n"
	"Via: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bKnashd92;rport\r\n"
	"Max-Forwards: 70\r\n"
	"To: Bob <sips:bob@example.com>\r\n"
	"From: Bob <sips:bob@example.com>;tag=ja743ks76zlflH\r\n"
	"Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.4\r\n"
	"CSeq: 2 REGISTER\r\n"
	"Contact: <sips:bob@192.0.2.4;transport=tls;ob>;reg-id=1;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"\r\n"
	"Authorization: Digest username=\"bob\", realm=\"example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", "
	"opaque=\"\", uri=\"sips:example.com\", response=\"dfe56131d1958046689d83306477ecc\", "
	"algorithm=MD5, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n"
	"Supported: path, outbound, gruu\r\n"
	"Expires: 3600\r\n"
	"User-Agent: ExamplePhone/4.2.1\r\n"
	"Content-Length: 0\r\n"
	"\r\n";

static const char ok200[] =
	"SIP/2.0 200 OK\r\n"
	"Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bK2d4790.1;received=192.0.2.3\r\n"
	"Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;received=192.0.2.101;rport=5061\r\n"
	"Record-Route: <sips:edge.example.com;lr>\r\n"
	"From: \"Alice Liddell\" <sips:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
	"To: \"Bob\" <sips:bob@biloxi.example.com>;tag=8321234356\r\n"
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
	"CSeq: 31862 INVITE\r\n"
	"Contact: <sips:bob@client.biloxi.example.com;transport=tls>\r\n"
	"Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: 147\r\n"
	"\r\n"
	"v=0\r\n"
	"o=bob 2890844527 2890844527 IN IP4 client.biloxi.example.com\r\n"
	"s=-\r\n"
	"c=IN IP4 192.0.2.201\r\n"
	"t=0 0\r\n"
	"m=audio 3456 RTP/AVP 0\r\n"
	"a=rtpmap:0 PCMU/8000\r\n";

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile size_t sink;

static int run_sipsd(const char *b, size_t n)
{
	struct sip_msg *m = NULL;
	int err = sip_msg_parse(b, n, NULL, 0, &m, NULL);
	if (!err) {
		sink += sip_msg_hdr_count(m);
		mem_deref(m);
	}
	return err;
}

static int run_osip(const char *b, size_t n)
{
	osip_message_t *m = NULL;
	if (osip_message_init(&m) != 0)
		return -1;
	int err = osip_message_parse(m, b, n);
	osip_message_free(m);
	return err;
}

struct input {
	char name[64];
	char *buf;
	size_t len;
};

/* ns per parse of all inputs in turn (one "op" = one message), best of 3 rounds. */
static double measure(int (*fn)(const char *, size_t), const struct input *in, size_t nin)
{
	unsigned iters = 1;
	double best = 0;
	for (;;) {
		double t0 = now_ns();
		for (unsigned i = 0; i < iters; i++)
			for (size_t k = 0; k < nin; k++)
				fn(in[k].buf, in[k].len);
		double dt = now_ns() - t0;
		if (dt > BENCH_MS * 1e6 / 10 || iters >= MAX_ITERS) {
			iters = (unsigned)((double)iters * (BENCH_MS * 1e6 / 3) / dt) + 1;
			if (iters > MAX_ITERS)
				iters = MAX_ITERS;
			break;
		}
		iters *= 4;
	}
	for (int r = 0; r < 3; r++) {
		double t0 = now_ns();
		for (unsigned i = 0; i < iters; i++)
			for (size_t k = 0; k < nin; k++)
				fn(in[k].buf, in[k].len);
		double ns = (now_ns() - t0) / ((double)iters * (double)nin);
		if (r == 0 || ns < best)
			best = ns;
	}
	return best;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *b = malloc(70000);
	*len = b ? fread(b, 1, 70000, f) : 0;
	fclose(f);
	return b;
}

static int worst_ok = 1;
static FILE *tab;

static void row(const char *name, const struct input *in, size_t nin)
{
	size_t bytes = 0;
	int s_err = 0, o_err = 0;
	for (size_t k = 0; k < nin; k++) {
		bytes += in[k].len;
		s_err += run_sipsd(in[k].buf, in[k].len) != 0;
		o_err += run_osip(in[k].buf, in[k].len) != 0;
	}
	double s = measure(run_sipsd, in, nin), o = measure(run_osip, in, nin);
	double ratio = o / s;
	if (ratio < 5.0)
		worst_ok = 0;
	fprintf(tab, "%-28s %6zu %10.0f %12.0f %10.0f %12.0f %7.1fx%s%s\n", name, bytes / nin, s, 1e9 / s, o, 1e9 / o,
	       ratio, s_err ? "  (sipsd rejects)" : "", o_err ? "  (osip error)" : "");
	fflush(tab);
}

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : getenv("SIPSD_TESTDATA");
	if (!data)
		data = "../shared/testdata";
	parser_init();
	/* oSIP logs every parse failure on stdout/stderr: the table goes to a saved descriptor
	 * and both standard streams to /dev/null */
	for (int l = 0; l < END_TRACE_LEVEL; l++)
		osip_trace_disable_level((osip_trace_level_t)l);
	fflush(stdout);
	int fd = dup(1);
	tab = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!tab || !freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
		return 1;

	fprintf(tab, "%-28s %6s %10s %12s %10s %12s %8s\n", "input", "bytes", "sipsd ns", "sipsd msg/s", "osip ns",
	       "osip msg/s", "ratio");
	struct input one[1];
	struct {
		const char *name;
		const char *buf;
		size_t len;
	} fixed[] = { { "INVITE+SDP", invite, sizeof(invite) - 1 },
		      { "REGISTER+Authorization", reg, sizeof(reg) - 1 },
		      { "200 OK (INVITE)", ok200, sizeof(ok200) - 1 } };
	for (size_t i = 0; i < 3; i++) {
		snprintf(one[0].name, sizeof(one[0].name), "%s", fixed[i].name);
		one[0].buf = malloc(fixed[i].len);
		memcpy(one[0].buf, fixed[i].buf, fixed[i].len);
		one[0].len = fixed[i].len;
		row(fixed[i].name, one, 1);
		free(one[0].buf);
	}

	/* RFC 4475 3.1.1.x and the other "valid" rows of VERDICTS.tsv */
	char path[1024];
	snprintf(path, sizeof(path), "%s/rfc4475/VERDICTS.tsv", data);
	size_t tl;
	char *tsv = read_file(path, &tl);
	if (!tsv) {
		fprintf(stderr, "cannot read %s\n", path);
		return 1;
	}
	tsv[tl] = '\0';
	struct input set[64];
	size_t nset = 0;
	char *line = strchr(tsv, '\n');
	while (line && *++line && nset < 64) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *f = line, *t = strchr(line, '\t');
		int col = 0;
		char *cls = NULL;
		for (char *p = t; p && col < 3; p = strchr(p + 1, '\t')) {
			if (++col == 3)
				cls = p + 1;
		}
		if (t && cls && strncmp(cls, "valid\t", 6) == 0) {
			*t = '\0';
			snprintf(path, sizeof(path), "%s/rfc4475/%s", data, f);
			struct input *in = &set[nset];
			in->buf = read_file(path, &in->len);
			if (in->buf) {
				snprintf(in->name, sizeof(in->name), "  rfc4475/%s", f);
				nset++;
			}
		}
		line = nl;
	}
	char label[64];
	snprintf(label, sizeof(label), "RFC 4475 valid set (%zu)", nset);
	row(label, set, nset);
	for (size_t i = 0; i < nset; i++)
		row(set[i].name, &set[i], 1);
	fprintf(tab, "\nbar: sipsd >= 5x osip on every input: %s\n", worst_ok ? "met" : "NOT met");
	for (size_t i = 0; i < nset; i++)
		free(set[i].buf);
	free(tsv);
	return 0;
}
