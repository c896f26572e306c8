#!/usr/bin/env python3
"""PyTorch float-inference throughput of the Fashion-MNIST teachers, for comparison with
build/bench/bench_float (zsq). See BENCHMARKS.md.

Usage:
  /usr/bin/python3 tools/bench_torch.py [--archs resnet20,mobilenetv2] [--reps 5]
                                        [--min-time 0.5] [--variants eager,channels_last,jit_opt]

The architectures are the nn.Modules of tools/train_teacher.py (weights: its random
initialisation; weights do not change the speed of float inference). Input: the first `batch`
Fashion-MNIST test images, normalised as in training. For each arch x batch {1, 64} x threads
{1, 2} and each variant, one repetition runs the model back to back for at least --min-time
seconds of wall clock and yields images/s; the median of --reps repetitions is reported.

Variants (all eval() under torch.inference_mode()):
  eager          eager model, contiguous NCHW input
  channels_last  eager model and input in torch.channels_last
  jit_opt        torch.jit.optimize_for_inference(torch.jit.script(model)): frozen, BatchNorm
                 folded into the convolutions (like zsq's fold_batchnorm=1), convolutions run by
                 oneDNN (mkldnn) in its blocked layout; NCHW float input
The summary table takes, for each row, the fastest variant and names it.

Note: Debian's torch links the reference BLAS (libblas3) on this machine; the eager NCHW
convolution at batch 1 goes through aten::_slow_conv2d_forward (im2col + that BLAS) and is
~40x slower than the oneDNN path, which is why jit_opt is measured.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_teacher as tt  # noqa: E402  (the model classes and the IDX reader)

BATCHES = (1, 64)
THREADS = (1, 2)


def load_images(n, mean, std):
    x = tt.read_idx_images(os.path.join(tt.DATA_DIR, "t10k-images-idx3-ubyte.gz"))[:n]
    x = (x.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    return torch.from_numpy(np.ascontiguousarray(x))


def build(arch, variant, example):
    torch.manual_seed(0)
    model = tt.ARCHS[arch]()
    tt.init_weights(model)
    model.eval()
    if variant == "channels_last":
        return model.to(memory_format=torch.channels_last), example.contiguous(
            memory_format=torch.channels_last)
    if variant == "jit_opt":
        with torch.no_grad():
            opt = torch.jit.optimize_for_inference(torch.jit.script(model))
        return opt, example
    return model, example


def measure(model, x, reps, min_time):
    """Median images/s over reps repetitions of >= min_time s each, and all the samples."""
    batch = x.shape[0]
    with torch.inference_mode():
        t_end = time.perf_counter() + 0.3  # warm-up (and the JIT's profiling runs)
        while time.perf_counter() < t_end:
            model(x)
        rates = []
        for _ in range(reps):
            n = 0
            t0 = time.perf_counter()
            while True:
                model(x)
                n += 1
                dt = time.perf_counter() - t0
                if dt >= min_time:
                    break
            rates.append(n * batch / dt)
    return statistics.median(rates), rates


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="resnet20,mobilenetv2")
    ap.add_argument("--variants", default="eager,channels_last,jit_opt")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--min-time", type=float, default=0.5)
    args = ap.parse_args()
    archs = args.archs.split(",")
    variants = args.variants.split(",")
    for v in variants:
        if v not in ("eager", "channels_last", "jit_opt"):
            sys.exit(f"unknown variant {v}")

    # The teachers' preprocessing (train_teacher.py rounds the training-set statistics).
    mean, std = 0.2860, 0.3530
    x_all = load_images(max(BATCHES), mean, std)
    print(f"torch {torch.__version__}, mkldnn {torch.backends.mkldnn.is_available()}, "
          f"default threads {torch.get_num_threads()}, {args.reps} reps x >= {args.min_time} s",
          flush=True)

    results = {}  # (arch, batch, threads) -> {variant: (median, rates)}
    for arch in archs:
        macs = tt.count_macs(tt.ARCHS[arch]())
        for threads in THREADS:
            torch.set_num_threads(threads)
            for batch in BATCHES:
                x = x_all[:batch].clone()
                row = results.setdefault((arch, batch, threads), {})
                for v in variants:
                    model, xv = build(arch, v, x)
                    med, rates = measure(model, xv, args.reps, args.min_time)
                    row[v] = (med, rates)
                    spread = 100.0 * (max(rates) - min(rates)) / med
                    print(f"  {arch:12s} batch {batch:3d} threads {threads} {v:14s} "
                          f"median {med:9.1f} img/s  ({2e-9 * macs * med:6.1f} GFLOPS, "
                          f"min..max spread {spread:4.1f} %)", flush=True)
        results[(arch, "macs")] = macs

    print()
    for arch in archs:
        macs = results[(arch, "macs")]
        print(f"{arch} ({macs / 1e6:.2f} MMAC/image): median images/s")
        head = "".join(f"{v:>15s}" for v in variants)
        print(f"  batch threads{head}   best        GFLOPS")
        for batch in BATCHES:
            for threads in THREADS:
                row = results[(arch, batch, threads)]
                best = max(row, key=lambda v: row[v][0])
                cells = "".join(f"{row[v][0]:15.1f}" for v in variants)
                print(f"  {batch:5d} {threads:7d}{cells}   {best:13s} "
                      f"{2e-9 * macs * row[best][0]:6.1f}")
        for v in variants:
            s = results[(arch, 64, 2)][v][0] / results[(arch, 64, 1)][v][0]
            print(f"  2-thread / 1-thread scaling at batch 64 ({v}): {s:.2f}x")
        print()


if __name__ == "__main__":
    main()
