#!/usr/bin/env python3
"""Oracle for the signed-rank test: scipy.stats.wilcoxon (two-sided, zeros dropped) on differences where
scipy 1.10 and oess use the same method: small samples without ties or zeros (exact), and samples of more
than 50 non-zero differences with ties (normal approximation with tie correction).

    /usr/bin/python3 tests/oracles/scipy_wilcoxon.py OUT.json
"""
import json
import sys

import numpy as np
from scipy.stats import wilcoxon

rng = np.random.default_rng(4)
cases = []
for n in (5, 8, 12, 20, 33, 50):
    d = rng.permutation(np.arange(1, n + 1)) * rng.choice([-1, 1], n) + rng.normal(0, 0.01, n)
    r = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
    cases.append({"d": d.tolist(), "statistic": float(r.statistic), "p": float(r.pvalue), "exact": True})
for n in (60, 80, 150):
    d = rng.integers(-4, 6, n).astype(float)
    d = d[d != 0]
    r = wilcoxon(d, zero_method="wilcox", alternative="two-sided", mode="approx")
    cases.append({"d": d.tolist(), "statistic": float(r.statistic), "p": float(r.pvalue), "exact": False})
with open(sys.argv[1], "w") as f:
    json.dump(cases, f)
print(f"{len(cases)} signed-rank cases written to {sys.argv[1]}")
