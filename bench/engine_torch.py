#!/usr/bin/python3
# PyTorch reference side of the engine benchmark (a test/benchmark oracle only;
# the kep product never needs Python).
#
# Measures, with a fixed thread count, on Debian's PyTorch (torch 1.13 +
# torchvision, CPU, OpenBLAS via Debian's libblas.so.3 alternative):
#   vit_b16_infer  torchvision vit_b_16(weights=None), eval(), inference_mode,
#                  batch 8 of 3x224x224 random images            -> images/s
#   vit_s16_train  ViT-S/16 (dim 384, depth 12, heads 6, mlp 1536, 16 classes,
#                  dropout 0) training step at batch 16: forward, cross-entropy
#                  on random labels, backward, AdamW(lr=1e-4, wd=0.05) step,
#                  zero_grad                                     -> steps/s, images/s
#   gemm           1024x1024x1024 fp32 torch.mm                  -> GFLOP/s (2n^3/s)
# Each measurement runs warm-up iterations, then timed iterations; it reports
# the median-time throughput (plain keys) and the min-time throughput
# ("*_best" keys).
#
# Run (always with Debian's interpreter, not the pyenv python3 on PATH):
#   /usr/bin/python3 bench/engine_torch.py [--threads 2] [--only vit_b16_infer,gemm]
#       [--iters N | --iters vit_b16_infer=5,vit_s16_train=4,gemm=20]
#       [--warmup N | --warmup name=N,...] [--omp-wait-policy passive|active|inherit]
#       [--clean-blas-env]
# Human-readable lines go to stderr; the LAST line of stdout is one JSON object:
#   {"torch_version", "threads", "blas", "vit_b16_infer_img_s", "vit_s16_train_steps_s",
#    "vit_s16_train_img_s", "gemm_gflops", ...}  (only the measured keys, plus "*_best"
#   and a few descriptive fields).
# Defaults take about 75-80 s on an idle 2-core Zen machine (ViT-B batch-8 forward ~4.4 s,
# ViT-S train step ~7.2 s at 2 threads); the machine is shared, so expect noise.
#
# Configuration notes (measured on the 2-vCPU AMD EPYC (Zen 1) machine, torch 1.13.1):
# - BLAS is OpenBLAS 0.3.21, OpenMP build (libopenblas0-openmp, the selected
#   libblas.so.3 alternative), DYNAMIC_ARCH picks the Zen kernels. ~68 GFLOP/s at 2 threads
#   for 1024^3 sgemm; oneDNN's fp32 matmul (mkldnn_linear) is no faster (~65), and torch
#   1.13 routes fp32 Linear/mm/bmm to BLAS anyway. Both models run at ~90% of the sgemm
#   rate, so there is little left to gain from configuration.
# - torch.backends.mkldnn (on by default; only the patch-embedding conv uses it),
#   channels_last, torch.jit.trace+freeze and optimize_for_inference: no measurable gain,
#   so the plain eager models are used.
# - OMP_NUM_THREADS / OPENBLAS_NUM_THREADS are set to --threads before torch is imported
#   (libgomp and OpenBLAS read them when they load); without them torch 1.13 here defaults
#   to 1 thread.
# - OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: kept as inherited unless --clean-blas-env.
#   OpenBLAS 0.3.21 does not read OPENBLAS_L2_SIZE at all; OPENBLAS_CORETYPE=Haswell or Zen
#   gives the same speed as auto-detection (Zen) on this machine; older core types are
#   much slower (Sandybridge ~47, Prescott ~28 GFLOP/s). The values in effect and the
#   core OpenBLAS chose are recorded in the JSON.
# - OMP_WAIT_POLICY=PASSIVE (default here, --omp-wait-policy): on an idle machine it is as
#   fast as libgomp's default spin-then-sleep (ViT-B 1.79-1.81 vs 1.74-1.77 img/s), and with
#   one busy competing thread it is ~20-25% faster (ViT-B ~0.90 vs ~0.71 img/s): attention
#   bmm runs 96 small per-head OpenBLAS calls, each its own OpenMP region, which suffer
#   badly when one of the two threads is descheduled.

import argparse
import os
import sys

MEASUREMENTS = ("vit_b16_infer", "vit_s16_train", "gemm")
DEFAULT_WARMUP = {"vit_b16_infer": 1, "vit_s16_train": 2, "gemm": 3}
DEFAULT_ITERS = {"vit_b16_infer": 5, "vit_s16_train": 4, "gemm": 20}
BLAS_ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
DEBIAN_PYTHON = "/usr/bin/python3"
DEFAULT_WAIT_POLICY = "passive"


def per_measurement(text, defaults, flag):
    """Parse "N" (all measurements) or "name=N,name=N" into a dict."""
    out = dict(defaults)
    if text is None:
        return out
    text = text.strip()
    if text.isdigit():
        return {k: int(text) for k in out}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in out or not value.strip().isdigit():
            raise SystemExit(f"bad {flag} entry {part!r}; use N or name=N with name in {', '.join(MEASUREMENTS)}")
        out[name] = int(value)
    return out


