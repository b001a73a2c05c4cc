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
    def __init__(self, script, tls_ctx, port=0):
        self.script = script
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
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _readline(self, conn, buf, deadline):
        while b"\n" not in buf[0]:
            conn.settimeout(max(0.05, deadline - time.time()))
            chunk = conn.recv(4096)
            if not chunk:
                raise EOFError("client closed")
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\n", 1)
        return line.rstrip(b"\r")

    def _play(self, conn):
        buf = [b""]
        try:
            for step in self.script:
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


def tls_context(crt, key, **kw):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    return ctx
