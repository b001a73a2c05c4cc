#!/bin/sh
# usage: prof-run.sh BUILD N [scanner-perf|farm-perf|farm-strace|farm-stat|none] [extra scanner args]
# (copy of the lead's /work/wt/prof/run.sh, plus the farm-strace and farm-stat modes)
# FARM_ENV="VAR=value ..." is given to the farm only.
# inside unshare -n: farm on port 25 for 127.20.x.y, scan N hosts
B=$1; N=$2; MODE=$3; shift 3
D=$(mktemp -d /tmp/prof.XXXX)
ip link set lo up
echo 65535 > /proc/sys/net/core/somaxconn
python3 -c "
n=$N
for i in range(n):
    print('127.%d.%d.%d' % (20 + i // 6400, (i % 6400) // 25, 1 + i % 25))
" > $D/targets
env $FARM_ENV $B/mailtls-farm --threads 2 --profiles starttls-auth=1 --smtp 25 --smtps none --imap none --imaps none --pop3 none --pop3s none --ready-file $D/ready > $D/farm.out 2> $D/farm.err &
FP=$!
for i in $(seq 50); do [ -s $D/ready ] && break; sleep 0.1; done
if [ "$MODE" = farm-perf ]; then perf record -g -o $D/farm.perf -p $FP 2>/dev/null & PP=$!; sleep 0.5; fi
if [ "$MODE" = farm-strace ]; then strace -c -f -o $D/farm.strace -p $FP & PP=$!; sleep 0.5; fi
if [ "$MODE" = farm-stat ]; then perf stat -e task-clock,context-switches,cpu-migrations,page-faults -o $D/farm.stat -p $FP & PP=$!; sleep 0.5; fi
F0=$(awk '{print $14+$15}' /proc/$FP/stat)
case "$MODE" in scanner-perf) PRE="perf record -g -o $D/scan.perf";; scanner-dwarf) PRE="perf record --call-graph dwarf,16384 -F 2000 -o $D/scan.perf";; strace) PRE="strace -c -f -o $D/strace.txt";; *) PRE="";; esac
/usr/bin/time -f "scan: wall %e s user %U sys %S maxrss %M KiB" $PRE $B/mailtls-scan -p 25/smtp -c 1000 --rate 0 -i $D/targets -o $D/out.json -q --ehlo-name bench.example --connect-timeout 30 --per-subnet 0 "$@"
F1=$(awk '{print $14+$15}' /proc/$FP/stat)
echo "farm cpu ticks: $((F1-F0)) (per host us: $(( (F1-F0)*10000/$N )))"
if [ -n "$PP" ]; then kill -INT $PP; wait $PP; fi
[ -f $D/farm.strace ] && head -30 $D/farm.strace
[ -f $D/farm.stat ] && cat $D/farm.stat
kill $FP; wait $FP 2>/dev/null
grep -c '"status":"ok"' $D/out.json | sed 's/^/ok records: /'
echo "dir: $D"
