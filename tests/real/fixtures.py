#!/usr/bin/env python3
"""Real mail servers on loopback for mailtls's `real` tests.

Starts, in one fresh directory, without systemd and without touching the
system's own Postfix or Dovecot configuration:

  * a test PKI made with the openssl command: a root CA, an intermediate CA
    signed by it, and two leaves signed by the intermediate (RSA-2048 and
    ECDSA P-256, SAN DNS names mail/smtp/imap/pop.test.example);
  * one Postfix instance (`postfix -c DIR`) with five smtpd services that
    differ only in their TLS and AUTH settings;
  * two Dovecot instances, "weak" and "strict", each with IMAP, IMAPS, POP3
    and POP3S listeners; "weak" also serves the SASL socket Postfix uses.

Everything listens on 127.0.N.1-3 only (N picked from 2..9, the first block
whose ports are all free), on ports 10025-10995. No name is ever resolved:
Postfix runs with DNS lookups disabled and only error transports, Dovecot
sees addresses only.

The services and what their configuration implies are written to
DIR/endpoints.json; README.md in this folder has the table.

Use from a test:

    import fixtures
    fx = fixtures.start()          # fresh temp dir, raises FixtureError
    try: ... fx.endpoints ...
    finally: fx.stop()             # MAILTLS_KEEP=1 keeps the directory

or by hand:

    tests/real/fixtures.py start /tmp/mt   # prints the endpoint table
    tests/real/fixtures.py stop /tmp/mt

Python 3 standard library only.
"""

import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0

# SASL password of the test user (any user name is accepted by the static
# passdb with this password; the scanner's fake credential never matches).
TEST_USER = "mailtls-test"
TEST_PASSWORD = "mailtls-test-password"

SAN_NAMES = ["mail.test.example", "smtp.test.example", "imap.test.example", "pop.test.example"]
GOOD_NAME = "mail.test.example"
LEAF_CN = "mail.test.example"
ROOT_CN = "mailtls Test Root CA"
INTER_CN = "mailtls Test Intermediate CA"

# Last octet of each server's address inside the chosen 127.0.N.0/24 block.
HOST_POSTFIX, HOST_WEAK, HOST_STRICT = 1, 2, 3
SUBNET_CANDIDATES = range(2, 10)

