"""The ``cellgraph`` command: validate, summary, render, gallery, poster, train, search, predict,
evaluate, export, sample, attention, view, schema, cells.

Errors are printed as ``file:line:col: key.path: problem`` plus ``fix:`` lines and the process
exits 1; a clean run exits 0. Usage errors exit 2. Only `train`, `predict`, `evaluate`,
`export`, `sample`, `attention` and `view` import JAX, when they run, after the spec and the data were
checked; they compile through JAX's persistent compilation cache (``~/.cache/cellgraph/jax``, see
:mod:`cellgraph.train.cache`), so a repeated command does not pay the compile again.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import CellgraphError, SpecError, terminal_safe
from .spec.limits import DEFAULT_LIMITS, Limits


def cmd_search(args: argparse.Namespace) -> int:
    """`cellgraph search`: the study of :mod:`cellgraph.search`; Ctrl-C stops it, the same command resumes."""
    from .search import SearchError, search  # Optuna itself is imported (or its absence reported) by search()

    try:
        result = search(
            args.spec,
            grid=args.grid,
            random=args.random,
            trials=args.trials,
            sampler=args.sampler,
            metric=args.metric,
            direction=args.direction,
            seeds=args.seeds,
            seed=args.seed,
            output=args.output,
            params=_overrides(args.param),
            epochs=args.epochs,
            steps=args.steps,
            validation=args.validation,
            limits=_limits(args),
            backend=args.backend,
            address=args.address,
            batch=args.batch,
            population=not args.no_population,
        )
    except SearchError as err:
        print(f"cellgraph: {terminal_safe(str(err))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cellgraph: search interrupted; run the same command again to resume it", file=sys.stderr)
        return 130
    best = result.best
    if best is None:
        print(f"no trial finished: see {terminal_safe(str(result.folder / 'results.md'))}", file=sys.stderr)
        return 1
    shown = " ".join(f"{k}={v}" for k, v in best.params.items())
    print(f"best: trial {best.number}, {terminal_safe(shown)}: {result.metric} {best.value:.4g}")
    return 0


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
            notes = [] if r.trainable or r.params == 0 else ["fixed"]
            if r.shares is not None:
                notes.append(f"uses {r.shares}'s parameters")
            if r.shared_with:
                notes.append(f"shared with {', '.join(r.shared_with)}")
            if r.tied_to is not None:
                notes.append(f"uses {r.tied_to}'s weights, transposed")
            if r.state:
                notes.append(f"+ {r.state:,} running statistics (model state)")
            shape = r.shape + (" (seq)" if r.timed else "")
            name, kind = terminal_safe(r.name), terminal_safe(r.type)  # names come from the user
            note = terminal_safe("; ".join(notes))
            table.append((name, kind, terminal_safe(shape), f"{r.params:,}", str(drawn.get(r.name, "-")), note))
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
        kept = sum(r.state for r in rows)
        state = f"; {kept:,} values of model state" if kept else ""
        print(
            f"total: {totals['total']:,} parameters ({totals['trainable']:,} trainable, {totals['fixed']:,} fixed){state}\n"
        )
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
    width = max((len(k) for c in cells for k in c.options), default=12)  # one column for every type's keys
    for c in cells:
        if args.type and c.name not in args.type:
            continue
        marker = "" if c.style.marker == "none" else f", {c.style.marker}"
        print(f"{c.name}  — {c.label} ({c.abbr}; {c.style.fill}{marker})")
        print(f"    {c.doc}")
        for k, o in c.options.items():
            default = "-" if o.default is None else json.dumps(o.default)
            print(f"    {k:<{width}} {o.kind.describe():<34} default {default:<10} {o.doc}")
        print()
    return 0


def _output_arguments(parser: argparse.ArgumentParser, default_dpi: int) -> None:
    """`render` and `poster`'s file options; bad values are usage errors naming the option (exit 2)."""
    from .render.output import METADATA_MODES

    def checked(key: str) -> Any:
        def parse(text: str) -> Any:
            from .render.output import RenderError, output_options

            value: Any = text
            try:
                if key == "dpi":
                    value = float(text)
                return getattr(output_options(**{key: value}, default_dpi=default_dpi), key)
            except (ValueError, RenderError) as err:
                msg = (
                    str(err).rsplit("; got ", 1)[0]
                    if isinstance(err, RenderError)
                    else "dpi must be a number such as 300"
                )
                msg = f"{msg}; got '{text}'"
                raise argparse.ArgumentTypeError(msg) from None

        return parse

    parser.add_argument(
        "--dpi", type=checked("dpi"), default=None, metavar="N", help=f"PNG pixels per inch (default {default_dpi})"
    )
    parser.add_argument(
        "--size",
        type=checked("size"),
        default=None,
        metavar="WxH",
        help="fit the drawing into a box of W by H inches, aspect kept (e.g. 8x4.5; a PNG gets W*dpi x H*dpi px at most)",
    )
    parser.add_argument("--transparent", action="store_true", help="no background fill (PNG with alpha)")
    parser.add_argument(
        "--font", type=checked("font"), default=None, metavar="NAME", help="font family (default Liberation Sans)"
    )
    parser.add_argument(
        "--metadata",
        choices=METADATA_MODES,
        default="full",
        help="what the SVG embeds: the spec's text and hash (default), its hash and name, or nothing",
    )


