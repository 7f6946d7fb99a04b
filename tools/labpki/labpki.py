#!/usr/bin/python3
"""labpki: a small lab PKI for sipsd tests and `make demo`.

Drives the `openssl` command line (OpenSSL 3.0) with the Python 3 standard
library only.  Everything a CA needs (its key, certificate, the `openssl ca`
database, serial and CRL number files, a generated openssl.cnf and a lock
file) lives inside the CA's own directory, so several PKIs can be built in
parallel in different directories with no shared state.

Layout of a CA directory:

    ca.pem          the CA certificate
    ca.key          its private key (mode 0600)
    ca-chain.pem    intermediate CAs only: this CA + the intermediates above
                    it, without the self-signed root
    ca-db/          openssl.cnf, index.txt, serial, crlnumber, newcerts/, lock

Library use (tests do `sys.path.insert(0, "<repo>/tools/labpki")`):

    ca = labpki.CA.create(d / "root")
    sub = labpki.CA.create(d / "sub", name="lab sub CA", parent=ca)
    srv = sub.issue("server", san_dns=["localhost"], san_ip=["127.0.0.1"])
    old = ca.issue("old", not_before=-30, not_after=-1)      # expired
    ca.revoke(old); ca.crl(d / "crl.pem")
    labpki.write_ca_list(d / "CAList.pem", ca, sub)

CLI: `labpki.py demo DIR`, `labpki.py --help`.
"""

import argparse
import datetime as _dt
import fcntl
import ipaddress
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile

__all__ = ["CA", "Leaf", "LabPKIError", "demo", "write_ca_list", "cert_info",
           "verify", "OPENSSL"]

OPENSSL = os.environ.get("LABPKI_OPENSSL") or shutil.which("openssl") or "openssl"
TIMEOUT = 120          # seconds for any single openssl invocation
DB = "ca-db"           # name of the openssl ca database directory in a CA dir
BACKDATE = _dt.timedelta(minutes=5)  # default notBefore = now - BACKDATE (clock skew)

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_RESERVED = {"ca", "ca-chain", DB}

# openssl's long EKU names (as printed by `x509 -ext`) -> config short names
_EKU_LONG = {
    "TLS Web Server Authentication": "serverAuth",
    "TLS Web Client Authentication": "clientAuth",
    "Code Signing": "codeSigning",
    "E-mail Protection": "emailProtection",
    "Time Stamping": "timeStamping",
    "OCSP Signing": "OCSPSigning",
}


class LabPKIError(RuntimeError):
    """An openssl invocation failed, or arguments/state are inconsistent."""

    def __init__(self, msg, cmd=None, stderr=""):
        super().__init__(msg + (("\n" + stderr.strip()) if stderr else ""))
        self.cmd = cmd
        self.stderr = stderr


# --------------------------------------------------------------------------
# helpers

def _run(args, input=None, check=True):
    """Run openssl with args; return CompletedProcess (text mode)."""
    cmd = [OPENSSL] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, input=input, capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise LabPKIError("openssl timed out: " + " ".join(cmd), cmd) from e
    if check and p.returncode != 0:
        raise LabPKIError("openssl failed (rc=%d): %s" % (p.returncode, " ".join(cmd)),
                          cmd, p.stderr + p.stdout)
    return p


