"""The cells view's geometry against ZOO.md §2 and Appendix A (no Graphviz needed).

ZOO.md is the oracle: every zoo spec must draw the chart's cells (type and position, in lattice
pitches) and the chart's lines. The expectations below are typed in from ZOO.md, not computed
from the renderer, and test_render.py checks the rendered SVG against the same table.

How lines are counted, as ZOO.md §2 counts them ("handlebars and arcs counted separately"):

- ``lines`` is every drawn connection that is not a skip arc: full, local, complete, sparse,
  the vertical *chain* lines inside recurrent columns (RNN 27 + 4 chains = 31; the DNC's 46 and
  the AN's 32 already include their 3 chains), and each capsule *double* line once (CN: 69 =
  13 + 14 + 12 + 6 + 6 + 9 + 9, of which 12 + 6 = 18 are double).
- ``arcs`` are the DRN's skip arcs over the top row (32 lines + 3 arcs).
- ``bars`` are handlebars (a loop on top of a cell), never lines.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import pytest
from conftest import EXAMPLES, ZOO, zoo_files

from cellgraph import build_graph, load_spec
from cellgraph.render.layout import Layout, layout_cells

# ------------------------------------------------------------------------------- ZOO.md §1.1, §2

ABBR = {  # ZOO.md §2.0's column abbreviations -> SPEC types
    "In": "input",
    "BIn": "backfed_input",
    "NIn": "noisy_input",
    "H": "hidden",
    "PH": "probabilistic_hidden",
    "SH": "spiking_hidden",
    "Cap": "capsule",
    "Out": "output",
    "MIO": "match_input_output",
    "Rec": "recurrent",
    "Mem": "memory",
    "GMem": "gated_memory",
    "K": "kernel",
    "CP": "convolution",
}

Point = tuple[float, float]
Key = str  # a cell of the expected drawing: "In@0,0.5"


@dataclass(frozen=True)
class Expected:
    """One network of the chart: its cells, lines and handlebars, straight from ZOO.md."""

    cells: dict[Key, tuple[str, Point]]  # key -> (type, (x, y)) in pitches, origin at min x / min y
    lines: frozenset[frozenset[Key]]  # every line, arcs excluded
    zoo_lines: int  # ZOO.md §2's line count (see the module docstring)
    arcs: frozenset[frozenset[Key]] = frozenset()
    double: frozenset[frozenset[Key]] = frozenset()  # capsule double lines (a subset of lines)
    bars: frozenset[Key] = frozenset()  # cells with a handlebar
    gaps: tuple[int, ...] = ()  # ZOO.md's lines between adjacent columns (regular networks)
    columns: tuple[tuple[int, str], ...] = ()  # (count, type) left to right (regular networks)
    regular: bool = field(default=False)


def _key(t: str, p: Point) -> Key:
    return f"{t}@{p[0]:g},{p[1]:g}"


def _parse_columns(text: str) -> list[tuple[int, str]]:
    """'3 In · 4 H · 2 Out' -> [(3, 'input'), (4, 'hidden'), (2, 'output')]."""
    out = []
    for part in text.split("·"):
        count, abbr = part.split()
        out.append((int(count), ABBR[abbr]))
    return out


def regular(
    columns: str,
    kinds: str,
    zoo_lines: int,
    gaps: tuple[int, ...],
    *,
    chains: str = "",
    arcs: Iterable[tuple[int, int]] = (),
) -> Expected:
    """A column network (ZOO.md §2.0): columns one pitch apart, centred on one midline.

    ``kinds`` names each gap's connection: full, local3 (same row ±1), down2 / up2 (the one or two
    cells that flank a cell at the half-pitch offset). ``chains`` names the abbreviation whose
    columns carry chain lines and handlebars; ``arcs`` are (column, column) skip arcs over the
    top row.
    """
    cols = _parse_columns(columns)
    tallest = max(n for n, _ in cols)
    cells: dict[Key, tuple[str, Point]] = {}
    keys: list[list[Key]] = []
    for x, (n, t) in enumerate(cols):
        col = []
        for k in range(n):
            p = (float(x), (tallest - n) / 2 + k)
            cells[_key(t, p)] = (t, p)
            col.append(_key(t, p))
        keys.append(col)
    kind_list = kinds.split()
    assert len(kind_list) == len(cols) - 1 == len(gaps)
    lines: set[frozenset[Key]] = set()
    for x, kind in enumerate(kind_list):
        for a, b in itertools.product(keys[x], keys[x + 1]):
            dy = abs(cells[a][1][1] - cells[b][1][1])
            if (
                kind == "full"
                or (kind == "local3" and dy <= 1.0)
                or (kind in ("down2", "up2") and abs(dy - 0.5) < 1e-9)
            ):
                lines.add(frozenset((a, b)))
    bars: set[Key] = set()
    if chains:
        for col in keys:
            if cells[col[0]][0] == ABBR[chains]:
                bars.update(col)
                lines.update(frozenset(pair) for pair in itertools.pairwise(col))
    arc_set = frozenset(frozenset((keys[i][0], keys[j][0])) for i, j in arcs)
    return Expected(
        cells, frozenset(lines), zoo_lines, arc_set, bars=frozenset(bars), gaps=gaps, columns=tuple(cols), regular=True
    )


def irregular(
    named: dict[str, tuple[str, Point]],
    lines: Iterable[tuple[str, str]],
    zoo_lines: int,
    *,
    bars: Iterable[str] = (),
    double: Iterable[tuple[str, str]] = (),
) -> Expected:
    """A network of ZOO.md Appendix A: named cells at given positions and an explicit line list."""
    cells = {_key(ABBR[t], p): (ABBR[t], p) for t, p in named.values()}
    k = {name: _key(ABBR[t], p) for name, (t, p) in named.items()}
    lines = list(lines)
    line_set = frozenset(frozenset((k[a], k[b])) for a, b in lines)
    assert len(line_set) == len(lines), "a line typed in twice"
    return Expected(
        cells,
        line_set,
        zoo_lines,
        double=frozenset(frozenset((k[a], k[b])) for a, b in double),
        bars=frozenset(k[b] for b in bars),
    )


def _pairs(a: Iterable[str], b: Iterable[str]) -> list[tuple[str, str]]:
    return list(itertools.product(a, b))


# ---- Appendix A


def _octagon(types: dict[Point, str]) -> Expected:
    ring = [(1.5, 0), (0.5, 0.5), (2.5, 0.5), (0, 1.5), (3, 1.5), (0.5, 2.5), (2.5, 2.5), (1.5, 3)]
    named = {f"c{i}": (types[p], (float(p[0]), float(p[1]))) for i, p in enumerate(ring)}
    return irregular(named, list(itertools.combinations(named, 2)), 28)


def _reservoir(abbr: str) -> Expected:
    """LSM / ELM / ESN: the shared sparse wiring of Appendix A (24 lines)."""
    named: dict[str, tuple[str, Point]] = {f"I{i}": ("In", (0.0, i - 0.5)) for i in (1, 2, 3)}
    named |= {f"R{c}{r}": (abbr, (float(c), float(r - 1))) for c in (1, 2, 3) for r in (1, 2, 3, 4)}
    named |= {"O1": ("Out", (4.0, 1.0)), "O2": ("Out", (4.0, 2.0))}
    text = (
        "I1-R11 I1-R12 I2-R11 I2-R12 I2-R13 I3-R33 I3-R34 "
        "R11-R21 R11-R22 R21-R33 R31-R12 R12-R33 R12-R24 R22-R32 R22-R13 R22-R34 R13-R24 R33-R24 R14-R24 "
        "R31-O1 R32-O1 R14-O1 R33-O2 R34-O2"
    )
    return irregular(named, [tuple(pair.split("-")) for pair in text.split()], 24)


def _ntm() -> Expected:
    named: dict[str, tuple[str, Point]] = {f"I{i}": ("In", (0.0, float(i))) for i in range(3)}
    named |= {f"A{i}": ("H", (1.0, i + 0.5)) for i in range(2)}
    named |= {f"B{i}": ("H", (2.0, i + 0.5)) for i in range(2)}
    named |= {f"C{i}": ("H", (3.0, float(i))) for i in range(3)}
    named |= {"O": ("Out", (4.0, 1.0))}
    named |= {f"M{i}": ("Mem", (2.5 + i, 3.0)) for i in range(3)}
    group = {g: [n for n in named if n[0] == g] for g in "IABCOM"}
    lines = (
        _pairs(group["I"], group["A"])
        + _pairs(group["A"], group["B"])
        + _pairs(group["B"], group["C"])
        + _pairs(group["C"], group["O"])
        + _pairs(group["C"], group["M"])
    )
    return irregular(named, lines, 28)


def _dnc() -> Expected:
    xs = [0, 1.125, 2.25, 3.375, 4.5, 5.625, 6.75]
    named: dict[str, tuple[str, Point]] = {}
    for k, x in enumerate(xs, 1):
        named[f"M{k}t"] = ("Mem", (x, 3.0))
        named[f"M{k}b"] = ("Mem", (x, 3.875))
    named |= {"I1": ("In", (1.25, 0.0)), "I2": ("In", (1.25, 1.0))}
    for c, x in zip((1, 2, 3), (2.25, 3.375, 4.5), strict=True):
        named[f"C{c}1"] = ("Rec", (x, 0.0))
        named[f"C{c}2"] = ("Rec", (x, 1.0))
    named |= {"O": ("Out", (5.5, 0.5)), "R": ("In", (2.25, 2.0)), "W": ("Out", (4.5, 2.0))}
    text = (
        "I1-C11 I1-C12 I2-C11 I2-C12 "
        "C11-C21 C11-C22 C12-C21 C12-C22 C21-C31 C21-C32 C22-C31 C22-C32 "
        "C11-C12 C21-C22 C31-C32 C31-O C32-O "
        "R-C12 R-C22 R-C32 R-C21 W-C32 W-C22 W-C12 W-C21"
    )
    lines = [tuple(pair.split("-")) for pair in text.split()]
    for k in range(1, 8):
        lines += [("R", f"M{k}t"), ("W", f"M{k}t"), (f"M{k}t", f"M{k}b")]
    return irregular(named, lines, 46, bars=[n for n in named if n.startswith("C")])


def _an() -> Expected:
    named = {
        "I1": ("In", (0.0, 2.06)),
        "I2": ("In", (0.0, 3.06)),
        "E1": ("Rec", (1.0, 2.06)),
        "E2": ("Rec", (1.0, 3.06)),
        "M11": ("Mem", (1.85, 0.0)),
        "M12": ("Mem", (2.73, 0.0)),
        "M21": ("Mem", (1.85, 1.0)),
        "M22": ("Mem", (2.73, 1.0)),
        "X": ("Out", (3.72, 0.56)),
        "H11": ("H", (4.73, 0.06)),
        "H21": ("H", (4.73, 1.06)),
        "H12": ("H", (5.85, 0.06)),
        "H22": ("H", (5.85, 1.06)),
        "D11": ("Rec", (4.73, 2.06)),
        "D12": ("Rec", (4.73, 3.06)),
        "D21": ("Rec", (5.85, 2.06)),
        "D22": ("Rec", (5.85, 3.06)),
        "Q": ("In", (6.85, 0.56)),
        "O": ("Out", (6.85, 2.56)),
    }
    text = (
        "I1-E1 I1-E2 I2-E1 I2-E2 E1-E2 "
        "E1-M11 E2-M21 M11-M12 M21-M22 M12-X M22-X "
        "X-H11 X-H21 H11-H12 H11-H22 H21-H12 H21-H22 H12-Q H22-Q Q-O "
        "X-D11 X-D12 E1-D11 E2-D12 "
        "D11-D21 D11-D22 D12-D21 D12-D22 D11-D12 D21-D22 D21-O D22-O"
    )
    lines = [tuple(pair.split("-")) for pair in text.split()]
    return irregular(named, lines, 32, bars=["E1", "E2", "D11", "D12", "D21", "D22"])


def _cn() -> Expected:
    """CN (Appendix A): local-3, capsules fed by kernels within 1.5 rows, double capsule lines."""
    named: dict[str, tuple[str, Point]] = {}
    named |= {f"I{y}": ("In", (0.0, float(y))) for y in range(5)}
    named |= {f"K{y}": ("K", (1.0, float(y))) for y in range(5)}
    named |= {f"P{i}": ("Cap", (2.12, i + 0.5)) for i in range(4)}
    named |= {f"Q{i}": ("Cap", (3.23, i + 1.0)) for i in range(3)}
    named |= {f"S{i}": ("Cap", (4.48, i + 1.5)) for i in range(2)}
    named |= {f"H{i}": ("H", (5.61, i + 1.0)) for i in range(3)}
    named |= {f"G{i}": ("H", (6.61, i + 1.0)) for i in range(3)}
    named |= {f"O{i}": ("Out", (7.61, i + 1.0)) for i in range(3)}

    def names(prefix: str) -> list[str]:
        return [n for n in named if n[0] == prefix]

    def y(n: str) -> float:
        return named[n][1][1]

    lines = [(i, k) for i, k in _pairs(names("I"), names("K")) if abs(y(i) - y(k)) <= 1]
    lines += [(k, p) for k, p in _pairs(names("K"), names("P")) if abs(y(k) - y(p)) <= 1.5]
    double = _pairs(names("P"), names("Q")) + _pairs(names("Q"), names("S"))
    lines += double
    lines += _pairs(names("S"), names("H")) + _pairs(names("H"), names("G")) + _pairs(names("G"), names("O"))
    return irregular(named, lines, 69, double=double)


def _kn() -> Expected:
    named: dict[str, tuple[str, Point]] = {"I0": ("In", (0.0, 0.5)), "I1": ("In", (0.0, 1.5))}
    named |= {f"H{x}{y}": ("H", (float(x), float(y))) for x in (1, 2, 3) for y in (0, 1, 2)}
    return irregular(named, _pairs(["I0", "I1"], [n for n in named if n[0] == "H"]), 18)


_BM_VISIBLE = {(0, 1.5), (0.5, 0.5), (0.5, 2.5)}
_OCTAGON = [(1.5, 0), (0.5, 0.5), (2.5, 0.5), (0, 1.5), (3, 1.5), (0.5, 2.5), (2.5, 2.5), (1.5, 3)]
_RNN_FULL = "full full full"

ZOO_NETS: dict[str, Expected] = {
    "p": regular("2 In · 1 Out", "full", 2, (2,)),
    "ff": regular("2 In · 2 H · 1 Out", "full full", 6, (4, 2)),
    "rbf": regular("2 In · 2 H · 1 Out", "full full", 6, (4, 2)),
    "dff": regular("3 In · 4 H · 4 H · 2 Out", "full full full", 36, (12, 16, 8)),
    "rnn": regular("3 In · 3 Rec · 3 Rec · 3 Out", _RNN_FULL, 27 + 4, (9, 9, 9), chains="Rec"),
    "lstm": regular("3 In · 3 Mem · 3 Mem · 3 Out", _RNN_FULL, 27 + 4, (9, 9, 9), chains="Mem"),
    "gru": regular("3 In · 3 GMem · 3 GMem · 3 Out", _RNN_FULL, 27 + 4, (9, 9, 9), chains="GMem"),
    "ae": regular("4 In · 2 H · 4 MIO", "full full", 16, (8, 8)),
    "vae": regular("4 In · 4 PH · 4 MIO", "full full", 32, (16, 16)),
    "dae": regular("4 NIn · 4 H · 4 MIO", "full full", 32, (16, 16)),
    "sae": regular("2 In · 4 H · 2 MIO", "full full", 16, (8, 8)),
    "mc": _octagon(dict.fromkeys(_OCTAGON, "PH")),
    "hn": _octagon(dict.fromkeys(_OCTAGON, "BIn")),
    "bm": _octagon({p: "BIn" if p in _BM_VISIBLE else "PH" for p in _OCTAGON}),
    "rbm": regular("3 BIn · 4 PH", "full", 12, (12,)),
    "dbn": regular("4 BIn · 2 PH · 4 H · 2 PH · 4 H · 2 PH · 4 MIO", " ".join(["full"] * 6), 48, (8,) * 6),
    "dcn": regular(
        "5 In · 5 K · 4 CP · 3 CP · 2 CP · 4 H · 4 H · 3 Out",
        "local3 down2 down2 down2 full full full",
        67,
        (13, 8, 6, 4, 8, 16, 12),
    ),
    "dn": regular("2 In · 3 CP · 4 CP · 5 K · 5 Out", "up2 up2 up2 local3", 31, (4, 6, 8, 13)),
    "dcign": regular(
        "5 In · 5 K · 4 CP · 3 CP · 3 PH · 3 CP · 4 CP · 5 K · 5 Out",
        "local3 down2 down2 full full up2 up2 local3",
        72,
        (13, 8, 6, 9, 9, 6, 8, 13),
    ),
    "gan": regular("3 BIn · 3 H · 3 H · 3 MIO · 3 H · 3 H · 2 MIO", " ".join(["full"] * 6), 51, (9, 9, 9, 9, 9, 6)),
    "lsm": _reservoir("SH"),
    "elm": _reservoir("H"),
    "esn": _reservoir("Rec"),  # plain blue, no handlebars
    "drn": regular(
        "2 In · " + "2 H · " * 7 + "2 Out", " ".join(["full"] * 8), 32, (4,) * 8, arcs=[(1, 3), (3, 5), (5, 7)]
    ),
    "dnc": _dnc(),
    "ntm": _ntm(),
    "cn": _cn(),
    "kn": _kn(),
    "an": _an(),
}

# ZOO.md §2's line counts, kept apart from the tables above as a cross-check of the typing
ZOO_LINE_COUNTS = {
    "p": 2, "ff": 6, "rbf": 6, "dff": 36, "rnn": 31, "lstm": 31, "gru": 31, "ae": 16, "vae": 32, "dae": 32,
    "sae": 16, "mc": 28, "hn": 28, "bm": 28, "rbm": 12, "dbn": 48, "dcn": 67, "dn": 31, "dcign": 72, "gan": 51,
    "lsm": 24, "elm": 24, "esn": 24, "drn": 32, "dnc": 46, "ntm": 28, "cn": 69, "kn": 18, "an": 32,
}  # fmt: skip
ZOO_ARCS = {"drn": 3}
ZOO_DOUBLE = {"cn": 12 + 6}
ZOO_BARS = {"rnn": 6, "lstm": 6, "gru": 6, "dnc": 6, "an": 6}  # ESN, NTM, HN, BM and all memories: 0

NAMES = sorted(ZOO_NETS)


def test_table_covers_the_zoo() -> None:
    assert sorted(p.stem for p in zoo_files()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_table_matches_zoo_counts(name: str) -> None:
    """The typed-in tables agree with ZOO.md's own numbers (a check on the oracle itself)."""
    exp = ZOO_NETS[name]
    assert exp.zoo_lines == ZOO_LINE_COUNTS[name] == len(exp.lines)
    assert len(exp.arcs) == ZOO_ARCS.get(name, 0)
    assert len(exp.double) == ZOO_DOUBLE.get(name, 0)
    assert len(exp.bars) == ZOO_BARS.get(name, 0)
    if exp.regular:  # ZOO.md's per-gap numbers plus the chain lines give its total
        chains = sum(1 for pair in exp.lines if len({exp.cells[k][1][0] for k in pair}) == 1)
        assert sum(exp.gaps) + chains == exp.zoo_lines


