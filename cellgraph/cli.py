"""The ``cellgraph`` command: validate, summary, render, gallery, poster, train, schema, cells.

Errors are printed as ``file:line:col: key.path: problem`` plus ``fix:`` lines and the process
exits 1; a clean run exits 0. Usage errors exit 2. Only `train` imports JAX, when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import CellgraphError, SpecError, terminal_safe
from .spec.limits import DEFAULT_LIMITS, Limits


def _overrides(items: Sequence[str]) -> dict[str, Any]:
    from .spec.params import parse_override

    out: dict[str, Any] = {}
    for item in items:
        try:
            name, value = parse_override(item)
        except ValueError as err:
            print(
                f"cellgraph: error: -p {terminal_safe(item)}: {terminal_safe(str(err))}; write -p name=value",
                file=sys.stderr,
            )
            raise SystemExit(2) from None  # a usage error, like argparse's
        out[name] = value
    return out


def _limits(args: argparse.Namespace) -> Limits:
    changes: dict[str, Any] = {}
    if getattr(args, "max_params", None):
        changes["max_params"] = int(args.max_params)
    if getattr(args, "allow", None):  # folders outside the spec's project that `use:` and CSV may read
        changes["allow"] = tuple(args.allow)
    return Limits(**{**DEFAULT_LIMITS.__dict__, **changes}) if changes else DEFAULT_LIMITS


def _expand(paths: Sequence[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(str(f) for f in path.rglob("*.yaml"))
            if not found:
                print(f"cellgraph: error: no .yaml files under {terminal_safe(str(p))}", file=sys.stderr)
                raise SystemExit(2)
            out.extend(found)
        else:
            out.append(p)
    return out


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def cmd_validate(args: argparse.Namespace) -> int:
    from .graph import load_graph

    files = _expand(args.specs)
    failed = 0
    for file in files:
        try:
            graph = load_graph(file, _overrides(args.param), _limits(args))
        except SpecError as err:
            failed += 1
            print(err.format(), file=sys.stderr)
            continue
        if not args.quiet:
            p = graph.graph["params"]
            print(
                f"ok  {terminal_safe(file)}: {_count(graph.number_of_nodes(), 'group')}, "
                f"{_count(graph.number_of_edges(), 'edge')}, "
                f"{_count(p['total'], 'parameter')}"
            )
    if len(files) > 1 and not args.quiet:
        print(f"{len(files) - failed} of {len(files)} specs valid", file=sys.stderr if failed else sys.stdout)
    return 1 if failed else 0


def cmd_summary(args: argparse.Namespace) -> int:
    from .graph import load_graph, summarize
    from .graph.drawspec import drawn_groups

    status = 0
    for file in _expand(args.specs):
        try:
            graph = load_graph(file, _overrides(args.param), _limits(args))
        except SpecError as err:
            print(err.format(), file=sys.stderr)
            status = 1
            continue
        rows = summarize(graph)
        drawn = {name: shown for name, _, shown in drawn_groups(graph)}
        spec = graph.graph["spec"]
        totals = graph.graph["params"]
        if args.json:
            print(
                json.dumps(
                    {
                        "spec": file,
                        "name": spec.name,
                        "title": spec.title,
                        "groups": [{**r.__dict__, "drawn": drawn.get(r.name, 0)} for r in rows],
                        "params": totals,
                    },
                    indent=2,
                )
            )
            continue
        print(terminal_safe(f"{spec.title or spec.name}  ({file})"))
        header = ("group", "type", "shape", "params", "drawn", "note")
        table = [header]
        for r in rows:
            fixed = "" if r.trainable or r.params == 0 else "fixed"
            shape = r.shape + (" (seq)" if r.timed else "")
            name, kind = terminal_safe(r.name), terminal_safe(r.type)  # names come from the user
            table.append((name, kind, terminal_safe(shape), f"{r.params:,}", str(drawn.get(r.name, "-")), fixed))
        widths = [max(len(row[i]) for row in table) for i in range(len(header))]
        for i, row in enumerate(table):
            print(
                "  ".join(
                    cell.rjust(w) if j in (3, 4) else cell.ljust(w)
                    for j, (cell, w) in enumerate(zip(row, widths, strict=True))
                ).rstrip()
            )
            if i == 0:
                print("  ".join("-" * w for w in widths).rstrip())
        print(f"total: {totals['total']:,} parameters ({totals['trainable']:,} trainable, {totals['fixed']:,} fixed)\n")
    return status


def cmd_schema(args: argparse.Namespace) -> int:
    from .schema import spec_schema

    text = json.dumps(spec_schema(), indent=2, sort_keys=False)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_cells(args: argparse.Namespace) -> int:
    from .cells import CELLS

    cells = sorted(CELLS.values(), key=lambda c: c.legend_order)
    if args.json:
        print(
            json.dumps(
                {
                    c.name: {
                        "label": c.label,
                        "family": c.family,
                        "doc": c.doc,
                        "style": c.style.__dict__,
                        "options": {
                            k: {"kind": o.kind.describe(), "default": o.default, "doc": o.doc}
                            for k, o in c.options.items()
                        },
                    }
                    for c in cells
                },
                indent=2,
            )
        )
        return 0
    for c in cells:
        if args.type and c.name not in args.type:
            continue
        marker = "" if c.style.marker == "none" else f", {c.style.marker}"
        print(f"{c.name}  — {c.label} ({c.abbr}; {c.style.fill}{marker})")
        print(f"    {c.doc}")
        for k, o in c.options.items():
            default = "-" if o.default is None else json.dumps(o.default)
            print(f"    {k:<12} {o.kind.describe():<34} default {default:<10} {o.doc}")
        print()
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from .graph import load_graph
    from .render import render

    try:
        drawing = render(
            load_graph(args.spec, _overrides(args.param), _limits(args)),
            view=args.view,
            theme=args.theme,
            direction=args.direction,
            legend=args.legend,
            max_cells=args.max_cells,
        )
    except SpecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    out = drawing.save(args.output)
    if not args.quiet:
        print(f"wrote {terminal_safe(out)}")
    return 0


def _load_graphs(files: Sequence[str], args: argparse.Namespace) -> list[Any] | None:
    """Every spec's graph, or None after printing every problem (as `validate` does)."""
    from .graph import load_graph

    graphs, failed = [], False
    for file in files:
        try:
            graphs.append(load_graph(file, _overrides(args.param), _limits(args)))
        except SpecError as err:
            failed = True
            print(err.format(), file=sys.stderr)
    return None if failed else graphs


