#!/usr/bin/python3
"""Writes quench's model zoo: seeded random-weight ONNX models with real architectures.

Run with Debian's python3 (python3-torch, python3-torchvision, python3-onnx), normally through
scripts/make_models.sh. For every model NAME it writes into the output folder (default
<repo>/.models/zoo):

  NAME.onnx        the exported model (FP32 weights)
  NAME.input.npy   a seeded FP32 input
  NAME.torch.npy   PyTorch's output for that input, computed in float64 from the same weights
  NAME.stamp       hash of this script and the library versions; a model whose stamp matches is
                   not generated again

Weights are torchvision's own initialisation under a fixed seed (weights=None: nothing is
downloaded), with BatchNorm's running statistics and affine parameters randomised so that no
BatchNorm is an identity.
"""

import argparse
import hashlib
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)


# ---------------------------------------------------------------------------------------------
# A small YOLO-style detector (in the manner of YOLOv8-n, narrower): Conv+BN+SiLU blocks, C2f
# (Split + Concat), a CSP block that splits by slicing, SPPF (MaxPool), nearest Resize, a
# PAN neck with Concat, and a decoupled head whose box branch is decoded DFL-style (Reshape,
# Transpose, Softmax over the distribution dim, a fixed 1x1 Conv for the expectation).
# ---------------------------------------------------------------------------------------------