# Every fixture service. "expect" is what the configuration implies the
# scanner must record; tests read it from endpoints.json.
#   auth_before / auth_after: upper-case mechanisms (+ "USER" for POP3)
#   leaf: which certificate the server can present ("ecdsa", "rsa", or
#         "either" for Postfix, which carries both chains)
#   tls_version: only where the configuration pins it
SERVICES = [
    # --- Postfix, one instance, 127.0.N.1 ---
    dict(name="smtp-may", server="postfix", host=HOST_POSTFIX, port=10025, proto="smtp",
         config="smtpd_tls_security_level=may, smtpd_tls_auth_only=no, SASL via Dovecot",
         expect=dict(starttls_offered=True, tls=True, auth_before=["PLAIN", "LOGIN"],
                     plaintext_auth_before_tls=True, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STARTTLS", "AUTH"], caps_before_lacks=[],
                     auth_probe="cleartext-evaluated", leaf="either")),
    dict(name="submission-encrypt", server="postfix", host=HOST_POSTFIX, port=10587, proto="smtp",
         config="smtpd_tls_security_level=encrypt, smtpd_tls_auth_only=yes, SASL via Dovecot",
         expect=dict(starttls_offered=True, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STARTTLS"], caps_before_lacks=["AUTH"],
                     auth_probe="tls-required", leaf="either")),
    dict(name="submission-authonly", server="postfix", host=HOST_POSTFIX, port=10588, proto="smtp",
         config="smtpd_tls_security_level=may, smtpd_tls_auth_only=yes, SASL via Dovecot",
         expect=dict(starttls_offered=True, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STARTTLS"], caps_before_lacks=["AUTH"],
                     auth_probe="not-offered", leaf="either")),
    dict(name="smtps", server="postfix", host=HOST_POSTFIX, port=10465, proto="smtps",
         config="smtpd_tls_wrappermode=yes, smtpd_tls_protocols=<=TLSv1.2, SASL via Dovecot",
         expect=dict(starttls_offered=None, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=[], caps_before_lacks=[],
                     auth_probe=None, leaf="either", tls_version="TLSv1.2")),
    dict(name="smtp-notls", server="postfix", host=HOST_POSTFIX, port=10026, proto="smtp",
         config="smtpd_tls_security_level=none, SASL via Dovecot (AUTH in cleartext only)",
         expect=dict(starttls_offered=False, tls=False, auth_before=["PLAIN", "LOGIN"],
                     plaintext_auth_before_tls=True, auth_after=None,
                     caps_before_has=["AUTH"], caps_before_lacks=["STARTTLS"],
                     auth_probe="cleartext-evaluated", leaf=None)),
    # --- Dovecot "weak": ssl=yes, disable_plaintext_auth=no, RSA leaf ---
    dict(name="weak-imap", server="dovecot-weak", host=HOST_WEAK, port=10143, proto="imap",
         config="ssl=yes, disable_plaintext_auth=no (RSA certificate)",
         expect=dict(starttls_offered=True, tls=True, auth_before=["PLAIN", "LOGIN"],
                     plaintext_auth_before_tls=True, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STARTTLS", "AUTH=PLAIN"], caps_before_lacks=["LOGINDISABLED"],
                     auth_probe="cleartext-evaluated", leaf="rsa")),
    dict(name="weak-imaps", server="dovecot-weak", host=HOST_WEAK, port=10993, proto="imaps",
         config="ssl=yes, implicit TLS (RSA certificate)",
         expect=dict(starttls_offered=None, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=[], caps_before_lacks=[], auth_probe=None, leaf="rsa")),
    dict(name="weak-pop3", server="dovecot-weak", host=HOST_WEAK, port=10110, proto="pop3",
         config="ssl=yes, disable_plaintext_auth=no (RSA certificate)",
         expect=dict(starttls_offered=True, tls=True, auth_before=["USER", "PLAIN", "LOGIN"],
                     plaintext_auth_before_tls=True, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STLS", "USER"], caps_before_lacks=[],
                     auth_probe="cleartext-evaluated", leaf="rsa")),
    dict(name="weak-pop3s", server="dovecot-weak", host=HOST_WEAK, port=10995, proto="pop3s",
         config="ssl=yes, implicit TLS (RSA certificate)",
         expect=dict(starttls_offered=None, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=[], caps_before_lacks=[], auth_probe=None, leaf="rsa")),
    # --- Dovecot "strict": ssl=required, ECDSA leaf ---
    dict(name="strict-imap", server="dovecot-strict", host=HOST_STRICT, port=10143, proto="imap",
         config="ssl=required, disable_plaintext_auth=yes (ECDSA certificate)",
         expect=dict(starttls_offered=True, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STARTTLS", "LOGINDISABLED"], caps_before_lacks=["AUTH=PLAIN"],
                     auth_probe="tls-required", leaf="ecdsa")),
    dict(name="strict-imaps", server="dovecot-strict", host=HOST_STRICT, port=10993, proto="imaps",
         config="ssl=required, implicit TLS (ECDSA certificate)",
         expect=dict(starttls_offered=None, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=[], caps_before_lacks=[], auth_probe=None, leaf="ecdsa")),
    dict(name="strict-pop3", server="dovecot-strict", host=HOST_STRICT, port=10110, proto="pop3",
         config="ssl=required, disable_plaintext_auth=yes (ECDSA certificate)",
         expect=dict(starttls_offered=True, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=["STLS"], caps_before_lacks=["USER"],
                     auth_probe="tls-required", leaf="ecdsa")),
    dict(name="strict-pop3s", server="dovecot-strict", host=HOST_STRICT, port=10995, proto="pop3s",
         config="ssl=required, implicit TLS (ECDSA certificate)",
         expect=dict(starttls_offered=None, tls=True, auth_before=[],
                     plaintext_auth_before_tls=False, auth_after=["PLAIN", "LOGIN"],
                     caps_before_has=[], caps_before_lacks=[], auth_probe=None, leaf="ecdsa")),
]