def parse_args(argv):
    p = argparse.ArgumentParser(description="PyTorch reference throughput for the kep engine benchmark")
    p.add_argument("--threads", type=int, default=2, help="intra-op / OpenMP / OpenBLAS threads (default 2)")
    p.add_argument("--only", default=",".join(MEASUREMENTS),
                   help=f"comma-separated subset of {','.join(MEASUREMENTS)}")
    p.add_argument("--iters", default=None,
                   help="timed iterations: N for all, or name=N,... "
                        f"(defaults {','.join(f'{k}={v}' for k, v in DEFAULT_ITERS.items())})")
    p.add_argument("--warmup", default=None,
                   help="warm-up iterations: N for all, or name=N,... "
                        f"(defaults {','.join(f'{k}={v}' for k, v in DEFAULT_WARMUP.items())})")
    p.add_argument("--omp-wait-policy", choices=("passive", "active", "inherit"), default=DEFAULT_WAIT_POLICY,
                   help="OMP_WAIT_POLICY for libgomp (torch and OpenBLAS threads); 'inherit' keeps the "
                        f"caller's environment (default {DEFAULT_WAIT_POLICY})")
    p.add_argument("--clean-blas-env", action="store_true",
                   help=f"unset {', '.join(BLAS_ENV_VARS)} before loading torch/OpenBLAS")
    a = p.parse_args(argv)
    if a.threads < 1:
        raise SystemExit("--threads must be >= 1")
    a.only = [s.strip() for s in a.only.split(",") if s.strip()]
    for name in a.only:
        if name not in MEASUREMENTS:
            raise SystemExit(f"unknown measurement {name!r}; choose from {', '.join(MEASUREMENTS)}")
    a.iters = per_measurement(a.iters, DEFAULT_ITERS, "--iters")
    a.warmup = per_measurement(a.warmup, DEFAULT_WARMUP, "--warmup")
    if any(a.iters[n] < 1 for n in a.only):
        raise SystemExit("--iters must be >= 1")
    return a


ARGS = parse_args(sys.argv[1:])

# Thread/BLAS environment must be in place before libgomp and OpenBLAS are loaded
# (they read it in their load-time initialisers), i.e. before `import torch`.
INHERITED_BLAS_ENV = {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ}
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)
if ARGS.omp_wait_policy != "inherit":
    os.environ["OMP_WAIT_POLICY"] = ARGS.omp_wait_policy.upper()
if ARGS.clean_blas_env:
    for _var in BLAS_ENV_VARS:
        os.environ.pop(_var, None)

try:
    import torch
except ImportError:
    # Probably started with the pyenv python3; Debian's torch lives under /usr/bin/python3.
    if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON) \
            and not os.environ.get("KEP_ENGINE_TORCH_REEXEC"):
        os.environ["KEP_ENGINE_TORCH_REEXEC"] = "1"
        os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON, os.path.abspath(__file__)] + sys.argv[1:])
    raise

import ctypes  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def blas_info():
    """Describe the BLAS actually mapped into this process (torch reports BLAS_INFO=generic)."""
    libs = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                base = os.path.basename(path)
                if (base.startswith("libblas.so") or base.startswith("libopenblas") or base.startswith("libblis")
                        or base.startswith("libmkl_rt")) and path not in libs:
                    libs.append(path)
    except OSError:
        pass
    info = {"libs": libs, "config": None, "core": None, "num_threads": None}
    openblas = next((p for p in libs if os.path.basename(p).startswith("libopenblas")), None)
    if openblas is None:
        openblas = next((p for p in libs if os.path.basename(p).startswith("libblas.so")), None)
    if openblas:
        try:
            lib = ctypes.CDLL(openblas)  # already loaded: same handle, no second copy
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            info["config"] = lib.openblas_get_config().decode()
            info["core"] = lib.openblas_get_corename().decode()
            info["num_threads"] = lib.openblas_get_num_threads()
        except (OSError, AttributeError):
            pass
    if info["config"]:
        parts = info["config"].split()
        flavour = "openmp" if "USE_OPENMP" in parts else "pthreads"
        info["summary"] = f"{parts[0]} {parts[1]} ({flavour}, core {info['core']})"
    elif libs:
        info["summary"] = ", ".join(os.path.realpath(p) for p in libs)
    else:
        info["summary"] = "unknown"
    return info


