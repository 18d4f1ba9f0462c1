// Classifiers, early stopping, sweeps and ensembles: hand-computed values, a gradient check, determinism,
// and scikit-learn as the oracle for the fitted solution.
#include <torch/torch.h>
#include <catch2/catch.hpp>
#include <cmath>

#include <fstream>
#include <nlohmann/json.hpp>

#include "oess/core/error.h"
#include "oess/ensemble/ensemble.h"
#include "oess/io/weights.h"
#include "oess/train/classifier.h"
#include "oess/train/sweep.h"

using namespace oess;
using train::Task;

namespace {

train::LinearModel zero_model(Task task, int64_t f, torch::Dtype dtype = torch::kFloat32) {
  train::LinearModel m;
  m.task = task;
  const int64_t k = task == Task::kBinary ? 1 : 4;
  m.weight = torch::zeros({k, f}, dtype).set_requires_grad(true);
  m.bias = torch::zeros({k}, dtype).set_requires_grad(true);
  return m;
}

}  // namespace

TEST_CASE("softmax loss and gradient on three rows, by hand", "[train]") {
  // z = (1,0), (0,1), (1,1); targets 0, 1, 3; W = 0, b = 0 -> every probability 0.25, loss ln 4.
  const auto z = torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).reshape({3, 2});
  const auto t = torch::tensor({0, 1, 3}, torch::kLong);
  auto m = zero_model(Task::kOess4, 2);
  auto loss = train::objective(m, z, t, torch::ones({3}), 0.3);
  CHECK(loss.item<double>() == Approx(std::log(4.0)));
  loss.backward();
  // dW[c] = sum_i (p_ic - y_ic) z_i / 3; db[c] = mean_i (p_ic - y_ic).
  const double g = 0.5 / 3;
  const float expected_w[4][2] = {
      {float(-g), float(g)}, {float(g), float(-g)}, {float(g), float(g)}, {float(-g), float(-g)}};
  for (int c = 0; c < 4; ++c)
    for (int j = 0; j < 2; ++j) CHECK(m.weight.grad()[c][j].item<double>() == Approx(expected_w[c][j]));
  const double expected_b[4] = {-0.25 / 3, -0.25 / 3, 0.75 / 3, -0.25 / 3};
  for (int c = 0; c < 4; ++c) CHECK(m.bias.grad()[c].item<double>() == Approx(expected_b[c]));
}

TEST_CASE("logistic loss and gradient on three rows, by hand", "[train]") {
  // Same z; binary targets 0, 1, 1; w = 0 -> p = 0.5, loss ln 2; dw = sum (p - y) z / 3 = (0, -1/3); db =
  // -1/6.
  const auto z = torch::tensor({1.f, 0.f, 0.f, 1.f, 1.f, 1.f}).reshape({3, 2});
  auto m = zero_model(Task::kBinary, 2);
  auto loss = train::objective(m, z, torch::tensor({0, 1, 1}, torch::kLong), torch::ones({3}), 0.0);
  CHECK(loss.item<double>() == Approx(std::log(2.0)));
  loss.backward();
  CHECK(m.weight.grad()[0][0].item<double>() == Approx(0.0).margin(1e-7));
  CHECK(m.weight.grad()[0][1].item<double>() == Approx(-1.0 / 3));
  CHECK(m.bias.grad()[0].item<double>() == Approx(-1.0 / 6));
}

TEST_CASE("autograd gradients match central finite differences (with L2 and row weights)", "[train]") {
  torch::manual_seed(3);
  for (Task task : {Task::kOess4, Task::kBinary}) {
    const auto z = torch::randn({7, 5}, torch::kFloat64);
    const auto t = task == Task::kOess4 ? torch::randint(0, 4, {7}, torch::kLong)
                                        : torch::randint(0, 2, {7}, torch::kLong);
    const auto w = torch::rand({7}, torch::kFloat64) + 0.5;
    auto m = zero_model(task, 5, torch::kFloat64);
    {
      torch::NoGradGuard g;
      m.weight.copy_(torch::randn_like(m.weight));
      m.bias.copy_(torch::randn_like(m.bias));
    }
    auto loss = train::objective(m, z, t, w, 0.25);
    loss.backward();
    const double h = 1e-6;
    for (auto* p : {&m.weight, &m.bias}) {
      auto flat = p->detach().view(-1);
      const auto grad = p->grad().view(-1);
      for (int64_t i = 0; i < flat.numel(); ++i) {
        const double keep = flat[i].item<double>();
        torch::NoGradGuard g;
        flat[i] = keep + h;
        const double up = train::objective(m, z, t, w, 0.25).item<double>();
        flat[i] = keep - h;
        const double down = train::objective(m, z, t, w, 0.25).item<double>();
        flat[i] = keep;
        CHECK(grad[i].item<double>() == Approx((up - down) / (2 * h)).margin(1e-7));
      }
    }
  }
}

