#!/usr/bin/env python3
"""evaluate_by.py OESS WORK: `oess evaluate --by COL` against the same command run on each group's rows alone,
and against scikit-learn on each group; its refusals.

A seeded 4-class predictions file of 150 images from 40 patients carries a `scanner` column (A, B, C; C has 8
patients, too few to judge) and a `site` column. Checks:
- every group's metrics in metrics.json "by" equal `oess evaluate` on a file holding only that group's rows
  (same bootstrap and seed), per-patient rows aside;
- each group's accuracy, balanced accuracy, quadratic kappa, MAE and binary Brier equal scikit-learn's;
- the group with fewer than 10 patients is marked too small, the others are not; --by twice gives two tables;
- refusals, nothing written: a column not in the file (named) and a column with one group exit 2 (usage); an
  empty cell exits 1 (bad data), its line named.
"""
import json
import os
import subprocess
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, brier_score_loss, cohen_kappa_score,
                             mean_absolute_error)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import write_rows  # noqa: E402  (tests/harness.py)


def oess(exe, *args):
    return subprocess.run([exe, *args], capture_output=True, text=True)


def main():
    exe, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    rng = np.random.default_rng(32)
    rows = []
    for i in range(150):
        patient = int(rng.integers(0, 40))
        scanner = "A" if patient < 20 else ("B" if patient < 32 else "C")
        truth = int(rng.integers(0, 4))
        logits = rng.normal(size=4) + np.eye(4)[truth] * (2.0 if scanner == "A" else 0.7)
        p = np.exp(logits) / np.exp(logits).sum()
        p = np.round(p, 6)
        p[3] = 1 - p[:3].sum()
        rows.append({"path": f"img{i}.png", "truth": truth, "pred": int(p.argmax()),
                     **{f"p{c}": repr(float(p[c])) for c in range(4)}, "patient": f"P{patient:02d}",
                     "scanner": scanner, "site": "north" if patient % 2 else "south"})
    full = os.path.join(work, "predictions.csv")
    write_rows(full, rows)
    out = os.path.join(work, "by.json")
    r = oess(exe, "evaluate", "--predictions", full, "--by", "scanner", "--by", "site", "--bootstrap", "200",
             "--out", out)
    assert r.returncode == 0, r.stderr
    assert "by scanner" in r.stdout and "by site" in r.stdout, r.stdout
    m = json.load(open(out))
    assert list(m["by"]) == ["scanner", "site"], list(m["by"])
    groups = {g["group"]: g for g in m["by"]["scanner"]}
    assert sorted(groups) == ["A", "B", "C"], sorted(groups)
    checked = 0
    for name, g in groups.items():
        sub = [r for r in rows if r["scanner"] == name]
        sub_file = os.path.join(work, f"group_{name}.csv")
        write_rows(sub_file, sub)
        sub_out = os.path.join(work, f"group_{name}.json")
        r = oess(exe, "evaluate", "--predictions", sub_file, "--bootstrap", "200", "--out", sub_out)
        assert r.returncode == 0, r.stderr
        alone = json.load(open(sub_out))
        alone["per_patient"].pop("rows")
        assert g["metrics"] == alone, f"group {name}: --by differs from evaluating its rows alone"
        assert g["n"] == len(sub)
        t = np.array([r["truth"] for r in sub])
        p = np.array([r["pred"] for r in sub])
        pd = np.array([float(r["p2"]) + float(r["p3"]) for r in sub])
        expected = {"accuracy": accuracy_score(t, p), "balanced_accuracy": balanced_accuracy_score(t, p),
                    "mae": mean_absolute_error(t, p)}
        for k, v in expected.items():
            assert abs(g["metrics"][k] - v) < 1e-9, (name, k, g["metrics"][k], v)
        kq = cohen_kappa_score(t, p, labels=[0, 1, 2, 3], weights="quadratic")
        assert abs(g["metrics"]["kappa"]["quadratic"] - kq) < 1e-9, (name, kq)
        b = brier_score_loss((t >= 2).astype(int), pd, pos_label=1)
        assert abs(g["metrics"]["binary"]["brier"] - b) < 1e-9, (name, b)
        patients = len({r["patient"] for r in sub})
        assert (g["too_small"] is not None) == (patients < 10 or len(sub) < 30), (name, patients, g["too_small"])
        checked += 1
    assert groups["C"]["too_small"] and not groups["A"]["too_small"], groups["C"]["too_small"]
    assert "C *" in r.stdout or "C *" in oess(exe, "evaluate", "--predictions", full, "--by", "scanner",
                                              "--bootstrap", "0").stdout

    # Refusals: exit 2, a message naming what is wrong, no file written.
    def refused(args, needle, what, rc=2):
        bad_out = os.path.join(work, "refused.json")
        if os.path.exists(bad_out):
            os.remove(bad_out)
        r = oess(exe, "evaluate", *args, "--out", bad_out)
        assert r.returncode == rc, (what, r.returncode, r.stdout, r.stderr)
        assert needle in r.stderr, (what, r.stderr)
        assert not os.path.exists(bad_out), what

    refused(["--predictions", full, "--by", "centre"], 'no column "centre"', "missing column")
    one = os.path.join(work, "one_group.csv")
    write_rows(one, [dict(r, scanner="A") for r in rows])
    refused(["--predictions", one, "--by", "scanner"], "one group only", "one group")
    empty = os.path.join(work, "empty_cell.csv")
    write_rows(empty, [dict(r, scanner="" if i == 7 else r["scanner"]) for i, r in enumerate(rows)])
    refused(["--predictions", empty, "--by", "scanner"], "empty_cell.csv:9:", "empty cell", rc=1)
    print(f"--by scanner: {checked} groups equal to evaluating their rows alone and to scikit-learn; "
          "too-small flag right; 3 refusals")


if __name__ == "__main__":
    sys.exit(main())
