"""A time-to-result job written in PyTorch (eager): ``python bench/ttr_torch.py JOB``.

The training benchmark's PyTorch network (``hand_torch.py``), Adam at 1e-3, each epoch's batches
from a shuffled permutation (the last partial batch dropped), then the test split scored once;
prints ``{"metric": ..., "value": ...}``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from hand_torch import module
from torch import nn
from ttr_data import LOADERS
from ttr_jobs import JOBS
from workloads import BY_NAME


def main() -> None:
    job = JOBS[sys.argv[1]]
    w = BY_NAME[job.workload]
    data = LOADERS[job.name]()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    net = module(w)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn: nn.Module = nn.CrossEntropyLoss() if job.metric == "accuracy" else nn.MSELoss()

    def tensor(x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(np.ascontiguousarray(x))
        return t.permute(0, 3, 1, 2).contiguous() if w.family == "dcn" else t

    x, x_test = tensor(data.x_train), tensor(data.x_test)
    y = torch.from_numpy(data.y_train).long() if job.metric == "accuracy" else torch.from_numpy(data.y_train)
    n = len(x)
    generator = torch.Generator().manual_seed(0)
    for _ in range(job.epochs):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - job.batch + 1, job.batch):
            rows = order[start : start + job.batch]
            opt.zero_grad()
            loss_fn(net(x[rows]), y[rows]).backward()
            opt.step()
    with torch.no_grad():
        out = net(x_test)
        if job.metric == "accuracy":
            value = (out.argmax(-1) == torch.from_numpy(data.y_test).long()).float().mean().item()
        else:
            value = torch.mean((out - torch.from_numpy(data.y_test)) ** 2).item()
    print(json.dumps({"metric": job.metric, "value": value}))


if __name__ == "__main__":
    main()
