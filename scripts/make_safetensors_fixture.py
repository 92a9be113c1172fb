#!/usr/bin/python3
"""Cross-checks kep's safetensors code against an independent Python implementation.

Debian ships no python3-safetensors, so this re-implements the reference writer's layout rules
(huggingface/safetensors `prepare`: tensors sorted by dtype alignment descending then by name, compact
JSON with `__metadata__` first, header space-padded to a multiple of 8) with the standard library, and
takes the tensor bytes, including every float16/bfloat16 rounding, from torch.

  make_safetensors_fixture.py [OUT]   write the fixture read by src/engine/safetensors.test.ts
  make_safetensors_fixture.py --check FILE
                                      validate FILE by the reference's rules, confirm this writer
                                      reproduces it byte for byte, and print its tensors as torch sees them
"""
import json
import math
import struct
import sys
from pathlib import Path

import torch

# The reference's Dtype enum order (FP8 left out); the writer sorts by it, descending.
DTYPES = ["BOOL", "U8", "I8", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
         "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
TORCH = {"BOOL": torch.bool, "U8": torch.uint8, "I8": torch.int8, "I16": torch.int16, "F16": torch.float16,
         "BF16": torch.bfloat16, "I32": torch.int32, "F32": torch.float32, "F64": torch.float64,
         "I64": torch.int64}
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/engine/fixtures/torch-written.safetensors"


def torch_bytes(t):
    t = t.contiguous()
    # numpy has no bfloat16; its bits are the same as int16's.
    return (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()


def serialize(tensors, metadata):
    """tensors: {name: (dtype, shape, bytes)}; metadata: {str: str} or None."""
    ordered = sorted(tensors.items(), key=lambda kv: (-DTYPES.index(kv[1][0]), kv[0].encode("utf-8")))
    parts, offset = [], 0
    if metadata:
        parts.append('"__metadata__":' + json.dumps(metadata, separators=(",", ":"), ensure_ascii=False,
                                                    sort_keys=True))
    for name, (dtype, shape, data) in ordered:
        assert len(data) == math.prod(shape) * SIZES[dtype], name
        info = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        parts.append(json.dumps(name, ensure_ascii=False) + ":" + json.dumps(info, separators=(",", ":")))
        offset += len(data)
    header = ("{" + ",".join(parts) + "}").encode("utf-8")
    header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + b"".join(data for _, (_, _, data) in ordered)


def parse(blob):
    """The reference's read_metadata + validate, strictly."""
    (n,) = struct.unpack("<Q", blob[:8])
    assert 8 + n <= len(blob), "header length past end of file"
    text = blob[8:8 + n].decode("utf-8")
    assert text.startswith("{"), "header must start with {"
    header = json.loads(text)
    metadata = header.pop("__metadata__", None)
    assert metadata is None or all(isinstance(v, str) for v in metadata.values())
    start, tensors = 0, {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, e = info["data_offsets"]
        assert b == start and e >= b, f"bad offsets for {name}"
        assert e - b == math.prod(info["shape"]) * SIZES[info["dtype"]], f"bad size for {name}"
        tensors[name] = (info["dtype"], info["shape"], blob[8 + n + b:8 + n + e])
        start = e
    assert 8 + n + start == len(blob), "data section not fully covered"
    return tensors, metadata


def fixture():
    edge = [0.0, -0.0, 1.0, -2.5, 0.1, 3.1415927, 65504.0, 65519.0, 65520.0, 1e5, -1e5, 6.1e-5, 6.0e-8,
            2.98e-8, 3.0e-8, 1e-10, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8,
            -(1 + 3 * 2 ** -8), 3.4028235e38, 1e-40, -1e-45, math.inf, -math.inf, math.nan]
    gen = torch.Generator().manual_seed(0)
    src = torch.cat([torch.tensor(edge, dtype=torch.float32), torch.randn(24, generator=gen) * 10,
                     torch.rand(8, generator=gen) * 1e-6 - 5e-7])
    f64 = torch.tensor([0.1, 1 / 3, -2.5, 1e-40, 1e300, -1e300, 1e-320, 2.0 ** -150, 16777217.0, math.inf],
                       dtype=torch.float64)
    t = {
        "src": src,
        "src.f16": src.half(),
        "src.bf16": src.bfloat16(),
        "src.f16.as_f32": src.half().float(),
        "src.bf16.as_f32": src.bfloat16().float(),
        "f64": f64,
        "f64.as_f32": f64.float(),
        "i64": torch.tensor([-(2 ** 63), -1, 0, 1, 2 ** 53 + 1, 2 ** 63 - 1], dtype=torch.int64).reshape(2, 3),
        "i32": torch.tensor([-(2 ** 31), -7, 2 ** 31 - 1], dtype=torch.int32),
        "i16": torch.tensor([[-32768, 0], [32767, 12345]], dtype=torch.int16),
        "i8": torch.tensor([-128, -1, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 7, 255], dtype=torch.uint8),
        "bool": torch.tensor([[True, False], [True, True]]),
        "scalar": torch.tensor(3.5, dtype=torch.float32),
        "empty": torch.zeros(2, 0, dtype=torch.float32),
        "0": torch.tensor([42], dtype=torch.int32),
        "é \"quoted\"": torch.tensor([1.5, -1.5], dtype=torch.float16),
    }
    rev = {v: k for k, v in TORCH.items()}
    tensors = {name: (rev[x.dtype], list(x.shape), torch_bytes(x)) for name, x in t.items()}
    return tensors, {"format": "pt", "note": "ünïcode ✓\nline\t\u0001", "10": "integer-like key"}


def check(path):
    blob = Path(path).read_bytes()
    tensors, metadata = parse(blob)
    assert serialize(tensors, metadata) == blob, "file differs from the reference layout"
    print("metadata:", metadata)
    for name, (dtype, shape, data) in tensors.items():
        if dtype in TORCH:
            x = torch.frombuffer(bytearray(data), dtype=TORCH[dtype]) if data else torch.empty(0, dtype=TORCH[dtype])
            print(f"{name!r} {dtype} {shape}: {x.reshape(shape).tolist()}")
        else:
            print(f"{name!r} {dtype} {shape}: raw {data.hex()}")
    print(f"ok: {path} matches the reference layout ({len(blob)} bytes)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        out = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(serialize(*fixture()))
        check(out)
