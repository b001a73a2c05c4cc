"""The `openssl` part of tools/bench: the same farm STARTTLS probe run with
mailtls built against Debian's OpenSSL and against a newer one built from
source by tools/benchlib/newer_openssl.sh (bench-only; the default dependency
does not change).

Two phases, RUNS runs each, the two scanners alternating inside a run:
  A. one farm built against Debian's OpenSSL serves both scanners, so only
     the scanner's library differs;
  B. the same with the farm built against the newer OpenSSL, which also gives
     the farm's CPU per session with each library.
Per cell: median scanner CPU us per probe (wait4 user+sys), hosts/s, farm CPU
us per session; and each library's own crypto floor (its `openssl speed`), so
the ratio to the floor is per library.

OpenSSL 3.5's default TLS 1.3 key shares are X25519MLKEM768 AND X25519 (3.0:
X25519 only), so the newer scanner also runs a third time with
OPENSSL_CONF giving it 3.0's group list ("3.x groups-as-3.0"): that row
isolates the library's own overhead from the post-quantum key share.
"""
import glob
import os
import re
import statistics
import subprocess

from . import runners, servers
from .common import BenchError, fmt, log, table

RUNS = 3
NOT_BUILT = "not built: run tools/benchlib/newer_openssl.sh"


def _version_key(v):
    return [int(x) for x in re.findall(r"\d+", v)]


def find_new(repo):
    """(version, prefix, build dir) of the newest complete build, or None.
    $MAILTLS_OSSL_PREFIX / $MAILTLS_OSSL_BUILD pick one explicitly."""
    prefix, build = os.environ.get("MAILTLS_OSSL_PREFIX"), os.environ.get("MAILTLS_OSSL_BUILD")
    if prefix and build:
        cands = [(os.path.basename(prefix).rsplit("-", 1)[-1], prefix, build)]
    else:
        cands = []
        for p in glob.glob("/opt/mailtls-openssl-*"):
            v = p.rsplit("-", 1)[-1]
            cands.append((v, p, os.path.join(repo, "build-openssl-" + v)))
        cands.sort(key=lambda c: _version_key(c[0]), reverse=True)
    for v, p, b in cands:
        bins = [os.path.join(b, "mailtls-" + t) for t in ("scan", "farm")]
        if os.access(os.path.join(p, "bin", "openssl"), os.X_OK) and \
                all(os.access(x, os.X_OK) for x in bins):
            return v, p, b
    return None


def loaded_libssl(binary):
    """Path of the libssl the dynamic loader picks for binary (ldd)."""
    r = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       timeout=30)
    m = re.search(r"libssl\.so\S* => (\S+)", r.stdout.decode())
    return m.group(1) if m else "?"