def _output_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "dpi": args.dpi,
        "transparent": args.transparent,
        "font": args.font,
        "size": args.size,
        "metadata": args.metadata,
    }


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
            labels=args.labels,
            aspect=args.aspect,
            unroll=args.unroll,
            **_output_kwargs(args),
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
        print(
            f"wrote {len(entries)} drawings (svg + png, and thumbs/ without legends), README.md and index.html "
            f"to {terminal_safe(args.output)}"
        )
    return 0


def cmd_poster(args: argparse.Namespace) -> int:
    from .render.poster import render_poster

    files = _expand(args.specs) if args.specs else _default_specs(("specs/zoo",))
    graphs = _load_graphs(files, args)
    if graphs is None:
        return 1
    out = render_poster(graphs, theme=args.theme, **_output_kwargs(args)).save(args.output)
    if not args.quiet:
        print(f"wrote {terminal_safe(out)} ({_count(len(graphs), 'network')})")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    with _collector_paused_while_importing():
        return _cmd_train(args)


_CONSOLE = False
"""Whether this process is the ``cellgraph`` console command (:func:`run`), which ends after the command."""


@contextlib.contextmanager
def _collector_paused_while_importing() -> Iterator[None]:
    """In the console command, Python's cyclic garbage collector is off while the command imports
    JAX and reads its data, then every object alive is frozen out of its reach (``gc.freeze``) and
    it is on again (:func:`_imports_done`).

    Importing JAX creates some half a million objects, and every later full collection walks them
    all: tracing a network's programs allocated enough to trigger those walks over and over. Off
    and then frozen, the mushroom MLP's whole ``cellgraph train`` took 0.12 s less (median of
    eight runs, 1.89 s against 2.01 s). Only in the console command, whose process ends with the
    command: in a Python session objects frozen with the imports would never be collected.
    """
    paused = _CONSOLE and gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused and not gc.isenabled():
            gc.enable()


