// Which frames a clip is read as (data/clip.h), by hand.
#include <catch2/catch.hpp>

#include "oess/data/clip.h"

using oess::data::ClipSampling;
using oess::data::sample_indices;

TEST_CASE("clip sampling: N evenly spaced frames are the middles of N equal runs", "[clip]") {
  ClipSampling s;
  s.frames = 4;
  // 40 frames in runs of 10: middles 5, 15, 25, 35.
  CHECK(sample_indices(40, s) == std::vector<int>{5, 15, 25, 35});
  // 10 frames, 4 runs of 2.5: floor(1.25), floor(3.75), floor(6.25), floor(8.75).
  CHECK(sample_indices(10, s) == std::vector<int>{1, 3, 6, 8});
  s.frames = 1;
  CHECK(sample_indices(9, s) == std::vector<int>{4});  // the middle frame
  s.frames = 8;
  CHECK(sample_indices(3, s) == std::vector<int>{0, 1, 2});  // shorter than asked: all of it
  CHECK(sample_indices(0, s).empty());
}

TEST_CASE("clip sampling: every K-th frame, capped", "[clip]") {
  ClipSampling s;
  s.every = 3;
  s.max_frames = 64;
  CHECK(sample_indices(10, s) == std::vector<int>{0, 3, 6, 9});
  s.max_frames = 2;
  CHECK(sample_indices(10, s) == std::vector<int>{0, 3});
}

TEST_CASE("clip files by name", "[clip]") {
  CHECK(oess::data::is_video_file("a/b.MP4"));
  CHECK(oess::data::is_video_file("x.avi"));
  CHECK(oess::data::is_video_file("x.mov"));
  CHECK_FALSE(oess::data::is_video_file("x.png"));
  CHECK_FALSE(oess::data::is_video_file("mp4"));
}
