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
    loss_options,
    make_cell,
    rule_option,
    target_option,
    tie_option,
)

OUTPUT = make_cell(
    "output",
    label="Output Cell",
    abbr="Out",
    family="output",
    doc="Where the answer leaves the network; compared with a supervised target (the data's labels, "
    "or with `target:` an input group it reconstructs).",
    options={
        **common_compute_options("linear"),
        "target": target_option(),
        **loss_options(),
        "tie": tie_option(),
        "rule": rule_option(),
    },
    style=CellStyle(PALETTE.orange, PALETTE.orange_line, "none"),
    infer_shape=dense_shape,
    count_params=dense_params,
    order=8,
    role="output",
    impl="cellgraph.compiler.cells:DENSE",
)

MATCH_INPUT_OUTPUT = make_cell(
    "match_input_output",
    label="Match Input Output Cell",
    abbr="MIO",
    family="output",
    doc="An output whose target is the network's own input (autoencoders): its size defaults to that "
    "input's, and the reconstruction loss pairs the two.",
    options={
        **common_compute_options("linear"),
        "target": Option(
            Nullable(Name()), None, "the input group it reconstructs (default: the first input group), or `labels`"
        ),
        "loss_weight": loss_options()["loss_weight"],
        "tie": tie_option(),
    },
    style=CellStyle(PALETTE.orange, PALETTE.orange_line, "ring"),
    infer_shape=dense_shape,
    count_params=dense_params,
    order=9,
    role="output",
    reconstructs=True,
    impl="cellgraph.compiler.cells:DENSE",
)
