#!/usr/bin/env python3
"""mailtls-farm: TLS records that arrive together are all answered.

The farm reads TLS ahead (one read() takes every record that is there) and,
after it answered, waits on epoll instead of reading again. Records that
OpenSSL already pulled into its buffer never make the socket readable
again, so the farm must look at them before it waits. This test sends, in
one write each:
  1. the client Finished together with EHLO, NOOP and QUIT (four records);
  2. on a second session, EHLO and NOOP, then later QUIT alone;
and expects every reply. A farm that waited with records still buffered
would hang until its idle timeout and the test would fail on its 5 s wait.
Python's ssl module with memory BIOs decides what goes in each write.
"""
import os
import socket
import ssl
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_farm_cli import Farm, check_stats_consistent  # noqa: E402

ADDR = "127.117.0.1"
WAIT_S = 5.0


class TlsPipe:
    """A STARTTLS client whose every socket write is chosen by the test."""

    def __init__(self, port):
        self.sock = socket.create_connection((ADDR, port), timeout=WAIT_S)
        self.plain = b""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=False)

    def plain_until(self, marker):
        end = time.monotonic() + WAIT_S
        while marker not in self.plain and time.monotonic() < end:
            chunk = self.sock.recv(65536)
            assert chunk, "farm closed early: %r" % self.plain
            self.plain += chunk
        assert marker in self.plain, self.plain
        self.plain = b""

    def starttls(self):
        """Greeting, EHLO, STARTTLS, handshake; the client Finished stays queued."""
        self.plain_until(b"220 ")
        self.sock.sendall(b"EHLO x\r\n")
        self.plain_until(b"250 ")
        self.sock.sendall(b"STARTTLS\r\n")
        self.plain_until(b"220 2.0.0 Ready to start TLS\r\n")
        while True:
            try:
                self.tls.do_handshake()
                return
            except ssl.SSLWantReadError:
                if self.out.pending:
                    self.sock.sendall(self.out.read())
                chunk = self.sock.recv(65536)
                assert chunk, "farm closed during the handshake"
                self.inc.write(chunk)

    def send_records(self, *lines):
        """One TLS record per line, all of them (and anything queued) in one write."""
        for line in lines:
            self.tls.write(line)
        self.sock.sendall(self.out.read())

    def read_until(self, marker):
        data = b""
        end = time.monotonic() + WAIT_S
        while marker not in data:
            left = end - time.monotonic()
            assert left > 0, "no %r within %.0f s (farm waiting on buffered records?): %r" % (
                marker, WAIT_S, data)
            try:
                data += self.tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.inc.write(chunk)
        return data

    def close(self):
        self.sock.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        farm = Farm("--profiles", "starttls-auth=1", "--idle-ms", "30000", tmpdir=tmp)
        try:
            port = farm.port("smtp")
            # 1. Finished + EHLO + NOOP + QUIT in one write.
            c = TlsPipe(port)
            c.starttls()
            c.send_records(b"EHLO y\r\n", b"NOOP\r\n", b"QUIT\r\n")
            data = c.read_until(b"221 ")
            assert b"250-AUTH PLAIN LOGIN" in data, data
            assert b"250 2.0.0 Ok\r\n" in data and data.endswith(b"221 2.0.0 Bye\r\n"), data
            c.close()
            # 2. Finished sent alone, then two records in one write, then QUIT.
            c = TlsPipe(port)
            c.starttls()
            c.send_records()
            c.send_records(b"EHLO y\r\n", b"NOOP\r\n")
            data = c.read_until(b"250 2.0.0 Ok\r\n")
            assert b"250-AUTH PLAIN LOGIN" in data, data
            c.send_records(b"QUIT\r\n")
            assert c.read_until(b"221 ").endswith(b"221 2.0.0 Bye\r\n")
            c.close()
            farm.settle(2)
            stats = farm.stop()
        finally:
            farm.kill()
    check_stats_consistent(stats)
    assert stats["accepted"] == 2 and stats["tls_handshakes"] == 2, stats
    assert stats["ended"]["completed"] == 2, stats
    print("test_farm_tls_records: ok, 2 sessions, pipelined TLS records all answered")


if __name__ == "__main__":
    main()
