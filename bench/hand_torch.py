"""The PyTorch contender: the same networks in eager PyTorch on the CPU, as its documentation writes them.

``nn.Sequential`` of ``nn.Linear``, ``nn.LSTM`` / ``nn.GRU`` (PyTorch's fused CPU kernels),
``nn.Conv2d`` in PyTorch's native NCHW layout, ``torch.optim.Adam`` at the same rate. The
caller pins PyTorch's intra-op threads to the cores JAX uses. PyTorch is an optional benchmark
dependency (``pip install torch==2.13.0``), never one of cellgraph's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from workloads import LEARNING_RATE, Workload


class Recurrent(nn.Module):
    def __init__(self, sizes: tuple[int, ...], kind: str) -> None:
        super().__init__()
        layer = nn.LSTM if kind == "lstm" else nn.GRU
        self.rnn = layer(sizes[0], sizes[1], batch_first=True)
        self.out = nn.Linear(sizes[1], sizes[2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs, _ = self.rnn(x)
        return self.out(hs[:, -1])


class Transformer(nn.Module):
    """PyTorch's own encoder layer (post-norm, ReLU, no dropout) and a classifier per position."""

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        d, heads, ff, classes = sizes
        self.block = nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True, layer_norm_eps=1e-6)
        self.out = nn.Linear(d, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(x)).flatten(0, 1)  # (batch * T, classes), as the loss reads it


def module(w: Workload) -> nn.Module:
    if w.family == "mlp":
        layers: list[nn.Module] = []
        for a, b in zip(w.sizes[:-2], w.sizes[1:-1], strict=True):
            layers += [nn.Linear(a, b), *([nn.LayerNorm(b, eps=1e-6)] if w.layer_norm else []), nn.ReLU()]
            layers += [nn.Dropout(w.dropout)] if w.dropout else []
        return nn.Sequential(*layers, nn.Linear(w.sizes[-2], w.sizes[-1]))
    if w.family in ("lstm", "gru"):
        return Recurrent(w.sizes, w.family)
    if w.family == "transformer":
        return Transformer(w.sizes)

    def norm(layer: type[nn.Module], n: int) -> list[nn.Module]:  # PyTorch's momentum 0.01 is Flax's 0.99
        return [layer(n, eps=1e-5, momentum=0.01)] if w.batch_norm else []

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        *norm(nn.BatchNorm2d, 16),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        *norm(nn.BatchNorm2d, 32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 64),
        *norm(nn.BatchNorm1d, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def build(
    w: Workload, data: list[dict[str, Any]], precision: str = "float32"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(step(i), sync())``: one training step on batch ``i % len(data)``.

    On a CUDA device (when one is visible) the batches live there and ``sync`` waits for it;
    ``bfloat16`` runs the forward pass under ``torch.autocast`` (float32 weights and optimizer).
    """
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = module(w).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)
    loss_fn: nn.Module = nn.CrossEntropyLoss() if w.loss == "xent" else nn.MSELoss()
    low = precision != "float32"
    dtype = getattr(torch, precision)

    def tensors(b: dict[str, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(b["x"]))
        if w.family == "dcn":
            x = x.permute(0, 3, 1, 2).contiguous()  # NHWC -> NCHW, once, before timing
        y = torch.from_numpy(b["y"]).long() if w.loss == "xent" else torch.from_numpy(b["y"])
        y = y.flatten() if w.family == "transformer" else y  # one class per position
        return x.to(device), y.to(device)

    batches = [tensors(b) for b in data]

    def step(i: int) -> None:
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=dtype, enabled=low):
            out = net(x)
        loss = loss_fn(out.float(), y)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step, sync
