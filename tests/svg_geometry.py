"""Geometric checks on the Graphviz SVG that ``cellgraph.render.render(...).svg`` makes.

Issue 13 asks that a drawing never runs a line through a cell it does not join and never lays two
connections on top of each other, "checked geometrically on the SVG". Reading the SVG (not the
layout engine's own numbers) makes the checks independent of how the layout was computed: what a
reader sees is what is measured.

What is parsed: ``<g class="node">`` (id from ``<title>``; its shape the largest ``<ellipse>``, else
the convex hull of its polygons and paths) and ``<g class="edge">`` (endpoints from the title
``a--b`` / ``a->b``; every ``<path>`` sampled into a polyline, arrowhead polygons ignored). Node ids
that contain ``~`` are decorations (handlebars, markers, ellipsis dots, titles, legends, notes),
never cells. All coordinates have the root group's ``scale``/``translate`` applied, so they are in
the SVG's points.

Everything here is a pure function; the two checks are vectorised with numpy and pruned by a
uniform grid, so a drawing of a few thousand lines takes well under a second.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

import numpy as np

SVG_NS = "{http://www.w3.org/2000/svg}"
BEZIER_SAMPLES = 24  # points per cubic Bézier segment
CIRCLE_FRACTION = 0.85  # a line closer than this x radius to a foreign cell's centre goes through it
BOX_SHRINK = 2.0  # pt: a line entering a foreign box shrunk by this much goes through it
COINCIDE_TOL = 1.0  # pt: points of one line this close to another line lie on it
COINCIDE_MIN_RUN = 6.0  # pt: a shared stretch longer than this is a coincidence, not a crossing
SHARED_END_FACTOR = 1.2  # x radius around a shared endpoint where lines legitimately fan out
RESAMPLE_STEP = 0.5  # pt: spacing of the query points of the coincidence check
COINCIDE_MAX_ANGLE = 6.0  # degrees: lines closer to parallel than this, and close, lie on each other


@dataclass(frozen=True)
class Node:
    """One drawn node: a circle/ellipse (``rx``, ``ry`` radii) or a box (``rx``, ``ry`` half-sizes).

    A box also keeps its outline, the convex hull of its polygons and paths: the layers view draws
    trapezoids (pooling, up-sampling) and 3-D kernel boxes, whose corners are empty.
    """

    id: str
    x: float
    y: float
    shape: str  # "ellipse" or "box"
    rx: float
    ry: float
    outline: np.ndarray | None = field(default=None, repr=False, compare=False)  # (k, 2) hull, boxes only

    @property
    def is_cell(self) -> bool:
        """Decorations (``~bar``, ``~mark``, ``~dot``, ``~title``, ``~legend``, ``~note``) are not cells."""
        return "~" not in self.id

    @property
    def radius(self) -> float:
        """The larger radius (or half-size): the node's reach around its centre."""
        return max(self.rx, self.ry)


@dataclass(frozen=True)
class Edge:
    """One drawn connection: its SVG title, endpoint node ids and one polyline per ``<path>``."""

    id: str
    tail: str
    head: str
    polylines: tuple[np.ndarray, ...] = field(repr=False)  # each (n, 2), n >= 2

    @property
    def ends(self) -> frozenset[str]:
        return frozenset((self.tail, self.head))


@dataclass(frozen=True)
class Drawing:
    nodes: dict[str, Node]
    edges: list[Edge]
    width: float
    height: float

    @property
    def cells(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.is_cell]


# ----------------------------------------------------------------------------- parsing

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_TOKEN = re.compile(rf"[A-Za-z]|{_NUM}")


def _length(value: str | None) -> float:
    """'340pt' -> 340.0 (Graphviz writes points; other units are taken at face value)."""
    if not value:
        raise ValueError("the root <svg> has no width/height attribute")
    m = re.match(_NUM, value.strip())
    if not m:
        raise ValueError(f"cannot read the length {value!r}")
    return float(m.group(0))


