"""Every bad input oess is known to meet, tried on the real command: each must end with exit 1 (failed work) or
2 (bad usage) — never a signal — and a message naming the file, line, key or tensor.

usage: bad_inputs.py OESS WORKDIR [--markdown]
--markdown prints the table of docs/RELIABILITY.md (the error line of each: `oess: error: ...`, or the
command line parser's) (checked by the docs test `docs.reliability_table`).
"""
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from collections import OrderedDict

import av
import numpy as np
import torch
from PIL import Image

oess, work = sys.argv[1], sys.argv[2]
markdown = "--markdown" in sys.argv
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
W = work


def put(name, data):
    path = os.path.join(W, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    return path


def tsave(name, obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return put(name, buf.getvalue())


# inputs
img = Image.new("RGB", (64, 48), (40, 40, 40))
good_png = os.path.join(W, "img", "good.png")
os.makedirs(os.path.dirname(good_png))
img.save(good_png)
Image.new("F", (8, 8)).save(os.path.join(W, "img", "float.tif"))
put("img/text.png", "this is not an image\n")
put("img/empty.png", b"")
png_bytes = open(good_png, "rb").read()
put("img/truncated.png", png_bytes[: len(png_bytes) // 2])
# clips (issue #33): a tiny H.264 MP4 cut short, a text file named .mp4, an empty .avi


def write_video(path, codec, pix_fmt):
    """Six 64 x 48 grey frames, 20 levels apart, encoded with PyAV."""
    with av.open(path, "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, pix_fmt
        for t in range(6):
            for pk in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * t, np.uint8), format="bgr24")):
                c.mux(pk)
        for pk in s.encode():
            c.mux(pk)


good_mp4 = os.path.join(W, "clip", "good.mp4")
os.makedirs(os.path.dirname(good_mp4))
write_video(good_mp4, "libx264", "yuv420p")
mp4_bytes = open(good_mp4, "rb").read()
put("clip/truncated.mp4", mp4_bytes[: len(mp4_bytes) // 3])
put("clip/text.mp4", "this is not a video\n")
put("clip/empty.avi", b"")
# an FFV1 AVI whose FourCC says a codec no FFmpeg has ("ZZZZ"), and a multi-frame DICOM whose NumberOfFrames (10)
# is more than its pixel data holds (6)
ffv1 = os.path.join(W, "clip", "ffv1.avi")
write_video(ffv1, "ffv1", "bgr0")
put("clip/codec.avi", open(ffv1, "rb").read().replace(b"FFV1", b"ZZZZ"))


def short_dicom(name):
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.5.1.4.1.1.3.1", generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = os.path.join(W, name)
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID, "US"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 48, 64, 10
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(6 * 48 * 64 * 3)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)
    return path


short_dicom("clip/frames.dcm")
m_ok = put("m/ok.csv", f"path,score,patient\n{good_png},0,P1\n")
# readers (issue #34): a grade outside 0-3, a reader with no grade, a grades file naming another image
put("r/readers.csv", f"path,patient,r1,r2\n{good_png},P1,2,\n{W}/img/float.tif,P2,1,\n")
put("r/range.csv", f"path,patient,r1,r2\n{good_png},P1,2,5\n{W}/img/float.tif,P2,1,1\n")
put("r/other.csv", "path,reader,grade\n/no/such/image.png,r3,1\n")
put("m/score4.csv", f"path,score\n{good_png},4\n")
put("m/score_x.csv", f"path,score\n{good_png},two\n")
put("m/nocol.csv", f"file,grade\n{good_png},1\n")
put("m/dup.csv", f"path,score\n{good_png},1\n{good_png},2\n")
put("m/quote.csv", f'path,score\n"{good_png},1\n')
put("m/fields.csv", f"path,score\n{good_png},1,extra\n")
put("m/empty.csv", "path,score\n")
put("m/missing_img.csv", "path,score\nnowhere.png,1\n")
put("m/leak.csv", "path,score,patient\n" + "".join(f"{good_png.replace('good', f'g{i}')},{i % 4},P{i % 2}\n" for i in range(16)))
for i in range(16):
    shutil.copy(good_png, good_png.replace("good", f"g{i}"))
tsave("w/ordered.pt", OrderedDict(a=torch.zeros(2)))
tsave("w/legacy.pt", {"a": torch.zeros(2)}, _use_new_zipfile_serialization=False)
tsave("w/nested.pt", {"state_dict": {"a": torch.zeros(2)}, "epoch": 3})
# LibTorch 1.13 cannot unpickle a dict of exactly one entry (pickle's SETITEM opcode): two entries each.
d = tsave("w/dict.pt", {"features.0.weight": torch.zeros(64, 3, 5, 5), "features.0.bias": torch.zeros(64)})
tsave("w/one_entry.pt", {"features.0.weight": torch.zeros(64, 3, 3, 3)})
put("w/truncated.pt", open(d, "rb").read()[:300])
put("w/empty.pt", b"")
hdr = json.dumps({"a": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}).encode()
put("w/short.safetensors", struct.pack("<Q", len(hdr)) + hdr + bytes(10))
put("w/huge_header.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
put("p/sum.csv", "path,truth,pred,p0,p1,p2,p3\na.png,0,0,0.5,0.5,0.5,0\n")
put("p/label.csv", "path,truth,pred,p0,p1,p2,p3\na.png,5,0,1,0,0,0\n")
put("p/nocol.csv", "path,truth,p0\na.png,0,1\n")
put("p/onegroup.csv", "path,truth,pred,p1,scanner\na.png,0,0,0.1,A\nb.png,1,1,0.9,A\n")
put("f/notfeat.pt", b"PK\x03\x04garbage")
put("c/unknown.yaml", "classifier:\n  early_stoping:\n    patience: 3\n")
put("c/type.yaml", "classifier:\n  early_stopping:\n    patience: ten\n")
put("c/enum.yaml", "data:\n  split:\n    method: random\n")
put("c/syntax.yaml", "seed: [1\n")
put("c/a.yaml", "base: b.yaml\n")
put("c/b.yaml", "base: a.yaml\n")
put("c/tap.yaml", "features:\n  layers: [mixed11]\n")
put("c/single.yaml", f"features:\n  layers: [mixed0]\noutput:\n  dir: {W}/c/never\n")
put("c/crop.yaml", "data:\n  crop: rect:1,2\n")
put("c/mask.yaml", "data:\n  mask: [annotations, text]\n")
put("c/platt4.yaml", "calibration:\n  method: platt\n")
put("c/clip_pooling.yaml", "data:\n  clip: {pooling: median}\n")
put("c/weights.yaml", "backbone:\n  weights: /no/such/weights.pt\n")
put("c/counts.yaml", f"data:\n  synthetic:\n    dir: {W}/synth\n    counts: [1, 1, 1, 1]\n")
put(f"synth/labels.csv", f"path,score\n{good_png},0\n{good_png.replace('good', 'g1')},1\n{good_png.replace('good', 'g2')},2\n{good_png.replace('good', 'g3')},3\n".replace(f"{good_png.replace('good', 'g1')}", "g1x"))
put("c/leak.yaml", f"data:\n  manifest: {W}/m/leak.csv\n  split: {{val_per_class: 1, test_per_class: 1}}\nfeatures: {{cache: none}}\noutput:\n  dir: {W}/leakrun\n")
mdl = tsave("mdl/newer.pt", {"__meta__": {"format": "oess-model", "format_version": "99", "oess": "9.9"},
                             "member0.mean": torch.zeros(3)})
tsave("mdl/notmodel.pt", {"a": torch.zeros(2), "b": torch.zeros(2)})
tsave("mdl/shapes.pt", {"__meta__": {"format": "oess-model", "format_version": "1", "task": "oess4", "arch": "inception_v3",
                                     "taps": '["mixed0"]'}, "member0.mean": torch.zeros(3), "member0.std": torch.ones(3),
                        "member0.weight": torch.zeros(4, 5), "member0.bias": torch.zeros(4)})

cases = [
    # (what, expected rc, message regex, command...)
    ("unknown subcommand", 2, r"frobnicate", ["frobnicate"]),
    ("unknown option", 2, r"--bogus", ["--bogus"]),
    ("manifest: file missing", 1, r"no/such\.csv", ["baseline", "--manifest", "no/such.csv"]),
    ("manifest: score 4", 1, r"score4\.csv:2: .*4", ["baseline", "--manifest", f"{W}/m/score4.csv"]),
    ("manifest: score not a number", 1, r"score_x\.csv:2: .*two", ["baseline", "--manifest", f"{W}/m/score_x.csv"]),
    ("manifest: required column missing", 1, r"nocol\.csv:1: missing required column", ["baseline", "--manifest", f"{W}/m/nocol.csv"]),
    ("manifest: duplicate path", 1, r"dup\.csv:3: path .* already listed on line 2", ["baseline", "--manifest", f"{W}/m/dup.csv"]),
    ("manifest: unterminated quote", 1, r"quote\.csv:2: .*quote", ["baseline", "--manifest", f"{W}/m/quote.csv"]),
    ("manifest: row with an extra field", 1, r"fields\.csv:2: ", ["baseline", "--manifest", f"{W}/m/fields.csv"]),
    ("manifest: header only", 1, r"empty\.csv: empty manifest", ["baseline", "--manifest", f"{W}/m/empty.csv"]),
    ("manifest: image file missing", 1, r"missing_img\.csv:2: .*nowhere\.png", ["baseline", "--manifest", f"{W}/m/missing_img.csv"]),
    ("split: too few images per grade", 1, r"ok\.csv: grade 0 has 1, .*fewer than the 44", ["baseline", "--manifest", m_ok]),
    ("split: a patient in training and test", 1, r"leak\.csv: the per_class split puts 2 patient\(s\) in both training and test: P0, P1",
     ["baseline", "--manifest", f"{W}/m/leak.csv", "--val-per-class", "1", "--test-per-class", "1"]),
    ("image: text file named .png", 1, r"text\.png: cannot decode image", ["score", "--model", f"{W}/mdl/none.pt", f"{W}/img/text.png"]),
    ("weights: OrderedDict (state_dict())", 1, r"ordered\.pt: .*convert_weights\.py", ["weights", "inspect", f"{W}/w/ordered.pt"]),
    ("weights: legacy torch format", 1, r"legacy\.pt: .*legacy.*convert_weights\.py", ["weights", "inspect", f"{W}/w/legacy.pt"]),
    ("weights: nested checkpoint", 1, r"nested\.pt: .*convert_weights\.py", ["weights", "inspect", f"{W}/w/nested.pt"]),
    ("weights: truncated zip", 1, r"truncated\.pt: truncated or corrupt", ["weights", "inspect", f"{W}/w/truncated.pt"]),
    ("weights: empty file", 1, r"empty\.pt: .*empty", ["weights", "inspect", f"{W}/w/empty.pt"]),
    ("weights: safetensors data shorter than its header says", 1, r"short\.safetensors: .*\ba\b", ["weights", "inspect", f"{W}/w/short.safetensors"]),
    ("weights: safetensors header length past the file", 1, r"huge_header\.safetensors: ", ["weights", "inspect", f"{W}/w/huge_header.safetensors"]),
    ("weights: a dict of one entry (LibTorch 1.13 cannot unpickle it)", 1, r"one_entry\.pt: cannot read this torch file.*convert_weights\.py",
     ["weights", "inspect", f"{W}/w/one_entry.pt"]),
    ("weights: a tensor of the wrong shape", 1, r"features\.0\.weight: file \[64, 3, 5, 5\] vs network \[64, 3, 3, 3\]",
     ["weights", "check", "--arch", "vgg16", "--features-only", f"{W}/w/dict.pt"]),
    ("features: not a feature file", 1, r"notfeat\.pt: truncated or corrupt torch zip file",
     ["sweep", "--features", f"{W}/f/notfeat.pt", "--manifest", m_ok]),
    ("predictions: probabilities not summing to 1", 1, r"sum\.csv:2: .*sum", ["evaluate", "--predictions", f"{W}/p/sum.csv"]),
    ("predictions: label outside 0..3", 1, r"label\.csv:2: .*5", ["evaluate", "--predictions", f"{W}/p/label.csv"]),
    ("predictions: missing column", 1, r"nocol\.csv:1: .*needs path, truth, pred", ["evaluate", "--predictions", f"{W}/p/nocol.csv"]),
    ("evaluate --by: no such column", 2, r"onegroup\.csv:1: no column \"centre\" to group by.*scanner", ["evaluate", "--predictions", f"{W}/p/onegroup.csv", "--by", "centre"]),
    ("evaluate --by: one group only", 2, r"onegroup\.csv: column \"scanner\" holds one group only", ["evaluate", "--predictions", f"{W}/p/onegroup.csv", "--by", "scanner"]),
    ("config: file missing", 2, r"nope\.yaml: no such config file", ["run", f"{W}/c/nope.yaml"]),
    ("config: unknown key", 2, r"unknown\.yaml:2: classifier\.early_stoping: unknown key, did you mean classifier\.early_stopping\?",
     ["run", f"{W}/c/unknown.yaml"]),
    ("config: wrong type", 2, r"type\.yaml:3: classifier\.early_stopping\.patience: expected an integer, got \"ten\"", ["run", f"{W}/c/type.yaml"]),
    ("config: value not allowed", 2, r"enum\.yaml:3: data\.split\.method: expected one of per_class, stratified, grouped, column",
     ["run", f"{W}/c/enum.yaml"]),
    ("config: YAML syntax", 2, r"syntax\.yaml:2:1: YAML syntax", ["run", f"{W}/c/syntax.yaml"]),
    ("config: circular base", 2, r"circular base: a\.yaml -> b\.yaml -> a\.yaml", ["run", f"{W}/c/a.yaml"]),
    ("config: bad override", 2, r"--set \"seed\": expected key\.path=value", ["run", f"{W}/c/tap.yaml", "--set", "seed"]),
    ("config: unknown tap", 2, r"features\.layers: unknown inception_v3 tap \"mixed11\"", ["run", f"{W}/c/tap.yaml"]),
    ("config: bad crop", 2, r"data\.crop: ", ["run", f"{W}/c/crop.yaml"]),
    ("config: Platt scaling with the four grades", 2, r"calibration\.method: platt .*binary", ["run", f"{W}/c/platt4.yaml"]),
    ("clip: truncated MP4", 1, r"truncated\.mp4: cannot open the video", ["data", "frames", f"{W}/clip/truncated.mp4"]),
    ("clip: text file named .mp4", 1, r"text\.mp4: cannot open the video", ["data", "frames", f"{W}/clip/text.mp4"]),
    ("clip: empty .avi", 1, r"empty\.avi: cannot open the video", ["data", "frames", f"{W}/clip/empty.avi"]),
    ("clip: a codec this FFmpeg lacks (FourCC ZZZZ)", 1, r"codec\.avi: cannot open the video .*codec",
     ["data", "frames", f"{W}/clip/codec.avi"]),
    ("clip: DICOM NumberOfFrames beyond its pixel data", 1, r"frames\.dcm: NumberOfFrames says 10 but the pixel data holds 6",
     ["data", "frames", f"{W}/clip/frames.dcm"]),
    ("clip: data.clip.pooling not mean or max", 2, r"data\.clip\.pooling", ["run", f"{W}/c/clip_pooling.yaml"]),
    ("readers: a grade outside 0-3", 1, r"range\.csv:2: reader r2: grade \"5\"", ["agreement", f"{W}/r/range.csv", "--readers", "r1,r2"]),
    ("readers: a reader with no grade at all", 1, r"reader r2 gave no grade at all", ["agreement", f"{W}/r/readers.csv", "--readers", "r1,r2"]),
    ("readers: a grades file naming an image not in the manifest", 1, r"other\.csv:2: /no/such/image\.png is not an image of the manifest",
     ["agreement", f"{W}/r/range.csv", "--readers", "r1", "--grades", f"{W}/r/other.csv"]),
    ("readers: one reader only", 2, r"agreement needs two readers or more", ["agreement", f"{W}/r/range.csv", "--readers", "r1"]),
    ("read: --port out of range", 2, r"--port 70000", ["read", f"{W}/r/range.csv", "--reader", "a", "--out", f"{W}/r/a.csv", "--port", "70000"]),
    ("config: bad mask entry", 2, r"data\.mask.*\"text\"", ["run", f"{W}/c/mask.yaml"]),
    ("config: weights file missing", 2, r"backbone\.weights: /no/such/weights\.pt: no such weights file", ["run", f"{W}/c/weights.yaml"]),
    ("run: --slurm with --stage", 2, r"--slurm: .*give no --stage", ["run", f"{W}/c/single.yaml", "--slurm", f"{W}/jobs", "--stage", "sweep.."]),
    ("run: --fold on a single split", 2, r"--fold 1: data.split.method is .*, not kfold", ["run", f"{W}/c/single.yaml", "--fold", "1"]),
    ("run: bad --stage", 2, r"--stage \"fit\": \"fit\" is not a stage", ["run", f"{W}/c/tap.yaml", "--stage", "fit"]),
    ("run: a patient in training and test", 1, r"leak\.csv: the per_class split puts 2 patient\(s\) in both training and test.*data\.allow_patient_overlap",
     ["run", f"{W}/c/leak.yaml"]),
    ("model: newer format version", 1, r"newer\.pt: model format version 99 is newer than this oess reads \(1\)",
     ["score", "--model", f"{W}/mdl/newer.pt", good_png]),
    ("model: not an oess model", 1, r"notmodel\.pt: not an oess model", ["score", "--model", f"{W}/mdl/notmodel.pt", good_png]),
    ("model: member tensors that do not fit", 1, r"shapes\.pt: member 0 tensors do not fit together",
     ["score", "--model", f"{W}/mdl/shapes.pt", good_png]),
    ("model: file missing", 1, r"none\.pt: no such model file", ["score", "--model", f"{W}/mdl/none.pt", good_png]),
    ("score: unknown heat-map method", 2, r"--heatmap-method: cam not in \{gradcam,ig,gradcam-ig\}",
     ["score", "--model", f"{W}/mdl/none.pt", "--heatmap", f"{W}/heat", "--heatmap-method", "cam", good_png]),
]
# the image case needs a readable model; use a missing one only where the model is the point
cases = [c for c in cases if c[0] != "image: text file named .png"]
for name, path in [("text file named .png", "text.png"), ("empty file", "empty.png"), ("truncated PNG", "truncated.png"),
                   ("32-bit float TIFF", "float.tif")]:
    cases.append((f"image: {name}", 1, re.escape(path) + r": (cannot decode|unsupported sample type|.*empty)",
                  ["baseline", "--manifest", put(f"m/img_{path}.csv", f"path,score\n{W}/img/{path},0\n"),
                   "--val-per-class", "0", "--test-per-class", "0"]))

failures = 0
rows = []
for what, rc, regex, args in cases:
    p = subprocess.run([oess, *args], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip() and not ln.startswith("Run with --help")]
    errors = [ln for ln in lines if ln.startswith("oess: error:")]
    msg = (errors or lines or [""])[-1]
    ok = p.returncode == rc and re.search(regex, p.stdout + p.stderr, re.S) is not None
    if not ok:
        failures += 1
        print(f"FAIL: {what}: exit {p.returncode} (expected {rc}), last line: {msg}", file=sys.stderr)
    elif not markdown:
        print(f"ok: {what}: exit {rc}")
    shown = msg.replace(W + "/", "").replace("|", "\\|")
    rows.append(f"| {what} | {rc} | `{shown[:160]}{'…' if len(shown) > 160 else ''}` |")
if markdown:
    print("| bad input | exit | message (last line; paths shortened) |\n|---|---|---|")
    print("\n".join(rows))
print(f"{failures} failure(s)", file=sys.stderr)
sys.exit(1 if failures else 0)