def _write_atomic(path, data, mode=0o644):
    """Write data (str) to path via a temp file in the same dir + rename."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".labpki-", suffix=".tmp")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def _read(path):
    with open(path) as f:
        return f.read()


def _pem_certs(text):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?",
                      text, re.S)


def _cnf_escape(value):
    """Escape a value for an OpenSSL config file (backslash escapes)."""
    return re.sub(r'([\\$#"\'])', r"\\\1", str(value))


def _subj_escape(value):
    """Escape a value for `-subj /CN=...`."""
    return re.sub(r"([\\/+])", r"\\\1", str(value))


def _utcnow():
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def _to_time(v, now):
    """datetime | timedelta | int/float days offset from now | 'YYYYMMDDHHMMSSZ'
    -> aware UTC datetime."""
    if isinstance(v, _dt.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=_dt.timezone.utc)   # naive means UTC
        return v.astimezone(_dt.timezone.utc).replace(microsecond=0)
    if isinstance(v, _dt.timedelta):
        return now + v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return now + _dt.timedelta(days=v)
    if isinstance(v, str) and re.fullmatch(r"\d{14}Z", v):
        return _dt.datetime.strptime(v, "%Y%m%d%H%M%SZ").replace(tzinfo=_dt.timezone.utc)
    raise LabPKIError("bad time value %r (want datetime, timedelta, days offset "
                      "or YYYYMMDDHHMMSSZ)" % (v,))


def _fmt_time(t):
    # GeneralizedTime form; OpenSSL 3.0 `ca -startdate/-enddate` accepts it and
    # stores UTCTime when the year allows (RFC 5280 4.1.2.5).
    return t.strftime("%Y%m%d%H%M%SZ")


def _validity(not_before, not_after, days):
    now = _utcnow()
    nb = now - BACKDATE if not_before is None else _to_time(not_before, now)
    na = nb + _dt.timedelta(days=days) if not_after is None else _to_time(not_after, now)
    if na <= nb:
        raise LabPKIError("not_after (%s) must be later than not_before (%s)" % (na, nb))
    return nb, na


def _genkey(kind):
    """Return a PEM private key (PKCS#8) as text."""
    if kind in ("ec", "ec256", "p256"):
        args = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-pkeyopt", "ec_param_enc:named_curve"]
    elif kind in ("ec384", "p384"):
        args = ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
                "-pkeyopt", "ec_param_enc:named_curve"]
    elif kind in ("rsa2048", "rsa3072", "rsa4096", "rsa"):
        bits = "2048" if kind == "rsa" else kind[3:]
        args = ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:" + bits]
    else:
        raise LabPKIError("unknown key type %r (ec, ec384, rsa2048, rsa3072, rsa4096)" % kind)
    return _run(args).stdout


def _is_rsa(kind):
    return kind.startswith("rsa")


def _check_name(name):
    if not _NAME_RE.match(name or "") or name in _RESERVED:
        raise LabPKIError("bad file name %r (letters, digits, . _ -; not %s)"
                          % (name, ", ".join(sorted(_RESERVED))))


class _Lock:
    """flock() on a file: serialises threads and processes using one CA db.
    Each acquisition opens its own file description, so it is not re-entrant."""

    def __init__(self, path):
        self.path = path
        self.fd = None

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        try:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None


# --------------------------------------------------------------------------
# inspection helpers (also handy in tests)

def cert_info(path):
    """Parse a certificate with `openssl x509`; return a dict with subject
    (str), cn, issuer, serial (int), not_before/not_after (aware datetimes),
    san {"dns": [...], "uri": [...], "ip": [...], "email": [...]},
    eku (list of short names, None if absent), is_ca (bool)."""
    p = _run(["x509", "-in", path, "-noout", "-subject", "-issuer", "-serial",
              "-startdate", "-enddate", "-nameopt", "RFC2253",
              "-ext", "subjectAltName,extendedKeyUsage,basicConstraints"])
    info = {"san": {"dns": [], "uri": [], "ip": [], "email": []}, "eku": None,
            "is_ca": False, "cn": None}
    lines = p.stdout.splitlines()
    i = 0
    while i < len(lines):
        ln = lines[i]
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if ln.startswith("subject="):
            info["subject"] = ln[8:].strip()
            m = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)*)", info["subject"])
            info["cn"] = m.group(1) if m else None
        elif ln.startswith("issuer="):
            info["issuer"] = ln[7:].strip()
        elif ln.startswith("serial="):
            info["serial"] = int(ln[7:].strip(), 16)
        elif ln.startswith("notBefore="):
            info["not_before"] = _parse_ossl_time(ln[10:])
        elif ln.startswith("notAfter="):
            info["not_after"] = _parse_ossl_time(ln[9:])
        elif "Subject Alternative Name" in ln:
            for item in (s.strip() for s in nxt.split(", ") if s.strip()):
                k, _, v = item.partition(":")
                if k == "DNS":
                    info["san"]["dns"].append(v)
                elif k == "URI":
                    info["san"]["uri"].append(v)
                elif k == "IP Address":
                    info["san"]["ip"].append(str(ipaddress.ip_address(v)))
                elif k == "email":
                    info["san"]["email"].append(v)
            i += 1
        elif "Extended Key Usage" in ln:
            info["eku"] = [_EKU_LONG.get(s.strip(), s.strip()) for s in nxt.split(",")
                           if s.strip()]
            i += 1
        elif "Basic Constraints" in ln:
            info["is_ca"] = "CA:TRUE" in nxt
            i += 1
        i += 1
    return info