def _default_specs(folders: Sequence[str]) -> list[str]:
    found = [str(f) for folder in folders for f in sorted(Path(folder).glob("*.yaml"))]
    if not found:
        print(f"cellgraph: error: no specs given and none found in {' or '.join(folders)}", file=sys.stderr)
        raise SystemExit(2)
    return found


def cmd_gallery(args: argparse.Namespace) -> int:
    from .render.gallery import build_gallery

    files = _expand(args.specs) if args.specs else _default_specs(("specs/zoo", "specs/examples"))
    graphs = _load_graphs(files, args)
    if graphs is None:
        return 1
    entries = build_gallery(graphs, args.output)
    if not args.quiet:
        print(f"wrote {len(entries)} drawings (svg + png), README.md and index.html to {terminal_safe(args.output)}")
    return 0


def cmd_poster(args: argparse.Namespace) -> int:
    from .render.poster import render_poster

    files = _expand(args.specs) if args.specs else _default_specs(("specs/zoo",))
    graphs = _load_graphs(files, args)
    if graphs is None:
        return 1
    out = render_poster(graphs, theme=args.theme).save(args.output)
    if not args.quiet:
        print(f"wrote {terminal_safe(out)} ({_count(len(graphs), 'network')})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    import warnings

    from .graph import load_graph
    from .graph.checks import refuse_planned

    try:
        graph = load_graph(args.spec, _overrides(args.param), _limits(args))
        refuse_planned(graph.graph["spec"])  # a loss or metric nothing computes yet: before JAX
    except SpecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    try:  # the data first: a bad CSV or labels that do not fit are reported before JAX loads
        data = _load_data(graph)
    except SpecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    runs = None if args.checkpoint_dir else _default_run_dir()
    if runs is not None and not _writable(runs):  # every rule keeps checkpoints in its run folder
        return 1
    from .train import TrainingInterrupted, train  # JAX: imported only when training
    from .train.checkpoint import CheckpointWarning

    def show_warnings(caught: list[warnings.WarningMessage]) -> None:
        """Checkpoint warnings as `cellgraph: warning:` lines; any other warning as Python shows it."""
        for w in caught:
            if issubclass(w.category, CheckpointWarning):
                print(f"cellgraph: warning: {terminal_safe(str(w.message))}", file=sys.stderr)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CheckpointWarning)
        try:
            result = train(
                graph,
                data,
                epochs=args.epochs,
                steps=args.steps,
                seed=args.seed,
                checkpoint_dir=args.checkpoint_dir or None,
                runs_dir=runs,
                checkpoint_every=args.checkpoint_every,
                resume=args.resume,
                progress=not args.json,
                curve_png=args.curve,
            )
        except SpecError as err:
            show_warnings(caught)
            print(err.format(), file=sys.stderr)
            return 1
        except TrainingInterrupted as stop:
            show_warnings(caught)
            where = f"cellgraph: interrupted at step {stop.step} (epoch {stop.epoch})"
            if stop.checkpoint is None:
                print(f"{where}; no checkpoint was kept, so a new run starts over", file=sys.stderr)
            else:
                print(f"{where}; checkpoint saved to {terminal_safe(stop.checkpoint)}", file=sys.stderr)
                print(f"  resume: {_resume_command(args)}", file=sys.stderr)
            return 130
        except BaseException:
            show_warnings(caught)  # then main() prints the error itself
            raise
    spec = graph.graph["spec"]
    epochs = int(result.history[-1]["epoch"]) if result.history else 0
    done = f"{terminal_safe(spec.name)}: {_count(epochs, 'epoch')}, {_count(result.steps, 'step')}"
    if result.already_trained:  # nothing trained now: say so, wherever the metrics go
        note = (
            f"already trained {done} ({terminal_safe(result.checkpoint or '')}): "
            "evaluated the stored parameters; --no-resume trains again"
        )
    elif result.resumed_at:
        note = f"trained {done} (resumed at step {result.resumed_at:,})"
    else:
        note = f"trained {done}"
    if args.json:
        print(json.dumps(result.metrics, sort_keys=True))
        if result.already_trained:
            print(f"cellgraph: {note}", file=sys.stderr)
    else:
        print(note)
        last = result.history[-1] if result.history else {}
        split = "test" if any(k.startswith("test_") for k in last) else "train"
        print(f"{split}: " + "  ".join(f"{k} {v:.6g}" for k, v in sorted(result.metrics.items(), key=_metric_order)))
        if result.curve:
            print(f"wrote {terminal_safe(result.curve)}")
    show_warnings(caught)
    # the metrics above are this run's, but a part of the command's job failed (the final checkpoint
    # or the curve could not be written): exit 1, as `cp` or `make` do when a part fails
    return 1 if result.problems else 0


