#!/usr/bin/env python3
"""Writes the man page of a mailtls program from its own --help (and, for
mailtls-scan, --schema), so the page cannot drift from the program.

Usage: tools/mkman.py PROGRAM OUT.1 [--extra FILE] [--schema] [--version V]
                      [--datadir DIR] [--see-also NAME,NAME...]

--help is read in the layout every mailtls program shares (COMMON format):
  line 1    `Usage: mailtls-NAME [OPTIONS] ARGS...` (more `Usage:`/`or:` lines)
  line 2    one sentence saying what the program does, then a blank line
  sections  a header at column 0 ending in ':'; option lines
            `  -o, --output FILE   text`, continuation lines indented further;
            `Examples:` (command lines, each followed by a deeper-indented
            explanation) and `Exit status:` (`  N  text`).
A --help that does not follow it still gets a page: its text verbatim under
DESCRIPTION and every --option it names under OPTIONS.

The extra file (tools/man/<name>.txt) adds sections the help cannot give:
a line in capitals (`FILES`, `ETHICS`, `SEE ALSO`, `EXAMPLES`, ...) starts a
section, a blank line a paragraph, a line indented by two spaces is shown as
is (a command), `@DATADIR@` becomes the installed data directory.  EXAMPLES
and EXIT STATUS from the help win over the extra file's; FILES, ETHICS and
SEE ALSO get a default when the extra file has none.
"""
import argparse
import datetime
import os
import re
import subprocess
import sys

# one flag with its argument: -o, --output FILE, --format=FMT
FLAG = r"--?[A-Za-z0-9?][\w-]*(?:[ =][^\s,]+)?"
# an option line: flags separated by ", " at 2 (or 6) columns, then the text
OPT_RE = re.compile(r"^ {2}(?: {4})?(%s(?:, %s)*)(?: {2,}(\S.*))?$" % (FLAG, FLAG))
HEADER_RE = re.compile(r"^(\S[^:]*):$|^(\S.*\)):$")
ORDER = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "RECORD FIELDS", "EXAMPLES", "EXIT STATUS", "FILES",
         "ETHICS"]


