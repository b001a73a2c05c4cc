#!/usr/bin/env python3
"""TLS servers with known settings for the enumeration tests (not a test).

    enumsrv.py pki DIR                       make the test PKI in DIR
    enumsrv.py serve CONFIG.json             run one server until killed

A server speaks just enough SMTP (greeting, EHLO, STARTTLS, QUIT) or IMAP
(greeting, CAPABILITY, STARTTLS, LOGOUT) around Python's ssl module, which
is the same OpenSSL the scanner uses. Versions and TLS <= 1.2 suites come
from the config ("min", "max", "ciphers", "server_order"); TLS 1.3 suites
and groups from an OPENSSL_CONF file the caller writes (Python's ssl has no
API for them). Listens only on the loopback address given; every socket
operation has a timeout.
"""
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

IO_TIMEOUT_S = 10
MAX_CLIENTS = 64

VERSIONS = {"TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.1": ssl.TLSVersion.TLSv1_1,
            "TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _run(cmd, cwd):
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


def make_pki(d):
    """root -> intermediate -> leaves; plus self-signed, expired, wrong-name."""
    os.makedirs(d, exist_ok=True)
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n"
                "[leaf]\nbasicConstraints=CA:false\nsubjectAltName=DNS:mail.enum.example\n"
                "[wrong]\nbasicConstraints=CA:false\nsubjectAltName=DNS:other.enum.example\n")
    o = lambda *a: _run(["openssl", *a], d)
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out", "root.pem",
      "-subj", "/CN=enum test root", "-days", "30", "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "inter.key", "-out", "inter.csr", "-subj", "/CN=enum test intermediate")
    o("x509", "-req", "-in", "inter.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial",
      "-out", "inter.pem", "-days", "30", "-extfile", ext, "-extensions", "ca")

    def leaf(name, keyargs, ext_section, days, signer=("inter.pem", "inter.key"), extra=()):
        o("req", "-newkey", *keyargs, "-nodes", "-keyout", name + ".key", "-out", name + ".csr",
          "-subj", "/CN=mail.enum.example")
        o("x509", "-req", "-in", name + ".csr", "-CA", signer[0], "-CAkey", signer[1], "-CAcreateserial",
          "-out", name + ".crt", "-extfile", ext, "-extensions", ext_section, *extra, *(["-days", str(days)] if days else []))
        with open(os.path.join(d, name + ".pem"), "w") as f:
            f.write(open(os.path.join(d, name + ".crt")).read() + open(os.path.join(d, "inter.pem")).read())

    leaf("rsa", ["rsa:2048"], "leaf", 20)
    o("ecparam", "-name", "prime256v1", "-out", "p256.param")
    leaf("ec", ["ec:p256.param"], "leaf", 20)
    leaf("wrong", ["rsa:2048"], "wrong", 20)
    o("genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_paramgen_prime_len:1024", "-out", "dh1024.pem")
    # self-signed leaf, no chain
    o("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "self.key", "-out", "self.pem",
      "-subj", "/CN=mail.enum.example", "-days", "10", "-addext", "subjectAltName=DNS:mail.enum.example")
    # expired leaf signed by the intermediate: `openssl ca` takes explicit dates
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca=c\n[c]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\n"
                "default_md=sha256\npolicy=p\ncopy_extensions=copy\nunique_subject=no\n[p]\ncommonName=supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")
    o("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "expired.key", "-out", "expired.csr",
      "-subj", "/CN=mail.enum.example", "-addext", "subjectAltName=DNS:mail.enum.example")
    o("ca", "-batch", "-config", "ca.cnf", "-cert", "inter.pem", "-keyfile", "inter.key", "-in", "expired.csr",
      "-out", "expired.crt", "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-notext")
    with open(os.path.join(d, "expired.pem"), "w") as f:
        f.write(open(os.path.join(d, "expired.crt")).read() + open(os.path.join(d, "inter.pem")).read())
    return d


