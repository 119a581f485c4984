"""The networks learn: each zoo spec reaches ZOO.md section 2's pass on its toy task, and each of the
lecture's examples reaches the issue's.

Every test trains a spec file as written, ``cellgraph.train(path, progress=False)``, with nothing
that the pass depends on overridden: only the seed where the pass counts seeds, the data where
one network is run on several sources, the size ZOO.md names for a second task (the FF's
mushroom net, one hidden layer of 16), and the training budget where ZOO.md names one ("within 20
epochs", "within 2000 steps"): that budget is passed in, never read back from the spec, so a spec
cannot pass by granting itself more. Each criterion is computed here from the trained network's
own outputs on held-out data -- the test split, a fresh set generated with another seed, or, for
the tasks that have nothing to hold out (the gates, the 8-3-8 encoder), all patterns -- so a
metric reported by the loss cannot hide a mistake.

A pass rate over seeds is measured over many seeds, not the first few: :func:`_train_seeds`
trains one spec from many seeds at once (``jax.vmap`` over the compiled model's own step, the same
batches as ``cellgraph.train``), and the FF test checks that it gives what ``cellgraph.train``
gives. The train blocks are sized so that the whole file stays within a few minutes on CI's two
cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from conftest import EXAMPLES, ZOO

import cellgraph
from cellgraph.data import load_dataset
from cellgraph.train import init_state, make_optimizer
from cellgraph.train.setup import settings
from cellgraph.train.step import step_fn

GATES = {"and": (0, 0, 0, 1), "or": (0, 1, 1, 1), "xor": (0, 1, 1, 0)}
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
FRESH_SEED = 20240601  # generator seed of the fresh test sets: none of the specs trains on it


def _train(path: Path, **kwargs: Any) -> cellgraph.train.TrainResult:
    return cellgraph.train(path, progress=False, **kwargs)


def _predict(path: Path | cellgraph.Spec, overrides: dict[str, Any] | None = None) -> Callable[..., np.ndarray]:
    """``predict(params, x)``: the (only) output group's values, computed in evaluation mode."""
    model = cellgraph.compile(path, overrides) if isinstance(path, Path) else cellgraph.compile(path)
    (out,) = model.outputs
    apply = jax.jit(lambda params, x: model.apply(params, x)[out])
    return lambda params, x: np.asarray(apply(params, np.asarray(x, np.float32)))


def _data(path: Path, **changes: Any) -> Any:
    """The spec's data set; ``changes`` replace keys of its data block, ``seed`` its generator seed."""
    seed = changes.pop("seed", None)
    return load_dataset({**cellgraph.load_spec(path).data, **changes}, path.parent, seed=seed)


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    pred = np.argmax(probs, axis=-1) if probs.shape[-1] > 1 else (probs[..., 0] > 0.5).astype(int)
    return float(np.mean(pred == labels))


def _gate(name: str) -> Any:
    return load_dataset({"source": name})


