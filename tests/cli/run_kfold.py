"""End-to-end `oess run` with data.split.method kfold (issue #17) on a small synthetic set with patients,
checked from outside the program over the files it writes.

usage: run_kfold.py OESS WORKDIR
- split.csv: no patient in two folds; every fold's own split (folds/<fold>/split.csv): its test part is
  exactly the fold's images, and none of its training or validation rows is a test row (over the indices);
- predictions.csv: every image exactly once, its fold as in split.csv, the tap its fold chose;
- metrics.json: the pooled figures are what `oess evaluate` computes from predictions.csv, and scikit-learn's
  accuracy; per-fold figures are scikit-learn's on each fold's rows, their mean and sd numpy's;
- layers.csv: one row per tap, `chosen` summing to the folds, the selected tap the most chosen;
- a rerun gives byte-identical files; so do the folds run apart (`--fold F`) and pooled by a later run, which
  trains none of them; a damaged saved fold is trained again, one of another config never used;
- the exported (refit) model scores images and says what it is;
- `oess baseline --split-method kfold` predicts every image once; bad fold counts are refused, naming why.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np
from sklearn.metrics import accuracy_score, cohen_kappa_score

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run

K = 4
config = h.small_config("kfold", f"""  synthetic:
    dir: {work}/synth
    counts: [24, 24, 24, 24]
    patients: 16
  split: {{method: kfold, folds: {K}, val_fraction: 0.2}}
