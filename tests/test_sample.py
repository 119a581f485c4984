"""Sampling and views (issue 16): ``cellgraph sample`` / ``cellgraph attention`` and the Python API.

* Which networks generate, read from the graph by capabilities: a GAN, a Gaussian code decoded
  (VAE, DCIGN), a one-hot code grown into an image (DN); anything else is refused at the spec.
* The samples: their shapes, the seed; decoding the encoder's mean code reproduces the model's
  own reconstruction (the clamped code cuts the input off); traversal rows sweep one unit.
* The pictures: PNGs Pillow reads, of the expected size, not blank, the same bytes for the same seed.
* The command line end to end: ``train --save`` then ``sample --run`` / ``attention --run``;
  refusals exit 1 (2 for usage) with a located or plain message, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jax
import numpy as np
import pytest
from conftest import EXAMPLES, ZOO, CliRunner
from PIL import Image

import cellgraph
from cellgraph.sampling import generator_of, image_shape

# A small VAE on 8x8 bars: an encoder layer, a 4-unit Gaussian code, a decoder layer.
TINY_VAE = """\
cellgraph: 1
name: tiny_vae
cells:
  x: {type: input, shape: [8, 8, 1]}
  e: {type: hidden, size: 32, activation: relu}
  z: {type: probabilistic_hidden, distribution: gaussian, size: 4}
  d: {type: hidden, size: 32, activation: relu}
  y: {type: match_input_output, target: x, activation: sigmoid}
edges:
  - x -> e -> z -> d -> y
train:
  loss: {name: elbo, error: bce}
  metrics: [elbo]
  optimizer: {name: adam, learning_rate: 3.0e-3}
  epochs: 3
  batch_size: 32
  seed: 0
data:
  source: bars
  n: 512
  split: {test: 0.25, seed: 0}
"""

# The same, but the decoder also reads the input around the code: a decoded code is not the code's alone.
LEAKY_VAE = TINY_VAE.replace("  - x -> e -> z -> d -> y\n", "  - x -> e -> z -> d -> y\n  - x -> d\n")


@pytest.fixture(scope="module")
def vae_spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("vae") / "tiny_vae.yaml"
    path.write_text(TINY_VAE, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained_vae(vae_spec: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    runs = tmp_path_factory.mktemp("vae_runs")
    return cellgraph.train(vae_spec, checkpoint_dir=runs / "run", progress=False)


def _bars(n: int = 16) -> np.ndarray:
    data = cellgraph.data.load_dataset({"source": "bars", "n": 64, "split": {"test": 0.25, "seed": 0}})
    return np.asarray(data.x_test[:n])


# ------------------------------------------------------------------------------- which network


@pytest.mark.parametrize(
    ("spec", "kind", "code", "output", "image"),
    [
        ("gan", "adversarial", None, "gen.sample", None),
        ("vae", "latent", "z", "y", (8, 8, 1)),
        ("dcign", "latent", "z", "dec.y", (12, 12, 1)),
        ("dn", "code", "x", "y", (8, 8, 1)),
    ],
    ids=["gan", "vae", "dcign", "dn"],
)
def test_each_generative_zoo_network_is_recognised(
    spec: str, kind: str, code: str | None, output: str, image: tuple[int, int, int] | None
) -> None:
    gen = generator_of(cellgraph.load_graph(ZOO / f"{spec}.yaml"))
    assert (gen.kind, gen.code, gen.output, gen.image) == (kind, code, output, image)


@pytest.mark.parametrize(
    ("shape", "image"),
    [((8, 8, 1), (8, 8, 1)), ((4, 5, 3), (4, 5, 3)), ((6, 7), (6, 7, 1)), ((64,), (8, 8, 1)), ((1,), None)]
    + [((10,), None), ((8, 8, 4), None), ((1, 1, 4), None)],
    ids=str,
)
def test_image_shape(shape: tuple[int, ...], image: tuple[int, int, int] | None) -> None:
    assert image_shape(shape) == image


@pytest.mark.parametrize("spec", [EXAMPLES / "xor_mlp.yaml", ZOO / "ae.yaml", ZOO / "rbm.yaml"], ids=lambda p: p.stem)
def test_a_network_that_generates_nothing_is_refused_at_its_spec(spec: Path) -> None:
    with pytest.raises(cellgraph.SpecError) as err:
        generator_of(cellgraph.load_graph(spec))
    text = err.value.format()
    assert f"{spec.name}:" in text and ": cells: " in text
    assert "generative network" in text and "rule: adversarial" in text and "distribution: gaussian" in text


def test_a_decoder_that_also_reads_the_input_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "leaky.yaml"
    path.write_text(LEAKY_VAE, encoding="utf-8")
    with pytest.raises(cellgraph.SpecError, match=r"leaky\.yaml:8:3: cells\.y: 'y' reads the input 'x' besides"):
        generator_of(cellgraph.load_graph(path))


# ----------------------------------------------------------------------------------- samples


def test_samples_have_the_output_shape_and_follow_the_seed() -> None:
    model = cellgraph.compile(ZOO / "vae.yaml")
    params = model.init(jax.random.key(0))
    a = cellgraph.sample(model, 10, seed=1, params=params)
    assert a.shape == (10, 8, 8, 1) and np.all((a >= 0) & (a <= 1))
    np.testing.assert_array_equal(a, cellgraph.sample(model, 10, seed=1, params=params))
    assert not np.allclose(a, cellgraph.sample(model, 10, seed=2, params=params))

    gan = cellgraph.compile(ZOO / "gan.yaml")
    g_params = gan.init(jax.random.key(0))
    fake = cellgraph.sample(gan, 500, seed=0, params=g_params)
    assert fake.shape == (500, 1) and np.std(fake) > 0
    assert not np.allclose(fake, cellgraph.sample(gan, 500, seed=3, params=g_params))


def test_decoding_the_mean_code_reproduces_the_reconstruction(trained_vae: Any) -> None:
    """In evaluation mode a Gaussian code is its mean: clamping the code to the encoder's mean
    and giving the input as zeros (or noise) must give the model's own reconstruction."""
    model, params = trained_vae.model, trained_vae.params
    x = _bars()
    values, _ = model.forward(params, {"x": x})
    mean, own = values["z"], values["y"]
    for stand_in in (np.zeros_like(x), np.random.default_rng(0).uniform(size=x.shape).astype(np.float32)):
        decoded, _ = model.forward(params, {"x": stand_in, "z": mean})
        np.testing.assert_allclose(decoded["y"], own, rtol=1e-5, atol=1e-6)
    # the trained decoder turns codes into bar-like images, not noise: reconstructions fit the input
    assert float(np.mean(np.abs(np.asarray(own) - x))) < float(np.mean(np.abs(0.5 - x)))


