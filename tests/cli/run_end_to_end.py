"""End-to-end `oess run` on a small synthetic set (120 images, 3 taps, 3 members): every contract file of the
run folder (../shared/docs/DESIGN.md), checked from outside the program.

usage: run_end_to_end.py OESS WORKDIR
- predictions.csv has one row per test image of split.csv, probabilities summing to 1;
- metrics.json equals what `oess evaluate` computes from predictions.csv, and its accuracy and kappas equal
  scikit-learn's on that file;
- layers.csv has one row per tap; config.resolved.yaml reruns to the same metrics and predictions;
- a run from the sweep stage reuses the cache (same metrics) and fails cleanly without it.
"""
import csv
import json
import os
import shutil
import subprocess
import sys

from sklearn.metrics import accuracy_score, cohen_kappa_score

oess, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def run(*args, rc=0):
    p = subprocess.run([oess, *args], capture_output=True, text=True)
    if p.returncode != rc:
        print(p.stdout, p.stderr)
        sys.exit(f"FAIL: oess {' '.join(args)} exited {p.returncode}, expected {rc}")
    return p


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


config = os.path.join(work, "small.yaml")
with open(config, "w") as f:
    f.write(f"""name: small
data:
  synthetic:
    dir: {work}/synth
    counts: [30, 30, 30, 30]
    patients: 12
  split: {{val_per_class: 6, test_per_class: 6}}
  allow_patient_overlap: true
features:
  layers: [mixed0, mixed2, mixed4]
  cache: {work}/cache
classifier:
  max_epochs: 40
ensemble:
  members: 3
report:
  bootstrap: 300
output:
  dir: {work}/runs/{{name}}
""")

p = run("run", config)
out = os.path.join(work, "runs", "small")
check("NO IMAGENET WEIGHTS" in p.stdout, "the console says the backbone has no ImageNet weights")
for name in ["config.resolved.yaml", "split.csv", "predictions.csv", "metrics.json", "layers.csv", "report.md",
             "report.html", "log.txt", "model/classifiers.pt", "model/model.json"]:
    check(os.path.isfile(os.path.join(out, name)), f"run folder holds {name}")
check(len(os.listdir(os.path.join(out, "plots"))) >= 3, "run folder holds plots/")
check(not [n for n in os.listdir(out) if ".tmp" in n], "no temporary files left in the run folder")

split = rows(os.path.join(out, "split.csv"))
test_paths = sorted(r["path"] for r in split if r["split"] == "test")
pred = rows(os.path.join(out, "predictions.csv"))
check(len(test_paths) == 24, "split.csv has 6 test images per grade")
check(sorted(r["path"] for r in pred) == test_paths, "predictions.csv has one row per test image")
check(all(abs(sum(float(r[f"p{k}"]) for k in range(4)) - 1) < 1e-4 for r in pred), "probabilities sum to 1")
truth = {r["path"]: int(r["score"]) for r in split}
check(all(int(r["truth"]) == truth[r["path"]] for r in pred), "truth column equals the manifest's grades")

metrics = json.load(open(os.path.join(out, "metrics.json")))
run("evaluate", "--predictions", os.path.join(out, "predictions.csv"), "--bootstrap", "300", "--seed", "0",
    "--out", os.path.join(work, "evaluated.json"))
check(json.load(open(os.path.join(work, "evaluated.json"))) ==
      {k: v for k, v in metrics.items() if k not in ("warnings", "split", "build", "calibration")},
      "metrics.json (but the run's warnings, split, build and calibration) equals `oess evaluate` on "
      "predictions.csv")
check(metrics.get("calibration") == {"method": "none"}, "metrics.json says the run was not calibrated (default)")
build = metrics["build"]
check(build["blas"].startswith("OpenBLAS") and build["blas_threading"] == "openmp" and
      os.path.realpath(build["blas_library"]) == os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3"),
      f"metrics.json's build names the BLAS that Debian's libblas.so.3 points to: {build['blas']}")
check(build["threads"] == {"features": 2, "classifier": 2, "blas_per_classifier_fit": 1} and
      build["onednn_isa"] not in ("", "not loaded") and build["cpu"],
      f"and the threads, oneDNN's ISA ({build['onednn_isa']}) and the CPU ({build['cpu']})")
log = open(os.path.join(out, "log.txt")).read()
check(f"blas: {build['blas']} (openmp" in log and "threads: 2 for extraction, 1 per classifier fit" in log,
      "log.txt says the same")
per_part = {part: [sum(1 for r in split if r["split"] == part and int(r["score"]) == g) for g in range(4)]
            for part in ("train", "val", "test")}
check(all(metrics["split"][part] == per_part[part] for part in per_part) and metrics["split"]["method"] == "per_class",
      "metrics.json's split sizes per grade are split.csv's")
