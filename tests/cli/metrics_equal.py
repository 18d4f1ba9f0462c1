"""metrics_equal.py EVALUATED RUN_METRICS: exit 0 when RUN_METRICS (a metrics.json that oess baseline, sweep or
run wrote) holds exactly EVALUATED (`oess evaluate` on the same predictions) plus what qualifies the result
("warnings", "split", "cross_validation", "build": what it ran on, "calibration": what scaled it), and that "warnings" is there."""
import json
import sys

evaluated, run = (json.load(open(p)) for p in sys.argv[1:3])
extra = {k: run.pop(k) for k in ("warnings", "split", "cross_validation", "build", "calibration") if k in run}
ok = "warnings" in extra and run == evaluated
print("metrics.json = oess evaluate + " + ", ".join(extra) if ok else "metrics.json differs from oess evaluate")
sys.exit(0 if ok else 1)