def test_vae_samples_are_decoded_prior_codes(trained_vae: Any) -> None:
    model, params = trained_vae.model, trained_vae.params
    samples = cellgraph.sample(trained_vae, 6, seed=4)
    codes = jax.random.normal(jax.random.split(jax.random.key(4))[1], (6, 4))
    by_hand, _ = model.forward(params, {"x": np.zeros((6, 8, 8, 1), np.float32), "z": codes})
    np.testing.assert_allclose(samples, by_hand["y"], rtol=1e-5, atol=1e-6)


def test_traversal_rows_sweep_one_unit_each(trained_vae: Any) -> None:
    swept = cellgraph.traverse(trained_vae, steps=5)
    assert swept.shape == (4, 5, 8, 8, 1)
    centre = swept[:, 2]  # every row's code is all zeros at value 0
    for row in centre[1:]:
        np.testing.assert_allclose(row, centre[0], rtol=1e-6, atol=1e-6)
    for row in swept:  # along a row the decoded image changes with the swept unit
        assert float(np.max(np.abs(row[0] - row[-1]))) > 1e-3
    assert cellgraph.traverse(trained_vae, steps=3, units=[2]).shape == (1, 3, 8, 8, 1)
    with pytest.raises(cellgraph.CellgraphError, match="units 0-3"):
        cellgraph.traverse(trained_vae, units=[4])


def test_a_code_network_draws_one_image_per_one_hot_code() -> None:
    model = cellgraph.compile(ZOO / "dn.yaml")
    params = model.init(jax.random.key(0))
    images = cellgraph.sample(model, 64, params=params)
    assert images.shape == (4, 8, 8, 1)
    by_hand = model.apply(params, np.eye(4, dtype=np.float32).reshape(4, 1, 1, 4))["y"]
    np.testing.assert_allclose(images, by_hand, rtol=1e-6)
    assert cellgraph.sample(model, 2, params=params).shape == (2, 8, 8, 1)


@pytest.mark.parametrize("n", [0, -3, 401, 2.5], ids=str)
def test_a_bad_number_of_samples_is_refused(n: Any) -> None:
    model = cellgraph.compile(ZOO / "vae.yaml")
    with pytest.raises(cellgraph.CellgraphError, match="positive whole number|at most 400 images"):
        cellgraph.sample(model, n, params=model.init(jax.random.key(0)))


def test_a_model_without_parameters_is_refused() -> None:
    with pytest.raises(cellgraph.CellgraphError, match="pass params="):
        cellgraph.sample(cellgraph.compile(ZOO / "vae.yaml"), 4)


# ---------------------------------------------------------------------------------- pictures