PROTO_INFO = {  # spec proto -> (protocol, tls_mode, openssl -starttls arg)
    "smtp": ("smtp", "starttls", "smtp"),
    "smtps": ("smtp", "implicit", None),
    "imap": ("imap", "starttls", "imap"),
    "imaps": ("imap", "implicit", None),
    "pop3": ("pop3", "starttls", "pop3"),
    "pop3s": ("pop3", "implicit", None),
}


class FixtureError(Exception):
    pass


def _log(msg):
    print("fixtures: " + msg, file=sys.stderr, flush=True)


def _run(cmd, timeout=30, check=True, **kw):
    """Runs a command with a time bound; returns CompletedProcess (text)."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired as e:
        raise FixtureError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    if check and p.returncode != 0:
        raise FixtureError("command failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return p


def run_daemon(cmd, out_path, timeout=60):
    """Runs a command that forks a daemon. Output goes to a file, not a pipe:
    the daemon inherits the descriptors and a pipe would never reach EOF."""
    with open(out_path, "w") as out:
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                               timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise FixtureError("timed out after %ss: %s" % (timeout, " ".join(cmd))) from e
    with open(out_path, errors="replace") as f:
        return p.returncode, f.read()


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


# ---------------------------------------------------------------- certificates

CA_EXT = """[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[inter]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[leaf_rsa]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @san
[leaf_ec]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = @san
[san]
"""


def _pem_fingerprint(pem_path):
    with open(pem_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def _cert_dates(pem_path):
    """Returns (not_before, not_after) as ISO 8601 UTC strings."""
    out = _run(["openssl", "x509", "-in", pem_path, "-noout", "-startdate", "-enddate"]).stdout
    vals = {}
    for line in out.splitlines():
        k, _, v = line.partition("=")
        vals[k.strip()] = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                        time.gmtime(ssl.cert_time_to_seconds(v.strip())))
    return vals["notBefore"], vals["notAfter"]


def make_pki(cdir):
    """Creates the test PKI in cdir; returns a dict describing it."""
    os.makedirs(cdir, exist_ok=True)
    ext = os.path.join(cdir, "ext.cnf")
    _write(ext, CA_EXT + "".join("DNS.%d = %s\n" % (i + 1, n) for i, n in enumerate(SAN_NAMES)))
    p = lambda n: os.path.join(cdir, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]

    def serial():
        return "0x" + os.urandom(8).hex()

    _run(["openssl", "req", "-x509", "-new", *ec, "-nodes", "-keyout", p("root.key"), "-out", p("root.pem"),
          "-days", "3650", "-subj", "/O=mailtls test/CN=" + ROOT_CN, "-config", ext, "-extensions", "ca",
          "-set_serial", serial()])
    _run(["openssl", "req", "-new", *ec, "-nodes", "-keyout", p("inter.key"), "-out", p("inter.csr"),
          "-subj", "/O=mailtls test/CN=" + INTER_CN])
    _run(["openssl", "x509", "-req", "-in", p("inter.csr"), "-CA", p("root.pem"), "-CAkey", p("root.key"),
          "-set_serial", serial(), "-days", "1825", "-extfile", ext, "-extensions", "inter",
          "-out", p("inter.pem")])
    leaves = {}
    for kind, newkey, section in (("rsa", ["-newkey", "rsa:2048"], "leaf_rsa"), ("ecdsa", ec, "leaf_ec")):
        _run(["openssl", "req", "-new", *newkey, "-nodes", "-keyout", p(kind + ".key"), "-out", p(kind + ".csr"),
              "-subj", "/O=mailtls test/CN=" + LEAF_CN])
        _run(["openssl", "x509", "-req", "-in", p(kind + ".csr"), "-CA", p("inter.pem"), "-CAkey", p("inter.key"),
              "-set_serial", serial(), "-days", "30", "-extfile", ext, "-extensions", section,
              "-out", p(kind + ".pem")])
        # chain = leaf + intermediate (what servers send); key-chain = Postfix's
        # smtpd_tls_chain_files format (key first, then the chain).
        with open(p(kind + ".pem")) as f:
            leaf_pem = f.read()
        with open(p("inter.pem")) as f:
            inter_pem = f.read()
        with open(p(kind + ".key")) as f:
            key_pem = f.read()
        _write(p(kind + "-chain.pem"), leaf_pem + inter_pem)
        _write(p(kind + "-key-chain.pem"), key_pem + leaf_pem + inter_pem, 0o600)
        _run(["openssl", "verify", "-CAfile", p("root.pem"), "-untrusted", p("inter.pem"), p(kind + ".pem")])
        nb, na = _cert_dates(p(kind + ".pem"))
        leaves[kind] = dict(cert=p(kind + ".pem"), key=p(kind + ".key"), chain=p(kind + "-chain.pem"),
                            sha256=_pem_fingerprint(p(kind + ".pem")), not_before=nb, not_after=na)
    for n in os.listdir(cdir):
        if n.endswith(".key"):
            os.chmod(p(n), 0o600)
    return dict(root=p("root.pem"), intermediate=p("inter.pem"), leaves=leaves,
                san=list(SAN_NAMES), subject_cn=LEAF_CN, issuer_cn=INTER_CN, root_cn=ROOT_CN)


# ---------------------------------------------------------------- ports

def port_free(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # SO_REUSEADDR: TIME_WAIT leftovers don't count, a listener does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((ip, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _pick_subnet():
    forced = os.environ.get("MAILTLS_REAL_SUBNET")  # e.g. "5" -> 127.0.5.x
    cands = [int(forced)] if forced else list(SUBNET_CANDIDATES)
    for n in cands:
        if all(port_free("127.0.%d.%d" % (n, s["host"]), s["port"]) for s in SERVICES):
            return n
    busy = ["127.0.%d.%d:%d" % (n, s["host"], s["port"]) for n in cands for s in SERVICES
            if not port_free("127.0.%d.%d" % (n, s["host"]), s["port"])]
    raise FixtureError("no free address block among 127.0.{%s}.x; busy: %s"
                       % (",".join(map(str, cands)), " ".join(busy[:20])))


# ---------------------------------------------------------------- Dovecot

def _dovecot_conf(d, name, ip, strict, leaf, auth_socket):
    base = os.path.join(d, "run")
    lines = [
        "# mailtls real-test fixture: Dovecot instance %r" % name,
        "instance_name = mailtls-%s-%s" % (name, os.path.basename(os.path.dirname(d))),
        "base_dir = " + base,
        "state_dir = " + os.path.join(d, "state"),
        "listen = " + ip,
        "protocols = imap pop3",
        "log_path = " + os.path.join(d, "dovecot.log"),
        "info_log_path = " + os.path.join(d, "dovecot.log"),
        "ssl = " + ("required" if strict else "yes"),
        "ssl_cert = <" + leaf["chain"],
        "ssl_key = <" + leaf["key"],
        # Server picks the cipher: keeps scanner and openssl s_client in step.
        "ssl_prefer_server_ciphers = yes",
        "disable_plaintext_auth = " + ("yes" if strict else "no"),
        "auth_mechanisms = plain login",
        # Default is 2 s; short keeps the auth probe well inside read timeouts.
        "auth_failure_delay = 0",
        "first_valid_uid = 100",
        "mail_location = maildir:~/Maildir",
        "login_greeting = mailtls-%s ready." % name,
        # Dovecot's auth penalty (anvil) delays each attempt from an IP that
        # failed recently (measured: 4.5 s instead of 0.5 s), and every test
        # client, Postfix's SASL requests included, comes from 127.0.0.1.
        # A listener with mode 0 is not created at all: the auth process finds
        # no penalty socket (ENOENT, silently ignored) and runs without it.
        "service anvil {",
        "  unix_listener anvil-auth-penalty {",
        "    mode = 0",
        "  }",
        "}",
        "passdb {",
        "  driver = static",
        "  args = password=" + TEST_PASSWORD,
        "}",
        "userdb {",
        "  driver = static",
        "  args = uid=dovecot gid=dovecot home=%s/home/%%u" % d,
        "}",
        "service imap-login {",
        "  inet_listener imap {",
        "    port = 10143",
        "  }",
        "  inet_listener imaps {",
        "    port = 10993",
        "    ssl = yes",
        "  }",
        "}",
        "service pop3-login {",
        "  inet_listener pop3 {",
        "    port = 10110",
        "  }",
        "  inet_listener pop3s {",
        "    port = 10995",
        "    ssl = yes",
        "  }",
        "}",
    ]
    if auth_socket:
        lines += [
            "service auth {",
            "  unix_listener auth-userdb {",
            "    mode = 0600",
            "  }",
            "  # SASL socket for the Postfix instance (smtpd_sasl_path).",
            "  unix_listener %s {" % auth_socket,
            "    mode = 0660",
            "    user = postfix",
            "    group = postfix",
            "  }",
            "}",
        ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- Postfix

def _postfix_main(d, ip, pki, auth_socket):
    q = os.path.join(d, "queue")
    log = os.path.join(d, "log")
    ecdsa, rsa = pki["leaves"]["ecdsa"], pki["leaves"]["rsa"]
    return f"""# mailtls real-test fixture: private Postfix instance (postfix -c {d}/conf)
compatibility_level = 3.6
queue_directory = {q}
data_directory = {os.path.join(d, "data")}
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.test.example
mydomain = test.example
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Never resolve and never deliver anywhere: /etc/resolv.conf points off-box.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = error:mailtls test fixture delivers nothing
relay_transport = error:mailtls test fixture delivers nothing
local_transport = error:mailtls test fixture delivers nothing
alias_maps =
alias_database =
biff = no
# No syslog here: log to a file through postlogd.
maillog_file = {log}/postfix.log
maillog_file_prefixes = {log}
# TLS (per-service overrides in master.cf). Both chains: OpenSSL picks the
# one the client's signature algorithms prefer.
smtpd_tls_chain_files = {ecdsa["key"]}, {ecdsa["chain"]}, {rsa["key"]}, {rsa["chain"]}
smtpd_tls_security_level = may
smtpd_tls_auth_only = no
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
tls_preempt_cipherlist = yes
# SASL through the "weak" Dovecot instance's auth socket.
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth_socket}
smtpd_sasl_auth_enable = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
"""



# master.cf building blocks, shared with tests/real/enumreal.py and tools/benchlib.
# Column 5 (chroot) is n everywhere: the Dovecot socket lives outside the queue.
POSTFIX_INTERNAL_SERVICES = """pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def smtpd_service(ip, port, opts):
    """One master.cf smtpd line on ip:port with its -o overrides."""
    return "%s:%d inet n - n - - smtpd\n" % (ip, port) + "".join("  -o %s\n" % o for o in opts)


