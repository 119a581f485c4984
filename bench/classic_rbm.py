"""The restricted Boltzmann machine (ZOO.md 2.15) beside scikit-learn's ``BernoulliRBM``, on the
same images, with the same sizes and settings.

Two tasks:

* **bars-and-stripes 4x4** (the zoo spec): the 30 images, 16 hidden units, learning rate 0.1,
  full batches of 30, 3000 passes (``n_iter=3000``);
* **digits 8x8**: the spec's digits split (1257 training, 540 held-out images, pixels scaled to
  [0, 1], as scikit-learn's own RBM example feeds them), 64 hidden units, learning rate 0.05,
  batches of 10, 20 passes.

cellgraph trains with CD-1 (``persistent: false``, the zoo spec's) and with PCD (``persistent:
true``); ``BernoulliRBM`` always runs PCD (persistent hidden chains, one per batch row). Every
figure is computed by one function for both, from each library's weights (``components_`` is
W^T, ``intercept_visible_`` b, ``intercept_hidden_`` c), on the held-out images (all 30 for
bars-and-stripes, which holds nothing out):

* exact log-likelihood, summed over the 30 images (4x4 only: 2^16 states enumerated);
* pseudo-likelihood: the mean over images of ``Σ_i log p(v_i | v_-i)`` -- the expectation of
  ``BernoulliRBM.score_samples`` (which flips one random unit and multiplies by the units);
* reconstruction error: the mean squared error of one mean-field up-down pass.

Quality is the mean over 8 seeds (the per-seed figures go in the row, for its noise test); fit
time the best of 3 runs of seed 0, two ways: a whole ``cellgraph.train`` call from the spec after
its programs are compiled, and the passes alone (the rule's update over every pass in one jitted
scan, no loop around it), as ``BernoulliRBM.fit`` is timed. The whole call scores the held-out
split once, at the end (``eval_every`` = the passes; ``metrics: [reconstruction_error]``), since
``BernoulliRBM.fit`` computes no figure per pass; the jit compile (first call less that) is
reported apart, measured against an empty program cache.

    .venv/bin/python bench/classic_rbm.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classic_common import Row, best_of, empty_program_cache, mean, print_rows, seeds_for, timed

ROOT = Path(__file__).resolve().parent.parent
RBM = ROOT / "specs" / "zoo" / "rbm.yaml"

DIGITS = """\
cellgraph: 1
name: rbm_digits
cells:
  v: {type: backfed_input, size: 64}
  h: {type: probabilistic_hidden, size: 64}
edges:
  - v -- h
train:
  rule: contrastive_divergence
  k: 1
  learning_rate: 0.05
  persistent: false
  loss: none
  metrics: [reconstruction_error]
  epochs: 20
  eval_every: 20
  batch_size: 10
  seed: 0
data:
  source: digits
  split: {test: 0.3, seed: 0}
"""


@dataclass(frozen=True)
class Task:
    name: str
    words: str
    spec_text: str
    hidden: int
    learning_rate: float
    batch_size: int
    epochs: int
    exact: bool  # small enough for the exact log-likelihood


TASKS = (
    Task(
        "bars",
        "bars-and-stripes 4x4, 16 hidden, lr 0.1, batch 30, 3000 passes; all 30 images",
        RBM.read_text(encoding="utf-8")
        .replace(
            "metrics: [log_likelihood, pseudo_likelihood, reconstruction_error]", "metrics: [reconstruction_error]"
        )
        .replace("eval_every: 100", "eval_every: 3000"),
        16,
        0.1,
        30,
        3000,
        True,
    ),
    Task(
        "digits",
        "digits 8x8 in [0, 1], 64 hidden, lr 0.05, batch 10, 20 passes; 540 held out",
        DIGITS,
        64,
        0.05,
        10,
        20,
        False,
    ),
)


def _figures(x: np.ndarray, w: np.ndarray, b: np.ndarray, c: np.ndarray, exact: bool) -> dict[str, float]:
    """The figures of an RBM (w: |v| x |h|) on images x, one function for both libraries."""
    import jax.numpy as jnp

    from cellgraph.compiler.rbm import log_likelihood, pseudo_log_likelihood, reconstruct

    v, w, b, c = (jnp.asarray(a, jnp.float32) for a in (x, w, b, c))
    out = {
        "pseudo-likelihood, mean per image": float(pseudo_log_likelihood(v, w, b, c).mean()),
        "reconstruction MSE": float(jnp.mean((reconstruct(v, w, b, c) - v) ** 2)),
    }
    if exact:
        out["exact log-likelihood, sum over the 30 images"] = float(log_likelihood(v, w, b, c).sum())
    return out


HIGHER = ("pseudo-likelihood, mean per image", "exact log-likelihood, sum over the 30 images")
FIRST = {"bars": "exact log-likelihood, sum over the 30 images", "digits": "pseudo-likelihood, mean per image"}
"""The figure each task's fit-alone row shows (its time is the same for every figure)."""
WHOLE = " (whole train call)"
ALONE = " (fit alone: the passes in one jitted scan)"


def _data(spec: Path) -> tuple[np.ndarray, np.ndarray]:
    import cellgraph
    from cellgraph.data import load_dataset

    data = load_dataset(cellgraph.load_spec(spec).data)
    flat = [np.asarray(a, np.float64).reshape(len(a), -1) for a in (data.x_train, data.x_test)]
    return flat[0], flat[1]


