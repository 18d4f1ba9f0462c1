"""`oess manifest --labels` on a real-data layout (issue #32): BI-RADS-like labels mapped to grades, patients
from a labels column, and the labels' other columns (scanner, centre, fold) carried into the manifest.

usage: manifest_columns.py OESS WORKDIR
Checks, against the labels file as written: every image's grade is the map's value of its label, its patient
is the column's, its scanner/centre/fold are the file's; the raw label column is kept; a column named like
the manifest's own (score) is left out with a note; refusals: a label not in the map (exit 1, FILE:LINE), a
malformed map and column: without --labels (exit 2), an empty patient cell (exit 1, FILE:LINE).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from PIL import Image

from harness import Harness, rows, write_rows  # noqa: E402  (tests/harness.py)

oess, work = sys.argv[1], sys.argv[2]
h = Harness(oess, work)
check, run = h.check, h.run
data = os.path.join(work, "scans")
os.makedirs(os.path.join(data, "img"))
labels = []
for i in range(8):
    name = f"img/us_{i:02d}.png"
    Image.new("RGB", (40 + i, 30), (i * 20, 50, 90)).save(os.path.join(data, name))
    labels.append({"file": name, "birads": str(2 + i % 4), "patient_id": f"S{i // 2}", "scanner": "AB"[i // 4],
                   "centre": "north" if i < 4 else "south", "fold": str(1 + i % 2), "score": "9"})


lab = os.path.join(data, "labels.csv")
write_rows(lab, labels)
out = os.path.join(work, "manifest.csv")
p = run("manifest", data, "--labels", lab, "--key-column", "file", "--label-column", "birads",
        "--grade-map", "2=0,3=1,4=2,5=3", "--patient-from", "column:patient_id", "--out", out)
m = rows(out)
check(list(m[0]) == ["path", "score", "patient", "birads", "scanner", "centre", "fold"],
      f"manifest columns: path, score, patient, then the labels' own ({list(m[0])})")
by_file = {r["file"]: r for r in labels}
ok = len(m) == 8
for r in m:
    src = by_file[os.path.relpath(os.path.join(work, r["path"]), data)]
    ok = ok and int(r["score"]) == int(src["birads"]) - 2 and r["patient"] == src["patient_id"] and \
        r["birads"] == src["birads"] and r["scanner"] == src["scanner"] and r["centre"] == src["centre"] and \
        r["fold"] == src["fold"]
check(ok, "each image's grade is the map's value of its label; patient, scanner, centre and fold are the file's")
check('column "score" not carried over' in p.stdout, "a labels column named score is left out, with a note")
check("4 patients" in p.stdout, "the patients come from the column")
run("data", "check", out, "--split-method", "leave_group_out", "--group-column", "scanner")

# Refusals.
bad = [dict(r) for r in labels]
bad[3]["birads"] = "6"
write_rows(os.path.join(data, "bad.csv"), bad)
p = run("manifest", data, "--labels", os.path.join(data, "bad.csv"), "--key-column", "file", "--label-column",
        "birads", "--grade-map", "2=0,3=1,4=2,5=3", "--out", os.path.join(work, "m2.csv"), rc=1)
check('bad.csv:5: label "6" is not in --grade-map (2, 3, 4, 5)' in p.stderr, f"a label outside the map: {p.stderr.strip()[:120]}")
p = run("manifest", data, "--labels", lab, "--key-column", "file", "--label-column", "birads", "--grade-map", "2:0",
        "--out", os.path.join(work, "m3.csv"), rc=2)
check("is not LABEL=GRADE" in p.stderr, "a malformed --grade-map is a usage error")
p = run("manifest", data, "--patient-from", "column:patient_id", "--out", os.path.join(work, "m4.csv"), rc=2)
check("a column needs a --labels file" in p.stderr, "--patient-from column: without --labels is refused")
nop = [dict(r) for r in labels]
nop[1]["patient_id"] = ""
write_rows(os.path.join(data, "nop.csv"), nop)
p = run("manifest", data, "--labels", os.path.join(data, "nop.csv"), "--key-column", "file", "--label-column",
        "birads", "--grade-map", "2=0,3=1,4=2,5=3", "--patient-from", "column:patient_id",
        "--out", os.path.join(work, "m5.csv"), rc=1)
check("nop.csv:3:" in p.stderr and "no patient id" in p.stderr, "an empty patient cell is named by its line")
check(not any(os.path.exists(os.path.join(work, f"m{k}.csv")) for k in (2, 3, 4, 5)), "refusals write nothing")
h.finish()
