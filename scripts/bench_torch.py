#!/usr/bin/python3
"""PyTorch's side of bench/compare: a server that loads a model with the Go
model's weights, optionally exports it to ONNX for ONNX Runtime, checks its
outputs and times it, one JSON request per line on stdin, one JSON reply per
line on stdout.

Requests:
  {"op": "load", "model": "resnet50", "weights": PATH, "input": PATH,
   "labels": PATH, "batch": B, "train": false, "onnx": PATH or "",
   "threads": 2}
      builds MODEL (torchvision's resnet18/50, or the CIFAR nets of
      torch_reference.py), loads the safetensors weights the Go model
      saved, reads the input (raw little-endian float32, NCHW) and labels
      (raw int64), exports the eval-mode model to ONNX when asked, and
      replies {"logits": [...]} (eval mode) or {"loss": x} (train mode,
      before any step).
  {"op": "time", "reps": K}
      runs K forward passes (no_grad, eval) or K SGD steps (lr 0.1,
      momentum 0.9, weight decay 1e-4) and replies {"ms": [...]}.

Usage: /usr/bin/python3 scripts/bench_torch.py   (driven by go run ./bench/compare)
Needs Debian's python3-torch and python3-torchvision (PyTorch 1.13).
"""
import importlib.util
import json
import os
import struct
import sys
import time
import warnings

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("torch_reference", os.path.join(here, "torch_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def load_safetensors(path):
    """Reads the F32/I64 safetensors file that the Go model's SaveWeights writes."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base, out = 8 + n, {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "I64": torch.int64}[h["dtype"]]
        lo, hi = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[base + lo : base + hi]), dtype=dtype).reshape(h["shape"])
    return out


class Server:
    def __init__(self):
        self.model = None

    def load(self, req):
        torch.set_num_threads(req.get("threads", 2))
        make, shape, _ = ref.MODELS[req["model"]]
        model = make()
        state = load_safetensors(req["weights"])
        model.load_state_dict(state, strict=True)
        b = req["batch"]
        with open(req["input"], "rb") as f:
            x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32)
        self.x = x.reshape((b,) + shape)
        self.train = req.get("train", False)
        self.model = model
        if self.train:
            with open(req["labels"], "rb") as f:
                self.labels = torch.frombuffer(bytearray(f.read()), dtype=torch.int64)
            model.train()
            self.opt = torch.optim.SGD(model.parameters(), lr=ref.LR, momentum=ref.MOMENTUM, weight_decay=ref.WEIGHT_DECAY)
            # The loss before any step: the forward in train mode updates BN
            # running statistics, so it runs on a copy.
            import copy

            with torch.no_grad():
                loss = F.cross_entropy(copy.deepcopy(model)(self.x), self.labels)
            return {"loss": float(loss)}
        model.eval()
        if req.get("onnx"):
            tmp = req["onnx"] + ".tmp"
            torch.onnx.export(model, self.x, tmp, input_names=["input"], output_names=["logits"], opset_version=13)
            os.replace(tmp, req["onnx"])
        with torch.no_grad():
            return {"logits": model(self.x).flatten().tolist()}

    def time(self, req):
        ms = []
        for _ in range(req["reps"]):
            t0 = time.perf_counter()
            if self.train:
                self.opt.zero_grad(set_to_none=True)
                F.cross_entropy(self.model(self.x), self.labels).backward()
                self.opt.step()
            else:
                with torch.no_grad():
                    self.model(self.x)
            ms.append((time.perf_counter() - t0) * 1e3)
        return {"ms": ms}


def main():
    # torch.onnx's notes on constant folding are about its own export
    # passes, not about the model; they would bury the table.
    warnings.filterwarnings("ignore", category=UserWarning)
    server = Server()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            reply = getattr(server, req["op"])(req)
        except Exception as e:  # the Go side reports it with the request
            reply = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
