"""The 29 zoo specs and the mushroom example: each validates and draws the chart's cells.

The expected drawings are transcribed from /work/shared/zoo/ZOO.md: §2.0b and §2.1-2.29 for the
columns (left to right, ``count x TYPE``) and Appendix A for the irregular networks. Regular
column networks must draw exactly those columns in that order; irregular ones (octagons, grids,
reservoirs, DNC, NTM, AN) must draw the same number of cells of each type. The learning rule
is the chart's too (§2.0b "rule").
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import EXAMPLES, ZOO, CliRunner

import cellgraph
from cellgraph.graph.drawspec import drawn_groups

In, BIn, NIn = "input", "backfed_input", "noisy_input"
H, PH, SH, Cap = "hidden", "probabilistic_hidden", "spiking_hidden", "capsule"
Out, MIO = "output", "match_input_output"
Rec, Mem, GMem = "recurrent", "memory", "gated_memory"
K, CP = "kernel", "convolution"

# net -> the chart's columns, left to right, as (cell type, cells drawn)
COLUMNS: dict[str, list[tuple[str, int]]] = {
    "p": [(In, 2), (Out, 1)],
    "ff": [(In, 2), (H, 2), (Out, 1)],
    "rbf": [(In, 2), (H, 2), (Out, 1)],
    "dff": [(In, 3), (H, 4), (H, 4), (Out, 2)],
    "rnn": [(In, 3), (Rec, 3), (Rec, 3), (Out, 3)],
    "lstm": [(In, 3), (Mem, 3), (Mem, 3), (Out, 3)],
    "gru": [(In, 3), (GMem, 3), (GMem, 3), (Out, 3)],
    "ae": [(In, 4), (H, 2), (MIO, 4)],
    "vae": [(In, 4), (PH, 4), (MIO, 4)],
    "dae": [(NIn, 4), (H, 4), (MIO, 4)],
    "sae": [(In, 2), (H, 4), (MIO, 2)],
    "rbm": [(BIn, 3), (PH, 4)],
    "dbn": [(BIn, 4), (PH, 2), (H, 4), (PH, 2), (H, 4), (PH, 2), (MIO, 4)],
    "dcn": [(In, 5), (K, 5), (CP, 4), (CP, 3), (CP, 2), (H, 4), (H, 4), (Out, 3)],
    "dn": [(In, 2), (CP, 3), (CP, 4), (K, 5), (Out, 5)],
    "dcign": [(In, 5), (K, 5), (CP, 4), (CP, 3), (PH, 3), (CP, 3), (CP, 4), (K, 5), (Out, 5)],
    "gan": [(BIn, 3), (H, 3), (H, 3), (MIO, 3), (H, 3), (H, 3), (MIO, 2)],
    "drn": [(In, 2), *[(H, 2)] * 7, (Out, 2)],
    "cn": [(In, 5), (K, 5), (Cap, 4), (Cap, 3), (Cap, 2), (H, 3), (H, 3), (Out, 3)],
}

# net -> cells drawn per type, for the irregular pictures (Appendix A)
CELL_TOTALS: dict[str, dict[str, int]] = {
    "mc": {PH: 8},
    "hn": {BIn: 8},
    "bm": {BIn: 3, PH: 5},
    "kn": {In: 2, H: 9},
    "lsm": {In: 3, SH: 12, Out: 2},
    "elm": {In: 3, H: 12, Out: 2},
    "esn": {In: 3, Rec: 12, Out: 2},
    # 3 In, 2 + 2 + 3 H, 1 Out, 3 Mem
    "ntm": {In: 3, H: 7, Out: 1, Mem: 3},
    # In I1, I2 and the read-back R; controller 2 x 3 Rec; Out O and the interface W; 2 x 7 Mem
    "dnc": {In: 3, Rec: 6, Out: 2, Mem: 14},
    # In I1, I2 and the query Q; encoder 2 + decoder 4 Rec; 2 x 2 Mem; context X and O; 2 x 2 H
    "an": {In: 3, Rec: 6, Mem: 4, Out: 2, H: 4},
}

RULES: dict[str, str] = {
    "p": "perceptron",
    "ff": "backprop",
    "rbf": "least_squares",
    "dff": "backprop",
    "rnn": "backprop",
    "lstm": "backprop",
    "gru": "backprop",
    "ae": "backprop",
    "vae": "backprop",
    "dae": "backprop",
    "sae": "backprop",
    "mc": "counting",
    "hn": "hebbian",
    "bm": "boltzmann",
    "rbm": "contrastive_divergence",
    "dbn": "greedy_layerwise",
    "dcn": "backprop",
    "dn": "backprop",
    "dcign": "backprop",
    "gan": "adversarial",
    "lsm": "ridge",
    "elm": "least_squares",
    "esn": "ridge",
    "drn": "backprop",
    "dnc": "backprop",
    "ntm": "backprop",
    "cn": "backprop",
    "kn": "som",
    "an": "backprop",
}

NETS = "p ff rbf dff rnn lstm gru ae vae dae sae mc hn bm rbm dbn dcn dn dcign gan lsm elm esn drn dnc ntm cn kn an"
ZOO_NETS = NETS.split()
ALL_SPECS = [ZOO / f"{n}.yaml" for n in ZOO_NETS] + [EXAMPLES / "mushroom.yaml"]
ALL_IDS = [*ZOO_NETS, "mushroom"]


def _path(net: str) -> Path:
    path = ZOO / f"{net}.yaml"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ZOO.parent.parent)} is not written yet")
    return path


_GRAPHS: dict[Path, object] = {}


def _graph(path: Path):
    if path not in _GRAPHS:
        _GRAPHS[path] = cellgraph.load_graph(path)
    return _GRAPHS[path]


def test_tables_cover_the_29_nets() -> None:
    assert len(ZOO_NETS) == 29
    assert set(COLUMNS) | set(CELL_TOTALS) == set(ZOO_NETS)
    assert not set(COLUMNS) & set(CELL_TOTALS)
    assert set(RULES) == set(ZOO_NETS)


def test_no_unexpected_zoo_files(zoo_dir: Path) -> None:
    extra = sorted(p.stem for p in zoo_dir.glob("*.yaml") if p.stem not in ZOO_NETS)
    assert extra == []


@pytest.mark.parametrize("path", ALL_SPECS, ids=ALL_IDS)
def test_spec_validates(path: Path, run_cli: CliRunner) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    result = run_cli("validate", path)
    assert result.code == 0, result.err
    assert result.out.startswith(f"ok  {path}")
    assert "Traceback" not in result.text


@pytest.mark.parametrize("path", ALL_SPECS, ids=ALL_IDS)
def test_spec_has_title_description_and_a_leading_comment(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    spec = cellgraph.load_spec(path)
    assert spec.title.strip()
    assert len(spec.description.strip()) >= 20
    assert path.read_text(encoding="utf-8").startswith("#")  # STYLE: each spec starts with a comment


@pytest.mark.parametrize("net", sorted(COLUMNS), ids=sorted(COLUMNS))
def test_regular_network_draws_the_charts_columns(net: str) -> None:
    drawn = [(cell_type, shown) for _, cell_type, shown in drawn_groups(_graph(_path(net)))]
    assert drawn == COLUMNS[net]


@pytest.mark.parametrize("net", sorted(CELL_TOTALS), ids=sorted(CELL_TOTALS))
def test_irregular_network_draws_the_charts_cells(net: str) -> None:
    totals: Counter[str] = Counter()
    for _, cell_type, shown in drawn_groups(_graph(_path(net))):
        totals[cell_type] += shown
    assert dict(totals) == CELL_TOTALS[net]


@pytest.mark.parametrize("net", ZOO_NETS, ids=ZOO_NETS)
def test_zoo_spec_trains_with_the_charts_rule_on_named_data(net: str) -> None:
    spec = cellgraph.load_spec(_path(net))
    assert "rule" in spec.train, "the train block names its rule"
    assert spec.train["rule"] == RULES[net]
    assert spec.data.get("source") or spec.data.get("csv"), "the data block names its source"


@pytest.mark.parametrize("path", ALL_SPECS, ids=ALL_IDS)
def test_summary_json(path: Path, run_cli: CliRunner) -> None:
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    result = run_cli("summary", "--json", path)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    graph = _graph(path)
    assert report["name"] == graph.graph["spec"].name
    assert [g["name"] for g in report["groups"]] == list(graph.nodes)
    assert report["params"]["total"] == graph.graph["params"]["total"] > 0
    assert report["params"]["total"] == report["params"]["trainable"] + report["params"]["fixed"]
    assert all(g["shape"] != "?" for g in report["groups"])


def test_mushroom_example_reads_the_shipped_data() -> None:
    path = EXAMPLES / "mushroom.yaml"
    if not path.exists():
        pytest.skip("specs/examples/mushroom.yaml is not written yet")
    graph = _graph(path)
    spec = graph.graph["spec"]
    assert spec.data["source"] == "mushroom"
    first = next(iter(graph.nodes))
    assert graph.nodes[first]["shape"] == (117,)  # one-hot mushroom attributes
