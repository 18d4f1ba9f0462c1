#!/usr/bin/env python3
"""K-fold cross-validation (issue #17) against things oess does not compute itself.

    /usr/bin/python3 tests/oracles/kfold_oracles.py OESS WORKDIR leakage|sklearn

Both build a feature file in the contract's format (torch.save of {"paths", <tap>: [rows, C]}) and a manifest
with patients, and run `oess sweep --split-method kfold` on them.

leakage: 20 taps of pure Gaussian noise, grades drawn uniformly at random. The real code (tap chosen on each
  fold's own validation part) must stay at chance: 0.25 inside the pooled accuracy's 95% CI. A deliberately
  broken variant, computed here from the same folds' per-tap test accuracies (folds/<fold>/layers.csv), picks
  each fold's tap on its test fold; it must come out measurably optimistic (above the real CI's upper end and
  at least 5 points above chance) — so the check can tell a leak from no leak.
sklearn: explicit folds (a `fold` column in the manifest), one informative tap, no balancing, L-BFGS with
  weight decay wd run to convergence. For every fold scikit-learn's LogisticRegression (C = 1 / (wd * n),
  the same objective on features standardised on that fold's training rows, read from
  folds/<fold>/split.csv) predicts the fold's test rows; oess's out-of-fold predictions.csv must agree on at
  least 95% of the images, for the 4-class and the binary task.
"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work, what = sys.argv[1], sys.argv[2], sys.argv[3]
h = Harness(oess, work)
check, run = h.check, h.run

def write_inputs(paths, grades, patients, taps, folds=None):
    manifest = os.path.join(work, "manifest.csv")
    with open(manifest, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "score", "patient"] + (["fold"] if folds is not None else []))
        for i, p in enumerate(paths):
            w.writerow([p, int(grades[i]), patients[i]] + ([int(folds[i])] if folds is not None else []))
    d = {"paths": list(paths)}
    for name, x in taps.items():
        d[name] = torch.tensor(x, dtype=torch.float32)
    d["__meta__"] = {"taps": ",".join(taps), "weights": "synthetic test features"}
    features = os.path.join(work, "features.pt")
    torch.save(d, features)
    return manifest, features


rng = np.random.default_rng(17)

if what == "leakage":
    n, k = 240, 5
    patients = [f"P{i // 4:03d}" for i in range(n)]
    grades = rng.integers(0, 4, size=n)
    paths = [f"img{i:04d}.png" for i in range(n)]
    taps = {f"noise{t:02d}": rng.normal(size=(n, 16)) for t in range(20)}
    manifest, features = write_inputs(paths, grades, patients, taps)
    out = os.path.join(work, "out")
    run("sweep", "--features", features, "--manifest", manifest, "--split-method", "kfold", "--folds", str(k),
        "--val-fraction", "0.25", "--balance", "none", "--max-epochs", "40", "--patience", "5", "--bootstrap",
        "1000", "--out", out)
    m = json.load(open(os.path.join(out, "metrics.json")))
    lo, hi = m["accuracy_ci95"]
    real = m["accuracy"]
    check(lo <= 0.25 <= hi, f"real code on noise: pooled accuracy {real:.3f}, 95% CI [{lo:.3f}, {hi:.3f}] holds "
                            f"chance 0.25")
    cheat_correct = 0
    for f in range(1, k + 1):
        layers = rows(os.path.join(out, "folds", f"fold{f}", "layers.csv"))
        n_test = sum(1 for r in rows(os.path.join(out, "folds", f"fold{f}", "split.csv")) if r["split"] == "test")
        cheat_correct += n_test * max(float(r["test_accuracy"]) for r in layers)
    cheat = cheat_correct / n
    print(f"broken variant (tap chosen on the test fold): pooled accuracy {cheat:.3f}")
    check(cheat > hi and cheat - 0.25 >= 0.05,
          f"the broken variant is measurably optimistic ({cheat:.3f} > CI upper {hi:.3f}, >= chance + 0.05)")
elif what == "sklearn":
    n, f_dim, k, wd = 300, 12, 5, 0.01
    patients = [f"P{i // 4:03d}" for i in range(n)]
    x = rng.normal(size=(n, f_dim)) * rng.uniform(0.5, 3, size=f_dim) + rng.normal(size=f_dim)
    w = rng.normal(size=(f_dim, 4))
    grades = np.argmax(x @ w + rng.normal(scale=2.0, size=(n, 4)), axis=1)
    patient_fold = {p: 1 + j % k for j, p in enumerate(sorted(set(patients)))}
    folds = np.array([patient_fold[p] for p in patients])
    paths = [f"img{i:04d}.png" for i in range(n)]
    manifest, features = write_inputs(paths, grades, patients, {"tap": x}, folds)
    for task in ("oess4", "binary"):
        out = os.path.join(work, task)
        run("sweep", "--features", features, "--manifest", manifest, "--split-method", "kfold", "--task", task,
            "--balance", "none", "--optimizer", "lbfgs", "--lr", "1", "--weight-decay", str(wd), "--monitor",
            "val_loss", "--max-epochs", "60", "--patience", "60", "--bootstrap", "0", "--out", out)
        pred = {r["path"]: int(r["pred"]) for r in rows(os.path.join(out, "predictions.csv"))}
        y = grades if task == "oess4" else (grades >= 2).astype(int)
        agree = total = 0
        for f in range(1, k + 1):
            split = rows(os.path.join(out, "folds", f"fold{f}", "split.csv"))
            index = {p: i for i, p in enumerate(paths)}
            tr = [index[r["path"]] for r in split if r["split"] == "train"]
            te = [index[r["path"]] for r in split if r["split"] == "test"]
            check(sorted(te) == sorted(np.nonzero(folds == f)[0].tolist()), f"{task} fold {f}: test rows are the "
                                                                            f"manifest's fold {f}")
            scaler = StandardScaler().fit(x[tr])
            kw = {"multi_class": "multinomial"} if task == "oess4" else {}
            model = LogisticRegression(C=1.0 / (wd * len(tr)), solver="lbfgs", tol=1e-10, max_iter=10000, **kw)
            model.fit(scaler.transform(x[tr]), y[tr])
            ref = model.predict(scaler.transform(x[te]))
            agree += sum(int(pred[paths[i]] == int(r)) for i, r in zip(te, ref))
            total += len(te)
        check(total == n, f"{task}: every image predicted once out of fold")
        print(f"{task}: oess and scikit-learn agree on {agree} of {total} out-of-fold predictions")
        check(agree >= 0.95 * total, f"{task}: >= 95% identical out-of-fold predictions ({100 * agree / total:.1f}%)")
else:
    sys.exit(f"unknown check {what!r}: leakage or sklearn")

h.finish()