# ------------------------------------------------------------------------ drawings, either source


@dataclass
class Drawing:
    """What a picture shows, whatever produced it (a Layout here, an SVG in test_render.py)."""

    cells: dict[str, tuple[str, Point]]  # drawn id -> (type, (x, y)) in pitches, y down
    lines: list[tuple[str, str, str]]  # (id, id, "line" | "double" | "arc")
    bars: set[str] = field(default_factory=set)  # ids of cells with a handlebar

    def normalised(self) -> dict[str, tuple[str, Point]]:
        """Cells with the origin at the smallest x and smallest y (Appendix A's frame)."""
        x0 = min(p[0] for _, p in self.cells.values())
        y0 = min(p[1] for _, p in self.cells.values())
        return {i: (t, (p[0] - x0, p[1] - y0)) for i, (t, p) in self.cells.items()}


def drawing_of(layout: Layout) -> Drawing:
    return Drawing(
        {c.id: (c.type, (c.x, c.y)) for c in layout.cells},
        [(line.a, line.b, line.style) for line in layout.lines],
        {c.id for c in layout.cells if c.handlebar},
    )


TOL = 0.03  # pitches: Appendix A gives two decimals, the renderer rounds to 0.01 pt


def match_cells(exp: Expected, drawing: Drawing) -> tuple[dict[str, Key], list[str]]:
    """Pair every drawn cell with the expected cell of the same type at the same place."""
    problems: list[str] = []
    ids: dict[str, Key] = {}
    free = dict(exp.cells)
    for i, (t, (x, y)) in sorted(drawing.normalised().items(), key=lambda kv: kv[1][1]):
        near = [k for k, (et, (ex, ey)) in free.items() if abs(ex - x) <= TOL and abs(ey - y) <= TOL]
        if not near:
            problems.append(f"cell {i} ({t} at {x:.2f},{y:.2f}) is not in the chart")
            continue
        k = near[0]
        if free[k][0] != t:
            problems.append(f"cell {i} at {x:.2f},{y:.2f} is {t}; the chart has {free[k][0]} there")
        ids[i] = k
        del free[k]
    problems += [f"missing {t} cell at {p[0]:g},{p[1]:g}" for t, p in free.values()]
    return ids, problems


