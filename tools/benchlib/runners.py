"""One function per client tools/bench measures. Each runs its tool to the
end (bounded by a timeout, then killed), and returns a dict:

  tool, hosts, ok (hosts with a complete result), wall_s, cpu_s (client CPU:
  rusage of the tool and all its descendants), peak_rss_kib (largest summed
  RSS of the tool's process tree, sampled every 0.1 s, or the kernel's
  ru_maxrss when larger), rc, timed_out, note.

Nothing here resolves a name: targets are 127.x addresses, nmap runs with
-n, testssl with --nodns none, s_client with -connect IP:PORT.
"""
import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET

from . import common
from .common import spawn

# Options every mailtls run gets (set by tools/bench after reading --help).
MAILTLS_EXTRA = []


def _result(tool, hosts, ok, t0, rc, ru, timed_out, sampler, note=""):
    wall = time.monotonic() - t0
    peak = sampler.done()
    return dict(tool=tool, hosts=hosts, ok=ok, wall_s=wall, cpu_s=common.ru_cpu_s(ru),
                peak_rss_kib=max(peak, ru.ru_maxrss), rc=rc, timed_out=timed_out, note=note)


def mailtls(scan_bin, tmp, name, targets, port_spec, concurrency, extra=(), timeout=300,
            threads=None, keep_output=False):
    tfile = os.path.join(tmp, "targets-%s.txt" % name)
    common.write_lines(tfile, targets)
    out = os.path.join(tmp, "scan-%s.json" % name)
    meta = os.path.join(tmp, "scan-%s.meta.json" % name)
    cmd = [scan_bin] + (["-p", port_spec] if port_spec else []) + [
           "-c", str(concurrency), "--rate", "0", "-i", tfile, "-o", out, "--metadata", meta, "-q", "--ehlo-name", "bench.example",
           "--connect-timeout", "30"] + MAILTLS_EXTRA + list(extra)
    if threads:
        cmd += ["--threads", str(threads)]
    err = os.path.join(tmp, "scan-%s.err" % name)
    t0 = time.monotonic()
    p = spawn(cmd, nofile=max(65536, 2 * concurrency + 4096), stderr=open(err, "w"))
    sampler = common.RssSampler(p.pid, tree=False)
    rc, ru, to = common.wait_rusage(p, timeout)
    ok, note, m = 0, "", {}
    try:
        with open(meta) as f:
            m = json.load(f)
        st = m.get("status", {})
        ok = st.get("ok", 0)
        bad = {k: v for k, v in st.items() if k != "ok"}
        if bad:
            note = "status " + ",".join("%s=%d" % kv for kv in sorted(bad.items()))
    except (OSError, ValueError):
        note = "no metadata (exit %s): %s" % (rc, open(err).read().strip()[-300:])
    r = _result("mailtls", len(targets), ok, t0, rc, ru, to, sampler, note)
    r["meta"] = m
    r["output"] = out
    r["cmd"] = cmd
    if rc not in (0, None) and not to:
        r["note"] = (r["note"] + "; " if r["note"] else "") + "exit %d: %s" % (
            rc, open(err).read().strip()[-300:])
    return r


def records(path):
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    yield {"_bad": line[:200]}


def sclient(tmp, name, targets, port, parallel=50, timeout=300, ca_file=None):
    if not shutil.which("openssl"):
        return None
    tfile = os.path.join(tmp, "sclient-%s.txt" % name)
    common.write_lines(tfile, ["%s:%d" % (t, port) for t in targets])
    err = os.path.join(tmp, "sclient-%s.err" % name)
    # -no-CAfile -no-CApath -no-CAstore: the cheapest correct way not to load
    # the system bundle (a nonexistent -CApath is an error in OpenSSL 3).
    cmd = ["xargs", "-a", tfile, "-P", str(parallel), "-I{}", "openssl", "s_client", "-connect",
           "{}", "-starttls", "smtp", "-brief", "-no-CApath", "-no-CAstore"]
    cmd += ["-CAfile", ca_file] if ca_file else ["-no-CAfile"]
    t0 = time.monotonic()
    p = spawn(cmd, stderr=open(err, "w"))
    sampler = common.RssSampler(p.pid)
    rc, ru, to = common.wait_rusage(p, timeout)
    with open(err, errors="replace") as f:
        ok = f.read().count("CONNECTION ESTABLISHED")
    return _result("openssl s_client", len(targets), ok, t0, rc, ru, to, sampler,
                   "%d at a time" % parallel)


