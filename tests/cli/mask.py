"""data.mask (issue #32), from outside: what lies beside the scan must not reach the network.

usage: mask.py OESS WORKDIR
Synthetic images draw their scan in a field with black margins (caption, depth ticks, colour bar beside it).
Each of four images gets a copy with other text written into the black margin above the field. Then
- `oess extract` without a mask gives the copies other features than the originals (so the change matters),
  and with `--mask outside_sector` the very same features;
- a run with data.mask [outside_sector] exports a model that gives each copy the original's scores
  (`oess score`), and the ONNX export's input (`--save-input`) of each copy is the original's;
- the run's report.scale and report.binary_names reach `oess score`'s console and JSON;
- `oess data mask` writes the side-by-side picture and says how much it changed;
- a bad entry is refused before any work, naming it.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np
import torch
from PIL import Image, ImageDraw

from harness import Harness, rows, write_rows  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")

data = (f"  synthetic: {{dir: {synth}, counts: [10, 10, 10, 10], patients: 10}}\n"
        "  split: {method: grouped, val_fraction: 0.25, test_fraction: 0.25}\n  check: false\n"
        "  mask: [outside_sector]\n")
run("run", h.small_config("masked", data, members=2, bootstrap=50, export="[oess]"), "--set", "report.scale=BI-RADS",
    "--set", "report.binary_names=[benign, suspicious]")
model = os.path.join(work, "runs", "masked", "model")
check(os.path.isfile(os.path.join(model, "model.json")), f"the run exported {model}")

originals = [os.path.join(synth, r["path"]) if not os.path.isabs(r["path"]) else r["path"]
             for r in rows(os.path.join(synth, "labels.csv"))[:4]]
copies = []
for i, p in enumerate(originals):
    im = Image.open(p).convert("RGB")
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, im.width - 1, 13], fill=(0, 0, 0))  # the margin above the field (it starts at y 16)
    d.text((2, 1), f"ALTERED {i} 12MHz GAIN 60", fill=(255, 255, 255))
    q = os.path.join(work, f"copy{i}.png")
    im.save(q)
    copies.append(q)
    check(np.abs(np.asarray(im, dtype=int) - np.asarray(Image.open(p).convert("RGB"), dtype=int)).max() > 100,
          f"copy {i} differs from its original")

# Features: without a mask the margin reaches them; with outside_sector it does not.
manifest = os.path.join(work, "pairs.csv")
write_rows(manifest, [{"path": p, "score": 0, "patient": f"p{i}"} for i, p in enumerate(originals + copies)])
for mask, same in (([], False), (["--mask", "outside_sector"], True)):
    out = os.path.join(work, f"features{len(mask)}.pt")
    run("extract", "--weights", "none", "--manifest", manifest, "--layers", "mixed0", "--out", out, "--cache",
        os.path.join(work, f"cache{len(mask)}"), *mask)
    f = [v for k, v in torch.load(out).items() if k not in ("paths", "__meta__")][0]
    gap = (f[:4] - f[4:]).abs().max().item()
    if same:
        check(gap == 0.0, f"with --mask outside_sector each copy's features are its original's (max gap {gap})")
    else:
        check(gap > 1e-4, f"without a mask the copies' features differ (max gap {gap:.3g})")

# The exported model applies the run's mask: the copies score as the originals, and their input is the same.
scores, consoles = {}, {}
for name, paths in (("orig", originals), ("copy", copies)):
    consoles[name] = run("score", "--model", model, *paths, "--json", os.path.join(work, f"{name}.json"),
        "--save-input", os.path.join(work, f"{name}.npy"))
    scores[name] = json.load(open(os.path.join(work, f"{name}.json")))
po, pc = ([s["p"] for s in scores[k]] for k in ("orig", "copy"))
check(po == pc, f"the copies score as their originals: {po} vs {pc}")
# The run's names for its scale and binary split travel with the model to the console and the JSON.
check(all(s["scale"] == "BI-RADS" for s in scores["orig"]), "score JSON: the scale's name is report.scale's")
check(all(s["binary_name"] == {"healthy": "benign", "diseased": "suspicious"}[s["healthy_diseased"]]
          for s in scores["orig"]), "score JSON: binary_name is report.binary_names' name of the call")
check("BI-RADS" in consoles["orig"].stdout and "benign/suspicious" in consoles["orig"].stdout,
      "the console table heads with the scale's and the binary split's names")
xo, xc = np.load(os.path.join(work, "orig.npy")), np.load(os.path.join(work, "copy.npy"))
check(xo.shape == xc.shape and np.array_equal(xo, xc), "the ONNX input of each copy is its original's")

# oess data mask: the picture beside itself, masked.
out = run("data", "mask", "--mask", "outside_sector", "--out", os.path.join(work, "preview"), copies[0])
pair = Image.open(os.path.join(work, "preview", "copy0_mask.png"))
w = Image.open(copies[0]).width
check(pair.width == 2 * w, "the preview is the picture and its masked self side by side")
masked = np.asarray(pair)[:, w:]
check(masked[:14].max() == 0, "the preview's masked half is black above the field")
check("% of the pixels changed" in out.stdout, "oess data mask says how much it changed")

# Bad entries: refused before any work, naming the entry.
err = run("extract", "--weights", "none", "--manifest", manifest, "--layers", "mixed0", "--out", os.path.join(work, "x.pt"),
          "--mask", "rect:1,2,3", rc=2)
check("rect:1,2,3" in err.stderr, "a bad --mask entry is named")
bad = h.small_config("bad", data.replace("[outside_sector]", "[outside_sector, text]"))
err = run("run", bad, rc=2)
check("data.mask" in err.stderr and "text" in err.stderr, "a bad data.mask entry names the key and the entry")
h.finish()
