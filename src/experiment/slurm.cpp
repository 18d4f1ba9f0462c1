// An experiment as SLURM batch jobs (experiment/slurm.h): the scripts, and their submission.
#include "oess/experiment/slurm.h"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/experiment/grid.h"
#include "oess/settings/settings.h"
#include "run_folder.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

// A word for bash, single-quoted.
std::string q(const std::string& s) {
  std::string out = "'";
  for (char ch : s) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
}

bool on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::string p = path ? path : "";
  size_t start = 0;
  while (start <= p.size()) {
    const size_t end = p.find(':', start);
    const std::string dir = p.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!dir.empty() && ::access((fs::path(dir) / program).c_str(), X_OK) == 0) return true;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return false;
}

// The #SBATCH header every script shares, then `set -euo pipefail`.
std::string header(const SlurmOptions& o, const std::string& name, const std::string& log) {
  std::string h =
      fmt::format("#!/bin/bash\n#SBATCH --job-name={}\n#SBATCH --cpus-per-task={}\n#SBATCH --output={}\n",
                  name, o.cpus, log);
  if (!o.partition.empty()) h += fmt::format("#SBATCH --partition={}\n", o.partition);
  if (!o.time.empty()) h += fmt::format("#SBATCH --time={}\n", o.time);
  if (!o.mem.empty()) h += fmt::format("#SBATCH --mem={}\n", o.mem);
  for (const auto& a : o.sbatch_args) h += fmt::format("#SBATCH {}\n", a);
  return h + "# Written by `oess run --slurm` (docs/cluster.md).\nset -euo pipefail\n";
}

struct Plan {
  std::string
      array;  // the array tasks still missing (shards, or grid variants by position), "1,3" ("" = none)
  bool run_done = false;
};

// What is still to do in dir: array tasks without their DIR/<sub>/<task>.done file (tasks: the shard numbers,
// or the grid's variant names), and the chain unless run.done exists. A different task list than last time
// (another shard count, other variants) starts over.
Plan missing(const fs::path& dir, const std::string& sub, const std::vector<std::string>& tasks) {
  Plan p;
  std::string list;
  for (const auto& t : tasks) list += t + "\n";
  const fs::path list_file = dir / sub / "tasks";
  std::error_code ec;
  if (!fs::is_regular_file(list_file, ec) || read_file(list_file.string()) != list) {
    for (const auto& e : fs::directory_iterator(dir / sub, ec))
      if (e.path().extension() == ".done") fs::remove(e.path(), ec);
    fs::remove(dir / "run.done", ec);
    write_file_atomic(list_file.string(), list);
  }
  for (size_t i = 0; i < tasks.size(); ++i)
    if (!fs::is_regular_file(dir / sub / (tasks[i] + ".done"), ec))
      p.array += (p.array.empty() ? "" : ",") + std::to_string(i + 1);
  p.run_done = fs::is_regular_file(dir / "run.done", ec);
  return p;
}

// submit.sh: the array (when tasks are missing), then `then` after it, each chained by afterok.
void write_submit(const fs::path& dir, const Plan& p, const std::string& array_script,
                  const std::vector<std::pair<std::string, std::string>>& then) {
  std::string s = fmt::format(
      "#!/bin/bash\n# Submits the jobs of {} still missing, chained by afterok; the ids go to jobs.txt.\n"
      "# Written by `oess run --slurm` (docs/cluster.md); rewritten by each call.\nset -euo pipefail\n"
      "jobs={}\n: > \"$jobs.tmp\"\ndep=()\n",
      dir.string(), q((dir / "jobs.txt").string()));
  if (!p.array.empty())
    s += fmt::format(
        "a=$(sbatch --parsable --array={} {})\necho \"{} $a\" >> \"$jobs.tmp\"\n"
        "dep=(--dependency=afterok:${{a%%;*}})\n",
        p.array, q((dir / array_script).string()), fs::path(array_script).stem().string());
  for (const auto& [name, script] : then)
    s += fmt::format(
        "j=$(sbatch --parsable \"${{dep[@]}}\" {})\necho \"{} $j\" >> \"$jobs.tmp\"\n"
        "dep=(--dependency=afterok:${{j%%;*}})\n",
        q((dir / script).string()), name);
  s += "mv \"$jobs.tmp\" \"$jobs\"\ncat \"$jobs\"\n";
  write_file_atomic((dir / "submit.sh").string(), s);
}

