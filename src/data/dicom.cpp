#include "oess/data/dicom.h"

#include <fmt/format.h>
#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmPhotometricInterpretation.h>
#include <gdcmPixelFormat.h>
#include <gdcmReader.h>
#include <gdcmSequenceOfFragments.h>
#include <gdcmTrace.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <opencv2/imgproc.hpp>
#include <set>
#include <vector>

#include "oess/core/atomic_file.h"
#include "oess/core/error.h"

namespace oess::data {

bool is_dicom_file(const std::string& path) {
  const std::string head = read_file_head(path, 132);
  return head.size() == 132 && head.compare(128, 4, "DICM") == 0;
}

namespace {

// GDCM asserts (aborts the process) on some malformed file meta groups, and allocates whatever length an
// element declares before reading it (both found by fuzz/fuzz_image). So the file is walked here first: the
// file meta group (explicit VR little endian elements (0002,xxxx) after the "DICM" marker, each with a known
// VR and a defined length inside the file, their group length matching), then the data set's top-level
// elements for the usual little-endian transfer syntaxes, each defined length inside the file (the walk
// stops at the first sequence or undefined length: GDCM parses those itself).
// Value representations with a 2-byte reserved field and a 4-byte length (explicit VR); the others have a
// 2-byte length.
bool long_vr(const std::string& vr) {
  static const std::set<std::string> kLong = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                              "SV", "UC", "UN", "UR", "UT", "UV"};
  return kLong.count(vr) > 0;
}

bool known_vr(const std::string& vr) {
  static const std::set<std::string> kVrs = {
      "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV",
      "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV"};
  return kVrs.count(vr) > 0;
}

void check_file_meta(const std::string& path) {
  const std::string head = read_file_head(path, 256u << 20);
  size_t at = 132;
  auto u16 = [&](size_t o) {
    return static_cast<unsigned>(static_cast<unsigned char>(head[o])) |
           static_cast<unsigned>(static_cast<unsigned char>(head[o + 1])) << 8;
  };
  auto bad = [&](const std::string& what) {
    throw Error(
        fmt::format("{}: not a readable DICOM file: file meta element at byte {} {}", path, at, what));
  };
  int elements = 0;
  int64_t group_length = -1;  // (0002,0000), when present: the bytes of the group after it
  size_t group_start = 0;
  std::string syntax;  // (0002,0010), the transfer syntax of the data set
  while (at + 8 <= head.size() && u16(at) == 0x0002) {
    const std::string vr = head.substr(at + 4, 2);
    if (!known_vr(vr)) bad(fmt::format("has no valid VR (\"{}\")", vr));
    uint64_t length = 0;
    size_t value_at = 0;
    if (long_vr(vr)) {
      if (at + 12 > head.size()) bad("is cut short");
      length = u16(at + 8) | static_cast<uint64_t>(u16(at + 10)) << 16;
      value_at = at + 12;
    } else {
      length = u16(at + 6);
      value_at = at + 8;
    }
    if (length == 0xFFFFFFFFull) bad("has an undefined length");
    if (value_at + length > head.size())
      bad(fmt::format("declares {} bytes past the end of the header", length));
    if (u16(at + 2) == 0x0000 && elements == 0 && vr == "UL" && length == 4) {
      group_length = static_cast<int64_t>(u16(value_at) | static_cast<uint64_t>(u16(value_at + 2)) << 16);
      group_start = value_at + 4;
    }
    if (u16(at + 2) == 0x0010) syntax = head.substr(value_at, static_cast<size_t>(length));
    at = value_at + static_cast<size_t>(length);
    ++elements;
  }
  if (elements == 0) bad("is missing (no group 0002 after the DICM marker)");
  // GDCM trusts the group length to find the data set: it must end where the group's elements end.
  if (group_length >= 0 && static_cast<size_t>(group_length) != at - group_start)
    throw Error(
        fmt::format("{}: not a readable DICOM file: file meta group length {} does not match its {} bytes",
                    path, group_length, at - group_start));
  if (at >= head.size())
    throw Error(fmt::format("{}: not a readable DICOM file: nothing after the file meta group", path));

  // The data set, for explicit and implicit VR little endian (and the compressed syntaxes, explicit VR).
  while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' ')) syntax.pop_back();
  const bool implicit = syntax == "1.2.840.10008.1.2";
  if (syntax == "1.2.840.10008.1.2.2" || syntax == "1.2.840.10008.1.2.1.99") return;  // big endian, deflated
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  while (!ec && at + 8 <= head.size()) {
    uint64_t length = 0;
    size_t value_at = at + 8;
    if (implicit) {
      length = u16(at + 4) | static_cast<uint64_t>(u16(at + 6)) << 16;
    } else if (long_vr(head.substr(at + 4, 2))) {
      if (at + 12 > head.size()) break;
      length = u16(at + 8) | static_cast<uint64_t>(u16(at + 10)) << 16;
      value_at = at + 12;
    } else {
      length = u16(at + 6);
    }
    if (length == 0xFFFFFFFFull) break;  // a sequence or encapsulated pixel data: GDCM's to parse
    if (value_at + length > file_bytes)
      throw Error(
          fmt::format("{}: not a readable DICOM file: element ({:04x},{:04x}) at byte {} declares {} bytes, "
                      "past the end of the {}-byte file",
                      path, u16(at), u16(at + 2), at, length, file_bytes));
    at = value_at + static_cast<size_t>(length);
  }
}

