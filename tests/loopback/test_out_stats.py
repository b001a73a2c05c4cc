#!/usr/bin/env python3
"""mailtls-stats on hand-made records with known counts.

The same 14 records are written as NDJSON and CSV (plain and gzip) with
the escaping documented in output/SCHEMA-OUTPUT.md; mailtls-stats must
give identical, hand-checked numbers for each, match what sqlite3 counts
after `.import --csv`, compare against a hand-made Shodan file, and reject
hostile input with a file:line message (or skip it with --skip-bad).
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("MAILTLS_BUILD", "build-out")
STATS = os.path.join(BUILD, "mailtls-stats")
OUTCHECK = os.path.join(BUILD, "mailtls-outcheck")

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)


def smtp(port, banner, caps, auth, plain, probe=None, starttls_ok=None, tls=None, trusted=None, country=None,
         asn=None, org=None):
    r = dict(ip="192.0.2.%d" % (len(RECORDS) + 1), port=port, protocol="smtp", tls_mode="starttls",
             status="ok", banner=banner, caps_before_tls=caps, auth_before_tls=auth,
             plaintext_auth_before_tls=plain, starttls_offered=any(c.upper() == "STARTTLS" for c in caps),
             auth_probe=probe, starttls_ok=starttls_ok, tls_version=tls, cert_trusted=trusted,
             country=country, asn=asn, as_org=org)
    RECORDS.append(r)


RECORDS = []
B = lambda s: s  # banners are str; hostile bytes go through surrogateescape
smtp(25, "220 mx1.example ESMTP Postfix (Debian/GNU)\r\n", ["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"],
     ["PLAIN", "LOGIN"], True, "cleartext-evaluated", True, "TLSv1.3", True, "DE", 64500, "Org A")
smtp(25, "220 mx2.example ESMTP Exim 4.96\r\n", ["SIZE 1000", "STARTTLS"], [], False, "tls-required", True,
     "TLSv1.2", False, "US", 64501, "Org B")
RECORDS.append(dict(ip="192.0.2.3", port=25, protocol="smtp", tls_mode="starttls", status="refused",
                    error="Connection refused"))
smtp(587, "220 ex.example Microsoft ESMTP MAIL Service ready\r\n", ["STARTTLS", "AUTH NTLM"], ["NTLM"], False,
     "tls-required", True, "TLSv1.2", True, "US", 8075, "Microsoft Corporation")
# Text says AUTH and LOGIN, but nothing is advertised: Shodan-style only.
smtp(587, "220 mail.example ESMTP AUTH LOGIN only after STARTTLS\r\n", ["STARTTLS"], [], False, None, False,
     None, None, "FR", 64502, "Org C")
smtp(587, "220 old.example ESMTP Sendmail 8.15.2\r\n", ["AUTH=PLAIN LOGIN"], ["PLAIN", "LOGIN"], True,
     "cleartext-evaluated", None, None, None, "DE", 64500, "Org A")
RECORDS.append(dict(ip="192.0.2.7", port=143, protocol="imap", tls_mode="starttls", status="ok",
                    banner="* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN AUTH=LOGIN] Dovecot ready.\r\n",
                    caps_before_tls=["IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"],
                    auth_before_tls=["PLAIN", "LOGIN"], plaintext_auth_before_tls=True, starttls_offered=True,
                    starttls_ok=True, tls_version="TLSv1.3", cert_trusted=True, country="DE", asn=64500,
                    as_org="Org A", auth_probe="cleartext-evaluated"))
# LOGINDISABLED with AUTH=PLAIN: Shodan's query excludes it, the record says plaintext is possible.
RECORDS.append(dict(ip="192.0.2.8", port=143, protocol="imap", tls_mode="starttls", status="ok",
                    banner="* OK Cyrus IMAP server ready\r\n",
                    caps_before_tls=["IMAP4rev1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"],
                    auth_before_tls=["PLAIN"], plaintext_auth_before_tls=True, starttls_offered=True,
                    starttls_ok=False, country="US", asn=64501, as_org="Org B", auth_probe="tls-required"))
RECORDS.append(dict(ip="192.0.2.9", port=110, protocol="pop3", tls_mode="starttls", status="ok",
                    banner="+OK Dovecot ready.\r\n", caps_before_tls=["CAPA", "USER", "STLS"],
                    auth_before_tls=["USER"], plaintext_auth_before_tls=True, starttls_offered=True,
                    starttls_ok=True, tls_version="TLSv1.2", cert_trusted=False, country="FR", asn=64502,
                    as_org="Org C", auth_probe="cleartext-evaluated"))
RECORDS.append(dict(ip="192.0.2.10", port=110, protocol="pop3", tls_mode="starttls", status="read-timeout"))
RECORDS.append(dict(ip="192.0.2.11", port=465, protocol="smtp", tls_mode="implicit", status="ok",
                    banner="220 mx.example ESMTP Postfix\r\n", caps_after_tls=["AUTH PLAIN LOGIN"],
                    auth_after_tls=["PLAIN", "LOGIN"], tls_version="TLSv1.3", cert_trusted=True, country="DE",
                    asn=64500, as_org="Org A"))
RECORDS.append(dict(ip="192.0.2.12", port=993, protocol="imap", tls_mode="implicit", status="ok",
                    banner="* OK Courier-IMAP ready.\r\n", tls_version="TLSv1.2", cert_trusted=False,
                    country="FR", asn=64502, as_org="Org C"))
RECORDS.append(dict(ip="192.0.2.13", port=995, protocol="pop3", tls_mode="implicit", status="tls-failed",
                    error="alert 40"))
# Hostile bytes everywhere the CSV reader could trip.
HOSTILE = b'220 evil\x00 "quoted", comma | pipe \\ back\xff\xc0\xaf\r\n'.decode("utf-8", "surrogateescape")
smtp(25, HOSTILE, ["X|Y\\Z", "", "AUTH LOGIN"], ["LOGIN"], True, "unexpected", None, None, None, "ZZ", 64999,
     'Org "Q", Ltd.\n|\\')

# --- writers following SCHEMA-OUTPUT.md ----------------------------------

FIELDS = []


def load_fields(tmp):
    man = os.path.join(tmp, "m")
    subprocess.run([OUTCHECK, "hostile", os.path.join(tmp, "h.json"), man], check=True)
    with open(man) as f:
        FIELDS.extend(json.loads(f.readline()).keys())


def to_json(r):
    obj = {k: r.get(k) for k in FIELDS}
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def csv_escape(s, item=False):
    b = s.encode("utf-8", "surrogateescape")
    if item and not b:
        return "\\e"
    out = []
    i = 0
    text = b.decode("utf-8", "surrogateescape")
    for ch in text:
        o = ord(ch)
        if ch == '"':
            out.append('""')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F or (item and ch == "|"):
            out.append("\\x%02X" % o)
        elif 0xDC80 <= o <= 0xDCFF:
            out.append("\\x%02X" % (o - 0xDC00))
        else:
            out.append(ch)
    return "".join(out)


def to_csv_cell(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list):
        return '"' + "|".join(csv_escape(x, True) for x in v) + '"'
    return '"' + csv_escape(v) + '"'


def write_files(tmp, records, stem):
    paths = {}
    js = "".join(to_json(r) + "\n" for r in records).encode()
    cs = (",".join(FIELDS) + "\r\n" + "".join(",".join(to_csv_cell(r.get(k)) for k in FIELDS) + "\r\n"
                                              for r in records)).encode("utf-8")
    for name, data in (("json", js), ("csv", cs)):
        p = os.path.join(tmp, "%s.%s" % (stem, name))
        with open(p, "wb") as f:
            f.write(data)
        paths[name] = p
        with gzip.open(p + ".gz", "wb") as f:
            f.write(data)
        paths[name + ".gz"] = p + ".gz"
    return paths


def stats(*args, ok=True):
    r = subprocess.run([STATS] + list(args), capture_output=True)
    if ok and r.returncode != 0:
        failures.append("mailtls-stats %s failed: %s" % (args, r.stderr.decode(errors="replace")))
        return None
    return r


def sections(out):
    return json.loads(out)


def rows_by(section, key):
    return {row[key]: row for row in section}


def main():
    with tempfile.TemporaryDirectory() as tmp:
        load_fields(tmp)
        paths = write_files(tmp, RECORDS, "all")

        outs = {}
        for kind, p in paths.items():
            r = stats("--format", "json", "--top", "50", p)
            if r:
                outs[kind] = r.stdout
        base = outs.get("json")
        for kind, o in outs.items():
            check(o == base, "%s output differs from the json output" % kind)
        s = sections(base)

        check(s["summary"][0] == {"metric": "records", "value": 14}, "records: %r" % s["summary"])
        ports = rows_by(s["ports"], "port")
        # port: records open banner starttls_offered starttls_ok tls_ok cert_trusted plaintext probed accepted
        want = {
            25: (4, 3, 3, 2, 2, 2, 1, 2, 3, 1),
            110: (2, 2, 1, 1, 1, 1, 0, 1, 1, 1),
            143: (2, 2, 2, 2, 1, 1, 1, 2, 2, 1),
            465: (1, 1, 1, 0, 0, 1, 1, 0, 0, 0),
            587: (3, 3, 3, 2, 1, 1, 1, 1, 2, 1),
            993: (1, 1, 1, 0, 0, 1, 0, 0, 0, 0),
            995: (1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
        }
        cols = ["records", "open", "banner", "starttls_offered", "starttls_ok", "tls_ok", "cert_trusted",
                "plaintext_auth_before_tls", "auth_probed", "auth_accepted_cleartext"]
        check(sorted(ports) == sorted(want), "ports %r" % sorted(ports))
        for port, w in want.items():
            got = tuple(ports.get(port, {}).get(c) for c in cols)
            check(got == w, "port %d: got %r want %r" % (port, got, w))

        ind = rows_by(s["indicators"], "check")
        # check: shodan_style, advertised, accepted, text_only, precise_only
        want_ind = {
            "smtp-25 plaintext auth": (2, 2, 1, 0, 0),
            "smtp-587 plaintext auth": (2, 1, 1, 1, 0),
            "imap-143 plaintext auth": (1, 2, 1, 0, 1),
            "pop3-110 plaintext auth": (1, 1, 1, 0, 0),
            "smtp-25 starttls": (2, 2, 2, 0, 0),
            "smtp-587 starttls": (2, 2, 1, 0, 0),
            "imap-143 starttls": (2, 2, 1, 0, 0),
            "pop3-110 stls": (1, 1, 1, 0, 0),
        }
        for name, w in want_ind.items():
            row = ind.get(name, {})
            got = tuple(row.get(c) for c in ("shodan_style", "advertised", "accepted", "text_only", "precise_only"))
            check(got == w, "indicator %s: got %r want %r" % (name, got, w))

        country = rows_by(s["facet country"], "value")
        check({k: v["count"] for k, v in country.items()} == {"DE": 4, "US": 3, "FR": 3, "ZZ": 1},
              "country facet %r" % country)
        product = {r["value"]: r["count"] for r in s["facet product"]}
        check(product == {"Postfix": 2, "Dovecot": 2, "Exim": 1, "Microsoft Exchange": 1, "Sendmail": 1,
                          "Cyrus": 1, "Courier": 1, "unknown": 2}, "product facet %r" % product)
        org = {r["value"]: r["count"] for r in s["facet org"]}
        check(org.get('Org "Q", Ltd.\n|\\') == 1, "hostile org survives CSV and JSON: %r" % org)
        status = {r["value"]: r["count"] for r in s["facet status"]}
        check(status == {"ok": 11, "refused": 1, "read-timeout": 1, "tls-failed": 1}, "status facet %r" % status)
        top2 = stats("--format", "json", "--top", "2", paths["json"])
        if top2:
            check(len(sections(top2.stdout)["facet country"]) == 2, "--top 2")

        # Several files add up: first half as JSON, second half as gzip CSV.
        halves = write_files(tmp, RECORDS[:6], "a"), write_files(tmp, RECORDS[6:], "b")
        r = stats("--format", "json", "--top", "50", halves[0]["json"], halves[1]["csv.gz"])
        if r:
            # the same numbers, plus the two rows several files get (shards: no repeated key)
            split = json.loads(r.stdout)
            extra = [m for m in split["summary"] if m["metric"] in ("input_files", "repeated_keys")]
            split["summary"] = [m for m in split["summary"] if m not in extra]
            check(split == json.loads(base), "split input differs from whole")
            check(extra == [{"metric": "input_files", "value": 2}, {"metric": "repeated_keys", "value": 0}],
                  "two disjoint files: input_files 2, repeated_keys 0 (%r)" % extra)

        # sqlite3 agrees on the same CSV.
        db = os.path.join(tmp, "t.db")
        sql = subprocess.run(["sqlite3", db], input=(
            ".import --csv %s t\n"
            "SELECT port, count(*), sum(banner != ''), sum(starttls_offered = 'true'), sum(starttls_ok = 'true'),"
            " sum(tls_version != ''), sum(cert_trusted = 'true'), sum(plaintext_auth_before_tls = 'true'),"
            " sum(auth_probe != ''), sum(auth_probe = 'cleartext-evaluated') FROM t GROUP BY port ORDER BY 0+port;\n"
            "SELECT country, count(*) FROM t WHERE banner != '' OR tls_version != '' GROUP BY country;\n"
            % paths["csv"]), capture_output=True, text=True)
        check(sql.returncode == 0, "sqlite3: %s" % sql.stderr)
        lines = sql.stdout.strip().splitlines()
        sql_ports = {int(l.split("|")[0]): tuple(int(x) for x in l.split("|")[1:]) for l in lines if l.count("|") == 9}
        for port, row in ports.items():
            mine = (row["records"], row["banner"], row["starttls_offered"], row["starttls_ok"], row["tls_ok"],
                    row["cert_trusted"], row["plaintext_auth_before_tls"], row["auth_probed"],
                    row["auth_accepted_cleartext"])
            check(sql_ports.get(port) == mine, "sqlite port %d: %r vs %r" % (port, sql_ports.get(port), mine))
        sql_country = {l.split("|")[0]: int(l.split("|")[1]) for l in lines if l.count("|") == 1}
        check(sql_country == {k: v["count"] for k, v in country.items()},
              "sqlite country %r vs %r" % (sql_country, country))

        # --compare-shodan: matched by query, not by name.
        shodan = {"results": {
            "Submission with plaintext AUTH": {
                "query": 'port:587 ("250-AUTH" OR "AUTH") (PLAIN OR LOGIN)', "total": 882407,
                "facets": {"country": [{"value": "US", "count": 1234}, {"value": "FR", "count": 99}],
                           "ssl.version": [{"value": "TLSv1.2", "count": 5}]}},
            "any name at all": {"query": 'port:143 ("AUTH=PLAIN" OR "AUTH=LOGIN") -LOGINDISABLED', "total": 1000},
            "pop3": {"query": "port:110 USER", "total": 500},
            "smtp starttls": {"query": "port:25 STARTTLS", "total": 4},
            "unsupported": {"query": "port:25 vuln:CVE-2014-0160", "total": 7},
        }}
        sp = os.path.join(tmp, "shodan.json")
        with open(sp, "w") as f:
            json.dump(shodan, f)
        r = stats("--format", "json", "--compare-shodan", sp, paths["json"])
        if r:
            cmp_ = rows_by(sections(r.stdout)["compare-shodan"], "check")
            want_cmp = {
                "Submission with plaintext AUTH": (882407, 2, "auth", 1, 1, 1, 0),
                "any name at all": (1000, 1, "auth", 2, 1, 0, 1),
                "pop3": (500, 1, "auth", 1, 1, 0, 0),
                "smtp starttls": (4, 2, "starttls", 2, 2, 0, 0),
            }
            for name, w in want_cmp.items():
                row = cmp_.get(name, {})
                got = tuple(row.get(c) for c in ("shodan_total", "mailtls_shodan_style", "precise", "mailtls_precise",
                                                  "accepted", "text_only", "precise_only"))
                check(got == w, "compare %s: got %r want %r" % (name, got, w))
            check(cmp_.get("smtp starttls", {}).get("ratio") == 0.5, "ratio 2/4: %r" % cmp_.get("smtp starttls"))
            verdicts = {k: v.get("verdict") for k, v in cmp_.items()}
            check(verdicts == {"Submission with plaintext AUTH": "shodan-style counts more",
                               "any name at all": "precise counts more", "pop3": "agree",
                               "smtp starttls": "agree", "unsupported": "not comparable"}, "verdicts %r" % verdicts)
            check("unsupported filter" in (cmp_.get("unsupported", {}).get("precise") or ""),
                  "unsupported filter reported: %r" % cmp_.get("unsupported"))
            fac = {(x["check"], x["facet"], x["value"]): (x["shodan_count"], x["mailtls_shodan_style"])
                   for x in sections(r.stdout)["compare-shodan facets"]}
            check(fac == {("Submission with plaintext AUTH", "country", "US"): (1234, 0),
                          ("Submission with plaintext AUTH", "country", "FR"): (99, 1),
                          ("Submission with plaintext AUTH", "ssl.version", "TLSv1.2"): (5, 0)},
                  "compare facets %r" % fac)
        table = stats("--compare-shodan", sp, paths["csv"])
        if table:
            check(b"== compare-shodan ==" in table.stdout and b"882407" in table.stdout, "table output")
        csvout = stats("--format", "csv", paths["csv"])
        if csvout:
            check(b'section,port,records,open' in csvout.stdout, "csv output header")

        # Hostile input: clear errors with file and line, never a crash.
        def bad(name, data, expect, *extra):
            p = os.path.join(tmp, name)
            with open(p, "wb") as f:
                f.write(data)
            r = stats(p, *extra, ok=False)
            err = r.stderr.decode(errors="replace")
            check(r.returncode == 1 and expect in err, "%s: rc=%d err=%r" % (name, r.returncode, err))
            check(r.returncode >= 0, "%s: killed by signal %d" % (name, -r.returncode))
            return r

        good = to_json(RECORDS[0]).encode()
        bad("broken.json", good + b"\n" + good[:-5] + b"\n" + good + b"\n", "broken.json:2: column")
        bad("type.json", b'{"port":"25"}\n', "type.json:1: field port: expected an integer")
        bad("deep.json", b"{\"x\":" + b"[" * 100000 + b"\n", "deep.json:1: column 37: nesting too deep")
        bad("huge.json", good + b"\n" + b"{\"banner\":\"" + b"A" * (3 << 20), "huge.json:2: line longer than")
        bad("nul.json", b'{"ip":"a\x00b"}\n', "nul.json:1: column 9: raw control byte")
        bad("badesc.csv", b"ip,port\r\n\"\\q\",25\r\n", "badesc.csv:2: field ip: bad escape")
        bad("cols.csv", b"ip,port\r\n\"a\",25,7\r\n", "cols.csv:2: more columns than the header")
        bad("quote.csv", b"ip,port\r\n\"a,25\r\n", "quote.csv:2: column 1: unterminated quoted field")
        bad("noheader.csv", b"x,y\r\n1,2\r\n", "noheader.csv:1: CSV header names no mailtls field")
        bad("garbage.gz", b"\x1f\x8b\x08\x00" + os.urandom(2000), "garbage.gz:1:")
        full = gzip.compress(("".join(to_json(r) + "\n" for r in RECORDS) * 50).encode())
        bad("cut.json.gz", full[: len(full) // 2], "cut.json.gz:")
        bad("skip.json", good + b"\n" + b"{oops\n" + good + b"\n", "skip.json:2: column 2: expected a string key")
        r = stats("--skip-bad", "--format", "json", os.path.join(tmp, "skip.json"))
        if r:
            summ = rows_by(sections(r.stdout)["summary"], "metric")
            check(summ["records"]["value"] == 2 and summ["bad_lines_skipped"]["value"] == 1,
                  "--skip-bad summary %r" % summ)
            check(b"skip.json:2:" in r.stderr and b"skipped" in r.stderr, "--skip-bad warning")
        r = stats("--skip-bad", "--format", "json", os.path.join(tmp, "cut.json.gz"))
        if r:
            summ = rows_by(sections(r.stdout)["summary"], "metric")
            check(summ["records"]["value"] > 0 and summ["bad_lines_skipped"]["value"] == 1,
                  "--skip-bad on a cut gzip %r" % summ)
        r = stats("--compare-shodan", os.path.join(tmp, "broken.json"), paths["json"], ok=False)
        check(r.returncode == 1 and b"broken.json:" in r.stderr, "bad shodan file: %r" % r.stderr)
        r = stats(os.path.join(tmp, "missing.json"), ok=False)
        check(r.returncode == 1 and b"missing.json: No such file" in r.stderr, "missing file: %r" % r.stderr)

    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