def speed_floor(openssl_bin):
    """The crypto floor of one TLS 1.3 probe with this openssl's speed test
    (same formula as tools/bench's floor part), as a dict, or None."""
    r = subprocess.run([openssl_bin, "speed", "-mr", "-seconds", "1", "ecdhx25519", "ecdsap256"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    x25519 = verify = None
    for line in r.stdout.decode().splitlines():
        f = line.split(":")
        if line.startswith("+F5:") and len(f) > 3 and f[2] == "253":
            x25519 = 1e6 / float(f[3])
        if line.startswith("+F4:") and len(f) > 4 and f[2] == "256":
            verify = 1e6 / float(f[4])
    if not (x25519 and verify):
        return None
    fl = dict(x25519_us=x25519, verify_us=verify, floor_us=2 * x25519 + verify)
    # ML-KEM-768 (3.5+): what X25519MLKEM768 adds on the client, keygen
    # always when offered, decapsulation when the server chooses it.
    r = subprocess.run([openssl_bin, "speed", "-mr", "-seconds", "1", "ML-KEM-768"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=120)
    for line in r.stdout.decode().splitlines():
        f = line.split(":")
        if line.startswith("+F9:") and len(f) > 4 and float(f[2]) > 0 and float(f[4]) > 0:
            fl["mlkem_keygen_us"], fl["mlkem_decaps_us"] = 1e6 / float(f[2]), 1e6 / float(f[4])
    return fl


def _version_line(openssl_bin):
    r = subprocess.run([openssl_bin, "version"], stdout=subprocess.PIPE, timeout=30)
    return r.stdout.decode().strip()


# 3.0's default groups, X25519 first and the only key share (system_default
# applies to every SSL_CTX the program makes).
GROUPS_30 = """openssl_conf = conf
[conf]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
Groups = X25519:P-256:X448:P-521:P-384:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192
"""


def _scan(ctx, scanner, farm, hosts, name):
    """One scanner run; scanner CPU us/probe, hosts/s, farm CPU us/session
    (one session per host: the farm's stats line lags by up to 1 s)."""
    scan_bin, conf = scanner
    f0 = farm.cpu_s()
    saved = os.environ.get("OPENSSL_CONF")
    if conf:
        os.environ["OPENSSL_CONF"] = conf  # runners.mailtls's child inherits it
    try:
        r = runners.mailtls(scan_bin, ctx["tmp"], name, hosts, "%d/smtp" % farm.port, 1000,
                            timeout=600)
    finally:
        if saved is None:
            os.environ.pop("OPENSSL_CONF", None)
        else:
            os.environ["OPENSSL_CONF"] = saved
    f1 = farm.cpu_s()
    if r["ok"] < 0.99 * len(hosts):
        raise BenchError("%s: only %d of %d probes complete (%s)"
                         % (name, r["ok"], len(hosts), r.get("note", "")))
    try:
        os.unlink(r["output"])
    except OSError:
        pass
    return dict(cpu_us=r["cpu_s"] * 1e6 / r["ok"], hps=r["ok"] / r["wall_s"],
                farm_us=(f1 - f0) * 1e6 / len(hosts), ok=r["ok"], cmd=r["cmd"])


def _phase(ctx, farm_build, scans, hosts, port, tag):
    """RUNS runs of every scanner against one farm from farm_build; the
    order alternates so neither scanner always runs on a warmer machine."""
    farm = servers.Farm(farm_build, ctx["tmp"], "ossl-" + tag, port, "starttls-auth=1")
    res = {k: [] for k in scans}
    try:
        for i in range(RUNS):
            order = list(scans) if i % 2 == 0 else list(reversed(list(scans)))
            for k in order:
                log("openssl: farm %s, scanner %s, run %d/%d (%d hosts)"
                    % (tag, k, i + 1, RUNS, len(hosts)))
                res[k].append(_scan(ctx, scans[k], farm, hosts,
                                    re.sub(r"\W", "_", "ossl-%s-%s-%d" % (tag, k, i))))
    finally:
        farm.stop()
    return res


def _med(runs, key):
    return statistics.median(r[key] for r in runs)


def section(ctx, out, R, repo, hosts, port):
    """tools/bench's `openssl` part: prints its tables, fills R['openssl']."""
    out("\n== OpenSSL: Debian's vs a newer build (bench-only, tools/benchlib/newer_openssl.sh) ==")
    new = find_new(repo)
    if not new:
        out(NOT_BUILT)
        return
    ver, prefix, nbuild = new
    dbuild = ctx["build"]
    libs = {"debian": "/usr/bin/openssl", ver: os.path.join(prefix, "bin", "openssl")}
    conf = os.path.join(ctx["tmp"], "groups-as-3.0.cnf")
    with open(conf, "w") as f:
        f.write(GROUPS_30)
    nscan = os.path.join(nbuild, "mailtls-scan")
    g30 = ver + " groups-as-3.0"
    scans = {"debian": (os.path.join(dbuild, "mailtls-scan"), None), ver: (nscan, None),
             g30: (nscan, conf)}
    lib_of = {"debian": "debian", ver: ver, g30: ver}
    farms = {"debian": dbuild, ver: nbuild}
    for k in ("debian", ver):
        out("scanner %-7s %s -> %s" % (k, scans[k][0], loaded_libssl(scans[k][0])))
    out("scanner %s: the same binary with OPENSSL_CONF=%s (Groups = X25519:P-256:..., "
        "one key share)" % (g30, conf))
    if not loaded_libssl(nscan).startswith(prefix + "/"):
        raise BenchError("%s does not load %s's libssl" % (nscan, prefix))
    # RUNS alternating speed runs per library, median of each figure: one
    # run on a shared machine can be off by a third.
    samples = {k: [] for k in libs}
    for _ in range(RUNS):
        for k, o in libs.items():
            f = speed_floor(o)
            if f:
                samples[k].append(f)
    floors = {k: ({key: statistics.median(f[key] for f in v) for key in v[0]} if v else None)
              for k, v in samples.items()}
    for k, o in libs.items():
        out("floor   %-7s %s: %s us (X25519 %s, P-256 verify %s)" % (
            k, _version_line(o), fmt(floors[k]["floor_us"], 1) if floors[k] else "?",
            fmt(floors[k]["x25519_us"], 1) if floors[k] else "?",
            fmt(floors[k]["verify_us"], 1) if floors[k] else "?"))
        if floors[k] and "mlkem_keygen_us" in floors[k]:
            out("        %-7s ML-KEM-768 keygen %s us, decaps %s us: X25519MLKEM768 offered adds "
                "the keygen, negotiated adds both" % (k, fmt(floors[k]["mlkem_keygen_us"], 1),
                                                      fmt(floors[k]["mlkem_decaps_us"], 1)))
    res = {}
    for fk in ("debian", ver):
        res[fk] = _phase(ctx, farms[fk], scans, hosts, port, fk)
    rows = []
    for fk in res:
        for sk in scans:
            runs = res[fk][sk]
            cpu = _med(runs, "cpu_us")
            fl = floors[lib_of[sk]]
            rows.append(["farm " + fk, "scan " + sk, fmt(cpu), fmt(cpu / fl["floor_us"], 2) if fl
                         else "?", fmt(_med(runs, "hps")), fmt(_med(runs, "farm_us")),
                         " ".join(fmt(r["cpu_us"]) for r in runs)])
    out("%d hosts per run, median of %d runs; scanner as in part 2 (-c 1000 --rate 0 %s)"
        % (len(hosts), RUNS, " ".join(runners.MAILTLS_EXTRA)))
    out(table(["farm", "scanner", "scanner CPU us/probe", "x own floor", "hosts/s",
               "farm CPU us/session", "scanner CPU each run"], rows))
    ratio = {fk: {sk: _med(res[fk][sk], "cpu_us") / _med(res[fk]["debian"], "cpu_us")
                  for sk in (ver, g30)} for fk in res}
    for fk in res:
        out("scanner CPU/probe over Debian's, farm %s: OpenSSL %s %s, %s %s"
            % (fk, ver, fmt(ratio[fk][ver], 2), g30, fmt(ratio[fk][g30], 2)))
    # Farm CPU per session with the Debian scanner (X25519 either way).
    fratio = _med(res[ver]["debian"], "farm_us") / _med(res["debian"]["debian"], "farm_us")
    out("farm CPU/session (Debian scanner, X25519), OpenSSL %s farm over Debian's: %s"
        % (ver, fmt(fratio, 2)))
    R["openssl"] = dict(version=ver, prefix=prefix, build=nbuild, floors=floors, ratio=ratio,
                        farm_ratio=fratio, hosts=len(hosts),
                        runs={fk: {sk: [{k: v for k, v in r.items() if k != "cmd"} for r in rs]
                                   for sk, rs in res[fk].items()} for fk in res})
