#!/bin/sh
# Installs everything mailtls needs to build, test and demo on Debian 12.
# Idempotent: packages already present are skipped by apt-get. Needs root.
# Servers are installed but never enabled: tests start private instances.
set -eu
export DEBIAN_FRONTEND=noninteractive
pkgs="build-essential cmake pkg-config libssl-dev libc-ares-dev libmaxminddb-dev zlib1g-dev
      openssl python3 clang postfix dovecot-imapd dovecot-pop3d unbound nmap sqlite3
      libmaxmind-db-writer-perl mmdb-bin procps testssl.sh time"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq
  # A policy-rc.d keeps the packages from starting system-wide daemons; one
  # that the machine already had is left as it was.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  apt-get install -y -qq --no-install-recommends $missing
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
# Courier-IMAP for tests/real/test_courier_auth.py. Its packages conflict with
# postfix/dovecot, so they are unpacked (never installed, never started)
# under /opt/mailtls-courier; couriertls needs a system user "courier".
courier=/opt/mailtls-courier
if [ ! -x "$courier/usr/lib/courier/courier/imaplogin" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq courier-imap courier-base courier-authlib libcourier-unicode4 libgamin0 libidn12)
  mkdir -p "$courier"
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$courier"; done
  rm -rf "$tmp"
fi
id courier >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin courier
