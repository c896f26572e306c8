#!/usr/bin/env python3
"""PyTorch twin of one `zsq synth` optimisation step (IntraQ or ZeroQ), timed on the CPU.

Usage:
  /usr/bin/python3 tools/bench_synth_torch.py [--method intraq|zeroq] [--batch 256]
      [--threads 2] [--steps 10] [--warmup 3] [--channels-last] [--onnx models/resnet20.onnx]
      [--arch resnet20|resnet18]

--arch resnet18: torchvision's ResNet-18 (random weights, 1000 classes) on 3×224×224 images, the
ImageNet-shaped case (e.g. --batch 32); resnet20 (default) is the Fashion-MNIST teacher, 1×28×28.

Prints one line per run:
  method batch threads memory-format median s/step (min..max over the timed steps)

What one step does (mirrors src/synth/synth.c step() + zsq_adam_step + plateau_step):
  intraq  every image, with p = 0.5, is random-resized-cropped (area 0.5-1, ratio 3/4-4/3,
          bilinear, align_corners=False, taps clamped to the crop as in src/synth/augment.c) and
          then flipped with p = 0.5 (the flip is drawn only for cropped images, as in zsq); the
          whole batch goes through ONE grid_sample with per-image grids (differentiable);
          forward through the eval-mode ResNet-20 with forward hooks capturing the INPUT of every
          BatchNorm2d (21 layers); loss = mean over BN layers of
          [mean_c (mu_c - running_mean_c)^2 + mean_c (var_c - running_var_c)^2]
          (batch statistics over N,H,W, biased variance) + mean_n (softmax(z)_{n,y_n} - 1)^2
          with balanced shuffled labels; backward to the pixels; Adam lr 0.5; plateau scheduler.
  zeroq   no crops, no labels; loss = sum over {input image, every BN input} of
          1/N sum_{n,c} [(mu_nc - running_mean_c)^2 + (sd_nc - sqrt(running_var_c + 1e-6))^2]
          with mu_nc, sd_nc = mean and sqrt(unbiased var + 1e-6) over H,W (input: targets 0 and
          sqrt(1 + 1e-6)); uniform tiny init as in zsq; Adam lr 0.5; plateau scheduler.

The teacher's parameters have requires_grad=False, so backward computes only the gradient with
respect to the activations and pixels (as zsq does), never weight gradients.
Weights: loaded from --onnx (the trained teacher) when that file exists, else the random
initialisation of tools/train_teacher.py (weights do not change the speed).
Timing: --warmup steps untimed, then --steps steps each timed with perf_counter (including the
crop sampling, loss.item() and the scheduler step); the median is reported.
"""
import argparse
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_teacher as tt  # noqa: E402  (the ResNet-20 class)

STD_EPS = 1e-6


def build_model(arch, onnx_path, channels_last):
    torch.manual_seed(0)
    if arch == "resnet18":
        import torchvision
        model = torchvision.models.resnet18(num_classes=1000)
    else:
        model = tt.ResNet20()
        tt.init_weights(model)
    source = "random"
    if arch == "resnet20" and onnx_path and os.path.exists(onnx_path):
        import onnx
        from onnx import numpy_helper
        m = onnx.load(onnx_path)
        init = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
                for i in m.graph.initializer}
        for nd in m.graph.node:  # the exporter dedups equal tensors through Identity nodes
            if nd.op_type == "Identity" and nd.input[0] in init:
                init[nd.output[0]] = init[nd.input[0]]
        sd = model.state_dict()
        loaded = {k: init[k] for k in sd if k in init}
        missing = [k for k in sd if k not in init and not k.endswith("num_batches_tracked")]
        if missing:
            sys.exit(f"{onnx_path}: no initializer for {missing[:5]}")
        model.load_state_dict(loaded, strict=False)
        source = onnx_path
    model.eval()
    model.requires_grad_(False)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model, source


def sample_crops(n, h, w, p, scale_lo, gen):
    """Per-image crop boxes (y0, x0, ch, cw), flip flags; inactive images get the identity box.

    Same distribution as zsq_crop_sample: up to 10 tries of (area, log-ratio), rounded sizes,
    integer offsets; fall back to the whole image."""
    active = torch.rand(n, generator=gen) < p
    flip = active & (torch.rand(n, generator=gen) < 0.5)
    area = float(h * w)
    lr0, lr1 = math.log(3 / 4), math.log(4 / 3)
    ch = torch.full((n,), float(h))
    cw = torch.full((n,), float(w))
    done = ~active
    for _ in range(10):
        target = area * (scale_lo + (1 - scale_lo) * torch.rand(n, generator=gen))
        ratio = torch.exp(lr0 + (lr1 - lr0) * torch.rand(n, generator=gen))
        tw = torch.round(torch.sqrt(target * ratio))
        th = torch.round(torch.sqrt(target / ratio))
        ok = (~done) & (tw > 0) & (th > 0) & (tw <= w) & (th <= h)
        cw = torch.where(ok, tw, cw)
        ch = torch.where(ok, th, ch)
        done = done | ok
        if bool(done.all()):
            break
    y0 = torch.floor(torch.rand(n, generator=gen) * (h - ch + 1))
    x0 = torch.floor(torch.rand(n, generator=gen) * (w - cw + 1))
    y0 = torch.where(active, y0, torch.zeros(n))
    x0 = torch.where(active, x0, torch.zeros(n))
    return y0, x0, ch, cw, flip