def columns_of(drawing: Drawing) -> list[tuple[int, str]]:
    """(count, type) per column, left to right; a column is a set of cells with one x."""
    cols: dict[float, list[str]] = {}
    for t, (x, _y) in drawing.normalised().values():
        cols.setdefault(round(x, 2), []).append(t)
    out = []
    for x in sorted(cols):
        types = Counter(cols[x])
        out.append((len(cols[x]), "/".join(sorted(types))))
    return out


def line_problems(exp: Expected, drawing: Drawing, ids: dict[str, Key]) -> list[str]:
    """Every drawn line is one of the chart's, and every chart line is drawn, in the right style."""
    problems = []

    def show(pair: frozenset[Key]) -> str:
        return " -- ".join(sorted(pair))

    got: dict[frozenset[Key], str] = {}
    for a, b, style in drawing.lines:
        if a not in ids or b not in ids:
            problems.append(f"line {a} -- {b} joins a cell that is not in the chart")
            continue
        pair = frozenset((ids[a], ids[b]))
        if pair in got:
            problems.append(f"line {show(pair)} drawn twice")
        got[pair] = style
    want = {pair: "line" for pair in exp.lines} | {pair: "double" for pair in exp.double}
    want |= {pair: "arc" for pair in exp.arcs}
    for pair in sorted(set(want) - set(got), key=show):
        problems.append(f"missing {want[pair]}: {show(pair)}")
    for pair in sorted(set(got) - set(want), key=show):
        problems.append(f"extra {got[pair]}: {show(pair)}")
    for pair in sorted(set(got) & set(want), key=show):
        if got[pair] != want[pair]:
            problems.append(f"{show(pair)} drawn as {got[pair]}, the chart draws a {want[pair]}")
    return problems


