"""Edge routes for the layers view: every connection on its own track, corners rounded.

The boxes of the layers view sit in columns (one per layer) folded into rows. Between two columns
of a row lies a *gap*, left of each row's first column a *lead* gap, between two rows (and above
the first, below the last) a *channel*, and left of everything a *margin*. A connection leaves
its source on the side facing the flow and enters its target on the side facing back, at a port
of its own, and runs orthogonally: across the flow only inside gaps (and the margin), along it
only at its ports or inside channels. Each of its pieces gets a track of its own there, so no two
connections ever lie on each other and none passes through a box; the order of the tracks in a
gap is chosen to keep crossings few, and channel tracks nest (short runs nearest the row).

A connection to the next column of the same row crosses one gap; one that skips columns runs
over (or under) the row in a channel; one that wraps to a later row runs through the channel
between the rows, through the margin when it passes whole rows; one that runs backwards (delayed,
feedback, against the layering) runs under its row. Loops (a recurrent group) and bypasses (a
residual inside a collapsed repeat) are drawn on a box's free side.

Everything is pure geometry in points, in *flow coordinates*: ``u`` along the flow (left to right
in a left-to-right drawing), ``v`` across it (downwards); the caller maps them to the page.
Graphviz then only paints the paths (``neato -n2``).
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

PITCH: Final = 7.0  # points between neighbouring tracks
END: Final = 11.0  # from a box's side to the nearest gap track: room for an arrowhead
CHANNEL_END: Final = 9.0  # from a row to the nearest track of its channel
PORT_PITCH: Final = 8.0  # between two ports on one side of a box
CORNER: Final = 5.0  # radius of a rounded corner
ARROW: Final = 7.0  # an arrowhead's length (Graphviz: 10 pt × arrowsize 0.7)
LOOP: Final = 18.0  # how far a loop or a bypass rises from its box
LOOP_ROOM: Final = LOOP + 12.0  # what a loop and its label take beside a box
LABEL_RISE: Final = 6.0  # a run's label sits this far off its line

Point = tuple[float, float]
Gap = tuple[str, int]  # ("after", layer) right of a layer's column, ("lead", row) left of a row


@dataclass(frozen=True)
class Link:
    """A connection between two different boxes, in the order the caller draws them."""

    a: str
    b: str
    back: bool  # runs under its row (delayed, feedback, against the layering)
    label: str = ""  # text beside its run (``t−1``)
    arrow: bool = True  # symmetric connections have none
    channel: int | None = None  # the channel its run takes, where the caller decides it
    lane: bool = False  # straight across the flow to the next box of its own column


@dataclass(frozen=True)
class Plan:
    """A link's pieces: gaps (across the flow) and channels (along it), alternating."""

    gaps: tuple[Gap | None, ...]  # None: the margin
    channels: tuple[int, ...]  # channel c lies above row c (c = rows: below the last)
    owner: tuple[int, ...] = ()  # per channel: the row whose skip it is (-1: a wrap)


@dataclass(frozen=True)
class Slot:
    """A placed box, in flow coordinates: centre and half extents."""

    u: float
    v: float
    hu: float
    hv: float


@dataclass
class Frame:
    """Where routes may run, once the boxes are placed."""

    gaps: dict[Gap, tuple[float, float]]  # u-range of each gap
    margin: tuple[float, float]  # u-range of the margin
    channels: dict[int, tuple[float, float]]  # v-range of each channel
    tracks: dict[int, int] = field(default_factory=dict)  # tracks per channel


def gap_in(layer: int, row_of: Mapping[int, int], first: Mapping[int, int]) -> Gap:
    """The gap a link enters a box of ``layer`` from: the lead gap of its row or the one after the previous layer."""
    row = row_of[layer]
    return ("lead", row) if first[row] == layer else ("after", layer - 1)