// The sample layouts read: 8 or 16 bits; one monochrome sample, or three RGB / YBR_FULL(_422) ones.
void check_pixel_format(const std::string& path, int samples, int bits, gdcm::PhotometricInterpretation pi) {
  if (bits != 8 && bits != 16)
    throw Error(fmt::format("{}: {}-bit samples are not supported (8 or 16)", path, bits));
  if (samples != 1 && samples != 3)
    throw Error(fmt::format("{}: {} samples per pixel are not supported (1 or 3)", path, samples));
  const bool mono = pi == gdcm::PhotometricInterpretation::MONOCHROME1 ||
                    pi == gdcm::PhotometricInterpretation::MONOCHROME2;
  const bool colour = pi == gdcm::PhotometricInterpretation::RGB ||
                      pi == gdcm::PhotometricInterpretation::YBR_FULL ||
                      pi == gdcm::PhotometricInterpretation::YBR_FULL_422;
  if (!(mono && samples == 1) && !(colour && samples == 3))
    throw Error(fmt::format("{}: photometric interpretation {} with {} sample(s) is not supported", path,
                            gdcm::PhotometricInterpretation::GetPIString(pi), samples));
}

// Decoded samples to what OpenCV shows: BGR colour, MONOCHROME2 grey (0 is black).
void to_display_order(cv::Mat& out, gdcm::PhotometricInterpretation pi) {
  if (pi == gdcm::PhotometricInterpretation::YBR_FULL ||
      pi == gdcm::PhotometricInterpretation::YBR_FULL_422) {
    // YBR_FULL holds Y, Cb, Cr; OpenCV's YCrCb wants Y, Cr, Cb.
    std::vector<cv::Mat> ch;
    cv::split(out, ch);
    std::swap(ch[1], ch[2]);
    cv::merge(ch, out);
    cv::cvtColor(out, out, cv::COLOR_YCrCb2BGR);
  } else if (pi == gdcm::PhotometricInterpretation::RGB) {
    cv::cvtColor(out, out, cv::COLOR_RGB2BGR);
  } else if (pi == gdcm::PhotometricInterpretation::MONOCHROME1) {
    cv::bitwise_not(out, out);  // MONOCHROME1: 0 is white
  }
}

}  // namespace

// NumberOfFrames against the pixel data itself: uncompressed, the bytes must hold every frame (GDCM would
// pad a short element); encapsulated, a frame takes one fragment or more, so fewer fragments than frames
// cannot be.
static void check_frame_count(const std::string& path, const gdcm::Image& image, int n_frames) {
  const gdcm::DataElement& pixels = image.GetDataElement();
  if (const gdcm::ByteValue* raw = pixels.GetByteValue()) {
    const uint64_t need = image.GetBufferLength(), have = raw->GetLength();
    if (have < need && n_frames > 0) {
      const uint64_t per = need / static_cast<uint64_t>(n_frames);
      throw Error(
          fmt::format("{}: NumberOfFrames says {} but the pixel data holds {} frame(s) ({} bytes, {} per "
                      "frame): the file "
                      "is truncated or its header wrong",
                      path, n_frames, per ? have / per : 0, have, per));
    }
  } else if (const gdcm::SequenceOfFragments* sf = pixels.GetSequenceOfFragments()) {
    if (sf->GetNumberOfFragments() < static_cast<size_t>(n_frames))
      throw Error(fmt::format("{}: NumberOfFrames says {} but the compressed pixel data has {} fragment(s)",
                              path, n_frames, sf->GetNumberOfFragments()));
  }
}

