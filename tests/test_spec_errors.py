"""Every broken spec in tests/bad_specs/ is refused with a located message and a fix (Hydra's error table).

Each case names the file, the first line of the message it must print (``file:line:col: key.path:
problem``), a piece of its ``fix:`` line and how many problems the file has. A file has one
problem unless the table says otherwise; more means follow-on noise ("unknown group 'h'" after
``h`` was already refused), which hides the real problem from the user.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import BAD_SPECS, CliResult, CliRunner, run_cli_process


@dataclass(frozen=True)
class Case:
    name: str  # file stem in tests/bad_specs (or a generated file)
    head: str  # the located first line of the problem, after the file name
    fix: str  # a piece of the `fix:` line that follows it
    problems: int = 1  # problems the file really has
    args: tuple[str, ...] = ()  # extra command-line arguments
    generated: bool = False  # written by the generated_bad_specs fixture


CASES: list[Case] = [
    # --- reading the file
    Case("empty", ":1:1: file is empty", "start the spec with `cellgraph: 1`"),
    Case("binary", ":3:1: file holds binary data (NUL bytes), not YAML text", "UTF-8 text", generated=True),
    Case("invalid_utf8", ":3:11: not valid UTF-8 text (byte 0xe9)", "save the spec as UTF-8", generated=True),
    Case(
        "control_character",
        ":3:12: YAML cannot read this character: control characters are not allowed",
        "remove control characters",
        generated=True,
    ),
    # --- YAML
    Case("yaml_syntax", ":6:4: YAML syntax error: did not find expected ',' or '}'", "colons and brackets"),
    Case("tab_indent", ":5:1: YAML syntax error: found character that cannot start any token", "never tabs"),
    Case("multiple_documents", ":9:1: file holds more than one YAML document", "remove the `---` separator"),
    Case("non_mapping", ":2:1: the document is a list, not a mapping", "a spec is a mapping"),
    Case("duplicate_key", ":7:3: cells.h: duplicate key 'h' (first at line 6)", "remove or rename one"),
    Case("key_not_scalar", ":6:5: cells: a key must be a plain name, not a list or mapping", "use a name as the key"),
    Case("merge_non_mapping", ":7:10: cells.y: `<<` merges only mappings", "point `<<:` at a mapping", problems=2),
    Case(
        "python_tag",
        ":5:6: cells.x: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
        "never constructs objects",
    ),
    Case("tag_mismatch", ":5:26: cells.x.size: 'two' is not a valid !!int", "write an int or remove the tag"),
    Case(
        "yaml11_no_bool",
        ":6:40: cells.h.use_bias: expected true or false, got 'no' ('no' is the boolean false in YAML 1.1",
        "write true or false",
    ),
    Case(
        "yaml11_octal",
        ":6:27: cells.h.size: '010' is octal 8 in YAML 1.1 but 10 in YAML 1.2",
        "without a leading zero",
    ),
    Case(
        "yaml11_group_name",
        ":6:3: cells.no: 'no' is the boolean false in YAML 1.1 but a string in YAML 1.2",
        "quote the name",
    ),
    # --- safety limits
    Case("alias_bomb", ":5:42: document expands to more than 20,000 values (alias bomb?)", "remove nested aliases"),
    Case("recursive_alias", ":5:9: params.loop[1]: an alias refers to the mapping or list that contains it", "&anchor"),
    Case("deep_nesting", ":4:54: nesting deeper than 40 levels", "flatten the structure"),
    Case("huge_repeat", ":6:38: cells.h.repeat: 1,000,000 is over the limit of 1,000", "use a smaller count"),
    Case("huge_group", ":5:3: cells.x: 'x' has 200,000,000 cells, over the limit of 100,000,000", "smaller group"),
    Case(
        "huge_params",
        ":6:3: cells.h: the network needs 1,000,002,000,001 parameters, over the limit of 2,000,000,000",
        "`--max-params`",
    ),
    # --- top level
    Case("wrong_version", ":2:12: cellgraph: unsupported format version 2", "write `cellgraph: 1`"),
    Case("missing_name", ":2:1: name: missing required key 'name'", "add `name: my_network`"),
    Case("missing_edges", ":2:1: edges: missing required key 'edges'", "add `edges:`"),
    Case("bad_name", ":3:7: name: the string 'Tiny Net' is not a valid network name", "lower case letters"),
    Case("title_not_text", ":4:8: title: expected text, got the number 42", "quote the title"),
    Case("unknown_top_key", ":4:1: tittle: unknown key 'tittle' in the spec; did you mean 'title'?", "valid keys:"),
    Case("cells_empty", ":4:7: cells: expected a mapping of group names to groups, got nothing", "one line per group"),
    Case("edges_not_list", ":7:8: edges: expected a list of edge statements, got the string 'x -> y'", "edges: []"),
    # --- params
    Case("bad_param_reference", ":10:11: cells.h.size: unknown param 'widht'; did you mean 'width'?", "(known: width)"),
    Case("bad_param_name", ":5:3: params.2width: '2width' is not a valid param name", "starting with a letter"),
    Case("param_refers_param", ":6:11: params.double: a param cannot refer to other params", "give the value itself"),
    Case(
        "code_in_reference",
        ":9:11: cells.h.size: bad reference '${__import__('os').getpid()}': only numbers, param names",
        "arithmetic expression of params",
    ),
    Case("bad_expression", ":9:11: cells.h.size: bad reference '${width // 0}': division by zero", "`${2 * width}`"),
    Case(
        "unknown_override",
        "<command line>: -p widht: no param named 'widht' in this spec; did you mean 'width'?",
        "declared params: width",
        args=("-p", "widht=3"),
    ),
    # --- cell groups
    Case("missing_type", ":6:6: cells.h: missing 'type'", "`type: hidden`"),
    Case(
        "unknown_type",
        ":6:13: cells.h.type: unknown cell type 'hiden'; did you mean 'hidden'?",
        "known types: backfed_input, capsule",
    ),
    Case(
        "unknown_key",
        ":6:30: cells.h.activaton: unknown key 'activaton' in a hidden group; did you mean 'activation'?",
        "valid keys: activation",
    ),
    Case("negative_size", ":8:11: cells.h.size: expected an integer in >= 1, got -3", "number of cells in the group"),
    Case(
        "bad_activation",
        ":6:42: cells.h.activation: expected one of linear, relu",
        "activation applied to the weighted sum",
    ),
    Case("size_and_shape", ":5:36: cells.x.shape: give either `size` or `shape`, not both", "keep `shape:`"),
    Case("style_not_mapping", ":5:36: cells.x.style: expected a mapping of drawing attributes", "style: {fill:"),
    Case("dotted_group_name", ":6:3: cells.h.1: 'h.1' is not a valid group name", "dots are for `group.cell`"),
    Case("repeat_zero", ":6:38: cells.h.repeat: expected a positive integer, got the number 0", "`repeat: 3`"),
    Case("float_repeat", ":6:38: cells.h.repeat: expected a positive integer, got the number 2.5", "`repeat: 3`"),
    Case("residual_one", ":6:51: cells.h.residual: residual 1 would join neighbours", "`residual: 2`"),
    Case("residual_too_short", ":6:51: cells.h.residual: residual 2 needs repeat > 2 (repeat is 2)", "at least 3"),
    Case(
        "capsule_with_shape",
        ":9:5: edges[0]: shape mismatch on x -> c: 'c' (capsule) gets [4]: a capsule group takes `size` and `dim`",
        "replace `shape:` by `size:` and `dim:`",
    ),
    Case(
        "mio_without_input",
        ":5:3: cells.h: 'h' has no input",
        "connect something to it",
        problems=2,  # and 'y' (match_input_output) then has no input to take its size from
    ),
    Case("mio_unknown_target", ":7:41: cells.y.target: unknown group 'z'", "name the input group"),
    # --- composition
    Case("use_missing_file", ":6:14: cells.enc.use: 'parts/no_such_part.yaml': file not found", "relative to this"),
    Case("use_with_type", ":6:35: cells.p.type: unknown key 'type' in group 'p' (a `use:` group)", "use, params, bind"),
    Case("use_broken_part", ":7:11: cells.h.size: expected an integer in >= 1, got -4", "number of cells"),
    Case("bind_unknown", ":8:12: cells.p.bind.inp: 'parts/small_part.yaml' has no group 'inp'", "part's input"),
    Case("bind_unknown_target", ":8:15: cells.p.bind.i: unknown group 'z'", "bind the part's input to a group"),
    Case(
        "include_cycle_a",
        ":6:12: cells.a.use: include cycle: include_cycle_a.yaml -> include_cycle_b.yaml -> include_cycle_a.yaml",
        "a part cannot use itself",
    ),
    Case(
        "include_cycle_b",
        ":6:12: cells.b.use: include cycle: include_cycle_b.yaml -> include_cycle_a.yaml -> include_cycle_b.yaml",
        "a part cannot use itself",
    ),
    # --- edges
    Case("dangling_edge", ":9:10: edges[0]: unknown group 'hh'; did you mean 'h'?", "declare it under `cells:`"),
    Case("statement_syntax", ":8:10: edges[0]: '->' needs a cell name before it in 'x -> -> y'", "x -> h -> y"),
    Case("reversed_arrow", ":8:7: edges[0]: unexpected '<' in edge statement; edges point left to right", "a, b -> c"),
    Case("index_in_edge", ":8:6: edges[0]: cell indices like `x[0]` are only allowed in `draw.lines`", "whole groups"),
    Case(
        "edge_bad_kind", ":8:28: edges[0].kind: unknown connection kind 'dens'; did you mean 'dense'?", "kinds: dense"
    ),
    Case("edge_bad_delay", ":8:29: edges[0].delay: expected 0 or 1, got the number 2", "`delay: 1`"),
    Case("edge_merge_mapping", ":6:40: edges[1].merge: expected one of concat, add; got a mapping", "merge: how"),
    Case("metric_mapping", ":11:7: train.metrics[0]: expected a metric name, got a mapping", "metrics: accuracy"),
    Case(
        "edge_unknown_option",
        ":8:14: edges[0].trainabel: unknown key 'trainabel' in an edge; did you mean 'trainable'?",
        "valid keys:",
    ),
    Case("duplicate_edge", ":9:5: edges[1]: 'x' and 'y' are already connected (edges[0], line 8)", "connect two"),
    Case("hidden_without_input", ":6:3: cells.h: 'h' has no input", "connect something to it, e.g. `x -> h`"),
    Case("self_loop_hidden", ":10:5: edges[1]: 'h' feeds itself within one time step", "a delayed edge `h ~> h`"),
    Case(
        "input_fed",
        ":10:5: edges[1]: 'x' is an input group; nothing can feed it within a time step",
        "use `~>` for feedback into 'x'",
        problems=2,  # the same edge also closes the cycle x -> h -> x
    ),
    Case(
        "noisy_input_fed",
        ":11:5: edges[1]: 'n' is an input group (noisy_input); nothing can feed it within a time step",
        "use `~>` for feedback into 'n'",
    ),
    Case(
        "emit_last_meets_sequence",
        ":10:5: edges[0]: 'h' reads a sequence from 'x' (one value per step) and one value per example from "
        "'r' (`emit: last`)",
        "drop `emit: last`",
    ),
    Case("undelayed_cycle", ":11:5: edges[1]: cycle with no delay: a -> b -> a", "make one edge delayed (`b ~> a`)"),
    # --- shapes
    Case(
        "shape_mismatch_identity",
        ":11:5: edges[1]: shape mismatch on a => y: 'a' is [3] but 'y' is [1]",
        "joins groups of the same shape",
    ),
    Case(
        "shape_mismatch_add",
        ":10:5: edges[1]: shape mismatch: `merge: add` into 'y' needs equal shapes, but a -> y brings [2] and b -> y"
        " brings [3]",
        "or use `merge: concat`",
    ),
    Case("mixed_merge", ":9:5: edges[0]: the inputs of 'y' mix `merge: add` and `merge: concat`", "the same `merge:`"),
    Case(
        "kernel_on_vector",
        ":9:5: edges[0]: shape mismatch on x -> k: 'k' (kernel) gets [16]: a kernel needs a spatial input",
        "`shape: [h, w, c]`",
    ),
    Case(
        "window_too_big",
        ":9:5: edges[0]: shape mismatch on x -> k: 'k' (kernel) gets [2, 2, 1]: window [5, 5] is larger than the input",
        "use a smaller window",
    ),
    # --- train
    Case(
        "unknown_rule", ":10:9: train.rule: unknown rule 'backpropagation'; did you mean 'backprop'?", "rules: backprop"
    ),
    Case(
        "perceptron_with_hidden",
        ":6:3: cells.h: the perceptron rule trains a single layer, but 'h' is a hidden layer",
        "`rule: backprop`",
    ),
    Case("backprop_with_step", ":6:3: cells.y: activation 'step' has no gradient", "`activation: sigmoid`"),
    Case(
        "unknown_optimizer", ":11:14: train.optimizer: unknown optax optimizer 'adamm'; did you mean 'adam'?", "adamw"
    ),
    Case("optimizer_with_perceptron", ":11:14: train.optimizer: rule 'perceptron' does not use an optimizer", "remove"),
    Case("unknown_loss", ":10:9: train.loss: unknown loss 'cross_entropi'; did you mean 'cross_entropy'?", "losses:"),
    Case("unknown_metric", ":10:23: train.metrics[1]: unknown metric 'acuracy'; did you mean 'accuracy'?", "metrics:"),
    Case(
        "unknown_precision",
        ":10:14: train.precision: expected one of float32, bfloat16, float16; got 'fp16'",
        "bfloat16",
    ),
    Case("steps_and_epochs", ":11:10: train.steps: give `epochs` or `steps`, not both", "keep one of the two"),
    Case(
        "adversarial_missing_parts",
        ":10:9: train.rule (adversarial): adversarial training needs `generator:`",
        "name the `use:` group of the generator",
        problems=2,  # and `discriminator:`
    ),
    # --- data
    Case(
        "unknown_data_source", ":10:11: data.source: unknown data source 'mushrooms'; did you mean 'mushroom'?", "xor"
    ),
    Case("bad_split", ":11:17: data.split.test: expected a number in (0, 1), got 1.5", "fraction held out"),
    Case("missing_csv", ":10:8: data.csv: CSV file 'no_such_file.csv' not found", "relative to the spec file"),
    # --- draw
    Case("draw_bad_view", ":10:9: draw.view: expected one of cells, layers; got 'circles'", "one node per group"),
    Case("draw_show_not_number", ":11:15: draw.groups.x.show: expected an integer, got 'many'", "cells drawn"),
    Case("draw_unknown_group", ":11:5: draw.groups.z: unknown group 'z'", "name a group of `cells:`"),
    Case(
        "draw_line_index_out_of_range",
        ":11:15: draw.lines[0]: 'y' shows 1 cells (0..0); [3:4] is out of range",
        "use indices below 1",
    ),
    Case("draw_line_directed", ":11:12: draw.lines[0]: draw lines are undirected; got '->'", "use `--`"),
    # --- text: printable, bounded (tests/test_text_safety.py has the rendering side)
    Case("text_title_escape", ":4:8: title: character 5 is the control character \\x1b", "one line of at most 200"),
    Case("text_title_markdown", ":4:8: title: character 5 is a line break \\r", "one line of at most 200"),
    Case("text_title_too_long", ":4:8: title: 250 characters, over the limit of 200", "at most 200 printable"),
    Case("text_name_newline", ":3:7: name: the string 'tiny\\n' is not a valid network name", "lower case letters"),
    Case("text_description_bidi", ":4:14: description: character 13 is the bidirectional control \\u202e", "4,000"),
    # --- optimizer arguments: typed and range-checked, so `validate` ok means `train` builds the optimizer
    Case("optim_learning_rate_text", ":11:42: train.optimizer.learning_rate: expected a number, got 'fast'", "0.001"),
    Case(
        "optim_learning_rate_huge",
        ":11:41: train.optimizer.learning_rate: expected a finite number in (0, inf), got inf",
        "`learning_rate: 0.001`",
    ),
    Case(
        "optim_learning_rate_negative",
        ":11:41: train.optimizer.learning_rate: expected a number in (0, inf), got -0.1",
        "`learning_rate: 0.001`",
    ),
    Case(
        "optim_unknown_argument",
        ":11:31: train.optimizer.lr: optax.adam has no argument 'lr'; did you mean 'learning_rate'?",
        "arguments of optax.adam: learning_rate, b1, b2",
    ),
    Case("optim_momentum_range", ":11:56: train.optimizer.momentum: expected a number in [0, 1), got 1.0", "0.9"),
    Case(
        "optim_schedule_field",
        ":13:57: train.optimizer.learning_rate.init_value: expected a number, got 'high'",
        "`init_value: 0.001`",
    ),
    Case("optim_grad_clip_inf", ":11:14: train.grad_clip: expected a finite number in (0, inf), got inf", "grad_clip"),
]
CASE_IDS = [c.name for c in CASES]
HEAD_LINE = re.compile(r"^\S")  # a problem's first line starts in column 1; its fix line is indented


def _spec_path(case: Case, generated: dict[str, Path]) -> Path:
    return generated[case.name] if case.generated else BAD_SPECS / f"{case.name}.yaml"


def _problem_heads(err: str) -> list[str]:
    return [line for line in err.splitlines() if HEAD_LINE.match(line)]


def _assert_reported(result: CliResult, path: Path, case: Case) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    lines = result.err.splitlines()
    matches = [i for i, line in enumerate(lines) if case.head in line]
    assert matches, f"expected a line containing {case.head!r} in:\n{result.err}"
    line = lines[matches[0]]
    if case.head.startswith(":"):  # located in a file: the file name comes right before
        where = line[: line.index(case.head)]
        assert where.endswith(".yaml"), line
        if case.name not in ("use_broken_part", "include_cycle_a", "include_cycle_b"):
            assert where.endswith(path.name), line
    fix_line = lines[matches[0] + 1] if matches[0] + 1 < len(lines) else ""
    assert fix_line.startswith("  fix: "), f"no fix line after {line!r}"
    assert case.fix in fix_line, fix_line


def test_table_covers_every_bad_spec() -> None:
    on_disk = {p.stem for p in BAD_SPECS.glob("*.yaml")}
    in_table = {c.name for c in CASES if not c.generated}
    assert on_disk == in_table, f"untested: {sorted(on_disk - in_table)}; missing files: {sorted(in_table - on_disk)}"
    assert len(CASES) >= 45
    assert len(set(CASE_IDS)) == len(CASE_IDS)
    # every file case states its exact position
    assert all(re.match(r"^:\d+:\d+: ", c.head) or c.head.startswith("<command line>: ") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_spec_is_refused_with_location_and_fix(
    case: Case, run_cli: CliRunner, generated_bad_specs: dict[str, Path]
) -> None:
    path = _spec_path(case, generated_bad_specs)
    start = time.perf_counter()
    result = run_cli("validate", path, *case.args)
    elapsed = time.perf_counter() - start
    _assert_reported(result, path, case)
    assert result.out == ""  # nothing claims the file is fine
    assert elapsed < 1.0, f"validation took {elapsed:.2f} s"


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_bad_spec_has_no_follow_on_problems(
    case: Case, run_cli: CliRunner, generated_bad_specs: dict[str, Path]
) -> None:
    result = run_cli("validate", _spec_path(case, generated_bad_specs), *case.args)
    heads = _problem_heads(result.err)
    assert len(heads) == case.problems, "\n".join(heads)


def test_several_files_report_every_problem_sorted_by_line(run_cli: CliRunner) -> None:
    names = ["perceptron_with_hidden", "dangling_edge", "mixed_merge", "adversarial_missing_parts"]
    result = run_cli("validate", *(BAD_SPECS / f"{n}.yaml" for n in names))
    assert result.code == 1
    assert "Traceback" not in result.text
    assert "0 of 4 specs valid" in result.err
    by_file: dict[str, list[tuple[int, int]]] = {}
    for head in _problem_heads(result.err):
        m = re.match(r"^(.*?\.yaml):(\d+):(\d+): ", head)
        if m:
            by_file.setdefault(Path(m.group(1)).stem, []).append((int(m.group(2)), int(m.group(3))))
    assert set(by_file) == set(names)
    assert len(by_file["perceptron_with_hidden"]) == 1
    assert len(by_file["adversarial_missing_parts"]) == 2
    for positions in by_file.values():
        assert positions == sorted(positions)


MANY_SPEC_PROBLEMS = """\
cellgraph: 1
name: many
tittle: typo of title
params: {width: 4}
cells:
  x: {type: input, size: 2}
  h:
    type: hidden
    size: ${widht}
  g: {type: hidden, size: 3, repeat: 0}
