"""Issue #20: `oess run --slurm ... --submit` on a real SLURM (tests/cluster/local_slurm.py starts one on this
machine and stops it, by process id, however the test ends).

usage: slurm_run.py OESS WORKDIR WEIGHTS

1. A small synthetic study (48 images, Inception-v3 with torchvision-made weights, mixed0 and mixed2, 2
   members) run locally with its own feature cache: the reference.
2. The same config as SLURM jobs with 4 extraction shards and another, empty cache: the array, the merge and
   the rest of the chain run to completion; metrics.json, predictions.csv and layers.csv are byte-identical
   to the local run's; the shards computed every image once between them and the merge computed none. A
   rerun of the same command submits nothing.
3. A shard cancelled (scancel) while pending: the merge and the rest do not run (kill_invalid_depend cancels
   them); the rerun of the same command submits only that shard, the merge and the rest, and the outputs
   are byte-identical to the local run's.
4. A grid of 2 variants (an array over the variants, then the summary): outputs byte-identical to the local
   grid's.
5. A 3-fold K-fold study: shards, merge, a job array over the folds (`oess run --fold F`, each saving
   RUN/folds/<fold>/fold.pt), then the run job that pools the saved folds without training them: outputs,
   split.csv and every fold's layers.csv byte-identical to the local run's. A fold cancelled while pending:
   the run job does not run; the rerun submits only that fold (and the merge and the run job), and the
   outputs are byte-identical.
6. Bad input: --shards 0, a partition sbatch refuses (its message shown), --submit without sbatch on PATH,
   --shard without --stage ..extract: exit 1/2, no jobs folder left.
"""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, ".."))
sys.path.insert(0, here)
from harness import Harness  # noqa: E402  (tests/harness.py)
from local_slurm import LocalSlurm  # noqa: E402

oess, work, weights = sys.argv[1:4]
if os.geteuid() != 0:
    raise SystemExit("FAIL: this test starts slurmd, which needs root")
h = Harness(oess, work)
check, run = h.check, h.run
synth = h.synth_split("12,12,12,12", 12, 7, train=8, val=2)
cfg = os.path.join(work, "study.yaml")
with open(cfg, "w") as f:
    f.write(f"""name: slurm_study
data:
  manifest: {synth}/split.csv
  split:
    method: column
backbone:
  weights: {weights}
features:
  layers: [mixed0, mixed2]
classifier:
  max_epochs: 10
selection:
  allow_empty_grades: true
ensemble:
  members: 2
report:
  bootstrap: 200
  formats: [md]
""")
OUTPUTS = ("metrics.json", "predictions.csv", "layers.csv")


def cache(name):
    return ["--set", f"features.cache={work}/cache_{name}"]


def same_outputs(run_dir):
    return all(open(os.path.join(work, "local", f), "rb").read() == open(os.path.join(run_dir, f), "rb").read()
               for f in OUTPUTS)


def extract_counts(log):
    """(from cache, computed) of an `oess run` log's extract line."""
    m = re.search(r"(\d+) from cache, (\d+) computed", open(log).read())
    return (int(m.group(1)), int(m.group(2))) if m else (-1, -1)


run("run", cfg, "--out", f"{work}/local", *cache("local"))

