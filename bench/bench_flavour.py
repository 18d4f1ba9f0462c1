#!/usr/bin/python3
"""Extraction speed of the Keras flavour against the torchvision flavour, in one run.

bench_flavour.py [BUILD_DIR] [--rounds N]

Runs build/bench/oess_bench_forward on Inception-v3 (all 11 mixed taps, batch 8, 2 threads, the extraction
fast paths: BatchNorm folded, channels-last) alternately with --flavour torchvision and --flavour keras,
N rounds (default 3), and prints each round and the ratio of the medians (keras / torchvision). The only
difference between the two is count_include_pad in the nine branch average pools.
"""
import json
import statistics
import subprocess
import sys

args = [a for a in sys.argv[1:] if not a.startswith("--")]
build = args[0] if args else "build"
rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
exe = f"{build}/bench/oess_bench_forward"
times = {"torchvision": [], "keras": []}
for r in range(rounds):
    for flavour in ("torchvision", "keras") if r % 2 == 0 else ("keras", "torchvision"):
        out = subprocess.run([exe, "--arch", "inception_v3", "--taps", "all", "--batch", "8", "--iters", "4",
                              "--warmup", "1", "--threads", "2", "--fold-bn", "--channels-last", "--flavour",
                              flavour], capture_output=True, text=True, check=True).stdout
        ms = json.loads(out)["ms_per_image_median"]
        times[flavour].append(ms)
        print(f"round {r + 1}: {flavour:12s} {ms:8.2f} ms/image")
tv, k = statistics.median(times["torchvision"]), statistics.median(times["keras"])
print(f"median: torchvision {tv:.2f} ms/image, keras {k:.2f} ms/image, ratio keras/torchvision {k / tv:.3f}")
