#!/usr/bin/env python3
"""Convert a torchvision or timm checkpoint into the file oess reads: a torch zip holding a plain dict.

    python3 tools/convert_weights.py INPUT OUTPUT [--arch vgg16|inception_v3] [--drop-head] [--trust-pickle]

INPUT may be
  * a state dict saved with torch.save(model.state_dict(), f)          (an OrderedDict)
  * a legacy non-zip .pth, as torchvision downloads are                  (e.g. vgg16-397923af.pth)
  * a checkpoint dict holding the state dict under "state_dict", "model" or "model_state_dict"
  * a safetensors file (timm / Hugging Face, e.g. vgg16.tv_in1k, inception_v3.tv_in1k)
  * a whole pickled model (torch.save(model, f)) -- only with --trust-pickle: unpickling it runs code
    from the file, so use it only for files you trust.

OUTPUT is written atomically with torch.save(dict(...)): tensors keyed by torchvision's names ("module."
prefixes dropped; timm's VGG pre_logits.fc1/fc2 and head.fc mapped back to classifier.0/3/6). With --arch
the keys and shapes are checked against torchvision's architecture and any difference is an error (exit 1)
unless --partial. --drop-head leaves out the classification head (VGG classifier.*, Inception fc.* and
AuxLogits.*), which feature extraction never uses: a VGG-16 file shrinks from 528 MB to 59 MB.

Needs only Python and torch (torchvision for --arch and for whole pickled torchvision models).
"""
import argparse
import collections
import json
import os
import struct
import sys

import torch

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}
HEAD_PREFIXES = {"vgg16": ("classifier.",), "inception_v3": ("fc.", "AuxLogits.")}


class ConvertError(Exception):
    pass


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ConvertError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ConvertError(f"{path}: safetensors header claims {n} bytes, file has {len(data) - 8} (truncated?)")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    body = memoryview(data)[8 + n:]
    out = collections.OrderedDict()
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        if end > len(body) or begin > end:
            raise ConvertError(f"{path}: tensor {name} lies outside the data section (truncated?)")
        dtype = SAFETENSORS_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ConvertError(f"{path}: tensor {name} has unsupported dtype {entry['dtype']}")
        raw = bytearray(body[begin:end])
        t = torch.frombuffer(raw, dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(entry["shape"]).clone()
    return out


def looks_like_safetensors(path):
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def load_any(path, trust_pickle):
    if looks_like_safetensors(path):
        return read_safetensors(path), "safetensors"
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
        kind = "torch file"
    except Exception as e:  # weights_only refuses arbitrary objects (whole pickled models)
        if not trust_pickle:
            raise ConvertError(
                f"{path}: not a plain tensor checkpoint ({str(e).splitlines()[0]}). If it is a whole pickled "
                "model you trust, rerun with --trust-pickle") from None
        obj = torch.load(path, map_location="cpu", weights_only=False)
        kind = "pickled object"
    if isinstance(obj, torch.nn.Module):
        return obj.state_dict(), "whole pickled model"
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, torch.nn.Module):
                return inner.state_dict(), f"checkpoint['{key}'] (a model)"
            if isinstance(inner, dict) and inner and all(torch.is_tensor(v) for v in inner.values()):
                return inner, f"checkpoint['{key}']"
        return obj, kind
    raise ConvertError(f"{path}: holds a {type(obj).__name__}, not a state dict or model")


def normalize(state, arch):
    out = collections.OrderedDict()
    for key, value in state.items():
        if not torch.is_tensor(value):
            raise ConvertError(f"entry {key!r} is a {type(value).__name__}, not a tensor")
        k = key[len("module."):] if key.startswith("module.") else key
        v = value
        if arch in (None, "vgg16"):
            for timm_prefix, tv_prefix in (("pre_logits.fc1.", "classifier.0."), ("pre_logits.fc2.", "classifier.3."),
                                           ("head.fc.", "classifier.6.")):
                if k.startswith(timm_prefix):
                    k = tv_prefix + k[len(timm_prefix):]
                    if v.dim() == 4:
                        v = v.reshape(v.shape[0], -1)
        out[k] = v.detach().cpu().contiguous()
    return out


def check_against(state, arch, drop_head):
    import torchvision
    model = getattr(torchvision.models, arch)(weights=None, **({"aux_logits": True, "init_weights": False}
                                                                if arch == "inception_v3" else {}))
    expected = collections.OrderedDict((k, v.shape) for k, v in model.state_dict().items())
    if drop_head:
        expected = collections.OrderedDict((k, s) for k, s in expected.items()
                                           if not k.startswith(HEAD_PREFIXES[arch]))
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    mis = [f"{k}: file {list(state[k].shape)} vs {arch} {list(s)}" for k, s in expected.items()
           if k in state and tuple(state[k].shape) != tuple(s)]
    return missing, unexpected, mis


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--arch", choices=["vgg16", "inception_v3"], help="check keys and shapes against torchvision")
    ap.add_argument("--drop-head", action="store_true", help="leave out the classification head")
    ap.add_argument("--partial", action="store_true", help="with --arch: report differences but still write")
    ap.add_argument("--trust-pickle", action="store_true", help="allow unpickling a whole model (runs its code)")
    args = ap.parse_args(argv)
    try:
        if not os.path.isfile(args.input):
            raise ConvertError(f"{args.input}: no such file")
        raw, kind = load_any(args.input, args.trust_pickle)
        state = normalize(raw, args.arch)
        if args.drop_head:
            prefixes = HEAD_PREFIXES[args.arch] if args.arch else ("classifier.", "fc.", "AuxLogits.")
            state = collections.OrderedDict((k, v) for k, v in state.items() if not k.startswith(prefixes))
        if args.arch:
            missing, unexpected, mis = check_against(state, args.arch, args.drop_head)
            problems = [f"missing ({len(missing)}): {', '.join(missing)}" if missing else "",
                        f"unexpected ({len(unexpected)}): {', '.join(unexpected)}" if unexpected else "",
                        f"mis-shaped ({len(mis)}): {'; '.join(mis)}" if mis else ""]
            problems = [p for p in problems if p]
            if problems:
                msg = f"{args.input} does not fit {args.arch}:\n  " + "\n  ".join(problems)
                if not args.partial:
                    raise ConvertError(msg + "\n(use --partial to write it anyway)")
                print("warning: " + msg, file=sys.stderr)
        tmp = f"{args.output}.tmp.{os.getpid()}"
        torch.save(dict(state), tmp)
        os.replace(tmp, args.output)
    except ConvertError as e:
        print(f"convert_weights: error: {e}", file=sys.stderr)
        return 1
    n_params = sum(v.numel() for v in state.values() if v.is_floating_point())
    print(f"wrote {args.output}: {len(state)} tensors, {n_params:,} floating-point values, from {kind} "
          f"{args.input}" + (f" (checked against torchvision {args.arch})" if args.arch else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
