#!/usr/bin/python3
"""Heat maps and scores of `oess score` against an independent torchvision computation.

heatmap_parity.py OESS WORKDIR

Writes an oess model file from scratch as docs/formats.md describes it (seeded torchvision Inception-v3 up to
mixed2 = Mixed_5d, two members, reference maps), three 299x299 images, then runs
`oess score --csv --heatmap --heatmap-data` with each --heatmap-method and compares:
- the probabilities with torchvision's (Mixed_5d -> average pooling -> standardise -> linear -> softmax, mean
  over members) computed in float64, to 1e-5. Two float32 computations are each a few 1e-6 off it (here
  torchvision's own float32 run by up to 7.5e-6), so comparing oess with float32 torchvision would allow
  either one's rounding twice;
- each heat map (the TIFF) with the same method computed here with autograd (docs/scoring.md, "Heat maps"):
  Grad-CAM centred on reference.mixed2, integrated gradients from reference.input at 8 midpoints smoothed by
  scipy's Gaussian (sigma 2% of 299, reflect), and their product; all scaled to their maximum.
Exit 0 when all agree, else 1 naming each disagreement: probabilities to 1e-5 of float64; Grad-CAM maps to 1e-4 of their
maximum; maps with integrated gradients to 1e-2 — pixel gradients pass through max-pool ties and ReLU kinks
in float32, so the same torchvision computation in channels-last memory moves them by up to 3e-3, while a
wrong path (end points instead of midpoints), step count, smoothing or target class moves them by 0.14-1.
"""
import copy
import csv
import json
import os
import subprocess
import sys

import numpy as np
import scipy.ndimage
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image

oess, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
np.random.seed(0)

net = torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
with torch.no_grad():
    for m in bns:  # non-trivial BatchNorm, so that oess's folding of it into the convolutions is exercised
        m.weight.uniform_(0.5, 1.5)
        m.bias.normal_(0.0, 0.2)
        m.running_mean.normal_(0.0, 0.1)
        m.running_var.uniform_(0.5, 2.0)
net.eval()
for p in net.parameters():
    p.requires_grad_(False)
trunk = [net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, net.maxpool1, net.Conv2d_3b_1x1,
         net.Conv2d_4a_3x3, net.maxpool2, net.Mixed_5b, net.Mixed_5c, net.Mixed_5d]
kept = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3", "Mixed_5b",
        "Mixed_5c", "Mixed_5d")


