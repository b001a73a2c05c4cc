#!/usr/bin/env python3
"""Records OpenSSL reads ahead of need are not lost (scanner/tls.c sets
read-ahead: one read() takes a whole burst of records).

An implicit-TLS server may send its greeting in the same TCP segment as the
end of its handshake: with TLS 1.2 the server's Finished is its last
handshake message, and nothing stops it from writing the greeting right
behind it. The client's last SSL_do_handshake then takes the greeting off
the socket into OpenSSL's buffer, and epoll never reports it again: the
probe would wait for its read timeout. This server (Python's ssl over memory
BIOs, so the byte layout is exact) sends Finished + greeting in one send(),
and on EHLO the 250 reply and, with it, on QUIT the 221. Every probe must
complete: status ok, TLS 1.2, no timeout, in much less than the read
timeout. A second server sends the greeting in its own segment later (the
usual case) as a control."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import looplib  # noqa: E402
import scripted  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
check = looplib.Checks()


class Session(threading.Thread):
    def __init__(self, sock, ctx, together):
        super().__init__(daemon=True)
        self.sock, self.ctx, self.together = sock, ctx, together

    def flush(self, obj, out, extra=b""):
        data = out.read() + extra
        if data:
            self.sock.sendall(data)

    def run(self):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = self.ctx.wrap_bio(inc, out, server_side=True)
        self.sock.settimeout(10)
        try:
            while True:
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self.flush(obj, out)
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    inc.write(data)
            if self.together:
                obj.write(b"220 readahead.test ESMTP\r\n")
                self.flush(obj, out)  # Finished and the greeting, one send()
            else:
                self.flush(obj, out)
                time.sleep(0.05)
                obj.write(b"220 readahead.test ESMTP\r\n")
                self.flush(obj, out)
            buf = b""
            while True:
                try:
                    buf += obj.read(4096)
                except ssl.SSLWantReadError:
                    data = self.sock.recv(65536)
                    if not data:
                        return
                    inc.write(data)
                    continue
                while b"\r\n" in buf:
                    line, buf = buf.split(b"\r\n", 1)
                    if line.upper().startswith(b"EHLO"):
                        obj.write(b"250-readahead.test\r\n250 8BITMIME\r\n")
                    elif line.upper().startswith(b"QUIT"):
                        obj.write(b"221 bye\r\n")
                        self.flush(obj, out)
                        return
                    else:
                        obj.write(b"502 no\r\n")
                    self.flush(obj, out)
        except (OSError, ssl.SSLError):
            pass
        finally:
            self.sock.close()


def serve(ctx, together):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(128)

    def loop():
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            Session(s, ctx, together).start()
    threading.Thread(target=loop, daemon=True).start()
    return ls


def main():
    with tempfile.TemporaryDirectory(prefix="mt-readahead-") as tmp:
        crt, key = scripted.make_cert(tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        for together in (True, False):
            ls = serve(ctx, together)
            port = ls.getsockname()[1]
            out = os.path.join(tmp, "out-%s.json" % together)
            t0 = time.monotonic()
            r = subprocess.run([SCAN, "-p", "%d/smtps" % port, "-o", out, "-q", "--ehlo-name", "test.example",
                                "--read-timeout", "8", "--rate", "0", "-c", "20", "--threads", "1"],
                               input=b"127.0.0.1\n" * 1, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60)
            wall = time.monotonic() - t0
            ls.close()
            with open(out) as f:
                recs = [json.loads(line) for line in f]
            what = "greeting in the Finished segment" if together else "greeting in its own segment"
            check(r.returncode == 0 and len(recs) == 1, "%s: one record (exit %d)" % (what, r.returncode))
            rec = recs[0] if recs else {}
            check(rec.get("status") == "ok" and rec.get("tls_version") == "TLSv1.2",
                  "%s: ok over TLS 1.2 (%s, %s, %s)" % (what, rec.get("status"), rec.get("tls_version"),
                                                        rec.get("error")))
            check((rec.get("banner") or "").startswith("220 readahead.test"),
                  "%s: greeting recorded (%r)" % (what, rec.get("banner")))
            check(wall < 5, "%s: no wait for the 8 s read timeout (%.1f s)" % (what, wall))
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
