"""The time-to-result jobs: one training job each, as cellgraph's CLI runs it and as the other contenders write it.

A job is a spec file (what ``cellgraph train`` runs) and the same network, data, optimizer (Adam,
1e-3), batch size and epochs for the hand-written contenders (``ttr_keras.py``, ``ttr_jax.py``,
``ttr_torch.py``), which build the network of the training benchmark's workload of that name
(``workloads.py``, ``hand_jax.py``, ``hand_torch.py``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    name: str
    label: str
    spec: str
    cli: tuple[str, ...]  # extra `cellgraph train` arguments
    workload: str  # the network, by its name in workloads.WORKLOADS
    epochs: int
    batch: int
    metric: str  # what each contender prints: "accuracy" or "mse" on the test split


JOBS: dict[str, Job] = {
    job.name: job
    for job in (
        Job(
            "mushroom",
            "MLP 117-64-64-2 on mushroom, 20 epochs of 128",
            "specs/examples/mushroom.yaml",
            (),
            "mlp128",
            20,
            128,
            "accuracy",
        ),
        Job(
            "lstm",
            "LSTM 64 on the adding problem (T = 100), 10 epochs of 64",
            "bench/specs/lstm_h64.yaml",
            ("--epochs", "10"),
            "lstm",
            10,
            64,
            "mse",
        ),
        Job(
            "dcn", "DCN on 8x8 digits, 40 epochs of 16", "specs/examples/digits_dcn.yaml", (), "dcn", 40, 16, "accuracy"
        ),
    )
}
