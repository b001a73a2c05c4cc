#!/bin/sh
# Sets up (apt-get), builds, and runs every test twice: a normal build and
# an ASan+UBSan build. Exit status is non-zero if anything fails.
#   tools/test.sh            all labels (unit, loopback, real)
#   tools/test.sh -L unit    extra arguments go to ctest
set -eu
cd "$(dirname "$0")/.."
./tools/setup-debian.sh
jobs=$(nproc 2>/dev/null || echo 2)

# Style and warnings are checked by the machine: a format difference or a
# compiler warning fails the run before any test.
./tools/check-format.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILTLS_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAILTLS_SANITIZE=ON -DMAILTLS_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
echo "== tests, normal build"
ctest --test-dir build --output-on-failure "$@" || status=1
echo "== tests, ASan+UBSan build"
ctest --test-dir build-asan --output-on-failure "$@" || status=1
exit $status
