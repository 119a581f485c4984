"""A Boltzmann machine's completions: the first visible group clamped, the rest inferred
(``cellgraph view`` of `rule: boltzmann`).

One row per data pattern. Left, the clamped group's pattern; middle, the probability of each unit
of the other visible groups being on given it, p(v_i = 1 | clamped), with the most probable joint
completion outlined (green where it equals the data, red where not); right, each hidden unit's
probability of being on -- the code the machine found. Exact by enumeration (the machine is small
enough for its ``log_likelihood``), so the picture is the scoring's own figures. The title gives
how many completions are right.

Drawn like :mod:`cellgraph.figures` (Agg, a figure of its own, default style, no "Software" stamp).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CellgraphError
from . import trained


def view(result: Any, path: str | os.PathLike[str], *, data: Any = None, **options: Any) -> Path:
    """Draw the completions of a trained Boltzmann machine as a PNG.

    Args:
        result: ``cellgraph.train``'s result (or ``cellgraph.load``'s model) of a `rule: boltzmann` spec.
        path: the PNG to write.
        data: the patterns: a :class:`~cellgraph.data.Dataset` (its held-out part) or an array of
            patterns shown to every visible group; default: the spec's ``data:`` block.

    Returns:
        The path written.

    Raises:
        CellgraphError: not a trained machine, one too large to enumerate or with one visible
            group, no data, or an unknown option.
    """
    import jax
    import jax.numpy as jnp
    from matplotlib import style

    from ..compiler.boltzmann import MAX_EXACT_UNITS, complete, conditional, machine_of
    from ..figures import _save
    from ..sampling import held_out, reference_data

    model, params = trained(result, options, view="Boltzmann", takes="`data` alone", network="Boltzmann machine")
    m = machine_of(model.graph)
    if len(m.visible) < 2 or m.layout.units > MAX_EXACT_UNITS:
        raise CellgraphError(
            f"the view completes the visible groups after the first, exactly: it needs two visible groups or more "
            f"and at most {MAX_EXACT_UNITS} units (this machine: {len(m.visible)} visible groups, {m.layout.units} units)"
        )
    data = data if data is not None else reference_data(model.graph)
    if data is None:
        raise CellgraphError("the spec has no `data:` block: pass the patterns, data=array")
    x = np.asarray(held_out(data, m.visible[0]) if hasattr(data, "x_train") else data, np.float32)
    inputs = {g: jnp.asarray(x) for g in m.visible}
    w, b = m.layout.weights(params), m.layout.bias(params)
    fixed = m.clamp(inputs, m.visible[:1])
    free = np.setdiff1d(np.arange(m.layout.units), m.units_of(m.visible[:1]))
    states, log_w = conditional(w, b, fixed, free)
    marginal = np.asarray(jnp.einsum("rk,rki->ri", jax.nn.softmax(log_w, axis=1), states))  # p(unit on | clamped)
    guess = np.asarray(complete(m, w, b, inputs, jax.random.key(0)))
    shown, out = m.units_of(m.visible[:1]), m.units_of(m.visible[1:])
    truth = np.asarray(m.clamp(inputs))[:, out]
    right = (guess == truth).all(axis=1)
    spec = model.graph.graph["spec"]
    title = f"{spec.title or spec.name}: {int(right.sum())} of {len(right)} completions right"
    names = (m.visible[0], "+".join(m.visible[1:]), "hidden")
    with style.context("default"):
        fig = _figure_of(
            np.asarray(fixed)[:, shown], marginal[:, out], guess, right, marginal[:, m.hidden], names, title
        )
        return _save(fig, path)


def _figure_of(
    clamped: np.ndarray,
    p_out: np.ndarray,
    guess: np.ndarray,
    right: np.ndarray,
    p_hidden: np.ndarray,
    names: tuple[str, str, str],
    title: str,
) -> Any:
    from matplotlib.patches import Rectangle

    from ..figures import _figure

    rows = len(clamped)
    widths = [clamped.shape[1], p_out.shape[1], max(p_hidden.shape[1], 1)]
    fig = _figure(0.55 * sum(widths) + 3.2, 0.5 * rows + 1.6)
    axes = fig.subplots(1, 3, width_ratios=widths)
    panels = (
        (clamped, f"{names[0]} clamped"),
        (p_out, f"p({names[1]} unit on | {names[0]})"),
        (p_hidden, "p(hidden unit on)"),
    )
    for ax, (values, head) in zip(axes, panels, strict=True):
        image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        for (r, c), v in np.ndenumerate(values):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v > 0.6 else "black")
        ax.set_xticks(range(values.shape[1]))
        ax.set_yticks(range(rows))
        ax.set_yticklabels([f"pattern {r + 1}" for r in range(rows)] if ax is axes[0] else [])
        ax.set_xlabel("unit")
        ax.set_title(head, fontsize=9)
    for (r, c), on in np.ndenumerate(guess):
        if on:
            colour = "#2e7d32" if right[r] else "#c62828"
            axes[1].add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor=colour, linewidth=2.2))
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="probability")
    fig.suptitle(title + " (outlined: the most probable completion)", fontsize=10)
    return fig


__all__ = ["view"]
