"""Runs with several readers (issue #34), checked from outside.

usage: run_readers.py OESS WORKDIR KERAS_WEIGHTS

`oess synth --reader` makes 320 images of 30 patients graded by four readers of known noise: three careful ones
(one a little strict, one a little lenient) and a careless one. With a fixed split by patient (the same for
every run):
- a run trained on the readers' consensus (data.label: consensus, majority) against one trained on the careless
  reader alone (data.label: noisy): on the same test images, scored against the consensus, `oess compare`
  (paired bootstrap by patient, McNemar exact) finds the consensus-trained model better: the accuracy gain's
  interval above 0 and McNemar p below 0.05;
- its metrics.json has "readers": the four readers' statistics and the model as a reader, whose per-reader
  kappas equal scikit-learn's on predictions.csv; the report has a "Readers" section with the sentence; the
  good model's verdict is not "below", a deliberately bad run's (trained on a fifth "reader" who grades at
  random) is "below";
- data.label: soft (trained on the readers' grade distribution) tests on the consensus, and its model is not
  below the readers; data.reader_files (a reader as a path,reader,grade file instead of a column) gives the
  same labels and predictions as the column;
- data.label naming no reader, and a reader column absent from the manifest, stop the run with the name.
"""
import json
import os
import sys

import numpy as np
from sklearn.metrics import cohen_kappa_score

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, rows, write_rows  # noqa: E402

oess, work, weights = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "80,80,80,80", "--patients", "30", "--seed", "12", "--size", "192x144",
    "--threads", "2", "--reader", "anna:0.2:0.35", "--reader", "ben:-0.2:0.35", "--reader", "carl:0:0.35",
    "--reader", "noisy:0:1.3")
lab = rows(os.path.join(synth, "labels.csv"))
ids = sorted({r["patient"] for r in lab})
part = {p: "train" if i < 16 else "val" if i < 20 else "test" for i, p in enumerate(ids)}
manifest = os.path.join(work, "readers.csv")
junk = np.random.default_rng(5).integers(0, 4, len(lab))  # a "reader" who grades at random
write_rows(manifest, [dict(r, path=os.path.join(synth, r["path"]), split=part[r["patient"]], junk=int(j))
                      for r, j in zip(lab, junk)])


def config(name, label, extra="", readers="anna, ben, carl, noisy"):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
data:
  manifest: {manifest}
  split: {{method: column}}
  readers: [{readers}]
  label: {label}
backbone: {{weights: {weights}}}
features: {{layers: [mixed2, mixed4], cache: {work}/cache}}
classifier: {{max_epochs: 80{extra}}}
ensemble: {{members: 3}}
report: {{bootstrap: 300, formats: [md]}}
output:
  dir: {work}/runs/{name}
