"""dnsfix.py - a real DNS server (unbound) and mail servers on loopback for
the DNS tests (tests/real/test_dns_*.py). Python standard library only.

start(dir) writes a generated zone of mail domains into an unbound
configuration (local-data in a static `test.` zone, `local-zone: "." refuse`
so unbound never recurses), starts unbound in the foreground on
127.0.0.1:PORT, a small UDP server ("bad") that answers SERVFAIL for
servfail.test and never answers for slow.test (unbound reaches it through
stub zones), and mailtls-farm bound to 0.0.0.0 so every 127.x.y.z is a
mail server. expect() says what every domain should produce.

Nothing here sends a packet off loopback: unbound refuses every name
outside test., and mailtls-scan is always given --resolver.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

HOSTING = 100  # shared exchangers mx0..mx99.hosting.test -> 127.10.0.(k+1)


def free_port(kind=socket.SOCK_STREAM, addr="0.0.0.0"):
    s = socket.socket(socket.AF_INET, kind)
    s.bind((addr, 0))
    p = s.getsockname()[1]
    s.close()
    return p


def free_port_both():
    """A port free for TCP on 0.0.0.0 and for UDP on 127.0.0.1."""
    for _ in range(50):
        p = free_port()
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", p))
            u.close()
            return p
        except OSError:
            u.close()
    raise RuntimeError("no free port")


class Zone:
    """The generated domains: name -> expectation."""

    def __init__(self):
        self.data = []       # unbound local-data lines (RR text)
        self.domains = {}    # domain -> dict(status=..., mx=[(pref or None, exchanger)], ...)
        self.addr_of = {}    # exchanger/host name -> [ip, ...]

    def host(self, name, *ips):
        for ip in ips:
            rr = "AAAA" if ":" in ip else "A"
            self.data.append(f"{name}. 300 IN {rr} {ip}")
        self.addr_of.setdefault(name, []).extend(ips)

    def mx(self, domain, pref, exch):
        self.data.append(f"{domain}. 300 IN MX {pref} {exch}.")


def build_zone():
    z = Zone()
    for k in range(HOSTING):
        z.host(f"mx{k}.hosting.test", f"127.10.0.{k + 1}")
    # an alias exchanger sharing mx0's address: the address is probed once
    z.host("mxalias.hosting.test", "127.10.0.1")
    # shared exchangers: 9000 domains over 100 exchangers, a third with a backup MX
    for i in range(9000):
        d = f"d{i}.test"
        z.mx(d, 10, f"mx{i % HOSTING}.hosting.test")
        mx = [(10, f"mx{i % HOSTING}.hosting.test")]
        if i % 3 == 0:
            z.mx(d, 20, f"mx{(i + 1) % HOSTING}.hosting.test")
            mx.append((20, f"mx{(i + 1) % HOSTING}.hosting.test"))
        z.domains[d] = {"status": "resolved", "mx": mx}
    # own exchangers
    for i in range(500):
        d = f"o{i}.test"
        z.mx(d, 10, f"mail.{d}")
        z.host(f"mail.{d}", f"127.11.{i // 250}.{i % 250 + 1}")
        z.domains[d] = {"status": "resolved", "mx": [(10, f"mail.{d}")]}
    # several exchangers of different preference (listed out of order); b also has ::1
    for i in range(100):
        d = f"m{i}.test"
        for pref, lab, last in ((30, "c", 3), (10, "a", 1), (20, "b", 2)):
            z.mx(d, pref, f"{lab}.{d}")
            z.host(f"{lab}.{d}", f"127.12.{i}.{last}")
        z.host(f"b.{d}", "::1")
        z.domains[d] = {"status": "resolved", "mx": [(10, f"a.{d}"), (20, f"b.{d}"), (30, f"c.{d}")]}
    # no MX: the domain's own address (RFC 5321 5.1)
    for i in range(200):
        d = f"n{i}.test"
        z.host(d, f"127.13.0.{i + 1}")
        z.domains[d] = {"status": "resolved", "mx": [(None, d)]}
    # null MX (RFC 7505)
    for i in range(50):
        d = f"z{i}.test"
        z.data.append(f"{d}. 300 IN MX 0 .")
        z.domains[d] = {"status": "no-mail", "mx": []}
    # NXDOMAIN: not in the zone at all
    for i in range(50):
        z.domains[f"x{i}.test"] = {"status": "dns-nxdomain", "mx": []}
    # the name exists (TXT) but has neither MX nor address
    for i in range(20):
        d = f"e{i}.test"
        z.data.append(f'{d}. 300 IN TXT "no mail here"')
        z.domains[d] = {"status": "dns-no-address", "mx": []}
    # one exchanger does not exist, the other works
    for i in range(20):
        d = f"b{i}.test"
        z.mx(d, 10, f"gone{i}.hosting.test")
        z.mx(d, 20, "mx0.hosting.test")
        z.domains[d] = {"status": "resolved", "mx": [(10, f"gone{i}.hosting.test"), (20, "mx0.hosting.test")]}
    # the only exchanger does not exist
    for i in range(20):
        d = f"bb{i}.test"
        z.mx(d, 10, f"gone-bb{i}.hosting.test")
        z.domains[d] = {"status": "dns-no-address", "mx": [(10, f"gone-bb{i}.hosting.test")]}
    # exchanger named differently, same address as mx0
    for i in range(20):
        d = f"a{i}.test"
        z.mx(d, 10, "mxalias.hosting.test")
        z.domains[d] = {"status": "resolved", "mx": [(10, "mxalias.hosting.test")]}
    # SERVFAIL (stub zone whose server answers SERVFAIL) and no answer at all
    for i in range(20):
        z.domains[f"s{i}.servfail.test"] = {"status": "dns-servfail", "mx": []}
    for i in range(10):
        z.domains[f"t{i}.slow.test"] = {"status": "dns-timeout", "mx": []}
    return z


def dns_query_packet(name, qtype, qid=0x1234):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)


class BadServer(threading.Thread):
    """UDP: SERVFAIL for *.servfail.test, silence for everything else."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(addr)
        self.sock.settimeout(0.2)
        self.addr = self.sock.getsockname()
        self.stop = False
        self.seen = 0

    def run(self):
        while not self.stop:
            try:
                pkt, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.seen += 1
            if len(pkt) < 12 or b"\x08servfail" not in pkt.lower():
                continue
            qid, flags = struct.unpack(">HH", pkt[:4])
            # QR=1, opcode copied, RD copied, RA=1, RCODE=2; question echoed
            resp_flags = 0x8000 | (flags & 0x7900) | 0x0080 | 2
            end = 12
            while end < len(pkt) and pkt[end] != 0:
                end += pkt[end] + 1
            end += 5
            self.sock.sendto(struct.pack(">HHHHHH", qid, resp_flags, 1, 0, 0, 0) + pkt[12:end], peer)

    def close(self):
        self.stop = True
        self.join(1)
        self.sock.close()


