"""Built-in data sets: files that ship with cellgraph and generators for toy tasks.

``catalog`` describes every source (name, options, task) as plain data, so a spec's ``data:``
block is validated without importing NumPy or JAX. ``load_dataset`` (in ``loaders``) turns a
block into a :class:`Dataset` of NumPy arrays; it never imports JAX, the trainer moves batches to
the device. Builders: ``files`` (mushroom, digits, iris, the user's CSV, parsed by
``csvtable``), ``generators`` (vectors), ``images`` and ``sequences``.
May import: ``cellgraph.errors``, ``cellgraph.options``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dataset import Dataset as Dataset
    from .dataset import dataset_from_arrays as dataset_from_arrays
    from .loaders import load_dataset as load_dataset

__all__ = ["Dataset", "dataset_from_arrays", "load_dataset"]

_LAZY = {"Dataset": "dataset", "dataset_from_arrays": "dataset", "load_dataset": "loaders"}


def __getattr__(name: str) -> Any:
    # Lazy: graph/ imports data.catalog on every validation, which must not pay for NumPy.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
