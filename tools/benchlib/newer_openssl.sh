#!/bin/sh
# tools/benchlib/newer_openssl.sh [VERSION]: build a newer OpenSSL from
# Debian's source package and mailtls-scan/mailtls-farm against it, for the
# `openssl` section of tools/bench (bench-only: never called by tests,
# setup-debian.sh or CI; the default dependency stays Debian's OpenSSL).
#
#   VERSION   upstream version (default: the newest 3.x in Debian trixie's
#             source index, e.g. 3.5.9)
#
# Steps, each skipped when its result exists (idempotent):
#   1. openssl_VERSION.orig.tar.gz into $MAILTLS_OSSL_CACHE (default
#      /var/cache/mailtls-bench/openssl) with `apt-get source --download-only`
#      through a PRIVATE apt configuration (sources list and lists dir in a
#      temp dir), so the machine's /etc/apt is never changed;
#   2. OpenSSL built into /opt/mailtls-openssl-VERSION (libs with -g, headers,
#      and the `openssl` program, for `openssl speed`);
#   3. mailtls built against it in $MAILTLS_OSSL_BUILD (default
#      build-openssl-VERSION in the repository), RPATH pointing at the new lib.
# Then it checks with ldd that both programs load the new libcrypto/libssl and
# prints the version string the library reports at run time.
set -eu

REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${MAILTLS_OSSL_CACHE:-/var/cache/mailtls-bench/openssl}
SUITES="trixie bookworm"
MIRROR=http://deb.debian.org/debian

