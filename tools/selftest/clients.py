"""Real mail clients, each in one configuration, run once against mailtls-selftest.

Used by tools/selftest/try.py (one client through every case, for people)
and tests/loopback/test_selftest.py (the client x case verdict table).

Each client gets: the server's IP literal and ports, a user name
test-SESSION@selftest.example, a password, a private HOME (config files
live there; nothing of the user's is read) and a timeout. Name lookups are
off: IP literals everywhere, curl --noproxy, fetchmail "no dns". The
server's certificate is self-signed: clients skip verification (curl -k,
swaks by default, msmtp tls_certcheck off, fetchmail no sslcertck, s-nail
tls-verify=ignore, Python's unverified context) except mutt, which is given
the certificate in certificate_file (mutt would otherwise prompt).
"""
import os
import smtplib
import imaplib
import poplib
import ssl
import subprocess
import urllib.parse

MSG = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: selftest\r\n\r\nhello\r\n"


def _run(argv, env_home, timeout, stdin=MSG):
    env = {"HOME": env_home, "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C",
           "TERM": "dumb", "no_proxy": "*"}
    try:
        p = subprocess.run(argv, input=stdin, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=env_home)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        return "timeout", (e.output or b"").decode("utf-8", "replace")


def _write(home, name, text, mode=0o600):
    path = os.path.join(home, name)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def curl(scheme, flag):
    def run(c):
        url = f"{scheme}://{c['ip']}:{c['ports'][scheme]}/"
        argv = ["curl", "-sS", flag, "-k", "--noproxy", "*", "--connect-timeout", "5",
                "-u", f"{c['user']}:{c['password']}", url]
        if scheme == "smtp":
            argv[-1:] = [url, "--mail-from", "a@example.org", "--mail-rcpt", "b@example.org", "-T", "-"]
        return _run(argv, c["home"], c["timeout"])
    return run


def swaks(flag):
    def run(c):
        return _run(["swaks", "--server", c["ip"], "--port", str(c["ports"]["smtp"]), flag,
                     "--ehlo", "client.example", "--from", "a@example.org", "--to", "b@example.org",
                     "--auth", "PLAIN", "--auth-user", c["user"], "--auth-password", c["password"],
                     "--quit-after", "AUTH", "--timeout", "5"], c["home"], c["timeout"], stdin=b"")
    return run


def msmtp(tls):
    def run(c):
        conf = _write(c["home"], "msmtprc", f"""account default
host {c['ip']}
port {c['ports']['smtp']}
domain client.example
auth plain
user {c['user']}
password {c['password']}
tls {tls}
tls_starttls on
tls_certcheck off
from a@example.org
timeout 5
""")
        return _run(["msmtp", "-C", conf, "b@example.org"], c["home"], c["timeout"])
    return run


def fetchmail(proto, tls):
    def run(c):
        kind = proto.lower() + ("s" if tls == "ssl" else "")
        opts = {"opportunistic": "", "required": "sslproto tls1.2+", "ssl": "ssl"}[tls]
        rc = _write(c["home"], "fetchmailrc", f"""set no syslog
poll {c['ip']} with proto {proto} port {c['ports'][kind]} timeout 5 no dns
  user "{c['user']}" there with password "{c['password']}" is root here
  {opts} no sslcertck
""")
        # As root fetchmail's lock is /var/run/fetchmail.pid: one per HOME instead.
        return _run(["fetchmail", "-f", rc, "--check", "--nosyslog", "--pidfile", os.path.join(c["home"], "pid")],
                    c["home"], c["timeout"])
    return run


def snail(force):
    def run(c):
        user = urllib.parse.quote(c["user"], safe="")
        pw = urllib.parse.quote(c["password"], safe="")
        argv = ["s-nail", "-#", "-:/", "-Sv15-compat", "-Sttycharset=utf-8",
                f"-Smta=smtp://{user}:{pw}@{c['ip']}:{c['ports']['smtp']}", "-Ssmtp-auth=plain",
                "-Stls-verify=ignore", "-Snosave", "-Shostname=client.example", "-Sfrom=a@example.org",
                "-s", "selftest", "b@example.org"]
        if force:
            argv.insert(5, "-Ssmtp-use-starttls")
        return _run(argv, c["home"], c["timeout"], stdin=b"hello\n")
    return run


