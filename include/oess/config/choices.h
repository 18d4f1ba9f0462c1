#pragma once
// oess/config/choices.h — the closed sets of oess's options, each spelled once. The config schema's
// `choices` (docs/config.md), the command line's checks (CLI::IsMember) and the parsers of the areas that
// use them (data, features, train, export) all read these lists; an enum whose order follows its list
// turns a name into a value (parse<E>).
//
// Choices::index(value, what): the value's position, else UsageError `WHAT "value": expected a, b or c`.
#include <cstddef>
#include <string>
#include <vector>

namespace oess::config {

struct Choices {
  const char* what;  // the option, as messages name it when the caller does not
  std::vector<std::string> names;
  size_t index(const std::string& value, const std::string& what = "") const;
  bool contains(const std::string& value) const;
  std::string expected() const;  // "a, b or c"
};

const Choices& split_methods();     // per_class stratified grouped column kfold
const Choices& balance_modes();     // oversample class_weights none
const Choices& run_poolings();      // avg max: what a run's classifiers can use
const Choices& extract_poolings();  // avg max none: `oess extract` can also keep the full maps
const Choices& tasks();             // oess4 binary
const Choices& optimizers();        // adam sgd lbfgs
const Choices& monitors();          // val_accuracy val_loss
const Choices& variations();        // grid seed
const Choices& schedules();         // cosine step constant: fine-tuning's learning-rate schedules
const Choices& heat_methods();      // gradcam ig gradcam-ig
const Choices& export_formats();    // oess onnx: the model files a run's export stage and `oess export` write

// Enums whose order follows their list. choices_of<E>() is the list; parse<E>(name) the value (UsageError
// naming `what`, else the list's option, when the name is not in it); name(e) the name.
enum class SplitMethod {
  kPerClass,
  kStratified,
  kGrouped,
  kColumn,
  kKfold,
  kLeaveGroupOut
};  // split_methods()
// kfold and leave_group_out: K train/test splits, every image predicted once out of fold.
inline bool cross_validated(SplitMethod m) {
  return m == SplitMethod::kKfold || m == SplitMethod::kLeaveGroupOut;
}
enum class Balance { kOversample, kClassWeights, kNone };  // balance_modes()
enum class Optimizer { kAdam, kSgd, kLbfgs };              // optimizers()
enum class Monitor { kValAccuracy, kValLoss };             // monitors()
enum class Variation { kGrid, kSeed };                     // variations()
enum class Schedule { kCosine, kStep, kConstant };         // schedules()

template <typename E>
const Choices& choices_of();
template <>
inline const Choices& choices_of<SplitMethod>() {
  return split_methods();
}
template <>
inline const Choices& choices_of<Balance>() {
  return balance_modes();
}
template <>
inline const Choices& choices_of<Optimizer>() {
  return optimizers();
}
template <>
inline const Choices& choices_of<Monitor>() {
  return monitors();
}
template <>
inline const Choices& choices_of<Variation>() {
  return variations();
}

template <>
inline const Choices& choices_of<Schedule>() {
  return schedules();
}

template <typename E>
E parse(const Choices& c, const std::string& value, const std::string& what = "") {
  return static_cast<E>(c.index(value, what));
}
template <typename E>
E parse(const std::string& value, const std::string& what = "") {
  return parse<E>(choices_of<E>(), value, what);
}
template <typename E>
const std::string& name(E e) {
  return choices_of<E>().names.at(static_cast<size_t>(e));
}

}  // namespace oess::config