say() { printf 'newer_openssl: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

# A private apt: sources list with deb-src lines, its own lists and cache dirs.
APTDIR=$(mktemp -d /tmp/mailtls-apt.XXXXXX)
trap 'rm -rf "$APTDIR"' EXIT
apt_private() {
	apt-get -q -o Dir::Etc::SourceList="$APTDIR/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$APTDIR/lists" \
		-o Dir::Cache="$APTDIR/cache" "$@"
}
apt_ready=
apt_update() {
	[ -n "$apt_ready" ] && return 0
	mkdir -p "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
	for s in $SUITES; do
		echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $s main"
	done >"$APTDIR/sources.list"
	apt_private update >"$APTDIR/update.log" 2>&1 ||
		die "apt-get update (private sources) failed: $(tail -3 "$APTDIR/update.log")"
	apt_ready=1
}

# Debian versions of the openssl source package, newest first.
debian_versions() {
	apt_update
	apt-cache -o Dir::Etc::SourceList="$APTDIR/sources.list" \
		-o Dir::Etc::SourceParts=/nonexistent \
		-o Dir::State::Lists="$APTDIR/lists" \
		-o Dir::Cache="$APTDIR/cache" showsrc openssl |
		sed -n 's/^Version: //p' | sort -Vr -u
}

# 1. the upstream source (Debian's .orig.tar.gz is upstream's tarball; apt
# checks it against the sha256 in the signed Sources index).
tarball() { echo "$CACHE/openssl_$1.orig.tar.gz"; }
fetch_source() { # fetch_source UPSTREAM_VERSION -> 0 when the tarball is there
	[ -s "$(tarball "$1")" ] && return 0
	mkdir -p "$CACHE"
	deb=$(debian_versions | grep "^$1-" | head -1)
	[ -n "$deb" ] || {
		say "openssl $1 is not in Debian's $SUITES sources"
		return 1
	}
	say "fetching openssl=$deb source into $CACHE"
	# The .debian.tar.xz may be gone from the mirror; only the orig tarball
	# is needed, so apt's exit status is not trusted, the file is.
	(cd "$CACHE" && apt_private source --download-only "openssl=$deb" \
		>"$APTDIR/source.log" 2>&1) || true
	rm -f "$CACHE"/openssl_"$1"-*.dsc "$CACHE"/openssl_"$1"-*.debian.tar.* \
		"$CACHE"/openssl_"$1".orig.tar.gz.asc
	[ -s "$(tarball "$1")" ] && return 0
	say "no $(tarball "$1"): $(grep -m1 'orig.tar.gz ' "$APTDIR/source.log" || tail -1 "$APTDIR/source.log")"
	return 1
}

VERSION=${1:-}
if [ -n "$VERSION" ]; then
	fetch_source "$VERSION" || die "cannot fetch OpenSSL $VERSION"
else
	# The newest 3.2+ the mirror really serves: an index can list a version
	# whose files the pool no longer (or not yet) holds (3.5.9 here).
	# A tarball already in the cache wins (no apt traffic at all).
	VERSION=$(ls "$CACHE" 2>/dev/null |
		sed -n 's/^openssl_\(3\.\([2-9]\|[1-9][0-9]\)\.[0-9.]*\)\.orig\.tar\.gz$/\1/p' |
		sort -Vr | head -1)
	for v in $([ -n "$VERSION" ] ||
		debian_versions | sed 's/-[^-]*$//' | grep -E '^3\.([2-9]|[1-9][0-9])\.' | sort -Vr -u); do
		if fetch_source "$v"; then
			VERSION=$v
			break
		fi
	done
	[ -n "$VERSION" ] || die "no OpenSSL 3.2+ source could be fetched from $SUITES"
fi
PREFIX=/opt/mailtls-openssl-$VERSION
BUILD=${MAILTLS_OSSL_BUILD:-$REPO/build-openssl-$VERSION}
TARBALL=$(tarball "$VERSION")
say "OpenSSL $VERSION: source $TARBALL, prefix $PREFIX, mailtls build $BUILD"

# 2. OpenSSL itself: shared libs with symbols, headers, the openssl program.
build_openssl() {
	if [ -e "$PREFIX/lib/libssl.so" ] && [ -x "$PREFIX/bin/openssl" ]; then
		return 0
	fi
	src=$CACHE/openssl-$VERSION
	if [ ! -e "$src/Configure" ]; then
		say "unpacking $TARBALL"
		rm -rf "$src"
		tar -C "$CACHE" -xzf "$TARBALL"
	fi
	[ -e "$src/Configure" ] || die "$TARBALL did not unpack to $src"
	cd "$src"
	if [ ! -e Makefile ]; then
		say "configuring OpenSSL $VERSION for $PREFIX"
		./Configure --prefix="$PREFIX" --libdir=lib shared no-tests -O2 -g \
			"-Wl,-rpath,$PREFIX/lib" >configure.log 2>&1 ||
			die "Configure failed: $(tail -5 configure.log)"
	fi
	say "building OpenSSL $VERSION (make -j2 build_libs build_programs; slow)"
	make -j2 build_libs >make.log 2>&1 || die "make build_libs failed: $(tail -5 make.log)"
	make -j2 build_programs >>make.log 2>&1 ||
		die "make build_programs failed: $(tail -5 make.log)"
	make install_dev install_programs >install.log 2>&1 ||
		die "make install failed: $(tail -5 install.log)"
	cd "$REPO"
}

# 3. mailtls against it. No -DMAILTLS_WERROR: OpenSSL 3.5 may deprecate more
# than 3.0, and a deprecation is the finding, not a reason to stop.
build_mailtls() {
	# The RPATH is set by hand: CMake's own build RPATH came out as
	# "$PREFIX/lib:" and an empty element means the current directory.
	LOGS=$BUILD/newer_openssl-logs
	mkdir -p "$LOGS"
	if [ ! -e "$BUILD/CMakeCache.txt" ]; then
		say "configuring mailtls in $BUILD"
		# CMakeLists.txt finds OpenSSL through pkg-config, so PKG_CONFIG_PATH
		# is what selects it; OPENSSL_ROOT_DIR covers a FindOpenSSL user.
		PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig cmake -S "$REPO" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			-DOPENSSL_ROOT_DIR="$PREFIX" -DOPENSSL_USE_STATIC_LIBS=OFF \
			-DCMAKE_SKIP_BUILD_RPATH=ON -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath,$PREFIX/lib" \
			>"$LOGS/cmake.log" 2>&1 || die "cmake failed: $(tail -5 "$LOGS/cmake.log")"
	fi
	say "building mailtls-scan mailtls-farm in $BUILD"
	cmake --build "$BUILD" -j2 --target mailtls-scan mailtls-farm >"$LOGS/make.log" 2>&1 ||
		die "mailtls build against OpenSSL $VERSION failed: $(grep -m5 -E 'error|Error' "$LOGS/make.log")"
	warn=$(grep -c 'warning:' "$LOGS/make.log" || true)
	[ "$warn" = 0 ] || say "$warn compiler warnings (see $LOGS/make.log)"
}

# The programs must load the NEW libraries, not Debian's.
check_linkage() {
	for prog in scan farm; do
		bin=$(find "$BUILD" -name "mailtls-$prog" -type f -perm -u+x | head -1)
		[ -n "$bin" ] || die "no mailtls-$prog in $BUILD"
		for lib in libssl libcrypto; do
			ldd "$bin" | grep -q "$lib.so.* => $PREFIX/lib/" ||
				die "$bin does not load $lib from $PREFIX/lib: $(ldd "$bin" | grep "$lib")"
		done
		say "$bin -> $(ldd "$bin" | sed -n "s|.*libssl.so[^ ]* => \([^ ]*\).*|\1|p")"
	done
	# OpenSSL_version() as the library loaded at run time reports it.
	cat >"$APTDIR/v.c" <<'EOF'
#include <openssl/crypto.h>
#include <stdio.h>
int main(void)
{
	printf("%s\n", OpenSSL_version(OPENSSL_VERSION));
	return 0;
}
EOF
	cc -o "$APTDIR/v" "$APTDIR/v.c" -I"$PREFIX/include" -L"$PREFIX/lib" \
		-Wl,-rpath,"$PREFIX/lib" -lcrypto
	say "runtime: $("$APTDIR/v") ($("$PREFIX/bin/openssl" version))"
	echo "$BUILD"
}

build_openssl
build_mailtls
check_linkage
