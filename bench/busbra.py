"""What the BUS-BRA benchmarks share (bench_busbra.py, bench_duplicates.py, bench_lesion_heat.py): their
--data, --build and --work arguments, and the dataset's labels.

    from busbra import busbra_arguments, busbra_labels
    ap = busbra_arguments("/tmp/oess_bench_x")   # an ArgumentParser with --data, --build, --work
    rows = busbra_labels(a.data)                  # labels.csv's rows (path, score, patient, mask, fold ...)
"""
import argparse
import csv
import os

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def busbra_arguments(work):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "busbra-logiq5")))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--work", default=work)
    return ap


def busbra_labels(data):
    path = os.path.join(data, "labels.csv")
    if not os.path.isfile(path):
        raise SystemExit(f"{path}: not found (give --data)")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