def _imports_done() -> None:
    """The command's imports are done: freeze what is alive and turn the collector on again (see
    :func:`_collector_paused_while_importing`; nothing when the collector is on already)."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _cmd_train(args: argparse.Namespace) -> int:
    from .graph import load_graph
    from .graph.checks import refuse_planned

    try:
        graph = load_graph(args.spec, _overrides(args.param), _limits(args))
        refuse_planned(graph.graph["spec"])  # a loss or metric nothing computes yet: before JAX
    except SpecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    try:  # the data first: a bad CSV or labels that do not fit are reported before JAX loads
        data = _data_file(args.data, graph) if args.data else _load_data(graph)
    except SpecError as err:
        print(err.format(), file=sys.stderr)
        return 1
    if args.save:
        from .artifact import check_destination

        check_destination(Path(args.save))  # before training, not after it
    runs = None if args.checkpoint_dir else _default_run_dir()
    if runs is not None and not _writable(runs):  # every rule keeps checkpoints in its run folder
        return 1
    return _train(args, graph, data, runs)  # train() turns the caches on itself (cellgraph.train.cache, .ahead)


def _train(args: argparse.Namespace, graph: Any, data: Any, runs: str | None) -> int:
    import warnings

    from .train import TrainingInterrupted, train  # JAX: imported only when training
    from .train.checkpoint import CheckpointWarning
    from .train.parallel import initialize_from_env

    _imports_done()
    initialize_from_env()  # a multi-host run (JAX_COORDINATOR_ADDRESS): joined before any device is used

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
                score_train=True,
                validation=args.validation,
                early_stopping={"patience": args.patience} if args.patience is not None else None,
                devices=args.devices,
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
    note += _stopping_note(result)
    figures = _by_split(result)
    saved, save_error = None, None
    if args.save:
        from .artifact import ArtifactError, save

        try:
            saved = save(result, args.save)
        except ArtifactError as err:  # the metrics are still this run's: print them, then fail
            save_error = str(err)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
        if result.already_trained:
            print(f"cellgraph: {note}", file=sys.stderr)
    else:
        print(note)
        for split, metrics in figures.items():
            print(f"{split}: {_metric_line(metrics)}")
        if result.curve:
            print(f"wrote {terminal_safe(result.curve)}")
        if saved is not None:
            print(f"saved {terminal_safe(saved)}")
    show_warnings(caught)
    if save_error is not None:
        print(f"cellgraph: {terminal_safe(save_error)}", file=sys.stderr)
    # the metrics above are this run's, but a part of the command's job failed (the final checkpoint,
    # the curve or the saved model could not be written): exit 1, as `cp` or `make` do when a part fails
    return 1 if result.problems or save_error else 0


def _by_split(result: Any) -> dict[str, dict[str, float]]:
    """``{"test": ..., "train": ...}``: the final metrics on each split, the held-out one first
    (``{"train": ...}`` alone when the data have no test split), and ``"validation"`` when the run
    held out a validation split."""
    scored_on = getattr(result, "scored_on", "test")
    figures = {scored_on: dict(result.metrics)}
    train_metrics = getattr(result, "train_metrics", None)
    if scored_on != "train" and train_metrics:
        figures["train"] = dict(train_metrics)
    val_metrics = getattr(result, "val_metrics", None)
    if val_metrics:
        figures["validation"] = dict(val_metrics)
    return figures


def _stopping_note(result: Any) -> str:
    """``; stopped early, best epoch 7 (its parameters kept)`` -- what early stopping did, if anything."""
    best = getattr(result, "best_epoch", None)
    if best is None:
        return ""
    last = int(result.history[-1]["epoch"]) if result.history else 0
    kept = (result.settings.get("early_stopping") or {}).get("restore_best", True)
    which = f"best epoch {best}" + (" (its parameters kept)" if kept and best != last else "")
    return f"; stopped early, {which}" if result.stopped_early else f"; {which}"


def _metric_line(metrics: Mapping[str, float]) -> str:
    return "  ".join(f"{terminal_safe(k)} {v:.6g}" for k, v in sorted(metrics.items(), key=_metric_order))


# ---------------------------------------------------------------------------- after training


def cmd_predict(args: argparse.Namespace) -> int:
    graph = _graph_of_run(args)
    inputs = _rows(args.data, graph, targets=False).x_train
    out = Path(args.output)
    _check_output_file(out, ".npz")
    with _compilation_cache():
        trained = _trained(args, graph)
        outputs = trained.predict(inputs, batch_size=args.batch_size)
        _write_npz(out, outputs)
    if not args.quiet:
        shapes = ", ".join(f"{terminal_safe(k)} {list(v.shape)}" for k, v in outputs.items())
        print(f"wrote {terminal_safe(out)}: {shapes}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    graph = _graph_of_run(args)
    splits: tuple[str, ...]
    if args.data:
        data, splits = _rows(args.data, graph, targets=True), ("all",)
    else:
        data, splits = _load_data(graph), ("test", "train")
        if data is None:
            spec = graph.graph["spec"]
            print(
                f"cellgraph: {terminal_safe(spec.file)}: the spec has no `data:` block; give the data: --data FILE",
                file=sys.stderr,
            )
            return 1
    with _compilation_cache():
        from .train.loop import evaluate

        trained = _trained(args, graph)
        figures = {}
        for split in splits:
            if split == "test" and getattr(data, "x_test", None) is not None and _empty(data.x_test):
                continue
            figures[split] = evaluate(trained, data, split=split)
    if args.json:
        print(json.dumps(figures, sort_keys=True))
    else:
        for split, metrics in figures.items():
            print(f"{split}: {_metric_line(metrics)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    graph = _graph_of_run(args)
    out = Path(args.output)
    _check_output_file(out, None)
    with _compilation_cache():
        from .compiler.export import export, signature

        trained = _trained(args, graph)
        exported = export(
            trained.model, trained.params, out, batch=args.batch, time=args.time, state=trained.model_state
        )
    if not args.quiet:
        inputs, outputs = signature(exported)
        if len(trained.model.inputs) == 1:
            inputs = {trained.model.inputs[0]: inputs["x"]}
        ins, outs = (", ".join(f"{terminal_safe(n)} {a}" for n, a in side.items()) for side in (inputs, outputs))
        print(f"wrote {terminal_safe(out)} ({out.stat().st_size:,} bytes; inputs {ins}; outputs {outs})")
        print(f"  run it with JAX alone: jax.export.deserialize(open({str(out)!r}, 'rb').read()).call(x)")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from .sampling import check_count, check_traversal, generator_of

    graph = _graph_of_run(args)
    generator = generator_of(graph)  # a spec that generates nothing is refused before JAX loads
    if args.traverse:
        check_traversal(graph, generator)
    else:
        check_count(generator, args.n)
    out = Path(args.output)
    _check_png(out)
    with _compilation_cache():
        from .figures import plot_samples

        trained = _trained(args, graph)
        plot_samples(trained, out, n=args.n, seed=args.seed, traverse=args.traverse)
    if not args.quiet:
        if args.traverse:
            what = f"latent traversals of '{generator.code}', decoded by '{generator.output}'"
        else:
            shown = min(args.n, generator.codes) if generator.codes else args.n
            what = f"{_count(shown, 'sample')}, {generator.describe()}"
        print(f"wrote {terminal_safe(out)}: {terminal_safe(what)}")
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from .sampling import attention_pairs

    graph = _graph_of_run(args)
    pairs = attention_pairs(graph)  # a network without attention edges is refused before JAX loads
    out = Path(args.output)
    _check_png(out)
    with _compilation_cache():
        from .figures import plot_attention

        trained = _trained(args, graph)
        plot_attention(trained, out, example=args.example)
    if not args.quiet:
        edges = ", ".join(f"{s} -> {t}" for s, t in pairs)
        print(f"wrote {terminal_safe(out)}: attention of example {args.example} ({terminal_safe(edges)})")
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from .views import check_viewable, describe

    graph = _graph_of_run(args)
    viewable = check_viewable(graph)  # a network no view draws is refused before JAX loads
    out = Path(args.output)
    _check_png(out)
    with _compilation_cache():
        from .views import view

        trained = _trained(args, graph)
        view(trained, out)
    if not args.quiet:
        print(f"wrote {terminal_safe(out)}: the view of {describe(viewable)}")
    return 0


def _check_png(out: Path) -> None:
    """A picture's ``-o``: a .png file that can be written (refused before any work)."""
    if out.is_dir():
        raise CellgraphError(f"{out} is a folder; give a file name such as {out / 'samples.png'}")
    if out.suffix.lower() != ".png":
        raise CellgraphError(f"{out}: the picture is written as a PNG; give a file name ending in .png")
    _check_output_file(out, None)


