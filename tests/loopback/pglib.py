"""A private PostgreSQL cluster for tests: trust auth, a unix socket in a
temp dir, no TCP; started as the postgres user when run as root (initdb
refuses root). Used by test_ndjson_consumers.py and test_sql_ddl.py."""
import glob
import os
import shutil
import subprocess


def pg_bin(name):
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/" + name),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return found[-1] if found else shutil.which(name)


class Postgres:
    """A private cluster: trust auth, unix socket in a temp dir, no TCP."""

    def __init__(self, tmp):
        self.dir = os.path.join(tmp, "pg")
        os.mkdir(self.dir)
        self.as_user = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(self.dir, "postgres", "postgres")
            os.chmod(tmp, 0o755)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.data = os.path.join(self.dir, "data")
        self.started = False

    def run(self, args, **kw):
        return subprocess.run(self.as_user + args, capture_output=True, text=True, timeout=120, **kw)

    def start(self):
        r = self.run([pg_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                      "--locale=C", "--no-sync"])
        if r.returncode != 0:
            return "initdb: " + r.stderr.strip()[:300]
        opts = "-c listen_addresses='' -k %s -p 5432 -c fsync=off -c shared_buffers=16MB" % self.dir
        r = self.run([pg_bin("pg_ctl"), "-D", self.data, "-l", os.path.join(self.dir, "log"), "-w", "-t", "60",
                      "-o", opts, "start"])
        if r.returncode != 0:
            return "pg_ctl start: " + r.stderr.strip()[:300]
        self.started = True
        return None

    def psql(self, sql, stdin=None):
        return self.run([pg_bin("psql"), "-h", self.dir, "-p", "5432", "-U", "postgres", "-d", "postgres",
                         "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], input=stdin)

    def stop(self):
        if self.started:
            self.run([pg_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "-w", "stop"])
