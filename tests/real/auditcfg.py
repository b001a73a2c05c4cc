"""Configurations for tests/real/test_audit.py, in the layouts people run.

* Postfix: main.cf (with a continuation line and a $name reference) and
  master.cf whose smtpd services differ by -o overrides (submission with
  encrypt, smtps with wrapper mode in the `-o { ... }` form, a second
  submission port with may, one without TLS).
* Dovecot "mono": one dovecot.conf, strict (ssl = required), with a
  protocol block and a remote block that weaken it.
* Dovecot "split": dovecot.conf + conf.d/*.conf through !include and a
  missing !include_try, weak (plaintext auth allowed before TLS).

Each builder returns the text as a list of lines, so the test computes the
line of every setting from the text itself (line_of), not from the tool.
"""

import os

import fixtures


def line_of(lines, needle, nth=-1):
    """1-based number of the last (or nth) line holding needle."""
    hits = [i + 1 for i, l in enumerate(lines) if needle in l]
    if not hits:
        raise KeyError(needle)
    return hits[nth]


def postfix_main(d, pki, auth_socket):
    ecdsa, rsa = pki["leaves"]["ecdsa"], pki["leaves"]["rsa"]
    q = os.path.join(d, "queue")
    return [
        "# mailtls-audit real test: Postfix main.cf",
        "compatibility_level = 3.6",
        "queue_directory = " + q,
        "data_directory = " + os.path.join(d, "data"),
        "mail_owner = postfix",
        "setgid_group = postdrop",
        "myhostname = mail.test.example",
        "mydestination =",
        "inet_interfaces = loopback-only",
        "inet_protocols = ipv4",
        "mynetworks = 127.0.0.0/8",
        "# never resolve, never deliver (resolv.conf points off the machine)",
        "disable_dns_lookups = yes",
        "smtpd_peername_lookup = no",
        "default_transport = error:audit test",
        "relay_transport = error:audit test",
        "local_transport = error:audit test",
        "alias_maps =",
        "alias_database =",
        "maillog_file = %s/log/postfix.log" % d,
        "maillog_file_prefixes = %s/log" % d,
        "# TLS: both chains, the second on a continuation line",
        "smtpd_tls_chain_files = %s, %s," % (ecdsa["key"], ecdsa["chain"]),
        "    %s, %s" % (rsa["key"], rsa["chain"]),
        "smtpd_tls_security_level = none",
        "smtpd_tls_security_level = may",
        "smtpd_tls_auth_only = no",
        "smtpd_tls_protocols = !SSLv2, !SSLv3",
        "smtpd_tls_mandatory_protocols = >=TLSv1.2",
        "smtpd_tls_received_header = no",
        "smtpd_tls_loglevel = 1",
        "submission_tls = encrypt",
        "smtp_tls_security_level = dane",
        "smtp_dns_support_level = disabled",
        "smtpd_sasl_type = dovecot",
        "smtpd_sasl_path = " + auth_socket,
        "smtpd_sasl_auth_enable = yes",
        "smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination",
    ]


# Postfix's internal services, as every fixture writes them.
INTERNAL = fixtures.POSTFIX_INTERNAL_SERVICES.rstrip("\n").split("\n")


def postfix_master(ip):
    return [
        "# mailtls-audit real test: Postfix master.cf",
        "%s:25 inet n - n - - smtpd" % ip,
        "%s:587 inet n - n - - smtpd" % ip,
        "  -o syslog_name=postfix/submission",
        "  -o smtpd_tls_security_level=$submission_tls",
        "  -o smtpd_tls_auth_only=yes",
        "%s:465 inet n - n - - smtpd" % ip,
        "  -o syslog_name=postfix/smtps",
        "  -o smtpd_tls_wrappermode=yes",
        "  -o { smtpd_tls_security_level = encrypt }",
        "%s:5587 inet n - n - - smtpd" % ip,
        "  -o syslog_name=postfix/submission-may",
        "  -o smtpd_tls_security_level=may",
        "%s:5465 inet n - n - - smtpd" % ip,
        "  -o syslog_name=postfix/submission-notls",
        "  -o smtpd_tls_security_level=none",
    ] + INTERNAL


def _dovecot_common(d, name, ip):
    return [
        "instance_name = mtaudit-%s-%s" % (name, os.path.basename(os.path.dirname(d))),
        "base_dir = " + os.path.join(d, "run"),
        "state_dir = " + os.path.join(d, "state"),
        "listen = " + ip,
        "protocols = imap pop3",
        "log_path = " + os.path.join(d, "dovecot.log"),
        "first_valid_uid = 100",
        "mail_location = maildir:~/Maildir",
        "auth_failure_delay = 0",
        "passdb {",
        "  driver = static",
        "  args = password=mailtls-test-password",
        "}",
        "userdb {",
        "  driver = static",
        "  args = uid=dovecot gid=dovecot home=%s/home/%%u" % d,
        "}",
    ]


LISTENERS = [
    "service imap-login {",
    "  inet_listener imap {",
    "    port = 143",
    "  }",
    "  inet_listener imaps {",
    "    port = 993",
    "    ssl = yes",
    "  }",
    "}",
    "service pop3-login {",
    "  inet_listener pop3 {",
    "    port = 110",
    "  }",
    "  inet_listener pop3s {",
    "    port = 995",
    "    ssl = yes",
    "  }",
    "}",
]


def dovecot_mono(d, ip, leaf, auth_socket):
    """Monolithic and strict, with two weaker blocks."""
    return ["# mailtls-audit real test: monolithic dovecot.conf"] + _dovecot_common(d, "mono", ip) + [
        "ssl = required",
        "ssl_cert = <" + leaf["chain"],
        "ssl_key = <" + leaf["key"],
        "ssl_min_protocol = TLSv1.2",
        "ssl_prefer_server_ciphers = yes",
        "disable_plaintext_auth = yes",
        "auth_mechanisms = plain login",
        "protocol pop3 {",
        "  ssl_cipher_list = HIGH:3DES:!aNULL",
        "}",
        "remote 10.0.0.0/8 {",
        "  ssl = yes",
        "  disable_plaintext_auth = no",
        "}",
        "service auth {",
        "  unix_listener %s {" % os.path.basename(auth_socket),
        "    mode = 0660",
        "    user = postfix",
        "    group = postfix",
        "  }",
        "}",
    ] + LISTENERS


def dovecot_split(d, ip, leaf, weak=True):
    """Split into conf.d like Debian's layout; returns {relative path: lines}."""
    return {
        "dovecot.conf": ["# mailtls-audit real test: split configuration"] + _dovecot_common(d, "split", ip) + [
            "!include conf.d/*.conf",
            "!include_try local.conf",
        ],
        "conf.d/10-auth.conf": [
            "# authentication",
            "disable_plaintext_auth = %s" % ("no" if weak else "yes"),
            "auth_mechanisms = plain login",
        ],
        "conf.d/10-master.conf": ["# listeners"] + LISTENERS,
        "conf.d/10-ssl.conf": [
            "# TLS",
            "ssl = yes",
            "ssl_cert = <" + leaf["chain"],
            "ssl_key = <" + leaf["key"],
            "ssl_min_protocol = TLSv1",
        ],
        "conf.d/20-imap.conf": [
            "protocol imap {",
            "  mail_max_userip_connections = 20",
            "}",
        ],
    }
