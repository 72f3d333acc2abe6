#!/usr/bin/python3
"""Writes test photographs and torchvision's preprocessing of each, for the
tests of package imagenet, into OUTDIR:

  *.png, *.jpg              photographs from Debian's python3-skimage
                            (chelsea the cat, coffee, the grey-scale camera)
                            and variants: odd-size JPEGs, a paletted PNG, an
                            RGBA PNG
  reference.safetensors     tensor.<file>: ResNet50_Weights.IMAGENET1K_V2
                            .transforms()(Image.open(file).convert("RGB"))

Usage: /usr/bin/python3 scripts/torch_preprocess.py OUTDIR
"""
import importlib.util
import os
import sys

from PIL import Image
from skimage import data
from torchvision.models import ResNet50_Weights

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("torch_reference", os.path.join(here, "torch_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def main():
    out = sys.argv[1]
    chelsea = Image.fromarray(data.chelsea())  # 451 x 300 RGB
    coffee = Image.fromarray(data.coffee())    # 600 x 400 RGB
    camera = Image.fromarray(data.camera())    # 512 x 512 grey
    images = {
        "chelsea.png": chelsea,
        "coffee.png": coffee,
        "camera.png": camera,
        "chelsea_paletted.png": chelsea.convert("P", palette=Image.ADAPTIVE, colors=200),
        "coffee_rgba.png": coffee.convert("RGBA"),
        "chelsea_small.png": chelsea.resize((97, 61)),  # upscaled by the transform
        "chelsea_odd.jpg": chelsea.crop((3, 5, 304, 238)),  # 301 x 233
        "coffee_tall.jpg": coffee.crop((10, 0, 223, 400)),  # 213 x 400
    }
    transform = ResNet50_Weights.IMAGENET1K_V2.transforms()
    tensors = {}
    for name, img in images.items():
        path = os.path.join(out, name)
        if name.endswith(".jpg"):
            img.save(path, quality=92)
        else:
            img.save(path)
        tensors["tensor." + name] = transform(Image.open(path).convert("RGB"))
    ref.save_safetensors(os.path.join(out, "reference.safetensors"), tensors)


if __name__ == "__main__":
    main()
