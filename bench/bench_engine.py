#!/usr/bin/env python3
"""The oneDNN inference engine against LibTorch's forward pass, per CPU ISA (issue #30).

    /usr/bin/python3 bench/bench_engine.py [--build build] [--rounds 3] [--isa native,AVX2]
                                           [--weights weights/inception_v3_keras.pt]

Runs build/bench/oess_bench_forward alternately on LibTorch (BatchNorm folded, channels_last: what extraction
used before the engine) and with --engine (Backbone::infer on models/engine.h), for these jobs:
  - Inception-v3 to mixed8, Keras flavour, batch 16, 2 threads: the network of the main job's exported model
    (what `oess score` runs; with --weights, the Keras ImageNet weights, else seeded random ones);
  - Inception-v3, all 11 mixed taps, batch 16, 2 threads (extraction);
  - Inception-v3, all 11 taps, batch 1, 1 thread (one image at a time);
  - VGG-16 to block5_pool, batch 16, 2 threads.
`native` is oneDNN's own dispatch on this CPU; another name (AVX2, ...) caps it with DNNL_MAX_CPU_ISA, so an
AVX-512 machine also runs the kernels an AVX2-only CPU gets (its caches and clocks stay this machine's).
Prints ms/image per round, the medians, the ratio engine / LibTorch (below 1: the engine is faster) and the
engine's largest difference from LibTorch's plain forward, relative to each tap's scale.
"""
import argparse
import json
import os
import statistics
import subprocess

JOBS = {
    "inception mixed8 keras b16 t2": ["--arch", "inception_v3", "--taps", "mixed8", "--flavour", "keras",
                                      "--batch", "16", "--threads", "2"],
    "inception 11 taps b16 t2": ["--arch", "inception_v3", "--taps", "all", "--batch", "16", "--threads", "2"],
    "inception 11 taps b1 t1": ["--arch", "inception_v3", "--taps", "all", "--batch", "1", "--threads", "1"],
    "vgg16 block5_pool b16 t2": ["--arch", "vgg16", "--taps", "block5_pool", "--batch", "16", "--threads", "2"],
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--isa", default="native,AVX2")
    ap.add_argument("--weights", default=os.path.join(here, "..", "weights", "inception_v3_keras.pt"))
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench", "oess_bench_forward")
    times, diffs = {}, {}
    for r in range(a.rounds):
        for isa in a.isa.split(","):
            env = dict(os.environ)
            if isa != "native":
                env.update(DNNL_MAX_CPU_ISA=isa, ONEDNN_MAX_CPU_ISA=isa)
            for job, args in JOBS.items():
                if "keras" in job and os.path.isfile(a.weights):
                    args = [*args, "--weights", a.weights]
                order = ("libtorch", "engine") if r % 2 == 0 else ("engine", "libtorch")
                for how in order:
                    cmd = [exe, *args, "--iters", "3", "--warmup", "1", "--fold-bn", "--channels-last"]
                    if how == "engine":
                        cmd.append("--engine")
                    out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                                    env=env).stdout.strip().splitlines()[-1])
                    times.setdefault((isa, job, how), []).append(out["ms_per_image_median"])
                    if how == "engine":
                        diffs[(isa, job)] = max(diffs.get((isa, job), 0), out["max_rel_diff"])
                    print(f"round {r + 1} {isa:8s} {job:30s} {how:9s} {out['ms_per_image_median']:8.2f} ms/image",
                          flush=True)
    print(f"\nmedians of {a.rounds} round(s):")
    for isa in a.isa.split(","):
        for job in JOBS:
            t = statistics.median(times[(isa, job, "libtorch")])
            e = statistics.median(times[(isa, job, "engine")])
            print(f"{isa:8s} {job:30s} LibTorch {t:8.2f}  engine {e:8.2f} ms/image  ratio {e / t:.2f}  "
                  f"max rel diff {diffs[(isa, job)]:.1e}")


if __name__ == "__main__":
    main()
