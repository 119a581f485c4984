"""Shared parameters (`share:`): one set of weights used by several groups -- counted once, both
uses' gradients added into it, drawn and summarised as shared -- and a Siamese network that
learns to compare digits it never saw."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES

import cellgraph
from cellgraph.cli import main
from cellgraph.data import load_dataset
from cellgraph.errors import SpecError

SIAMESE = EXAMPLES / "siamese_digits.yaml"


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(
        yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges}, sort_keys=False),
        encoding="utf-8",
    )
    return path


def _pairs(x: np.ndarray, y: np.ndarray, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` pairs of digits, half of them the same digit, labelled 1 when they are."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(x), n)
    same = rng.random(n) < 0.5
    second = np.array(
        [
            rng.choice(np.flatnonzero(((y == y[i]) == s) & (np.arange(len(y)) != i)))
            for i, s in zip(first, same, strict=True)
        ]
    )
    return {"left": x[first], "right": x[second], "same": (y[first] == y[second]).astype(np.int32)}


def _digit_pairs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Training pairs from the digits' training part, held-out pairs from their test part only."""
    d = load_dataset({"source": "digits", "split": {"test": 0.3, "seed": 0}}, None)
    train = _pairs(np.asarray(d.x_train), np.asarray(d.y_train), 4000, 0)
    held_out = _pairs(np.asarray(d.x_test), np.asarray(d.y_test), 1000, 1)
    return train, held_out


# ----------------------------------------------------------------------------------- one set


def test_a_siamese_network_counts_its_tower_once() -> None:
    graph = cellgraph.load_graph(SIAMESE)
    tower = sum(graph.nodes[n]["params"] for n in ("tower_l.k", "tower_l.z"))
    assert tower == 160 + 4112
    assert graph.nodes["tower_r.k"]["params"] == graph.nodes["tower_r.z"]["params"] == 0
    assert graph.nodes["tower_r.z"]["owner"] == "tower_l.z" and graph.nodes["tower_r.p"].get("owner") is None
    assert graph.graph["params"]["total"] == tower + 1056 + 66
    model = cellgraph.compile(SIAMESE)
    params = model.init(jax.random.key(0))
    assert sorted(params) == ["h", "same", "tower_l.k", "tower_l.z"]
    assert sum(a.size for a in jax.tree.leaves(params)) == graph.graph["params"]["total"]


def test_both_towers_compute_one_function() -> None:
    model = cellgraph.compile(SIAMESE)
    params = model.init(jax.random.key(0))
    x = jax.random.uniform(jax.random.key(1), (5, 8, 8, 1))
    values, _ = model.forward(params, {"left": x, "right": x[::-1]})
    np.testing.assert_allclose(values["tower_l.z"], values["tower_r.z"][::-1], rtol=1e-6)


def test_the_gradients_of_both_towers_add_into_one_set() -> None:
    """The shared tower's gradient equals the sum of the two towers' gradients in the same network
    with the tie removed (both towers given the same values): the uses add, none is lost."""
    tied = cellgraph.compile(SIAMESE)
    untied_text = SIAMESE.read_text(encoding="utf-8").replace(", share: tower_l}", "}")
    assert untied_text != SIAMESE.read_text(encoding="utf-8")
    untied = cellgraph.compile(cellgraph.load_spec_text(untied_text, SIAMESE))  # its parts where the file's are
    params = tied.init(jax.random.key(0))
    copies = {**params, "tower_r.k": params["tower_l.k"], "tower_r.z": params["tower_l.z"]}
    train, _ = _digit_pairs()
    batch = tied.batch({"left": train["left"][:32], "right": train["right"][:32]}, train["same"][:32])
    g_tied = jax.grad(lambda p: tied.loss(p, batch, None)[0])(params)
    g_untied = jax.grad(lambda p: untied.loss(p, batch, None)[0])(copies)
    for group in ("k", "z"):
        for leaf in ("kernel", "bias"):
            left, right = g_untied[f"tower_l.{group}"][leaf], g_untied[f"tower_r.{group}"][leaf]
            assert float(jnp.abs(right).max()) > 0 and float(jnp.abs(left).max()) > 0  # both towers learn
            np.testing.assert_allclose(g_tied[f"tower_l.{group}"][leaf], left + right, rtol=2e-5, atol=1e-7)


