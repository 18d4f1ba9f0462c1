"""Issue #21: from a folder of images to a checked manifest. `oess manifest` on grade folders, on labels
files in three delimiters, with patients from folders, DICOM PatientID (pydicom writes the fixtures) and a
regex; `oess data check` and the run's data stage catch exact and near duplicates (a JPEG re-encode at
quality 80, 2 px smaller, written here with PIL) across grades, patients and split parts, by name; bad
input exits 1 naming the problem and writes nothing.

usage: own_images.py OESS WORKDIR
"""
import csv
import json
import os
import shutil
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import Harness, rows  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run
synth = os.path.join(work, "synth")
run("synth", "--out", synth, "--counts", "6,6,6,6", "--patients", "6", "--seed", "11", "--threads", "2")
base = rows(os.path.join(synth, "labels.csv"))
by_grade = {g: [r for r in base if int(r["score"]) == g] for g in range(4)}


def copy(src_row, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copyfile(os.path.join(synth, src_row["path"]), dst)


# 1. Grade folders (three spellings), patients from the folder level below them; other files ignored.
tree = os.path.join(work, "tree")
names = {0: "0", 1: "grade1", 2: "Grade_2", 3: "oess3"}
for g in range(4):
    for r in by_grade[g]:
        copy(r, os.path.join(tree, names[g], r["patient"], os.path.basename(r["path"])))
open(os.path.join(tree, "README.txt"), "w").write("not an image\n")
os.makedirs(os.path.join(work, "out"))
p = run("manifest", tree, "--out", f"{work}/out/labels.csv", "--patient-from", "folder")
got = rows(f"{work}/out/labels.csv")
check(len(got) == 24 and [r["path"] for r in got] == sorted(r["path"] for r in got),
      "grade folders: every image once, rows sorted by path")
check(all(r["path"].startswith("../tree/") for r in got), "paths are relative to the manifest's folder")
want = {os.path.basename(r["path"]): (r["score"], r["patient"]) for r in base}
check(all(want[os.path.basename(r["path"])] == (r["score"], r["patient"]) for r in got),
      "each image has its folder's grade and its patient folder")
check("1 file(s) that are not images ignored" in p.stdout, "the README is counted as ignored")
p = run("manifest", tree, "--out", f"{work}/out/labels.csv", rc=2)
check("--force" in p.stderr, "an existing manifest is not replaced without --force")

# 1b. The binary layout: healthy/ and diseased/ folders, written as scores 0 and 2 with label_source.
binary = os.path.join(work, "binary")
for r in base:
    copy(r, os.path.join(binary, "healthy" if int(r["score"]) < 2 else "diseased", os.path.basename(r["path"])))
p = run("manifest", binary, "--out", f"{work}/binary.csv")
got = rows(f"{work}/binary.csv")
check(len(got) == 24 and all((r["score"], r["label_source"]) == (("0", "binary:healthy") if "healthy/" in r["path"]
                                                                 else ("2", "binary:diseased")) for r in got)
      and "classifier.task: binary" in p.stdout, "healthy/diseased folders: scores 0 and 2, label_source, the task named")

# 2. A labels file in each delimiter, keyed by file name or relative path, grades written 2.0.
flat = os.path.join(work, "flat")
for r in base:
    copy(r, os.path.join(flat, "img", os.path.basename(r["path"])))
for delim, name in ((",", "comma.csv"), ("\t", "tab.tsv"), (";", "semi.csv")):
    with open(os.path.join(work, name), "w", newline="") as f:
        w = csv.writer(f, delimiter=delim)
        w.writerow(["Image", "Grade", "note"])
        for k, r in enumerate(base):
            key = os.path.basename(r["path"]) if k % 2 else "img/" + os.path.basename(r["path"])
            w.writerow([key, f"{r['score']}.0", "a;b,c"])
    run("manifest", flat, "--labels", os.path.join(work, name), "--out", f"{work}/{name}.manifest.csv")
    got = rows(f"{work}/{name}.manifest.csv")
    check(len(got) == 24 and all(want[os.path.basename(r["path"])][0] == r["score"] for r in got),
          f"labels file with delimiter {delim!r}: every image with its grade")

# 3. Patients from a regex on the path, and from DICOM PatientID (one file without an extension).
p = run("manifest", flat, "--labels", os.path.join(work, "comma.csv"), "--patient-from", r"regex:_(p\d+)_",
        "--out", f"{work}/regex.csv")
got = rows(f"{work}/regex.csv")
check(all(r["patient"] == want[os.path.basename(r["path"])][1].lower() for r in got),
      "regex:_(p\\d+)_ takes the patient from the file name")


def write_dicom(path, patient, seed):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    if patient:
        ds.PatientID = patient
    px = np.random.default_rng(seed).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 48, 64, 3, "RGB"
    ds.PlanarConfiguration, ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 0, 8, 8, 7, 0
    ds.PixelData = px.tobytes()
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.save_as(path, write_like_original=False)


dcm = os.path.join(work, "dcm")
for g in range(4):
    os.makedirs(os.path.join(dcm, str(g)))
    write_dicom(os.path.join(dcm, str(g), f"a{g}.dcm"), f"PAT-{g % 2}", g)
    write_dicom(os.path.join(dcm, str(g), f"B{g}"), f"PAT-{g % 2 + 2}", 10 + g)  # no extension
p = run("manifest", dcm, "--patient-from", "dicom", "--out", f"{work}/dcm.csv")
got = {os.path.basename(r["path"]): r["patient"] for r in rows(f"{work}/dcm.csv")}
check(len(got) == 8 and got["a3.dcm"] == "PAT-1" and got["B2"] == "PAT-2",
      "DICOM PatientID read from each file, extension-less DICOM included")
write_dicom(os.path.join(dcm, "1", "anon.dcm"), "", 99)
p = run("manifest", dcm, "--patient-from", "dicom", "--out", f"{work}/dcm2.csv", rc=1)
check("1/anon.dcm: no patient (the DICOM file has no PatientID)" in p.stderr and not os.path.exists(f"{work}/dcm2.csv"),
      "a DICOM file without PatientID is named; nothing written")

# 4. Duplicates: an exact copy in another grade folder, a near copy (JPEG q80, 2 px smaller) under another
#    patient; a different image of the same patient is not a duplicate.
dup = os.path.join(work, "dup")
shutil.copytree(tree, dup)
src = by_grade[1][2]  # in training in the split of part 5
copy(src, os.path.join(dup, names[2], "PX", "copy_of_" + os.path.basename(src["path"])))
near_src = by_grade[3][0]
im = Image.open(os.path.join(synth, near_src["path"])).convert("RGB")
os.makedirs(os.path.join(dup, names[3], "PY"))
im.resize((im.width - 2, im.height - 2)).save(os.path.join(dup, names[3], "PY", "near.jpg"), quality=80)
run("manifest", dup, "--patient-from", "folder", "--out", f"{work}/dup.csv")
p = run("data", "check", f"{work}/dup.csv")
out = p.stdout
check("2 group(s)" in out and "copy_of_" + os.path.basename(src["path"]) in out and "near.jpg" in out,
      "data check: the exact copy and the near copy are both found, by name")
check("different grades" in out and "different patients" in out, "flagged across grades and across patients")
check("[duplicate_conflicting_grades]" in out, "a duplicate across grades is a labelling-conflict warning")
same_patient = [r for r in base if r["patient"] == src["patient"] and r["path"] != src["path"]]
check(len(same_patient) > 0 and all(os.path.basename(r["path"]) not in out for r in same_patient),
      "other images of the same patient are not reported as duplicates")
p = run("data", "check", f"{synth}/labels.csv")
check("duplicates: none" in p.stdout, "the synthetic set (all images distinct) has no duplicate group")

# 4b. Unreadable images: every one listed with its manifest line, exit 1.
bad_tree = os.path.join(work, "unreadable")
shutil.copytree(tree, bad_tree)
open(os.path.join(bad_tree, "0", "garbage.jpg"), "w").write("not a picture\n")
with open(os.path.join(bad_tree, names[1], "truncated.png"), "wb") as f:
    f.write(open(os.path.join(synth, base[0]["path"]), "rb").read()[:300])
run("manifest", bad_tree, "--out", f"{work}/unreadable.csv")
lines = {os.path.basename(r["path"]): i + 2 for i, r in enumerate(rows(f"{work}/unreadable.csv"))}
p = run("data", "check", f"{work}/unreadable.csv", rc=1)
check(f"unreadable.csv:{lines['garbage.jpg']}: " in p.stdout and f"unreadable.csv:{lines['truncated.png']}: " in p.stdout
      and "2 image(s) cannot be read" in p.stdout, "both unreadable images are listed with their lines; exit 1")

# 5. Leakage: the same picture in train and test stops `oess run` naming both; allowed, it is a warning.
leak = os.path.join(work, "leak.csv")
with open(leak, "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["path", "score", "split"])
    seen = {}
    for r in base:
        g = int(r["score"])
        seen[g] = seen.get(g, 0) + 1
        w.writerow([os.path.join(synth, r["path"]), r["score"], ["test", "val", "train"][min(seen[g] - 1, 2)]])
    w.writerow([f"{dup}/{names[2]}/PX/copy_of_{os.path.basename(src['path'])}", 1, "test"])
cfg = os.path.join(work, "leak.yaml")
open(cfg, "w").write(f"""name: leak
data: {{manifest: {leak}, split: {{method: column}}}}
features: {{layers: [mixed0], cache: {work}/cache}}
classifier: {{max_epochs: 4}}
ensemble: {{members: 0}}
selection: {{allow_empty_grades: true}}
report: {{bootstrap: 20}}
output:
  dir: {work}/runs/{{name}}
""")
p = run("run", cfg, rc=1)
check("copy_of_" + os.path.basename(src["path"]) in p.stderr and os.path.basename(src["path"]) in p.stderr
      and "data.allow_duplicates" in p.stderr and not os.path.exists(f"{work}/runs"),
      "oess run: a duplicate across train and test is refused, both files named, no folder left")
p = run("data", "check", leak, "--split-method", "kfold", "--folds", "3", "--repeats", "2", rc=1)
check("copy_of_" + os.path.basename(src["path"]) in p.stderr and "different parts of the split" in p.stdout,
      "with K-fold (2 repeats) the copy in another fold is caught too")
run("run", cfg, "--set", "data.allow_duplicates=true")
w = {x["code"]: x["message"] for x in json.load(open(f"{work}/runs/leak/metrics.json"))["warnings"]}
report = open(f"{work}/runs/leak/report.md").read()
check("duplicate_across_split" in w and "copy_of_" in w["duplicate_across_split"] and "## Dataset" in report
      and "copy_of_" in report, "allowed: a warning in metrics.json, the groups in the report's Dataset section")

# 6. Bad input: exit 1 naming the problem, nothing written.
os.makedirs(os.path.join(work, "empty"))
p = run("manifest", f"{work}/empty", "--out", f"{work}/x.csv", rc=1)
check("no images" in p.stderr and not os.path.exists(f"{work}/x.csv"), "an empty folder")
p = run("manifest", flat, "--out", f"{work}/x.csv", rc=1)
check("no grade folders" in p.stderr and "--labels" in p.stderr and not os.path.exists(f"{work}/x.csv"),
      "no grade folders and no labels file")
bad = os.path.join(work, "bad.csv")
with open(bad, "w") as f:
    f.write("file,score\n" + "".join(f"{os.path.basename(r['path'])},{r['score']}\n" for r in base[:3]) +
            f"{os.path.basename(base[3]['path'])},4\nmissing_one.png,1\n")
p = run("manifest", flat, "--labels", bad, "--out", f"{work}/x.csv", rc=1)
check("bad.csv:5: grade \"4\" is not 0, 1, 2 or 3" in p.stderr and "bad.csv:6: \"missing_one.png\": no such image"
      in p.stderr and "2 problem(s) in all" in p.stderr and not os.path.exists(f"{work}/x.csv"),
      "a grade outside 0..3 and a row naming a missing file: both lines named, nothing written")

h.finish()
