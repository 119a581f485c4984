"""Pictures of what a trained network generates and attends to: sample grids, latent traversals,
a histogram against the data, attention heat maps (``cellgraph sample`` and ``cellgraph attention``).

Drawn as the training curve is (:mod:`cellgraph.train.curve`): Matplotlib's Agg renderer on a
``Figure`` of its own (no pyplot, no display), under the default style so a user's matplotlibrc
cannot change the picture, saved without the "Software" stamp and renamed into place: the same
samples give the same bytes. Images are laid out as one mosaic per picture rather than an axes
each, so a grid of 400 samples draws in a blink and stays uncluttered.
"""

from __future__ import annotations

import io
import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from .errors import CellgraphError
from .sampling import CODE

_DATA_COLOUR: Final = "#7f7f7f"
_SAMPLE_COLOUR: Final = "#d62728"
_TILE_INCHES: Final = (0.45, 1.1)  # the smallest and largest side of one image in a grid


def plot_samples(
    trained: Any,
    path: str | os.PathLike[str],
    *,
    n: int = 64,
    seed: int = 0,
    traverse: bool = False,
    params: Any = None,
    data: Any = None,
) -> Path:
    """Draw ``n`` samples of a trained generative network (or its latent traversals) as a PNG.

    Image samples become a grid; 1-value samples (the zoo's GAN) a histogram over the data's
    held-out part (``data``, default the spec's ``data:`` block) with both means, standard
    deviations and the Kolmogorov-Smirnov distance written in.

    Args:
        trained: ``cellgraph.train``'s result or ``cellgraph.load``'s model (or a compiled model
            with ``params``).
        path: the PNG to write.
        n: samples drawn (a grid takes at most 400).
        seed: the PRNG seed of the noise or codes.
        traverse: draw latent traversals instead (VAE, DCIGN): one row per code unit, swept over
            -3..3 with the other units at 0.
        data: a :class:`~cellgraph.data.Dataset` or an array of real samples for the histogram.

    Returns:
        The path written.

    Raises:
        SpecError: the network is not generative (located in its spec).
        CellgraphError: a bad ``n``, or the PNG cannot be written.

    >>> cellgraph.plot_samples(cellgraph.load("vae.model"), "samples.png", n=64)  # doctest: +SKIP
    """
    from matplotlib import style

    from .sampling import _run_of, _sample, check_count, generator_of
    from .sampling import traverse as sweep

    run = _run_of(trained, params)
    graph = run.model.graph
    gen = generator_of(graph)
    title = graph.graph["spec"].title or graph.graph["spec"].name
    if traverse:
        if gen.image is None:
            raise CellgraphError(f"a traversal is drawn as images, and the samples of '{gen.output}' are single values")
        swept = sweep(trained, params=params)  # (units, steps, *shape)
        values = [f"{v:+.1f}" for v in _sweep_values(swept.shape[1])]
        with style.context("default"):
            return _save(_traversal_figure(swept, gen, title, values), path)
    check_count(gen, n)
    samples = _sample(run, gen, n, seed)
    real = _real_values(graph, gen.output, data) if gen.image is None else None
    names = _code_names(graph, data, gen.codes) if gen.kind == CODE else None
    with style.context("default"):  # around the drawing too: artists read the style when made
        if gen.image is None:
            return _save(_histogram_figure(samples, real, gen.output, title), path)
        return _save(_grid_figure(samples, gen, title, seed, names), path)


def _sweep_values(steps: int, span: float = 3.0) -> list[float]:
    return [-span + 2 * span * i / (steps - 1) for i in range(steps)]


def plot_attention(
    trained: Any, path: str | os.PathLike[str], *, example: int = 0, inputs: Any = None, params: Any = None
) -> Path:
    """Draw one example's attention weights as heat maps, one per head and attention edge.

    Args:
        trained: a trained model (see :func:`plot_samples`).
        path: the PNG to write.
        example: which example of ``inputs`` (default: of the spec's test data).
        inputs: ``{group: (examples, ...)}`` or one array to run instead of the spec's data.

    Returns:
        The path written.

    >>> cellgraph.plot_attention(result, "attention.png", example=3)  # doctest: +SKIP
    """
    from .sampling import attention_maps, example_inputs

    maps = attention_maps(trained, inputs, example=example, params=params)
    shown = example_inputs(trained, inputs, example=example, params=params)
    model = getattr(trained, "model", None) or trained
    spec = model.graph.graph["spec"]
    from matplotlib import style

    with style.context("default"):
        return _save(_attention_figure(maps, shown, spec.title or spec.name, example), path)


# ---------------------------------------------------------------------------------- figures


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    # inches of margin where no tick labels make one (a mosaic's edge would touch the border)
    fig = Figure(figsize=(width, height), dpi=100, layout=ConstrainedLayoutEngine(w_pad=0.12, h_pad=0.08))
    FigureCanvasAgg(fig)
    return fig


