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
#include "oess/data/folds.h"
#include "oess/data/manifest.h"
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

// A job of submit.sh: a single job, or an array over `tasks` (the missing task numbers, "1,3"; an array
// with none missing is left out).
struct Step {
  std::string name;
  bool array = false;
  std::string tasks;
  std::string what;  // for the console: "the merge", or an array's tasks ("extraction shard(s)")
};

// The task numbers in DIR/<sub> without their <task>.done file (tasks: the shard numbers, the fold numbers
// or the grid's variant names), "1,3". A different task list than last time (another shard count, other
// variants) starts that list over, and the chain with it (run.done removed).
std::string missing(const fs::path& dir, const std::string& sub, const std::vector<std::string>& tasks) {
  std::string list;
  for (const auto& t : tasks) list += t + "\n";
  const fs::path list_file = dir / sub / "tasks";
  std::error_code ec;
  fs::create_directories(dir / sub);
  if (!fs::is_regular_file(list_file, ec) || read_file(list_file.string()) != list) {
    for (const auto& e : fs::directory_iterator(dir / sub, ec))
      if (e.path().extension() == ".done") fs::remove(e.path(), ec);
    fs::remove(dir / "run.done", ec);
    write_file_atomic(list_file.string(), list);
  }
  std::string out;
  for (size_t i = 0; i < tasks.size(); ++i)
    if (!fs::is_regular_file(dir / sub / (tasks[i] + ".done"), ec))
      out += (out.empty() ? "" : ",") + std::to_string(i + 1);
  return out;
}

