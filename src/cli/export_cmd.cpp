// `oess export` and `oess score`: a run as one model file, and that file scoring new images.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include <array>

#include "commands.h"
#include "oess/config/choices.h"
#include "oess/core/atomic_file.h"
#include "oess/core/error.h"
#include "oess/core/progress.h"
#include "oess/core/text.h"
#include "oess/data/clip.h"
#include "oess/data/image.h"
#include "oess/data/manifest.h"
#include "oess/export/model.h"
#include "oess/export/onnx.h"
#include "oess/io/csv.h"
#include "oess/report/report.h"
#include "score_output.h"

namespace oess::cli {
namespace {

namespace fs = std::filesystem;

bool looks_like_image(const fs::path& p) {
  const std::string ext = ascii_lower(p.extension().string());
  static const char* const kExt[] = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm", ".dicom"};
  for (const char* e : kExt)
    if (ext == e) return true;
  if (data::is_video_file(p.string())) return true;          // clips
  const std::string head = read_file_head(p.string(), 132);  // DICOM without an extension: "DICM" at 128
  return head.size() == 132 && head.compare(128, 4, "DICM") == 0;
}

// Files named, and image files found under folders named (recursively, sorted).
std::vector<std::string> collect_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  std::vector<std::string> skipped;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::skip_permission_denied, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (!it->is_regular_file(ec)) continue;
        (looks_like_image(it->path()) ? found : skipped).push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(in, ec)) {
      files.push_back(in);
    } else {
      throw Error(fmt::format("{}: no such file or folder", in));
    }
  }
  if (!skipped.empty())
    fmt::print(stderr, "oess: note: skipped {} file(s) that are not images (e.g. {})\n", skipped.size(),
               skipped.front());
  if (files.empty()) throw Error("no images to score among the inputs");
  return files;
}

struct ScoreArgs {
  std::string model, csv, json, manifest, heatmap, heatmap_method = "gradcam-ig", device = "cpu", save_input;
  std::string frames_csv, frames_plot;  // clips: per-frame scores and a plot per clip
  int heatmap_steps = 8;
  bool heatmap_data = false;
  std::vector<std::string> inputs;
  double unsure_below = 0.5, unsure_disagreement = 0.5;
  int threads = 2, batch = 16;
};