def _parse_ossl_time(s):
    # e.g. "Nov 30 02:48:00 2026 GMT"
    return _dt.datetime.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=_dt.timezone.utc)


def verify(cert, cafile, untrusted=None, crl=None, purpose=None):
    """Run `openssl verify`; return (ok: bool, output: str)."""
    args = ["verify", "-CAfile", cafile]
    if untrusted:
        args += ["-untrusted", untrusted]
    if crl:
        args += ["-crl_check", "-CRLfile", crl]
    if purpose:
        args += ["-purpose", purpose]
    p = _run(args + [cert], check=False)
    return p.returncode == 0, p.stdout + p.stderr


def _key_matches(cert, key):
    try:
        a = _run(["x509", "-in", cert, "-noout", "-pubkey"]).stdout
        b = _run(["pkey", "-in", key, "-pubout"]).stdout
    except LabPKIError:
        return False
    return a.strip() == b.strip()


def write_ca_list(path, *cas):
    """Write a CA list file ("CAList.pem", a "Trusted Root Certificates" store)
    holding the certificates of the given CAs (CA objects or PEM file paths,
    a file may itself hold several certificates). Returns path."""
    out = []
    for c in cas:
        text = _read(c.cert if isinstance(c, CA) else c)
        certs = _pem_certs(text)
        if not certs:
            raise LabPKIError("no certificate in %s" % (c,))
        out.extend(x if x.endswith("\n") else x + "\n" for x in certs)
    return _write_atomic(path, "".join(out))


# --------------------------------------------------------------------------
# objects

class Leaf:
    """An issued end-entity certificate: .cert, .key, .chain (leaf followed by
    the intermediate CAs, no root) are file paths; .serial is an int."""

    def __init__(self, name, cert, key, chain, serial, ca=None):
        self.name, self.cert, self.key, self.chain = name, cert, key, chain
        self.serial, self.ca = serial, ca

    @property
    def serial_hex(self):
        return "%X" % self.serial

    def info(self):
        return cert_info(self.cert)

    def __repr__(self):
        return "Leaf(%r, serial=%s, cert=%r)" % (self.name, self.serial_hex, self.cert)


_CNF = """\
# Generated by labpki; used by `openssl ca` for this CA only.
[ ca ]
default_ca = labca

[ labca ]
database        = {db}/index.txt
new_certs_dir   = {db}/newcerts
serial          = {db}/serial
crlnumber       = {db}/crlnumber
certificate     = {cert}
private_key     = {key}
default_md      = sha256
default_days    = 365
default_crl_days = 30
policy          = labpolicy
unique_subject  = no
email_in_dn     = no
copy_extensions = none
preserve        = yes
crl_extensions  = crl_ext

[ labpolicy ]
commonName = optional

[ crl_ext ]
authorityKeyIdentifier = keyid:always

[ req ]
distinguished_name = req_dn
string_mask = utf8only
utf8 = yes
prompt = no

[ req_dn ]
CN = unused
"""