class Server:
    def __init__(self, cfg):
        self.cfg = cfg
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = VERSIONS[cfg.get("min", "TLSv1.2")]
        ctx.maximum_version = VERSIONS[cfg.get("max", "TLSv1.3")]
        ctx.set_ciphers(cfg.get("ciphers", "ALL:@SECLEVEL=0"))
        if cfg.get("server_order"):
            ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
        else:
            ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
        if cfg.get("dhparam"):
            ctx.load_dh_params(cfg["dhparam"])
        for chain, key in cfg["certs"]:
            ctx.load_cert_chain(chain, key)
        self.ctx = ctx
        fam = socket.AF_INET6 if ":" in cfg["ip"] else socket.AF_INET
        self.socks = []
        for port in cfg.get("ports", [cfg.get("port")]):
            sock = socket.socket(fam, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((cfg["ip"], port))
            sock.listen(128)
            self.socks.append((sock, port))
        self.slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self.log_lock = threading.Lock()
        self.log = open(cfg["log"], "a") if cfg.get("log") else None

    def serve(self):
        for sock, port in self.socks[1:]:
            threading.Thread(target=self.accept_loop, args=(sock, port), daemon=True).start()
        self.accept_loop(*self.socks[0])

    def accept_loop(self, sock, port):
        while True:
            conn, _ = sock.accept()
            if not self.slots.acquire(timeout=IO_TIMEOUT_S):
                conn.close()
                continue
            threading.Thread(target=self.client, args=(conn, port), daemon=True).start()

    def client(self, conn, port):
        start = time.monotonic()
        try:
            conn.settimeout(IO_TIMEOUT_S)
            if self.cfg.get("delay_s"):
                time.sleep(self.cfg["delay_s"])
            if self.cfg["mode"] == "implicit":
                conn = self.ctx.wrap_socket(conn, server_side=True)
            self.talk(conn, self.cfg["mode"] == "starttls")
        except (OSError, ssl.SSLError, ValueError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            if self.log:
                with self.log_lock:
                    self.log.write("%d %.6f %.6f\n" % (port, start, time.monotonic()))
                    self.log.flush()
            self.slots.release()

    def talk(self, conn, can_starttls, greet=True):
        imap = self.cfg.get("proto") == "imap"
        f = conn.makefile("rb")
        if greet:
            conn.sendall(b"* OK enumsrv ready\r\n" if imap else b"220 enumsrv ESMTP\r\n")
        while True:
            line = f.readline(1024)
            if not line:
                return
            words = line.strip().split()
            cmd = (words[1] if imap and len(words) > 1 else words[0] if words else b"").upper()
            tag = words[0] if imap and words else b"*"
            if imap:
                if cmd == b"CAPABILITY":
                    conn.sendall(b"* CAPABILITY IMAP4rev1" + (b" STARTTLS" if can_starttls else b"") +
                                 b"\r\n" + tag + b" OK done\r\n")
                elif cmd == b"STARTTLS" and can_starttls:
                    conn.sendall(tag + b" OK begin TLS\r\n")
                    return self.talk_tls(conn, f)
                elif cmd == b"LOGOUT":
                    conn.sendall(b"* BYE\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    conn.sendall(tag + b" BAD no\r\n")
            else:
                if cmd in (b"EHLO", b"HELO"):
                    conn.sendall(b"250-enumsrv\r\n" + (b"250-STARTTLS\r\n" if can_starttls else b"") + b"250 8BITMIME\r\n")
                elif cmd == b"STARTTLS" and can_starttls:
                    conn.sendall(b"220 2.0.0 go ahead\r\n")
                    return self.talk_tls(conn, f)
                elif cmd == b"QUIT":
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 no\r\n")

    def talk_tls(self, conn, f):
        f.close()
        tconn = self.ctx.wrap_socket(conn, server_side=True)
        try:
            self.talk(tconn, False, greet=False)
        finally:
            tconn.close()


def main(argv):
    if len(argv) == 3 and argv[1] == "pki":
        make_pki(argv[2])
        return 0
    if len(argv) == 3 and argv[1] == "serve":
        with open(argv[2]) as f:
            cfg = json.load(f)
        srv = Server(cfg)
        print("ready", flush=True)
        srv.serve()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
