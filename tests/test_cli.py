"""The `cellgraph` command: validate, summary, schema, cells; exit codes 0 / 1 / 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from conftest import BAD_SPECS, EXAMPLES, GOOD_SPECS, ROOT, CliRunner, run_cli_process, zoo_files

from cellgraph import load_spec
from cellgraph.cells import CELLS
from cellgraph.spec.load import load_file

TINY = GOOD_SPECS / "tiny.yaml"

# ----------------------------------------------------------------------------------- validate


def test_validate_good_spec_exits_0(run_cli: CliRunner) -> None:
    result = run_cli("validate", TINY)
    assert result.code == 0, result.err
    assert result.out == f"ok  {TINY}: 4 groups, 3 edges, 37 parameters\n"
    assert result.err == ""


def test_validate_quiet_prints_nothing_on_success(run_cli: CliRunner) -> None:
    result = run_cli("validate", "-q", TINY)
    assert (result.code, result.out, result.err) == (0, "", "")


def test_validate_bad_spec_exits_1(run_cli: CliRunner, bad_specs_dir: Path) -> None:
    result = run_cli("validate", bad_specs_dir / "negative_size.yaml")
    assert result.code == 1
    assert "negative_size.yaml:8:11: cells.h.size" in result.err


def test_validate_good_and_bad_together(run_cli: CliRunner) -> None:
    result = run_cli("validate", TINY, BAD_SPECS / "unknown_type.yaml")
    assert result.code == 1
    assert f"ok  {TINY}" in result.out
    assert "unknown cell type 'hiden'" in result.err
    assert "1 of 2 specs valid" in result.err


def test_validate_a_folder_checks_every_yaml_in_it(run_cli: CliRunner) -> None:
    result = run_cli("validate", "-q", GOOD_SPECS)
    assert result.code == 0, result.err
    result = run_cli("validate", BAD_SPECS / "parts")
    assert result.code == 1  # small_part.yaml is fine, broken_part.yaml is not
    assert "broken_part.yaml:7:11: cells.h.size" in result.err
    assert "ok  " in result.out and "small_part.yaml" in result.out


def test_validate_missing_file_exits_1(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("validate", tmp_path / "nope.yaml")
    assert result.code == 1
    assert "nope.yaml: file not found" in result.err


@pytest.mark.parametrize(
    "argv",
    [
        (),
        ("frobnicate",),
        ("validate",),
        ("summary",),
        ("validate", "--max-params", "many", str(TINY)),
        ("validate", "--no-such-flag", str(TINY)),
        ("cells", "--json", "--bogus"),
    ],
    ids=[
        "no-command",
        "unknown-command",
        "validate-no-file",
        "summary-no-file",
        "bad-max-params",
        "bad-flag",
        "cells-bad-flag",
    ],
)
def test_usage_errors_exit_2(argv: tuple[str, ...], run_cli: CliRunner) -> None:
    result = run_cli(*argv)
    assert result.code == 2
    assert "usage: cellgraph" in result.err
    assert "Traceback" not in result.text


def test_malformed_override_is_a_usage_error(run_cli: CliRunner) -> None:
    result = run_cli("validate", TINY, "-p", "width")
    assert result.code == 2, "a -p without `=` is a usage error, like any malformed option"
    assert "name=value" in result.err
    assert "Traceback" not in result.text


def test_usage_error_from_a_real_process() -> None:
    result = run_cli_process("validate")
    assert result.code == 2
    assert "the following arguments are required: SPEC" in result.err


def test_version_and_help_exit_0(run_cli: CliRunner) -> None:
    version = run_cli("--version")
    assert version.code == 0
    assert re.match(r"cellgraph \S+", version.out)
    help_ = run_cli("--help")
    assert help_.code == 0
    for command in ("validate", "summary", "schema", "cells"):
        assert command in help_.out


# -------------------------------------------------------------------------------- -p and limits


def _shapes(run_cli: CliRunner, *args: str) -> dict[str, str]:
    result = run_cli("summary", "--json", TINY, *args)
    assert result.code == 0, result.err
    return {g["name"]: g["shape"] for g in json.loads(result.out)["groups"]}


def test_overrides_change_the_shapes(run_cli: CliRunner) -> None:
    assert _shapes(run_cli) == {"x": "2", "h.1": "4", "h.2": "4", "y": "1"}
    assert _shapes(run_cli, "-p", "width=7") == {"x": "2", "h.1": "7", "h.2": "7", "y": "1"}
    assert _shapes(run_cli, "-p", "width=5", "-p", "depth=3") == {
        "x": "2",
        "h.1": "5",
        "h.2": "5",
        "h.3": "5",
        "y": "1",
    }


def test_override_of_wrong_type_is_located_at_the_use(run_cli: CliRunner) -> None:
    result = run_cli("validate", TINY, "-p", "width=wide")
    assert result.code == 1
    assert "tiny.yaml:13:11: cells.h.size:" in result.err
    assert "'wide'" in result.err


def test_unknown_override_is_refused(run_cli: CliRunner) -> None:
    result = run_cli("validate", TINY, "-p", "widht=3")
    assert result.code == 1
    assert "<command line>: -p widht: no param named 'widht' in this spec; did you mean 'width'?" in result.err


def test_max_params_refuses_a_bigger_network(run_cli: CliRunner) -> None:
    assert run_cli("validate", "-q", TINY, "--max-params", "37").code == 0
    result = run_cli("validate", TINY, "--max-params", "36")
    assert result.code == 1
    assert "the network needs 37 parameters, over the limit of 36" in result.err
    assert "nothing was allocated" in result.err


# -------------------------------------------------------------------------------------- summary


def test_summary_table(run_cli: CliRunner) -> None:
    result = run_cli("summary", TINY)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == f"Tiny feed-forward network  ({TINY})"
    assert lines[1].split()[:5] == ["group", "type", "shape", "params", "drawn"]
    assert set(lines[2].replace(" ", "")) == {"-"}
    rows = [line.split()[:5] for line in lines[3:7]]
    assert rows == [
        ["x", "input", "2", "0", "2"],
        ["h.1", "hidden", "4", "12", "4"],
        ["h.2", "hidden", "4", "20", "4"],
        ["y", "output", "1", "5", "1"],
    ]
    assert "total: 37 parameters (37 trainable, 0 fixed)" in result.out


def test_summary_json(run_cli: CliRunner) -> None:
    result = run_cli("summary", "--json", TINY)
    assert result.code == 0, result.err
    report = json.loads(result.out)
    assert report["name"] == "tiny"
    assert report["title"] == "Tiny feed-forward network"
    assert report["params"] == {"trainable": 37, "fixed": 0, "total": 37}
    assert [(g["name"], g["type"], g["params"], g["drawn"]) for g in report["groups"]] == [
        ("x", "input", 0, 2),
        ("h.1", "hidden", 12, 4),
        ("h.2", "hidden", 20, 4),
        ("y", "output", 5, 1),
    ]


def test_summary_of_a_bad_spec_exits_1(run_cli: CliRunner) -> None:
    result = run_cli("summary", BAD_SPECS / "dangling_edge.yaml")
    assert result.code == 1
    assert "unknown group 'hh'" in result.err
    assert result.out == ""


# --------------------------------------------------------------------------------------- schema


@pytest.fixture(scope="module")
def schema() -> dict:
    result = run_cli_process("schema")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_schema_is_a_valid_json_schema(schema: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == {"cellgraph", "name", "cells", "edges"}
    variants = schema["properties"]["cells"]["additionalProperties"]["oneOf"]
    types = {v["properties"]["type"]["const"] for v in variants if "type" in v["properties"]}
    assert types == set(CELLS)


def test_schema_written_to_a_file(run_cli: CliRunner, tmp_path: Path, schema: dict) -> None:
    out = tmp_path / "schema.json"
    assert run_cli("schema", "-o", out).code == 0
    assert json.loads(out.read_text()) == schema


SCHEMA_SPECS = [*zoo_files(), EXAMPLES / "mushroom.yaml", TINY, *sorted((ROOT / "specs" / "parts").glob("*.yaml"))]
SCHEMA_IDS = [p.stem for p in SCHEMA_SPECS]


def _schema_errors(data: object, schema: dict) -> list[str]:
    errors = jsonschema.Draft202012Validator(schema).iter_errors(data)
    return sorted(f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors)


@pytest.mark.parametrize("path", SCHEMA_SPECS, ids=SCHEMA_IDS)
def test_every_shipped_spec_matches_the_schema(path: Path, schema: dict) -> None:
    """The spec with its params substituted (what validation checks) is valid under the schema."""
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    data = load_spec(path).doc.data
    assert _schema_errors(data, schema) == []


@pytest.mark.parametrize("path", SCHEMA_SPECS, ids=SCHEMA_IDS)
def test_schema_accepts_the_spec_as_written(path: Path, schema: dict) -> None:
    """As written (what an editor sees): `${...}` references are allowed wherever a value is,
    list items included (``shape: [${side}, ${side}, 1]``)."""
    if not path.exists():
        pytest.skip(f"{path.name} is not written yet")
    data = load_file(path).data
    assert _schema_errors(data, schema) == []


@pytest.mark.parametrize(
    "name", ["unknown_top_key", "unknown_type", "unknown_key", "negative_size", "missing_edges", "edge_bad_kind"]
)
def test_schema_refuses_bad_specs(name: str, schema: dict) -> None:
    data = load_file(BAD_SPECS / f"{name}.yaml").data
    assert not jsonschema.Draft202012Validator(schema).is_valid(data)


# ---------------------------------------------------------------------------------------- cells


def test_cells_lists_the_14_types(run_cli: CliRunner) -> None:
    result = run_cli("cells")
    assert result.code == 0
    listed = re.findall(r"^(\w+)  — ", result.out, flags=re.MULTILINE)
    assert sorted(listed) == sorted(CELLS)
    assert len(listed) == 14
    assert listed[0] == "input"  # the chart's legend order


def test_cells_filters_by_type_and_lists_every_option(run_cli: CliRunner) -> None:
    result = run_cli("cells", "kernel")
    assert result.code == 0
    assert re.findall(r"^(\w+)  — ", result.out, flags=re.MULTILINE) == ["kernel"]
    for option in CELLS["kernel"].options:
        assert re.search(rf"^    {option}\s", result.out, flags=re.MULTILINE), option


def test_cells_json(run_cli: CliRunner) -> None:
    result = run_cli("cells", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert sorted(data) == sorted(CELLS)
    assert set(data["hidden"]["options"]) == set(CELLS["hidden"].options)


def test_validate_a_folder_checks_every_spec_below_it(run_cli: CliRunner) -> None:
    result = run_cli("validate", str(ROOT / "specs"))
    assert result.code == 0, result.err
    checked = [line for line in result.out.splitlines() if line.startswith("ok  ")]
    assert len(checked) == len(list((ROOT / "specs").rglob("*.yaml"))) >= 33
    assert any("specs/parts/gan_generator.yaml" in line for line in checked)


def test_validate_an_empty_folder_is_a_usage_error(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path))
    assert result.code == 2
    assert "no .yaml files under" in result.err
