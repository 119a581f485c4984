"""A search's settings: the arguments, the spec's ``search:`` block and the defaults, resolved once.

Also the study's fingerprint: a digest of everything that decides a trial's result, which names
the study in the journal, so a finished trial is read back only for the very same search.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from ..errors import Problems
from ..spec.load import load_file
from .runner import RunPlan
from .space import Dimension, SearchError, Space, check_names, merge, parse_grid, parse_random, read_block
from .variants import Variant

SAMPLERS: Final = ("grid", "random", "tpe")
DEFAULT_TRIALS: Final = 20
DEFAULT_VALIDATION: Final = 0.2  # held out of the training rows when a val_ metric is asked and the spec has none


@dataclass(frozen=True)
class Setup:
    """One search's resolved settings."""

    spec: Path
    space: Space
    metric: str
    direction: str
    sampler: str
    trials: int
    seed: int
    plan: RunPlan
    base: dict[str, Any]


def resolve(
    spec: str | Path,
    grid: Any,
    random: Any,
    trials: int | None,
    sampler: str | None,
    metric: str | None,
    direction: str | None,
    seeds: int | None,
    seed: int | None,
    params: Mapping[str, Any] | None,
    epochs: int | None,
    steps: int | None,
    validation: float | None,
) -> Setup:
    path = Path(spec)
    doc = load_file(path)
    problems = Problems()
    block_dims, block = read_block(doc, problems)
    problems.raise_if_any()
    given = [*_dims(grid, parse_grid, "grid"), *_dims(random, parse_random, "random")]
    space = merge(block_dims, given)
    if not space.dims:
        raise SearchError(
            f"nothing to search in {path}: fix: name params with --grid NAME=a,b,c or --random "
            "NAME=loguniform:LOW:HIGH, or declare them in the spec's `search: {space: ...}` block"
        )
    declared = doc.data.get("params") if isinstance(doc.data, dict) else None
    check_names(space.dims, declared if isinstance(declared, dict) else {}, str(path))
    metric = str(metric or block.get("metric") or "val_loss")
    split = metric.split("_", 1)[0]
    if split not in ("val", "test", "train") or "_" not in metric:
        raise SearchError(
            f"--metric {metric}: name the split too; fix: write val_{metric}, test_{metric} or train_{metric} "
            "(val_: a validation split held out of the training rows)"
        )
    direction = direction or block.get("direction") or _direction(metric)
    if direction in ("max", "min"):
        direction = direction + "imize"
    if direction not in ("maximize", "minimize"):
        raise SearchError(f"--direction {direction}: fix: write maximize or minimize")
    kind = sampler or block.get("sampler") or ("grid" if space.is_finite else "tpe")
    if kind not in SAMPLERS:
        raise SearchError(f"--sampler {kind}: unknown sampler; fix: write one of {', '.join(SAMPLERS)}")
    if kind == "grid":
        space.grid()  # a range refuses here, before anything loads
    count = trials if trials is not None else block.get("trials")
    size = space.size()
    if count is None:
        count = size if kind == "grid" and size is not None else DEFAULT_TRIALS
    count = _positive("--trials", count)
    if kind == "grid" and size is not None:
        count = min(count, size)
    k = _positive("--seeds", seeds if seeds is not None else block.get("seeds", 1))
    first = seed if seed is not None else block.get("seed", 0)
    if not isinstance(first, int) or isinstance(first, bool):
        raise SearchError(f"--seed {first!r}: fix: give a whole number")
    held = validation if validation is not None else block.get("validation")
    spec_train = doc.data.get("train") if isinstance(doc.data.get("train"), dict) else {}
    if held is None and split == "val" and not spec_train.get("validation"):
        held = DEFAULT_VALIDATION
    plan = RunPlan(
        seeds=tuple(first + i for i in range(k)) if (k > 1 or seed is not None or "seed" in block) else (None,),
        epochs=epochs,
        steps=steps,
        validation=held,
    )
    return Setup(path, space, metric, direction, kind, count, first, plan, dict(params or {}))


def _dims(given: Any, parse: Callable[[str], Dimension], flag: str) -> list[Dimension]:
    if not given:
        return []
    if isinstance(given, Mapping):
        items = []
        for name, value in given.items():
            text = value if isinstance(value, str) else ",".join(map(str, value))
            items.append(f"{name}={text}")
        given = items
    return [parse(str(item)) for item in given]


def _positive(flag: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SearchError(f"{flag} {value!r}: fix: give a whole number of at least 1")
    return value


def _direction(metric: str) -> str:
    from ..graph.rules import HIGHER_IS_BETTER

    return "maximize" if metric.split("_", 1)[1] in HIGHER_IS_BETTER else "minimize"


def fingerprint(setup: Setup, base: Variant) -> str:
    """Everything a trial's result depends on, hashed (see the module docstring)."""
    from ..train.runkey import code_digest, data_digest, library_versions

    spec = base.graph.graph["spec"]
    texts = [text for _, text in spec.sources] or [spec.source]
    data = data_digest(dict(vars(base.data))) if base.data is not None else None
    parts = [
        texts,
        setup.space.plain(),
        [setup.metric, setup.direction, setup.sampler, setup.seed],
        [list(setup.plan.seeds), setup.plan.epochs, setup.plan.steps, setup.plan.validation],
        json.loads(json.dumps(setup.base, default=str)),
        data,
        code_digest(),
        dict(library_versions()),
        _optuna_version(),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _optuna_version() -> str:
    import optuna

    return str(optuna.__version__)
