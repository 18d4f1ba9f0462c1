#!/usr/bin/env python3
"""DICOM files with known pixels, for the decoding tests (pydicom writes them; PIL writes the same pixels as PNG).

    /usr/bin/python3 tests/oracles/make_dicom_fixtures.py OUTDIR

  rgb.dcm / rgb.png        8-bit RGB (PhotometricInterpretation RGB), 37 x 53
  grey.dcm / grey.png      8-bit MONOCHROME2
  grey16.dcm               16-bit MONOCHROME2 holding 0, 257, 32768, 65535 in its first row
  multiframe.dcm           3 frames of 8-bit MONOCHROME2; frame k is filled with 10 * (k + 1)
"""
import os
import sys

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"


def write_dicom(path, pixels, photometric, frames=1):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = SECONDARY_CAPTURE
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.PatientID = "SYNTH"
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    rows, cols = pixels.shape[-3:-1] if photometric == "RGB" else pixels.shape[-2:]
    ds.Rows, ds.Columns = rows, cols
    ds.PhotometricInterpretation = photometric
    ds.SamplesPerPixel = 3 if photometric == "RGB" else 1
    if photometric == "RGB":
        ds.PlanarConfiguration = 0
    bits = 16 if pixels.dtype == np.uint16 else 8
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, write_like_original=False)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    rgb[0, 0] = (200, 100, 50)
    write_dicom(os.path.join(out, "rgb.dcm"), rgb, "RGB")
    Image.fromarray(rgb, "RGB").save(os.path.join(out, "rgb.png"))
    grey = rng.integers(0, 256, size=(37, 53), dtype=np.uint8)
    write_dicom(os.path.join(out, "grey.dcm"), grey, "MONOCHROME2")
    Image.fromarray(grey, "L").save(os.path.join(out, "grey.png"))
    g16 = np.zeros((8, 8), dtype=np.uint16)
    g16[0, :4] = (0, 257, 32768, 65535)
    write_dicom(os.path.join(out, "grey16.dcm"), g16, "MONOCHROME2")
    frames = np.stack([np.full((16, 16), 10 * (k + 1), dtype=np.uint8) for k in range(3)])
    write_dicom(os.path.join(out, "multiframe.dcm"), frames, "MONOCHROME2", frames=3)
    print(f"DICOM fixtures written to {out} (pydicom {pydicom.__version__})")


if __name__ == "__main__":
    sys.exit(main())
