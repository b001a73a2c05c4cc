#!/usr/bin/env python3
"""Regenerates the option and field tables of README.md from the program
itself (`mailtls-scan --help` and `--schema`), between the markers
<!-- options:begin/end --> and <!-- schema:begin/end -->.
Usage: tools/readme-tables.py BUILD_DIR"""
import re
import subprocess
import sys


def help_options(helptext):
    """(flags, text) of every option line of a --help in the shared layout
    (COMMON format: `  -o, --output FILE   text`, continuation lines
    indented further); a blank line or a section header ends an option."""
    rows = []
    for line in helptext.splitlines():
        m = re.match(r"^  (-\S, |    )(--\S+(?: \S+)?)(?:\s{2,}(.*))?$", line)
        if m:
            rows.append([(m.group(1).strip() + " " + m.group(2)).strip(), m.group(3) or ""])
        elif rows and rows[-1] is not None and re.match(r"^\s{8,}\S", line):
            rows[-1][1] = (rows[-1][1] + " " + line.strip()).strip()
        elif rows and rows[-1] is not None:
            rows.append(None)  # blank line or header: no continuation past it
    return [tuple(r) for r in rows if r is not None]


def main():
    scan = sys.argv[1] + "/mailtls-scan"
    helptext = subprocess.run([scan, "--help"], capture_output=True, text=True, check=True).stdout
    schema = subprocess.run([scan, "--schema"], capture_output=True, text=True, check=True).stdout
    opts = ["| option | meaning (default) |", "|---|---|"]
    for flag, text in help_options(helptext):
        opts.append("| `%s` | %s |" % (flag.replace("|", "\\|"), text.replace("|", "\\|")))
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
