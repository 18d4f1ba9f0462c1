#!/usr/bin/python3
"""`oess weights import` on bad inputs: exit 1, the file and the layer/tensor named, nothing written.

keras_import_errors.py OESS MODEL_MIN_JS WORKDIR

Cases are made here from the nsfwjs bundle (re-packed by Node as model.json + one .bin shard) and from a small
Keras .h5 (h5py): not a Keras model (JSON without a manifest; a text file as .h5), a missing layer (a
conv kernel cut from the manifest and its bytes), a wrong shape, an unknown quantisation dtype, a truncated
shard, a manifest naming a missing shard, an .h5 of VGG-16 layers imported as Inception-v3, a topology whose
mixed0 concatenates its branches in another order, a batch norm with another epsilon, and an .h5 whose
dataset declares far more values than the file holds (refused before any allocation).
"""
import copy
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np

oess, bundle, work = sys.argv[1:4]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
failures = []

base = os.path.join(work, "base")
os.makedirs(base)
r = subprocess.run(["node", "-e", """
const fs = require('fs'), path = require('path');
const [bundle, out] = process.argv.slice(1);
const m = require(path.resolve(bundle));
const bufs = [];
for (const g of m.weightsManifest) for (const p of g.paths)
  bufs.push(Buffer.from(require(path.resolve(path.dirname(bundle), p + '.min.js')), 'base64'));
fs.writeFileSync(path.join(out, 'weights.bin'), Buffer.concat(bufs));
const weights = [].concat(...m.weightsManifest.map((g) => g.weights));
fs.writeFileSync(path.join(out, 'model.json'), JSON.stringify(
    {modelTopology: m.modelTopology, weightsManifest: [{paths: ['weights.bin'], weights}]}));
""", bundle, base], capture_output=True, text=True)
if r.returncode:
    sys.exit(f"re-packing {bundle} failed: {r.stderr}")
model = json.load(open(os.path.join(base, "model.json")))
data = open(os.path.join(base, "weights.bin"), "rb").read()
specs = model["weightsManifest"][0]["weights"]


def nbytes(spec):
    n = int(np.prod(spec["shape"])) if spec["shape"] else 1
    return n * {"uint8": 1, "uint16": 2, "float16": 2}.get(spec.get("quantization", {}).get("dtype"), 4)


def variant(name, m=None, blob=None, drop_shard=False):
    d = os.path.join(work, name)
    os.makedirs(d)
    json.dump(m if m is not None else model, open(os.path.join(d, "model.json"), "w"))
    if not drop_shard:
        open(os.path.join(d, "weights.bin"), "wb").write(data if blob is None else blob)
    return d


def expect(label, fmt, arch, src, *needles):
    out = os.path.join(work, label.replace(" ", "_") + ".pt")
    r = subprocess.run([oess, "weights", "import", "--from", fmt, "--arch", arch, src, "--out", out],
                       capture_output=True, text=True)
    msg = r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ""
    print(f"{label}: exit {r.returncode}: {msg}")
    if r.returncode != 1:
        failures.append(f"{label}: exit {r.returncode}, expected 1")
    for n in needles:
        if n not in r.stderr:
            failures.append(f"{label}: the message does not name {n!r}: {r.stderr.strip()}")
    if os.path.exists(out) or any(f.startswith(os.path.basename(out)) for f in os.listdir(work)):
        failures.append(f"{label}: something was written")


# sanity: the untouched re-pack imports
ok = os.path.join(work, "ok.pt")
r = subprocess.run([oess, "weights", "import", "--from", "tfjs", "--arch", "inception_v3", base, "--out", ok],
                   capture_output=True, text=True)
if r.returncode != 0:
    failures.append(f"the unmodified re-pack does not import: {r.stderr}")
os.remove(ok) if os.path.exists(ok) else None

expect("not a Keras model", "tfjs", "inception_v3", variant("notkeras", {"hello": 1}), "model.json",
       "not a TensorFlow.js Layers model")
