#!/usr/bin/python3
"""Keras VGG-16 imports (Keras .h5 and TensorFlow.js) and oess's VGG-16 against TensorFlow.js.

keras_vgg16_parity.py OESS NODE_MODULES WORKDIR

Seeded random VGG-16 convolution weights (features only) are written twice, by this script alone:
- as Keras's HDF5 layouts (h5py): a save_weights / Keras Applications style file (root layer_names, each
  group's weight_names, datasets LAYER/LAYER/kernel:0) and a whole-model file (model_config + model_weights/);
- as a TensorFlow.js Layers model (model.json written here, topology included, one .bin shard) with
  block1's weights float16-quantised and block2_conv1's kernel uint8-quantised (the .h5 files hold exactly
  the dequantised values, computed here with numpy as TensorFlow.js defines them).
`oess weights import` of the three must give identical tensors. Then TensorFlow.js runs the tfjs model on
two 224x224 images (Keras caffe preprocessing: BGR minus the ImageNet means) and oess extract runs the
imported file (preprocessing keras_caffe taken from the file): pooled block1_pool .. block5_pool and
block5_conv3 must agree to <= 1e-5 of each tap's max |value|. Exit 0 when all holds, else 1 naming failures.
With --with-head (ctest label `long`: 528 MB of weights) the .h5 files also hold fc1, fc2 and predictions,
and the imported classifier must act on torchvision's (channel, height, width) flattening as Keras's kernel
acts on Keras's (height, width, channel) one: W1 @ F.flatten() == K1.T @ F.permute(1, 2, 0).flatten() for
random 512x7x7 maps F, and fc2 / predictions transposed.
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import torch
from PIL import Image

oess, node_modules, work = sys.argv[1:4]
with_head = "--with-head" in sys.argv
os.makedirs(work, exist_ok=True)
TOL = 1e-5
failures = []
rng = np.random.default_rng(11)


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")
    return r.stdout


if not os.path.exists(os.path.join(node_modules, "@tensorflow", "tfjs")):
    sys.exit(f"missing {node_modules}/@tensorflow/tfjs: tools/test.sh installs it from npm (tests/js)")

# ---- the network, Keras-style: layer list with inbound nodes (Keras 2 functional config)
blocks = [(1, [64, 64]), (2, [128, 128]), (3, [256] * 3), (4, [512] * 3), (5, [512] * 3)]
layers = [{"name": "input_1", "class_name": "InputLayer", "inbound_nodes": [],
           "config": {"batch_input_shape": [None, 224, 224, 3], "dtype": "float32", "name": "input_1"}}]
weights = {}  # layer -> [(weight name, float32 array)]
prev, cin = "input_1", 3
for b, convs in blocks:
    for c, cout in enumerate(convs, 1):
        name = f"block{b}_conv{c}"
        layers.append({"name": name, "class_name": "Conv2D", "inbound_nodes": [[[prev, 0, 0, {}]]],
                       "config": {"name": name, "trainable": True, "filters": cout, "kernel_size": [3, 3],
                                  "strides": [1, 1], "padding": "same", "data_format": "channels_last",
                                  "dilation_rate": [1, 1], "activation": "relu", "use_bias": True}})
        k = rng.normal(0, np.sqrt(2.0 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32)
        bias = rng.normal(0, 0.05, cout).astype(np.float32)
        weights[name] = [("kernel", k), ("bias", bias)]
        prev, cin = name, cout
    name = f"block{b}_pool"
    layers.append({"name": name, "class_name": "MaxPooling2D", "inbound_nodes": [[[prev, 0, 0, {}]]],
                   "config": {"name": name, "pool_size": [2, 2], "strides": [2, 2], "padding": "valid",
                              "data_format": "channels_last"}})
    prev = name
conv_topology = {"class_name": "Model", "config": {"name": "vgg16", "layers": list(layers),
                                                   "input_layers": [["input_1", 0, 0]], "output_layers": [[prev, 0, 0]]}}
if with_head:
    layers.append({"name": "flatten", "class_name": "Flatten", "inbound_nodes": [[[prev, 0, 0, {}]]], "config": {}})
    prev, fan_in = "flatten", 25088
    for name, units in (("fc1", 4096), ("fc2", 4096), ("predictions", 1000)):
        layers.append({"name": name, "class_name": "Dense", "inbound_nodes": [[[prev, 0, 0, {}]]],
                       "config": {"name": name, "units": units, "use_bias": True}})
        weights[name] = [("kernel", rng.normal(0, np.sqrt(2.0 / fan_in), (fan_in, units)).astype(np.float32)),
                         ("bias", rng.normal(0, 0.05, units).astype(np.float32))]
        prev, fan_in = name, units
topology = {"class_name": "Model", "config": {"name": "vgg16", "layers": layers, "input_layers": [["input_1", 0, 0]],
                                              "output_layers": [[prev, 0, 0]]}}

# ---- quantisation as TensorFlow.js decodes it (float16: IEEE half; uint8: float32(q * scale + min) in double)
quant = {}  # (layer, weight) -> (dtype, bytes, spec extra)
for layer, ws in weights.items():
    for i, (wn, v) in enumerate(ws):
        if layer.startswith("block1_"):
            h = v.astype(np.float16)
            ws[i] = (wn, h.astype(np.float32))
            quant[(layer, wn)] = (h.astype("<f2").tobytes(), {"dtype": "float16"})
        elif layer == "block2_conv1" and wn == "kernel":
            lo, hi = float(v.min()), float(v.max())
            scale = (hi - lo) / 255.0
            q = np.round((v.astype(np.float64) - lo) / scale).clip(0, 255).astype(np.uint8)
            ws[i] = (wn, (q.astype(np.float64) * scale + lo).astype(np.float32))
            quant[(layer, wn)] = (q.tobytes(), {"dtype": "uint8", "min": lo, "scale": scale})

# ---- TensorFlow.js model
tfjs_dir = os.path.join(work, "tfjs_vgg16")
os.makedirs(tfjs_dir, exist_ok=True)
specs, data = [], b""
for layer, ws in weights.items():
    if not layer.startswith("block"):
        continue  # the head (--with-head) goes to the .h5 files only
    for wn, v in ws:
        spec = {"name": f"{layer}/{wn}", "shape": list(v.shape), "dtype": "float32"}
        if (layer, wn) in quant:
            raw, q = quant[(layer, wn)]
            spec["quantization"] = q
        else:
            raw = v.astype("<f4").tobytes()
        specs.append(spec)
        data += raw
open(os.path.join(tfjs_dir, "group1-shard1of1.bin"), "wb").write(data)
json.dump({"format": "layers-model", "generatedBy": "keras_vgg16_parity.py", "convertedBy": None,
           "modelTopology": {"keras_version": "2.2.4", "backend": "tensorflow", "model_config": conv_topology},
           "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": specs}]},
          open(os.path.join(tfjs_dir, "model.json"), "w"))

# ---- Keras HDF5: weights only (Keras Applications layout) and a whole model
def write_h5(path, whole):
    with h5py.File(path, "w") as f:
        root = f
        if whole:
            f.attrs["model_config"] = json.dumps(topology).encode()
            f.attrs["keras_version"] = b"2.2.4"
            f.attrs["backend"] = b"tensorflow"
            root = f.create_group("model_weights")
        names = [l["name"] for l in layers]
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        root.attrs["backend"] = b"tensorflow"
        root.attrs["keras_version"] = b"2.2.4"
        for n in names:
            g = root.create_group(n)
            ws = weights.get(n, [])
            g.attrs["weight_names"] = np.array([f"{n}/{wn}:0".encode() for wn, _ in ws], dtype="S")
            for wn, v in ws:
                g.create_dataset(f"{n}/{wn}:0", data=v)


h5_weights = os.path.join(work, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5")
h5_model = os.path.join(work, "vgg16_model.h5")
write_h5(h5_weights, whole=False)
write_h5(h5_model, whole=True)

imports = {}
sources = (("tfjs", tfjs_dir, "tfjs"), ("h5 weights", h5_weights, "keras-h5"), ("h5 model", h5_model, "keras-h5"))
for label, src, fmt_ in sources[1:] if with_head else sources:
    out = os.path.join(work, label.replace(" ", "_") + ".pt")
    run([oess, "weights", "import", "--from", fmt_, "--arch", "vgg16", "--imagenet", "none", src, "--out", out])
    d = torch.load(out)
    meta = json.loads(bytes(d.pop("__oess_meta__").numpy()).decode())
    if meta["preprocessing"] != "keras_caffe" or meta["flavour"] != "keras":
        failures.append(f"{label}: metadata {meta['flavour']} / {meta['preprocessing']}")
    imports[label] = (out, d)
ref = imports["h5 weights" if with_head else "tfjs"][1]
for label, (_, d) in imports.items():
    if d.keys() != ref.keys() or any(not torch.equal(d[k], ref[k]) for k in d):
        failures.append(f"import from {label} differs from the first import")
if with_head:
    frng = np.random.default_rng(5)
    for trial in range(3):
        fmap = frng.normal(0, 1, (512, 7, 7)).astype(np.float64)
        keras = fmap.transpose(1, 2, 0).reshape(-1) @ weights["fc1"][0][1].astype(np.float64)
        ours = ref["classifier.0.weight"].double().numpy() @ fmap.reshape(-1)
        e = np.abs(keras - ours).max() / np.abs(keras).max()
        print(f"fc1 on a random 512x7x7 map: relative difference {e:.2e}")
        if not e < 1e-9:
            failures.append(f"fc1's input order: relative difference {e:.2e}")
    for name, key in (("fc2", "classifier.3"), ("predictions", "classifier.6")):
        if not torch.equal(ref[key + ".weight"], torch.from_numpy(weights[name][0][1]).t()) or \
                not torch.equal(ref[key + ".bias"], torch.from_numpy(weights[name][1][1])):
            failures.append(f"{name} -> {key}: tensors differ from what was written")
    imports["tfjs"] = imports["h5 weights"]
convs = [k for k in weights if k.startswith("block")]
for i, layer in enumerate(convs):
    idx = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28][i]
    k = torch.from_numpy(weights[layer][0][1]).permute(3, 2, 0, 1)
    if not torch.equal(ref[f"features.{idx}.weight"], k) or \
            not torch.equal(ref[f"features.{idx}.bias"], torch.from_numpy(weights[layer][1][1])):
        failures.append(f"{layer} -> features.{idx}: tensors differ from what was written")

# ---- TensorFlow.js vs oess on two images
images = []
for i in range(2):
    img = rng.integers(0, 256, (56, 56, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(img).resize((224, 224), Image.BILINEAR))
    p = os.path.join(work, f"vgg{i}.png")
    Image.fromarray(img).save(p)
    images.append(p)
mean = np.array([103.939, 116.779, 123.68], np.float32)
x = np.stack([np.asarray(Image.open(p).convert("RGB"), np.float32)[..., ::-1] - mean for p in images])
x.astype("<f4").tofile(os.path.join(work, "vgg_input.f32"))
taps = ["block1_pool", "block2_pool", "block3_pool", "block4_pool", "block5_conv3", "block5_pool"]
out_dir = os.path.join(work, "vgg_tfjs")
env = dict(os.environ, NODE_PATH=node_modules)
print(run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfjs_features.js"),
           os.path.join(tfjs_dir, "model.json"), os.path.join(work, "vgg_input.f32"), "2", "224", "224", out_dir]
          + taps, env=env).strip().splitlines()[-1])
manifest = os.path.join(work, "vgg_manifest.csv")
open(manifest, "w").write("path,score\n" + "".join(f"{p},0\n" for p in images))
feat = os.path.join(work, "vgg_features.pt")
run([oess, "extract", "--manifest", manifest, "--weights", imports["h5 weights"][0], "--arch", "vgg16",
     "--layers", ",".join(taps), "--pool", "avg", "--out", feat, "--no-cache"])
f = torch.load(feat)
for t in taps:
    shape = json.load(open(os.path.join(out_dir, t + ".json")))["shape"]
    ref_t = np.fromfile(os.path.join(out_dir, t + ".f32"), "<f4").reshape(shape)
    e = float(np.abs(f[t].numpy() - ref_t.mean(axis=(1, 2))).max() / np.abs(ref_t).max())
    print(f"pooled {t:12s} relative error {e:.2e}")
    if not e <= TOL:
        failures.append(f"pooled {t}: relative error {e:.2e} > {TOL}")
if failures:
    print("\n".join("FAIL: " + s for s in failures))
    sys.exit(1)
print("Keras VGG-16: .h5 (both layouts) and tfjs imports identical; TensorFlow.js parity within 1e-5")
