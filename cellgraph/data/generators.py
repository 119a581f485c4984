"""Generated vector data: logic gates, parity, spirals, curves and the unsupervised toy sets.

Each builder takes a :class:`Request` (options with defaults filled in, seeds, split) and returns
a :class:`Dataset`; all randomness comes from ``req.rng()``, so a seed fixes every number. The
set-ups follow ZOO.md section 2 (its toy task for each network).
"""

from __future__ import annotations

import itertools

import numpy as np

from .dataset import Dataset, Request

# The four patterns of {0, 1}^2 in counting order, and each gate's truth table on them.
GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
GATE_TABLES = {"xor": (0, 1, 1, 0), "and": (0, 0, 0, 1), "or": (0, 1, 1, 1)}


def load_gate(req: Request) -> Dataset:
    """XOR / AND / OR: the 4 patterns, train = test = all 4 unless a split is given."""
    y = np.array(GATE_TABLES[req.name], dtype=np.int32)
    return req.split(GATE_INPUTS, y, classes=2, whole=True)


def load_parity(req: Request) -> Dataset:
    """All 2^bits bit strings (counting order, most significant bit first), label = parity."""
    bits = int(req.options["bits"])
    x = np.array(list(itertools.product((0, 1), repeat=bits)), dtype=np.float32)  # (2^bits, bits)
    y = (x.sum(axis=1) % 2).astype(np.int32)
    return req.split(x, y, classes=2, whole=True)


