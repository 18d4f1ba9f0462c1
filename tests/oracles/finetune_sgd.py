#!/usr/bin/env python3
"""Oracle for fine-tuning (issue #31): Python torchvision doing the SGD steps oess's FineTuner must reproduce.

    /usr/bin/python3 tests/oracles/finetune_sgd.py FIXTURE_DIR OUT_DIR

FIXTURE_DIR holds make_backbone_fixtures.py's seeded torchvision weights (inception_v3.plain.pt,
vgg16.plain.pt). For each case it writes OUT_DIR/<case>.pt, a plain dict of tensors:
  input [4,3,H,W], labels [4], class_weights [4], head.weight / head.bias (the head's initial state),
  loss.0 / loss.1 (each step's mean loss before its update), before/<name> and after/<name> for every trained
  backbone parameter and the head (after two SGD steps on images 0-1 then 2-3).
Cases: inception (torchvision flavour, layers after mixed5 train, head on mixed7), inception_keras (the same
with the branch average pools not counting the padding, as Keras), vgg16 (after block4_pool, head on
block5_pool). The backbone stays in eval mode: BatchNorm's running statistics are frozen, its scale and shift
train. SGD with momentum 0.9, weight decay 1e-4, learning rate 1e-3 for the backbone and 1e-5 for the head (random-weight features are in the hundreds).
"""
import functools
import os
import sys

import torch
import torch.nn.functional as F
import torchvision

INCEPTION = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
             "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
             "Mixed_6e"]


def inception(fixtures, keras):
    m = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    m.load_state_dict(torch.load(os.path.join(fixtures, "inception_v3.plain.pt")))
    stages = [getattr(m, n) for n in INCEPTION]
    # mixed5 = Mixed_6c is the last frozen stage; Mixed_6d, Mixed_6e (mixed6, mixed7) train
    return m, stages[:13], stages[13:], [p for n in INCEPTION[13:] for p in getattr(m, n).parameters()], 768, 139


def vgg(fixtures):
    m = torchvision.models.vgg16(weights=None)
    state = torch.load(os.path.join(fixtures, "vgg16.plain.pt"))
    m.features.load_state_dict({k[len("features."):]: v for k, v in state.items() if k.startswith("features.")})
    layers = list(m.features)
    # block4_pool = features.23 is the last frozen layer; features.24..30 train
    return m, layers[:24], layers[24:], [p for layer in layers[24:] for p in layer.parameters()], 512, 64


def run(case, model, frozen, trained, params, channels, size, out):
    model.eval()
    torch.manual_seed(11)
    head = torch.nn.Linear(channels, 4)
    with torch.no_grad():
        head.weight.mul_(0.001)  # random-weight features are in the hundreds: logits stay O(1), softmax unsaturated
    x = torch.randn(4, 3, size, size)
    labels = torch.tensor([0, 3, 1, 2])
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0])
    names = {id(p): n for n, p in model.named_parameters()}
    refs = {"input": x, "labels": labels, "class_weights": weights, "head.weight": head.weight.detach().clone(),
            "head.bias": head.bias.detach().clone()}
    for p in params:
        refs["before/" + names[id(p)]] = p.detach().clone()
    sgd = torch.optim.SGD([{"params": params, "lr": 1e-3}, {"params": list(head.parameters()), "lr": 1e-5}],
                          lr=1e-5, momentum=0.9, weight_decay=1e-4)
    for k, batch in enumerate([slice(0, 2), slice(2, 4)]):
        with torch.no_grad():
            h = x[batch]
            for layer in frozen:
                h = layer(h)
        for layer in trained:
            h = layer(h)
        logits = head(h.mean((2, 3)))
        loss = F.cross_entropy(logits, labels[batch], weight=weights)
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        refs[f"loss.{k}"] = loss.detach().reshape(1)
    for p in params:
        refs["after/" + names[id(p)]] = p.detach().clone()
    refs["after/head.weight"] = head.weight.detach().clone()
    refs["after/head.bias"] = head.bias.detach().clone()
    torch.save({k: v.contiguous() for k, v in refs.items()}, os.path.join(out, case + ".pt"))
    print(f"{case}: {len(params)} trained tensors, losses {refs['loss.0'].item():.6f} {refs['loss.1'].item():.6f}")


def main():
    fixtures, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    run("inception", *inception(fixtures, False), out)
    # Keras's 'same' average pooling divides by the pixels inside the image: torchvision's blocks call
    # F.avg_pool2d(x, kernel_size=3, stride=1, padding=1), patched here for this case only.
    plain = F.avg_pool2d
    torchvision.models.inception.F.avg_pool2d = functools.partial(plain, count_include_pad=False)
    try:
        run("inception_keras", *inception(fixtures, True), out)
    finally:
        torchvision.models.inception.F.avg_pool2d = plain
    run("vgg16", *vgg(fixtures), out)


if __name__ == "__main__":
    main()