TEST_CASE("a linearly separable set is learnt perfectly", "[train]") {
  // Grade = which of four well-separated centres a point comes from.
  torch::manual_seed(1);
  const auto centres = torch::tensor({0.f, 0.f, 6.f, 0.f, 0.f, 6.f, 6.f, 6.f}).reshape({4, 2});
  std::vector<int> y;
  std::vector<torch::Tensor> rows;
  for (int i = 0; i < 200; ++i) {
    y.push_back(i % 4);
    rows.push_back(centres[i % 4] + 0.5 * torch::randn({2}));
  }
  const auto x = torch::stack(rows);
  train::TrainOptions o;
  o.lr = 0.05;
  o.max_epochs = 100;
  o.patience = 100;
  const auto r = train::train_classifier(x, y, x, y, o);
  CHECK(r.best_val_accuracy == 1.0);
  const auto pred = r.model.probabilities(x).argmax(1);
  for (int i = 0; i < 200; ++i) CHECK(pred[i].item<int64_t>() == y[static_cast<size_t>(i)]);
}

TEST_CASE("early stopping picks the best epoch on a constructed curve", "[train]") {
  // accuracy 0.5, 0.7, 0.7, 0.6 with losses 1.0, 0.8, 0.6, 0.9: accuracy ties at epochs 2 and 3, broken by
  // the lower loss -> epoch 3 (index 2). By loss alone also index 2. A plateau keeps the earliest.
  const std::vector<train::CurvePoint> c = {
      {1, 0, 1.0, 0.5}, {2, 0, 0.8, 0.7}, {3, 0, 0.6, 0.7}, {4, 0, 0.9, 0.6}};
  CHECK(train::best_epoch_index(c, oess::config::Monitor::kValAccuracy) == 2);
  CHECK(train::best_epoch_index(c, oess::config::Monitor::kValLoss) == 2);
  const std::vector<train::CurvePoint> flat = {{1, 0, 0.5, 0.6}, {2, 0, 0.5, 0.6}};
  CHECK(train::best_epoch_index(flat, oess::config::Monitor::kValAccuracy) == 0);
}

TEST_CASE("training restores the best epoch's weights and stops after patience", "[train]") {
  torch::manual_seed(2);
  const auto x = torch::randn({120, 6});
  std::vector<int> y;
  for (int i = 0; i < 120; ++i)
    y.push_back((x[i][0].item<float>() + 0.8 * torch::randn({1}).item<float>()) > 0 ? 3 : 0);
  const auto xv = torch::randn({40, 6});
  std::vector<int> yv;
  for (int i = 0; i < 40; ++i) yv.push_back(xv[i][0].item<float>() > 0 ? 3 : 0);
  train::TrainOptions o;
  o.lr = 0.3;  // large steps: the validation curve wanders
  o.patience = 4;
  o.max_epochs = 60;
  const auto r = train::train_classifier(x, y, xv, yv, o);
  const size_t best = train::best_epoch_index(r.curve, o.monitor);
  CHECK(r.best_epoch == r.curve[best].epoch);
  CHECK(static_cast<int>(r.curve.size()) <= r.best_epoch + o.patience);
  // The returned model scores the validation set exactly as the best epoch did.
  const auto pred = r.model.probabilities(xv).argmax(1);
  int right = 0;
  for (int i = 0; i < 40; ++i) right += pred[i].item<int64_t>() == (yv[static_cast<size_t>(i)] == 3 ? 3 : 0);
  CHECK(right / 40.0 == Approx(r.curve[best].val_accuracy));
}

