#!/usr/bin/env python3
"""The 11-tap sweep and the 10-member ensemble on each BLAS LibTorch can load (issue #30).

    /usr/bin/python3 bench/bench_blas.py [--build build] [--work /tmp/oess_bench_blas] [--rounds 2]
                                         [--blas NAME=DIR ...]

Debian's LibTorch links libblas.so.3, which the dynamic loader takes from the first folder on
LD_LIBRARY_PATH that holds one: the reference BLAS in /usr/lib/x86_64-linux-gnu/blas, OpenBLAS in
/usr/lib/x86_64-linux-gnu/openblas-{openmp,pthread}. So one oess binary runs on each in turn, in this script,
on the same machine state. Every BLAS found there is tried (more with --blas NAME=DIR, e.g. a flavour
unpacked with `apt-get download libopenblas0-pthread && dpkg -x ...`).

experiments/paper_4class_inception.yaml (1694 synthetic images, random weights, 11 taps, 10-member ensemble)
runs once to fill the feature cache; then, alternating by round, `--stage sweep..evaluate` per BLAS from the
warm cache; then `oess extract` of --extract of its images per BLAS (whole process; 2 threads and batch 16 as
in the run, and 1 thread and batch 8). Prints the sweep and ensemble stage times (from each run's log.txt),
the BLAS the run's log says it used, each BLAS's ratio of medians against the reference, how many test
grades differ from the reference's and the largest probability difference, and whether metrics.json is the
same (its "build" block and the reference BLAS's warning aside).
"""
import argparse
import csv
import json
import os
import re
import statistics
import subprocess
import time

LIBDIR = "/usr/lib/x86_64-linux-gnu"


def stage_seconds(log, stage):
    m = re.search(rf"-- {stage} done in ([0-9.]+) (s|min)", log)
    if not m:
        raise SystemExit(f"no time for stage {stage} in the log")
    return float(m.group(1)) * (60 if m.group(2) == "min" else 1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--work", default="/tmp/oess_bench_blas")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--extract", type=int, default=160, help="images for the extraction timing")
    ap.add_argument("--blas", action="append", default=[], help="NAME=DIR holding a libblas.so.3")
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    config = os.path.join(here, "..", "experiments", "paper_4class_inception.yaml")
    base = ["run", config, "--set", f"data.synthetic.dir={a.work}/synth", "--set",
            f"features.cache={a.work}/cache", "--set", "backbone.weights=none", "--force"]
    variants = [("reference", f"{LIBDIR}/blas")]
    for flavour in ("openmp", "pthread"):
        d = f"{LIBDIR}/openblas-{flavour}"
        if os.path.exists(f"{d}/libblas.so.3"):
            variants.append((f"openblas-{flavour}", d))
    for v in a.blas:
        name, d = v.split("=", 1)
        variants.append((name, d))
    for name, d in variants:
        if not os.path.exists(f"{d}/libblas.so.3"):
            raise SystemExit(f"{name}: no libblas.so.3 in {d}")

    def run(name, d, extra, out):
        env = dict(os.environ, LD_LIBRARY_PATH=d)
        subprocess.run([oess, *base, *extra, "--out", out], check=True, capture_output=True, env=env)
        return open(os.path.join(out, "log.txt")).read()

    print("warming the cache (dataset + features, once) ...", flush=True)
    run("reference", variants[0][1], ["--stage", "data..extract"], f"{a.work}/warm")
    times = {name: {"sweep": [], "ensemble": []} for name, _ in variants}
    for r in range(a.rounds):
        order = variants if r % 2 == 0 else variants[::-1]
        for name, d in order:
            log = run(name, d, ["--stage", "sweep..evaluate"], f"{a.work}/{name}{r}")
            used = re.search(r"^blas: (.*)$", log, re.M)
            for stage in ("sweep", "ensemble"):
                times[name][stage].append(stage_seconds(log, stage))
            print(f"round {r + 1} {name:18s} sweep {times[name]['sweep'][-1]:6.1f} s  ensemble "
                  f"{times[name]['ensemble'][-1]:6.1f} s  ({used.group(1) if used else 'blas not in log'})",
                  flush=True)

    # Extraction (oneDNN's work, the BLAS only where oneDNN declines): --extract images, whole process, with
    # the run's 2 threads and batch 16, and with 1 thread and batch 8, where LibTorch sends 1x1 convolutions
    # to the BLAS.
    rows = open(f"{a.work}/synth/labels.csv").read().splitlines()
    manifest = f"{a.work}/extract.csv"
    with open(manifest, "w") as f:
        f.write("\n".join(rows[: a.extract + 1]).replace("images/", f"{a.work}/synth/images/") + "\n")
    jobs = [("2 threads, batch 16", ["--threads", "2", "--batch", "16"]),
            ("1 thread, batch 8", ["--threads", "1", "--batch", "8"])]
    for job, _ in jobs:
        times[job] = {name: [] for name, _ in variants}
    for r in range(a.rounds):
        for name, d in variants if r % 2 == 0 else variants[::-1]:
            for job, extra in jobs:
                t0 = time.perf_counter()
                subprocess.run([oess, "extract", "--arch", "inception_v3", "--weights", "none", "--manifest",
                                manifest, "--out", f"{a.work}/extract.pt", "--no-cache", *extra], check=True,
                               capture_output=True, env=dict(os.environ, LD_LIBRARY_PATH=d))
                times[job][name].append(time.perf_counter() - t0)
        print(f"round {r + 1} extraction of {a.extract} images: " + ", ".join(
            f"{name} {job} {times[job][name][-1]:.1f} s" for name, _ in variants for job, _ in jobs), flush=True)

    def predictions(name):
        return list(csv.DictReader(open(f"{a.work}/{name}0/predictions.csv")))

    def metrics(name):  # without what says which BLAS ran: the build block and the reference BLAS's warning
        m = json.load(open(f"{a.work}/{name}0/metrics.json"))
        m.pop("build", None)
        m["warnings"] = [w for w in m.get("warnings", []) if w["code"] != "reference_blas"]
        return m

    ref = {s: statistics.median(times["reference"][s]) for s in ("sweep", "ensemble")}
    print(f"\nmedians of {a.rounds} round(s); ratio = time / reference BLAS's time")
    for name, _ in variants:
        med = {s: statistics.median(times[name][s]) for s in ("sweep", "ensemble")}
        p, q = predictions(name), predictions("reference")
        grades = sum(x["pred"] != y["pred"] for x, y in zip(p, q))
        dp = max(abs(float(x[c]) - float(y[c])) for x, y in zip(p, q) for c in ("p0", "p1", "p2", "p3"))
        extract = ", ".join(f"{job} {statistics.median(times[job][name]):.1f} s (ratio "
                            f"{statistics.median(times[job][name]) / statistics.median(times[job]['reference']):.2f})"
                            for job, _ in jobs)
        print(f"{name:18s} sweep {med['sweep']:4.1f} s (ratio {med['sweep'] / ref['sweep']:.2f}), ensemble "
              f"{med['ensemble']:4.1f} s (ratio {med['ensemble'] / ref['ensemble']:.2f}); extraction {extract}\n"
              f"{'':18s} test predictions: {grades} grade(s) differ from the reference's, max |dp| {dp:.1e}; "
              f"metrics.json {'identical' if metrics(name) == metrics('reference') else 'DIFFERS'} (build "
              f"block and BLAS warning aside)")


if __name__ == "__main__":
    main()
