#!/usr/bin/env python3
"""policybench.py - full --policy domain verdicts per minute on loopback.

usage: tools/benchlib/policybench.py BUILD_DIR [--domains N] [--sts N] [-c N]

Builds a DNSSEC-signed zone (ldns-signzone, NSEC3) of N mail domains
d0..dN-1.pol.test over 100 shared exchangers mx0..mx99.pol.test, each
exchanger with a matching TLSA 3 1 1 record, every second domain with a
TLS-RPT record and the first --sts domains with an MTA-STS record and
policy (enforce, mx *.pol.test) served by nginx. Two unbound (one serving
the zone, one validating with its trust anchor), nginx on 127.112.20.1:443
and mailtls-farm (STARTTLS SMTP on every 127.x, with the test CA's
certificate) run on loopback; then one `mailtls-scan --mx --policy` over all
domains: every domain gets its DNSSEC, DANE (checked on the one STARTTLS
handshake per exchanger), MTA-STS and TLS-RPT verdicts. Prints wall time,
domains per minute, the CPU of the scanner and of the servers, the
scanner's peak RSS, and the verdict counts (which must all be "good").

Addresses: 127.112.0.0/16 only; nothing resolves a name; unbound refuses
everything outside pol.test.
"""
import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

AUTH, VAL, DNS_PORT, WEB = "127.112.0.63", "127.112.0.64", 5353, "127.112.20.1"
N_MX = 100


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600, **kw)


def leaf(d, ca, ca_key, name, sans):
    key, csr, pem, ext = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "pem", "ext"))
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
         "-out", csr, "-subj", f"/CN={sans[0]}"])
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in sans) + "\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
         "-days", "2", "-extfile", ext])
    return pem, key


def spki_sha256(pem):
    pub = run(["openssl", "x509", "-in", pem, "-pubkey", "-noout"]).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def make_zone(d, n, n_sts, spki):
    lines = ["$ORIGIN pol.test.", "$TTL 3600", "@ IN SOA ns.pol.test. h.pol.test. 1 3600 600 86400 300",
             "@ IN NS ns.pol.test.", f"ns IN A {AUTH}", f"mta-sts-host IN A {WEB}"]
    for k in range(N_MX):
        lines.append(f"mx{k} IN A 127.112.{10 + k // 250}.{k % 250 + 1}")
        lines.append(f"_25._tcp.mx{k} IN TLSA 3 1 1 {spki}")
    for i in range(n):
        lines.append(f"d{i} IN MX 10 mx{i % N_MX}")
        if i % 2 == 0:
            lines.append(f'_smtp._tls.d{i} IN TXT "v=TLSRPTv1; rua=mailto:tls@d{i}.pol.test"')
        if i < n_sts:
            lines.append(f'_mta-sts.d{i} IN TXT "v=STSv1; id=p{i}"')
            lines.append(f"mta-sts.d{i} IN A {WEB}")
    with open(os.path.join(d, "pol.test.zone"), "w") as f:
        f.write("\n".join(lines) + "\n")
    ksk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "pol.test"], cwd=d).stdout.strip()
    zsk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "pol.test"], cwd=d).stdout.strip()
    run(["ldns-signzone", "-n", "pol.test.zone", ksk, zsk], cwd=d)
    return " ".join(open(os.path.join(d, ksk + ".ds")).read().split())


UNBOUND = """server:
    interface: {ip}@{port}
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    verbosity: 0
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    outgoing-range: 512
    num-queries-per-thread: 2048
    msg-cache-size: 64m
    rrset-cache-size: 64m
    ratelimit: 0
    ip-ratelimit: 0
    so-rcvbuf: 4m
    local-zone: "." refuse
    local-zone: "test." nodefault
    local-zone: "pol.test." transparent
{extra}
remote-control:
    control-enable: no
"""


