#!/usr/bin/env python3
"""Oracle for the metrics tests: scikit-learn's figures on randomised prediction files.

    /usr/bin/python3 tests/oracles/sklearn_metrics.py OUTDIR

Writes OUTDIR/case_<k>.csv (the predictions contract) and OUTDIR/expected.json: per case, scikit-learn's
accuracy, recall per class (null where a class has no true samples), balanced accuracy, confusion matrix and
Cohen's kappa (unweighted, linear, quadratic; labels fixed to the OESS scale), mean absolute grade error,
one-vs-rest sensitivity/specificity per grade (multilabel_confusion_matrix); for binary cases and the
healthy/diseased view of 4-class cases, sensitivity, specificity, ROC AUC, kappa, balanced accuracy and
Brier score (brier_score_loss). Where scikit-learn (1.2) has no function, NumPy here: the share within one
grade and off by two or more, the multi-class Brier score (sum over grades of the squared difference from the
one-hot truth, averaged over images), and the expected calibration error with its reliability table (10
equal-width bins of the called class's probability, bin = min(floor(10 c), 9)). Cases: 40 random
4-class, 20 random binary, and degenerate ones (a grade never predicted, one class only in the truth,
every score tied, all predictions right).
"""
import json
import math
import os
import sys

import numpy as np
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, brier_score_loss, cohen_kappa_score,
                             confusion_matrix, mean_absolute_error, multilabel_confusion_matrix, recall_score,
                             roc_auc_score)


