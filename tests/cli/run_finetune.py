"""`oess run` with the finetune stage (issue #31), checked from outside the run folder.

usage: run_finetune.py OESS WORKDIR KERAS_WEIGHTS NODE_MODULES

On a small synthetic set with the Keras ImageNet weights (tools/get_weights.sh), the blocks after mixed3
fine-tune with a head on mixed4:
- the exported model holds the weights file's tensors unchanged up to mixed3 and for every BatchNorm
  statistic, and changed ones in mixed4 (read with Python torch, not with oess);
- `oess score` on the exported model gives predictions.csv's probabilities, and so does ONNX Runtime
  (onnxruntime-node, an independent runtime) on its ONNX export;
- curve.csv flags the epoch with the best validation accuracy as the one kept;
- a run killed with SIGKILL after a checkpoint resumes and ends byte-identical (predictions.csv, the trained
  tensors) to an uninterrupted run, as does a rerun from scratch;
- calibration.method temperature fits T on the tuned network's validation probabilities (SciPy's fit of them),
  and its predictions are the plain run's softmax(log p / T); K-fold fits one T per fold;
- bad finetune.* settings exit 2 naming the key, with nothing written; a random-weight backbone gets a
  warning in metrics.json.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import torch

oess, work, weights = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
node_modules = os.path.abspath(sys.argv[4])
here = os.path.dirname(os.path.abspath(__file__))
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []
EPOCHS = 10


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


config = os.path.join(work, "ft.yaml")
with open(config, "w") as f:
    f.write(f"""name: ft
data:
  synthetic: {{dir: {work}/synth, counts: [20, 20, 20, 20], patients: 8}}
  split: {{val_per_class: 5, test_per_class: 5}}
  allow_patient_overlap: true
