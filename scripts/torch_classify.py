#!/usr/bin/python3
"""Writes what examples/classify is checked against, into OUTDIR: a
torchvision resnet50 checkpoint with seeded random weights (resnet50.pth),
two photographs from python3-skimage (chelsea.png, coffee.jpg) and
expected.json: for each photograph torchvision's top-5 class indexes and
probabilities, computed with ResNet50_Weights.IMAGENET1K_V2.transforms().

Usage: /usr/bin/python3 scripts/torch_classify.py OUTDIR
"""
import json
import os
import sys

import torch
import torchvision
from PIL import Image
from skimage import data
from torchvision.models import ResNet50_Weights


def main():
    out = sys.argv[1]
    torch.manual_seed(11)
    model = torchvision.models.resnet50()
    model.eval()
    torch.save(model.state_dict(), os.path.join(out, "resnet50.pth"))
    Image.fromarray(data.chelsea()).save(os.path.join(out, "chelsea.png"))
    Image.fromarray(data.coffee()).save(os.path.join(out, "coffee.jpg"), quality=95)
    transform = ResNet50_Weights.IMAGENET1K_V2.transforms()
    expected = {}
    for name in ("chelsea.png", "coffee.jpg"):
        x = transform(Image.open(os.path.join(out, name)).convert("RGB")).unsqueeze(0)
        with torch.no_grad():
            p = torch.softmax(model(x).double(), dim=1)[0]
        top = torch.topk(p, 5)
        expected[name] = {"index": top.indices.tolist(), "prob": top.values.tolist()}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)


if __name__ == "__main__":
    main()
