#!/usr/bin/env python3
"""Byte-exact round trip of hostile records through the JSON and CSV writers.

mailtls-outcheck writes fixed and random hostile records (NUL, CR/LF,
quotes, commas, pipes, backslashes, invalid and overlong UTF-8, 0x7f,
valid multibyte UTF-8) with the output library, plain and gzip, plus a
manifest holding every value's exact bytes in hex. This script decodes the
files with Python's json, csv and gzip modules and the unescaping that
output/SCHEMA-OUTPUT.md documents, and compares every value.
"""
import base64
import csv
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tempfile

BUILD = os.environ.get("MAILTLS_BUILD", "build-out")
TOOL = os.path.join(BUILD, "mailtls-outcheck")

failures = 0


def fail(msg):
    global failures
    failures += 1
    if failures <= 30:
        print("FAIL:", msg)


# --- documented decoders (SCHEMA-OUTPUT.md) ---------------------------------

def json_expected_text(raw):
    """The text the writer shows for raw bytes: Python's own "replace"
    decoding (one U+FFFD per maximal ill-formed subpart) and NUL -> U+FFFD."""
    return raw.decode("utf-8", "replace").replace("\0", "\ufffd")


def json_value(obj, key):
    """Exact bytes of a text or list field: from `<key>_b64` where the writer
    added it (base64, or per list item base64 or null), else the text."""
    v, b64 = obj.get(key), obj.get(key + "_b64")
    if isinstance(v, str):
        return base64.b64decode(b64, validate=True) if b64 is not None else v.encode("utf-8")
    if isinstance(v, list):
        b64 = b64 if b64 is not None else [None] * len(v)
        return [base64.b64decode(b, validate=True) if b is not None else x.encode("utf-8")
                for x, b in zip(v, b64)]
    return v


CSV_ESC = re.compile(r"\\(\\|x[0-9A-Fa-f]{2}|e)|\\")


def csv_unescape(s, is_item=False):
    if is_item and s == "\\e":
        return b""
    out = bytearray()
    pos = 0
    for m in CSV_ESC.finditer(s):
        out += s[pos:m.start()].encode("utf-8")
        g = m.group(1)
        if g == "\\":
            out += b"\\"
        elif g and g[0] == "x":
            out.append(int(g[1:], 16))
        else:
            raise ValueError("bad escape in %r" % s)
        pos = m.end()
    out += s[pos:].encode("utf-8")
    return bytes(out)


def csv_list(s):
    if s == "":
        return []
    return [csv_unescape(item, True) for item in s.split("|")]


def raw_quotedness(line):
    """Splits one physical CSV line into (is_quoted, raw) per field, to tell
    null (empty, unquoted) from the empty string ("")."""
    fields, i, n = [], 0, len(line)
    while True:
        if i < n and line[i] == '"':
            j = i + 1
            while True:
                k = line.index('"', j)
                if k + 1 < n and line[k + 1] == '"':
                    j = k + 2
                    continue
                break
            fields.append((True, line[i + 1:k]))
            i = k + 1
        else:
            k = line.find(",", i)
            k = n if k < 0 else k
            fields.append((False, line[i:k]))
            i = k
        if i >= n:
            return fields
        if line[i] != ",":
            raise ValueError("junk after quoted field at %d" % i)
        i += 1


# --- comparison --------------------------------------------------------------

def want_value(kind_hint, v):
    if isinstance(v, str):
        return bytes.fromhex(v)
    if isinstance(v, list):
        return [bytes.fromhex(x) for x in v]
    return v


