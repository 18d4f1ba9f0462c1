#!/usr/bin/env python3
"""Oracle for temperature scaling: SciPy's fit of the same objective on seeded random problems.

    /usr/bin/python3 tests/oracles/scipy_temperature.py OUT.json

Each case: validation probabilities p (rows summing to 1; over-confident, under-confident and calibrated
ensembles, 4-class and binary) and labels; expected: the temperature T minimising the mean negative
log-likelihood of softmax(log(max(p, 1e-12)) / T) at the true labels (scipy.optimize.minimize_scalar,
bounded, on log T, tolerance 1e-10), the NLL at T = 1 and at that T, and the scaled probabilities of the first
rows at that T.
"""
import json
import sys

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax


def nll(p, y, t):
    z = np.log(np.maximum(p, 1e-12)) / t
    return float(-log_softmax(z, axis=1)[np.arange(len(y)), y].mean())


def main():
    rng = np.random.default_rng(44)
    cases = []
    for i in range(24):
        k = 4 if i % 3 else 2
        n = int(rng.integers(20, 300))
        y = rng.integers(0, k, n)
        sharp = [0.4, 1.0, 3.0][i % 3]  # under-confident, about right, over-confident
        logits = rng.normal(size=(n, k)) + np.eye(k)[y] * rng.uniform(0.5, 2.5)
        p = np.exp(logits * sharp)
        p /= p.sum(1, keepdims=True)
        p = np.round(p, 8)
        p[:, -1] = 1 - p[:, :-1].sum(1)
        p = np.clip(p, 0, 1)
        r = minimize_scalar(lambda lt: nll(p, y, np.exp(lt)), bounds=(np.log(1e-3), np.log(1e3)),
                            method="bounded", options={"xatol": 1e-10})
        t = float(np.exp(r.x))
        z = np.log(np.maximum(p[:5], 1e-12)) / t
        q = np.exp(log_softmax(z, axis=1))
        cases.append({"k": k, "p": p.tolist(), "y": y.tolist(), "temperature": t, "nll_before": nll(p, y, 1.0),
                      "nll_after": nll(p, y, t), "scaled_first": q.tolist()})
    json.dump(cases, open(sys.argv[1], "w"))
    print(f"{len(cases)} temperature-scaling cases; T from {min(c['temperature'] for c in cases):.3f} "
          f"to {max(c['temperature'] for c in cases):.3f}")


if __name__ == "__main__":
    sys.exit(main())
