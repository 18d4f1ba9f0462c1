#!/usr/bin/env python3
"""The dataset check's duplicate rule on real images (issue #32): false positives among BUS-BRA's 809
distinct images (all 326,836 pairs) and true positives on copies made here.

    /usr/bin/python3 bench/bench_duplicates.py [--data ../shared/data/busbra-logiq5] [--build build]
                                               [--work /tmp/oess_bench_dups] [--copies 50]

Writes into --work (never into the data folder) a manifest of every BUS-BRA image plus, for --copies images
drawn with a fixed seed, three copies each: a JPEG at quality 80, a PNG 2 px smaller, and a JPEG (quality 80)
at half size — each under a patient of its own. Runs `oess data check` on it and counts: groups holding two
BUS-BRA originals (false positives), and copies grouped with their original (true positives), per kind; the
check's detail correlations of the copies found. Pairs side by side: --work/pairs/.
"""
import csv
import os
import re
import subprocess

import numpy as np
from PIL import Image

from busbra import busbra_arguments, busbra_labels


def main():
    ap = busbra_arguments("/tmp/oess_bench_dups")
    ap.add_argument("--copies", type=int, default=50)
    a = ap.parse_args()
    rows = busbra_labels(a.data)
    os.makedirs(os.path.join(a.work, "copies"), exist_ok=True)
    out = [{"path": os.path.join(a.data, r["path"]), "score": r["score"], "patient": r["patient"]} for r in rows]
    rng = np.random.default_rng(32)
    kinds = {}
    for i in rng.choice(len(rows), a.copies, replace=False):
        src = os.path.join(a.data, rows[i]["path"])
        im = Image.open(src)
        w, h = im.size
        stem = os.path.splitext(os.path.basename(src))[0]
        made = {"jpeg80": (im.convert("RGB"), ".jpg"), "2px_smaller": (im.resize((w - 2, h - 2), Image.BILINEAR), ".png"),
                "half_jpeg80": (im.convert("RGB").resize((w // 2, h // 2), Image.BILINEAR), ".jpg")}
        for kind, (img, ext) in made.items():
            path = os.path.join(a.work, "copies", f"{stem}_{kind}{ext}")
            img.save(path, **({"quality": 80} if ext == ".jpg" else {}))
            out.append({"path": path, "score": rows[i]["score"], "patient": f"copy_{stem}_{kind}"})
            kinds[os.path.basename(path)] = (kind, os.path.basename(src))
    manifest = os.path.join(a.work, "labels.csv")
    with open(manifest, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "score", "patient"])
        w.writeheader()
        w.writerows(out)
    p = subprocess.run([os.path.join(a.build, "oess"), "data", "check", manifest, "--pairs",
                        os.path.join(a.work, "pairs")], capture_output=True, text=True)
    print(p.stdout[-3000:] if p.returncode else "\n".join(l for l in p.stdout.splitlines() if "duplicates" in l))
    groups, current = [], None
    for line in p.stdout.splitlines():
        m = re.match(r"\s+group \d+ \((exact|near, detail correlation ([0-9.]+))", line)
        if m:
            current = {"corr": float(m.group(2)) if m.group(2) else 1.0, "files": []}
            groups.append(current)
        elif current is not None and re.match(r"\s+\S+ \(line \d+;", line):
            current["files"].append(os.path.basename(line.split(" (line")[0].strip()))
    originals = {os.path.basename(r["path"]) for r in rows}
    fp = [g for g in groups if sum(f in originals for f in g["files"]) > 1]
    found = {k: 0 for k in ("jpeg80", "2px_smaller", "half_jpeg80")}
    corr = {k: [] for k in found}
    for g in groups:
        for f in g["files"]:
            if f in kinds and kinds[f][1] in g["files"]:
                found[kinds[f][0]] += 1
                corr[kinds[f][0]].append(g["corr"])
    pairs = len(rows) * (len(rows) - 1) // 2
    print(f"false positives: {len(fp)} group(s) joining distinct BUS-BRA images, of {pairs} pairs")
    for k in found:
        c = corr[k]
        print(f"true positives, {k}: {found[k]} of {a.copies} copies found with their original"
              + (f" (detail correlation {min(c):.2f}-{max(c):.2f})" if c else ""))


if __name__ == "__main__":
    main()
