#!/usr/bin/python3
"""PyTorch reference side of `npm run bench:knowledge`: knowledge-encoder training throughput.

  /usr/bin/python3 bench/knowledge_torch.py --layers 4 --hidden 256 --heads 4 --inter 1024 \
      --vocab 8000 --p 32 --k 8 --seq 64 [--threads 2] [--iters 3]

One training step = BERT (scripts/fixtures/models_parity.py, the module the parity tests match) →
pooler → Linear→GELU→Linear → L2 norm → AdaSP (τ 0.04, kep-method.md §2, in log space) → backward
→ AdamW (decay 0.2 on ≥2-D weights). Random token ids, full attention masks. Last stdout line: JSON.
"""
import argparse
import json
import os
import statistics
import sys
import time

ap = argparse.ArgumentParser()
for name, default in [("layers", 4), ("hidden", 256), ("heads", 4), ("inter", 1024), ("vocab", 8000),
                      ("p", 32), ("k", 8), ("seq", 64), ("threads", 2), ("iters", 3), ("embed", 512)]:
    ap.add_argument(f"--{name}", type=int, default=default)
ap.add_argument("--pool", choices=["cls", "mean"], default="cls")
args = ap.parse_args()
os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts", "fixtures"))
from models_parity import Bert  # noqa: E402

torch.set_num_threads(args.threads)
torch.manual_seed(0)


def adasp(f, p, k, tau=0.04):
    s = f @ f.t() / tau
    n = p * k
    ident = torch.arange(n) // k
    same = ident[:, None] == ident[None, :]
    big = torch.tensor(1e9)
    r = torch.logsumexp(torch.where(same, -s, -big), 1)  # per anchor: log Σ_j∈k exp(−S_ij)
    r = r.view(p, k)
    hard = -torch.logsumexp(r, 1)
    soft = torch.logsumexp(-r, 1)
    neg = torch.logsumexp(torch.where(same, -big, s).view(p, k * n), 1)
    a, b = (tau * soft).detach(), (tau * hard).detach()
    w = torch.where(b > 0, 2 * a * b / (a + b), torch.zeros_like(b))
    logp = w * hard + (1 - w) * soft
    return F.softplus(neg - logp).mean()


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.bert = Bert(args.vocab, args.hidden, args.layers, args.heads, args.inter, max_pos=args.seq)
        self.head = nn.Sequential(nn.Linear(args.hidden, args.embed), nn.GELU(), nn.Linear(args.embed, args.embed))

    def forward(self, ids, mask):
        hidden, pooled = self.bert(ids, mask)
        if args.pool == "mean":
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1)
        return F.normalize(self.head(pooled), dim=-1)


model = Encoder().train()
decay = [p for p in model.parameters() if p.ndim >= 2]
rest = [p for p in model.parameters() if p.ndim < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.2}, {"params": rest, "weight_decay": 0.0}], lr=1e-4)
n = args.p * args.k
ids = torch.randint(5, args.vocab, (n, args.seq))
mask = torch.ones(n, args.seq, dtype=torch.int64)


def step():
    opt.zero_grad()
    loss = adasp(model(ids, mask), args.p, args.k)
    loss.backward()
    opt.step()
    return loss.item()


step()
times = []
for _ in range(args.iters):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
sec = statistics.median(times)
print(f"torch: {n / sec:.1f} texts/s ({sec:.2f} s/step)", file=sys.stderr)
print(json.dumps({"torch_version": torch.__version__, "threads": args.threads, "texts_s": round(n / sec, 2), "step_s": round(sec, 3)}))
