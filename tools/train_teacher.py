#!/usr/bin/env python3
"""Train a Fashion-MNIST teacher CNN and export it to ONNX for zsq.

Produces, for --out models/NAME.onnx:
  models/NAME.onnx          float32 ONNX graph (opset 13) with BatchNormalization
                            nodes kept (not folded into the convolutions) and
                            zsq.* metadata_props describing preprocessing and
                            the PyTorch reference accuracy.
  models/NAME.logits64.f32  PyTorch float32 logits of the first 64 test images
                            (file order), raw little-endian float32, [64,10]
                            row-major.

Usage:
  /usr/bin/python3 tools/train_teacher.py --arch resnet20 --epochs 4 --seed 0 \
      --out models/resnet20.onnx

Input preprocessing (also stored in the ONNX metadata):
  x = (pixel / 255 - mean) / std, with mean/std computed from the training set
  and rounded to 4 decimals (Fashion-MNIST: mean 0.2860, std 0.3530).
"""
import argparse
import collections
import gzip
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
NUM_CLASSES = 10
N_GOLDEN = 64


# --------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------
def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 2051:
        raise ValueError(f"{path}: bad IDX image magic {magic} (want 2051)")
    arr = np.frombuffer(data, dtype=np.uint8, offset=16)
    if arr.size != n * rows * cols:
        raise ValueError(f"{path}: size mismatch {arr.size} != {n}*{rows}*{cols}")
    return arr.reshape(n, 1, rows, cols)


