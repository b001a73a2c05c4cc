#!/usr/bin/env python3
"""--debug: one stderr line per phase transition (target, protocol, old
phase -> new phase, event), in the order the conversation runs; nothing of
the kind without --debug, and the records are the same either way.

Runs mailtls-farm (ports chosen by the kernel, profile starttls-auth) and
scans one SMTP and one IMAP target with and without --debug."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import looplib  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")


def scan(tmp, name, targets, extra):
    out = os.path.join(tmp, name + ".json")
    run = subprocess.run([SCAN, "-q", "-o", out, "--timeout", "20"] + extra + targets,
                         capture_output=True, text=True, timeout=60)
    recs = sorted((json.loads(line) for line in open(out)), key=lambda r: r["port"])
    # what the conversation learned (timings and TLS details may differ run to run)
    keep = ("ip", "port", "protocol", "status", "phase", "banner", "caps_before_tls", "starttls_offered",
            "starttls_reply", "starttls_ok", "auth_before_tls", "plaintext_auth_before_tls", "caps_after_tls",
            "auth_after_tls", "cert_sha256")
    return run, [{k: r.get(k) for k in keep} for r in recs]


def main():
    check = looplib.Checks()
    tmp = tempfile.mkdtemp(prefix="mailtls-trace-")
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", "0", "--imap", "0", "--profiles", "starttls-auth=1"])
    try:
        ready = json.load(open(os.path.join(tmp, "farm-ready.json")))
        smtp, imap = ready["smtp"][0], ready["imap"][0]
        targets = ["127.3.0.1:%d/smtp" % smtp, "127.3.0.1:%d/imap" % imap]
        quiet_run, quiet = scan(tmp, "quiet", targets, [])
        debug_run, debug = scan(tmp, "debug", targets, ["--debug"])
    finally:
        farm.terminate()
        farm.wait(timeout=10)
    check(quiet_run.returncode == 0 and debug_run.returncode == 0, "both scans exit 0")
    check("debug:" not in quiet_run.stderr, "no trace without --debug")
    check(quiet == debug and len(quiet) == 2 and all(r["status"] == "ok" for r in quiet),
          "same two ok records with and without --debug (%s / %s)" % (quiet, debug))
    lines = [l for l in debug_run.stderr.splitlines() if l.startswith("debug: ")]
    smtp_lines = [l for l in lines if " port %d smtp: " % smtp in l]
    imap_lines = [l for l in lines if " port %d imap: " % imap in l]
    check(len(smtp_lines) + len(imap_lines) == len(lines), "every trace line names target, port, protocol")
    want = ["-> (protocol start) (connected)", "await-greeting -> await-ehlo-reply (cleartext)",
            "await-ehlo-reply -> await-starttls-reply (cleartext)", "-> tls-handshake",
            "tls-handshake -> await-ehlo-reply (tls)", "await-ehlo-reply -> await-quit-reply (tls)",
            "-> finished (ok)"]
    pos = 0
    for line in smtp_lines:
        if pos < len(want) and want[pos] in line:
            pos += 1
    check(pos == len(want), "SMTP transitions in order (%d of %d found): %s" % (pos, len(want), smtp_lines))
    check(any("await-capability" in l for l in imap_lines) and imap_lines[-1].endswith("-> finished (ok)"),
          "IMAP transitions traced, ending in finished (%s)" % imap_lines[-1:])
    shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
