"""`oess run` with data.split.method leave_group_out (issue #32) on a synthetic set made to look like three
scanners, checked from outside over the files the run writes.

usage: run_leave_group_out.py OESS WORKDIR
The set: `oess synth` images of 12 patients; patients are assigned to scanners A, B, C (four each) and every
image is re-rendered here with its scanner's gain and noise (NumPy/PIL, so the groups really differ); scanner
C's grade-3 images are left out of the manifest, so that group lacks a grade the others have.
Checks:
- the data stage names the folds by scanner; split.csv puts no patient in two folds; each fold's own split
  tests exactly its scanner's images and trains and validates on the other scanners only;
- predictions.csv: every image exactly once, with its scanner column and the fold of its scanner;
- metrics.json: the pooled figures are `oess evaluate`'s on predictions.csv; "by" has one entry per scanner
  whose figures equal `oess evaluate` on that scanner's rows alone (same bootstrap, seed); accuracy per
  scanner equals scikit-learn's; the coded warning group_missing_grade names scanner C and grade 3;
- evaluate.by on a per_class run adds a `site` table the same way;
- in a real browser (headless Chromium): report.html and gallery.html of the evaluate.by run open without
  console errors, every image loads, report.html has the per-site table and the calibration section,
  gallery.html the most-wrong images with heat maps and a section per site;
- refusals exit 2 naming the key: no group column, a column not in the manifest, a column of one value,
  evaluate.by naming a missing column.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np
from PIL import Image
from sklearn.metrics import accuracy_score

from browser import open_page  # noqa: E402  (tests/browser.py)
from harness import Harness, rows, write_rows  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run

synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "20,20,20,20", "--patients", "12", "--seed", "5", "--threads", "2")
labels = rows(os.path.join(synth, "labels.csv"))
ids = sorted({r["patient"] for r in labels})
scanner_of = {p: "ABC"[i // 4] for i, p in enumerate(ids)}
look = {"A": (1.0, 0.0), "B": (0.8, 6.0), "C": (1.2, 12.0)}  # gain, noise sd (grey levels)
rng = np.random.default_rng(7)
scans = os.path.join(work, "scans")
os.makedirs(os.path.join(scans, "images"))
kept = []
for r in labels:
    s = scanner_of[r["patient"]]
    if s == "C" and r["score"] == "3":
        continue
    img = np.asarray(Image.open(os.path.join(synth, r["path"])).convert("RGB"), dtype=np.float64)
    gain, sd = look[s]
    img = np.clip(img * gain + rng.normal(0, sd, img.shape), 0, 255).astype(np.uint8) if sd else img.astype(np.uint8)
    Image.fromarray(img).save(os.path.join(scans, r["path"]))
    kept.append({"path": r["path"], "score": r["score"], "patient": r["patient"], "scanner": s,
                 "site": "north" if int(r["patient"][1:]) % 2 else "south"})
manifest = os.path.join(scans, "labels.csv")
write_rows(manifest, kept)


def config(name, split, extra="", manifest_file=manifest):
    return h.small_config(name, f"  manifest: {manifest_file}\n  split: {split}\n  check: false\n", extra=extra)


p = run("run", config("lgo", "{method: leave_group_out, group_column: scanner, val_fraction: 0.2}"))
out = os.path.join(work, "runs", "lgo")
check("one fold per scanner (leave-one-group-out, patients kept together)" in p.stdout,
      "the data stage says the folds are the scanners")
for f, s in enumerate("ABC", 1):
    check(f"fold{f} {s}" in p.stdout, f"fold {f} is scanner {s} on the console")

split = rows(os.path.join(out, "split.csv"))
fold_of = {r["path"]: r["fold"] for r in split}
patient_folds = {}
for r in split:
    patient_folds.setdefault(r["patient"], set()).add(r["fold"])
check(all(len(v) == 1 for v in patient_folds.values()), "no patient in two folds")
scanner = {r["path"]: r["scanner"] for r in kept}
for f, s in enumerate("ABC", 1):
    parts = rows(os.path.join(out, "folds", f"fold{f}", "split.csv"))
    test = {r["path"] for r in parts if r["split"] == "test"}
    rest = {r["path"] for r in parts if r["split"] in ("train", "val")}
    check(test == {p for p, sc in scanner.items() if sc == s}, f"fold {f} tests exactly scanner {s}'s images")
    check(all(scanner[p] != s for p in rest), f"fold {f} trains and validates on the other scanners only")

pred = rows(os.path.join(out, "predictions.csv"))
check(sorted(r["path"] for r in pred) == sorted(scanner), "predictions.csv: every image exactly once")
check(all(r["scanner"] == scanner[r["path"]] for r in pred), "predictions.csv carries each image's scanner")
check(all(r["fold"] == fold_of[r["path"]] == str("ABC".index(r["scanner"]) + 1) for r in pred),
      "predictions.csv: each image's fold is its scanner's")

m = json.load(open(os.path.join(out, "metrics.json")))
check(list(m.get("by", {})) == ["scanner"], "metrics.json has a per-scanner table")
evaluated = os.path.join(work, "evaluated.json")
run("evaluate", "--predictions", os.path.join(out, "predictions.csv"), "--bootstrap", "200", "--out", evaluated)
e = json.load(open(evaluated))
check(all(m[k] == e[k] for k in ("accuracy", "accuracy_ci95", "kappa", "ece", "mae", "per_grade")),
      "pooled figures are oess evaluate's on predictions.csv")
groups = {g["group"]: g for g in m["by"]["scanner"]}
check(sorted(groups) == ["A", "B", "C"], "one entry per scanner")
for s in "ABC":
    sub = os.path.join(work, f"scanner_{s}.csv")
    write_rows(sub, [r for r in pred if r["scanner"] == s])
    alone_file = os.path.join(work, f"scanner_{s}.json")
    run("evaluate", "--predictions", sub, "--bootstrap", "200", "--out", alone_file)
    alone = json.load(open(alone_file))
    alone["per_patient"].pop("rows", None)
    check(groups[s]["metrics"] == alone, f"scanner {s}: its figures equal oess evaluate on its rows alone")
    t = [int(r["truth"]) for r in pred if r["scanner"] == s]
    q = [int(r["pred"]) for r in pred if r["scanner"] == s]
    check(abs(groups[s]["metrics"]["accuracy"] - accuracy_score(t, q)) < 1e-12, f"scanner {s}: scikit-learn's accuracy")
    check(groups[s]["too_small"] is not None, f"scanner {s} (4 patients) is marked too small to judge")
warn = [w for w in m["warnings"] if w["code"] == "group_missing_grade"]
check(any('"C"' in w["message"] and "grade 3" in w["message"] for w in warn),
      "warning group_missing_grade names scanner C and grade 3")
check(os.path.isfile(os.path.join(out, "model", "model.pt")), "the refit on every scanner is exported")

# evaluate.by on an ordinary split.
p = run("run", config("by_site", "{method: grouped, val_fraction: 0.2, test_fraction: 0.3}",
                      "evaluate:\n  by: [site]\n"))
bm = json.load(open(os.path.join(work, "runs", "by_site", "metrics.json")))
bp = rows(os.path.join(work, "runs", "by_site", "predictions.csv"))
check(list(bm.get("by", {})) == ["site"] and all("site" in r for r in bp),
      "evaluate.by: [site] gives predictions.csv a site column and metrics.json a per-site table")
check(sum(g["n"] for g in bm["by"]["site"]) == len(bp), "the per-site tables cover every test image once")

# The report and the error gallery in a real browser.
site_dir = os.path.join(work, "runs", "by_site")
rep = open_page(os.path.join(site_dir, "report.html"))
check(not rep["errors"], f"report.html opens without console errors {rep['errors'][:3]}")
check(rep["images"] and all(ok for _, ok in rep["images"]),
      f"report.html: all {len(rep['images'])} images load {[a for a, ok in rep['images'] if not ok]}")
check(any(h.startswith("By site") for h in rep["headings"]) and any(t and t[0] == "site" for t in rep["tables"]),
      "report.html has the per-site section and table")
check(any(h.startswith("How far off") for h in rep["headings"]) and ("reliability", True) in rep["images"],
      "report.html has the grade-error/calibration section with its reliability diagram")
gal = open_page(os.path.join(site_dir, "gallery.html"))
wrong = sum(r["truth"] != r["pred"] for r in bp)
shown = [a for a, _ in gal["images"] if not a.startswith("heat map")]
heats = [a for a, _ in gal["images"] if a.startswith("heat map")]
check(not gal["errors"] and gal["images"] and all(ok for _, ok in gal["images"]),
      f"gallery.html opens without errors and its {len(gal['images'])} images load")
check(len(heats) == len(shown) > 0, f"every gallery image has its heat map ({len(shown)} images, {len(heats)} maps)")
first = [h for h in gal["headings"] if h.startswith("All test images")]
check(first and sum(1 for h in gal["headings"] if h.startswith("site ")) == len(bm["by"]["site"]),
      "gallery.html: the most-wrong images overall, then a section per site")
check(min(wrong, 12) <= len(shown), f"the gallery shows the wrong calls there are (up to 12 overall; {wrong} wrong)")

# Refusals: exit 2, naming the key.
one = manifest.replace("labels.csv", "one.csv")  # every image of one "kind"
write_rows(one, [dict(r, kind="x") for r in kept])
for name, split, extra, needle in [
        ("nocol", "{method: leave_group_out}", "", "needs data.split.group_column"),
        ("badcol", "{method: leave_group_out, group_column: centre}", "",
         'data.split.group_column: ' + manifest + ' has no column "centre"'),
        ("onegroup", "{method: leave_group_out, group_column: kind}", "",
         "data.split.group_column: kind holds one value only"),
        ("badby", "{method: grouped, val_fraction: 0.2, test_fraction: 0.3}", "evaluate:\n  by: [centre]\n",
         'evaluate.by: ' + manifest + ' has no column "centre"')]:
    cfg = config(name, split, extra, one if name == "onegroup" else manifest)
    p = run("run", cfg, rc=2)
    check(needle in p.stderr, f"refused ({name}): {p.stderr.strip()[:160]}")
h.finish()
