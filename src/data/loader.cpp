#include "oess/data/loader.h"

#include <torch/torch.h>

#include <cstdlib>

#include "oess/core/parallel.h"
#include "oess/platform/platform.h"

#include "oess/data/balance.h"
#include "oess/data/clip.h"

namespace oess::data {

torch::Tensor load_image(const std::string& path, const Preprocessing& pre, const Framing& framing,
                         DecodeNotes* notes, int dicom_frame) {
  return preprocess(apply_framing(decode_image(path, notes, dicom_frame), framing, notes), pre);
}

BatchLoader::BatchLoader(std::vector<LoadItem> items, Preprocessing pre, Framing framing, int batch_size,
                         int threads, int prefetch, DecodeNotes* notes, int dicom_frame)
    : items_(std::move(items)),
      pre_(std::move(pre)),
      framing_(std::move(framing)),
      batch_(static_cast<size_t>(std::max(1, batch_size))),
      window_(static_cast<size_t>(std::max(1, batch_size)) * static_cast<size_t>(std::max(1, prefetch) + 1)),
      notes_(notes),
      frame_(dicom_frame) {
  foreground_ = threads <= 0;
  for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
}

int decode_workers() {
  if (const char* forced = std::getenv("OESS_DECODE_WORKERS"); forced && *forced)  // benchmarks: both ways
    return std::max(0, std::atoi(forced));
  return platform::cpu().cores > torch::get_num_threads() ? 1 : 0;
}

void BatchLoader::load_into(const LoadItem& it, float* out) const {
  // A clip here (e.g. the export's reference images) stands for its middle frame.
  cv::Mat img = apply_framing(decode_picture(it.path, notes_, frame_), framing_, notes_);
  if (it.augment) img = augment(img, it.augment_seed);
  preprocess_into(img, pre_, out);
}

torch::Tensor BatchLoader::load(const LoadItem& it) const {
  torch::Tensor t = torch::empty({3, pre_.height, pre_.width}, torch::kFloat32);
  load_into(it, t.data_ptr<float>());
  return t;
}

bool BatchLoader::next_foreground(torch::Tensor& batch, size_t& first) {
  if (consumed_ >= items_.size()) return false;
  const size_t end = std::min(items_.size(), consumed_ + batch_), n = end - consumed_;
  const std::vector<int64_t> shape{static_cast<int64_t>(n), 3, pre_.height, pre_.width};
  // The previous batch's memory when nothing else holds it (no view, no copy kept): a new 17 MB tensor per
  // batch of 16 at 299x299 costs page faults every time.
  const bool reuse = batch.defined() && batch.sizes() == shape && batch.scalar_type() == torch::kFloat32 &&
                     batch.is_contiguous() && batch.use_count() == 1 && batch.storage().use_count() == 1;
  if (!reuse) batch = torch::empty(shape, torch::kFloat32);
  float* base = batch.data_ptr<float>();
  const int64_t each = 3 * pre_.height * pre_.width;
  // On the forward pass's own threads (LibTorch's OpenMP pool), idle between batches; a failure is the
  // batch's first failing item, as the workers would report it.
  parallel_for_openmp(n, torch::get_num_threads(), [&](size_t k) {
    load_into(items_[consumed_ + k], base + static_cast<int64_t>(k) * each);
  });
  first = consumed_;
  consumed_ = end;
  return true;
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(m_);
    stop_ = true;
  }
  room_.notify_all();
  for (auto& t : workers_) t.join();
}

void BatchLoader::work() {
  while (true) {
    size_t i;
    {
      std::unique_lock<std::mutex> lock(m_);
      room_.wait(lock,
                 [this] { return stop_ || next_item_ >= items_.size() || next_item_ < consumed_ + window_; });
      if (stop_ || next_item_ >= items_.size()) return;
      i = next_item_++;
    }
    try {
      torch::Tensor t = load(items_[i]);
      std::lock_guard<std::mutex> lock(m_);
      done_.emplace(i, std::move(t));
    } catch (...) {
      std::lock_guard<std::mutex> lock(m_);
      if (!failure_) failure_ = std::current_exception();
      stop_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
  }
}

bool BatchLoader::next(torch::Tensor& batch, size_t& first) {
  if (foreground_) return next_foreground(batch, first);
  std::unique_lock<std::mutex> lock(m_);
  if (consumed_ >= items_.size()) return false;
  const size_t end = std::min(items_.size(), consumed_ + batch_);
  auto complete = [&] {
    for (size_t i = consumed_; i < end; ++i)
      if (!done_.count(i)) return false;
    return true;
  };
  // A failure further ahead does not stop batches that are already complete from being delivered.
  ready_.wait(lock, [&] { return failure_ || complete(); });
  if (!complete()) std::rethrow_exception(failure_);
  std::vector<torch::Tensor> parts;
  for (size_t i = consumed_; i < end; ++i) {
    parts.push_back(std::move(done_[i]));
    done_.erase(i);
  }
  first = consumed_;
  consumed_ = end;
  lock.unlock();
  room_.notify_all();
  batch = torch::stack(parts);
  return true;
}

}  // namespace oess::data
