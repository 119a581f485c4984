"""The Keras 3 contender (JAX backend): the workload's network as a Keras user builds and trains it.

``keras.Sequential`` layers, ``model.compile`` with Adam at the benchmark's rate, and
``model.train_on_batch`` per step -- Keras's own jitted train function, with what Keras does
around it (it returns the batch's loss as a number, so every step ends in a device sync: that is
the cost a Keras user meets). Mixed precision through Keras's ``mixed_bfloat16`` policy.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # after KERAS_BACKEND is set
from workloads import LEARNING_RATE, Workload


def network(
    family: str,
    sizes: tuple[int, ...],
    softmax: bool = False,
    layer_norm: bool = False,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> keras.Model:
    """The workload's network; ``softmax`` puts the classifier's softmax in the model (a Keras
    user's usual ``sparse_categorical_crossentropy`` on probabilities) rather than in the loss."""
    if family == "mlp" and (layer_norm or dropout):
        hidden = []
        for n in sizes[1:-1]:
            hidden.append(keras.layers.Dense(n))
            hidden += [keras.layers.LayerNormalization(epsilon=1e-6)] if layer_norm else []
            hidden.append(keras.layers.Activation("relu"))
            hidden += [keras.layers.Dropout(dropout)] if dropout else []
        out = keras.layers.Dense(sizes[-1], activation="softmax" if softmax else None)
        return keras.Sequential([keras.Input((sizes[0],)), *hidden, out])
    if family == "mlp":
        hidden = [keras.layers.Dense(n, activation="relu") for n in sizes[1:-1]]
        out = keras.layers.Dense(sizes[-1], activation="softmax" if softmax else None)
        return keras.Sequential([keras.Input((sizes[0],)), *hidden, out])
    if family in ("lstm", "gru"):
        layer = keras.layers.LSTM if family == "lstm" else keras.layers.GRU
        return keras.Sequential([keras.Input((None, sizes[0])), layer(sizes[1]), keras.layers.Dense(sizes[2])])
    if batch_norm:

        def normed(layer: Any) -> list[Any]:
            bn = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-5)
            return [layer, bn, keras.layers.Activation("relu")]

        return keras.Sequential(
            [
                keras.Input((8, 8, 1)),
                *normed(keras.layers.Conv2D(16, 3, padding="same")),
                keras.layers.MaxPooling2D(2),
                *normed(keras.layers.Conv2D(32, 3, padding="same")),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                *normed(keras.layers.Dense(64)),
                keras.layers.Dense(10, activation="softmax" if softmax else None),
            ]
        )
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation="softmax" if softmax else None),
        ]
    )


def build(
    w: Workload, data: list[dict[str, Any]], precision: str = "float32"
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(step(i), sync())``: ``train_on_batch`` on batch ``i % len(data)``; ``sync`` has nothing
    left to wait for (each step already returned its loss)."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    keras.utils.set_random_seed(0)
    model = network(w.family, w.sizes, layer_norm=w.layer_norm, dropout=w.dropout, batch_norm=w.batch_norm)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True) if w.loss == "xent" else "mse"
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=loss)
    batches = [(b["x"], b["y"]) for b in data]

    def step(i: int) -> None:
        x, y = batches[i % len(batches)]
        model.train_on_batch(x, y)

    def sync() -> None:
        pass

    return step, sync