def gap_counts(drawing: Drawing) -> tuple[list[int], int]:
    """Lines between adjacent columns (left to right), and lines inside a column."""
    xs = sorted({round(p[0], 2) for _, p in drawing.normalised().values()})
    col = {i: xs.index(round(p[0], 2)) for i, (_, p) in drawing.normalised().items()}
    gaps = [0] * (len(xs) - 1)
    inside = 0
    for a, b, style in drawing.lines:
        if style == "arc":
            continue
        da, db = sorted((col[a], col[b]))
        if da == db:
            inside += 1
        elif db == da + 1:
            gaps[da] += 1
    return gaps, inside


def zoo_problems(name: str, drawing: Drawing) -> dict[str, list[str]]:
    """All checks of one drawing against ZOO.md, by aspect (empty lists when it matches)."""
    exp = ZOO_NETS[name]
    ids, cell_problems = match_cells(exp, drawing)
    out: dict[str, list[str]] = {"cells": cell_problems}
    if exp.regular:
        want = [(n, t) for n, t in exp.columns]
        got = columns_of(drawing)
        out["columns"] = [] if got == want else [f"columns {got}, ZOO.md: {want}"]
        gaps, _inside = gap_counts(drawing)
        out["gaps"] = [] if gaps == list(exp.gaps) else [f"lines per gap {gaps}, ZOO.md: {list(exp.gaps)}"]
    else:
        want_types = Counter(t for t, _ in exp.cells.values())
        got_types = Counter(t for t, _ in drawing.cells.values())
        out["columns"] = [] if got_types == want_types else [f"cells per type {got_types}, ZOO.md: {want_types}"]
        out["gaps"] = []
    n_lines = sum(1 for *_, s in drawing.lines if s != "arc")
    n_arcs = sum(1 for *_, s in drawing.lines if s == "arc")
    n_double = sum(1 for *_, s in drawing.lines if s == "double")
    out["counts"] = [
        f"{what}: drew {got}, ZOO.md §2: {want}"
        for what, got, want in (
            ("lines", n_lines, exp.zoo_lines),
            ("arcs", n_arcs, len(exp.arcs)),
            ("double lines", n_double, len(exp.double)),
        )
        if got != want
    ]
    out["lines"] = line_problems(exp, drawing, ids) if not cell_problems else ["(cells differ; lines not compared)"]
    want_bars = exp.bars
    got_bars = {ids[i] for i in drawing.bars if i in ids}
    out["bars"] = []
    if len(drawing.bars) != len(want_bars):
        out["bars"].append(f"{len(drawing.bars)} handlebars, ZOO.md: {len(want_bars)}")
    if got_bars != want_bars:
        out["bars"].append(f"handlebars on {sorted(got_bars)}, ZOO.md: {sorted(want_bars)}")
    return out


