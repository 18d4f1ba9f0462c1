#!/usr/bin/env python3
"""`oess data check` on the study-size synthetic set against one plain decoding pass (issue #21).

    /usr/bin/python3 bench/bench_data_check.py [--build build] [--work /tmp/oess_bench_check] [--rounds 3]
                                               [--threads 2]

Makes the study-size synthetic set (1694 images, 384 x 288, `oess synth` defaults), then, alternating for
--rounds rounds: `oess baseline` on it (the reference: every image decoded once, its colour box found and
its colour fraction counted) and `oess data check` with the study's split (decoded, SHA-256 of the bytes,
colour box, gradient hash and thumbnail, all pairs compared). Prints each wall time, the check / baseline
ratio of the medians, and the duplicate groups found — on this set every image is distinct, so every group
is a false positive.
"""
import argparse
import os
import re
import statistics
import subprocess
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/oess_bench_check")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    synth = os.path.join(a.work, "synth")
    if not os.path.isfile(os.path.join(synth, "labels.csv")):
        subprocess.run([oess, "synth", "--out", synth, "--threads", str(a.threads)], check=True, capture_output=True)
    manifest = os.path.join(synth, "labels.csv")
    reference = [oess, "baseline", "--manifest", manifest, "--threads", str(a.threads), "--bootstrap", "0",
                 "--allow-patient-overlap"]
    check = [oess, "data", "check", manifest, "--threads", str(a.threads), "--split-method", "per_class",
             "--allow-patient-overlap"]

    def timed(cmd):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, check=True, capture_output=True, text=True)
        return time.perf_counter() - t0, p.stdout

    ref, chk = [], []
    out = ""
    for r in range(a.rounds):
        t, _ = timed(reference)
        ref.append(t)
        t, out = timed(check)
        chk.append(t)
        print(f"round {r + 1}: baseline (one decoding pass) {ref[-1]:.2f} s, data check {chk[-1]:.2f} s")
    m = re.search(r"duplicates: (\d+) group", out)
    groups = int(m.group(1)) if m else 0
    images = int(re.search(r"^\s*(\d+) images:", out, re.M).group(1))
    print(f"median: baseline {statistics.median(ref):.2f} s, data check {statistics.median(chk):.2f} s "
          f"({images} images, {a.threads} threads); ratio check / baseline "
          f"{statistics.median(chk) / statistics.median(ref):.2f}")
    print(f"duplicate groups on the synthetic set (all false positives): {groups} "
          f"({groups / images * 100:.2f}% of images)")


if __name__ == "__main__":
    main()