def _positive(text: str) -> int:
    """A positive whole number, or a usage error naming the value (exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return value


def _count_from_zero(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an example index 0, 1, 2, ..., got '{text}'")
    return value


def _graph_of_run(args: argparse.Namespace) -> Any:
    """The graph the command works with, JAX-free: the saved model's stored spec, or SPEC's (a run
    folder needs SPEC). A saved model given with SPEC must have been saved from that spec."""
    from .artifact import is_saved_model, stored_graph
    from .graph import load_graph

    run = Path(args.run)
    if is_saved_model(run):
        graph = stored_graph(run)
        if args.spec:
            _check_same_spec(args, graph)
        return graph
    if not args.spec:
        print(
            f"cellgraph: error: {terminal_safe(run)} is not a saved model (no cellgraph.json); "
            f"a run folder needs its spec: cellgraph {args.command} SPEC --run {terminal_safe(run)}",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return load_graph(args.spec, _overrides(args.param), _limits(args))


def _check_same_spec(args: argparse.Namespace, stored: Any) -> None:
    """SPEC (with its -p values) must be the spec the saved model was trained from."""
    from .artifact import ArtifactError, spec_text_digest
    from .graph import load_graph

    given = load_graph(args.spec, _overrides(args.param), _limits(args)).graph["spec"]
    if spec_text_digest(given) != spec_text_digest(stored.graph["spec"]):
        raise ArtifactError(
            f"{args.run} was saved from another spec than {args.spec} (its text, a `use:` part or a param "
            "differs); the saved model keeps its own spec, so leave SPEC out, or train this spec"
        )


def _trained(args: argparse.Namespace, graph: Any) -> Any:
    """The trained model of ``--run``: a saved model, or a run folder's newest checkpoint for ``graph``."""
    from .artifact import is_saved_model, load, load_run

    run = Path(args.run)
    return load(run) if is_saved_model(run) else load_run(graph, run)


