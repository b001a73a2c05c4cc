#!/usr/bin/env python3
"""Documented as it lands: every option of `mailtls-scan --help` and every
record field and status of `mailtls-scan --schema` appears in README.md."""
import os
import re
import subprocess
import sys

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SRC = os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(__file__), "../.."))
SCAN = os.path.join(BUILD, "mailtls-scan")


def main():
    readme = open(os.path.join(SRC, "README.md"), encoding="utf-8").read()
    helptext = subprocess.run([SCAN, "--help"], capture_output=True, text=True, check=True).stdout
    schema = subprocess.run([SCAN, "--schema"], capture_output=True, text=True, check=True).stdout
    options = sorted(set(re.findall(r"--([a-z][a-z0-9-]+)", helptext)))
    fields = [line.split()[0] for line in schema.splitlines() if line and not line.startswith("status")
              and not line.startswith(" ")]
    statuses = schema.split("status values:")[1].split()
    passed = failed = 0
    for kind, names, pattern in (("option", options, "--%s"), ("field", fields, "`%s`"),
                                 ("status", statuses, "`%s`")):
        for name in names:
            ok = (pattern % name) in readme
            print(("ok   " if ok else "FAIL ") + "README documents %s %s" % (kind, pattern % name))
            passed += ok
            failed += not ok
    ok = len(options) > 20 and len(fields) > 30 and len(statuses) > 10
    print(("ok   " if ok else "FAIL ") + "found %d options, %d fields, %d statuses" % (len(options), len(fields), len(statuses)))
    passed += ok
    failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
