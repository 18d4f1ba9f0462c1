"""`oess run` on cine loops (issue #33), checked from outside.

usage: run_clips.py OESS WORKDIR KERAS_WEIGHTS

`oess synth --clips 16` makes 120 pulsing clips of 20 patients: the synovial flow of the clip's grade shows
in about a quarter of the frames, and the middle frame may show none. With the Keras ImageNet weights:
- K-fold (4 folds) reading 8 frames per clip, pooled by max, predicts every clip exactly once, one row per
  clip, every patient's clips in one fold (asserted over predictions.csv and the manifest), no clip file in
  two folds;
- the same with data.clip.frames 1 (the middle frame alone) does clearly worse: `oess compare` (paired
  bootstrap by patient, McNemar exact) puts max's accuracy gain's 95% interval above 0 and p below 0.01;
- a grouped split: `oess score` on the exported model gives predictions.csv's probabilities for the test
  clips (1e-4), one row per clip; --frames-csv scores each sampled frame alone, its key frame (the highest
  P(diseased)) scoring as a one-frame clip of that frame does; a clip shorter than data.clip.frames is used, with the warning
  clip_short in metrics.json (also with data.check off);
- 32 of the clips as multi-frame DICOM with data.clip.dicom: a run, and `oess score` on its export reading
  them as clips (key frames) with predictions.csv's probabilities;
- a clip copied under another patient is refused as a duplicate across folds; a truncated clip, and a DICOM
  whose NumberOfFrames is more than its pixel data holds, stop the run (exit 1) naming the manifest line and
  the file, with no predictions written.
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import av  # noqa: E402
from pydicom.dataset import FileDataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402

from harness import Harness, folds_per_patient, rows, write_rows  # noqa: E402  (tests/harness.py)

oess, work, weights = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "30,30,30,30", "--patients", "20", "--clips", "16", "--size", "192x144",
    "--seed", "5", "--threads", "2")
labels = rows(os.path.join(synth, "labels.csv"))
check(len(labels) == 120 and all(r["path"].endswith(".avi") for r in labels), "120 clips made")


def config(name, manifest, split, extra_data=""):
    path = os.path.join(work, name + ".yaml")
    with open(path, "w") as f:
        f.write(f"""name: {name}
data:
  manifest: {manifest}
  split: {split}
  clip: {{frames: 8, pooling: max}}
{extra_data}backbone: {{weights: {weights}}}
features: {{layers: [mixed2, mixed4], cache: {work}/cache}}
classifier: {{max_epochs: 60}}
ensemble: {{members: 3}}
report: {{bootstrap: 200, formats: [md]}}
output:
  dir: {work}/runs/{name}
  export: [oess]
