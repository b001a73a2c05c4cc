#!/bin/sh
# Fails when a C file differs from the house format (.clang-format).
# tools/test.sh runs it first, so CI fails on a format regression.
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -eu
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
else
  files=$(find scanner targets output tools tests -name '*.[ch]' | sort)
fi
bad=0
for f in $files; do
  if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "format: $f differs from .clang-format (clang-format -i $f)"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "format: $(echo "$files" | wc -l) C files match .clang-format"
exit $bad