def _mosaic(tiles: Any, image: tuple[int, int, int]) -> Any:
    """(rows, cols, H, W, C) tiles as one RGBA picture with a 1-pixel transparent gap between
    them; values scaled to [0, 1] (kept when they lie there already, as sigmoid outputs do)."""
    import numpy as np
    from matplotlib import colormaps

    rows, cols = tiles.shape[:2]
    h, w, c = image
    x = np.asarray(tiles, np.float64).reshape(rows, cols, h, w, c)
    finite = x[np.isfinite(x)]
    low, high = (
        (0.0, 1.0)
        if finite.size == 0 or (finite.min() >= -1e-6 and finite.max() <= 1 + 1e-6)
        else (
            float(finite.min()),
            float(finite.max()),
        )
    )
    x = np.clip((x - low) / max(high - low, 1e-12), 0.0, 1.0)
    rgba = colormaps["gray"](x[..., 0]) if c == 1 else np.concatenate([x, np.ones((*x.shape[:-1], 1))], axis=-1)
    rgba[~np.isfinite(np.asarray(tiles, np.float64).reshape(rows, cols, h, w, c)).any(axis=-1)] = 0.0
    out = np.zeros((rows * (h + 1) - 1, cols * (w + 1) - 1, 4))
    for r in range(rows):
        for k in range(cols):
            out[r * (h + 1) : r * (h + 1) + h, k * (w + 1) : k * (w + 1) + w] = rgba[r, k]
    return out


def _tile_side(cols: int, rows: int) -> float:
    low, high = _TILE_INCHES
    return min(high, max(low, 7.0 / max(cols, rows, 1)))


def _grid_figure(samples: Any, gen: Any, title: str, seed: int, names: Sequence[str] | None) -> Any:
    import numpy as np

    assert gen.image is not None
    n = samples.shape[0]
    if gen.kind == CODE:
        cols = n if n <= 16 else math.ceil(math.sqrt(n))
    else:
        cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    tiles = np.full((rows * cols, *gen.image), np.nan)
    tiles[:n] = samples.reshape(n, *gen.image)
    side = _tile_side(cols, rows)
    labelled = names is not None and rows == 1
    fig = _figure(max(cols * side, 3.2) + 0.3, rows * side + (1.2 if labelled else 0.9))
    ax = fig.add_subplot()
    ax.imshow(_mosaic(tiles.reshape(rows, cols, *gen.image), gen.image), interpolation="nearest")
    h, w, _ = gen.image
    if labelled:
        assert names is not None
        ax.set_xticks([k * (w + 1) + (w - 1) / 2 for k in range(cols)], list(names[:n]), fontsize=8)
        ax.tick_params(axis="x", length=0)
        ax.set_yticks([])
        ax.set_xlabel(f"one-hot code of '{gen.code}'")
    else:
        ax.set_axis_off()
    for spine in ax.spines.values():
        spine.set_visible(False)
    what = gen.describe() + ("" if gen.kind == CODE else f", seed {seed}")
    fig.suptitle(f"{title}\n{n} {'images' if gen.kind == CODE else 'samples'}: {what}", fontsize=10)
    return fig


def _traversal_figure(swept: Any, gen: Any, title: str, values: Sequence[str]) -> Any:
    assert gen.image is not None
    units, steps = swept.shape[:2]
    side = _tile_side(steps, units)
    fig = _figure(steps * side + 1.4, units * side + 1.3)
    ax = fig.add_subplot()
    ax.imshow(_mosaic(swept.reshape(units, steps, *gen.image), gen.image), interpolation="nearest")
    h, w, _ = gen.image
    ax.set_xticks([k * (w + 1) + (w - 1) / 2 for k in range(steps)], list(values), fontsize=8)
    ax.set_yticks([r * (h + 1) + (h - 1) / 2 for r in range(units)], [f"unit {u}" for u in range(units)], fontsize=8)
    ax.tick_params(length=0)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("value of the swept unit (the others at 0)", fontsize=9)
    for spine in ax.spines.values():
        spine.set_visible(False)
    fig.suptitle(f"{title}\nlatent traversals: each unit of '{gen.code}' swept, decoded by '{gen.output}'", fontsize=10)
    return fig


def _histogram_figure(samples: Any, real: Any, group: str, title: str) -> Any:
    import numpy as np

    fake = np.asarray(samples, np.float64).reshape(-1)
    both = fake if real is None else np.concatenate([fake, real])
    edges = np.histogram_bin_edges(both[np.isfinite(both)], bins=min(60, max(10, int(math.sqrt(both.size)))))
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    heading = "generated samples"
    if real is not None:  # the figures go in the legend and the title: a text box would hide bars
        label = f"data, held out ({real.size:,}): mean {real.mean():.3g}, std {real.std():.3g}"
        ax.hist(real, bins=edges, density=True, color=_DATA_COLOUR, alpha=0.45, label=label)
        heading = f"generated samples vs the data: KS distance {_ks(fake, real):.3f}"
    ax.hist(fake, bins=edges, density=True, histtype="step", linewidth=1.6, color=_SAMPLE_COLOUR)
    label = f"generated ({fake.size:,}): mean {fake.mean():.3g}, std {fake.std():.3g}"
    ax.plot([], [], color=_SAMPLE_COLOUR, linewidth=1.6, label=label)  # a line in the legend, not a box
    ax.set_xlabel(f"value of '{group}'")
    ax.set_ylabel("density")
    ax.grid(True, alpha=0.3)
    ax.set_ylim(0, ax.get_ylim()[1] * 1.2)  # headroom for the legend above the tallest bar
    ax.legend(loc="upper right", fontsize=8)
    ax.set_title(f"{title}\n{heading}", fontsize=10)
    return fig


