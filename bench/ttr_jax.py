"""A time-to-result job written by hand in JAX and Optax: ``python bench/ttr_jax.py JOB``.

The training benchmark's hand-written network (``hand_jax.py``), one jitted Adam step with the
parameters and optimizer state donated, each epoch's batches sliced from a NumPy permutation (the
last partial batch dropped, as cellgraph does past ten batches), then one jitted evaluation of the
test split; prints ``{"metric": ..., "value": ...}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from hand_jax import loss_of, network
from ttr_data import LOADERS
from ttr_jobs import JOBS
from workloads import BY_NAME


def main() -> None:
    job = JOBS[sys.argv[1]]
    w = BY_NAME[job.workload]
    data = LOADERS[job.name]()
    init, apply = network(w)
    loss = loss_of(w, apply)
    tx = optax.adam(1e-3)
    params = init(jax.random.key(0))
    opt_state = tx.init(params)

    def update(params: Any, opt_state: Any, batch: dict[str, jax.Array]) -> tuple[Any, Any]:
        grads = jax.grad(loss)(params, batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    step = jax.jit(update, donate_argnums=(0, 1))

    @jax.jit
    def score(params: Any, x: jax.Array, y: jax.Array) -> jax.Array:
        out = apply(params, x)
        if job.metric == "accuracy":
            return jnp.mean(jnp.argmax(out, -1) == y)
        return jnp.mean(jnp.square(out - y))

    n = len(data.x_train)
    rng = np.random.default_rng(0)
    for _ in range(job.epochs):
        order = rng.permutation(n)
        for start in range(0, n - job.batch + 1, job.batch):
            rows = order[start : start + job.batch]
            params, opt_state = step(params, opt_state, {"x": data.x_train[rows], "y": data.y_train[rows]})
    value = float(score(params, data.x_test, data.y_test))
    print(json.dumps({"metric": job.metric, "value": value}))


if __name__ == "__main__":
    main()
