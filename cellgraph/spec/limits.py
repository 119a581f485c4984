"""Safety limits, checked before anything is expanded or allocated.

A spec comes from a file a user may have received from anyone; these bounds keep a hostile or
mistaken file (an alias bomb, a repeat of a billion, a 10^12-parameter layer) from hanging the
process or exhausting memory. Every limit is configurable; the defaults fit any network a CPU or
one GPU could train.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one spec (including everything it composes with ``use:``)."""

    max_bytes: int = 1_000_000  # file size
    max_depth: int = 40  # nesting of mappings and lists
    max_aliases: int = 200  # `*alias` references in one file
    max_nodes: int = 20_000  # YAML values after alias expansion (the largest zoo spec has 190)
    max_repeat: int = 1_000  # `repeat:` of one group
    max_cells: int = 10_000  # cell groups after repeat and composition
    max_group_size: int = 100_000_000  # cells in one group
    max_params: int = 2_000_000_000  # parameters of the whole network
    max_include_depth: int = 16  # nested `use:`
    max_parts: int = 200  # `use:` instances in the whole composition tree (the zoo needs 2)
    max_composed_values: int = 40_000  # YAML values of the root and every `use:` instance, together
    # folders outside the spec's project that `use:` and CSV paths may read (`--allow DIR`);
    # a bound on what a spec can reach, as the numbers above bound what it can cost
    allow: tuple[str, ...] = ()


DEFAULT_LIMITS: Final = Limits()