def _postfix_master(ip):
    svc = []
    for s in SERVICES:
        if s["server"] != "postfix":
            continue
        opts = ["syslog_name=postfix/" + s["name"]]
        if s["name"] == "submission-encrypt":
            opts += ["smtpd_tls_security_level=encrypt", "smtpd_tls_auth_only=yes"]
        elif s["name"] == "submission-authonly":
            opts += ["smtpd_tls_security_level=may", "smtpd_tls_auth_only=yes"]
        elif s["name"] == "smtps":
            opts += ["smtpd_tls_wrappermode=yes", "smtpd_tls_security_level=encrypt",
                     "smtpd_tls_protocols=<=TLSv1.2", "smtpd_tls_mandatory_protocols=<=TLSv1.2"]
        elif s["name"] == "smtp-notls":
            opts += ["smtpd_tls_security_level=none"]
        svc.append(smtpd_service(ip, s["port"], opts))
    return "# mailtls real-test fixture services (see tests/real/README.md)\n" + "".join(svc) + POSTFIX_INTERNAL_SERVICES


# ---------------------------------------------------------------- readiness

def _greeting_ok(proto, data):
    text = data.decode("latin-1")
    if proto.startswith("smtp"):
        return any(l.startswith("220 ") for l in text.split("\r\n"))
    if proto.startswith("imap"):
        # Dovecot may first say "* OK Waiting for authentication process...".
        return any(l.startswith("* OK") and "Waiting for authentication" not in l
                   for l in text.split("\r\n"))
    return any(l.startswith("+OK") for l in text.split("\r\n"))