def check_json(path, manifest, opener):
    with opener(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines[-1] != b"":
        fail("%s: does not end in newline" % path)
    lines = lines[:-1]
    if len(lines) != len(manifest):
        fail("%s: %d lines, manifest has %d" % (path, len(lines), len(manifest)))
    for no, (line, want) in enumerate(zip(lines, manifest), 1):
        if any(b < 0x20 or b == 0x7F for b in line):
            fail("%s:%d raw control byte in output" % (path, no))
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as e:
            fail("%s:%d output is not valid UTF-8: %s" % (path, no, e))
        if b"\\u0000" in line or b"\\ud" in line.lower() or b"\0" in line:
            fail("%s:%d NUL or a surrogate escape in output" % (path, no))
        obj = json.loads(line)
        # each `<k>_b64` right after its field, and only when text lost bytes
        expected_keys = []
        for k, wv in want.items():
            expected_keys.append(k)
            raws = [bytes.fromhex(wv)] if isinstance(wv, str) else (
                [bytes.fromhex(x) for x in wv] if isinstance(wv, list) else [])
            if any(json_expected_text(r).encode("utf-8") != r for r in raws):
                expected_keys.append(k + "_b64")
        if list(obj.keys()) != expected_keys:
            fail("%s:%d field names/order differ: %s" % (path, no, [k for k in obj if k not in expected_keys]))
        for k, wv in want.items():
            gv = obj.get(k)
            if wv is None or isinstance(wv, (bool, int)):
                if gv != wv or type(gv) is not type(wv):
                    fail("%s:%d %s: got %r want %r" % (path, no, k, gv, wv))
            elif isinstance(wv, str):
                raw = bytes.fromhex(wv)
                if not isinstance(gv, str) or json_value(obj, k) != raw:
                    fail("%s:%d %s: got %r want %r" % (path, no, k, gv, raw))
                elif gv != json_expected_text(raw):
                    fail("%s:%d %s: text %r is not the replacement text of %r" % (path, no, k, gv, raw))
            else:
                got = json_value(obj, k)
                if got != want_value(None, wv):
                    fail("%s:%d %s: got %r want %r" % (path, no, k, got, want_value(None, wv)))
                elif gv != [json_expected_text(bytes.fromhex(x)) for x in wv]:
                    fail("%s:%d %s: list text %r" % (path, no, k, gv))
                elif k + "_b64" in obj and [b is None for b in obj[k + "_b64"]] != [
                        json_expected_text(bytes.fromhex(x)).encode("utf-8") == bytes.fromhex(x) for x in wv]:
                    fail("%s:%d %s_b64: null exactly for the intact items" % (path, no, k))


def check_csv(path, manifest, opener):
    with opener(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")  # strict: invalid bytes must all be escaped
    physical = text.split("\r\n")
    if physical[-1] != "":
        fail("%s: does not end in CRLF" % path)
    physical = physical[:-1]
    if len(physical) != len(manifest) + 1:
        fail("%s: %d physical lines for %d records" % (path, len(physical), len(manifest)))
    if any("\n" in p or "\r" in p for p in physical):
        fail("%s: raw CR or LF inside a record" % path)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = rows[0]
    if header != list(manifest[0].keys()):
        fail("%s: header %r" % (path, header))
    for no, (row, phys, want) in enumerate(zip(rows[1:], physical[1:], manifest), 2):
        raw = raw_quotedness(phys)
        if len(row) != len(header) or len(raw) != len(header):
            fail("%s:%d has %d/%d fields" % (path, no, len(row), len(raw)))
            continue
        for (k, wv), val, (quoted, _) in zip(want.items(), row, raw):
            if wv is None:
                if quoted or val != "":
                    fail("%s:%d %s: null written as %r" % (path, no, k, val))
                continue
            if isinstance(wv, bool):
                got = {"true": True, "false": False}.get(val)
            elif isinstance(wv, int):
                got = int(val) if not quoted and val else None
            elif isinstance(wv, str):
                got = csv_unescape(val) if quoted else None
                wv = bytes.fromhex(wv)
            else:
                got = csv_list(val) if quoted else None
                wv = want_value(None, wv)
            if got != wv:
                fail("%s:%d %s: got %r want %r (raw %r)" % (path, no, k, got, wv, val))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("json", "csv"):
            for gz in (False, True):
                out = os.path.join(tmp, "h.%s%s" % (fmt, ".gz" if gz else ""))
                man = os.path.join(tmp, "m.%s.%d" % (fmt, gz))
                args = [TOOL, "hostile"] + (["--csv"] if fmt == "csv" else []) + [out, man]
                subprocess.run(args, check=True)
                with open(man) as f:
                    manifest = [json.loads(l) for l in f]
                if len(manifest) < 300:
                    fail("manifest too short: %d" % len(manifest))
                opener = gzip.open if gz else open
                if gz:
                    with open(out, "rb") as f:
                        if f.read(2) != b"\x1f\x8b":
                            fail("%s is not gzip" % out)
                    zc = subprocess.run(["zcat", out], capture_output=True, check=True).stdout
                    with gzip.open(out, "rb") as f:
                        if zc != f.read():
                            fail("zcat and Python's gzip disagree on %s" % out)
                (check_json if fmt == "json" else check_csv)(out, manifest, opener)
                print("ok %s gzip=%s: %d records" % (fmt, gz, len(manifest)))

        # Write errors end the run with the path and errno text.
        r = subprocess.run([TOOL, "generate", "--count", "20000", "/dev/full"],
                           capture_output=True, text=True)
        if r.returncode == 0 or "/dev/full: No space left on device" not in r.stderr:
            fail("/dev/full: rc=%d stderr=%r" % (r.returncode, r.stderr))
        r = subprocess.run([TOOL, "generate", "--count", "10", "--gzip", "/dev/full"],
                           capture_output=True, text=True)
        if r.returncode == 0 or "/dev/full: No space left on device" not in r.stderr:
            fail("/dev/full gzip: rc=%d stderr=%r" % (r.returncode, r.stderr))
        # EPIPE: the reader exits early; SIGPIPE is ignored as in the scanner.
        p = subprocess.Popen(["sh", "-c", "trap '' PIPE; exec \"$0\" generate --count 200000 -", TOOL],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        p.stdout.read(10)
        p.stdout.close()
        err = p.stderr.read().decode()
        rc = p.wait()
        if rc != 1 or "stdout: Broken pipe" not in err:
            fail("EPIPE: rc=%d stderr=%r" % (rc, err))
        else:
            print("ok write errors: /dev/full and EPIPE reported")

    if failures:
        print("%d failure(s)" % failures)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
