#!/usr/bin/env python3
"""test_dns_mx.py - mailtls-scan's resolver against a real unbound.

Starts unbound on 127.0.0.1:PORT with a generated zone of 10,010 mail
domains (tests/real/dnsfix.py) and mailtls-farm on a wildcard bind, then:

  1. --mx over every domain, two ports: exactly one domain record per
     domain with the right status and MX list, exactly one probe record per
     (address, port) the zone leads to, with the exchanger in `host`, a
     domain that leads to it in `domain`, and its preference;
  2. name targets without --mx: A/AAAA, every address x port, DNS failures
     as one record per (name, port) with ip null;
  3. names without --resolver: a local-error record each, and --mx refused.
With MAILTLS_BUILD_ASAN set, run 1 and 2 are repeated with that build and
its stderr must hold no sanitizer report. Prints PASS/FAIL lines and
"N passed, M failed"; exit 0 only when nothing failed.
"""
import collections
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dnsfix  # noqa: E402

SRC = os.environ.get("MAILTLS_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(SRC, "build"))
ASAN = os.environ.get("MAILTLS_BUILD_ASAN")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def scan(build, fx, args, out, timeout=300):
    cmd = [os.path.join(build, "mailtls-scan"), "-q", "-o", out] + args
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r, time.time() - t0


def mx_run(tag, build, fx, work):
    z = fx.zone
    domains = list(z.domains)
    inp = os.path.join(work, "domains.txt")
    with open(inp, "w") as f:
        f.write("\n".join(domains) + "\n")
    ports = [fx.smtp_port, fx.smtps_port]
    out = os.path.join(work, f"mx-{tag}.json")
    r, secs = scan(build, fx, ["--mx", "--resolver", f"127.0.0.1:{fx.dns_port}", "-i", inp,
                               "-p", f"{fx.smtp_port}/smtp,{fx.smtps_port}/smtps",
                               "--dns-timeout", "0.3", "--dns-retries", "1", "--rate", "0",
                               "-c", "500", "--connect-timeout", "3", "--read-timeout", "5",
                               "--timeout", "10"], out)
    print(f"# {tag}: mx scan of {len(domains)} domains x {len(ports)} ports took {secs:.1f} s")
    check(f"{tag}.mx.exit", r.returncode == 0, f"rc {r.returncode}: {r.stderr[-500:]}")
    if ASAN and build == ASAN:
        check(f"{tag}.mx.no-sanitizer-report", "Sanitizer" not in r.stderr and "runtime error" not in r.stderr,
              r.stderr[-2000:])
    recs = dnsfix.read_records(out)
    dom_recs = [x for x in recs if x["port"] is None]
    probe_recs = [x for x in recs if x["port"] is not None]

    # 1. one domain record per input domain, right status
    by_dom = collections.defaultdict(list)
    for x in dom_recs:
        by_dom[x["domain"]].append(x)
    check(f"{tag}.mx.one-record-per-domain",
          set(by_dom) == set(domains) and all(len(v) == 1 for v in by_dom.values()),
          f"{len(by_dom)} domains with records, {len(domains)} input, "
          f"missing {sorted(set(domains) - set(by_dom))[:5]}, dups "
          f"{[k for k, v in by_dom.items() if len(v) > 1][:5]}")
    bad_status = [(d, by_dom[d][0]["status"], e["status"]) for d, e in z.domains.items()
                  if d in by_dom and by_dom[d][0]["status"] != e["status"]]
    check(f"{tag}.mx.domain-status", not bad_status, f"{len(bad_status)} wrong, e.g. {bad_status[:5]}")
    counts = collections.Counter(x["status"] for x in dom_recs)
    print(f"# {tag}: domain statuses {dict(counts)}")
    check(f"{tag}.mx.domain-records-have-no-address", all(x["ip"] is None for x in dom_recs), "")
    for st in ("resolved", "no-mail", "dns-nxdomain", "dns-servfail", "dns-timeout", "dns-no-address"):
        check(f"{tag}.mx.status-{st}-seen", counts.get(st, 0) > 0, f"none of {st}")

    # 2. MX lists: every exchanger with its preference and each address
    bad_mx = []
    for d, e in z.domains.items():
        if e["status"] != "resolved" or d not in by_dom:
            continue
        want = []
        for pref, exch in e["mx"]:
            p = "-" if pref is None else str(pref)
            addrs = z.addr_of.get(exch)
            if addrs:
                want += [f"{p} {exch} {a}" for a in addrs]
            else:
                want.append(f"{p} {exch} dns-nxdomain")
        got = by_dom[d][0].get("mx") or []
        if sorted(got) != sorted(want):
            bad_mx.append((d, got, want))
    check(f"{tag}.mx.mx-lists", not bad_mx, f"{len(bad_mx)} wrong, e.g. {bad_mx[:3]}")
    multi = by_dom.get("m7.test", [{}])[0].get("mx") or []
    check(f"{tag}.mx.preference-order", [i.split()[0] for i in multi] == ["10", "20", "20", "30"], str(multi))

    # 3. exactly one probe per (address, port), and exactly those the zone leads to
    want_pairs = {}   # (ip, port) -> set of (domain, pref, host) that lead to it
    for d, e in z.domains.items():
        if e["status"] != "resolved":
            continue
        for pref, exch in e["mx"]:
            for a in z.addr_of.get(exch, []):
                for p in ports:
                    want_pairs.setdefault((a, p), set()).add((d, pref, exch))
    got_pairs = collections.Counter((x["ip"], x["port"]) for x in probe_recs)
    dups = [k for k, n in got_pairs.items() if n > 1]
    check(f"{tag}.mx.probe-once-per-address-port", not dups, f"{len(dups)} probed twice: {dups[:5]}")
    check(f"{tag}.mx.probe-set", set(got_pairs) == set(want_pairs),
          f"missing {sorted(set(want_pairs) - set(got_pairs))[:5]}, extra {sorted(set(got_pairs) - set(want_pairs))[:5]}")
    print(f"# {tag}: {len(probe_recs)} probe records for {len(want_pairs)} (address, port) pairs "
          f"from {sum(1 for e in z.domains.values() if e['status'] == 'resolved')} resolved domains")

    # 4. identity of each probe: host (SNI) is an exchanger leading there, domain/preference match
    bad_id = []
    for x in probe_recs:
        leads = want_pairs.get((x["ip"], x["port"]), set())
        if (x["domain"], x["mx_preference"], x["host"]) not in leads:
            bad_id.append((x["ip"], x["port"], x["host"], x["domain"], x["mx_preference"]))
    check(f"{tag}.mx.probe-host-domain-preference", not bad_id, f"{len(bad_id)} wrong, e.g. {bad_id[:5]}")
    implicit = [x for x in probe_recs if x["ip"] == "127.13.0.5"]
    check(f"{tag}.mx.fallback-host-is-domain",
          len(implicit) == 2 and all(x["host"] == "n4.test" and x["mx_preference"] is None for x in implicit),
          str(implicit[:1]))

    # 5. the probes really happened: the farm answered on every IPv4 address
    v4 = [x for x in probe_recs if ":" not in x["ip"]]
    not_ok = [(x["ip"], x["port"], x["status"], x["error"]) for x in v4 if x["status"] != "ok"]
    check(f"{tag}.mx.probes-ok", not not_ok, f"{len(not_ok)} not ok, e.g. {not_ok[:5]}")
    tls = [x for x in v4 if x["port"] == fx.smtps_port and x.get("tls_version")]
    check(f"{tag}.mx.implicit-tls-reached", len(tls) == len([x for x in v4 if x["port"] == fx.smtps_port]),
          f"{len(tls)} with TLS")
    return recs


def name_run(tag, build, fx, work):
    out = os.path.join(work, f"names-{tag}.json")
    names = ["mx7.hosting.test", "b.m3.test", "x9.test", "s3.servfail.test", "t3.slow.test", "e2.test"]
    r, _ = scan(build, fx, ["--resolver", f"127.0.0.1:{fx.dns_port}", "-p", f"{fx.smtp_port}/smtp,{fx.smtps_port}/smtps",
                            "--dns-timeout", "0.3", "--dns-retries", "1", "--connect-timeout", "3", "--timeout", "10"]
                + names, out)
    check(f"{tag}.names.exit", r.returncode == 0, f"rc {r.returncode}: {r.stderr[-500:]}")
    if ASAN and build == ASAN:
        check(f"{tag}.names.no-sanitizer-report", "Sanitizer" not in r.stderr and "runtime error" not in r.stderr,
              r.stderr[-2000:])
    recs = dnsfix.read_records(out)
    got = sorted((x["host"], x["ip"] or "", x["port"], x["status"]) for x in recs)
    P1, P2 = fx.smtp_port, fx.smtps_port
    want = []
    for p in (P1, P2):
        want += [("mx7.hosting.test", "127.10.0.8", p, "ok"), ("b.m3.test", "127.12.3.2", p, "ok"),
                 ("x9.test", "", p, "dns-nxdomain"), ("s3.servfail.test", "", p, "dns-servfail"),
                 ("t3.slow.test", "", p, "dns-timeout"), ("e2.test", "", p, "dns-no-address")]
    ipv6 = [x for x in recs if x["ip"] == "::1"]
    check(f"{tag}.names.aaaa-probed", len(ipv6) == 2 and all(x["host"] == "b.m3.test" for x in ipv6), str(ipv6[:1]))
    got_v4 = [g for g in got if g[1] != "::1"]
    check(f"{tag}.names.records", got_v4 == sorted(want), f"got {got_v4}, want {sorted(want)}")
    check(f"{tag}.names.no-domain-field", all(x["domain"] is None and x["mx_preference"] is None for x in recs), "")


def no_resolver(fx, work):
    out = os.path.join(work, "noresolver.json")
    r, _ = scan(BUILD, fx, ["-p", f"{fx.smtp_port}/smtp", "mx7.hosting.test"], out)
    recs = dnsfix.read_records(out) if os.path.exists(out) else []
    # exit 3: the scan is incomplete, and its last stderr line says why
    check("noresolver.local-error",
          r.returncode == 3 and "no --resolver given" in r.stderr.strip().splitlines()[-1] and len(recs) == 1 and recs[0]["status"] == "local-error" and recs[0]["ip"] is None
          and "--resolver" in (recs[0]["error"] or ""), f"rc {r.returncode} {recs}")
    r, _ = scan(BUILD, fx, ["--mx", "-p", f"{fx.smtp_port}/smtp", "d1.test"], out)
    check("noresolver.mx-refused", r.returncode == 2 and "--resolver" in r.stderr, f"rc {r.returncode} {r.stderr}")


def main():
    work = tempfile.mkdtemp(prefix="mtdns-", dir=os.environ.get("MAILTLS_REAL_TMP", "/tmp"))
    try:
        fx = dnsfix.start(work, BUILD)
    except Exception as e:  # a fixture that does not start is a failure, never a skip
        check("fixtures.start", False, str(e))
        print(f"{passed} passed, {failed} failed")
        return 1
    print(f"# unbound on 127.0.0.1:{fx.dns_port} with {len(fx.zone.domains)} domains "
          f"({len(fx.zone.data)} records); farm smtp {fx.smtp_port}, smtps {fx.smtps_port}; dir {work}")
    try:
        mx_run("main", BUILD, fx, work)
        name_run("main", BUILD, fx, work)
        no_resolver(fx, work)
        if ASAN:
            mx_run("asan", ASAN, fx, work)
            name_run("asan", ASAN, fx, work)
    finally:
        fx.stop()
        if not os.environ.get("MAILTLS_KEEP"):
            subprocess.run(["rm", "-rf", work])
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
