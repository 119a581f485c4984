"""Shared type aliases, defined once."""

from __future__ import annotations

from typing import Any, TypeAlias

Shape: TypeAlias = tuple[int, ...]
"""A group's shape without the batch (and time) axes: (n,) or (h, w, c) or (length, c)."""

NodeName: TypeAlias = str
"""A final group name: ``h``, ``h.2`` (a repeat), ``gen.out`` (a composed part)."""

Params: TypeAlias = dict[str, dict[str, Any]]
"""Network parameters: node name -> parameter name -> array."""

Key: TypeAlias = Any
"""A JAX PRNG key (typed loosely so that this module never imports JAX)."""
