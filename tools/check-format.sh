#!/usr/bin/env bash
# check-format.sh — fails (listing the files) when a C/C++ source differs from .clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -- '*.c' '*.h' '*.cc' '*.cpp' 2>/dev/null || find include src tests bench -name '*.[ch]' -o -name '*.cc')
if [[ ${#bad[@]} -gt 0 ]]; then
  echo "check-format: these files need clang-format -i:" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check-format: all sources formatted"
