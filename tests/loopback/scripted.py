"""Scripted mail servers on loopback for cases no real server does on demand.

A case is a script of steps the server plays against one connection:
  ("send", b"...")        write bytes
  ("expect", b"EHLO")     read one line from the client; it must start with these bytes
  ("tls",)                wrap the socket in TLS (server side) using the test cert
  ("sleep", seconds)      wait
  ("reset",)              close with RST (SO_LINGER 0)
  ("close",)              close normally
  ("drip", b"...", secs)  send one byte every `secs`
  ("hold",)               keep the connection open, say nothing, until the client leaves
Each case listens on its own 127.0.0.1 port; every server runs in a thread.
A server may play a different script on its second, third... connection
(`then`: a list of scripts, one per later connection; the last one repeats).
Only loopback is ever bound.
"""
import os
import socket
import ssl
import struct
import subprocess
import threading
import time


def make_cert(tmpdir, cn="scripted.test"):
    key = os.path.join(tmpdir, "key.pem")
    crt = os.path.join(tmpdir, "cert.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + cn,
         "-addext", "subjectAltName=DNS:" + cn],
        check=True, capture_output=True)
    return crt, key


class ScriptedServer:
    def __init__(self, script, tls_ctx, port=0, then=()):
        self.script = script
        self.scripts = [script] + list(then)
        self.accepted = 0  # connections accepted so far
        self.tls_ctx = tls_ctx
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.log = []  # what the client sent, line by line
        self.errors = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            script = self.scripts[min(self.accepted, len(self.scripts) - 1)]
            self.accepted += 1
            threading.Thread(target=self._play, args=(conn, script), daemon=True).start()

    def _readline(self, conn, buf, deadline):
        while b"\n" not in buf[0]:
            conn.settimeout(max(0.05, deadline - time.time()))
            chunk = conn.recv(4096)
            if not chunk:
                raise EOFError("client closed")
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\n", 1)
        return line.rstrip(b"\r")

    def _play(self, conn, script):
        buf = [b""]
        try:
            for step in script:
                op = step[0]
                if op == "send":
                    conn.sendall(step[1])
                elif op == "expect":
                    line = self._readline(conn, buf, time.time() + 10)
                    self.log.append(line)
                    if not line.upper().startswith(step[1].upper()):
                        self.errors.append("expected %r, got %r" % (step[1], line))
                        return
                elif op == "tls":
                    conn = self.tls_ctx.wrap_socket(conn, server_side=True)
                elif op == "sleep":
                    time.sleep(step[1])
                elif op == "drip":
                    for b in step[1]:
                        conn.sendall(bytes([b]))
                        time.sleep(step[2])
                elif op == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    conn.close()
                    return
                elif op == "close":
                    conn.close()
                    return
                elif op == "hold":
                    conn.settimeout(30)
                    while conn.recv(4096):
                        pass
                    return
            # script done: drain politely until the client leaves
            conn.settimeout(5)
            while conn.recv(4096):
                pass
        except (OSError, EOFError, ssl.SSLError):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.sock.close()


def make_long_chain(tmpdir, depth=50):
    """A leaf plus depth-1 intermediates: a chain of `depth` certificates."""
    tmpdir = os.path.join(tmpdir, "chain%d" % depth)
    os.makedirs(tmpdir, exist_ok=True)
    prev_key = prev_crt = None
    chain = []
    for i in range(depth):
        key = os.path.join(tmpdir, "chain%d.key" % i)
        crt = os.path.join(tmpdir, "chain%d.crt" % i)
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key],
                       check=True, capture_output=True)
        csr = subprocess.run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=level%d" % i],
                             check=True, capture_output=True).stdout
        args = ["openssl", "x509", "-req", "-days", "2", "-out", crt]
        if prev_key:
            args += ["-CA", prev_crt, "-CAkey", prev_key, "-set_serial", str(i + 1)]
        else:
            args += ["-signkey", key]
        subprocess.run(args, input=csr, check=True, capture_output=True)
        chain.append(crt)
        prev_key, prev_crt = key, crt
    bundle = os.path.join(tmpdir, "chain-bundle.pem")
    with open(bundle, "w") as out:
        for crt in reversed(chain):  # leaf first
            out.write(open(crt).read())
    return bundle, prev_key


def make_big_cert(tmpdir, sans=1700, name="big"):
    """A certificate made of `sans` long subjectAltName entries: 1700 make
    over 100 KiB (DER), above OpenSSL's default limit for a certificate
    message and mailtls's 64 KiB; 900 make about 60 KiB."""
    key = os.path.join(tmpdir, name + ".key")
    crt = os.path.join(tmpdir, name + ".crt")
    cnf = os.path.join(tmpdir, name + ".cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\nx509_extensions=ext\n[dn]\n[ext]\nsubjectAltName=@alt\n[alt]\n")
        for i in range(sans):
            f.write("DNS.%d = host%05d.a-rather-long-name-to-grow-the-certificate.example\n" % (i + 1, i))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=big.test", "-config", cnf],
                   check=True, capture_output=True)
    return crt, key


def make_nul_cn_cert(tmpdir):
    """A certificate whose CN holds a NUL byte ("evil.example\0.good.test"):
    made by patching a placeholder byte in the DER (the signature no longer
    matches, which a scanner that records rather than enforces must survive)."""
    key = os.path.join(tmpdir, "nul.key")
    der = os.path.join(tmpdir, "nul.der")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-outform", "DER", "-out", der, "-days", "2",
                    "-subj", "/CN=evil.exampleQ.good.test"], check=True, capture_output=True)
    data = open(der, "rb").read()
    assert data.count(b"evil.exampleQ") == 2  # subject and issuer
    data = data.replace(b"evil.exampleQ", b"evil.example\x00")
    crt = os.path.join(tmpdir, "nul.crt")
    pem = subprocess.run(["openssl", "x509", "-inform", "DER", "-outform", "PEM"], input=data,
                         check=True, capture_output=True).stdout
    open(crt, "wb").write(pem)
    return crt, key


def tls_context(crt, key, **kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ctx
