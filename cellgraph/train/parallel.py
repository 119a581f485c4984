"""Data-parallel training over the local devices with ``jax.sharding`` (``train.devices: N``).

One :class:`~jax.sharding.Mesh` over the first N devices, one axis (``"data"``). The parameters,
the optimizer state and the data sets are *replicated* (every device holds a copy); each step's
batch, gathered on the device as in a one-device run, is constrained to be *sharded* along its
rows, so every device computes the loss and gradients of its N-th of the batch and XLA's SPMD
partitioner adds the all-reduce of the gradients (the loss is a mean over the batch). The update
is then the same on every device, and the same as a one-device run on the same global batch up
to the order of the float reductions. Nothing else in the loop changes: checkpoints, resume,
blocks of epochs and evaluation see ordinary (replicated) arrays.

This is JAX's own recipe (``jax.sharding`` with ``NamedSharding`` and
``jax.lax.with_sharding_constraint``) rather than ``pmap``: the step program is the one-device
program, partitioned by the compiler. On a CPU, several devices are simulated with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (set before JAX starts).

**Several hosts.** With ``jax.distributed`` initialised (:func:`initialize_from_env`), the mesh
spans every process's devices (``train.devices`` counts them all); each process loads the same
data and runs the same program on its own devices, and only process 0 writes checkpoints and
curves (into a folder every process can read, for resume).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .state import TrainingError

AXIS = "data"


@dataclass(frozen=True)
class DataParallel:
    """The mesh of one data-parallel run and its two placements."""

    mesh: Mesh

    @property
    def devices(self) -> int:
        return int(self.mesh.devices.size)

    @property
    def replicated(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec())

    @property
    def rows(self) -> NamedSharding:
        return NamedSharding(self.mesh, PartitionSpec(AXIS))

    def place(self, tree: Any) -> Any:
        """``tree`` (arrays, NumPy or JAX) copied to every device of the mesh -- of every process
        in a multi-host run, where each process passes the same values (the same data, seed and
        programs) and a global array is assembled from them."""
        if jax.process_count() == 1:
            return jax.device_put(tree, self.replicated)
        return jax.tree.map(self._global, tree)

    def _global(self, x: Any) -> Any:
        if isinstance(x, jax.Array) and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            data = self._global(jax.random.key_data(x))
            return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
        host = np.asarray(x)
        return jax.make_array_from_callback(host.shape, self.replicated, lambda index: host[index])

    def shard_rows(self, batch: Any) -> Any:
        """Inside a traced step: the batch split along its rows over the mesh (a batch whose rows
        do not split evenly -- a last, smaller one -- stays replicated: computed whole on every
        device, the same update)."""

        def split(x: Any) -> Any:
            even = getattr(x, "ndim", 0) and x.shape[0] % self.devices == 0
            return jax.lax.with_sharding_constraint(x, self.rows) if even else x

        return jax.tree.map(split, batch)

    def abstract(self, tree: Any) -> Any:
        """The shapes of ``tree``, placed as :meth:`place` would, for lowering a program ahead."""
        return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=self.replicated), tree)


def initialize_from_env() -> bool:
    """Join a multi-host run when the environment describes one (as on a cluster): JAX's own
    ``JAX_COORDINATOR_ADDRESS`` (host:port of process 0), with ``JAX_NUM_PROCESSES`` and
    ``JAX_PROCESS_ID`` (or a cluster JAX detects by itself: SLURM, Open MPI, ...). Returns
    whether this process is part of one. Called by the CLI before anything touches a device;
    from Python, call it (or ``jax.distributed.initialize``) first thing.

    On CPUs the processes exchange gradients through Gloo
    (``jax_cpu_collectives_implementation``), which JAX ships."""
    address = os.environ.get("JAX_COORDINATOR_ADDRESS")
    if not address:
        return False
    if jax.distributed.is_initialized():
        return True
    count, index = os.environ.get("JAX_NUM_PROCESSES"), os.environ.get("JAX_PROCESS_ID")
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=address,
        num_processes=int(count) if count else None,
        process_id=int(index) if index else None,
    )
    return True


def is_leader() -> bool:
    """Whether this process writes what a run writes (checkpoints, curves): process 0."""
    return jax.process_index() == 0


def data_parallel(
    devices: int, batch_size: int, traced: bool, where: Callable[[], str] = lambda: ""
) -> DataParallel | None:
    """The run's :class:`DataParallel` for ``train.devices: devices`` (None: one device).

    Raises:
        TrainingError: more devices than there are, a batch that does not split evenly, a rule
            that updates on the host -- each naming the fix.
    """
    if devices <= 1:
        return None
    at = where()
    available = jax.devices()
    if devices > len(available):
        raise TrainingError(
            f"{at}train.devices: {devices} asked, {len(available)} {available[0].platform} device(s) here; fix: "
            f"fewer devices, or on a CPU simulate them with XLA_FLAGS=--xla_force_host_platform_device_count={devices} "
            "set before Python starts"
        )
    if batch_size % devices:
        raise TrainingError(
            f"{at}train.devices: a batch of {batch_size} does not split over {devices} devices; fix: a batch_size "
            f"that is a multiple of {devices} (e.g. {batch_size // devices * devices or devices})"
        )
    if not traced:
        raise TrainingError(
            f"{at}train.devices: this rule updates on the host, so it cannot be split over devices; fix: devices: 1"
        )
    return DataParallel(Mesh(np.array(available[:devices]), (AXIS,)))


__all__ = ["AXIS", "DataParallel", "data_parallel", "initialize_from_env", "is_leader"]
