"""``load_source``: a built-in source's (or a one-target CSV's) ``data:`` block -> a :class:`Dataset`.

``cellgraph.data.load_dataset`` (in ``own``) is the entry point for any block: it sends the
user's own arrays (``npz:``, CSV column sets) to ``own`` and the rest here.

The block's options are checked against the catalogue here too (a block may come from Python,
not from a validated spec), defaults are filled in, and the source's builder is called with one
:class:`Request`. Builders live in ``files`` (shipped and user files), ``generators`` (vectors),
``images`` and ``sequences``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ..errors import Problems, SourceLoc, did_you_mean, known_list
from ..options import check_options
from . import files, generators, images, sequences
from .catalog import SOURCES, SPLIT_OPTIONS
from .dataset import Dataset, Request

Builder = Callable[[Request], Dataset]

BUILDERS: Final[dict[str, Builder]] = {
    "mushroom": files.load_mushroom,
    "digits": files.load_digits,
    "iris": files.load_iris,
    "csv": files.load_csv,
    "xor": generators.load_gate,
    "and": generators.load_gate,
    "or": generators.load_gate,
    "parity": generators.load_parity,
    "two_spirals": generators.load_two_spirals,
    "sine": generators.load_sine,
    "sinc": generators.load_sinc,
    "encoder": generators.load_encoder,
    "low_rank_gaussian": generators.load_low_rank_gaussian,
    "sparse_atoms": generators.load_sparse_atoms,
    "random_patterns": generators.load_random_patterns,
    "gaussian_1d": generators.load_gaussian_1d,
    "uniform_square": generators.load_uniform_square,
    "bars": images.load_bars,
    "bars_and_stripes": images.load_bars_and_stripes,
    "glyphs": images.load_glyphs,
    "class_glyphs": images.load_class_glyphs,
    "moving_squares": images.load_moving_squares,
    "adding": sequences.load_adding,
    "temporal_xor": sequences.load_temporal_xor,
    "copy_task": sequences.load_copy_task,
    "reversal": sequences.load_reversal,
    "mackey_glass": sequences.load_mackey_glass,
    "markov_chain": sequences.load_markov_chain,
    "spike_patterns": sequences.load_spike_patterns,
}

_WHERE: Final = SourceLoc("<data>")


def load_source(
    data_block: Mapping[str, Any],
    spec_dir: Path | None = None,
    *,
    seed: int | None = None,
    allow: Sequence[str | Path] = (),
) -> Dataset:
    """Load or generate the data set a built-in source's (or a one-target CSV's) block names.

    Args:
        data_block: the block, e.g. ``{"source": "mushroom", "split": {"test": 0.3, "seed": 0}}``
            or ``{"csv": "my.csv", "target": "label"}`` (``spec.data`` of a loaded spec).
        spec_dir: folder a CSV path is relative to (the spec's folder); None means the
            current directory.
        seed: generator seed of a generated source; default: the split's seed. The split
            itself always uses ``split.seed``, so a shipped file's test part stays fixed.
        allow: folders outside the spec's project a CSV path may name (``--allow DIR``).

    Returns:
        The :class:`Dataset`; the same block and seed give identical arrays on every run.

    Raises:
        SpecError: unknown source, unknown option or a bad value (every problem at once).

    Example:
        >>> ds = load_source({"source": "mushroom", "split": {"test": 0.3, "seed": 0}})
        >>> ds.x_train.shape, ds.x_test.shape, ds.classes
        ((5687, 117), (2437, 117), 2)
    """
    block = dict(data_block)
    if "csv" in block:  # the shorthand `data: {csv: file.csv, target: y}`
        block.setdefault("source", "csv")
        block["path"] = block.pop("csv")
    problems = Problems()
    name = block.get("source")
    source = SOURCES.get(name) if isinstance(name, str) else None
    if source is None:
        problems.add(
            _WHERE,
            "data.source",
            f"unknown data source {name!r}{did_you_mean(str(name), SOURCES)}",
            "built-in sources: " + known_list(SOURCES, limit=100),
        )
        problems.raise_if_any()
    assert source is not None
    builder = BUILDERS.get(source.name)
    if builder is None:  # catalogued but not built yet
        raise NotImplementedError(f"data source '{source.name}' is catalogued but has no loader yet")

    def report(prefix: str) -> Callable[[str, str, str], None]:
        return lambda key, message, fix: problems.add(_WHERE, f"{prefix}.{key}", message, fix)

    options = {k: v for k, v in block.items() if k not in ("source", "split")}
    check_options(options, source.options, report("data"), f"data source '{source.name}'")
    split = block.get("split")
    if split is not None and not isinstance(split, Mapping):
        problems.add(_WHERE, "data.split", "expected a mapping", "e.g. `split: {test: 0.3, seed: 0}`")
        split = None
    split = dict(split or {})
    check_options(split, SPLIT_OPTIONS, report("data.split"), "data.split")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
        problems.add(_WHERE, "seed", f"expected a non-negative integer seed, got {seed!r}", "e.g. seed=0")
    problems.raise_if_any()

    resolved = {k: options.get(k, opt.default) for k, opt in source.options.items()}
    test = float(split.get("test", SPLIT_OPTIONS["test"].default))
    split_seed = int(split.get("seed", SPLIT_OPTIONS["seed"].default))
    request = Request(
        name=source.name,
        task=source.task,
        options=resolved,
        test=test,
        split_seed=split_seed,
        seed=split_seed if seed is None else int(seed),
        explicit_split="split" in block,
        spec_dir=spec_dir,
        allow=tuple(allow),
    )
    return builder(request)
