"""Shared by test_diff.py and test_report.py: a test CA with valid and
expired leaf certificates (python3-cryptography), one mailtls-farm per
host (each bound to its own address in 127.114.0.0/16 on one common port,
so every host's profile and certificate are chosen by the test), and a
scan of them with mailtls-scan."""
import datetime
import os
import socket
import subprocess

import looplib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def make_pki(d):
    """ca.pem; leaf-a/leaf-b (valid 200 days), expired (ended 30 days
    ago), soon (valid 5 more days): each as NAME.pem + NAME.key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mailtls diff test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - 400 * day)
          .not_valid_after(now + 400 * day)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    _write(os.path.join(d, "ca.pem"), ca.public_bytes(serialization.Encoding.PEM))
    leaves = {"leaf-a": (-10, 200), "leaf-b": (-5, 200), "expired": (-300, -30), "soon": (-100, 5)}
    for name, (start, end) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.diff.test")]))
                .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now + start * day).not_valid_after(now + end * day)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("mail.diff.test")]), critical=False)
                .sign(ca_key, hashes.SHA256()))
        _write(os.path.join(d, name + ".pem"), cert.public_bytes(serialization.Encoding.PEM))
        _write(os.path.join(d, name + ".key"),
               key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    return d


def free_port(addr):
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Fleet:
    """hosts: {addr: (profile, cert name)}; one farm per host on port."""

    def __init__(self, build, tmp, pki, port, hosts, tag):
        self.procs = []
        for addr, (profile, cert) in sorted(hosts.items()):
            args = ["--bind", addr, "--smtp", str(port), "--profiles", profile,
                    "--cert", os.path.join(pki, cert + ".pem"), "--key", os.path.join(pki, cert + ".key")]
            self.procs.append(looplib.start_farm(build, tmp, args, name="%s-%s" % (tag, addr)))

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def scan(build, pki, port, addrs, out, extra=()):
    cmd = [os.path.join(build, "mailtls-scan"), "-p", "%d/smtp" % port, "--ca-file", os.path.join(pki, "ca.pem"),
           "--rate", "0", "--timeout", "10", "--tls-versions", "-o", out] + list(extra) + list(addrs)
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if r.returncode not in (0,):
        raise RuntimeError("mailtls-scan failed (%d): %s" % (r.returncode, r.stderr.decode()[-500:]))
    return out