edges:
  - x -> h -> yy
  - x -> -> h
"""


def test_file_with_several_spec_problems_reports_all_at_once(run_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MANY_SPEC_PROBLEMS)
    result = run_cli("validate", path)
    assert result.code == 1
    heads = _problem_heads(result.err)
    expected = [
        "many.yaml:3:1: tittle: unknown key 'tittle'",
        "many.yaml:9:11: cells.h.size: unknown param 'widht'; did you mean 'width'?",
        "many.yaml:10:38: cells.g.repeat: expected a positive integer, got the number 0",
        "many.yaml:12:15: edges[0]: unknown group 'yy'",
        "many.yaml:13:10: edges[1]: '->' needs a cell name before it",
    ]
    assert len(heads) == len(expected), "\n".join(heads)
    for head, want in zip(heads, expected, strict=True):  # sorted by line
        assert want in head


MANY_GRAPH_PROBLEMS = """\
cellgraph: 1
name: many
cells:
  x: {type: input, size: 2}
  a: {type: hidden, size: -1}
  b: {type: hidden, size: 3, activation: relux}
  c: {type: hiden, size: 3}
  y: {type: output, size: 1}
edges:
  - x -> a
  - x -> b
  - x -> c
  - a, b, c -> y
"""


def test_file_with_several_graph_problems_reports_all_at_once(run_cli: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "many.yaml"
    path.write_text(MANY_GRAPH_PROBLEMS)
    result = run_cli("validate", path)
    assert result.code == 1
    text = result.err
    positions = []
    for want in (
        "many.yaml:5:27: cells.a.size: expected an integer in >= 1, got -1",
        "many.yaml:6:42: cells.b.activation: expected one of",
        "many.yaml:7:13: cells.c.type: unknown cell type 'hiden'",
    ):
        assert want in text
        positions.append(text.index(want))
    assert positions == sorted(positions)


MIXED_STAGE_PROBLEMS = """\
cellgraph: 1
name: mixed
tittle: typo of title
cells:
  x: {type: input, size: 2}
  h: {type: hiden, size: 3}
  y: {type: output, size: 1}
