"""Shared by the Python checks that drive the `oess` program from outside (tests/cli, tests/oracles):
a fresh work folder, named checks that collect failures, `oess` runs that must exit as expected, CSV rows.

    from harness import Harness
    h = Harness(oess, work)          # work is emptied
    p = h.run("run", config)         # exits the script (printing both streams) unless rc matches
    h.check(cond, "what must hold")  # prints ok / FAIL
    synth = h.synth_split("50,50,50,50", 20, 5, train=12, val=3)  # WORK/synth with split.csv by patient
    cfg = h.small_config("name", "  manifest: m.csv\n  split: {method: grouped}\n")  # a quick run's config
    h.finish()                       # prints the count, exits 1 on any failure
    write_rows(path, dicts)          # a CSV from a list of dicts (the first one's keys are the header)
    folds_per_patient(pred, labels)  # {patient: folds its images were predicted in} (K-fold checks)
"""
import csv
import os
import shutil
import subprocess
import sys


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def folds_per_patient(pred, labels):
    """{patient: the folds predictions.csv rows `pred` put that patient's images in}, patients from the
    manifest rows `labels` (matched by path)."""
    patient = {r["path"]: r["patient"] for r in labels}
    folds = {}
    for r in pred:
        folds.setdefault(patient[r["path"]], set()).add(r["fold"])
    return folds


def write_rows(path, dicts):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dicts[0]))
        w.writeheader()
        w.writerows(dicts)


class Harness:
    def __init__(self, oess, work):
        self.oess = os.path.abspath(oess) if os.sep in oess else oess  # runs may change directory
        self.work = work
        shutil.rmtree(work, ignore_errors=True)
        os.makedirs(work)
        self.failures = []

    def check(self, cond, what):
        print(("ok: " if cond else "FAIL: ") + what)
        if not cond:
            self.failures.append(what)

    def run(self, *args, rc=0, cwd=None, env=None):
        p = subprocess.run([self.oess, *args], capture_output=True, text=True, cwd=cwd, env=env)
        if p.returncode != rc:
            print(p.stdout, p.stderr)
            sys.exit(f"FAIL: oess {' '.join(args)} exited {p.returncode}, expected {rc}")
        return p

    def synth_split(self, counts, patients, seed, train, val):
        """A synthetic set in WORK/synth with a fixed split by patient (sorted ids: the first `train` patients
        train, the next `val` validate, the rest test) in synth/split.csv, for `data.split.method: column`."""
        synth = os.path.join(self.work, "synth")
        self.run("synth", "--out", synth, "--counts", counts, "--patients", str(patients), "--seed", str(seed),
                 "--threads", "2")
        labels = rows(os.path.join(synth, "labels.csv"))
        ids = sorted({r["patient"] for r in labels})
        part = {p: "train" if i < train else "val" if i < train + val else "test" for i, p in enumerate(ids)}
        with open(os.path.join(synth, "split.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["path", "score", "patient", "split"])
            for r in labels:
                w.writerow([r["path"], r["score"], r["patient"], part[r["patient"]]])
        return synth

    def small_config(self, name, data, classifier="", members=2, bootstrap=200, export="[oess]", extra=""):
        """WORK/NAME.yaml: a run that takes seconds — features mixed0 and mixed2 cached in WORK/cache,
        classifiers of at most 30 epochs, `members` ensemble members, `bootstrap` resamples, the run folder
        WORK/runs/NAME. `data` is the data: block's body, `classifier` more lines of its block (two-space
        indented, newline-terminated), `extra` more top-level YAML."""
        path = os.path.join(self.work, name + ".yaml")
        with open(path, "w") as f:
            f.write(f"""name: {name}
data:
{data}features:
  layers: [mixed0, mixed2]
  cache: {self.work}/cache
classifier:
  max_epochs: 30
{classifier}ensemble:
  members: {members}
report:
  bootstrap: {bootstrap}
output:
  dir: {self.work}/runs/{{name}}
  export: {export}
{extra}""")
        return path

    def finish(self):
        print(f"{len(self.failures)} failure(s)")
        sys.exit(1 if self.failures else 0)