def plan(
    links: Sequence[Link],
    layer: Mapping[str, int],
    row_of: Mapping[int, int],
    first: Mapping[int, int],
    upper: Mapping[str, bool],
) -> list[Plan]:
    """The pieces of every link, from the boxes' layers and rows alone (before anything is placed).

    ``first`` maps a row to its first layer; ``upper`` says whether a box sits in the upper half of
    its column (a skip between two upper boxes runs over the row, otherwise under it).
    """
    out = []
    for link in links:
        la, lb = layer[link.a], layer[link.b]
        ra, rb = row_of[la], row_of[lb]
        g_out, g_in = ("after", la), gap_in(lb, row_of, first)
        if link.lane:
            out.append(Plan((), ()))
        elif link.channel is not None:
            out.append(Plan((g_out, g_in), (link.channel,), (-1,)))
        elif ra == rb and lb == la + 1 and not link.back:
            out.append(Plan((g_out,), ()))
        elif ra == rb:
            above = not link.back and upper[link.a] and upper[link.b]
            out.append(Plan((g_out, g_in), (ra if above else ra + 1,), (ra,)))
        elif abs(rb - ra) == 1:
            out.append(Plan((g_out, g_in), (max(ra, rb),), (-1,)))
        elif rb > ra:
            out.append(Plan((g_out, None, g_in), (ra + 1, rb), (-1, -1)))
        else:
            out.append(Plan((g_out, None, g_in), (ra, rb + 1), (-1, -1)))
    return out


def gap_tracks(plans: Sequence[Plan]) -> dict[Gap | None, int]:
    """How many tracks each gap (and the margin, ``None``) needs: one per piece through it."""
    count: dict[Gap | None, int] = defaultdict(int)
    for p in plans:
        for g in p.gaps:
            count[g] += 1
    return dict(count)


def gap_width(tracks: int, least: float) -> float:
    """A gap wide enough for its tracks, an arrowhead at each side and room to slide its tracks
    by half a pitch (see :func:`_clear_shift`), never under ``least``."""
    return max(least, tracks * PITCH + 2 * END) if tracks else least


def channel_height(tracks: int, least: float, inner: bool) -> float:
    """A channel's height: between two rows at least ``least``; above the first row or below the
    last (``inner`` false) only what its tracks need."""
    if not tracks:
        return least if inner else 0.0
    need = (tracks - 1) * PITCH + (2 if inner else 1) * CHANNEL_END
    return max(least, need) if inner else need


# ------------------------------------------------------------------------------------- channels


def _span(
    plan_: Plan, k: int, frame_gaps: Mapping[Gap, tuple[float, float]], margin: tuple[float, float]
) -> tuple[float, float]:
    """The u-interval the k-th channel run of a plan covers (its end gaps taken whole)."""
    ends = [frame_gaps[g] if g is not None else margin for g in plan_.gaps[k : k + 2]]
    return min(e[0] for e in ends), max(e[1] for e in ends)


def channel_levels(
    plans: Sequence[Plan],
    links: Sequence[Link],
    gaps: Mapping[Gap, tuple[float, float]],
    margin: tuple[float, float],
) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """A track for every channel run, and the tracks each channel needs.

    Runs that do not overlap share a track; a run with a label takes the next track too. Within
    a channel, the skips of the row below take the tracks nearest it (shortest run nearest), the
    row above's skips and back runs those nearest the row above, and wraps the middle.
    Tracks are numbered from the channel's upper side. Returns ``{(link, k): track}``.
    """
    # per channel and stack ("top": owned by the row above, "mid": wraps, "bottom": the row below)
    stacks: dict[tuple[int, str], list[tuple[int, int, float, float, int]]] = defaultdict(list)
    for i, (p, link) in enumerate(zip(plans, links, strict=True)):
        for k, c in enumerate(p.channels):
            lo, hi = _span(p, k, gaps, margin)
            owner = p.owner[k]
            stack = "mid" if owner < 0 else ("bottom" if owner == c else "top")
            stacks[(c, stack)].append((i, k, lo, hi, 2 if link.label else 1))
    levels: dict[tuple[int, str], dict[tuple[int, int], tuple[int, int]]] = {}
    depth: dict[tuple[int, str], int] = {}
    for key, runs in stacks.items():
        taken: list[list[tuple[float, float]]] = []
        mine: dict[tuple[int, int], tuple[int, int]] = {}
        order = sorted(runs, key=lambda r: (r[3] - r[2], r[2])) if key[1] != "mid" else sorted(runs, key=lambda r: r[2])
        for i, k, lo, hi, weight in order:
            level = 0
            while any(
                any(lo < b + PITCH and a < hi + PITCH for a, b in taken[lv])
                for lv in range(level, level + weight)
                if lv < len(taken)
            ):
                level += 1
            while len(taken) < level + weight:
                taken.append([])
            for lv in range(level, level + weight):
                taken[lv].append((lo, hi))
            mine[(i, k)] = (level, weight)
        levels[key] = mine
        depth[key] = len(taken)
    track: dict[tuple[int, int], int] = {}
    count: dict[int, int] = {}
    for c in {c for c, _ in stacks}:
        n_top, n_mid, n_bottom = (depth.get((c, s), 0) for s in ("top", "mid", "bottom"))
        count[c] = n_top + n_mid + n_bottom
        for (i, k), (level, _) in levels.get((c, "top"), {}).items():
            track[(i, k)] = level  # its label, if any, one track further down: level + 1
        for (i, k), (level, _) in levels.get((c, "mid"), {}).items():
            track[(i, k)] = n_top + level
        for (i, k), (level, _) in levels.get((c, "bottom"), {}).items():
            track[(i, k)] = count[c] - 1 - level  # its label, if any, one track further up
    return track, count