def _ks(a: Any, b: Any) -> float:
    """The two-sample Kolmogorov-Smirnov distance (the GAN's own metric, ``ks_statistic``)."""
    import jax.numpy as jnp

    from .compiler.adversarial import ks_statistic

    return float(ks_statistic(jnp.asarray(a, jnp.float32)[:, None], jnp.asarray(b, jnp.float32)[:, None]))


def _attention_figure(maps: Mapping[str, Any], inputs: Mapping[str, Any], title: str, example: int) -> Any:
    import numpy as np

    heads = max(m.shape[0] for m in maps.values())
    side = 2.3
    fig = _figure(heads * (side - 0.2) + 1.0, len(maps) * side + 1.0)  # square panels, colour bar close
    axes = fig.subplots(len(maps), heads, squeeze=False)
    top = max(float(np.max(m)) for m in maps.values())
    image = None
    for row, (edge, weights) in enumerate(maps.items()):
        source, target = edge.split(" -> ")
        for h in range(heads):
            ax = axes[row][h]
            if h >= weights.shape[0]:
                ax.set_axis_off()
                continue
            image = ax.imshow(weights[h], cmap="viridis", vmin=0.0, vmax=top, interpolation="nearest")
            queries, keys = weights.shape[1:]
            ax.set_xticks(range(keys) if keys <= 16 else range(0, keys, max(1, keys // 8)))
            ax.set_yticks(range(queries) if queries <= 16 else range(0, queries, max(1, queries // 8)))
            ax.tick_params(labelsize=7)
            ax.set_title(f"head {h + 1}" if len(maps) == 1 else f"{edge}, head {h + 1}", fontsize=9)
            ax.set_xlabel(f"key position ('{source}')", fontsize=8)
            if h == 0:
                ax.set_ylabel(f"query position ('{target}')", fontsize=8)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    shown = "; ".join(f"{g}: {_values(x)}" for g, x in sorted(inputs.items()))
    width = max(int(fig.get_figwidth() * 11), 30)  # characters of 10-point text across the figure
    line = textwrap.fill(f"attention weights of example {example} ({shown})", width)
    fig.suptitle(f"{title}\n{line}", fontsize=10)
    return fig


def _values(x: Any) -> str:
    """An example's input as a short line: token ids as integers, others rounded."""
    import numpy as np

    a = np.asarray(x)
    while a.ndim > 2 and a.shape[0] == 1:  # the example's own axis
        a = a[0]
    if a.ndim == 2 and a.shape[1] > 1 and np.isin(a, (0, 1)).all() and (a.sum(axis=1) <= 1).all():
        # one-hot steps: each step's id, "-" where a step holds none (padding)
        ids = [str(int(np.argmax(row))) if row.any() else "-" for row in a[:24]]
        return " ".join(ids) + (" ..." if len(a) > 24 else "")
    flat = a.reshape(-1)
    whole = np.all(np.equal(np.mod(flat, 1), 0))
    text = " ".join(str(int(v)) if whole else f"{v:.2g}" for v in flat[:24])
    return text + (" ..." if flat.size > 24 else "")


# ---------------------------------------------------------------------------------- helpers


def _real_values(graph: Any, group: str, data: Any) -> Any:
    """The real samples a histogram is drawn against, flattened (None without data)."""
    import numpy as np

    from .sampling import held_out, reference_data

    if data is None:
        data = reference_data(graph)
    if data is None:
        return None
    array = held_out(data, group) if hasattr(data, "x_train") else np.asarray(data)
    return np.asarray(array, np.float64).reshape(-1)


def _code_names(graph: Any, data: Any, codes: int) -> list[str]:
    """Names of the one-hot codes: the data's class names (``label_names``), else ``code i``."""
    from .sampling import reference_data

    if data is None:
        try:
            data = reference_data(graph)
        except CellgraphError:  # the names are a nicety: a missing data file must not stop the picture
            data = None
    names = list(getattr(data, "meta", {}).get("label_names") or []) if data is not None else []
    return [names[i] if i < len(names) else f"code {i}" for i in range(codes)]


def _save(fig: Any, path: str | os.PathLike[str]) -> Path:
    """The figure as a PNG at ``path`` (written whole, then renamed into place)."""
    from .access import replace_synced

    out = Path(path)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_synced(out, buffer.getvalue())
    except OSError as err:
        raise CellgraphError(f"cannot write {out}: {err.strerror or err}; give another path") from None
    return out


__all__ = ["plot_attention", "plot_samples"]