def _writable(runs: str) -> bool:
    """Whether ``runs`` takes a file; if not, says why on stderr.

    A read-only working folder or a full disk is reported now, before JAX, the data and the
    compiler load (train() checks the run's own folder again before its first step).
    """
    import errno

    from .access import probe_folder

    try:
        probe_folder(Path(runs))
    except OSError as err:
        reason = f"{err.strerror or err} ({errno.errorcode.get(err.errno or 0, '?')})"
        print(
            f"cellgraph: cannot write checkpoints to {runs}: {reason}; fix: free space or permissions there, "
            "or pass another folder (--checkpoint-dir DIR)",
            file=sys.stderr,
        )
        return False
    return True


def _load_data(graph: Any) -> Any:
    """The spec's data set, checked against its outputs (None without a `data:` block)."""
    spec = graph.graph["spec"]
    if not spec.data:
        return None
    from .data import load_dataset
    from .graph.fit import check_data_fits

    data = load_dataset(spec.data, Path(spec.file).parent, allow=graph.graph.get("allow", ()))
    check_data_fits(graph, data)
    return data


def _default_run_dir() -> str:
    """Where runs keep their checkpoints unless told: ``.cellgraph/runs``, where ``train`` gives
    each run a folder ``NAME-KEY`` of its own. The key covers everything that decides a run's
    result (the spec and its `use:` parts, the data's contents, cellgraph's source, the library
    versions, the settings), so running the same command again finds the finished run, and any
    change (an edited part or CSV, new code) is a new run in a new folder, never a stale result."""
    return str(Path(".cellgraph") / "runs")


def _metric_order(item: tuple[str, float]) -> tuple[bool, str]:
    return (item[0] == "loss", item[0])  # the task's metrics first, the loss last


def _resume_command(args: argparse.Namespace) -> str:
    """The command that continues an interrupted `cellgraph train` run."""
    import shlex

    argv = ["cellgraph", "train", args.spec]
    for item in args.param:
        argv += ["-p", item]
    for flag, value in (
        ("--epochs", args.epochs),
        ("--steps", args.steps),
        ("--seed", args.seed),
        ("--checkpoint-every", args.checkpoint_every),
        ("--curve", args.curve),
    ):
        if value is not None:
            argv += [flag, str(value)]
    if args.checkpoint_dir:  # the default folder follows from the command itself
        argv += ["--checkpoint-dir", str(args.checkpoint_dir)]
    if args.json:
        argv.append("--json")
    return shlex.join(argv)


def _allow_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="DIR",
        help="let `use:` and CSV paths read files under DIR too (repeatable; also CELLGRAPH_PATH); "
        "by default a spec reads only inside its own project (the folder holding .git or pyproject.toml)",
    )