// The scores: a console table, and the CSV / JSON rows.
void report_scores(const ScoreArgs& a, const std::vector<exporting::ImageScore>& scores, bool four,
                   const ScaleNames& names) {
  const exporting::UnsureRule unsure{a.unsure_below, a.unsure_disagreement};
  std::vector<std::string> header = {"path", "pred"};
  if (four)
    for (const char* c : {"p0", "p1", "p2", "p3"}) header.push_back(c);
  else
    header.push_back("p1");
  for (const char* c : {"p_diseased", "disagreement", "unsure"}) header.push_back(c);
  io::CsvWriter csv(header);
  nlohmann::json js = nlohmann::json::array();
  // Names as long as they are (at most 24 characters each); the columns widen to hold them.
  const std::string neg = names.binary[0].substr(0, 24), pos = names.binary[1].substr(0, 24);
  const std::string scale = four ? names.scale.substr(0, 24) : "call";
  const size_t call_w = std::max({size_t{5}, scale.size(), four ? 0 : std::max(neg.size(), pos.size())});
  const size_t vote_w = std::max(neg.size() + 1 + pos.size(), std::max(neg.size(), pos.size()) + 5);
  fmt::print("{:<40} {:>{}} {:>27} {:>{}} {:>8} {}\n", "image", scale, call_w,
             four ? "P(0) P(1) P(2) P(3)" : "P(" + pos + ")", neg + "/" + pos, vote_w, "disagree", "unsure");
  int n_unsure = 0;
  for (const auto& s : scores) {
    const bool u = unsure(s);
    n_unsure += u;
    std::string probs;
    for (double p : s.p) probs += fmt::format(" {:.3f}", p);
    std::string name = s.path.size() > 40 ? "..." + s.path.substr(s.path.size() - 37) : s.path;
    fmt::print("{:<40} {:>{}} {:>27} {:>{}} {:>8.2f} {}\n", name,
               four ? std::to_string(s.pred) : (s.pred ? pos : neg), call_w,
               four ? probs : fmt::format("{:.3f}", s.p[1]),
               fmt::format("{} {:.2f}", s.binary_vote ? pos : neg, s.p_diseased), vote_w, s.disagreement,
               u ? "UNSURE" : "");
    std::vector<std::string> row = {s.path, std::to_string(s.pred)};
    if (four)
      for (double p : s.p) row.push_back(fmt::format("{:.6f}", p));
    else
      row.push_back(fmt::format("{:.6f}", s.p[1]));
    row.push_back(fmt::format("{:.6f}", s.p_diseased));
    row.push_back(fmt::format("{:.4f}", s.disagreement));
    row.push_back(u ? "1" : "0");
    csv.row(row);
    js.push_back(score_json(s, u, names));
  }
  say_clips(scores, names);
  if (!a.frames_csv.empty() || !a.frames_plot.empty())
    write_frames(scores, four, a.frames_csv, a.frames_plot);
  fmt::print("{} image(s) scored, {} unsure (max probability < {} or members split >= {})\n", scores.size(),
             n_unsure, a.unsure_below, a.unsure_disagreement);
  if (!a.manifest.empty()) {
    const auto sums =
        exporting::per_patient_sums(scores, data::read_manifest(a.manifest, /*check_files=*/false));
    size_t matched = 0;
    for (const auto& p : sums) matched += static_cast<size_t>(p.images);
    if (matched == 0)
      spdlog::warn(
          "--manifest {}: none of the {} scored image(s) is a row of it (paths are matched as files, "
          "resolved "
          "against the manifest's folder): no per-patient sums",
          a.manifest, scores.size());
    else if (matched < scores.size())
      spdlog::warn(
          "--manifest {}: {} of {} scored image(s) are not in it and are left out of the per-patient sums",
          a.manifest, scores.size() - matched, scores.size());
    if (matched > 0) {
      fmt::print("\nper patient ({}): patient, images, sum of predicted {}\n", a.manifest,
                 four ? "grades" : "calls");
      for (const auto& p : sums) fmt::print("{:<12} {:>6} {:>6}\n", p.patient, p.images, p.sum);
    }
  }
  if (!a.csv.empty()) csv.write(a.csv);
  if (!a.json.empty()) write_file_atomic(a.json, js.dump(2) + "\n");
}

// One overlay PNG per image (and the map as a float TIFF with --heatmap-data) in a.heatmap.
void write_heatmaps(const ScoreArgs& a, exporting::Scorer& scorer, const std::vector<std::string>& files,
                    const exporting::HeatOptions& heat) {
  fs::create_directories(a.heatmap);
  const std::string method = exporting::heat_method_name(heat.method);
  Progress heat_bar("heat map", static_cast<int64_t>(files.size()));
  std::map<std::string, int> used;
  for (size_t i = 0; i < files.size(); ++i) {
    const auto h = scorer.heatmap(files[i], heat);
    // A clip's map is of its key frame: the name says which.
    const std::string stem =
        fs::path(files[i]).stem().string() + (h.frame >= 0 ? fmt::format("_f{:05d}", h.frame) : "");
    const int n = used[stem]++;
    const std::string name =
        n == 0 ? fmt::format("{}_{}.png", stem, method) : fmt::format("{}_{}_{}.png", stem, n, method);
    data::write_image_atomic((fs::path(a.heatmap) / name).string(), exporting::heatmap_overlay(h));
    if (a.heatmap_data) {  // the map itself: 32-bit float TIFF, image size, [0, 1]
      data::write_image_atomic((fs::path(a.heatmap) / fs::path(name).replace_extension(".tiff")).string(),
                               h.heat);
    }
    heat_bar.update(static_cast<int64_t>(i + 1));
  }
  heat_bar.finish();
  fmt::print("wrote {} {} heat map overlay(s) to {}\n", files.size(), method, a.heatmap);
}

