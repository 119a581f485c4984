"""The adversarial rule (GAN) on specs of a user's own: its losses, its updates, its checks.

The zoo GAN learning its ZOO.md task is in test_learning.py; here a two-dimensional GAN written
outside ``specs/`` (its own generator and discriminator parts) exercises what the rule promises:
each network's update moves only that network, the discriminator reads real samples where the
generated ones enter, the kept generator is the running average, and a spec that cannot be a GAN
is refused where it is written.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import cellgraph
from cellgraph.compiler.adversarial import ks_statistic, make_adversarial
from cellgraph.errors import SpecError
from cellgraph.train import StepInfo, TrainingInterrupted

GENERATOR = """\
cellgraph: 1
name: gen2
cells:
  noise: {type: input, size: 3, distribution: normal}
  h: {type: hidden, size: 16, activation: tanh}
  out: {type: output, size: 2, activation: linear}
edges: [noise -> h -> out]
"""

DISCRIMINATOR = """\
cellgraph: 1
name: dis2
cells:
  x: {type: input, size: 2}
  h: {type: hidden, size: 16, activation: leaky_relu}
  p: {type: output, size: 1, activation: sigmoid}
edges: [x -> h -> p]
"""

GAN = """\
cellgraph: 1
name: ring_gan
cells:
  g: {{use: parts/gen2.yaml}}
  d: {{use: parts/dis2.yaml, bind: {{x: g.out}}}}
edges: []
train:
  rule: adversarial
  generator: g
  discriminator: d
  d_steps: {d_steps}
  ema: {ema}
  optimizer: {{name: adam, learning_rate: 0.01, b1: 0.5}}
  batch_size: 64
  steps: 3
  seed: 0
