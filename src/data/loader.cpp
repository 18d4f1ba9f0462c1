#include "oess/data/loader.h"

#include <torch/torch.h>

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
  for (int t = 0; t < std::max(1, threads); ++t) workers_.emplace_back([this] { work(); });
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
      const LoadItem& it = items_[i];
      // A clip here (e.g. the export's reference images) stands for its middle frame.
      cv::Mat img = apply_framing(decode_picture(it.path, notes_, frame_), framing_, notes_);
      if (it.augment) img = augment(img, it.augment_seed);
      torch::Tensor t = preprocess(img, pre_);
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