def mixed2(x):
    for m in trunk:
        x = m(x)
    return x


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def make_image(seed):
    """A grey speckled field with a few saturated colour blobs, 299x299 (no resizing in preprocessing)."""
    rng = np.random.default_rng(seed)
    grey = rng.gamma(2.0, 40.0, size=(299, 299)).clip(0, 255)
    img = np.repeat(grey[:, :, None], 3, axis=2)
    yy, xx = np.mgrid[0:299, 0:299]
    for _ in range(4):
        cy, cx, r = rng.uniform(60, 240), rng.uniform(60, 240), rng.uniform(8, 25)
        img[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.choice([[230, 40, 30], [30, 60, 220], [240, 220, 40]])
    return img.astype(np.uint8)


def tensor_of(img):
    return (torch.from_numpy(np.array(img)).permute(2, 0, 1).float().unsqueeze(0) / 255.0 - MEAN) / STD


train = torch.cat([tensor_of(make_image(100 + i)) for i in range(6)])
with torch.no_grad():
    acts = mixed2(train)
ref_map = acts.mean(0, keepdim=True)
ref_input = train.mean(0, keepdim=True)
pooled = acts.mean((2, 3))
members = []
for i in range(2):
    g = torch.Generator().manual_seed(10 + i)
    members.append({"mean": pooled.mean(0), "std": pooled.std(0) + 0.05,
                    "weight": torch.randn(4, 288, generator=g) * 0.2, "bias": torch.randn(4, generator=g) * 0.1})

model = {"__meta__": {"format": "oess-model", "format_version": "1", "oess": "oracle", "task": "oess4",
                      "classes": '["0", "1", "2", "3"]', "arch": "inception_v3", "weights": "oracle",
                      "transform_input": "false", "preprocessing": "torchvision", "crop": "none",
                      "dicom_frame": "0", "pooling": "avg", "taps": json.dumps(["mixed2", "mixed2"]),
                      "members": "[]", "config": "", "metrics": "{}"}}
for k, v in net.state_dict().items():
    if k.split(".")[0] in kept:
        model["backbone." + k] = v.clone()
for i, m in enumerate(members):
    for part, t in m.items():
        model[f"member{i}.{part}"] = t.clone()
model["reference.mixed2"] = ref_map
model["reference.input"] = ref_input
model_path = os.path.join(work, "oracle_model.pt")
torch.save(model, model_path)

images = []
for i in range(3):
    path = os.path.join(work, f"img{i}.png")
    Image.fromarray(make_image(i)).save(path)
    images.append(path)


net64 = copy.deepcopy(net).double()  # the probabilities' reference
trunk64 = [getattr(net64, n) for n in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                                       "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                                       "Mixed_5d")]


def probs_float64(x):
    a = x.double()
    for m in trunk64:
        a = m(a)
    f = a.mean((2, 3))
    return torch.stack([torch.softmax(((f - m["mean"].double()) / m["std"].double()) @ m["weight"].double().T
                                      + m["bias"].double(), 1) for m in members]).mean(0)


def member_mean_probs(a):
    f = a.mean((2, 3))
    return torch.stack([torch.softmax(((f - m["mean"]) / m["std"]) @ m["weight"].T + m["bias"], 1)
                        for m in members]).mean(0)


def gradcam(x, k):
    with torch.no_grad():
        a = mixed2(x)
    a.requires_grad_(True)
    g, = torch.autograd.grad(member_mean_probs(a)[0, k], a)
    cam = F.relu((g.mean((2, 3), keepdim=True) * (a - ref_map)).sum(1, keepdim=True))
    return F.interpolate(cam, size=(299, 299), mode="bilinear", align_corners=False)[0, 0].detach().numpy()


def integrated_gradients(x, k, steps=8):
    alpha = ((torch.arange(steps, dtype=torch.float32) + 0.5) / steps).view(-1, 1, 1, 1)
    xs = (ref_input + alpha * (x - ref_input)).requires_grad_(True)
    g, = torch.autograd.grad(member_mean_probs(mixed2(xs))[:, k].sum(), xs)
    ig = (g.mean(0, keepdim=True) * (x - ref_input)).sum(1)[0].numpy().astype(np.float64)
    sigma = 0.02 * 299
    radius = int(round(sigma * 8 + 1)) // 2  # OpenCV's kernel for float images: round(8 sigma + 1) | 1 taps
    smooth = scipy.ndimage.gaussian_filter(ig, sigma, mode="reflect", truncate=radius / sigma)
    return np.maximum(smooth, 0)


def scaled(m):
    return m / m.max() if m.max() > 0 else m


failures = []
for method in ("gradcam", "ig", "gradcam-ig"):
    heat = os.path.join(work, "heat-" + method)
    out = os.path.join(work, f"scores-{method}.csv")
    p = subprocess.run([oess, "score", "--model", model_path, "--csv", out, "--heatmap", heat, "--heatmap-data",
                        "--heatmap-method", method, *images], capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stdout, p.stderr)
        sys.exit(f"oess score --heatmap-method {method} failed with exit {p.returncode}")
    rows = {r["path"]: r for r in csv.DictReader(open(out))}
    for path in images:
        x = tensor_of(np.asarray(Image.open(path).convert("RGB")))
        with torch.no_grad():
            probs = probs_float64(x)[0]
        k = int(probs.argmax())
        got = np.array([float(rows[path][f"p{j}"]) for j in range(4)])
        dp = np.abs(got - probs.numpy()).max()
        if dp > 1e-5 or int(rows[path]["pred"]) != k:
            failures.append(f"{method} {os.path.basename(path)}: probabilities differ by {dp:.2e}")
        if method == "gradcam":
            want = scaled(gradcam(x, k))
        elif method == "ig":
            want = scaled(integrated_gradients(x, k))
        else:
            want = scaled(gradcam(x, k) * integrated_gradients(x, k))
        stem = os.path.basename(path)[:-4]
        got_map = np.asarray(Image.open(os.path.join(heat, f"{stem}_{method}.tiff")), dtype=np.float64)
        d = np.abs(got_map - want).max()
        print(f"{method:10s} {stem}: grade {k}, probabilities within {dp:.1e}, map within {d:.1e} of its maximum")
        if got_map.shape != want.shape or d > (1e-4 if method == "gradcam" else 1e-2):
            failures.append(f"{method} {stem}: map differs by {d:.2e} (shape {got_map.shape})")
print(f"{len(failures)} failure(s)" + "".join("\n  " + f for f in failures))
sys.exit(1 if failures else 0)
