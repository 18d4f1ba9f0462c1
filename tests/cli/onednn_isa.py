#!/usr/bin/env python3
"""onednn_isa.py TEST_EXE — what oess reports as oneDNN's ISA matches what oneDNN itself prints.

Runs the hidden Catch2 case "[.onednn]" (one convolution through LibTorch's oneDNN path) with DNNL_VERBOSE=1:
oneDNN prints its dispatch ISA in words ("isa:Intel AVX-512 with Intel DL Boost and bfloat16 support"),
the case prints oess's name for it (platform::onednn_isa, read from dnnl_get_effective_cpu_isa). The words
each name must carry are oneDNN's own (src/cpu/x64/cpu_isa_traits.cpp's descriptions).
"""
import os
import re
import subprocess
import sys

WORDS = {  # oess name -> words oneDNN's description must hold, words it must not
    "sse41": (["SSE4.1"], ["AVX"]),
    "avx": (["AVX"], ["AVX2", "AVX-512"]),
    "avx2": (["AVX2"], ["AVX-512", "DL Boost"]),
    "avx2_vnni": (["AVX2", "DL Boost"], ["AVX-512"]),
    "avx512_core": (["AVX-512"], ["DL Boost", "bfloat16", "AMX"]),
    "avx512_core_vnni": (["AVX-512", "DL Boost"], ["bfloat16", "AMX"]),
    "avx512_core_bf16": (["AVX-512", "bfloat16"], ["AMX"]),
    "avx512_core_amx": (["AMX"], []),
}

out = subprocess.run([sys.argv[1], "[.onednn]"], capture_output=True, text=True,
                     env=dict(os.environ, DNNL_VERBOSE="1", ONEDNN_VERBOSE="1"))
if out.returncode != 0:
    sys.exit(f"the test case failed:\n{out.stdout}\n{out.stderr}")
ours = re.search(r"^oess onednn_isa: (.*)$", out.stdout, re.M)
theirs = re.search(r"^(?:dnnl|onednn)_verbose,info,cpu,isa:(.*)$", out.stdout, re.M)
if not ours or not theirs:
    sys.exit(f"no ISA line from {'oess' if not ours else 'oneDNN'}:\n{out.stdout[:2000]}")
ours, theirs = ours.group(1).strip(), theirs.group(1).strip()
print(f"oess: {ours!r}; oneDNN: {theirs!r}")
if ours not in WORDS:
    sys.exit(f"oess reports an ISA it has no name for: {ours!r}")
need, never = WORDS[ours]
missing = [w for w in need if w not in theirs]
wrong = [w for w in never if w in theirs]
if missing or wrong:
    sys.exit(f"oess says {ours!r} but oneDNN says {theirs!r} (missing {missing}, unexpected {wrong})")
print("ok")
