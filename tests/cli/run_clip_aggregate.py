"""A frame-level classifier of clips (data.clip.aggregate, issue #33), checked from outside.

usage: run_clip_aggregate.py OESS WORKDIR KERAS_WEIGHTS NODE_MODULES

`oess synth --clips 16` makes 120 pulsing clips of 20 patients (the clip's grade shows in about a quarter of its
frames). With the Keras ImageNet weights:
- K-fold (4 folds), 8 frames per clip, one classifier per tap trained on every frame with its clip's grade,
  clips graded by max_grade: one row per clip in predictions.csv, every clip once, each patient in one fold;
  more accurate than the middle frame alone (data.clip.frames 1; `oess compare`'s figures printed);
- a grouped split, the selected tap's classifier alone (ensemble.members 0): `oess score` on the export gives
  predictions.csv's probabilities; the clip's probabilities follow from --frames-csv's per-frame ones by the
  rule as written in docs/data.md, re-implemented here (max_grade: the frame of the highest argmax grade, ties
  the highest expected grade, then the earliest; mean_probability: the mean);
- ONNX Runtime on the exported model.onnx, fed `oess score --save-input` of one clip (its 8 frames): its
  probabilities are oess score's for the clip and frame_probabilities the frames CSV's; the metadata names the
  rule;
- mean_probability on the same split reads the cached frame features (nothing extracted again), and the
  rule above gives its probabilities too;
- data.clip.aggregate with finetune.enabled is refused (exit 2) naming both keys.
"""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, folds_per_patient, rows  # noqa: E402  (tests/harness.py)

oess, work, weights, node_modules = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3]), os.path.abspath(sys.argv[4])
here = os.path.dirname(os.path.abspath(__file__))
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "30,30,30,30", "--patients", "20", "--clips", "16", "--size", "192x144",
    "--seed", "5", "--threads", "2")
labels = rows(os.path.join(synth, "labels.csv"))
manifest = os.path.join(synth, "labels.csv")


def config(name, split, rule="max_grade", members=3, export="[oess]"):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
data:
  manifest: {manifest}
  split: {split}
  clip: {{frames: 8, aggregate: {rule}}}
backbone: {{weights: {weights}}}
features: {{layers: [mixed2, mixed4], cache: {work}/cache}}
classifier: {{max_epochs: 60}}
ensemble: {{members: {members}}}
report: {{bootstrap: 200, formats: [md]}}
output:
  dir: {work}/runs/{name}
  export: {export}