""")

p = run("run", config)
out = os.path.join(work, "runs", "kfold")
for name in ["split.csv", "predictions.csv", "metrics.json", "layers.csv", "report.md", "report.html",
             "plots/taps_folds.png", "model/model.pt", "model/model.json"] + \
        [f"folds/fold{f}/split.csv" for f in range(1, K + 1)] + [f"folds/fold{f}/layers.csv" for f in range(1, K + 1)]:
    check(os.path.isfile(os.path.join(out, name)), f"run folder holds {name}")
check("chosen by the most folds" in p.stdout and "mean ± sd over 4 folds" in p.stdout,
      "the console ends with the per-tap spread and the pooled figures")

manifest = rows(os.path.join(work, "synth", "labels.csv"))
split = rows(os.path.join(out, "split.csv"))
check([r["path"] for r in split] == [r["path"] for r in manifest], "split.csv has every image, manifest order")
fold_of = {r["path"]: int(r["fold"]) for r in split}
check(sorted(set(fold_of.values())) == list(range(1, K + 1)), f"split.csv uses folds 1..{K}")
patient_folds = {}
for r in split:
    patient_folds.setdefault(r["patient"], set()).add(r["fold"])
check(all(len(v) == 1 for v in patient_folds.values()), "no patient is in two folds")
for g in range(4):
    per_fold = [sum(1 for r in split if int(r["score"]) == g and int(r["fold"]) == f) for f in range(1, K + 1)]
    check(min(per_fold) >= 1, f"every fold's test part has grade {g} ({per_fold})")

for f in range(1, K + 1):
    fs = rows(os.path.join(out, "folds", f"fold{f}", "split.csv"))
    test = {i for i, r in enumerate(fs) if r["split"] == "test"}
    fit = {i for i, r in enumerate(fs) if r["split"] in ("train", "val")}
    check(test == {i for i, r in enumerate(split) if int(r["fold"]) == f}, f"fold {f}: its test part is the fold")
    check(not (test & fit) and len(test) + len(fit) == len(split),
          f"fold {f}: no training or validation row among its {len(test)} test rows")
    val = [fs[i] for i in fit if fs[i]["split"] == "val"]
    check(len(val) > 0, f"fold {f}: validation carved from its training part ({len(val)} images)")
    check(not ({fs[i]["patient"] for i in test} & {fs[i]["patient"] for i in fit}),
          f"fold {f}: no patient in both its test part and its training/validation parts")

pred = rows(os.path.join(out, "predictions.csv"))
check(sorted(r["path"] for r in pred) == sorted(fold_of), "predictions.csv holds every image exactly once")
check(all(int(r["fold"]) == fold_of[r["path"]] for r in pred), "its fold column is split.csv's")
metrics = json.load(open(os.path.join(out, "metrics.json")))
cv = metrics.pop("cross_validation")
metrics.pop("build")
check(metrics.pop("calibration") == {"method": "none"}, "metrics.json: calibration none (the default)")
check("random_weights" in [w["code"] for w in metrics.pop("warnings")], "metrics.json lists the run's warnings")
run("evaluate", "--predictions", os.path.join(out, "predictions.csv"), "--bootstrap", "200", "--seed", "0",
    "--out", os.path.join(work, "evaluated.json"))
check(json.load(open(os.path.join(work, "evaluated.json"))) == metrics,
      "metrics.json (but cross_validation, warnings, build and calibration) equals `oess evaluate` on predictions.csv")
check(metrics["bootstrap"]["unit"] == "patient", "its bootstrap CIs resample patients")
y = np.array([int(r["truth"]) for r in pred])
yhat = np.array([int(r["pred"]) for r in pred])
folds = np.array([int(r["fold"]) for r in pred])
check(abs(metrics["accuracy"] - accuracy_score(y, yhat)) < 1e-9, "pooled accuracy equals scikit-learn's")
check(cv["folds"] == K and len(cv["per_fold"]) == K, f"cross_validation lists {K} folds")
acc = []
for pf in cv["per_fold"]:
    sel = folds == pf["fold"]
    ref = accuracy_score(y[sel], yhat[sel])
    kap = cohen_kappa_score(y[sel], yhat[sel], weights="quadratic", labels=[0, 1, 2, 3])
    check(pf["n"] == sel.sum() and abs(pf["accuracy"] - ref) < 1e-9 and abs(pf["kappa_quadratic"] - kap) < 1e-9,
          f"fold {pf['fold']}: accuracy and quadratic kappa equal scikit-learn's on its {sel.sum()} rows")
    check(all(r["tap"] == pf["tap"] for r in pred if int(r["fold"]) == pf["fold"]),
          f"fold {pf['fold']}: predictions.csv names the tap it chose ({pf['tap']})")
    acc.append(ref)
check(abs(cv["fold_mean_sd"]["accuracy"]["mean"] - np.mean(acc)) < 1e-9 and
      abs(cv["fold_mean_sd"]["accuracy"]["sd"] - np.std(acc, ddof=1)) < 1e-9,
      "the per-fold mean and sd are numpy's (sd with n - 1)")

layers = rows(os.path.join(out, "layers.csv"))
check([r["tap"] for r in layers] == ["mixed0", "mixed2"], "layers.csv has one row per tap")
check(sum(int(r["chosen"]) for r in layers) == K, "the taps' `chosen` counts sum to the folds")
sel = [r for r in layers if r["selected"] == "1"]
check(len(sel) == 1 and int(sel[0]["chosen"]) == max(int(r["chosen"]) for r in layers) and
      sel[0]["tap"] == cv["refit_tap"], "the selected (refit) tap is the one the most folds chose")
for r in layers:
    vals = [float(x["val_accuracy"]) for x in
            (rows(os.path.join(out, "folds", f"fold{f}", "layers.csv"))[layers.index(r)] for f in range(1, K + 1))]
    check(abs(float(r["val_accuracy"]) - np.mean(vals)) < 1e-5 and
          abs(float(r["val_accuracy_sd"]) - np.std(vals, ddof=1)) < 1e-5,
          f"{r['tap']}: validation accuracy mean and sd over the folds' own layers.csv")
report = open(os.path.join(out, "report.md")).read()
check("cross-validation folds" in report and "mean ± sd" in report and "chosen by folds" in report,
      "the report has the per-fold table and the per-tap fold spread")

# Same config, same seed: identical files.
run("run", config, "--out", os.path.join(work, "again"))
for name in ["split.csv", "predictions.csv", "metrics.json", "layers.csv", "folds/fold2/split.csv",
             "model/classifiers.pt"]:
    check(open(os.path.join(work, "again", name), "rb").read() == open(os.path.join(out, name), "rb").read(),
          f"a second run gives an identical {name}")

# Folds as separate processes (`oess run --fold F`, what `--slurm`'s fold array runs): each trains and saves
# its fold; a run of the same config pools the saved folds without training them, byte-identical.
byfold = os.path.join(work, "byfold")
run("run", config, "--out", byfold, "--stage", "..extract")
for f in range(1, K + 1):
    p = run("run", config, "--out", byfold, "--fold", str(f))
    check(os.path.isfile(os.path.join(byfold, "folds", f"fold{f}", "fold.pt")) and
          os.path.isfile(os.path.join(byfold, "folds", f"fold{f}", "log.txt")) and f"fold{f}: ensemble" in p.stdout,
          f"--fold {f}: the fold trained and saved, with its own log")
check(not os.path.exists(os.path.join(byfold, "predictions.csv")), "fold jobs write no pooled results")
p = run("run", config, "--out", byfold, "--stage", "sweep..")
check(f"{K} of {K} folds saved by `oess run --fold`" in p.stdout and p.stdout.count("[saved]") == K,
      "the pooling run loads every saved fold and trains none")
pooled = ["predictions.csv", "metrics.json", "layers.csv", "folds/fold3/layers.csv", "folds/fold1/curves/mixed2.csv",
          "model/classifiers.pt"]
for name in pooled:
    check(open(os.path.join(byfold, name), "rb").read() == open(os.path.join(out, name), "rb").read(),
          f"folds run apart, then pooled: {name} identical to the whole run's")
# Negative control: the pooled results come from the saved states. Fold 1's members' probabilities reversed
# (key intact): its images' predictions change, and only theirs.
import torch  # noqa: E402
state = os.path.join(byfold, "folds", "fold1", "fold.pt")
d = torch.load(state)
for key in d:
    if key.startswith("member") and key.endswith("test_probabilities"):
        d[key] = d[key].flip(1).contiguous()
torch.save(d, state)
run("run", config, "--out", byfold, "--stage", "sweep..")
changed = {r["fold"] for a, r in zip(rows(os.path.join(out, "predictions.csv")), rows(os.path.join(byfold, "predictions.csv")))
           if a["pred"] != r["pred"]}
check(changed == {"1"}, f"an altered fold.pt changes its own fold's predictions and no other ({changed})")
run("run", config, "--out", byfold, "--fold", "1")
with open(os.path.join(byfold, "folds", "fold2", "fold.pt"), "r+b") as f:
    f.truncate(2000)
p = run("run", config, "--out", byfold, "--stage", "sweep..")
check(f"{K - 1} of {K} folds saved" in p.stdout and "fold2 (unreadable" in p.stdout,
      "a damaged fold.pt is named and that fold trained again")
check(open(os.path.join(byfold, "predictions.csv"), "rb").read() == open(os.path.join(out, "predictions.csv"), "rb").read(),
      "and the results are the same")
p = run("run", config, "--out", byfold, "--stage", "sweep..", "--set", "classifier.max_epochs=20", "--force")
check("folds saved by" not in p.stdout and "fold1 (saved by another config)" in p.stdout,
      "saved folds of another config are never used")
for args, expect in [(["--fold", "9"], "this study has 4 folds (--fold 1..4)"), (["--fold", "0"], "numbered from 1"),
                     (["--fold", "1", "--stage", "sweep.."], "takes no --stage")]:
    p = run("run", config, "--out", byfold, *args, "--force", rc=2)
    check(expect in p.stderr, f"{' '.join(args)}: exit 2, '{expect}'")
p = run("run", config, "--out", os.path.join(work, "single"), "--fold", "1", "--set", "data.split.method=stratified",
        rc=2)
check("not kfold" in p.stderr and not os.path.exists(os.path.join(work, "single")),
      "--fold on a single split: exit 2, nothing written")

# Folds x taps share one thread pool: one thread gives the same results as two.
run("run", config, "--set", "classifier.threads=1", "--stage", "..evaluate", "--out", os.path.join(work, "one-thread"))
for name in ["predictions.csv", "layers.csv"]:
    check(open(os.path.join(work, "one-thread", name), "rb").read() == open(os.path.join(out, name), "rb").read(),
          f"classifier.threads 1 and 2 give an identical {name}")
one, two = (json.load(open(os.path.join(d, "metrics.json"))) for d in (os.path.join(work, "one-thread"), out))
check(one.pop("build")["threads"]["classifier"] == 1 and two.pop("build")["threads"]["classifier"] == 2 and one == two,
      "and an identical metrics.json, but for its build block, which says which thread count ran")

# The exported model: refit on every image with the chosen tap; scores like any run's.
model = json.load(open(os.path.join(out, "model", "model.json")))
check(all(m["tap"] == cv["refit_tap"] for m in model["members"]) and len(model["members"]) == 2,
      "the exported members use the tap the folds chose")
check("refit on every image" in model["cross_validation"]["refit"], "model.json says it is a refit")
images = [os.path.join(work, "synth", r["path"]) for r in manifest[:3]]
p = run("score", "--model", os.path.join(out, "model", "model.pt"), "--csv", os.path.join(work, "scores.csv"),
        *images)
check(len(rows(os.path.join(work, "scores.csv"))) == 3, "`oess score` scores images with the refit model")
check(f"refit on every image after {K}-fold cross-validation (tap {cv['refit_tap']}" in p.stderr and
      "out-of-fold" in p.stderr, "and says it is a cross-validated refit, with the folds' figure")
# `oess export --run` of a K-fold run finds the refit's training images (split.csv's refit column) for the
# heat-map references, as the run's own export did: the default heat map works with either file.
exported = os.path.join(work, "exported.pt")
p = run("export", "--run", out, "--out", exported)
check("no heat-map references" not in p.stderr, "oess export --run finds the K-fold run's reference images")
for name, file in (("the run's model.pt", os.path.join(out, "model", "model.pt")), ("oess export --run's", exported)):
    heat = os.path.join(work, "heat-" + os.path.basename(file))
    run("score", "--model", file, "--heatmap", heat, images[0])
    check(len([f for f in os.listdir(heat) if f.endswith(".png")]) == 1,
          f"{name} makes the default (gradcam-ig) heat map")

# The comparator, cross-validated.
bout = os.path.join(work, "baseline")
run("baseline", "--manifest", os.path.join(work, "synth", "labels.csv"), "--split-method", "kfold", "--folds",
    str(K), "--bootstrap", "100", "--out", bout)
bpred = rows(os.path.join(bout, "predictions.csv"))
check(sorted(r["path"] for r in bpred) == sorted(fold_of) and all(r["fold"] for r in bpred),
      "`oess baseline --split-method kfold` predicts every image once, with its fold")
run("evaluate", "--predictions", os.path.join(bout, "predictions.csv"), "--bootstrap", "100", "--seed", "0",
    "--out", os.path.join(work, "bevaluated.json"))
bmetrics = json.load(open(os.path.join(bout, "metrics.json")))
check("warnings" in bmetrics and json.load(open(os.path.join(work, "bevaluated.json"))) ==
      {k: v for k, v in bmetrics.items() if k != "warnings"},
      "and its metrics.json is `oess evaluate`'s, with the baseline's warnings")

# Bad input: too many folds for a grade's patients (exit 1, naming grade and counts); one fold (exit 2).
p = run("run", config, "--set", "data.split.folds=40", "--out", os.path.join(work, "too-many"), rc=1)
check("grade" in p.stderr and "fewer than the 40 folds" in p.stderr and "patient(s)" in p.stderr,
      "more folds than a grade's patients: exit 1 naming the grade and the counts")
check(not os.path.exists(os.path.join(work, "too-many", "predictions.csv")), "and nothing is written")
p = run("run", config, "--set", "data.split.folds=1", "--out", os.path.join(work, "one"), rc=2)
check("data.split.folds" in p.stderr, "folds: 1 is refused, naming the key")
p = run("sweep", "--features", "x.pt", "--manifest", "y.csv", "--split-method", "kfold", "--folds", "1", rc=2)
check("cross-validation needs at least 2" in p.stderr, "--folds 1 is refused on the command line")

h.finish()