with LocalSlurm(os.path.join(work, "slurm")) as slurm:
    env = slurm.env
    jobs = os.path.join(work, "jobs")
    submit = ["run", cfg, "--out", f"{work}/cluster", *cache("cluster"), "--slurm", jobs, "--shards", "4", "--cpus",
              "1", "--submit"]
    p = run(*submit, env=env)
    ids = dict(line.split() for line in open(os.path.join(jobs, "jobs.txt")))
    check(set(ids) == {"extract", "merge", "run"} and ids["run"] in p.stdout,
          f"--submit: three jobs chained, ids printed and in jobs.txt ({ids})")
    check(slurm.wait_idle_queue(600), "the chain finished within 10 minutes")
    check(slurm.job_state(ids["run"]) == "COMPLETED", f"the rest of the chain: {slurm.job_state(ids['run'])}")
    check(same_outputs(f"{work}/cluster"), f"{', '.join(OUTPUTS)} byte-identical to the local run's")
    shard_counts = [extract_counts(os.path.join(jobs, "shards", str(k), "log.txt")) for k in range(1, 5)]
    merged = extract_counts(os.path.join(work, "cluster", "log.txt"))
    check(sum(c for _, c in shard_counts) == 48 and all(c in (12,) for _, c in shard_counts) and merged[1] == 0,
          f"4 shards computed {[c for _, c in shard_counts]} images; the merge read all from the cache {merged}")
    p = run(*submit, env=env)
    check("nothing to submit" in p.stdout and not slurm.squeue(), "a rerun of a finished chain submits nothing")

    # A shard cancelled while pending (one task at a time: each wants both CPUs): the chain stops there.
    jobs2 = os.path.join(work, "jobs2")
    submit2 = ["run", cfg, "--out", f"{work}/cluster2", *cache("cancel"), "--slurm", jobs2, "--shards", "4", "--cpus",
               "2", "--submit"]
    run(*submit2, env=env)
    ids2 = dict(line.split() for line in open(os.path.join(jobs2, "jobs.txt")))
    subprocess.run(["scancel", f"{ids2['extract']}_4"], check=True, env=env)
    check(slurm.wait_idle_queue(600), "after the cancel, the queue empties (no job left pending forever)")
    states = {k: slurm.job_state(v) for k, v in ids2.items() if k != "extract"}
    check(all(s != "COMPLETED" for s in states.values()) and
          not os.path.exists(os.path.join(work, "cluster2", "metrics.json")),
          f"the merge and the rest did not run after the cancelled shard ({states})")
    done = sorted(f for f in os.listdir(os.path.join(jobs2, "shards")) if f.endswith(".done"))
    check(done == ["1.done", "2.done", "3.done"], f"shards 1-3 finished, 4 did not ({done})")
    p = run(*submit2, env=env)
    check("1 extraction shard(s) (4)" in p.stdout, "the rerun submits only shard 4, the merge and the rest")
    check(slurm.wait_idle_queue(600), "the resubmitted chain finished")
    check(same_outputs(f"{work}/cluster2"), "after the resubmission: outputs byte-identical to the local run's")

    # A grid: one array task per variant, then the summary.
    grid_cfg = os.path.join(work, "grid.yaml")
    with open(grid_cfg, "w") as f:
        f.write(open(cfg).read().replace("name: slurm_study", "name: slurm_grid") +
                "grid:\n  classifier.max_epochs: [4, 10]\n")
    run("run", grid_cfg, "--out", f"{work}/local_grid", *cache("local"))
    jobs3 = os.path.join(work, "jobs_grid")
    grid_submit = ["run", grid_cfg, "--out", f"{work}/cluster_grid", *cache("cluster"), "--slurm", jobs3, "--cpus", "1",
                   "--submit"]
    p = run(*grid_submit, env=env)
    ids3 = dict(line.split() for line in open(os.path.join(jobs3, "jobs.txt")))
    check(set(ids3) == {"variants", "summary"} and "2 variant job(s)" in p.stdout,
          f"a grid: a variant array and a summary job ({ids3})")
    check(slurm.wait_idle_queue(600) and slurm.job_state(ids3["summary"]) == "COMPLETED", "the grid's jobs finished")
    same = [open(os.path.join(work, "local_grid", f), "rb").read() == open(os.path.join(work, "cluster_grid", f), "rb").read()
            for f in ["ablation.csv"] + [os.path.join("variants", v, o) for v in ("max_epochs-4", "max_epochs-10")
                                         for o in OUTPUTS]]
    check(all(same), f"ablation.csv and every variant's {', '.join(OUTPUTS)} byte-identical to the local grid's")
    check("nothing to submit" in run(*grid_submit, env=env).stdout, "a rerun of the finished grid submits nothing")

    kfold_cfg = os.path.join(work, "kfold.yaml")
    with open(kfold_cfg, "w") as f:
        f.write(open(cfg).read().replace("name: slurm_study", "name: slurm_kfold")
                .replace(f"{synth}/split.csv", f"{synth}/labels.csv")
                .replace("method: column", "method: kfold\n    folds: 3"))
    run("run", kfold_cfg, "--out", f"{work}/local_kfold", *cache("local"))
    kfold_files = OUTPUTS + ("split.csv",) + tuple(f"folds/fold{f}/layers.csv" for f in (1, 2, 3))

    def same_kfold(run_dir):
        return all(open(os.path.join(work, "local_kfold", f), "rb").read() ==
                   open(os.path.join(run_dir, f), "rb").read() for f in kfold_files)

    jobs4 = os.path.join(work, "jobs_kfold")
    p = run("run", kfold_cfg, "--out", f"{work}/cluster_kfold", *cache("kfold"), "--slurm", jobs4,
            "--shards", "3", "--cpus", "1", "--submit", env=env)
    ids4 = dict(line.split() for line in open(os.path.join(jobs4, "jobs.txt")))
    check(list(ids4) == ["extract", "merge", "folds", "run"] and "3 fold job(s) (1,2,3)" in p.stdout,
          f"K-fold: extraction array, merge, a fold array of 3, the run job ({ids4})")
    check(slurm.wait_idle_queue(600) and slurm.job_state(ids4["run"]) == "COMPLETED", "the K-fold chain finished")
    saved = [os.path.isfile(os.path.join(work, "cluster_kfold", "folds", f"fold{f}", "fold.pt")) for f in (1, 2, 3)]
    log = open(os.path.join(work, "cluster_kfold", "log.txt")).read()
    check(all(saved) and "3 of 3 folds saved by `oess run --fold`" in log and log.count("[saved]") == 3,
          f"each fold job saved its fold ({saved}); the run job pooled them without training a tap")
    check(same_kfold(f"{work}/cluster_kfold"),
          "K-fold through a fold array: outputs, split.csv and each fold's layers.csv byte-identical to the local run's")

    # A fold cancelled while pending (--cpus 2: one task at a time): the run job does not run; the rerun
    # submits that fold alone (with the merge and the run job).
    jobs5 = os.path.join(work, "jobs_kfold2")
    submit5 = ["run", kfold_cfg, "--out", f"{work}/cluster_kfold2", *cache("kfold"), "--slurm", jobs5, "--shards", "1",
               "--cpus", "2", "--submit"]
    run(*submit5, env=env)
    ids5 = dict(line.split() for line in open(os.path.join(jobs5, "jobs.txt")))
    subprocess.run(["scancel", f"{ids5['folds']}_3"], check=True, env=env)
    check(slurm.wait_idle_queue(600), "after the fold's cancel, the queue empties")
    check(slurm.job_state(ids5["run"]) != "COMPLETED" and
          not os.path.exists(os.path.join(work, "cluster_kfold2", "metrics.json")),
          f"the run job did not run after the cancelled fold ({slurm.job_state(ids5['run'])})")
    done = sorted(f for f in os.listdir(os.path.join(jobs5, "folds")) if f.endswith(".done"))
    check(done == ["1.done", "2.done"], f"folds 1-2 finished, 3 did not ({done})")
    p = run(*submit5, env=env)
    check("1 fold job(s) (3)" in p.stdout and "extraction shard" not in p.stdout,
          f"the rerun submits only fold 3 (no shard), the merge and the run job: {p.stdout.strip()}")
    check(slurm.wait_idle_queue(600), "the resubmitted K-fold chain finished")
    check(same_kfold(f"{work}/cluster_kfold2"), "after the resubmission: K-fold outputs byte-identical to the local run's")
    check("nothing to submit" in run(*submit5, env=env).stdout, "a rerun of the finished K-fold chain submits nothing")

    # Bad input: exit 1 or 2 with the reason, and no jobs folder.
    for name, extra, rc, expect, e in [
        ("zero", ["--shards", "0"], 2, "--shards 0", env),
        ("partition", ["--partition", "nosuchpart", "--submit"], 1, "invalid partition", env),
        ("nosbatch", ["--submit"], 2, "no sbatch on path", dict(env, PATH="/nonexistent")),
    ]:
        d = os.path.join(work, "bad_" + name)
        p = run("run", cfg, "--out", f"{work}/bad", *cache("bad"), "--slurm", d, *extra, rc=rc, env=e)
        check(expect in p.stderr.lower() and not os.path.exists(d), f"{name}: exit {rc}, '{expect}', no {d}")
check(not slurm.left, "munged, slurmctld and slurmd stopped by their process ids")
p = run("run", cfg, "--out", f"{work}/bad", "--shard", "2/4", rc=2)
check("--stage ..extract" in p.stderr, "--shard without --stage ..extract: exit 2")
h.finish()
