"""Orange cells: outputs, and outputs matched against the network's own input."""

from __future__ import annotations

from .registry import (
    PALETTE,
    CellStyle,
    Name,
    Nullable,
    Option,
    common_compute_options,
    dense_params,
    dense_shape,
    make_cell,
    target_option,
)

OUTPUT = make_cell(
    "output",
    "Output Cell",
    "Out",
    "output",
    "Where the answer leaves the network; compared with a supervised target (the data's labels, "
    "or with `target:` an input group it reconstructs).",
    {**common_compute_options("linear"), "target": target_option()},
    CellStyle(PALETTE.orange, PALETTE.orange_line, "none"),
    dense_shape,
    dense_params,
    8,
    role="output",
    impl="cellgraph.compiler.cells:DENSE",
)

MATCH_INPUT_OUTPUT = make_cell(
    "match_input_output",
    "Match Input Output Cell",
    "MIO",
    "output",
    "An output whose target is the network's own input (autoencoders): its size defaults to that "
    "input's, and the reconstruction loss pairs the two.",
    {
        **common_compute_options("linear"),
        "target": Option(
            Nullable(Name()), None, "the input group it reconstructs (default: the first input group), or `labels`"
        ),
    },
    CellStyle(PALETTE.orange, PALETTE.orange_line, "ring"),
    dense_shape,
    dense_params,
    9,
    role="output",
    reconstructs=True,
    impl="cellgraph.compiler.cells:DENSE",
)
