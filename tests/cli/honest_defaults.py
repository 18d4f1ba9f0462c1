"""Issue #22: a new user's own data cannot produce misleading results silently. Each route as the user met
it, checked from outside: the warning in metrics.json ("warnings") and at the top of report.md, or the
refusal message.

usage: honest_defaults.py OESS WORKDIR REPO
"""
import csv
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work, repo = sys.argv[1], sys.argv[2], sys.argv[3]
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "16,16,16,16", "--patients", "8", "--seed", "4", "--threads", "2")
base = rows(os.path.join(synth, "labels.csv"))


def manifest(name, header, make_row):
    path = os.path.join(synth, name)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, r in enumerate(base):
            w.writerow(make_row(i, r))
    return path


def config(folder, name, body):
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
features: {{layers: [mixed0, mixed1], cache: {work}/cache}}
classifier: {{max_epochs: 8}}
ensemble: {{members: 0}}
report: {{bootstrap: 50}}
output:
  dir: {work}/runs/{{name}}
""" + body)
    return path


def warnings_of(run_dir):
    return {w["code"]: w["message"] for w in json.load(open(os.path.join(run_dir, "metrics.json")))["warnings"]}


def report_has(run_dir, code):
    return f"**Warning** (`{code}`)" in open(os.path.join(run_dir, "report.md")).read()


small = ["--set", f"features.cache={work}/cache", "--set", "features.layers=[mixed0, mixed1]", "--set",
         "ensemble.members=0", "--set", "report.bootstrap=50", "--set", "classifier.max_epochs=8"]
paper = os.path.join(repo, "experiments", "paper_4class_inception.yaml")

# 1. The paper config on a foreign manifest with patients: the study split's allow_patient_overlap (from a
#    shipped base config) does not carry over, so the image-level split is refused, naming the patients.
p = run("run", paper, "--set", f"data.manifest={synth}/labels.csv", "--set", "data.split.val_per_class=3",
        "--set", "data.split.test_per_class=3", *small, "--out", f"{work}/runs/paper", rc=1)
check("synthetic_only_setting" in p.stdout and "in both training and test" in p.stderr,
      "paper config on a foreign manifest: the synthetic-only overlap setting is dropped and the split refused")
check(not os.path.exists(f"{work}/runs/paper"), "a run refused in its data stage leaves no folder")
p = run("run", paper, "--set", f"data.manifest={synth}/labels.csv", *small, "--out", f"{work}/runs/paper-44", rc=1)
check("fewer than the 44 + 44" in p.stderr and "data.split.method: grouped" in p.stderr and
      "data.split.method: kfold" in p.stderr and "val_per_class" in p.stderr,
      "the study's 44 + 44 split on a smaller set says what to change: smaller counts, grouped or kfold")
p = run("run", paper, "--set", f"data.manifest={synth}/labels.csv", "--set", "data.split.method=grouped", "--set",
        "data.split.val_fraction=0.25", "--set", "data.split.test_fraction=0.25", *small, "--out",
        f"{work}/runs/paper-grouped")
w = warnings_of(f"{work}/runs/paper-grouped")
check("synthetic_only_setting" in w and report_has(f"{work}/runs/paper-grouped", "synthetic_only_setting"),
      "with a grouped split it runs, the dropped setting in metrics.json and report.md")
p = run("run", paper, "--set", f"data.manifest={synth}/labels.csv", "--set", "data.split.val_per_class=3",
        "--set", "data.split.test_per_class=3", "--set", "data.allow_patient_overlap=true", *small, "--out",
        f"{work}/runs/overlap")
w = warnings_of(f"{work}/runs/overlap")
check("patient_overlap" in w and "optimistic" in w["patient_overlap"] and
      report_has(f"{work}/runs/overlap", "patient_overlap"),
      "overlap allowed with --set: patients in both parts listed in metrics.json and report.md")
check("Beside the study" in open(f"{work}/runs/overlap/report.md").read(),
      "the paper config keeps its section beside the study")
check("healthy (0–1) / diseased (2–3)" in open(f"{work}/runs/overlap/report.md").read(),
      "and the study's words for the binary task")

# 2. A patient column called patient_id is found (bootstrap by patient); an unused id-like column is named.
m = manifest("labels_pid.csv", ["path", "score", "patient_id", "study_id"],
             lambda i, r: [r["path"], r["score"], r["patient"], f"S{i}"])
cfg = config(os.path.join(work, "cfg"), "pid", "data: {manifest: ../synth/labels_pid.csv, split: {method: grouped, "
                                               "val_fraction: 0.25, test_fraction: 0.25}}\n")
p = run("run", cfg, cwd="/")
out = f"{work}/runs/pid"
check('patients: column "patient_id"' in p.stdout, "the run says which column holds the patients")
check(json.load(open(f"{out}/metrics.json"))["bootstrap"]["unit"] == "patient", "and the bootstrap resamples them")
w = warnings_of(out)
check("unused_id_column" in w and "study_id" in w["unused_id_column"], "study_id is reported as an unused identifier")
check("Beside the study" not in open(f"{out}/report.md").read(), "a non-study config has no 'beside the study'")
check("n = " in open(f"{out}/report.md").read(), "per-grade cells show their n")
report = open(f"{out}/report.md").read()
check("grades 0–1 / grades 2–3" in report and "healthy" not in report.lower(),
      "outside the study the binary task is named by its grades, not 'healthy/diseased'")
# ... and from another working directory: the manifest resolves against the config's folder (cwd "/").
check(os.path.isfile(f"{out}/predictions.csv"), "a relative data.manifest resolves against the config's folder")
rel = os.path.join(work, "cfg", "rel.yaml")
with open(rel, "w") as f:
    f.write(open(os.path.join(work, "cfg", "pid.yaml")).read().replace("name: pid", "name: rel")
            .replace(f"dir: {work}/runs/{{name}}", "dir: rel-runs/{name}"))
run("run", rel, "--stage", "..extract", cwd="/")
check(os.path.isfile(os.path.join(work, "cfg", "rel-runs", "rel", "config.resolved.yaml")),
      "a relative output.dir in a config resolves against the config's folder too")
m2 = manifest("labels_mrn.csv", ["Path", "Score", "MRN"], lambda i, r: [r["path"], f"{r['score']}.0", r["patient"]])
cfg = config(os.path.join(work, "cfg"), "mrn", "data: {manifest: ../synth/labels_mrn.csv, columns: {patient: MRN}, "
                                               "split: {method: grouped, val_fraction: 0.25, test_fraction: 0.25}}\n")
p = run("run", cfg)
check('patients: column "MRN"' in p.stdout, "data.columns.patient names a column; Path/Score match any case; "
                                             "grades written 2.0 are read as 2")

# 3. Tiny grades: grade 1 with no validation image is refused; allowed, it is a warning; 3 images warn.
def split_manifest(name, val_of_grade1):
    seen = {}

    def row(i, r):
        g = int(r["score"])
        seen[g] = seen.get(g, 0) + 1
        k = seen[g]
        part = "test" if k <= 4 else "val" if k <= (4 + (val_of_grade1 if g == 1 else 4)) else "train"
        return [r["path"], r["score"], part]
    return manifest(name, ["path", "score", "split"], row)


split_manifest("labels_val0.csv", 0)
cfg = config(os.path.join(work, "cfg"), "val0", "data: {manifest: ../synth/labels_val0.csv, split: {method: column}}\n")
p = run("run", cfg, rc=1)
check("grade(s) 1 have no validation image" in p.stderr and "selection.allow_empty_grades" in p.stderr,
      "a grade with no validation image is refused, saying how to proceed")
run("run", cfg, "--set", "selection.allow_empty_grades=true", "--force")
w = warnings_of(f"{work}/runs/val0")
check("empty_validation_grade" in w and "small_grade" in w and "no_patient_column" in w and
      report_has(f"{work}/runs/val0", "empty_validation_grade"),
      "allowed: empty grade, small grades and the missing patient column in metrics.json and report.md")
split_manifest("labels_val3.csv", 3)
cfg = config(os.path.join(work, "cfg"), "val3", "data: {manifest: ../synth/labels_val3.csv, split: {method: column}}\n")
run("run", cfg)
w = warnings_of(f"{work}/runs/val3")
check("small_grade" in w and "grade 1: 3 validation, 4 test" in w["small_grade"] and "kfold" in w["small_grade"],
      "3 validation images of grade 1: a small_grade warning suggesting K-fold")
check("(n = 4: too few for an interval)" in open(f"{work}/runs/val3/report.md").read(),
      "per-grade cells on fewer than 5 test images carry no interval")

# 4. A missing manifest: the key, the config and the absolute path tried; no run folder is left.
cfg = config(os.path.join(work, "cfg"), "missing", "data: {manifest: nowhere/labels.csv}\n")
p = run("run", cfg, rc=1)
check("data.manifest: no such file" in p.stderr and os.path.join(work, "cfg", "nowhere", "labels.csv") in p.stderr
      and "missing.yaml:" in p.stderr, "a missing manifest names the key, the config line and the path tried")
check(not os.path.exists(f"{work}/runs/missing"), "and leaves no run folder")
p = run("run", paper, "--set", f"data.manifest={synth}/labels.csv", "--set", "data.split.val_per_class=3",
        "--set", "data.split.test_per_class=3", *small, "--out", f"{work}/fresh/deeper/run", rc=1)
check(not os.path.exists(f"{work}/fresh"), "a data-stage failure removes the folders the run made, parents too")

# 5. Three missing image files: all three lines named, with the count.
with open(os.path.join(synth, "labels_gone.csv"), "w") as f:
    f.write("path,score\n" + "".join(f"{r['path']},{r['score']}\n" for r in base[:5]) +
            "gone1.png,0\ngone2.png,1\ngone3.png,2\n")
cfg = config(os.path.join(work, "cfg"), "gone", "data: {manifest: ../synth/labels_gone.csv}\n")
p = run("run", cfg, rc=1)
check(all(f"labels_gone.csv:{n}: image file" in p.stderr for n in (7, 8, 9)) and "3 problem(s) in all" in p.stderr,
      "every missing image is named with its line, and counted")

# 6. A rerun into a folder holding another config's run is refused; the same config reruns; --force replaces.
cfg = os.path.join(work, "cfg", "pid.yaml")
run("run", cfg)
p = run("run", cfg, "--set", "classifier.max_epochs=9", rc=2)
check("holds a run of another config" in p.stderr and "--force" in p.stderr,
      "another config into the same folder is refused, naming --out and --force")
run("run", cfg, "--set", "classifier.max_epochs=9", "--force")
check("max_epochs: 9" in open(f"{work}/runs/pid/config.resolved.yaml").read(), "--force replaces it")

# 7. oess sweep and oess baseline write the same coded warnings into their metrics.json.
run("extract", "--manifest", f"{synth}/labels_pid.csv", "--weights", "none", "--layers", "mixed0,mixed1",
    "--cache", f"{work}/cache", "--out", f"{work}/pid.oessfeat")
p = run("sweep", "--features", f"{work}/pid.oessfeat", "--manifest", f"{synth}/labels_pid.csv", "--split-method",
        "grouped", "--val-fraction", "0.25", "--test-fraction", "0.25", "--max-epochs", "4", "--bootstrap", "20",
        "--out", f"{work}/sweep")
w = warnings_of(f"{work}/sweep")
check("unused_id_column" in w and "random_weights" in w and report_has(f"{work}/sweep", "unused_id_column"),
      "oess sweep: unused identifier and random weights in metrics.json and report.md")
check("[unused_id_column]" in p.stdout, "and at the end of its console output")
p = run("baseline", "--manifest", f"{synth}/labels_val3.csv", "--split-method", "column", "--bootstrap", "20",
        "--out", f"{work}/baseline")
w = warnings_of(f"{work}/baseline")
check("no_patient_column" in w and "small_grade" in w and "empty_validation_grade" not in w,
      "oess baseline: no patient column and small grades in metrics.json")

h.finish()
