#!/bin/sh
# The main job on a built-in local demo: starts a farm of mail servers on
# loopback (mailtls-farm: every 127.1.0.x address behaves differently),
# scans 64 of those hosts on the seven mail ports, and prints what it found.
# Nothing leaves the machine. Run as root on Debian 12.
set -eu
cd "$(dirname "$0")/.."
./tools/setup-debian.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

work=$(mktemp -d /tmp/mailtls-demo.XXXXXX)
farm_pid=""
cleanup() { [ -n "$farm_pid" ] && kill "$farm_pid" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

# The standard mail ports make the demo read like a real scan (and let
# mailtls-stats apply Shodan's port-based queries); if something on this
# machine already holds them, high ports are used instead.
start_farm() {
  rm -f "$work/ready.json"
  ./build/mailtls-farm $1 --delay-ms 1500 --ready-file "$work/ready.json" >"$work/farm.log" 2>&1 &
  farm_pid=$!
  i=0
  while [ ! -s "$work/ready.json" ]; do
    kill -0 "$farm_pid" 2>/dev/null || { farm_pid=""; return 1; }
    i=$((i + 1)); [ $i -gt 100 ] && return 1
    sleep 0.1
  done
}
if start_farm "--smtp 25,587 --smtps 465 --imap 143 --imaps 993 --pop3 110 --pop3s 995"; then
  ports="25,587,465,143,993,110,995"
else
  echo "(standard mail ports are busy on this machine: the demo uses 12xxx ports)"
  start_farm "--smtp 12525 --smtps 12465 --imap 12143 --imaps 12993 --pop3 12110 --pop3s 12995" ||
    { echo "farm did not start:"; cat "$work/farm.log"; exit 1; }
  ports="12525/smtp,12465/smtps,12143/imap,12993/imaps,12110/pop3,12995/pop3s"
fi

echo "== mailtls-scan: 64 hosts (127.1.0.0/26) x 7 ports, served by mailtls-farm on loopback"
./build/mailtls-scan --ehlo-name demo.mailtls.invalid --probe-auth -p "$ports" \
  --read-timeout 3 --timeout 8 -o "$work/demo.json" --metadata "$work/meta.json" 127.1.0.0/26

echo
echo "== two records (one per line in $work/demo.json)"
python3 - "$work/demo.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
shown = 0
for r in recs:
    if r["protocol"] == "smtp" and r["status"] == "ok" and r["starttls_ok"] and shown == 0:
        print(json.dumps(r, indent=None)[:1500]); shown += 1
for r in recs:
    if r["status"] not in ("ok",):
        print(json.dumps({k: r[k] for k in ("ip", "port", "protocol", "status", "phase", "error")})); break
print()
print("== what the scan found, per port")
ports = sorted({r["port"] for r in recs})
print("%-6s %-5s %6s %9s %9s %11s %9s %9s" % ("port", "proto", "hosts", "ok", "starttls", "plain-auth", "cleartext", "TLSv1.3"))
for p in ports:
    rs = [r for r in recs if r["port"] == p]
    print("%-6d %-5s %6d %9d %9d %11d %9d %9d" % (
        p, rs[0]["protocol"] + ("s" if rs[0]["tls_mode"] == "implicit" else ""), len(rs),
        sum(r["status"] == "ok" for r in rs),
        sum(bool(r["starttls_ok"]) for r in rs),
        sum(bool(r["plaintext_auth_before_tls"]) for r in rs),
        sum(r.get("auth_probe") == "cleartext-evaluated" for r in rs),
        sum(r["tls_version"] == "TLSv1.3" for r in rs)))
print()
print("== statuses:", dict(sorted(__import__("collections").Counter(r["status"] for r in recs).items())))
PY
echo
echo "== mailtls-stats: Shodan-style indicators and facets from the same file"
./build/mailtls-stats --top 3 "$work/demo.json" | sed -n '/== indicators/,/== facet country/p' 
echo
echo "records: $work/demo.json   summary: $work/meta.json"
