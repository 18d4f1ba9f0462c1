#!/usr/bin/env python3
"""Feature extraction: oess vs Python torchvision eager with PIL decoding, same job, same threads, one run.

    /usr/bin/python3 bench/bench_extract.py [--build build] [--images 200] [--threads 2] [--batch 16]

Jobs, on N synthetic 384x288 PNGs made with `oess synth`, seeded random weights on both sides:
  A  Inception-v3 at 299x299, all 11 mixed taps, global-average pooled
  B  VGG-16 at 224x224, block5_conv3 and block5_pool, global-average pooled
Python: PIL open -> RGB -> resize (bilinear) -> tensor -> normalise, batches of --batch, torchvision modules
run stage by stage to the last tap under inference_mode, pooled. oess: `oess extract --no-cache`, timed as a
whole process (start-up, hashing, model construction included). Prints images/s for both and the ratio,
achieved GFLOP/s against the FMA peak (cores x 2 x float32 lanes x FMA units x clock) and peak RSS of each side. Then the
one-pass 11-tap forward against the per-layer recipe (11 truncated forwards, one per tap), with
oess_bench_forward.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tv_inception import inception_taps  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)


def conv_flops(model, size, run):
    """Multiply-adds x 2 of every convolution run by `run` on one image."""
    total = [0]

    def hook(m, inp, out):
        total[0] += 2 * out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.inference_mode():
        run(torch.zeros(1, 3, size, size))
    for h in hs:
        h.remove()
    return total[0]


def inception():
    m, run = inception_taps(pool=lambda x: x.mean((2, 3)))
    return m, run, 299


def vgg():
    m = torchvision.models.vgg16(weights=None).eval()

    def run(x):
        f = m.features
        for i in range(30):  # through features.29 = block5_conv3 (ReLU)
            x = f[i](x)
        c3 = x.mean((2, 3))
        return [c3, f[30](x).mean((2, 3))]
    return m, run, 224


def python_job(make, paths, batch):
    t0 = time.perf_counter()
    model, run, size = make()
    feats = []
    with torch.inference_mode():
        for s in range(0, len(paths), batch):
            xs = []
            for p in paths[s:s + batch]:
                img = Image.open(p).convert("RGB").resize((size, size), Image.BILINEAR)
                t = torch.frombuffer(bytearray(img.tobytes()), dtype=torch.uint8).view(size, size, 3)
                xs.append((t.permute(2, 0, 1).float() / 255 - MEAN) / STD)
            feats.append(run(torch.stack(xs)))
    return time.perf_counter() - t0


def run_measured(cmd):
    """Runs cmd; returns (wall seconds, peak RSS MiB, stdout). The peak is the child's own VmHWM, polled:
    getrusage's ru_maxrss of a child counts the parent's memory at fork time."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    hwm = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        hwm = max(hwm, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    out = p.stdout.read()
    if p.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed ({p.returncode})")
    return elapsed, hwm / 1024, out


def oess_job(oess, manifest, arch, layers, threads, batch, out):
    t, rss, _ = run_measured([oess, "extract", "--arch", arch, "--weights", "none", "--manifest", manifest, "--layers",
                              layers, "--out", out, "--no-cache", "--threads", str(threads), "--batch", str(batch)])
    return t, rss


def clock_ghz():
    try:
        with open("/proc/cpuinfo") as f:
            mhz = [float(l.split(":")[1]) for l in f if l.startswith("cpu MHz")]
        return max(mhz) / 1000
    except (OSError, ValueError):
        return float("nan")


def fp32_lanes():
    """float32 lanes of the widest FMA vector /proc/cpuinfo lists: 16 with AVX-512, 8 with AVX2 + FMA."""
    try:
        flags = next(l for l in open("/proc/cpuinfo") if l.startswith("flags")).split()
    except (OSError, StopIteration):
        return float("nan")
    return 16 if "avx512f" in flags else 8 if "fma" in flags else 4