def f(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def safe(fn):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return f(fn())
        except ValueError:
            return None


def reliability(correct, conf, bins=10):
    conf = np.asarray(conf, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    b = np.minimum(np.floor(conf * bins).astype(int), bins - 1)
    rows, ece = [], 0.0
    for k in range(bins):
        sel = b == k
        n = int(sel.sum())
        rows.append({"n": n, "confidence": f(conf[sel].mean()) if n else None,
                     "accuracy": f(correct[sel].mean()) if n else None})
        if n:
            ece += n / len(conf) * abs(correct[sel].mean() - conf[sel].mean())
    return {"rows": rows}, f(ece) if len(conf) else None


def binary_figures(t, p, score):
    t, p, score = np.asarray(t), np.asarray(p), np.asarray(score, dtype=np.float64)
    cm = confusion_matrix(t, p, labels=[0, 1])
    rel, ece = reliability(t == p, np.where(p == 1, score, 1 - score))
    return {"accuracy": f(accuracy_score(t, p)),
            "balanced_accuracy": safe(lambda: balanced_accuracy_score(t, p)),
            "brier": f(brier_score_loss(t, score, pos_label=1)),
            "ece": ece,
            "reliability": rel,
            "sensitivity": f(cm[1, 1] / cm[1].sum()) if cm[1].sum() else None,
            "specificity": f(cm[0, 0] / cm[0].sum()) if cm[0].sum() else None,
            "auc": safe(lambda: roc_auc_score(t, score)) if len(set(t)) == 2 else None,
            "kappa": safe(lambda: cohen_kappa_score(t, p, labels=[0, 1])),
            "confusion": cm.tolist()}


def write_case(out, k, truth, pred, probs, binary):
    with open(os.path.join(out, f"case_{k}.csv"), "w") as fh:
        fh.write("path,truth,pred," + ("p1" if binary else "p0,p1,p2,p3") + "\n")
        for i, (t, p) in enumerate(zip(truth, pred)):
            ps = [probs[i][1]] if binary else probs[i]
            fh.write(f"img{i}.png,{t},{p}," + ",".join(repr(float(x)) for x in ps) + "\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(11)
    cases = []

    def add(truth, probs, binary, pred=None):
        truth = np.asarray(truth)
        probs = np.asarray(probs, dtype=np.float64)
        pred = probs.argmax(1) if pred is None else np.asarray(pred)
        k = len(cases)
        write_case(out, k, truth, pred, probs, binary)
        if binary:
            e = binary_figures(truth, pred, probs[:, 1])
        else:
            labels = [0, 1, 2, 3]
            support = [(truth == c).sum() for c in labels]
            with np.errstate(all="ignore"):
                import warnings
                warnings.simplefilter("ignore")
                rec = recall_score(truth, pred, labels=labels, average=None, zero_division=0)
            err = np.abs(pred - truth)
            rel, ece = reliability(pred == truth, probs[np.arange(len(pred)), pred])
            mcm = multilabel_confusion_matrix(truth, pred, labels=labels)  # [[tn, fp], [fn, tp]] per grade
            per_grade = [{"sensitivity": f(m[1, 1] / m[1].sum()) if m[1].sum() else None,
                          "specificity": f(m[0, 0] / m[0].sum()) if m[0].sum() else None} for m in mcm]
            e = {"accuracy": f(accuracy_score(truth, pred)),
                 "balanced_accuracy": safe(lambda: balanced_accuracy_score(truth, pred)),
                 "mae": f(mean_absolute_error(truth, pred)),
                 "within_one": f(np.mean(err <= 1)),
                 "off_by_two_or_more": f(np.mean(err >= 2)),
                 "per_grade": per_grade,
                 "brier": f(np.mean(((probs - np.eye(4)[truth]) ** 2).sum(1))),
                 "ece": ece,
                 "reliability": rel,
                 "per_class_accuracy": [f(r) if s else None for r, s in zip(rec, support)],
                 "mean_per_class_accuracy": safe(lambda: balanced_accuracy_score(truth, pred)),
                 "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
                 "kappa": {w: safe(lambda w=w: cohen_kappa_score(truth, pred, labels=labels,
                                                                 weights=None if w == "unweighted" else w))
                           for w in ("unweighted", "linear", "quadratic")},
                 "binary": binary_figures((truth >= 2).astype(int), (pred >= 2).astype(int), probs[:, 2] + probs[:, 3])}
        cases.append({"file": f"case_{k}.csv", "binary": binary, "expected": e})

    for _ in range(40):
        n = int(rng.integers(5, 120))
        truth = rng.integers(0, 4, n)
        logits = rng.normal(size=(n, 4)) + 1.5 * np.eye(4)[truth] * rng.uniform(0, 2)
        probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        probs = np.round(probs, int(rng.integers(1, 7)))  # coarse rounding makes ties
        probs[:, 3] = 1 - probs[:, :3].sum(1)
        probs = np.clip(probs, 0, 1)
        probs[:, 3] = 1 - probs[:, :3].sum(1)
        if (probs < 0).any():
            continue
        add(truth, probs, False)
    for _ in range(20):
        n = int(rng.integers(4, 150))
        truth = rng.integers(0, 2, n)
        p1 = np.clip(np.round(0.5 + (truth - 0.5) * rng.uniform(0, 0.8) + rng.normal(0, 0.3, n), 2), 0, 1)
        add(truth, np.stack([1 - p1, p1], 1), True, pred=(p1 > 0.5).astype(int))
    # Degenerate cases.
    eye = np.eye(4)
    add([0, 1, 2, 3, 0, 1], eye[[0, 0, 2, 2, 0, 0]] * 0.7 + 0.075, False)       # grades 1 and 3 never predicted
    add([2, 2, 2, 2], eye[[2, 1, 2, 3]] * 0.7 + 0.075, False)                    # one grade only in the truth
    add([0, 1, 2, 3], np.full((4, 4), 0.25), False, pred=[0, 0, 0, 0])           # every score tied
    add([0, 1, 2, 3, 3], eye[[0, 1, 2, 3, 3]], False)                            # all right
    add([1, 1, 1], np.array([[0.2, 0.8]] * 3), True, pred=[1, 1, 1])            # one class only (AUC undefined)
    add([0, 1, 0, 1], np.array([[0.5, 0.5]] * 4), True, pred=[0, 0, 0, 0])       # tied scores: AUC 0.5
    with open(os.path.join(out, "expected.json"), "w") as fh:
        json.dump(cases, fh, indent=1)
    print(f"{len(cases)} metric cases written to {out}")


if __name__ == "__main__":
    sys.exit(main())
