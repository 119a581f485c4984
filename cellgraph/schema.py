"""JSON Schema of the spec format, generated from the registries.

Editors use it for completion and inline errors (VS Code's YAML extension: see docs/editor.md).
It is generated, never written by hand: every cell type's options, every rule, loss, optimizer
and data source come from the same records validation uses. ``${param}`` references are allowed
wherever a value is, since they are resolved before checking.
"""

from __future__ import annotations

from typing import Any

from .cells import CELLS
from .data.blocks import OWN_BLOCK_OPTIONS
from .data.catalog import SOURCES, SPLIT_OPTIONS
from .graph.build import EDGE_KINDS, EDGE_OPTIONS
from .graph.drawspec import DRAW_KEYS, GROUP_KEYS
from .graph.rules import LOSSES, METRICS, OPTIMIZERS, RULES, TRAIN_KEYS
from .options import Option

_REF = {"type": "string", "pattern": r"\$\{[^}]+\}"}
_STATEMENT = {
    "type": "string",
    "pattern": r"^\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*(\s*(->|--|=>|~>)\s*[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_][\w.]*)*)+\s*$",
    "description": "a -> b (dense), a -- b (symmetric), a => b (one-to-one), a ~> b (delayed); chains and comma lists",
}


def _with_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """Allow a ``${...}`` reference in place of any list item, too (``shape: [${side}, ${side}, 1]``)."""
    out = dict(schema)
    if "items" in out:
        out["items"] = {"anyOf": [_with_refs(out["items"]), _REF]}
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [_with_refs(s) for s in out[key]]
    return out


def _prop(option: Option) -> dict[str, Any]:
    schema = {"anyOf": [_with_refs(option.kind.schema()), _REF], "description": option.doc}
    if option.default is not None:
        schema["default"] = option.default
    return schema


def _object(
    options: dict[str, Option], extra: dict[str, Any] | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    props = {k: _prop(o) for k, o in options.items()}
    props.update(extra or {})
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    return out


def _cell_schema() -> dict[str, Any]:
    structural = {
        "repeat": {
            "anyOf": [{"type": "integer", "minimum": 1}, _REF],
            "description": "chain N copies named g.1 ... g.N",
        },
        "residual": {
            "anyOf": [{"type": "integer", "minimum": 2}, _REF],
            "description": "identity skip g.i => g.(i+k) in a repeat",
        },
        "style": {"type": "object", "description": "drawing overrides (Graphviz node attributes)"},
        "share": {
            "anyOf": [{"type": "string"}, {"type": "boolean"}],
            "description": "use this group's parameters instead of its own (true: a repeat's copies use the first's)",
        },
    }
    variants = []
    for cell in sorted(CELLS.values(), key=lambda c: c.legend_order):
        schema = _object(dict(cell.options), {"type": {"const": cell.name}, **structural}, ["type"])
        schema["description"] = f"{cell.label}: {cell.doc}"
        variants.append(schema)
    variants.append(
        {
            "type": "object",
            "properties": {
                "use": {"type": "string", "description": "compose another spec file as this group"},
                "repeat": {
                    "anyOf": [{"type": "integer", "minimum": 1}, _REF],
                    "description": "chain N copies of the part, named g.1.cell ... g.N.cell",
                },
                "residual": {
                    "anyOf": [{"type": "boolean"}, _REF],
                    "description": "one identity skip around each copy (its input => its last group)",
                },
                "chain": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "part input -> the group of the previous copy it reads",
                },
                "params": {"type": "object", "description": "param values for the part"},
                "bind": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "part input -> group of this spec",
                },
                "style": {"type": "object"},
                "share": {
                    "anyOf": [{"type": "string"}, {"type": "boolean"}],
                    "description": "each of the part's groups uses that `use:` group's namesake's parameters "
                    "(true: every copy uses the first copy's)",
                },
            },
            "required": ["use"],
            "additionalProperties": False,
        }
    )
    return {"oneOf": variants}


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a cellgraph spec file."""
    edge_mapping = {
        "type": "object",
        "properties": {
            "from": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "to": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
            "kind": {"enum": list(EDGE_KINDS)},
            "delay": {"enum": [0, 1]},
            **{k: _prop(o) for k, o in EDGE_OPTIONS.items()},
        },
        "required": ["from", "to"],
        "additionalProperties": False,
    }
    edge_with_options = {
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "additionalProperties": _object(EDGE_OPTIONS, {"kind": {"enum": list(EDGE_KINDS)}, "delay": {"enum": [0, 1]}}),
    }
    rule_options: dict[str, Option] = {}
    for rule in RULES.values():
        rule_options.update(rule.options)
    train = _object(
        {k: o for k, o in TRAIN_KEYS.items() if k not in ("loss", "metrics", "optimizer")} | rule_options,
        {
            "loss": {
                "anyOf": [
                    {"enum": list(LOSSES)},
                    {"type": "object", "properties": {"name": {"enum": list(LOSSES)}}, "required": ["name"]},
                    {  # per output group: {cls: cross_entropy, reg: {name: huber, weight: 0.5}}
                        "type": "object",
                        "not": {"required": ["name"]},
                        "additionalProperties": {
                            "anyOf": [
                                {"enum": list(LOSSES)},
                                {
                                    "type": "object",
                                    "properties": {"name": {"enum": list(LOSSES)}},
                                    "required": ["name"],
                                },
                            ]
                        },
                    },
                ]
            },
            "metrics": {"anyOf": [{"enum": list(METRICS)}, {"type": "array", "items": {"enum": list(METRICS)}}]},
            "optimizer": {
                "anyOf": [
                    {"enum": list(OPTIMIZERS)},
                    {"type": "object", "properties": {"name": {"enum": list(OPTIMIZERS)}}, "required": ["name"]},
                ]
            },
        },
    )
    source_options: dict[str, Option] = {}
    for source in SOURCES.values():
        source_options.update(source.options)
    source_options.update(OWN_BLOCK_OPTIONS)  # npz:, and csv: with inputs: / targets: per group
    data = _object(
        source_options,
        {
            "source": {"enum": list(SOURCES)},
            "csv": {"type": "string", "description": "a CSV file, relative to the spec"},
            "split": _object(SPLIT_OPTIONS),
        },
    )
    draw = _object(
        {k: o for k, o in DRAW_KEYS.items() if k not in ("groups", "lines")},
        {
            "groups": {"type": "object", "additionalProperties": _object(GROUP_KEYS)},
            "lines": {"type": "array", "items": {"type": "string"}},
        },
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cellgraph.invalid/schema/spec-1.json",
        "title": "cellgraph spec, format version 1",
        "type": "object",
        "required": ["cellgraph", "name", "cells", "edges"],
        "additionalProperties": False,
        "properties": {
            "cellgraph": {"const": 1, "description": "format version"},
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_-]*$"},
            "title": {"type": "string"},
            "description": {"type": "string"},
            "params": {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean", "array"]}},
            "cells": {"type": "object", "minProperties": 1, "additionalProperties": _cell_schema()},
            "edges": {"type": "array", "items": {"anyOf": [_STATEMENT, edge_mapping, edge_with_options]}},
            "train": train,
            "data": data,
            "draw": draw,
            "search": {"type": "object", "description": "the space and settings of `cellgraph search`"},
        },
    }
