#pragma once
// oess/data/dicom.h — one frame of a DICOM file, read with GDCM (any transfer syntax GDCM decodes).
//
// read_dicom_frame(path, frame)
//   ensures: the frame as an OpenCV image: CV_8U or CV_16U, 1 channel (MONOCHROME1 inverted to
//            MONOCHROME2) or 3 channels in BGR order (RGB and YBR_FULL converted; planar data interleaved);
//            *frames = the number of frames in the file.
//   errors (oess::Error naming the file): unreadable or not DICOM, no pixel data, a frame index out of
//            range, palette colour or other unsupported photometric interpretations, sample sizes other
//            than 8 or 16 bits. Signed 16-bit samples are shifted by +32768 into the unsigned range.
// OpenCV's own DICOM reader returns RGB data in RGB order and cannot read multi-frame files, hence this.
#include <functional>
#include <string>
#include <vector>

#include <opencv2/core/mat.hpp>

namespace oess::data {

cv::Mat read_dicom_frame(const std::string& path, int frame, int* frames = nullptr);
// Several frames with one read of the file: pick(number of frames) says which (each checked as above).
std::vector<cv::Mat> read_dicom_frames(const std::string& path,
                                       const std::function<std::vector<int>(int)>& pick,
                                       int* frames = nullptr);

// True when the file has the DICOM preamble and "DICM" magic.
bool is_dicom_file(const std::string& path);

// The PatientID element (0010,0020), trimmed; "" when the file has none. Reads the header only.
// errors (oess::Error naming the file): not DICOM, or a header GDCM cannot parse.
std::string read_dicom_patient_id(const std::string& path);

}  // namespace oess::data