class CA:
    """A certificate authority living in its own directory.

    Attributes: dir, cert, key (paths), name (CN), chain (path of ca-chain.pem
    for an intermediate, None for a root), parent (CA or None)."""

    def __init__(self, dir, name=None, parent=None):
        self.dir = os.path.abspath(os.fspath(dir))
        self.cert = os.path.join(self.dir, "ca.pem")
        self.key = os.path.join(self.dir, "ca.key")
        self.db = os.path.join(self.dir, DB)
        self.cnf = os.path.join(self.db, "openssl.cnf")
        chain = os.path.join(self.dir, "ca-chain.pem")
        self.chain = chain if os.path.exists(chain) else None
        self.parent = parent
        self.name = name
        self.key_type = None

    # -- construction -----------------------------------------------------

    @classmethod
    def create(cls, dir, name=None, key="ec", parent=None, path_len=None,
               days=3650, not_before=None, not_after=None):
        """Create a new CA in dir (created if missing; must not already hold
        ca.pem). Self-signed root unless parent (a CA) is given, in which case
        the new CA is an intermediate signed by parent. path_len sets
        basicConstraints pathlen. Validity as for issue(); default now-5min
        .. +days.

        name defaults to "sipsd lab CA" for a root and "sipsd lab
        intermediate CA (<dir name>)" for an intermediate. An intermediate
        named like its parent is "self-issued" (RFC 5280 6.1.4 (l)) and does
        not count against path_len."""
        if name is None:
            name = "sipsd lab CA" if parent is None else \
                "sipsd lab intermediate CA (%s)" % os.path.basename(
                    os.path.abspath(os.fspath(dir)))
        self = cls(dir, name=name, parent=parent)
        if parent is not None and os.path.abspath(parent.dir) == self.dir:
            raise LabPKIError("an intermediate CA needs its own directory")
        os.makedirs(self.dir, exist_ok=True)
        if os.path.exists(self.cert):
            raise FileExistsError("%s already exists (use CA.load)" % self.cert)
        self._init_db()
        self.key_type = key
        nb, na = _validity(not_before, not_after, days)
        ext = ["basicConstraints = critical, CA:TRUE" +
               ("" if path_len is None else ", pathlen:%d" % int(path_len)),
               "keyUsage = critical, keyCertSign, cRLSign",
               "subjectKeyIdentifier = hash",
               "authorityKeyIdentifier = keyid:always"]
        with _Lock(os.path.join(self.db, "lock")):
            if os.path.exists(self.cert):
                raise FileExistsError("%s already exists (use CA.load)" % self.cert)
            _write_atomic(self.key, _genkey(key), 0o600)
            csr = self._csr(self.key, name)
            try:
                if parent is None:
                    pem = self._sign_locked(csr, ext, nb, na, serial=None, selfsign=True)
                    _write_atomic(self.cert, pem)
                else:
                    with _Lock(os.path.join(parent.db, "lock")):
                        pem = parent._sign_locked(csr, ext, nb, na, serial=None)
                    _write_atomic(self.cert, pem)
                    upper = _read(parent.chain) if parent.chain else ""
                    self.chain = _write_atomic(os.path.join(self.dir, "ca-chain.pem"),
                                               pem + upper)
            finally:
                os.unlink(csr)
        return self

    @classmethod
    def load(cls, dir, parent=None):
        """Open an existing CA directory (e.g. made by create() or demo())."""
        self = cls(dir, parent=parent)
        if not (os.path.exists(self.cert) and os.path.exists(self.key)):
            raise FileNotFoundError("no ca.pem/ca.key in %s" % self.dir)
        self.name = cert_info(self.cert).get("cn")
        self._init_db()
        return self

    def _init_db(self):
        os.makedirs(os.path.join(self.db, "newcerts"), exist_ok=True)
        os.chmod(self.db, 0o700)
        for fn, content in (("index.txt", ""), ("index.txt.attr", "unique_subject = no\n"),
                            ("crlnumber", "01\n"), ("serial", "01\n")):
            p = os.path.join(self.db, fn)
            if not os.path.exists(p):
                _write_atomic(p, content)
        _write_atomic(self.cnf, _CNF.format(db=_cnf_escape(self.db),
                                            cert=_cnf_escape(self.cert),
                                            key=_cnf_escape(self.key)))

    def _csr(self, keyfile, cn):
        subj = "/CN=" + _subj_escape(cn) if cn else "/"
        pem = _run(["req", "-new", "-config", self.cnf, "-utf8", "-key", keyfile,
                    "-subj", subj]).stdout
        fd, path = tempfile.mkstemp(dir=self.db, prefix="req-", suffix=".csr")
        with os.fdopen(fd, "w") as f:
            f.write(pem)
        return path

    def _sign_locked(self, csr, ext_lines, nb, na, serial=None, selfsign=False):
        """Sign csr with `openssl ca`; caller holds this CA's lock.
        Returns the certificate PEM."""
        if serial is None:
            # Random 63-bit serial with the top bit set: positive, fixed width,
            # unlikely to collide across CAs (CA/B BR 7.1 spirit).
            serial = secrets.randbits(62) | (1 << 62)
        serial = int(serial)
        if serial <= 0:
            raise LabPKIError("serial must be positive")
        hx = "%X" % serial
        if len(hx) % 2:
            hx = "0" + hx          # a2i_ASN1_INTEGER wants an even digit count
        serial_file = os.path.join(self.db, "serial")
        saved = _read(serial_file)
        _write_atomic(serial_file, hx + "\n")
        fd, extf = tempfile.mkstemp(dir=self.db, prefix="ext-", suffix=".cnf")
        with os.fdopen(fd, "w") as f:
            f.write("[ ext ]\n" + "\n".join(ext_lines) + "\n")
        fd, out = tempfile.mkstemp(dir=self.db, prefix="cert-", suffix=".pem")
        os.close(fd)
        args = ["ca", "-batch", "-config", self.cnf, "-notext", "-utf8", "-preserveDN",
                "-md", "sha256", "-in", csr, "-out", out,
                "-extfile", extf, "-extensions", "ext",
                "-startdate", _fmt_time(nb), "-enddate", _fmt_time(na)]
        if selfsign:
            args += ["-selfsign", "-keyfile", self.key]
        try:
            _run(args)
            pem = _read(out)
        except BaseException:
            _write_atomic(serial_file, saved)
            raise
        finally:
            for p in (extf, out):
                try:
                    os.unlink(p)
                except OSError:
                    pass
        if not pem.startswith("-----BEGIN CERTIFICATE-----"):
            raise LabPKIError("openssl ca produced no certificate")
        return pem

    # -- issuing ----------------------------------------------------------

    def issue(self, name, dir=None, cn=None, san_dns=(), san_uri=(), san_ip=(),
              san_email=(), eku=("serverAuth", "clientAuth"), key_usage=None,
              not_before=None, not_after=None, days=365, key="ec", serial=None):
        """Issue an end-entity certificate and key.

        Files: DIR/NAME.pem, DIR/NAME.key (0600), DIR/NAME-chain.pem (leaf +
        intermediates); DIR defaults to the CA directory. cn defaults to name.
        eku: list of names/OIDs, [] for no extendedKeyUsage extension.
        key_usage: list, default digitalSignature (+keyEncipherment for RSA);
        [] for none. not_before/not_after: datetime (naive = UTC), timedelta
        or days offset from now (negative = past); default now-5min ..
        not_before+days. serial: int, default random."""
        _check_name(name)
        outdir = os.path.abspath(os.fspath(dir)) if dir is not None else self.dir
        os.makedirs(outdir, exist_ok=True)
        certp = os.path.join(outdir, name + ".pem")
        keyp = os.path.join(outdir, name + ".key")
        chainp = os.path.join(outdir, name + "-chain.pem")
        if certp in (self.cert, os.path.join(self.dir, "ca-chain.pem")) or keyp == self.key:
            raise LabPKIError("leaf name %r collides with the CA's files" % name)
        nb, na = _validity(not_before, not_after, days)
        if key_usage is None:
            key_usage = ["digitalSignature"] + (["keyEncipherment"] if _is_rsa(key) else [])
        ext = ["basicConstraints = critical, CA:FALSE",
               "subjectKeyIdentifier = hash",
               "authorityKeyIdentifier = keyid:always"]
        if key_usage:
            ext.append("keyUsage = critical, " + ", ".join(key_usage))
        if eku:
            ext.append("extendedKeyUsage = " + ", ".join(eku))
        san = []
        for kind, vals in (("DNS", san_dns), ("URI", san_uri), ("email", san_email)):
            if isinstance(vals, str):
                vals = [vals]
            san += ["%s.%d = %s" % (kind, i + 1, _cnf_escape(v)) for i, v in enumerate(vals)]
        if isinstance(san_ip, str):
            san_ip = [san_ip]
        san += ["IP.%d = %s" % (i + 1, ipaddress.ip_address(v)) for i, v in enumerate(san_ip)]
        if san:
            ext.append("subjectAltName = @san")
            ext.append("[ san ]")
            ext += san

        keypem = _genkey(key)
        fd, tmpkey = tempfile.mkstemp(dir=self.db, prefix="key-", suffix=".pem")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(keypem)
            csr = self._csr(tmpkey, name if cn is None else cn)
        finally:
            os.unlink(tmpkey)
        try:
            with _Lock(os.path.join(self.db, "lock")):
                pem = self._sign_locked(csr, ext, nb, na, serial=serial)
        finally:
            os.unlink(csr)
        serial = _serial_of(pem)
        _write_atomic(keyp, keypem, 0o600)
        _write_atomic(certp, pem)
        _write_atomic(chainp, pem + (_read(self.chain) if self.chain else ""))
        return Leaf(name, certp, keyp, chainp, serial, ca=self)

    # -- revocation -------------------------------------------------------

    def revoke(self, leaf, reason=None):
        """Mark leaf (Leaf, or path of a certificate this CA issued) revoked
        in the CA database. reason: e.g. "keyCompromise" (optional)."""
        path = leaf.cert if isinstance(leaf, Leaf) else os.fspath(leaf)
        args = ["ca", "-batch", "-config", self.cnf, "-revoke", path]
        if reason:
            args += ["-crl_reason", reason]
        with _Lock(os.path.join(self.db, "lock")):
            _run(args)

    def crl(self, path, days=30, last_update=None, next_update=None):
        """Write a PEM CRL listing every revoked serial to path; return path.
        last_update/next_update (datetime / days offset) override days."""
        args = ["ca", "-batch", "-config", self.cnf, "-gencrl", "-md", "sha256"]
        if last_update is not None or next_update is not None:
            now = _utcnow()
            lu = _to_time(last_update, now) if last_update is not None else now
            nu = _to_time(next_update, now) if next_update is not None \
                else lu + _dt.timedelta(days=days)
            args += ["-crl_lastupdate", _fmt_time(lu), "-crl_nextupdate", _fmt_time(nu)]
        else:
            args += ["-crldays", str(int(days))]
        path = os.path.abspath(os.fspath(path))
        with _Lock(os.path.join(self.db, "lock")):
            pem = _run(args).stdout
        return _write_atomic(path, pem)

    def bundle(self, path, *cas):
        """Write a CA list file: this CA's certificate followed by those of
        cas (CA objects or PEM paths). Returns path."""
        return write_ca_list(path, self, *cas)

    def __repr__(self):
        return "CA(%r, name=%r)" % (self.dir, self.name)