ASPECTS = ("cells", "columns", "counts", "gaps", "lines", "bars")


def assert_zoo(name: str, drawing: Drawing, aspect: str) -> None:
    problems = zoo_problems(name, drawing)[aspect]
    assert not problems, f"{name} ({aspect}):\n  " + "\n  ".join(problems[:40])


# ------------------------------------------------------------------------------------ the tests


def graph_of(path: Path, **params: object) -> nx.DiGraph:
    return build_graph(load_spec(path, params or None))


_LAYOUTS: dict[str, Layout] = {}


def zoo_layout(name: str) -> Layout:
    if name not in _LAYOUTS:
        _LAYOUTS[name] = layout_cells(graph_of(ZOO / f"{name}.yaml"))
    return _LAYOUTS[name]


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("name", NAMES)
def test_zoo_layout_matches_chart(name: str, aspect: str) -> None:
    """Cells (type, place), columns, line counts, lines per gap, exact lines, handlebars."""
    assert_zoo(name, drawing_of(zoo_layout(name)), aspect)


REGULAR = [n for n in NAMES if ZOO_NETS[n].regular]


def groups_in_order(ids: Iterable[str]) -> dict[str, int]:
    """Cells per group, groups in drawing order, from ids "group:index"."""
    out: dict[str, int] = {}
    for i in ids:
        group = i.rsplit(":", 1)[0]
        out[group] = out.get(group, 0) + 1
    return out


