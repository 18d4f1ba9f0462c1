#!/usr/bin/env python3
"""5-fold cross-validation vs the single split, study-size, warm feature cache (issue #17).

    /usr/bin/python3 bench/bench_kfold.py [--build build] [--work /tmp/oess_bench_kfold] [--rounds 2]
                                          [--set KEY=VALUE ...]

Runs experiments/paper_4class_inception.yaml (1694 synthetic images, 11 taps, 10-member ensemble, 2000
bootstrap resamples) once to fill the feature cache, then, alternating for --rounds rounds, the same config
with its single split (per_class 44 + 44) and with `data.split.method: kfold` (5 folds, val_fraction 0.2),
both from the warm cache. Prints each run's wall time and the K-fold / single ratio of the medians (the
issue's limit: <= 3). Both in this process, on the same machine state.
"""
import argparse
import os
import statistics
import subprocess
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/oess_bench_kfold")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    config = os.path.join(here, "..", "experiments", "paper_4class_inception.yaml")
    base = ["run", config, "--set", f"data.synthetic.dir={a.work}/synth", "--set", f"features.cache={a.work}/cache",
            "--set", "backbone.weights=none"]
    for s in a.set:
        base += ["--set", s]
    kfold = ["--set", "data.split.method=kfold", "--set", "data.split.folds=5", "--set",
             "data.split.val_fraction=0.2"]

    def timed(extra, out):
        t0 = time.perf_counter()
        subprocess.run([oess, *base, *extra, "--out", out], check=True, capture_output=True)
        return time.perf_counter() - t0

    print("warming the cache (dataset + features, once) ...", flush=True)
    timed([], f"{a.work}/warm")
    single, folds = [], []
    for r in range(a.rounds):
        single.append(timed([], f"{a.work}/single{r}"))
        folds.append(timed(kfold, f"{a.work}/kfold{r}"))
        print(f"round {r + 1}: single split {single[-1]:.1f} s, 5-fold {folds[-1]:.1f} s", flush=True)
    ratio = statistics.median(folds) / statistics.median(single)
    print(f"median: single split {statistics.median(single):.1f} s, 5-fold {statistics.median(folds):.1f} s, "
          f"ratio {ratio:.2f} (limit 3)")


if __name__ == "__main__":
    main()
