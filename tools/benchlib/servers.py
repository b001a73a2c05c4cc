"""The servers tools/bench measures against: mailtls-farm, a private Postfix
instance, and the TLS stall server (stallsrv.py). All listen on loopback
only; each start waits until it answers and raises BenchError otherwise."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

from . import common
from .common import BenchError, log, spawn


class Farm:
    """mailtls-farm serving SMTP with STARTTLS on one port, every 127.x.y.z
    with the same profile mix. Stats come from its JSON line (every 1 s)."""

    def __init__(self, build, tmp, name, port, profiles, threads=2, delay_ms=None,
                 long_lived=False, extra=()):
        self.out = os.path.join(tmp, "farm-%s.out" % name)
        self.err = os.path.join(tmp, "farm-%s.err" % name)
        ready = os.path.join(tmp, "farm-%s.ready" % name)
        cmd = [os.path.join(build, "mailtls-farm"), "--profiles", profiles, "--smtp", str(port),
               "--smtps", "none", "--imap", "none", "--imaps", "none", "--pop3", "none",
               "--pop3s", "none", "--threads", str(threads), "--stats-interval", "1",
               "--max-sessions", "60000", "--ready-file", ready]
        if delay_ms is not None:
            cmd += ["--delay-ms", str(delay_ms)]
        if long_lived:
            cmd += ["--idle-ms", "600000", "--max-session-ms", "600000"]
        cmd += list(extra)
        self.cmd = cmd
        self.port = port
        self.t0 = time.monotonic()
        self.p = spawn(cmd, nofile=200000, stdout=open(self.out, "w"), stderr=open(self.err, "w"))
        if not common.wait_for(lambda: os.path.exists(ready) or self.p.poll() is not None, 10):
            pass
        if not os.path.exists(ready):
            common.stop(self.p)
            raise BenchError("mailtls-farm did not start on port %d: %s"
                             % (port, open(self.err).read().strip()[-500:]))

    @property
    def pid(self):
        return self.p.pid

    def cpu_s(self):
        return common.pid_cpu_s(self.p.pid)

    def _last(self):
        try:
            with open(self.out) as f:
                lines = [l for l in f.read().splitlines() if l.startswith("{")]
            return json.loads(lines[-1]) if lines else None
        except (OSError, ValueError):
            return None

    def stats(self, settle_s=6.0):
        """A stats line written after this call, preferably with no session
        open (waits up to settle_s)."""
        now_ms = (time.monotonic() - self.t0) * 1000
        end = time.monotonic() + settle_s
        last = None
        while time.monotonic() < end:
            st = self._last()
            if st and st["uptime_ms"] > now_ms:
                last = st
                if st["active"] == 0:
                    return st
            time.sleep(0.1)
        return last or self._last()

    def accepted(self):
        st = self.stats()
        return st["accepted"] if st else 0

    def stop(self):
        common.stop(self.p, timeout=10)


class Farms:
    """Several farms on consecutive ports, one process each: a process has
    at most RLIMIT_NOFILE descriptors, so 20,000 sessions need two."""

    def __init__(self, build, tmp, name, first_port, count, profiles, **kw):
        self.farms = []
        try:
            for i in range(count):
                self.farms.append(Farm(build, tmp, "%s%d" % (name, i), first_port + i, profiles,
                                       threads=1, **kw))
        except BenchError:
            self.stop()
            raise
        self.ports = [f.port for f in self.farms]

    def targets(self, hosts, proto="smtp"):
        """Each host on one farm port, alternating."""
        return ["%s:%d/%s" % (h, self.ports[i % len(self.ports)], proto)
                for i, h in enumerate(hosts)]

    def cpu_s(self):
        return sum(f.cpu_s() for f in self.farms)

    def accepted(self):
        return sum(f.accepted() for f in self.farms)

    def active(self):
        return sum((f.stats(2) or {}).get("active", 0) for f in self.farms)

    def stop(self):
        for f in self.farms:
            f.stop()


# ------------------------------------------------------------------ Postfix

POSTFIX_MAIN = """# tools/bench: private Postfix instance (postfix -c {d}/conf)
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.bench.example
mydomain = bench.example
myorigin = $myhostname
mydestination =
# master.cf binds each service to its own 127.21.0.x; Postfix only checks
# inet_interfaces against configured interface addresses (lo has 127.0.0.1).
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
# Never resolve, never deliver: /etc/resolv.conf points off the machine.
disable_dns_lookups = yes
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
default_transport = error:bench delivers nothing
relay_transport = error:bench delivers nothing
local_transport = error:bench delivers nothing
alias_maps =
alias_database =
biff = no
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}/log
# The listen backlog of a service equals its process limit (FIXTURES.md):
# the default 100 drops SYNs under load and hides the server's real rate.
default_process_limit = {plimit}
smtpd_tls_chain_files = {ecdsa_key}, {ecdsa_chain}, {rsa_key}, {rsa_chain}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
smtpd_tls_received_header = no
"""



class Postfix:
    """One Postfix master with an smtpd service on ADDR:port for each of
    addrs (distinct hosts for the peers that need them), STARTTLS offered,
    ECDSA + RSA chains from tests/real/fixtures.make_pki."""

    def __init__(self, tmp, addrs, port, process_limit, repo):
        self.d = os.path.join(tmp, "postfix")
        self.addrs, self.port = addrs, port
        sys.path.insert(0, os.path.join(repo, "tests", "real"))
        try:
            import fixtures  # owned by tests/real: its PKI maker and master.cf pieces
        finally:
            sys.path.pop(0)
        os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
        for tool in ("postfix", "script"):
            if not shutil.which(tool):
                raise BenchError("%s not installed" % tool)
        pki = fixtures.make_pki(os.path.join(tmp, "pki"))
        for sub in ("", "conf", "queue", "data", "log"):
            os.makedirs(os.path.join(self.d, sub), exist_ok=True)
        os.chmod(tmp, 0o755)
        os.chmod(self.d, 0o755)
        shutil.chown(os.path.join(self.d, "data"), "postfix", "postfix")
        lv = pki["leaves"]
        with open(os.path.join(self.d, "conf", "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN.format(d=self.d, plimit=process_limit,
                                        ecdsa_key=lv["ecdsa"]["key"], ecdsa_chain=lv["ecdsa"]["chain"],
                                        rsa_key=lv["rsa"]["key"], rsa_chain=lv["rsa"]["chain"]))
        with open(os.path.join(self.d, "conf", "master.cf"), "w") as f:
            for a in addrs:
                f.write(fixtures.smtpd_service(a, port, []))
            f.write(fixtures.POSTFIX_INTERNAL_SERVICES)
        self.log = os.path.join(self.d, "log", "postfix.log")
        r = subprocess.run(["script", "-qec", "postfix -c %s/conf start" % self.d, "/dev/null"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if r.returncode != 0:
            self.stop()
            raise BenchError("postfix did not start: %s" % r.stdout.decode(errors="replace")[-800:])
        if not common.wait_for(lambda: all(self._greets(a) for a in addrs), 20, step=0.2):
            self.stop()
            raise BenchError("postfix started but does not greet on %s:%d" % (addrs[0], port))

    def _greets(self, addr):
        try:
            with socket.create_connection((addr, self.port), timeout=2) as s:
                return s.recv(512).startswith(b"220 ")
        except OSError:
            return False

    def master_pid(self):
        try:
            with open(os.path.join(self.d, "queue", "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def cpu_s(self):
        pid = self.master_pid()
        return common.tree_cpu_s(pid) if pid else 0.0

    def connects(self):
        """SMTP sessions Postfix has logged so far."""
        try:
            with open(self.log, errors="replace") as f:
                return sum(1 for l in f if "]: connect from " in l)
        except OSError:
            return 0

    def connects_settled(self, timeout=5.0):
        last, stable_since = -1, time.monotonic()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            n = self.connects()
            if n != last:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > 0.6:
                break
            time.sleep(0.2)
        return last

    def stop(self):
        pid = self.master_pid()
        try:
            subprocess.run(["script", "-qec", "postfix -c %s/conf stop" % self.d, "/dev/null"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        except subprocess.TimeoutExpired:
            pass
        if pid:
            if not common.wait_for(lambda: common.pid_stat(pid) is None, 10, step=0.2):
                for p in common.descendants(pid):
                    try:
                        os.kill(p, 9)
                    except OSError:
                        pass


# ------------------------------------------------------------ stall server

class StallServer:
    """stallsrv.py: SMTP that completes STARTTLS, then never answers again
    (keeps probes in flight with TLS established)."""

    def __init__(self, tmp, port, workers=2):
        self.status = os.path.join(tmp, "stall-status")
        os.makedirs(self.status, exist_ok=True)
        key, cert = os.path.join(tmp, "stall.key"), os.path.join(tmp, "stall.pem")
        if not os.path.exists(cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=stall.bench.example"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                           timeout=30)
        here = os.path.dirname(os.path.abspath(__file__))
        self.err = os.path.join(tmp, "stall.err")
        self.p = spawn([sys.executable, os.path.join(here, "stallsrv.py"), "--port", str(port),
                        "--cert", cert, "--key", key, "--status-dir", self.status,
                        "--workers", str(workers)], nofile=200000, stderr=open(self.err, "w"))
        self.port = port
        if not common.wait_for(lambda: len(os.listdir(self.status)) >= workers
                               or self.p.poll() is not None, 10):
            pass
        if self.p.poll() is not None or len(os.listdir(self.status)) < workers:
            common.stop(self.p)
            raise BenchError("stall server did not start: %s" % open(self.err).read()[-500:])

    def counts(self):
        """(accepted, handshakes, closed) summed over workers."""
        tot = [0, 0, 0]
        for n in os.listdir(self.status):
            try:
                with open(os.path.join(self.status, n)) as f:
                    v = [int(x) for x in f.read().split()]
                for i in range(3):
                    tot[i] += v[i]
            except (OSError, ValueError, IndexError):
                pass
        return tuple(tot)

    def cpu_s(self):
        return common.tree_cpu_s(self.p.pid)

    def stop(self):
        common.stop(self.p, timeout=10)
