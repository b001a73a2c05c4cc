#!/usr/bin/env python3
"""`mailtls-scan --schema --format sql-*` on a real scan: the loopback farm
(profiles with and without STARTTLS, plaintext AUTH, legacy TLS, garbage
greetings that give `_b64` keys) is scanned to CSV and NDJSON; every block
of the README section "Analysing results" is run unchanged: PostgreSQL
(a private cluster on a unix socket, CSV and NDJSON), DuckDB (npm
@duckdb/node-api, CSV.gz and NDJSON), SQLite (CSV) and pandas (NDJSON).
Checked: counts in every database equal `mailtls-stats --format json`
(records, per-port STARTTLS offered/ok, plaintext AUTH, TLS sessions,
trusted certificates), the README's three example questions give the same
rows everywhere and match the records themselves, the columns have the
documented types (boolean, bigint, timestamptz, arrays), and lists decode
to the same items as the NDJSON arrays (empty list and null kept apart)."""
import glob
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import looplib  # noqa: E402
import pglib  # noqa: E402
from pglib import pg_bin  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "../../build")))
SRC = os.environ.get("MAILTLS_SRC", os.path.join(HERE, "../.."))
SCAN = os.path.join(BUILD, "mailtls-scan")
STATS = os.path.join(BUILD, "mailtls-stats")
NODE_MODULES = os.environ.get("MAILTLS_NODE_MODULES", "/opt/mailtls-node/node_modules")
# no tarpit or delay: the scan takes seconds; garbage gives _b64 keys
PROFILES = "starttls-auth=40,strict=20,implicit-only=10,no-tls=10,legacy-tls=10,garbage=5,busy=5"
TARGETS = "127.115.13.0/24"
LISTS = ("caps_before_tls", "auth_before_tls", "caps_after_tls", "tls_versions")


def readme_blocks():
    """tag -> code of each block marked `<!-- test: TAG -->` in the README
    section "Analysing results"."""
    text = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
    m = re.search(r"^## Analysing results\n(.*?)^## ", text, re.S | re.M)
    if not m:
        return {}
    return {tag: code for tag, code in
            re.findall(r"<!-- test: ([a-z -]+) -->\n```[a-z]*\n(.*?)```", m.group(1), re.S)}


class Postgres(pglib.Postgres):
    """pglib's cluster, with the environment the README's psql lines need."""

    def env(self, db):
        """What the README's psql lines need to find this cluster."""
        return dict(os.environ, PGHOST=self.dir, PGPORT="5432", PGUSER="postgres", PGDATABASE=db,
                    PATH=os.path.dirname(pg_bin("psql")) + ":" + BUILD + ":" + os.environ["PATH"])

    def query(self, db, sql):
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], env=self.env(db),
                           capture_output=True, text=True, timeout=120)
        return r.stdout.strip().split("\n") if r.returncode == 0 and r.stdout.strip() else \
            ([] if r.returncode == 0 else ["ERROR " + r.stderr.strip()[:300]])