@pytest.mark.parametrize("name", REGULAR)
def test_zoo_groups_are_the_chart_columns(name: str) -> None:
    """In a column network every group is one column of one type, in ZOO.md's order."""
    layout = zoo_layout(name)
    counts = groups_in_order(c.id for c in layout.cells)
    types = {c.group: c.type for c in layout.cells}
    assert [(n, types[g]) for g, n in counts.items()] == list(ZOO_NETS[name].columns)
    for group in counts:
        assert len({c.x for c in layout.cells if c.group == group}) == 1, group


@pytest.mark.parametrize("name", NAMES)
def test_zoo_layout_has_no_ellipsis(name: str) -> None:
    """The chart never abbreviates a column; every zoo spec says what it shows."""
    layout = zoo_layout(name)
    assert layout.dots == ()
    assert [n.text for n in layout.notes] == []


@pytest.mark.parametrize("name", NAMES)
def test_zoo_layout_ids_and_legend(name: str) -> None:
    """Stable ids "group:index", indices 0..n-1 per group; the legend lists exactly the types drawn."""
    layout = zoo_layout(name)
    by_group: dict[str, list[int]] = {}
    for c in layout.cells:
        assert c.id == f"{c.group}:{c.index}"
        by_group.setdefault(c.group, []).append(c.index)
    for group, idx in by_group.items():
        assert sorted(idx) == list(range(len(idx))), group
    assert len({c.id for c in layout.cells}) == len(layout.cells)
    assert set(layout.types) == {t for t, _ in ZOO_NETS[name].cells.values()}
    ids = {c.id for c in layout.cells}
    assert all(line.a in ids and line.b in ids for line in layout.lines)


