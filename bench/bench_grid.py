#!/usr/bin/env python3
"""The study-size ablation grid against the same variants run one `oess run` at a time (issue #18).

    /usr/bin/python3 bench/bench_grid.py [--build build] [--work /tmp/oess_bench_grid] [--set KEY=VALUE ...]

experiments/ablation_study.yaml (1694 synthetic images, Inception-v3 with seeded random weights unless
--set backbone.weights=..., 11 taps swept in each of 6 variants: pooling avg/max x balancing
oversample/class_weights/none, single classifiers, 2000 bootstrap resamples). First fills the feature cache
(one extraction per pooling), then, on the warm cache and in this one script: the grid (`oess run` of the
file: 6 variants and the paired comparison) and the 6 variants as 6 separate `oess run`s (`--set` of the
same values). Prints both wall times and their ratio.
"""
import argparse
import itertools
import os
import subprocess
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/oess_bench_grid")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    config = os.path.join(here, "..", "experiments", "ablation_study.yaml")
    os.makedirs(a.work, exist_ok=True)
    # The same experiment without its grid, for the one-at-a-time runs (bases made absolute).
    text = open(config).read()
    plain = os.path.join(a.work, "ablation_study_plain.yaml")
    with open(plain, "w") as f:
        f.write(text[:text.index("\ngrid:") + 1].replace("../configs/", os.path.join(here, "..", "configs") + "/"))
    common = ["--set", f"data.synthetic.dir={a.work}/synth", "--set", f"features.cache={a.work}/cache", "--force"]
    for s in a.set:
        common += ["--set", s]
    for pooling in ("avg", "max"):  # warm the cache: one extraction per pooling
        subprocess.run([oess, "run", plain, *common, "--set", f"features.pooling={pooling}", "--stage", "..extract",
                        "--out", f"{a.work}/warm-{pooling}"], check=True, capture_output=True)

    t0 = time.perf_counter()
    subprocess.run([oess, "run", config, *common, "--out", f"{a.work}/grid-{time.time_ns()}"], check=True,
                   capture_output=True)
    grid = time.perf_counter() - t0
    t0 = time.perf_counter()
    for pooling, balance in itertools.product(("avg", "max"), ("oversample", "class_weights", "none")):
        subprocess.run([oess, "run", plain, *common, "--set", f"features.pooling={pooling}", "--set",
                        f"data.balance={balance}", "--out", f"{a.work}/one-{pooling}-{balance}-{time.time_ns()}"],
                       check=True, capture_output=True)
    one_by_one = time.perf_counter() - t0
    print(f"grid of 6 variants: {grid:.1f} s; the 6 variants one `oess run` at a time: {one_by_one:.1f} s; "
          f"ratio grid / one at a time {grid / one_by_one:.2f}")


if __name__ == "__main__":
    main()
