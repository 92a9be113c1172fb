#!/usr/bin/python3
"""PyTorch reference side of `npm run bench:vlp`: KEP (S2) training throughput.

  /usr/bin/python3 bench/vlp_torch.py --batch 32 --seq 64 [--threads 2] [--iters 2] [--size 224]

One step = ViT-B/16 (torchvision's VisionTransformer, the module the parity tests match; class-token
features) → Linear→GELU→Linear image head; BERT-base (scripts/fixtures/models_parity.py) → pooler →
Linear→GELU→Linear text head; a frozen copy of the text tower as the knowledge tower; L2 norms; KEP's
loss (L_it + 0.3·L_tk)/1.3 with one learnable scale (kep-method.md §3) → backward → AdamW (0.9, 0.98,
eps 1e-6, decay 0.2 on ≥2-D weights). Random pixels and token ids, full masks. Last stdout line: JSON.
"""
import argparse
import copy
import json
import math
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser()
for name, default in [("batch", 32), ("seq", 64), ("threads", 2), ("iters", 2), ("size", 224)]:
    ap.add_argument(f"--{name}", type=int, default=default)
args = ap.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import torchvision  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "fixtures"))
from models_parity import Bert  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def head(d):
    return nn.Sequential(nn.Linear(d, 512), nn.GELU(), nn.Linear(512, 512))


class Text(nn.Module):
    def __init__(self):
        super().__init__()
        self.bert = Bert(30522, 768, 12, 12, 3072, max_pos=args.seq)
        self.head = head(768)

    def forward(self, ids, mask):
        return F.normalize(self.head(self.bert(ids, mask)[1]), dim=-1)


class Kep(nn.Module):
    def __init__(self):
        super().__init__()
        self.visual = torchvision.models.VisionTransformer(image_size=args.size, patch_size=16, num_layers=12,
                                                          num_heads=12, hidden_dim=768, mlp_dim=3072)
        self.visual.heads = nn.Identity()
        self.visual_head = head(768)
        self.text = Text()
        self.knowledge = copy.deepcopy(self.text).requires_grad_(False)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(25.0)))


def clip_loss(a, b, s):
    logits = s * a @ b.t()
    labels = torch.arange(a.shape[0])
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels))


model = Kep().train()
trainable = [p for p in model.parameters() if p.requires_grad]
decay = [p for p in trainable if p.ndim >= 2]
rest = [p for p in trainable if p.ndim < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}],
                        lr=1e-5, betas=(0.9, 0.98), eps=1e-6)
pixels = torch.randn(args.batch, 3, args.size, args.size)
ids = torch.randint(5, 30522, (args.batch, args.seq))
mask = torch.ones(args.batch, args.seq, dtype=torch.int64)


def step():
    opt.zero_grad()
    s = model.logit_scale.exp()
    image = F.normalize(model.visual_head(model.visual(pixels)), dim=-1)
    text = model.text(ids, mask)
    with torch.no_grad():
        knowledge = model.knowledge(ids, mask)
    loss = (clip_loss(image, text, s) + 0.3 * clip_loss(text, knowledge, s)) / 1.3
    loss.backward()
    opt.step()
    with torch.no_grad():
        model.logit_scale.clamp_(max=math.log(100))
    return loss.item()


step()
times = []
for _ in range(args.iters):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
sec = statistics.median(times)
print(f"torch: {args.batch / sec:.2f} pairs/s ({sec:.1f} s/step)", file=sys.stderr)
print(json.dumps({"torch_version": torch.__version__, "threads": args.threads, "pairs_s": round(args.batch / sec, 3),
                  "step_s": round(sec, 2)}))
