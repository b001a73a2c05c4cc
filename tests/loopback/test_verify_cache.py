#!/usr/bin/env python3
"""The chain-verdict cache (scanner/verify_cache.h, --verify-cache) changes
no record. Three mailtls-farm processes serve STARTTLS on their own ports
with three chains: an ECDSA leaf + intermediate and an RSA leaf +
intermediate from a test PKI made now (tests/real/fixtures.make_pki), and
the farm's own self-signed certificate. 40 addresses x 3 ports are scanned
with the test root as --ca-file and without it, each time with the cache
off (0), on (default) and with one slot (three chains keep evicting each
other), on two threads. Every record's status and cert_* fields must be
the same in all runs and the verdicts the ones the PKI implies; the
metadata's verify_cache counts must show the cache used (hits) or not."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "real"))
import looplib  # noqa: E402
import fixtures  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
N = 40
FIELDS = ("status", "starttls_ok", "cert_trusted", "cert_verify_error", "cert_sha256", "cert_chain_len",
          "cert_subject", "cert_issuer", "cert_hostname_match")
check = looplib.Checks()


def scan(tmp, name, ports, extra):
    targets = os.path.join(tmp, "targets")
    with open(targets, "w") as f:
        f.writelines("127.119.%d.%d\n" % (i // 25, 1 + i % 25) for i in range(N))
    out, meta = os.path.join(tmp, name + ".json"), os.path.join(tmp, name + ".meta.json")
    cmd = [SCAN, "-p", ",".join("%d/smtp" % p for p in ports), "-i", targets, "-o", out, "--metadata", meta,
           "-q", "--threads", "2", "-c", "60", "--rate", "0", "--per-subnet", "0", "--ehlo-name",
           "test.example", "--read-timeout", "20"] + extra
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode != 0:
        print(r.stderr.decode(errors="replace"))
    with open(out) as f:
        recs = {(d["ip"], d["port"]): {k: d.get(k) for k in FIELDS} for d in map(json.loads, f)}
    with open(meta) as f:
        vc = json.load(f).get("verify_cache")
    return recs, vc


def main():
    with tempfile.TemporaryDirectory(prefix="mt-vcache-") as tmp:
        pki = fixtures.make_pki(os.path.join(tmp, "pki"))
        root = pki["root"]
        ports, farms = [], []
        try:
            for i, leaf in enumerate((pki["leaves"]["ecdsa"], pki["leaves"]["rsa"], None)):
                port = looplib.free_port()
                args = ["--smtp", str(port), "--profiles", "starttls-auth=1"]
                if leaf:
                    args += ["--cert", leaf["chain"], "--key", leaf["key"]]
                farms.append(looplib.start_farm(BUILD, tmp, args, name="farm%d" % i))
                ports.append(port)
            for trust, extra in (("test root", ["--ca-file", root]), ("system store", [])):
                runs = {}
                for cache in ("0", None, "1"):
                    opt = ["--verify-cache", cache] if cache else []
                    runs[cache] = scan(tmp, "scan-%s-%s" % (trust[0], cache), ports, extra + opt)
                base, _ = runs["0"]
                check(len(base) == 3 * N, "%s: one record per address and port (%d)" % (trust, len(base)))
                for cache in (None, "1"):
                    recs, _ = runs[cache]
                    diff = [k for k in base if recs.get(k) != base[k]]
                    check(not diff and len(recs) == len(base),
                          "%s, --verify-cache %s: every record as with the cache off (%d differ%s)"
                          % (trust, cache or "default", len(diff),
                             ": %s %s vs %s" % (diff[0], recs.get(diff[0]), base[diff[0]]) if diff else ""))
                by_port = {p: [r for (ip, pp), r in base.items() if pp == p] for p in ports}
                trusted = trust == "test root"
                for p, what in zip(ports, ("ECDSA chain", "RSA chain", "self-signed")):
                    rs = by_port[p]
                    ok = [r for r in rs if r["status"] == "ok" and r["starttls_ok"]]
                    check(len(ok) == N, "%s, %s: %d of %d probes completed TLS" % (trust, what, len(ok), N))
                    want = trusted and what != "self-signed"
                    check(all(r["cert_trusted"] is want for r in rs),
                          "%s, %s: cert_trusted %s on every record" % (trust, what, want))
                    errs = {r["cert_verify_error"] for r in rs}
                    if want:
                        check(errs == {None}, "%s, %s: no verify error (%s)" % (trust, what, errs))
                    else:
                        check(len(errs) == 1 and None not in errs,
                              "%s, %s: one verify error on every record (%s)" % (trust, what, errs))
                    check(all(r["cert_chain_len"] == (1 if what == "self-signed" else 2) for r in rs),
                          "%s, %s: chain length as served" % (trust, what))
                _, off = runs["0"]
                check(off == {"hits": 0, "misses": 0}, "%s: cache off: no lookups (%s)" % (trust, off))
                _, on = runs[None]
                # each of the 2 loops verifies each of the 3 chains at most once
                check(on and on["misses"] <= 6 and on["hits"] + on["misses"] == 3 * N,
                      "%s: default cache: %s (at most 6 verifications for %d handshakes)" % (trust, on, 3 * N))
                _, one = runs["1"]
                check(one and one["hits"] + one["misses"] == 3 * N and one["misses"] > on["misses"],
                      "%s: one slot: chains evict each other (%s)" % (trust, one))
        finally:
            for f in farms:
                f.terminate()
                try:
                    f.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    f.kill()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
