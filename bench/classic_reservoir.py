"""Reservoir networks (ZOO.md 2.21, 2.23) beside ReservoirPy and snnTorch, on the same data.

**ESN vs ReservoirPy** on the zoo spec's Mackey-Glass series (tau 17, 3000 teacher-forced training
steps, 1000 held out). Both: 500 tanh units, a recurrent matrix uniform in [-1, 1] at 2% density
scaled to spectral radius 0.9, input and output-feedback weights uniform in [-1, 1] (dense), no
bias, leak rate 1; teacher forcing while collecting (the reservoir reads [u(t), d(t-1)]), washout
500, ridge 1e-8 with a fitted bias. Both are scored by one function: NRMSE84 from 50 start points
of the held-out series, each after 500 teacher-forced steps (true input and true feedback), then
84 steps on the network's own output. What differs: ReservoirPy draws its own matrices (its
``mat_gen.uniform`` with ``sr=``; density as a connection probability, not an exact count), and
its ridge centres the data rather than appending a constant column (the bias unpenalised).
ReservoirPy's fit time is ``ESN.fit`` (state collection and solve); cellgraph's is a whole
``cellgraph.train`` call from the spec file after its programs are compiled -- it also scores the
free runs on the training and held-out series, which the ReservoirPy figure does not include.
The free-running evaluation itself is timed apart (50 runs of 583 steps) for each library.

**LSM vs snnTorch** on the zoo spec's spike patterns (1000 trains of 200 ms, 4 channels, 200
held out): the *same* liquid (cellgraph's drawn input and recurrent weights copied into torch),
135 leaky integrate-and-fire neurons, tau 30 ms, threshold 15 mV, reset = rest = 13.5 mV, dt 1 ms,
spikes filtered with tau 30 ms and fed back through the recurrent matrix one step later, ridge
(alpha 1e-2) on the filtered trains at t = 200 ms to one-hot targets. snnTorch's ``Leaky`` neuron
is ``U <- beta U + I``, reset to zero on the step after a spike, with no refractory period: the
potential is measured from rest (U = V - 13.5, threshold 1.5) and fed ``(1 - beta) p``, which is
cellgraph's exact integration of a current held over the step; the 3 ms refractory period and the
reset timing differ. snnTorch's time is the simulation (no gradient) plus the same NumPy ridge
solve; cellgraph's a whole ``cellgraph.train`` call, compiled.

Quality is the mean over 8 seeds (ReservoirPy: its own seeds; the LSM: cellgraph's seed, whose
liquid both use); fit time the best of 3 runs of seed 0.

    .venv/bin/python bench/classic_reservoir.py [--quick]
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classic_common import Row, best_of, empty_program_cache, mean, seeds_for, timed

ROOT = Path(__file__).resolve().parent.parent
ESN = ROOT / "specs" / "zoo" / "esn.yaml"
LSM = ROOT / "specs" / "zoo" / "lsm.yaml"
WARMUP, HORIZON, STARTS = 500, 84, 50


def _data(path: Path) -> Any:
    import cellgraph
    from cellgraph.data import load_dataset

    return load_dataset(dict(cellgraph.load_spec(path).data), path.parent)


def _starts(steps: int) -> np.ndarray:
    return np.unique(np.linspace(WARMUP, steps - HORIZON + 1, STARTS).round().astype(np.int64))


def _nrmse84(predicted: np.ndarray, true: np.ndarray, signal: np.ndarray) -> float:
    return math.sqrt(float(np.mean((predicted - true) ** 2)) / float(np.var(signal)))


# ------------------------------------------------------------------------------------ ESN


def _fit_alone(spec: Path, repeats: int, teacher_forcing: bool, **solve: Any) -> float:
    """Best seconds of cellgraph's read-out fit alone, as ReservoirPy's ``fit`` and the snnTorch
    figure are measured: collect the states (the jitted pass, teacher-forced for the ESN, compiled
    beforehand) and solve (``solve``: ``fit_ridge``'s alpha, washout, classes)."""
    import jax

    import cellgraph
    from cellgraph.train.rules.ridge import fit_ridge, make_collector

    ds = _data(spec)
    model = cellgraph.compile(spec)
    params = model.init(jax.random.key(0))
    batch = model.batch(ds.x_train, ds.y_train)
    collect = jax.jit(make_collector(model, teacher_forcing))
    jax.block_until_ready(collect(params, batch["inputs"], batch["targets"]))

    def fit(_: int) -> Any:
        return fit_ridge(model, params, collect(params, batch["inputs"], batch["targets"]), batch["targets"], **solve)

    return best_of(fit, repeats)


def _esn_cellgraph(seeds: list[int], repeats: int) -> tuple[list[float], float, float, float]:
    """(NRMSE84 per seed, best seconds of a whole train call, compile seconds, free-run seconds)."""
    import jax

    import cellgraph
    from cellgraph.compiler.reservoir import free_run, free_run_of

    ds = _data(ESN)
    with empty_program_cache():

        def fit(seed: int) -> Any:
            return cellgraph.train(ESN, seed=seed, progress=False, resume=False)

        best, compile_s = timed(fit, repeats)
        scores, run_s = [], math.inf
        for seed in seeds:
            result = fit(seed)
            run = free_run_of(result.model.graph, result.model.plan)
            assert run is not None and run.warmup == WARMUP and run.horizon == HORIZON
            go = jax.jit(lambda p, x, y, run=run, m=result.model: free_run(m.forward, run, p, x, y))
            jax.block_until_ready(go(result.params, ds.x_test, ds.y_test))
            started = time.perf_counter()
            predicted, true = jax.block_until_ready(go(result.params, ds.x_test, ds.y_test))
            run_s = min(run_s, time.perf_counter() - started)
            scores.append(_nrmse84(np.asarray(predicted)[:, -1, 0], np.asarray(true)[:, -1, 0], ds.y_test))
    return scores, best, compile_s, run_s


def _esn_reservoirpy(seeds: list[int], repeats: int) -> tuple[list[float], float, float]:
    """(NRMSE84 per seed, best fit seconds, best free-run seconds) of ReservoirPy's ESN."""
    from reservoirpy import ESN as RpyESN
    from reservoirpy import mat_gen
    from reservoirpy.nodes import Reservoir, Ridge

    ds = _data(ESN)
    x, y = np.asarray(ds.x_train[0], np.float64), np.asarray(ds.y_train[0], np.float64)
    xt, yt = np.asarray(ds.x_test[0], np.float64), np.asarray(ds.y_test[0], np.float64)

    def fit(seed: int) -> Any:
        reservoir = Reservoir(
            500,
            lr=1.0,
            sr=0.9,
            rc_connectivity=0.02,
            input_connectivity=1.0,
            input_scaling=1.0,
            W=mat_gen.uniform,
            Win=mat_gen.uniform,
            bias=0.0,
            seed=seed,
        )
        model = RpyESN(reservoir=reservoir, readout=Ridge(ridge=1e-8), feedback=True)
        model.fit(x, y, warmup=WARMUP)
        return model

    best, _ = timed(fit, repeats)

    def free_runs(model: Any) -> np.ndarray:
        res, out = model.reservoir, model.readout
        predictions = []
        for i in _starts(len(xt)):
            res.reset()
            back = np.r_[[[0.0]], yt[i - WARMUP : i - 1]]  # the true previous value; none before the first
            states = res.run(np.c_[xt[i - WARMUP : i], back])
            value = out.step(states[-1])
            for _ in range(HORIZON - 1):
                value = out.step(res.step(np.r_[value, value]))
            predictions.append(float(value[0]))
        return np.asarray(predictions)

    scores, run_s = [], math.inf
    truth = np.asarray([yt[i + HORIZON - 2, 0] for i in _starts(len(xt))])
    for seed in seeds:
        model = fit(seed)
        started = time.perf_counter()
        predicted = free_runs(model)
        run_s = min(run_s, time.perf_counter() - started)
        scores.append(_nrmse84(predicted, truth, ds.y_test))
    return scores, best, run_s


# ------------------------------------------------------------------------------------ LSM


def _lsm_cellgraph(seeds: list[int], repeats: int) -> tuple[list[float], float, float]:
    import cellgraph

    ds = _data(LSM)
    with empty_program_cache():

        def fit(seed: int) -> Any:
            return cellgraph.train(LSM, seed=seed, progress=False, resume=False)

        best, compile_s = timed(fit, repeats)
        scores = [float(np.mean(fit(s).predict(ds.x_test)["y"].argmax(-1) == ds.y_test)) for s in seeds]
    return scores, best, compile_s


def _lsm_snntorch(seeds: list[int], repeats: int) -> tuple[list[float], float, float]:
    """The same liquid (cellgraph's drawn weights for each seed) simulated with snnTorch's Leaky
    neurons: (accuracy per seed, best fit seconds, best seconds to score the held-out trains)."""
    import jax
    import snntorch as snn
    import torch

    import cellgraph

    ds = _data(LSM)
    model = cellgraph.compile(LSM)
    beta, decay = math.exp(-1.0 / 30.0), math.exp(-1.0 / 30.0)  # tau 30 ms; read-out filter 30 ms

    def liquid(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        r = model.init(jax.random.key(seed))["r"]
        return torch.tensor(np.asarray(r["kernel"])), torch.tensor(np.asarray(r["from:r"]))

    def states(w_in: torch.Tensor, w_rec: torch.Tensor, x: np.ndarray) -> np.ndarray:
        neuron = snn.Leaky(beta=beta, threshold=1.5, reset_mechanism="zero")
        xs = torch.tensor(x)
        mem = torch.zeros(xs.shape[0], w_in.shape[1])
        trace = torch.zeros_like(mem)
        with torch.no_grad():
            for t in range(xs.shape[1]):
                spikes, mem = neuron((1.0 - beta) * (xs[:, t] @ w_in + trace @ w_rec), mem)
                trace = trace * decay + spikes
        return trace.numpy().astype(np.float64)

    def solve(h: np.ndarray, labels: np.ndarray) -> np.ndarray:
        h1 = np.c_[h, np.ones(len(h))]
        return np.linalg.solve(h1.T @ h1 + 1e-2 * np.eye(h1.shape[1]), h1.T @ np.eye(2)[labels])

    def fit(seed: int) -> np.ndarray:
        w_in, w_rec = liquid(seed)
        return solve(states(w_in, w_rec, ds.x_train), ds.y_train)

    best, _ = timed(fit, repeats)
    scores, score_s = [], math.inf
    for seed in seeds:
        beta_out = fit(seed)
        started = time.perf_counter()
        h = states(*liquid(seed), ds.x_test)
        scores.append(float(np.mean((np.c_[h, np.ones(len(h))] @ beta_out).argmax(-1) == ds.y_test)))
        score_s = min(score_s, time.perf_counter() - started)
    return scores, best, score_s


# ------------------------------------------------------------------------------------ rows


@contextmanager
def _one_thread() -> Iterator[None]:
    """OpenBLAS and torch on one thread each, for both sides: on a busy two-core machine their
    threads fought (a 500 x 500 eigendecomposition took 10 s, snnTorch's 200 steps 9-13 s instead of 0.6 s)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # scikit-learn brings it; without it, BLAS keeps its threads
        limits: Any = contextlib.nullcontext()
    else:
        limits = threadpool_limits(1)
    try:
        with limits:
            yield
    finally:
        torch.set_num_threads(threads)


def rows(quick: bool = False) -> list[Row]:
    """The ESN and LSM comparisons (``quick``: one seed, one timed repeat)."""
    seeds, repeats = seeds_for(quick)
    with _one_thread():
        ours, ours_s, ours_c, ours_run = _esn_cellgraph(seeds, repeats)
        fit_alone = _fit_alone(ESN, repeats, True, alpha=1e-8, washout=WARMUP)
        theirs, theirs_s, theirs_run = _esn_reservoirpy(seeds, repeats)
        acc, acc_s, acc_c = _lsm_cellgraph(seeds, repeats)
        snn_acc, snn_s, snn_score_s = _lsm_snntorch(seeds, repeats)
        lsm_alone = _fit_alone(LSM, repeats, False, alpha=1e-2, classes=2)
    rpy = f"ReservoirPy {version('reservoirpy')} ESN(feedback=True)"
    task = "Mackey-Glass tau 17, N 500, 3000 teacher-forced steps; 50 free runs held out"
    esn = dict(better="lower", ours=mean(ours), theirs=mean(theirs), ours_seeds=tuple(ours), theirs_seeds=tuple(theirs))
    # a whole train call ends by scoring its held-out split (the 50 free runs for the ESN, the 200
    # held-out trains for the LSM): its reference time is the library's fit plus the same scoring
    out = [
        Row(
            "ESN",
            task + " (whole train call, held-out scoring included; reference: fit + the same free runs)",
            "NRMSE84",
            ours_s=ours_s,
            theirs_s=theirs_s + theirs_run,
            library=rpy,
            compile_s=ours_c,
            **esn,
        ),
        Row(
            "ESN",
            task + " (fit alone: collect + solve)",
            "NRMSE84",
            ours_s=fit_alone,
            theirs_s=theirs_s,
            library=rpy,
            **esn,
        ),
        Row(
            "ESN",
            "the 50 free runs of 583 steps (evaluation)",
            "NRMSE84",
            ours_s=ours_run,
            theirs_s=theirs_run,
            library=rpy,
            **esn,
        ),
    ]
    lsm_task = "2 jittered Poisson templates, 4 channels, 200 ms; 135 LIF; 200 held out"
    snn = f"snnTorch {version('snntorch')} Leaky (same liquid weights)"
    lsm = dict(
        better="higher", ours=mean(acc), theirs=mean(snn_acc), ours_seeds=tuple(acc), theirs_seeds=tuple(snn_acc)
    )
    out += [
        Row("LSM", lsm_task + " (whole train call, held-out scoring included; reference: fit + the same scoring)",
            "accuracy", ours_s=acc_s, theirs_s=snn_s + snn_score_s, library=snn, compile_s=acc_c, **lsm),
        Row("LSM", lsm_task + " (fit alone: simulate + solve)", "accuracy", ours_s=lsm_alone, theirs_s=snn_s,
            library=snn, **lsm),
    ]  # fmt: skip
    return out


def main() -> int:
    for r in rows(quick="--quick" in sys.argv):
        print(
            f"{r.network}: {r.metric} ours {r.ours:.4g} vs theirs {r.theirs:.4g} "
            f"({'met' if r.quality_holds else 'NOT met'}); fit {r.ours_s:.3f} s (+{r.compile_s:.2f} compile) vs "
            f"{r.theirs_s:.3f} s ({'met' if r.time_holds else 'NOT met'}) -- {r.library}; {r.task}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