""")
    return path


kfold = "{method: kfold, folds: 4, val_fraction: 0.25}"
run("run", config("max_grade", kfold))
run("run", config("mid", kfold, rule="none"), "--set", "data.clip.frames=1")
pred = rows(os.path.join(work, "runs", "max_grade", "predictions.csv"))
check(len(pred) == 120 and {r["path"] for r in pred} == {r["path"] for r in labels},
      f"K-fold: every clip predicted once, one row per clip ({len(pred)} rows)")
check(all(len(f) == 1 for f in folds_per_patient(pred, labels).values()), "K-fold: every patient's clips are in one fold")
cmp_json = os.path.join(work, "compare.json")
run("compare", os.path.join(work, "runs", "mid", "predictions.csv"),
    os.path.join(work, "runs", "max_grade", "predictions.csv"), "--json", cmp_json)
c = json.load(open(cmp_json))["comparisons"][0]
# Trained on every frame with its clip's grade, the frames without flow of a high-grade clip teach the
# classifier noise: the frame-level classifier gains less than pooling by max does (cli.run_clips: 65% vs 38%,
# p 2e-8). Measured when written: 47.5% vs 38.3%, McNemar p 0.099 (docs/data.md says so). The check is the
# point estimate: max_grade must not lose to the middle frame.
check(c["accuracy"] > c["accuracy_reference"],
      f"max_grade over 8 frames does better than the middle frame: accuracy {100 * c['accuracy']:.1f}% vs "
      f"{100 * c['accuracy_reference']:.1f}%, difference CI {c['accuracy_difference_ci95']}, McNemar p "
      f"{c['mcnemar_exact_p']:.2g}")


def rule_of(frames, rule):
    """A clip's probabilities from its frames' [F, K] by the documented rule (docs/data.md, Clips)."""
    if rule == "mean_probability":
        return frames.mean(0)
    k = frames.shape[1]
    best = None
    for f in frames:  # the highest argmax grade, ties the highest expected grade, then the earliest
        key = (int(np.argmax(f)), float(f @ np.arange(k)))
        if best is None or key > best[0]:
            best = (key, f)
    return best[1]


grouped = "{method: grouped, val_fraction: 0.2, test_fraction: 0.25}"
for rule in ("max_grade", "mean_probability"):
    name = "single_" + rule
    p = run("run", config(name, grouped, rule=rule, members=0, export="[oess, onnx]"))
    rdir = os.path.join(work, "runs", name)
    if rule == "mean_probability":
        log = open(os.path.join(rdir, "log.txt")).read()
        check(", 0 computed" in log,
              "mean_probability reads the frame features max_grade cached (nothing extracted again)")
    gp = [dict(r, path=os.path.join(synth, r["path"])) for r in rows(os.path.join(rdir, "predictions.csv"))]
    out = os.path.join(work, name + ".json")
    run("score", "--model", os.path.join(rdir, "model"), *[r["path"] for r in gp], "--json", out)
    scored = {s["path"]: s for s in json.load(open(out))}
    gap = max(abs(float(r[f"p{k}"]) - scored[r["path"]]["p"][k]) for r in gp for k in range(4))
    check(len(scored) == len(gp) and gap <= 1e-4,
          f"{rule}: oess score on the export gives predictions.csv's probabilities for {len(gp)} test clips "
          f"(largest difference {gap:.1e})")
    worst = 0.0
    for r in gp[:6]:
        fcsv = os.path.join(work, "frames.csv")
        run("score", "--model", os.path.join(rdir, "model"), r["path"], "--frames-csv", fcsv)
        fr = np.array([[float(x[f"p{k}"]) for k in range(4)] for x in rows(fcsv)])
        worst = max(worst, float(np.abs(rule_of(fr, rule) - np.array(scored[r["path"]]["p"])).max()))
    check(worst <= 1e-5, f"{rule}: each clip's probabilities follow from its frames' by the rule (6 clips, largest "
                         f"difference {worst:.1e})")
    # ONNX Runtime: one clip's frames in, the clip's and each frame's probabilities out.
    clip = next(r["path"] for r in gp if r["truth"] == "3")
    npy, fcsv = os.path.join(work, "clip.npy"), os.path.join(work, "clip_frames.csv")
    run("score", "--model", os.path.join(rdir, "model"), clip, "--save-input", npy, "--frames-csv", fcsv)
    ort_out = os.path.join(work, "ort.json")
    o = subprocess.run(["node", os.path.join(here, "..", "oracles", "ort_run.js"),
                        os.path.join(rdir, "model", "model.onnx"), npy, ort_out],
                       env=dict(os.environ, NODE_PATH=node_modules), capture_output=True, text=True)
    if o.returncode != 0:
        check(False, f"{rule}: ONNX Runtime runs model.onnx: {o.stderr[-400:]}")
        continue
    outs = json.load(open(ort_out))["outputs"]
    ort_clip = np.array(outs["probabilities"]["data"]).reshape(-1, 4)
    ort_frames = np.array(outs["frame_probabilities"]["data"]).reshape(-1, 4)
    fr = np.array([[float(x[f"p{k}"]) for k in range(4)] for x in rows(fcsv)])
    clip_p = np.array(scored[clip]["p"])
    check(ort_clip.shape == (1, 4) and np.abs(ort_clip[0] - clip_p).max() <= 1e-4
          and ort_frames.shape == fr.shape and np.abs(ort_frames - fr).max() <= 1e-4,
          f"{rule}: ONNX Runtime on one clip's 8 frames gives oess score's clip and frame probabilities "
          f"(clip {np.abs(ort_clip[0] - clip_p).max():.1e})")
    if rule == "max_grade":  # the worked example of docs/scoring.md, as printed there
        doc = open(os.path.join(here, "..", "..", "docs", "scoring.md")).read()
        js = doc[doc.index("### A clip in ONNX Runtime"):].split("```js\n", 1)[1].split("```", 1)[0]
        example = os.path.join(work, "clip.js")
        open(example, "w").write(js)
        o = subprocess.run(["node", example, os.path.join(rdir, "model", "model.onnx"), npy],
                           env=dict(os.environ, NODE_PATH=node_modules), capture_output=True, text=True)
        ex = json.loads(o.stdout) if o.returncode == 0 else {}
        check(ex and ex["grade"] == int(np.argmax(clip_p)) and np.abs(np.array(ex["clip"]) - clip_p).max() <= 1e-4
              and np.abs(np.array(ex["key_frame_row"]) - clip_p).max() <= 1e-6,
              f"docs/scoring.md's worked example gives oess score's grade and probabilities, and one member's clip "
              f"row is its key frame's ({o.stdout.strip()[:200]} {o.stderr[-200:]})")
    blob = open(os.path.join(rdir, "model", "model.onnx"), "rb").read()
    check(f"combined by {rule}".encode() in blob and b"frame_probabilities" in blob, f"{rule}: model.onnx's metadata names the rule")

# Refused combinations.
p = run("run", config("ft", grouped), "--set", "finetune.enabled=true", rc=2)
check("data.clip.aggregate" in p.stderr and "finetune" in p.stderr, f"aggregate with fine-tuning refused: {p.stderr.strip()[-160:]}")
h.finish()
