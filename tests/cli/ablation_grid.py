"""Issue #18: an ablation grid from one config. Three variants on one fixed split and fixed backbone weights
(torchvision-made, so the master seed changes only the classifiers' training): the reference, the same with
another seed (its difference is noise: the interval must cover 0, not flagged), and a crippled one (its
images cropped to a 12 x 12 corner of the frame, which holds no Doppler signal: flagged). A rerun skips every finished variant and gives
the same summary; bad grids exit 2 before anything runs.

usage: ablation_grid.py OESS WORKDIR WEIGHTS
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work, weights = sys.argv[1], sys.argv[2], sys.argv[3]
h = Harness(oess, work)
check, run = h.check, h.run
synth = h.synth_split("50,50,50,50", 20, 5, train=12, val=3)


def config(name, grid):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
data:
  manifest: {synth}/split.csv
  split: {{method: column}}
backbone: {{weights: {weights}}}
features: {{layers: [mixed0], cache: {work}/cache}}
classifier: {{max_epochs: 15}}
selection: {{allow_empty_grades: true}}
ensemble: {{members: 0}}
report: {{bootstrap: 1000, formats: [md]}}
output:
  dir: {work}/runs/{{name}}
""" + grid)
    return path


cfg = config("grid", """grid:
  reference: ref
  variants:
    - {name: ref, set: {seed: 0}}
    - {name: reseeded, set: {seed: 1}}
    - {name: crippled, set: {data.crop: "rect:0,0,12,12"}}
""")
p = run("run", cfg)
out = os.path.join(work, "runs", "grid")
for v in ("ref", "reseeded", "crippled"):
    check(os.path.isfile(os.path.join(out, "variants", v, "metrics.json")), f"variant {v} is a run folder")
check(not any(os.path.exists(os.path.join(out, "variants", v, "model")) for v in ("ref", "reseeded", "crippled"))
      and "no variant exports a model" in p.stdout, "no variant writes a model unless the grid asks (export: true)")
check(p.stdout.count("decoded and inspected earlier in this process") == 2,
      "the three variants read one manifest: its images are decoded and inspected once, not three times")
ab = {r["variant"]: r for r in rows(os.path.join(out, "ablation.csv"))}
check(set(ab) == {"ref", "reseeded", "crippled"} and ab["ref"]["reference"] == "1", "ablation.csv: one row each")
r = ab["reseeded"]
check(float(r["accuracy_diff_lo"]) <= 0 <= float(r["accuracy_diff_hi"]) and r["flagged"] == "0",
      f"another seed: difference {float(r['accuracy_diff']):+.3f} "
      f"[{float(r['accuracy_diff_lo']):+.3f}, {float(r['accuracy_diff_hi']):+.3f}] covers 0, not flagged")
r = ab["crippled"]
check(r["flagged"] == "1" and float(r["accuracy_diff_hi"]) < 0 and float(r["holm_p"]) < 0.05,
      f"crippled: difference {float(r['accuracy_diff']):+.3f} (Holm p {float(r['holm_p']):.2g}) flagged")
pred = {v: {x["path"]: x["truth"] for x in rows(os.path.join(out, "variants", v, "predictions.csv"))}
        for v in ("ref", "crippled")}
n_only_ref = int(r["right_by_reference_only"]) + int(r["right_by_variant_only"])
check(pred["ref"] == pred["crippled"] and int(r["n"]) == len(pred["ref"]) and n_only_ref > 0,
      "both variants scored the same test images")
md = open(os.path.join(out, "ablation.md")).read()
check("Holm" in md and "different" in md and os.path.isfile(os.path.join(out, "ablation.html")) and
      os.path.isfile(os.path.join(out, "plots", "ablation_forest.png")), "ablation.md (Holm stated), .html, forest plot")
lines = p.stdout[p.stdout.index("sorted by the accuracy difference"):].splitlines()
order = [ln.split()[0] for ln in lines[2:5]]
check(order[0] == "ref" and order[-1] == "crippled", f"the console table is sorted by effect: {order}")

# Resume: every variant finished, so a rerun skips them all and writes the same summary.
before = open(os.path.join(out, "ablation.csv")).read()
p = run("run", cfg)
check(p.stdout.count("skipped") == 3 and open(os.path.join(out, "ablation.csv")).read() == before,
      "a rerun skips the 3 finished variants and gives the same ablation.csv")

# export: true: each variant writes its model as a run does.
p = run("run", config("exported", "grid:\n  export: true\n  variants:\n    - {name: only, set: {seed: 0}}\n"))
check(os.path.isfile(os.path.join(work, "runs", "exported", "variants", "only", "model", "model.pt")) and
      "each variant exports its model" in p.stdout, "grid export: true: the variant writes model/model.pt")

# A cross product from the command line: names from the keys' last parts and values.
p = run("run", config("cli", ""), "--grid", "data.balance=oversample,none", "--grid", "classifier.max_epochs=3",
        "--stage", "..extract")
check(os.path.isdir(os.path.join(work, "runs", "cli", "variants", "balance-none__max_epochs-3")),
      "--grid data.balance=oversample,none makes variants balance-oversample__max_epochs-3, balance-none__...")

# Bad grids: exit 2 naming the problem, before anything runs.
for name, grid, extra, expect in [
    ("unknown", "", ["--grid", "classifier.lrr=0.1,0.2"], "classifier.lrr: unknown key"),
    ("refused", "", ["--grid", "data.balance=oversample,sometimes"], "grid variant balance-sometimes"),
    ("empty", "grid:\n", [], "grid: empty"),
    ("badexport", "grid:\n  data.balance: [oversample, none]\n  export: maybe\n", [],
     "grid: export: expected true or false, not \"maybe\""),
    ("noref", "grid:\n  data.balance: [oversample, none]\n  reference: balance-nope\n", [],
     "reference \"balance-nope\" is not a variant"),
]:
    p = run("run", config(name, grid), *extra, rc=2)
    check(expect in p.stderr and not os.path.exists(os.path.join(work, "runs", name)),
          f"bad grid ({name}): exit 2, '{expect}', no run folder")
h.finish()
