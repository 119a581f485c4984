"""The search's report: the table (CSV and Markdown), the metric against each param, the best
spec as YAML, and a contact sheet of the variants' diagrams with the metric under each.

The table is written with the standard library (pandas is a dev extra only); the plots with
Matplotlib (Agg, imported here); the sheet with Pillow from PNGs that ``cellgraph.render`` draws.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from ..spec.load import load_file
from .records import SearchResult, Trial
from .variants import Variant

THUMB: Final = (360, 220)  # pixels of one diagram on the contact sheet
SHEET_COLUMNS: Final = 4
CAPTION: Final = 46  # pixels under each thumbnail for its params and metric


def write_report(result: SearchResult, spec: Path, variant_of: Callable[[Mapping[str, Any]], Variant]) -> SearchResult:
    """Write every file of the report into the search's folder; returns the result with ``files``."""
    folder = result.folder
    files: dict[str, Path] = {}
    columns, rows = table(result)
    files["table (CSV)"] = _write_csv(folder / "results.csv", columns, rows)
    files["table (Markdown)"] = _write_markdown(folder / "results.md", columns, rows, result)
    plot = plot_metric(result, folder / "metric.png")
    if plot is not None:
        files["plots"] = plot
    best = result.best
    if best is not None:
        files["best spec"] = write_best_spec(spec, best, result, folder / "best.yaml")
        sheet = contact_sheet(result, variant_of, folder / "contact_sheet.png")
        if sheet is not None:
            files["contact sheet"] = sheet
    return dataclasses.replace(result, files=files)


def table(result: SearchResult) -> tuple[list[str], list[list[Any]]]:
    """The columns and one row per trial: number, state, params, the metric, every other figure."""
    names = list(result.space.names)
    figures = sorted({k for t in result.trials for k in t.metrics} - {result.metric})
    columns = ["trial", "state", *names, result.metric, f"{result.metric}_std", *figures, "seconds", "error"]
    rows = []
    for t in result.trials:
        rows.append(
            [
                t.number,
                t.state,
                *(t.params.get(n) for n in names),
                _num(t.value),
                _num(t.spread.get(result.metric)) if t.state == "complete" else "",
                *(_num(t.metrics.get(k)) for k in figures),
                f"{t.seconds:.2f}",
                " ".join(t.error.split())[:300],
            ]
        )
    return columns, rows


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.6g}"


