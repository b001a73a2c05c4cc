#!/usr/bin/env python3
"""Regenerates the option and field tables of README.md from the program
itself (`mailtls-scan --help` and `--schema`), between the markers
<!-- options:begin/end --> and <!-- schema:begin/end -->.
Usage: tools/readme-tables.py BUILD_DIR"""
import re
import subprocess
import sys


def main():
    scan = sys.argv[1] + "/mailtls-scan"
    helptext = subprocess.run([scan, "--help"], capture_output=True, text=True, check=True).stdout
    schema = subprocess.run([scan, "--schema"], capture_output=True, text=True, check=True).stdout
    opts = ["| option | meaning [default] |", "|---|---|"]
    for line in helptext.splitlines():
        m = re.match(r"^\s+(-\S, )?\s*(--\S+(?: \S+)?)\s{2,}(.*)$", line)
        if m:
            flag = (m.group(1) or "") + m.group(2)
            opts.append("| `%s` | %s |" % (flag.replace("|", "\\|"), m.group(3).replace("|", "\\|")))
    fields = ["| field | type | meaning |", "|---|---|---|"]
    for line in schema.splitlines():
        if not line or line.startswith("status values"):
            continue
        parts = line.split(None, 2)
        if len(parts) == 3:
            fields.append("| `%s` | %s | %s |" % (parts[0], parts[1], parts[2].replace("|", "\\|")))
    readme = open("README.md", encoding="utf-8").read()
    for name, rows in (("options", opts), ("schema", fields)):
        block = "<!-- %s:begin -->\n%s\n<!-- %s:end -->" % (name, "\n".join(rows), name)
        readme, n = re.subn(r"<!-- %s:begin -->.*?<!-- %s:end -->" % (name, name), lambda _: block, readme,
                            flags=re.S)
        if n != 1:
            sys.exit("README.md has no %s markers" % name)
    open("README.md", "w", encoding="utf-8").write(readme)


if __name__ == "__main__":
    main()