# --------------------------------------------------------------------------------- learning


def test_a_siamese_network_tells_whether_two_unseen_digits_are_the_same() -> None:
    """specs/examples/siamese_digits.yaml on pairs of held-out digits (none of them trained on):
    accuracy over 0.85 where chance is 0.5 (0.912 measured)."""
    train, held_out = _digit_pairs()
    result = cellgraph.train(SIAMESE, train, test_data=held_out, progress=False)
    assert result.scored_on == "test" and result.metrics["accuracy"] > 0.85


# ----------------------------------------------------------------------- forms and diagrams


def test_share_true_ties_the_copies_of_a_repeated_group(tmp_path: Path) -> None:
    cells = {
        "x": {"type": "input", "size": 6},
        "h": {"type": "hidden", "size": 6, "repeat": 4, "share": True},
        "y": {"type": "output", "size": 2},
    }
    graph = cellgraph.load_graph(_spec(tmp_path, cells, ["x -> h -> y"]))
    assert [graph.nodes[f"h.{i}"].get("owner") for i in range(1, 5)] == [None, "h.1", "h.1", "h.1"]
    assert graph.graph["params"]["total"] == (6 * 6 + 6) + (6 * 2 + 2)
    model = cellgraph.compile(graph)
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (3, 6))
    values, _ = model.forward(params, x)
    step = lambda v: jax.nn.relu(v @ params["h.1"]["kernel"] + params["h.1"]["bias"])  # noqa: E731
    np.testing.assert_allclose(values["h.4"], step(step(step(step(x)))), rtol=1e-5)


def test_the_summary_and_both_views_say_which_groups_share(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["summary", str(SIAMESE)]) == 0
    out = capsys.readouterr().out
    assert "uses tower_l.z's parameters" in out and "shared with tower_r.z" in out
    for view in ("cells", "layers"):
        dot = cellgraph.render(SIAMESE, view=view).dot
        assert dot.count("shares tower_l.") == 2, view  # the kernel and the code; the pool has no weights


@pytest.mark.parametrize(
    ("cells", "edges", "words"),
    [
        ({"h2": {"type": "hidden", "size": 4, "share": "nope"}}, ["x -> h2 -> y"], "no such group"),
        ({"h2": {"type": "hidden", "size": 5, "share": "h"}}, ["x -> h2 -> y"], "differ in shape"),
        ({"h2": {"type": "hidden", "size": 4, "share": "h", "use_bias": False}}, ["x -> h2 -> y"], "`use_bias`"),
        ({"h2": {"type": "output", "size": 4, "share": "h"}}, ["x -> h2"], "a hidden group and 'h2' an output"),
        ({"h2": {"type": "hidden", "size": 4, "share": "h", "trainable": False}}, ["x -> h2 -> y"], "trainable"),
        ({"h2": {"type": "hidden", "size": 4, "share": 3}}, ["x -> h2 -> y"], "expected the name of a group"),
        ({"h2": {"type": "hidden", "size": 4, "share": True}}, ["x -> h2 -> y"], "is not repeated"),
        ({"x2": {"type": "input", "size": 3, "share": "x"}}, ["x2 -> y"], "no parameters to share"),
        (
            {"h2": {"type": "hidden", "size": 4, "share": "h3"}, "h3": {"type": "hidden", "size": 4, "share": "h2"}},
            ["x -> h2 -> y", "x -> h3 -> y"],
            "round in a circle",
        ),
        ({"h2": {"type": "hidden", "size": 4, "share": "h"}}, ["x -> h2 -> y", "y ~> h2"], "delayed or feedback"),
    ],
)
def test_a_share_that_cannot_work_is_a_located_error(
    tmp_path: Path, cells: dict[str, Any], edges: list[str], words: str
) -> None:
    base = {"x": {"type": "input", "size": 3}, "h": {"type": "hidden", "size": 4}, "y": {"type": "output", "size": 2}}
    path = _spec(tmp_path, {**base, **cells}, ["x -> h -> y", *edges])
    with pytest.raises(SpecError) as caught:
        cellgraph.load_graph(path)
    text = caught.value.format()
    assert words in text and "net.yaml:" in text and ".share" in text, text
