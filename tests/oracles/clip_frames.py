#!/usr/bin/env python3
"""Clip decoding (issue #33) against an independent decoder: PyAV (python3-av, FFmpeg's libraries used from
Python) and pydicom.

usage: clip_frames.py OESS WORKDIR

The test writes its own clips of moving coloured shapes on noise:
- lossless.avi  FFV1 in AVI, 23 frames: oess's frames must equal the drawn frames exactly;
- lossy.mp4     H.264 (libx264, yuv420p) in MP4, 30 frames: oess's frames must equal PyAV's decoding of the
                same file to within 2 grey levels (the same bitstream; only the colour conversion may differ);
- mpeg4.mov     MPEG-4 part 2 in MOV, 12 frames: likewise;
- multi.dcm     an uncompressed RGB multi-frame DICOM (pydicom), 9 frames: exact.
For each, `oess data frames` reports the frame count the oracle counts, and the frames it samples are the
documented indices (frames N: floor((2i + 1) n / 2N); every K). Then the bad inputs: a truncated MP4, a file
with no decodable frame, a text file named .mp4 -> exit 1 naming the file.
"""
import os
import subprocess
import sys

import av
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

oess, work = sys.argv[1], sys.argv[2]
os.makedirs(work, exist_ok=True)
failures = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def frames(n, w=96, h=64, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for t in range(n):
        f = rng.integers(0, 60, (h, w, 3), dtype=np.uint8)
        x = 5 + 3 * t % (w - 20)
        f[20:40, x:x + 16] = (40, 200, 240)  # BGR
        f[5:12, 10 + t % 30:20 + t % 30] = (230, 60, 20)
        out.append(f)
    return out


def write_video(path, bgr, codec, pix_fmt):
    with av.open(path, "w") as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = bgr[0].shape[1], bgr[0].shape[0], pix_fmt
        for f in bgr:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="bgr24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def pyav_frames(path):
    with av.open(path) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def write_dicom(path, bgr):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"  # ultrasound multi-frame
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "US", "P1"
    ds.Rows, ds.Columns, ds.NumberOfFrames = bgr[0].shape[0], bgr[0].shape[1], len(bgr)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = np.stack([f[:, :, ::-1] for f in bgr]).tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


def oess_frames(path, *sampling):
    out = os.path.join(work, "out_" + os.path.basename(path).replace(".", "_") + "_".join(sampling))
    p = subprocess.run([oess, "data", "frames", path, "--out", out, *sampling], capture_output=True, text=True)
    if p.returncode != 0:
        return p, {}
    got = {}
    for name in sorted(os.listdir(out)):
        got[int(name.rsplit("_f", 1)[1][:5])] = np.asarray(Image.open(os.path.join(out, name)).convert("RGB"))[:, :, ::-1]
    return p, got


def expected_indices(n, want):
    return list(range(n)) if n <= want else [(2 * i + 1) * n // (2 * want) for i in range(want)]


cases = []
drawn = frames(23, seed=1)
write_video(os.path.join(work, "lossless.avi"), drawn, "ffv1", "bgr0")
cases.append(("lossless.avi", drawn, 0))
write_video(os.path.join(work, "lossy.mp4"), frames(30, seed=2), "libx264", "yuv420p")
cases.append(("lossy.mp4", pyav_frames(os.path.join(work, "lossy.mp4")), 2))
write_video(os.path.join(work, "mpeg4.mov"), frames(12, seed=3), "mpeg4", "yuv420p")
cases.append(("mpeg4.mov", pyav_frames(os.path.join(work, "mpeg4.mov")), 2))
dicom = frames(9, seed=4)
write_dicom(os.path.join(work, "multi.dcm"), dicom)
check(len(pydicom.dcmread(os.path.join(work, "multi.dcm")).pixel_array) == 9, "pydicom reads the DICOM's 9 frames")
cases.append(("multi.dcm", dicom, 0))

for name, truth, tol in cases:
    path = os.path.join(work, name)
    n = len(truth)
    for sampling, want in ((["--frames", "5"], expected_indices(n, 5)), (["--every", "4"], list(range(0, n, 4))),
                           (["--frames", "100"], list(range(n)))):
        p, got = oess_frames(path, *sampling)
        ok = p.returncode == 0 and f" {n} frame(s)" in p.stdout
        check(ok, f"{name}: oess counts {n} frames, as the oracle ({p.stdout.strip()[:120]}{p.stderr[-200:]})")
        check(sorted(got) == want, f"{name} {' '.join(sampling)}: frames {sorted(got)}, expected {want}")
        gap = max((int(np.abs(got[i].astype(int) - truth[i].astype(int)).max()) for i in got if i < n), default=999)
        check(gap <= tol, f"{name} {' '.join(sampling)}: frames equal the oracle's within {tol} (largest {gap})")

# Bad input: named, exit 1.
whole = open(os.path.join(work, "lossy.mp4"), "rb").read()
bad = {"truncated.mp4": whole[: len(whole) // 3], "text.mp4": b"not a video at all\n",
       "empty.avi": b""}
for name, data in bad.items():
    path = os.path.join(work, name)
    open(path, "wb").write(data)
    p = subprocess.run([oess, "data", "frames", path], capture_output=True, text=True)
    if name == "truncated.mp4" and p.returncode == 0:
        # FFmpeg decodes what precedes the cut: fewer frames, said so; never a crash.
        check(" frame(s)" in p.stdout, f"{name}: read up to the cut ({p.stdout.strip()[:100]})")
        continue
    check(p.returncode == 1 and name in p.stderr, f"{name}: exit 1 naming the file ({p.returncode}: {p.stderr.strip()[:160]})")

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