def _rows(path: str, graph: Any, *, targets: bool) -> Any:
    """Every row of the data file, in its order (inputs only when ``targets`` is False)."""
    from .data import as_dataset

    return as_dataset(path, graph, test=0) if targets else as_dataset(path, graph, test=0, targets=False)


def _data_file(path: str, graph: Any) -> Any:
    """``--data FILE`` for training: split into training and test parts like the spec's own data."""
    from .data import as_dataset

    return as_dataset(path, graph)


def _empty(x: Any) -> bool:
    leaves = list(x.values()) if isinstance(x, Mapping) else [x]
    return all(getattr(leaf, "shape", (0,))[0] == 0 for leaf in leaves)


def _check_output_file(out: Path, suffix: str | None) -> None:
    """Refuse, before any work, an output path that is a folder or cannot be written."""
    from .access import probe_folder
    from .errors import CellgraphError

    if out.is_dir():
        name = f"out{suffix}" if suffix else "model.stablehlo"
        raise CellgraphError(f"{out} is a folder; give a file name such as {out / name}")
    if suffix and out.suffix != suffix:
        raise CellgraphError(f"{out}: the outputs are written as NumPy arrays; give a file name ending in {suffix}")
    try:
        probe_folder(out.parent if str(out.parent) else Path("."))
    except OSError as err:
        raise CellgraphError(f"cannot write {out}: {err.strerror or err}; give another path (-o FILE)") from None


def _write_npz(out: Path, arrays: Mapping[str, Any]) -> None:
    """``np.savez`` through a temporary file renamed into place."""
    import io

    import numpy as np

    from .access import replace_synced

    buffer = io.BytesIO()
    named: dict[str, Any] = {str(k): np.asarray(v) for k, v in arrays.items()}
    np.savez(buffer, **named)
    replace_synced(out, buffer.getvalue())


