#pragma once
// oess/data/loader.h — decoded, masked and cropped (data::Framing), (optionally augmented) and preprocessed
// batches, made ahead of use.
//
// BatchLoader hands out batches in item order while `threads` workers decode the next ones, at most
// `prefetch` batches ahead, so a forward pass running on the caller's thread is not kept waiting (and memory
// stays bounded by batch size x prefetch, whatever the dataset size). With threads = 0 there are no workers:
// next() decodes its batch itself on as many threads as LibTorch computes with (idle between batches), each
// preprocessed straight into its slot of the batch. decode_workers() says which suits the machine.
//   next(batch, first): false when all items are done; else a float [b, 3, H, W] CPU tensor for items
//   [first, first + b). Items with augment = true go through data::augment(image, augment_seed) first.
//   errors: the first failure (e.g. an undecodable file, named) is rethrown by next(); workers stop.
#include <torch/types.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "oess/data/image.h"
#include "oess/data/preprocess.h"

namespace oess::data {

struct LoadItem {
  std::string path;
  bool augment = false;
  uint64_t augment_seed = 0;
};

class BatchLoader {
 public:
  BatchLoader(std::vector<LoadItem> items, Preprocessing pre, Framing framing, int batch_size, int threads,
              int prefetch = 2, DecodeNotes* notes = nullptr, int dicom_frame = 0);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  bool next(torch::Tensor& batch, size_t& first);
  size_t size() const { return items_.size(); }

 private:
  void work();
  torch::Tensor load(const LoadItem& it) const;
  void load_into(const LoadItem& it, float* out) const;
  bool next_foreground(torch::Tensor& batch, size_t& first);
  std::vector<LoadItem> items_;
  Preprocessing pre_;
  Framing framing_;
  size_t batch_, window_;
  DecodeNotes* notes_;
  int frame_;
  std::mutex m_;
  std::condition_variable ready_, room_;
  std::map<size_t, torch::Tensor> done_;
  size_t next_item_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::exception_ptr failure_;
  std::vector<std::thread> workers_;
  bool foreground_ = false;
};

// Background decode workers for forward passes on LibTorch's threads (torch::get_num_threads() now): 1 where
// the process may run on more cores than that (the worker has a core of its own), else 0 (decode between
// forward passes, on their threads). On a machine with no core to spare, a worker preempts one of the forward
// pass's threads, and every thread of that pass waits for it at the next barrier: measured on 2 cores, 64
// images through `oess score`, a batch computed while the worker decoded the next two took 370 ms against 298
// alone, more than the decoding's own CPU time (docs/PERFORMANCE.md, "Decoding beside the network"). The
// environment variable OESS_DECODE_WORKERS=N overrides the rule (for benchmarks that time both ways).
int decode_workers();

// One image through the same steps (for scoring single files and for tests).
torch::Tensor load_image(const std::string& path, const Preprocessing& pre, const Framing& framing,
                         DecodeNotes* notes = nullptr, int dicom_frame = 0);

}  // namespace oess::data
