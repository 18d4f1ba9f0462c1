// K-fold: a fold's results saved to and loaded from RUN/folds/<fold>/fold.pt (kfold.h), so that folds can
// train in separate processes (`oess run --fold F`, SLURM array tasks) and one run pools them.
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "oess/core/error.h"
#include "oess/core/sha256.h"
#include "oess/experiment/kfold.h"
#include "oess/export/model_file.h"
#include "oess/io/weights.h"

namespace oess::experiment {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormat = "oess-fold";
constexpr int kFormatVersion = 1;

// The exact doubles of a tap's figures, as a float64 tensor (JSON would lose NaN).
torch::Tensor figures(const train::TapResult& t) {
  return torch::tensor({t.val_accuracy, t.val_loss, t.test_accuracy, t.test_kappa_quadratic,
                        static_cast<double>(t.fit.best_epoch), t.fit.best_val_accuracy, t.fit.best_val_loss},
                       torch::kFloat64);
}

torch::Tensor curve_tensor(const std::vector<train::CurvePoint>& curve) {
  auto t = torch::zeros({static_cast<int64_t>(curve.size()), 4}, torch::kFloat64);
  auto a = t.accessor<double, 2>();
  for (size_t i = 0; i < curve.size(); ++i) {
    const auto& p = curve[i];
    const auto r = static_cast<int64_t>(i);
    a[r][0] = p.epoch;
    a[r][1] = p.train_loss;
    a[r][2] = p.val_loss;
    a[r][3] = p.val_accuracy;
  }
  return t;
}

nlohmann::json options_json(const train::TrainOptions& o) {
  return {{"optimizer", static_cast<int>(o.optimizer)},
          {"lr", o.lr},
          {"weight_decay", o.weight_decay},
          {"momentum", o.momentum},
          {"batch", o.batch},
          {"max_epochs", o.max_epochs},
          {"patience", o.patience},
          {"monitor", static_cast<int>(o.monitor)},
          {"class_weights", o.class_weights},
          {"head", train::head_name(o.head)},
          {"aggregate", o.aggregate},
          {"seed", o.seed}};
}

train::TrainOptions options_from(const nlohmann::json& j, train::Task task) {
  train::TrainOptions o;
  o.task = task;
  o.optimizer = static_cast<config::Optimizer>(j.at("optimizer").get<int>());
  o.lr = j.at("lr").get<double>();
  o.weight_decay = j.at("weight_decay").get<double>();
  o.momentum = j.at("momentum").get<double>();
  o.batch = j.at("batch").get<int>();
  o.max_epochs = j.at("max_epochs").get<int>();
  o.patience = j.at("patience").get<int>();
  o.monitor = static_cast<config::Monitor>(j.at("monitor").get<int>());
  o.class_weights = j.at("class_weights").get<bool>();
  o.head = train::parse_head(j.value("head", "softmax"));
  o.aggregate = j.value("aggregate", "none");
  o.seed = j.at("seed").get<uint64_t>();
  return o;
}

// The tensors of a loaded file, with a message naming the file and tensor when one is missing or mis-shaped.
struct Tensors {
  std::map<std::string, torch::Tensor> by_name;
  std::string file;
  // The tensor `name`; with `shape`, its dimensions must match (-1: any size).
  torch::Tensor at(const std::string& name, const std::vector<int64_t>& shape = {}) const {
    const auto it = by_name.find(name);
    if (it == by_name.end()) throw Error(fmt::format("no tensor {}", name));
    const auto& x = it->second;
    bool fits = shape.empty() || x.dim() == static_cast<int64_t>(shape.size());
    for (size_t d = 0; fits && d < shape.size(); ++d)
      fits = shape[d] < 0 || x.size(static_cast<int64_t>(d)) == shape[d];
    if (!fits)
      throw Error(fmt::format("tensor {} has shape {}, expected {}", name, c10::str(x.sizes()),
                              c10::str(c10::IntArrayRef(shape))));
    return x;
  }
  // Entries "<prefix>memberI.*" as put_member wrote them under the prefix.
  train::LinearModel model(const std::string& prefix, size_t i, train::Task task) const {
    std::map<std::string, torch::Tensor> parts;
    for (const char* part : exporting::kMemberParts)
      parts[exporting::member_key(i, part)] = at(prefix + exporting::member_key(i, part));
    const std::string rule = exporting::member_key(i, exporting::kMemberAggregate);
    if (auto it = by_name.find(prefix + rule); it != by_name.end()) parts[rule] = it->second;
    return exporting::get_member(parts, i, task, file);
  }
};

void load_into(FoldRun& run, const nlohmann::json& meta, const Tensors& t) {
  Chain& fc = run.chain;
  const auto task = fc.s.train.task;
  const int64_t n = static_cast<int64_t>(fc.rows.test.size());
  const int64_t classes = train::num_classes(task);
  const auto& taps = meta.at("taps");
  if (taps.size() != fc.features.taps.size())
    throw Error(fmt::format("{} taps, the run has {}", taps.size(), fc.features.taps.size()));
  fc.sweep = {};
  for (size_t i = 0; i < taps.size(); ++i) {
    if (taps[i].get<std::string>() != fc.features.taps[i])
      throw Error(fmt::format("tap {} is {}, the run's is {}", i + 1, taps[i].get<std::string>(),
                              fc.features.taps[i]));
    train::TapResult tr;
    tr.tap = fc.features.taps[i];
    const std::string p = fmt::format("tap{}.", i);
    tr.fit.model = t.model(p, 0, task);
    const auto f = t.at(p + "figures", {7}).to(torch::kFloat64).contiguous();
    const double* v = f.data_ptr<double>();
    tr.val_accuracy = v[0];
    tr.val_loss = v[1];
    tr.test_accuracy = v[2];
    tr.test_kappa_quadratic = v[3];
    tr.fit.best_epoch = static_cast<int>(v[4]);
    tr.fit.best_val_accuracy = v[5];
    tr.fit.best_val_loss = v[6];
    const auto pc = t.at(p + "per_class").to(torch::kFloat64).contiguous();
    tr.test_per_class.assign(pc.data_ptr<double>(), pc.data_ptr<double>() + pc.numel());
    const auto curve = t.at(p + "curve", {-1, 4}).to(torch::kFloat64).contiguous();
    auto a = curve.accessor<double, 2>();
    for (int64_t r = 0; r < curve.size(0); ++r)
      tr.fit.curve.push_back({static_cast<int>(a[r][0]), a[r][1], a[r][2], a[r][3]});
    tr.test_probabilities = t.at(p + "test_probabilities", {n, classes});
    fc.sweep.taps.push_back(std::move(tr));
  }
  fc.sweep.best = train::best_tap(fc.sweep.taps);
  fc.members.clear();
  std::vector<torch::Tensor> probs;
  const auto& members = meta.at("members");
  for (size_t i = 0; i < members.size(); ++i) {
    Member m;
    m.tap = members[i].at("tap").get<std::string>();
    m.options = options_from(members[i].at("options"), task);
    m.model = t.model("", i, task);
    m.test_probabilities = t.at(fmt::format("member{}.test_probabilities", i), {n, classes});
    if (const auto val = fmt::format("member{}.val_probabilities", i); t.by_name.count(val))  // fine-tuned
      m.val_probabilities = t.at(val, {static_cast<int64_t>(fc.rows.val.size()), classes});
    probs.push_back(m.test_probabilities);
    fc.members.push_back(std::move(m));
  }
  if (fc.members.empty()) throw Error("no members");
  fc.final = ensemble::combine(probs, task);  // as train_members makes it
  if (fc.s.calibrate) calibrate(fc);          // deterministic from the members and validation rows
  fc.final_label = meta.at("final_label").get<std::string>();
}

}  // namespace