def load_two_spirals(req: Request) -> Dataset:
    """Two interleaved spirals (ZOO 2.4: 2 x 300 points, 1.5 turns, Gaussian noise of std ``noise``).

    Spiral 0 has points at radius r = 0.1 + 0.9 t and angle 2 pi * turns * t for t evenly spaced in
    [0, 1]; spiral 1 is spiral 0 turned by 180 degrees. Radii stay >= 0.1 so the two centres do
    not overlap. Labels: 0 and 1, n/2 each (the first gets the odd one).
    """
    n, turns, noise = int(req.options["n"]), float(req.options["turns"]), float(req.options["noise"])
    rng = req.rng()
    parts, labels = [], []
    for label, count in enumerate((n - n // 2, n // 2)):
        t = np.linspace(0.0, 1.0, count)
        r, angle = 0.1 + 0.9 * t, 2 * np.pi * turns * t
        pts = np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1) * (1 if label == 0 else -1)  # (count, 2)
        parts.append(pts + rng.normal(0.0, noise, pts.shape))
        labels.append(np.full(count, label, np.int32))
    return req.split(np.concatenate(parts), np.concatenate(labels), classes=2)


def load_sine(req: Request) -> Dataset:
    """y = sin x on [0, 2 pi] (ZOO 2.3): random training x, test on a clean evenly spaced grid.

    ``n`` counts both parts; the split's fraction sets the grid size. Training targets get
    Gaussian noise of std ``noise`` (0 by default); test targets are exact.
    """
    n, noise = int(req.options["n"]), float(req.options["noise"])
    n_test = req.n_test(n)
    rng = req.rng()
    x_train = np.sort(rng.uniform(0.0, 2 * np.pi, n - n_test))[:, None]  # (n_train, 1)
    y_train = np.sin(x_train) + rng.normal(0.0, noise, x_train.shape)
    x_test = np.linspace(0.0, 2 * np.pi, n_test)[:, None]
    return req.make(x_train, y_train.astype(np.float32), x_test, np.sin(x_test).astype(np.float32))


def _sinc(x: np.ndarray) -> np.ndarray:
    return np.sinc(x / np.pi)  # numpy's sinc is sin(pi x) / (pi x); sin(0) / 0 := 1


def load_sinc(req: Request) -> Dataset:
    """SinC (Huang et al. 2006, ZOO 2.22): y = sin(x)/x, x uniform in [-10, 10].

    Training targets carry uniform noise in [-noise, noise]; test targets are clean. ``n`` counts
    both parts (10000 with test 0.5 gives the benchmark's 5000 + 5000).
    """
    n, noise = int(req.options["n"]), float(req.options["noise"])
    n_test = req.n_test(n)
    rng = req.rng()
    x_train = rng.uniform(-10.0, 10.0, (n - n_test, 1))
    y_train = _sinc(x_train) + rng.uniform(-noise, noise, x_train.shape)
    x_test = rng.uniform(-10.0, 10.0, (n_test, 1))
    return req.make(x_train, y_train.astype(np.float32), x_test, _sinc(x_test).astype(np.float32))


def load_encoder(req: Request) -> Dataset:
    """The ``size`` one-hot patterns of the n-k-n encoder problem; unsupervised, all in both parts."""
    x = np.eye(int(req.options["size"]), dtype=np.float32)
    return req.split(x, None, whole=True)


def load_low_rank_gaussian(req: Request) -> Dataset:
    """x = z A + noise, z ~ N(0, I_rank), A a random (rank, dims) basis (ZOO 2.8 b).

    A little isotropic noise (std ``noise``) keeps PCA's error above zero, so "within 2% of
    PCA" is a meaningful ratio. ``meta['basis']`` is A.
    """
    n, dims, rank = int(req.options["n"]), int(req.options["dims"]), int(req.options["rank"])
    rng = req.rng()
    basis = rng.normal(0.0, 1.0, (rank, dims))
    x = rng.normal(0.0, 1.0, (n, rank)) @ basis + rng.normal(0.0, float(req.options["noise"]), (n, dims))
    return req.split(x, None, basis=basis.astype(np.float32))


def load_sparse_atoms(req: Request) -> Dataset:
    """Sums of ``active`` of ``atoms`` fixed random unit vectors, weights uniform in [0.5, 1.5] (ZOO 2.11).

    ``meta['atoms']`` is the dictionary (atoms, dims); ``meta['codes_train'/'codes_test']`` the
    true weights (n, atoms), zero except at the active atoms.
    """
    n, dims = int(req.options["n"]), int(req.options["dims"])
    atoms, active = int(req.options["atoms"]), min(int(req.options["active"]), int(req.options["atoms"]))
    rng = req.rng()
    dictionary = rng.normal(0.0, 1.0, (atoms, dims))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    chosen = np.argsort(rng.random((n, atoms)), axis=1)[:, :active]  # distinct atoms per example
    codes = np.zeros((n, atoms))
    np.put_along_axis(codes, chosen, rng.uniform(0.5, 1.5, (n, active)), axis=1)
    return req.split(codes @ dictionary, None, atoms=dictionary.astype(np.float32), codes_all=codes.astype(np.float32))


def load_random_patterns(req: Request) -> Dataset:
    """Random bipolar (+1/-1) patterns to store, and probes with a fraction of bits flipped (ZOO 2.13).

    x_train = y_train = the ``patterns`` stored patterns (patterns, size); x_test holds one probe
    per pattern with exactly round(flip * size) distinct bits flipped, y_test the pattern it came
    from. No split: a Hopfield net stores everything it is shown.
    """
    count, size, flip = int(req.options["patterns"]), int(req.options["size"]), float(req.options["flip"])
    rng = req.rng()
    patterns = rng.choice(np.array([-1.0, 1.0], np.float32), (count, size))
    flips = round(flip * size)
    where = np.argsort(rng.random((count, size)), axis=1)[:, :flips]  # distinct positions per probe
    probes = patterns.copy()
    np.put_along_axis(probes, where, -np.take_along_axis(patterns, where, axis=1), axis=1)
    return req.make(patterns, patterns, probes, patterns, held_out="probes", flipped=flips)


def load_gaussian_1d(req: Request) -> Dataset:
    """Samples of N(mean, std^2), shape (n, 1): the GAN's target distribution (ZOO 2.20)."""
    n, mean, std = int(req.options["n"]), float(req.options["mean"]), float(req.options["std"])
    x = req.rng().normal(mean, std, (n, 1))
    return req.split(x, None)


def load_uniform_square(req: Request) -> Dataset:
    """Points uniform in the unit square, shape (n, 2): the Kohonen map's input (ZOO 2.28)."""
    x = req.rng().uniform(0.0, 1.0, (int(req.options["n"]), 2))
    return req.split(x, None)
