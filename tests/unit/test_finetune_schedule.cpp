// The fine-tuning schedule's factors and option checks, against values worked out by hand.
#include <catch2/catch.hpp>
#include <cmath>

#include "oess/core/error.h"
#include "oess/finetune/options.h"

using oess::finetune::lr_factor;
using oess::finetune::TrainerOptions;

TEST_CASE("finetune schedule: linear warm-up, then cosine towards 0", "[finetune]") {
  TrainerOptions o;
  o.epochs = 5;
  o.warmup_epochs = 1;
  o.schedule = oess::config::Schedule::kCosine;
  CHECK(lr_factor(o, 0) == Approx(0.5));                             // (0 + 1) / (1 + 1)
  CHECK(lr_factor(o, 1) == Approx(1.0));                             // t = 0 of T = 4
  CHECK(lr_factor(o, 2) == Approx(0.5 * (1 + std::cos(M_PI / 4))));  // 0.853553
  CHECK(lr_factor(o, 3) == Approx(0.5));
  CHECK(lr_factor(o, 4) == Approx(0.5 * (1 + std::cos(3 * M_PI / 4))));  // 0.146447
  o.warmup_epochs = 3;
  CHECK(lr_factor(o, 0) == Approx(0.25));
  CHECK(lr_factor(o, 2) == Approx(0.75));
}

TEST_CASE("finetune schedule: step drops by gamma every step_every epochs after the warm-up", "[finetune]") {
  TrainerOptions o;
  o.epochs = 12;
  o.warmup_epochs = 2;
  o.schedule = oess::config::Schedule::kStep;
  o.step_every = 3;
  o.step_gamma = 0.5;
  CHECK(lr_factor(o, 1) == Approx(2.0 / 3));
  CHECK(lr_factor(o, 2) == Approx(1.0));
  CHECK(lr_factor(o, 4) == Approx(1.0));
  CHECK(lr_factor(o, 5) == Approx(0.5));
  CHECK(lr_factor(o, 8) == Approx(0.25));
  o.schedule = oess::config::Schedule::kConstant;
  CHECK(lr_factor(o, 11) == Approx(1.0));
}

TEST_CASE("finetune options: a schedule that cannot run is refused naming its key", "[finetune]") {
  TrainerOptions o;
  o.epochs = 4;
  o.warmup_epochs = 4;
  REQUIRE_THROWS_WITH(oess::finetune::validate(o), Catch::Matchers::Contains("finetune.warmup_epochs"));
  o.warmup_epochs = 0;
  o.step_gamma = 1.5;
  REQUIRE_THROWS_WITH(oess::finetune::validate(o), Catch::Matchers::Contains("finetune.step_gamma"));
  o.step_gamma = 0.1;
  o.patience = 0;
  REQUIRE_THROWS_AS(oess::finetune::validate(o), oess::UsageError);
  o.patience = 1;
  CHECK_NOTHROW(oess::finetune::validate(o));
}
