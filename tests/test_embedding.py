"""Embeddings (`vocab:` on an input group): integer tokens looked up as learned vectors -- the
lookup, its gradient, the data checks on token ids, the drawings, and a token classifier that
learns an order-dependent task on held-out sequences."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES
from jax.test_util import check_grads

import cellgraph
from cellgraph.errors import SpecError

TOKEN_ORDER = EXAMPLES / "token_order.yaml"


def _order_data(n: int, seed: int, steps: int = 12) -> dict[str, np.ndarray]:
    """Sequences of filler tokens 3-15 with token 1 and token 2 once each; y: 1 when 1 comes first."""
    rng = np.random.default_rng(seed)
    x = rng.integers(3, 16, (n, steps))
    for row in x:
        i, j = rng.choice(steps, 2, replace=False)
        row[i], row[j] = 1, 2
    y = (np.argmax(x == 1, axis=1) < np.argmax(x == 2, axis=1)).astype(np.int32)
    return {"tokens": x.astype(np.int32), "y": y}


def _spec(tmp_path: Path, cells: dict[str, Any], edges: list[str], **more: Any) -> Path:
    path = tmp_path / "net.yaml"
    text = yaml.safe_dump({"cellgraph": 1, "name": "net", "cells": cells, "edges": edges, **more}, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def test_an_embedding_looks_each_token_up_in_its_table() -> None:
    graph = cellgraph.load_graph(TOKEN_ORDER)
    assert graph.nodes["tokens"]["params"] == 16 * 16  # vocab x size
    model = cellgraph.compile(TOKEN_ORDER)
    params = model.init(jax.random.key(0))
    table = params["tokens"]["embedding"]
    assert table.shape == (16, 16)
    assert abs(float(jnp.std(table)) - 0.25) < 0.05  # variance 1 / size, as Flax's nn.Embed
    ids = jnp.array([[3, 1, 15, 2], [0, 0, 7, 9]], jnp.int32)
    values, _ = model.forward(params, ids)
    np.testing.assert_array_equal(values["tokens"], table[ids])
    # float ids (as data files give them) are the same tokens
    np.testing.assert_array_equal(model.forward(params, ids.astype(jnp.float32))[0]["tokens"], table[ids])


def test_the_gradient_reaches_exactly_the_rows_of_the_tokens_seen() -> None:
    model = cellgraph.compile(TOKEN_ORDER)
    data = _order_data(4, 3)
    data["tokens"] = np.where(data["tokens"] == 15, 14, data["tokens"])  # token 15 never seen
    with jax.enable_x64(True):
        params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
        batch = model.batch(data["tokens"], data["y"])
        loss = jax.jit(lambda p: model.loss(p, batch, None)[0])  # compiled once, not op by op
        check_grads(loss, (params,), order=1, modes=("rev",), atol=1e-6, rtol=1e-5)
        grad = np.asarray(jax.grad(loss)(params)["tokens"]["embedding"])
    seen = np.isin(np.arange(16), data["tokens"])
    assert np.all(np.abs(grad[~seen]) == 0.0) and np.all(np.abs(grad[seen]).sum(axis=1) > 0)


def test_a_token_classifier_learns_which_marker_comes_first_on_held_out_sequences() -> None:
    """specs/examples/token_order.yaml: accuracy over 0.95 on 1,000 sequences it never saw
    (1.0 measured; chance 0.5, and a bag of the same tokens cannot tell the two classes apart)."""
    result = cellgraph.train(TOKEN_ORDER, _order_data(2000, 0), test_data=_order_data(1000, 1), progress=False)
    assert result.scored_on == "test" and result.metrics["accuracy"] > 0.95
    probe = _order_data(200, 2)
    swapped = np.where(probe["tokens"] == 1, 2, np.where(probe["tokens"] == 2, 1, probe["tokens"]))
    first = result.model.predict(result.params, {"tokens": probe["tokens"]})["y"].argmax(-1)
    second = result.model.predict(result.params, {"tokens": swapped})["y"].argmax(-1)
    assert np.mean(first == probe["y"]) > 0.95 and np.mean(second == 1 - probe["y"]) > 0.95


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        (np.array([[1, 2, 16]]), "holds 16"),
        (np.array([[1, -1, 3]]), "holds -1"),
        (np.array([[1.0, 2.5, 3.0]]), "holds 2.5"),
    ],
)
def test_token_ids_outside_the_vocabulary_are_located_data_errors(tokens: np.ndarray, words: str) -> None:
    data = {"tokens": np.repeat(tokens, 8, axis=0), "y": np.zeros(8, np.int32)}
    with pytest.raises(SpecError) as caught:
        cellgraph.train(TOKEN_ORDER, data, epochs=1, progress=False)
    text = caught.value.format()
    assert words in text and "token_order.yaml:" in text and "cells.tokens.vocab" in text
    assert "0 .. 15" in text


def test_bad_embedding_options_are_located(tmp_path: Path) -> None:
    cells = {"x": {"type": "input", "shape": [4, 4], "vocab": 10}, "y": {"type": "output", "size": 2}}
    with pytest.raises(SpecError, match=r"not a map of `shape`"):
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> y"]))
    cells = {"x": {"type": "input", "size": 4, "vocab": 1}, "y": {"type": "output", "size": 2}}
    with pytest.raises(SpecError, match=r"cells.x.vocab"):
        cellgraph.load_graph(_spec(tmp_path, cells, ["x -> y"]))


def test_an_embedding_in_a_two_input_network_of_ones_own(tmp_path: Path) -> None:
    """Outside specs/: a token input with an embedding beside a plain vector input, one head."""
    cells = {
        "word": {"type": "input", "vocab": 5, "size": 3},
        "extra": {"type": "input", "size": 2},
        "h": {"type": "hidden", "size": 8},
        "y": {"type": "output", "size": 1, "loss": "mse"},
    }
    spec = _spec(
        tmp_path,
        cells,
        ["word, extra -> h -> y"],
        train={"optimizer": {"name": "adam", "learning_rate": 0.03}, "epochs": 80, "batch_size": 32, "seed": 0},
    )
    rng = np.random.default_rng(0)
    word, extra = rng.integers(0, 5, 400), rng.normal(size=(400, 2)).astype(np.float32)
    target = (np.array([-2.0, -1.0, 0.0, 1.0, 2.0])[word] + extra[:, 0]).astype(np.float32)[:, None]
    data = {"word": word, "extra": extra, "y": target}
    result = cellgraph.train(
        spec, {k: v[:300] for k, v in data.items()}, test_data={k: v[300:] for k, v in data.items()}, progress=False
    )
    assert result.metrics["loss"] < 0.05 * float(np.var(target[300:]))


def test_both_views_name_the_embedding() -> None:
    for view in ("cells", "layers"):
        assert "embedding of 16 tokens" in cellgraph.render(TOKEN_ORDER, view=view).dot


def test_prediction_refuses_token_ids_outside_the_vocabulary() -> None:
    """The data check guards training; predict checks its own ids the same way, located at `vocab:`
    (a traced lookup would clamp them to the table's edge, silently)."""
    model = cellgraph.compile(TOKEN_ORDER)
    params = model.init(jax.random.key(0))
    with pytest.raises(cellgraph.SpecError) as caught:
        model.predict(params, {"tokens": np.array([[1, 2, 16]])})
    text = caught.value.format()
    assert "token_order.yaml:" in text and "cells.tokens.vocab" in text and "hold 16" in text
    assert model.predict(params, {"tokens": np.array([[1, 2, 15]])})["y"].shape == (1, 2)
