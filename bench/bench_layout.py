#!/usr/bin/env python3
"""Memory layout per CPU: NCHW against channels_last, on this CPU's ISA and on the ISAs below it (issue #30).

    /usr/bin/python3 bench/bench_layout.py [--build build] [--rounds 3] [--isa native,AVX2]
                                           [--threads 2] [--batch 16] [--nets inception_v3,vgg16]

Runs build/bench/oess_bench_forward (seeded random weights, BatchNorm folded as in extraction) on Inception-v3
(all 11 mixed taps, 299²) and VGG-16 (to block5_pool, 224²), alternately with and without --channels-last,
for each ISA in --isa: `native` is what oneDNN picks on this CPU; another name (AVX2, AVX512_CORE, ...) caps
oneDNN's dispatch with DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA, so an AVX-512 machine also runs the kernels an
AVX2-only machine gets (its caches and clock stay this machine's: a stand-in, said beside the figures). Prints
ms/image per round, the medians, and the ratio channels_last / NCHW per (ISA, network): below 1, channels_last
is faster.
"""
import argparse
import json
import os
import statistics
import subprocess

NETS = {"inception_v3": ["--taps", "all"], "vgg16": ["--taps", "block5_pool"]}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--isa", default="native,AVX2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--nets", default="inception_v3,vgg16")
    a = ap.parse_args()
    exe = os.path.join(a.build, "bench", "oess_bench_forward")
    times = {}
    for r in range(a.rounds):
        for isa in a.isa.split(","):
            env = dict(os.environ)
            if isa != "native":
                env.update(DNNL_MAX_CPU_ISA=isa, ONEDNN_MAX_CPU_ISA=isa)
            for net in a.nets.split(","):
                taps = NETS[net]
                layouts = ("nchw", "channels_last") if r % 2 == 0 else ("channels_last", "nchw")
                for layout in layouts:
                    cmd = [exe, "--arch", net, *taps, "--batch", str(a.batch), "--threads", str(a.threads),
                           "--iters", "3", "--warmup", "1", "--fold-bn"]
                    if layout == "channels_last":
                        cmd.append("--channels-last")
                    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
                    ms = json.loads(out.strip().splitlines()[-1])["ms_per_image_median"]
                    times.setdefault((isa, net, layout), []).append(ms)
                    print(f"round {r + 1} {isa:8s} {net:13s} {layout:14s} {ms:8.2f} ms/image", flush=True)
    print(f"\nmedians of {a.rounds} round(s), batch {a.batch}, {a.threads} threads:")
    for isa in a.isa.split(","):
        for net in a.nets.split(","):
            n = statistics.median(times[(isa, net, "nchw")])
            c = statistics.median(times[(isa, net, "channels_last")])
            print(f"{isa:8s} {net:13s} NCHW {n:8.2f}  channels_last {c:8.2f} ms/image  ratio "
                  f"channels_last/NCHW {c / n:.2f}")


if __name__ == "__main__":
    main()
