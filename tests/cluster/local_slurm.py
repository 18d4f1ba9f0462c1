"""A real SLURM on this one machine, for the tests: munged, slurmctld and slurmd started from a slurm.conf
written under a temporary folder (one node = this host, no cgroups, proctrack/linuxproc, task/none, its own
state, spool and log folders, free ports), and stopped again by their process ids.

    with LocalSlurm(folder) as slurm:       # starts the daemons; stops them however the block ends (and a
                                            # watchdog does if this process is killed outright)
        env = slurm.env                     # os.environ + SLURM_CONF
        slurm.wait_idle_queue(timeout)      # until squeue lists no job
    slurm.left                              # daemons still running after the stop (must be [])

Needs Debian's slurmctld, slurmd, slurm-client and munge (tools/setup.sh installs them) and root (slurmd).
"""
import os
import shutil
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    """Running and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class LocalSlurm:
    def __init__(self, root, cpus=2):
        self.root = os.path.abspath(root)
        self.cpus = cpus
        self.procs = []
        self.left = []
        self.host = socket.gethostname().split(".")[0]

    def _start(self, name, argv):
        log = open(os.path.join(self.root, "log", name + ".console"), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.procs.append((name, p))
        return p

    def __enter__(self):
        for tool in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "squeue"):
            if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
                raise SystemExit(f"FAIL: {tool} not found: tools/setup.sh installs slurmctld, slurmd, "
                                 "slurm-client and munge")
        shutil.rmtree(self.root, ignore_errors=True)
        for d in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(self.root, d))
        munge = os.path.join(self.root, "munge")
        os.chmod(self.root, 0o755)
        os.chmod(munge, 0o755)  # munged refuses a socket folder others cannot enter
        self.env = dict(os.environ)
        try:
            self._munge(munge)
            self._slurm(munge)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _munge(self, munge):
        key = os.path.join(munge, "munge.key")
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
        self.socket = os.path.join(munge, "munge.socket")
        self._start("munged", ["munged", "--foreground", f"--key-file={key}", f"--socket={self.socket}",
                               f"--pid-file={munge}/munged.pid", f"--log-file={munge}/munged.log",
                               f"--seed-file={munge}/munged.seed", "--force"])
        for _ in range(100):
            if os.path.exists(self.socket):
                return
            time.sleep(0.05)
        raise SystemExit(f"FAIL: munged did not start (log: {munge}/munged.log)")

    def _slurm(self, munge):
        ports = [free_port(), free_port()]
        if ports[0] == ports[1]:
            raise SystemExit("FAIL: could not find two free ports for slurmctld and slurmd")
        r = self.root
        conf = os.path.join(r, "slurm.conf")
        with open(conf, "w") as f:
            f.write(f"""ClusterName=oesstest
SlurmctldHost={self.host}(127.0.0.1)
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
AuthType=auth/munge
AuthInfo=socket={self.socket}
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/state/slurmctld.pid
SlurmdPidFile={r}/spool/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
MpiDefault=none
SwitchType=switch/none
ReturnToService=2
DependencyParameters=kill_invalid_depend
SchedulerParameters=batch_sched_delay=0
MinJobAge=600
NodeName={self.host} NodeAddr=127.0.0.1 CPUs={self.cpus} State=UNKNOWN
PartitionName=main Nodes={self.host} Default=YES MaxTime=INFINITE State=UP
""")
        self.env["SLURM_CONF"] = conf
        print(f"local SLURM: {conf}, slurmctld port {ports[0]}, slurmd port {ports[1]}")
        self._start("slurmctld", ["slurmctld", "-D", "-f", conf])
        self._start("slurmd", ["slurmd", "-D", "-N", self.host, "-f", conf])
        self._reaper()
        deadline = time.time() + 30
        while time.time() < deadline:
            p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=self.env)
            if p.returncode == 0 and p.stdout.strip() == "idle":
                return
            time.sleep(0.2)
        raise SystemExit(f"FAIL: the SLURM node did not become idle in 30 s (logs: {r}/log)")

    def _reaper(self):
        """A watchdog in its own session: if this process dies without stopping the daemons (killed by a
        test timeout, which no handler can catch), it stops them by their process groups."""
        groups = " ".join(f"-{p.pid}" for _, p in self.procs)
        self.reaper = subprocess.Popen(
            ["sh", "-c", f"while kill -0 {os.getpid()} 2>/dev/null; do sleep 1; done; kill -TERM {groups} "
                         f"2>/dev/null; sleep 5; kill -KILL {groups} 2>/dev/null"],
            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def squeue(self):
        p = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True, env=self.env)
        return [line.split(None, 2) for line in p.stdout.splitlines() if line.strip()]

    def job_state(self, job):
        p = subprocess.run(["scontrol", "show", "job", str(job)], capture_output=True, text=True, env=self.env)
        for word in p.stdout.split():
            if word.startswith("JobState="):
                return word.split("=", 1)[1]
        return "UNKNOWN"

    def wait_idle_queue(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.squeue():
                return True
            time.sleep(0.5)
        return False

    def __exit__(self, *exc):
        # Jobs first (their processes belong to slurmstepd), then the daemons, newest first, by pid.
        if "SLURM_CONF" in getattr(self, "env", {}):
            subprocess.run(["scancel", "--full", "-u", str(os.getuid())], capture_output=True, env=self.env)
        for name, p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for name, p in reversed(self.procs):
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.left = [f"{n} ({p.pid})" for n, p in self.procs if alive(p.pid)]
        if self.left:
            print(f"FAIL: still running after stop: {self.left}")
        self.procs = []
        if getattr(self, "reaper", None):
            self.reaper.kill()
            self.reaper.wait()
        return False