def channel_v(frame: Frame, c: int, track: int, rows: int) -> float:
    """The v of a channel track, the channel's tracks centred in it (hugging the row for the
    outer channels)."""
    lo, hi = frame.channels[c]
    n = frame.tracks.get(c, 1)
    if c == 0:
        return hi - CHANNEL_END - (n - 1 - track) * PITCH
    if c == rows:
        return lo + CHANNEL_END + track * PITCH
    mid = (lo + hi) / 2
    return mid + (track - (n - 1) / 2) * PITCH


# --------------------------------------------------------------------------------------- ports


def ports(
    links: Sequence[Link],
    plans: Sequence[Plan],
    slots: Mapping[str, Slot],
    toward: Sequence[tuple[float, float]],
) -> list[tuple[float, float]]:
    """Where each link leaves its source and enters its target, across the flow (v).

    ``toward[i]`` is where link i heads after leaving (and comes from before entering), across
    the flow; the ports of one side are spread in that order, so links leave without crossing.
    """
    out_side: dict[str, list[tuple[float, int]]] = defaultdict(list)
    in_side: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for i, link in enumerate(links):
        if not link.lane:  # a lane link leaves and enters across the flow, not at these sides
            out_side[link.a].append((toward[i][0], i))
            in_side[link.b].append((toward[i][1], i))
    result: dict[int, list[float]] = {i: [0.0, 0.0] for i in range(len(links))}
    for side, where in ((out_side, 0), (in_side, 1)):
        for key, items in side.items():
            s = slots[key]
            items.sort()
            n = len(items)
            step = min(PORT_PITCH, 1.5 * s.hv / n) if n > 1 else 0.0
            for j, (_, i) in enumerate(items):
                result[i][where] = s.v + (j - (n - 1) / 2) * step
    return [(result[i][0], result[i][1]) for i in range(len(links))]


def _straighten(
    links: Sequence[Link], plans: Sequence[Plan], slots: Mapping[str, Slot], port: list[tuple[float, float]]
) -> list[tuple[float, float]]:
    """A link to the next column runs straight when it can: a side with this one port moves it
    level with the other end's port, if that lies on the side (a jog of a few points reads as
    a mistake)."""
    outs: dict[str, int] = defaultdict(int)
    ins: dict[str, int] = defaultdict(int)
    for link in links:
        if not link.lane:
            outs[link.a] += 1
            ins[link.b] += 1
    out = list(port)
    for i, (link, p) in enumerate(zip(links, plans, strict=True)):
        if p.channels or link.lane:
            continue
        v_out, v_in = out[i]
        sa, sb = slots[link.a], slots[link.b]
        if outs[link.a] == 1 and abs(v_in - sa.v) <= sa.hv - PORT_PITCH / 2:
            out[i] = (v_in, v_in)
        elif ins[link.b] == 1 and abs(v_out - sb.v) <= sb.hv - PORT_PITCH / 2:
            out[i] = (v_out, v_out)
    return out


# ---------------------------------------------------------------------------------------- gaps


