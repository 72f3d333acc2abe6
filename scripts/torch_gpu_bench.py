#!/usr/bin/env python3
"""PyTorch with cuDNN on the GPU, for scripts/gpu-check.sh: resnet50
inference at batch 64 and a CIFAR ResNet-20 training step at batch 128
(SGD lr 0.1, momentum 0.9, weight decay 1e-4), float32, median ms of 20
runs after 5 warm-up runs. ResNet-20 is written here (option A shortcuts)
so that the script needs nothing but torch and torchvision."""
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class ShortcutA(nn.Module):
    def __init__(self, stride, lo, hi):
        super().__init__()
        self.stride, self.lo, self.hi = stride, lo, hi

    def forward(self, x):
        return F.pad(x[:, :, :: self.stride, :: self.stride], (0, 0, 0, 0, self.lo, self.hi))


class Block(nn.Module):
    def __init__(self, cin, c, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.shortcut = ShortcutA(stride, (c - cin) // 2, c - cin - (c - cin) // 2) if stride != 1 or cin != c else nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


def resnet20():
    layers, cin = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()], 16
    for i, c in enumerate([16, 32, 64]):
        for j in range(3):
            layers.append(Block(cin, c, 2 if i > 0 and j == 0 else 1))
            cin = c
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def timed(fn, reps=20, warm=5):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        ms.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ms)


def main():
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    r50 = torchvision.models.resnet50().to(dev).eval()
    x = torch.randn(64, 3, 224, 224, device=dev)
    with torch.no_grad():
        fwd = timed(lambda: r50(x))
    r20 = resnet20().to(dev).train()
    opt = torch.optim.SGD(r20.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    xs = torch.randn(128, 3, 32, 32, device=dev)
    ys = torch.randint(0, 10, (128,), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(r20(xs), ys).backward()
        opt.step()

    st = timed(step)
    print(f"torch cuDNN fp32 (TF32 off): resnet50 inference b64 {fwd:.2f} ms, resnet20 train step b128 {st:.2f} ms")


if __name__ == "__main__":
    main()
