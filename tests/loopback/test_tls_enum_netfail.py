#!/usr/bin/env python3
"""An enumeration that the network cut short is incomplete, never graded
(issue 18 item 7). A scripted STARTTLS server on 127.0.12.2 completes the
main probe (connection 1) and then treats every extra connection of
--ciphers one way: resets it in the middle of the handshake (RST after the
ClientHello), hangs up there (FIN, no alert: a refusal, as Dovecot does it,
except for the version the main probe completed), refuses it (the listener
is gone), or never answers the ClientHello. Each must leave `tls_grade`
null and say why in `tls_enum_incomplete`; a plain server (control) still
gets a grade, so the checks can tell the two apart."""
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "real"))
import enumlib  # noqa: E402
import enumsrv  # noqa: E402

IP = "127.0.12.2"


class CutServer(enumsrv.Server):
    """Connection 1 is served normally; later ones meet `mode` at TLS."""

    def __init__(self, cfg, mode):
        super().__init__(cfg)
        self.mode = mode
        self.count = 0
        self.lock = threading.Lock()
        self.port = self.socks[0][0].getsockname()[1]

    def accept_loop(self, sock, port):
        try:
            if self.mode != "refuse":
                return super().accept_loop(sock, port)
            conn, _ = sock.accept()
            sock.close()  # every later connect is refused
            self.slots.acquire()
            self.client(conn, port)
        except OSError:
            pass  # the listener was closed at the end of the case

    def talk_tls(self, conn, f):
        with self.lock:
            self.count += 1
            n = self.count
        if n == 1 or self.mode in ("none", "refuse"):
            return super().talk_tls(conn, f)
        f.close()
        conn.settimeout(5)
        try:
            conn.recv(4096)  # the ClientHello
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.mode == "stall":
                time.sleep(4)
        except OSError:
            pass
        conn.close()


def run_case(pki, mode):
    cfg = dict(ip=IP, port=0, mode="starttls", min="TLSv1.2", max="TLSv1.3",
               ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384",
               certs=[[os.path.join(pki, "ec.pem"), os.path.join(pki, "ec.key")]])
    srv = CutServer(cfg, mode)
    threading.Thread(target=srv.serve, daemon=True).start()
    target = "%s:%d" % (IP, srv.port)
    recs = enumlib.scan([target + "/smtp"], "--ciphers", "--read-timeout", "2")
    for sock, _ in srv.socks:
        try:
            sock.close()
        except OSError:
            pass
    return recs[target]


def main():
    c = enumlib.Checker()
    work = tempfile.mkdtemp(prefix="mailtls-enum-netfail-")
    try:
        pki = enumsrv.make_pki(os.path.join(work, "pki"))
        r = run_case(pki, "none")
        c.check(r["status"] == "ok" and r["tls_grade"] == "A" and r["tls_enum_incomplete"] is None,
                "control: a server that answers every test is graded",
                (r["status"], r["tls_grade"], r["tls_enum_incomplete"]))
        c.check(r["tls_versions_tested"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
                "control: all four versions tested", r["tls_versions_tested"])
        for mode, why in (("reset", "reset"), ("close", "closed"), ("refuse", "refused"),
                          ("stall", "read-timeout")):
            r = run_case(pki, mode)
            inc = r["tls_enum_incomplete"] or []
            c.check(r["status"] == "ok" and r["tls_version"] == "TLSv1.3",
                    "%s: the main probe itself is fine" % mode, (r["status"], r["tls_version"]))
            c.check(r["tls_grade"] is None, "%s: no grade" % mode, r["tls_grade"])
            c.check(len(inc) >= 1 and all(why in x for x in inc),
                    "%s: tls_enum_incomplete says %r" % (mode, why), inc)
            if mode == "close":
                # a hang-up after the ClientHello is a refusal (Dovecot's way) for SSLv2..TLSv1.2,
                # but contradicts TLSv1.3, which the main probe just completed (its suite list
                # stays empty: noted, no grade)
                c.check(inc == ["TLSv1.3: closed"], "close: only the contradicted TLSv1.3 test is undecided", inc)
                c.check(r["tls_versions_tested"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
                        and r["tls_versions"] == ["TLSv1.3"],
                        "close: the other versions count as refused", (r["tls_versions_tested"], r["tls_versions"]))
                continue
            c.check(r["tls_versions_tested"] == ["TLSv1.3"],
                    "%s: only the probe's own version counts as tested" % mode, r["tls_versions_tested"])
    except Exception as ex:
        c.check(False, "test ran to the end", repr(ex))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
