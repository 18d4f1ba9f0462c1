// `oess run`'s finetune stage: the chain's side of finetune::run (finetune_stage.h).
#include "finetune_stage.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/core/random.h"
#include "oess/core/sha256.h"
#include "oess/export/export_run.h"
#include "oess/export/model_file.h"
#include "oess/finetune/run.h"
#include "oess/io/csv.h"
#include "oess/models/taps.h"
#include "oess/version.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

constexpr const char* kTunedFile = "finetuned.pt";

// finetune.train_from: auto = the block before the head's tap (Inception: the previous mixed tap; VGG-16:
// the previous pool), else input when there is none.
std::string train_from(const Settings& s, const std::string& head) {
  if (s.finetune_net.train_from != "auto") return s.finetune_net.train_from;
  const auto arch = s.extract.backbone.arch;
  const int at = models::resolve_tap(arch, head).index;
  std::string from = "input";
  for (const auto& t : models::default_taps(arch)) {
    const bool block_end =
        arch != models::Arch::kVgg16 || (t.size() > 5 && t.substr(t.size() - 5) == "_pool");
    if (block_end && models::resolve_tap(arch, t).index < at) from = t;
  }
  return from;
}

// The sweep classifier of the head's tap as the head's start: softmax over `classes` logits (binary: [0, z],
// whose softmax is sigmoid(z)).
std::pair<torch::Tensor, torch::Tensor> head_start(const train::LinearModel& m, int64_t classes) {
  if (m.weight.size(0) == classes) return {m.weight, m.bias};
  return {torch::cat({torch::zeros_like(m.weight), m.weight}),
          torch::cat({torch::zeros_like(m.bias), m.bias})};
}

// The probe's standard deviations floored at their median: a feature that hardly varies over the training
// images (synthetic images give stds of 1e-6 beside a median of 1e-2) would otherwise multiply every change
// the training makes to it by a million, and the first epoch would diverge. Features above the median keep
// their scale exactly; the head keeps the probe's weights, so the rest start with less say.
torch::Tensor stable_std(const torch::Tensor& std) { return std.clamp_min(std.median().item<double>()); }

// The fine-tuned head as the run's member, with the sweep classifier's standardisation (binary: the logit
// difference, whose sigmoid is the two-way softmax).
train::LinearModel member_of(const train::LinearModel& start, const torch::Tensor& w,
                             const torch::Tensor& b) {
  train::LinearModel m = start;
  m.std = stable_std(start.std);
  m.weight = (start.task == train::Task::kBinary ? (w[1] - w[0]).unsqueeze(0) : w).contiguous();
  m.bias = (start.task == train::Task::kBinary ? (b[1] - b[0]).unsqueeze(0) : b).contiguous();
  return m;
}

finetune::Image image_of(const Chain& c, size_t sample, int copy) {
  const auto& smp = c.manifest.samples[sample];
  finetune::Image im{smp.path, train::target_of(smp.score, c.s.train.task), false, 0};
  if (copy > 0 && c.s.augment) {  // the same augmented copy as the extract stage's row
    im.augment = true;
    im.augment_seed = mix_seed(c.s.seed, sample, static_cast<uint64_t>(copy));
  }
  return im;
}

void write_curve(const std::string& file, const finetune::FitResult& r) {
  std::string t = "epoch,lr_backbone,lr_head,train_loss,val_loss,val_accuracy,seconds,best\n";
  for (const auto& p : r.curve)
    t += fmt::format("{},{:.6g},{:.6g},{:.6f},{:.6f},{:.6f},{:.2f},{}\n", p.epoch, p.lr_backbone, p.lr_head,
                     p.train_loss, p.val_loss, p.val_accuracy, p.seconds, p.epoch == r.best_epoch ? 1 : 0);
  write_file_atomic(file, t);
}

