"""What an RBM or a DBN learned: its filters, and what it generates (``cellgraph view`` of
`rule: contrastive_divergence` and `rule: greedy_layerwise`).

Left, the **filters**: each hidden unit's weights from the visible units (for a DBN, its first
RBM's), laid out as a ``side x side`` image, blue for negative and red for positive weights on
one shared scale. Right, **samples**: ``n`` Gibbs chains started at random (each unit on with
probability 1/2) and run ``steps`` block Gibbs steps, shown as the visible units' probabilities
``p(v | h)`` of their last step. For a DBN the chains run in its top RBM, whose lower layer is
then carried down through the RBMs below by their mean-field down passes ``σ(h W^T + b)`` to the
data's layer: samples generated from the top, as Hinton, Osindero & Teh (2006) draw them, with the
weights as pre-training left them (the rule keeps a copy: backprop fine-tuning adapts the tied
weights to recognition only, :mod:`cellgraph.train.rules.layerwise`).

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError
from . import trained


def view(
    result: Any, path: str | os.PathLike[str], *, steps: int = 1000, n: int = 40, seed: int = 0, **options: Any
) -> Path:
    """Draw a trained RBM's (or DBN's) filters and Gibbs samples as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a
            `rule: contrastive_divergence` or `rule: greedy_layerwise` spec.
        path: the PNG to write.
        steps: block Gibbs steps of each chain.
        n: chains (samples shown), at most 400.
        seed: the PRNG seed of the chains.

    Returns:
        The path written.

    Raises:
        CellgraphError: not a trained RBM or DBN, a bad ``steps`` or ``n``, or an unknown option.
    """
    import jax
    from matplotlib import style

    from ..compiler.rbm import pairs_of
    from ..figures import _save

    model, params = trained(result, options, view="RBM", takes="steps, n and seed", network="RBM or DBN")
    if not (isinstance(steps, int) and steps >= 1) or not (isinstance(n, int) and 1 <= n <= 400):
        raise CellgraphError(f"steps must be a positive int and n an int in 1..400; got steps={steps!r}, n={n!r}")
    stack = pairs_of(model.graph)
    if not stack:
        raise CellgraphError("the network has no visible -- hidden pair to draw (is it an RBM or a DBN?)")
    biases = _visible_biases(result, params, stack)
    weights = _generative(result, params, stack)
    start = jax.random.bernoulli(jax.random.key(seed), 0.5, (n, stack[-1].n_lower)).astype(np.float32)
    samples = _generate(weights, biases, start, jax.random.key(seed + 1), steps)
    filters = np.asarray(stack[0].weights(params)).T  # (hidden units, visible units)
    spec = model.graph.graph["spec"]
    name = spec.title or spec.name
    where = f"{stack[0].upper}'s weights from {stack[0].lower}" + (" (the first RBM)" if len(stack) > 1 else "")
    drawn = "generated from the top RBM" if len(stack) > 1 else "of the Gibbs chains"
    with style.context("default"):
        fig = _figure_of(filters, np.asarray(samples), where, f"{n} samples {drawn} after {steps} steps", name)
        return _save(fig, path)


def _generate(weights: list[tuple[Any, Any]], biases: list[Any], start: Any, key: Any, steps: int) -> Any:
    """``steps`` Gibbs steps in the top RBM from ``start``, then down the stack: p(data | top)."""
    import jax

    from ..compiler.rbm import hidden_probs, visible_probs
    from ..train.rules.rbm import gibbs

    def run(weights: list[tuple[Any, Any]], biases: list[Any], start: Any, key: Any) -> Any:
        (w, c), b = weights[-1], biases[-1]
        k_chain, k_last = jax.random.split(key)
        last = gibbs(w, b, c, start, k_chain, steps)
        samples = visible_probs(jax.random.bernoulli(k_last, hidden_probs(last, w, c)).astype(last.dtype), w, b)
        for (w_down, _), b_down in zip(reversed(weights[:-1]), reversed(biases[:-1]), strict=True):
            samples = visible_probs(samples, w_down, b_down)
        return samples

    return jax.jit(run)(weights, biases, start, key)


def _visible_biases(result: Any, params: Any, stack: tuple[Any, ...]) -> list[Any]:
    """Each RBM's visible bias: the data layer's is a parameter; a DBN keeps the others in its
    rule state (zeros when the result carries none, as a loaded model does)."""
    import jax.numpy as jnp

    kept = getattr(getattr(result, "state", None), "rule_state", None) or {}
    upper = kept.get("visible_bias", {}) if isinstance(kept, dict) else {}
    return [
        pair.visible_bias(params) if i == 0 else upper.get(pair.lower, jnp.zeros((pair.n_lower,), jnp.float32))
        for i, pair in enumerate(stack)
    ]


def _generative(result: Any, params: Any, stack: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """Each RBM's (matrix, hidden bias) to generate with: a DBN's copy from before fine-tuning
    when its rule state keeps one, else the parameters."""
    kept = getattr(getattr(result, "state", None), "rule_state", None) or {}
    copies = kept.get("generative", {}) if isinstance(kept, dict) and len(stack) > 1 else {}
    return [
        (copies[p.upper]["w"], copies[p.upper]["c"])
        if p.upper in copies
        else (p.weights(params), p.hidden_bias(params))
        for p in stack
    ]


def _side(units: int) -> tuple[int, int]:
    """An image's (rows, cols) for ``units`` values: a square when it is one, else one row."""
    side = math.isqrt(units)
    return (side, side) if side * side == units else (1, units)


def _tiles(values: np.ndarray, cols: int) -> np.ndarray:
    """(count, units) as one picture of ``cols`` tiles a row, NaN between and after them."""
    h, w = _side(values.shape[1])
    rows = -(-len(values) // cols)
    out = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, tile in enumerate(values):
        r, k = divmod(i, cols)
        out[r * (h + 1) : r * (h + 1) + h, k * (w + 1) : k * (w + 1) + w] = tile.reshape(h, w)
    return out


def _figure_of(filters: np.ndarray, samples: np.ndarray, where: str, drawn: str, name: str) -> Any:
    from matplotlib import colormaps

    from ..figures import _figure

    f_cols = math.ceil(math.sqrt(len(filters)))
    s_cols = math.ceil(math.sqrt(len(samples)))
    fig = _figure(11.0, 5.6)
    axes = fig.subplots(1, 2)
    scale = float(np.abs(filters).max()) or 1.0
    diverging = colormaps["RdBu_r"].with_extremes(bad="#bdbdbd")
    image = axes[0].imshow(_tiles(filters, f_cols), cmap=diverging, vmin=-scale, vmax=scale, interpolation="nearest")
    fig.colorbar(image, ax=axes[0], shrink=0.7, label="weight")
    axes[0].set_title(f"filters: {where}", fontsize=9)
    gray = colormaps["gray"].with_extremes(bad="#d9e6f2")
    shown = axes[1].imshow(_tiles(samples, s_cols), cmap=gray, vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(shown, ax=axes[1], shrink=0.7, label="p(unit on)")
    axes[1].set_title(drawn, fontsize=9)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(name, fontsize=11)
    return fig


__all__ = ["view"]