def _serial_of(pem):
    return int(_run(["x509", "-noout", "-serial"], input=pem).stdout.strip()
               .split("=", 1)[1], 16)


# --------------------------------------------------------------------------
# demo PKI for `make demo`

DEMO_LEAVES = {
    "server": dict(cn="localhost", san_dns=["localhost"], san_ip=["127.0.0.1", "::1"],
                   san_uri=["sip:localhost"], eku=["serverAuth", "clientAuth"]),
    "alice": dict(cn="alice", san_uri=["sip:alice@localhost"], eku=["clientAuth"]),
    "bob": dict(cn="bob", san_uri=["sip:bob@localhost"], eku=["clientAuth"]),
}
DEMO_MIN_LEFT = 7 * 86400   # regenerate what expires within a week


def _leaf_ok(ca_cert, cert, key, spec):
    if not (os.path.exists(cert) and os.path.exists(key)):
        return False
    if _run(["x509", "-in", cert, "-noout", "-checkend", str(DEMO_MIN_LEFT)],
            check=False).returncode != 0:
        return False
    if not verify(cert, ca_cert)[0] or not _key_matches(cert, key):
        return False
    try:
        info = cert_info(cert)
    except LabPKIError:
        return False
    want_ip = sorted(str(ipaddress.ip_address(i)) for i in spec.get("san_ip", []))
    return (info["cn"] == spec["cn"]
            and sorted(info["san"]["dns"]) == sorted(spec.get("san_dns", []))
            and sorted(info["san"]["uri"]) == sorted(spec.get("san_uri", []))
            and sorted(info["san"]["ip"]) == want_ip
            and sorted(info["eku"] or []) == sorted(spec["eku"]))