def _spec(path: Path, overrides: dict[str, Any] | None = None, edit: Callable[[dict], None] | None = None) -> Any:
    """The spec file, with param ``overrides``, and ``edit`` applied to its YAML document (a control)."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    if edit is not None:
        edit(doc)
    return cellgraph.load_spec_text(yaml.safe_dump(doc, sort_keys=False), str(path), overrides)


def _train_seeds(spec: cellgraph.Spec, seeds: Iterable[int], data: Any, *, steps: int) -> tuple[Any, Any]:
    """(parameters stacked over ``seeds``, the compiled model): ``spec`` trained from every seed at once.

    Each seed's run is ``cellgraph.train(spec, data=data, seed=s, steps=steps)``'s: the spec's
    model, loss, optimizer and batch size, the loop's initial state (:func:`init_state`), its
    pure step (:func:`step_fn`) and its batch order (epoch ``e`` visits the training split in
    ``default_rng([seed, e]).permutation(n)``). The batch size must divide the split (the loop
    would add a smaller last batch); the model must be deterministic. One compilation for all seeds.
    """
    seeds = list(seeds)
    model = cellgraph.compile(spec)
    assert not model.stochastic, "a stochastic model's steps draw keys the population does not replicate"
    cfg = settings(spec.train, epochs=None, steps=steps, batch_size=None, seed=None, optimizer=None, grad_clip=None)
    tx = make_optimizer(cfg, model.trainable_mask)
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    n = len(x)
    size = min(cfg["batch_size"], n)
    assert n % size == 0, f"batch size {size} does not divide the {n} training examples"
    per_epoch = n // size
    epochs = -(-steps // per_epoch)
    order = np.stack(
        [
            np.concatenate([np.random.default_rng([s, e]).permutation(n) for e in range(epochs)])[: steps * size]
            for s in seeds
        ],
        axis=1,
    ).reshape(steps, len(seeds), size)  # (step, seed, example)
    step = step_fn(model.loss, tx, stochastic=False)

    def run(seed_ids: jax.Array, order: jax.Array) -> Any:
        states = jax.vmap(lambda s: init_state(model.init, tx, s))(seed_ids)

        def one(states: Any, idx: jax.Array) -> tuple[Any, None]:
            return jax.vmap(lambda state, i: step(state, model.batch(x[i], y[i]))[0])(states, idx), None

        return jax.lax.scan(one, states, order)[0].params

    return jax.jit(run)(jnp.asarray(seeds), jnp.asarray(order)), model


def _outputs(model: Any, params: Any, x: np.ndarray) -> np.ndarray:
    """(seed, example, unit): the output group of every seed's network, in evaluation mode."""
    (out,) = model.outputs
    return np.asarray(jax.vmap(lambda p: model.apply(p, jnp.asarray(x, jnp.float32))[out])(params))


# ------------------------------------------------------------------------------------ P (2.1)


def _converged(result: cellgraph.train.TrainResult) -> bool:
    """An epoch without a single correction, and none after it: the perceptron's weights stopped."""
    mistakes = [row["train_mistakes"] for row in result.history]
    return 0 in mistakes and not any(mistakes[mistakes.index(0) :])


@pytest.mark.parametrize("gate", ["and", "or"])
def test_p_learns_and_and_or_within_ten_epochs(gate: str) -> None:
    path = ZOO / "p.yaml"
    result = _train(path, data=_gate(gate), epochs=10)  # ZOO.md's budget
    assert _converged(result), result.history
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert out.tolist() == list(GATES[gate])  # 100% of the truth table


def test_p_fails_xor() -> None:
    path = ZOO / "p.yaml"
    result = _train(path, data=_gate("xor"))
    assert all(row["train_mistakes"] > 0 for row in result.history)  # the corrections never stop
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert np.mean(out == np.array(GATES["xor"])) <= 0.75  # Minsky & Papert: no line separates XOR


def test_p_on_mushroom_converges_within_20_epochs_and_scores_held_out() -> None:
    """ZOO.md 2.1(b), the lecture's perceptron on the lecture's data, trained for 20 epochs at most.

    The classes are linearly separable, so by the convergence theorem the corrections stop: an
    epoch passes without a mistake, the whole training split is then classified right (checked
    from the network's outputs, not the rule's count), and >= 99.5% of the test split.

    Control: the same rule and ``_converged`` check on XOR, which no line separates, never stop
    correcting (``test_p_fails_xor``, ``test_lecture_perceptron_learns_and_or_and_fails_xor``).
    """
    path = EXAMPLES / "perceptron_mushroom.yaml"
    result = _train(path, epochs=20)
    assert _converged(result), [row["train_mistakes"] for row in result.history]
    ds = _data(path)
    predict = _predict(path)
    assert _accuracy(predict(result.params, ds.x_train), ds.y_train) == 1.0
    assert _accuracy(predict(result.params, ds.x_test), ds.y_test) >= 0.995


# ------------------------------------------------------------------------------------ FF (2.2)


XOR_STEPS = 2000  # ZOO.md 2.2: within 2000 Adam steps


def _xor_solved(model: Any, params: Any) -> np.ndarray:
    """Per seed: all 4 patterns on the right side of 0.5 and MSE < 0.01 (ZOO.md 2.2)."""
    p = _outputs(model, params, GATE_INPUTS)[..., 0]
    target = np.array(GATES["xor"], np.float32)
    return np.all((p > 0.5) == target, axis=1) & (np.mean((p - target) ** 2, axis=1) < 0.01)