"""


def _write(tmp_path: Path, d_steps: int = 2, ema: float = 0.0, gan: str = GAN) -> Path:
    (tmp_path / "parts").mkdir(exist_ok=True)
    (tmp_path / "parts" / "gen2.yaml").write_text(GENERATOR)
    (tmp_path / "parts" / "dis2.yaml").write_text(DISCRIMINATOR)
    path = tmp_path / "ring_gan.yaml"
    path.write_text(gan.format(d_steps=d_steps, ema=ema))
    return path


def _first_key(seed: int) -> jax.Array:
    """The key a run of ``seed`` initialises its parameters with (cellgraph.train.state)."""
    return jax.random.split(jax.random.key(seed))[0]


def _real(n: int = 256, seed: int = 0) -> np.ndarray:
    angle = np.random.default_rng(seed).uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32) * 2.0


def test_ks_statistic_is_the_two_sample_kolmogorov_smirnov_distance() -> None:
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    a, b = rng.normal(0, 1, (300, 1)), rng.normal(0.3, 1.2, (500, 1))
    assert float(ks_statistic(jnp.asarray(a), jnp.asarray(b))) == pytest.approx(ks_2samp(a[:, 0], b[:, 0]).statistic)
    # several values per sample: the largest of the per-value distances
    c = np.concatenate([a, rng.normal(0, 1, (300, 1))], axis=1)
    d = np.concatenate([rng.normal(0, 1, (500, 1)), b], axis=1)
    want = max(ks_2samp(c[:, i], d[:, i]).statistic for i in range(2))
    assert float(ks_statistic(jnp.asarray(c), jnp.asarray(d))) == pytest.approx(want)


def test_the_data_feed_the_generators_sample_and_the_noise_is_drawn(tmp_path: Path) -> None:
    model = cellgraph.compile(_write(tmp_path))
    assert model.inputs == ("g.out",) and model.plan.drawn == {"g.noise": "normal"}
    params = model.init(jax.random.key(0))
    real = _real(8)
    # clamped: the discriminator reads the real samples where the generated ones enter
    values, _ = model.forward(params, {"g.out": real})
    assert np.array_equal(np.asarray(values["g.out"]), real)
    h = np.asarray(values["d.h"])
    w = params["d.h"]
    manual = np.asarray(jax.nn.leaky_relu(real @ np.asarray(w["kernel"]) + np.asarray(w["bias"])))
    assert np.allclose(h, manual, atol=1e-5)
    # the noise is drawn from the key: different keys, different samples
    gan = make_adversarial(model.graph, model.forward, model.plan)
    a, _ = gan.fake(params, 16, jax.random.key(1))
    b, _ = gan.fake(params, 16, jax.random.key(2))
    assert a.shape == (16, 2) and not np.allclose(a, b)


def test_one_update_is_d_steps_discriminator_steps_then_one_generator_step(tmp_path: Path) -> None:
    """The rule's update equals Goodfellow et al.'s Algorithm 1 written out by hand with optax:
    each step differentiates its own network's parameters only (the other's are constants)."""
    import optax

    from cellgraph.train.rules import get_rule
    from cellgraph.train.rules.protocol import RunInfo
    from cellgraph.train.setup import settings
    from cellgraph.train.state import TrainState

    path = _write(tmp_path, d_steps=3)
    model = cellgraph.compile(path)
    cfg = settings(cellgraph.load_spec(path).train)
    rule = get_rule("adversarial")(model, cfg, RunInfo(256))
    params = model.init(jax.random.key(0))
    state = TrainState(jnp.zeros((), jnp.int32), params, {}, {}, jax.random.key(5))
    real = jnp.asarray(_real(64))
    new, metrics = jax.jit(rule.update)(rule.init(state), {"inputs": {"g.out": real}, "targets": {}})

    gan = make_adversarial(model.graph, model.forward, model.plan)
    tx = optax.adam(0.01, b1=0.5)
    _, *keys = jax.random.split(jax.random.key(5), 5)
    gen, dis = {n: params[n] for n in ("g.h", "g.out")}, {n: params[n] for n in ("d.h", "d.p")}
    d_opt, g_opt = tx.init(dis), tx.init(gen)
    for k in keys[:3]:
        grads = jax.grad(lambda d, k=k: gan.d_loss({**gen, **d}, real, k)[0])(dis)
        updates, d_opt = tx.update(grads, d_opt, dis)
        dis = optax.apply_updates(dis, updates)
    grads = jax.grad(lambda g: gan.g_loss({**g, **dis}, 64, keys[3]))(gen)
    updates, g_opt = tx.update(grads, g_opt, gen)
    gen = optax.apply_updates(gen, updates)
    for n, want in {**gen, **dis}.items():
        for k in want:
            np.testing.assert_allclose(new.params[n][k], want[k], rtol=1e-5, atol=1e-6)
    assert set(metrics) >= {"d_loss", "g_loss", "d_real", "d_fake", "loss"}


def test_the_kept_generator_is_the_running_average_of_its_weights(tmp_path: Path) -> None:
    init = cellgraph.compile(_write(tmp_path, ema=0.0)).init(_first_key(0))
    raw = cellgraph.train(_write(tmp_path, ema=0.0), data=_real(), steps=1, progress=False, resume=False)
    averaged = cellgraph.train(_write(tmp_path, ema=0.9), data=_real(), steps=1, progress=False, resume=False)
    for n in ("g.h", "g.out"):
        for k in init[n]:
            want = 0.9 * np.asarray(init[n][k]) + 0.1 * np.asarray(raw.params[n][k])
            assert np.allclose(averaged.params[n][k], want, atol=1e-6)
    for k in init["d.p"]:  # the discriminator is never averaged
        assert np.allclose(averaged.params["d.p"][k], raw.params["d.p"][k])


def test_an_interrupted_gan_resumes_to_the_same_parameters(tmp_path: Path) -> None:
    """Both networks' optimizer states and the raw generator live in the rule state, which the
    checkpoint keeps: stopping after step 3 and resuming ends where the straight run ends."""
    path = _write(tmp_path, ema=0.5)
    straight = cellgraph.train(path, data=_real(), steps=6, progress=False, resume=False)
    folder = tmp_path / "run"

    def interrupt(info: StepInfo) -> None:
        if info.step == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        cellgraph.train(path, data=_real(), steps=6, progress=False, checkpoint_dir=folder, on_step=interrupt)
    resumed = cellgraph.train(path, data=_real(), steps=6, progress=False, checkpoint_dir=folder)
    assert resumed.resumed_at == 3
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6), resumed.params, straight.params)


def test_real_samples_of_the_wrong_width_are_a_located_error(tmp_path: Path) -> None:
    path = _write(tmp_path)
    with pytest.raises(SpecError) as err:
        cellgraph.train(path, data=np.zeros((32, 3), np.float32), steps=1, progress=False)
    text = str(err.value)
    assert "g.out" in text and "gen2.yaml" in text and "2" in text


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("distribution: normal", "distribution: data"), "no noise input"),
        (
            ("p: {type: output, size: 1, activation: sigmoid}", "p: {type: output, size: 2, activation: softmax}"),
            "one sigmoid unit",
        ),
        (("discriminator: d", "discriminator: g"), "the same part"),
        (("generator: g", "generator: nope"), "names no composed part"),
    ],
)
def test_a_spec_that_cannot_be_a_gan_is_refused_where_it_is_written(
    tmp_path: Path, change: tuple[str, str], words: str
) -> None:
    path = _write(tmp_path)
    for part in ("gen2.yaml", "dis2.yaml"):
        f = tmp_path / "parts" / part
        f.write_text(f.read_text().replace(*change))
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(SpecError) as err:
        cellgraph.load_graph(path)
    assert any(words in p.message for p in err.value.problems), str(err.value)
    assert all(p.loc.line > 0 for p in err.value.problems)