def pandas_python():
    """An interpreter with pandas: this one, else Debian's (python3-pandas),
    which a python3 earlier in PATH (pyenv, venv) may hide."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and subprocess.run([exe, "-c", "import pandas"], capture_output=True).returncode == 0:
            return exe
    return None


def run_sh(check, what, code, cwd, env):
    r = subprocess.run(["sh", "-e", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "%s: the README block runs (%s)" % (what, r.stderr.strip()[:300]))
    return r.returncode == 0


def duckdb(setup, queries):
    job = {"setup": setup, "queries": queries}
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    r = subprocess.run(["node", os.path.join(HERE, "duckdb_query.cjs")], input=json.dumps(job), env=env,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return None, r.stderr.strip()[:400]
    res = json.loads(r.stdout)
    return {k: ["|".join("" if v is None else str(v) for v in row.values()) for row in rows]
            for k, rows in res.items()}, None


def sqlite(db, sql):
    r = subprocess.run(["sqlite3", "-batch", db, sql], capture_output=True, text=True, timeout=60)
    return r.stdout.strip().split("\n") if r.returncode == 0 and r.stdout.strip() else \
        ([] if r.returncode == 0 else ["ERROR " + r.stderr.strip()[:300]])


def scan(tmp, ports, fmt, out, cert):
    plist = ",".join("%d/%s" % (p, proto) for proto, p in ports.items())
    r = subprocess.run([SCAN, "-q", "-f", fmt, "-p", plist, "--probe-auth", "--tls-versions", "--read-timeout", "2",
                        "--timeout", "5", "--ca-file", cert, "-o", out, TARGETS],
                       capture_output=True, text=True, timeout=180)
    return r.returncode, r.stderr.strip()[:300]


def expected(records):
    """What the records say, computed here from the NDJSON."""
    def q_starttls(rs):
        ports = sorted({r["port"] for r in rs})
        return ["%d|%d|%d" % (p, sum(1 for r in rs if r["port"] == p and r["starttls_offered"] is True),
                              sum(1 for r in rs if r["port"] == p and r["starttls_ok"] is True)) for p in ports]

    def q_plain(rs):
        sel = [r for r in rs if r["plaintext_auth_before_tls"] is True]
        return ["%d|%d|%d" % (p, sum(1 for r in sel if r["port"] == p),
                              sum(1 for r in sel if r["port"] == p and r["starttls_offered"] is True))
                for p in sorted({r["port"] for r in sel})]

    def q_expiring(rs):
        sel = [r for r in rs if r["cert_days_left"] is not None and r["cert_days_left"] < 30]
        groups = {}
        for r in sel:
            groups.setdefault(r["cert_issuer"], []).append(r["cert_days_left"])
        rows = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        return ["%s|%d|%d" % (k, len(v), min(v)) for k, v in rows]

    return {"query starttls": q_starttls(records), "query plaintext-auth": q_plain(records),
            "query expiring": q_expiring(records)}


def list_facts(records):
    """Per list field: total items, records with [], records with null."""
    out = {}
    for f in LISTS:
        vals = [r.get(f) for r in records]
        out[f] = "%d|%d|%d" % (sum(len(v) for v in vals if v), sum(1 for v in vals if v == []),
                               sum(1 for v in vals if v is None))
    return out


def stats_counts(path):
    """The numbers mailtls-stats gives, as `name -> count` keyed like the SQL below."""
    r = subprocess.run([STATS, "--format", "json", path], capture_output=True, text=True, timeout=60)
    d = json.loads(r.stdout)
    got = {"records": {m["metric"]: m["value"] for m in d["summary"]}["records"]}
    for row in d["ports"]:
        for col in ("records", "starttls_offered", "starttls_ok", "tls_ok", "cert_trusted",
                    "plaintext_auth_before_tls", "auth_accepted_cleartext"):
            got["%s %s" % (row["port"], col)] = row[col]
    return got


# SQL counterpart of each mailtls-stats column (boolean columns used as booleans).
STATS_SQL = {
    "records": "1=1",
    "starttls_offered": "starttls_offered",
    "starttls_ok": "starttls_ok",
    "tls_ok": "tls_version IS NOT NULL",
    "cert_trusted": "cert_trusted",
    "plaintext_auth_before_tls": "plaintext_auth_before_tls",
    "auth_accepted_cleartext": "auth_probe = 'cleartext-evaluated'",
}


def stats_sql(stats):
    """One query giving `key|count` rows for every mailtls-stats number."""
    parts = ["SELECT 'records', count(*) FROM mailtls"]
    for key in stats:
        if key == "records":
            continue
        port, col = key.split(" ")
        parts.append("SELECT '%s', count(*) FROM mailtls WHERE port = %s AND %s" % (key, port, STATS_SQL[col]))
    return " UNION ALL ".join(parts)


def as_dict(rows):
    out = {}
    for row in rows:
        k, _, v = row.rpartition("|")
        out[k] = int(v) if v.lstrip("-").isdigit() else v
    return out


def compare_all(check, name, results, want):
    for db, rows in results.items():
        check(rows == want, "%s: %s gives %s (expected %s)" % (name, db, rows[:4], want[:4]))


def main():
    check = looplib.Checks()
    blocks = readme_blocks()
    for tag in ("pg-csv", "pg-json", "duckdb-csv", "duckdb-json", "sqlite", "pandas", "query starttls",
                "query plaintext-auth", "query expiring"):
        check(tag in blocks, "README 'Analysing results' has the block %s" % tag)
    if len(blocks) < 9:
        return check.report()
    r = subprocess.run([SCAN, "--schema", "--format", "sql-mysql"], capture_output=True, text=True)
    check(r.returncode == 2 and "sql-postgres, sql-duckdb or sql-sqlite" in r.stderr,
          "--schema --format sql-mysql: exit 2 naming the dialects (%s)" % r.stderr.strip())
    r = subprocess.run([SCAN, "--schema"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("ip "), "plain --schema is unchanged")
    tmp = tempfile.mkdtemp(prefix="mailtls-sqlddl-")
    os.chmod(tmp, 0o755)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=farm.test/O=mailtls test CA", "-days", "10", "-addext",
                    "subjectAltName=DNS:farm.test", "-keyout", key, "-out", cert], check=True, capture_output=True)
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", "0", "--smtps", "0", "--imap", "0", "--pop3", "0",
                                           "--profiles", PROFILES, "--cert", cert, "--key", key])
    try:
        ready = json.load(open(os.path.join(tmp, "farm-ready.json")))
        ports = {"smtp": ready["smtp"][0], "smtps": ready["smtps"][0], "imap": ready["imap"][0],
                 "pop3": ready["pop3"][0]}
        for fmt, name in (("csv", "scan.csv"), ("json", "scan.json")):
            rc, err = scan(tmp, ports, fmt, os.path.join(tmp, name), cert)
            check(rc == 0, "scan to %s exits 0 (%s)" % (name, err))
    finally:
        farm.kill()
        farm.wait()
    csv_path, json_path = os.path.join(tmp, "scan.csv"), os.path.join(tmp, "scan.json")
    with open(csv_path, "rb") as src, gzip.open(csv_path + ".gz", "wb") as dst:
        shutil.copyfileobj(src, dst)
    text = open(json_path, encoding="utf-8").read()
    records = [json.loads(line) for line in text.split("\n") if line]
    check(len(records) == 256 * 4, "NDJSON holds 256 x 4 records (%d)" % len(records))
    check("_b64" in text, "the NDJSON has _b64 keys (garbage greetings), which the loaders must skip")
    check(any(r["cert_days_left"] is not None for r in records) and any(r["tls_versions"] for r in records)
          and any(r["plaintext_auth_before_tls"] for r in records) and any(r["cert_trusted"] for r in records),
          "the scan has certificates, version lists, plaintext AUTH and trusted chains to count")
    # csv and json are two scans of the same farm: each database is compared
    # with mailtls-stats on the file it loaded
    want_stats = {"csv": stats_counts(csv_path), "json": stats_counts(json_path)}
    want_rows = expected(records)
    want_lists = list_facts(records)
    check(want_stats["csv"]["records"] == want_stats["json"]["records"] == 1024, "mailtls-stats counts 1024 records")

    results = {}   # db -> {tag -> rows}
    # PostgreSQL
    pg = Postgres(tmp)
    try:
        err = pg.start()
        check(err is None, "private PostgreSQL cluster starts (%s)" % err)
        if err is None:
            for src in ("csv", "json"):
                db = "scan_" + src
                pg.run([pg_bin("createdb"), "-h", pg.dir, "-p", "5432", "-U", "postgres", db])
                if run_sh(check, "PostgreSQL " + src, blocks["pg-" + src], tmp, pg.env(db)):
                    res = {t: pg.query(db, blocks[t]) for t in want_rows}
                    res["stats"] = pg.query(db, stats_sql(want_stats[src]))
                    res["lists"] = pg.query(db, " UNION ALL ".join(
                        "SELECT '%s', coalesce(sum(cardinality(%s)), 0) || '|' || count(*) FILTER (WHERE "
                        "cardinality(%s) = 0) || '|' || count(*) FILTER (WHERE %s IS NULL) FROM mailtls"
                        % (f, f, f, f) for f in LISTS))
                    res["types"] = pg.query(db, "SELECT pg_typeof(port), pg_typeof(starttls_ok), "
                                                "pg_typeof(cert_not_after), pg_typeof(caps_before_tls) "
                                                "FROM mailtls LIMIT 1")
                    res["any"] = pg.query(db, "SELECT count(*) FROM mailtls WHERE 'PLAIN' = ANY(auth_before_tls)")
                    results["postgres-" + src] = res
    finally:
        pg.stop()

    # DuckDB
    ddl = subprocess.run([SCAN, "--schema", "--format", "sql-duckdb"], capture_output=True, text=True).stdout
    for src, path in (("csv", csv_path), ("json", json_path)):
        load = blocks["duckdb-" + src].replace("'scan.", "'" + tmp + "/scan.")
        q = {t: blocks[t] for t in want_rows}
        q["stats"] = stats_sql(want_stats[src])
        q["lists"] = " UNION ALL ".join(
            "SELECT '%s', CAST(coalesce(sum(len(%s)), 0) AS VARCHAR) || '|' || count(*) FILTER (WHERE len(%s) = 0)"
            " || '|' || count(*) FILTER (WHERE %s IS NULL) FROM mailtls" % (f, f, f, f) for f in LISTS)
        q["types"] = ("SELECT typeof(port), typeof(starttls_ok), typeof(cert_not_after), typeof(caps_before_tls) "
                      "FROM mailtls LIMIT 1")
        q["any"] = "SELECT count(*) FROM mailtls WHERE list_contains(auth_before_tls, 'PLAIN')"
        res, err = duckdb([ddl, load], q)
        check(res is not None, "DuckDB runs the DDL and the README's %s load (%s)" % (src, err))
        if res is not None:
            results["duckdb-" + src] = res

    # SQLite
    if run_sh(check, "SQLite", blocks["sqlite"], tmp, dict(os.environ, PATH=BUILD + ":" + os.environ["PATH"])):
        db = os.path.join(tmp, "scan.db")
        res = {t: sqlite(db, blocks[t]) for t in want_rows}
        res["stats"] = sqlite(db, stats_sql(want_stats["csv"]))
        res["types"] = sqlite(db, "SELECT typeof(port), typeof(starttls_ok), typeof(cert_days_left) FROM mailtls "
                                  "WHERE starttls_ok IS NOT NULL AND cert_days_left IS NOT NULL LIMIT 1")
        res["where"] = sqlite(db, "SELECT count(*) FROM mailtls WHERE starttls_ok")
        results["sqlite-csv"] = res

    # pandas: the README block, then the same numbers from its DataFrame
    code = blocks["pandas"] + "\nimport json\nprint(json.dumps({'n': len(df), 'ok': {str(p): int(g.eq(True).sum()) " \
        "for p, g in df.groupby('port').starttls_ok}}))\n"
    exe = pandas_python()
    check(exe is not None, "pandas is installed (python3-pandas)")
    r = subprocess.run([exe or sys.executable, "-c", code], cwd=tmp, capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "pandas runs the README block (%s)" % r.stderr.strip()[-300:])
    if r.returncode == 0:
        got = json.loads(r.stdout.strip().split("\n")[-1])
        st = want_stats["json"]
        check(got["n"] == st["records"] and all(got["ok"][p] == st["%s starttls_ok" % p] for p in got["ok"]),
              "pandas: records and per-port starttls_ok equal mailtls-stats (%s)" % got)
        print(r.stdout.strip())

    # the checks
    check(len(results) == 5, "five loads: PostgreSQL CSV and NDJSON, DuckDB CSV.gz and NDJSON, SQLite CSV (%s)"
          % sorted(results))
    for db, res in results.items():
        src = db.split("-")[1]
        got = as_dict(res["stats"])
        bad = {k: (got.get(k), v) for k, v in want_stats[src].items() if got.get(k) != v}
        check(not bad and len(got) == len(want_stats[src]),
              "%s: %d counts equal mailtls-stats (differing: %s)" % (db, len(got), bad))
    # the CSV and the NDJSON come from two scans of the same farm; the
    # profile mix decides every number asked here, so they agree
    for tag, want in want_rows.items():
        check(len(want) > 0, "%s: the scan gives rows to compare" % tag)
        compare_all(check, tag, {db: res[tag] for db, res in results.items()}, want)
    for db in ("postgres-csv", "postgres-json", "duckdb-csv", "duckdb-json"):
        if db in results:
            check(as_dict_lists(results[db]["lists"]) == want_lists,
                  "%s: lists are arrays with the NDJSON's items, [] and null apart (%s vs %s)"
                  % (db, results[db]["lists"], want_lists))
            n_plain = sum(1 for r in records if "PLAIN" in (r["auth_before_tls"] or []))
            check(results[db]["any"] == [str(n_plain)], "%s: array membership test finds %d (%s)"
                  % (db, n_plain, results[db]["any"]))
    for db, want in (("postgres-csv", "bigint|boolean|timestamp with time zone|text[]"),
                     ("postgres-json", "bigint|boolean|timestamp with time zone|text[]"),
                     ("duckdb-csv", "BIGINT|BOOLEAN|TIMESTAMP WITH TIME ZONE|VARCHAR[]"),
                     ("duckdb-json", "BIGINT|BOOLEAN|TIMESTAMP WITH TIME ZONE|VARCHAR[]"),
                     ("sqlite-csv", "integer|integer|integer")):
        if db in results:
            check(results[db]["types"] == [want], "%s: column types %s" % (db, results[db]["types"]))
    if "sqlite-csv" in results:
        n_ok = sum(v for k, v in want_stats["csv"].items() if k.endswith(" starttls_ok"))
        check(n_ok > 0 and results["sqlite-csv"]["where"] == [str(n_ok)],
              "SQLite: WHERE starttls_ok counts the true ones (%s)" % results["sqlite-csv"]["where"])
    for tag in want_rows:
        print("%s:\n  %s" % (tag, "\n  ".join(want_rows[tag])))
    shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


def as_dict_lists(rows):
    return {row.split("|", 1)[0]: row.split("|", 1)[1] for row in rows}


if __name__ == "__main__":
    sys.exit(main())