def _probe_greeting(ip, port, proto, deadline):
    """One attempt: connect (TLS for implicit ports) and read the greeting."""
    remaining = max(0.1, deadline - time.monotonic())
    s = socket.create_connection((ip, port), timeout=min(3.0, remaining))
    try:
        if proto.endswith("s"):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=GOOD_NAME)
        buf = b""
        while b"\r\n" not in buf or not _greeting_ok(proto, buf):
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("closed after %r" % buf[:200])
            buf += chunk
        return buf.split(b"\r\n")[0].decode("latin-1")
    finally:
        s.close()


def _wait_ready(eps, timeout):
    deadline = time.monotonic() + timeout
    pending = {s["name"]: s for s in eps}
    greetings, last_err = {}, {}
    while pending and time.monotonic() < deadline:
        for name, s in list(pending.items()):
            try:
                greetings[name] = _probe_greeting(s["ip"], s["port"], s["spec_proto"], deadline)
                del pending[name]
            except (OSError, ssl.SSLError) as e:
                last_err[name] = repr(e)
        if pending:
            time.sleep(0.1)
    return greetings, {n: last_err.get(n, "timeout") for n in pending}


def port_closed(ip, port):
    try:
        socket.create_connection((ip, port), timeout=0.5).close()
        return False
    except OSError:
        return True


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# ---------------------------------------------------------------- the instance