def nmap(tmp, name, targets, port, scripts, timeout=600, check="ssl-cert"):
    if not shutil.which("nmap"):
        return None
    tfile = os.path.join(tmp, "nmap-%s.txt" % name)
    common.write_lines(tfile, targets)
    xml = os.path.join(tmp, "nmap-%s.xml" % name)
    cmd = ["nmap", "-n", "-Pn", "-sT", "-p", str(port), "--script", scripts, "-iL", tfile,
           "-oX", xml, "--host-timeout", "300s"]
    t0 = time.monotonic()
    p = spawn(cmd)
    sampler = common.RssSampler(p.pid)
    rc, ru, to = common.wait_rusage(p, timeout)
    ok, versions = 0, set()
    try:
        for host in ET.parse(xml).getroot().iter("host"):
            for sc in host.iter("script"):
                if sc.get("id") == check and "ERROR" not in (sc.get("output") or ""):
                    ok += 1
                    for tbl in sc.findall("table"):
                        if tbl.get("key", "").startswith("TLS"):
                            versions.add(tbl.get("key"))
    except (OSError, ET.ParseError):
        pass
    r = _result("nmap", len(targets), ok, t0, rc, ru, to, sampler, "--script " + scripts)
    r["versions"] = sorted(versions)
    r["cmd"] = cmd
    return r


def sslscan(tmp, name, targets, port, starttls="smtp", parallel=4, timeout=900):
    """sslscan --xml=- per host (versions, suites, groups), `parallel` at a time."""
    if not shutil.which("sslscan"):
        return None
    tfile = os.path.join(tmp, "sslscan-%s.txt" % name)
    common.write_lines(tfile, ["%s:%d" % (t, port) for t in targets])
    out = os.path.join(tmp, "sslscan-%s.out" % name)
    cmd = ["xargs", "-a", tfile, "-P", str(parallel), "-I{}", "sslscan", "--xml=-", "--no-colour",
           "--no-heartbleed"] + (["--starttls-" + starttls] if starttls else []) + ["{}"]
    t0 = time.monotonic()
    p = spawn(cmd, stdout=open(out, "w"))
    sampler = common.RssSampler(p.pid)
    rc, ru, to = common.wait_rusage(p, timeout)
    with open(out, errors="replace") as f:
        text = f.read()
    ok = text.count("<cipher status=\"preferred\" sslversion=\"TLSv1.2\"") + \
        text.count("<cipher status=\"preferred\" sslversion=\"TLSv1.3\"")
    r = _result("sslscan", len(targets), min(ok, len(targets)), t0, rc, ru, to, sampler,
                "%d at a time" % parallel)
    r["cmd"] = cmd
    return r


def testssl(tmp, name, targets, port, timeout=900):
    binary = shutil.which("testssl") or shutil.which("testssl.sh")
    if not binary:
        return None
    flags = ["--nodns", "none", "--quiet", "--color", "0", "--warnings", "off",
             "--connect-timeout", "10", "--openssl-timeout", "10"]
    mfile = os.path.join(tmp, "testssl-%s.txt" % name)
    common.write_lines(mfile, [" ".join(flags + ["-t", "smtp", "-p", "%s:%d" % (t, port)])
                               for t in targets])
    out = os.path.join(tmp, "testssl-%s.out" % name)
    wdir = os.path.join(tmp, "testssl-%s" % name)
    os.makedirs(wdir, exist_ok=True)
    cmd = [binary, "--mode", "parallel"] + flags + ["--file", mfile]
    t0 = time.monotonic()
    p = spawn(cmd, stdout=open(out, "w"), stderr=subprocess.STDOUT, cwd=wdir)
    sampler = common.RssSampler(p.pid)
    rc, ru, to = common.wait_rusage(p, timeout)
    with open(out, errors="replace") as f:
        text = f.read()
    ok = sum(1 for line in text.splitlines() if line.strip().startswith("TLS 1.2")
             and "offered" in line and "not offered" not in line)
    r = _result("testssl.sh", len(targets), ok, t0, rc, ru, to, sampler,
                "--mode parallel -p")
    r["cmd"] = cmd
    return r
