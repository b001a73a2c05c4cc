#!/usr/bin/env python3
"""mailtls-stats on real scans of the loopback farm (issue 13, item 4):

1. --compare-shodan with a raw /shodan/host/count answer (+ --shodan-query)
   and with a "results" file: the filters has_ssl:, ssl.version:,
   ssl.cert.expired:, port:, negation and quoted phrases count exactly the
   records this test counts itself from the NDJSON; Shodan's facet values
   match whatever their case; an API error answer, a raw answer without a
   query and a query without an answer are refused with exit 1.
2. Several input files: the two shards of one scan (--shards 2) are summed
   without a note; the same scan given twice is summed too, but stderr
   says the files repeat (address, port) keys and the summary says how
   many.
3. An --mx scan (domains served by tests/loopback/tinydns.py, exchangers
   on farm hosts of chosen profiles): the `domains` section equals a
   roll-up computed here from the domain and probe records, and the hand-
   picked domains land where their profiles put them.
4. --help has the shared layout (Usage, one sentence, sections, <= 80
   columns, Examples, Exit status) and lists every option the program
   accepts; -V prints the version."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import looplib  # noqa: E402
import tinydns  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "../../build")))
SCAN = os.path.join(BUILD, "mailtls-scan")
STATS = os.path.join(BUILD, "mailtls-stats")
FARM = os.path.join(BUILD, "mailtls-farm")
PROFILES = "starttls-auth=40,strict=20,implicit-only=10,no-tls=10,legacy-tls=10,garbage=5,busy=5"
TARGETS = "127.115.14.0/24"


def stats(*args):
    r = subprocess.run([STATS] + list(args), capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout, r.stderr


def stats_json(*args):
    rc, out, err = stats("--format", "json", *args)
    return (json.loads(out) if rc == 0 else None), rc, err


def scan(ports, out, cert, extra=()):
    plist = ",".join("%d/%s" % (p, proto) for proto, p in ports.items())
    r = subprocess.run([SCAN, "-q", "-p", plist, "--tls-versions", "--read-timeout", "2", "--timeout", "5",
                        "--ca-file", cert, "-o", out] + list(extra),
                       capture_output=True, text=True, timeout=180)
    return r.returncode, r.stderr.strip()[:300]


def load(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def summary(d):
    return {m["metric"]: m["value"] for m in d["summary"]}


def versions(r):
    """What ssl.version: looks at: the enumerated versions, else the negotiated one."""
    if r["tls_versions"] is not None:
        return r["tls_versions"]
    return [r["tls_version"]] if r["tls_version"] else []


def shodan_part(check, tmp, ports, path, records):
    smtp, imap = ports["smtp"], ports["imap"]
    on = lambda p: [r for r in records if r["port"] == p]  # noqa: E731
    tls = lambda r: r["tls_version"] is not None  # noqa: E731

    # a raw /shodan/host/count answer, saved as the API returns it
    answer = os.path.join(tmp, "count.json")
    by_version = {}
    for r in on(smtp):
        if tls(r):
            by_version[r["tls_version"]] = by_version.get(r["tls_version"], 0) + 1
    check(len(by_version) >= 1, "SMTP on the farm negotiates TLS (%s)" % by_version)
    json.dump({"matches": [], "total": 123456,
               "facets": {"ssl.version": [{"count": 9000, "value": "tlsv1.2"}, {"count": 800, "value": "TLSV1.3"},
                                          {"count": 7, "value": "TLSv1"}],
                          "port": [{"count": 123456, "value": smtp}],
                          "has_ssl": [{"count": 123456, "value": True}, {"count": 0, "value": False}],
                          "ssl.cert.expired": [{"count": 3, "value": "True"}, {"count": 5, "value": "False"}]}},
              open(answer, "w"))
    q_raw = "port:%d has_ssl:true" % smtp
    # a results file with the other filters
    results = os.path.join(tmp, "results.json")
    entries = {
        "legacy imap": ("port:%d ssl.version:tlsv1" % imap,
                        sum(1 for r in on(imap) if "TLSv1" in versions(r))),
        "legacy imap, 1.0 spelt out": ("port:%d ssl.version:\"TLSv1.0\"" % imap,
                                       sum(1 for r in on(imap) if "TLSv1" in versions(r))),
        "smtp without tls": ("port:%d \"esmtp mailtls-farm\" -has_ssl:true" % smtp,
                             sum(1 for r in on(smtp) if r["banner"] and "esmtp mailtls-farm" in r["banner"].lower()
                                 and not tls(r))),
        "valid certs": ("port:%d ssl.cert.expired:false" % smtp,
                        sum(1 for r in on(smtp) if r["cert_days_left"] is not None and r["cert_days_left"] >= 0)),
        "expired certs": ("port:%d ssl.cert.expired:true" % smtp,
                          sum(1 for r in on(smtp) if r["cert_days_left"] is not None and r["cert_days_left"] < 0)),
        "not 1.3": ("port:%d has_ssl:true -ssl.version:tlsv1.3" % smtp,
                    sum(1 for r in on(smtp) if tls(r) and "TLSv1.3" not in versions(r))),
    }
    json.dump({"results": {k: {"query": q, "total": 1000} for k, (q, _) in entries.items()}}, open(results, "w"))
    d, rc, err = stats_json("--compare-shodan", answer, "--shodan-query", q_raw, "--compare-shodan", results, path)
    check(rc == 0, "raw answer + --shodan-query + results file: exit 0 (%s)" % err.strip()[:300])
    if d is None:
        return
    rows = {r["check"]: r for r in d["compare-shodan"]}
    raw = rows.get(answer, {})
    want = sum(1 for r in on(smtp) if tls(r))
    check(raw.get("query") == q_raw and raw.get("shodan_total") == 123456 and raw.get("mailtls_shodan_style") == want,
          "raw answer: named after its file, query from --shodan-query, total 123456, has_ssl:true counts %d (%s)"
          % (want, raw))
    for name, (q, n) in entries.items():
        got = rows.get(name, {}).get("mailtls_shodan_style")
        check(got == n, "%s: %s counts %s, the records say %d" % (name, q, got, n))
    check(entries["legacy imap"][1] > 0 and entries["smtp without tls"][1] > 0 and entries["valid certs"][1] > 0
          and entries["not 1.3"][1] > 0, "the farm gives each filter something to count")
    facets = {(r["facet"], str(r["value"])): r["mailtls_shodan_style"] for r in d.get("compare-shodan facets", [])}
    for value, real in (("tlsv1.2", "TLSv1.2"), ("TLSV1.3", "TLSv1.3"), ("TLSv1", "TLSv1")):
        check(facets.get(("ssl.version", value)) == by_version.get(real, 0),
              "facet ssl.version %r matches %s case-insensitively: %s = %d"
              % (value, real, facets.get(("ssl.version", value)), by_version.get(real, 0)))
    check(facets.get(("port", str(smtp))) == want, "facet port %d: %s" % (smtp, facets.get(("port", str(smtp)))))
    check(facets.get(("has_ssl", "true")) == want and facets.get(("has_ssl", "false")) == 0,
          "boolean facet has_ssl: true %s, false %s" % (facets.get(("has_ssl", "true")), facets.get(("has_ssl", "false"))))
    valid = sum(1 for r in on(smtp) if tls(r) and r["cert_days_left"] is not None and r["cert_days_left"] >= 0)
    check(valid > 0 and facets.get(("ssl.cert.expired", "False")) == valid
          and facets.get(("ssl.cert.expired", "True")) == 0,
          "facet ssl.cert.expired: False %s = %d, True %s" % (facets.get(("ssl.cert.expired", "False")), valid,
                                                           facets.get(("ssl.cert.expired", "True"))))

    # refusals
    bad = os.path.join(tmp, "error.json")
    json.dump({"error": "Invalid API key"}, open(bad, "w"))
    rc, _, err = stats("--compare-shodan", bad, "--shodan-query", "port:25", path)
    check(rc == 1 and "Shodan answered with an error: Invalid API key" in err, "an API error answer: exit 1 (%s)"
          % err.strip())
    rc, _, err = stats("--compare-shodan", answer, path)
    check(rc == 1 and "--shodan-query" in err, "a raw answer without --shodan-query: exit 1 (%s)" % err.strip())
    rc, _, err = stats("--compare-shodan", results, "--shodan-query", "port:25", path)
    check(rc == 1 and "no raw answer" in err, "a --shodan-query no raw answer takes: exit 1 (%s)" % err.strip())
    d2 = None
    rc, out, err = stats("--format", "json", "--compare-shodan", answer, "--shodan-query", "port:25 vuln:x", path)
    if rc == 0:
        d2 = json.loads(out)
    row = (d2 or {}).get("compare-shodan", [{}])[0]
    check(rc == 0 and row.get("verdict") == "not comparable" and "unsupported filter" in (row.get("precise") or ""),
          "an unknown filter makes the entry 'not comparable' with the reason (%s)" % row)


def files_part(check, tmp, ports, cert, path):
    shards = []
    for i in range(2):
        out = os.path.join(tmp, "shard%d.json" % i)
        rc, err = scan(ports, out, cert, ["--shards", "2", "--shard", str(i), "--seed", "7", TARGETS])
        check(rc == 0, "shard %d of 2 scanned (%s)" % (i, err))
        shards.append(out)
    d, rc, err = stats_json(*shards)
    n = sum(len(load(s)) for s in shards)
    s = summary(d) if d else {}
    check(rc == 0 and s.get("records") == n == 1024 and s.get("input_files") == 2 and s.get("repeated_keys") == 0
          and "note:" not in err, "two shards: summed (%s records), no note, repeated_keys 0 (%s; %s)"
          % (n, s, err.strip()[:200]))
    d, rc, err = stats_json(path, path)
    s = summary(d) if d else {}
    check(rc == 0 and s.get("records") == 2048 and s.get("input_files") == 2 and s.get("repeated_keys") == 1024,
          "the same scan twice: still summed (2048) but 1024 repeated keys counted (%s)" % s)
    check("note: 1024 (address, port) keys appear in more than one of the 2 files" in err
          and "mailtls-diff" in err, "...and stderr says they look like separate scans (%s)" % err.strip())
    d, rc, err = stats_json(path)
    s = summary(d) if d else {}
    check(rc == 0 and "input_files" not in s and "repeated_keys" not in s and "note" not in err,
          "one file: the summary is as before (%s)" % sorted(s))
    rc, out, err = stats(shards[0], shards[1], path)
    check(rc == 0 and "note: 1024 " in err, "shards plus the whole scan: each key repeated once (%s)"
          % err.strip()[:120])


def pick(profile_of, profile, n):
    got = [a for a, p in profile_of.items() if p == profile][:n]
    if len(got) < n:
        raise RuntimeError("not enough %s hosts" % profile)
    return got


def expected_domains(records):
    """The roll-up, computed from the records (independently of domains.c)."""
    hosts = {}
    for r in records:
        if r["port"] is None or r["ip"] is None or r["status"] == "duplicate":
            continue
        h = hosts.setdefault(r["ip"], {"answered": False, "tls": True, "offered": True, "plain": False,
                                       "cert": True})
        is_tls = r["tls_version"] is not None
        implicit = r["tls_mode"] == "implicit"
        h["answered"] |= bool(r["banner"]) or is_tls
        h["tls"] &= is_tls and (implicit or r["starttls_ok"] is True)
        h["offered"] &= implicit or r["starttls_offered"] is True
        h["plain"] |= r["plaintext_auth_before_tls"] is True
        h["cert"] &= (not is_tls) or (r["cert_trusted"] is True and r["cert_hostname_match"] is True)
    out = {"domains": 0}
    names = {}
    for k in ("every_mx_answered", "every_mx_starttls_offered", "every_mx_tls_ok", "every_mx_cert_valid",
              "any_mx_plaintext_auth", "no_mx_answered"):
        out["resolved_" + k] = 0
    for r in records:
        if r["port"] is not None or r["domain"] is None or r["status"] == "duplicate":
            continue
        out["domains"] += 1
        out["status_" + r["status"]] = out.get("status_" + r["status"], 0) + 1
        if r["status"] != "resolved":
            continue
        addrs = [item.split(" ")[-1] for item in r["mx"] or [] if not item.split(" ")[-1].startswith("dns-")]
        if not addrs:
            continue
        hs = [hosts.get(a) for a in addrs]
        ans = [h is not None and h["answered"] for h in hs]
        flags = {
            "every_mx_answered": all(ans),
            "every_mx_starttls_offered": all(a and h["offered"] for a, h in zip(ans, hs)),
            "every_mx_tls_ok": all(a and h["tls"] for a, h in zip(ans, hs)),
            "every_mx_cert_valid": all(a and h["tls"] and h["cert"] for a, h in zip(ans, hs)),
            "any_mx_plaintext_auth": any(h is not None and h["plain"] for h in hs),
            "no_mx_answered": not any(ans),
        }
        for k, v in flags.items():
            out["resolved_" + k] += v
        names[r["domain"]] = flags
    return out, names


def mx_part(check, tmp, ports, cert):
    lines = subprocess.run([FARM, "--profiles", PROFILES, "--list-profiles", "200", "--base", "127.115.16.1"],
                           capture_output=True, text=True, check=True).stdout.split()
    profile_of = dict(zip(lines[0::2], lines[1::2]))
    strict = pick(profile_of, "strict", 3)
    auth = pick(profile_of, "starttls-auth", 2)
    notls = pick(profile_of, "no-tls", 1)
    zone = {}
    plan = {  # domain -> exchanger addresses
        "all-strict.test": strict[:2],
        "mixed.test": [strict[2], notls[0]],
        "auth.test": auth[:1],
        "shared.test": [strict[0], auth[1]],  # shares an exchanger address with all-strict.test
    }
    for dom, addrs in plan.items():
        zone[dom] = {"MX": [(10 * (i + 1), "mx%d-%s.farm.test" % (i, dom.split(".")[0])) for i in range(len(addrs))]}
        for i, a in enumerate(addrs):
            zone["mx%d-%s.farm.test" % (i, dom.split(".")[0])] = {"A": [a]}
    zone["fallback.test"] = {"A": [auth[0]]}  # no MX: RFC 5321 fallback to the domain itself
    dns = tinydns.TinyDNS(zone)
    out = os.path.join(tmp, "mx.json")
    try:
        r = subprocess.run([SCAN, "-q", "--mx", "--resolver", "127.0.0.1:%d" % dns.port, "-p", "%d/smtp" % ports["smtp"],
                            "--read-timeout", "2", "--timeout", "5", "--ca-file", cert, "-o", out,
                            "all-strict.test", "mixed.test", "auth.test", "shared.test", "fallback.test",
                            "missing.test"], capture_output=True, text=True, timeout=120)
    finally:
        dns.stop()
    check(r.returncode == 0, "--mx scan exits 0 (%s)" % r.stderr.strip()[:200])
    records = load(out)
    want, flags = expected_domains(records)
    d, rc, err = stats_json(out)
    got = {m["metric"]: m["value"] for m in (d or {}).get("domains", [])}
    check(rc == 0 and got == want, "domains section equals the roll-up of the records:\n  got  %s\n  want %s"
          % (got, want))
    check(want.get("domains") == 6 and want.get("status_resolved") == 5 and want.get("status_dns-nxdomain") == 1,
          "six domains: five resolved, one NXDOMAIN (%s)" % want)
    f = flags
    check(f.get("all-strict.test", {}).get("every_mx_tls_ok") and f["all-strict.test"]["every_mx_cert_valid"]
          and not f["all-strict.test"]["any_mx_plaintext_auth"],
          "all-strict.test: every MX STARTTLS with a valid certificate, no plaintext AUTH (%s)"
          % f.get("all-strict.test"))
    check(f.get("mixed.test", {}).get("every_mx_answered") and not f["mixed.test"]["every_mx_starttls_offered"]
          and f["mixed.test"]["any_mx_plaintext_auth"],
          "mixed.test: one MX without STARTTLS and with plaintext AUTH (%s)" % f.get("mixed.test"))
    check(f.get("auth.test", {}).get("every_mx_tls_ok") and f["auth.test"]["any_mx_plaintext_auth"],
          "auth.test: STARTTLS works but AUTH is offered before it (%s)" % f.get("auth.test"))
    check(f.get("shared.test", {}).get("every_mx_tls_ok") and f["shared.test"]["any_mx_plaintext_auth"],
          "shared.test: its exchanger probed under all-strict.test still counts for it (%s)" % f.get("shared.test"))
    check(f.get("fallback.test", {}).get("every_mx_tls_ok") is True, "fallback.test: the no-MX fallback address is "
          "rolled up (%s)" % f.get("fallback.test"))
    table = stats(out)[1]
    check("== domains ==" in table and "resolved_every_mx_tls_ok" in table, "the table format has the domains section")
    print("\n".join(line for line in table.split("== domains ==")[1].split("\n")[:14]))
    rc, _, _ = stats(os.path.join(tmp, "shard0.json"))
    d, _, _ = stats_json(os.path.join(tmp, "shard0.json"))
    check(d is not None and "domains" not in d, "a scan without --mx has no domains section")


def help_part(check):
    rc, text, _ = stats("--help")
    lines = text.split("\n")
    check(rc == 0 and lines[0].startswith("Usage: mailtls-stats [OPTIONS] ") and lines[1].endswith(".")
          and lines[2] == "", "--help: Usage line, one sentence, blank line (%s)" % lines[:3])
    check(all(len(line) <= 80 for line in lines), "--help: no line over 80 columns")
    heads = [line for line in lines if re.match(r"^\S.*:$", line)]
    check(heads[-2:] == ["Examples:", "Exit status:"] and len(heads) >= 5, "--help: sections, Examples and Exit "
          "status last (%s)" % heads)
    longs = set(re.findall(r"--([a-z][a-z-]+)", text))
    src = open(os.path.join(HERE, "../../tools/stats/main.c"), encoding="utf-8").read()
    table = set(re.findall(r'\{"([a-z-]+)", (?:required|no)_argument', src))
    check(table and table <= longs, "--help lists every long option of main.c (%s missing)" % sorted(table - longs))
    rc, out, _ = stats("-V")
    rc2, out2, _ = stats("--version")
    check(rc == 0 and re.match(r"^mailtls-stats \d+\.\d+", out) and out == out2, "-V / --version: %s" % out.strip())
    rc, _, err = stats("--no-such-option", "x")
    check(rc == 2 and "--help" in err, "unknown option: exit 2 and a pointer to --help")
    rc, _, err = stats()
    check(rc == 2, "no FILE: exit 2")


def main():
    check = looplib.Checks()
    help_part(check)
    tmp = tempfile.mkdtemp(prefix="mailtls-statsfit-")
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=farm.test", "-days", "10", "-addext", "subjectAltName=DNS:*.farm.test",
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", "0", "--smtps", "0", "--imap", "0", "--pop3", "0",
                                           "--profiles", PROFILES, "--cert", cert, "--key", key])
    try:
        ready = json.load(open(os.path.join(tmp, "farm-ready.json")))
        ports = {k: ready[k][0] for k in ("smtp", "smtps", "imap", "pop3")}
        path = os.path.join(tmp, "scan.json")
        rc, err = scan(ports, path, cert, [TARGETS])
        check(rc == 0, "farm scan exits 0 (%s)" % err)
        records = load(path)
        check(len(records) == 1024, "1024 records")
        shodan_part(check, tmp, ports, path, records)
        files_part(check, tmp, ports, cert, path)
        mx_part(check, tmp, ports, cert)
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