codes = [w["code"] for w in metrics["warnings"]]
check("random_weights" in codes and "patient_overlap" in codes,
      "metrics.json lists the run's warnings: random weights, the patient overlap this config allows")
y = [int(r["truth"]) for r in pred]
yhat = [int(r["pred"]) for r in pred]
check(abs(metrics["accuracy"] - accuracy_score(y, yhat)) < 1e-9, "accuracy equals scikit-learn's")
for w, key in [(None, "unweighted"), ("linear", "linear"), ("quadratic", "quadratic")]:
    ref = cohen_kappa_score(y, yhat, weights=w, labels=[0, 1, 2, 3])
    check(abs(metrics["kappa"][key] - ref) < 1e-9, f"{key} kappa equals scikit-learn's")
check(metrics["n"] == 24, "metrics.json counts the test set")

layers = rows(os.path.join(out, "layers.csv"))
check([r["tap"] for r in layers] == ["mixed0", "mixed2", "mixed4"], "layers.csv has one row per tap, in order")
check(sum(r["selected"] == "1" for r in layers) == 1, "layers.csv marks one selected tap")
best = max(layers, key=lambda r: float(r["val_accuracy"]))
check(float([r for r in layers if r["selected"] == "1"][0]["val_accuracy"]) == float(best["val_accuracy"]),
      "the selected tap has the highest validation accuracy")
model = json.load(open(os.path.join(out, "model", "model.json")))
check(len(model["members"]) == 3, "model.json lists 3 members")
log = open(os.path.join(out, "log.txt")).read()
check("[9/9] export" in log and "NO IMAGENET WEIGHTS" in log, "log.txt holds the console output")

# The leakage guard: the same per_class split without allow_patient_overlap is refused, naming patients.
p = run("run", config, "--set", "data.allow_patient_overlap=false", "--out", os.path.join(work, "leak"), rc=1)
check("in both training and test: P" in p.stderr and "data.allow_patient_overlap: true" in p.stderr,
      "a split putting patients in training and test is refused, naming them")
check(not os.path.exists(os.path.join(work, "leak", "predictions.csv")), "and nothing is trained")

# Determinism: the same config and seed, run again into another folder, give identical results.
run("run", config, "--out", os.path.join(work, "again"))
for name in ["predictions.csv", "metrics.json", "layers.csv", "split.csv"]:
    check(open(os.path.join(work, "again", name), "rb").read() == open(os.path.join(out, name), "rb").read(),
          f"a second run of the same config gives an identical {name}")

# config.resolved.yaml reruns to the same metrics (the feature cache is warm: no extraction).
p = run("run", os.path.join(out, "config.resolved.yaml"), "--out", os.path.join(work, "rerun"))
check(json.load(open(os.path.join(work, "rerun", "metrics.json"))) == metrics,
      "config.resolved.yaml reruns to the same metrics.json")
check(open(os.path.join(work, "rerun", "predictions.csv")).read() ==
      open(os.path.join(out, "predictions.csv")).read(), "and the same predictions.csv")

# The same run made to load the reference BLAS (Debian's folder for it first on the loader's path): the coded
# warning with the fix, the same predictions' grades.
p = subprocess.run([oess, "run", config, "--stage", "sweep..evaluate", "--out", os.path.join(work, "ref-blas")],
                   capture_output=True, text=True, env=dict(os.environ, LD_LIBRARY_PATH="/usr/lib/x86_64-linux-gnu/blas"))
check(p.returncode == 0, "a run on the reference BLAS completes")
ref = json.load(open(os.path.join(work, "ref-blas", "metrics.json")))
ref_codes = {w["code"]: w["message"] for w in ref["warnings"]}
check(ref["build"]["blas"] == "reference" and "apt-get install libopenblas0-openmp" in ref_codes.get("reference_blas", ""),
      "on the reference BLAS: metrics.json's build says so and the warning reference_blas gives the fix")
check("warning [reference_blas]" in p.stdout and "reference_blas" not in [w["code"] for w in metrics["warnings"]],
      "the console says it too; the run on OpenBLAS has no such warning")
check([r["pred"] for r in rows(os.path.join(work, "ref-blas", "predictions.csv"))] == [r["pred"] for r in pred],
      "the test predictions' grades are the same on either BLAS")

# From the sweep stage: features must come from the cache.
run("run", config, "--stage", "sweep..", "--out", os.path.join(work, "from-sweep"))
check(json.load(open(os.path.join(work, "from-sweep", "metrics.json"))) == metrics,
      "--stage sweep.. reuses the cache and gives the same metrics")
