"""The `openssl` part of tools/bench: the same farm STARTTLS probe run with
mailtls built against Debian's OpenSSL and against a newer one built from
source by tools/benchlib/newer_openssl.sh (bench-only; the default dependency
does not change).

Two phases, RUNS runs each, the scanners alternating inside a run:
  A. one farm built against Debian's OpenSSL serves every scanner, so only
     the scanner's library differs;
  B. the same with the farm built against the newer OpenSSL, which also gives
     the farm's CPU per session with each library.
Per cell: median scanner CPU us per probe (wait4 user+sys), hosts/s, farm CPU
us per session; and each library's own crypto floor (its `openssl speed`), so
the ratio to the floor is per library. The newest /opt/mailtls-openssl-V
with build-openssl-V/ in the repository is used, or $MAILTLS_OSSL_PREFIX and
$MAILTLS_OSSL_BUILD (both) when set.

OpenSSL 3.5's default TLS 1.3 key shares are X25519MLKEM768 AND X25519 (3.0:
X25519 only), so the newer scanner also runs a third time with
OPENSSL_CONF giving it 3.0's group list ("VERSION groups-as-3.0"): that row
isolates the library's own overhead from the post-quantum key share.
"""
import collections
import glob
import os
import re
import statistics
import subprocess
import sys

if __package__:
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


# ------------------------------------------------------ perf categories
# Used by hand (tools/BENCH.md, "Newer OpenSSL"): self CPU per probe of a
# `perf record -g` of one scanner run, summed by what the code is for.
# First match wins; the patterns are symbol-name prefixes.
PERF_CATS = [
    ("kernel", None, None),
    ("crypto (P-256, X25519, SHA-2/3, ML-KEM, AES-GCM, BN)",
     "libcrypto", r"(__)?ecp_nistz256|ecp_|x25519|ossl_x25519|fe_|fe51|ge_|cmov|sha512|sha256|"
     r"sha1|__?KeccakF|keccak|scalar_ntt|matrix_expand|ossl_ml_kem|ml_kem|aesni|_aesni|aes_|gcm_|"
     r"bn_|BN_|__bn|ossl_bn|ossl_ec_|ec_GFp|poly1305|chacha|ossl_ecdsa|ecdsa|cbd|rej_uniform|"
     r"inverse|scalar_mult"),
    ("pthread rwlocks", "libc", r"pthread_rwlock"),
    ("malloc/free/cleanse", "", r"(__libc_)?malloc|_int_|cfree|free|unlink_chunk|calloc|realloc|"
     r"tcache|CRYPTO_(malloc|zalloc|free|clear_free|realloc)|OPENSSL_cleanse"),
    ("name/method/property lookups", "", r"sa_doall|getrn|do_name|OPENSSL_LH|ossl_lh_|ossl_tolower|"
     r"OPENSSL_str(n)?casecmp|__str(n)?(case)?cmp|__strlen|ossl_fnv1a|ossl_namemap|ossl_method|"
     r"ossl_property|ossl_prop|ossl_decoder|OSSL_DECODER|decoder_|ossl_algorithm|OPENSSL_sk|"
     r"ossl_provider|OSSL_PARAM|ossl_param|ossl_ht|ossl_rcu|ossl_lib_ctx|evp_|EVP_|OBJ_|ossl_obj"),
    ("ASN.1/X509", "libcrypto", r"asn1|ASN1|x509|X509|d2i|i2d|c2i|i2c|ossl_x509|ossl_asn1"),
]


def perf_categories(data, probes):
    """{category: us per probe}, and a Counter of (dso, symbol) -> us per
    probe, from the leaf frame of every sample in perf.data."""
    p = subprocess.run(["perf", "script", "-G", "-i", data, "-F", "period,ip,sym,dso"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600)
    cats, syms = collections.Counter(), collections.Counter()
    for line in p.stdout.decode(errors="replace").splitlines():
        m = re.match(r"^\s*(\d+)\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$", line)
        if not m:
            continue
        us = int(m.group(1)) / 1000.0 / probes  # cpu-clock periods are ns
        sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(2))
        dso = os.path.basename(m.group(3))
        syms[(dso, sym)] += us
        cats[_perf_cat(dso, sym)] += us
    return cats, syms


def _perf_cat(dso, sym):
    if dso.startswith("[kernel"):
        return "kernel"
    for name, lib, pat in PERF_CATS[1:]:
        if dso.startswith(lib) and re.match(pat, sym):
            return name
    for lib in ("libssl", "libcrypto", "mailtls-scan", "libc"):
        if dso.startswith(lib):
            return lib + " other"
    return "other"


def perf_main(argv):
    """newssl.py PROBES A.data [B.data ...]: the category table, then the
    top symbols of each file."""
    probes, files = int(argv[0]), argv[1:]
    res = {f: perf_categories(f, probes) for f in files}
    names = [c[0] for c in PERF_CATS] + ["libssl other", "libcrypto other", "mailtls-scan other",
                                         "libc other", "other"]
    print("%-55s" % "self CPU, us per probe" + "".join("%14s" % os.path.basename(f)[:13]
                                                        for f in files))
    for n in names:
        print("%-55s" % n + "".join("%14.0f" % res[f][0][n] for f in files))
    print("%-55s" % "total" + "".join("%14.0f" % sum(res[f][0].values()) for f in files))
    for f in files:
        print("\ntop of %s (us per probe)" % f)
        for (dso, sym), us in res[f][1].most_common(20):
            print("  %6.1f  %-16s %s" % (us, dso[:16], sym))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: newssl.py PROBES PERF.data... (tools/bench runs the openssl part)")
    perf_main(sys.argv[1:])
