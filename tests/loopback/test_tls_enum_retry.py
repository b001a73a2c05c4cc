#!/usr/bin/env python3
"""An inconclusive test (421 busy before STARTTLS) is retried once; twice
inconclusive leaves the version untested and says so in
tls_enum_incomplete - never "not accepted". A scripted STARTTLS server on
127.0.12.1 answers chosen connections (by arrival number) with 421."""
import os
import shutil
import socket
import ssl
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "real"))
import enumlib  # noqa: E402
import enumsrv  # noqa: E402


class BusyServer(enumsrv.Server):
    """Connection numbers in `busy` get '421 busy' instead of a greeting."""

    def __init__(self, cfg, busy):
        super().__init__(cfg)
        self.busy = busy
        self.count = 0
        self.lock = threading.Lock()

    def talk(self, conn, can_starttls, greet=True):
        if greet:
            with self.lock:
                self.count += 1
                n = self.count
            if n in self.busy:
                conn.sendall(b"421 4.3.2 busy\r\n")
                return
        return super().talk(conn, can_starttls, greet)


def run_case(c, pki, busy, port):
    cfg = dict(ip="127.0.12.1", port=port, mode="starttls", min="TLSv1.2", max="TLSv1.3",
               certs=[[os.path.join(pki, "ec.pem"), os.path.join(pki, "ec.key")]])
    srv = BusyServer(cfg, busy)
    threading.Thread(target=srv.serve, daemon=True).start()
    recs = enumlib.scan(["127.0.12.1:%d/smtp" % port], "--tls-versions")
    return recs["127.0.12.1:%d" % port]


def main():
    c = enumlib.Checker()
    work = tempfile.mkdtemp(prefix="mailtls-enum-retry-")
    try:
        pki = enumsrv.make_pki(os.path.join(work, "pki"))
        # connection 1 = main probe (TLSv1.3), then one raw hello each:
        # 2 = SSLv2, 3 = SSLv3, 4 = TLSv1 (5 = its retry when 4 was busy)
        r = run_case(c, pki, {4}, 10251)
        c.check(r["tls_versions_tested"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"],
                "one busy reply: retried, all four tested", r["tls_versions_tested"])
        c.check(r["tls_versions"] == ["TLSv1.2", "TLSv1.3"], "one busy reply: versions right", r["tls_versions"])
        c.check(r["tls_enum_incomplete"] is None, "one busy reply: nothing undecided", r["tls_enum_incomplete"])
        r = run_case(c, pki, {4, 5}, 10252)
        c.check(r["tls_versions_tested"] == ["TLSv1.1", "TLSv1.2", "TLSv1.3"],
                "busy twice: TLSv1 left out of tls_versions_tested", r["tls_versions_tested"])
        c.check(r["tls_versions"] == ["TLSv1.2", "TLSv1.3"], "busy twice: other versions still right", r["tls_versions"])
        c.check(r["tls_enum_incomplete"] == ["TLSv1: server-busy"], "busy twice: reason recorded",
                r["tls_enum_incomplete"])
        # main probe only: refused everything after it -> all tests undecided
        r = run_case(c, pki, set(range(2, 100)), 10253)
        c.check(r["tls_versions_tested"] == ["TLSv1.3"] and r["tls_versions"] == ["TLSv1.3"],
                "always busy: only the probe's own version is known", (r["tls_versions_tested"], r["tls_versions"]))
        c.check(r["tls_enum_incomplete"] == ["SSLv2: server-busy", "SSLv3: server-busy", "TLSv1: server-busy",
                                             "TLSv1.1: server-busy", "TLSv1.2: server-busy"],
                "always busy: SSLv2, SSLv3 and three TLS versions undecided", r["tls_enum_incomplete"])
        c.check(r["sslv2"] is None and r["sslv3"] is None, "always busy: sslv2 and sslv3 null (untested)",
                (r["sslv2"], r["sslv3"]))
    except Exception as ex:
        c.check(False, "test ran to the end", repr(ex))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