std::string features_digest(const features::FeatureSet& f) {
  Sha256 h;
  for (const auto& p : f.paths) h.update(p + "\n");
  for (const auto& tap : f.taps) {
    const auto t = f.data.at(tap).to(torch::kFloat32).contiguous();
    h.update(fmt::format("{} {}\n", tap, c10::str(t.sizes())));
    h.update(t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
  }
  return h.hex();
}

void kfold_saved(Kfold& k, const std::string& dir, const std::string& config_text,
                 const features::FeatureSet& features, int fold) {
  if (fold < 0 || fold > static_cast<int>(k.runs.size()))
    throw UsageError(fmt::format("--fold {}: this study has {} folds{} (--fold 1..{})", fold, k.runs.size(),
                                 k.folds.size() > 1 ? " over its repeats" : "", k.runs.size()));
  k.state_dir = dir;
  k.config_sha256 = sha256_hex(config_text);
  k.only = fold - 1;
  std::error_code ec;
  const bool used = fold > 0 || std::any_of(k.runs.begin(), k.runs.end(), [&](const FoldRun& run) {
                      return fs::exists(fold_file(k, run), ec);
                    });
  if (used) k.features_sha256 = features_digest(features);  // else no state is read or written
}

void save_fold(const FoldRun& run, const Kfold& k, const std::string& file) {
  const Chain& fc = run.chain;
  io::StateDict tensors;
  nlohmann::json taps = nlohmann::json::array(), members = nlohmann::json::array();
  for (size_t i = 0; i < fc.sweep.taps.size(); ++i) {
    const auto& tr = fc.sweep.taps[i];
    const std::string p = fmt::format("tap{}.", i);
    io::StateDict model;
    exporting::put_member(model, 0, tr.fit.model);
    for (auto& [name, t] : model) tensors.emplace_back(p + name, t);
    tensors.emplace_back(p + "figures", figures(tr));
    tensors.emplace_back(p + "per_class", torch::tensor(tr.test_per_class, torch::kFloat64));
    tensors.emplace_back(p + "curve", curve_tensor(tr.fit.curve));
    tensors.emplace_back(p + "test_probabilities", tr.test_probabilities.cpu().contiguous());
    taps.push_back(tr.tap);
  }
  for (size_t i = 0; i < fc.members.size(); ++i) {
    const auto& m = fc.members[i];
    exporting::put_member(tensors, i, m.model);
    tensors.emplace_back(fmt::format("member{}.test_probabilities", i),
                         m.test_probabilities.cpu().contiguous());
    if (m.val_probabilities.defined())
      tensors.emplace_back(fmt::format("member{}.val_probabilities", i),
                           m.val_probabilities.cpu().contiguous());
    members.push_back({{"tap", m.tap}, {"options", options_json(m.options)}});
  }
  const nlohmann::json meta = {{"format", kFormat},
                               {"format_version", kFormatVersion},
                               {"fold", fold_name(k, run)},
                               {"config_sha256", k.config_sha256},
                               {"features_sha256", k.features_sha256},
                               {"taps", taps},
                               {"members", members},
                               {"final_label", fc.final_label}};
  tensors.emplace_back(io::kWeightsMetaKey, io::meta_tensor(meta.dump()));
  io::write_torch_dict(file, tensors);
}

bool load_fold(FoldRun& run, const Kfold& k, const std::string& file, std::string& why) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    why = "no such file";
    return false;
  }
  try {
    const auto w = io::read_weights(file);
    const auto meta = nlohmann::json::parse(io::weights_meta(w));
    if (meta.value("format", "") != kFormat || meta.value("format_version", 0) != kFormatVersion)
      throw Error(fmt::format("not an {} file of version {}", kFormat, kFormatVersion));
    if (meta.value("fold", "") != fold_name(k, run))
      throw Error(fmt::format("it holds {}, not {}", meta.value("fold", "?"), fold_name(k, run)));
    if (meta.value("config_sha256", "") != k.config_sha256) {
      why = "saved by another config";
      return false;
    }
    if (meta.value("features_sha256", "") != k.features_sha256) {
      why = "saved with other features";
      return false;
    }
    Tensors t;
    t.file = file;
    for (const auto& [name, tensor] : w.tensors) t.by_name[name] = tensor;
    FoldRun loaded = run;
    load_into(loaded, meta, t);
    run = std::move(loaded);
    run.saved = true;
    return true;
  } catch (const std::exception& e) {  // a damaged state is trained again, never half used
    why = fmt::format("unreadable ({})", e.what());
    return false;
  }
}

}  // namespace oess::experiment
