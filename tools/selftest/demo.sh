#!/bin/sh
# The self-test on loopback in two commands (run from the source tree,
# after building into ./build or $MAILTLS_BUILD):
#   tools/selftest/demo.sh serve                 # terminal 1: the server
#   tools/selftest/demo.sh try curl-smtp-ssl     # terminal 2: one client, every case
#   tools/selftest/demo.sh try --list            # the client names
# ADDR (default 127.0.0.1) and PORT_BASE (default 10000: smtp 10025,
# smtps 10465, imap 10143, imaps 10993, pop3 10110, pop3s 10995) place the
# listeners; STATE (default /tmp/mailtls-selftest-demo) holds the event
# log, the mode store, the ready file and a certificate made by openssl.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${MAILTLS_BUILD:-$here/../../build}
prog=$build/mailtls-selftest
addr=${ADDR:-127.0.0.1}
base=${PORT_BASE:-10000}
state=${STATE:-/tmp/mailtls-selftest-demo}
cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
serve)
  mkdir -p "$state"
  [ -s "$state/cert.pem" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$state/key.pem" -out "$state/cert.pem" -days 30 -subj /CN=selftest.example \
    -addext "subjectAltName=DNS:selftest.example,IP:$addr" 2>/dev/null
  echo "mailtls-selftest on $addr, ports $((base + 25)) $((base + 465)) $((base + 143)) $((base + 993))" \
       "$((base + 110)) $((base + 995)); state in $state; Ctrl-C stops it"
  exec "$prog" serve --state "$state" --cert "$state/cert.pem" --key "$state/key.pem" \
    --ready-file "$state/ready" \
    --listen "smtp:$addr:$((base + 25))" --listen "smtps:$addr:$((base + 465))" \
    --listen "imap:$addr:$((base + 143))" --listen "imaps:$addr:$((base + 993))" \
    --listen "pop3:$addr:$((base + 110))" --listen "pop3s:$addr:$((base + 995))" "$@"
  ;;
try)
  if [ "${1:-}" = --list ] || [ $# -eq 0 ]; then
    exec python3 "$here/try.py" --list
  fi
  args=""
  for c in "$@"; do args="$args --client $c"; done
  # shellcheck disable=SC2086
  exec python3 "$here/try.py" --prog "$prog" --state "$state" --ready "$state/ready" \
    --cert "$state/cert.pem" $args
  ;;
*)
  echo "usage: $0 serve [mailtls-selftest serve options] | try CLIENT... | try --list" >&2
  exit 2
  ;;
esac