def dns_ready(ip, timeout=20):
    q = b"".join(bytes([len(x)]) + x.encode() for x in "mx0.pol.test".split(".")) + b"\0"
    pkt = struct.pack(">HHHHHH", 9, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    end = time.time() + timeout
    try:
        while time.time() < end:
            try:
                s.sendto(pkt, (ip, DNS_PORT))
                r, _ = s.recvfrom(4096)
                if r[3] & 0xF == 0 and struct.unpack(">H", r[6:8])[0] > 0:
                    return True
            except OSError:
                time.sleep(0.1)
        return False
    finally:
        s.close()


def cpu_s(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--domains", type=int, default=20000)
    ap.add_argument("--sts", type=int, default=1000, help="domains with an MTA-STS policy (one nginx cert)")
    ap.add_argument("-c", "--concurrency", type=int, default=500)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    n, n_sts = a.domains, min(a.sts, a.domains)
    d = tempfile.mkdtemp(prefix="mt-policybench-")
    procs = []
    try:
        t0 = time.time()
        ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=policybench CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
        mx_pem, mx_key = leaf(d, ca, ca_key, "mx", [f"mx{k}.pol.test" for k in range(N_MX)])
        web_pem, web_key = leaf(d, ca, ca_key, "web", [f"mta-sts.d{i}.pol.test" for i in range(n_sts)] or
                                ["mta-sts.none.pol.test"])
        ds = make_zone(d, n, n_sts, spki_sha256(mx_pem))
        print(f"# setup (keys, zone of {n} domains signed): {time.time() - t0:.1f} s", flush=True)
        for name, ip, extra in (("auth", AUTH, f"""auth-zone:
    name: "pol.test."
    zonefile: "{d}/pol.test.zone.signed"
    for-downstream: yes
    for-upstream: no"""), ("val", VAL, f"""    module-config: "validator iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    trust-anchor: "{ds}"
stub-zone:
    name: "pol.test."
    stub-addr: {AUTH}@{DNS_PORT}""")):
            conf = os.path.join(d, name + ".conf")
            with open(conf, "w") as f:
                f.write(UNBOUND.format(ip=ip, port=DNS_PORT, dir=d, extra=extra))
            procs.append(subprocess.Popen(["unbound", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                          stderr=open(os.path.join(d, name + ".log"), "w")))
        policy = "version: STSv1\\nmode: enforce\\nmx: *.pol.test\\nmax_age: 86400\\n"
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {d}/nb; proxy_temp_path {d}/np; fastcgi_temp_path {d}/nf;
    uwsgi_temp_path {d}/nu; scgi_temp_path {d}/ns;
    server {{
        listen {WEB}:443 ssl;
        ssl_certificate {web_pem};
        ssl_certificate_key {web_key};
        location = /.well-known/mta-sts.txt {{ default_type text/plain; return 200 "{policy}"; }}
    }}
}}
""")
        procs.append(subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        port = s.getsockname()[1]
        s.close()
        chain = os.path.join(d, "chain.pem")
        with open(chain, "w") as f:
            f.write(open(mx_pem).read() + open(ca).read())
        ready = os.path.join(d, "farm.ready")
        procs.append(subprocess.Popen([os.path.join(a.build, "mailtls-farm"), "--bind", "0.0.0.0", "--smtp",
                                       str(port), "--smtps", "none", "--imap", "none", "--imaps", "none",
                                       "--pop3", "none", "--pop3s", "none", "--profiles", "starttls-auth=1",
                                       "--cert", chain, "--key", mx_key, "--ready-file", ready],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        end = time.time() + 20
        while time.time() < end and not os.path.exists(ready):
            time.sleep(0.05)
        if not (os.path.exists(ready) and dns_ready(AUTH) and dns_ready(VAL)):
            raise SystemExit("policybench: servers did not start (logs in %s)" % d)
        with open(os.path.join(d, "domains.txt"), "w") as f:
            f.write("".join(f"d{i}.pol.test\n" for i in range(n)))
        out = os.path.join(d, "out.json")
        cmd = [os.path.join(a.build, "mailtls-scan"), "-q", "--mx", "--policy", "--resolver", f"{VAL}:{DNS_PORT}",
               "-i", os.path.join(d, "domains.txt"), "-o", out, "-p", f"{port}/smtp", "--ca-file", ca,
               "-c", str(a.concurrency), "--dns-concurrency", str(a.concurrency), "--dns-rate", "0",
               "--rate", "0", "--per-subnet", "0"]
        srv_cpu0 = sum(cpu_s(p.pid) for p in procs)
        t1 = time.time()
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        _, _, ru = os.wait4(p.pid, 0)
        wall = time.time() - t1
        srv_cpu = sum(cpu_s(p.pid) for p in procs) - srv_cpu0
        recs = [json.loads(line) for line in open(out)]
        doms = [r for r in recs if r["port"] is None]
        count = lambda f, v: sum(1 for r in doms if r.get(f) == v)  # noqa: E731
        print(f"domains: {len(doms)} of {n} (probe records: {len(recs) - len(doms)}), "
              f"MTA-STS policies: {n_sts}, exchangers: {N_MX}")
        print(f"wall: {wall:.2f} s   domain verdicts per minute: {60 * len(doms) / wall:,.0f}")
        print(f"scanner CPU: {ru.ru_utime + ru.ru_stime:.2f} s, peak RSS {ru.ru_maxrss / 1024:.0f} MiB;  "
              f"servers' CPU (2 unbound, nginx, farm): {srv_cpu:.2f} s")
        print(f"verdicts: dnssec secure {count('dnssec', 'secure')}, dane valid {count('dane', 'valid')}, "
              f"mta_sts enforce {count('mta_sts', 'enforce')}, tls_rpt valid {count('tls_rpt', 'valid')}, "
              f"breaks delivery {count('policy_breaks_delivery', True)}, "
              f"unknown {count('policy_breaks_delivery', None)}")
        good = (len(doms) == n and count("dane", "valid") == n and count("mta_sts", "enforce") == n_sts and
                count("policy_breaks_delivery", False) == n)
        print("all verdicts as built:", "yes" if good else "NO")
        return 0 if good else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if a.keep:
            print("# kept", d)
        else:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
