#!/usr/bin/env python3
"""Where does a BUS-BRA model's heat lie? The share of each heat map's mass inside the expert's lesion mask
(issue #32), against what a uniform map would put there (the mask's share of the image).

    /usr/bin/python3 bench/bench_lesion_heat.py --model RUN/model [--data ../shared/data/busbra-logiq5]
        [--build build] [--images 120] [--methods gradcam-ig gradcam] [--work /tmp/oess_bench_lesion]

RUN is an `oess run` of BUS-BRA (e.g. bench/bench_busbra.py's frozen variant). A seeded sample of --images
images; `oess score --heatmap DIR --heatmap-data --heatmap-method M` writes each map as a float TIFF at image
size; the dataset's `mask` column gives the lesion mask (PNG, lesion > 0). Per method prints the mean and
median share of heat inside the lesion, the mean lesion area share (the uniform map's score), the ratio of
the two, and how many images put more than half their heat on the lesion. Reads the data from its path;
copies nothing.
"""
import os
import subprocess

import numpy as np
from PIL import Image

from busbra import busbra_arguments, busbra_labels


def main():
    ap = busbra_arguments("/tmp/oess_bench_lesion")
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--methods", nargs="*", default=["gradcam-ig", "gradcam"])
    a = ap.parse_args()
    rows = busbra_labels(a.data)
    rng = np.random.default_rng(32)
    pick = [rows[i] for i in sorted(rng.choice(len(rows), min(a.images, len(rows)), replace=False))]
    for method in a.methods:
        out = os.path.join(a.work, method)
        os.makedirs(out, exist_ok=True)
        p = subprocess.run([os.path.join(a.build, "oess"), "score", "--model", a.model,
                            *[os.path.join(a.data, r["path"]) for r in pick], "--heatmap", out, "--heatmap-data",
                            "--heatmap-method", method], capture_output=True, text=True)
        if p.returncode:
            raise SystemExit(f"oess score failed:\n{p.stderr[-2000:]}")
        inside, area = [], []
        for r in pick:
            stem = os.path.splitext(os.path.basename(r["path"]))[0]
            heat = np.asarray(Image.open(os.path.join(out, f"{stem}_{method}.tiff")), dtype=np.float64)
            mask = np.asarray(Image.open(os.path.join(a.data, r["mask"])).convert("L")) > 0
            if mask.shape != heat.shape:
                mask = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(heat.shape[::-1])) > 0
            inside.append(heat[mask].sum() / max(heat.sum(), 1e-12))
            area.append(mask.mean())
        inside, area = np.array(inside), np.array(area)
        print(f"{method:11s} {len(pick)} images: heat inside the lesion mean {inside.mean():.3f} (median "
              f"{np.median(inside):.3f}); lesion share of the image {area.mean():.3f} (a uniform map); ratio "
              f"{inside.mean() / area.mean():.2f}; images with > 0.5 of the heat on the lesion: "
              f"{int((inside > 0.5).sum())}", flush=True)


if __name__ == "__main__":
    main()
