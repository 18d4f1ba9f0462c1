"""`oess agreement` against independent implementations (issue #34).

usage: reader_agreement.py OESS WORKDIR

`oess synth --reader` adds four readers of stated bias and noise (one strict, one lenient, one noisy that skips
images, one careful) to 80 synthetic images of 16 patients. Then, on `oess agreement --json`:
- Cohen's kappa per pair, unweighted / linear / quadratic = scikit-learn's cohen_kappa_score on the images both
  graded; Fleiss' kappa = statsmodels' fleiss_kappa on the images every reader graded;
- Krippendorff's alpha (ordinal) and ICC(2,1) / ICC(3,1) = NumPy implementations written here from their
  textbook formulas, themselves checked first on published worked examples (Krippendorff 2011's reliability
  data: nominal alpha 0.743; Shrout & Fleiss 1979's 6 x 4 table: ICC(2,1) 0.29, ICC(3,1) 0.71);
- the 95% intervals = a NumPy bootstrap by patient (different random draws: within 0.08);
- the synthetic readers are what was asked: the strict one grades above the true grade on average, the lenient
  one below, the noisy one skips about 15% of the images;
- the model as a reader (--predictions): a model that is the true grade with a few errors is not "below" the
  readers, a model that guesses is "below"; its per-reader kappas = scikit-learn's, and the leave-one-reader-
  out consensus comparison = NumPy's.
"""
import json
import os
import sys

import numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Harness, rows, write_rows  # noqa: E402

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run


def alpha(data, metric):
    """Krippendorff's alpha, data[coder][unit] with None for missing; metric(c, k, n_c) -> delta^2."""
    values = sorted({v for row in data for v in row if v is not None})
    idx = {v: i for i, v in enumerate(values)}
    o = np.zeros((len(values), len(values)))
    for u in range(len(data[0])):
        vals = [row[u] for row in data if row[u] is not None]
        if len(vals) < 2:
            continue
        for i, a in enumerate(vals):
            for j, b in enumerate(vals):
                if i != j:
                    o[idx[a], idx[b]] += 1 / (len(vals) - 1)
    nc = o.sum(1)
    n = nc.sum()
    d = np.array([[metric(c, k, nc) for k in range(len(values))] for c in range(len(values))])
    return 1 - (n - 1) * (o * d).sum() / (np.outer(nc, nc) * d).sum()


def nominal(c, k, nc):
    return float(c != k)


def ordinal(c, k, nc):
    lo, hi = min(c, k), max(c, k)
    return (nc[lo:hi + 1].sum() - (nc[c] + nc[k]) / 2) ** 2


def icc(x):
    """ICC(2,1), ICC(3,1) of x[subject][rater] (Shrout & Fleiss's two-way ANOVA)."""
    x = np.asarray(x, float)
    n, k = x.shape
    g = x.mean()
    msr = k * ((x.mean(1) - g) ** 2).sum() / (n - 1)
    msc = n * ((x.mean(0) - g) ** 2).sum() / (k - 1)
    sse = ((x - g) ** 2).sum() - msr * (n - 1) - msc * (k - 1)
    mse = sse / ((n - 1) * (k - 1))
    return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n), (msr - mse) / (msr + (k - 1) * mse)


