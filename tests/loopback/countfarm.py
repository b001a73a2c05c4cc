"""countfarm.py - mailtls-farm on a free port whose final stats line says
how many connections it accepted (the server-side count the resume and
dedup tests compare with the records), and a free-port helper."""
import json
import os
import signal
import socket
import subprocess
import time


def free_port():
    """A TCP port free on 0.0.0.0 now (the farm binds every 127.x.y.z)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("0.0.0.0", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class CountingFarm:
    """mailtls-farm with one SMTP port; stop() returns its accepted count."""

    def __init__(self, build, tmp, port, profiles="starttls-auth=1", name="cfarm"):
        ready = os.path.join(tmp, "%s-%d-ready.json" % (name, time.monotonic_ns()))
        args = [os.path.join(build, "mailtls-farm"), "--smtp", str(port)]
        for svc in ("--smtps", "--imap", "--imaps", "--pop3", "--pop3s"):
            args += [svc, "none"]
        args += ["--profiles", profiles, "--ready-file", ready]
        self.p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(200):
            if os.path.exists(ready) and os.path.getsize(ready) > 0:
                return
            if self.p.poll() is not None:
                break
            time.sleep(0.05)
        self.p.kill()
        raise RuntimeError("mailtls-farm did not start on port %d" % port)

    def stop(self):
        """Stops the farm; returns the number of connections it accepted."""
        self.p.send_signal(signal.SIGTERM)
        out, _ = self.p.communicate(timeout=30)
        for line in out.splitlines():
            if line.startswith("{"):
                stats = json.loads(line)
                if stats.get("final"):
                    return stats["accepted"]
        raise RuntimeError("mailtls-farm printed no final stats line")