// The job: the selected tap's head and sweep classifier, the chain's balanced training items (augmented
// copies as the extract stage made them), its validation and test images, checkpoints in DIR/finetune/.
finetune::Job make_job(const Chain& c, const std::string& folder, const std::string& config_text) {
  const auto& sel = c.sweep.taps[c.selected];
  const auto at = sel.tap.find('@');
  finetune::Job job;
  job.extract = c.s.extract;
  job.net = c.s.finetune_net;
  job.net.head_tap = sel.tap.substr(0, at);
  job.net.pooling = at == std::string::npos ? c.s.poolings.front() : sel.tap.substr(at + 1);
  job.net.classes = train::num_classes(c.s.train.task);
  job.net.train_from = train_from(c.s, job.net.head_tap);
  job.trainer = c.s.finetune_trainer;
  std::tie(job.head_weight, job.head_bias) = head_start(sel.fit.model, job.net.classes);
  job.mean = sel.fit.model.mean;
  job.std = stable_std(sel.fit.model.std);
  std::vector<double> count(static_cast<size_t>(job.net.classes), 0.0);
  for (const auto& it : c.items)
    for (int v = 0; v <= c.s.finetune_views; ++v) {  // the item, then its finetune.views augmented views
      job.train.push_back(image_of(c, it.sample, it.copy));
      if (v > 0) {
        job.train.back().augment = true;
        job.train.back().augment_seed = mix_seed(c.s.finetune_trainer.seed, it.sample,
                                                 static_cast<uint64_t>(it.copy), static_cast<uint64_t>(v));
        job.train.back().view = v;
      }
      count[static_cast<size_t>(job.train.back().label)] += 1;
    }
  if (c.s.balance == config::Balance::kClassWeights) {  // n / (k n_c), as the classifiers weight rows
    auto w = torch::zeros({job.net.classes});
    for (size_t k = 0; k < count.size(); ++k)
      w[static_cast<int64_t>(k)] = count[k] > 0 ? job.train.size() / (count.size() * count[k]) : 0.0;
    job.class_weights = w;
  }
  for (size_t i : c.split.indices(data::Part::kVal)) job.val.push_back(image_of(c, i, 0));
  for (size_t i : c.split.indices(data::Part::kTest)) job.test.push_back(image_of(c, i, 0));
  job.cache_dir = c.s.extract.cache_dir;
  job.checkpoint = (fs::path(folder) / "checkpoint.pt").string();
  job.fingerprint = sha256_hex(
      config_text + fmt::format("\noess {}\ntrain_from {}\nhead {}@{}\ntrain {}\n", OESS_VERSION_STRING,
                                job.net.train_from, job.net.head_tap, job.net.pooling, job.train.size()));
  return job;
}

}  // namespace

void stage_finetune(Chain& c, const std::string& dir, const std::string& config_text, const SayFn& say) {
  if (!c.s.finetune) {
    say("  off (finetune.enabled: false): the frozen features' classifiers are the model, as in the study\n");
    return;
  }
  const auto& sel = c.sweep.taps[c.selected];
  const fs::path folder = fs::path(dir) / "finetune";
  fs::create_directories(folder);
  const finetune::Job job = make_job(c, folder.string(), config_text);
  if (c.s.extract.weights == "none")
    add_warning(c.warnings, {"finetune_random_weights",
                             "finetune.enabled on a randomly initialised backbone (backbone.weights: none): "
                             "the blocks are trained from noise, not from ImageNet features"});
  say(
      fmt::format("  blocks after {} train with a head on {} ({} pooling, started from its sweep "
                  "classifier): {} training images{}, {} validation, {} test\n",
                  job.net.train_from, job.net.head_tap, job.net.pooling, job.train.size(),
                  c.s.finetune_views == 0         ? ""
                  : job.net.train_from == "input" ? " (their views drawn afresh every epoch)"
                                                  : " (their views fixed)",
                  job.val.size(), job.test.size()));
  std::optional<Progress> bar;
  std::string part;
  int ran = 0;  // epochs run by this call (a resumed run skips the checkpoint's)
  double epoch_seconds = 0;
  auto r = finetune::run(
      job,
      [&](const std::string& what, int64_t done, int64_t total, int64_t cached) {
        if (cached == total)
          return say(fmt::format("  frozen {}: {} images, all from the cache\n", what, total));
        if (what != part) {
          bar.emplace("frozen " + what, total);
          part = what;
        }
        bar->update(done);
        if (done == total) {
          bar->finish(cached > 0 ? fmt::format("{} from the cache", cached) : "");
          bar.reset();
        }
      },
      [&](const finetune::EpochPoint& p, int epochs) {
        ++ran;
        epoch_seconds += p.seconds;
        say(
            fmt::format("  epoch {}/{}: lr {:.3g}/{:.3g}, train loss {:.4f}, validation loss {:.4f}, "
                        "accuracy {:.1f}%, {:.1f} s; at most {:.1f} min left\n",
                        p.epoch, epochs, p.lr_backbone, p.lr_head, p.train_loss, p.val_loss,
                        100 * p.val_accuracy, p.seconds, epoch_seconds / ran * (epochs - p.epoch) / 60));
      });
  if (r.fit.resumed_after > 0)
    say(fmt::format("  resumed after epoch {} from {}\n", r.fit.resumed_after, job.checkpoint));
  if (r.fit.diverged_at > 0)
    add_warning(
        c.warnings,
        {"finetune_diverged",
         fmt::format("fine-tuning diverged in epoch {} (a loss not finite) and stopped there, keeping "
                     "epoch {} (0: the start): lower finetune.lr_backbone and lr_head",
                     r.fit.diverged_at, r.fit.best_epoch)});
  write_curve((folder / "curve.csv").string(), r.fit);
  io::write_torch_dict((folder / kTunedFile).string(), r.trained);
  const auto& best = r.fit.curve[static_cast<size_t>(r.fit.best_epoch)];
  c.members.clear();
  c.members.push_back({sel.tap, c.s.train, member_of(sel.fit.model, r.head_weight, r.head_bias),
                       r.test_probabilities, r.val_probabilities});
  if (!c.rows.test.empty()) c.final = ensemble::combine({r.test_probabilities}, c.s.train.task);
  // The frozen ensemble's calibration (train_members) does not hold for the tuned network: fit again, on the
  // tuned network's validation probabilities.
  c.calibration.reset();
  if (c.s.calibrate) calibrate(c);
  c.final_label = fmt::format(
      "fine-tuned network: blocks after {} and a head on {}, best epoch {} of {}{} (validation accuracy "
      "{:.1f}%{})",
      job.net.train_from, sel.tap, r.fit.best_epoch, r.fit.curve.size() - 1,
      r.fit.stopped_early ? ", stopped early" : "", 100 * best.val_accuracy,
      r.fit.best_epoch == 0 ? "; no epoch beat the start, the linear probe on the frozen network" : "");
  say("  " + c.final_label + "\n");
}

