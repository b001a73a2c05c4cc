#!/bin/sh
# Installs everything mailtls needs to build, test and demo on Debian 12.
# Idempotent: packages already present are skipped by apt-get. Needs root.
# Servers are installed but never enabled: tests start private instances.
set -eu
export DEBIAN_FRONTEND=noninteractive
pkgs="build-essential cmake pkg-config libssl-dev libc-ares-dev libmaxminddb-dev zlib1g-dev
      openssl python3 clang clang-format postfix dovecot-imapd dovecot-pop3d unbound nmap sqlite3
      libmaxmind-db-writer-perl mmdb-bin procps testssl.sh time
      postgresql python3-pandas jq
      dovecot-lmtpd dovecot-managesieved
      curl swaks msmtp fetchmail s-nail mutt
      groff man-db python3-yaml dpkg-dev file
      ldnsutils nginx-light
      chromium python3-cryptography
      gnutls-bin sslscan"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node and npm (for DuckDB below): Debian's nodejs and npm, unless the
# machine already has a node that brings its own npm (e.g. a NodeSource
# build, which conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
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

# DuckDB for tests/loopback/test_ndjson_consumers.py: the real engine from
# npm (N-API, works with Debian 12's Node 18 and later), pinned, installed
# outside the source tree. Skipped when that version is already there.
duckdb_version=1.5.6-r.1
duckdb_dir=/opt/mailtls-node
if ! grep -qs "\"version\": \"$duckdb_version\"" "$duckdb_dir/node_modules/@duckdb/node-api/package.json"; then
  mkdir -p "$duckdb_dir"
  npm install --prefix "$duckdb_dir" --no-audit --no-fund --loglevel=error \
    "@duckdb/node-api@$duckdb_version" >/dev/null
fi

# Courier-IMAP for tests/real/test_courier_auth.py. Its packages conflict with
# postfix/dovecot, so they are unpacked (never installed, never started)
# under /opt/mailtls-courier; couriertls needs a system user "courier".
courier=/opt/mailtls-courier
if [ ! -x "$courier/usr/lib/courier/courier/imaplogin" ]; then
  tmp=$(mktemp -d)
  courier_debs="courier-imap courier-base courier-authlib libcourier-unicode4 libgamin0 libidn12"
  # apt's lists may be missing when every other package was already there
  (cd "$tmp" && { apt-get download -qq $courier_debs || { apt-get update -qq && apt-get download -qq $courier_debs; }; })
  mkdir -p "$courier"
  for d in "$tmp"/*.deb; do dpkg-deb -x "$d" "$courier"; done
  rm -rf "$tmp"
fi
id courier >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin courier
