#!/usr/bin/env python3
"""Clips per second against the same frames as still PNGs (issue #33): does decoding a clip cost more than
decoding its sampled frames as PNG files?

    /usr/bin/python3 bench/bench_clips.py [--build build] [--clips 24] [--length 16] [--frames 8]
        [--size 384x288] [--work /tmp/oess_bench_clips]

Makes `--clips` synthetic clips of `--length` frames (`oess synth --clips`, FFV1 in AVI, lossless), the same
clips re-encoded as H.264 in MP4 (PyAV, yuv420p, CRF 18), and the `--frames` frames each is sampled at as
PNG files (`oess data frames --out`, PNG as oess writes it). oess_bench_clips then times, in one process and
alternating, decode_clip on every clip (all frames decoded front to back, the sampled ones kept) against
decode_image on every PNG, 3 rounds each. Prints the ratio clip time / PNG time (< 1: clips are cheaper).
"""
import argparse
import json
import os
import shutil
import subprocess

import av


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(here, "..", "build"))
    ap.add_argument("--clips", type=int, default=24)
    ap.add_argument("--length", type=int, default=16)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", default="384x288")
    ap.add_argument("--work", default="/tmp/oess_bench_clips")
    a = ap.parse_args()
    oess = os.path.join(a.build, "oess")
    shutil.rmtree(a.work, ignore_errors=True)
    synth = os.path.join(a.work, "synth")
    q = a.clips // 4
    subprocess.run([oess, "synth", "--out", synth, "--counts", f"{q},{q},{q},{a.clips - 3 * q}", "--clips",
                    str(a.length), "--size", a.size, "--threads", "2"], check=True, capture_output=True)
    ffv1 = os.path.join(synth, "images")
    h264, pngs = os.path.join(a.work, "h264"), os.path.join(a.work, "pngs")
    os.makedirs(h264)
    for name in sorted(os.listdir(ffv1)):
        with av.open(os.path.join(ffv1, name)) as src, av.open(os.path.join(h264, name[:-4] + ".mp4"), "w") as dst:
            s = dst.add_stream("libx264", rate=25, options={"crf": "18"})
            s.width, s.height, s.pix_fmt = src.streams.video[0].width, src.streams.video[0].height, "yuv420p"
            for f in src.decode(video=0):
                for p in s.encode(av.VideoFrame.from_ndarray(f.to_ndarray(format="bgr24"), format="bgr24")):
                    dst.mux(p)
            for p in s.encode():
                dst.mux(p)
    clips = [os.path.join(ffv1, n) for n in sorted(os.listdir(ffv1))]
    subprocess.run([oess, "data", "frames", *clips, "--frames", str(a.frames), "--out", pngs], check=True,
                   capture_output=True)
    for kind, folder in (("FFV1/AVI", ffv1), ("H.264/MP4", h264)):
        out = subprocess.run([os.path.join(a.build, "bench", "oess_bench_clips"), "--clips", folder, "--pngs", pngs,
                              "--frames", str(a.frames)], check=True, capture_output=True, text=True).stdout
        r = json.loads(out)
        ratios = [x["ratio"] for x in r["rounds"]]
        best_c = min(x["clip_s"] for x in r["rounds"])
        best_p = min(x["png_s"] for x in r["rounds"])
        print(f"{kind:10s} {r['clips']} clips of {a.length} frames ({a.size}), {a.frames} sampled: "
              f"{r['clips'] / best_c:.1f} clips/s; the same {r['pngs']} frames as PNG: "
              f"{r['pngs'] / best_p:.1f} PNG/s = {r['pngs'] / best_p / a.frames:.1f} clips/s; ratio clip/PNG "
              f"time per round {', '.join(f'{x:.2f}' for x in ratios)}", flush=True)


if __name__ == "__main__":
    main()
