#!/usr/bin/env python3
"""Reference safetensors files for tests/unit/test_safetensors.c, written/read by the real
`safetensors` package (pinned 0.3.3 in the reference env).

  st_ref.py gen DIR      files written by safetensors.torch / safetensors.numpy, with the expected
                         F32 value of every tensor in DIR/expected/<file>/<name>.f32 (raw LE float32)
  st_ref.py golden FILE  the writer golden: the tensor set of golden_tensors() via torch save_file
  st_ref.py check FILE   loads FILE (written by lorabert) and checks it equals golden_tensors()
  st_ref.py judge DIR    prints "<file> OK" or "<file> ERR" for every *.safetensors in DIR, by
                         whether safetensors.torch.load_file accepts it
"""
import json, os, sys
import numpy as np
import torch
from safetensors.torch import save_file as torch_save, load_file as torch_load
from safetensors.numpy import save_file as np_save
from safetensors import safe_open


def golden_tensors():
    """Must match golden_outs() in tests/unit/test_safetensors.c exactly."""
    t = {}
    t["b.weight"] = torch.tensor([i * 0.25 - 1.0 for i in range(12)], dtype=torch.float32).reshape(3, 4)
    t["a.bias"] = torch.arange(4, dtype=torch.float32)
    t["emb"] = torch.tensor([0x3C00 + i for i in range(6)], dtype=torch.int16).view(torch.float16).reshape(2, 3)
    t["ids"] = torch.tensor([i * 1000 - 3 for i in range(5)], dtype=torch.int64)
    t["mask"] = torch.tensor([[True, False], [False, True]])
    t["scalar"] = torch.tensor(3.5, dtype=torch.float64)
    t["u"] = torch.tensor([1, 2, 255], dtype=torch.uint8)
    t["h"] = torch.tensor([0x3F80, 0xC000 - 65536], dtype=torch.int16).view(torch.bfloat16)
    t["zz.empty"] = torch.zeros(0, 3, dtype=torch.float32)
    t["i32"] = torch.tensor([-7, 7], dtype=torch.int32)
    return t


def write_expected(d, fname, tensors):
    ed = os.path.join(d, "expected", fname)
    os.makedirs(ed, exist_ok=True)
    for k, v in tensors.items():
        if isinstance(v, np.ndarray):  # numpy's own cast (torch cannot take every numpy dtype)
            f32 = np.ascontiguousarray(v.astype("<f4"))
        else:
            f32 = v.to(torch.float32).contiguous().numpy().astype("<f4")
        with open(os.path.join(ed, k + ".f32"), "wb") as fp:
            fp.write(f32.tobytes())


def gen(d):
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(0)
    f16_special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 3.0e-6, float("inf"), float("-inf"),
                                0.333], dtype=torch.float16)
    mixed = {
        "w.f32": torch.randn(7, 5, generator=g),
        "w.f16": torch.cat([f16_special, torch.randn(64, generator=g).half()]),
        "w.bf16": torch.cat([torch.randn(33, generator=g).bfloat16(), torch.tensor([1e-39, -3e38, float("inf")]).bfloat16()]),
        "w.f64": torch.randn(2, 3, 2, generator=g, dtype=torch.float64),
        "i.i64": torch.tensor([0, -1, 2**40, -(2**31)], dtype=torch.int64),
        "i.i32": torch.tensor([5, -6, 2**31 - 1], dtype=torch.int32),
        "i.i16": torch.tensor([-32768, 32767], dtype=torch.int16),
        "i.i8": torch.tensor([-128, 127, 0], dtype=torch.int8),
        "i.u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
        "b.bool": torch.tensor([True, False, True]),
        "s.scalar": torch.tensor(-1.25),
        "e.empty": torch.zeros(3, 0),
    }
    torch_save(mixed, os.path.join(d, "mixed.safetensors"), metadata={"format": "pt"})
    write_expected(d, "mixed.safetensors", mixed)
    npt = {"x": np.linspace(-1, 1, 10, dtype=np.float32), "y": np.arange(6, dtype=np.uint16).reshape(2, 3),
           "z": np.array([1.5, -2.0], dtype=np.float16), "q": np.array([2**33], dtype=np.uint64)}
    np_save(npt, os.path.join(d, "numpy.safetensors"))
    write_expected(d, "numpy.safetensors", npt)
    # A sharded checkpoint the way transformers lays it out.
    sd = os.path.join(d, "sharded")
    os.makedirs(sd, exist_ok=True)
    shard1 = {"layer.0.weight": torch.randn(4, 4, generator=g), "layer.0.bias": torch.randn(4, generator=g)}
    shard2 = {"layer.1.weight": torch.randn(4, 4, generator=g).half(), "classifier.bias": torch.randn(2, generator=g)}
    names = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
    wm = {}
    for fn, sh in zip(names, [shard1, shard2]):
        torch_save(sh, os.path.join(sd, fn), metadata={"format": "pt"})
        write_expected(d, "sharded", sh)
        wm.update({k: fn for k in sh})
    with open(os.path.join(sd, "model.safetensors.index.json"), "w") as fp:
        json.dump({"metadata": {"total_size": 0}, "weight_map": dict(sorted(wm.items()))}, fp, indent=2)


def check(path):
    want = golden_tensors()
    got = torch_load(path)
    assert set(got) == set(want), (sorted(got), sorted(want))
    for k, v in want.items():
        assert got[k].dtype == v.dtype and got[k].shape == v.shape, (k, got[k].dtype, got[k].shape)
        assert torch.equal(got[k].view(-1).view(torch.uint8) if v.numel() else got[k], v.view(-1).view(torch.uint8)
                           if v.numel() else v), k
    with safe_open(path, "pt") as f:
        assert f.metadata() == {"format": "pt"}, f.metadata()
    print("ok")


if __name__ == "__main__":
    cmd, arg = sys.argv[1], sys.argv[2]
    if cmd == "gen":
        gen(arg)
    elif cmd == "golden":
        torch_save(golden_tensors(), arg, metadata={"format": "pt"})
    elif cmd == "check":
        check(arg)
    elif cmd == "judge":
        for fn in sorted(os.listdir(arg)):
            if fn.endswith(".safetensors"):
                try:
                    torch_load(os.path.join(arg, fn))  # Rust safe_open + torch: every dtype
                    print(fn, "OK")
                except Exception:
                    print(fn, "ERR")
    else:
        sys.exit("unknown command " + cmd)