def _cellgraph(
    task: Task, persistent: bool, seeds: list[int], repeats: int
) -> tuple[list[dict[str, float]], float, float]:
    """Figures per seed, best fit seconds, compile seconds."""
    import cellgraph

    with empty_program_cache(), tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / f"{task.name}.yaml"
        text = task.spec_text.replace("persistent: false", f"persistent: {str(persistent).lower()}")
        spec.write_text(text, encoding="utf-8")
        _, x_test = _data(spec)

        def fit(seed: int) -> Any:
            return cellgraph.train(spec, seed=seed, progress=False)

        best, compile_s = timed(fit, repeats, seeds[0])
        scores = []
        for seed in seeds:
            p = fit(seed).params
            scores.append(_figures(x_test, p["h"]["sym:v"], p["v"]["bias"], p["h"]["bias"], task.exact))
    return scores, best, compile_s


def _fit_alone(task: Task, persistent: bool, repeats: int) -> float:
    """Best seconds of cellgraph's CD passes alone, as ``BernoulliRBM.fit`` is measured: the
    rule's update (from the spec, through the rule protocol) over every pass in one jitted scan,
    the data on the device, each pass in its own order -- no training loop around it."""
    import jax
    import jax.numpy as jnp

    import cellgraph
    from cellgraph.train.rules import RunInfo, get_rule
    from cellgraph.train.setup import settings
    from cellgraph.train.state import TrainState

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{task.name}.yaml"
        path.write_text(task.spec_text.replace("persistent: false", f"persistent: {str(persistent).lower()}"))
        spec, model = cellgraph.load_spec(path), cellgraph.compile(path)
        x_train, _ = _data(path)
    cfg = settings(dict(spec.train))
    rule = get_rule("contrastive_divergence")(model, cfg, RunInfo(len(x_train), None, None, None))
    (group,) = model.inputs
    v = jnp.asarray(x_train, jnp.float32)
    rng = np.random.default_rng(0)
    orders = jnp.asarray(np.stack([rng.permutation(len(v)) for _ in range(task.epochs)]).astype(np.int32))
    key = jax.random.key(0)
    start = rule.init(TrainState(jnp.int32(0), model.init(key), {}, {}, key))

    @jax.jit
    def fit(state: TrainState, orders: Any) -> TrainState:
        def one_pass(state: TrainState, order: Any) -> tuple[TrainState, Any]:
            return rule.update(state, {"inputs": {group: v[order]}, "targets": {}})

        return jax.lax.scan(one_pass, state, orders)[0]

    jax.block_until_ready(fit(start, orders))
    return best_of(lambda _: jax.block_until_ready(fit(start, orders)), repeats)


def _sklearn(task: Task, seeds: list[int], repeats: int) -> tuple[list[dict[str, float]], float]:
    """Figures per seed and best fit seconds of BernoulliRBM with the same settings."""
    from sklearn.neural_network import BernoulliRBM

    spec = Path(tempfile.mkdtemp()) / f"{task.name}.yaml"
    spec.write_text(task.spec_text, encoding="utf-8")
    x_train, x_test = _data(spec)

    def fit(seed: int) -> BernoulliRBM:
        rbm = BernoulliRBM(
            n_components=task.hidden,
            learning_rate=task.learning_rate,
            batch_size=task.batch_size,
            n_iter=task.epochs,
            random_state=seed,
        )
        return rbm.fit(x_train)

    best = best_of(fit, repeats, seeds[0])
    scores = []
    for seed in seeds:
        rbm = fit(seed)
        scores.append(_figures(x_test, rbm.components_.T, rbm.intercept_visible_, rbm.intercept_hidden_, task.exact))
    return scores, best


def rows(quick: bool = False) -> list[Row]:
    """Each task's figures, cellgraph's CD-1 and PCD beside BernoulliRBM (PCD): whole calls, and
    the passes alone."""
    seeds, repeats = seeds_for(quick)
    out = []
    for task in TASKS:
        theirs, theirs_s = _sklearn(task, seeds, repeats)
        library = f"scikit-learn {version('scikit-learn')} BernoulliRBM (PCD)"
        for persistent in (False, True):
            ours, ours_s, compile_s = _cellgraph(task, persistent, seeds, repeats)
            alone_s = _fit_alone(task, persistent, repeats)
            rule = "PCD" if persistent else "CD-1"
            # BernoulliRBM has no CD-1: the zoo spec's rule is shown beside it, the target is read
            # on the PCD rows, where both sides run the same algorithm
            other = "" if persistent else "CD-1 against PCD"
            seeds_words = f"mean of {len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0]}"
            for metric in ours[0]:
                per_seed = tuple(s[metric] for s in ours), tuple(s[metric] for s in theirs)
                figures = dict(
                    ours=mean(per_seed[0]),
                    theirs=mean(per_seed[1]),
                    ours_seeds=per_seed[0],
                    theirs_seeds=per_seed[1],
                    better="higher" if metric in HIGHER else "lower",
                )
                out.append(
                    Row(
                        f"RBM ({rule})",
                        task.words + WHOLE,
                        f"{metric}, {seeds_words}",
                        ours_s=ours_s,
                        theirs_s=theirs_s,
                        library=library,
                        compile_s=compile_s,
                        other_algorithm=other,
                        **figures,
                    )
                )
                if metric == FIRST[task.name]:
                    out.append(
                        Row(
                            f"RBM ({rule})",
                            task.words + ALONE,
                            f"{metric}, {seeds_words}",
                            ours_s=alone_s,
                            theirs_s=theirs_s,
                            library=library,
                            other_algorithm=other,
                            **figures,
                        )
                    )
    return out  # fmt: skip


if __name__ == "__main__":
    print_rows(rows(quick="--quick" in sys.argv))
