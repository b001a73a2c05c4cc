#!/usr/bin/env python3
"""Implicit-TLS server that sends a huge certificate message and stalls.

For the per-probe memory ceiling (issue 18 item 2): on each connection it
waits for the ClientHello, answers with raw TLS 1.2 bytes - a ServerHello
choosing ECDHE-ECDSA-AES128-GCM-SHA256 and a Certificate handshake message
whose body is --body-bytes long, cut into 16 KiB records - and then says
nothing more until the client leaves. The certificate list repeats the DER
certificates given with --der (so a body under the client's cap parses:
the client holds the whole chain while it waits for ServerKeyExchange);
a body over the cap is refused by the client after the 4-byte message
header.

Listens on 0.0.0.0:PORT bound to the loopback device (SO_BINDTODEVICE
"lo"), so every 127.x.y.z reaches it and no other interface does; --workers
processes share the port with SO_REUSEPORT. Each worker writes "accepted
sent closed" to STATUS_DIR/<n> at most twice a second. Runs until SIGTERM;
--max-s ends it regardless. Python standard library only.
"""
import argparse
import os
import selectors
import signal
import socket
import struct
import time

SUITE = 0xC02B  # ECDHE-ECDSA-AES128-GCM-SHA256: matches an EC leaf
RECORD_MAX = 16384


def record(ctype, payload):
    return struct.pack("!BHH", ctype, 0x0303, len(payload)) + payload


def server_hello():
    body = struct.pack("!H", 0x0303) + os.urandom(32) + b"\x00" + struct.pack("!HB", SUITE, 0)
    body += struct.pack("!H", 5) + b"\xff\x01\x00\x01\x00"  # renegotiation_info, empty
    return record(22, b"\x02" + len(body).to_bytes(3, "big") + body)


def certificate_message(ders, body_bytes):
    """Handshake type 11 with a body of exactly body_bytes: a certificate
    list of the given DER certificates, repeated, the last copy cut so the
    list fills the body (a list the cap refuses is never parsed)."""
    entries = b""
    want = body_bytes - 3
    i = 0
    while len(entries) < want:
        der = ders[i % len(ders)]
        entries += len(der).to_bytes(3, "big") + der
        i += 1
    if len(entries) > want:  # drop the copy that overflows, pad nothing
        entries = entries[:want]
        # keep the list well formed when it is meant to parse: whole entries only
        cut = 0
        pos = 0
        while pos + 3 <= len(entries):
            n = int.from_bytes(entries[pos:pos + 3], "big")
            if pos + 3 + n > len(entries):
                break
            pos += 3 + n
            cut = pos
        entries = entries[:cut]
    body = len(entries).to_bytes(3, "big") + entries
    return b"\x0b" + len(body).to_bytes(3, "big") + body


def records_of(handshake_bytes):
    out = b""
    for off in range(0, len(handshake_bytes), RECORD_MAX):
        out += record(22, handshake_bytes[off:off + RECORD_MAX])
    return out


class Conn:
    __slots__ = ("sock", "hello_seen", "off", "sent")

    def __init__(self, sock):
        self.sock, self.hello_seen, self.off, self.sent = sock, False, 0, False


def worker(idx, opt, payload):
    """payload: ServerHello + Certificate records, the same bytes for every
    connection (one copy in memory however many connections there are)."""
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
    status = os.path.join(opt.status_dir, str(idx)) if opt.status_dir else None
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

    def pump(c):
        while c.off < len(payload):
            try:
                n = c.sock.send(payload[c.off:c.off + 65536])
            except BlockingIOError:
                sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
                return
            except OSError:
                close(c)
                return
            c.off += n
        c.sent = True
        counts[1] += 1
        sel.modify(c.sock, selectors.EVENT_READ, c)

    def on_event(c, mask):
        if mask & selectors.EVENT_READ:
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                close(c)
                return
            if data:
                c.hello_seen = True  # the ClientHello (or the rest of it)
        if c.hello_seen and not c.sent:
            pump(c)

    while not stop[0] and time.monotonic() < end:
        for key, mask in sel.select(0.25):
            if key.data is None:
                for _ in range(256):
                    try:
                        s, _ = ls.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    s.setblocking(False)
                    counts[0] += 1
                    sel.register(s, selectors.EVENT_READ, Conn(s))
                continue
            on_event(key.data, mask)
        now = time.monotonic()
        if status and now - last_write > 0.5:
            last_write = now
            with open(status + ".tmp", "w") as f:
                f.write("%d %d %d\n" % tuple(counts))
            os.replace(status + ".tmp", status)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--der", action="append", required=True, help="DER certificate (repeatable)")
    ap.add_argument("--body-bytes", type=int, default=256 * 1024,
                    help="Certificate message body length, at most (whole certificates) [262144]")
    ap.add_argument("--status-dir")
    ap.add_argument("--ready-file")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--max-s", type=float, default=900)
    opt = ap.parse_args()
    ders = [open(p, "rb").read() for p in opt.der]
    payload = server_hello() + records_of(certificate_message(ders, opt.body_bytes))
    kids = []
    for i in range(opt.workers):
        pid = os.fork()
        if pid == 0:
            try:
                worker(i, opt, payload)
            finally:
                os._exit(0)
        kids.append(pid)
    if opt.ready_file:
        time.sleep(0.3)  # the workers bind at once; give them a moment
        with open(opt.ready_file + ".tmp", "w") as f:
            f.write("%d\n" % opt.port)
        os.replace(opt.ready_file + ".tmp", opt.ready_file)
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
