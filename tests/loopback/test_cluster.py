#!/usr/bin/env python3
"""Running on a cluster: the shipped Kubernetes Indexed Job and Slurm job
array, run here as N local processes with the variable each scheduler sets
(JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID), against the farm on loopback.
The union of their shards equals one single-machine scan of the same
targets, with no (target, port) in two shards; examples/merge-csv.sh and
mailtls-stats over the shard files agree with the single scan; the YAML
names what an Indexed Job needs; `--shard auto` fails clearly."""
import csv
import gzip
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile

import yaml

import looplib

BUILD = os.path.abspath(os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build")))
SRC = os.path.abspath(os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(__file__), "../..")))
SCAN = os.path.join(BUILD, "mailtls-scan")
EX = os.path.join(SRC, "examples")
# fast, deterministic farm profiles: a record's status depends only on its address
PROFILES = "starttls-auth=3,strict=1,no-tls=1,implicit-only=1"
TARGETS = "127.118.1.0/26\n127.118.2.7\n127.118.2.9:{port}/smtp\n127.118.3.0/29\n"
FAST = "-q --threads 1 --rate 0 --per-subnet 0 --connect-timeout 2 --read-timeout 3 --timeout 6"

check = looplib.Checks()


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def records(path):
    text = gzip.decompress(open(path, "rb").read()).decode("utf-8", "surrogateescape")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def keys(recs):
    return [(r["ip"], r["port"], r["status"]) for r in recs]


def base_env(extra):
    env = {k: v for k, v in os.environ.items() if k not in ("JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID")}
    env["PATH"] = BUILD + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def run_shards(name, n, argv, env_of, cwd):
    """Starts the n shard processes at once, as the scheduler would."""
    procs = [subprocess.Popen(argv, env=env_of(i), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(n)]
    ok = True
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=120)
        if p.returncode != 0:
            ok = False
            print("  %s shard %d: exit %d: %s" % (name, i, p.returncode, err.strip()[-300:]))
    check(ok, "%s: all %d shard processes exit 0" % (name, n))


def compare(name, parts, single):
    shard_keys = [set((ip, port) for ip, port, _ in keys(records(p))) for p in parts]
    union = [k for p in parts for k in keys(records(p))]
    overlap = sum(len(a & b) for i, a in enumerate(shard_keys) for b in shard_keys[i + 1:])
    check(overlap == 0, "%s: no (ip, port) in two shards (%d in two)" % (name, overlap))
    check(len(union) == len(set(union)), "%s: no (ip, port) twice within the shards" % name)
    check(sorted(union) == sorted(single), "%s: union of %d shards = single-machine scan (%d vs %d records)"
          % (name, len(parts), len(union), len(single)))
    check(sum(1 for s in shard_keys if s) > 1, "%s: the work is spread (%s records per shard)"
          % (name, [len(s) for s in shard_keys]))


