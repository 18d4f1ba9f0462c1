#!/usr/bin/env python3
"""A fine-tuning step, oess against Python PyTorch doing the same in the same script run (issue #31).

    /usr/bin/python3 bench/bench_finetune.py [--build build] [--rounds 3] [--threads 2] [--batch 8]

One step = forward of the trained blocks from the frozen part's cached activations, average pooling, the
linear head, cross-entropy, backward, SGD (momentum 0.9) over the trained blocks and the head. Jobs:
Inception-v3 at 299² with the layers after mixed5 training (mixed6, mixed7; head on mixed7), and after mixed7
(mixed8..mixed10; head on mixed10); VGG-16 at 224² after block4_pool (head on block5_pool). oess:
build/bench/oess_bench_finetune (FineTuner, seeded random weights); Python: torchvision's modules, the same
blocks, eval mode (BatchNorm statistics frozen), torch.optim.SGD with two parameter groups. Alternating rounds,
medians of each side's median step; prints the ratio oess / Python (below 1: oess is faster).
"""
import argparse
import json
import os
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F
import torchvision

INCEPTION = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
             "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
# job -> (arch, train_from, head tap, index of the first trained stage, index after the head's stage, channels)
JOBS = {"inception after mixed5": ("inception_v3", "mixed5", "mixed7", 13, 15, 768),
        "inception after mixed7": ("inception_v3", "mixed7", "mixed10", 15, 18, 2048),
        "vgg16 after block4_pool": ("vgg16", "block4_pool", "block5_pool", 24, 31, 512)}


def python_step_ms(job, batch, steps):
    arch, _, _, first, end, channels = JOBS[job]
    if arch == "vgg16":
        layers, size = list(torchvision.models.vgg16(weights=None).features), 224
    else:
        m = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
        layers, size = [getattr(m, n) for n in INCEPTION], 299
    for layer in layers:
        layer.eval()
    with torch.no_grad():
        x = torch.randn(batch, 3, size, size)
        for layer in layers[:first]:
            x = layer(x)
    trained = layers[first:end]
    head = torch.nn.Linear(channels, 4)
    params = [p for layer in trained for p in layer.parameters()]
    sgd = torch.optim.SGD([{"params": params, "lr": 1e-4}, {"params": list(head.parameters()), "lr": 1e-3}],
                          lr=1e-3, momentum=0.9)
    y = torch.randint(0, 4, (batch,))
    ms = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        h = x
        for layer in trained:
            h = layer(h)
        loss = F.cross_entropy(head(h.mean((2, 3))), y)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        if i > 0:
            ms.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ms)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    exe = os.path.join(a.build, "bench", "oess_bench_finetune")
    times = {}
    for r in range(a.rounds):
        for job, (arch, frm, head, *_rest) in JOBS.items():
            order = ("oess", "python") if r % 2 == 0 else ("python", "oess")
            for side in order:
                if side == "oess":
                    out = subprocess.run([exe, "--arch", arch, "--train-from", frm, "--head-tap", head, "--batch",
                                          str(a.batch), "--threads", str(a.threads), "--steps", str(a.steps)],
                                         capture_output=True, text=True, check=True).stdout
                    ms = json.loads(out.strip().splitlines()[-1])["ms_per_step_median"]
                else:
                    ms = python_step_ms(job, a.batch, a.steps)
                times.setdefault((job, side), []).append(ms)
                print(f"round {r + 1} {job:26s} {side:6s} {ms:9.1f} ms/step", flush=True)
    print(f"\nmedians of {a.rounds} round(s), batch {a.batch}, {a.threads} threads, torch {torch.__version__}:")
    for job in JOBS:
        o, p = statistics.median(times[(job, "oess")]), statistics.median(times[(job, "python")])
        print(f"{job:26s} oess {o:9.1f}  Python {p:9.1f} ms/step  ratio oess/Python {o / p:.2f}")


if __name__ == "__main__":
    main()