txt = os.path.join(work, "notes.h5")
open(txt, "w").write("these are not weights\n")
expect("text file as h5", "keras-h5", "inception_v3", txt, "notes.h5", "not an HDF5 file")

# a missing layer: conv2d_50's kernel cut out of the manifest and its bytes out of the shard
m = copy.deepcopy(model)
ws = m["weightsManifest"][0]["weights"]
i = next(k for k, s in enumerate(ws) if s["name"] == "conv2d_50/kernel")
off = sum(nbytes(s) for s in ws[:i])
blob = data[:off] + data[off + nbytes(ws[i]):]
del ws[i]
expect("missing layer", "tfjs", "inception_v3", variant("missing", m, blob), "model.json", "conv2d_50",
       "weights missing")

m = copy.deepcopy(model)
s = next(s for s in m["weightsManifest"][0]["weights"] if s["name"] == "conv2d_5/kernel")
s["shape"] = [3, 3, 192, 80]  # same bytes, transposed channels
expect("wrong shape", "tfjs", "inception_v3", variant("shape", m), "conv2d_5", "[3, 3, 192, 80]")

m = copy.deepcopy(model)
m["weightsManifest"][0]["weights"][3]["quantization"]["dtype"] = "int4"
expect("unknown quantisation dtype", "tfjs", "inception_v3", variant("quant", m),
       m["weightsManifest"][0]["weights"][3]["name"], "int4")

expect("truncated shard", "tfjs", "inception_v3", variant("truncated", blob=data[: len(data) // 2]),
       "weights.bin", "truncated")
expect("manifest names a missing shard", "tfjs", "inception_v3", variant("noshard", drop_shard=True),
       "weights.bin", "model.json")

m = copy.deepcopy(model)
mixed0 = next(l for l in m["modelTopology"]["model_config"]["config"]["layers"] if l["name"] == "mixed0")
nodes = mixed0["inbound_nodes"][0]
nodes[1], nodes[2] = nodes[2], nodes[1]
expect("concatenation order", "tfjs", "inception_v3", variant("concat", m), "mixed0", "concatenates")

m = copy.deepcopy(model)
bn = next(l for l in m["modelTopology"]["model_config"]["config"]["layers"] if l["name"] == "batch_normalization_7")
bn["config"]["epsilon"] = 1e-5
expect("batch norm epsilon", "tfjs", "inception_v3", variant("eps", m), "batch_normalization_7", "epsilon")

vgg = os.path.join(work, "vgg16_notop.h5")
with h5py.File(vgg, "w") as f:
    names = ["block1_conv1", "block1_conv2"]
    f.attrs["layer_names"] = np.array([n.encode() for n in names])
    cin = 3
    for n in names:
        g = f.create_group(n)
        g.attrs["weight_names"] = np.array([f"{n}/kernel:0".encode(), f"{n}/bias:0".encode()])
        g.create_dataset(f"{n}/kernel:0", data=np.zeros((3, 3, cin, 64), np.float32))
        g.create_dataset(f"{n}/bias:0", data=np.zeros(64, np.float32))
        cin = 64
expect("h5 of another architecture", "keras-h5", "inception_v3", vgg, "vgg16_notop.h5", "VGG-16")

huge = os.path.join(work, "huge.h5")  # 3.6 KB on disk, 1.9e12 values declared (chunked, never written)
with h5py.File(huge, "w") as f:
    f.attrs["layer_names"] = np.array([b"block1_conv1"])
    g = f.create_group("block1_conv1")
    g.attrs["weight_names"] = np.array([b"block1_conv1/kernel:0"])
    g.create_dataset("block1_conv1/kernel:0", shape=(100000, 100000, 3, 64), dtype="f4", chunks=(10, 10, 3, 64))
expect("h5 declaring a huge weight", "keras-h5", "vgg16", huge, "huge.h5", "block1_conv1/kernel:0",
       "more values than the file can hold")

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("every bad input refused with exit 1, named, nothing written")
