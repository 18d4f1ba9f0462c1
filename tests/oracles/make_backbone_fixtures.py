#!/usr/bin/env python3
"""Oracle for the backbone parity tests: torchvision 0.14 with seeded random weights.

    /usr/bin/python3 tests/oracles/make_backbone_fixtures.py OUTDIR

Writes, per architecture, the same seeded weights in every format oess reads or converts, and the output
of every tap on fixed inputs, computed by torchvision's own modules:

  inception_v3.plain.pt        torch.save(dict(state_dict))              read by C++ directly
  inception_v3.safetensors     safetensors, written by hand (no library needed)
  inception_v3.ordered.pt      torch.save(state_dict) (OrderedDict) -> tools/convert_weights.py
  inception_v3.legacy.pt       legacy non-zip torch.save             -> tools/convert_weights.py
  inception_v3.model.pt        torch.save(model), a whole pickled model -> convert_weights.py --trust-pickle
  inception_v3.refs.pt         plain dict: "input" [3,3,299,299] and every tap; "ti/..." the same with
                               transform_input=True; "ns/input" [2,3,320,280] and its taps
  vgg16.{plain.pt,safetensors,ordered.pt,legacy.pt}   features only (classifier left out: 124 M params)
  vgg16.refs.pt                "input" [2,3,224,224] and every block tap plus two pre-ReLU convs
  bad/...                      broken files for the error tests

With --full-vgg instead (label `long`): vgg16_full.plain.pt and vgg16_full.timm.safetensors (timm's names:
pre_logits.fc1 as a 7x7 conv, head.fc) with refs for block5_pool, fc1, fc2 and logits.

Inception's BatchNorm statistics are calibrated on a random batch (so activations stay O(1) through 94
layers) and its affine parameters randomised, so that loading every buffer matters. Reruns are skipped
when OUTDIR/stamp matches this script and the converter.
"""
import collections
import hashlib
import json
import os
import struct
import subprocess
import sys

import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
CONVERTER = os.path.join(HERE, "..", "..", "tools", "convert_weights.py")

MIXED = ["Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
         "Mixed_7a", "Mixed_7b", "Mixed_7c"]
STEM = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
        "maxpool2"]


def stamp_of():
    h = hashlib.sha256()
    for p in (__file__, CONVERTER):
        with open(p, "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode() + torchvision.__version__.encode())
    return h.hexdigest()


def save_safetensors(state, path):
    header, chunks, offset = {}, [], 0
    for name, t in state.items():
        t = t.contiguous()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header).encode()
    blob += b" " * ((8 - len(blob) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for c in chunks:
            f.write(c)


def convert(src, dst, *extra):
    subprocess.run([sys.executable, CONVERTER, src, dst, *extra], check=True)
    os.remove(src)


def write_formats(out, name, state, model=None, drop_head=False):
    torch.save(dict(state), os.path.join(out, f"{name}.plain.pt"))
    save_safetensors(state, os.path.join(out, f"{name}.safetensors"))
    torch.save(collections.OrderedDict(state), os.path.join(out, f"{name}.ordered.pth"))
    convert(os.path.join(out, f"{name}.ordered.pth"), os.path.join(out, f"{name}.ordered.pt"))
    torch.save(state, os.path.join(out, f"{name}.legacy.pth"), _use_new_zipfile_serialization=False)
    convert(os.path.join(out, f"{name}.legacy.pth"), os.path.join(out, f"{name}.legacy.pt"))
    if model is not None:
        torch.save(model, os.path.join(out, f"{name}.model.pth"))
        convert(os.path.join(out, f"{name}.model.pth"), os.path.join(out, f"{name}.model.pt"), "--trust-pickle",
                *(["--drop-head"] if drop_head else []))


def inception_taps(model, x):
    """Every tap, running torchvision's modules in the order of Inception3._forward."""
    taps = {}
    for name in STEM:
        x = getattr(model, name)(x)
        taps[name] = x
    for i, name in enumerate(MIXED):
        x = getattr(model, name)(x)
        taps[f"mixed{i}"] = x
    x = model.avgpool(x)
    taps["avgpool"] = x
    taps["logits"] = model.fc(torch.flatten(x, 1))
    return taps


def make_inception(out):
    torch.manual_seed(0)
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: the calibration batch's statistics exactly
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 299, 299))
        for m in bns:
            m.weight.uniform_(0.5, 1.5)
            m.bias.normal_(0.0, 0.2)
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.05)
            m.num_batches_tracked.fill_(7)
    model.eval()
    write_formats(out, "inception_v3", model.state_dict(), model=model)

    refs = {}
    with torch.no_grad():
        torch.manual_seed(1)
        x = torch.randn(3, 3, 299, 299)
        refs["input"] = x
        taps = inception_taps(model, x)
        # Our stage-by-stage run must be torchvision's forward exactly.
        assert torch.equal(taps["logits"], model(x)), "stage order differs from Inception3._forward"
        refs.update(taps)
        model.transform_input = True
        taps_ti = inception_taps(model, model._transform_input(x))
        assert torch.equal(taps_ti["logits"], model(x))
        refs["ti/input"] = x
        refs.update({f"ti/{k}": v for k, v in taps_ti.items()})
        model.transform_input = False
        xn = torch.randn(2, 3, 320, 280)
        refs["ns/input"] = xn
        refs.update({f"ns/{k}": v for k, v in inception_taps(model, xn).items()})
    torch.save({k: v.contiguous() for k, v in refs.items()}, os.path.join(out, "inception_v3.refs.pt"))