TEST_CASE("ensemble mean, majority vote, tie-break and disagreement on hand-made members", "[ensemble]") {
  // Row 0: members predict 2, 2, 1 -> votes diseased 2 of 3 -> diseased. Row 1: members predict 0, 3, 0.
  const auto a = torch::tensor({0.1f, 0.2f, 0.6f, 0.1f, 0.7f, 0.1f, 0.1f, 0.1f}).reshape({2, 4});
  const auto b = torch::tensor({0.0f, 0.3f, 0.4f, 0.3f, 0.1f, 0.1f, 0.1f, 0.7f}).reshape({2, 4});
  const auto c = torch::tensor({0.2f, 0.5f, 0.2f, 0.1f, 0.6f, 0.2f, 0.1f, 0.1f}).reshape({2, 4});
  const auto e = ensemble::combine({a, b, c}, Task::kOess4);
  // Row 0 mean = (0.1, 0.333, 0.4, 0.1667) -> pred 2; row 1 mean = (0.4667, 0.1333, 0.1, 0.3) -> pred 0.
  CHECK(e.mean[0][2].item<double>() == Approx(0.4));
  CHECK(e.pred == std::vector<int>{2, 0});
  CHECK(e.binary_vote == std::vector<int>{1, 0});
  CHECK(e.p_diseased[0] == Approx(0.5667).margin(1e-4));
  CHECK(e.disagreement[0] == Approx(1.0 / 3));  // two of three agree on grade 2
  CHECK(e.disagreement[1] == Approx(1.0 / 3));
  // Two members, one vote each way: the mean P(diseased) decides.
  const auto tie = ensemble::combine({a.slice(0, 0, 1), c.slice(0, 0, 1)}, Task::kOess4);
  CHECK(tie.p_diseased[0] == Approx(0.5));  // (0.7 + 0.3) / 2
  CHECK(tie.binary_vote[0] == 1);
  const auto grid = ensemble::member_grid(10, train::TrainOptions{});
  CHECK(grid[1].lr == Approx(0.5e-3));
  CHECK(grid[3].weight_decay == Approx(1e-5));
  CHECK(grid[9].seed == 9);
}

TEST_CASE("identical runs give bit-identical classifiers, whatever the sweep's threads", "[train]") {
  torch::manual_seed(4);
  features::FeatureSet f;
  for (int i = 0; i < 90; ++i) f.paths.push_back(std::to_string(i));
  f.taps = {"a", "b", "c"};
  for (const auto& t : f.taps) f.data[t] = torch::randn({90, 16});
  std::vector<int> grades;
  for (int i = 0; i < 90; ++i) grades.push_back(i % 4);
  train::Rows rows;
  for (int64_t i = 0; i < 90; ++i) (i < 60 ? rows.train : i < 75 ? rows.val : rows.test).push_back(i);
  rows.train.push_back(3);  // an oversampled copy
  train::TrainOptions o;
  o.max_epochs = 15;
  const auto s1 = train::sweep(f, rows, grades, o, 1);
  const auto s2 = train::sweep(f, rows, grades, o, 2);
  REQUIRE(s1.taps.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(torch::equal(s1.taps[i].fit.model.weight, s2.taps[i].fit.model.weight));
    CHECK(torch::equal(s1.taps[i].test_probabilities, s2.taps[i].test_probabilities));
  }
  CHECK(s1.best == s2.best);
  // The best tap is the best on validation.
  for (const auto& t : s1.taps) CHECK(t.val_accuracy <= s1.taps[s1.best].val_accuracy);
}