def test_ff_solves_xor_in_95_of_100_seeds() -> None:
    """ZOO.md 2.2: >= 95 of 100 seeds solve XOR, over seeds 0-99 and again over 1000-1099.

    The chart's 2-2-1 net, trained identically, is the control: it stalls from about half of its
    starts (ZOO.md measured 49 of 100), which is why the spec widens the hidden layer.
    """
    path = ZOO / "ff.yaml"
    data = _gate("xor")
    spec = cellgraph.load_spec(path)
    for first in (0, 1000):
        params, model = _train_seeds(spec, range(first, first + 100), data, steps=XOR_STEPS)
        solved = _xor_solved(model, params)
        assert solved.sum() >= 95, f"XOR solved from {solved.sum()} of seeds {first}-{first + 99}"
    # the population trains as cellgraph.train does: the last seed, trained the ordinary way, ends
    # with the same outputs (its weights keep growing along the same directions, so they drift
    # apart by rounding), and after 100 steps with the same weights
    result = _train(path, seed=first + 99, steps=XOR_STEPS)
    last = jax.tree.map(lambda leaf: leaf[-1], params)
    assert np.allclose(_predict(path)(result.params, GATE_INPUTS), _predict(path)(last, GATE_INPUTS), atol=0.01)
    early, _ = _train_seeds(spec, [first + 99], data, steps=100)
    reference = _train(path, seed=first + 99, steps=100).params
    assert all(jax.tree.leaves(jax.tree.map(lambda u, v: np.allclose(u, v[0], atol=1e-5), reference, early)))
    narrow, model = _train_seeds(_spec(path, {"width": 2}), range(100), data, steps=XOR_STEPS)
    assert 25 <= _xor_solved(model, narrow).sum() <= 75  # 2-2-1: about half, so the criterion has teeth


def test_ff_mushroom_one_hidden_layer_of_16_held_out() -> None:
    """XOR holds nothing out, so ZOO.md adds mushroom with one hidden layer of 16: >= 99.5% test accuracy."""
    path = EXAMPLES / "mushroom.yaml"
    overrides = {"depth": 1, "width": 16}
    result = _train(path, params_override=overrides)
    ds = _data(path)
    assert _accuracy(_predict(path, overrides)(result.params, ds.x_test), ds.y_test) >= 0.995


# ------------------------------------------------------------------------------------ RBF (2.3)


def test_rbf_fits_the_sine_held_out() -> None:
    path = ZOO / "rbf.yaml"
    result = _train(path)
    ds = _data(path)
    rmse = float(np.sqrt(np.mean((_predict(path)(result.params, ds.x_test) - ds.y_test) ** 2)))
    assert rmse < 0.02


def test_rbf_interpolates_xor_exactly() -> None:
    path = EXAMPLES / "rbf_xor.yaml"
    result = _train(path)
    out = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    assert np.max(np.abs(out - np.array(GATES["xor"]))) < 1e-6


# ------------------------------------------------------------------------------------ DFF (2.4)


def test_dff_mushroom_held_out() -> None:
    path = ZOO / "dff.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.995


def test_dff_two_spirals_held_out_where_a_perceptron_stays_near_chance() -> None:
    path = EXAMPLES / "spirals_dff.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.95
    linear = EXAMPLES / "perceptron.yaml"  # the control: one threshold unit on the same points
    control = _train(linear, data=ds)
    assert _accuracy(_predict(linear)(control.params, ds.x_test), ds.y_test) <= 0.65


# ------------------------------------------------------------------------------------ RNN (2.5)


def test_rnn_predicts_the_xor_bits_of_a_fresh_temporal_xor_stream() -> None:
    path = ZOO / "rnn.yaml"
    result = _train(path)
    predict = _predict(path)
    for ds in (_data(path), _data(path, seed=FRESH_SEED)):  # the held-out continuation; a new stream
        error = np.abs(predict(result.params, ds.x_test) - ds.y_test)[0, :, 0]
        predictable = ds.meta["predictable"]
        assert error[predictable].mean() < 0.2
        assert error[~predictable].mean() >= 0.4  # random bits stay unpredictable: no leak


# ------------------------------------------------------------------------------ LSTM, GRU (2.6, 2.7)