@dataclass(frozen=True)
class Piece:
    """A piece of a route across the flow inside one gap: from v0 to v1, with the directions
    (-1 back, +1 forward along the flow) its two ends turn to."""

    link: int
    index: int  # which gap of the link's plan
    v0: float
    v1: float
    turn0: int
    turn1: int


def _one_way(s: Piece, t: Piece, side: int) -> float:
    """What s's two ends cost with t's track on ``side`` of s's (+1: further along the flow):
    a crossing where an end's stub passes t's piece, a heavy penalty where it passes one of
    t's ends at the same height (the two would run along each other)."""
    lo, hi = min(t.v0, t.v1), max(t.v0, t.v1)
    cost = 0.0
    for v, turn in ((s.v0, s.turn0), (s.v1, s.turn1)):
        if side == turn:
            cost += 1.0 if lo < v < hi else 0.0
            cost += 100.0 if abs(v - t.v0) < 2.0 or abs(v - t.v1) < 2.0 else 0.0
    return cost


def _before_costs(pieces: Sequence[Piece]) -> list[list[float]]:
    """``cost[i][j]``: what pieces i and j cost together when i's track comes before j's. A pair's
    cost depends only on their relative order, so an order's cost is a sum over its pairs."""
    n = len(pieces)
    return [
        [0.0 if i == j else _one_way(pieces[i], pieces[j], 1) + _one_way(pieces[j], pieces[i], -1) for j in range(n)]
        for i in range(n)
    ]


def _order_cost(order: Sequence[int], cost: list[list[float]]) -> float:
    return sum(cost[a][b] for k, a in enumerate(order) for b in order[k + 1 :])


EXHAUSTIVE: Final = 6  # gaps with at most this many pieces try every track order


def order_tracks(pieces: Sequence[Piece]) -> list[Piece]:
    """Pieces of one gap in track order (first nearest the gap's start), crossings kept low:
    every order for a few pieces; for more, a sort by where each goes, then moves of one piece
    to its best place while they help."""
    cost = _before_costs(pieces)
    n = len(pieces)
    if n <= EXHAUSTIVE:
        best = min(itertools.permutations(range(n)), key=lambda o: _order_cost(o, cost))
        return [pieces[k] for k in best]
    order = sorted(range(n), key=lambda k: (_heading(pieces[k]), pieces[k].v0))
    improved = True
    while improved:
        improved = False
        for x in list(order):
            rest = [e for e in order if e != x]
            # cost of x at each place p of rest: rest[:p] before x, rest[p:] after it
            here = sum(cost[x][e] for e in rest)
            places = [here]
            for e in rest:
                here += cost[e][x] - cost[x][e]
                places.append(here)
            now = places[order.index(x)]
            p = min(range(len(places)), key=places.__getitem__)
            if places[p] < now - 1e-9:
                order = rest[:p] + [x] + rest[p:]
                improved = True
    return [pieces[k] for k in order]


def _heading(p: Piece) -> float:
    """Where a piece goes across the flow, from the side it comes in on (the first sort key)."""
    return p.v1 - p.v0 if p.turn0 < 0 else p.v0 - p.v1


def track_u(span: tuple[float, float], n: int, k: int) -> float:
    """The u of the k-th of n tracks, spread over a gap away from its sides."""
    lo, hi = span[0] + END, span[1] - END
    if n == 1 or hi <= lo:
        return (span[0] + span[1]) / 2
    step = min(PITCH * 1.6, (hi - lo) / (n - 1))
    mid = (lo + hi) / 2
    return mid + (k - (n - 1) / 2) * step


# ---------------------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class Route:
    """A finished route: Bézier control points (3n + 1), the arrow's tip, a label position."""

    points: tuple[Point, ...]
    tip: Point | None
    label_at: Point | None


