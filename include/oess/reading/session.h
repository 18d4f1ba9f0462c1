#pragma once
// oess/reading/session.h — one reader grading a manifest's images, blinded (issue #34: `oess read`).
//
// Session(m, reader, out, seed)
//   The manifest's images in a seeded random order (seed and the reader's name: each reader their own
//   order, the same at every start). Grades already in `out` (path,reader,grade rows of this reader: a
//   previous session) are kept, and the session resumes at the first image without one (frontier).
//   errors (oess::Error naming FILE:LINE): `out` holding another reader's rows, an image not in the manifest,
//   a grade outside 0..3 (read_grade_files' own).
// show(pos)   the page asks to show the image at position pos: allowed for pos <= frontier() (going back, or
//             the next image to grade; never skipping ahead); remembered as shown.
// grade(pos, g) requires show(pos) before and g in 0..3 (else Refused, naming what); the whole file is then
//             written atomically (io::CsvWriter), before the call returns: a closed browser or a killed
//             server loses no grade given.
// png(pos)    the image as PNG bytes (data::decode_picture: a clip's middle frame, a DICOM's frame), for a
//             shown position only. The page never learns the file's name, its manifest grade, other readers'
//             grades or a model's.
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "oess/data/manifest.h"

namespace oess::reading {

// A request the session refuses (the page asked for what it may not): the HTTP layer answers 403 with it.
class Refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Session {
 public:
  Session(data::Manifest m, std::string reader, std::string out_file, uint64_t seed);
  size_t total() const { return order_.size(); }
  size_t graded() const;
  size_t frontier() const;  // the first position without a grade; total() when every image has one
  bool show(size_t pos);
  bool shown(size_t pos) const { return shown_.count(pos) > 0; }
  std::optional<int> grade_at(size_t pos) const;
  void grade(size_t pos, int g);
  std::string png(size_t pos) const;
  const std::string& reader() const { return reader_; }
  const std::string& out_file() const { return out_; }
  // {"reader", "total", "graded", "frontier", "position", "grade"} for the page (position: pos).
  std::string state_json(size_t pos) const;

 private:
  void save() const;
  data::Manifest m_;
  std::string reader_, out_;
  std::vector<size_t> order_;  // position -> manifest sample
  std::vector<int> grades_;    // per position, -1 none
  std::set<size_t> shown_;
};

// The HTTP side (reading/server.cpp, cpp-httplib): serves the page and its API on host:port (port 0: any
// free port) until stopped; `listening(port)` is called once the socket is bound. errors: oess::Error "port
// P on HOST is in use (or not allowed)" when it cannot bind.
void serve(Session& s, const std::string& host, int port, const std::function<void(int)>& listening);

}  // namespace oess::reading