def _root_transform(root: ET.Element) -> tuple[float, float, float, float]:
    """(sx, sy, tx, ty) of the top-level graph group: a point p is drawn at s * (p + t)."""
    graph = next((g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "graph"), None)
    text = graph.get("transform", "") if graph is not None else ""
    sx = sy = 1.0
    tx = ty = 0.0
    if m := re.search(rf"scale\(\s*({_NUM})(?:[\s,]+({_NUM}))?\s*\)", text):
        sx = float(m.group(1))
        sy = float(m.group(2)) if m.group(2) else sx
    if m := re.search(rf"translate\(\s*({_NUM})(?:[\s,]+({_NUM}))?\s*\)", text):
        tx = float(m.group(1))
        ty = float(m.group(2)) if m.group(2) else 0.0
    if re.search(rf"rotate\(\s*(?!0(?:\.0*)?\s*\))({_NUM})", text):
        raise ValueError(f"rotated drawings are not supported: transform={text!r}")
    return sx, sy, tx, ty


def _cubic(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, p3: np.ndarray, n: int) -> np.ndarray:
    """n points of one cubic Bézier, t in (0, 1] (the start point belongs to the previous piece)."""
    t = np.linspace(0.0, 1.0, n + 1)[1:, None]
    u = 1.0 - t
    return u**3 * p0 + 3 * u * u * t * p1 + 3 * u * t * t * p2 + t**3 * p3


def path_polylines(d: str, samples: int = BEZIER_SAMPLES) -> list[np.ndarray]:
    """Sample an SVG path's ``d`` into polylines (one per subpath): M, L, H, V, C, Z, absolute or relative.

    Graphviz edges use only ``M`` and ``C``; the others are here so a hand-written test SVG or a
    future renderer change does not silently lose a line.
    """
    tokens = _TOKEN.findall(d)
    out: list[np.ndarray] = []
    pts: list[np.ndarray] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    cmd = ""
    i = 0

    def num() -> float:
        nonlocal i
        v = float(tokens[i])
        i += 1
        return v

    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
            if cmd in "Zz":
                if pts:
                    pts.append(start.copy())
                    cur = start.copy()
                continue
        if not cmd:
            raise ValueError(f"path data starts without a command: {d[:40]!r}")
        rel = cmd.islower()
        c = cmd.upper()
        base = cur if rel else np.zeros(2)
        if c == "M":
            if len(pts) >= 2:
                out.append(np.array(pts))
            cur = base + np.array([num(), num()])
            start = cur.copy()
            pts = [cur.copy()]
            cmd = "l" if rel else "L"  # further pairs after M are line-tos
        elif c == "L":
            cur = base + np.array([num(), num()])
            pts.append(cur.copy())
        elif c == "H":
            cur = np.array([num() + (cur[0] if rel else 0.0), cur[1]])
            pts.append(cur.copy())
        elif c == "V":
            cur = np.array([cur[0], num() + (cur[1] if rel else 0.0)])
            pts.append(cur.copy())
        elif c == "C":
            p1 = base + np.array([num(), num()])
            p2 = base + np.array([num(), num()])
            p3 = base + np.array([num(), num()])
            pts.extend(_cubic(cur, p1, p2, p3, samples))
            cur = p3
        else:
            raise ValueError(f"unsupported path command {cmd!r} in {d[:60]!r}")
    if len(pts) >= 2:
        out.append(np.array(pts))
    return out


