"""Kills `oess run` with SIGKILL at seeded random moments and checks that no reader ever sees a half-written
file, and that the next run completes with the results of an uninterrupted one.

usage: run_kill_resume.py OESS WORKDIR
After every kill, every file under its final name in the run folder and the synthetic-data folder must be
whole: CSVs parse with the header's column count on every row and end in a newline, JSON parses, PNGs end in
their IEND chunk, .pt files load with torch.load, YAML files end in a newline. Temporary files (NAME.tmp.*)
may be left; nothing reads them.
"""
import csv
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import torch

oess, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def config(tag):
    path = os.path.join(work, f"{tag}.yaml")
    with open(path, "w") as f:
        f.write(f"""name: {tag}
data:
  synthetic: {{dir: {work}/synth-{tag}, counts: [20, 20, 20, 20], patients: 8}}
  split: {{val_per_class: 5, test_per_class: 5}}
  allow_patient_overlap: true
features: {{layers: [mixed0, mixed3], cache: {work}/cache-{tag}, batch: 4}}
classifier: {{max_epochs: 30}}
ensemble: {{members: 3}}
report: {{bootstrap: 200}}
output:
  dir: {work}/runs/{tag}
""")
    return path


def whole(path):
    """'' when the file is complete under its format, else what is wrong."""
    name = os.path.basename(path)
    if ".tmp." in name:
        return ""
    data = open(path, "rb").read()
    try:
        if name.endswith(".csv"):
            if not data.endswith(b"\n"):
                return "no final newline"
            rows = list(csv.reader(data.decode().splitlines()))
            if any(len(r) != len(rows[0]) for r in rows):
                return "a row with another column count"
        elif name.endswith(".json"):
            json.loads(data)
        elif name.endswith(".png"):
            if not data.endswith(b"IEND\xaeB`\x82"):
                return "no IEND chunk"
        elif name.endswith(".pt"):
            torch.load(path)
        elif name.endswith((".yaml", ".md", ".html", ".txt")):
            if not data.endswith(b"\n"):
                return "no final newline"
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        return f"unreadable: {e}"
    return ""


def scan(folder):
    bad = []
    for root, _, files in os.walk(folder):
        for f in files:
            problem = whole(os.path.join(root, f))
            if problem:
                bad.append(f"{os.path.join(root, f)}: {problem}")
    return bad


# The uninterrupted reference.
t0 = time.time()
ref = subprocess.run([oess, "run", config("ref")], capture_output=True, text=True)
duration = time.time() - t0
if ref.returncode != 0:
    sys.exit(f"FAIL: reference run exited {ref.returncode}\n{ref.stderr}")
print(f"reference run: {duration:.1f} s")

rng = random.Random(7)
cfg = config("killed")
kills = sorted(rng.uniform(0.05, duration) for _ in range(6))
for k, delay in enumerate(kills):
    p = subprocess.Popen([oess, "run", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    finished = p.poll() is not None
    p.send_signal(signal.SIGKILL)
    p.wait()
    bad = scan(os.path.join(work, "runs", "killed")) + scan(os.path.join(work, "synth-killed"))
    check(not bad, f"kill {k + 1} at {delay:.2f} s{' (had finished)' if finished else ''}: every file whole"
          + ("" if not bad else ": " + "; ".join(bad[:3])))

last = subprocess.run([oess, "run", cfg], capture_output=True, text=True)
check(last.returncode == 0, "the run after the kills completes")
check("damaged" not in last.stdout + last.stderr, "and finds no damaged cache entry")
for name in ["metrics.json", "predictions.csv", "layers.csv"]:
    a = open(os.path.join(work, "runs", "ref", name)).read()
    b = open(os.path.join(work, "runs", "killed", name)).read()
    check(a == b, f"its {name} equals the uninterrupted run's")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
