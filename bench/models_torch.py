#!/usr/bin/python3
"""PyTorch reference side of `npm run bench:models`: patch-embedding throughput at batch 32.

  /usr/bin/python3 bench/models_torch.py [--threads 2] [--iters 3] [--batch 32]

ViT-B/16 is torchvision's VisionTransformer (head removed); CTransPath is the Swin-T-with-conv-stem
module of scripts/fixtures/models_parity.py, which the parity tests check kep against. Both in
eval mode under inference_mode. The last stdout line is one JSON object.
"""
import argparse
import json
import os
import statistics
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, default=2)
parser.add_argument("--iters", type=int, default=3)
parser.add_argument("--batch", type=int, default=32)
args = parser.parse_args()
# Thread pools read these when the libraries load; passive waiting measured fastest here
# (see bench/engine_torch.py).
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "fixtures"))
from models_parity import CTransPath  # noqa: E402

torch.set_num_threads(args.threads)


def measure(model):
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.inference_mode():
        model(x)  # warm-up
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    return args.batch / statistics.median(times)


vit = torchvision.models.vit_b_16(weights=None)
vit.heads = nn.Identity()
result = {"torch_version": torch.__version__, "threads": args.threads, "batch": args.batch}
result["vit_b16_img_s"] = round(measure(vit.eval()), 3)
print(f"ViT-B/16 batch {args.batch}: {result['vit_b16_img_s']} img/s", file=sys.stderr)
result["ctranspath_img_s"] = round(measure(CTransPath().eval()), 3)
print(f"CTransPath batch {args.batch}: {result['ctranspath_img_s']} img/s", file=sys.stderr)
print(json.dumps(result))
