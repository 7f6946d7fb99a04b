"""A small SIP user agent for black-box tests: speaks real SIP over TLS (or TCP/UDP) to sipsd,
registers with digest (MD5, SHA-256, SHA-512-256), places and answers calls. Just enough SIP to
drive the server; every wait is bounded."""
import hashlib
import random
import re
import socket
import ssl
import string
import time

CRLF = "\r\n"


def rand(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class Msg:
    """A parsed SIP message: start line, ordered headers, body."""

    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("utf-8", "replace").split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            n, _, v = line.partition(":")
            self.headers.append((n.strip(), v.strip()))
        parts = self.start.split(" ", 2)
        self.is_response = parts[0].startswith("SIP/")
        self.status = int(parts[1]) if self.is_response else 0
        self.reason = parts[2] if self.is_response and len(parts) > 2 else ""
        self.method = None if self.is_response else parts[0]
        self.ruri = None if self.is_response else parts[1]

    COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length"}

    def all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if self.COMPACT.get(n.lower(), n.lower()) == name]

    def get(self, name, default=None):
        v = self.all(name)
        return v[0] if v else default

    @property
    def cseq_method(self):
        return self.get("CSeq", "0 X").split()[1]

    def __repr__(self):
        return "<Msg %s>" % self.start


def parse_auth_params(value):
    scheme, _, rest = value.partition(" ")
    params = {}
    for m in re.finditer(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^,\s]+)', rest):
        params[m.group(1).lower()] = m.group(3) if m.group(3) is not None else m.group(2)
    return scheme, params


HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}


def H(alg, s):
    return hashlib.new(HASHES[alg], s.encode()).hexdigest()


def digest_header(method, uri, user, password, chal, nc=1, header="Authorization", cnonce=None):
    alg = chal.get("algorithm", "MD5")
    realm = chal["realm"]
    ha1 = H(alg, f"{user}:{realm}:{password}")
    ha2 = H(alg, f"{method}:{uri}")
    cnonce = cnonce or rand(12)
    ncs = "%08x" % nc
    resp = H(alg, f"{ha1}:{chal['nonce']}:{ncs}:{cnonce}:auth:{ha2}")
    v = (f'Digest username="{user}", realm="{realm}", nonce="{chal["nonce"]}", uri="{uri}", '
         f'response="{resp}", algorithm={alg}, qop=auth, nc={ncs}, cnonce="{cnonce}"')
    if "opaque" in chal:
        v += f', opaque="{chal["opaque"]}"'
    return f"{header}: {v}"


