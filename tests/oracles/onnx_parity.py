"""Issue #19: models exported to ONNX give, in ONNX Runtime (onnxruntime-node from npm: a runtime no one here
wrote), the probabilities and grades `oess score` gives.

usage: onnx_parity.py OESS WORKDIR FIXTURE_DIR KERAS_WEIGHTS NODE_MODULES

Three models, each trained by `oess run` on a small synthetic set with a fixed split:
  tv4     4-class Inception-v3, torchvision flavour (torchvision-made seeded weights, transform_input on),
          two poolings, 6 members on mixed3@avg and mixed10@max; model.onnx written by the run itself
          (output.export: [oess, onnx])
  keras4  4-class Inception-v3, Keras flavour (the real Keras weights of tools/get_weights.sh, keras_tf),
          2 members on mixed10; `oess export --run --format onnx`
  vgg2    binary VGG-16 (features-only weights, keras_caffe: BGR order), one classifier on block5_conv3
For each: `oess score --csv --save-input` on 12 images (8 of the set, 4 made here of other sizes, one grey),
ONNX Runtime on the saved input: probabilities within 1e-4 of the CSV's, identical grades, members' mean =
probabilities, p_diseased. Python's onnx (another checker): full check and strict shape inference, the
metadata keys, no BatchNormalization left, AveragePool count_include_pad 0 (Keras) / 1 (torchvision).
Negative control: the Keras model with count_include_pad flipped to 1 must fail the 1e-4 check.
docs/scoring.md's Node example runs as printed there (model and input paths replaced) and prints the same grades.
Bad input: a run folder without a model, an unknown format, an unwritable output -> exit 1/2, nothing left.
"""
import json
import os
import subprocess
import sys

import numpy as np
import onnx
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work, fixtures, keras_weights, node_modules = sys.argv[1:6]
h = Harness(oess, work)
check, run = h.check, h.run
TOL = 1e-4
here = os.path.dirname(os.path.abspath(__file__))

synth = h.synth_split("12,12,12,12", 12, 11, train=8, val=2)