""")
    return path


kfold = "{method: kfold, folds: 4, val_fraction: 0.25}"
manifest = os.path.join(synth, "labels.csv")
run("run", config("max8", manifest, kfold))
run("run", config("mid", manifest, kfold), "--set", "data.clip.frames=1")
pred = rows(os.path.join(work, "runs", "max8", "predictions.csv"))
check(len(pred) == 120 and len({r["path"] for r in pred}) == 120 and {r["path"] for r in pred} == {r["path"] for r in labels},
      f"K-fold: every clip predicted once, one row per clip ({len(pred)} rows)")
check(all(len(f) == 1 for f in folds_per_patient(pred, labels).values()), "K-fold: every patient's clips are in one fold")

cmp_json = os.path.join(work, "compare.json")
run("compare", os.path.join(work, "runs", "mid", "predictions.csv"), os.path.join(work, "runs", "max8", "predictions.csv"),
    "--json", cmp_json)
c = json.load(open(cmp_json))["comparisons"][0]
check(c["accuracy_difference_ci95"][0] > 0 and c["mcnemar_exact_p"] < 0.01,
      f"max over 8 frames beats the middle frame: accuracy {100 * c['accuracy']:.1f}% vs "
      f"{100 * c['accuracy_reference']:.1f}%, difference CI {c['accuracy_difference_ci95']}, McNemar p "
      f"{c['mcnemar_exact_p']:.2g}")

# A short clip (4 frames, another joint of another patient) in a grouped split.
other = os.path.join(work, "short")
run("synth", "--out", other, "--counts", "0,0,0,1", "--patients", "1", "--clips", "4", "--size", "192x144",
    "--seed", "77")
short = os.path.join(other, rows(os.path.join(other, "labels.csv"))[0]["path"])
grouped_manifest = os.path.join(work, "grouped.csv")
write_rows(grouped_manifest, [{"path": os.path.join(synth, r["path"]), "score": r["score"], "patient": r["patient"]}
                              for r in labels] + [{"path": short, "score": 3, "patient": "P99"}])
run("run", config("grouped", grouped_manifest, "{method: grouped, val_fraction: 0.2, test_fraction: 0.25}"))
gdir = os.path.join(work, "runs", "grouped")
gm = json.load(open(os.path.join(gdir, "metrics.json")))
warn = [w for w in gm.get("warnings", []) if w["code"] == "clip_short"]
check(len(warn) == 1 and f"{os.path.basename(short)} (4 frames)" in warn[0]["message"], f"clip_short warns of the 4-frame clip: {warn}")
# With data.check off the warning still comes, from the clips' headers.
run("run", config("grouped_nocheck", grouped_manifest, "{method: grouped, val_fraction: 0.2, test_fraction: 0.25}"),
    "--set", "data.check=false")
gm2 = json.load(open(os.path.join(work, "runs", "grouped_nocheck", "metrics.json")))
warn2 = [w for w in gm2.get("warnings", []) if w["code"] == "clip_short"]
check(len(warn2) == 1 and f"{os.path.basename(short)} (4 frames)" in warn2[0]["message"],
      f"clip_short warns with data.check off too: {warn2}")
gp = rows(os.path.join(gdir, "predictions.csv"))
gallery = open(os.path.join(gdir, "gallery.md")).read()
check(gallery.count("![image]") == gallery.count("![heat map]") > 0,
      f"the error gallery draws each clip's heat map ({gallery.count('![heat map]')} of {gallery.count('![image]')})")
out = os.path.join(work, "scores.json")
run("score", "--model", os.path.join(gdir, "model"), *[r["path"] for r in gp], "--json", out)
scored = {s["path"]: s["p"] for s in json.load(open(out))}
gap = max(abs(float(r[f"p{k}"]) - scored[r["path"]][k]) for r in gp for k in range(4))
check(len(scored) == len(gp) and gap <= 1e-4,
      f"oess score on the exported model gives predictions.csv's probabilities for {len(gp)} test clips "
      f"(largest difference {gap:.1e})")

# Per-frame output: each sampled frame scored alone, the key frame the highest P(diseased); a one-frame clip
# made of the key frame (PyAV, lossless) scores as that frame's row.
grade3 = next(r["path"] for r in gp if r["truth"] == "3")
fcsv = os.path.join(work, "frames.csv")
run("score", "--model", os.path.join(gdir, "model"), grade3, "--frames-csv", fcsv, "--frames-plot",
    os.path.join(work, "plots"))
fr = rows(fcsv)
keys = [r for r in fr if r["key"] == "1"]
check(len(fr) == 8 and len(keys) == 1 and float(keys[0]["p_diseased"]) == max(float(r["p_diseased"]) for r in fr),
      f"--frames-csv: 8 sampled frames, one key frame, the highest P(diseased) ({[r['frame'] for r in fr]})")
key = int(keys[0]["frame"])
single = os.path.join(work, "key_frame.avi")
with av.open(grade3) as src, av.open(single, "w") as dst:
    st = dst.add_stream("ffv1", rate=25)
    st.width, st.height, st.pix_fmt = 192, 144, "bgr0"
    for i, fr_ in enumerate(src.decode(video=0)):
        if i == key:
            for pk in st.encode(av.VideoFrame.from_ndarray(fr_.to_ndarray(format="bgr24"), format="bgr24")):
                dst.mux(pk)
    for pk in st.encode():
        dst.mux(pk)
one = os.path.join(work, "one.json")
run("score", "--model", os.path.join(gdir, "model"), single, "--json", one)
p1 = json.load(open(one))[0]["p"]
gap = max(abs(p1[k] - float(keys[0][f"p{k}"])) for k in range(4))
check(gap <= 1e-4, f"the key frame's row equals scoring that frame alone as a clip (largest difference {gap:.1e})")
check(os.path.isfile(os.path.join(work, "plots", os.path.basename(grade3)[:-4] + "_frames.png")),
      "--frames-plot draws the clip's probabilities over its frames")
heat = os.path.join(work, "heat")
run("score", "--model", os.path.join(gdir, "model"), grade3, "--heatmap", heat)
want = f"{os.path.basename(grade3)[:-4]}_f{key:05d}_gradcam-ig.png"
check(os.listdir(heat) == [want], f"--heatmap on a clip draws its key frame's map ({os.listdir(heat)}, expected {want})")

# A copied clip under another patient: a duplicate across folds, refused.
dup = os.path.join(synth, "images", "copy_of_first.avi")
shutil.copyfile(os.path.join(synth, labels[0]["path"]), dup)
dup_manifest = os.path.join(work, "dup.csv")
write_rows(dup_manifest, [{"path": os.path.join(synth, r["path"]), "score": r["score"], "patient": r["patient"]}
                          for r in labels] + [{"path": dup, "score": labels[0]["score"], "patient": "P98"}])
p = run("run", config("dup", dup_manifest, kfold), rc=1)
check("copy_of_first.avi" in p.stderr and "duplicate" in p.stderr,
      f"a copied clip in another fold is refused as a duplicate ({p.stderr.strip()[-200:]})")

# A truncated clip: exit 1 naming it, nothing half-written.
bad = os.path.join(synth, "images", "truncated.avi")
whole = open(os.path.join(synth, labels[1]["path"]), "rb").read()
open(bad, "wb").write(whole[:200])
bad_manifest = os.path.join(work, "bad.csv")
write_rows(bad_manifest, [{"path": os.path.join(synth, r["path"]), "score": r["score"], "patient": r["patient"]}
                          for r in labels] + [{"path": bad, "score": 0, "patient": "P97"}])
p = run("run", config("bad", bad_manifest, kfold), rc=1)
said = p.stdout + p.stderr
check("bad.csv:122: " in said and "truncated.avi: cannot open the video" in said
      and not os.path.exists(os.path.join(work, "runs", "bad", "predictions.csv")),
      f"a truncated clip stops the run naming the manifest line and the file, no predictions written "
      f"({p.stderr.strip()[-200:]})")
# Multi-frame DICOM as clips (data.clip.dicom: true): 32 of the clips written as uncompressed RGB DICOM
# (pydicom), a grouped run, and `oess score` on its export reading them as clips (8 frames, max) again.
dcm_dir = os.path.join(work, "dicom")
os.makedirs(dcm_dir)
dcm_rows = []
for r in labels[:32]:
    with av.open(os.path.join(synth, r["path"])) as src:
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.3.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    path = os.path.join(dcm_dir, os.path.basename(r["path"])[:-4] + ".dcm")
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.Modality, ds.PatientID = "US", r["patient"]
    ds.Rows, ds.Columns, ds.NumberOfFrames = frames[0].shape[0], frames[0].shape[1], len(frames)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = b"".join(f.tobytes() for f in frames)
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)
    dcm_rows.append({"path": path, "score": r["score"], "patient": r["patient"]})
dcm_manifest = os.path.join(work, "dicom.csv")
write_rows(dcm_manifest, dcm_rows)
run("run", config("dicom", dcm_manifest, "{method: grouped, val_fraction: 0.2, test_fraction: 0.3}"), "--set",
    "data.clip.dicom=true")
dp = rows(os.path.join(work, "runs", "dicom", "predictions.csv"))
out = os.path.join(work, "dicom_scores.json")
p = run("score", "--model", os.path.join(work, "runs", "dicom", "model"), *[r["path"] for r in dp], "--json", out)
scored = {s["path"]: s for s in json.load(open(out))}
gap = max(abs(float(r[f"p{k}"]) - scored[r["path"]]["p"][k]) for r in dp for k in range(4))
check(all(scored[r["path"]].get("key_frame", -1) >= 0 for r in dp) and gap <= 1e-4,
      f"multi-frame DICOM with data.clip.dicom: scored as clips (key frames), as predictions.csv says for "
      f"{len(dp)} test files (largest difference {gap:.1e})")
# A DICOM whose NumberOfFrames (20) is more than its pixel data holds (16): the run stops at the data check,
# exit 1 naming the manifest line and the file, nothing written.
first = dcm_rows[0]["path"]
import pydicom  # noqa: E402
ds = pydicom.dcmread(first)
ds.NumberOfFrames = 20
liar = os.path.join(dcm_dir, "liar.dcm")
ds.save_as(liar)
liar_manifest = os.path.join(work, "liar.csv")
write_rows(liar_manifest, dcm_rows + [{"path": liar, "score": 1, "patient": "P96"}])
p = run("run", config("liar", liar_manifest, "{method: grouped, val_fraction: 0.2, test_fraction: 0.3}"), "--set",
        "data.clip.dicom=true", rc=1)
said = p.stdout + p.stderr
check(f"liar.csv:{len(dcm_rows) + 2}: " in said and "liar.dcm: NumberOfFrames says 20 but the pixel data holds 16" in said
      and not os.path.exists(os.path.join(work, "runs", "liar", "predictions.csv")),
      f"a DICOM with more frames in its header than its pixels stops the run naming the line and the file "
      f"({p.stderr.strip()[-240:]})")
h.finish()