// submit.sh: the steps in order, each after the one before it (afterok); arrays with no task missing are
// left out.
void write_submit(const fs::path& dir, const std::vector<Step>& steps) {
  std::string s = fmt::format(
      "#!/bin/bash\n# Submits the jobs of {} still missing, chained by afterok; the ids go to jobs.txt.\n"
      "# Written by `oess run --slurm` (docs/cluster.md); rewritten by each call.\nset -euo pipefail\n"
      "jobs={}\n: > \"$jobs.tmp\"\ndep=()\n",
      dir.string(), q((dir / "jobs.txt").string()));
  for (const auto& st : steps) {
    if (st.array && st.tasks.empty()) continue;
    s += fmt::format(
        "j=$(sbatch --parsable ${{dep[@]+\"${{dep[@]}}\"}}{} {})\necho \"{} $j\" >> \"$jobs.tmp\"\n"
        "dep=(--dependency=afterok:${{j%%;*}})\n",
        st.array ? " --array=" + st.tasks : "", q((dir / (st.name + ".sbatch")).string()), st.name);
  }
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

// A single run: the extraction array, the merge, (K-fold) the fold array, the rest.
void write_scripts(const fs::path& dir, const std::string& run_dir, const SlurmOptions& o,
                   const std::string& name, int folds) {
  const std::string shards = q((dir / "shards").string()), out = q(run_dir);
  write_job(dir, o, name, "extract", true,
            "k=$SLURM_ARRAY_TASK_ID\n" + oess_run(dir) + " --out " + shards +
                "\"/$k\" --stage ..extract --shard \"$k/" + std::to_string(o.shards) + "\"\ntouch " + shards +
                "\"/$k.done\"\n");
  write_job(dir, o, name, "merge", false, oess_run(dir) + " --out " + out + " --stage ..extract\n");
  if (folds > 0)
    write_job(dir, o, name, "folds", true,
              "f=$SLURM_ARRAY_TASK_ID\n" + oess_run(dir) + " --out " + out + " --fold \"$f\"\ntouch " +
                  q((dir / "folds").string()) + "\"/$f.done\"\n");
  write_job(
      dir, o, name, "run", false,
      oess_run(dir) + " --out " + out + " --stage sweep..\ntouch " + q((dir / "run.done").string()) + "\n");
}

// A grid: one array task per variant (`oess run config.yaml --variant NAME`, features shared through the
// cache), then the summary (`oess run config.yaml`: every variant finished, so only the comparison runs).
void write_grid_scripts(const fs::path& dir, const std::string& run_dir, const SlurmOptions& o,
                        const std::string& name, const Grid& grid) {
  std::string names;
  for (const auto& v : grid.variants) names += " " + q(v.name);
  const std::string out = q(run_dir);
  write_job(dir, o, name, "variants", true,
            "names=(" + names + ")\nv=${names[$((SLURM_ARRAY_TASK_ID - 1))]}\n" + oess_run(dir) + " --out " +
                out + " --variant \"$v\"\ntouch " + q((dir / "variants").string()) + "\"/$v.done\"\n");
  write_job(dir, o, name, "summary", false,
            oess_run(dir) + " --out " + out + "\ntouch " + q((dir / "run.done").string()) + "\n");
}

// The number of folds x repeats of a K-fold config (the manifest read when its fold column sets them), 0
// for a single split.
int fold_count(const settings::Settings& s) {
  if (!config::cross_validated(s.split.method)) return 0;
  const auto m = data::read_manifest(manifest_file(s), /*check_files=*/false, s.columns);
  int n = 0;
  for (const auto& f : data::make_folds(m, data::fold_options(s.split, s.seed))) n += f.k;
  return n;
}

// The jobs of DIR in submission order, each array with its missing tasks; writes their scripts.
std::vector<Step> plan_steps(const fs::path& dir, const std::string& run_dir, const SlurmOptions& o,
                             const settings::Settings& s, const Grid& grid) {
  std::vector<Step> steps;
  auto numbers = [](int n) {
    std::vector<std::string> t;
    for (int i = 1; i <= n; ++i) t.push_back(std::to_string(i));
    return t;
  };
  if (!grid.empty()) {
    std::vector<std::string> names;
    for (const auto& v : grid.variants) names.push_back(v.name);
    steps.push_back({"variants", true, missing(dir, "variants", names), "variant job(s)"});
    steps.push_back({"summary", false, "", "the summary"});
    write_grid_scripts(dir, run_dir, o, s.name, grid);
    return steps;
  }
  const int folds = fold_count(s);
  steps.push_back({"extract", true, missing(dir, "shards", numbers(o.shards)), "extraction shard(s)"});
  steps.push_back({"merge", false, "", "the merge"});
  if (folds > 0) steps.push_back({"folds", true, missing(dir, "folds", numbers(folds)), "fold job(s)"});
  steps.push_back({"run", false, "", "the rest of the chain"});
  write_scripts(dir, run_dir, o, s.name, folds);
  return steps;
}

// "2 extraction shard(s) (1,2), the merge, 4 fold job(s) (1,2,3,4) and the rest of the chain".
std::string describe(const std::vector<Step>& steps) {
  std::vector<std::string> parts;
  for (const auto& st : steps) {
    const size_t n = st.tasks.empty() ? 0 : std::count(st.tasks.begin(), st.tasks.end(), ',') + 1;
    if (!st.array)
      parts.push_back(st.what);
    else if (n > 0)
      parts.push_back(fmt::format("{} {} ({})", n, st.what, st.tasks));
  }
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i)
    out += (i == 0 ? "" : i + 1 == parts.size() ? " and " : ", ") + parts[i];
  return out;
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

StageRange apply_fold(const RunOptions& options, settings::Settings& s) {
  if (options.fold == 0) return options.stages;
  if (options.fold < 0) throw UsageError(fmt::format("--fold {}: folds are numbered from 1", options.fold));
  if (!config::cross_validated(s.split.method))
    throw UsageError(fmt::format("--fold {}: data.split.method is {}, not kfold", options.fold,
                                 config::name(s.split.method)));
  s.check_data = false;  // the run that extracted checks the data
  return parse_stages("sweep..ensemble");
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
  std::vector<Step> steps;
  try {
    fs::create_directories(dir / "logs");
    write_file_atomic((dir / "config.yaml").string(), text);
    steps = plan_steps(dir, run_dir, o, s, grid);
    if (fs::is_regular_file(dir / "run.done", ec)) {
      const bool arrays_done = std::all_of(steps.begin(), steps.end(),
                                           [](const Step& st) { return !st.array || st.tasks.empty(); });
      if (arrays_done)
        return fmt::format("nothing to submit: every job of {} has finished ({} is complete)\n", dir.string(),
                           run_dir);
    }
    write_submit(dir, steps);
  } catch (...) {
    undo();
    throw;
  }
  const std::string what = describe(steps);
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