# 8 images of the set (test part first) and 4 others: sizes the resize must handle, a grey PNG, a JPEG.
listed = sorted(rows(os.path.join(synth, "split.csv")), key=lambda r: (r["split"] != "test", r["path"]))
images = [os.path.join(synth, r["path"]) for r in listed[:8]]
rng = np.random.default_rng(5)
for i, (wd, ht, mode) in enumerate([(411, 287, "RGB"), (200, 333, "RGB"), (640, 480, "L"), (300, 300, "RGB")]):
    a = (rng.random((ht, wd, 3)) * 90).astype(np.uint8)
    a[ht // 4: ht // 2, wd // 3: wd // 2] = [220, 40, 30]  # a red "Doppler" patch
    img = Image.fromarray(a).convert(mode)
    path = os.path.join(work, f"other{i}.{'jpg' if i == 3 else 'png'}")
    img.save(path, quality=90) if i == 3 else img.save(path)
    images.append(path)


def config(name, body, export="[oess]"):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
data:
  manifest: {synth}/split.csv
  split:
    method: column
selection:
  allow_empty_grades: true
report:
  bootstrap: 0
  formats: [md]
output:
  dir: {work}/runs/{name}
  export: {export}
""" + body)
    return path


models = {
    "tv4": f"""backbone:
  weights: {fixtures}/inception_v3.plain.pt
  transform_input: true
features:
  layers: [mixed3, mixed10]
  pooling: [avg, max]
  cache: {work}/cache
classifier:
  max_epochs: 12
ensemble:
  members: 3
  taps: [mixed3@avg, mixed10@max]
""",
    "keras4": f"""backbone:
  weights: {keras_weights}
features:
  layers: [mixed10]
  cache: {work}/cache
classifier:
  max_epochs: 12
ensemble:
  members: 2
""",
    "vgg2": f"""backbone:
  arch: vgg16
  weights: {fixtures}/vgg16.plain.pt
  preprocessing: keras_caffe
features:
  layers: [block5_conv3]
  cache: {work}/cache
classifier:
  task: binary
  max_epochs: 12
ensemble:
  members: 0
""",
}


def ort(model, npy, out):
    env = dict(os.environ, NODE_PATH=node_modules)
    p = subprocess.run(["node", os.path.join(here, "ort_run.js"), model, npy, out], capture_output=True, text=True,
                       env=env)
    if p.returncode != 0:
        sys.exit(f"FAIL: ONNX Runtime on {model}: {p.stdout}{p.stderr}")
    res = json.load(open(out))["outputs"]
    return {k: np.array(v["data"], dtype=np.float64).reshape(v["dims"]) for k, v in res.items()}


def oess_scores(csv_path, binary):
    got = rows(csv_path)
    if binary:
        p = np.array([[1 - float(r["p1"]), float(r["p1"])] for r in got])
    else:
        p = np.array([[float(r[f"p{k}"]) for k in range(4)] for r in got])
    return got, p, np.array([int(r["pred"]) for r in got]), np.array([float(r["p_diseased"]) for r in got])


for name, body in models.items():
    cfg = config(name, body, "[oess, onnx]" if name == "tv4" else "[oess]")
    run("run", cfg)
    rdir = os.path.join(work, "runs", name)
    onnx_file = os.path.join(rdir, "model", "model.onnx")
    if name == "tv4":
        check(os.path.isfile(onnx_file), "tv4: output.export [oess, onnx] wrote model/model.onnx")
    else:
        p = run("export", "--run", rdir, "--format", "onnx", "--out", onnx_file)
        check("onnxruntime" in p.stdout and "InferenceSession" in p.stdout and "probabilities" in p.stdout,
              f"{name}: `oess export --format onnx` prints how to call it from Python and Node")
    csv_out, npy = os.path.join(work, f"{name}.csv"), os.path.join(work, f"{name}.npy")
    run("score", "--model", os.path.join(rdir, "model", "model.pt"), *images, "--csv", csv_out, "--save-input", npy)
    binary = name == "vgg2"
    got, p_oess, pred_oess, pd_oess = oess_scores(csv_out, binary)
    check([r["path"] for r in got] == images, f"{name}: oess scored the {len(images)} images in order")
    x = np.load(npy)
    side = 224 if name == "vgg2" else 299
    check(x.shape == (len(images), 3, side, side) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1,
          f"{name}: --save-input wrote [N, 3, {side}, {side}] float32 in [0, 1]")
    out = ort(onnx_file, npy, os.path.join(work, f"{name}.ort.json"))
    probs = out["probabilities"]
    n_members = len(json.load(open(os.path.join(rdir, "model", "model.json")))["members"])
    diff = np.abs(probs - p_oess).max()
    check(probs.shape == p_oess.shape and diff <= TOL,
          f"{name}: ONNX Runtime probabilities = oess score's (max |diff| {diff:.2e} <= {TOL})")
    check((probs.argmax(1) == pred_oess).all(), f"{name}: identical grades {pred_oess.tolist()}")
    check(out["members"].shape == (len(images), n_members, probs.shape[1]) and
          np.abs(out["members"].mean(1) - probs).max() < 1e-6, f"{name}: members [N, {n_members}, C], mean = ensemble")
    check(np.abs(out["p_diseased"] - pd_oess).max() <= TOL, f"{name}: p_diseased = oess score's")

    m = onnx.load(onnx_file)
    try:
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
        ok = True
    except Exception as e:  # noqa: BLE001 (any refusal is the failure)
        print(e)
        ok = False
    check(ok, f"{name}: Python's onnx checker (full check) and strict shape inference accept it")
    meta = {p.key: p.value for p in m.metadata_props}
    want = ["oess_version", "task", "classes", "grades", "input", "resize", "flavour", "weights", "weights_note",
            "member_taps", "metrics", "config_sha256"]
    taps = [mm["tap"] for mm in json.load(open(os.path.join(rdir, "model", "model.json")))["members"]]
    check(all(k in meta for k in want) and json.loads(meta["member_taps"]) == taps and
          meta["task"] == ("binary" if binary else "oess4") and m.opset_import[0].version >= 13,
          f"{name}: metadata {sorted(meta)} with the member taps {sorted(set(taps))}")
    ops = [n.op_type for n in m.graph.node]
    pads = {a.i for n in m.graph.node if n.op_type == "AveragePool" for a in n.attribute
            if a.name == "count_include_pad"}
    dim0 = m.graph.input[0].type.tensor_type.shape.dim[0]
    check("BatchNormalization" not in ops and dim0.dim_param == "N", f"{name}: BatchNorm folded, batch dynamic")
    if name != "vgg2":
        check(pads == ({0} if name == "keras4" else {1}),
              f"{name}: AveragePool count_include_pad {pads} ({'Keras' if name == 'keras4' else 'torchvision'})")
    if name == "keras4":
        check("ImageNet" in meta["weights_note"], f"keras4: the weights note: {meta['weights_note'][:120]}...")
        # Negative control: torchvision's padding-counting pools in the Keras model must break parity.
        for n in m.graph.node:
            for a in n.attribute:
                if n.op_type == "AveragePool" and a.name == "count_include_pad":
                    a.i = 1
        bad = os.path.join(work, "keras4_countpad.onnx")
        onnx.save(m, bad)
        d = np.abs(ort(bad, npy, os.path.join(work, "bad.ort.json"))["probabilities"] - p_oess).max()
        check(d > TOL, f"negative control: count_include_pad 1 in the Keras model differs by {d:.2e} > {TOL}")
        # docs/scoring.md's Node example, as printed there, on this model and input: the same grades.
        doc = open(os.path.join(here, "..", "..", "docs", "scoring.md")).read()
        js = doc[doc.index("```js\n") + 6:]
        js = js[:js.index("```")].replace('"inception.onnx"', json.dumps(onnx_file)).replace('"x.npy"', json.dumps(npy))
        example = os.path.join(work, "doc_example.js")
        open(example, "w").write(js)
        p = subprocess.run(["node", example], capture_output=True, text=True, env=dict(os.environ, NODE_PATH=node_modules))
        printed = [int(line.split()[1]) for line in p.stdout.splitlines() if line.strip()]
        check(p.returncode == 0 and printed == pred_oess.tolist(),
              f"docs/scoring.md's Node example prints oess's grades ({printed})")

# Bad input: exit 1 or 2 naming the problem, nothing written.
empty = os.path.join(work, "not_a_run")
os.makedirs(empty)
target = os.path.join(work, "bad.onnx")
p = run("export", "--run", empty, "--format", "onnx", "--out", target, rc=1)
check("no model/model.pt" in p.stderr and empty in p.stderr and not os.path.exists(target),
      "a run folder without a model: exit 1 naming it, nothing written")
p = run("export", "--run", os.path.join(work, "runs", "vgg2"), "--format", "tflite", "--out", target, rc=2)
check("tflite" in p.stderr and not os.path.exists(target), "an unknown format: exit 2 naming it")
nowhere = os.path.join(work, "no", "such", "m.onnx")
p = run("export", "--run", os.path.join(work, "runs", "vgg2"), "--format", "onnx", "--out", nowhere, rc=1)
check(nowhere in p.stderr and not os.path.exists(os.path.join(work, "no")), "an unwritable output: exit 1 naming it")
p = run("export", "--model", os.path.join(work, "vgg2.csv"), "--format", "onnx", "--out", target, rc=1)
check("vgg2.csv" in p.stderr and not os.path.exists(target), "a model file that is not one: exit 1 naming it")
leftovers = [f for f in os.listdir(os.path.join(work, "runs", "vgg2", "model")) if f.startswith(".")]
check(not leftovers, f"no temporary files left beside the models ({leftovers})")
h.finish()
