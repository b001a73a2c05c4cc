#!/usr/bin/env python3
"""A real scan's CSV opens in a real database without cleaning: the farm is
scanned with GeoIP/ASN databases built here, the gzip CSV is loaded into
sqlite3 with `.import --csv`, and SQL counts equal mailtls-stats' counts on
the same file."""
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
STATS = os.path.join(BUILD, "mailtls-stats")
PORTS = {"smtp": 17525, "imap": 17143, "pop3": 17110, "smtps": 17465}

MMDB_WRITER = r'''
use strict; use MaxMind::DB::Writer::Tree;
my ($kind, $out) = @ARGV;
my %types = (country => {country => 'map', iso_code => 'utf8_string'},
             asn => {autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string'});
my $t = MaxMind::DB::Writer::Tree->new(ip_version => 6, record_size => 24, remove_reserved_networks => 0,
    database_type => $kind eq 'country' ? 'GeoLite2-Country' : 'GeoLite2-ASN', languages => ['en'],
    description => {en => 'mailtls test'}, map_key_type_callback => sub { $types{$kind}{$_[0]} });
if ($kind eq 'country') {
    $t->insert_network('127.53.0.0/25', {country => {iso_code => 'DE'}});
    $t->insert_network('127.53.0.128/25', {country => {iso_code => 'FR'}});
} else {
    $t->insert_network('127.53.0.0/24', {autonomous_system_number => 64500,
                                         autonomous_system_organization => 'Test "Org", Inc.'});
}
open my $fh, '>:raw', $out or die; $t->write_tree($fh);
'''


def sql(db, query):
    return subprocess.run(["sqlite3", "-batch", db, query], capture_output=True, text=True, check=True).stdout.strip()


def main():
    check = looplib.Checks()


    tmp = tempfile.mkdtemp(prefix="mailtls-sql-")
    for kind in ("country", "asn"):
        subprocess.run(["perl", "-e", MMDB_WRITER, kind, os.path.join(tmp, kind + ".mmdb")], check=True)
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", str(PORTS["smtp"]), "--smtps", str(PORTS["smtps"]),
                                           "--imap", str(PORTS["imap"]), "--pop3", str(PORTS["pop3"]),
                                           "--delay-ms", "300"])
    try:
        out = os.path.join(tmp, "scan.csv.gz")
        ports = ",".join("%d/%s" % (p, proto) for proto, p in PORTS.items())
        r = subprocess.run([SCAN, "-q", "-f", "csv", "-p", ports, "--probe-auth", "--read-timeout", "2", "--timeout",
                            "4", "--geoip", os.path.join(tmp, "country.mmdb"), "--asn", os.path.join(tmp, "asn.mmdb"),
                            "-o", out, "127.53.0.0/24"], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "scan exits 0 (%s)" % r.stderr.strip()[:200])
        csv_path = os.path.join(tmp, "scan.csv")
        with gzip.open(out, "rb") as src, open(csv_path, "wb") as dst:
            shutil.copyfileobj(src, dst)
        db = os.path.join(tmp, "scan.db")
        subprocess.run(["sqlite3", "-batch", db, ".import --csv %s scan" % csv_path], check=True, capture_output=True)
        stats = json.loads(subprocess.run([STATS, "--format", "json", out], capture_output=True, text=True,
                                          check=True).stdout)
        check(sql(db, "SELECT count(*) FROM scan") == str({m["metric"]: m["value"] for m in stats["summary"]}["records"]) == str(256 * len(PORTS)),
              "records: SQL = mailtls-stats = 256 x %d ports" % len(PORTS))
        for row in stats["ports"]:
            p = row["port"]
            for col, where in (("records", "1"), ("starttls_offered", "starttls_offered = 'true'"),
                               ("starttls_ok", "starttls_ok = 'true'"),
                               ("plaintext_auth_before_tls", "plaintext_auth_before_tls = 'true'"),
                               ("auth_accepted_cleartext", "auth_probe = 'cleartext-evaluated'")):
                got = sql(db, "SELECT count(*) FROM scan WHERE port = %d AND %s" % (p, where))
                check(got == str(row[col]), "port %d %s: SQL %s = mailtls-stats %s" % (p, col, got, row[col]))
        facet = {f["value"]: f["count"] for f in stats["facet country"]}
        for cc in ("DE", "FR"):
            check(sql(db, "SELECT count(*) FROM scan WHERE country = '%s'" % cc) == str(128 * len(PORTS)),
                  "GeoIP: %s on every record of its /25" % cc)
            # the facet counts responsive services (records with a banner or TLS), as Shodan's does
            got = sql(db, "SELECT count(*) FROM scan WHERE country = '%s' AND (banner <> '' OR tls_version <> '')" % cc)
            check(str(facet.get(cc)) == got, "country facet %s: mailtls-stats %s = SQL %s" % (cc, facet.get(cc), got))
        check(sql(db, "SELECT DISTINCT as_org FROM scan") == 'Test "Org", Inc.',
              "ASN organisation with quote and comma survives CSV into SQL")
        check(sql(db, "SELECT count(*) FROM scan WHERE asn = 64500") == str(256 * len(PORTS)), "asn on every record")
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
