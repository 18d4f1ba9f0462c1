"""Shared by the Python checks that drive the `oess` program from outside (tests/cli, tests/oracles):
a fresh work folder, named checks that collect failures, `oess` runs that must exit as expected, CSV rows.

    from harness import Harness
    h = Harness(oess, work)          # work is emptied
    p = h.run("run", config)         # exits the script (printing both streams) unless rc matches
    h.check(cond, "what must hold")  # prints ok / FAIL
    synth = h.synth_split("50,50,50,50", 20, 5, train=12, val=3)  # WORK/synth with split.csv by patient
    h.finish()                       # prints the count, exits 1 on any failure
"""
import csv
import os
import shutil
import subprocess
import sys


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


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

    def finish(self):
        print(f"{len(self.failures)} failure(s)")
        sys.exit(1 if self.failures else 0)
