#!/usr/bin/env python3
"""ONNX export of a trained run: export time, file size, and ONNX Runtime's scoring speed against
`oess score` on the same images (issue #19).

    /usr/bin/python3 bench/bench_onnx.py [--run runs/paper_4class_inception] [--images 64] [--build build]
                                         [--work /tmp/oess_bench_onnx] [--rounds 1]

The run is the README's main job by default (`bash tools/run.sh` makes it). In this one script:
1. `oess export --run RUN --format onnx` (wall time of the command, and the file's size);
2. `oess score --model RUN/model` on the first --images images of the run's test split (wall time of the
   command, and the seconds of its own "score:" line: decode, preprocess, backbone, members), with
   --save-input writing the network inputs;
3. ONNX Runtime (onnxruntime-node from tests/js, 2 threads as oess, batch 16 as oess) on those inputs: session
   creation, and the seconds of one run over all images (after one warm-up run).
Prints the ratio ONNX Runtime / oess score (the "score:" seconds, which include decoding the images; ONNX
Runtime's do not) and the largest probability difference. With --rounds R, steps 2 and 3 alternate R times and
each round's ratio is printed, then the median. oess's seconds come from its "score:" line's rate (three
significant figures) rather than its seconds (0.1 s).
"""
import argparse
import csv
import json
import os
import re
import subprocess
import time


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.join(here, "..")
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=os.path.join(root, "runs", "paper_4class_inception"))
    ap.add_argument("--images", type=int, default=64)
    ap.add_argument("--build", default=os.path.join(root, "build"))
    ap.add_argument("--work", default="/tmp/oess_bench_onnx")
    ap.add_argument("--rounds", type=int, default=1)
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    os.makedirs(a.work, exist_ok=True)
    if not os.path.isfile(os.path.join(a.run, "model", "model.pt")):
        raise SystemExit(f"{a.run}: no model/model.pt; make it with `bash tools/run.sh` (the main job)")

    onnx_file = os.path.join(a.work, "model.onnx")
    t0 = time.perf_counter()
    subprocess.run([oess, "export", "--run", a.run, "--format", "onnx", "--out", onnx_file], check=True,
                   capture_output=True)
    export_s = time.perf_counter() - t0
    size = os.path.getsize(onnx_file)

    # The run's test images (split.csv paths are relative to the manifest's folder).
    import yaml  # noqa: PLC0415 (python3-yaml comes with Debian's python3 stack)
    cfg = yaml.safe_load(open(os.path.join(a.run, "config.resolved.yaml")))
    manifest = cfg["data"]["manifest"]
    base = cfg["data"]["synthetic"]["dir"] if manifest == "synthetic" else os.path.dirname(manifest)
    with open(os.path.join(a.run, "split.csv"), newline="") as f:
        images = [os.path.join(base, r["path"]) for r in csv.DictReader(f) if r["split"] == "test"][:a.images]
    npy, scores = os.path.join(a.work, "x.npy"), os.path.join(a.work, "scores.csv")
    out = os.path.join(a.work, "ort.json")
    env = dict(os.environ, NODE_PATH=os.path.join(root, "tests", "js", "node_modules"))
    rounds = []
    for r in range(a.rounds):
        t0 = time.perf_counter()
        p = subprocess.run([oess, "score", "--model", os.path.join(a.run, "model"), *images, "--csv", scores]
                           + (["--save-input", npy] if r == 0 else []), check=True, capture_output=True, text=True)
        score_wall = time.perf_counter() - t0
        m = re.search(r"score: (\d+) images in [0-9.]+ s \(([0-9.]+) images/s\)", p.stderr + p.stdout)
        score_s = int(m.group(1)) / float(m.group(2)) if m else float("nan")
        t0 = time.perf_counter()
        subprocess.run(["node", os.path.join(root, "tests", "oracles", "ort_run.js"), onnx_file, npy, out,
                        "--batch", "16", "--threads", "2", "--repeat", "2"], check=True, env=env)
        node_wall = time.perf_counter() - t0
        ort_s = json.load(open(out))["seconds"][-1]  # the second run: after ONNX Runtime's first-run allocations
        rounds.append((score_s, ort_s))
        if a.rounds > 1:
            print(f"round {r + 1}: oess score {score_s:.3f} s, ONNX Runtime {ort_s:.3f} s, ratio {ort_s / score_s:.3f}")
    res = json.load(open(out))
    probs = res["outputs"]["probabilities"]["data"]
    with open(scores, newline="") as f:
        ref = [float(r[f"p{k}"]) for r in csv.DictReader(f) for k in range(4)]
    diff = max(abs(x - y) for x, y in zip(probs, ref))
    ratios = sorted(o / s for s, o in rounds)
    ratio = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
    n = len(images)
    print(f"export: {export_s:.1f} s (the whole `oess export` command), file {size / 1e6:.1f} MB")
    print(f"oess score: {n} images, {score_s:.2f} s in its score stage ({n / score_s:.1f} images/s), "
          f"{score_wall:.1f} s the whole command (model load{', --save-input' if a.rounds == 1 else ''})")
    print(f"ONNX Runtime: {ort_s:.2f} s for the {n} preprocessed images ({n / ort_s:.1f} images/s), "
          f"{node_wall:.1f} s the whole node process (session creation, 2 runs)")
    print(f"ratio ONNX Runtime / oess score: {ratio:.2f}{' (median of %d rounds)' % a.rounds if a.rounds > 1 else ''}; "
          f"largest probability difference {diff:.1e}")


if __name__ == "__main__":
    main()