edges:
  - x -> h -> y
"""


def test_structure_and_cell_problems_are_reported_together(run_cli: CliRunner, tmp_path: Path) -> None:
    """SPEC: "Every problem is reported at once" - a top-level typo must not hide an unknown cell type."""
    path = tmp_path / "mixed.yaml"
    path.write_text(MIXED_STAGE_PROBLEMS)
    result = run_cli("validate", path)
    assert result.code == 1
    assert "mixed.yaml:3:1: tittle: unknown key 'tittle'" in result.err
    assert "mixed.yaml:6:13: cells.h.type: unknown cell type 'hiden'" in result.err


@pytest.mark.parametrize("name", ["python_tag", "huge_params"])
def test_real_process_exits_1_without_traceback(name: str) -> None:
    result = run_cli_process("validate", BAD_SPECS / f"{name}.yaml")
    assert result.code == 1
    assert "Traceback" not in result.text
    assert f"{name}.yaml:" in result.err
    assert "  fix: " in result.err
    assert result.out == ""


def test_real_process_refuses_binary_file(generated_bad_specs: dict[str, Path]) -> None:
    result = run_cli_process("validate", generated_bad_specs["binary"])
    assert result.code == 1
    assert "Traceback" not in result.text
    assert "binary.yaml:3:1: file holds binary data" in result.err