class Fixture:
    def __init__(self, directory, build, zone):
        self.dir = directory
        self.build = build
        self.zone = zone
        self.procs = []
        self.bad = None
        self.dns_port = None
        self.smtp_port = None
        self.smtps_port = None

    def _unbound_conf(self, port, bad_addr):
        data_path = os.path.join(self.dir, "data.conf")
        with open(data_path, "w") as f:
            for rr in self.zone.data:
                f.write(f"local-data: '{rr}'\n")
        conf = f"""server:
    interface: 127.0.0.1@{port}
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{self.dir}"
    pidfile: "{self.dir}/unbound.pid"
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    access-control: 127.0.0.0/8 allow
    do-not-query-localhost: no
    qname-minimisation: no
    ratelimit: 0
    ip-ratelimit: 0
    so-rcvbuf: 4m
    outgoing-range: 256
    num-queries-per-thread: 4096
    msg-cache-size: 64m
    rrset-cache-size: 64m
    local-zone: "." refuse
    local-zone: "test." static
    local-zone: "servfail.test." transparent
    local-zone: "slow.test." transparent
    include: "{data_path}"
stub-zone:
    name: "servfail.test."
    stub-addr: {bad_addr[0]}@{bad_addr[1]}
stub-zone:
    name: "slow.test."
    stub-addr: {bad_addr[0]}@{bad_addr[1]}
remote-control:
    control-enable: no
"""
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def start(self, farm=True):
        self.bad = BadServer(("127.0.0.1", 0))
        self.bad.start()
        for attempt in range(5):
            port = free_port(socket.SOCK_DGRAM, "127.0.0.1")
            conf = self._unbound_conf(port, self.bad.addr)
            log = open(os.path.join(self.dir, "unbound.log"), "w")
            p = subprocess.Popen(["unbound", "-d", "-c", conf], stdout=log, stderr=subprocess.STDOUT)
            if self._wait_dns(port, p):
                self.procs.append(p)
                self.dns_port = port
                break
            p.kill()
            p.wait()
        else:
            raise RuntimeError("unbound did not start: " + self.log("unbound.log"))
        if farm:
            self._start_farm()
        return self

    def _wait_dns(self, port, proc, timeout=15):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        deadline = time.time() + timeout
        try:
            while time.time() < deadline:
                if proc.poll() is not None:
                    return False
                try:
                    s.sendto(dns_query_packet("mx0.hosting.test", 1), ("127.0.0.1", port))
                    pkt, _ = s.recvfrom(4096)
                    if len(pkt) > 12 and (pkt[3] & 0xF) == 0 and struct.unpack(">H", pkt[6:8])[0] > 0:
                        return True
                except OSError:
                    pass
            return False
        finally:
            s.close()

    def _start_farm(self):
        farm = os.path.join(self.build, "mailtls-farm")
        if not os.access(farm, os.X_OK):
            raise RuntimeError(f"{farm} missing: build the mailtls-farm target")
        for attempt in range(5):
            self.smtp_port, self.smtps_port = free_port_both(), free_port_both()
            ready = os.path.join(self.dir, "farm.ready")
            if os.path.exists(ready):
                os.unlink(ready)
            log = open(os.path.join(self.dir, "farm.log"), "w")
            p = subprocess.Popen([farm, "--bind", "0.0.0.0", "--smtp", str(self.smtp_port),
                                  "--smtps", str(self.smtps_port), "--imap", "none", "--imaps", "none",
                                  "--pop3", "none", "--pop3s", "none", "--profiles", "starttls-auth=1",
                                  "--ready-file", ready], stdout=log, stderr=subprocess.STDOUT)
            deadline = time.time() + 10
            while time.time() < deadline and p.poll() is None and not os.path.exists(ready):
                time.sleep(0.05)
            if p.poll() is None and os.path.exists(ready):
                self.procs.append(p)
                return
            p.kill()
            p.wait()
        raise RuntimeError("mailtls-farm did not start: " + self.log("farm.log"))

    def log(self, name):
        try:
            with open(os.path.join(self.dir, name)) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        if self.bad:
            self.bad.close()
            self.bad = None


def start(directory, build, farm=True):
    fx = Fixture(directory, build, build_zone())
    try:
        return fx.start(farm)
    except Exception:
        fx.stop()
        raise


def read_records(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out
