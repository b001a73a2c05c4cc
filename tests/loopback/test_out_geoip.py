#!/usr/bin/env python3
"""GeoIP/ASN enrichment against .mmdb files built here, at test time.

Builds a GeoLite2-Country-shaped and a GeoLite2-ASN-shaped database with
Debian's libmaxmind-db-writer-perl (nothing downloaded), then runs
`mailtls-outcheck geo`, which enriches each address with output/geoip.c
and prints NDJSON records, and checks country/asn/as_org.
"""
import json
import os
import subprocess
import sys
import tempfile

BUILD = os.environ.get("MAILTLS_BUILD", "build-out")
TOOL = os.path.join(BUILD, "mailtls-outcheck")

PERL = r'''
use strict;
use warnings;
use utf8;
use MaxMind::DB::Writer::Tree;
my ($kind, $path) = @ARGV;
my %types = (
    country => 'map', registered_country => 'map', iso_code => 'utf8_string',
    autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version => 6, record_size => 24, languages => ['en'],
    database_type => $kind eq 'country' ? 'GeoLite2-Country' : 'GeoLite2-ASN',
    description => { en => 'mailtls test data' },
    map_key_type_callback => sub { $types{ $_[0] } },
    # loopback is a reserved network, which the writer drops by default
    remove_reserved_networks => 0,
);
if ($kind eq 'country') {
    $tree->insert_network('127.0.0.0/16', { country => { iso_code => 'DE' } });
    $tree->insert_network('127.1.0.0/16', { registered_country => { iso_code => 'NL' } });
    $tree->insert_network('::1/128', { country => { iso_code => 'JP' } });
} else {
    $tree->insert_network('127.1.0.0/16', { autonomous_system_number => 64500,
        autonomous_system_organization => "Test Org \"quoted\", caf\x{e9}" });
    $tree->insert_network('127.0.0.0/16', { autonomous_system_number => 4200000000,
        autonomous_system_organization => 'Big ASN' });
}
open my $fh, '>:raw', $path or die "$path: $!";
$tree->write_tree($fh);
close $fh or die;
'''


def main():
    failures = []

    def check(cond, msg):
        if not cond:
            failures.append(msg)

    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "mk.pl")
        with open(script, "w") as f:
            f.write(PERL)
        cdb, adb = os.path.join(tmp, "c.mmdb"), os.path.join(tmp, "a.mmdb")
        subprocess.run(["perl", script, "country", cdb], check=True)
        subprocess.run(["perl", script, "asn", adb], check=True)

        ips = ["127.0.5.5", "127.1.2.3", "127.2.0.1", "::1", "not-an-ip", "localhost", ""]
        out = subprocess.run([TOOL, "geo", "--country", cdb, "--asn", adb] + ips,
                             capture_output=True, check=True).stdout
        recs = [json.loads(l) for l in out.splitlines()]
        check(len(recs) == len(ips), "one record per address")
        got = {r["ip"]: (r["country"], r["asn"], r["as_org"]) for r in recs}
        want = {
            "127.0.5.5": ("DE", 4200000000, "Big ASN"),
            "127.1.2.3": ("NL", 64500, 'Test Org "quoted", caf\u00e9'),  # registered_country fallback
            "127.2.0.1": (None, None, None),
            "::1": ("JP", None, None),
            "not-an-ip": (None, None, None),
            "localhost": (None, None, None),  # parsed numerically only: no DNS
            "": (None, None, None),
        }
        for ip, w in want.items():
            check(got.get(ip) == w, "%r: got %r want %r" % (ip, got.get(ip), w))

        # One database only: the other fields stay null.
        out = subprocess.run([TOOL, "geo", "--asn", adb, "127.1.0.9"], capture_output=True,
                             check=True).stdout
        r = json.loads(out)
        check((r["country"], r["asn"]) == (None, 64500), "asn-only: %r" % r)

        # Errors name the file.
        missing = os.path.join(tmp, "missing.mmdb")
        r = subprocess.run([TOOL, "geo", "--country", missing, "1.2.3.4"], capture_output=True, text=True)
        check(r.returncode == 1 and missing in r.stderr, "missing db: %r" % r.stderr)
        junk = os.path.join(tmp, "junk.mmdb")
        with open(junk, "wb") as f:
            f.write(b"not a maxmind database\n" * 100)
        r = subprocess.run([TOOL, "geo", "--asn", junk, "1.2.3.4"], capture_output=True, text=True)
        check(r.returncode == 1 and junk + ": " in r.stderr, "junk db: %r" % r.stderr)
        print("junk db error:", r.stderr.strip())

    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
