# ruff: noqa: D103, E501
"""celltyper Block vs nn.TransformerEncoderLayer(norm_first=True, batch_first=True): outputs and forward+backward time."""

import time

import torch
from torch import nn

from celltyper.module._transformer import Block

torch.manual_seed(0)
torch.set_num_threads(2)
B, L, D, H = 128, 66, 64, 4  # the model's defaults: batch 128, k = 64 gene tokens + 2, d_model 64, 4 heads
block = Block(D, H, dropout=0.1)
layer = nn.TransformerEncoderLayer(
    D, H, dim_feedforward=4 * D, dropout=0.1, activation="gelu", batch_first=True, norm_first=True
)
mapping = {
    "ln_attention": "norm1",
    "qkv.weight": "self_attn.in_proj_weight",
    "qkv.bias": "self_attn.in_proj_bias",
    "out": "self_attn.out_proj",
    "ln_mlp": "norm2",
    "mlp.0": "linear1",
    "mlp.2": "linear2",
}


def rename(key):
    for old, new in mapping.items():
        if key.startswith(old):
            return new + key[len(old) :]
    raise KeyError(key)


layer.load_state_dict({rename(k): v for k, v in block.state_dict().items()})
print("parameters", sum(p.numel() for p in block.parameters()), sum(p.numel() for p in layer.parameters()))
h = torch.randn(B, L, D)
attend = torch.rand(B, L) > 0.2
attend[:, :2] = True  # padding: some gene tokens masked
block.eval()
layer.eval()
with torch.no_grad():
    a = block(h, attend[:, None, None, :])
    b = layer(h, src_key_padding_mask=~attend)
print(f"eval, same weights: max |Block - TEL| {(a - b).abs().max():.2e}")
block.train()
layer.train()


def step(f):
    x = h.clone().requires_grad_(True)
    f(x).sum().backward()


def best(f, r=30):
    for _ in range(5):
        f()
    ts = []
    for _ in range(r):
        s = time.perf_counter()
        f()
        ts.append(time.perf_counter() - s)
    ts.sort()
    return ts[0] * 1e3, ts[len(ts) // 2] * 1e3


for name, f in [
    ("Block", lambda: step(lambda x: block(x, attend[:, None, None, :]))),
    ("TransformerEncoderLayer", lambda: step(lambda x: layer(x, src_key_padding_mask=~attend))),
]:
    lo, med = best(f)
    print(f"train fwd+bwd {name}: min {lo:.1f} ms, median {med:.1f} ms")
block.eval()
layer.eval()
with torch.no_grad():
    for name, f in [
        ("Block", lambda: block(h, attend[:, None, None, :])),
        ("TransformerEncoderLayer", lambda: layer(h, src_key_padding_mask=~attend)),
    ]:
        lo, med = best(f)
        print(f"eval forward {name}: min {lo:.1f} ms, median {med:.1f} ms")
