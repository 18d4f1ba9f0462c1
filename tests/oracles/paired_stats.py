"""`oess compare` against independent implementations (issue #18): McNemar's exact test against SciPy's
binomial test and statsmodels' mcnemar(exact=True), Holm against statsmodels' multipletests, the accuracy and
quadratic-kappa differences against scikit-learn, and the paired patient bootstrap's 95% interval against a
NumPy re-implementation (a different random stream, so within a tolerance). Degenerate cases: identical
predictions (no discordant pair: p = 1, interval [0, 0]) and a binary pair.

usage: paired_stats.py OESS WORKDIR
"""
import csv
import json
import os
import sys

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run
rng = np.random.default_rng(7)


def write(name, truth, pred, patients, k):
    path = os.path.join(work, name)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "truth", "pred"] + ([f"p{c}" for c in range(4)] if k == 4 else ["p1"]) + ["patient"])
        for i, (t, p) in enumerate(zip(truth, pred)):
            probs = [1.0 if c == p else 0.0 for c in range(4)] if k == 4 else [float(p)]
            w.writerow([f"img{i:03d}.png", t, p] + probs + [patients[i]])
    return path


def boot_ci(truth, a, b, patients, k, resamples=20000, seed=3):
    r = np.random.default_rng(seed)
    units = sorted(set(patients))
    rows_of = {u: [i for i, p in enumerate(patients) if p == u] for u in units}
    acc, kap = [], []
    for _ in range(resamples):
        rows = [i for u in r.choice(len(units), len(units)) for i in rows_of[units[u]]]
        t, pa, pb = truth[rows], a[rows], b[rows]
        acc.append(np.mean(pb == t) - np.mean(pa == t))
        if len(set(t)) > 1 or len(set(pa)) > 1 or len(set(pb)) > 1:
            ka = cohen_kappa_score(t, pa, weights="quadratic", labels=list(range(k)))
            kb = cohen_kappa_score(t, pb, weights="quadratic", labels=list(range(k)))
            if np.isfinite(ka) and np.isfinite(kb):
                kap.append(kb - ka)
    return np.percentile(acc, [2.5, 97.5]), np.percentile(kap, [2.5, 97.5])


# A 4-class reference and three others: a little better, much worse, identical.
n, k = 80, 4
patients = [f"P{i % 20:02d}" for i in range(n)]
truth = rng.integers(0, 4, n)
ref = np.where(rng.random(n) < 0.7, truth, rng.integers(0, 4, n))
better = np.where(rng.random(n) < 0.3, truth, ref)
worse = np.where(rng.random(n) < 0.6, (truth + 2) % 4, ref)
others = {"better": better, "worse": worse, "same": ref.copy()}
files = [write(f"{name}.csv", truth, pred, patients, k) for name, pred in others.items()]
run("compare", write("ref.csv", truth, ref, patients, k), *files, "--bootstrap", "20000", "--json",
    os.path.join(work, "out.json"))
got = json.load(open(os.path.join(work, "out.json")))["comparisons"]
ps = []
for (name, pred), c in zip(others.items(), got):
    b_only = int(np.sum((ref == truth) & (pred != truth)))
    c_only = int(np.sum((pred == truth) & (ref != truth)))
    p_scipy = binomtest(min(b_only, c_only), b_only + c_only, 0.5).pvalue if b_only + c_only else 1.0
    p_sm = mcnemar([[0, b_only], [c_only, 0]], exact=True).pvalue if b_only + c_only else 1.0
    ps.append(p_scipy)
    check(c["right_by_reference_only"] == b_only and c["right_by_other_only"] == c_only,
          f"{name}: discordant pairs {b_only} / {c_only}")
    check(abs(c["mcnemar_exact_p"] - p_scipy) < 1e-9 and abs(c["mcnemar_exact_p"] - p_sm) < 1e-9,
          f"{name}: McNemar exact p {c['mcnemar_exact_p']:.6g} = SciPy {p_scipy:.6g} = statsmodels {p_sm:.6g}")
    acc_diff = np.mean(pred == truth) - np.mean(ref == truth)
    kap_diff = (cohen_kappa_score(truth, pred, weights="quadratic", labels=list(range(4))) -
                cohen_kappa_score(truth, ref, weights="quadratic", labels=list(range(4))))
    check(abs(c["accuracy_difference"] - acc_diff) < 1e-12 and abs(c["kappa_quadratic_difference"] - kap_diff) < 1e-9,
          f"{name}: accuracy and quadratic-kappa differences = scikit-learn's")
    acc_ci, kap_ci = boot_ci(truth, ref, pred, patients, 4)
    ci = c["accuracy_difference_ci95"]
    check(abs(ci[0] - acc_ci[0]) <= 0.025 and abs(ci[1] - acc_ci[1]) <= 0.025,
          f"{name}: accuracy CI [{ci[0]:+.3f}, {ci[1]:+.3f}] ~ NumPy's [{acc_ci[0]:+.3f}, {acc_ci[1]:+.3f}]")
    ci = c["kappa_quadratic_difference_ci95"]
    check(abs(ci[0] - kap_ci[0]) <= 0.03 and abs(ci[1] - kap_ci[1]) <= 0.03,
          f"{name}: kappa CI [{ci[0]:+.3f}, {ci[1]:+.3f}] ~ NumPy's [{kap_ci[0]:+.3f}, {kap_ci[1]:+.3f}]")
holm = multipletests(ps, method="holm")[1]
check(all(abs(c["holm_p"] - hp) < 1e-12 for c, hp in zip(got, holm)),
      f"Holm-adjusted p {[round(c['holm_p'], 6) for c in got]} = statsmodels' {[round(x, 6) for x in holm]}")
same = got[2]
check(same["mcnemar_exact_p"] == 1 and same["accuracy_difference_ci95"] == [0, 0],
      "identical predictions (no discordant pair): p = 1, interval [0, 0]")
check(got[1]["holm_p"] < 0.05 and got[1]["accuracy_difference_ci95"][1] < 0, "the much worse model is flagged")

# Binary files: k = 2.
bt = rng.integers(0, 2, 50)
ba = np.where(rng.random(50) < 0.8, bt, 1 - bt)
bb = np.where(rng.random(50) < 0.5, bt, ba)
pts = [f"Q{i % 10}" for i in range(50)]
run("compare", write("bref.csv", bt, ba, pts, 2), write("bb.csv", bt, bb, pts, 2), "--bootstrap", "5000",
    "--json", os.path.join(work, "bout.json"))
c = json.load(open(os.path.join(work, "bout.json")))["comparisons"][0]
kd = cohen_kappa_score(bt, bb, weights="quadratic") - cohen_kappa_score(bt, ba, weights="quadratic")
check(abs(c["kappa_quadratic_difference"] - kd) < 1e-9, "binary: kappa difference = scikit-learn's")

# Files of other images are refused, naming them.
p = run("compare", os.path.join(work, "ref.csv"), os.path.join(work, "bref.csv"), rc=1)
check("not comparable" in p.stderr or "other test images" in p.stderr, "predictions of other images are refused")
h.finish()