def route(
    links: Sequence[Link],
    plans: Sequence[Plan],
    slots: Mapping[str, Slot],
    frame: Frame,
    rows: int,
    levels: Mapping[tuple[int, int], int],
) -> list[Route]:
    """Every link's route through its gaps and channels."""
    chan_v = {
        (i, k): channel_v(frame, c, levels[(i, k)], rows) for i, p in enumerate(plans) for k, c in enumerate(p.channels)
    }
    toward = []
    for i, (link, p) in enumerate(zip(links, plans, strict=True)):
        if p.channels:
            toward.append((chan_v[(i, 0)], chan_v[(i, len(p.channels) - 1)]))
        elif link.lane:
            toward.append((0.0, 0.0))
        else:
            toward.append((slots[link.b].v, slots[link.a].v))
    port = _straighten(links, plans, slots, ports(links, plans, slots, toward))
    # pieces per gap, then their tracks
    by_gap: dict[Gap | None, list[Piece]] = defaultdict(list)
    for i, p in enumerate(plans):
        n = len(p.gaps)
        for k, g in enumerate(p.gaps):
            v0 = port[i][0] if k == 0 else chan_v[(i, k - 1)]
            v1 = port[i][1] if k == n - 1 else chan_v[(i, k)]
            turn0 = -1 if k == 0 else _run_turn(frame, p, k - 1, end=True)
            turn1 = 1 if k == n - 1 else _run_turn(frame, p, k, end=False)
            by_gap[g].append(Piece(i, k, v0, v1, turn0, turn1))
    x: dict[tuple[int, int], float] = {}
    fixed: list[tuple[float, float, float]] = []  # (u, v from, v to) of the pieces placed so far
    for g, pieces in by_gap.items():
        span = frame.margin if g is None else frame.gaps[g]
        ordered = order_tracks(pieces)
        us = [track_u(span, len(ordered), k) for k in range(len(ordered))]
        shift = _clear_shift(span, us, ordered, fixed)
        for piece, u in zip(ordered, us, strict=True):
            x[(piece.link, piece.index)] = u + shift
            fixed.append((u + shift, min(piece.v0, piece.v1), max(piece.v0, piece.v1)))
    out = []
    for i, (link, p) in enumerate(zip(links, plans, strict=True)):
        sa, sb = slots[link.a], slots[link.b]
        if link.lane:
            out.append(_lane(sa, sb, arrow=link.arrow))
            continue
        start = (sa.u + sa.hu, port[i][0])
        tip = (sb.u - sb.hu, port[i][1])
        corners: list[Point] = [start]
        for k in range(len(p.gaps)):
            u = x[(i, k)]
            corners.append((u, corners[-1][1]))
            v = port[i][1] if k == len(p.gaps) - 1 else chan_v[(i, k)]
            corners.append((u, v))
        end = (tip[0] - ARROW, tip[1]) if link.arrow else tip
        corners.append(end)
        label = None
        if link.label and p.channels:
            k = len(p.channels) - 1
            a_u, b_u = x[(i, k)], x[(i, k + 1)]
            below = p.owner[k] != p.channels[k]  # on the side of the track its run reserved
            label = ((a_u + b_u) / 2, chan_v[(i, k)] + (LABEL_RISE if below else -LABEL_RISE))
        out.append(Route(smooth(corners), tip if link.arrow else None, label))
    return out


def _lane(sa: Slot, sb: Slot, *, arrow: bool) -> Route:
    """A straight link across the flow between two boxes of one column, facing side to facing side."""
    side = 1 if sb.v > sa.v else -1
    u = (max(sa.u - sa.hu, sb.u - sb.hu) + min(sa.u + sa.hu, sb.u + sb.hu)) / 2  # the middle of their overlap
    start, tip = (u, sa.v + side * sa.hv), (u, sb.v - side * sb.hv)
    end = (u, tip[1] - side * ARROW) if arrow else tip
    return Route((start, *_line(start, end)), tip if arrow else None, None)


def _clear_shift(
    span: tuple[float, float], us: Sequence[float], pieces: Sequence[Piece], fixed: Sequence[tuple[float, float, float]]
) -> float:
    """How far to slide a gap's tracks so that none runs along a piece of another gap.

    Gaps of neighbouring rows can lie at the same place along the flow; their pieces meet in the
    channel between the rows, where two tracks at one place would lie on each other.
    """
    room_lo = span[0] + ARROW + 2 - min(us)
    room_hi = span[1] - ARROW - 2 - max(us)
    for shift in (0.0, PITCH / 2, -PITCH / 2, PITCH, -PITCH, 1.5 * PITCH, -1.5 * PITCH):
        if shift and not room_lo <= shift <= room_hi:
            continue
        if not any(
            abs(u + shift - fu) < PITCH / 2 and min(p.v0, p.v1) < hi - 1 and lo + 1 < max(p.v0, p.v1)
            for u, p in zip(us, pieces, strict=True)
            for fu, lo, hi in fixed
        ):
            return shift
    return 0.0


