#!/usr/bin/env bash
# extract_kill_resume.sh OESS WORKDIR PYTHON — kills `oess extract` with SIGKILL mid-way, reruns it, and
# checks (in Python, through torch.load: the feature-file contract) that the result equals an uninterrupted
# run, that the rerun took the finished rows from the cache, and that no half-written file is visible.
set -u
oess=$1 work=$2 py=$3
rm -rf "$work"
mkdir -p "$work"
"$oess" synth --out "$work/data" --counts 12,12,12,12 --size 192x144 --seed 2 --threads 2 > /dev/null 2>&1 || { echo "FAIL: synth"; exit 1; }
common=(--weights none --manifest "$work/data/labels.csv" --layers mixed0,mixed4 --batch 2 --threads 2)
"$oess" extract "${common[@]}" --no-cache --out "$work/ref.pt" > /dev/null 2>&1 || { echo "FAIL: reference run"; exit 1; }

"$oess" extract "${common[@]}" --cache "$work/cache" --out "$work/run.pt" > "$work/first.log" 2>&1 &
pid=$!
entries() { find "$work/cache" -name '*.oessf' 2> /dev/null | wc -l; }
for _ in $(seq 1 2400); do
  [ "$(entries)" -ge 10 ] && break
  kill -0 "$pid" 2> /dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2> /dev/null
wait "$pid" 2> /dev/null
killed_at=$(entries)
echo "killed with $killed_at of 48 cache entries written"
[ "$killed_at" -ge 10 ] && [ "$killed_at" -lt 48 ] || { echo "FAIL: the kill did not land mid-way ($killed_at entries)"; exit 1; }
[ -e "$work/run.pt" ] && { echo "FAIL: a killed run left an output file"; exit 1; }

"$oess" extract "${common[@]}" --cache "$work/cache" --out "$work/run.pt" > "$work/second.log" 2>&1 || { cat "$work/second.log"; echo "FAIL: rerun"; exit 1; }
grep -E "[0-9]+ from cache, [0-9]+ computed" "$work/second.log"
from_cache=$(grep -oE "[0-9]+ from cache" "$work/second.log" | grep -oE "^[0-9]+")
[ "$from_cache" -ge "$killed_at" ] || { echo "FAIL: rerun took $from_cache rows from the cache, $killed_at were there"; exit 1; }

"$py" - "$work/ref.pt" "$work/run.pt" <<'PY' || exit 1
import sys, torch
ref, run = torch.load(sys.argv[1]), torch.load(sys.argv[2])
assert ref["paths"] == run["paths"] and len(run["paths"]) == 48, "paths differ"
for tap in ("mixed0", "mixed4"):
    assert run[tap].shape == (48, 256 if tap == "mixed0" else 768), run[tap].shape
    assert torch.equal(ref[tap], run[tap]), f"{tap}: resumed features differ from an uninterrupted run"
assert run["__meta__"]["taps"] == "mixed0,mixed4"
print("ok: resumed run equals the uninterrupted one, bit for bit (48 rows, mixed0 and mixed4)")
PY