class ConvBnSiLU(nn.Module):
    def __init__(self, c1, c2, k=1, s=1):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c, shortcut=True):
        super().__init__()
        self.cv1 = ConvBnSiLU(c, c, 3)
        self.cv2 = ConvBnSiLU(c, c, 3)
        self.add = shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    """Split into two halves (ONNX Split), chain bottlenecks on the second, concat all."""

    def __init__(self, c1, c2, n=1, shortcut=True):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = ConvBnSiLU(c1, 2 * self.c, 1)
        self.cv2 = ConvBnSiLU((2 + n) * self.c, c2, 1)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        y = list(self.cv1(x).split((self.c, self.c), 1))
        for m in self.m:
            y.append(m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class CSPSlice(nn.Module):
    """CSP block that separates its halves by slicing (ONNX Slice) instead of Split."""

    def __init__(self, c1, c2):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = ConvBnSiLU(c1, 2 * self.c, 1)
        self.m = Bottleneck(self.c, shortcut=False)
        self.cv2 = ConvBnSiLU(2 * self.c, c2, 1)

    def forward(self, x):
        y = self.cv1(x)
        a = y[:, : self.c]
        b = y[:, self.c :]
        return self.cv2(torch.cat((a, self.m(b)), 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = ConvBnSiLU(c1, c_, 1)
        self.cv2 = ConvBnSiLU(c_ * 4, c2, 1)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class DFL(nn.Module):
    """Expected value of a softmax distribution over reg_max bins, as a fixed 1x1 conv."""

    def __init__(self, reg_max=16):
        super().__init__()
        self.reg_max = reg_max
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(reg_max, dtype=torch.float).view(1, reg_max, 1, 1)

    def forward(self, x):  # x: (b, 4*reg_max, a)
        b, _, a = x.shape
        x = x.view(b, 4, self.reg_max, a).transpose(2, 1).softmax(1)  # (b, reg_max, 4, a)
        return self.conv(x).view(b, 4, a)


class YoloStyle(nn.Module):
    def __init__(self, nc=80, reg_max=16, w=(16, 32, 64, 128, 256)):
        super().__init__()
        self.nc, self.reg_max = nc, reg_max
        self.no = nc + 4 * reg_max
        # Backbone: strides 2, 4, 8 (P3), 16 (P4), 32 (P5).
        self.b0 = ConvBnSiLU(3, w[0], 3, 2)
        self.b1 = ConvBnSiLU(w[0], w[1], 3, 2)
        self.b2 = C2f(w[1], w[1], 1)
        self.b3 = ConvBnSiLU(w[1], w[2], 3, 2)
        self.b4 = C2f(w[2], w[2], 2)
        self.b5 = ConvBnSiLU(w[2], w[3], 3, 2)
        self.b6 = CSPSlice(w[3], w[3])
        self.b7 = ConvBnSiLU(w[3], w[4], 3, 2)
        self.b8 = C2f(w[4], w[4], 1)
        self.sppf = SPPF(w[4], w[4])
        # Neck (top-down then bottom-up).
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n1 = C2f(w[4] + w[3], w[3], 1, shortcut=False)
        self.n2 = C2f(w[3] + w[2], w[2], 1, shortcut=False)
        self.d1 = ConvBnSiLU(w[2], w[2], 3, 2)
        self.n3 = C2f(w[2] + w[3], w[3], 1, shortcut=False)
        self.d2 = ConvBnSiLU(w[3], w[3], 3, 2)
        self.n4 = C2f(w[3] + w[4], w[4], 1, shortcut=False)
        # Head: one box branch and one class branch per scale.
        c2, c3 = max(16, w[2] // 4, 4 * reg_max), max(w[2], nc)
        self.box = nn.ModuleList(
            nn.Sequential(ConvBnSiLU(c, c2, 3), ConvBnSiLU(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
            for c in (w[2], w[3], w[4]))
        self.cls = nn.ModuleList(
            nn.Sequential(ConvBnSiLU(c, c3, 3), ConvBnSiLU(c3, c3, 3), nn.Conv2d(c3, nc, 1))
            for c in (w[2], w[3], w[4]))
        self.dfl = DFL(reg_max)

    def forward(self, x):
        x = self.b2(self.b1(self.b0(x)))
        p3 = self.b4(self.b3(x))
        p4 = self.b6(self.b5(p3))
        p5 = self.sppf(self.b8(self.b7(p4)))
        t4 = self.n1(torch.cat((self.up(p5), p4), 1))
        o3 = self.n2(torch.cat((self.up(t4), p3), 1))
        o4 = self.n3(torch.cat((self.d1(o3), t4), 1))
        o5 = self.n4(torch.cat((self.d2(o4), p5), 1))
        b = x.shape[0]
        feats = []
        for i, f in enumerate((o3, o4, o5)):
            y = torch.cat((self.box[i](f), self.cls[i](f)), 1)
            feats.append(y.reshape(b, self.no, -1))
        y = torch.cat(feats, 2)  # (b, no, anchors)
        box, cls = y.split((4 * self.reg_max, self.nc), 1)
        return torch.cat((self.dfl(box), cls.sigmoid()), 1)  # (b, 4 + nc, anchors)


class FlattenByView(nn.Module):
    """MobileNetV2 whose classifier input is flattened with x.reshape(x.size(0), -1): exported
    with a dynamic batch this gives Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        x = self.net.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = x.reshape(x.size(0), -1)
        return self.net.classifier(x)


# ---------------------------------------------------------------------------------------------


def randomize_bn(model, gen):
    """Gives every BatchNorm non-trivial running statistics and affine parameters."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                if m.affine:
                    m.weight.copy_(1.0 + 0.1 * torch.randn(n, generator=gen))
                    m.bias.copy_(0.1 * torch.randn(n, generator=gen))


def tv(name, **kw):
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


# name -> (constructor, input shape for export and reference, opset, dynamic batch, keep BN)
# keep_bn=True exports BatchNormalization nodes as they are (TrainingMode.PRESERVE on an eval
# model); False lets the exporter fold them into the convolutions.
MODELS = {
    "mobilenetv2": (tv("mobilenet_v2"), (1, 3, 224, 224), 13, False, True),
    # Opset 14 so that Hardswish is exported as the HardSwish op (13 has no such op).
    "mobilenetv3_large": (tv("mobilenet_v3_large"), (1, 3, 224, 224), 14, False, True),
    "efficientnet_b0": (tv("efficientnet_b0"), (1, 3, 224, 224), 13, False, True),
    "resnet50": (tv("resnet50"), (1, 3, 224, 224), 13, False, False),
    "yolo_style": (YoloStyle, (1, 3, 320, 320), 13, False, True),
    # Dynamic batch dim; the reference is for batch 2.
    "mobilenetv2_dynamic": (lambda: FlattenByView(torchvision.models.mobilenet_v2(weights=None)),
                            (2, 3, 224, 224), 13, True, False),
}


def script_hash():
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(f"torch={torch.__version__} torchvision={torchvision.__version__} numpy={np.__version__}".encode())
    return h.hexdigest()


def make(name, out_dir, stamp):
    ctor, shape, opset, dynamic, keep_bn = MODELS[name]
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
    torch.manual_seed(seed)
    model = ctor()
    randomize_bn(model, torch.Generator().manual_seed(seed + 1))
    model.eval()

    x = torch.from_numpy(np.random.default_rng(seed + 2).standard_normal(shape, dtype=np.float32))
    onnx_path = os.path.join(out_dir, name + ".onnx")
    tmp_path = onnx_path + ".tmp"
    kwargs = dict(opset_version=opset, do_constant_folding=True, input_names=["input"],
                  output_names=["output"])
    if keep_bn:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    t0 = time.time()
    with torch.no_grad():
        torch.onnx.export(model, x, tmp_path, **kwargs)
    t_export = time.time() - t0

    t0 = time.time()
    with torch.no_grad():
        ref = model.double()(x.double()).numpy()
    t_ref = time.time() - t0

    np.save(os.path.join(out_dir, name + ".input.npy"), x.numpy())
    np.save(os.path.join(out_dir, name + ".torch.npy"), ref)
    os.replace(tmp_path, onnx_path)
    with open(os.path.join(out_dir, name + ".stamp"), "w") as f:
        f.write(stamp + "\n")
    return t_export, t_ref, ref.shape


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, ".models", "zoo"))
    ap.add_argument("--force", action="store_true", help="regenerate even when the stamp matches")
    ap.add_argument("--threads", type=int, default=int(os.environ.get("QUENCH_ZOO_THREADS", "0")),
                    help="torch threads (0: torch's default)")
    ap.add_argument("names", nargs="*", help="models to make (default: all)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    names = args.names or list(MODELS)
    for n in names:
        if n not in MODELS:
            sys.exit(f"model_zoo: unknown model '{n}'; known: {', '.join(MODELS)}")
    os.makedirs(args.out, exist_ok=True)
    stamp = script_hash()
    start = time.time()
    for n in names:
        files = [os.path.join(args.out, n + s) for s in (".onnx", ".input.npy", ".torch.npy")]
        stamp_file = os.path.join(args.out, n + ".stamp")
        if not args.force and all(os.path.exists(f) for f in files) and os.path.exists(stamp_file):
            with open(stamp_file) as f:
                if f.read().strip() == stamp:
                    print(f"model_zoo: {n}: up to date")
                    continue
        t_export, t_ref, out_shape = make(n, args.out, stamp)
        print(f"model_zoo: {n}: export {t_export:.1f} s, float64 reference {t_ref:.1f} s, "
              f"output {list(out_shape)}", flush=True)
    print(f"model_zoo: done in {time.time() - start:.1f} s")


if __name__ == "__main__":
    main()