def _points(text: str) -> np.ndarray:
    """All coordinate pairs in a ``points``/``d`` attribute (for bounding boxes)."""
    nums = [float(v) for v in re.findall(_NUM, text)]
    return np.array(nums[: len(nums) // 2 * 2], dtype=float).reshape(-1, 2)


def _node(node_id: str, g: ET.Element, sx: float, sy: float, tx: float, ty: float) -> Node | None:
    """The node's outline: its largest ellipse, else the bounding box of its polygons/paths; None if neither."""
    ellipses = list(g.iter(f"{SVG_NS}ellipse")) + list(g.iter(f"{SVG_NS}circle"))
    if ellipses:
        best = max(ellipses, key=lambda e: float(e.get("rx", e.get("r", 0))) * float(e.get("ry", e.get("r", 0))))
        rx = float(best.get("rx", best.get("r", 0)))
        ry = float(best.get("ry", best.get("r", 0)))
        cx, cy = float(best.get("cx", 0)), float(best.get("cy", 0))
        return Node(node_id, sx * (cx + tx), sy * (cy + ty), "ellipse", abs(sx) * rx, abs(sy) * ry)
    chunks = [p.get("points", "") for p in g.iter(f"{SVG_NS}polygon")]
    chunks += [p.get("d", "") for p in g.iter(f"{SVG_NS}path")]
    chunks += [p.get("points", "") for p in g.iter(f"{SVG_NS}polyline")]
    pts = [_points(c) for c in chunks if c]
    pts = [p for p in pts if len(p)]
    if not pts:
        return None
    allp = np.vstack(pts) * np.array([sx, sy]) + np.array([sx * tx, sy * ty])
    (x0, y0), (x1, y1) = allp.min(axis=0), allp.max(axis=0)
    return Node(node_id, (x0 + x1) / 2, (y0 + y1) / 2, "box", (x1 - x0) / 2, (y1 - y0) / 2, _convex_hull(allp))


def _cross(u: np.ndarray, v: np.ndarray) -> float:
    """The z component of u x v for 2-D vectors (np.cross on 2-D vectors is deprecated)."""
    return float(u[0] * v[1] - u[1] * v[0])


def _convex_hull(pts: np.ndarray) -> np.ndarray:
    """Andrew's monotone chain: the hull's vertices in order, collinear points dropped."""
    uniq = np.unique(np.round(pts, 6), axis=0)
    if len(uniq) < 3:
        return uniq

    def half(points: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for pt in points:
            while len(chain) >= 2 and _cross(chain[-1] - chain[-2], pt - chain[-2]) <= 0:
                chain.pop()
            chain.append(pt)
        return chain

    lower, upper = half(uniq), half(uniq[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _split_title(title: str, known: set[str]) -> tuple[str, str]:
    """'a--b' / 'a->b' -> (a, b), choosing the split whose halves are node ids (names may hold '-').

    A Graphviz port (``a:p--b``) is stripped when ``a`` itself is not a node id.
    """
    candidates = [m.start() for m in re.finditer(r"(?=--|->)", title)]
    splits = [(title[:k], title[k + 2 :]) for k in candidates]

    def resolve(name: str) -> str | None:
        if name in known:
            return name
        while ":" in name:
            name = name.rsplit(":", 1)[0]
            if name in known:
                return name
        return None

    for a, b in splits:
        ra, rb = resolve(a), resolve(b)
        if ra is not None and rb is not None:
            return ra, rb
    if splits:
        return splits[0]
    raise ValueError(f"edge title {title!r} has neither '--' nor '->'")


def parse(svg: str) -> Drawing:
    """Read a Graphviz SVG into nodes and edges in the SVG's own points (root transform applied)."""
    root = ET.fromstring(svg)
    sx, sy, tx, ty = _root_transform(root)
    nodes: dict[str, Node] = {}
    edge_groups: list[tuple[str, ET.Element]] = []
    for g in root.iter(f"{SVG_NS}g"):
        cls = g.get("class")
        if cls not in ("node", "edge"):
            continue
        title_el = g.find(f"{SVG_NS}title")
        title = (title_el.text or "") if title_el is not None else ""
        if cls == "node":
            node = _node(title, g, sx, sy, tx, ty)
            if node is not None:
                nodes[title] = node
        else:
            edge_groups.append((title, g))
    known = set(nodes)
    edges: list[Edge] = []
    scale = np.array([sx, sy])
    shift = np.array([tx, ty])
    for title, g in edge_groups:
        tail, head = _split_title(title, known)
        lines: list[np.ndarray] = []
        for p in g.iter(f"{SVG_NS}path"):
            lines.extend(scale * (pl + shift) for pl in path_polylines(p.get("d", "")))
        if lines:
            edges.append(Edge(title, tail, head, tuple(lines)))
    return Drawing(nodes, edges, _length(root.get("width")), _length(root.get("height")))


def aspect(svg: str) -> float:
    """Width / height of the drawing, from the root ``<svg>``'s width and height attributes."""
    root = ET.fromstring(svg)
    return _length(root.get("width")) / _length(root.get("height"))


def groups_drawn(d: Drawing, view: str) -> set[str]:
    """Names of the groups with at least one drawn node.

    Cells view ids are ``group:k`` (the group may hold dots: ``enc.h``, ``h.3``); layers view ids
    are the group keys themselves. Decorations (``~``) do not count.
    """
    if view not in ("cells", "layers"):
        raise ValueError(f"view must be 'cells' or 'layers', not {view!r}")
    out: set[str] = set()
    for node in d.nodes.values():
        if not node.is_cell:
            continue
        out.add(node.id.rsplit(":", 1)[0] if view == "cells" and ":" in node.id else node.id)
    return out


def group_visible(name: str, drawn: set[str]) -> bool:
    """A spec's top-level group is visible if it, one of its repeat copies (``h.3``) or parts (``enc.x``) is drawn."""
    return any(g == name or g.startswith(name + ".") for g in drawn)


# ----------------------------------------------------------------------------- grid pruning


def _grid_pairs(
    a: np.ndarray, b: np.ndarray, cell: float, a_tag: np.ndarray | None = None, b_tag: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j) whose boxes a[i], b[j] (rows x0, y0, x1, y1) overlap, found through a uniform grid.

    Each box is entered in every grid cell it touches; pairs sharing a cell are candidates, then
    the exact overlap test keeps the true ones. Linear in the number of (box, cell) entries.
    With tags (small non-negative ints, one per box), only boxes with equal tags pair up: the
    coincidence check tags by direction, so crossing lines never become candidates.
    """
    empty = np.zeros(0, dtype=np.int64)
    if len(a) == 0 or len(b) == 0:
        return empty, empty
    lo = np.floor(np.minimum(a[:, :2].min(axis=0), b[:, :2].min(axis=0)) / cell).astype(np.int64)
    tags = 1 if a_tag is None or b_tag is None else int(max(a_tag.max(), b_tag.max())) + 1

    def entries(boxes: np.ndarray, tag: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        i0 = np.floor(boxes[:, :2] / cell).astype(np.int64) - lo
        i1 = np.floor(boxes[:, 2:] / cell).astype(np.int64) - lo
        nx = i1[:, 0] - i0[:, 0] + 1
        ny = i1[:, 1] - i0[:, 1] + 1
        counts = nx * ny
        idx = np.repeat(np.arange(len(boxes)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        local = np.arange(counts.sum()) - first
        gx = i0[idx, 0] + local // ny[idx]
        gy = i0[idx, 1] + local % ny[idx]
        key = (gx * (1 << 31) + gy) * tags + (tag[idx] if tag is not None and tags > 1 else 0)
        return idx, key, gx, gy

    ia, ka, gxa, gya = entries(a, a_tag)
    ib, kb, _, _ = entries(b, b_tag)
    order = np.argsort(kb, kind="stable")
    kb, ib = kb[order], ib[order]
    left = np.searchsorted(kb, ka, side="left")
    n = np.searchsorted(kb, ka, side="right") - left
    sel = np.repeat(np.arange(len(ia)), n)
    pa = ia[sel]
    pb = ib[np.repeat(left, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))]
    keep = (a[pa, 0] <= b[pb, 2]) & (b[pb, 0] <= a[pa, 2]) & (a[pa, 1] <= b[pb, 3]) & (b[pb, 1] <= a[pa, 3])
    # two boxes may share several grid cells: count the pair only in the cell holding the
    # lower corner of their intersection, so each pair comes out once (no np.unique needed)
    cx = np.floor(np.maximum(a[pa, 0], b[pb, 0]) / cell).astype(np.int64) - lo[0]
    cy = np.floor(np.maximum(a[pa, 1], b[pb, 1]) / cell).astype(np.int64) - lo[1]
    keep &= (cx == gxa[sel]) & (cy == gya[sel])
    return pa[keep], pb[keep]


def _segments(d: Drawing, max_len: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All polyline segments, split to at most ``max_len`` pt: starts (S, 2), ends (S, 2), edge index (S,).

    Splitting keeps every segment's bounding box within a few grid cells, so a long straight line
    (a ``L`` or a flat Bézier across the drawing) does not enter thousands of cells of the grid.
    """
    starts, ends, owner = [], [], []
    for k, e in enumerate(d.edges):
        for pl in e.polylines:
            starts.append(pl[:-1])
            ends.append(pl[1:])
            owner.append(np.full(len(pl) - 1, k))
    if not starts:
        z = np.zeros((0, 2))
        return z, z, np.zeros(0, dtype=np.int64)
    p, q, own = np.vstack(starts), np.vstack(ends), np.concatenate(owner)
    pieces = np.maximum(np.ceil(np.linalg.norm(q - p, axis=1) / max_len).astype(np.int64), 1)
    if (pieces == 1).all():
        return p, q, own
    idx = np.repeat(np.arange(len(p)), pieces)
    k = np.arange(pieces.sum()) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    t0 = (k / pieces[idx])[:, None]
    t1 = ((k + 1) / pieces[idx])[:, None]
    v = q[idx] - p[idx]
    return p[idx] + t0 * v, p[idx] + t1 * v, own[idx]


def _seg_boxes(p: np.ndarray, q: np.ndarray, pad: float = 0.0) -> np.ndarray:
    return np.hstack([np.minimum(p, q) - pad, np.maximum(p, q) + pad])


def _point_segment_dist(pt: np.ndarray, p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise distance from points pt to segments p-q (all (n, 2))."""
    v = q - p
    vv = np.einsum("ij,ij->i", v, v)
    t = np.where(vv > 0, np.einsum("ij,ij->i", pt - p, v) / np.where(vv > 0, vv, 1.0), 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.linalg.norm(p + t[:, None] * v - pt, axis=1)


def _fmt(p: np.ndarray) -> str:
    return f"({p[0]:.1f}, {p[1]:.1f})"


# ----------------------------------------------------------------------------- the checks


def lines_through_cells(d: Drawing) -> list[str]:
    """Edges that pass through a cell they do not join, one readable string per (edge, cell)."""
    return [msg for _, _, msg in _through(d)]


def through_pairs(d: Drawing) -> set[tuple[str, str]]:
    """The (edge id, cell id) pairs of :func:`lines_through_cells`, for tests that compare sets."""
    return {(e, c) for e, c, _ in _through(d)}


def _through(d: Drawing) -> list[tuple[str, str, str]]:
    """(edge id, cell id, message) for every edge that passes through a cell it does not join.

    A line goes through a circle when it comes closer to its centre than ``CIRCLE_FRACTION`` x its
    radius (an ellipse: the same in the ellipse's own scale), and through a box when it enters the
    box's outline (the convex hull of its shapes) moved inwards by ``BOX_SHRINK`` pt. Grazing a cell's rim is allowed; crossing its middle is not,
    since it reads as a connection to that cell.
    """
    cells = d.cells
    p, q, owner = _segments(d, max_len=24.0)
    if not cells or len(p) == 0:
        return []
    ctr = np.array([[c.x, c.y] for c in cells])
    rad = np.array([[c.rx, c.ry] for c in cells])
    is_box = np.array([c.shape == "box" for c in cells])
    reach = np.where(is_box[:, None], np.maximum(rad - BOX_SHRINK, 0.0), rad * CIRCLE_FRACTION)
    si, ci = _grid_pairs(_seg_boxes(p, q), np.hstack([ctr - reach, ctr + reach]), cell=24.0)
    # a cell that is one of the edge's own endpoints is not "foreign"
    index = {c.id: k for k, c in enumerate(cells)}
    tail = np.array([index.get(e.tail, -1) for e in d.edges], dtype=np.int64)
    head = np.array([index.get(e.head, -1) for e in d.edges], dtype=np.int64)
    foreign = (tail[owner[si]] != ci) & (head[owner[si]] != ci)
    si, ci = si[foreign], ci[foreign]
    if len(si) == 0:
        return []
    a, b = p[si] - ctr[ci], q[si] - ctr[ci]
    hit = np.zeros(len(si), dtype=bool)
    ell = ~is_box[ci]
    if ell.any():
        r = rad[ci][ell]
        dist = _point_segment_dist(np.zeros((int(ell.sum()), 2)), a[ell] / r, b[ell] / r)
        hit[ell] = dist < CIRCLE_FRACTION
    for c in np.unique(ci[is_box[ci]]).tolist():
        rows = np.flatnonzero(ci == c)
        hit[rows] = _segments_enter_hull(p[si[rows]], q[si[rows]], cells[c].outline, BOX_SHRINK)
    seen: dict[tuple[int, int], int] = {}
    for s, c in zip(si[hit].tolist(), ci[hit].tolist(), strict=True):
        seen.setdefault((int(owner[s]), c), s)
    return [
        (
            d.edges[e].id,
            cells[c].id,
            f"line {d.edges[e].id} passes through cell {cells[c].id} at {_fmt(ctr[c])} "
            f"(segment {_fmt(p[s])}-{_fmt(q[s])})",
        )
        for (e, c), s in sorted(seen.items())
    ]


def _segments_enter_hull(p: np.ndarray, q: np.ndarray, hull: np.ndarray | None, shrink: float) -> np.ndarray:
    """Row-wise: does segment p-q reach deeper than ``shrink`` into the convex polygon ``hull``?

    Cyrus-Beck clipping against the hull's edges moved inwards by ``shrink``: the segment meets the
    shrunk polygon when the parameter interval left after all half-planes is not empty.
    """
    if hull is None or len(hull) < 3:
        return np.zeros(len(p), dtype=bool)
    v0 = hull
    v1 = np.roll(hull, -1, axis=0)
    edge = v1 - v0
    normal = np.column_stack([-edge[:, 1], edge[:, 0]])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    inward = np.einsum("kj,kj->k", normal, hull.mean(axis=0) - v0) > 0
    normal[~inward] *= -1
    a = (p @ normal.T) - np.einsum("kj,kj->k", normal, v0)[None, :] - shrink  # (M, K) depth at t = 0
    b = (q - p) @ normal.T  # (M, K) change of depth over the segment
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -a / b
    lower = np.where(b > 0, t, -np.inf).max(axis=1)
    upper = np.where(b < 0, t, np.inf).min(axis=1)
    parallel_out = ((b == 0) & (a <= 0)).any(axis=1)
    return (np.maximum(lower, 0.0) < np.minimum(upper, 1.0)) & ~parallel_out


def _direction_bin(v: np.ndarray, nbins: int) -> np.ndarray:
    """The undirected direction of each row vector, in ``nbins`` equal bins of [0, 180) degrees."""
    ang = np.mod(np.degrees(np.arctan2(v[:, 1], v[:, 0])), 180.0)
    return np.minimum((ang * nbins / 180.0).astype(np.int64), nbins - 1)


def _resample(pl: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points every ``step`` pt along a polyline (vertices kept), their arc lengths and unit tangents."""
    seg = np.linalg.norm(np.diff(pl, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    total = cum[-1]
    s = np.union1d(np.arange(0.0, total, step), cum) if total > 0 else np.array([0.0])
    pts = np.column_stack([np.interp(s, cum, pl[:, 0]), np.interp(s, cum, pl[:, 1])])
    if len(pts) < 2:
        return pts, s, np.zeros_like(pts)
    tan = np.gradient(pts, axis=0)
    norm = np.linalg.norm(tan, axis=1, keepdims=True)
    return pts, s, np.divide(tan, norm, out=np.zeros_like(tan), where=norm > 0)


def coincident_edges(d: Drawing, *, same_pair: bool = True) -> list[str]:
    """Pairs of distinct edges that run on top of each other, one readable string per pair (see :func:`_coincident`)."""
    return [msg for _, _, msg in _coincident(d, same_pair=same_pair)]


def coincident_pairs(d: Drawing, *, same_pair: bool = True) -> set[tuple[str, str]]:
    """The (edge id, edge id) pairs of :func:`coincident_edges`, for tests that compare sets."""
    return {(a, b) for a, b, _ in _coincident(d, same_pair=same_pair)}


def _coincident(d: Drawing, *, same_pair: bool) -> list[tuple[str, str, str]]:
    """(edge id, edge id, message) for edges that run on top of each other for more than ``COINCIDE_MIN_RUN`` pt.

    Points every ``RESAMPLE_STEP`` pt along one edge that lie within ``COINCIDE_TOL`` pt of another
    edge's polyline, running within ``COINCIDE_MAX_ANGLE`` degrees of its direction, in a
    consecutive stretch longer than ``COINCIDE_MIN_RUN`` pt, make the pair coincide. The angle
    keeps ordinary crossings out (two lines crossing at 15 degrees stay within 1 pt of each other
    for almost 8 pt, yet read as two lines); lines that only fan out of one cell are ignored within
    ``SHARED_END_FACTOR`` x its radius. The strokes of one ``<g class="edge">`` are one edge.

    ``same_pair=True`` also compares two edges with the same endpoints (a forward ``h -> y`` and a
    feedback ``y ~> h`` drawn as separate lines): laid on top of each other, one of them is
    invisible, which is exactly what issue 13 complains about for Elman feedback.
    """
    p, q, owner = _segments(d, max_len=4.0)
    if len(p) == 0:
        return []
    # query points, with their edge, polyline (stretch) id and arc length
    qpts, qedge, qline, qarc, qtan = [], [], [], [], []
    line_id = 0
    for k, e in enumerate(d.edges):
        for pl in e.polylines:
            pts, s, tan = _resample(pl, RESAMPLE_STEP)
            qpts.append(pts)
            qtan.append(tan)
            qedge.append(np.full(len(pts), k))
            qline.append(np.full(len(pts), line_id))
            qarc.append(s)
            line_id += 1
    pts = np.vstack(qpts)
    pe = np.concatenate(qedge)
    pl_id = np.concatenate(qline)
    arc = np.concatenate(qarc)
    tangent = np.vstack(qtan)
    # endpoint nodes as indices (-1: not a drawn node), and which query points sit near their own ends
    names = list(d.nodes)
    index = {n: k for k, n in enumerate(names)}
    tails = np.array([index.get(e.tail, -1) for e in d.edges], dtype=np.int64)
    heads = np.array([index.get(e.head, -1) for e in d.edges], dtype=np.int64)
    nxy = np.array([[n.x, n.y] for n in d.nodes.values()] + [[np.inf, np.inf]])
    nrad = np.array([n.radius for n in d.nodes.values()] + [0.0])
    near_tail = np.hypot(*(pts - nxy[tails[pe]]).T) < SHARED_END_FACTOR * nrad[tails[pe]]
    near_head = np.hypot(*(pts - nxy[heads[pe]]).T) < SHARED_END_FACTOR * nrad[heads[pe]]
    # direction bins of COINCIDE_MAX_ANGLE: a segment is entered in its own bin and both
    # neighbours, so a query point meets every segment within the angle (and few others)
    nbins = int(180 // COINCIDE_MAX_ANGLE)
    qbin = _direction_bin(tangent, nbins)
    sbin = _direction_bin(q - p, nbins)
    seg3 = np.concatenate([np.arange(len(p))] * 3)
    sbin3 = np.concatenate([(sbin - 1) % nbins, sbin, (sbin + 1) % nbins])
    pi, k3 = _grid_pairs(np.hstack([pts, pts]), _seg_boxes(p, q, COINCIDE_TOL)[seg3], 4.0, qbin, sbin3)
    si = seg3[k3]
    other = owner[si]
    keep = other != pe[pi]
    pi, si, other = pi[keep], si[keep], other[keep]
    if len(pi) == 0:
        return []
    # close to the other line and running along it: a crossing at a wide angle is not a coincidence
    v = q[si] - p[si]
    vlen = np.linalg.norm(v, axis=1)
    sine = np.abs(tangent[pi, 0] * v[:, 1] - tangent[pi, 1] * v[:, 0]) / np.where(vlen > 0, vlen, 1.0)
    parallel = (vlen > 0) & (sine <= np.sin(np.radians(COINCIDE_MAX_ANGLE)))
    close = parallel & (_point_segment_dist(pts[pi], p[si], q[si]) <= COINCIDE_TOL)
    pi, other = pi[close], other[close]
    # drop points in the fan-out zone of an endpoint both edges share
    own_t, own_h = tails[pe[pi]], heads[pe[pi]]
    oth_t, oth_h = tails[other], heads[other]
    shared_t = (own_t == oth_t) | (own_t == oth_h)
    shared_h = (own_h == oth_t) | (own_h == oth_h)
    fan = (near_tail[pi] & shared_t) | (near_head[pi] & shared_h)
    pi, other = pi[~fan], other[~fan]
    if not same_pair:
        lo = np.minimum(tails, heads)
        hi = np.maximum(tails, heads)
        diff = (lo[pe[pi]] != lo[other]) | (hi[pe[pi]] != hi[other])
        pi, other = pi[diff], other[diff]
    if len(pi) == 0:
        return []
    # unique (point, other edge), then runs of consecutive points on the same polyline
    key = np.unique(other * len(pts) + pi)
    other, pi = key // len(pts), key % len(pts)
    found: dict[tuple[int, int], tuple[float, np.ndarray]] = {}
    brk = np.ones(len(pi), dtype=bool)
    brk[1:] = (other[1:] != other[:-1]) | (pi[1:] != pi[:-1] + 1) | (pl_id[pi[1:]] != pl_id[pi[:-1]])
    starts = np.flatnonzero(brk)
    stops = np.append(starts[1:], len(pi))
    for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
        run = arc[pi[b - 1]] - arc[pi[a]]
        if run <= COINCIDE_MIN_RUN:
            continue
        e1, e2 = int(pe[pi[a]]), int(other[a])
        k = (min(e1, e2), max(e1, e2))
        if k not in found or found[k][0] < run:
            found[k] = (run, pts[pi[(a + b) // 2]])
    return [
        (
            d.edges[a].id,
            d.edges[b].id,
            f"lines {d.edges[a].id} and {d.edges[b].id} coincide for {run:.1f} pt around {_fmt(at)}",
        )
        for (a, b), (run, at) in sorted(found.items())
    ]
