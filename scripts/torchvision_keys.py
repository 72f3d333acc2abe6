#!/usr/bin/python3
"""Writes the state_dict keys and shapes of torchvision's ResNets, one
"key shape" line each, into frontend/testdata/torchvision/. The frontend
tests compare the IR's parameter names against these files.

Run with Debian's PyTorch (python3-torch, python3-torchvision):
    /usr/bin/python3 scripts/torchvision_keys.py
"""
import os
import torchvision

OUT = os.path.join(os.path.dirname(__file__), "..", "frontend", "testdata", "torchvision")

for name in ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]:
    model = getattr(torchvision.models, name)(weights=None)
    path = os.path.join(OUT, name + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write(f"# torchvision {torchvision.__version__} {name} state_dict: key shape\n")
        for key, t in model.state_dict().items():
            f.write(f"{key} {'x'.join(str(d) for d in t.shape) or 'scalar'}\n")
    os.replace(path + ".tmp", path)
    print(path)
