#!/usr/bin/env python3
"""--probe-auth against a real Courier-IMAP that hangs up on the credential.

Courier's imaplogin answers LOGIN with "* BYE Temporary problem, please try
again later" and closes when its authentication daemon is unreachable (as
here: authdaemond is not run). Issue 18 item 14: the auth probe must not
cost the rest of the record. Expected with --probe-auth: status ok, the
STARTTLS upgrade and TLS facts as without --probe-auth, auth_probe
"disconnected" and the BYE line in auth_probe_reply, the credential sent
once (one LOGIN FAILED in Courier's log).

Courier is unpacked by tools/setup-debian.sh under /opt/mailtls-courier
(MAILTLS_COURIER_ROOT overrides). Each connection runs imaplogin with the
socket as stdin/stdout, as couriertcpd would; the listener is on a free
127.0.0.1 port. Missing Courier is a failure, never a skip.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../loopback"))
import looplib  # noqa: E402

ROOT = os.environ.get("MAILTLS_COURIER_ROOT", "/opt/mailtls-courier")
IMAPLOGIN = os.path.join(ROOT, "usr/lib/courier/courier/imaplogin")
BYE = "* BYE Temporary problem, please try again later"


class CourierListener:
    """Accepts on 127.0.0.1:0 and runs imaplogin per connection."""

    def __init__(self, cert_pem, log_path):
        libs = sorted({d for d, _, files in os.walk(ROOT) if any(".so" in f for f in files)})
        self.env = {"LD_LIBRARY_PATH": ":".join(libs), "PATH": "/usr/bin:/bin",
                    "TCPREMOTEIP": "127.0.0.1", "TCPLOCALIP": "127.0.0.1", "TCPLOCALPORT": "143",
                    "IMAP_CAPABILITY": "IMAP4rev1 IDLE", "IMAP_CAPABILITY_TLS": "IMAP4rev1 IDLE AUTH=PLAIN",
                    "IMAP_STARTTLS": "YES", "COURIERTLS": os.path.join(ROOT, "usr/bin/couriertls"),
                    "TLS_CERTFILE": cert_pem, "TLS_VERIFYPEER": "NONE"}
        self.log = open(log_path, "ab")
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.procs = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.procs.append(subprocess.Popen(
                [IMAPLOGIN, os.path.join(ROOT, "usr/bin/imapd"), "Maildir"], stdin=conn, stdout=conn,
                stderr=self.log, env=self.env, close_fds=True))
            conn.close()

    def close(self):
        self.sock.close()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def scan(build, port, extra):
    run = subprocess.run([os.path.join(build, "mailtls-scan"), "-q", "--read-timeout", "5", "--timeout", "20",
                          "-o", "-"] + extra + ["127.0.0.1:%d/imap" % port],
                         capture_output=True, text=True, timeout=60)
    lines = run.stdout.splitlines()
    return run, json.loads(lines[0]) if len(lines) == 1 else None


def main():
    check = looplib.Checks()
    build = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
    check(os.access(IMAPLOGIN, os.X_OK), "Courier unpacked at %s (tools/setup-debian.sh)" % ROOT)
    user = subprocess.run(["id", "courier"], capture_output=True)
    check(user.returncode == 0, "system user courier exists (couriertls needs it; tools/setup-debian.sh)")
    if check.failed:
        return check.report()
    tmp = tempfile.mkdtemp(prefix="mailtls-courier-")
    key, crt, pem = (os.path.join(tmp, n) for n in ("key.pem", "cert.pem", "both.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", crt,
                    "-days", "2", "-subj", "/CN=courier.test"], check=True, capture_output=True)
    with open(pem, "w") as out:
        out.write(open(key).read() + open(crt).read())
    # couriertls reads the key after dropping to the courier user
    os.chmod(tmp, 0o711)
    shutil.chown(pem, user="courier")
    os.chmod(pem, 0o600)
    log = os.path.join(tmp, "courier.log")
    srv = CourierListener(pem, log)
    try:
        run, plain = scan(build, srv.port, [])
        check(plain is not None, "without --probe-auth: one record (stderr %s)" % run.stderr.strip()[:200])
        plain = plain or {}
        check(plain.get("status") == "ok" and plain.get("starttls_ok") is True and plain.get("tls_version"),
              "without --probe-auth: ok over STARTTLS (%s, %s)" % (plain.get("status"), plain.get("tls_version")))
        check(plain.get("auth_probe") is None, "without --probe-auth: no auth_probe")
        first = srv.accepted
        run, probed = scan(build, srv.port, ["--probe-auth"])
        check(probed is not None, "--probe-auth: one record (stderr %s)" % run.stderr.strip()[:200])
        probed = probed or {}
        for field, want in (("status", "ok"), ("starttls_ok", True), ("tls_version", plain.get("tls_version")),
                            ("auth_probe", "disconnected"), ("auth_probe_reply", BYE),
                            ("caps_before_tls", plain.get("caps_before_tls")),
                            ("caps_after_tls", plain.get("caps_after_tls")),
                            ("auth_after_tls", plain.get("auth_after_tls")), ("banner", plain.get("banner")),
                            ("cert_sha256", plain.get("cert_sha256"))):
            check(probed.get(field) == want, "--probe-auth: %s = %r (want %r)" % (field, probed.get(field), want))
        check(srv.accepted - first == 2, "--probe-auth: two connections (%d)" % (srv.accepted - first))
    finally:
        srv.close()
    failed_logins = open(log, "rb").read().count(b"LOGIN FAILED, user=mailtls-probe")
    check(failed_logins == 1, "the fake credential was sent once (%d LOGIN FAILED in Courier's log)" % failed_logins)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