def crop_grid(y0, x0, ch, cw, flip, h, w):
    """grid_sample grid [N,H,W,2] (align_corners=False) reproducing src/synth/augment.c taps:
    s = (o + 0.5) * len / out - 0.5 clamped to [0, len - 1] inside the crop."""
    oy = torch.arange(h, dtype=torch.float32)
    ox = torch.arange(w, dtype=torch.float32)
    sy = ((oy[None] + 0.5) * ch[:, None] / h - 0.5).clamp(min=0)
    sy = torch.minimum(sy, ch[:, None] - 1) + y0[:, None]                  # [N,H]
    oxf = torch.where(flip[:, None], (w - 1) - ox[None], ox[None])
    sx = ((oxf + 0.5) * cw[:, None] / w - 0.5).clamp(min=0)
    sx = torch.minimum(sx, cw[:, None] - 1) + x0[:, None]                  # [N,W]
    gy = (2 * sy + 1) / h - 1
    gx = (2 * sx + 1) / w - 1
    n = y0.shape[0]
    return torch.stack((gx[:, None, :].expand(n, h, w), gy[:, :, None].expand(n, h, w)), dim=-1)


def run(args):
    torch.set_num_threads(args.threads)
    model, source = build_model(args.arch, args.onnx, args.channels_last)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    captured = []
    for m in bns:
        m.register_forward_hook(lambda mod, inp, out: captured.append(inp[0]))
    rmean = [m.running_mean for m in bns]
    rvar = [m.running_var for m in bns]
    rstd = [torch.sqrt(v + STD_EPS) for v in rvar]
    n, c, h, w = (args.batch, 3, 224, 224) if args.arch == "resnet18" else (args.batch, 1, 28, 28)
    classes = 1000 if args.arch == "resnet18" else 10
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format

    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    if args.method == "zeroq":
        x0 = (torch.randint(0, 255, (n, c, h, w), generator=gen).float() - 127.5) / 5418.75
        patience = 100
    else:
        x0 = torch.randn(n, c, h, w, generator=gen)
        patience = 50
    images = x0.contiguous(memory_format=fmt).requires_grad_(True)
    labels = (torch.arange(n) % classes)[torch.randperm(n, generator=gen)]
    opt = torch.optim.Adam([images], lr=args.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, mode="min", factor=0.1, patience=patience, threshold=1e-4, min_lr=1e-4)
    rows = torch.arange(n)

    def step():
        captured.clear()
        if args.method == "intraq":
            box = sample_crops(n, h, w, 0.5, 0.5, gen)
            grid = crop_grid(*box, h, w)
            x = F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                              align_corners=False).contiguous(memory_format=fmt)
            z = model(x)
            bn = 0.0
            for a, rm, rv in zip(captured, rmean, rvar):
                var, mu = torch.var_mean(a, dim=(0, 2, 3), unbiased=False)
                bn = bn + ((mu - rm) ** 2).mean() + ((var - rv) ** 2).mean()
            loss = bn / len(captured)
            p = torch.softmax(z, dim=1)
            loss = loss + ((p[rows, labels] - 1) ** 2).mean()
        else:
            model(images)
            var, mu = torch.var_mean(images, dim=(2, 3), unbiased=True)
            loss = ((mu ** 2).sum() + ((torch.sqrt(var + STD_EPS) - math.sqrt(1 + STD_EPS)) ** 2)
                    .sum()) / n
            for a, rm, rs in zip(captured, rmean, rstd):
                var, mu = torch.var_mean(a, dim=(2, 3), unbiased=True)
                sd = torch.sqrt(var + STD_EPS)
                loss = loss + (((mu - rm) ** 2).sum() + ((sd - rs) ** 2).sum()) / n
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lv = loss.item()
        sched.step(lv)
        return lv

    first = last = None
    for _ in range(args.warmup):
        lv = step()
        first = lv if first is None else first
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        last = step()
        times.append(time.perf_counter() - t0)
    if len(captured) != len(bns):
        sys.exit(f"hooked {len(captured)} BN inputs, model has {len(bns)}")
    med = statistics.median(times)
    print(f"{args.arch} {args.method:6s} batch {n} threads {args.threads} "
          f"{'channels_last' if args.channels_last else 'contiguous  '} "
          f"median {med:.3f} s/step ({min(times):.3f}..{max(times):.3f}, "
          f"mean {statistics.mean(times):.3f}, {args.steps} steps) "
          f"[bn layers {len(bns)}, weights {source}, loss {first:.4g} -> {last:.4g}]",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=("intraq", "zeroq"), default="intraq")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--arch", choices=("resnet20", "resnet18"), default="resnet20")
    ap.add_argument("--onnx", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models", "resnet20.onnx"),
        help="take the teacher's weights from this ONNX file if it exists ('' = random)")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
