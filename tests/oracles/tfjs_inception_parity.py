#!/usr/bin/python3
"""oess's Keras-flavour Inception-v3 against TensorFlow.js running the same Keras model (nsfwjs@4.4.0).

tfjs_inception_parity.py OESS MODEL_MIN_JS NODE_MODULES WORKDIR

1. Imports the nsfwjs UMD bundle with `oess weights import --from tfjs`, and the same model re-packed by
   Node as model.json + .bin shards (the other tfjs form): both files must hold identical tensors.
2. Four 299x299 images (seeded: smooth grey speckle with a coloured box, like a Doppler frame, and one of
   plain noise); TensorFlow.js (@tensorflow/tfjs, pure-JavaScript CPU backend) runs the bundle on them
   preprocessed as Keras does (x / 127.5 - 1) and returns mixed0..mixed10.
3. `oess extract` (flavour and preprocessing taken from the imported file) gives pooled mixed0..mixed10 and
   the full mixed0 and mixed5 maps. Each must match TensorFlow.js to <= 1e-5 of that tap's max |value|.
4. Negative controls, each of which must FAIL that check (so it is known to bite): two same-shape convs
   swapped (Mixed_5b/5c branch3x3dbl_3, with their batch norms), every square kernel's H and W swapped, BatchNorm
   eps 1e-5 instead of 1e-3 (running_var lowered by 1e-3 - 1e-5, which is exactly that), and torchvision's
   padding-counting branch pools with these Keras weights (metadata removed, --preprocessing keras_tf).
5. Asking for torchvision flavour or preprocessing with these weights is refused (exit 2) naming both.
Exit 0 when all of that holds, else 1 with every failure named. Prints each tap's relative error.
"""
import json
import os
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

oess, bundle, node_modules, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
TOL = 1e-5
failures = []
TAPS = [f"mixed{i}" for i in range(11)]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


for path in (bundle, os.path.join(node_modules, "@tensorflow", "tfjs")):
    if not os.path.exists(path):
        sys.exit(f"missing {path}: run tools/setup.sh (it fetches nsfwjs) and tools/test.sh (it installs "
                 f"tests/js's @tensorflow/tfjs) with network access to npm")

# 1. both tfjs forms import to the same tensors
imported = os.path.join(work, "inception_v3_keras.pt")
run([oess, "weights", "import", "--from", "tfjs", "--arch", "inception_v3", "--imagenet", "frozen",
     bundle, "--out", imported])
repack = os.path.join(work, "repacked")
os.makedirs(repack, exist_ok=True)
run(["node", "-e", """
const fs = require('fs'), path = require('path');
const [bundle, out] = process.argv.slice(1);
const m = require(path.resolve(bundle));
const groups = m.weightsManifest.map((g) => ({paths: g.paths.map((p) => p + '.bin'), weights: g.weights}));
for (const g of m.weightsManifest) for (const p of g.paths)
  fs.writeFileSync(path.join(out, p + '.bin'),
                   Buffer.from(require(path.resolve(path.dirname(bundle), p + '.min.js')), 'base64'));
fs.writeFileSync(path.join(out, 'model.json'),
                 JSON.stringify({format: 'layers-model', modelTopology: m.modelTopology, weightsManifest: groups}));
""", bundle, repack])
imported_json = os.path.join(work, "from_model_json.pt")
run([oess, "weights", "import", "--from", "tfjs", "--arch", "inception_v3", "--imagenet", "frozen", repack,
     "--out", imported_json])
a, b = torch.load(imported), torch.load(imported_json)
meta = json.loads(bytes(a.pop("__oess_meta__").numpy()).decode())
b.pop("__oess_meta__")
if a.keys() != b.keys() or any(not torch.equal(a[k], b[k]) for k in a):
    failures.append("the UMD bundle and model.json + .bin imports differ")
if meta["flavour"] != "keras" or meta["preprocessing"] != "keras_tf":
    failures.append(f"metadata says flavour {meta['flavour']}, preprocessing {meta['preprocessing']}")
if meta["imagenet"]["taps"] != TAPS[:6] or meta["imagenet"]["other_taps"] != TAPS[6:]:
    failures.append(f"ImageNet taps {meta['imagenet']}: expected mixed0..mixed5 ImageNet (frozen), the rest not")

# 2. images and TensorFlow.js
rng = np.random.default_rng(7)
images = []
for i in range(4):
    if i < 3:
        base = rng.normal(90, 40, (60, 60)).clip(0, 255)
        grey = np.array(Image.fromarray(base.astype(np.uint8)).resize((299, 299), Image.BILINEAR), np.float64)
        img = np.stack([grey] * 3, -1)
        y, x = rng.integers(30, 180, 2)
        box = img[y:y + 90, x:x + 90]
        box[..., 0] = np.where(rng.random(box.shape[:2]) < 0.4, 230, box[..., 0])
        box[..., 2] = np.where(rng.random(box.shape[:2]) < 0.2, 200, box[..., 2])
        img = img.clip(0, 255).astype(np.uint8)
    else:
        img = rng.integers(0, 256, (299, 299, 3), dtype=np.uint8)
    path = os.path.join(work, f"img{i}.png")
    Image.fromarray(img).save(path)
    images.append(path)
x = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32) / np.float32(127.5) - np.float32(1)
              for p in images])
x.astype("<f4").tofile(os.path.join(work, "input.f32"))
tfjs_dir = os.path.join(work, "tfjs")
env = dict(os.environ, NODE_PATH=node_modules)
print(run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfjs_features.js"), bundle,
           os.path.join(work, "input.f32"), "4", "299", "299", tfjs_dir] + TAPS, env=env).strip().splitlines()[-1])
tfjs = {}
for t in TAPS:
    shape = json.load(open(os.path.join(tfjs_dir, t + ".json")))["shape"]
    tfjs[t] = np.fromfile(os.path.join(tfjs_dir, t + ".f32"), "<f4").reshape(shape)  # N H W C

manifest = os.path.join(work, "manifest.csv")
with open(manifest, "w") as f:
    f.write("path,score\n" + "".join(f"{p},0\n" for p in images))


def extract(weights, pool, taps, extra=()):
    out = os.path.join(work, f"features_{pool}.pt")
    run([oess, "extract", "--manifest", manifest, "--weights", weights, "--arch", "inception_v3", "--layers",
         ",".join(taps), "--pool", pool, "--out", out, "--no-cache", "--threads", "2", *extra])
    return torch.load(out)


def errors(feats):
    """Each pooled tap's max |oess - tfjs| / max |tfjs|."""
    return {t: float(np.abs(feats[t].numpy() - tfjs[t].mean(axis=(1, 2))).max() / np.abs(tfjs[t]).max())
            for t in TAPS}


# 3. parity
pooled = extract(imported, "avg", TAPS)
err = errors(pooled)
for t in TAPS:
    print(f"pooled {t:8s} relative error {err[t]:.2e}")
    if not err[t] <= TOL:
        failures.append(f"pooled {t}: relative error {err[t]:.2e} > {TOL}")
full = extract(imported, "none", ["mixed0", "mixed5"])
for t in ("mixed0", "mixed5"):
    ours = full[t].numpy().transpose(0, 2, 3, 1)
    e = float(np.abs(ours - tfjs[t]).max() / np.abs(tfjs[t]).max()) if ours.shape == tfjs[t].shape else np.inf
    print(f"full   {t:8s} {list(ours.shape)} relative error {e:.2e}")
    if not e <= TOL:
        failures.append(f"full {t}: relative error {e:.2e} > {TOL}")

# 4. negative controls: each must fail the check
sd = torch.load(imported)
controls = {}
s = dict(sd)
for part in ("conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"):
    k1, k2 = f"Mixed_5b.branch3x3dbl_3.{part}", f"Mixed_5c.branch3x3dbl_3.{part}"
    s[k1], s[k2] = sd[k2], sd[k1]
controls["two same-shape convs swapped"] = s
# (1x7 / 7x1 kernels swapped would not even load: the strict load names each; square ones are the trap)
controls["kernel H and W swapped"] = {
    k: (v.transpose(2, 3).contiguous() if k.endswith("conv.weight") and v.shape[2] == v.shape[3] else v)
    for k, v in sd.items()}
controls["BatchNorm eps 1e-5"] = {k: (v - (1e-3 - 1e-5) if k.endswith("running_var") else v) for k, v in sd.items()}
controls["torchvision pooling"] = {k: v for k, v in sd.items() if k != "__oess_meta__"}
for name, state in controls.items():
    path = os.path.join(work, "control.pt")
    torch.save(state, path)
    extra = ["--preprocessing", "keras_tf"] if name == "torchvision pooling" else []
    e = errors(extract(path, "avg", TAPS, extra))
    worst = max(e.values())
    print(f"control: {name:30s} worst relative error {worst:.2e} (mixed0 {e['mixed0']:.2e}, mixed10 {e['mixed10']:.2e})")
    if not worst > TOL:
        failures.append(f"negative control '{name}' passed the parity check (worst {worst:.2e}): the check does not bite")

# 5. contradicting the file's semantics is an error naming both, never a silent choice
for flag, value, needle in (("--flavour", "torchvision", "keras-flavour"), ("--preprocessing", "torchvision", "keras_tf")):
    r = subprocess.run([oess, "extract", "--manifest", manifest, "--weights", imported, "--layers", "mixed0",
                        "--out", os.path.join(work, "never.pt"), "--no-cache", flag, value],
                       capture_output=True, text=True)
    print(f"{flag} {value} with Keras weights: exit {r.returncode}: {r.stderr.strip().splitlines()[-1:]}")
    if r.returncode != 2 or needle not in r.stderr or os.path.exists(os.path.join(work, "never.pt")):
        failures.append(f"{flag} {value} with Keras weights: exit {r.returncode}, expected 2 naming {needle}")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("tfjs parity: all taps within 1e-5 of max, every negative control caught")
