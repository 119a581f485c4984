"""Every loss and metric name a spec may write is either computed or refused as planned.

``graph/rules.py`` describes each loss and metric (JAX-free, for validation) and says whether it is
implemented; ``compiler/losses.py`` holds the function of each implemented one under the same
name. These tests resolve every name both ways, compute every implemented one on a tiny model,
and check that a planned one -- or a metric the network does not define -- is refused with a
located error instead of training with something else (``loss: margin`` and ``loss:
adversarial`` used to train with mean squared error; 9 of 18 metrics were accepted and never
reported).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, ZOO, CliRunner

import cellgraph
from cellgraph.compiler.losses import COMPOSITE_LOSSES, LOSS_METRICS, METRIC_FNS, OUTPUT_LOSSES, Scored
from cellgraph.compiler.networks import NETWORK_METRICS
from cellgraph.data import load_dataset
from cellgraph.errors import Problems, SpecError
from cellgraph.graph import checks
from cellgraph.graph.checks import check_implemented, loss_name, metric_names
from cellgraph.graph.rules import IMPLEMENTED, LOSSES, METRICS, PLANNED
from cellgraph.train.rules import IMPLEMENTATIONS

N = 6  # examples per test batch
Batch = Callable[[np.random.Generator], dict[str, np.ndarray]]

# a small network per kind of loss: (cells, edges, batch)
NETS: dict[str, tuple[str, str, Batch]] = {
    "classes": (
        "x: {type: input, size: 3}\n  y: {type: output, size: 4, activation: softmax}",
        "x -> y",
        lambda r: {"x": r.normal(size=(N, 3)), "y": r.integers(0, 4, N)},
    ),
    "capsules": (  # lengths in (0, 1): one sigmoid unit per class
        "x: {type: input, size: 3}\n  y: {type: output, size: 3, activation: sigmoid}",
        "x -> y",
        lambda r: {"x": r.normal(size=(N, 3)), "y": r.integers(0, 3, N)},
    ),
    "binary": (
        "x: {type: input, size: 3}\n  y: {type: output, size: 1, activation: sigmoid}",
        "x -> y",
        lambda r: {"x": r.normal(size=(N, 3)), "y": r.integers(0, 2, (N, 1)).astype(np.float32)},
    ),
    "regression": (
        "x: {type: input, size: 3}\n  y: {type: output, size: 2}",
        "x -> y",
        lambda r: {"x": r.normal(size=(N, 3)), "y": r.integers(0, 2, (N, 2)).astype(np.float32)},
    ),
    "autoencoder": (
        "x: {type: input, size: 3}\n  h: {type: hidden, size: 2, activation: sigmoid}\n"
        "  r: {type: match_input_output, activation: sigmoid}",
        "x -> h -> r",
        lambda r: {"x": r.uniform(size=(N, 3))},
    ),
    "vae": (
        "x: {type: input, size: 3}\n  z: {type: probabilistic_hidden, size: 2, distribution: gaussian}\n"
        "  r: {type: match_input_output, activation: sigmoid}",
        "x -> z -> r",
        lambda r: {"x": r.uniform(size=(N, 3))},
    ),
}

LOSS_NET: dict[str, str] = {
    "cross_entropy": "classes",
    "bce": "binary",
    "mse": "regression",
    "mae": "regression",
    "huber": "regression",
    "margin": "capsules",
    "reconstruction": "autoencoder",
    "elbo": "vae",
    "none": "classes",
    "adversarial": "binary",
}
"""The network each loss is tried on; a new loss needs a line here (the test says so)."""

METRIC_NET: dict[str, tuple[str, str]] = {
    "accuracy": ("classes", "cross_entropy"),
    "token_accuracy": ("classes", "cross_entropy"),
    "argmax_accuracy": ("autoencoder", "reconstruction"),
    "reconstruction_error": ("autoencoder", "reconstruction"),
    "elbo": ("vae", "elbo"),
    "kl": ("vae", "elbo"),
    **{m: ("regression", "mse") for m in ("mse", "mae", "rmse", "nrmse", "r2", "within_tolerance", "bit_errors")},
}
"""(network, loss) each implemented metric is computed on."""

NETWORK_METRIC_SPEC: dict[str, str] = {
    "quantization_error": "kn.yaml",
    "topographic_error": "kn.yaml",
    "log_likelihood": "mc.yaml",
    "pseudo_likelihood": "rbm.yaml",
}
"""The zoo spec whose network reports each of NETWORK_METRICS."""

TRAINED_TODAY = tuple(IMPLEMENTATIONS)
"""Rules with a trainer today: a shipped spec that uses one must ask for no planned name."""


def _text(net: str, loss: str, metrics: list[str] | None = None) -> str:
    cells, edges, _ = NETS[net]
    lines = ["cellgraph: 1", "name: vocab", "cells:", f"  {cells}", f"edges: [{edges}]", "train:", f"  loss: {loss}"]
    if metrics is not None:
        lines.append(f"  metrics: [{', '.join(metrics)}]")
    return "\n".join(lines) + "\n"


def _model_and_batch(net: str, loss: str, metrics: list[str] | None = None) -> tuple[object, object, dict]:
    model = cellgraph.compile(cellgraph.load_spec_text(_text(net, loss, metrics), "vocab.yaml"))
    params = model.init(jax.random.key(0))
    raw = {k: jnp.asarray(v) for k, v in NETS[net][2](np.random.default_rng(0)).items()}
    return model, params, model.batch(raw["x"], raw.get("y"))  # type: ignore[attr-defined]


def _line_of(text: str, key: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith(f"{key}:"))


def test_every_implemented_name_resolves_and_no_planned_one_does() -> None:
    for records in (LOSSES, METRICS):
        for name, record in records.items():
            assert record.name == name
            assert record.status in (IMPLEMENTED, PLANNED), name
            if record.status == PLANNED:
                assert record.meanwhile, f"planned {name!r} must say what to use meanwhile"
    implemented = {n for n, r in LOSSES.items() if r.status == IMPLEMENTED}
    assert implemented == set(OUTPUT_LOSSES) | set(COMPOSITE_LOSSES)
    assert not set(OUTPUT_LOSSES) & set(COMPOSITE_LOSSES)
    assert all(callable(f) for f in OUTPUT_LOSSES.values())
    metrics = {n for n, r in METRICS.items() if r.status == IMPLEMENTED}
    assert metrics == set(METRIC_FNS) | set(LOSS_METRICS) | set(NETWORK_METRICS)
    assert all(callable(f) for f in METRIC_FNS.values())
    assert {n for n, r in LOSSES.items() if r.status == PLANNED} == set()  # the adversarial loss was the last


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_computes_a_finite_value_or_is_refused_where_it_is_named(name: str) -> None:
    if name == "adversarial":  # the GAN's: a generator and a discriminator composed (specs/zoo/gan.yaml)
        model = cellgraph.compile(ZOO / "gan.yaml")
        params = model.init(jax.random.key(0))
        batch = model.batch(np.random.default_rng(0).normal(4.0, 0.5, (64, 1)).astype(np.float32))
    else:
        assert name in LOSS_NET, f"add a network for loss {name!r} to LOSS_NET"
        net = LOSS_NET[name]
        model, params, batch = _model_and_batch(net, name)
    if LOSSES[name].status == PLANNED:
        text = _text(net, name)
        for call in (model.loss, jax.jit(model.loss)):  # eager, and traced as training runs it
            with pytest.raises(SpecError) as err:
                call(params, batch, None)
            (problem,) = err.value.problems
            assert (problem.loc.file, problem.loc.line) == ("vocab.yaml", _line_of(text, "loss"))
            assert problem.loc.col > 0 and problem.path == "train.loss"
            assert "planned" in problem.message and "bce" in problem.fix
        return
    value, metrics = model.loss(params, batch, None)
    assert np.isfinite(float(value)) and float(value) > 0
    grads = jax.grad(lambda p: model.loss(p, batch, jax.random.key(1))[0])(params)
    assert all(np.isfinite(np.asarray(g)).all() for g in jax.tree_util.tree_leaves(grads))


def test_margin_is_the_capsule_margin_loss_not_mean_squared_error() -> None:
    model, params, batch = _model_and_batch("capsules", "{name: margin, m_plus: 0.8, m_minus: 0.2, down_weight: 0.4}")
    out = np.asarray(model.apply(params, batch["inputs"]["x"])["y"], np.float64)
    present = np.eye(3)[np.asarray(batch["targets"]["y"])]
    per = present * np.maximum(0, 0.8 - out) ** 2 + 0.4 * (1 - present) * np.maximum(0, out - 0.2) ** 2
    value, metrics = model.loss(params, batch, None)
    assert float(value) == pytest.approx(per.sum(-1).mean(), rel=1e-5)
    assert float(value) != pytest.approx(
        float(np.mean((out - np.asarray(batch["targets"]["y"])[:, None]) ** 2)), rel=1e-3
    )
    assert "accuracy" in metrics  # the labels are classes


def test_margin_on_one_unit_is_two_classes() -> None:
    model, params, batch = _model_and_batch("binary", "margin")
    out = np.asarray(model.apply(params, batch["inputs"]["x"])["y"], np.float64)
    t = np.asarray(batch["targets"]["y"], np.float64)
    expected = (t * np.maximum(0, 0.9 - out) ** 2 + 0.5 * (1 - t) * np.maximum(0, out - 0.1) ** 2).mean()
    assert float(model.loss(params, batch, None)[0]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", sorted(METRICS))
def test_every_metric_is_computed_or_refused_where_it_is_asked_for(name: str) -> None:
    if METRICS[name].status == PLANNED:
        text = _text("regression", "mse", ["mse", name])
        model, params, batch = _model_and_batch("regression", "mse", ["mse", name])
        with pytest.raises(SpecError) as err:
            jax.jit(model.loss)(params, batch, None)
        (problem,) = err.value.problems
        assert problem.path == "train.metrics[1]" and problem.loc.line == _line_of(text, "metrics")
        assert problem.loc.col == text.splitlines()[problem.loc.line - 1].index(name) + 1
        assert "planned" in problem.message and problem.fix
        return
    if name == "ks_statistic":  # the GAN's: its network is two composed parts (specs/zoo/gan.yaml)
        model = cellgraph.compile(ZOO / "gan.yaml")
        params = model.init(jax.random.key(0))
        batch = model.batch(np.random.default_rng(0).normal(4.0, 0.5, (64, 1)).astype(np.float32))
        _, metrics = jax.jit(model.loss)(params, batch, None)
        assert 0.0 <= float(metrics[name]) <= 1.0
        return
    if name in NETWORK_METRICS:  # a network's own figure: computed by its rule's scoring, on its zoo spec
        assert name in NETWORK_METRIC_SPEC, f"add a zoo spec reporting {name!r} to NETWORK_METRIC_SPEC"
        path = ZOO / NETWORK_METRIC_SPEC[name]
        model = cellgraph.compile(path)
        data = load_dataset(cellgraph.load_spec(path).data, path.parent)
        batch = model.batch(data.x_test, data.y_test)
        _, metrics = jax.jit(model.loss)(model.init(jax.random.key(0)), batch, None)
        assert name in metrics and np.isfinite(float(metrics[name]))
        return
    assert name in METRIC_NET, f"add a network for metric {name!r} to METRIC_NET"
    net, loss = METRIC_NET[name]
    model, params, batch = _model_and_batch(net, loss, [name])
    _, metrics = jax.jit(model.loss)(params, batch, None)
    assert name in metrics and np.isfinite(float(metrics[name]))


def _scored(out: list, target: list, act: str = "linear", kind: str = "mse") -> Scored:
    return Scored(jnp.asarray(out, jnp.float32), jnp.asarray(target, jnp.float32), jnp.asarray(out), act, kind, 0.04)


def test_new_metrics_have_their_textbook_values() -> None:
    s = _scored([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])
    var = np.var([1.0, 2.0, 4.0])
    assert float(METRIC_FNS["nrmse"](s)) == pytest.approx(np.sqrt((1 / 3) / var), rel=1e-6)
    assert float(METRIC_FNS["r2"](s)) == pytest.approx(1 - 1 / (3 * var), rel=1e-6)
    assert float(METRIC_FNS["rmse"](s)) == pytest.approx(np.sqrt(1 / 3), rel=1e-6)
    bits = _scored([[0.9, 0.2, 0.7], [0.1, 0.6, 0.4]], [[1, 0, 0], [1, 0, 0]], act="sigmoid", kind="bce")
    assert float(METRIC_FNS["bit_errors"](bits)) == pytest.approx(1.5)  # 1 wrong, then 2 wrong (0.1 and 0.6)
    tokens = Scored(jnp.eye(3)[jnp.array([[0, 1], [2, 2]])], jnp.array([[0, 1], [2, 0]]), jnp.eye(3)[jnp.array([[0, 1], [2, 2]])], "softmax", "cross_entropy", 0.04)  # fmt: skip
    assert float(METRIC_FNS["token_accuracy"](tokens)) == pytest.approx(0.75)


@pytest.mark.parametrize(
    ("net", "loss", "metric"),
    [
        ("classes", "cross_entropy", "rmse"),
        ("classes", "cross_entropy", "reconstruction_error"),
        ("regression", "mse", "kl"),
        ("binary", "bce", "log_likelihood"),  # a network's own figure: RBMs, Boltzmann machines, chains
        ("regression", "mse", "quantization_error"),
    ],
)
def test_a_metric_the_network_does_not_define_is_refused_not_dropped(net: str, loss: str, metric: str) -> None:
    model, params, batch = _model_and_batch(net, loss, ["accuracy" if net == "classes" else "mse", metric])
    with pytest.raises(SpecError) as err:
        jax.jit(model.loss)(params, batch, None)
    (problem,) = err.value.problems
    assert problem.path == "train.metrics[1]" and problem.loc.line > 0
    assert f"metric '{metric}' is not defined" in problem.message and METRICS[metric].applies in problem.message


def test_the_dead_data_size_check_is_gone() -> None:
    # the label check that runs is cellgraph.graph.fit.check_data_fits; this one was never called
    assert not hasattr(checks, "_check_data_fits")


SHIPPED = sorted([*ZOO.glob("*.yaml"), *EXAMPLES.glob("*.yaml"), *(ROOT / "docs" / "examples").glob("*.yaml")])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_spec_asks_only_for_implemented_names_or_is_refused_clearly(path: Path) -> None:
    graph = cellgraph.load_graph(path)  # validates
    spec = graph.graph["spec"]
    names = [(LOSSES, loss_name(spec.train.get("loss")))] + [
        (METRICS, m) for _, m in metric_names(spec.train.get("metrics"))
    ]
    planned = [n for records, n in names if n is not None and records[n].status == PLANNED]
    problems = Problems()
    check_implemented(spec, problems)
    assert len(problems) == len(planned)
    for problem in problems.items:
        assert Path(problem.loc.file).resolve() == path.resolve() and problem.loc.line > 0
        assert "planned" in problem.message and problem.fix
    if planned:  # refusing it costs nothing that trains today: its rule has no trainer yet either
        assert spec.train.get("rule", "backprop") not in TRAINED_TODAY, (path.name, planned)


TRAINABLE = [
    p
    for p in sorted([*ZOO.glob("*.yaml"), *EXAMPLES.glob("*.yaml")])
    if cellgraph.load_spec(p).train.get("rule", "backprop") in TRAINED_TODAY
    and cellgraph.load_spec(p).data  # no `data:` block: trained on the caller's arrays (tests/test_own_networks.py)
]


UNSCORED: dict[str, str] = {}
"""Shipped specs whose loss cannot be evaluated for reasons outside the loss and metric names."""


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, marks=pytest.mark.xfail(reason=UNSCORED[p.stem], strict=True)) if p.stem in UNSCORED else p
        for p in TRAINABLE
    ],
    ids=lambda p: f"{p.parent.name}/{p.stem}",
)
def test_shipped_spec_that_trains_today_reports_every_metric_it_asks_for(path: Path) -> None:
    from cellgraph.compiler import CompileError

    try:
        model = cellgraph.compile(path)
        params = jax.eval_shape(model.init, jax.random.key(0))
    except CompileError:
        pytest.skip("its cells compile with later work (tests/test_compiler.py: LATER)")
    spec = model.graph.graph["spec"]
    data = load_dataset(spec.data, path.parent)
    batch = model.batch(data.x_train[:8], None if data.y_train is None else data.y_train[:8])
    state = model.init_state() if model.stateful else None  # batch norm reads its running statistics
    _, metrics = jax.eval_shape(model.loss, params, batch, None, state)  # shapes only: no step is run
    assert {m for _, m in metric_names(spec.train.get("metrics"))} <= set(metrics)


def test_refuse_planned_names_the_planned_metrics_and_passes_the_rest() -> None:
    text = _text("binary", "bce", ["accuracy", "spearman", "mse"])
    with pytest.raises(SpecError) as err:
        checks.refuse_planned(cellgraph.load_spec_text(text, "planned.yaml"))
    assert [p.path for p in err.value.problems] == ["train.metrics[1]"]
    checks.refuse_planned(cellgraph.load_spec(ZOO / "dff.yaml"))  # nothing planned: no error
    checks.refuse_planned(cellgraph.load_spec(ZOO / "gan.yaml"))  # the adversarial loss and KS: implemented


def test_cli_train_refuses_a_planned_metric_located_with_exit_1(
    run_cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = tmp_path / "planned.yaml"
    spec.write_text(_text("binary", "bce", ["spearman"]) + "  epochs: 1\ndata: {source: xor}\n")
    monkeypatch.chdir(tmp_path)
    assert run_cli("validate", spec).code == 0  # a planned name validates: the spec can be drawn
    result = run_cli("train", spec)
    assert result.code == 1 and "Traceback" not in result.err
    line = _line_of(spec.read_text(), "metrics")
    assert f"{spec}:{line}:" in result.err and "metric 'spearman' is planned" in result.err


@pytest.mark.parametrize(("rule", "loss"), [("backprop", "adversarial"), ("adversarial", "mse")])
def test_the_adversarial_loss_and_rule_go_together(rule: str, loss: str) -> None:
    text = _text("binary", loss) + f"  rule: {rule}\n"
    with pytest.raises(SpecError) as err:
        cellgraph.build_graph(cellgraph.load_spec_text(text, "adv.yaml"))
    assert any(p.path == "train.loss" and "rule: adversarial" in p.fix for p in err.value.problems)


def test_the_label_check_covers_every_loss_that_reads_labels() -> None:
    from cellgraph.graph.fit import label_outputs

    graph = cellgraph.build_graph(cellgraph.load_spec_text(_text("capsules", "margin"), "m.yaml"))
    assert list(label_outputs(graph)) == ["y"]  # labels of 3 on 3 units: refused, not one-hot to zeros