TEST_CASE("L2 logistic and softmax regression agree with scikit-learn", "[train][oracle]") {
  const auto file = oess::io::read_weights(std::string(OESS_SKLEARN_FIXTURE)).tensors;
  std::map<std::string, torch::Tensor> d(file.begin(), file.end());
  const auto x = d.at("x");
  std::vector<int> grades;
  for (int64_t i = 0; i < x.size(0); ++i)
    grades.push_back(static_cast<int>(d.at("grades")[i].item<int64_t>()));
  const double C = d.at("C").item<double>();
  for (const std::string task : {"oess4", "binary"}) {
    train::TrainOptions o;
    o.task = train::parse_task(task);
    o.optimizer = oess::config::Optimizer::kLbfgs;
    o.lr = 1;
    o.weight_decay = 1.0 / (C * static_cast<double>(x.size(0)));  // sklearn: C * sum(loss) + ||W||^2 / 2
    o.monitor = oess::config::Monitor::kValLoss;
    o.max_epochs = 60;
    o.patience = 60;
    const auto r = train::train_classifier(x, grades, x, grades, o);
    const auto ref_coef = d.at("coef_" + task);
    const auto ref_pred = d.at("pred_" + task);
    // Our weights act on features standardised again; x is already standardised, so they are comparable.
    const auto coef = (r.model.weight / r.model.std).to(torch::kFloat64);
    const double scale = ref_coef.abs().max().item<double>();
    const double err = (coef - ref_coef).abs().max().item<double>();
    const auto pred = r.model.probabilities(x).argmax(1);
    const double agree = pred.eq(ref_pred).to(torch::kFloat64).mean().item<double>();
    std::cout << task << ": predictions agree on " << 100 * agree
              << "% of rows; max |coef - sklearn| = " << err << " (" << err / scale
              << " of max |coef|, tolerance 1e-3)\n";
    CHECK(agree >= 0.99);
    CHECK(err <= 1e-3 * scale);
  }
}

// ---- the ordinal head (issue #32) against statsmodels' OrderedModel (logit), maximum likelihood

TEST_CASE("the ordinal head's maximum-likelihood fit equals statsmodels' OrderedModel", "[train][oracle]") {
  std::ifstream in(OESS_ORDINAL_FIXTURE);
  REQUIRE(in.good());
  const auto cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() == 3);
  for (const auto& c : cases) {
    const auto rows = c["x"].get<std::vector<std::vector<double>>>();
    const auto n = static_cast<int64_t>(rows.size()), f = static_cast<int64_t>(rows[0].size());
    auto x = torch::empty({n, f}, torch::kFloat64);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < f; ++j) x[i][j] = rows[static_cast<size_t>(i)][static_cast<size_t>(j)];
    const auto y = c["y"].get<std::vector<int>>();
    oess::train::TrainOptions o;
    o.head = oess::train::Head::kOrdinal;
    o.optimizer = oess::config::Optimizer::kLbfgs;
    o.lr = 1;
    o.weight_decay = 0;  // maximum likelihood, as statsmodels
    o.max_epochs = 60;
    o.patience = 60;
    o.monitor = oess::config::Monitor::kValLoss;
    // Validation = training: the kept epoch is the one with the lowest negative log-likelihood.
    const auto r = oess::train::train_classifier(x, y, x, y, o);
    const auto beta = c["beta"].get<std::vector<double>>();
    const auto theta = c["thresholds"].get<std::vector<double>>();
    INFO("n = " << n << ", features " << f << "; oess beta " << r.model.weight << " thresholds "
                << r.model.bias);
    REQUIRE(r.model.weight.sizes() == torch::IntArrayRef({1, f}));
    REQUIRE(r.model.bias.size(0) == 3);
    for (int64_t j = 0; j < f; ++j)
      CHECK(r.model.weight[0][j].item<double>() ==
            Approx(beta[static_cast<size_t>(j)]).margin(5e-4));  // float32 training
    for (int64_t j = 0; j < 3; ++j)
      CHECK(r.model.bias[j].item<double>() ==
            Approx(theta[static_cast<size_t>(j)]).margin(5e-4));  // float32 training
    CHECK(r.best_val_loss == Approx(c["nll"].get<double>()).margin(1e-5));
    // Probabilities: ordered cumulative ones, rows summing to 1.
    const auto p = r.model.probabilities(x.to(torch::kFloat32));
    CHECK(torch::allclose(p.sum(1), torch::ones({n}), 1e-5, 1e-5));
    CHECK(p.min().item<double>() >= 0);
  }
}

