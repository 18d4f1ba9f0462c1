#!/usr/bin/env python3
"""Oracle for Platt scaling: SciPy's fit of the same objective on seeded random binary problems.

    /usr/bin/python3 tests/oracles/scipy_platt.py OUT.json

Each case: validation probabilities p = [P(0), P(1)] (over-confident, under-confident, shifted and about
right, never separable) and 0/1 labels; expected: the (a, b) minimising the mean negative log-likelihood of
sigmoid(a * logit(p) + b) at the labels, logit(p) = log max(p1, 1e-12) - log max(p0, 1e-12)
(scipy.optimize.minimize, BFGS with the analytic gradient, gtol 1e-12), the NLL at (1, 0) and at the fit,
the scaled P(1) of the first rows, and scikit-learn's unpenalised LogisticRegression of the labels on logit(p)
as a second opinion (its coefficient and intercept).
"""
import json
import sys

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.linear_model import LogisticRegression


def nll(theta, z, y):
    s = theta[0] * z + theta[1]
    return float(np.mean(np.logaddexp(0, s) - y * s))


def grad(theta, z, y):
    r = expit(theta[0] * z + theta[1]) - y
    return np.array([np.mean(r * z), np.mean(r)])


def main():
    rng = np.random.default_rng(45)
    cases = []
    for i in range(16):
        n = int(rng.integers(30, 300))
        y = rng.integers(0, 2, n)
        sharp = [0.4, 1.0, 3.0, 1.5][i % 4]
        shift = [0.0, 0.0, 0.0, 1.2][i % 4]  # the fourth kind is biased towards class 1
        s = (rng.normal(size=n) + (2 * y - 1) * rng.uniform(0.3, 1.5)) * sharp + shift
        p1 = np.round(expit(s), 8)
        p = np.stack([1 - p1, p1], 1)
        z = np.log(np.maximum(p[:, 1], 1e-12)) - np.log(np.maximum(p[:, 0], 1e-12))
        r = minimize(nll, np.array([1.0, 0.0]), args=(z, y), jac=grad, method="BFGS", options={"gtol": 1e-12})
        a, b = (float(v) for v in r.x)
        lr = LogisticRegression(penalty=None, tol=1e-12, max_iter=10000).fit(z[:, None], y)
        cases.append({"p": p.tolist(), "y": y.tolist(), "a": a, "b": b, "nll_before": nll([1, 0], z, y),
                      "nll_after": nll(r.x, z, y), "scaled_first": expit(a * z[:5] + b).tolist(),
                      "sklearn_a": float(lr.coef_[0][0]), "sklearn_b": float(lr.intercept_[0])})
    json.dump(cases, open(sys.argv[1], "w"))
    print(f"{len(cases)} Platt cases; a from {min(c['a'] for c in cases):.3f} to {max(c['a'] for c in cases):.3f}, "
          f"b from {min(c['b'] for c in cases):.3f} to {max(c['b'] for c in cases):.3f}; largest gap to "
          f"scikit-learn {max(abs(c['a'] - c['sklearn_a']) + abs(c['b'] - c['sklearn_b']) for c in cases):.1e}")


if __name__ == "__main__":
    main()
