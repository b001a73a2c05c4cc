"""Helpers for test_tls_enum_real.py (not a test): private Postfix and
Dovecot instances restricted to particular TLS versions and cipher lists,
on standard ports of 127.0.B.1-4 (B in 21..29), so that nmap's
ssl-enum-ciphers runs on them without -sV.

  127.0.B.1:25   Postfix STARTTLS, TLS 1.2 only, three ECDSA suites, server order
  127.0.B.2:465  Postfix smtps (wrapper mode), TLS 1.0-1.2, eight RSA suites,
                 @SECLEVEL=0, client order
  127.0.B.3:143  Dovecot IMAP STARTTLS   } TLS >= 1.2, two ECDHE-RSA suites,
  127.0.B.3:993  Dovecot IMAPS           } TLS 1.3 only TLS_AES_128_GCM_SHA256,
                                           server order
  127.0.B.4:995  Dovecot POP3S, TLS 1.3 only, default suites, client order

Certificates come from fixtures.make_pki (same test PKI as the other real
tests). Nothing is resolved: Postfix has DNS lookups off and only error
transports; Dovecot sees addresses only.
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402  (make_pki, run_daemon, port_free, master.cf pieces)

BLOCKS = range(21, 30)
NAME = "mail.test.example"

# ---------------------------------------------------------------- configuration

P25_CIPHERS = ["ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256"]

# 465: (suite, lowest version it exists in). TLS 1.0/1.1 get only the
# SSLv3/TLSv1-era suites; TLS 1.2 gets all of them.
P465_SUITES = [
    ("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2"),
    ("ECDHE-RSA-CHACHA20-POLY1305", "TLSv1.2"),
    ("ECDHE-ARIA128-GCM-SHA256", "TLSv1.2"),
    ("ECDHE-RSA-AES128-SHA", "TLSv1"),
    ("DHE-RSA-AES256-GCM-SHA384", "TLSv1.2"),
    ("DHE-RSA-CAMELLIA128-SHA", "TLSv1"),
    ("AES256-SHA256", "TLSv1.2"),
    ("AES128-SHA", "TLSv1"),
]
# Debian's OpenSSL 3.0 (default security level 1) refuses the MD5+SHA1 /
# SHA-1 handshake signatures TLS 1.0/1.1 need: level 0 lets the server use them.
P465_CIPHERLIST = ":".join(s for s, _ in P465_SUITES) + ":@SECLEVEL=0"

IMAP_TLS12 = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
IMAP_TLS13 = ["TLS_AES_128_GCM_SHA256"]
# OpenSSL 3.0's default TLS 1.3 suites (Dovecot leaves them alone when
# ssl_cipher_suites is empty).
DEFAULT_TLS13 = ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]


def _p465(v):
    order = ["TLSv1", "TLSv1.1", "TLSv1.2"]
    return [s for s, lo in P465_SUITES if order.index(lo) <= order.index(v)]


# Every endpoint: where, what is configured, and what that implies.
#   ciphers: {version: [suites]}; ordered: the order is the server's (compare lists)
ENDPOINTS = [
    dict(name="postfix-25-tls12", host=1, port=25, proto="smtp", starttls="smtp", server="postfix",
         config="STARTTLS; smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2; smtpd_tls_ciphers = high, "
                "smtpd_tls_mandatory_ciphers = high; tls_high_cipherlist = " + ":".join(P25_CIPHERS)
                + "; tls_preempt_cipherlist = yes; ECDSA P-256 chain only",
         expect=dict(versions=["TLSv1.2"], ciphers={"TLSv1.2": P25_CIPHERS}, ordered=True,
                     server_order=True, weak=[], grade="A", cert_key="EC-P-256")),
    dict(name="postfix-465-tls10-12", host=2, port=465, proto="smtps", starttls=None, server="postfix",
         config="smtpd_tls_wrappermode = yes, security_level = encrypt; smtpd_tls_(mandatory_)protocols = "
                ">=TLSv1, <=TLSv1.2; smtpd_tls_(mandatory_)ciphers = medium; tls_medium_cipherlist = "
                + P465_CIPHERLIST + "; tls_preempt_cipherlist = no; RSA-2048 chain only",
         expect=dict(versions=["TLSv1", "TLSv1.1", "TLSv1.2"],
                     ciphers={v: _p465(v) for v in ("TLSv1", "TLSv1.1", "TLSv1.2")}, ordered=False,
                     server_order=False, weak=["TLSv1", "TLSv1.1"], grade="B", cert_key="RSA-2048")),
    dict(name="dovecot-143-imap", host=3, port=143, proto="imap", starttls="imap", server="dovecot-imap",
         config="STARTTLS; ssl_min_protocol = TLSv1.2; ssl_cipher_list = " + ":".join(IMAP_TLS12)
                + "; ssl_cipher_suites = " + ":".join(IMAP_TLS13) + "; ssl_prefer_server_ciphers = yes; RSA-2048",
         expect=dict(versions=["TLSv1.2", "TLSv1.3"], ciphers={"TLSv1.2": IMAP_TLS12, "TLSv1.3": IMAP_TLS13},
                     ordered=True, server_order=True, weak=[], grade="A", cert_key="RSA-2048")),
    dict(name="dovecot-993-imaps", host=3, port=993, proto="imaps", starttls=None, server="dovecot-imap",
         config="implicit TLS, same instance and settings as 143",
         expect=dict(versions=["TLSv1.2", "TLSv1.3"], ciphers={"TLSv1.2": IMAP_TLS12, "TLSv1.3": IMAP_TLS13},
                     ordered=True, server_order=True, weak=[], grade="A", cert_key="RSA-2048")),
    dict(name="dovecot-995-pop3s-tls13", host=4, port=995, proto="pop3s", starttls=None, server="dovecot-pop3",
         config="implicit TLS; ssl_min_protocol = TLSv1.3; ssl_cipher_suites unset (OpenSSL default); "
                "ssl_prefer_server_ciphers = no; ECDSA P-256",
         expect=dict(versions=["TLSv1.3"], ciphers={"TLSv1.3": DEFAULT_TLS13}, ordered=False,
                     server_order=False, weak=[], grade="A", cert_key="EC-P-256")),
]


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _postfix_main(d):
    return f"""# mailtls test_tls_enum_real: private Postfix instance
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {NAME}
mydomain = test.example
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Never resolve, never deliver: /etc/resolv.conf points off this machine.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = error:mailtls test delivers nothing
relay_transport = error:mailtls test delivers nothing
local_transport = error:mailtls test delivers nothing
alias_maps =
alias_database =
biff = no
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}/log
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
smtpd_relay_restrictions = reject_unauth_destination
# TLS settings are per service, in master.cf.
"""


def _postfix_master(ips, pki):
    ec, rsa = pki["leaves"]["ecdsa"], pki["leaves"]["rsa"]
    s25 = [
        "syslog_name=postfix/tls12",
        "smtpd_tls_security_level=may",
        "smtpd_tls_chain_files=%s,%s" % (ec["key"], ec["chain"]),
        "smtpd_tls_protocols=>=TLSv1.2,<=TLSv1.2",
        "smtpd_tls_mandatory_protocols=>=TLSv1.2,<=TLSv1.2",
        # Opportunistic STARTTLS uses smtpd_tls_ciphers, enforced TLS the mandatory one.
        "smtpd_tls_ciphers=high",
        "smtpd_tls_mandatory_ciphers=high",
        "tls_high_cipherlist=" + ":".join(P25_CIPHERS),
        "tls_preempt_cipherlist=yes",
    ]
    s465 = [
        "syslog_name=postfix/legacy",
        "smtpd_tls_wrappermode=yes",
        "smtpd_tls_security_level=encrypt",
        "smtpd_tls_chain_files=%s,%s" % (rsa["key"], rsa["chain"]),
        "smtpd_tls_protocols=>=TLSv1,<=TLSv1.2",
        "smtpd_tls_mandatory_protocols=>=TLSv1,<=TLSv1.2",
        "smtpd_tls_ciphers=medium",
        "smtpd_tls_mandatory_ciphers=medium",
        "tls_medium_cipherlist=" + P465_CIPHERLIST,
        "tls_preempt_cipherlist=no",
    ]
    out = "# mailtls test_tls_enum_real (chroot off everywhere)\n"
    for ip, port, opts in ((ips[1], 25, s25), (ips[2], 465, s465)):
        out += fixtures.smtpd_service(ip, port, opts)
    out += fixtures.POSTFIX_INTERNAL_SERVICES
    return out


def _dovecot_conf(d, inst, ip, leaf, tls, listeners):
    lines = [
        "# mailtls test_tls_enum_real: Dovecot instance %s" % inst,
        "instance_name = mailtls-enumreal-%s-%s" % (inst, os.path.basename(os.path.dirname(d))),
        "base_dir = %s/run" % d,
        "state_dir = %s/state" % d,
        "listen = " + ip,
        "protocols = " + " ".join(sorted({p for p, _, _, _ in listeners})),
        "log_path = %s/dovecot.log" % d,
        "info_log_path = %s/dovecot.log" % d,
        "ssl = yes",
        "ssl_cert = <" + leaf["chain"],
        "ssl_key = <" + leaf["key"],
        "disable_plaintext_auth = yes",
        "auth_mechanisms = plain",
        "first_valid_uid = 100",
        "mail_location = maildir:~/Maildir",
        "passdb {", "  driver = static", "  args = password=unused-" + os.urandom(6).hex(), "}",
        "userdb {", "  driver = static", "  args = uid=dovecot gid=dovecot home=%s/home/%%u" % d, "}",
    ] + tls
    for proto in sorted({p for p, _, _, _ in listeners}):
        lines.append("service %s-login {" % proto)
        for p, lname, port, is_ssl in listeners:
            if p == proto:
                lines += ["  inet_listener %s {" % lname, "    port = %d" % port]
                if is_ssl:
                    lines.append("    ssl = yes")
                lines.append("  }")
        lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the servers

class Servers:
    def __init__(self, root):
        self.root = root
        self.block = None
        self.ips = None
        self.pki = None
        self.started = []  # ("postfix", confdir) / ("dovecot", conffile)

    def ip(self, ep):
        return self.ips[ep["host"]]

    def target(self, ep):
        return "%s:%d/%s,%s" % (self.ip(ep), ep["port"], ep["proto"], NAME)

    def _pick_block(self):
        forced = os.environ.get("MAILTLS_ENUMREAL_BLOCK")
        busy = []
        for b in ([int(forced)] if forced else BLOCKS):
            taken = ["127.0.%d.%d:%d" % (b, e["host"], e["port"]) for e in ENDPOINTS
                     if not fixtures.port_free("127.0.%d.%d" % (b, e["host"]), e["port"])]
            if not taken:
                return b
            busy += taken
        raise RuntimeError("no free block among 127.0.21-29.x; busy: %s" % " ".join(busy[:10]))

    def start(self, ready_timeout=20):
        os.chmod(self.root, 0o755)
        self.pki = fixtures.make_pki(os.path.join(self.root, "certs"))
        # One start at a time picks a block (two runs must not both find it free).
        with open(os.path.join(os.path.dirname(self.root), ".mtenumreal.lock"), "a") as lock:
            deadline = time.monotonic() + 60
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("another start held %s for 60 s" % lock.name)
                    time.sleep(0.2)
            self.block = self._pick_block()
            self.ips = {h: "127.0.%d.%d" % (self.block, h) for h in (1, 2, 3, 4)}
            _write(os.path.join(self.root, "block.json"), json.dumps(dict(block=self.block, owner=os.getpid())))
            self._start_servers()
        self._wait_ready(ready_timeout)

    def _start_servers(self):
        ec, rsa = self.pki["leaves"]["ecdsa"], self.pki["leaves"]["rsa"]

        # Dovecot: one instance for IMAP (143, 993), one for POP3S (995).
        dov = [
            ("imap", self.ips[3], rsa, [
                "ssl_min_protocol = TLSv1.2",
                "ssl_cipher_list = " + ":".join(IMAP_TLS12),
                "ssl_cipher_suites = " + ":".join(IMAP_TLS13),
                "ssl_prefer_server_ciphers = yes",
            ], [("imap", "imap", 143, False), ("imap", "imaps", 993, True)]),
            ("pop3", self.ips[4], ec, [
                "ssl_min_protocol = TLSv1.3",
                "ssl_prefer_server_ciphers = no",
            ], [("pop3", "pop3", 0, False), ("pop3", "pop3s", 995, True)]),
        ]
        for inst, ip, leaf, tls, listeners in dov:
            d = os.path.join(self.root, "dovecot-" + inst)
            for sub in ("", "state", "home"):
                os.makedirs(os.path.join(d, sub), exist_ok=True)
            os.chmod(d, 0o755)
            shutil.chown(os.path.join(d, "home"), "dovecot", "dovecot")
            conf = os.path.join(d, "dovecot.conf")
            _write(conf, _dovecot_conf(d, inst, ip, leaf, tls, listeners))
            self.started.append(("dovecot", conf))
            rc, out = fixtures.run_daemon(["dovecot", "-c", conf], os.path.join(d, "start.out"), timeout=20)
            if rc != 0:
                raise RuntimeError("dovecot %s failed to start (exit %d): %s" % (inst, rc, out))

        pf = os.path.join(self.root, "postfix")
        for sub in ("", "conf", "queue", "data", "log"):
            os.makedirs(os.path.join(pf, sub), exist_ok=True)
        shutil.chown(os.path.join(pf, "data"), "postfix", "postfix")
        _write(os.path.join(pf, "conf", "main.cf"), _postfix_main(pf))
        _write(os.path.join(pf, "conf", "master.cf"), _postfix_master(self.ips, self.pki))
        self.started.append(("postfix", os.path.join(pf, "conf")))
        rc, out = fixtures.run_daemon(["script", "-qec", "postfix -c %s/conf start" % pf, "/dev/null"],
                                       os.path.join(pf, "start.out"), timeout=60)
        if rc != 0:
            raise RuntimeError("postfix failed to start (exit %d): %s" % (rc, out))

    @classmethod
    def from_dir(cls, root):
        """The servers a (possibly dead) run started in root."""
        s = cls(root)
        try:
            with open(os.path.join(root, "block.json")) as f:
                s.block = json.load(f)["block"]
            s.ips = {h: "127.0.%d.%d" % (s.block, h) for h in (1, 2, 3, 4)}
        except (OSError, ValueError, KeyError):
            pass
        for inst in ("dovecot-imap", "dovecot-pop3"):
            if os.path.exists(os.path.join(root, inst, "dovecot.conf")):
                s.started.append(("dovecot", os.path.join(root, inst, "dovecot.conf")))
        if os.path.exists(os.path.join(root, "postfix", "conf", "main.cf")):
            s.started.append(("postfix", os.path.join(root, "postfix", "conf")))
        return s

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        pending = list(ENDPOINTS)
        err = {}
        while pending and time.monotonic() < deadline:
            for ep in list(pending):
                try:
                    _greet(self.ip(ep), ep, deadline)
                    pending.remove(ep)
                except (OSError, ssl.SSLError) as e:
                    err[ep["name"]] = repr(e)
            if pending:
                time.sleep(0.1)
        if pending:
            raise RuntimeError("not ready within %d s: %s" % (timeout, "; ".join(
                "%s: %s" % (e["name"], err.get(e["name"], "timeout")) for e in pending)))

    def logs(self, n=40):
        out = []
        for rel in ("postfix/start.out", "postfix/log/postfix.log", "dovecot-imap/start.out",
                    "dovecot-imap/dovecot.log", "dovecot-pop3/start.out", "dovecot-pop3/dovecot.log"):
            path = os.path.join(self.root, rel)
            try:
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-n:]
            except OSError as e:
                lines = ["(%s)" % e]
            out.append("---- %s\n%s" % (path, "\n".join(lines)))
        return "\n".join(out)

    def stop(self, timeout=10):
        pids, procs = [], []
        for kind, path in self.started:
            if kind == "postfix":
                pids.append(fixtures.read_pid(os.path.join(os.path.dirname(path), "queue", "pid", "master.pid")))
                cmd = ["postfix", "-c", path, "stop"]
            else:
                pids.append(fixtures.read_pid(os.path.join(os.path.dirname(path), "run", "master.pid")))
                cmd = ["doveadm", "-c", path, "stop"]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        pids = [p for p in pids if p]
        eps = [(self.ip(e), e["port"]) for e in ENDPOINTS] if self.ips else []
        while time.monotonic() < deadline:
            if not any(fixtures.pid_alive(p) for p in pids) and all(fixtures.port_closed(*a) for a in eps):
                return
            time.sleep(0.1)
        for p in pids:  # still there: the masters we started, by pid
            if fixtures.pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass


PREFIX = "mtenumreal-"


def reap_stale(tmp):
    """Stops servers left by a run that was killed (its owner pid is gone)."""
    try:
        names = os.listdir(tmp)
    except OSError:
        return
    for n in names:
        d = os.path.join(tmp, n)
        if not n.startswith(PREFIX):
            continue
        try:
            with open(os.path.join(d, "block.json")) as f:
                owner = json.load(f)["owner"]
        except (OSError, ValueError, KeyError):
            continue
        if not fixtures.pid_alive(owner):
            print("stopping stale servers in %s (owner pid %d gone)" % (d, owner), file=sys.stderr)
            Servers.from_dir(d).stop()
            if not os.path.exists(os.path.join(d, "keep")):
                shutil.rmtree(d, ignore_errors=True)


def _greet(ip, ep, deadline):
    s = socket.create_connection((ip, ep["port"]), timeout=max(0.2, min(3, deadline - time.monotonic())))
    try:
        if ep["starttls"] is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_ciphers("ALL:@SECLEVEL=0")
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            s = ctx.wrap_socket(s, server_hostname=NAME)
        buf = b""
        want = {"smtp": b"220 ", "imap": b"* OK ", "pop3": b"+OK"}[ep["proto"].rstrip("s")]
        while not any(l.startswith(want) and b"Waiting for auth" not in l for l in buf.split(b"\r\n")[:-1]):
            chunk = s.recv(4096)
            if not chunk:
                raise OSError("closed after %r" % buf[:100])
            buf += chunk
    finally:
        s.close()


# ---------------------------------------------------------------- the referee

SCLIENT_VERSION = {"TLSv1": "-tls1", "TLSv1.1": "-tls1_1", "TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
ALL13 = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:TLS_AES_128_CCM_SHA256:" \
        "TLS_AES_128_CCM_8_SHA256"


def s_client(ip, ep, version, suite=None, timeout=15):
    """One handshake with openssl s_client pinned to version (and suite).
    Returns (negotiated suite or None, transcript)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (ip, ep["port"]), "-servername", NAME,
           SCLIENT_VERSION[version], "-no_ign_eof"]
    if ep["starttls"]:
        cmd += ["-starttls", ep["starttls"]]
    if version == "TLSv1.3":
        cmd += ["-ciphersuites", suite or ALL13]
    else:
        cmd += ["-cipher", (suite or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0"]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
        out = r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        return None, "timed out: %s (%s)" % (" ".join(cmd), e)
    # "New, X, Cipher is Y": X is the suite's own version, not the protocol;
    # the protocol is the pinned one when a suite was negotiated at all.
    got = None
    for line in out.splitlines():
        if line.startswith("New, ") and ", Cipher is " in line:
            c = line.split(", Cipher is ", 1)[1].strip()
            if c != "(NONE)":
                got = c
    return got, "$ " + " ".join(cmd) + "\n" + out


def summary(transcript):
    """The lines of an s_client transcript that tell what happened."""
    keep = ("$ ", "New, ", "Protocol", "Cipher", "Server Temp Key", "Peer signature type", "timed out")
    return "\n".join("    " + l.strip() for l in transcript.splitlines()
                     if l.strip().startswith(keep) or "alert" in l or ":error:" in l)