# The oracles on published examples first.
K = [[1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
     [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
     [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
     [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]]
check(abs(alpha(K, nominal) - 0.743) < 0.0005, f"NumPy alpha on Krippendorff (2011)'s data: {alpha(K, nominal):.4f} (0.743)")
i21, i31 = icc([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
check(abs(i21 - 0.29) < 0.005 and abs(i31 - 0.71) < 0.005, f"NumPy ICCs on Shrout & Fleiss (1979): {i21:.3f}, {i31:.3f}")

synth = os.path.join(work, "synth")
readers = ["strict", "lenient", "noisy", "careful"]
run("synth", "--out", synth, "--counts", "20,20,20,20", "--patients", "16", "--seed", "3", "--size", "192x144",
    "--reader", "strict:0.6:0.4", "--reader", "lenient:-0.6:0.4", "--reader", "noisy:0:0.9:0.15",
    "--reader", "careful:0:0.3")
lab = rows(os.path.join(synth, "labels.csv"))
truth = np.array([int(r["true_score"]) for r in lab])
G = np.array([[int(r[c]) if r[c] != "" else -1 for c in readers] for r in lab])
patients = np.array([r["patient"] for r in lab])
check((G[:, 0][G[:, 0] >= 0] - truth[G[:, 0] >= 0]).mean() > 0.2 and (G[:, 1] - truth).mean() < -0.2,
      f"the strict reader grades above the truth ({(G[:, 0] - truth).mean():+.2f}), the lenient below "
      f"({(G[:, 1] - truth).mean():+.2f})")
skipped = (G[:, 2] < 0).mean()
check(0.05 <= skipped <= 0.28 and (G[:, [0, 1, 3]] >= 0).all(), f"the noisy reader skips {100 * skipped:.0f}% (15% asked)")

out = os.path.join(work, "agreement.json")
p = run("agreement", os.path.join(synth, "labels.csv"), "--readers", ",".join(readers), "--json", out, "--pair",
        "strict,lenient", "--bootstrap", "500", "--seed", "1")
a = json.load(open(out))
worst = 0.0
for pair in a["pairs"]:
    i, j = readers.index(pair["readers"][0]), readers.index(pair["readers"][1])
    both = (G[:, i] >= 0) & (G[:, j] >= 0)
    for w, name in ((None, "unweighted"), ("linear", "linear"), ("quadratic", "quadratic")):
        ref = cohen_kappa_score(G[both, i], G[both, j], weights=w, labels=[0, 1, 2, 3])
        worst = max(worst, abs(pair["kappa"][name]["value"] - ref))
check(len(a["pairs"]) == 6 and worst < 1e-9, f"Cohen's kappas of the 6 pairs = scikit-learn's (largest difference {worst:.1e})")
complete = (G >= 0).all(1)
fk = fleiss_kappa(aggregate_raters(G[complete], n_cat=4)[0])
check(abs(a["fleiss_kappa"]["value"] - fk) < 1e-9 and a["fleiss_kappa"]["n"] == complete.sum(),
      f"Fleiss' kappa = statsmodels' ({a['fleiss_kappa']['value']:.6f} vs {fk:.6f}, {complete.sum()} images)")
data = [[int(v) if v >= 0 else None for v in G[:, r]] for r in range(4)]
al = alpha(data, ordinal)
check(abs(a["krippendorff_alpha_ordinal"]["value"] - al) < 1e-9,
      f"Krippendorff's alpha (ordinal) = NumPy's ({a['krippendorff_alpha_ordinal']['value']:.6f} vs {al:.6f})")
r21, r31 = icc(G[complete])
check(abs(a["icc_2_1"]["value"] - r21) < 1e-9 and abs(a["icc_3_1"]["value"] - r31) < 1e-9,
      f"ICC(2,1), ICC(3,1) = NumPy's ({a['icc_2_1']['value']:.6f}, {a['icc_3_1']['value']:.6f})")
conf = np.zeros((4, 4), int)
for x, y in zip(G[:, 0], G[:, 1]):
    conf[x, y] += 1
check(np.array(a["confusion"]["counts"]).tolist() == conf.tolist(), "the strict x lenient confusion table")

# The intervals: a NumPy bootstrap by patient.
rng = np.random.default_rng(7)
units = sorted(set(patients))
members = {u: np.where(patients == u)[0] for u in units}
boot = {"fleiss": [], "alpha": [], "q01": []}
for _ in range(2000):
    rows_ = np.concatenate([members[units[k]] for k in rng.integers(0, len(units), len(units))])
    g = G[rows_]
    c = (g >= 0).all(1)
    boot["fleiss"].append(fleiss_kappa(aggregate_raters(g[c], n_cat=4)[0]))
    boot["alpha"].append(alpha([[int(v) if v >= 0 else None for v in g[:, r]] for r in range(4)], ordinal))
    boot["q01"].append(cohen_kappa_score(g[:, 0], g[:, 1], weights="quadratic", labels=[0, 1, 2, 3]))
gap = max(abs(np.percentile(boot["fleiss"], 2.5) - a["fleiss_kappa"]["ci95"][0]),
          abs(np.percentile(boot["fleiss"], 97.5) - a["fleiss_kappa"]["ci95"][1]),
          abs(np.percentile(boot["alpha"], 2.5) - a["krippendorff_alpha_ordinal"]["ci95"][0]),
          abs(np.percentile(boot["alpha"], 97.5) - a["krippendorff_alpha_ordinal"]["ci95"][1]),
          abs(np.percentile(boot["q01"], 2.5) - a["pairs"][0]["kappa"]["quadratic"]["ci95"][0]),
          abs(np.percentile(boot["q01"], 97.5) - a["pairs"][0]["kappa"]["quadratic"]["ci95"][1]))
check(gap < 0.08, f"95% intervals within 0.08 of a NumPy bootstrap by patient (largest gap {gap:.3f})")


# The model as a reader: a good model (the truth, 8 images off by one) and a guessing one.
def consensus_majority(vals):
    v = sorted(x for x in vals if x >= 0)
    if not v:
        return -1
    med = v[(len(v) - 1) // 2]
    counts = {g: v.count(g) for g in set(v)}
    top = max(counts.values())
    tied = sorted(g for g in counts if counts[g] == top)
    return min(tied, key=lambda g: (abs(g - med), g))


def loo(model):
    diffs = []
    for r in range(4):
        others = [consensus_majority([G[i, j] for j in range(4) if j != r]) for i in range(len(G))]
        mk = cohen_kappa_score(model, others, weights="quadratic", labels=[0, 1, 2, 3])
        rv = G[:, r] >= 0
        rk = cohen_kappa_score(G[rv, r], np.array(others)[rv], weights="quadratic", labels=[0, 1, 2, 3])
        diffs.append(mk - rk)
    return float(np.mean(diffs))


for name, model in (("good", np.where(np.arange(len(truth)) % 10 == 0, np.clip(truth + 1, 0, 3), truth)),
                    ("guessing", np.random.default_rng(11).integers(0, 4, len(truth)))):
    pred_csv = os.path.join(work, f"pred_{name}.csv")
    write_rows(pred_csv, [{"path": r["path"], "truth": r["true_score"], "pred": int(m), "p0": 0.25, "p1": 0.25,
                           "p2": 0.25, "p3": 0.25, "patient": r["patient"]} for r, m in zip(lab, model)])
    out = os.path.join(work, f"model_{name}.json")
    p = run("agreement", os.path.join(synth, "labels.csv"), "--readers", ",".join(readers), "--predictions",
            pred_csv, "--json", out, "--bootstrap", "400")
    mr = json.load(open(out))["model_as_reader"]
    ks = [cohen_kappa_score(model[G[:, r] >= 0], G[G[:, r] >= 0, r], weights="quadratic", labels=[0, 1, 2, 3])
          for r in range(4)]
    got = [x["kappa_model_reader"] for x in mr["per_reader"]]
    check(max(abs(x - y) for x, y in zip(got, ks)) < 1e-9 and abs(mr["difference"] - loo(model)) < 1e-9,
          f"{name} model: kappas with each reader = scikit-learn's; leave-one-reader-out difference "
          f"{mr['difference']:+.3f} = NumPy's {loo(model):+.3f}")
    want_ok = mr["verdict"] != "below" if name == "good" else mr["verdict"] == "below"
    check(want_ok and mr["verdict"] in mr["sentence"] and "readers' range" in mr["sentence"],
          f"{name} model: verdict {mr['verdict']} ({mr['difference_ci95']}): {mr['sentence']}")
    check(mr["sentence"] in p.stdout, f"{name} model: the sentence is printed")
h.finish()