// DIR/<job>.sbatch: the shared header (job name oess-<run>-<job>, log DIR/logs/<job>_%a.out for an array,
// _%j.out otherwise), then `body`.
void write_job(const fs::path& dir, const SlurmOptions& o, const std::string& run_name,
               const std::string& job, bool array, const std::string& body) {
  const std::string log = fmt::format("{}/{}_{}.out", (dir / "logs").string(), job, array ? "%a" : "%j");
  write_file_atomic((dir / (job + ".sbatch")).string(),
                    header(o, "oess-" + run_name + "-" + job, log) + body);
}

// "<this oess binary> run <DIR/config.yaml>", quoted: how every job starts.
std::string oess_run(const fs::path& dir) {
  return q(fs::read_symlink("/proc/self/exe").string()) + " run " + q((dir / "config.yaml").string());
}

// A single run: the extraction array, the merge, the rest.
void write_scripts(const fs::path& dir, const std::string& run_dir, const SlurmOptions& o, const Plan& p,
                   const std::string& name) {
  const std::string shards = q((dir / "shards").string()), out = q(run_dir);
  write_job(dir, o, name, "extract", true,
            "k=$SLURM_ARRAY_TASK_ID\n" + oess_run(dir) + " --out " + shards +
                "\"/$k\" --stage ..extract --shard \"$k/" + std::to_string(o.shards) + "\"\ntouch " + shards +
                "\"/$k.done\"\n");
  write_job(dir, o, name, "merge", false, oess_run(dir) + " --out " + out + " --stage ..extract\n");
  write_job(
      dir, o, name, "run", false,
      oess_run(dir) + " --out " + out + " --stage sweep..\ntouch " + q((dir / "run.done").string()) + "\n");
  write_submit(dir, p, "extract.sbatch", {{"merge", "merge.sbatch"}, {"run", "run.sbatch"}});
}

// A grid: one array task per variant (`oess run config.yaml --variant NAME`, features shared through the
// cache), then the summary (`oess run config.yaml`: every variant finished, so only the comparison runs).
void write_grid_scripts(const fs::path& dir, const std::string& run_dir, const SlurmOptions& o, const Plan& p,
                        const std::string& name, const Grid& grid) {
  std::string names;
  for (const auto& v : grid.variants) names += " " + q(v.name);
  const std::string out = q(run_dir);
  write_job(dir, o, name, "variants", true,
            "names=(" + names + ")\nv=${names[$((SLURM_ARRAY_TASK_ID - 1))]}\n" + oess_run(dir) + " --out " +
                out + " --variant \"$v\"\ntouch " + q((dir / "variants").string()) + "\"/$v.done\"\n");
  write_job(dir, o, name, "summary", false,
            oess_run(dir) + " --out " + out + "\ntouch " + q((dir / "run.done").string()) + "\n");
  write_submit(dir, p, "variants.sbatch", {{"summary", "summary.sbatch"}});
}

// Runs a command line through the shell; its output (stdout and stderr) and exit status.
int run_shell(const std::string& command, std::string& output) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen((command + " 2>&1").c_str(), "r"), ::pclose);
  if (!pipe) throw Error(fmt::format("could not run {}", command));
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0) output.append(buf, n);
  const int status = ::pclose(pipe.release());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

}  // namespace

void apply_shard(const RunOptions& options, settings::Settings& s) {
  if (options.shard_n == 1 && options.shard_k == 1) return;
  if (options.shard_k < 1 || options.shard_k > options.shard_n)
    throw UsageError(
        fmt::format("--shard {}/{}: expected K/N with 1 <= K <= N", options.shard_k, options.shard_n));
  const auto& names = stage_names();
  if (names[options.stages.last] != "extract")
    throw UsageError("--shard: a shard only extracts; give --stage ..extract");
  s.extract.shard_k = options.shard_k;
  s.extract.shard_n = options.shard_n;
  s.check_data = false;  // the run that reads the shards back checks the data
}