// What the model is, from its metadata: task, members and taps, backbone, and how its figures were made.
std::string describe_model(const exporting::ModelFile& m) {
  auto get = [&](const char* k) { return m.meta.count(k) ? m.meta.at(k) : std::string("?"); };
  std::string taps;
  for (const auto& t : m.member_taps)
    if (taps.find(t) == std::string::npos) taps += (taps.empty() ? "" : " + ") + t;
  std::string out = fmt::format("model: {}, {} member(s) on {}, {} ({})", get("task"), m.members.size(), taps,
                                get("arch"), get("weights"));
  const auto metrics = nlohmann::json::parse(get("metrics"), nullptr, /*allow_exceptions=*/false);
  if (metrics.is_object() && metrics.contains("cross_validation")) {
    const auto& cv = metrics["cross_validation"];
    int chosen = 0;
    if (cv.contains("taps_chosen") && cv["taps_chosen"].contains(cv.value("refit_tap", "")))
      chosen = cv["taps_chosen"][cv.value("refit_tap", "")].get<int>();
    out += fmt::format(
        "; refit on every image after {}-fold cross-validation (tap {} chosen by {} of {} folds); its "
        "figures are the folds' out-of-fold ones: accuracy {:.1f}%",
        cv.value("folds", 0), cv.value("refit_tap", "?"), chosen,
        cv.contains("per_fold") ? cv["per_fold"].size() : 0, 100 * metrics.value("accuracy", NAN));
  } else if (metrics.is_object() && metrics.contains("accuracy") && metrics["accuracy"].is_number()) {
    out += fmt::format("; test accuracy {:.1f}%", 100 * metrics["accuracy"].get<double>());
  }
  return out;
}

void run_score(const ScoreArgs& a) {
  exporting::HeatOptions heat;
  heat.method = exporting::parse_heat_method(a.heatmap_method);  // a usage error before any work
  heat.steps = a.heatmap_steps;
  const auto model = exporting::read_model(a.model);
  fmt::print(stderr, "{}\n", describe_model(model));
  if (!a.heatmap.empty()) exporting::check_heat_options(model, heat);
  const auto files = collect_inputs(a.inputs);
  exporting::Scorer scorer(model, a.device, a.threads, a.batch);
  scorer.prepare(static_cast<int64_t>(files.size()));  // with the model load, before the timed stage
  Progress bar("score", static_cast<int64_t>(files.size()));
  const auto scores = scorer.score(files, [&bar](int64_t d, int64_t) { bar.update(d); });
  bar.finish();
  report_scores(a, scores, scorer.task() == train::Task::kOess4, scale_names(model));
  if (!a.heatmap.empty()) write_heatmaps(a, scorer, files, heat);
  if (!a.save_input.empty()) {
    exporting::write_onnx_inputs(model, files, a.save_input);
    fmt::print(
        "wrote {}: the {} image(s) as an ONNX model's input [N, 3, H, W] (float32 RGB in [0, 1]), in the "
        "order above\n",
        a.save_input, files.size());
  }
}

struct ExportArgs {
  std::string run, model, out, format = "oess";
};

// The oess model an ONNX export starts from: --model FILE, or the run's model/model.pt.
std::string source_model(const ExportArgs& a) {
  if (!a.model.empty()) return a.model;
  const fs::path file = fs::path(a.run) / "model" / "model.pt";
  if (!fs::is_regular_file(file))
    throw Error(
        fmt::format("{}: no model/model.pt (is this an `oess run` folder whose export stage ran?)", a.run));
  return file.string();
}

