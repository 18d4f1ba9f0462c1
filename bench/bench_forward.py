#!/usr/bin/env python3
"""Forward time per image: oess (C++) vs torchvision eager, same job, same threads, one script run.

    /usr/bin/python3 bench/bench_forward.py [--build build] [--threads 2] [--batch 8] [--iters 5]

Jobs: Inception-v3 at 299x299 keeping all 11 mixed taps (one pass to Mixed_7c); VGG-16 at 224x224 to
block5_pool. Both sides use seeded random weights and inference mode; torchvision runs its own modules
stage by stage (exactly its forward, stopped at the last tap). Prints ms/image and the ratio
torchvision / oess (> 1: oess faster). Machines here are noisy: compare ratios, not absolute times.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tv_inception import inception_taps  # noqa: E402


def inception_job():
    _, run = inception_taps()
    return run, 299


def vgg_job():
    m = torchvision.models.vgg16(weights=None).eval()
    return (lambda x: m.features(x)), 224


def time_python(job, batch, iters, warmup):
    run, size = job()
    torch.manual_seed(1)
    x = torch.randn(batch, 3, size, size)
    ms = []
    with torch.inference_mode():
        for i in range(warmup + iters):
            t0 = time.perf_counter()
            run(x)
            t1 = time.perf_counter()
            if i >= warmup:
                ms.append((t1 - t0) * 1000 / batch)
    ms.sort()
    return ms[len(ms) // 2]


def time_oess(binary, arch, taps, batch, iters, warmup, threads):
    out = subprocess.run([binary, "--arch", arch, "--taps", taps, "--batch", str(batch), "--iters", str(iters),
                          "--warmup", str(warmup), "--threads", str(threads)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["ms_per_image_median"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    binary = os.path.join(a.build, "bench", "oess_bench_forward")
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, threads {a.threads}, "
          f"batch {a.batch}, median of {a.iters} after {a.warmup} warm-up")
    print(f"{'job':<36} {'torchvision ms/img':>19} {'oess ms/img':>12} {'tv/oess':>8}")
    for label, job, arch, taps in (("inception_v3, 11 mixed taps, 299^2", inception_job, "inception_v3", "all"),
                                   ("vgg16 to block5_pool, 224^2", vgg_job, "vgg16", "block5_pool")):
        py = time_python(job, a.batch, a.iters, a.warmup)
        cc = time_oess(binary, arch, taps, a.batch, a.iters, a.warmup, a.threads)
        print(f"{label:<36} {py:>19.1f} {cc:>12.1f} {py / cc:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
