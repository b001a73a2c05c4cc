#!/usr/bin/env python3
"""mailtls-report on a real scan of loopback farms, opened in headless
Chromium (Debian `chromium`, file:// URL, every network path closed).

Asserts: the page renders (a PNG of exactly the window size, with real
content: a blank page fails the same check), it prints (PDF with pages),
every chart id is present, nothing in it names a URL (no http:, https:,
// in any src/href, no <link>/<img>/external script), its per-port table
and facet counts equal `mailtls-stats --format json` on the same file,
its host lists respect --max-hosts, and its "what got worse" section
equals `mailtls-diff` on the same two scans.
"""
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleetlib  # noqa: E402
import looplib  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
REPORT = os.path.join(BUILD, "mailtls-report")
check = looplib.Checks()
A = "127.114.2.%d"
WIDTH, HEIGHT = 900, 1400

CHARTS = ["chart-starttls", "chart-plain-auth", "chart-tls-versions", "chart-grades", "chart-cert-trust",
          "chart-expiry", "chart-issuers", "chart-countries", "chart-asns", "chart-findings", "chart-policy",
          "chart-worse"]

OLD = {1: ("strict", "leaf-a"), 2: ("strict", "leaf-a"), 3: ("strict", "leaf-a"), 4: ("strict", "leaf-a"),
       5: ("starttls-auth", "leaf-a"), 6: ("strict", "leaf-a"), 7: ("no-tls", "leaf-a"),
       8: ("strict", "leaf-a"), 9: ("strict", "leaf-a")}
NEW = {1: ("strict", "leaf-a"), 2: ("strict", "expired"), 3: ("strict", "expired"), 4: ("no-tls", "leaf-a"),
       5: ("starttls-auth", "soon"), 6: ("legacy-tls", "leaf-a"), 7: ("no-tls", "leaf-a"),
       8: ("legacy-tls", "leaf-b"), 10: ("starttls-auth", "leaf-a")}
SCANNED = sorted(set(OLD) | set(NEW) | {11})  # .9 gone in NEW (refused), .11 never answers