TEST_CASE("the ordinal head by hand: thresholds ordered, P(grade <= j) = sigmoid(theta_j - eta)", "[train]") {
  oess::train::LinearModel m;
  m.head = oess::train::Head::kOrdinal;
  m.mean = torch::zeros({1});
  m.std = torch::ones({1});
  m.weight = torch::tensor({{2.0f}});
  m.bias = torch::tensor({-1.0f, 0.0f, 1.5f});
  const auto p = m.probabilities(torch::tensor({{0.25f}}));  // eta = 0.5
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  CHECK(p[0][0].item<double>() == Approx(sig(-1.5)));
  CHECK(p[0][1].item<double>() == Approx(sig(-0.5) - sig(-1.5)));
  CHECK(p[0][2].item<double>() == Approx(sig(1.0) - sig(-0.5)));
  CHECK(p[0][3].item<double>() == Approx(1 - sig(1.0)));
  oess::train::TrainOptions o;
  o.task = oess::train::Task::kBinary;
  o.head = oess::train::Head::kOrdinal;
  CHECK_THROWS_AS(oess::train::validate(o), oess::UsageError);
}

TEST_CASE("a clip's probabilities from its frames' by max_grade and mean_probability, by hand",
          "[train][clip]") {
  // Clip 0: three frames and one padding row; clip 1: one frame, the rest padding holding values that must
  // not count; clip 2: two frames of equal predicted grade 2, the later with the higher expected grade.
  const auto p =
      torch::tensor({{{0.1, 0.6, 0.2, 0.1}, {0.3, 0.1, 0.5, 0.1}, {0.05, 0.05, 0.45, 0.45}, {0., 0., 0., 1.}},
                     {{0.7, 0.1, 0.1, 0.1}, {0., 0., 0., 1.}, {0., 0., 0., 1.}, {0., 0., 0., 1.}},
                     {{0.2, 0.0, 0.5, 0.3}, {0.1, 0.1, 0.5, 0.3}, {0.2, 0.0, 0.5, 0.3}, {0., 0., 0., 1.}}},
                    torch::kFloat64);
  const auto valid = torch::tensor({{1, 1, 1, 0}, {1, 0, 0, 0}, {1, 1, 1, 0}}, torch::kBool);
  // max_grade: clip 0's frames predict grades 1, 2, 2 (ties to the first of the maxima: index 2); of the two
  // grade-2 frames the expected grades are 1.4 and 2.3: frame 2. Clip 2: expected grades 1.9, 2.0, 1.9:
  // frame 1.
  const auto mx = train::aggregate_frames(p, valid, "max_grade");
  CHECK(torch::allclose(mx[0], torch::tensor({0.05, 0.05, 0.45, 0.45}, torch::kFloat64)));
  CHECK(torch::allclose(mx[1], torch::tensor({0.7, 0.1, 0.1, 0.1}, torch::kFloat64)));
  CHECK(torch::allclose(mx[2], torch::tensor({0.1, 0.1, 0.5, 0.3}, torch::kFloat64)));
  const auto mean = train::aggregate_frames(p, valid, "mean_probability");
  CHECK(torch::allclose(mean[0], torch::tensor({0.15, 0.25, 1.15 / 3, 0.65 / 3}, torch::kFloat64)));
  CHECK(torch::allclose(mean[1], torch::tensor({0.7, 0.1, 0.1, 0.1}, torch::kFloat64)));
  CHECK_THROWS_AS(train::aggregate_frames(p, valid, "median"), UsageError);
  CHECK_THROWS_AS(train::aggregate_frames(p, torch::zeros({3, 4}, torch::kBool), "max_grade"), Error);
}

TEST_CASE("a binary frame-level classifier on NaN-padded clip rows, by hand", "[train][clip]") {
  // One feature, weight 1, bias 0, no standardisation: P(diseased) = sigmoid(x) per frame.
  train::LinearModel m;
  m.task = Task::kBinary;
  m.mean = torch::zeros({1});
  m.std = torch::ones({1});
  m.weight = torch::ones({1, 1});
  m.bias = torch::zeros({1});
  const double nan = std::nan("");
  const auto x = torch::tensor({{{-1.0f}, {2.0f}, {static_cast<float>(nan)}}}, torch::kFloat32);  // [1, 3, 1]
  CHECK_THROWS_AS(m.probabilities(x), Error);                                                     // no rule
  const double s_lo = 1 / (1 + std::exp(1.0)), s_hi = 1 / (1 + std::exp(-2.0));
  m.aggregate = "max_grade";
  CHECK(m.probabilities(x)[0][1].item<double>() == Approx(s_hi).epsilon(1e-6));
  m.aggregate = "mean_probability";
  CHECK(m.probabilities(x)[0][1].item<double>() == Approx((s_lo + s_hi) / 2).epsilon(1e-6));
}