backbone: {{weights: {weights}}}
features: {{layers: [mixed3, mixed4], cache: {work}/cache, batch: 8}}
classifier: {{max_epochs: 30}}
selection: {{tap: mixed4}}
ensemble: {{members: 3}}
report: {{bootstrap: 100, formats: [md]}}
finetune: {{enabled: true, train_from: mixed3, epochs: {EPOCHS}, batch: 8, patience: {EPOCHS}}}
""")


def run(out, *extra, wait=True):
    cmd = [oess, "run", config, "--out", out, *extra]
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(cmd, capture_output=True, text=True)


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def score_gap(run_dir, columns):
    """The largest difference between predictions.csv's probabilities (`columns`) and `oess score`'s on the
    exported model for the same images; inf when either is missing or their rows differ in number."""
    try:
        with open(os.path.join(run_dir, "predictions.csv"), newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return float("inf")
    out = run_dir + "-scores.csv"
    p = subprocess.run([oess, "score", "--model", os.path.join(run_dir, "model"),
                        *[os.path.join(work, "synth", r["path"]) for r in rows], "--csv", out], capture_output=True)
    if p.returncode != 0:
        return float("inf")
    with open(out, newline="") as fh:
        scored = list(csv.DictReader(fh))
    if not rows or len(scored) != len(rows):
        return float("inf")
    return max(abs(float(x[c]) - float(y[c])) for x, y in zip(rows, scored) for c in columns)


a = os.path.join(work, "a")
p = run(a)
check(p.returncode == 0, f"the fine-tuning run completes (exit {p.returncode}) {p.stderr[-400:]}")
log = read(os.path.join(a, "log.txt")).decode()
check("[5/9] finetune" in log and "blocks after mixed3 train with a head on mixed4" in log,
      "the log shows the finetune stage and what trains")
check("skipped: the fine-tuned network is the model" in log, "the ensemble stage gives way to the fine-tuned network")

# The exported network against the weights file, with Python torch.
model = torch.load(os.path.join(a, "model", "model.pt"))
orig = torch.load(weights)
frozen_same, stats_same, tuned_changed, tuned = True, True, False, 0
for key, t in model.items():
    if not key.startswith("backbone."):
        continue
    name = key[len("backbone."):]
    o = orig[name]
    if name.startswith("Mixed_6b."):  # mixed4: trained
        if "running_" in name or "num_batches" in name:
            stats_same &= torch.equal(t, o)
        else:
            tuned += 1
            tuned_changed |= not torch.equal(t, o)
    else:
        frozen_same &= torch.equal(t, o)
check(frozen_same, "every tensor up to mixed3 is the weights file's, bit for bit")
check(stats_same, "BatchNorm running statistics of the trained block are unchanged (frozen statistics)")
check(tuned > 0 and tuned_changed, f"the trained block's {tuned} parameters changed")

# oess score on the exported model gives predictions.csv's probabilities.
with open(os.path.join(a, "predictions.csv"), newline="") as fh:
    preds = list(csv.DictReader(fh))
synth = os.path.join(work, "synth")
diff = score_gap(a, [f"p{k}" for k in range(4)])
check(diff <= 1e-4, f"oess score's probabilities are predictions.csv's ({len(preds)} images, largest difference "
      f"{diff:.1e})")

# ONNX Runtime on the ONNX export of the fine-tuned model, fed the inputs oess score prepared.
onnx, npy, ort_out = (os.path.join(work, n) for n in ("ft.onnx", "x.npy", "ort.json"))
e = subprocess.run([oess, "export", "--run", a, "--format", "onnx", "--out", onnx], capture_output=True, text=True)
s2 = subprocess.run([oess, "score", "--model", os.path.join(a, "model"),
                     *[os.path.join(synth, r["path"]) for r in preds], "--save-input", npy], capture_output=True)
o = subprocess.run(["node", os.path.join(here, "..", "oracles", "ort_run.js"), onnx, npy, ort_out],
                   env=dict(os.environ, NODE_PATH=node_modules), capture_output=True, text=True)
ok = e.returncode == 0 and s2.returncode == 0 and o.returncode == 0
probs = json.loads(read(ort_out))["outputs"]["probabilities"]["data"] if ok else []
odiff = max((abs(probs[4 * i + k] - float(r[f"p{k}"])) for i, r in enumerate(preds) for k in range(4)),
            default=float("inf"))
check(ok and len(probs) == 4 * len(preds) and odiff <= 1e-4,
      f"ONNX Runtime on the fine-tuned model's ONNX export gives predictions.csv's probabilities (largest "
      f"difference {odiff:.1e}) {e.stderr[-200:]}{o.stderr[-200:]}")

# The curve: one row per epoch run, the kept epoch the best on validation.
with open(os.path.join(a, "finetune", "curve.csv"), newline="") as fh:
    curve = list(csv.DictReader(fh))
best = [r for r in curve if r["best"] == "1"]
top = max(float(r["val_accuracy"]) for r in curve)
check(len(curve) == EPOCHS + 1 and curve[0]["epoch"] == "0" and len(best) == 1,
      f"curve.csv: the start and {len(curve) - 1} epochs, {len(best)} flagged best")
first_top = next(r for r in curve if float(r["val_accuracy"]) == top)
check(best and float(best[0]["val_accuracy"]) == top,
      f"the kept epoch ({best[0]['epoch'] if best else '-'}) has the highest validation accuracy ({top:.3f}; "
      f"first reached in epoch {first_top['epoch']})")
metrics = json.loads(read(os.path.join(a, "metrics.json")))
codes = [w["code"] for w in metrics.get("warnings", [])]
check("finetune_random_weights" not in codes, "ImageNet weights: no random-weights warning")

# Killed after a checkpoint, resumed: the same result as the uninterrupted run.
resumed_after = None
for attempt in range(3):
    b = os.path.join(work, f"b{attempt}")
    proc = run(b, wait=False)
    ckpt = os.path.join(b, "finetune", "checkpoint.pt")
    while proc.poll() is None and not os.path.exists(ckpt):
        time.sleep(0.01)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = run(b)
    line = [ln for ln in r.stdout.splitlines() + r.stderr.splitlines() if "resumed after epoch" in ln]
    if r.returncode == 0 and line:
        resumed_after = int(line[0].split("resumed after epoch ")[1].split()[0])
        if resumed_after < EPOCHS:
            break
check(resumed_after is not None and resumed_after < EPOCHS,
      f"the rerun of a killed run resumes mid-training (after epoch {resumed_after} of {EPOCHS})")
check(read(os.path.join(b, "predictions.csv")) == read(os.path.join(a, "predictions.csv")),
      "the resumed run's predictions.csv is byte-identical to the uninterrupted run's")
ta, tb = (torch.load(os.path.join(d, "model", "finetuned.pt")) for d in (a, b))
check(ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta),
      "the resumed run's fine-tuned tensors equal the uninterrupted run's")
c = os.path.join(work, "c")
run(c)
check(read(os.path.join(c, "predictions.csv")) == read(os.path.join(a, "predictions.csv")),
      "a rerun from scratch is byte-identical")
check("frozen train: 40 images, all from the cache" in read(os.path.join(c, "log.txt")).decode(),
      "the rerun reads the frozen activations from the cache")

# Calibrated (issue #32): the same fine-tuning (deterministic, as above) with calibration.method temperature.
# T must be SciPy's fit on the TUNED network's validation probabilities (oess score of run a's export on the
# validation images), and every test probability softmax(log p / T) of run a's.
cal = os.path.join(work, "cal")
r = run(cal, "--set", "calibration.method=temperature")
check(r.returncode == 0, f"a fine-tuning run with calibration.method temperature completes {r.stderr[-300:]}")
if r.returncode == 0:
    block = json.loads(read(os.path.join(cal, "metrics.json")))["calibration"]
    t = block["temperature"]
    with open(os.path.join(a, "split.csv"), newline="") as fh:
        val = [r_["path"] for r_ in csv.DictReader(fh) if r_["split"] == "val"]
    with open(os.path.join(a, "split.csv"), newline="") as fh:
        truth = {r_["path"]: int(r_["score"]) for r_ in csv.DictReader(fh)}
    out = os.path.join(work, "val-scores.csv")
    subprocess.run([oess, "score", "--model", os.path.join(a, "model"), *[os.path.join(synth, v) for v in val],
                    "--csv", out], capture_output=True, check=True)
    with open(out, newline="") as fh:
        vp = torch.tensor([[float(x[f"p{k}"]) for k in range(4)] for x in csv.DictReader(fh)], dtype=torch.float64)
    y = torch.tensor([truth[v] for v in val])
    from scipy.optimize import minimize_scalar
    logp = vp.clamp_min(1e-12).log()
    nll = lambda tt: float(-torch.log_softmax(logp / tt, 1)[torch.arange(len(y)), y].mean())  # noqa: E731
    t_scipy = minimize_scalar(nll, bounds=(0.05, 20), method="bounded", options={"xatol": 1e-8}).x
    check(block["validation_images"] == len(val) and abs(t - t_scipy) <= 1e-3,
          f"T ({t:.5f}) is SciPy's fit on the tuned network's {len(val)} validation probabilities ({t_scipy:.5f})")
    with open(os.path.join(cal, "predictions.csv"), newline="") as fh:
        pc = torch.tensor([[float(x[f"p{k}"]) for k in range(4)] for x in csv.DictReader(fh)], dtype=torch.float64)
    pa = torch.tensor([[float(x[f"p{k}"]) for k in range(4)] for x in preds], dtype=torch.float64)
    expect = torch.softmax(pa.clamp_min(1e-12).log() / t, 1)
    gap = (pc - expect).abs().max().item()
    check(gap <= 1e-5, f"the calibrated fine-tuned run's probabilities are softmax(log p / T) of the plain "
          f"run's (largest difference {gap:.1e})")
    sgap = score_gap(cal, [f"p{k}" for k in range(4)])
    check(sgap <= 1e-4, f"oess score on its export gives the calibrated probabilities (largest difference {sgap:.1e})")


# The binary task: a two-way head whose exported logistic member scores as predictions.csv says.
bn = os.path.join(work, "binary")
r = run(bn, "--set", "classifier.task=binary", "--set", "finetune.epochs=3")
bdiff = score_gap(bn, ["p1"]) if r.returncode == 0 else float("inf")
check(bdiff <= 1e-4, f"binary task: oess score's P(diseased) is predictions.csv's (largest difference {bdiff:.1e})")

# VGG-16 (seeded random weights: there is no VGG weights file here, so tiny learning rates): train_from auto is
# the pool before the head's tap, and the exported model scores as predictions.csv says.
vg = os.path.join(work, "vgg")
r = run(vg, "--set", "backbone.arch=vgg16", "--set", "backbone.weights=none",
        "--set", "features.layers=[block4_pool,block5_pool]", "--set", "selection.tap=block5_pool",
        "--set", "finetune.train_from=auto", "--set", "finetune.epochs=1", "--set", "finetune.warmup_epochs=0",
        "--set", "finetune.lr_backbone=1e-7", "--set", "finetune.lr_head=1e-7")
vlog = read(os.path.join(vg, "log.txt")).decode() if r.returncode == 0 else r.stderr
vdiff = score_gap(vg, [f"p{k}" for k in range(4)]) if r.returncode == 0 else float("inf")
check("blocks after block4_pool train with a head on block5_pool" in vlog and vdiff <= 1e-4,
      f"VGG-16: block5 fine-tunes (train_from auto = block4_pool) and oess score gives predictions.csv "
      f"(largest difference {vdiff:.1e})")

# finetune.views: each training item and its augmented views.
v = os.path.join(work, "views")
r = run(v, "--set", "finetune.views=2", "--set", "finetune.epochs=1", "--set", "finetune.warmup_epochs=0")
vlog = read(os.path.join(v, "log.txt")).decode() if r.returncode == 0 else ""
check("120 training images" in vlog, "finetune.views: 2 trains on 3 versions of each of the 40 training images")

# train_from input with views: drawn afresh every epoch, from seeds that depend only on the epoch, so two
# runs train on the same images (their curves agree to the last digit written).
curves = []
for tag in ("input1", "input2"):
    d = os.path.join(work, tag)
    r = run(d, "--set", "finetune.train_from=input", "--set", "finetune.views=1", "--set", "finetune.epochs=2",
            "--set", "finetune.warmup_epochs=0")
    log_i = read(os.path.join(d, "log.txt")).decode() if r.returncode == 0 else ""
    with open(os.path.join(d, "finetune", "curve.csv"), newline="") as fh:
        curves.append([{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(fh)])
check("80 training images (their views drawn afresh every epoch)" in log_i,
      "train_from input: the views are drawn afresh every epoch")
check(len(curves[0]) == 3 and curves[0] == curves[1],
      "train_from input with fresh views: two runs give the same curve (losses, accuracies)")

# K-fold: every fold fine-tunes its own copy; every image is predicted out of fold; the refit is exported.
kf = os.path.join(work, "kf")
r = run(kf, "--set", "data.split.method=kfold", "--set", "data.split.folds=3", "--set", "data.split.val_fraction=0.25",
        "--set", f"data.synthetic.dir={work}/synth16", "--set", "data.synthetic.patients=16", "--set", "finetune.epochs=3",
        "--set", "calibration.method=temperature")
check(r.returncode == 0, f"a K-fold fine-tuning run completes (exit {r.returncode}) {r.stderr[-300:]}")
if r.returncode == 0:
    with open(os.path.join(kf, "predictions.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    folds = sorted(os.listdir(os.path.join(kf, "folds")))
    curves = [os.path.join(kf, "folds", f, "finetune", "curve.csv") for f in folds]
    check(len(rows) == 80 and {r["fold"] for r in rows} == {"1", "2", "3"},
          f"K-fold: {len(rows)} out-of-fold predictions over folds {sorted({r['fold'] for r in rows})}")
    check(len(folds) == 3 and all(os.path.isfile(c) for c in curves), f"K-fold: each of {folds} has its own curve.csv")
    check(os.path.isfile(os.path.join(kf, "model", "finetuned.pt")) and
          os.path.isfile(os.path.join(kf, "finetune", "curve.csv")), "K-fold: the refit is fine-tuned and exported")
    kcal = json.loads(read(os.path.join(kf, "metrics.json")))["calibration"]
    check(kcal["method"] == "temperature" and len(kcal["temperature"]) == 3,
          f"K-fold with calibration: one temperature per fold's fine-tuned network {kcal.get('temperature')}")


def refused(what, key, *sets):
    out = os.path.join(work, "refused")
    r = run(out, *[x for s in sets for x in ("--set", s)])
    check(r.returncode == 2 and key in r.stderr and not os.path.exists(out),
          f"{what}: exit 2 naming {key}, nothing written (exit {r.returncode}: {r.stderr.strip()[:160]})")


refused("train_from at the head's tap", "finetune.train_from", "finetune.train_from=mixed4")
refused("train_from deeper than the head", "finetune.train_from", "finetune.train_from=mixed5")
refused("an unknown tap", "finetune.train_from", "finetune.train_from=mixed99")
refused("a warm-up as long as the epochs", "finetune.warmup_epochs", "finetune.warmup_epochs=10")
refused("an unknown schedule", "finetune.schedule", "finetune.schedule=linear")
refused("a schedule step of zero epochs", "finetune.step_every", "finetune.step_every=0")

# A random-weight backbone: said in metrics.json (one tiny epoch: the result is not the point).
d = os.path.join(work, "d")
r = run(d, "--set", "backbone.weights=none", "--set", "finetune.epochs=1", "--set", "finetune.warmup_epochs=0",
        "--set", "finetune.lr_backbone=1e-9", "--set", "finetune.lr_head=1e-9")
codes = [w["code"] for w in json.loads(read(os.path.join(d, "metrics.json"))).get("warnings", [])] \
    if r.returncode == 0 else []
check("finetune_random_weights" in codes, f"random weights: warning finetune_random_weights in metrics.json {codes}")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