""")
    return path


run("run", config("consensus", "consensus"))
run("run", config("noisy", "noisy"))
cdir, ndir = os.path.join(work, "runs", "consensus"), os.path.join(work, "runs", "noisy")
cp = rows(os.path.join(cdir, "predictions.csv"))
npred = rows(os.path.join(ndir, "predictions.csv"))
truth = {r["path"]: r["truth"] for r in cp}  # the consensus
check({r["path"] for r in npred} == set(truth), "both runs tested the same images")
rescored = os.path.join(work, "noisy_vs_consensus.csv")
write_rows(rescored, [dict(r, truth=truth[r["path"]]) for r in npred])
cmp_json = os.path.join(work, "compare.json")
run("compare", rescored, os.path.join(cdir, "predictions.csv"), "--json", cmp_json)
c = json.load(open(cmp_json))["comparisons"][0]
check(c["accuracy_difference_ci95"][0] > 0 and c["mcnemar_exact_p"] < 0.05,
      f"trained on the consensus, the model agrees with the consensus better than trained on the careless reader: "
      f"quadratic kappa {c['kappa_quadratic']:.3f} vs {c['kappa_quadratic_reference']:.3f}, difference CI "
      f"{c['kappa_quadratic_difference_ci95']}; accuracy {100 * c['accuracy']:.1f}% vs "
      f"{100 * c['accuracy_reference']:.1f}%, difference CI {c['accuracy_difference_ci95']} (McNemar p "
      f"{c['mcnemar_exact_p']:.2g})")

m = json.load(open(os.path.join(cdir, "metrics.json")))
r = m.get("readers", {})
check(r.get("readers") == ["anna", "ben", "carl", "noisy"] and r.get("label") == "consensus (majority)"
      and "fleiss_kappa" in r and "krippendorff_alpha_ordinal" in r and len(r.get("pairs", [])) == 6,
      f"metrics.json holds the readers' statistics ({sorted(r)})")
by_path = {x["path"]: x for x in lab}
mr = r["model_as_reader"]
worst = 0.0
for k, name in enumerate(["anna", "ben", "carl", "noisy"]):
    pairs = [(int(by_path[os.path.relpath(p["path"], synth)][name]), int(p["pred"])) for p in cp
             if by_path[os.path.relpath(p["path"], synth)][name] != ""]
    ref = cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs], weights="quadratic", labels=[0, 1, 2, 3])
    worst = max(worst, abs(mr["per_reader"][k]["kappa_model_reader"] - ref))
check(worst < 1e-9, f"the model's kappa with each reader = scikit-learn's on predictions.csv ({worst:.1e})")
report = open(os.path.join(cdir, "report.md")).read()
check("## Readers" in report and mr["sentence"] in report, "the report's Readers section says the sentence")
check(mr["verdict"] != "below", f"a good model is not below the readers: {mr['sentence']}")
run("run", config("bad", "junk", readers="anna, ben, carl, noisy, junk"))
bad = json.load(open(os.path.join(work, "runs", "bad", "metrics.json")))["readers"]["model_as_reader"]
check(bad["verdict"] == "below", f"a model trained on a reader who grades at random is below them: {bad['sentence']}")

# data.label: soft trains on the readers' grade distribution and tests on the consensus.
run("run", config("soft", "soft"))
sm = json.load(open(os.path.join(work, "runs", "soft", "metrics.json")))["readers"]
sp = rows(os.path.join(work, "runs", "soft", "predictions.csv"))
check(sm["label"].startswith("soft") and [r["truth"] for r in sp] == [r["truth"] for r in cp]
      and sm["model_as_reader"]["verdict"] != "below",
      f"soft labels: tested on the consensus, the model not below the readers ({sm['model_as_reader']['verdict']}, "
      f"quadratic kappa with the consensus {sm['model_as_reader']['kappa_model_consensus']:.3f})")
# data.reader_files: anna's grades as a path,reader,grade file instead of a column give the same run.
anna_csv = os.path.join(work, "anna.csv")
write_rows(anna_csv, [{"path": os.path.join(synth, r["path"]), "reader": "anna", "grade": r["anna"]} for r in lab])
manifest2 = os.path.join(work, "readers_no_anna.csv")
write_rows(manifest2, [{k: v for k, v in x.items() if k != "anna"} for x in rows(manifest)])
cfg = config("files", "consensus", readers="ben, carl, noisy").replace(".yaml", "")
with open(cfg + ".yaml") as f:
    text = f.read().replace(manifest, manifest2).replace("  label: consensus", f"  label: consensus\n  reader_files: [{anna_csv}]")
with open(cfg + ".yaml", "w") as f:
    f.write(text)
run("run", cfg + ".yaml")
fp = rows(os.path.join(work, "runs", "files", "predictions.csv"))
check([(r["path"], r["truth"], r["pred"]) for r in fp] == [(r["path"], r["truth"], r["pred"]) for r in cp],
      "data.reader_files: a reader's file instead of a column gives the same labels and predictions")

p = run("run", config("nolabel", "dora"), rc=2)
check("data.label" in p.stderr and "dora" in p.stderr, f"a label naming no reader: {p.stderr.strip()[-160:]}")
cfg = config("nocol", "consensus").replace(".yaml", "")
with open(cfg + ".yaml") as f:
    text = f.read().replace("readers: [anna, ben, carl, noisy]", "readers: [anna, ben, eve]")
with open(cfg + ".yaml", "w") as f:
    f.write(text)
p = run("run", cfg + ".yaml", rc=1)
check("no reader column \"eve\"" in p.stderr, f"a reader column not in the manifest: {p.stderr.strip()[-160:]}")
h.finish()
