#!/usr/bin/env python3
"""The 11-tap mixed-layer sweep on cached features: oess vs scikit-learn fitting the same 11 classifiers.

    /usr/bin/python3 bench/bench_sweep.py FEATURES.pt MANIFEST.csv [--build build] [--threads 2]

FEATURES.pt: `oess extract --layers all` output for MANIFEST (e.g. the study-size synthetic set). Both sides
use the same split (oess's split.csv: the study's 44 + 44 per grade), the same oversampled training rows
and standardisation on training rows. oess: `oess sweep` (Adam, mini-batches of 64, early stopping on
validation, patience 10; taps in parallel on --threads). scikit-learn: LogisticRegression(lbfgs,
multinomial, C = 1 / (n * weight_decay) — the same L2 objective — to convergence), one tap after another
(n_jobs has no effect on a single multinomial lbfgs fit), --threads BLAS threads. Both timed in this run.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("features")
    ap.add_argument("manifest")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    out = tempfile.mkdtemp(prefix="oess_bench_sweep_")
    t0 = time.perf_counter()
    subprocess.run([os.path.join(a.build, "oess"), "sweep", "--features", a.features, "--manifest", a.manifest,
                    "--threads", str(a.threads), "--out", out], check=True, capture_output=True)
    t_oess = time.perf_counter() - t0
    with open(os.path.join(out, "layers.csv")) as f:
        oess_rows = {r["tap"]: r for r in csv.DictReader(f)}

    d = torch.load(a.features)
    row_of = {p: i for i, p in enumerate(d["paths"])}
    with open(os.path.join(out, "split.csv")) as f:
        split = list(csv.DictReader(f))
    part = {s: [row_of[r["path"]] for r in split if r["split"] == s] for s in ("train", "val", "test")}
    grade = {row_of[r["path"]]: int(r["score"]) for r in split}
    # The study's oversampling: every grade up to the largest, copies cycling through each grade.
    by_grade = [[i for i in part["train"] if grade[i] == g] for g in range(4)]
    largest = max(len(g) for g in by_grade)
    train = [i for g in by_grade for i in g] + [g[k % len(g)] for g in by_grade for k in range(largest - len(g))]
    y_tr = np.array([grade[i] for i in train])
    y_te = np.array([grade[i] for i in part["test"]])
    weight_decay = 1e-4
    C = 1.0 / (len(train) * weight_decay)
    os.environ["OMP_NUM_THREADS"] = str(a.threads)
    t0 = time.perf_counter()
    acc = {}
    for tap in [k for k in d if k not in ("paths", "__meta__")]:
        x = d[tap].double().numpy()
        mu, sd = x[train].mean(0), x[train].std(0)
        sd[sd == 0] = 1
        m = LogisticRegression(C=C, solver="lbfgs", multi_class="multinomial", max_iter=1000).fit((x[train] - mu) / sd, y_tr)
        acc[tap] = (m.predict((x[part["test"]] - mu) / sd) == y_te).mean()
    t_sk = time.perf_counter() - t0
    print(f"{len(train)} oversampled training rows, {len(part['val'])} validation, {len(part['test'])} test; "
          f"11 taps; threads {a.threads}")
    print(f"{'tap':<8} {'oess test acc':>13} {'sklearn test acc':>16}")
    for tap in acc:
        print(f"{tap:<8} {100 * float(oess_rows[tap]['test_accuracy']):>12.1f}% {100 * acc[tap]:>15.1f}%")
    print(f"wall time: oess sweep {t_oess:.1f} s (whole process: reading features, 11 early-stopped fits), "
          f"scikit-learn {t_sk:.1f} s (11 fits to convergence): {t_sk / t_oess:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
