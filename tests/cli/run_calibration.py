"""`oess run` with calibration.method temperature (issue #32), checked from outside against the same run
without it, SciPy and ONNX Runtime.

usage: run_calibration.py OESS WORKDIR NODE_MODULES
Two runs of one synthetic set, one split and one config but calibration.method (none, temperature): the
members are the same, so
- the calibrated run's predictions.csv equals softmax(log p / T) of the plain run's p, row by row (1e-5),
  with the same grades called; T is metrics.json's calibration.temperature;
- T is SciPy's fit of the same objective on the validation images' probabilities, which the plain run's
  exported model gives (`oess score` on split.csv's val rows; 1e-3: the scores are written to 6 places);
- metrics.json's test_ece_before/after are the ECE of the plain/calibrated predictions (NumPy, 10 bins),
  and the calibrated run's `ece` is its after figure;
- the exported model (oess score) and its ONNX export (ONNX Runtime) give the calibrated probabilities;
- a K-fold run fits one temperature per fold; the report shows the reliability diagram;
- calibration.method platt (binary): P(diseased) = sigmoid(a logit p + b) of the plain binary run's, (a, b)
  SciPy's fit on the validation images, oess score and ONNX Runtime agree; refused for the four grades;
- classifier.head ordinal (with calibration): model.json says so, oess score and ONNX Runtime on its export
  give predictions.csv's probabilities, and `oess compare` takes the softmax and ordinal runs side by side.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work, node_modules = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
here = os.path.dirname(os.path.abspath(__file__))
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")


def config(name, method, split="{method: grouped, val_fraction: 0.25, test_fraction: 0.3}", head="softmax",
           task="oess4"):
    data = f"  synthetic: {{dir: {synth}, counts: [24, 24, 24, 24], patients: 16}}\n  split: {split}\n  check: false\n"
    return h.small_config(name, data, classifier=f"  head: {head}\n  task: {task}\n", members=3, bootstrap=100,
                          export="[oess, onnx]", extra=f"calibration:\n  method: {method}\n")


def probs(path):
    r = rows(path)
    return r, np.array([[float(x[f"p{k}"]) for k in range(4)] for x in r])


def ece(p, truth):
    conf, pred = p.max(1), p.argmax(1)
    b = np.minimum(np.floor(conf * 10).astype(int), 9)
    return sum((b == k).sum() / len(p) * abs((pred == truth)[b == k].mean() - conf[b == k].mean())
               for k in range(10) if (b == k).any())


run("run", config("plain", "none"))
run("run", config("cal", "temperature"))
plain_dir, cal_dir = (os.path.join(work, "runs", n) for n in ("plain", "cal"))
m = json.load(open(os.path.join(cal_dir, "metrics.json")))
c = m["calibration"]
T = c["temperature"]
check(c["method"] == "temperature" and T > 0, f"metrics.json: calibration by temperature, T = {T:.4f}")
check(json.load(open(os.path.join(plain_dir, "metrics.json")))["calibration"] == {"method": "none"},
      "the plain run says calibration none")

pr, p = probs(os.path.join(plain_dir, "predictions.csv"))
cr, q = probs(os.path.join(cal_dir, "predictions.csv"))
check([x["path"] for x in pr] == [x["path"] for x in cr], "both runs predict the same test images")
expect = np.exp(log_softmax(np.log(np.maximum(p, 1e-12)) / T, axis=1))
gap = np.abs(expect - q).max()
check(gap <= 2e-5, f"calibrated probabilities = softmax(log p / T) of the plain run's (largest gap {gap:.1e})")
check([x["pred"] for x in pr] == [x["pred"] for x in cr], "the grades called do not change")

# T against SciPy on the validation images, scored by the plain run's exported model.
split = rows(os.path.join(plain_dir, "split.csv"))
val = [r for r in split if r["split"] == "val"]
scores = os.path.join(work, "val_scores.csv")
run("score", "--model", os.path.join(plain_dir, "model"), *[os.path.join(synth, r["path"]) for r in val],
    "--csv", scores)
vs = rows(scores)
pv = np.array([[float(x[f"p{k}"]) for k in range(4)] for x in vs])
yv = np.array([int(r["score"]) for r in val])


def nll(t):
    return -log_softmax(np.log(np.maximum(pv, 1e-12)) / t, axis=1)[np.arange(len(yv)), yv].mean()


ref = float(np.exp(minimize_scalar(lambda lt: nll(np.exp(lt)), bounds=(np.log(1e-3), np.log(1e3)),
                                   method="bounded", options={"xatol": 1e-10}).x))
check(abs(ref - T) <= 1e-3 * ref, f"T is SciPy's fit on the {len(yv)} validation images ({ref:.5f} vs {T:.5f})")
check(c["validation_images"] == len(yv), "fitted on the validation images only")
truth = np.array([int(x["truth"]) for x in pr])
check(abs(c["test_ece_before"] - ece(p, truth)) < 1e-5 and abs(c["test_ece_after"] - ece(q, truth)) < 1e-5,
      f"test ECE before {c['test_ece_before']:.4f} / after {c['test_ece_after']:.4f} are NumPy's")
check(abs(m["ece"] - c["test_ece_after"]) < 1e-5, "metrics.json's ece is the calibrated model's")

# The exported model and its ONNX file give the calibrated probabilities.
test_paths = [os.path.join(synth, x["path"]) for x in cr]
out, npy = os.path.join(work, "test_scores.csv"), os.path.join(work, "x.npy")
run("score", "--model", os.path.join(cal_dir, "model"), *test_paths, "--csv", out, "--save-input", npy)
_, s = probs(out)
check(np.abs(s - q).max() <= 1e-4, f"oess score gives the calibrated probabilities ({np.abs(s - q).max():.1e})")
mj = json.load(open(os.path.join(cal_dir, "model", "model.json")))
check(mj["calibration"]["method"] == "temperature" and abs(mj["calibration"]["temperature"] - T) < 1e-12,
      "model.json records the temperature")
ort_out = os.path.join(work, "ort.json")
o = subprocess.run(["node", os.path.join(here, "..", "oracles", "ort_run.js"), os.path.join(cal_dir, "model",
                    "model.onnx"), npy, ort_out], env=dict(os.environ, NODE_PATH=node_modules),
                   capture_output=True, text=True)
ok = o.returncode == 0
op = np.array(json.load(open(ort_out))["outputs"]["probabilities"]["data"]).reshape(-1, 4) if ok else None
check(ok and np.abs(op - q).max() <= 1e-4,
      f"ONNX Runtime on model.onnx gives the calibrated probabilities {o.stderr[-300:]}"
      + (f" ({np.abs(op - q).max():.1e})" if ok else ""))
# `oess export --run` reads the temperature back from the folder.
again = os.path.join(work, "again.pt")
run("export", "--run", cal_dir, "--out", again)
out2 = os.path.join(work, "again.csv")
run("score", "--model", again, *test_paths, "--csv", out2)
_, s2 = probs(out2)
check(np.abs(s2 - s).max() <= 1e-6, "a model exported again from the run folder is calibrated the same")
# --manifest: per-patient sums of the scored images it holds; a warning, not an empty table, when none match.
other = os.path.join(work, "other.csv")
with open(other, "w") as f:
    f.write("path,score,patient\nnot/here.png,0,P99\n")
p_none = run("score", "--model", os.path.join(cal_dir, "model"), *test_paths[:3], "--manifest", other)
check("none of the 3 scored image(s) is a row of it" in p_none.stderr and "per patient" not in p_none.stdout,
      "score --manifest matching no image warns instead of printing an empty per-patient table")
p_some = run("score", "--model", os.path.join(cal_dir, "model"), *test_paths[:3],
             "--manifest", os.path.join(synth, "labels.csv"))
check("per patient" in p_some.stdout and "not in it" not in p_some.stderr,
      "score --manifest with the run's manifest prints the per-patient sums")
report = open(os.path.join(cal_dir, "report.md")).read()
check("plots/reliability.png" in report and os.path.isfile(os.path.join(cal_dir, "plots", "reliability.png")),
      "the report shows the reliability diagram")
check(f"ECE {c['test_ece_before']:.3f} before, {c['test_ece_after']:.3f} after" in report,
      "the report gives the reliability before and after calibration")

# K-fold: a temperature per fold.
run("run", config("kcal", "temperature", "{method: kfold, folds: 3, val_fraction: 0.25}"))
km = json.load(open(os.path.join(work, "runs", "kcal", "metrics.json")))["calibration"]
check(isinstance(km["temperature"], list) and len(km["temperature"]) == 3,
      f"K-fold: one temperature per fold ({km['temperature']})")

# Platt scaling (binary): P(diseased) = sigmoid(a logit p + b) of the plain binary run's, (a, b) SciPy's fit on
# the validation images scored by the plain binary model; oess score and ONNX Runtime agree.
run("run", config("bplain", "none", task="binary"))
run("run", config("bplatt", "platt", task="binary"))
bp_dir, bq_dir = (os.path.join(work, "runs", n) for n in ("bplain", "bplatt"))
bc = json.load(open(os.path.join(bq_dir, "metrics.json")))["calibration"]
A, B = bc.get("a", float("nan")), bc.get("b", float("nan"))
check(bc["method"] == "platt", f"metrics.json: calibration by Platt, a = {A:.4f}, b = {B:.4f}")
bpr, bqr = rows(os.path.join(bp_dir, "predictions.csv")), rows(os.path.join(bq_dir, "predictions.csv"))
p1 = np.array([float(x["p1"]) for x in bpr])
q1 = np.array([float(x["p1"]) for x in bqr])
z = np.log(np.maximum(p1, 1e-12)) - np.log(np.maximum(1 - p1, 1e-12))
gap = np.abs(1 / (1 + np.exp(-(A * z + B))) - q1).max()
check(gap <= 2e-5, f"Platt: P(diseased) = sigmoid(a logit p + b) of the plain run's (largest gap {gap:.1e})")
check([x["pred"] for x in bqr] == [str(int(v > 0.5)) for v in q1], "Platt: the calls follow the scaled P(diseased)")
bval = [r for r in rows(os.path.join(bp_dir, "split.csv")) if r["split"] == "val"]
bscores = os.path.join(work, "bval_scores.csv")
run("score", "--model", os.path.join(bp_dir, "model"), *[os.path.join(synth, r["path"]) for r in bval], "--csv", bscores)
pv1 = np.array([float(x["p1"]) for x in rows(bscores)])
yv1 = np.array([int(int(r["score"]) >= 2) for r in bval])
zv = np.log(np.maximum(pv1, 1e-12)) - np.log(np.maximum(1 - pv1, 1e-12))


def platt_nll(theta):
    s_ = theta[0] * zv + theta[1]
    return float(np.mean(np.logaddexp(0, s_) - yv1 * s_))


ab = minimize(platt_nll, np.array([1.0, 0.0]), method="Nelder-Mead",
              options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 20000}).x
check(abs(ab[0] - A) <= 2e-3 * max(1, abs(A)) and abs(ab[1] - B) <= 2e-3 * max(1, abs(B)),
      f"(a, b) is SciPy's fit on the {len(yv1)} validation images (({ab[0]:.5f}, {ab[1]:.5f}) vs ({A:.5f}, {B:.5f}))")
btest = [os.path.join(synth, x["path"]) for x in bqr]
bout, bnpy = os.path.join(work, "b_scores.csv"), os.path.join(work, "b_x.npy")
run("score", "--model", os.path.join(bq_dir, "model"), *btest, "--csv", bout, "--save-input", bnpy)
bs = np.array([float(x["p1"]) for x in rows(bout)])
check(np.abs(bs - q1).max() <= 1e-4, f"Platt: oess score gives the calibrated P(diseased) ({np.abs(bs - q1).max():.1e})")
bort = os.path.join(work, "b_ort.json")
o = subprocess.run(["node", os.path.join(here, "..", "oracles", "ort_run.js"), os.path.join(bq_dir, "model",
                    "model.onnx"), bnpy, bort], env=dict(os.environ, NODE_PATH=node_modules),
                   capture_output=True, text=True)
ok = o.returncode == 0
bo = np.array(json.load(open(bort))["outputs"]["probabilities"]["data"]).reshape(-1, 2)[:, 1] if ok else None
check(ok and np.abs(bo - q1).max() <= 1e-4, "Platt: ONNX Runtime on model.onnx gives the calibrated P(diseased)"
      + (f" ({np.abs(bo - q1).max():.1e})" if ok else o.stderr[-300:]))
bad = run("run", config("platt4", "platt"), rc=2)
check("calibration.method" in bad.stderr and "binary" in bad.stderr,
      "Platt with the four grades is refused (exit 2), naming the key")

# The ordinal head, end to end.
run("run", config("ordinal", "temperature", head="ordinal"))
od = os.path.join(work, "runs", "ordinal")
oj = json.load(open(os.path.join(od, "model", "model.json")))
check(all(mb["head"] == "ordinal" for mb in oj["members"]), "model.json: every member has the ordinal head")
orows, oq = probs(os.path.join(od, "predictions.csv"))
paths = [os.path.join(synth, x["path"]) for x in orows]
out3, npy3 = os.path.join(work, "ord_scores.csv"), os.path.join(work, "ord_x.npy")
run("score", "--model", os.path.join(od, "model"), *paths, "--csv", out3, "--save-input", npy3)
_, s3 = probs(out3)
check(np.abs(s3 - oq).max() <= 1e-4, f"ordinal: oess score gives predictions.csv's probabilities ({np.abs(s3 - oq).max():.1e})")
ort3 = os.path.join(work, "ort_ord.json")
o = subprocess.run(["node", os.path.join(here, "..", "oracles", "ort_run.js"), os.path.join(od, "model", "model.onnx"),
                    npy3, ort3], env=dict(os.environ, NODE_PATH=node_modules), capture_output=True, text=True)
ok = o.returncode == 0
op3 = np.array(json.load(open(ort3))["outputs"]["probabilities"]["data"]).reshape(-1, 4) if ok else None
check(ok and np.abs(op3 - oq).max() <= 1e-4, "ordinal: ONNX Runtime on model.onnx gives predictions.csv's probabilities"
      + (f" ({np.abs(op3 - oq).max():.1e})" if ok else o.stderr[-300:]))
cmp = run("compare", os.path.join(cal_dir, "predictions.csv"), os.path.join(od, "predictions.csv"),
          "--bootstrap", "200")
check("accuracy" in cmp.stdout, "oess compare takes the softmax and the ordinal run side by side")
h.finish()