def cpu_busy_seconds():
    """Machine-wide busy CPU seconds (all processes, all containers) from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def process_cpu_seconds():
    t = os.times()
    return t.user + t.system


def timed(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def fmt_times(times):
    return ", ".join(f"{t:.3f}" for t in times)


def bench_vit_b16_infer(warmup, iters):
    import torchvision

    batch = 8
    torch.manual_seed(0)
    model = torchvision.models.vit_b_16(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    with torch.inference_mode():
        out = model(x)
        assert out.shape == (batch, 1000) and bool(torch.isfinite(out).all()), "vit_b16 output not finite"
        times = timed(lambda: model(x), warmup, iters)
    med, best = statistics.median(times), min(times)
    log(f"vit_b16_infer  batch {batch}: median {med:.3f} s ({batch / med:.3f} img/s), "
        f"best {best:.3f} s ({batch / best:.3f} img/s)  [times {fmt_times(times)}]")
    return {"vit_b16_infer_img_s": batch / med, "vit_b16_infer_img_s_best": batch / best}


def bench_vit_s16_train(warmup, iters):
    from torchvision.models.vision_transformer import VisionTransformer

    batch, classes = 16, 16
    torch.manual_seed(0)
    model = VisionTransformer(image_size=224, patch_size=16, num_layers=12, num_heads=6, hidden_dim=384,
                              mlp_dim=1536, num_classes=classes, dropout=0.0, attention_dropout=0.0).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(0, classes, (batch,))
    losses = []

    def step():
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())

    times = timed(step, warmup, iters)
    assert all(map(lambda v: v == v and abs(v) != float("inf"), losses)), f"non-finite loss {losses}"
    med, best = statistics.median(times), min(times)
    log(f"vit_s16_train  batch {batch}: median {med:.3f} s/step ({1 / med:.4f} steps/s, {batch / med:.3f} img/s), "
        f"best {best:.3f} s ({1 / best:.4f} steps/s)  [times {fmt_times(times)}; "
        f"loss {losses[0]:.3f} -> {losses[-1]:.3f}]")
    return {"vit_s16_train_steps_s": 1 / med, "vit_s16_train_img_s": batch / med,
            "vit_s16_train_steps_s_best": 1 / best, "vit_s16_train_img_s_best": batch / best}


def bench_gemm(warmup, iters):
    n = 1024
    torch.manual_seed(0)
    a = torch.randn(n, n)
    b = torch.randn(n, n)
    c = torch.empty(n, n)
    times = timed(lambda: torch.mm(a, b, out=c), warmup, iters)
    # Sanity check against a float64 product (catches a broken BLAS core selection).
    ref = torch.mm(a.double(), b.double())
    rel = ((c.double() - ref).abs().max() / ref.abs().max()).item()
    assert rel < 1e-4, f"gemm result wrong: max relative error {rel:g}"
    flops = 2.0 * n ** 3
    med, best = statistics.median(times), min(times)
    log(f"gemm           {n}^3 fp32: median {med * 1e3:.2f} ms ({flops / med / 1e9:.1f} GFLOP/s), "
        f"best {best * 1e3:.2f} ms ({flops / best / 1e9:.1f} GFLOP/s)  [max rel err vs fp64 {rel:.2e}]")
    return {"gemm_gflops": flops / med / 1e9, "gemm_gflops_best": flops / best / 1e9}


BENCHES = {"vit_b16_infer": bench_vit_b16_infer, "vit_s16_train": bench_vit_s16_train, "gemm": bench_gemm}


def main():
    torch.set_num_threads(ARGS.threads)
    blas = blas_info()
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"mkldnn {torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled}, "
        f"BLAS {blas['summary']} [{blas['config']}; libs {', '.join(blas['libs'])}; "
        f"openblas threads {blas['num_threads']}]")
    log(f"BLAS env inherited {INHERITED_BLAS_ENV or '{}'}"
        f"{' (removed: --clean-blas-env)' if ARGS.clean_blas_env and INHERITED_BLAS_ENV else ''}")
    result = {
        "torch_version": torch.__version__,
        "threads": ARGS.threads,
        "blas": blas["summary"],
        "blas_env": {k: os.environ[k] for k in BLAS_ENV_VARS if k in os.environ},
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
    }
    t_start, busy_start, own_start = time.perf_counter(), cpu_busy_seconds(), process_cpu_seconds()
    for name in MEASUREMENTS:
        if name in ARGS.only:
            result.update(BENCHES[name](ARGS.warmup[name], ARGS.iters[name]))
    wall = time.perf_counter() - t_start
    busy_end = cpu_busy_seconds()
    if busy_start is not None and busy_end is not None and wall > 0:
        # CPU used by everything else on the machine while we ran, in CPUs (noise indicator;
        # 0 on an otherwise idle machine, up to the core count when fully contended).
        others = max(0.0, (busy_end - busy_start) - (process_cpu_seconds() - own_start)) / wall
        result["other_cpu_load"] = others
    log(f"total {wall:.1f} s; CPU used by other processes meanwhile: "
        f"{result.get('other_cpu_load', float('nan')):.2f} of {os.cpu_count()} CPUs")
    for k, v in result.items():
        if isinstance(v, float):
            result[k] = round(v, 4)
    sys.stdout.flush()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
