#!/usr/bin/env python3
"""Oracle for the ordinal head: statsmodels' OrderedModel (logit) fitted by maximum likelihood on seeded
problems drawn from a proportional-odds model.

    /usr/bin/python3 tests/oracles/statsmodels_ordinal.py OUT.json

Each case: standardised features X (mean 0, population std 1 per column, as oess standardises), grades y
0..3, and statsmodels' estimates: the coefficients beta and the three thresholds (its transform of the first
threshold and the log increments), with the mean negative log-likelihood at the optimum.
"""
import json
import sys
import warnings

import numpy as np
from statsmodels.miscmodels.ordinal_model import OrderedModel


def main():
    warnings.simplefilter("ignore")  # statsmodels' convergence flag: the score is checked below instead
    rng = np.random.default_rng(32)
    cases = []
    for n, f in ((300, 3), (500, 5), (200, 2)):
        x = rng.normal(size=(n, f))
        x = (x - x.mean(0)) / x.std(0)
        beta = rng.uniform(-1.5, 1.5, f)
        theta = np.sort(rng.uniform(-2, 2, 3)) + np.array([0, 0.3, 0.6])
        u = rng.logistic(size=n)
        y = np.searchsorted(theta, x @ beta + u)  # P(y <= j) = sigmoid(theta_j - x.beta)
        res = OrderedModel(y, x, distr="logit").fit(method="newton", disp=False, maxiter=200, tol=1e-10)
        assert np.abs(res.mle_retvals["score"]).max() < 1e-6, res.mle_retvals  # at the optimum
        params = res.params
        th = res.model.transform_threshold_params(params)[1:-1]
        cases.append({"x": x.tolist(), "y": y.tolist(), "beta": params[:f].tolist(), "thresholds": th.tolist(),
                      "nll": float(-res.llf / n), "counts": np.bincount(y, minlength=4).tolist()})
    json.dump(cases, open(sys.argv[1], "w"))
    print(f"{len(cases)} ordinal problems; grade counts {[c['counts'] for c in cases]}")


if __name__ == "__main__":
    sys.exit(main())