std::string write_slurm(const config::Config& cf, const Grid& grid, const RunOptions& run,
                        const SlurmOptions& o) {
  if (o.shards < 1) throw UsageError(fmt::format("--shards {}: expected at least 1", o.shards));
  if (o.cpus < 1) throw UsageError(fmt::format("--cpus {}: expected at least 1", o.cpus));
  if (o.submit && !on_path("sbatch"))
    throw UsageError(
        "--submit: no sbatch on PATH (is this a SLURM login node?); without --submit the "
        "scripts are written and the command to submit them is printed");
  const auto s = settings::settings_from(cf);
  const std::string run_dir =
      fs::absolute(run.out_dir.empty() ? s.out_dir : run.out_dir).lexically_normal().string();
  std::error_code ec;
  if (s.manifest == "synthetic" && !fs::is_regular_file(fs::path(s.synth.out_dir) / "labels.csv", ec))
    throw UsageError(fmt::format(
        "the synthetic set {} does not exist yet: make it once before the jobs (they would all make it at "
        "once): oess run CONFIG --stage data",
        s.synth.out_dir));
  config::Config resolved;
  const std::string text =
      resolved_config(cf, s, run_dir, resolved) + (grid.empty() ? "" : "\n" + grid_yaml(grid));
  const fs::path dir = fs::absolute(o.dir).lexically_normal();
  if (fs::exists(dir / "config.yaml", ec) && read_file((dir / "config.yaml").string()) != text)
    throw UsageError(
        fmt::format("--slurm {}: holds the jobs of another config; give another folder", dir.string()));
  if (fs::exists(dir, ec) && !fs::exists(dir / "config.yaml", ec) && !fs::is_empty(dir, ec))
    throw UsageError(
        fmt::format("--slurm {}: a folder with other files in it; give a new or empty folder", dir.string()));
  const fs::path made = first_missing_folder(dir.string());
  auto undo = [&] {
    if (!made.empty()) fs::remove_all(made, ec);
  };
  Plan plan;
  try {
    fs::create_directories(dir / "logs");
    fs::create_directories(dir / (grid.empty() ? "shards" : "variants"));
    write_file_atomic((dir / "config.yaml").string(), text);
    std::vector<std::string> tasks;
    for (int k = 1; k <= o.shards && grid.empty(); ++k) tasks.push_back(std::to_string(k));
    for (const auto& v : grid.variants) tasks.push_back(v.name);
    plan = missing(dir, grid.empty() ? "shards" : "variants", tasks);
    if (plan.array.empty() && plan.run_done)
      return fmt::format("nothing to submit: every job of {} has finished ({} is complete)\n", dir.string(),
                         run_dir);
    if (grid.empty())
      write_scripts(dir, run_dir, o, plan, s.name);
    else
      write_grid_scripts(dir, run_dir, o, plan, s.name, grid);
  } catch (...) {
    undo();
    throw;
  }
  const size_t n = plan.array.empty() ? 0 : std::count(plan.array.begin(), plan.array.end(), ',') + 1;
  const std::string what =
      !grid.empty() ? (n == 0 ? "the summary (every variant is done)"
                              : fmt::format("{} variant job(s) ({}) and the summary", n, plan.array))
      : n == 0
          ? "the merge and the rest of the chain (every shard is done)"
          : fmt::format("{} extraction shard(s) ({}), the merge and the rest of the chain", n, plan.array);
  if (!o.submit)
    return fmt::format("wrote {}: {}\nsubmit with:\n  bash {}\n", dir.string(), what,
                       q((dir / "submit.sh").string()));
  std::string out;
  if (run_shell("bash " + q((dir / "submit.sh").string()), out) != 0) {
    undo();
    throw Error(fmt::format("sbatch refused the jobs of {}:\n{}", dir.string(), out));
  }
  return fmt::format("submitted {}:\n{}job ids in {}; follow with squeue and {}/logs/\n", what, out,
                     (dir / "jobs.txt").string(), dir.string());
}

}  // namespace oess::experiment