def test_layout_is_pure_and_repeatable() -> None:
    g = graph_of(ZOO / "dnc.yaml")
    assert layout_cells(g) == layout_cells(g) == layout_cells(graph_of(ZOO / "dnc.yaml"))


# ---- local connections on small columns (ZOO.md §2.0: local-3, down-2, up-2)


def _with_shows(graph: nx.DiGraph, shows: dict[str, int]) -> Layout:
    settings = graph.graph["draw"]
    groups = {g: dict(v) for g, v in settings.groups.items()}
    for g, n in shows.items():
        groups[g] = {"show": n}
    return layout_cells(graph, dataclasses.replace(settings, groups=groups))


def _local_lines(layout: Layout, a: str, b: str) -> set[tuple[float, float]]:
    """Lines between groups a and b as (y of the a cell, y of the b cell)."""
    at = {c.id: c for c in layout.cells}
    out = set()
    for line in layout.lines:
        ga, gb = at[line.a].group, at[line.b].group
        if {ga, gb} == {a, b}:
            ca, cb = (at[line.a], at[line.b]) if ga == a else (at[line.b], at[line.a])
            out.add((ca.y, cb.y))
    return out


def _ys(layout: Layout, group: str) -> list[float]:
    return [c.y for c in layout.cells if c.group == group]


def _expected_local(src: list[float], dst: list[float], rule: Callable[[float], bool]) -> set[tuple[float, float]]:
    return {(a, b) for a in src for b in dst if rule(abs(a - b))}


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6])
def test_local3_on_equal_columns(n: int) -> None:
    """local-3: each cell to the cells of the other column in its row and the rows next to it."""
    layout = _with_shows(graph_of(ZOO / "dcn.yaml"), {"x": n, "k": n})
    got = _local_lines(layout, "x", "k")
    want = _expected_local(_ys(layout, "x"), _ys(layout, "k"), lambda d: d <= 1.0 + 1e-9)
    assert got == want
    assert len(got) == 3 * n - 2


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_down2_on_shrinking_columns(n: int) -> None:
    """down-2: a column of n-1 after n; each cell joined to the two cells that flank it."""
    layout = _with_shows(graph_of(ZOO / "dcn.yaml"), {"k": n, "p1": n - 1})
    got = _local_lines(layout, "k", "p1")
    want = _expected_local(_ys(layout, "k"), _ys(layout, "p1"), lambda d: abs(d - 0.5) < 1e-9)
    assert got == want
    assert len(got) == 2 * (n - 1)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_up2_on_growing_columns(n: int) -> None:
    """up-2: a column of n+1 after n; each cell joined to the one or two cells that flank it."""
    layout = _with_shows(graph_of(ZOO / "dn.yaml"), {"u1": n, "u2": n + 1})
    got = _local_lines(layout, "u1", "u2")
    want = _expected_local(_ys(layout, "u1"), _ys(layout, "u2"), lambda d: abs(d - 0.5) < 1e-9)
    assert got == want
    assert len(got) == 2 * n


# ---- an ellipsis and a size label for tall groups without `show:` (ZOO.md §3.1)


def _column(layout: Layout, group: str) -> list:
    return sorted((c for c in layout.cells if c.group == group), key=lambda c: c.y)