class Fixtures:
    """A started set of servers. Build with start(); stop with .stop()."""

    def __init__(self, root, owned_dir):
        self.dir = root
        self.owned_dir = owned_dir  # remove on stop (unless MAILTLS_KEEP)
        self.endpoints = None

    @property
    def services(self):
        return self.endpoints["services"]

    def service(self, name):
        for s in self.services:
            if s["name"] == name:
                return s
        raise KeyError(name)

    def logs(self, max_lines=60):
        """Tail of every server log, for failure messages."""
        out = []
        for rel in ("postfix/start.out", "postfix/log/postfix.log", "dovecot-weak/start.out",
                    "dovecot-weak/dovecot.log", "dovecot-strict/start.out", "dovecot-strict/dovecot.log"):
            path = os.path.join(self.dir, rel)
            try:
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-max_lines:]
            except OSError as e:
                lines = ["(cannot read: %s)" % e]
            out.append("---- %s (last %d lines)\n%s" % (path, max_lines, "\n".join(lines)))
        return "\n".join(out)

    def stop(self):
        _stop_dir(self.dir)
        if self.owned_dir and not os.environ.get("MAILTLS_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        elif os.environ.get("MAILTLS_KEEP"):
            _write(os.path.join(self.dir, "keep"), "MAILTLS_KEEP was set\n")
            _log("MAILTLS_KEEP set: kept %s" % self.dir)


def _stop_dir(root):
    """Stops whatever servers this fixture directory started; bounded in time."""
    try:
        with open(os.path.join(root, "endpoints.json")) as f:
            eps = json.load(f)["services"]
    except (OSError, ValueError, KeyError):
        eps = []
    pids, cmds = [], []
    pf = os.path.join(root, "postfix")
    if os.path.exists(os.path.join(pf, "conf", "main.cf")):
        pids.append(read_pid(os.path.join(pf, "queue", "pid", "master.pid")))
        cmds.append(["postfix", "-c", os.path.join(pf, "conf"), "stop"])
    for inst in ("dovecot-weak", "dovecot-strict"):
        conf = os.path.join(root, inst, "dovecot.conf")
        if os.path.exists(conf):
            pids.append(read_pid(os.path.join(root, inst, "run", "master.pid")))
            cmds.append(["doveadm", "-c", conf, "stop"])
    pids = [p for p in pids if p]
    deadline = time.monotonic() + STOP_TIMEOUT_S
    # All at once: each command waits for its master to exit (Dovecot ~3 s).
    procs = [subprocess.Popen(c, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for c in cmds]
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids) and all(port_closed(s["ip"], s["port"]) for s in eps):
            return
        time.sleep(0.1)
    # Still up: end the masters we started, by pid.
    for p in pids:
        if pid_alive(p):
            _log("master pid %d did not stop; sending SIGKILL" % p)
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass


def _reap_stale():
    """Stops fixtures left behind by a test process that died (owner pid gone)."""
    tmp = _tmp_base()
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for n in names:
        d = os.path.join(tmp, n)
        owner = read_pid(os.path.join(d, "owner.pid"))
        if n.startswith("mtreal-") and owner and not pid_alive(owner):
            _log("stopping stale fixtures in %s (owner pid %d gone)" % (d, owner))
            _stop_dir(d)
            if not os.path.exists(os.path.join(d, "keep")):
                shutil.rmtree(d, ignore_errors=True)


def _tmp_base():
    # Short path on purpose: Dovecot's unix sockets live under it (108-byte limit).
    return os.environ.get("MAILTLS_REAL_TMP", "/tmp")


def start(root=None, ready_timeout=READY_TIMEOUT_S):
    """Creates certificates and configs under root (a fresh temp dir when
    None), starts the servers and waits until every port greets. Returns a
    Fixtures. Raises FixtureError, with the servers' logs, on any failure
    (after stopping what was started)."""
    if os.geteuid() != 0:
        raise FixtureError("must run as root (Postfix and Dovecot masters)")
    for tool in ("postfix", "dovecot", "doveadm", "openssl", "script"):
        if not shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin"):
            raise FixtureError("%s not found: run tools/setup-debian.sh" % tool)
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    _reap_stale()
    owned = root is None
    if owned:
        root = tempfile.mkdtemp(prefix="mtreal-", dir=_tmp_base())
        _write(os.path.join(root, "owner.pid"), "%d\n" % os.getpid())
    else:
        root = os.path.abspath(root)
        os.makedirs(root, exist_ok=True)
        if os.path.exists(os.path.join(root, "endpoints.json")):
            raise FixtureError("%s already holds fixtures: stop them first" % root)
        _write(os.path.join(root, "keep"), "started by hand\n")
    # Postfix and Dovecot daemons (postfix, dovecot, dovenull) must traverse it.
    os.chmod(root, 0o755)
    fx = Fixtures(root, owned)
    # One start at a time picks addresses: two test runs started together
    # must not both find 127.0.2.x free before either has bound it.
    lock = open(os.path.join(_tmp_base(), ".mtreal-ports.lock"), "a")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise FixtureError("another fixture start held %s for 120 s" % lock.name)
                time.sleep(0.2)
        _start(fx, ready_timeout)
    except BaseException as e:
        logs = fx.logs()
        try:
            _stop_dir(root)
        finally:
            if owned and not os.environ.get("MAILTLS_KEEP"):
                shutil.rmtree(root, ignore_errors=True)
        if isinstance(e, FixtureError):
            raise FixtureError("%s\n%s" % (e, logs)) from e
        raise
    finally:
        lock.close()
    return fx


def _start(fx, ready_timeout):
    root = fx.dir
    t0 = time.monotonic()
    pki = make_pki(os.path.join(root, "certs"))
    n = _pick_subnet()
    ips = {h: "127.0.%d.%d" % (n, h) for h in (HOST_POSTFIX, HOST_WEAK, HOST_STRICT)}
    auth_socket = os.path.join(root, "dovecot-weak", "postfix-auth")

    # Endpoint description first: stop() uses it even if start fails halfway.
    services = []
    for s in SERVICES:
        protocol, mode, starttls = PROTO_INFO[s["proto"]]
        ip = ips[s["host"]]
        exp = dict(s["expect"])
        exp["protocol"], exp["tls_mode"] = protocol, mode
        leaf = exp.pop("leaf")
        exp["cert_sha256_one_of"] = ([] if leaf is None else
                                     [pki["leaves"][k]["sha256"] for k in
                                      (("ecdsa", "rsa") if leaf == "either" else (leaf,))])
        services.append(dict(name=s["name"], server=s["server"], ip=ip, port=s["port"],
                             spec="%d/%s" % (s["port"], s["proto"]), spec_proto=s["proto"],
                             target="%s:%d/%s" % (ip, s["port"], s["proto"]),
                             openssl_starttls=starttls, config=s["config"], expect=exp))
    fx.endpoints = dict(dir=root, subnet="127.0.%d.0/24" % n, ips=dict(postfix=ips[HOST_POSTFIX],
                        dovecot_weak=ips[HOST_WEAK], dovecot_strict=ips[HOST_STRICT]),
                        ca_file=pki["root"], pki=pki, good_name=GOOD_NAME,
                        test_user=TEST_USER, test_password=TEST_PASSWORD, services=services)
    with open(os.path.join(root, "endpoints.json"), "w") as f:
        json.dump(fx.endpoints, f, indent=2)

    # Dovecot instances.
    for inst, host, strict, leaf, sock in (("weak", HOST_WEAK, False, "rsa", auth_socket),
                                           ("strict", HOST_STRICT, True, "ecdsa", None)):
        d = os.path.join(root, "dovecot-" + inst)
        for sub in ("", "state", "home"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(d, 0o755)
        shutil.chown(os.path.join(d, "home"), "dovecot", "dovecot")
        conf = os.path.join(d, "dovecot.conf")
        _write(conf, _dovecot_conf(d, inst, ips[host], strict, pki["leaves"][leaf], sock))
        rc, out = run_daemon(["dovecot", "-c", conf], os.path.join(d, "start.out"), timeout=20)
        if rc != 0:
            raise FixtureError("dovecot %s failed to start (exit %d):\n%s" % (inst, rc, out))

    # Postfix.
    # Config in postfix/conf, queue and data beside it: postfix-script wants
    # everything under the config directory owned by root.
    pf = os.path.join(root, "postfix")
    for sub in ("", "conf", "queue", "data", "log"):
        os.makedirs(os.path.join(pf, sub), exist_ok=True)
    shutil.chown(os.path.join(pf, "data"), "postfix", "postfix")
    _write(os.path.join(pf, "conf", "main.cf"), _postfix_main(pf, ips[HOST_POSTFIX], pki, auth_socket))
    _write(os.path.join(pf, "conf", "master.cf"), _postfix_master(ips[HOST_POSTFIX]))
    # With stderr not a terminal `postfix start` says nothing: give it a pty.
    rc, out = run_daemon(["script", "-qec", "postfix -c %s/conf start" % pf, "/dev/null"],
                          os.path.join(pf, "start.out"), timeout=60)
    if rc != 0:
        raise FixtureError("postfix failed to start (exit %d):\n%s" % (rc, out))

    greetings, failed = _wait_ready(services, ready_timeout)
    if failed:
        raise FixtureError("services not ready within %.0f s: %s"
                           % (ready_timeout, "; ".join("%s: %s" % kv for kv in failed.items())))
    for s in services:
        s["greeting"] = greetings[s["name"]]
    fx.endpoints["startup_s"] = round(time.monotonic() - t0, 2)
    with open(os.path.join(root, "endpoints.json"), "w") as f:
        json.dump(fx.endpoints, f, indent=2)


def stop(root):
    """Stops fixtures started in root (by start(root) or the CLI) and leaves
    the directory in place."""
    _stop_dir(os.path.abspath(root))


def endpoint_table(eps):
    rows = ["%-20s %-24s %-8s %s" % ("service", "target", "tls", "configuration")]
    for s in eps["services"]:
        rows.append("%-20s %-24s %-8s %s" % (s["name"], s["target"], s["expect"]["tls_mode"], s["config"]))
    return "\n".join(rows)


def main(argv):
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print("usage: %s start|stop DIR" % argv[0], file=sys.stderr)
        return 2
    if argv[1] == "start":
        try:
            fx = start(argv[2])
        except FixtureError as e:
            print("fixtures failed to start: %s" % e, file=sys.stderr)
            return 1
        print(endpoint_table(fx.endpoints))
        print("CA file: %s\nendpoints: %s" % (fx.endpoints["ca_file"], os.path.join(fx.dir, "endpoints.json")))
        print("stop with: %s stop %s" % (argv[0], fx.dir))
        return 0
    stop(argv[2])
    print("stopped fixtures in %s (directory kept)" % os.path.abspath(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
