"""Starting mailtls-selftest for a test or the demo: a throw-away certificate
(openssl req, so clients that verify can be given it), a state directory,
listeners on port 0 and the ready file that names the ports."""
import os
import random
import subprocess
import time

KINDS = ("smtp", "smtps", "imap", "imaps", "pop3", "pop3s")


def make_cert(tmp, ip):
    cert, key = os.path.join(tmp, f"cert-{ip}.pem"), os.path.join(tmp, f"key-{ip}.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=selftest.example",
                    "-addext", f"subjectAltName=DNS:selftest.example,IP:{ip}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def random_ip(second_octet=117):
    return f"127.{second_octet}.{random.randint(1, 254)}.{random.randint(1, 254)}"


def start(prog, state, ip, args=(), kinds=KINDS, cert=None, key=None):
    """Returns (process, ready_file) once the server listens."""
    os.makedirs(state, exist_ok=True)
    ready = os.path.join(state, "ready")
    if os.path.exists(ready):
        os.unlink(ready)
    argv = [prog, "serve", "--state", state, "--ready-file", ready] + list(args)
    for k in kinds:
        argv += ["--listen", f"{k}:{ip}:0"]
    if cert:
        argv += ["--cert", cert, "--key", key]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(state, "stderr"), "w"))
    for _ in range(200):
        if os.path.exists(ready):
            return p, ready
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("mailtls-selftest did not start: " + " ".join(argv))


def stop(p):
    p.terminate()
    try:
        return p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait()