def _ca_ok(d):
    cert, key = os.path.join(d, "ca.pem"), os.path.join(d, "ca.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        return False
    if _run(["x509", "-in", cert, "-noout", "-checkend", str(DEMO_MIN_LEFT)],
            check=False).returncode != 0:
        return False
    return verify(cert, cert)[0] and _key_matches(cert, key)


def demo(dir, log=None):
    """Create (or keep, if present and valid) the demo PKI in dir:
    ca.pem/ca.key, server.pem/.key (localhost, 127.0.0.1, ::1, sip:localhost;
    serverAuth+clientAuth), alice.pem/.key and bob.pem/.key (clientAuth,
    sip:alice@localhost / sip:bob@localhost). Returns {name: path} of every
    file; log(msg) is called for each file written or kept."""
    log = log or (lambda msg: None)
    d = os.path.abspath(os.fspath(dir))
    os.makedirs(os.path.join(d, DB), exist_ok=True)
    files = {}
    # A separate lock file: the CA's own db lock is taken inside issue().
    with _Lock(os.path.join(d, DB, "demo.lock")):
        if _ca_ok(d):
            ca = CA.load(d)
            log("kept   %s" % ca.cert)
        else:
            for n in ["ca"] + list(DEMO_LEAVES):
                for ext in (".pem", ".key", "-chain.pem"):
                    try:
                        os.unlink(os.path.join(d, n + ext))
                    except FileNotFoundError:
                        pass
            shutil.rmtree(os.path.join(d, DB, "newcerts"), ignore_errors=True)
            for fn in ("index.txt", "index.txt.attr", "index.txt.old",
                       "index.txt.attr.old", "serial", "crlnumber", "crlnumber.old"):
                try:
                    os.unlink(os.path.join(d, DB, fn))
                except FileNotFoundError:
                    pass
            ca = CA.create(d, name="sipsd demo CA")
            log("wrote  %s" % ca.cert)
            log("wrote  %s (private key, 0600)" % ca.key)
        files["ca"], files["ca.key"] = ca.cert, ca.key
        for name, spec in DEMO_LEAVES.items():
            cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")
            if _leaf_ok(ca.cert, cert, key, spec):
                log("kept   %s" % cert)
            else:
                ca.issue(name, **spec)
                log("wrote  %s (%s)" % (cert, ", ".join(
                    ["CN=" + spec["cn"]] + spec.get("san_dns", []) + spec.get("san_ip", [])
                    + spec.get("san_uri", []) + ["EKU " + "+".join(spec["eku"])])))
                log("wrote  %s (private key, 0600)" % key)
                log("wrote  %s (certificate + intermediates)" % os.path.join(
                    d, name + "-chain.pem"))
            files[name], files[name + ".key"] = cert, key
        for k, p in files.items():
            if k.endswith("key") and (os.stat(p).st_mode & 0o777) != 0o600:
                os.chmod(p, 0o600)
                log("chmod  0600 %s" % p)
    return files


# --------------------------------------------------------------------------
# CLI

def _main(argv=None):
    ap = argparse.ArgumentParser(
        prog="labpki.py",
        description="Lab PKI for sipsd tests and demos (drives the openssl CLI). "
                    "Keys are written mode 0600. Not for production use.")
    sub = ap.add_subparsers(dest="cmd", metavar="COMMAND")

    p = sub.add_parser("demo", help="create or refresh the `make demo` PKI in DIR "
                       "(ca, server, alice, bob); valid files are kept")
    p.add_argument("dir", metavar="DIR")

    p = sub.add_parser("ca", help="create a CA in DIR (root, or intermediate with --parent)")
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--name", default="sipsd lab CA", help="CA common name")
    p.add_argument("--key", default="ec", help="ec (P-256, default), ec384, rsa2048, ...")
    p.add_argument("--parent", metavar="CADIR", help="sign with the CA in CADIR")
    p.add_argument("--path-len", type=int)
    p.add_argument("--days", type=int, default=3650)

    p = sub.add_parser("issue", help="issue a certificate (Host certificate) from the CA in CADIR")
    p.add_argument("cadir", metavar="CADIR")
    p.add_argument("name", metavar="NAME", help="file stem: NAME.pem, NAME.key, NAME-chain.pem")
    p.add_argument("--out", metavar="DIR", help="output directory (default CADIR)")
    p.add_argument("--cn")
    p.add_argument("--dns", action="append", default=[], help="SAN DNS name (repeatable)")
    p.add_argument("--uri", action="append", default=[], help="SAN URI, e.g. sip:alice@example.com")
    p.add_argument("--ip", action="append", default=[], help="SAN IP address (repeatable)")
    p.add_argument("--eku", default="serverAuth,clientAuth",
                   help="comma-separated EKUs; empty string for none")
    p.add_argument("--key", default="ec")
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--not-before", type=float, metavar="DAYS",
                   help="notBefore as days from now (negative = past)")
    p.add_argument("--not-after", type=float, metavar="DAYS",
                   help="notAfter as days from now (negative = already expired)")

    p = sub.add_parser("revoke", help="revoke CERT in the CA database of CADIR")
    p.add_argument("cadir", metavar="CADIR")
    p.add_argument("cert", metavar="CERT")
    p.add_argument("--reason")

    p = sub.add_parser("crl", help="write a CRL of CADIR to OUT")
    p.add_argument("cadir", metavar="CADIR")
    p.add_argument("out", metavar="OUT")
    p.add_argument("--days", type=int, default=30)

    p = sub.add_parser("calist", help="write a CA list (CAList.pem) from CA dirs or PEM files")
    p.add_argument("out", metavar="OUT")
    p.add_argument("sources", metavar="CADIR|PEM", nargs="+")

    a = ap.parse_args(argv)
    try:
        if a.cmd == "demo":
            demo(a.dir, log=print)
            print("demo PKI ready in %s (trust ca.pem)" % os.path.abspath(a.dir))
        elif a.cmd == "ca":
            parent = CA.load(a.parent) if a.parent else None
            ca = CA.create(a.dir, name=a.name, key=a.key, parent=parent,
                           path_len=a.path_len, days=a.days)
            print("wrote  %s\nwrote  %s (private key, 0600)" % (ca.cert, ca.key))
            if ca.chain:
                print("wrote  %s" % ca.chain)
        elif a.cmd == "issue":
            ca = CA.load(a.cadir)
            lf = ca.issue(a.name, dir=a.out, cn=a.cn, san_dns=a.dns, san_uri=a.uri,
                          san_ip=a.ip, eku=[e for e in a.eku.split(",") if e.strip()],
                          key=a.key, days=a.days, not_before=a.not_before,
                          not_after=a.not_after)
            print("wrote  %s (serial %s)\nwrote  %s (private key, 0600)\nwrote  %s"
                  % (lf.cert, lf.serial_hex, lf.key, lf.chain))
        elif a.cmd == "revoke":
            CA.load(a.cadir).revoke(a.cert, reason=a.reason)
            print("revoked %s" % a.cert)
        elif a.cmd == "crl":
            print("wrote  %s" % CA.load(a.cadir).crl(a.out, days=a.days))
        elif a.cmd == "calist":
            srcs = [CA.load(s) if os.path.isdir(s) else s for s in a.sources]
            print("wrote  %s" % os.path.abspath(write_ca_list(a.out, *srcs)))
        else:
            ap.print_help()
            return 2
    except (LabPKIError, OSError, ValueError) as e:
        print("labpki: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
