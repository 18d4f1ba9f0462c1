#!/usr/bin/env bash
# format.sh [--check] — applies .clang-format to every C++ source of oess (src, include, tools, tests, bench).
# With --check nothing is changed: lists the files that differ and exits 1 if any does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cpp' '*.h.in' 2>/dev/null \
                      | grep -Ev '^(build|third_party)/' | grep -v '\.h\.in$' || true)
if [ "${#files[@]}" -eq 0 ]; then
  mapfile -t files < <(find src include tools tests bench -name '*.h' -o -name '*.cpp' 2>/dev/null)
fi
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in "${files[@]}"; do
    [ -f "$f" ] || continue
    if ! clang-format --style=file --dry-run -Werror "$f" > /dev/null 2>&1; then
      echo "needs formatting: $f"
      bad=1
    fi
  done
  [ "$bad" -eq 0 ] && echo "ok: ${#files[@]} files formatted per .clang-format"
  exit "$bad"
fi
clang-format --style=file -i "${files[@]}"
echo "formatted ${#files[@]} files"