void run_export(const ExportArgs& a) {
  if (a.run.empty() == a.model.empty())
    throw UsageError("oess export: give one of --run DIR or --model FILE");
  if (a.format == "oess" && a.run.empty())
    throw UsageError("oess export --format oess needs --run DIR (a --model file already is an oess model)");
  // The output's folder before any work: an unwritable path fails in a second, not after the export.
  const fs::path parent = fs::absolute(a.out).parent_path();
  std::error_code ec;
  if (!fs::is_directory(parent, ec))
    throw Error(fmt::format("{}: cannot write there: no folder {}", a.out, parent.string()));
  if (fs::is_directory(a.out, ec)) throw Error(fmt::format("{}: is a folder; give a file name", a.out));
  if (a.format == "oess") {
    exporting::export_run(a.run, a.out);
    fmt::print("wrote {}\n", a.out);
    return;
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto model = exporting::read_model(source_model(a));
  const auto s = exporting::export_onnx(model, a.out);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(
      "wrote {}: {:.1f} MB, {} nodes ({} Conv + BatchNorm folded), {:.1f} M parameters, opset {}, checked by "
      "ONNX's checker and shape inference, {:.1f} s\n"
      "  input  image [N, 3, {}, {}] float32 RGB in [0, 1]\n"
      "  output probabilities [N, {}], members [N, {}, {}], p_diseased [N]\n{}\n",
      a.out, s.bytes / 1e6, s.nodes, s.folded, s.parameters / 1e6, exporting::kOnnxOpset, secs, s.height,
      s.width, s.classes, s.members, s.classes, exporting::onnx_usage(a.out, s));
}

}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* sub =
      app.add_subcommand("export", "Export a trained model: one oess model file, or ONNX for other runtimes");
  sub->add_option("--run", a->run, "run folder of `oess run` (its export stage wrote model/)");
  sub->add_option("--model", a->model,
                  "an oess model file (model.pt) to convert, instead of --run (onnx only)");
  sub->add_option(
         "--format", a->format,
         "oess: a torch.load-able dict that `oess score` reads; onnx: an ONNX file (opset 13) with the "
         "preprocessing, backbone, members and ensemble inside, for ONNX Runtime and other runtimes")
      ->check(CLI::IsMember(config::export_formats().names))
      ->capture_default_str();
  sub->add_option("--out", a->out, "file to write (written whole or not at all)")->required();
  sub->footer(
      "`oess run` also writes RUN/model/model.pt (and model.onnx with output.export: [oess, onnx]).\n"
      "Score an oess file with: oess score --model FILE IMAGES...; an ONNX file: docs/scoring.md (Python and "
      "Node examples), its contract: docs/formats.md.");
  sub->callback([a] { run_export(*a); });
}

void add_score_command(CLI::App& app) {
  auto a = std::make_shared<ScoreArgs>();
  auto* sub = app.add_subcommand(
      "score", "Score new images (PNG/JPEG/DICOM, files or folders) with an exported model");
  sub->add_option("--model", a->model, "exported model file, or a run's model/ folder")->required();
  sub->add_option("INPUT", a->inputs, "image files and folders (searched recursively)")->required();
  sub->add_option("--csv", a->csv, "write path,pred,p0..p3 (or p1),p_diseased,disagreement,unsure");
  sub->add_option("--json", a->json,
                  "write the scores as JSON (clips: also each sampled frame's and the key frame)");
  sub->add_option(
      "--frames-csv", a->frames_csv,
      "clips: write path,frame,p0..p3 (binary: p1),p_diseased,key: each sampled frame scored alone");
  sub->add_option("--frames-plot", a->frames_plot,
                  "clips: folder for NAME_frames.png, each grade's probability over the sampled frames");
  sub->add_option("--manifest", a->manifest, "manifest with a patient column: per-patient sums");
  sub->add_option("--heatmap", a->heatmap,
                  "folder for a heat-map overlay PNG per image (IMAGE_METHOD.png): which pixels drove the "
                  "score (docs/scoring.md)");
  sub->add_option("--heatmap-method", a->heatmap_method,
                  "gradcam: Grad-CAM at the model's tap (coarse, fast); ig: integrated gradients from the "
                  "training images' mean (pixels); gradcam-ig: their product, Grad-CAM's regions refined to "
                  "pixels")
      ->check(CLI::IsMember(config::heat_methods().names))
      ->capture_default_str();
  sub->add_flag(
      "--heatmap-data", a->heatmap_data,
      "with --heatmap: also write each map itself as IMAGE_METHOD.tiff (32-bit float, image size, 0..1)");
  sub->add_option("--heatmap-steps", a->heatmap_steps,
                  "integrated gradients: points on the path (each one forward and backward pass)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  sub->add_option("--unsure-below", a->unsure_below, "flag images whose highest probability is below this")
      ->capture_default_str();
  sub->add_option("--unsure-disagreement", a->unsure_disagreement,
                  "flag images whose members disagree at least this much (0 = unanimous)")
      ->capture_default_str();
  sub->add_option("--save-input", a->save_input,
                  "also write the images as the ONNX export's input wants them: a NumPy .npy, float32 "
                  "[N, 3, H, W], RGB in [0, 1], cropped and resized as this model does (docs/scoring.md)");
  sub->add_option("--device", a->device, "cpu | cuda | cuda:N")->capture_default_str();
  sub->add_option("--threads", a->threads, "compute threads")->capture_default_str();
  sub->add_option("--batch", a->batch, "images per forward pass")->capture_default_str();
  sub->callback([a] { run_score(*a); });
}

}  // namespace oess::cli