def forward_ms(binary, arch, taps, threads):
    out = subprocess.run([binary, "--arch", arch, "--taps", taps, "--batch", "8", "--iters", "3", "--warmup", "1",
                          "--threads", str(threads), "--fold-bn", "--channels-last"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["ms_per_image_median"]


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--python-job":  # child: one Python job, timed inside
        _, _, arch, paths_file, batch, threads = sys.argv
        torch.set_num_threads(int(threads))
        with open(paths_file) as f:
            paths = f.read().split("\n")
        print(json.dumps({"seconds": python_job(inception if arch == "inception_v3" else vgg, paths, int(batch))}))
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build"))
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--fma-units", type=int, default=2,
                    help="vector FMA units per core (2 on most AVX2 and AVX-512 server cores; 1 on some AVX-512 ones)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    oess = os.path.join(a.build, "oess")
    work = tempfile.mkdtemp(prefix="oess_bench_extract_")
    q = a.images // 4
    subprocess.run([oess, "synth", "--out", work + "/data", "--counts", f"{q},{q},{q},{a.images - 3 * q}",
                    "--threads", str(a.threads)], check=True, capture_output=True)
    manifest = work + "/data/labels.csv"
    with open(manifest) as f:
        paths = [os.path.join(work, "data", line.split(",")[0]) for line in f.readlines()[1:]]
    ghz = clock_ghz()
    lanes = fp32_lanes()
    per_cycle = 2 * lanes * a.fma_units
    peak = a.threads * per_cycle * ghz
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}; {len(paths)} images 384x288; "
          f"threads {a.threads}; batch {a.batch}; FMA peak {peak:.0f} GFLOP/s = {a.threads} cores x {per_cycle} "
          f"FLOP/cycle (2 per FMA x {lanes} float32 lanes x {a.fma_units} FMA units, --fma-units) x {ghz:.2f} GHz "
          "(the clock /proc/cpuinfo reports; boost clocks make more than 100% possible)")
    print(f"{'job':<44} {'python img/s':>12} {'oess img/s':>11} {'oess/py':>8} {'oess GFLOP/s':>13} "
          f"{'% peak':>7} {'py RSS MiB':>11} {'oess RSS MiB':>13}")
    for label, make, arch, layers in (
            ("inception_v3, 11 mixed taps, avg, 299^2", inception, "inception_v3", "all"),
            ("vgg16, block5_conv3 + block5_pool, avg, 224^2", vgg, "vgg16", "block5_conv3,block5_pool")):
        model, run, size = make()
        flops = conv_flops(model, size, run)
        del model
        with open(work + "/paths.txt", "w") as f:
            f.write("\n".join(paths))
        _, py_rss, out = run_measured([sys.executable, os.path.abspath(__file__), "--python-job", arch,
                                       work + "/paths.txt", str(a.batch), str(a.threads)])
        py = json.loads(out.strip().splitlines()[-1])["seconds"]
        cc, cc_rss = oess_job(oess, manifest, arch, layers, a.threads, a.batch, work + "/f.pt")
        gflops = flops * len(paths) / cc / 1e9
        print(f"{label:<44} {len(paths) / py:>12.2f} {len(paths) / cc:>11.2f} {py / cc:>8.2f} {gflops:>13.1f} "
              f"{100 * gflops / peak:>6.0f}% {py_rss:>11.0f} {cc_rss:>13.0f}")
    # One pass keeping 11 taps vs 11 truncated passes (the Keras Model(inputs, layer.output) recipe).
    binary = os.path.join(a.build, "bench", "oess_bench_forward")
    one = forward_ms(binary, "inception_v3", "all", a.threads)
    per = sum(forward_ms(binary, "inception_v3", f"mixed{k}", a.threads) for k in range(11))
    print(f"inception_v3, 11 taps: one pass {one:.1f} ms/img, per-layer recipe {per:.1f} ms/img "
          f"(sum of 11 truncated forwards): {per / one:.2f}x less time")
    print("Python: time inside its process (model construction, decoding, forward); oess: the whole process. "
          "RSS: each process's peak (VmHWM).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