def read_idx_labels(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic != 2049:
        raise ValueError(f"{path}: bad IDX label magic {magic} (want 2049)")
    arr = np.frombuffer(data, dtype=np.uint8, offset=8)
    if arr.size != n:
        raise ValueError(f"{path}: label count mismatch {arr.size} != {n}")
    return arr.astype(np.int64)


def load_fashion_mnist(data_dir):
    xtr = read_idx_images(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    ytr = read_idx_labels(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    xte = read_idx_images(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    yte = read_idx_labels(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    assert len(xtr) == len(ytr) == 60000 and len(xte) == len(yte) == 10000
    return xtr, ytr, xte, yte


def augment_batch(padded, idx, pad, gen):
    """Random crop (from zero-padded images) + random horizontal flip.

    padded: [N,1,H+2p,W+2p] float tensor (already normalised, padding holds
    the normalised value of a zero pixel); idx: LongTensor of sample indices.
    """
    b = idx.numel()
    h = padded.shape[2] - 2 * pad
    w = padded.shape[3] - 2 * pad
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    flip = torch.rand(b, generator=gen) < 0.5
    rows = oy[:, None] + torch.arange(h)[None, :]                  # [b,h]
    cols = ox[:, None] + torch.arange(w)[None, :]                  # [b,w]
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    out = padded[idx[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
    return out.unsqueeze(1)                                         # [b,1,h,w]


# --------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, 0, bias=False),
                nn.BatchNorm2d(cout))
        else:
            self.shortcut = nn.Identity()

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR-style ResNet-20 (He et al. 2016), 1-channel input."""

    def __init__(self, num_classes=NUM_CLASSES, in_ch=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers = []
        cin = 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        self.use_res = stride == 1 and cin == cout
        layers = []
        if t != 1:
            layers += [nn.Conv2d(cin, hidden, 1, 1, 0, bias=False),
                       nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
                   nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
                   nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    """Small MobileNetV2-style network for 28x28 inputs."""
    # (expansion t, channels c, repeats n, stride s)
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 2, 1))

    def __init__(self, num_classes=NUM_CLASSES, in_ch=1, last=128):
        super().__init__()
        feats = [nn.Conv2d(in_ch, 16, 3, 1, 1, bias=False),
                 nn.BatchNorm2d(16), nn.ReLU6(inplace=True)]
        cin = 16
        for t, c, n, s in self.SETTINGS:
            for i in range(n):
                feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        feats += [nn.Conv2d(cin, last, 1, 1, 0, bias=False),
                  nn.BatchNorm2d(last), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*feats)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.features(x)
        x = torch.flatten(self.pool(x), 1)
        return self.fc(x)


ARCHS = {"resnet20": ResNet20, "mobilenetv2": MobileNetV2}


def init_weights(model):
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def count_macs(model, shape=(1, 1, 28, 28)):
    """Multiply-accumulates per image of Conv2d and Linear layers."""
    total = [0]

    def conv_hook(m, inp, out):
        kh, kw = m.kernel_size
        total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * kh * kw

    def lin_hook(m, inp, out):
        total[0] += m.in_features * m.out_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


# --------------------------------------------------------------------------
# Minimal ONNX interpreter (torch.nn.functional) used to check that the
# exported graph computes the same function as the PyTorch model.  It covers
# only the ops these teachers export to; anything else is an error.
# --------------------------------------------------------------------------
def run_onnx_with_torch(model_proto, x):
    from onnx import helper, numpy_helper
    env = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
           for i in model_proto.graph.initializer}
    env[model_proto.graph.input[0].name] = x
    for n in model_proto.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in n.attribute}
        ins = [env[i] if i else None for i in n.input]
        op = n.op_type
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            if pads[0] != pads[2] or pads[1] != pads[3]:
                raise ValueError("asymmetric pads not supported")
            y = F.conv2d(ins[0], ins[1], ins[2] if len(ins) > 2 else None,
                         stride=a.get("strides", [1, 1]), padding=pads[:2],
                         dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif op == "BatchNormalization":
            y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], training=False,
                             eps=a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(ins[0])
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else None
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else None
            y = torch.clamp(ins[0], min=None if lo is None else float(lo),
                            max=None if hi is None else float(hi))
        elif op == "Add":
            y = ins[0] + ins[1]
        elif op == "GlobalAveragePool":
            y = ins[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = torch.flatten(ins[0], a.get("axis", 1))
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.t()
            if a.get("transB", 0):
                B = B.t()
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "Identity":
            y = ins[0]
        elif op == "Constant":
            y = torch.from_numpy(numpy_helper.to_array(a["value"]).copy())
        else:
            raise ValueError(f"run_onnx_with_torch: unsupported op {op}")
        env[n.output[0]] = y
    return env[model_proto.graph.output[0].name]


# --------------------------------------------------------------------------
# Train / eval
# --------------------------------------------------------------------------
@torch.no_grad()
def predict_logits(model, x, batch=500):
    model.eval()
    outs = []
    for i in range(0, x.shape[0], batch):
        outs.append(model(x[i:i + batch]))
    return torch.cat(outs)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=sorted(ARCHS), required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output .onnx path")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.2, help="OneCycle max LR")
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--max-train-samples", type=int, default=0,
                    help="debug: train on only the first N training images")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    # ---- data
    xtr_u8, ytr_np, xte_u8, yte_np = load_fashion_mnist(args.data_dir)
    xtr01 = xtr_u8.astype(np.float64) / 255.0
    mean = round(float(xtr01.mean()), 4)
    std = round(float(xtr01.std()), 4)
    print(f"train set mean={xtr01.mean():.6f} std={xtr01.std():.6f} "
          f"-> using mean={mean:.4f} std={std:.4f}", flush=True)
    del xtr01
    m32, s32 = np.float32(mean), np.float32(std)

    def normalise(u8):
        return torch.from_numpy(((u8.astype(np.float32) / np.float32(255.0)) - m32) / s32)

    pad = 2
    xtr_pad = F.pad(torch.from_numpy(xtr_u8.astype(np.float32) / np.float32(255.0)),
                    (pad, pad, pad, pad), value=0.0)
    xtr_pad = ((xtr_pad - m32) / s32).contiguous()
    ytr = torch.from_numpy(ytr_np)
    xte = normalise(xte_u8).contiguous()
    yte = torch.from_numpy(yte_np)

    # ---- model
    model = ARCHS[args.arch]()
    init_weights(model)
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model)
    print(f"arch={args.arch} params={n_params} MACs/image={macs}", flush=True)

    model = model.to(memory_format=torch.channels_last)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.weight_decay},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    if args.max_train_samples > 0:
        xtr_pad, ytr = xtr_pad[:args.max_train_samples], ytr[:args.max_train_samples]
    n_train = xtr_pad.shape[0]
    steps_per_epoch = math.ceil(n_train / args.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25, div_factor=10.0, final_div_factor=100.0)

    t_start = time.time()
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(n_train, generator=gen)
        tot_loss, tot_ok, seen = 0.0, 0, 0
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch_size:(step + 1) * args.batch_size]
            xb = augment_batch(xtr_pad, idx, pad, gen).contiguous(
                memory_format=torch.channels_last)
            yb = ytr[idx]
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * idx.numel()
            tot_ok += (logits.argmax(1) == yb).sum().item()
            seen += idx.numel()
            if step % 100 == 0:
                print(f"  epoch {epoch + 1} step {step}/{steps_per_epoch} "
                      f"loss {tot_loss / seen:.4f} acc {100.0 * tot_ok / seen:.2f}% "
                      f"lr {sched.get_last_lr()[0]:.4f} ({time.time() - t0:.0f}s)",
                      flush=True)
        te_logits = predict_logits(model, xte.contiguous(memory_format=torch.channels_last))
        te_ok = int((te_logits.argmax(1) == yte).sum())
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {tot_loss / seen:.4f} "
              f"train acc {100.0 * tot_ok / seen:.2f}% test acc {te_ok / 100.0:.2f}% "
              f"time {time.time() - t0:.1f}s", flush=True)
    train_time = time.time() - t_start
    print(f"training time: {train_time:.1f}s", flush=True)

    # ---- final float32 evaluation (plain NCHW contiguous, eval mode)
    model = model.to(memory_format=torch.contiguous_format).eval()
    te_logits = predict_logits(model, xte)
    correct = int((te_logits.argmax(1) == yte).sum())
    acc = 100.0 * correct / len(yte)
    print(f"final torch float32 test accuracy: {acc:.2f}% ({correct}/{len(yte)})",
          flush=True)

    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    stem = out[:-5] if out.endswith(".onnx") else out
    golden = te_logits[:N_GOLDEN].detach().numpy().astype("<f4")
    assert golden.shape == (N_GOLDEN, NUM_CLASSES)
    golden_path = stem + ".logits64.f32"
    golden.tofile(golden_path)
    print(f"wrote {golden_path} ({golden.nbytes} bytes)")

    # ---- ONNX export (BatchNorm kept: PRESERVE + eval mode, no const folding)
    import onnx
    from onnx import helper
    dummy = xte[:1].clone()
    torch.onnx.export(
        model, dummy, out,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        opset_version=13, do_constant_folding=False,
        training=torch.onnx.TrainingMode.PRESERVE,
        export_params=True)

    m = onnx.load(out)
    bn_nodes = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
    n_bn_modules = sum(1 for x in model.modules() if isinstance(x, nn.BatchNorm2d))
    if not bn_nodes:
        sys.exit("ERROR: exported graph has no BatchNormalization nodes (BN was folded)")
    if len(bn_nodes) != n_bn_modules:
        sys.exit(f"ERROR: {len(bn_nodes)} BatchNormalization nodes but model has "
                 f"{n_bn_modules} BatchNorm2d modules")
    for n in bn_nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if attrs.get("training_mode", 0) != 0 or len(n.output) != 1:
            sys.exit(f"ERROR: BatchNormalization node {n.name} is in training mode "
                     f"(attrs={attrs}, outputs={list(n.output)})")

    recipe = (f"{args.epochs} epochs, SGD momentum 0.9 nesterov, weight decay "
              f"{args.weight_decay:g} (conv/linear weights only), batch {args.batch_size}, "
              f"OneCycleLR max_lr {args.lr:g} (pct_start 0.25, div 10, final_div 100), "
              f"aug random crop pad {pad} + horizontal flip, seed {args.seed}, "
              f"torch {torch.__version__}, {train_time:.0f}s on {args.threads} CPU threads")
    props = collections.OrderedDict([
        ("zsq.input_mean", f"{mean:.4f}"),
        ("zsq.input_std", f"{std:.4f}"),
        ("zsq.input_scale", "1/255"),
        ("zsq.dataset", "fashion-mnist"),
        ("zsq.arch", args.arch),
        ("zsq.torch_test_correct", str(correct)),
        ("zsq.torch_test_accuracy", f"{acc:.2f}"),
        ("zsq.training", recipe),
        ("zsq.params", str(n_params)),
        ("zsq.macs", str(macs)),
    ])
    del m.metadata_props[:]
    for k, v in props.items():
        e = m.metadata_props.add()
        e.key, e.value = k, v
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out)

    # ---- report
    m = onnx.load(out)
    onnx.checker.check_model(m)
    hist = collections.Counter(n.op_type for n in m.graph.node)
    print(f"wrote {out} ({os.path.getsize(out)} bytes), opset "
          f"{[(o.domain or 'ai.onnx', o.version) for o in m.opset_import]}, "
          f"ir_version {m.ir_version}")
    print("ONNX op_type histogram:")
    for op, c in sorted(hist.items()):
        print(f"  {op:20s} {c}")
    mod_hist = collections.Counter(type(x).__name__ for x in model.modules()
                                   if len(list(x.children())) == 0)
    print("torch leaf-module histogram:")
    for op, c in sorted(mod_hist.items()):
        print(f"  {op:20s} {c}")
    n_conv = sum(1 for x in model.modules() if isinstance(x, nn.Conv2d))
    if hist.get("Conv", 0) != n_conv:
        sys.exit(f"ERROR: {hist.get('Conv', 0)} Conv nodes vs {n_conv} Conv2d modules")
    for n in m.graph.node:
        if n.op_type == "Clip":
            print(f"  Clip {n.name}: inputs {list(n.input)} attrs "
                  f"{[a.name for a in n.attribute]}")
    with torch.no_grad():
        onnx_logits = torch.cat([run_onnx_with_torch(m, xte[i:i + 500])
                                 for i in range(0, len(xte), 500)])
    onnx_correct = int((onnx_logits.argmax(1) == yte).sum())
    max_diff = float((onnx_logits - te_logits).abs().max())
    max_diff64 = float((onnx_logits[:N_GOLDEN] - torch.from_numpy(golden)).abs().max())
    print(f"ONNX graph re-run with torch ops: {onnx_correct}/10000 correct, "
          f"max |logit diff| {max_diff:.3g} (first 64: {max_diff64:.3g})")
    if onnx_correct != correct or max_diff > 1e-3:
        sys.exit("ERROR: exported ONNX graph does not reproduce the PyTorch model")
    print("metadata_props:")
    for p in m.metadata_props:
        print(f"  {p.key} = {p.value}")
    print(f"SUMMARY arch={args.arch} params={n_params} macs={macs} correct={correct} "
          f"acc={acc:.2f} train_time_s={train_time:.1f} onnx_bytes={os.path.getsize(out)}")


if __name__ == "__main__":
    main()