def test_mushroom_ellipsis_and_size_labels() -> None:
    graph = graph_of(EXAMPLES / "mushroom.yaml")
    max_cells = graph.graph["draw"].max_cells
    assert max_cells == 6
    layout = layout_cells(graph)
    shown = Counter(c.group for c in layout.cells)
    assert shown == {"x": max_cells, "h.1": max_cells, "h.2": max_cells, "y": 2}
    labels = {n.text: n for n in layout.notes}
    assert sorted(n.text for n in layout.notes) == ["117", "64", "64"]
    x = _column(layout, "x")
    # three dots in the column, in the gap before its last cell, and the label under the column
    dots = sorted((d for d in layout.dots if abs(d[0] - x[0].x) < 1e-9), key=lambda d: d[1])
    assert len(dots) == 3
    assert x[-2].y < dots[0][1] < dots[-1][1] < x[-1].y
    assert x[-1].y - x[-2].y == pytest.approx(2.0)  # one cell slot holds the dots
    assert labels["117"].x == pytest.approx(x[0].x)
    assert labels["117"].y > x[-1].y
    assert len(layout.dots) == 9  # x, h.1 and h.2 are shortened; y (2 cells) is not
    # lines still join every shown cell: 6x6 + 6x6 + 6x2
    assert len(layout.lines) == 36 + 36 + 12
    # the shortened columns stay centred on the drawing's midline
    mids = {g: (cs[0].y + cs[-1].y) / 2 for g in shown for cs in [_column(layout, g)]}
    assert len({round(v, 6) for v in mids.values()}) == 1


def test_max_cells_override_and_show() -> None:
    graph = graph_of(EXAMPLES / "mushroom.yaml")
    settings = graph.graph["draw"]
    layout = layout_cells(graph, dataclasses.replace(settings, max_cells=3))
    assert Counter(c.group for c in layout.cells) == {"x": 3, "h.1": 3, "h.2": 3, "y": 2}
    assert sorted(n.text for n in layout.notes) == ["117", "64", "64"]
    # an explicit `show:` means "draw this many": no ellipsis, no label
    groups = dict(settings.groups) | {"x": {"show": 4}}
    layout = layout_cells(graph, dataclasses.replace(settings, groups=groups))
    assert Counter(c.group for c in layout.cells)["x"] == 4
    assert sorted(n.text for n in layout.notes) == ["64", "64"]
    assert len(layout.dots) == 6


def test_small_groups_are_not_shortened() -> None:
    graph = graph_of(EXAMPLES / "mushroom.yaml", width=6)
    layout = layout_cells(graph)
    assert sorted(n.text for n in layout.notes) == ["117"]
    assert Counter(c.group for c in layout.cells) == {"x": 6, "h.1": 6, "h.2": 6, "y": 2}


# ---- `columns: k` collapses repeat copies (DRN: 20 hidden layers drawn as the chart's 7)


def test_drn_columns_collapse() -> None:
    graph = graph_of(ZOO / "drn.yaml")
    assert sum(1 for n in graph if n.startswith("h.")) == 50
    layout = zoo_layout("drn")
    groups = list(dict.fromkeys(c.group for c in layout.cells))
    assert groups == ["x", *(f"h.{k}" for k in range(1, 8)), "y"]
    arcs = {(line.a, line.b) for line in layout.lines if line.style == "arc"}
    assert arcs == {("h.1:0", "h.3:0"), ("h.3:0", "h.5:0"), ("h.5:0", "h.7:0")}  # top row only
    # the last drawn copy stands for h.50: it feeds y
    to_y = {frozenset((line.a, line.b)) for line in layout.lines if "y:" in line.a + line.b}
    assert to_y == {frozenset((f"h.7:{i}", f"y:{j}")) for i in (0, 1) for j in (0, 1)}


@pytest.mark.parametrize(("depth", "columns", "arcs"), [(20, 3, 1), (20, 5, 2), (6, 7, 2), (4, 4, 1)])
def test_columns_setting(depth: int, columns: int, arcs: int) -> None:
    graph = graph_of(ZOO / "drn.yaml", depth=depth)
    settings = graph.graph["draw"]
    groups = dict(settings.groups) | {f"h.{k}": {"show": 2, "columns": columns} for k in range(1, depth + 1)}
    layout = layout_cells(graph, dataclasses.replace(settings, groups=groups))
    drawn = min(depth, columns)
    assert [g for g in dict.fromkeys(c.group for c in layout.cells)] == [
        "x",
        *(f"h.{k}" for k in range(1, drawn + 1)),
        "y",
    ]
    assert sum(line.style == "arc" for line in layout.lines) == arcs
    assert sum(line.style == "line" for line in layout.lines) == 4 * (drawn + 1)
