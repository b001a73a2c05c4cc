#!/usr/bin/env python3
"""Where a probe's CPU goes: `perf record` of mailtls-scan on a farm run,
every sample put into one category by the symbol it landed in, printed as
a share and as microseconds per probe (share x the run's CPU per probe).

usage: tools/benchlib/profile.py BUILD [--hosts N] [--threads N] [--lib DIR]
                                 [--chain] [--scan-arg ARG ...] [--json FILE]

--lib DIR runs both the scanner and the farm with LD_LIBRARY_PATH=DIR: an
OpenSSL 3.x built from source with symbols (Debian's libcrypto has none, so
its internal functions show as addresses and land in "libcrypto, no
symbol"). --chain gives the farm a CA-signed ECDSA leaf + intermediate (the
usual internet case) and the scanner the root as --ca-file. Runs in a private
network namespace (unshare -n) when it can; every address is 127.x.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchlib import common  # noqa: E402

# (category, regex on "dso symbol"), first match wins. The floor is the
# public-key arithmetic of one TLS 1.3 probe: X25519 keygen and derive,
# ECDSA P-256 verification (CertificateVerify, and chain signatures).
CATEGORIES = [
    ("crypto floor: X25519, P-256 arithmetic",
     r"libcrypto\S* (x25519_|fe_|fe51_|ge_|cmov|ecp_nistz256|__ecp_nistz256|ossl_ec_|EC_POINT_|ec_GFp|"
     r"bn_|BN_|int_bn_|ossl_bn_|ecdsa|ECDSA|ossl_ecdsa|ecp_nistz|x25519|ossl_x25519|curve25519)"),
    ("hashes and record cipher (HKDF, transcript, AES-GCM)",
     r"libcrypto\S* (sha\d*_block|SHA\d*_|sha\d|aes|AES|gcm|GCM|ghash|ossl_gcm|HMAC|hmac|ossl_sha|"
     r"KECCAK|md5)"),
    ("OpenSSL 3 provider layer: fetch, decoders, name maps, params",
     r"libcrypto\S* (ossl_method|OSSL_DECODER|ossl_decoder|decoder_|collect_|ossl_namemap|namemap|"
     r"OPENSSL_LH|ossl_lh|lh_|sa_doall|ossl_sa|alg_copy|OPENSSL_strcasecmp|OPENSSL_strncasecmp|ossl_tolower|"
     r"OSSL_PARAM|ossl_param|evp_generic|evp_method|ossl_algorithm|ossl_provider|OSSL_PROVIDER|"
     r"ossl_lib_ctx|CRYPTO_THREAD|EVP_KEYMGMT|evp_keymgmt|getrn|inner_evp_generic|ossl_property|"
     r"ossl_prop|EVP_.*fetch|evp_.*fetch|ossl_ctx|CRYPTO_get_ex|ossl_crypto|do_name|ossl_bsearch|ENGINE_)"),
    ("locks (pthread rwlock/mutex)", r"libc\S* (pthread_|__pthread|___pthread|__lll_|lll_)"),
    ("malloc/free", r"libc\S* (malloc|_int_malloc|_int_free|cfree|free|unlink_chunk|malloc_consolidate|"
     r"__libc_malloc|__libc_free|calloc|__libc_calloc|realloc|_int_realloc|tcache)|libcrypto\S* "
     r"(CRYPTO_malloc|CRYPTO_zalloc|CRYPTO_free|CRYPTO_clear_free|OPENSSL_cleanse|CRYPTO_strdup|"
     r"CRYPTO_strndup|CRYPTO_realloc)"),
    ("ASN.1 and X.509 (certificate parse, names, verify logic)",
     r"libcrypto\S* (asn1_|ASN1_|x509|X509|d2i_|i2d_|c2i_|ossl_x509|v2i_|i2v_|a2i_|OBJ_|obj_|ossl_asn1|"
     r"collect_data|check_|build_chain|verify_chain|X509_STORE)"),
    ("libcrypto, other", r"libcrypto\S* [A-Za-z_]"),
    ("libcrypto, no symbol", r"libcrypto"),
    ("libssl (TLS state machine)", r"libssl"),
    ("kernel (sockets, loopback TCP, epoll, scheduling)", r"\[kernel"),
    ("libc, other (memcpy, strings, syscall stubs)", r"libc"),
    ("mailtls-scan itself", r"mailtls-scan"),
    ("other", r"."),
]


def pki(tmp):
    """A root, an intermediate and an ECDSA leaf (openssl CLI)."""
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda c: subprocess.run(c, check=True, stdout=subprocess.DEVNULL,  # noqa: E731
                                   stderr=subprocess.DEVNULL)
    with open(p("ext.cnf"), "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n"
                "[leaf]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:mx.farm.test\n")
    run(["openssl", "req", "-x509", "-new", *ec, "-keyout", p("root.key"), "-out", p("root.pem"), "-days",
         "30", "-subj", "/CN=bench root", "-config", p("ext.cnf"), "-extensions", "ca"])
    for name, ca, sect in (("inter", "root", "ca"), ("leaf", "inter", "leaf")):
        run(["openssl", "req", "-new", *ec, "-keyout", p(name + ".key"), "-out", p(name + ".csr"), "-subj",
             "/CN=bench " + name])
        run(["openssl", "x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".pem"), "-CAkey",
             p(ca + ".key"), "-set_serial", "0x" + os.urandom(8).hex(), "-days", "30", "-extfile",
             p("ext.cnf"), "-extensions", sect, "-out", p(name + ".pem")])
    with open(p("chain.pem"), "w") as f:
        f.write(open(p("leaf.pem")).read() + open(p("inter.pem")).read())
    return dict(root=p("root.pem"), chain=p("chain.pem"), key=p("leaf.key"))


def categorize(perf_data, env):
    """Sample counts per category from `perf report` (dso + symbol)."""
    r = subprocess.run(["perf", "report", "-i", perf_data, "--stdio", "--no-children", "--sort", "dso,sym",
                        "-g", "none", "--percent-limit", "0"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, env=env, timeout=600)
    shares, rows = {c: 0.0 for c, _ in CATEGORIES}, []
    pats = [(c, re.compile(rx)) for c, rx in CATEGORIES]
    for line in r.stdout.decode(errors="replace").splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*)$", line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
        if dso.startswith("[kernel"):
            key = "[kernel] " + sym
        else:
            key = os.path.basename(dso) + " " + sym
        for c, rx in pats:
            if rx.search(key):
                shares[c] += pct
                break
        rows.append((pct, key))
    rows.sort(reverse=True)
    return shares, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--hosts", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lib", help="LD_LIBRARY_PATH for scanner and farm (OpenSSL with symbols)")
    ap.add_argument("--chain", action="store_true", help="CA-signed leaf + intermediate, root as --ca-file")
    ap.add_argument("--scan-arg", action="append", default=[], help="one more mailtls-scan argument")
    ap.add_argument("--top", type=int, default=25, help="symbols listed (default 25)")
    ap.add_argument("--json", help="write the figures as JSON")
    a = ap.parse_args()
    if os.environ.get("MAILTLS_PROFILE_NETNS") != "1" and os.geteuid() == 0 and shutil.which("unshare"):
        env = dict(os.environ, MAILTLS_PROFILE_NETNS="1")
        os.execvpe("unshare", ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__)]
                   + sys.argv[1:], env)
    if os.environ.get("MAILTLS_PROFILE_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    if not shutil.which("perf"):
        sys.exit("profile: perf is not installed")
    env = dict(os.environ)
    if a.lib:
        env["LD_LIBRARY_PATH"] = a.lib
        env.setdefault("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    tmp = tempfile.mkdtemp(prefix="mtprof-")
    farm_args, scan_args = [], list(a.scan_arg)
    if a.chain:
        k = pki(tmp)
        farm_args = ["--cert", k["chain"], "--key", k["key"]]
        scan_args += ["--ca-file", k["root"]]
    ready = os.path.join(tmp, "ready")
    port = 25 if os.environ.get("MAILTLS_PROFILE_NETNS") == "1" else 16525
    farm = subprocess.Popen([os.path.join(a.build, "mailtls-farm"), "--threads", "2", "--profiles",
                             "starttls-auth=1", "--smtp", str(port), "--smtps", "none", "--imap", "none",
                             "--imaps", "none", "--pop3", "none", "--pop3s", "none", "--max-sessions",
                             "60000", "--ready-file", ready] + farm_args, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not common.wait_for(lambda: os.path.exists(ready) and os.path.getsize(ready) > 0, 10):
            sys.exit("profile: mailtls-farm did not start")
        hosts = os.path.join(tmp, "targets")
        common.write_lines(hosts, common.host_list(20, a.hosts))
        data = os.path.join(tmp, "perf.data")
        out = os.path.join(tmp, "out.json")
        cmd = ["perf", "record", "-F", "2000", "-o", data, "--", os.path.join(a.build, "mailtls-scan"), "-p",
               "%d/smtp" % port, "-c", "1000", "--rate", "0", "--per-subnet", "0", "--threads", str(a.threads),
               "-i", hosts, "-o", out, "-q", "--ehlo-name", "bench.example", "--connect-timeout", "30"] + scan_args
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        with open(out) as f:
            ok = sum(1 for line in f if '"status":"ok"' in line)
        # perf's own CPU is in ru (it is the parent): the scanner's CPU is
        # read from the samples' share instead, times the task clock below
        stat = subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", "comm", "-F", "overhead,sample",
                               "--no-children"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        shares, rows = categorize(data, env)
    finally:
        farm.terminate()
        farm.wait(timeout=10)
    samples = 0
    for line in stat.stdout.decode().splitlines():
        m = re.match(r"\s+[\d.]+%\s+(\d+)", line)
        if m:
            samples += int(m.group(1))
    cpu_s = samples / 2000.0  # -F 2000: one sample per 0.5 ms of CPU
    per_probe_us = cpu_s * 1e6 / max(ok, 1)
    print("profile: %d hosts, %d ok, %.1f s wall, %d samples at 2 kHz = %.2f s CPU, %.0f us per probe%s"
          % (a.hosts, ok, wall, samples, cpu_s, per_probe_us, " (chain: leaf + intermediate)" if a.chain else ""))
    print(common.table(["category", "share %", "us/probe"],
                       [[c, "%.1f" % s, "%.0f" % (s * per_probe_us / 100)] for c, s in shares.items() if s >= 0.05]))
    print("\ntop %d symbols (self):" % a.top)
    print(common.table(["share %", "dso symbol"], [["%.2f" % pct, key[:100]] for pct, key in rows[:a.top]]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(hosts=a.hosts, ok=ok, wall_s=wall, cpu_s=cpu_s, us_per_probe=per_probe_us,
                           shares=shares, top=rows[:a.top]), f, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