def vgg_names():
    """features.N -> canonical tap name (Keras block names for ReLU and pool outputs)."""
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    names, idx, block, conv = {}, 0, 1, 1
    for v in cfg:
        if v == "M":
            names[idx] = f"block{block}_pool"
            idx, block, conv = idx + 1, block + 1, 1
        else:
            names[idx] = f"features.{idx}"
            names[idx + 1] = f"block{block}_conv{conv}"
            idx, conv = idx + 2, conv + 1
    return names


def make_vgg(out):
    torch.manual_seed(2)
    model = torchvision.models.vgg16(weights=None).eval()
    state = collections.OrderedDict((k, v) for k, v in model.state_dict().items() if k.startswith("features."))
    write_formats(out, "vgg16", state)
    names = vgg_names()
    keep = {n for n in names.values() if not n.startswith("features.")} | {"features.0", "features.28"}
    refs = {}
    with torch.no_grad():
        torch.manual_seed(3)
        x = torch.randn(2, 3, 224, 224)
        refs["input"] = x
        y = x
        for i, layer in enumerate(model.features):
            y = layer(y.clone())  # clone: torchvision's ReLUs are in place and would overwrite the conv output
            if names[i] in keep:
                refs[names[i]] = y.clone()
        assert torch.equal(y, model.features(x.clone()))
    torch.save(refs, os.path.join(out, "vgg16.refs.pt"))
    make_bad_files(out, state)


def make_bad_files(out, state):
    """Broken VGG-16 files for the error tests, each with one thing wrong."""
    bad = os.path.join(out, "bad")
    os.makedirs(bad, exist_ok=True)
    missing = dict(state)
    del missing["features.28.bias"]
    torch.save(missing, os.path.join(bad, "missing_key.pt"))
    extra = dict(state)
    extra["features.31.weight"] = torch.zeros(3)
    torch.save(extra, os.path.join(bad, "extra_key.pt"))
    shape = dict(state)
    shape["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(shape, os.path.join(bad, "wrong_shape.pt"))
    with open(os.path.join(out, "vgg16.plain.pt"), "rb") as f:
        data = f.read()
    with open(os.path.join(bad, "truncated.pt"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(bad, "not_a_checkpoint.pt"), "w") as f:
        f.write("features.0.weight = [0.1, 0.2]\n")
    small = collections.OrderedDict((k, v) for k, v in state.items() if k.startswith("features.0."))
    torch.save(small, os.path.join(bad, "ordered_dict.pth"))  # unconverted state_dict(): needs the converter
    torch.save(dict(small), os.path.join(bad, "legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"state_dict": dict(small), "epoch": 3}, os.path.join(bad, "nested.pt"))
    with open(os.path.join(bad, "truncated.safetensors"), "wb") as f:
        save_safetensors(small, os.path.join(bad, "tmp.safetensors"))
        with open(os.path.join(bad, "tmp.safetensors"), "rb") as g:
            blob = g.read()
        f.write(blob[: len(blob) - 100])
    os.remove(os.path.join(bad, "tmp.safetensors"))
    torch.save(torch.nn.Conv2d(3, 4, 3), os.path.join(bad, "whole_module.pth"))  # needs --trust-pickle


def make_vgg_full(out):
    """Full VGG-16 (with classifier): torchvision names as a plain dict, timm names as safetensors."""
    torch.manual_seed(4)
    model = torchvision.models.vgg16(weights=None).eval()
    state = model.state_dict()
    torch.save(dict(state), os.path.join(out, "vgg16_full.plain.pt"))
    timm = collections.OrderedDict()
    for k, v in state.items():
        if k.startswith("classifier.0."):
            k, v = "pre_logits.fc1." + k[13:], (v.reshape(4096, 512, 7, 7) if v.dim() == 2 else v)
        elif k.startswith("classifier.3."):
            k, v = "pre_logits.fc2." + k[13:], (v.reshape(4096, 4096, 1, 1) if v.dim() == 2 else v)
        elif k.startswith("classifier.6."):
            k = "head.fc." + k[13:]
        timm[k] = v
    save_safetensors(timm, os.path.join(out, "vgg16_full.timm.safetensors"))
    with torch.no_grad():
        torch.manual_seed(5)
        x = torch.randn(2, 3, 224, 224)
        f = model.features(x.clone())
        h = torch.flatten(model.avgpool(f), 1)
        fc1 = model.classifier[1](model.classifier[0](h))
        fc2 = model.classifier[4](model.classifier[3](fc1.clone()))
        logits = model.classifier[6](fc2.clone())
        assert torch.equal(logits, model(x))
    torch.save({"input": x, "block5_pool": f, "fc1": fc1, "fc2": fc2, "logits": logits},
               os.path.join(out, "vgg16_full.refs.pt"))


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--full-vgg":
        os.makedirs(sys.argv[1], exist_ok=True)
        stamp_file = os.path.join(sys.argv[1], "stamp_full_vgg")
        if os.path.exists(stamp_file) and open(stamp_file).read() == stamp_of():
            print("full VGG-16 fixtures are up to date")
            return 0
        make_vgg_full(sys.argv[1])
        with open(stamp_file, "w") as f:
            f.write(stamp_of())
        print(f"full VGG-16 fixtures written to {sys.argv[1]}")
        return 0
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    stamp = stamp_of()
    stamp_file = os.path.join(out, "stamp")
    if os.path.exists(stamp_file) and open(stamp_file).read() == stamp:
        print(f"backbone fixtures in {out} are up to date")
        return 0
    if os.path.exists(stamp_file):
        os.remove(stamp_file)
    torch.set_num_threads(2)
    make_inception(out)
    make_vgg(out)
    with open(stamp_file, "w") as f:
        f.write(stamp)
    print(f"backbone fixtures written to {out} (torch {torch.__version__}, torchvision {torchvision.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
