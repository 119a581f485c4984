"""Built-in data sets: files that ship with cellgraph and generators for toy tasks.

``catalog`` describes every source (name, options, task) as plain data, so a spec's ``data:``
block is validated without importing NumPy or JAX. ``load_dataset`` (in ``loaders``) turns a
block into a :class:`Dataset` of NumPy arrays; it never imports JAX, the trainer moves batches to
the device. Builders: ``files`` (mushroom, digits, iris, the user's CSV, parsed by
``csvtable``), ``generators`` (vectors), ``images`` and ``sequences``.

The user's own data: ``as_dataset`` (in ``own``) takes arrays, mappings keyed by group, ``.npz``
and CSV files and DataFrames for a network's groups (``layout``); ``check_data`` (in ``check``)
refuses every mismatch with the spec as a located error; ``blocks`` checks a `data:` block that
names such a file.
May import: ``cellgraph.errors``, ``cellgraph.options``, ``cellgraph.access``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check import check_data as check_data
    from .dataset import Dataset as Dataset
    from .dataset import dataset_from_arrays as dataset_from_arrays
    from .layout import Layout as Layout
    from .own import as_dataset as as_dataset
    from .own import load_dataset as load_dataset

__all__ = ["Dataset", "Layout", "as_dataset", "check_data", "dataset_from_arrays", "load_dataset"]

_LAZY = {
    "Dataset": "dataset",
    "Layout": "layout",
    "as_dataset": "own",
    "check_data": "check",
    "dataset_from_arrays": "dataset",
    "load_dataset": "own",
}


def __getattr__(name: str) -> Any:
    # Lazy: graph/ imports data.catalog on every validation, which must not pay for NumPy.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
