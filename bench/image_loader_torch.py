#!/usr/bin/python3
"""Reference for bench/image-loader.ts: torch's DataLoader (worker processes) with the torchvision
evaluation transform CLIP-style towers use — Resize(224, bicubic), CenterCrop(224), ToTensor,
Normalize(OpenAI CLIP mean/std) — over the same JPEG files, batch and worker count. Loading only.

Run by the benchmark: /usr/bin/python3 bench/image_loader_torch.py --dir D --batch 16 --workers 2 --rounds 3
Prints the median seconds of one pass over the files as JSON on its last line.
"""
import argparse
import json
import os
import statistics
import time

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

p = argparse.ArgumentParser()
p.add_argument("--dir", required=True)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--workers", type=int, default=2)
p.add_argument("--rounds", type=int, default=3)
args = p.parse_args()
torch.set_num_threads(1)

tf = transforms.Compose(
    [
        transforms.Resize(224, interpolation=transforms.InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
        transforms.ToTensor(),
        transforms.Normalize((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)),
    ]
)


class Files(Dataset):
    def __init__(self, paths):
        self.paths = paths

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return tf(Image.open(self.paths[i]).convert("RGB"))


paths = sorted(os.path.join(args.dir, f) for f in os.listdir(args.dir) if f.endswith(".jpg"))
loader = DataLoader(
    Files(paths), batch_size=args.batch, num_workers=args.workers, persistent_workers=args.workers > 0
)
for _ in loader:  # start the workers
    break
times = []
for _ in range(args.rounds):
    t0 = time.perf_counter()
    n = sum(b.shape[0] for b in loader)
    times.append(time.perf_counter() - t0)
assert n == len(paths)
print(json.dumps({"torch_version": torch.__version__, "images": n, "load_s": round(statistics.median(times), 3)}))