TEST_CASE("clips whose grade shows in one frame: a frame-level classifier with max_grade finds them",
          "[train][clip]") {
  // 40 clips of 6 frames, one feature. 30 healthy clips: every frame near -1. 10 diseased clips: five frames
  // near -1 and one at +3 (the flow's peak). Trained on every frame with its clip's grade, a frame near -1 is
  // diseased about 50 / 230 of the time: max_grade takes the peak, the mean of six frames stays healthy.
  auto make = [](uint64_t seed) {
    torch::manual_seed(static_cast<int64_t>(seed));
    auto x = torch::full({40, 6, 1}, -1.0f) + 0.1f * torch::randn({40, 6, 1});
    std::vector<int> y;
    for (int i = 0; i < 40; ++i) {
      y.push_back(i % 4 == 3 ? 3 : 0);
      if (i % 4 == 3) x[i][i % 6][0] = 3.0f;
    }
    return std::make_pair(x, y);
  };
  const auto [xt, yt] = make(1);
  const auto [xv, yv] = make(2);
  train::TrainOptions o;
  o.task = Task::kBinary;
  o.optimizer = config::Optimizer::kLbfgs;
  o.lr = 1;
  o.max_epochs = 30;
  o.weight_decay = 1e-3;
  o.aggregate = "max_grade";
  const auto mx = train::train_classifier(xt, yt, xv, yv, o);
  CHECK(mx.best_val_accuracy == 1.0);
  CHECK(mx.model.aggregate == "max_grade");
  o.aggregate = "mean_probability";
  const auto mean = train::train_classifier(xt, yt, xv, yv, o);
  CHECK(mean.best_val_accuracy <= 0.8);  // the diseased clips missed
  // The clips' probabilities are the mean of each frame scored alone (the 2-D path, one row per frame).
  const auto frames = mean.model.probabilities(xv.reshape({-1, 1})).view({40, 6, 2}).mean(1);
  CHECK(torch::allclose(mean.model.probabilities(xv), frames, 1e-6, 1e-6));
  o.aggregate = "none";
  CHECK_THROWS_AS(train::train_classifier(xt, yt, xv, yv, o), Error);
}

TEST_CASE("soft targets (data.label: soft): the loss is -sum_k q_k log p_k, by hand", "[train]") {
  const auto q = torch::tensor({{0.1f, 0.2f, 0.3f, 0.4f}});
  const auto w = torch::ones({1});
  // Four classes: logits 0, 1, 2, 3 (weight [4, 1] on the feature 1, no bias).
  train::LinearModel m = zero_model(Task::kOess4, 1);
  m.weight = torch::tensor({{0.0f}, {1.0f}, {2.0f}, {3.0f}});
  const double lse = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  const double want4 = -(0.1 * (0 - lse) + 0.2 * (1 - lse) + 0.3 * (2 - lse) + 0.4 * (3 - lse));
  const auto got4 =
      train::objective(m, torch::ones({1, 1}), torch::zeros({1}, torch::kLong), w, 0.0, false, q);
  CHECK(got4.item<double>() == Approx(want4).epsilon(1e-6));
  // Binary: logit 0.5; the target P(diseased) = 0.3 + 0.4.
  train::LinearModel b = zero_model(Task::kBinary, 1);
  b.weight = torch::tensor({{0.5f}});
  const double p1 = 1 / (1 + std::exp(-0.5));
  const double want2 = -(0.7 * std::log(p1) + 0.3 * std::log(1 - p1));
  const auto got2 =
      train::objective(b, torch::ones({1, 1}), torch::zeros({1}, torch::kLong), w, 0.0, false, q);
  CHECK(got2.item<double>() == Approx(want2).epsilon(1e-6));
  // One-hot soft targets give the hard loss.
  const auto hard = train::objective(m, torch::ones({1, 1}), torch::tensor({2}, torch::kLong), w, 0.0);
  const auto onehot = train::objective(m, torch::ones({1, 1}), torch::tensor({2}, torch::kLong), w, 0.0,
                                       false, torch::tensor({{0.0f, 0.0f, 1.0f, 0.0f}}));
  CHECK(onehot.item<double>() == Approx(hard.item<double>()).epsilon(1e-6));
}
