"""The perceptron (ZOO.md 2.1 b) beside scikit-learn's ``Perceptron``, on the same mushroom split.

Both learn one threshold unit over the 117 one-hot attributes of the lecture's mushroom data
(``specs/examples/perceptron_mushroom.yaml``: 70/30 split, seed 0) with Rosenblatt's rule,
eta = 1, at most 20 passes over the 5686 training rows, each pass in a fresh random order, and
are scored by test accuracy on the 2438 held-out rows.

What differs, and why:

* The stop: cellgraph runs its 20 epochs (the spec's budget; its corrections stop after the first
  few); scikit-learn is given ``max_iter=20, tol=None`` so it too runs all 20 (its default would
  stop once the loss stops falling).
* The order and the start: cellgraph starts from zero weights and visits each epoch in a
  ``default_rng(seed)`` permutation; scikit-learn also starts from zero, with its own shuffling
  (``random_state`` = the seed).
* What is timed: for cellgraph a whole ``cellgraph.train`` call from the spec file with the data
  set given (already loaded, as scikit-learn's arrays are), after its programs are compiled;
  like ``Perceptron.fit``, which reports nothing per pass, it scores the held-out rows once, at
  the end (``eval_every: 20``, so its 20 epochs run in blocks); the jit compile (first call
  less that) is reported apart, measured against an empty program cache. A second row times the
  rule alone: its 20 epochs in one jitted scan (``online_epoch`` over the same orders), the data
  already on the device. For scikit-learn, ``Perceptron.fit``. The best of 5 runs each.
* Quality is the mean test accuracy over 8 seeds (seed 0 alone with ``--quick``).

    .venv/bin/python bench/classic_perceptron.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from classic_common import Row, best_of, empty_program_cache, mean, print_rows, seeds_for, timed

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "examples" / "perceptron_mushroom.yaml"
TASK = "mushroom, 117 one-hot inputs, 5686 train / 2438 test rows, 20 epochs, eta 1"
EPOCHS = 20


def _data() -> Any:
    import cellgraph
    from cellgraph.data import load_dataset

    return load_dataset(cellgraph.load_spec(SPEC).data, SPEC.parent)


def _accuracy(predicted: np.ndarray, y: np.ndarray) -> float:
    labels = (np.asarray(predicted).reshape(-1) > 0.5).astype(int)
    return float(np.mean(labels == np.asarray(y).reshape(-1)))


def _cellgraph(data: Any, seeds: list[int], repeats: int) -> tuple[list[float], float, float]:
    """Test accuracy per seed (from the trained unit's own outputs), best fit seconds, compile seconds."""
    import cellgraph

    with empty_program_cache(), tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / SPEC.name
        text = SPEC.read_text(encoding="utf-8")
        spec.write_text(text.replace("  epochs: 20 ", f"  eval_every: {EPOCHS}\n  epochs: 20 "), encoding="utf-8")
        assert "eval_every" in spec.read_text(encoding="utf-8")

        def fit(seed: int) -> Any:
            return cellgraph.train(spec, data=data, seed=seed, progress=False)

        best, compile_s = timed(fit, repeats, seeds[0])
        scores = [_accuracy(fit(seed).predict(np.asarray(data.x_test))["y"], data.y_test) for seed in seeds]
    return scores, best, compile_s


def _rule_alone(data: Any, seed: int, repeats: int) -> float:
    """Best seconds of the rule's 20 epochs alone: :func:`online_epoch` in one jitted scan over
    the epochs' orders, the data on the device -- what a ``cellgraph.train`` call spends in the
    rule, without the loop around it (checks, program cache, per-epoch evaluation)."""
    import jax
    import jax.numpy as jnp

    from cellgraph.train.rules.perceptron import _ClassicOrder, online_epoch

    x = jnp.asarray(data.x_train, jnp.float32)
    t = jnp.asarray(data.y_train, jnp.float32).reshape(-1)
    order = _ClassicOrder()
    orders = jnp.asarray(np.stack([order(seed, e, len(x)) for e in range(EPOCHS)]))

    @jax.jit
    def fit(orders: Any) -> Any:
        def epoch(carry: Any, p: Any) -> Any:
            w, b, _ = online_epoch(*carry, x[p], t[p], jnp.float32(1.0))
            return (w, b), None

        return jax.lax.scan(epoch, (jnp.zeros(x.shape[1], jnp.float32), jnp.float32(0.0)), orders)[0]

    jax.block_until_ready(fit(orders))
    return best_of(lambda _: jax.block_until_ready(fit(orders)), repeats)


def _sklearn(data: Any, seeds: list[int], repeats: int) -> tuple[list[float], float]:
    """Test accuracy per seed and best fit seconds of scikit-learn's Perceptron on the same split."""
    from sklearn.linear_model import Perceptron

    x_train, y_train = np.asarray(data.x_train, np.float64), np.asarray(data.y_train).reshape(-1)
    x_test = np.asarray(data.x_test, np.float64)

    def fit(seed: int) -> Any:
        return Perceptron(eta0=1.0, max_iter=20, tol=None, shuffle=True, random_state=seed).fit(x_train, y_train)

    best = best_of(fit, repeats, seeds[0])
    scores = [_accuracy(fit(seed).predict(x_test), data.y_test) for seed in seeds]
    return scores, best


def rows(quick: bool = False) -> list[Row]:
    """Test accuracy and fit time, cellgraph's perceptron rule beside scikit-learn's Perceptron."""
    seeds, repeats = seeds_for(quick)
    data = _data()
    ours, ours_s, compile_s = _cellgraph(data, seeds, repeats)
    theirs, theirs_s = _sklearn(data, seeds, repeats)
    alone_s = _rule_alone(data, seeds[0], repeats)
    which = f"mean of {len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0]}"
    library = f"scikit-learn {version('scikit-learn')} Perceptron (max_iter=20, tol=None)"
    figures = dict(ours=mean(ours), theirs=mean(theirs), ours_seeds=tuple(ours), theirs_seeds=tuple(theirs))
    return [
        Row("P", TASK + " (whole train call)", f"test accuracy, {which}", "higher", ours_s=ours_s, theirs_s=theirs_s,
            library=library, compile_s=compile_s, **figures),
        Row("P", TASK + " (fit alone: the rule's epochs, no training loop)", f"test accuracy, {which}", "higher",
            ours_s=alone_s, theirs_s=theirs_s, library=library, **figures),
    ]  # fmt: skip


if __name__ == "__main__":
    print_rows(rows(quick="--quick" in sys.argv))
