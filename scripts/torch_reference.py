#!/usr/bin/python3
"""Writes PyTorch reference results for resnetc's comparison tests.

For torchvision's resnet18 and resnet50 and the CIFAR ResNet-20 and -56
with option A shortcuts and plain-20 and -56 (written here in torch, with
the names of specs/cifar_resnet.rn and specs/cifar_plain.rn),
with seeded random weights and random BN statistics, it writes to OUTDIR:

  MODEL.weights.safetensors   the state_dict the Go model loads
  MODEL_bB.safetensors        for batch B in 1 and 4 (and those of
                              LARGER_BATCHES): input, labels,
                              logits_eval (eval mode), logits_train (train
                              mode), loss, grad.NAME for every parameter
                              after one cross-entropy backward, and
                              after.KEY for every state_dict entry after one
                              SGD step (lr 0.1, momentum 0.9, weight decay
                              1e-4), BN running statistics included; and
                              floor.NAME for each float result: how much it
                              moves in PyTorch itself when the input moves
                              by 1e-6 (relative), the most of three tries.
                              ReLU and max pooling make gradients jump
                              where a value lies within rounding of a kink,
                              so two float32 implementations can only agree
                              to about this floor.

Usage: /usr/bin/python3 scripts/torch_reference.py OUTDIR [MODEL...]
Needs Debian's python3-torch and python3-torchvision (PyTorch 1.13).
"""
import copy
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

LR, MOMENTUM, WEIGHT_DECAY = 0.1, 0.9, 1e-4


def save_safetensors(path, tensors):
    """Writes an ordered dict of tensors in the safetensors format."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - (len(raw) + 8) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


class ShortcutA(nn.Module):
    """Option A: x[:, :, ::s, ::s] with zero channels split before and after."""

    def __init__(self, stride, lo, hi):
        super().__init__()
        self.stride, self.lo, self.hi = stride, lo, hi

    def forward(self, x):
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.lo, self.hi))


class BasicBlock(nn.Module):
    def __init__(self, cin, c, stride, plain):
        super().__init__()
        self.plain = plain
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = None
        if stride != 1 or cin != c:
            pad = c - cin
            self.shortcut = ShortcutA(stride, pad // 2, pad - pad // 2)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.plain:
            return F.relu(out)
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class CifarResNet(nn.Module):
    """He et al. 2016, section 4.2: 6n+2 layers, option A shortcuts, or
    none for the plain nets."""

    def __init__(self, n=3, classes=10, plain=False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for i, c in enumerate([16, 32, 64]):
            blocks = []
            for j in range(n):
                blocks.append(BasicBlock(cin, c, 2 if i > 0 and j == 0 else 1, plain))
                cin = c
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


MODELS = {
    "resnet18": (lambda: torchvision.models.resnet18(), (3, 224, 224), 1000),
    "resnet50": (lambda: torchvision.models.resnet50(), (3, 224, 224), 1000),
    "resnet20": (lambda: CifarResNet(3), (3, 32, 32), 10),
    "resnet56": (lambda: CifarResNet(9), (3, 32, 32), 10),
    "plain20": (lambda: CifarResNet(3, plain=True), (3, 32, 32), 10),
    "plain56": (lambda: CifarResNet(9, plain=True), (3, 32, 32), 10),
}


def randomize(model, gen):
    """Random BN affine parameters and running statistics, so that eval mode
    and the running-statistics update are tested on non-trivial values."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
                m.num_batches_tracked.fill_(3)


JITTERS = 3


def relerr(a, b):
    """||a - b|| / ||b||, or ||a - b|| when b is zero, in float64."""
    a, b = a.double(), b.double()
    den = b.norm().item()
    num = (a - b).norm().item()
    return num / den if den > 0 else num


def reference(model, x, labels):
    """Eval and train results of a copy of model on x."""
    out = {}
    m = copy.deepcopy(model)
    m.eval()
    with torch.no_grad():
        out["logits_eval"] = m(x)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    opt.zero_grad()
    loss.backward()
    out["logits_train"] = logits
    out["loss"] = loss.reshape(())
    for pname, p in m.named_parameters():
        out["grad." + pname] = p.grad
    opt.step()
    for key, t in m.state_dict().items():
        out["after." + key] = t
    return {k: v.detach() for k, v in out.items()}


# LARGER_BATCHES are the models also compared at larger batches: resnetc
# takes a Winograd conv's input gradient by F(4x4, 3x3) only where the
# batch has 512 4x4 tiles or more (nn.ConvDims.gradInputFor), which
# ResNet-20's first stage (32x32) reaches at 16 images and not at 4; and
# its forward pass from 32 channels on by F(4x4, 3x3) by the same rule
# (nn.ConvDims.trainFor), which the 16x16 and 8x8 stages reach at 128.
# resnet18's 512-channel 7x7 convs go by F(4x4, 3x3) in eval mode from 6
# images on (their nn.ConvDims.Winograd4From), by F(2x2, 3x3) below.
LARGER_BATCHES = {"resnet20": (16, 128), "resnet18": (6,)}


def main():
    outdir = sys.argv[1]
    names = sys.argv[2:] or list(MODELS)
    torch.set_num_threads(2)
    for seed, name in enumerate(names):
        make, shape, classes = MODELS[name]
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(1000 + seed)
        model = make()
        randomize(model, gen)
        save_safetensors(os.path.join(outdir, name + ".weights.safetensors"), model.state_dict())
        for batch in (1, 4) + LARGER_BATCHES.get(name, ()):
            x = torch.randn((batch,) + shape, generator=gen)
            labels = torch.randint(0, classes, (batch,), generator=gen)
            out = {"input": x, "labels": labels}
            base = reference(model, x, labels)
            out.update(base)
            # The floor: how much PyTorch's own float32 results move when the
            # input moves by 1e-6 (relative), the most over three tries.
            floor = {k: 0.0 for k in base}
            for _ in range(JITTERS):
                jittered = reference(model, x * (1 + 1e-6 * torch.randn(x.shape, generator=gen)), labels)
                for k, v in jittered.items():
                    if v.dtype == torch.float32:
                        floor[k] = max(floor[k], relerr(v, base[k]))
            for k, v in floor.items():
                if base[k].dtype == torch.float32:
                    out["floor." + k] = torch.tensor(v, dtype=torch.float32)
            save_safetensors(os.path.join(outdir, "%s_b%d.safetensors" % (name, batch)), out)
        print(name, file=sys.stderr)


if __name__ == "__main__":
    main()