@pytest.mark.parametrize("net", ["lstm", "gru"])
def test_adding_problem_t50_on_1000_fresh_sequences(net: str) -> None:
    path = ZOO / f"{net}.yaml"
    result = _train(path)
    fresh = _data(path, n=2000, split={"test": 0.5, "seed": 0}, seed=FRESH_SEED)
    x, y = fresh.x_test, fresh.y_test[:, 0]
    correct = np.mean(np.abs(_predict(path)(result.params, x)[:, 0] - y) < 0.04)
    constant = np.mean(np.abs(0.5 - y) < 0.04)  # the control: always 0.5
    assert 0.10 < constant < 0.20  # ~15%, as ZOO.md computes
    assert correct >= 0.95, f"{correct:.1%} of the fresh sequences within 0.04 (constant 0.5: {constant:.1%})"


# ------------------------------------------------------------------------------------ AE (2.8)


def test_ae_solves_the_8_3_8_encoder() -> None:
    path = ZOO / "ae.yaml"
    result = _train(path)
    patterns = np.eye(8, dtype=np.float32)  # the whole task: nothing to hold out
    out = _predict(path)(result.params, patterns)
    assert np.argmax(out, axis=-1).tolist() == list(range(8))


def test_linear_ae_matches_pca_held_out() -> None:
    """Bourlard & Kamp: a linear 8-2-8 AE is as good as a 2-component PCA (within 2% held out)."""
    path = EXAMPLES / "linear_ae.yaml"
    result = _train(path)
    ds = _data(path)
    mean = ds.x_train.mean(axis=0)
    basis = np.linalg.svd(ds.x_train - mean, full_matrices=False)[2][:2].T  # (8, 2): the top 2 directions
    pca = np.mean(((ds.x_test - mean) @ basis @ basis.T + mean - ds.x_test) ** 2)
    ae = np.mean((_predict(path)(result.params, ds.x_test) - ds.x_test) ** 2)
    assert ae <= 1.02 * pca


# ------------------------------------------------------------------------------------ VAE (2.9)


def test_vae_beats_the_per_pixel_model_on_held_out_bars_and_uses_its_code() -> None:
    """ZOO.md 2.9: held-out negative ELBO <= 0.75 x the NLL of an independent Bernoulli per pixel
    fitted to the training set, and mean KL > 0.5 nats (no posterior collapse).

    The ELBO is estimated as it is defined, with the code sampled (the training pass's
    reparameterised z, averaged over 5 draws): the evaluation pass reads the code at its mean,
    which gives an optimistic figure (15.3 nats against the sampled 19.9 when measured).
    """
    path = ZOO / "vae.yaml"
    result = _train(path, resume=False)
    data = _data(path)
    train = data.x_train.reshape(len(data.x_train), -1)
    test = data.x_test.reshape(len(data.x_test), -1)
    p = np.clip(train.mean(axis=0), 1e-4, 1 - 1e-4)
    per_pixel = -np.mean(np.sum(test * np.log(p) + (1 - test) * np.log(1 - p), axis=1))
    batch = result.model.batch(data.x_test, None)
    draws = [result.model.loss(result.params, batch, jax.random.key(k))[1] for k in range(5)]
    neg_elbo = -float(np.mean([d["elbo"] for d in draws]))
    kl = float(np.mean([d["kl"] for d in draws]))
    assert neg_elbo <= 0.75 * per_pixel, (neg_elbo, per_pixel)  # measured 19.9 against 35.6
    assert kl > 0.5, kl


# ------------------------------------------------------------------------------------- DN (2.18)

GLYPH_CLASSIFIER = """
cellgraph: 1
name: glyph_classifier
cells:
  x: {type: input, shape: [8, 8, 1]}
  k: {type: kernel, window: 3, channels: 16}
  p: {type: convolution, op: max_pool, window: 2}
  h: {type: hidden, size: 64, activation: relu}
  y: {type: output, size: 4, activation: softmax}
edges: [x -> k -> p -> h -> y]
train: {loss: cross_entropy, metrics: [accuracy], optimizer: {name: adam, learning_rate: 3.0e-3}, epochs: 30,
  batch_size: 32, seed: 0}
data: {source: glyphs, classes: 4, n: 2500, noise: 0.3, split: {test: 0.2, seed: 1}}
"""