class Page(html.parser.HTMLParser):
    """ids, URL-bearing attributes, tables as lists of {data-col: data-v}."""

    def __init__(self):
        super().__init__()
        self.ids, self.urls, self.tags = set(), [], set()
        self.tables, self.table, self.row, self.cell = {}, None, None, None
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        if "id" in a:
            self.ids.add(a["id"])
        for k in ("src", "href", "action", "xlink:href", "srcset", "poster", "data"):
            if k in a:
                self.urls.append((tag, k, a[k]))
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.row = {}
        elif tag == "td" and self.row is not None:
            self.cell = a
            self.text = []

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = None
        elif tag == "tr" and self.row is not None:
            if self.row:
                self.table.append(self.row)
            self.row = None
        elif tag == "td" and self.cell is not None:
            col = self.cell.get("data-col")
            if col:
                self.row[col] = self.cell.get("data-v", "".join(self.text).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.text.append(data)


def chromium(args, tmp):
    prof = tempfile.mkdtemp(dir=tmp, prefix="chromium-")
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + prof,
           # nothing may leave the machine: no proxy-less fetch, no name lookup
           "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--no-first-run", "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
           "--force-device-scale-factor=1"] + args
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    shutil.rmtree(prof, ignore_errors=True)
    return r


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w, h, bpp = 8, [], None, None, 3
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), "unexpected PNG type %d/%d" % (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def ink(path):
    """(width, height, share of non-white pixels, distinct colours)."""
    w, h, rows, bpp = png_pixels(path)
    dark, colours = 0, set()
    for y in range(0, h, 2):
        line = rows[y]
        for x in range(0, w * bpp, bpp * 2):
            px = bytes(line[x:x + 3])
            colours.add(px)
            dark += px != b"\xff\xff\xff"
    return w, h, dark / ((h // 2) * (w // 2)), len(colours)


def scans(tmp, pki):
    port = fleetlib.free_port(A % 1)
    outs = []
    for tag, plan, name, fmt in (("o", OLD, "old.csv.gz", "csv"), ("n", NEW, "new.json", "json")):
        fleet = fleetlib.Fleet(BUILD, tmp, pki, port, {A % h: p for h, p in plan.items()}, "r" + tag)
        try:
            outs.append(fleetlib.scan(BUILD, pki, port, [A % h for h in SCANNED], os.path.join(tmp, name),
                                      ["-f", fmt, "--probe-auth"]))
        finally:
            fleet.stop()
    return outs


def numbers_match(page, new):
    st = json.loads(subprocess.run([os.path.join(BUILD, "mailtls-stats"), "--format", "json", new],
                                   stdout=subprocess.PIPE, check=True, timeout=60).stdout)
    rows = {r["port"]: r for r in page.tables.get("t-ports", [])}
    check(len(rows) == len(st["ports"]) > 0, "ports table: one row per port (%d)" % len(rows))
    for want in st["ports"]:
        got = rows.get(str(want["port"]), {})
        diff = {k: (v, got.get(k)) for k, v in want.items() if str(v) != got.get(k)}
        check(not diff, "port %s: every column equals mailtls-stats %s" % (want["port"], diff or ""))
    for facet in ("tls_version", "cert_trusted", "status", "tls_grade", "country", "asn"):
        want = {str(x["value"]): x["count"] for x in st.get("facet " + facet, [])}
        got = {r["value"]: int(r["count"]) for r in page.tables.get("t-facet-" + facet, [])}
        check(want == got, "facet %s equals mailtls-stats (%s)" % (facet, got))
    records = [x["value"] for x in st["summary"] if x["metric"] == "records"][0]
    return st, records


def main():
    with tempfile.TemporaryDirectory(prefix="mailtls-report-test-") as tmp:
        pki = fleetlib.make_pki(tmp)
        old, new = scans(tmp, pki)
        out = os.path.join(tmp, "report.html")
        r = subprocess.run([REPORT, new, "--compare", old, "--max-hosts", "2", "-o", out],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        check(r.returncode == 0 and os.path.getsize(out) > 5000, "report written (%s)" % r.stderr.decode()[-300:])
        text = open(out, encoding="utf-8").read()
        page = Page()
        page.feed(text)
        for c in CHARTS:
            check(c in page.ids, "chart %s present" % c)
        check(all(("<svg" in text.split('id="%s"' % c, 1)[-1][:400]) for c in CHARTS if c in page.ids),
              "every chart holds an inline SVG")
        check(not page.urls, "no src/href/action attribute at all: %s" % page.urls[:3])
        low = text.lower()
        check("http:" not in low and "https:" not in low and "//" not in text and "url(" not in low,
              "no URL, protocol-relative path or CSS url() anywhere")
        check(not page.tags & {"link", "img", "iframe", "object", "embed", "base"}, "no external-resource tags")

        st, records = numbers_match(page, new)
        check(str(records) in text and 'data-v="%d"' % records in text, "record count shown (%d)" % records)
        plain = sum(p["plaintext_auth_before_tls"] for p in st["ports"])
        check(('id="finding-plain-auth">Plaintext AUTH advertised before TLS: <span data-v="%d">' % plain) in text,
              "plaintext AUTH finding counts %d hosts" % plain)
        lists = text.split('<ul class="hosts">')[1:]
        check(lists and all(x.split("</ul>")[0].count("<li>") <= 2 for x in lists), "--max-hosts 2 respected")
        check("... and " in text, "longer lists say how many more")

        d = subprocess.run([os.path.join(BUILD, "mailtls-diff"), "--format", "json", old, new],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        objs = [json.loads(x) for x in d.stdout.decode().splitlines()]
        worse = [o for o in objs if o["severity"] == "worse"]
        reasons = {}
        for o in worse:
            for c in o["changes"]:
                if c["severity"] == "worse":
                    reasons[c["why"]] = reasons.get(c["why"], 0) + 1
        check(len(worse) >= 5 and ('data-v="%d">%d</b> hosts worse' % (len(worse), len(worse))) in text,
              "what got worse: %d hosts, as mailtls-diff says" % len(worse))
        shown = {}
        for chunk in text.split('<table class="sortable" id="t-worse">')[1].split("</table>")[0].split("<tr>")[2:]:
            why = chunk.split("<td>", 1)[1].split("</td>", 1)[0]
            n = int(chunk.split('data-col="hosts" data-v="', 1)[1].split('"', 1)[0])
            shown[why] = n
        check(shown == reasons, "per reason the same host counts as mailtls-diff (%s)" % shown)

        shot = os.path.join(tmp, "shot.png")
        c = chromium(["--screenshot=" + shot, "--window-size=%d,%d" % (WIDTH, HEIGHT), "file://" + out], tmp)
        check(c.returncode == 0 and os.path.exists(shot), "chromium took a screenshot")
        if os.path.exists(shot):
            w, h, share, colours = ink(shot)
            check((w, h) == (WIDTH, HEIGHT), "screenshot is %dx%d (got %dx%d)" % (WIDTH, HEIGHT, w, h))
            check(share > 0.03 and colours > 8, "the page has content: %.1f%% ink, %d colours" % (share * 100,
                                                                                              colours))
        blank = os.path.join(tmp, "blank.html")
        with open(blank, "w") as f:
            f.write("<!DOCTYPE html><title>x</title>")
        bshot = os.path.join(tmp, "blank.png")
        chromium(["--screenshot=" + bshot, "--window-size=%d,%d" % (WIDTH, HEIGHT), "file://" + blank], tmp)
        if os.path.exists(bshot):
            _, _, bshare, bcol = ink(bshot)
            check(bshare < 0.001, "the same check calls an empty page blank (%.2f%%, %d colours)" % (bshare * 100,
                                                                                                   bcol))
        pdf = os.path.join(tmp, "report.pdf")
        chromium(["--print-to-pdf=" + pdf, "--no-pdf-header-footer", "file://" + out], tmp)
        body = open(pdf, "rb").read() if os.path.exists(pdf) else b""
        check(body.startswith(b"%PDF") and body.count(b"/Type /Page") >= 2, "it prints: a PDF of several pages")

        # a synthetic scan with countries and ASNs: those facets too
        gen = os.path.join(tmp, "gen.csv.gz")
        subprocess.run([os.path.join(BUILD, "mailtls-outcheck"), "generate", "--count", "3000", "--csv", "--gzip",
                        gen], check=True, timeout=60)
        gout = os.path.join(tmp, "gen.html")
        subprocess.run([REPORT, gen, "-o", gout], check=True, timeout=60)
        gpage = Page()
        gpage.feed(open(gout, encoding="utf-8").read())
        check(len(gpage.tables.get("t-facet-country", [])) > 1 and len(gpage.tables.get("t-facet-asn", [])) > 1,
              "synthetic scan: country and ASN tables filled")
        numbers_match(gpage, gen)

        u = subprocess.run([REPORT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check(u.returncode == 2, "no scan: exit 2")
        u = subprocess.run([REPORT, os.path.join(tmp, "missing.json"), "-o", os.path.join(tmp, "x.html")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        check(u.returncode == 1 and not os.path.exists(os.path.join(tmp, "x.html")), "missing scan: exit 1, no file")
        hl = subprocess.run([REPORT, "--help"], stdout=subprocess.PIPE, timeout=30).stdout.decode().splitlines()
        check(hl[0].startswith("Usage: mailtls-report ") and hl[2] == "" and "Exit status:" in hl
              and all(len(x) <= 80 for x in hl), "--help in the house format")
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