p = run("run", config, "--stage", "sweep..", "--set", f"features.cache={work}/empty-cache", "--out",
        os.path.join(work, "no-cache"), rc=1)
check("not in the feature cache" in p.stderr, "--stage sweep.. without cached features fails, naming why")
check(not os.path.exists(os.path.join(work, "no-cache", "metrics.json")), "and writes no results")
check("not in the feature cache" in open(os.path.join(work, "no-cache", "log.txt")).read(),
      "its log.txt records the error")

# Exported model (issue #9): export -> load -> score reproduces the run's test predictions.
model = os.path.join(work, "model.pt")
run("export", "--run", out, "--out", model)
# `oess run` exports in memory from its own objects; `oess export --run` from the folder: one file.
check(open(model, "rb").read() == open(os.path.join(out, "model", "model.pt"), "rb").read(),
      "`oess export --run` writes byte for byte the model.pt `oess run` wrote")
synth_dir = os.path.join(work, "synth")
images = [os.path.join(synth_dir, r["path"]) for r in pred]
run("score", "--model", model, "--csv", os.path.join(work, "scores.csv"), *images)
scores = {os.path.relpath(r["path"], synth_dir): r for r in rows(os.path.join(work, "scores.csv"))}
worst = max(abs(float(r[f"p{k}"]) - float(scores[r["path"]][f"p{k}"])) for r in pred for k in range(4))
check(worst <= 1e-6, f"scoring the exported model reproduces predictions.csv (worst difference {worst:.1e})")
check(all(r["pred"] == scores[r["path"]]["pred"] for r in pred), "and the same predicted grades")
run("score", "--model", os.path.join(out, "model"), "--csv", os.path.join(work, "scores2.csv"), *images[:3])
check(rows(os.path.join(work, "scores2.csv"))[0]["p0"] == scores[pred[0]["path"]]["p0"],
      "the run's model/ folder scores the same")

p = run("score", "--model", model, "--heatmap", os.path.join(work, "heat"), *images[:3])
heat = sorted(os.listdir(os.path.join(work, "heat")))
check(len(heat) == 3 and all(h.endswith("_gradcam-ig.png") for h in heat) and
      all(open(os.path.join(work, "heat", h), "rb").read(8) == b"\x89PNG\r\n\x1a\n" for h in heat),
      "--heatmap writes one PNG overlay per image (IMAGE_gradcam-ig.png by default)")
run("score", "--model", model, "--heatmap", os.path.join(work, "heat2"), "--heatmap-method", "gradcam", images[0])
check(os.listdir(os.path.join(work, "heat2")) == [os.path.basename(images[0])[:-4] + "_gradcam.png"],
      "--heatmap-method gradcam names its overlays IMAGE_gradcam.png")

import torch  # noqa: E402  (only the bad-model cases need it)
with open(model, "rb") as f:
    data = f.read()
with open(os.path.join(work, "truncated.pt"), "wb") as f:
    f.write(data[: len(data) // 2])
p = run("score", "--model", os.path.join(work, "truncated.pt"), images[0], rc=1)
check("truncated.pt: truncated or corrupt torch zip file" in p.stderr, "a truncated model file is named, exit 1")
d = torch.load(model)
d["__meta__"]["format_version"] = "99"
torch.save(d, os.path.join(work, "newer.pt"))
p = run("score", "--model", os.path.join(work, "newer.pt"), images[0], rc=1)
check("model format version 99 is newer than this oess reads (1)" in p.stderr, "a newer format version is refused")
d = torch.load(model)
del d["reference.input"]  # as a model exported before the reference input existed
torch.save(d, os.path.join(work, "old.pt"))
p = run("score", "--model", os.path.join(work, "old.pt"), "--heatmap", os.path.join(work, "heat3"), images[0], rc=1)
check("reference.input" in p.stderr and "--heatmap-method gradcam" in p.stderr and
      not os.path.exists(os.path.join(work, "heat3")),
      "a model without a reference input is refused for ig heat maps before any work, naming the way out")
bad = os.path.join(work, "bad.png")
with open(bad, "w") as f:
    f.write("not an image")
p = run("score", "--model", model, bad, rc=1)
check("bad.png: cannot decode image" in p.stderr, "an unreadable image is named, exit 1")
folder = os.path.join(work, "folder")
os.makedirs(os.path.join(folder, "sub"))
shutil.copy(images[0], os.path.join(folder, "a.png"))
shutil.copy(images[1], os.path.join(folder, "sub", "b.png"))
with open(os.path.join(folder, "notes.txt"), "w") as f:
    f.write("reading notes")
p = run("score", "--model", model, folder)
check("skipped 1 file(s) that are not images" in p.stderr and "2 image(s) scored" in p.stdout,
      "a folder is searched recursively and its non-image file skipped with one note")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
