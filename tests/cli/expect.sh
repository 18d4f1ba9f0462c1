#!/usr/bin/env bash
# expect.sh RC REGEX CMD [ARGS...] — runs CMD; passes iff it exits with RC and its stdout+stderr, joined into
# one line, matches the extended regex REGEX. Prints what it saw either way.
set -u
want_rc=$1 regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
flat=$(printf '%s' "$out" | tr '\n' ' ')
printf '%s\n' "$out" | head -n 40
if [ "$rc" -ne "$want_rc" ]; then
  echo "FAIL: exit code $rc, expected $want_rc" >&2
  exit 1
fi
if ! printf '%s' "$flat" | grep -Eq -- "$regex"; then
  echo "FAIL: output does not match /$regex/" >&2
  exit 1
fi
echo "ok: exit $rc, output matches /$regex/"