def check_yaml(docs):
    job = next((d for d in docs if d.get("kind") == "Job"), None)
    check(job is not None and job.get("apiVersion") == "batch/v1", "k8s: a batch/v1 Job")
    spec = job["spec"]
    check(spec.get("completionMode") == "Indexed", "k8s: completionMode: Indexed")
    n = spec.get("completions")
    check(isinstance(n, int) and n > 1 and isinstance(spec.get("parallelism"), int),
          "k8s: completions (%s) and parallelism (%s) set" % (n, spec.get("parallelism")))
    pod = spec["template"]["spec"]
    check(pod.get("restartPolicy") in ("Never", "OnFailure"), "k8s: restartPolicy Never or OnFailure")
    c = pod["containers"][0]
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    check(env.get("SHARDS") == str(n), "k8s: SHARDS (%s) = completions (%s)" % (env.get("SHARDS"), n))
    script = " ".join(c.get("command", []) + c.get("args", []))
    check("--shard auto" in script and "JOB_COMPLETION_INDEX" in script and ".csv.gz" in script,
          "k8s: the command scans --shard auto into a per-index gzip CSV")
    req = c.get("resources", {}).get("requests", {})
    check(bool(req.get("memory")) and bool(req.get("cpu")), "k8s: cpu and memory requests (%s)" % req)
    mounts = [m["mountPath"] for m in c.get("volumeMounts", [])]
    check(any(env.get("OUT_DIR", "").startswith(m) for m in mounts), "k8s: OUT_DIR is on a mounted volume")
    claims = [v["persistentVolumeClaim"]["claimName"] for v in pod.get("volumes", []) if "persistentVolumeClaim" in v]
    pvcs = [d["metadata"]["name"] for d in docs if d.get("kind") == "PersistentVolumeClaim"]
    check(claims and all(cl in pvcs for cl in claims), "k8s: the volume's claim is defined (%s)" % claims)
    return n, c, env


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-cluster-")
    port = free_port()
    farm = looplib.start_farm(BUILD, tmp, ["--bind", "0.0.0.0", "--smtp", str(port), "--profiles", PROFILES])
    try:
        targets = os.path.join(tmp, "targets.txt")
        open(targets, "w").write(TARGETS.format(port=port))
        ports = "%d/smtp" % port
        single_out = os.path.join(tmp, "single.csv.gz")
        r = subprocess.run([SCAN] + FAST.split() + ["--seed", "7", "-p", ports, "-i", targets, "-f", "csv",
                                                    "-o", single_out], capture_output=True, text=True, timeout=120)
        check(r.returncode == 0, "single-machine scan exits 0 (%s)" % r.stderr.strip()[-200:])
        single = keys(records(single_out))
        check(len(single) == 64 + 2 + 8, "single-machine scan: one record per target (%d)" % len(single))

        # Kubernetes: the container's command, env from the YAML, paths moved here
        docs = list(yaml.safe_load_all(open(os.path.join(EX, "kubernetes/indexed-job.yaml"))))
        n, c, env = check_yaml(docs)
        k8s_out = os.path.join(tmp, "k8s-results")
        env.update(INPUT=targets, OUT_DIR=k8s_out, PORTS=ports, SCAN_OPTS=FAST)
        run_shards("k8s", n, c["command"] + c["args"],
                   lambda i: base_env(dict(env, JOB_COMPLETION_INDEX=str(i))), tmp)
        k8s_parts = [os.path.join(k8s_out, "part-%d.csv.gz" % i) for i in range(n)]
        compare("k8s", k8s_parts, single)

        # Slurm: the batch script as sbatch runs it, SLURM_ARRAY_TASK_ID per task
        sbatch = os.path.join(EX, "slurm/array.sbatch")
        m = re.search(r"^#SBATCH --array=0-(\d+)$", open(sbatch).read(), re.M)
        check(m is not None, "slurm: #SBATCH --array=0-N")
        ns = int(m.group(1)) + 1
        sdir = os.path.join(tmp, "slurm")
        os.mkdir(sdir)
        os.symlink(targets, os.path.join(sdir, "targets.txt"))
        senv = dict(PORTS=ports, SCAN_OPTS=FAST)  # SHARDS, INPUT, OUT_DIR: the script's defaults
        run_shards("slurm", ns, ["/bin/sh", sbatch], lambda i: base_env(dict(senv, SLURM_ARRAY_TASK_ID=str(i))), sdir)
        s_parts = [os.path.join(sdir, "results/part-%d.csv.gz" % i) for i in range(ns)]
        compare("slurm", s_parts, single)

        # a retried task continues its shard: its file is complete, nothing is added
        before = keys(records(s_parts[0]))
        r = subprocess.run(["/bin/sh", sbatch], env=base_env(dict(senv, SLURM_ARRAY_TASK_ID="0")), cwd=sdir,
                           capture_output=True, text=True, timeout=120)
        check(r.returncode == 0 and sorted(keys(records(s_parts[0]))) == sorted(before),
              "slurm: a requeued task resumes its finished shard without duplicates (%s)" % r.stderr.strip()[-200:])

        # merge step: one CSV with one header, and mailtls-stats over the shard files
        merged = os.path.join(tmp, "all.csv.gz")
        subprocess.run(["sh", os.path.join(EX, "merge-csv.sh"), merged] + k8s_parts, check=True, timeout=60)
        text = gzip.decompress(open(merged, "rb").read()).decode("utf-8", "surrogateescape")
        header = text.split("\n", 1)[0]
        check(text.count(header + "\n") == 1, "merge-csv.sh: one header row")
        check(sorted(keys(records(merged))) == sorted(single), "merge-csv.sh: merged file = single-machine scan")
        stats = [os.path.join(BUILD, "mailtls-stats"), "--format", "json"]
        a = subprocess.run(stats + k8s_parts, capture_output=True, text=True, timeout=60)
        b = subprocess.run(stats + [single_out], capture_output=True, text=True, timeout=60)
        sa = json.loads(a.stdout) if a.returncode == 0 and a.stdout else {}
        # several files add two summary rows: how many, and keys seen in more than one (none for shards)
        extra = {r["metric"]: r["value"] for r in sa.get("summary", []) if r["metric"] in ("input_files", "repeated_keys")}
        check(extra == {"input_files": n, "repeated_keys": 0},
              "mailtls-stats over the shard files: %d input files, no key repeated (%s)" % (n, extra))
        if sa:
            sa["summary"] = [r for r in sa["summary"] if r["metric"] not in extra]
        check(sa and sa == json.loads(b.stdout), "mailtls-stats over the %d shard files = over the single scan" % n)

        # --shard auto: precedence and errors
        two = [SCAN] + FAST.split() + ["-p", ports, "-f", "csv", "--shards", "2", "--shard", "auto",
                                       "127.118.2.7", "127.118.2.8"]
        r = subprocess.run(two, env=base_env({"JOB_COMPLETION_INDEX": "1", "SLURM_ARRAY_TASK_ID": "0"}),
                           capture_output=True, text=True, timeout=60)
        ips = [x["ip"] for x in csv.DictReader(io.StringIO(r.stdout))]
        check(r.returncode == 0 and ips == ["127.118.2.8"],
              "JOB_COMPLETION_INDEX wins over SLURM_ARRAY_TASK_ID (shard 1 scanned %s)" % ips)
        for extra, want in (({}, "neither JOB_COMPLETION_INDEX"),
                            ({"SLURM_ARRAY_TASK_ID": "2"}, "SLURM_ARRAY_TASK_ID=2 must be smaller than --shards 2"),
                            ({"JOB_COMPLETION_INDEX": "1x"}, "JOB_COMPLETION_INDEX='1x'")):
            r = subprocess.run(two, env=base_env(extra), capture_output=True, text=True, timeout=60)
            check(r.returncode == 2 and want in r.stderr and not r.stdout,
                  "--shard auto with %s: exit 2, says %r (%d: %s)" % (extra or "no variable", want, r.returncode,
                                                                      r.stderr.strip()))
    finally:
        farm.terminate()
        farm.wait(timeout=10)
        subprocess.run(["rm", "-rf", tmp])
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