def make_parser() -> argparse.ArgumentParser:
    from .graph.drawspec import DEFAULT_THEME, THEMES  # the one list of theme names

    parser = argparse.ArgumentParser(
        prog="cellgraph", description="Neural networks as graphs of the Neural Network Zoo's cells."
    )
    parser.add_argument("--version", action="version", version=f"cellgraph {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def spec_command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (or folders of them)")
        p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
        p.add_argument(
            "--max-params", type=int, default=None, help=f"parameter limit (default {DEFAULT_LIMITS.max_params:,})"
        )
        _allow_argument(p)
        return p

    v = spec_command("validate", "check specs; print every problem as file:line:col")
    v.add_argument("-q", "--quiet", action="store_true", help="print problems only")
    v.set_defaults(func=cmd_validate)
    s = spec_command("summary", "table of groups, types, shapes and parameter counts")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=cmd_summary)
    r = sub.add_parser("render", help="draw a spec like the Neural Network Zoo chart (svg, png, pdf, dot)")
    r.add_argument("spec", metavar="SPEC", help="the spec file")
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="output file; the extension picks the format")
    r.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
    r.add_argument("--view", choices=("cells", "layers"), help="every cell a circle (default), or a node per group")
    r.add_argument("--theme", choices=THEMES, help=f"colours (default: {DEFAULT_THEME})")
    r.add_argument("--direction", choices=("LR", "TB"), help="flow left to right (default) or top to bottom")
    r.add_argument("--legend", action=argparse.BooleanOptionalAction, default=None, help="draw the legend")
    r.add_argument("--max-cells", type=int, default=None, metavar="N", help="cells shown per group without `show:`")
    r.add_argument("-q", "--quiet", action="store_true")
    _allow_argument(r)
    r.set_defaults(func=cmd_render)
    g = sub.add_parser(
        "gallery",
        help="draw many specs into a folder: NAME.svg + NAME.png each, README.md and index.html",
        description="Draw every spec (default: specs/zoo/*.yaml, then specs/examples/*.yaml) into a folder.",
    )
    g.add_argument("specs", nargs="*", metavar="SPEC", help="spec files (or folders of them)")
    g.add_argument("-o", "--output", required=True, metavar="DIR", help="the gallery folder (created if missing)")
    g.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
    g.add_argument("-q", "--quiet", action="store_true")
    _allow_argument(g)
    g.set_defaults(func=cmd_gallery, max_params=None)
    po = sub.add_parser(
        "poster",
        help="the whole zoo on one sheet, in the chart's order, with the legend (svg, png, pdf)",
        description="Draw specs (default: specs/zoo) on one sheet in the Neural Network Zoo chart's order.",
    )
    po.add_argument("specs", nargs="*", metavar="SPEC", help="spec files or folders (default: specs/zoo)")
    po.add_argument("-o", "--output", required=True, metavar="FILE", help="output file: .svg, .png, .pdf or .dot")
    po.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
    po.add_argument("--theme", choices=THEMES, default=DEFAULT_THEME, help="colours")
    po.add_argument("-q", "--quiet", action="store_true")
    _allow_argument(po)
    po.set_defaults(func=cmd_poster, max_params=None)
    t = sub.add_parser(
        "train",
        help="train a spec on its data set; prints the final metrics",
        description="Compile a spec to JAX and train it on its `data:` set with its `train:` settings.",
    )
    t.add_argument("spec", metavar="SPEC", help="the spec file")
    t.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
    t.add_argument("--epochs", type=int, default=None, metavar="N", help="passes over the data (default: the spec's)")
    t.add_argument("--steps", type=int, default=None, metavar="N", help="training steps instead of epochs")
    t.add_argument("--seed", type=int, default=None, metavar="S", help="random seed (default: the spec's)")
    t.add_argument(
        "--checkpoint-dir",
        default=None,
        metavar="DIR",
        help="save checkpoints here and resume from them; a folder holding another run is refused "
        "(default: .cellgraph/runs/NAME-KEY, keyed by the spec and its parts, the data, the code, the libraries "
        "and the settings)",
    )
    t.add_argument("--checkpoint-every", type=int, default=None, metavar="N", help="save every N steps")
    t.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="start over even if DIR holds a checkpoint (a finished run is otherwise evaluated, not trained again)",
    )
    t.add_argument("--curve", default=None, metavar="FILE", help="write the training curve (PNG)")
    t.add_argument("--json", action="store_true", help="print only the final metrics, as JSON")
    _allow_argument(t)
    t.set_defaults(func=cmd_train, max_params=None)
    sc = sub.add_parser("schema", help="JSON Schema of the spec format (for editors)")
    sc.add_argument("-o", "--output", help="write to this file instead of stdout")
    sc.set_defaults(func=cmd_schema)
    c = sub.add_parser("cells", help="the 14 cell types and their options")
    c.add_argument("type", nargs="*", help="show only these types")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_cells)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cellgraph")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CellgraphError as err:  # a non-spec error of ours: message, no traceback
        print(f"cellgraph: {terminal_safe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cellgraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cellgraph schema | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