class UA:
    def __init__(self, host, port, user, domain="localhost", password=None, ctx=None, transport="TLS",
                 server_hostname="localhost"):
        self.host, self.port = host, port
        self.user, self.domain, self.password = user, domain, password
        self.ctx, self.transport = ctx, transport
        self.server_hostname = server_hostname
        self.sock = None
        self.buf = b""
        self.cseq = 0
        self.call_id = rand() + "@test"
        self.tag = rand(8)
        self.pending = []  # messages read while waiting for something else

    # ---- connection ----
    def connect(self, timeout=5.0):
        if self.transport == "UDP":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            raw = socket.create_connection((self.host, self.port), timeout=timeout)
            self.sock = self.ctx.wrap_socket(raw, server_hostname=self.server_hostname) if self.transport == "TLS" else raw
        self.sock.settimeout(timeout)
        self.laddr = self.sock.getsockname()
        return self

    def close(self):
        if self.sock:
            try:
                if isinstance(self.sock, ssl.SSLSocket):
                    self.sock.unwrap()
            except (ssl.SSLError, OSError):
                pass
            self.sock.close()
            self.sock = None

    @property
    def contact_uri(self):
        scheme = "sips" if self.transport == "TLS" else "sip"
        return f"{scheme}:{self.user}@{self.laddr[0]}:{self.laddr[1]};transport={self.transport.lower()}"

    @property
    def aor(self):
        return f"sip:{self.user}@{self.domain}"

    def via(self, branch=None):
        return f"Via: SIP/2.0/{self.transport} {self.laddr[0]}:{self.laddr[1]};rport;branch=z9hG4bK{branch or rand()}"

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        if self.transport == "UDP":
            self.sock.sendto(data, (self.host, self.port))
        else:
            self.sock.sendall(data)

    def _read_one(self, deadline):
        while True:
            if self.transport == "UDP":
                if time.monotonic() > deadline:
                    raise TimeoutError("no message")
                self.sock.settimeout(max(0.05, deadline - time.monotonic()))
                data, _ = self.sock.recvfrom(65535)
                return Msg(data)
            # strip keepalive pongs
            while self.buf.startswith(b"\r\n"):
                self.buf = self.buf[2:]
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = self.buf[:end].decode("utf-8", "replace")
                m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
                clen = int(m.group(1)) if m else 0
                total = end + 4 + clen
                if len(self.buf) >= total:
                    raw, self.buf = self.buf[:total], self.buf[total:]
                    return Msg(raw)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no complete message")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed")
            self.buf += chunk

    def wait(self, pred, timeout=5.0):
        """Next message matching pred (earlier non-matching ones are kept for later waits)."""
        for i, m in enumerate(self.pending):
            if pred(m):
                return self.pending.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            m = self._read_one(deadline)
            if pred(m):
                return m
            self.pending.append(m)

    def final_response(self, cseq_method, timeout=5.0):
        while True:
            m = self.wait(lambda m: m.is_response and m.cseq_method == cseq_method, timeout)
            if m.status >= 200:
                return m

    # ---- requests ----
    def request(self, method, ruri, headers=(), body="", to=None, call_id=None, from_tag=None, to_tag=None,
                cseq=None, branch=None, content_type="application/sdp"):
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        to = to or ruri.split(";")[0]
        lines = [f"{method} {ruri} SIP/2.0", self.via(branch), "Max-Forwards: 70",
                 f"From: <{self.aor}>;tag={from_tag or self.tag}",
                 f"To: <{to}>" + (f";tag={to_tag}" if to_tag else ""),
                 f"Call-ID: {call_id or self.call_id}", f"CSeq: {cseq} {method}"]
        lines += list(headers)
        if body:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body.encode())}")
        return CRLF.join(lines) + CRLF + CRLF + body

    def register(self, expires=3600, contact=None, extra=(), password=None, alg_pref=None, call_id=None,
                 timeout=5.0, auth=True):
        """REGISTER, answering a digest challenge once. Returns the final response.
        contact=False sends no Contact (a fetch, RFC 3261 10.2.3); expires=None no Expires."""
        contact = contact if contact is not None else f"<{self.contact_uri}>"
        hdrs = ([f"Contact: {contact}"] if contact is not False else []) + \
            ([f"Expires: {expires}"] if expires is not None else []) + list(extra)
        ruri = f"sip:{self.domain}"
        cid = call_id or self.call_id
        self.send(self.request("REGISTER", ruri, hdrs, to=self.aor, call_id=cid))
        r = self.final_response("REGISTER", timeout)
        if r.status in (401, 407) and auth:
            chals = [parse_auth_params(v)[1] for v in r.all("WWW-Authenticate" if r.status == 401 else "Proxy-Authenticate")]
            chal = chals[0]
            if alg_pref:
                chal = [c for c in chals if c.get("algorithm", "MD5") == alg_pref][0]
            hdr = digest_header("REGISTER", ruri, self.user, password or self.password, chal,
                                header="Authorization" if r.status == 401 else "Proxy-Authorization")
            self.send(self.request("REGISTER", ruri, hdrs + [hdr], to=self.aor, call_id=cid))
            r = self.final_response("REGISTER", timeout)
        self.last_challenge = r
        return r

    def options(self):
        self.send(self.request("OPTIONS", f"sip:{self.domain}", to=f"sip:{self.domain}"))
        return self.final_response("OPTIONS")


SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


def response_to(req, status, reason, to_tag=None, extra=(), body=""):
    """Build a response to a received request (copying Via/From/To/Call-ID/CSeq, RFC 3261 8.2.6)."""
    lines = [f"SIP/2.0 {status} {reason}"]
    for v in req.all("Via"):
        lines.append(f"Via: {v}")
    for rr in req.all("Record-Route"):
        lines.append(f"Record-Route: {rr}")
    lines.append(f"From: {req.get('From')}")
    to = req.get("To")
    if to_tag and "tag=" not in to:
        to += f";tag={to_tag}"
    lines.append(f"To: {to}")
    lines.append(f"Call-ID: {req.get('Call-ID')}")
    lines.append(f"CSeq: {req.get('CSeq')}")
    lines += list(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return CRLF.join(lines) + CRLF + CRLF + body
