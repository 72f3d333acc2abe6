#!/usr/bin/python3
"""Writes PyTorch checkpoints the way torchvision publishes them, for the
tests of resnetc's checkpoint reader (package weights), into OUTDIR:

  resnet18.pth          torch.save(state_dict), zip format
  resnet18_legacy.pth   the same in the legacy (pre-1.6) format
  resnet18_half.pth     float tensors stored as float16
  resnet50.pth          zip format
  reference.safetensors input (2 images), and the eval-mode logits of each
                        checkpoint's model: logits.resnet18,
                        logits.resnet18_half (weights rounded to float16),
                        logits.resnet50

Usage: /usr/bin/python3 scripts/torch_checkpoints.py OUTDIR
"""
import importlib.util
import os
import sys

import torch
import torchvision

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("torch_reference", os.path.join(here, "torch_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def main():
    out = sys.argv[1]
    torch.set_num_threads(2)
    gen = torch.Generator().manual_seed(2024)
    x = torch.randn((2, 3, 224, 224), generator=gen)
    results = {"input": x}
    for name, make in (("resnet18", torchvision.models.resnet18), ("resnet50", torchvision.models.resnet50)):
        torch.manual_seed(7)
        model = make()
        ref.randomize(model, gen)
        model.eval()
        torch.save(model.state_dict(), os.path.join(out, name + ".pth"))
        with torch.no_grad():
            results["logits." + name] = model(x)
        if name == "resnet18":
            torch.save(model.state_dict(), os.path.join(out, name + "_legacy.pth"), _use_new_zipfile_serialization=False)
            half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
            torch.save(half, os.path.join(out, name + "_half.pth"))
            rounded = {k: (v.half().float() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
            model.load_state_dict(rounded)
            with torch.no_grad():
                results["logits.resnet18_half"] = model(x)
    ref.save_safetensors(os.path.join(out, "reference.safetensors"), results)


if __name__ == "__main__":
    main()
