"""Helpers for the TLS enumeration tests (not a test): run enumsrv.py
servers, run the scanner, run nmap ssl-enum-ciphers and parse its output."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "..", "..", "build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
ENUMSRV = os.path.join(HERE, "enumsrv.py")


class Servers:
    """enumsrv.py processes, each started with its own JSON config."""

    def __init__(self, workdir):
        self.dir = workdir
        self.procs = []

    def start(self, name, cfg, openssl_conf=None):
        path = os.path.join(self.dir, name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        env = dict(os.environ)
        if openssl_conf:
            conf = os.path.join(self.dir, name + ".cnf")
            with open(conf, "w") as f:
                f.write(openssl_conf)
            env["OPENSSL_CONF"] = conf
        log = open(os.path.join(self.dir, name + ".out"), "w")
        p = subprocess.Popen([sys.executable, ENUMSRV, "serve", path], stdout=log, stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        deadline = time.monotonic() + 10
        for port in cfg.get("ports", [cfg.get("port")]):
            while True:
                try:
                    socket.create_connection((cfg["ip"], port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or p.poll() is not None:
                        raise RuntimeError("server %s did not start: %s" % (name, open(log.name).read()))
                    time.sleep(0.05)
        time.sleep(0.1)
        if p.poll() is not None:  # someone else answered on that address
            raise RuntimeError("server %s exited: %s" % (name, open(log.name).read()))
        return p

    def stop(self):
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def scan(targets, *opts, timeout=120):
    cmd = [SCAN, "-q", "--no-default-blocklist", "--ehlo-name", "mailtls-test.invalid",
           "--read-timeout", "5", "--timeout", "30", *opts, *targets]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("mailtls-scan failed (%d): %s" % (r.returncode, r.stderr))
    recs = {}
    for line in r.stdout.splitlines():
        rec = json.loads(line)
        recs["%s:%d" % (rec["ip"], rec["port"])] = rec
    return recs


_STDNAMES = None


def iana_name(openssl_name):
    """OpenSSL suite name -> the IANA name nmap prints."""
    global _STDNAMES
    if _STDNAMES is None:
        out = subprocess.run(["openssl", "ciphers", "-stdname", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        _STDNAMES = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "-":
                _STDNAMES[parts[2]] = parts[0]
    if openssl_name.startswith("TLS_"):  # TLS 1.3: nmap 7.93 says TLS_AKE_WITH_...
        return "TLS_AKE_WITH_" + openssl_name[4:]
    return _STDNAMES.get(openssl_name, "?" + openssl_name)


NMAP_VERSION = {"TLSv1.0": "TLSv1", "TLSv1.1": "TLSv1.1", "TLSv1.2": "TLSv1.2", "TLSv1.3": "TLSv1.3"}


def nmap_enum(ip, port, timeout=180, force=False, name_of=lambda name, ver: name):
    """{version: {"ciphers": [names in nmap's order], "preference": str}}.
    force: run the script whatever nmap thinks the port is ("+" prefix);
    name_of(name, version) maps nmap's suite names (e.g. to IANA names)."""
    script = ("+" if force else "") + "ssl-enum-ciphers"
    cmd = ["nmap", "-n", "-Pn", "-sT", "-p", str(port), "--script", script, ip]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout).stdout
    res, ver, in_ciphers = {}, None, False
    for line in out.splitlines():
        m = re.match(r"^\|\s{3}(TLSv1\.[0-3]|SSLv[23]):\s*$", line)
        if m:
            ver = NMAP_VERSION.get(m.group(1), m.group(1))
            res[ver] = {"ciphers": [], "preference": None}
            in_ciphers = False
            continue
        if ver is None:
            continue
        s = line.lstrip("|_ ").rstrip()
        if s == "ciphers:":
            in_ciphers = True
        elif s.endswith(":") or s.startswith("cipher preference:") or s.startswith("least strength"):
            in_ciphers = False
            if s.startswith("cipher preference:"):
                res[ver]["preference"] = s.split(":", 1)[1].strip()
        elif in_ciphers and s:
            res[ver]["ciphers"].append(name_of(s.split()[0], ver))
    return res, out


def ciphers_by_version(rec):
    """{version: [OpenSSL suite names]} from tls_ciphers_openssl (the IANA
    name where OpenSSL has none); tls_ciphers is the same object with IANA
    names."""
    return dict(rec.get("tls_ciphers_openssl") or {})


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL " + what + (": " + str(detail) if detail != "" else ""))
        return cond

    def done(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 0 if self.failed == 0 else 1