def _write_csv(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return path


def _write_markdown(path: Path, columns: Sequence[str], rows: Sequence[Sequence[Any]], result: SearchResult) -> Path:
    best = result.best
    lines = [f"# Search: {result.metric} ({result.direction}), {result.sampler} sampler", ""]
    if best is not None:
        shown = ", ".join(f"{k}={v}" for k, v in best.params.items())
        lines += [f"Best: trial {best.number}, {shown}: {result.metric} {_num(best.value)}", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("| " + " | ".join("---" for _ in columns) + " |")
    for row in rows:
        lines.append("| " + " | ".join(_short(c).replace("|", "\\|") for c in row) + " |")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def plot_metric(result: SearchResult, path: Path) -> Path | None:
    """One panel per param: the metric of every finished trial against that param's value."""
    done = [t for t in result.trials if t.state == "complete" and t.value is not None]
    if not done:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result.space.names)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
    best = result.best
    for ax, name in zip(axes[0], names, strict=True):
        dim = next(d for d in result.space.dims if d.name == name)
        xs = [t.params[name] for t in done]
        ys = [t.value for t in done]
        numeric = all(isinstance(x, int | float) and not isinstance(x, bool) for x in xs)
        if not numeric:
            order = list(dim.choices or dict.fromkeys(map(str, xs)))
            xs = [order.index(x) if x in order else 0 for x in xs]
            ax.set_xticks(range(len(order)), [str(o) for o in order])
            ax.set_xlim(-0.5, len(order) - 0.5)
        ax.scatter(xs, ys, s=28, alpha=0.75, color="#0a6ebd")
        if best is not None:
            bx = best.params[name] if numeric else list(dim.choices or ()).index(best.params[name])
            ax.scatter([bx], [best.value], s=110, facecolors="none", edgecolors="#d62728", linewidths=1.8)
        values = [x for x in (dim.choices or ()) if isinstance(x, int | float) and not isinstance(x, bool)]
        wide = bool(values) and min(values) > 0 and max(values) / min(values) >= 8
        if numeric and (dim.log or wide):
            ax.set_xscale("log")
        if numeric and values:
            ax.set_xticks(values, [_short(v) for v in values])
            ax.minorticks_off()
        ax.set_xlabel(name)
        ax.set_ylabel(result.metric)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{result.metric} against each param ({len(done)} trials; red ring: the best)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_best_spec(spec: Path, best: Trial, result: SearchResult, path: Path) -> Path:
    """The spec with the best trial's values in its ``params:`` (and without its ``search:``)."""
    doc = load_file(spec)
    data = dict(doc.data)
    data["params"] = {**dict(data.get("params") or {}), **best.params}
    data.pop("search", None)
    shown = ", ".join(f"{k}={v}" for k, v in best.params.items())
    head = (
        f"# The best variant of {spec} found by `cellgraph search`: trial {best.number}, {shown}\n"
        f"# {result.metric} {_num(best.value)} ({result.direction}); the whole table is in results.csv\n"
    )
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    path.write_text(head + text, encoding="utf-8")
    return path


def contact_sheet(result: SearchResult, variant_of: Callable[[Mapping[str, Any]], Variant], path: Path) -> Path | None:
    """One thumbnail per architecture (its best trial's metric under it), best first."""
    from PIL import Image, ImageDraw, ImageFont

    best_by_arch: dict[str, Trial] = {}
    sign = 1 if result.direction == "maximize" else -1
    for t in result.trials:
        if t.state != "complete" or t.value is None or not t.arch:
            continue
        held = best_by_arch.get(t.arch)
        if held is None or sign * t.value > sign * (held.value or 0.0):
            best_by_arch[t.arch] = t
    picks = sorted(best_by_arch.values(), key=lambda t: -sign * (t.value or 0.0))
    if not picks:
        return None
    thumbs = []
    for t in picks:
        image = _thumbnail(variant_of(t.params))
        if image is None:
            return None  # no Graphviz here: the table and plots still stand
        thumbs.append((t, image))
    cols = min(SHEET_COLUMNS, len(thumbs))
    rows = -(-len(thumbs) // cols)
    w, h = THUMB
    sheet = Image.new("RGB", (cols * w, rows * (h + CAPTION)), "white")
    draw = ImageDraw.Draw(sheet)
    font = _font(ImageFont, 13)
    top = result.best
    # one scale for every diagram (the largest fits its cell), so sizes compare and titles match
    scale = min(1.0, *(min((w - 12) / im.width, (h - 12) / im.height) for _, im in thumbs))
    for i, (t, image) in enumerate(thumbs):
        x, y = (i % cols) * w, (i // cols) * (h + CAPTION)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        sheet.paste(image, (x + (w - image.width) // 2, y + (h - image.height) // 2))
        params = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
        metric = f"{result.metric} {t.value:.4g}" + ("  (best)" if top is not None and t.number == top.number else "")
        draw.text((x + 8, y + h + 2), _fit(params, w - 16, draw, font), fill="#222222", font=font)
        draw.text((x + 8, y + h + 22), metric, fill="#c0392b" if t is picks[0] else "#222222", font=font)
        draw.rectangle((x, y, x + w - 1, y + h + CAPTION - 1), outline="#dddddd")
    sheet.save(path)
    return path


def _thumbnail(variant: Variant) -> Any:
    from PIL import Image

    from ..render import render

    try:
        png = render(variant.graph, legend=False, dpi=72, metadata="none").to_bytes("png")
    except Exception:
        return None
    return Image.open(io.BytesIO(png)).convert("RGB")


def _font(module: Any, size: int) -> Any:
    for name in ("LiberationSans-Regular.ttf", "DejaVuSans.ttf", "Arial.ttf"):
        try:
            return module.truetype(name, size)
        except OSError:
            continue
    return module.load_default()


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _fit(text: str, width: int, draw: Any, font: Any) -> str:
    while text and draw.textlength(text, font=font) > width:
        text = text[:-2]
    return text