std::vector<cv::Mat> read_dicom_frames(const std::string& path,
                                       const std::function<std::vector<int>(int)>& pick, int* frames) {
  check_file_meta(path);
  gdcm::Trace::WarningOff();  // e.g. "No spacing value found": noise for a reader of pixels
  gdcm::ImageReader reader;
  reader.SetFileName(path.c_str());
  if (!reader.Read())
    throw Error(fmt::format("{}: not a readable DICOM image (GDCM could not parse it)", path));
  const gdcm::Image& image = reader.GetImage();
  const unsigned int* dims = image.GetDimensions();
  const int cols = static_cast<int>(dims[0]), rows = static_cast<int>(dims[1]);
  const int n_frames = image.GetNumberOfDimensions() == 3 ? static_cast<int>(dims[2]) : 1;
  if (frames) *frames = n_frames;
  const std::vector<int> wanted = pick(n_frames);
  for (int frame : wanted)
    if (frame < 0 || frame >= n_frames)
      throw Error(fmt::format("{}: frame {} requested, the file has {} frame(s) (0..{})", path, frame,
                              n_frames, n_frames - 1));
  if (wanted.empty()) return {};  // only the frame count was asked for: no pixel data decoded
  const gdcm::PixelFormat pf = image.GetPixelFormat();
  const int samples = pf.GetSamplesPerPixel(), bits = pf.GetBitsAllocated();
  const auto pi = image.GetPhotometricInterpretation();
  check_pixel_format(path, samples, bits, pi);

  // The pixel buffer is sized from the header: a corrupt header can ask for gigabytes (found by
  // fuzz/fuzz_image). Uncompressed pixels cannot outgrow the file; compressed ones are allowed 64 times it.
  std::error_code ec;
  const uint64_t file_bytes = std::filesystem::file_size(path, ec);
  const uint64_t want = image.GetBufferLength();
  const uint64_t allowed = std::min<uint64_t>(std::max<uint64_t>(64 * file_bytes, 64ull << 20), 4ull << 30);
  if (ec || want > allowed)
    throw Error(
        fmt::format("{}: the header declares {} frame(s) of {}x{} ({} bytes of pixels), more than a {}-byte "
                    "file can hold",
                    path, n_frames, cols, rows, want, file_bytes));
  check_frame_count(path, image, n_frames);
  std::vector<char> buffer(want);
  if (buffer.empty() || !image.GetBuffer(buffer.data()))
    throw Error(fmt::format("{}: no decodable pixel data", path));
  const size_t bytes = static_cast<size_t>(bits / 8), plane = static_cast<size_t>(rows) * cols * bytes;
  const size_t frame_bytes = plane * static_cast<size_t>(samples);
  if (buffer.size() < frame_bytes * static_cast<size_t>(n_frames))
    throw Error(
        fmt::format("{}: pixel data is shorter than {} frame(s) of {}x{}", path, n_frames, cols, rows));
  const int depth = bits == 8 ? CV_8U : CV_16U;
  std::vector<cv::Mat> result;
  for (int frame : wanted) {
    const char* src = buffer.data() + frame_bytes * static_cast<size_t>(frame);

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
    to_display_order(out, pi);
    result.push_back(out);
  }
  return result;
}

cv::Mat read_dicom_frame(const std::string& path, int frame, int* frames) {
  return read_dicom_frames(
             path, [frame](int) { return std::vector<int>{frame}; }, frames)
      .front();
}

std::string read_dicom_patient_id(const std::string& path) {
  if (!is_dicom_file(path))
    throw Error(fmt::format("{}: not a DICOM file (no DICM marker): no PatientID", path));
  check_file_meta(path);
  gdcm::Reader reader;
  reader.SetFileName(path.c_str());
  const gdcm::Tag patient_id(0x0010, 0x0020);
  if (!reader.ReadUpToTag(gdcm::Tag(0x0010, 0x0021)))
    throw Error(fmt::format("{}: not a readable DICOM file (GDCM could not parse it)", path));
  const gdcm::DataSet& ds = reader.GetFile().GetDataSet();
  if (!ds.FindDataElement(patient_id)) return "";
  const gdcm::ByteValue* v = ds.GetDataElement(patient_id).GetByteValue();
  if (!v) return "";
  std::string id(v->GetPointer(), v->GetLength());
  while (!id.empty() && (id.back() == ' ' || id.back() == '\0')) id.pop_back();
  const size_t b = id.find_first_not_of(' ');
  return b == std::string::npos ? "" : id.substr(b);
}

}  // namespace oess::data