void kfold_finetune(Chain& c, Kfold& k, const std::string& dir, const std::string& config_text,
                    const SayFn& say) {
  if (!c.s.finetune) return stage_finetune(c, dir, config_text, say);  // says it is off, once
  for (auto& run : k.runs) {
    if (run.saved || run.chain.sweep.taps.empty()) continue;  // loaded from fold.pt, or another job's fold
    say(fmt::format("  {}:\n", fold_name(k, run)));
    stage_finetune(run.chain, (fs::path(dir) / "folds" / fold_name(k, run)).string(), config_text, say);
  }
}

io::StateDict finetuned_tensors(const std::string& dir, const std::string& model_dir) {
  const fs::path from = fs::path(dir) / "finetune" / kTunedFile;
  if (!fs::is_regular_file(from))
    throw Error(fmt::format("{}: no {} (run the finetune stage first)", dir, from.string()));
  auto t = io::read_weights(from.string()).tensors;
  io::write_torch_dict((fs::path(model_dir) / exporting::kFinetunedFile).string(), t);
  return t;
}

}  // namespace oess::experiment

namespace oess::experiment {

std::vector<report::Curve> finetune_curves(const Chain& c, const std::string& dir) {
  std::vector<report::Curve> out;
  if (!c.s.finetune) return out;
  auto read = [&out](const fs::path& file, const std::string& label) {
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) return;
    const auto t = io::read_csv(file.string());
    const int col = t.column("val_accuracy");
    report::Curve curve{label, {}};
    for (const auto& row : t.rows) curve.val_accuracy.push_back(std::stod(row.at(static_cast<size_t>(col))));
    out.push_back(curve);
  };
  read(fs::path(dir) / "finetune" / "curve.csv", "fine-tuned");
  std::error_code ec;
  std::vector<fs::path> folds;
  if (out.empty() && fs::is_directory(fs::path(dir) / "folds", ec))
    for (const auto& f : fs::directory_iterator(fs::path(dir) / "folds", ec)) folds.push_back(f.path());
  std::sort(folds.begin(), folds.end());
  for (const auto& f : folds) read(f / "finetune" / "curve.csv", "fine-tuned " + f.filename().string());
  return out;
}

}  // namespace oess::experiment
