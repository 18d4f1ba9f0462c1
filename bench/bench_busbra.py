#!/usr/bin/env python3
"""Real-data benchmarks on BUS-BRA's GE Logiq 5 images (809 breast ultrasound images, 490 patients, an expert's
BI-RADS grade mapped to 0-3) with the dataset's own patient-grouped 5 folds: variants of one config run out of
fold and compared pairwise with `oess compare`.

    /usr/bin/python3 bench/bench_busbra.py --suite finetune|heads|mask [--data ../shared/data/busbra-logiq5]
        [--build build] [--work /tmp/oess_bench_busbra] [--epochs 10] [--only NAME ...]

Suites (all Keras ImageNet weights, data.split.method kfold: the manifest's `fold` column gives the folds):
  finetune (issue #31)
    frozen        the study's chain as a new user runs it: 11 taps swept, the best on each fold's validation,
                  10-member ensemble
    frozen_mixed5 the same chain with the tap fixed at mixed5 (the deepest tap with ImageNet weights here)
    ft_mixed4     fine-tuned: head on mixed5, mixed5's block trains (train_from mixed4)
    ft_mixed2     fine-tuned: head on mixed5, mixed3..mixed5 train (train_from mixed2)
  heads (issue #32)
    frozen        as above (softmax head, no calibration)
    frozen_cal    the same with calibration.method temperature (one T per fold, fitted on its validation)
    ordinal       classifier.head ordinal (cumulative-link), no calibration
    ordinal_cal   ordinal with temperature scaling
  mask (issue #32)
    frozen        as above
    masked        data.mask: [annotations, "rect:-40,0,40,24"]: burned-in text and calipers, and the GE logo's
                  corner, hidden before features (docs/data.md)
Prints each run's out-of-fold accuracy, quadratic kappa and mean absolute grade error with 95% CIs, ECE and
Brier (with the calibration block's before/after when calibrated), its wall time, and `oess compare` of every
variant against the first (paired bootstrap by patient, McNemar). The run folders stay in --work for a look at
the reports. Reads the data from its path; copies nothing.
"""
import json
import os
import subprocess
import time

from busbra import ROOT, busbra_arguments, busbra_labels

SUITES = {
    "finetune": {
        "frozen": {},
        "frozen_mixed5": {"selection.tap": "mixed5"},
        "ft_mixed4": {"selection.tap": "mixed5", "finetune.enabled": "true", "finetune.train_from": "mixed4"},
        "ft_mixed2": {"selection.tap": "mixed5", "finetune.enabled": "true", "finetune.train_from": "mixed2"},
    },
    "heads": {
        "frozen": {},
        "frozen_cal": {"calibration.method": "temperature"},
        "ordinal": {"classifier.head": "ordinal"},
        "ordinal_cal": {"classifier.head": "ordinal", "calibration.method": "temperature"},
    },
    "mask": {
        "frozen": {},
        "masked": {"data.mask": '[annotations, "rect:-40,0,40,24"]'},
    },
}


def main():
    ap = busbra_arguments("/tmp/oess_bench_busbra")
    ap.add_argument("--weights", default=os.path.join(ROOT, "weights", "inception_v3_keras.pt"))
    ap.add_argument("--suite", choices=list(SUITES), default="finetune")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    variants = SUITES[a.suite]
    a.only = a.only or list(variants)
    oess = os.path.join(a.build, "oess")
    busbra_labels(a.data)  # stops, saying so, when the set is not at --data
    manifest = os.path.join(a.data, "labels.csv")
    os.makedirs(a.work, exist_ok=True)
    config = os.path.join(a.work, "busbra.yaml")
    with open(config, "w") as f:
        f.write(f"""name: busbra
data:
  manifest: {manifest}
  split: {{method: kfold}}
backbone: {{weights: {a.weights}}}
features: {{cache: {a.work}/cache}}
report: {{formats: [md, html]}}
finetune: {{epochs: {a.epochs}, batch: 16, patience: 4}}
""")
    results = {}
    for name in a.only:
        out = os.path.join(a.work, name)
        sets = [x for k, v in variants[name].items() for x in ("--set", f"{k}={v}")]
        t0 = time.perf_counter()
        p = subprocess.run([oess, "run", config, "--out", out, "--force", *sets], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"{name}: oess run failed ({p.returncode}):\n{p.stderr[-2000:]}")
        m = json.load(open(os.path.join(out, "metrics.json")))
        results[name] = (m, wall)
        acc, aci = m["accuracy"], m["accuracy_ci95"]
        kq, kci = m["kappa"]["quadratic"], m["kappa_ci95"]["quadratic"]
        print(f"{name:14s} accuracy {100 * acc:.1f}% (CI {100 * aci[0]:.1f}-{100 * aci[1]:.1f}), quadratic "
              f"kappa {kq:.3f} (CI {kci[0]:.3f}-{kci[1]:.3f}), mean per-class accuracy "
              f"{100 * m['mean_per_class_accuracy']:.1f}%, {wall / 60:.1f} min", flush=True)
        if "mae" in m:
            print(f"{'':14s} MAE {m['mae']:.3f} (CI {m['mae_ci95'][0]:.3f}-{m['mae_ci95'][1]:.3f}), off by >= 2 "
                  f"{100 * m['off_by_two_or_more']:.1f}%, ECE {m['ece']:.3f} (CI {m['ece_ci95'][0]:.3f}-"
                  f"{m['ece_ci95'][1]:.3f}), Brier {m['brier']:.3f}", flush=True)
        cal = m.get("calibration", {})
        if cal.get("method") == "temperature":
            print(f"{'':14s} temperatures {', '.join(f'{t:.3f}' for t in cal['temperature'])}; test ECE "
                  f"{cal['test_ece_before']:.3f} -> {cal['test_ece_after']:.3f}, Brier {cal['test_brier_before']:.3f}"
                  f" -> {cal['test_brier_after']:.3f}", flush=True)
    first = a.only[0]
    if len(a.only) > 1:
        others = [os.path.join(a.work, n, "predictions.csv") for n in a.only[1:]]
        p = subprocess.run([oess, "compare", os.path.join(a.work, first, "predictions.csv"), *others,
                            "--json", os.path.join(a.work, "compare.json")], capture_output=True, text=True)
        print(p.stdout)
        if p.returncode != 0:
            raise SystemExit(f"oess compare failed:\n{p.stderr}")


if __name__ == "__main__":
    main()
