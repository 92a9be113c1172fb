#!/usr/bin/python3
"""PyTorch reference side of `npm run bench:int8`: fp32 and dynamic int8 throughput.

  /usr/bin/python3 bench/int8_torch.py [--threads 2] [--iters 3] [--batch 32] [--seq 64]

fp32: torchvision's ViT-B/16 (head removed), the CTransPath and BERT-base modules of
scripts/fixtures/models_parity.py (the ones the parity tests check kep against), eval mode under
inference_mode, as bench/models_torch.py. int8: the same modules through
torch.ao.quantization.quantize_dynamic on nn.Linear (qint8 weights, activations quantised per
batch at run time), PyTorch's default quantised engine. torchvision's attention keeps its q/k/v
and output projections in fp32 under quantize_dynamic (they are not nn.Linear modules), so ViT-B/16
is also measured as a timm-style model (engine_parity's VitBlock: qkv, proj, fc1, fc2 all
nn.Linear); the faster of the two is the int8 reference. The last stdout line is one JSON object.
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
parser.add_argument("--seq", type=int, default=64)
args = parser.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "fixtures"))
from engine_parity import VitBlock  # noqa: E402
from models_parity import Bert, CTransPath  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)


class TimmVit(nn.Module):
    """timm's ViT-B/16 layout: every projection an nn.Linear."""

    def __init__(self, dim=768, depth=12, heads=12, mlp=3072):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 16, 16)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, 197, dim))
        self.blocks = nn.ModuleList([VitBlock(dim, heads, mlp, 1e-6) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for b in self.blocks:
            x = b(x)
        return self.norm(x)[:, 0]


def measure(model, *inputs):
    with torch.inference_mode():
        model(*inputs)  # warm-up
        times = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            model(*inputs)
            times.append(time.perf_counter() - t0)
    return args.batch / statistics.median(times)


def int8(model):
    return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


def report(key, value, unit):
    result[key] = round(value, 3)
    print(f"torch {key}: {result[key]} {unit}", file=sys.stderr)


result = {"torch_version": torch.__version__, "quantized_engine": torch.backends.quantized.engine}
images = torch.randn(args.batch, 3, 224, 224)
vit = torchvision.models.vit_b_16(weights=None)
vit.heads = nn.Identity()
vit.eval()
report("torch_vit_b16_img_s", measure(vit, images), "img/s")
report("torch_vit_b16_int8_img_s", measure(int8(vit), images), "img/s")
report("torch_vit_b16_timm_int8_img_s", measure(int8(TimmVit().eval()), images), "img/s")
ctp = CTransPath().eval()
report("torch_ctranspath_img_s", measure(ctp, images), "img/s")
report("torch_ctranspath_int8_img_s", measure(int8(ctp), images), "img/s")
bert = Bert(vocab=30522, hidden=768, layers=12, heads=12, inter=3072).eval()
ids = torch.randint(5, 30522, (args.batch, args.seq))
mask = torch.ones(args.batch, args.seq, dtype=torch.int64)
report("torch_bert_texts_s", measure(bert, ids, mask), "texts/s")
report("torch_bert_int8_texts_s", measure(int8(bert), ids, mask), "texts/s")
print(json.dumps(result))
