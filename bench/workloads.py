"""The training workloads every contender of ``train_bench.py`` runs: one spec, one data set, one batch size.

Each workload is a spec file (what cellgraph compiles) plus the facts the hand-written
contenders need to build the same network by hand. Batches are drawn once, from the spec's own
data where it has some (mushroom, two spirals, the adding problem, the digits) and from random
numbers where only shapes matter (the MNIST-size MLP), and every contender trains on the very
same arrays, in the same order, with Adam at 1e-3.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
LEARNING_RATE = 1e-3
N_BATCHES = 8
"""Distinct batches each contender cycles through (all resident on the device before timing)."""


@dataclass(frozen=True)
class Workload:
    """A network, its batch size and its data, in terms both cellgraph and a hand-written version understand.

    Attributes:
        name: short key (``--only`` selects by it).
        label: what the table shows (the batch size is added).
        spec: the spec file, relative to the repository root.
        family: ``mlp``, ``lstm``, ``gru`` or ``dcn``: which hand-written network to build.
        batch: examples per training step on the CPU.
        gpu_batch: examples per step in the GPU run (``bench/gpu.sh``): large enough to load the card.
        sizes: for ``mlp``: input, hidden..., output widths; for ``lstm``/``gru``: input features,
            hidden cells, outputs; for ``dcn``: unused (the digits net is fixed).
        loss: ``xent`` (softmax cross-entropy on integer labels) or ``mse``.
        params: spec parameter overrides.
        layer_norm: for ``mlp``: each hidden layer's weighted sum is layer-normalised before its ReLU.
        dropout: for ``mlp``: each hidden layer's output is dropped out with this probability.
        batch_norm: for ``dcn``: each convolution's and the dense layer's weighted sum is
            batch-normalised before its ReLU (running statistics kept as model state).
        contenders: the contenders that have a hand-written version of the network (default: all).
    """

    name: str
    label: str
    spec: str
    family: str
    batch: int
    gpu_batch: int
    sizes: tuple[int, ...]
    loss: str
    params: dict[str, Any] = field(default_factory=dict)
    layer_norm: bool = False
    dropout: float = 0.0
    batch_norm: bool = False
    contenders: tuple[str, ...] = ("cellgraph", "jax", "flax", "keras", "torch")

    @property
    def stochastic(self) -> bool:
        """Each step draws random numbers (dropout masks): the contenders give it a fresh key."""
        return self.dropout > 0

    def at(self, batch: int) -> Workload:
        return replace(self, batch=batch)

    @property
    def title(self) -> str:
        return f"{self.label}, batch {self.batch:,}"


MUSHROOM, MNIST, DFF = "specs/examples/mushroom.yaml", "bench/specs/mnist_mlp.yaml", "bench/specs/deep_dff.yaml"
MNIST_DLN = "bench/specs/mnist_mlp_dln.yaml"
TRANSFORMER = "bench/specs/transformer_block.yaml"
TRANSFORMER_STEPS = 32
"""Positions per sequence of the transformer workload."""
WORKLOADS: tuple[Workload, ...] = (
    Workload("mlp128", "MLP 117-64-64-2, mushroom", MUSHROOM, "mlp", 128, 128, (117, 64, 64, 2), "xent"),
    Workload("mlp4096", "MLP 117-64-64-2, mushroom", MUSHROOM, "mlp", 4096, 65536, (117, 64, 64, 2), "xent"),
    Workload("mnist", "MLP 784-512-512-10", MNIST, "mlp", 128, 4096, (784, 512, 512, 10), "xent"),
    Workload(
        "mnist_dln",
        "MLP 784-512-512-10, layer norm + dropout 0.2",
        MNIST_DLN,
        "mlp",
        128,
        4096,
        (784, 512, 512, 10),
        "xent",
        layer_norm=True,
        dropout=0.2,
    ),
    Workload("dff40", "DFF 40 x 32, two spirals", DFF, "mlp", 128, 4096, (2, *([32] * 40), 2), "xent"),
    Workload("lstm", "LSTM 64, T = 100", "bench/specs/lstm_h64.yaml", "lstm", 64, 1024, (2, 64, 1), "mse"),
    Workload("gru", "GRU 64, T = 100", "bench/specs/gru_h64.yaml", "gru", 64, 1024, (2, 64, 1), "mse"),
    Workload("dcn", "DCN digits 8x8", "specs/examples/digits_dcn.yaml", "dcn", 256, 4096, (64, 10), "xent"),
    Workload(
        "dcn_bn",
        "DCN digits 8x8, batch norm",
        "specs/examples/digits_dcn_bn.yaml",
        "dcn",
        256,
        4096,
        (64, 10),
        "xent",
        batch_norm=True,
    ),
    Workload(
        "transformer",
        "Transformer encoder block d 64, 4 heads, T = 32",
        TRANSFORMER,
        "transformer",
        64,
        1024,
        (64, 4, 128, 16),  # model width, heads, feed-forward units, classes
        "xent",
        contenders=("cellgraph", "jax", "torch"),
    ),
)

BY_NAME = {w.name: w for w in WORKLOADS}


def batches(w: Workload, n: int = N_BATCHES, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """``n`` batches ``{"x", "y"}`` of ``w.batch`` examples: float32 inputs, int32 labels or float32 targets.

    Inputs keep the data set's layout: vectors ``(b, features)``, sequences ``(b, time, features)``,
    images ``(b, 8, 8, 1)`` (channels last; the PyTorch contender transposes once, before timing).
    """
    rng = np.random.default_rng(seed)
    if w.spec == TRANSFORMER:  # only shapes matter: random vectors, a random class per position
        x = rng.standard_normal((n * w.batch, TRANSFORMER_STEPS, w.sizes[0]), dtype=np.float32)
        y = rng.integers(0, w.sizes[-1], (n * w.batch, TRANSFORMER_STEPS)).astype(np.int32)
    elif w.spec in (MNIST, MNIST_DLN):
        x = rng.random((n * w.batch, 784), dtype=np.float32)
        y = rng.integers(0, 10, n * w.batch).astype(np.int32)
    else:
        from cellgraph.data import load_dataset
        from cellgraph.spec.compose import load_spec

        spec = load_spec(ROOT / w.spec, w.params)
        data = load_dataset(spec.data, (ROOT / w.spec).parent)
        rows = rng.integers(0, len(data.x_train), n * w.batch)  # with replacement: 4096 x 8 > 5686 rows
        x = np.asarray(data.x_train, np.float32)[rows]
        y = np.asarray(data.y_train)[rows]
        y = y.astype(np.float32 if w.loss == "mse" else np.int32)
    return [{"x": x[i * w.batch : (i + 1) * w.batch], "y": y[i * w.batch : (i + 1) * w.batch]} for i in range(n)]
