"""A recurrent network unrolled in time, beside its rolled drawing (``--unroll T``).

The loop on a recurrent box says "this state feeds the next step", which a newcomer has to take
on trust; the textbook figure shows it instead: the network drawn once per time step, side by
side, each step's state feeding the next one's. This view draws both in one picture: the rolled
network on the left (the layers view's boxes, its loops and dashed ``t−1`` edges), an equals sign,
then steps 1 … T, every group of the network in every step, with the network's layers in the same
rows as in the rolled drawing, so ``x₂`` sits under ``h₂`` and ``h₁ → h₂`` runs straight across.

What feeds the next step: a recurrent group's own state (an LSTM, GRU or recurrent cell, or any
group with a delayed self-edge ``h ~> h``), and every delayed or feedback edge ``a ~> b`` (Jordan's
``y ~> h``: ``y₁ → h₂``). Connections within a step are drawn in every step. The flow runs upwards
(inputs at the bottom, the textbook's way), or downwards with ``direction: TB``.
"""

from __future__ import annotations

from typing import Final

import networkx as nx

from ..graph.drawspec import DrawSettings
from . import routes
from .layers import (
    LABELS,
    Box,
    Marks,
    Placed,
    Scene,
    edge_style,
    group_links,
    kind_text,
    place,
    scene_dot,
    self_paths,
    sized,
    structure,
)
from .output import RenderError
from .theme import THEME

MAX_STEPS: Final = 12
EQUALS_SIZE: Final = 28.0
STEP_SIZE: Final = 11.0
_SUB: Final = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def copy_key(key: str, t: int) -> str:
    """The id of group ``key``'s copy at step ``t`` (1-based)."""
    return f"{key}@{t}"


def check_steps(steps: object) -> int:
    """``steps`` as a count of time steps, or a :class:`RenderError` saying what is allowed."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise RenderError(f"unroll: give a number of time steps from 1 to {MAX_STEPS}, not {steps!r}")
    return steps


def unrolled_dot(graph: nx.DiGraph, settings: DrawSettings, name: str, caption: str, steps: int) -> str:
    """The rolled network and ``steps`` time steps of it, as DOT text for ``neato -n2``."""
    steps = check_steps(steps)
    theme = THEME[settings.theme]
    labels = LABELS if settings.labels is None else settings.labels
    st = structure(graph, labels)
    box, edges, layer, reversed_, columns, marks = st.box, st.edges, st.layer, st.reversed, st.columns, st.marks
    keys = list(box)
    temporal = _temporal(edges, marks)
    if not temporal:
        raise RenderError(
            f"unroll: '{name}' has nothing that carries over to the next time step (no recurrent group, "
            "no delayed edge '~>'); draw it without --unroll"
        )
    copies = _copies(graph, box, steps, labels)
    every = box | copies
    stacks = [col + [copy_key(key, t) for t in range(1, steps + 1) for key in col] for col in columns]
    slot_of = {key: 0 for key in keys} | {copy_key(key, t): t for key in keys for t in range(1, steps + 1)}
    position = {key: (k, j) for k, col in enumerate(stacks) for j, key in enumerate(col)}
    links, styles = group_links(st, back_channel=0)  # the rolled network: backward runs on its far side
    for t in range(1, steps + 1):  # each step: the connections within it
        for a, b, e in edges:
            if a == b or e["delay"] or e["feedback"]:
                continue
            back = (a, b) in reversed_ or layer[b] <= layer[a]
            skips = back or layer[b] != layer[a] + 1  # runs beside its step, in the gap to the next one
            arrow = e["kind"] != "symmetric"
            links.append(
                routes.Link(copy_key(a, t), copy_key(b, t), back, arrow=arrow, channel=t + 1 if skips else None)
            )
            styles.append(edge_style(e, dashed=back))
    for t in range(1, steps):  # what step t hands to step t + 1
        for a, b in temporal:
            src, dst = copy_key(a, t), copy_key(b, t + 1)
            (ka, ja), (kb, jb) = position[src], position[dst]
            if ka == kb and abs(ja - jb) == 1:
                links.append(routes.Link(src, dst, False, lane=True))
            elif layer[b] == layer[a] + 1:
                links.append(routes.Link(src, dst, False))
            else:
                links.append(routes.Link(src, dst, True, channel=t + 1))
            styles.append({"color": theme.ink})
    first_layer = {key: layer[key] for key in keys} | {
        copy_key(k, t): layer[k] for k in keys for t in range(1, steps + 1)
    }
    plans = routes.plan(links, first_layer, dict.fromkeys(range(len(stacks)), 0), {0: 0}, dict.fromkeys(every, True))
    placed = place(every, stacks, [list(range(len(stacks)))], links, plans, marks, True, slot_of)
    paths = routes.route(links, plans, placed.slots, placed.frame, steps + 1, placed.levels)
    paths.extend(self_paths(marks, placed.slots, links, styles))
    notes = _notes(placed, steps)
    scene = Scene(every, placed.slots, links, paths, styles, notes, "TB" if settings.direction == "TB" else "BT")
    return scene_dot(scene, theme, name, caption, legend=settings.legend, aspect=settings.aspect)


def _temporal(edges: list[tuple[str, str, dict]], marks: dict[str, Marks]) -> list[tuple[str, str]]:
    """What step t hands to step t + 1: delayed and feedback edges, and each recurrent group's state."""
    out: list[tuple[str, str]] = []
    for a, b, e in edges:
        if (e["delay"] or e["feedback"]) and (a, b) not in out:
            out.append((a, b))
    for key, m in marks.items():
        if m.loop == "delay" and (key, key) not in out:
            out.append((key, key))
    return out


def _copies(graph: nx.DiGraph, box: dict[str, Box], steps: int, labels: tuple[str, ...]) -> dict[str, Box]:
    """Each group once per step: its name with the step as a subscript (``h₂``) and its type."""
    out = {}
    for key, bx in box.items():
        d = graph.nodes[bx.nodes[0]]
        for t in range(1, steps + 1):
            lines = [f"{key}{str(t).translate(_SUB)}"]
            if "type" in labels:
                lines.append(kind_text(d))
            out[copy_key(key, t)] = sized(copy_key(key, t), (), tuple(lines), d)
    return out


def _notes(placed: Placed, steps: int) -> list[tuple[str, routes.Point, float]]:
    """An equals sign between the rolled network and step 1, and ``t = 1`` … under the steps."""
    frame = placed.frame
    low = min(lo for lo, _ in frame.gaps.values())
    high = max(hi for _, hi in frame.gaps.values())
    notes: list[tuple[str, routes.Point, float]] = [("=", ((low + high) / 2, sum(frame.channels[1]) / 2), EQUALS_SIZE)]
    for t in range(1, steps + 1):
        vs = [s.v for key, s in placed.slots.items() if key.endswith(f"@{t}")]
        us = [s.u - s.hu for key, s in placed.slots.items() if key.endswith(f"@{t}")]
        notes.append((f"t = {t}", (min(us + [low]) - 14, sum(vs) / len(vs)), STEP_SIZE))
    return notes
