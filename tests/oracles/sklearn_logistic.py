#!/usr/bin/env python3
"""Oracle for the classifier test: scikit-learn's L2 LogisticRegression (lbfgs, multinomial) fitted to
convergence on a fixed, standardised feature matrix.

    /usr/bin/python3 tests/oracles/sklearn_logistic.py OUT.pt

OUT.pt (plain dict): x [300, 20] standardised (population std), grades [300] (0..3), C, and for each task
(oess4: 4 classes; binary: grades 0-1 vs 2-3) coef_<task>, intercept_<task>, pred_<task>.
"""
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

rng = np.random.default_rng(7)
n, f = 300, 20
x = rng.normal(size=(n, f)) * rng.uniform(0.5, 3, size=f) + rng.normal(size=f)
w = rng.normal(size=(f, 4))
grades = np.argmax(x @ w + rng.normal(scale=2.0, size=(n, 4)), axis=1)
x = StandardScaler().fit_transform(x)
C = 0.5
out = {"x": torch.tensor(x, dtype=torch.float32), "grades": torch.tensor(grades, dtype=torch.int64),
       "C": torch.tensor(C, dtype=torch.float64)}
for task, y in (("oess4", grades), ("binary", (grades >= 2).astype(int))):
    kw = {"multi_class": "multinomial"} if task == "oess4" else {}
    m = LogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=10000, **kw).fit(x.astype(np.float64), y)
    out[f"coef_{task}"] = torch.tensor(m.coef_, dtype=torch.float64)
    out[f"intercept_{task}"] = torch.tensor(m.intercept_, dtype=torch.float64)
    out[f"pred_{task}"] = torch.tensor(m.predict(x), dtype=torch.int64)
torch.save(out, sys.argv[1])
print(f"wrote {sys.argv[1]}")