def esc(text):
    """Roff-escapes one line of prose: backslashes, and the hyphens of
    option names and commands (a `\\-` is a minus that copies and pastes)."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"(?<![\w/.])(--?[A-Za-z0-9][\w-]*)", lambda m: m.group(1).replace("-", "\\-"), text)
    if text[:1] in (".", "'"):
        text = "\\&" + text
    return text


def bold(text):
    return "\\fB" + esc(text) + "\\fR"


class Page:
    def __init__(self):
        self.sections = {}  # name -> list of roff lines

    def add(self, section, lines):
        self.sections.setdefault(section, []).extend(lines)


def run(prog, arg):
    r = subprocess.run([prog, arg], capture_output=True, text=True, timeout=30)
    return r.stdout if r.stdout else r.stderr


def split_sections(lines):
    """[(header or None, [lines])] in order; None = text before any header."""
    out = [(None, [])]
    for line in lines:
        if HEADER_RE.match(line) and not line.startswith(" "):
            out.append((line[:-1], []))
        else:
            out[-1][1].append(line)
    return out


def paragraphs(lines):
    """Blank-line separated paragraphs, each joined into one line."""
    paras, cur = [], []
    for line in lines + [""]:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            paras.append(" ".join(cur))
            cur = []
    return paras


def parse_options(lines):
    """[(flags, text)] of the option lines (flags as written, e.g.
    "-o, --output FILE"), text rows as ("", text); [] if there are none."""
    opts = []
    for line in lines:
        m = OPT_RE.match(line)
        if m:
            opts.append([m.group(1), m.group(2) or ""])
        elif opts and opts[-1] is not None and line.startswith("   ") and line.strip():
            opts[-1][1] = (opts[-1][1] + " " + line.strip()).strip()
        elif opts and not line.strip():
            opts.append(None)
        elif line.strip():
            opts.append(["", line.strip()])  # text inside an option section
    return [o for o in opts if o is not None]


def option_roff(opts):
    out = []
    for flags, text in opts:
        if not flags:
            out += [".PP", esc(text)]
            continue
        heads = []
        for flag in flags.split(", "):
            name, sep, arg = re.match(r"(--?[^\s=]+)(?:([ =])(\S+))?$", flag).groups()
            heads.append(bold(name) + (esc(sep) + "\\fI" + esc(arg) + "\\fR" if arg else ""))
        out += [".TP", ", ".join(heads), esc(text)]
    return out


def examples_roff(lines):
    """Command lines (least indented) each followed by an explanation."""
    items = [line for line in lines if line.strip()]
    if not items:
        return []
    base = min(len(line) - len(line.lstrip()) for line in items)
    out = []
    for line in items:
        if len(line) - len(line.lstrip()) == base:
            if out and out[-1] != ".fi":
                out.append(".RE")  # the previous command's explanation ends
            out += [".PP", ".nf", bold(line.strip()), ".fi"]
        else:
            if out and out[-1] == ".fi":
                out.append(".RS 4")
            out.append(esc(line.strip()))
    if out and out[-1] != ".fi":
        out.append(".RE")
    return out


def exit_roff(lines):
    out = []
    for line in lines:
        m = re.match(r"^\s+(\d+)\s{2,}(.*)$", line)
        if m:
            out += [".TP", bold(m.group(1)), esc(m.group(2))]
        elif line.strip() and out:
            out[-1] += " " + esc(line.strip())
    if not out and any(line.strip() for line in lines):
        return text_roff(lines)  # not in the `  N  text` form: keep it as prose
    return out


def text_roff(lines):
    """Prose, with lines indented deeper than the paragraph kept as is."""
    out = []
    pre = [line for line in lines if line.startswith("  ") and line.strip()]
    if pre and len(pre) == len([line for line in lines if line.strip()]):
        return [".PP", ".nf"] + [esc(line[2:]) for line in lines if line.strip()] + [".fi"]
    for p in paragraphs(lines):
        out += [".PP", esc(p)]
    return out


def from_help(page, help_text, name):
    lines = help_text.rstrip("\n").split("\n")
    usage = []
    i = 0
    while i < len(lines) and lines[i].strip() and (re.match(r"^\s*(usage|or):", lines[i], re.I) or (
            usage and lines[i].startswith(" "))):
        usage.append(re.sub(r"^\s*(usage|or):\s*", "", lines[i], flags=re.I).strip()
                     if re.match(r"^\s*(usage|or):", lines[i], re.I) else None)
        if usage[-1] is None:
            usage[-2] += " " + lines[i].strip()
            usage.pop()
        i += 1
    summary = lines[i].strip() if i < len(lines) and lines[i].strip() else ""
    if summary:
        i += 1
    if not usage:
        usage = [name + " [OPTIONS]"]
    syn = []
    for u in usage:
        words = u.split(None, 1)
        syn += [".PP" if syn else ".nf", bold(words[0]) + (" " + esc(words[1]) if len(words) > 1 else "")]
    page.add("SYNOPSIS", syn + [".fi"])
    sections = split_sections(lines[i:])
    opts_all = []
    desc = [".PP", esc(summary)] if summary else []
    desc += text_roff(sections[0][1])
    for header, body in sections[1:]:
        low = header.lower()
        if low.startswith("example"):
            page.add("EXAMPLES", examples_roff(body))
        elif low.startswith("exit status"):
            page.add("EXIT STATUS", exit_roff(body))
        else:
            opts = parse_options(body)
            if any(o[0] for o in opts):
                opts_all += [".SS " + esc(header)] + option_roff(opts)
            else:
                desc += [".SS " + esc(header)] + text_roff(body)
    if not opts_all:
        # not in the shared layout: keep the text, list the options it names
        desc += [".PP", ".nf"] + [esc(line) for line in lines if line.strip()] + [".fi"]
        names = sorted(set(re.findall(r"(?<![\w-])(--[A-Za-z0-9][\w-]*)", help_text)))
        for n in names:
            opts_all += [".TP", bold(n), "See the synopsis above."]
    page.add("DESCRIPTION", desc)
    page.add("OPTIONS", opts_all)
    return summary


def from_schema(page, schema):
    out = [".PP", "Every record has these fields, in this order (\\fB\\-\\-schema\\fR prints them):"]
    notes = []
    for line in schema.split("\n"):
        if not line.strip():
            continue
        if line.startswith("status values:"):
            out += [".PP", "Values of \\fBstatus\\fR: " + esc(line.split(":", 1)[1].strip()) + "."]
            continue
        if line.startswith(" "):
            notes.append(line.strip())
            continue
        parts = line.split(None, 2)
        if len(parts) == 3:
            out += [".TP", "\\fB" + esc(parts[0]) + "\\fR (" + esc(parts[1]) + ")", esc(parts[2])]
    if notes:
        out += [".PP", esc(" ".join(notes))]
    page.add("RECORD FIELDS", out)


def from_extra(text, datadir):
    """{SECTION: [lines]} of an extra file (tools/man/<name>.txt)."""
    text = text.replace("@DATADIR@", datadir)
    cur, body, found = None, [], {}
    for line in text.split("\n") + ["END"]:
        if re.match(r"^[A-Z][A-Z ]+$", line):
            if cur:
                found[cur] = body
            cur, body = line.strip(), []
        else:
            body.append(line)
    return found


def extra_roff(lines):
    out, para = [], []

    def flush():
        if para:
            out.extend([".PP", esc(" ".join(para))])
            para.clear()

    for line in lines:
        if line.startswith("  ") and line.strip():
            flush()
            if out[-1:] != [".fi"]:
                out += [".PP", ".nf"]
            else:
                out.pop()
            out += [esc(line[2:]), ".fi"]
        elif line.strip():
            para.append(line.strip())
        else:
            flush()
    flush()
    return out


def see_also_roff(names):
    items = sorted(set(n if "(" in n else n + "(1)" for n in names))
    return [",\n".join("\\fB%s\\fR(%s)" % (esc(n.split("(")[0]), n.split("(")[1].rstrip(")")) if "(" in n
                       else "\\fB%s\\fR(1)" % esc(n) for n in items)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("program")
    ap.add_argument("out")
    ap.add_argument("--extra")
    ap.add_argument("--schema", action="store_true")
    ap.add_argument("--version", default="")
    ap.add_argument("--datadir", default="/usr/share/mailtls")
    ap.add_argument("--see-also", default="")
    a = ap.parse_args()
    name = os.path.basename(a.program)
    page = Page()
    summary = from_help(page, run(a.program, "--help"), name)
    if a.schema:
        from_schema(page, run(a.program, "--schema"))
    extra = from_extra(open(a.extra, encoding="utf-8").read(), a.datadir) if a.extra else {}
    for sec, body in extra.items():
        if sec in ("EXAMPLES", "EXIT STATUS") and page.sections.get(sec):
            continue  # the program's own --help wins
        if sec == "SEE ALSO":
            continue
        page.add(sec, {"EXAMPLES": examples_roff, "EXIT STATUS": exit_roff}.get(sec, extra_roff)(body))
    if "FILES" not in page.sections:
        page.add("FILES", [".TP", "\\fI" + esc(a.datadir) + "/SCHEMA\\-OUTPUT.md\\fR",
                           "The record fields of mailtls output (under PREFIX/share/mailtls after "
                           "cmake \\-\\-install \\-\\-prefix PREFIX)."])
    if "ETHICS" not in page.sections:
        page.add("ETHICS", [".PP", "mailtls output describes other people's mail servers. Scan only as "
                            "politely as \\fBmailtls\\-scan\\fR(1) describes under ETHICS, and publish "
                            "aggregates, not lists of weak servers."])
    see = [n for n in a.see_also.split(",") if n and n != name]
    see += [w for line in extra.get("SEE ALSO", []) for w in re.split(r",\s*", line.strip()) if w]
    nm = summary.rstrip(".")
    nm = nm[:1].lower() + nm[1:] if nm[:2] != nm[:2].upper() else nm
    date = datetime.datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or
                                           datetime.datetime.now().timestamp(), datetime.timezone.utc)
    out = ['.\\" Generated by tools/mkman.py from %s --help; do not edit.' % name,
           '.TH %s 1 "%s" "mailtls %s" "User Commands"' % (name.upper().replace("-", "\\-"),
                                                          date.strftime("%Y-%m-%d"), a.version),
           ".nh", ".ad l", ".SH NAME", "%s \\- %s" % (esc(name), esc(nm or "a mailtls program"))]
    for sec in ORDER[1:] + [s for s in page.sections if s not in ORDER]:
        if page.sections.get(sec):
            out += [".SH " + sec] + page.sections[sec]
    out += [".SH SEE ALSO"] + see_also_roff(see or ["mailtls-scan"])
    tmp = a.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
