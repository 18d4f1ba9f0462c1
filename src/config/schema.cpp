// The experiment schema: every key, its type, default and meaning (docs/config.md is generated from this).
#include <fmt/format.h>

#include <algorithm>

#include "oess/config/choices.h"
#include "oess/config/config.h"

namespace oess::config {
namespace {

constexpr double kNone = -1e300;

Key k(std::string path, Type type, std::string def, std::string help, std::vector<std::string> choices = {},
      double min = kNone, bool min_exclusive = false, double max = 1e300) {
  return Key{std::move(path), type, std::move(def), std::move(choices), min,
             min_exclusive,   max,  std::move(help)};
}

Key empty_ok(Key key) {
  key.empty_list_ok = true;
  return key;
}

// finetune.*: the finetune stage (issue #31), after the tap selection.
std::vector<Key> finetune_keys() {
  using T = Type;
  return {
      k("finetune.enabled", T::kBool, "false",
        "after the tap is selected, train the backbone's blocks after finetune.train_from together with a "
        "linear head on the selected tap; the fine-tuned network is the run's model (docs/training.md)"),
      k("finetune.train_from", T::kString, "auto",
        "the last frozen tap: the blocks after it train, it and everything before it stay frozen (computed "
        "once per image); `input`: the whole network; `auto`: the tap just before the head's (one block)"),
      k("finetune.epochs", T::kInt, "20", "epoch limit", {}, 1),
      k("finetune.batch", T::kInt, "16", "images per SGD step", {}, 1),
      k("finetune.lr_backbone", T::kNumber, "0.0001", "learning rate of the trained blocks (SGD)", {}, 0,
        true),
      k("finetune.lr_head", T::kNumber, "0.001", "learning rate of the linear head", {}, 0, true),
      k("finetune.momentum", T::kNumber, "0.9", "SGD momentum", {}, 0, false, 1),
      k("finetune.weight_decay", T::kNumber, "0.0001", "L2 coefficient (SGD's, on every trained tensor)", {},
        0),
      k("finetune.schedule", T::kString, "cosine",
        "learning rates after the warm-up: cosine (falling to 0 at the last epoch), step (times step_gamma "
        "every step_every epochs) or constant",
        schedules().names),
      k("finetune.warmup_epochs", T::kInt, "1",
        "epochs whose learning rates ramp up linearly (epoch e of w: (e + 1) / (w + 1) of the rate)", {}, 0),
      k("finetune.step_every", T::kInt, "5", "schedule step: epochs between two drops", {}, 1),
      k("finetune.step_gamma", T::kNumber, "0.1", "schedule step: the factor of each drop", {}, 0, true, 1),
      k("finetune.patience", T::kInt, "5",
        "stop after this many epochs without a better validation score "
        "(classifier.early_stopping.monitor); the best epoch's network is kept",
        {}, 1),
      k("finetune.seed", T::kInt, "0", "seed of the batch order, mixed with the run's seed", {}, 0),
      k("finetune.views", T::kInt, "0",
        "augmented views of every training item added to the fine-tuning's training set (a seeded flip, "
        "±5° rotation, 0.95-1.05 scale, gain and contrast each, as data.augment's copies); computed once, "
        "their frozen part kept with the rest; with train_from input, drawn afresh every epoch",
        {}, 0),
  };
}

std::vector<Key> make_schema() {
  using T = Type;
  return {
      k("name", T::kString, "\"\"", "run name; empty: the config file's name without .yaml"),
      k("description", T::kString, "\"\"", "free text, shown at the top of the report"),
      k("seed", T::kInt, "0",
        "master seed: split, oversampling, classifier batch order, random backbone weights", {}, 0),
      // data
      k("data.manifest", T::kString, "synthetic",
        "manifest CSV (docs/data.md), or `synthetic`: the embedded synthetic dataset, made on first use; a "
        "relative path resolves against the folder of the config file that sets it (--set: the working "
        "directory)"),
      k("data.columns.path", T::kString, "\"\"", "manifest column of the image paths; empty: `path`"),
      k("data.columns.score", T::kString, "\"\"", "manifest column of the OESS grades; empty: `score`"),
      k("data.columns.patient", T::kString, "\"\"",
        "manifest column of the patient ids; empty: the first of patient, patient_id, patientid, subject, "
        "subject_id, case, case_id (any case)"),
      empty_ok(k("data.readers", T::kStringList, "[]",
                 "several readers (docs/readers.md): manifest columns of their grades 0-3, an empty cell a "
                 "grade not given; the report adds their agreement and the model as one more reader")),
      empty_ok(k("data.reader_files", T::kStringList, "[]",
                 "more readers: files of path,reader,grade rows (what `oess read` writes), matched to the "
                 "manifest's images; relative to this config's folder")),
      k("data.label", T::kString, "score",
        "what the run trains and tests on: `score`, `consensus` of data.readers (data.consensus), or one "
        "reader's column"),
      k("data.consensus", T::kString, "majority",
        "the readers' consensus: `majority` (ties to the grade nearest the median), `median` (the lower "
        "middle grade), `mean_rounded` (half up), or an adjudicator column that settles disagreements"),
      k("data.synthetic.dir", T::kString, "data/synthetic",
        "where the synthetic dataset lives (made if absent)"),
      k("data.synthetic.counts", T::kIntList, "[742, 425, 307, 220]",
        "images per grade 0-3 (the study's Table 1: 1694 in all)", {}, 0),
      k("data.synthetic.patients", T::kInt, "40", "synthetic patients", {}, 1),
      k("data.synthetic.seed", T::kInt, "0", "seed of the synthetic images", {}, 0),
      k("data.synthetic.label_noise", T::kNumber, "0", "fraction of labels moved one grade", {}, 0, false, 1),
      k("data.split.method", T::kString, "per_class", "how images are divided into train / validation / test",
        split_methods().names),
      k("data.split.val_per_class", T::kInt, "44", "per_class: validation images of each grade", {}, 0),
      k("data.split.test_per_class", T::kInt, "44", "per_class: test images of each grade", {}, 0),
      k("data.split.val_fraction", T::kNumber, "0.1",
        "stratified / grouped: validation fraction; kfold: the share of each fold's training part (patients "
        "kept together) held out for early stopping and tap choice",
        {}, 0, false, 1),
      k("data.split.test_fraction", T::kNumber, "0.1", "stratified / grouped: test fraction", {}, 0, false,
        1),
      k("data.split.folds", T::kInt, "5",
        "kfold: number of folds K; every image is in the test part of exactly one fold (patients kept "
        "together)",
        {}, 2),
      k("data.split.repeats", T::kInt, "1",
        "kfold: repeats R of the K folds, each reshuffled from the seed (predictions.csv: repeat 1; "
        "metrics.json lists every repeat)",
        {}, 1),
      k("data.split.group_column", T::kString, "\"\"",
        "leave_group_out: the manifest column of the groups (centre, scanner, site, reader): each group in "
        "turn is the test set, trained on the others (patients kept together; validation carved from the "
        "training groups), and metrics.json gives each group's figures beside the pooled ones"),
      k("data.allow_patient_overlap", T::kBool, "false",
        "with a patient column, allow a split that puts a patient in both training and test (else refused, "
        "naming them)"),
      k("data.allow_duplicates", T::kBool, "false",
        "allow the same picture (exact or near duplicate, docs/data.md) in two parts of the split or two "
        "folds (else refused, naming the files); allowed, it is a warning"),
      k("data.check", T::kBool, "true",
        "the data stage decodes every image first: unreadable files, sizes, colour modes, duplicates "
        "(`oess data check`)"),
      k("data.balance", T::kString, "oversample",
        "training-set balancing: repeat rarer grades (the study's Table 2), weight the loss, or neither",
        balance_modes().names),
      k("data.augment", T::kBool, "false",
        "oversampled copies get a seeded augmented image (flip, rotation, scale, gain) and features of "
        "their own"),
      empty_ok(
          k("data.mask", T::kStringList, "[]",
            "on-screen marks hidden before features and heat maps: `outside_sector` (black outside the "
            "scan), `annotations` (thin light neutral marks: text, calipers), `rect:X,Y,W,H` (negative X "
            "or Y: from the right or bottom edge); hidden pixels inside the scan are filled from their "
            "surroundings (docs/data.md)")),
      k("data.crop", T::kString, "none",
        "`none`, `colour_box` (the Doppler box's outline) or `rect:X,Y,W,H`"),
      k("data.dicom_frame", T::kInt, "0", "frame of multi-frame DICOM files (not clips: data.clip.dicom)", {},
        0),
      k("data.clip.frames", T::kInt, "8",
        "clips (MP4, AVI, MOV, MKV; multi-frame DICOM with data.clip.dicom): N evenly spaced frames, the "
        "middle of each of N equal runs (all of a shorter clip, with a note)",
        {}, 1),
      k("data.clip.every", T::kInt, "0", "clips: every K-th frame instead of data.clip.frames (0: off)", {},
        0),
      k("data.clip.max_frames", T::kInt, "64", "clips: at most this many frames with data.clip.every", {}, 1),
      k("data.clip.pooling", T::kString, "max",
        "one feature row per clip from its frames' pooled features: max (the strongest response over the "
        "sweep, as a grader takes the frame with the most Doppler) or mean",
        {"max", "mean"}),
      k("data.clip.aggregate", T::kString, "none",
        "`none`: one feature row per clip (data.clip.pooling); `max_grade` or `mean_probability`: a "
        "frame-level classifier trained with the clip's grade on every sampled frame, the clip's "
        "probabilities those of its highest-graded frame or its frames' mean (docs/data.md, Clips)",
        {"none", "max_grade", "mean_probability"}),
      k("data.clip.dicom", T::kBool, "false",
        "multi-frame DICOM files are clips (else data.dicom_frame picks one frame of each)"),
      // backbone
      k("backbone.arch", T::kString, "inception_v3", "feature network", {"inception_v3", "vgg16"}),
      k("backbone.weights", T::kString, "none",
        "weights file (docs/weights.md), or `none`: seeded random initialisation (said on the console and "
        "in the report)"),
      k("backbone.transform_input", T::kBool, "false",
        "Inception: torchvision's transform_input (torchvision's own Inception weights need it)"),
      k("backbone.flavour", T::kString, "auto",
        "network semantics: `auto` = what the weights file says (Keras for `oess weights import` files, else "
        "torchvision); an explicit value that contradicts the file is an error",
        {"auto", "torchvision", "keras"}),
      k("backbone.preprocessing", T::kString, "auto",
        "pixel scaling the weights were trained with; `auto` = what the weights file says, else torchvision",
        {"auto", "torchvision", "keras_tf", "keras_caffe"}),
      k("backbone.device", T::kString, "cpu", "`cpu`, `cuda` or `cuda:N`"),
      // features
      k("features.layers", T::kStringList, "[all]",
        "taps (mixed0..mixed10, block5_conv3, torchvision names) or `all`; one classifier each"),
      k("features.pooling", T::kStringList, "[avg]",
        "global pooling of each tap; two values sweep both (taps then read mixed4@avg, mixed4@max)",
        run_poolings().names),
      k("features.cache", T::kString, "\"\"",
        "feature cache folder; empty: $XDG_CACHE_HOME/oess/features (or ~/.cache/oess/features); `none`: "
        "no cache"),
      k("features.batch", T::kInt, "16", "images per forward pass", {}, 1),
      k("features.threads", T::kInt, "2", "compute threads (decoding runs on one more)", {}, 1),
      // classifier
      k("classifier.task", T::kString, "oess4", "oess4: grades 0-3; binary: healthy (0-1) vs diseased (2-3)",
        tasks().names),
      k("classifier.head", T::kString, "softmax",
        "oess4: softmax (a logit per grade, the study) or ordinal (cumulative-link, proportional odds: one "
        "score and three ordered thresholds, so a 0 is never nearer 3 than 2 is; docs/training.md)",
        {"softmax", "ordinal"}),
      k("classifier.optimizer", T::kString, "adam", "adam and sgd in mini-batches; lbfgs on the full batch",
        optimizers().names),
      k("classifier.lr", T::kNumber, "0.001", "learning rate", {}, 0, true),
      k("classifier.weight_decay", T::kNumber, "0.0001", "L2 coefficient (the bias is not penalised)", {}, 0),
      k("classifier.momentum", T::kNumber, "0.9", "sgd momentum", {}, 0, false, 1),
      k("classifier.batch", T::kInt, "64", "mini-batch size", {}, 1),
      k("classifier.max_epochs", T::kInt, "200", "epoch limit", {}, 1),
      k("classifier.early_stopping.patience", T::kInt, "10",
        "stop after this many epochs without improvement; the best epoch's weights are kept", {}, 1),
      k("classifier.early_stopping.monitor", T::kString, "val_accuracy",
        "what improves: validation accuracy (ties by validation loss), or validation loss", monitors().names),
      k("classifier.threads", T::kInt, "2",
        "classifiers trained in parallel: the sweep's taps, the ensemble's members (results do not depend on "
        "it)",
        {}, 1),
      // selection, ensemble
      k("selection.tap", T::kString, "best",
        "the final model's tap: `best` (highest validation accuracy; the test set takes no part) or a tap "
        "name"),
      k("selection.allow_empty_grades", T::kBool, "false",
        "choose a `best` tap even when a grade has no validation image (else refused: the choice could not "
        "see that grade)"),
      k("ensemble.members", T::kInt, "10",
        "classifiers per ensemble tap, with varied settings (the study: 10); 0: the selected tap's "
        "classifier "
        "alone",
        {}, 0),
      k("ensemble.taps", T::kStringList, "[best]",
        "taps the members are trained on: `best` (the selected tap) and/or tap names; all are combined"),
      k("ensemble.variation", T::kString, "grid",
        "grid: members vary lr, weight decay, batch and seed (docs/training.md); seed: only the seed",
        variations().names),
      // evaluate, report, output
      k("calibration.method", T::kString, "none",
        "temperature: after the ensemble, fit one temperature T on the validation images (minimum negative "
        "log-likelihood) and report, predict and export softmax(log p / T) — the grades called do not "
        "change, their probabilities do; platt (classifier.task binary): P(diseased) = sigmoid(a logit + b), "
        "(a, b) fitted likewise, which can also move calls near 0.5; none: the members' mean as it is (the "
        "study)",
        {"none", "temperature", "platt"}),
      empty_ok(k("evaluate.by", T::kStringList, "[]",
                 "manifest columns (scanner, centre, ...): predictions.csv carries them and metrics.json and "
                 "the report give each group's figures with CIs beside the pooled ones (leave_group_out adds "
                 "its group column)")),
      k("report.formats", T::kStringList, "[md, html]", "report files to write", {"md", "html"}),
      k("report.bootstrap", T::kInt, "2000", "bootstrap resamples for the 95% intervals (0: none)", {}, 0),
      k("report.scale", T::kString, "OESS",
        "the grading scale's name in the report's titles (e.g. BI-RADS for a breast set mapped to 0-3)"),
      empty_ok(k("report.binary_names", T::kStringList, "[]",
                 "two names for grades 0-1 and 2-3 in the report (e.g. [benign-looking, suspicious]); empty: "
                 "the study's healthy/diseased when report.beside_study, else the grades")),
      k("report.gallery", T::kInt, "12",
        "the error gallery (gallery.html, written by the export stage): this many of the test images the "
        "model gets most wrong, with their heat maps, and half as many per evaluate.by group; 0: none",
        {}, 0),
      k("report.beside_study", T::kBool, "false",
        "add the section setting this run's figures beside the study's published ones (the paper configs "
        "set it)"),
      k("output.dir", T::kString, "runs/{name}", "the run folder; {name} is replaced by the run name"),
      k("output.export", T::kStringList, "[oess]",
        "model files the export stage writes into model/: oess (model.pt, for `oess score`; always written), "
        "onnx (model.onnx, for ONNX Runtime and other runtimes; docs/scoring.md)",
        export_formats().names),
  };
}

}  // namespace

const std::vector<Key>& schema() {
  static const std::vector<Key> s = [] {
    auto keys = make_schema();
    auto tuned = finetune_keys();
    const auto at =
        std::find_if(keys.begin(), keys.end(), [](const Key& k) { return k.path == "calibration.method"; });
    keys.insert(at, tuned.begin(), tuned.end());  // after selection and ensemble, as the stages run
    return keys;
  }();
  return s;
}

const Key* find_key(const std::string& path) {
  for (const auto& key : schema())
    if (key.path == path) return &key;
  return nullptr;
}

std::string type_name(Type t) {
  switch (t) {
    case Type::kInt:
      return "an integer";
    case Type::kNumber:
      return "a number";
    case Type::kBool:
      return "true or false";
    case Type::kString:
      return "a string";
    case Type::kStringList:
      return "a list of strings";
    case Type::kIntList:
      return "a list of integers";
  }
  return "?";
}

std::string schema_markdown() {
  std::string out = "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n";
  for (const auto& key : schema()) {
    std::string allowed;
    for (const auto& c : key.choices) allowed += (allowed.empty() ? "" : ", ") + c;
    if (key.min > kNone) allowed = fmt::format("{} {}", key.min_exclusive ? ">" : ">=", key.min);
    if (key.max < 1e300) allowed += fmt::format(", <= {}", key.max);
    static const char* const kShort[] = {"integer", "number",          "boolean",
                                         "string",  "list of strings", "list of integers"};
    const char* type = kShort[static_cast<int>(key.type)];
    out +=
        fmt::format("| `{}` | {} | `{}` | {} | {} |\n", key.path, type, key.default_yaml, allowed, key.help);
  }
  return out;
}

}  // namespace oess::config
