#!/usr/bin/env bash
# doc_contains_output.sh DOC CMD [ARGS...] — passes iff every line CMD prints appears verbatim in DOC.
set -u
doc=$1
shift
out=$("$@") || { echo "FAIL: command failed: $*"; exit 1; }
missing=0
while IFS= read -r line; do
  grep -qxF -- "$line" "$doc" || { echo "not in $doc: $line"; missing=1; }
done <<< "$out"
[ "$missing" -eq 0 ] && echo "ok: $doc holds the output of: $*"
exit "$missing"