def _picture(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        assert img.format == "PNG"
        return np.asarray(img.convert("L"), np.float64)


def test_sample_grid_png(trained_vae: Any, tmp_path: Path) -> None:
    out = cellgraph.plot_samples(trained_vae, tmp_path / "grid.png", n=16, seed=0)
    pixels = _picture(out)
    assert pixels.shape[1] >= 300 and pixels.shape[0] >= 300
    assert pixels.std() > 20  # dark and light images on white, not a blank page
    again = cellgraph.plot_samples(trained_vae, tmp_path / "again.png", n=16, seed=0)
    assert again.read_bytes() == out.read_bytes()  # deterministic bytes
    other = cellgraph.plot_samples(trained_vae, tmp_path / "other.png", n=16, seed=1)
    assert other.read_bytes() != out.read_bytes()


def test_traversal_png(trained_vae: Any, tmp_path: Path) -> None:
    pixels = _picture(cellgraph.plot_samples(trained_vae, tmp_path / "sweep.png", traverse=True))
    assert pixels.shape[1] > pixels.shape[0] > 200  # 4 code units (rows) by 7 values (columns)
    assert pixels.std() > 20


def test_gan_histogram_png_against_the_data(tmp_path: Path) -> None:
    model = cellgraph.compile(ZOO / "gan.yaml")
    out = cellgraph.plot_samples(model, tmp_path / "hist.png", n=2000, params=model.init(jax.random.key(0)))
    pixels = _picture(out)
    assert pixels.shape == (420, 640)
    assert (pixels < 128).mean() > 0.01  # bars, axes and text drawn


def test_attention_maps_and_heat_map_png(tmp_path: Path) -> None:
    model = cellgraph.compile(EXAMPLES / "transformer_reverse.yaml")
    params = model.init(jax.random.key(0))
    maps = cellgraph.attention_maps(model, example=3, params=params)
    assert list(maps) == ["tokens -> att"]
    weights = maps["tokens -> att"]
    assert weights.shape == (4, 9, 9)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    pixels = _picture(cellgraph.plot_attention(model, tmp_path / "heat.png", example=3, params=params))
    assert pixels.shape[1] > 2 * pixels.shape[0]  # four heads side by side
    with pytest.raises(cellgraph.CellgraphError, match="out of range"):
        cellgraph.attention_maps(model, example=10**6, params=params)
    vae = cellgraph.compile(ZOO / "vae.yaml")
    with pytest.raises(cellgraph.SpecError, match="no attention edges"):
        cellgraph.attention_maps(vae, params=vae.init(jax.random.key(0)))


# ------------------------------------------------------------------------------ command line


def test_cli_train_save_then_sample(
    run_cli: CliRunner, vae_spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    trained = run_cli("train", vae_spec, "--epochs", "1", "--save", "vae.model")
    assert trained.code == 0, trained.text
    done = run_cli("sample", "--run", "vae.model", "-n", "9", "-o", "grid.png", "--seed", "2")
    assert done.code == 0, done.text
    assert "wrote grid.png: 9 samples, codes 'z' ~ N(0, I) decoded by 'y'" in done.out
    assert _picture(tmp_path / "grid.png").std() > 20
    swept = run_cli("sample", "--run", "vae.model", "--traverse", "-o", "sweep.png")
    assert swept.code == 0, swept.text
    assert _picture(tmp_path / "sweep.png").shape[0] > 200


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (("-n", "0", "-o", "x.png"), 2, "argument -n: expected a positive whole number, got '0'"),
        (("-n", "1000", "-o", "x.png"), 1, "at most 400 images fit one grid"),
        (("-o", "."), 1, "is a folder; give a file name such as"),
        (("-o", "x.svg"), 1, "give a file name ending in .png"),
        (("-o", "a-file/x.png"), 1, "cannot write a-file/x.png"),
    ],
    ids=["zero", "too-many", "folder", "suffix", "unwritable"],
)
def test_cli_sample_refusals(
    run_cli: CliRunner,
    vae_spec: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder", encoding="utf-8")
    done = run_cli("sample", vae_spec, "--run", tmp_path / "no-run", *argv)
    assert done.code == code, done.text
    assert message in done.err
    assert "Traceback" not in done.text


def test_cli_refuses_a_spec_that_generates_nothing(run_cli: CliRunner, tmp_path: Path) -> None:
    done = run_cli("sample", EXAMPLES / "xor_mlp.yaml", "--run", tmp_path / "no-run", "-o", tmp_path / "x.png")
    assert done.code == 1
    assert "xor_mlp.yaml:" in done.err and "cellgraph sample draws from a generative network" in done.err
    assert "fix:" in done.err and "Traceback" not in done.text
    traverse = run_cli("sample", ZOO / "dn.yaml", "--run", tmp_path / "no-run", "--traverse", "-o", tmp_path / "x.png")
    assert traverse.code == 1 and "a latent traversal sweeps the units of a Gaussian code" in traverse.err
    attention = run_cli("attention", ZOO / "vae.yaml", "--run", tmp_path / "no-run", "-o", tmp_path / "x.png")
    assert attention.code == 1 and "vae.yaml:" in attention.err and "no attention edges" in attention.err


def test_cli_attention_from_a_run_folder(run_cli: CliRunner, tmp_path: Path) -> None:
    spec = EXAMPLES / "transformer_reverse.yaml"
    trained = run_cli("train", spec, "--steps", "20", "--checkpoint-dir", tmp_path / "run")
    assert trained.code == 0, trained.text
    out = tmp_path / "heat.png"
    done = run_cli("attention", spec, "--run", tmp_path / "run", "-o", out, "--example", "2")
    assert done.code == 0, done.text
    assert "attention of example 2 (tokens -> att)" in done.out
    assert _picture(out).std() > 10
    bad = run_cli("attention", spec, "--run", tmp_path / "run", "-o", out, "--example", "-1")
    assert bad.code == 2 and "expected an example index" in bad.err