def test_dn_draws_each_held_out_class_code_as_its_glyph(tmp_path: Path) -> None:
    """ZOO.md 2.18: held-out per-pixel MSE < 0.01, and a separately trained glyph classifier (a
    small convolutional net trained on glyphs at random positions with noise, never on the DN's
    data) recognises
    >= 95 % of the generated images as the class they were drawn from."""
    path = ZOO / "dn.yaml"
    result = _train(path, resume=False)
    assert result.metrics["mse"] < 0.01, result.metrics
    classifier_spec = tmp_path / "glyph_classifier.yaml"
    classifier_spec.write_text(GLYPH_CLASSIFIER, encoding="utf-8")
    classifier = _train(classifier_spec, resume=False)
    # it knows the glyphs: 0.956 measured; the noise (0.3) on its own data caps it near 0.96
    assert classifier.metrics["accuracy"] >= 0.9, classifier.metrics
    data = _data(path)
    drawn = result.predict(data.x_test)["y"]
    recognised = np.mean(classifier.predict(drawn)["y"].argmax(-1) == data.meta["labels_test"])
    assert recognised >= 0.95, recognised


# ------------------------------------------------------------------------------------ DAE (2.10)


def _without_noise(path: Path) -> cellgraph.Spec:
    """The same network with a plain input: ZOO.md's control, an AE trained without noise."""
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    x = doc["cells"]["x"]
    doc["cells"]["x"] = {"type": "input", "shape": x["shape"]}
    return cellgraph.load_spec_text(yaml.safe_dump(doc, sort_keys=False), str(path.with_name("plain_ae.yaml")))


# ---------------------------------------------------------------------------------- DCIGN (2.19)


def test_dcign_code_unit_tracks_the_held_out_squares_position() -> None:
    """ZOO.md 2.19: on held-out images the code unit assigned to x-position has Spearman |rho| >= 0.9
    with x, and the reconstruction MSE is < 0.01. Kulkarni et al.'s scheme (`train.factors`: each
    batch varies one factor, the other units clamped to the batch mean) is what makes one unit
    stand for x: measured |rho| 0.994 (unit 0 vs x) and 0.943 (unit 1 vs size) at seed 0; the
    same network trained on shuffled batches without it reached 0.56 at best (beta 1), 0.70 at
    beta 4."""
    from scipy.stats import spearmanr

    path = ZOO / "dcign.yaml"
    result = _train(path, resume=False)
    data = _data(path)
    values, _ = result.model.forward(result.params, data.x_test)
    code = np.asarray(values["z"]).reshape(len(data.x_test), -1)
    x, size = data.meta["factors_test"][:, 0], data.meta["factors_test"][:, 1]
    assert abs(spearmanr(code[:, 0], x)[0]) >= 0.9
    assert abs(spearmanr(code[:, 1], size)[0]) >= 0.8  # the second factor finds its unit too
    assert result.metrics["reconstruction_error"] < 0.01


# ------------------------------------------------------------------------------------ GAN (2.20)