def _run_turn(frame: Frame, p: Plan, k: int, *, end: bool) -> int:
    """Which way (along the flow) the k-th channel run goes from the gap it leaves (``end`` False)
    or comes from when it reaches its next gap (``end`` True): +1 forward, -1 back."""
    ends = [frame.margin if g is None else frame.gaps[g] for g in p.gaps[k : k + 2]]
    forward = ends[1][0] > ends[0][0]
    if end:  # seen from the gap it arrives in, the run comes from the other side
        return -1 if forward else 1
    return 1 if forward else -1


def smooth(corners: Sequence[Point]) -> tuple[Point, ...]:
    """An orthogonal polyline as cubic Bézier control points, its corners rounded."""
    pts = [corners[0]]
    for p in corners[1:]:  # drop repeated points and straight-through corners
        if math.dist(p, pts[-1]) < 0.01:
            continue
        if len(pts) >= 2 and _collinear(pts[-2], pts[-1], p):
            pts[-1] = p
            continue
        pts.append(p)
    out: list[Point] = [pts[0]]
    cursor = pts[0]
    for k in range(1, len(pts) - 1):
        prev, here, nxt = pts[k - 1], pts[k], pts[k + 1]
        r = min(CORNER, math.dist(prev, here) / 2, math.dist(here, nxt) / 2)
        before = _toward(here, prev, r)
        after = _toward(here, nxt, r)
        out.extend(_line(cursor, before))
        c1 = _toward(before, here, 0.55 * r)
        c2 = _toward(after, here, 0.55 * r)
        out.extend((c1, c2, after))
        cursor = after
    out.extend(_line(cursor, pts[-1]))
    return tuple((round(px, 2), round(py, 2)) for px, py in out)


def _collinear(a: Point, b: Point, c: Point) -> bool:
    return abs((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])) < 1e-6


def _toward(p: Point, q: Point, d: float) -> Point:
    """The point d from p toward q."""
    length = math.dist(p, q)
    if length < 1e-9:
        return p
    return (p[0] + (q[0] - p[0]) * d / length, p[1] + (q[1] - p[1]) * d / length)


def _line(p: Point, q: Point) -> list[Point]:
    """A straight stretch as one cubic segment (its first point is the caller's)."""
    return [
        (p[0] + (q[0] - p[0]) / 3, p[1] + (q[1] - p[1]) / 3),
        (p[0] + 2 * (q[0] - p[0]) / 3, p[1] + 2 * (q[1] - p[1]) / 3),
        q,
    ]


# ---------------------------------------------------------------------------------------- loops


def loop(slot: Slot, *, below: bool, arrow: bool = True) -> Route:
    """A group's loop on the box's upper (or lower) side: out on the right, back in on the left;
    with an arrow and a ``t−1`` label at the top for a recurrent group, plain for a group joined
    to itself by a symmetric edge."""
    side = 1 if below else -1
    edge = slot.v + side * slot.hv
    d = min(14.0, 0.5 * slot.hu)
    apex = edge + side * LOOP
    end = edge + side * ARROW if arrow else edge
    points = ((slot.u + d, edge), (slot.u + d + 4, apex), (slot.u - d - 4, apex), (slot.u - d, end))
    if not arrow:
        return Route(points, None, None)
    return Route(points, (slot.u - d, edge), (slot.u, apex + side * LABEL_RISE))


def bypass(slot: Slot, *, below: bool) -> Route:
    """A residual inside a collapsed repeat: an arrow from the box's input side over it to its
    output side."""
    side = 1 if below else -1
    edge = slot.v + side * slot.hv
    near = slot.hu - 6.0
    apex = edge + side * LOOP
    points = ((slot.u - near, edge), (slot.u - near, apex), (slot.u + near, apex), (slot.u + near, edge + side * ARROW))
    return Route(tuple(points), (slot.u + near, edge), None)