def mutt(force):
    def run(c):
        rc = _write(c["home"], "muttrc", f"""set hostname=client.example
set from=a@example.org
set smtp_url="smtp://{urllib.parse.quote(c['user'], safe='')}@{c['ip']}:{c['ports']['smtp']}/"
set smtp_pass="{c['password']}"
set smtp_authenticators="plain"
set ssl_starttls=yes
set ssl_force_tls={'yes' if force else 'no'}
set certificate_file="{c['certfile']}"
set ssl_verify_host=no
set record=""
""")
        return _run(["mutt", "-n", "-F", rc, "-s", "selftest", "b@example.org"], c["home"], c["timeout"],
                    stdin=b"hello\n")
    return run


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def py(proto, careful):
    """careless: STARTTLS only when advertised; careful: always, and stop
    when it fails."""
    def run(c):
        ip, port, t = c["ip"], c["ports"][proto], 5
        try:
            if proto == "smtp":
                s = smtplib.SMTP(ip, port, local_hostname="client.example", timeout=t)
                s.ehlo()
                if careful or s.has_extn("starttls"):
                    s.starttls(context=_ctx())
                    s.ehlo()
                s.login(c["user"], c["password"])
                s.quit()
            elif proto == "imap":
                s = imaplib.IMAP4(ip, port, timeout=t)
                if careful or "STARTTLS" in s.capabilities:
                    s.starttls(ssl_context=_ctx())
                s.login(c["user"], c["password"])
                s.logout()
            else:
                s = poplib.POP3(ip, port, timeout=t)
                caps = {}
                try:
                    caps = s.capa()
                except poplib.error_proto:
                    pass
                if careful or "STLS" in caps:
                    s.stls(context=_ctx())
                s.user(c["user"])
                s.pass_(c["password"])
                s.quit()
            return 0, "ok"
        except Exception as e:  # the client's own failure is data, not an error
            return 1, f"{type(e).__name__}: {e}"
    return run


# name -> (description, run). Each name is one (client, configuration).
CLIENTS = {
    "curl-smtp-ssl": ("curl smtp:// --ssl (STARTTLS if offered)", curl("smtp", "--ssl")),
    "curl-smtp-ssl-reqd": ("curl smtp:// --ssl-reqd (STARTTLS required)", curl("smtp", "--ssl-reqd")),
    "curl-imap-ssl": ("curl imap:// --ssl", curl("imap", "--ssl")),
    "curl-imap-ssl-reqd": ("curl imap:// --ssl-reqd", curl("imap", "--ssl-reqd")),
    "curl-pop3-ssl": ("curl pop3:// --ssl", curl("pop3", "--ssl")),
    "curl-pop3-ssl-reqd": ("curl pop3:// --ssl-reqd", curl("pop3", "--ssl-reqd")),
    "swaks-tls": ("swaks -tls (STARTTLS required)", swaks("-tls")),
    "swaks-tlso": ("swaks -tlso (STARTTLS optional)", swaks("-tlso")),
    "msmtp-tls": ("msmtp tls on, tls_starttls on", msmtp("on")),
    "msmtp-notls": ("msmtp tls off, tls_starttls on", msmtp("off")),
    "fetchmail-pop3": ("fetchmail POP3, no sslproto (opportunistic)", fetchmail("POP3", "opportunistic")),
    "fetchmail-pop3-tls12": ("fetchmail POP3 sslproto tls1.2+ (STARTTLS required)",
                             fetchmail("POP3", "required")),
    "fetchmail-imap": ("fetchmail IMAP, no sslproto (opportunistic)", fetchmail("IMAP", "opportunistic")),
    "fetchmail-imap-tls12": ("fetchmail IMAP sslproto tls1.2+", fetchmail("IMAP", "required")),
    "fetchmail-imaps": ("fetchmail IMAP --ssl (implicit TLS, port imaps)", fetchmail("IMAP", "ssl")),
    "snail-starttls": ("s-nail smtp-use-starttls", snail(True)),
    "snail-plain": ("s-nail without smtp-use-starttls", snail(False)),
    "mutt-starttls": ("mutt ssl_starttls=yes ssl_force_tls=no", mutt(False)),
    "mutt-force-tls": ("mutt ssl_starttls=yes ssl_force_tls=yes", mutt(True)),
    "python-smtp-careless": ("smtplib, starttls() only if advertised", py("smtp", False)),
    "python-smtp-careful": ("smtplib, starttls() always", py("smtp", True)),
    "python-imap-careless": ("imaplib, starttls() only if advertised", py("imap", False)),
    "python-imap-careful": ("imaplib, starttls() always", py("imap", True)),
    "python-pop3-careless": ("poplib, stls() only if advertised", py("pop3", False)),
    "python-pop3-careful": ("poplib, stls() always", py("pop3", True)),
}