@contextlib.contextmanager
def _compilation_cache() -> Iterator[None]:
    """JAX's persistent compilation cache while a command runs (:mod:`cellgraph.train.cache`;
    imported here only when a command needs JAX)."""
    from .train.cache import compilation_cache

    with compilation_cache():
        yield


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

    # a saved model's spec is a copy inside it: its data files lie beside the spec it trained from
    trained_from = graph.graph.get("trained_from")
    folder = Path(trained_from).parent if trained_from else Path(spec.file).parent
    data = load_dataset(spec.data, folder, allow=graph.graph.get("allow", ()))
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
        ("--validation", args.validation),
        ("--patience", args.patience),
        ("--data", args.data),
        ("--save", args.save),
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
    from .render.output import PNG_DPI
    from .render.poster import POSTER_DPI

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
    r = sub.add_parser("render", help="draw a spec like the Neural Network Zoo chart (svg, png, pdf, tex, dot)")
    r.add_argument("spec", metavar="SPEC", help="the spec file")
    r.add_argument("-o", "--output", required=True, metavar="FILE", help="output file; the extension picks the format")
    r.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
    r.add_argument("--view", choices=("cells", "layers"), help="every cell a circle (default), or a node per group")
    r.add_argument("--theme", choices=THEMES, help=f"colours (default: {DEFAULT_THEME})")
    r.add_argument("--direction", choices=("LR", "TB"), help="flow left to right (default) or top to bottom")
    r.add_argument("--legend", action=argparse.BooleanOptionalAction, default=None, help="draw the legend")
    r.add_argument("--max-cells", type=int, default=None, metavar="N", help="cells shown per group without `show:`")
    r.add_argument(
        "--labels",
        metavar="PARTS",
        help="what group labels say: any of name,type,shape,params (comma-separated), or none",
    )
    r.add_argument("--aspect", metavar="W:H", help="the layers view's target width:height (default 16:9)")
    r.add_argument(
        "--unroll",
        type=int,
        metavar="T",
        help="a recurrent network unrolled over T time steps beside its rolled drawing (boxes; 1-12)",
    )
    _output_arguments(r, PNG_DPI)
    r.add_argument("-q", "--quiet", action="store_true")
    _allow_argument(r)
    r.set_defaults(func=cmd_render)
    g = sub.add_parser(
        "gallery",
        help="draw many specs into a folder: NAME.svg + NAME.png + thumbs/NAME.svg each, README.md and index.html",
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
    _output_arguments(po, POSTER_DPI)
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
        "--devices",
        type=int,
        default=None,
        metavar="N",
        help="train data-parallel on N local devices, each batch split over them (default: the spec's "
        "train.devices, else 1; on a CPU simulate devices with XLA_FLAGS=--xla_force_host_platform_device_count=N)",
    )
    t.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="start over even if DIR holds a checkpoint (a finished run is otherwise evaluated, not trained again)",
    )
    t.add_argument("--curve", default=None, metavar="FILE", help="write the training curve (PNG)")
    t.add_argument(
        "--validation",
        type=float,
        default=None,
        metavar="FRACTION",
        help="hold out this fraction of the training rows (with the run's seed) and score it after every epoch "
        "(default: the spec's train.validation)",
    )
    t.add_argument(
        "--patience",
        type=int,
        default=None,
        metavar="N",
        help="early stopping: stop after N epochs without a better validation loss (or the spec's "
        "train.early_stopping metric) and keep the best epoch's parameters; needs a validation split",
    )
    t.add_argument(
        "--data",
        default=None,
        metavar="FILE",
        help="train on this data instead of the spec's `data:` block: an .npz of arrays named after the "
        "groups, or a .csv (held-out test part split off as for the spec's own data)",
    )
    t.add_argument(
        "--save",
        default=None,
        metavar="PATH",
        help="also save the trained model (spec, parameters, optimizer state, versions) as the folder PATH, "
        "for predict / evaluate / export --run PATH and cellgraph.load(PATH)",
    )
    t.add_argument(
        "--json", action="store_true", help='print only the final metrics, as JSON: {"test": {...}, "train": {...}}'
    )
    _allow_argument(t)
    t.set_defaults(func=cmd_train, max_params=None)

    def run_command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument(
            "spec",
            nargs="?",
            metavar="SPEC",
            help="the spec it was trained from (needed with a run folder; a saved model keeps its own)",
        )
        p.add_argument(
            "--run",
            required=True,
            metavar="RUN",
            help="a saved model (train --save PATH) or a run folder of checkpoints (.cellgraph/runs/NAME-KEY, "
            "--checkpoint-dir DIR): its newest checkpoint",
        )
        p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="override a param")
        _allow_argument(p)
        p.set_defaults(max_params=None)
        return p

    pr = run_command("predict", "run a trained model on data; write every output group's values to an .npz")
    pr.add_argument(
        "--data", required=True, metavar="FILE", help="the inputs: .npz (arrays named after the input groups) or .csv"
    )
    pr.add_argument("-o", "--output", required=True, metavar="FILE.npz", help="the outputs, an array per output group")
    pr.add_argument("--batch-size", type=int, default=None, metavar="N", help="examples per forward pass")
    pr.add_argument("-q", "--quiet", action="store_true")
    pr.set_defaults(func=cmd_predict)
    ev = run_command("evaluate", "a trained model's loss and metrics on data")
    ev.add_argument(
        "--data",
        default=None,
        metavar="FILE",
        help="score every row of this .npz or .csv (default: the spec's `data:` block, test and training parts)",
    )
    ev.add_argument(
        "--json", action="store_true", help='print the metrics as JSON: {"all": {...}} or {"test": ..., "train": ...}'
    )
    ev.set_defaults(func=cmd_evaluate)
    ex = run_command("export", "write a trained model as serialized StableHLO (jax.export), runnable with JAX alone")
    ex.add_argument("-o", "--output", required=True, metavar="FILE", help="the serialized model, e.g. model.stablehlo")
    ex.add_argument("--batch", type=int, default=None, metavar="N", help="a fixed batch size (default: any)")
    ex.add_argument("--time", type=int, default=None, metavar="T", help="a fixed sequence length (default: any)")
    ex.add_argument("-q", "--quiet", action="store_true")
    ex.set_defaults(func=cmd_export)
    sa = run_command(
        "sample",
        "draw a trained generative network's samples as a PNG: a GAN's, a VAE's or DCIGN's decoded codes, "
        "a DN's image per one-hot code",
    )
    sa.add_argument("-o", "--output", required=True, metavar="FILE.png", help="the picture")
    sa.add_argument(
        "-n", type=_positive, default=64, metavar="N", help="samples to draw (default 64; a grid shows up to 400)"
    )
    sa.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the noise or codes drawn (default 0)")
    sa.add_argument(
        "--traverse",
        action="store_true",
        help="latent traversals instead (VAE, DCIGN): a row per code unit, swept over -3..3, the others at 0",
    )
    sa.add_argument("-q", "--quiet", action="store_true")
    sa.set_defaults(func=cmd_sample)
    at = run_command(
        "attention", "draw a trained network's attention weights for one example as heat maps, one per head (PNG)"
    )
    at.add_argument("-o", "--output", required=True, metavar="FILE.png", help="the picture")
    at.add_argument(
        "--example",
        type=_count_from_zero,
        default=0,
        metavar="I",
        help="which example of the spec's test data (default 0)",
    )
    at.add_argument("-q", "--quiet", action="store_true")
    at.set_defaults(func=cmd_attention)
    vi = run_command(
        "view",
        "draw a network trained by its own classic rule (PNG): Hopfield recall from noisy probes, a Boltzmann "
        "machine's completions, RBM filters and samples, the SOM over its data, an ESN's free-running "
        "prediction and an LSM's spikes, a Markov chain's transition matrix beside the true one; an NTM's or DNC's "
        "read and write weightings over time and its memory, a capsule network's class capsule lengths",
    )
    vi.add_argument("-o", "--output", required=True, metavar="FILE.png", help="the picture")
    vi.add_argument("-q", "--quiet", action="store_true")
    vi.set_defaults(func=cmd_view)
    se = sub.add_parser(
        "search",
        help="search a spec's params (grid, random or TPE, with Optuna): train every valid variant, rank them",
        description="Search a spec's params with Optuna's grid, random or TPE sampler; every variant is validated "
        "before training; the table, plots, best spec and a contact sheet go to -o DIR; the same command resumes.",
    )
    se.add_argument("spec", metavar="SPEC", help="the spec file (its `search:` block may declare the space)")
    se.add_argument("--grid", action="append", default=[], metavar="NAME=A,B,C", help="values of a param (repeatable)")
    se.add_argument(
        "--random",
        action="append",
        default=[],
        metavar="NAME=DIST",
        help="a range of a param: uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH[:STEP], logint:LOW:HIGH, "
        "or a choice a,b,c (repeatable)",
    )
    se.add_argument("--trials", type=int, default=None, metavar="N", help="trials (default: the whole grid, else 20)")
    se.add_argument(
        "--sampler", choices=("grid", "random", "tpe"), default=None, help="default: grid when every param has values"
    )
    se.add_argument(
        "--metric", default=None, metavar="NAME", help="what to rank by: val_loss (default), val_accuracy, test_..."
    )
    se.add_argument("--direction", choices=("maximize", "minimize"), default=None, help="default: from the metric")
    se.add_argument("--seeds", type=int, default=None, metavar="K", help="train each variant K times; rank by the mean")
    se.add_argument("--seed", type=int, default=None, metavar="S", help="seed of the sampler and the first run")
    se.add_argument("-o", "--output", required=True, metavar="DIR", help="the search folder (journal, runs, report)")
    se.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="fix another param")
    se.add_argument("--epochs", type=int, default=None, metavar="N", help="passes over the data per trial")
    se.add_argument("--steps", type=int, default=None, metavar="N", help="training steps per trial")
    se.add_argument(
        "--validation", type=float, default=None, metavar="FRACTION", help="validation fraction (default 0.2 for val_)"
    )
    se.add_argument(
        "--backend",
        choices=("local", "ray"),
        default="local",
        help="who runs the trials: local (here; same-shape trials together) or ray (Ray Tune; pip install "
        "'cellgraph[ray]')",
    )
    se.add_argument(
        "--batch",
        type=int,
        default=None,
        metavar="N",
        help="trials asked at once and trained together where they share a shape (default: 32 for grid and random, "
        "1 for tpe)",
    )
    se.add_argument(
        "--no-population",
        action="store_true",
        help="train every run on its own with cellgraph.train, not same-shape runs as one vmapped population",
    )
    se.add_argument(
        "--address",
        default=None,
        metavar="HOST:PORT|auto",
        help="with --backend ray: the Ray cluster to join (default: start Ray on this machine with its CPUs)",
    )
    _allow_argument(se)
    se.set_defaults(func=cmd_search, max_params=None)
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
    except SpecError as err:  # located problems, one per line, as `validate` prints them
        print(err.format(), file=sys.stderr)
        return 1
    except CellgraphError as err:  # a non-spec error of ours: message, no traceback
        print(f"cellgraph: {terminal_safe(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cellgraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cellgraph schema | head`: the reader left; not an error of ours
        sys.stderr.close()
        return 0


def run() -> None:
    """The ``cellgraph`` console command: :func:`main`, then a quick exit after a command that
    loaded JAX.

    Finalising a process that loaded JAX and XLA takes a quarter of a second here (the interpreter
    tears down XLA's client and its compiled code; the atexit handlers themselves take 4 ms), longer
    than a small network's training. By then every file the command wrote is closed, its output is
    flushed below and no compilation is still being written to the cache, so the process ends
    without it. :func:`main` called from Python returns as usual.
    """
    global _CONSOLE
    _CONSOLE = True
    code = main()
    if "jax" not in sys.modules:
        sys.exit(code)
    from .train.ahead import finish

    finish()  # compilations still running (a run that failed early) end and reach the cache whole
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # closed, or the reader left (`| head`)
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