def test_gan_maps_uniform_noise_to_the_held_out_gaussian() -> None:
    """ZOO.md 2.20 (a): uniform noise to N(4, 0.5^2); 10,000 generated samples have |mean - 4| <
    0.1, |std - 0.5| < 0.1 and a two-sample Kolmogorov-Smirnov statistic < 0.05 against the 5,000
    held-out real samples. Measured over seeds 0-5 with the spec's settings: KS 0.027-0.046,
    mean 3.995-4.029, std 0.444-0.532 (against fresh N(4, 0.5^2) draws); with one discriminator
    step per generator step the tails are missed (KS 0.1-0.2), which is why the spec takes ten.
    One seed here (20,000 steps take about 20 s); the six were measured with the same settings."""
    from cellgraph.compiler.adversarial import make_adversarial

    path = ZOO / "gan.yaml"
    result = _train(path, seed=0, resume=False)
    model = result.model
    fake, _ = make_adversarial(model.graph, model.forward, model.plan).fake(result.params, 10_000, jax.random.key(7))
    fake = np.asarray(fake).ravel()
    real = _data(path).x_test.ravel()
    assert abs(fake.mean() - 4.0) < 0.1 and abs(fake.std() - 0.5) < 0.1, (fake.mean(), fake.std())
    assert _ks(fake, real) < 0.05
    # the KS the run reports on its held-out split is the same statistic, from as many samples as rows
    assert 0.0 <= result.metrics["ks_statistic"] < 0.1


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic, by NumPy alone (the largest gap of the two CDFs)."""
    points = np.concatenate([a, b])
    fa = np.searchsorted(np.sort(a), points, side="right") / len(a)
    fb = np.searchsorted(np.sort(b), points, side="right") / len(b)
    return float(np.max(np.abs(fa - fb)))


def test_dae_halves_the_error_of_masked_held_out_images_and_beats_a_plain_ae() -> None:
    path = ZOO / "dae.yaml"
    level = cellgraph.load_spec(path).cells[0].options["level"]  # the masking the DAE was trained with
    result = _train(path)
    plain = _without_noise(path)
    control = _train(plain)
    clean = _data(path).x_test
    masked = np.where(np.random.default_rng(FRESH_SEED).random(clean.shape) < level, 0.0, clean)
    noisy_error = np.mean((masked - clean) ** 2)
    dae_error = np.mean((_predict(path)(result.params, masked).reshape(clean.shape) - clean) ** 2)
    plain_error = np.mean((_predict(plain)(control.params, masked).reshape(clean.shape) - clean) ** 2)
    assert dae_error <= 0.5 * noisy_error
    assert dae_error < plain_error


# ------------------------------------------------------------------------------------ SAE (2.11)


def test_sae_code_is_sparse_per_input_and_reconstructs_held_out_data() -> None:
    """ZOO.md 2.11: mean activation 0.05 +- 0.02, MSE < 10% of the variance, and sparse *per input*.

    With sigmoid units "sparse" cannot mean exact zeros; it means each input switches on a few
    units clearly while the rest stay near the floor. A mean activation of 0.05 alone is met by a
    dense code -- every unit at ~0.05 on every input, read by large decoder weights (found: no unit
    ever above 0.14, ~14 of 32 above 0.05 on each input) -- so three checks look at single inputs:

    * concentration: on >= 80% of inputs the 4 largest units carry >= 60% of the code's total
      activation (ZOO.md). A uniform code gives 4/32 = 12.5%, the dense code ~18%; the data
      mixes 2 atoms per input, so a code with one unit per atom puts nearly all its mass in 2.
    * selectivity: no unit above 0.2 on more than 25% of inputs (ZOO.md) -- an atom is present in
      2/32 ~ 6% of inputs, so a unit that tracks one should be on about that often.
    * units that fire: on >= 25% of inputs some unit is above 0.5, the sigmoid's midpoint (where
      it is most sensitive). A code that never crosses it carries its information in the
      exponential tail, as the dense code did; 25% leaves room for faint atoms (weights from 0.5).

    Control: ``test_sae_sparsity_checks_reject_a_dense_code`` feeds these checks a dense code with
    the right mean, and they reject it.
    """
    path = ZOO / "sae.yaml"
    result = _train(path)
    ds = _data(path)
    values, _ = cellgraph.compile(path).forward(result.params, ds.x_test)
    code, out = np.asarray(values["h"]), np.asarray(values["y"])
    assert code.shape == (len(ds.x_test), 32)
    assert abs(code.mean() - 0.05) <= 0.02  # mean code activation: rho = 0.05
    assert np.mean((out - ds.x_test) ** 2) < 0.1 * np.mean(ds.x_test.var(axis=0))
    assert _not_sparse_per_input(code) == []


def _not_sparse_per_input(code: np.ndarray) -> list[str]:
    """The per-input sparsity checks (see above) that ``code`` (input, unit) fails, with its figures."""
    top4 = np.sort(code, axis=1)[:, -4:].sum(axis=1) / code.sum(axis=1)
    busiest = np.max(np.mean(code > 0.2, axis=0))
    firing = np.mean(code.max(axis=1) > 0.5)
    checks = {
        f"4 largest units carry >= 60% on {np.mean(top4 >= 0.6):.0%} of inputs (median share {np.median(top4):.2f})": (
            np.mean(top4 >= 0.6) >= 0.8
        ),
        f"the busiest unit is above 0.2 on {busiest:.0%} of inputs": busiest <= 0.25,
        f"some unit above 0.5 on {firing:.0%} of inputs (largest {code.max():.3f})": firing >= 0.25,
    }
    return [name for name, ok in checks.items() if not ok]


def test_sae_sparsity_checks_reject_a_dense_code() -> None:
    """A code like the one the KL term alone produced: its mean meets rho, its inputs fail two checks."""
    rng = np.random.default_rng(0)
    dense = np.clip(rng.normal(0.05, 0.03, (1000, 32)), 0.001, 0.136)  # never above 0.136, as found
    assert abs(dense.mean() - 0.05) <= 0.02
    assert len(_not_sparse_per_input(dense)) == 2  # concentration and firing; selectivity cannot see it


# ------------------------------------------------------------------------------------ DCN (2.17)


@pytest.mark.parametrize("path", [ZOO / "dcn.yaml", EXAMPLES / "digits_dcn.yaml"], ids=["dcn", "digits_dcn"])
def test_dcn_classifies_held_out_digits(path: Path) -> None:
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.97


# ------------------------------------------------------------------------------------ DRN (2.24)


DRN_DEPTH = 50  # ZOO.md 2.24: depth 50-100, where depth hurts a plain net
DRN_STEPS = 1000  # ZOO.md 2.24 allows 2000; half suffices
DRN_SEEDS = (0, 1, 2)


def _without_skips(doc: dict) -> None:
    del doc["cells"]["h"]["residual"]


@pytest.mark.slow
def test_drn_separates_held_out_spirals_where_the_same_net_without_skips_fails() -> None:
    """ZOO.md 2.24: depth 50 with skips >= 95% on the test split, the plain net >= 10 points lower, 3 seeds.

    At depth 20 a plain net still reached 0.956-0.983, so the skips proved nothing there; the
    spec is 50 layers deep. Both nets train identically (same spec, optimizer, steps, seeds).
    """
    path = ZOO / "drn.yaml"
    ds = _data(path)
    depth = {"depth": DRN_DEPTH}
    scores = {}
    for name, spec in (("residual", _spec(path, depth)), ("plain", _spec(path, depth, edit=_without_skips))):
        params, model = _train_seeds(spec, DRN_SEEDS, ds, steps=DRN_STEPS)
        scores[name] = np.mean(np.argmax(_outputs(model, params, ds.x_test), axis=-1) == ds.y_test, axis=1)
    residual, plain = scores["residual"], scores["plain"]
    assert np.all(residual >= 0.95), f"residual {residual}, plain {plain}"
    assert np.all(residual - plain >= 0.10), f"residual {residual}, plain {plain}"


# ------------------------------------------------------------------------------- the lecture's examples


@pytest.mark.parametrize("gate", ["and", "or", "xor"])
def test_lecture_perceptron_learns_and_or_and_fails_xor(gate: str) -> None:
    """Δw = η(t − o)x (``train.rule: perceptron``): AND and OR in full, XOR at most 3 of 4."""
    path = EXAMPLES / "perceptron.yaml"
    result = _train(path, params_override={"gate": gate})
    out = _predict(path, {"gate": gate})(result.params, GATE_INPUTS)[:, 0]
    right = np.mean(out == np.array(GATES[gate]))
    mistakes = [row["train_mistakes"] for row in result.history]
    if gate == "xor":
        assert right <= 0.75 and min(mistakes) > 0
    else:
        assert right == 1.0 and _converged(result)


def test_lecture_mlp_solves_xor() -> None:
    path = EXAMPLES / "xor_mlp.yaml"
    result = _train(path)
    p = _predict(path)(result.params, GATE_INPUTS)[:, 0]
    target = np.array(GATES["xor"], np.float32)
    assert np.all((p > 0.5) == target)
    assert np.mean((p - target) ** 2) < 0.01


def test_lecture_mushroom_mlp_held_out() -> None:
    path = EXAMPLES / "mushroom.yaml"
    result = _train(path)
    ds = _data(path)
    assert _accuracy(_predict(path)(result.params, ds.x_test), ds.y_test) >= 0.999
