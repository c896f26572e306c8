#!/usr/bin/env python3
"""Export ImageNet-shaped torchvision models (random weights, BatchNorm kept) to ONNX for zsq's
latency benchmarks (DESIGN.md §10: generated, not committed).

Usage: /usr/bin/python3 tools/export_imagenet_models.py [--out build/models] [--archs resnet18,mobilenet_v2]

Weights come from torchvision's initialisation with a fixed seed; BatchNorm running statistics
are set to the batch statistics of a few random images so that the folded model's activations
have realistic ranges. Input normalisation metadata (ImageNet mean/std, scale 1/255) is added
as the teachers carry it, so `zsq quantize --calib noise` and `zsq bench` work on the files.
"""
import argparse
import os

import onnx
import torch
import torchvision


def export(arch, out_dir):
    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)(num_classes=1000)
    model.train()
    with torch.no_grad():  # running statistics from random images (momentum None: plain average)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.reset_running_stats()
                m.momentum = None
        for _ in range(4):
            model(torch.randn(8, 3, 224, 224))
    model.eval()
    path = os.path.join(out_dir, arch + ".onnx")
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), path, input_names=["input"],
                      output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=13,
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    m = onnx.load(path)
    for k, v in (("zsq.input_mean", "0.485,0.456,0.406"), ("zsq.input_std", "0.229,0.224,0.225"),
                 ("zsq.input_scale", str(1 / 255))):
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.save(m, path)
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="build/models")
    ap.add_argument("--archs", default="resnet18,mobilenet_v2")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for arch in a.archs.split(","):
        export(arch, a.out)


if __name__ == "__main__":
    main()
