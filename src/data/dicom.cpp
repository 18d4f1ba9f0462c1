#include "oess/data/dicom.h"

#include <fmt/format.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>

#include <cstdio>
#include <cstring>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"

namespace oess::data {

bool is_dicom_file(const std::string& path) {
  const std::string head = read_file_head(path, 132);
  return head.size() == 132 && head.compare(128, 4, "DICM") == 0;
}

cv::Mat read_dicom_frame(const std::string& path, int frame, int* frames) {
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read())
    throw Error(fmt::format("{}: not a readable DICOM image (GDCM could not parse it)", path));
  const gdcm::Image& image = reader.GetImage();
  const unsigned int* dims = image.GetDimensions();
  const int cols = static_cast<int>(dims[0]), rows = static_cast<int>(dims[1]);
  const int n_frames = image.GetNumberOfDimensions() == 3 ? static_cast<int>(dims[2]) : 1;
  if (frames) *frames = n_frames;
  if (frame < 0 || frame >= n_frames)
    throw Error(fmt::format("{}: frame {} requested, the file has {} frame(s) (0..{})", path, frame, n_frames,
                            n_frames - 1));
  const gdcm::PixelFormat pf = image.GetPixelFormat();
  const int samples = pf.GetSamplesPerPixel(), bits = pf.GetBitsAllocated();
  if (bits != 8 && bits != 16)
    throw Error(fmt::format("{}: {}-bit samples are not supported (8 or 16)", path, bits));
  if (samples != 1 && samples != 3)
    throw Error(fmt::format("{}: {} samples per pixel are not supported (1 or 3)", path, samples));
  const auto pi = image.GetPhotometricInterpretation();
  const bool mono = pi == gdcm::PhotometricInterpretation::MONOCHROME1 ||
                    pi == gdcm::PhotometricInterpretation::MONOCHROME2;
  const bool rgb = pi == gdcm::PhotometricInterpretation::RGB;
  const bool ybr =
      pi == gdcm::PhotometricInterpretation::YBR_FULL || pi == gdcm::PhotometricInterpretation::YBR_FULL_422;
  if (!(mono && samples == 1) && !((rgb || ybr) && samples == 3))
    throw Error(fmt::format("{}: photometric interpretation {} with {} sample(s) is not supported", path,
                            gdcm::PhotometricInterpretation::GetPIString(pi), samples));

  std::vector<char> buffer(image.GetBufferLength());
  if (buffer.empty() || !image.GetBuffer(buffer.data()))
    throw Error(fmt::format("{}: no decodable pixel data", path));
  const size_t bytes = static_cast<size_t>(bits / 8), plane = static_cast<size_t>(rows) * cols * bytes;
  const size_t frame_bytes = plane * static_cast<size_t>(samples);
  if (buffer.size() < frame_bytes * static_cast<size_t>(n_frames))
    throw Error(
        fmt::format("{}: pixel data is shorter than {} frame(s) of {}x{}", path, n_frames, cols, rows));
  const char* src = buffer.data() + frame_bytes * static_cast<size_t>(frame);
  const int depth = bits == 8 ? CV_8U : CV_16U;

  cv::Mat out;
  if (samples == 1) {
    out = cv::Mat(rows, cols, CV_MAKETYPE(depth, 1), const_cast<char*>(src)).clone();
  } else if (image.GetPlanarConfiguration() == 1) {  // RRR... GGG... BBB...
    std::vector<cv::Mat> planes;
    for (int c = 0; c < 3; ++c)
      planes.push_back(cv::Mat(rows, cols, CV_MAKETYPE(depth, 1),
                               const_cast<char*>(src + plane * static_cast<size_t>(c))));
    cv::merge(planes, out);
  } else {
    out = cv::Mat(rows, cols, CV_MAKETYPE(depth, 3), const_cast<char*>(src)).clone();
  }
  if (pf.GetPixelRepresentation() == 1) {
    if (bits != 16) throw Error(fmt::format("{}: signed 8-bit samples are not supported", path));
    cv::Mat s16(rows, cols, CV_MAKETYPE(CV_16S, samples), const_cast<char*>(src));
    s16.convertTo(out, CV_MAKETYPE(CV_16U, samples), 1.0, 32768.0);
  }
  if (samples == 3) {
    if (ybr) {
      // YBR_FULL holds Y, Cb, Cr; OpenCV's YCrCb wants Y, Cr, Cb.
      std::vector<cv::Mat> ch;
      cv::split(out, ch);
      std::swap(ch[1], ch[2]);
      cv::merge(ch, out);
      cv::cvtColor(out, out, cv::COLOR_YCrCb2BGR);
    } else {
      cv::cvtColor(out, out, cv::COLOR_RGB2BGR);
    }
  } else if (pi == gdcm::PhotometricInterpretation::MONOCHROME1) {
    cv::bitwise_not(out, out);  // MONOCHROME1: 0 is white
  }
  return out;
}

}  // namespace oess::data
