"""Small mail servers for the downgrade checks (tests/*/test_downgrade*.py).

One server speaks one protocol (smtp, lmtp, imap, pop3, sieve) and can be:
  vulnerable   after STARTTLS it keeps what it read before the handshake and
               answers it inside TLS (CVE-2011-0411: the buffered command is
               served as if the client had sent it under TLS)
  masked       a middlebox rewrote the STARTTLS capability (e.g. XXXXXXXA)
               and refuses the command (Cisco ESMTP inspection)
  require_tls  refuses MAIL / login before TLS (530, LOGINDISABLED, no USER)
  noop_first   (sieve) the answer to the buffered command comes before the
               capabilities the server re-sends after TLS
  mute_after   connections after this many are accepted and never greeted
  mail_reply   (smtp) the reply to MAIL before TLS, in place of the usual one

Each server logs what it saw: `sessions` (connections accepted),
`starttls_chunks` (per connection, the bytes of the recv that held STARTTLS:
an injected command in the same segment shows up there), `cmds` (every
client line, with a "tls:" prefix under TLS, and "buffered:" for lines
served from the pre-TLS buffer). Only loopback is ever bound.
"""
import socket
import ssl
import threading


class DowngradeServer:
    def __init__(self, proto, tls_ctx, addr="127.0.0.1", vulnerable=False, masked=None, require_tls=False,
                 noop_first=False, mute_after=None, mail_reply=None):
        self.proto = proto
        self.tls_ctx = tls_ctx
        self.vulnerable = vulnerable
        self.masked = masked
        self.require_tls = require_tls
        self.noop_first = noop_first
        self.mute_after = mute_after
        self.mail_reply = mail_reply
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((addr, 0))
        self.sock.listen(16)
        self.addr, self.port = self.sock.getsockname()
        self.cmds = []
        self.starttls_chunks = []
        self.sessions = 0
        self.errors = []
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def close(self):
        self.stop = True
        self.sock.close()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.sessions += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    # ---- one connection -------------------------------------------------

    def _session(self, conn):
        st = {"conn": conn, "buf": b"", "tls": False, "from_buffer": False, "open": True}
        conn.settimeout(10)
        try:
            if self.mute_after is not None and self.sessions > self.mute_after:
                conn.recv(4096)  # say nothing until the client leaves
                return
            self._send(st, self._greeting())
            while st["open"]:
                line = self._readline(st)
                if line is None:
                    return
                self._command(st, line)
        except (OSError, ssl.SSLError) as e:
            self.errors.append(repr(e))
        finally:
            try:
                st["conn"].close()
            except OSError:
                pass

    def _readline(self, st):
        while b"\n" not in st["buf"]:
            st["from_buffer"] = False
            chunk = st["conn"].recv(4096)
            if not chunk:
                return None
            if not st["tls"] and (b"STARTTLS" in chunk.upper() or b"STLS" in chunk.upper()):
                self.starttls_chunks.append(chunk)
            st["buf"] += chunk
        line, st["buf"] = st["buf"].split(b"\n", 1)
        line = line.rstrip(b"\r").decode("latin-1")
        prefix = ("buffered:" if st["from_buffer"] else "tls:") if st["tls"] else ""
        self.cmds.append(prefix + line)
        return line

    def _send(self, st, text):
        st["conn"].sendall(text.encode("latin-1"))

    def _starttls(self, st, go_ahead):
        self._send(st, go_ahead)
        kept = st["buf"]
        st["conn"] = self.tls_ctx.wrap_socket(st["conn"], server_side=True)
        st["tls"] = True
        # the bug under test: what was read in cleartext is served under TLS
        st["buf"] = kept if self.vulnerable else b""
        st["from_buffer"] = bool(st["buf"])

    # ---- the protocols --------------------------------------------------

    def _starttls_cap(self):
        word = "STLS" if self.proto == "pop3" else "STARTTLS"
        return self.masked or word

    def _greeting(self):
        if self.proto in ("smtp", "lmtp"):
            return "220 dg.test ESMTP\r\n"
        if self.proto == "imap":
            return "* OK [CAPABILITY %s] dg ready\r\n" % self._imap_caps(False)
        if self.proto == "pop3":
            return "+OK dg ready\r\n"
        return self._sieve_caps(False)

    def _imap_caps(self, tls):
        caps = ["IMAP4rev1"]
        if not tls:
            caps.append(self._starttls_cap())
        if self.require_tls and not tls:
            caps.append("LOGINDISABLED")
        else:
            caps.append("AUTH=PLAIN")
        return " ".join(caps)

    def _sieve_caps(self, tls):
        caps = '"IMPLEMENTATION" "dg"\r\n"SASL" "PLAIN"\r\n'
        if not tls:
            caps += '"%s"\r\n' % self._starttls_cap()
        return caps + 'OK "ready"\r\n'

    def _command(self, st, line):
        getattr(self, "_" + ("smtp" if self.proto == "lmtp" else self.proto))(st, line)

    def _smtp(self, st, line):
        verb = line.split(" ", 1)[0].upper()
        if verb in ("EHLO", "LHLO"):
            if st["tls"]:
                self._send(st, "250-dg.test\r\n250 AUTH PLAIN\r\n")
            else:
                self._send(st, "250-dg.test\r\n250-PIPELINING\r\n250-%s\r\n250 SIZE 1000\r\n" % self._starttls_cap())
        elif verb == "MAIL":
            if self.mail_reply and not st["tls"]:
                self._send(st, self.mail_reply)
            elif self.require_tls and not st["tls"]:
                self._send(st, "530 5.7.0 Must issue a STARTTLS command first\r\n")
            else:
                self._send(st, "250 2.1.0 Ok\r\n")
        elif verb in ("RSET", "NOOP"):
            self._send(st, "250 2.0.0 Ok\r\n")
        elif verb == "STARTTLS" and not self.masked and not st["tls"]:
            self._starttls(st, "220 2.0.0 Ready to start TLS\r\n")
        elif verb == "QUIT":
            self._send(st, "221 2.0.0 Bye\r\n")
            st["open"] = False
        else:
            self._send(st, "502 5.5.2 Error: command not recognized\r\n")

    def _imap(self, st, line):
        parts = line.split(" ", 2)
        tag, verb = parts[0], (parts[1].upper() if len(parts) > 1 else "")
        if verb == "CAPABILITY":
            self._send(st, "* CAPABILITY %s\r\n%s OK done\r\n" % (self._imap_caps(st["tls"]), tag))
        elif verb == "NOOP":
            self._send(st, "%s OK NOOP completed\r\n" % tag)
        elif verb == "STARTTLS" and not self.masked and not st["tls"]:
            self._starttls(st, "%s OK Begin TLS negotiation now\r\n" % tag)
        elif verb == "LOGIN":
            self._send(st, "%s NO [PRIVACYREQUIRED] no\r\n" % tag)
        elif verb == "LOGOUT":
            self._send(st, "* BYE bye\r\n%s OK done\r\n" % tag)
            st["open"] = False
        else:
            self._send(st, "%s BAD unknown\r\n" % tag)

    def _pop3(self, st, line):
        verb = line.split(" ", 1)[0].upper()
        if verb == "CAPA":
            caps = ["+OK"]
            if not st["tls"]:
                caps.append(self._starttls_cap())
            if st["tls"] or not self.require_tls:
                caps.append("USER")
            self._send(st, "\r\n".join(caps) + "\r\n.\r\n")
        elif verb == "NOOP":
            self._send(st, "+OK\r\n")
        elif verb == "STLS" and not self.masked and not st["tls"]:
            self._starttls(st, "+OK Begin TLS\r\n")
        elif verb == "QUIT":
            self._send(st, "+OK bye\r\n")
            st["open"] = False
        else:
            self._send(st, "-ERR unknown\r\n")

    def _sieve(self, st, line):
        verb = line.split(" ", 1)[0].strip('"').upper()
        if verb == "NOOP":
            self._send(st, 'OK "NOOP completed"\r\n')
        elif verb == "STARTTLS" and not self.masked and not st["tls"]:
            self._starttls(st, 'OK "Begin TLS"\r\n')
            # RFC 5804 2.2: the capabilities again, unasked
            if self.vulnerable and self.noop_first and st["buf"]:
                st["caps_due"] = True
                return  # the buffered NOOP is served first; caps follow it
            self._send(st, self._sieve_caps(True))
        elif verb == "LOGOUT":
            self._send(st, 'OK "bye"\r\n')
            st["open"] = False
        else:
            self._send(st, 'NO "unknown"\r\n')
        if st.pop("caps_due", False) and verb == "NOOP":
            self._send(st, self._sieve_caps(True))
