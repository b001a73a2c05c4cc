"""tinydns.py - a small authoritative UDP DNS server on 127.0.0.1 for the
loopback tests: MX and A answers from a dict, NXDOMAIN for anything else,
and a count of the queries per (name, type), so a test can tell whether
the scanner asked at all. Standard library only; it never recurses."""
import collections
import socket
import struct
import threading

QTYPE = {1: "A", 15: "MX", 28: "AAAA"}


def _name(wire, off):
    labels = []
    while True:
        n = wire[off]
        off += 1
        if n == 0:
            return ".".join(labels).lower(), off
        if n & 0xC0:
            raise ValueError("compressed name in a question")
        labels.append(wire[off:off + n].decode("ascii"))
        off += n


def _encode(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


class TinyDNS:
    """zone: {"d.test": {"MX": [(10, "mx.d.test")]}, "mx.d.test": {"A": ["127.0.0.5"]}}."""

    def __init__(self, zone):
        self.zone = {k.lower(): v for k, v in zone.items()}
        self.queries = collections.Counter()
        self.lock = threading.Lock()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        name, off = _name(q, 12)
        qtype, qclass = struct.unpack(">HH", q[off:off + 4])
        question = q[12:off + 4]
        with self.lock:
            self.queries[(name, QTYPE.get(qtype, str(qtype)))] += 1
        node = self.zone.get(name)
        rcode = 0 if node is not None else 3
        answers = []
        for rr in (node or {}).get(QTYPE.get(qtype, ""), []):
            if qtype == 15:
                rdata = struct.pack(">H", rr[0]) + _encode(rr[1])
            else:
                rdata = socket.inet_aton(rr)
            answers.append(_encode(name) + struct.pack(">HHIH", qtype, 1, 300, len(rdata)) + rdata)
        flags_out = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
        head = struct.pack(">HHHHHH", qid, flags_out, 1, len(answers), 0, 0)
        return head + question + b"".join(answers)

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stopped:
            try:
                q, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(q), peer)
            except (ValueError, IndexError, struct.error, OSError):
                continue

    def count(self, name):
        """Queries for name, any type, so far."""
        with self.lock:
            return sum(n for (q, _), n in self.queries.items() if q == name.lower())

    def reset(self):
        with self.lock:
            self.queries.clear()

    def stop(self):
        self.stopped = True
        self.thread.join(timeout=2)
        self.sock.close()
