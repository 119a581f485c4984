"""A spec's ``train:`` block -> one optax transformation: the optimizer, gradient clipping, frozen weights.

``optimizer: adam`` or ``optimizer: {name: adam, learning_rate: 1.0e-3, b1: 0.9}`` calls
``optax.adam(**kwargs)``; the arguments are checked against the function's signature first, so a
typo names the spec key and the arguments optax accepts instead of failing inside optax.
``grad_clip: 1.0`` puts ``optax.clip_by_global_norm`` in front. Weights a model marks
``trainable: false`` get ``optax.set_to_zero`` through ``optax.partition``, so the optimizer
neither moves them nor keeps moments for them, and clipping measures only the trainable ones.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any, Final

import jax
import optax

from ..errors import UNKNOWN_LOC, Problem, SourceLoc, SpecError, did_you_mean, known_list, spec_error
from ..graph.rules import OPTIMIZERS, SCHEDULE_ARGS, optimizer_arg_kind, optimizer_problems
from ..options import FloatRange
from ..spec.load import format_path

Locate = Callable[[tuple[str | int, ...]], SourceLoc]
"""Where a key path of the spec sits (``Spec.loc``), for errors that point at the YAML."""

DEFAULT_OPTIMIZER: Final = "adam"
DEFAULT_LEARNING_RATE: Final = 1e-3
"""Used when an optimizer needs a learning rate and the spec gives none (Adam's customary value)."""

_PYTORCH_NAMES: Final = {"lr": "learning_rate", "beta1": "b1", "beta2": "b2", "betas": "b1' and 'b2"}
"""Argument names from other libraries -> optax's, for the "did you mean" of an unknown argument."""

_TRAIN: Final = "train"
_FROZEN: Final = "frozen"


def parse_optimizer(train: Mapping[str, Any], loc: Locate | None = None) -> tuple[str, dict[str, Any]]:
    """The optax function's name and its checked keyword arguments, defaults filled in.

    Args:
        train: a spec's ``train:`` mapping (only ``optimizer`` is read).
        loc: maps a key path to its place in the spec file (``spec.loc``), for error messages.

    Returns:
        ``(name, kwargs)`` such that ``getattr(optax, name)(**kwargs)`` builds the optimizer.

    Raises:
        SpecError: unknown optimizer, unknown or missing argument, or a value optax cannot take.

    >>> parse_optimizer({"optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9}})
    ('sgd', {'learning_rate': 0.1, 'momentum': 0.9})
    """
    where = loc or (lambda path: UNKNOWN_LOC)
    opt = train.get("optimizer", DEFAULT_OPTIMIZER)
    name: Any
    name_path: tuple[str | int, ...]
    if isinstance(opt, str):
        name, kwargs, name_path = opt, {}, ("train", "optimizer")
    elif isinstance(opt, Mapping):
        name = opt.get("name")
        kwargs = {str(k): v for k, v in opt.items() if k != "name"}
        name_path = ("train", "optimizer", "name")
    else:
        raise spec_error(
            where(("train", "optimizer")),
            "train.optimizer",
            f"expected an optimizer name or a mapping, got {type(opt).__name__}",
            "write `optimizer: adam` or `optimizer: {name: adam, learning_rate: 0.001}`",
        )
    static = [
        Problem(where(("train", "optimizer", *sub)), format_path(("train", "optimizer", *sub)), message, fix)
        for sub, message, fix in optimizer_problems(opt)
    ]
    if static:  # the checks `validate` makes: a graph built without validation gets the same errors
        raise SpecError(static)
    fn = getattr(optax, name, None) if isinstance(name, str) and name in OPTIMIZERS else None
    if not callable(fn):
        problem = (
            f"optax {optax.__version__} has no optimizer {name!r}"
            if name in OPTIMIZERS
            else f"unknown optax optimizer {name!r}{did_you_mean(str(name), OPTIMIZERS)}"
        )
        raise spec_error(where(name_path), ".".join(name_path), problem, "optimizers: " + known_list(OPTIMIZERS, 30))
    params = inspect.signature(fn).parameters
    problems: list[Problem] = []
    for key, value in kwargs.items():
        path = ("train", "optimizer", key)
        if key not in params:
            problems.append(
                Problem(
                    where(path),
                    ".".join(path),
                    f"optax.{name} has no argument {key!r}{_suggest(key, params)}",
                    f"arguments of optax.{name}: {', '.join(params)}",
                )
            )
        elif isinstance(value, str) and _is_number(value):
            problems.append(
                Problem(
                    where(path),
                    ".".join(path),
                    f"{value!r} is text, not a number",
                    f"write it as a number, e.g. `{key}: {float(value)!r}`",
                )
            )
    if "learning_rate" in params and params["learning_rate"].default is inspect.Parameter.empty:
        kwargs.setdefault("learning_rate", DEFAULT_LEARNING_RATE)
    missing = [
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        and p.name not in kwargs
    ]
    for arg in missing:
        problems.append(
            Problem(
                where(("train", "optimizer")),
                "train.optimizer",
                f"optax.{name} needs the argument {arg!r}",
                f"write `optimizer: {{name: {name}, {arg}: ...}}`",
            )
        )
    if problems:
        raise SpecError(problems)
    return name, kwargs


def make_optimizer(
    train: Mapping[str, Any],
    trainable_mask: Callable[[Any], Any] | None = None,
    *,
    loc: Locate | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Build the optax transformation a ``train:`` block describes.

    Args:
        train: a spec's ``train:`` mapping; ``optimizer`` and ``grad_clip`` are read.
        trainable_mask: ``params -> pytree of bools`` (the same structure as the params, or a
            prefix of it), False for weights that must not change (``Model.trainable_mask``).
        loc: maps a key path to its place in the spec file, for error messages.

    Returns:
        A transformation whose ``update`` accepts the extra arguments (``value``, ``grad``,
        ``value_fn``) that line-search optimizers such as ``lbfgs`` and ``polyak_sgd`` need;
        the others ignore them.

    Raises:
        SpecError: a bad ``optimizer`` or ``grad_clip``, located in the spec when ``loc`` is given.

    >>> tx = make_optimizer({"optimizer": {"name": "adam", "learning_rate": 3e-4}, "grad_clip": 1.0})
    """
    where = loc or (lambda path: UNKNOWN_LOC)
    name, kwargs = parse_optimizer(train, loc)
    kwargs = {
        k: _schedule(v, ("train", "optimizer", k), where)
        if _is_schedule(v)
        else _as_float(v, optimizer_arg_kind(name, k))
        for k, v in kwargs.items()
    }
    try:
        tx: optax.GradientTransformation = getattr(optax, name)(**kwargs)
    except (TypeError, ValueError) as err:
        raise spec_error(
            where(("train", "optimizer")),
            "train.optimizer",
            f"optax.{name}({_call_args(kwargs)}) failed: {err}",
            f"check the arguments against optax.{name}'s documentation",
        ) from err
    clip = train.get("grad_clip")
    if clip is not None:
        if isinstance(clip, bool) or not isinstance(clip, int | float) or not 0 < clip < math.inf:
            raise spec_error(
                where(("train", "grad_clip")),
                "train.grad_clip",
                f"expected a positive number, got {clip!r}",
                "e.g. `grad_clip: 1.0` (the largest global gradient norm)",
            )
        tx = optax.chain(optax.clip_by_global_norm(float(clip)), tx)
    if trainable_mask is not None:
        mask_fn = trainable_mask

        def labels(tree: Any) -> Any:
            return jax.tree.map(lambda trainable: _TRAIN if trainable else _FROZEN, mask_fn(tree))

        return optax.partition({_TRAIN: tx, _FROZEN: optax.set_to_zero()}, labels)
    return optax.with_extra_args_support(tx)


def _is_schedule(value: Any) -> bool:
    return isinstance(value, Mapping) and "schedule" in value


def _schedule(value: Mapping[str, Any], path: tuple[str, ...], where: Locate) -> optax.Schedule:
    """``{schedule: cosine_decay, init_value: 3e-3, decay_steps: 1500}`` -> the optax schedule."""
    kind = str(value["schedule"])
    fn = getattr(optax, f"{kind}_schedule", None) or getattr(optax, kind, None)
    kinds = SCHEDULE_ARGS.get(kind.removesuffix("_schedule"), {})
    args = {str(k): _as_float(v, kinds.get(str(k))) for k, v in value.items() if k != "schedule"}
    if isinstance(args.get("boundaries_and_scales"), Mapping):  # YAML keys may arrive as text: steps are ints
        args["boundaries_and_scales"] = {int(k): float(v) for k, v in args["boundaries_and_scales"].items()}
    if not callable(fn):
        raise spec_error(
            where((*path, "schedule")),
            ".".join((*path, "schedule")),
            f"optax has no schedule {kind!r}",
            "see `cellgraph schema` for the schedules",
        )
    try:
        return fn(**args)
    except (TypeError, ValueError) as err:
        raise spec_error(
            where(path),
            ".".join(path),
            f"optax schedule {kind!r}: {err}",
            f"check the arguments of optax.{fn.__name__}",
        ) from err


def _as_float(value: Any, kind: Any) -> Any:
    """An integer given for a real-valued argument, as a float: ``learning_rate: 100000000000``
    would otherwise reach JAX as a Python int, which overflows its int32 conversion."""
    if isinstance(kind, FloatRange) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _suggest(key: str, params: Mapping[str, Any]) -> str:
    known = _PYTORCH_NAMES.get(key)
    if known is not None and known.split("'")[0] in params:
        return f"; did you mean '{known}'?"
    return did_you_mean(key, params)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _call_args(kwargs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
