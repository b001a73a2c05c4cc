#!/usr/bin/env python3
"""SMTP server for tools/bench that stalls once TLS is up.

Greets, answers EHLO with STARTTLS, answers STARTTLS with 220, completes the
TLS handshake, then never says anything again: the client's post-TLS EHLO
waits forever, so a scanner keeps the connection (and its TLS state) in
flight. mailtls-farm has no profile that does this.

Listens on 0.0.0.0:PORT bound to the loopback device (SO_BINDTODEVICE "lo"),
so every 127.x.y.z reaches it and no other interface does. --workers
processes share the port with SO_REUSEPORT. Each worker writes
"accepted handshakes closed" to STATUS_DIR/<n> at most twice a second.
Runs until SIGTERM; a hard limit (--max-s) ends it regardless.
"""
import argparse
import os
import selectors
import signal
import socket
import ssl
import time

GREETING = b"220 stall.bench.example ESMTP stall\r\n"
EHLO = (b"250-stall.bench.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n"
        b"250 8BITMIME\r\n")


class Conn:
    __slots__ = ("sock", "buf", "phase")

    def __init__(self, sock):
        self.sock, self.buf, self.phase = sock, b"", "plain"


def worker(idx, opt):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(opt.cert, opt.key)
    ctx.num_tickets = 0
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
    ls.bind(("0.0.0.0", opt.port))
    ls.listen(65535)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, None)
    counts = [0, 0, 0]
    status = os.path.join(opt.status_dir, str(idx))
    last_write = 0.0
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
    end = time.monotonic() + opt.max_s

    def close(c):
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()
        counts[2] += 1

    def handshake(c):
        try:
            c.sock.do_handshake()
        except ssl.SSLWantReadError:
            sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        except ssl.SSLWantWriteError:
            sel.modify(c.sock, selectors.EVENT_WRITE, c)
            return
        except (ssl.SSLError, OSError):
            close(c)
            return
        counts[1] += 1
        c.phase = "stall"
        sel.modify(c.sock, selectors.EVENT_READ, c)

    def on_plain(c):
        try:
            data = c.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            close(c)
            return
        c.buf += data
        while b"\n" in c.buf:
            line, c.buf = c.buf.split(b"\n", 1)
            verb = line.strip().split(b" ", 1)[0].upper()
            try:
                if verb in (b"EHLO", b"HELO"):
                    c.sock.send(EHLO)
                elif verb == b"STARTTLS":
                    c.sock.send(b"220 2.0.0 Ready to start TLS\r\n")
                    sel.unregister(c.sock)
                    c.sock = ctx.wrap_socket(c.sock, server_side=True,
                                             do_handshake_on_connect=False)
                    sel.register(c.sock, selectors.EVENT_READ, c)
                    c.phase, c.buf = "tls", b""
                    handshake(c)
                    return
                elif verb == b"QUIT":
                    c.sock.send(b"221 2.0.0 Bye\r\n")
                    close(c)
                    return
                else:
                    c.sock.send(b"250 2.0.0 Ok\r\n")
            except OSError:
                close(c)
                return

    def on_stall(c):
        try:
            data = c.sock.recv(4096)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
            return
        except (ssl.SSLError, OSError):
            data = b""
        if not data:
            close(c)

    while not stop[0] and time.monotonic() < end:
        for key, _ in sel.select(0.25):
            if key.data is None:
                for _ in range(64):
                    try:
                        s, addr = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    s.setblocking(False)
                    counts[0] += 1
                    c = Conn(s)
                    try:
                        s.send(GREETING)
                    except OSError:
                        s.close()
                        counts[2] += 1
                        continue
                    sel.register(s, selectors.EVENT_READ, c)
                continue
            c = key.data
            if c.phase == "plain":
                on_plain(c)
            elif c.phase == "tls":
                handshake(c)
            else:
                on_stall(c)
        now = time.monotonic()
        if now - last_write > 0.5:
            last_write = now
            with open(status + ".tmp", "w") as f:
                f.write("%d %d %d\n" % tuple(counts))
            os.replace(status + ".tmp", status)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--status-dir", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--max-s", type=float, default=900)
    opt = ap.parse_args()
    kids = []
    for i in range(opt.workers):
        pid = os.fork()
        if pid == 0:
            try:
                worker(i, opt)
            finally:
                os._exit(0)
        kids.append(pid)
    signal.signal(signal.SIGTERM, lambda *a: [os.kill(k, signal.SIGTERM) for k in kids])
    for k in kids:
        while True:
            try:
                os.waitpid(k, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break


if __name__ == "__main__":
    main()
