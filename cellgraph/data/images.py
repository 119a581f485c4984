"""Generated images, all (n, height, width, 1) float32 in [0, 1]: bars, glyphs, moving squares.

Set-ups follow ZOO.md section 2 (2.9 bars, 2.15 bars-and-stripes, 2.17 glyphs, 2.18 class
glyphs, 2.19 moving squares).
"""

from __future__ import annotations

import itertools

import numpy as np

from .dataset import Dataset, Request

GLYPH_SIDE = 8


def _glyph(*rows: str) -> np.ndarray:
    return np.array([[c == "#" for c in row] for row in rows], dtype=np.float32)


# The glyph classes in order: the first four are ZOO 2.17's (horizontal bar, vertical bar,
# diagonal, 2x2 square); the rest extend `classes` up to 8.
GLYPHS: tuple[tuple[str, np.ndarray], ...] = (
    ("horizontal bar", _glyph("####")),
    ("vertical bar", _glyph("#", "#", "#", "#")),
    ("diagonal", _glyph("#...", ".#..", "..#.", "...#")),
    ("square", _glyph("##", "##")),
    ("anti-diagonal", _glyph("...#", "..#.", ".#..", "#...")),
    ("plus", _glyph(".#.", "###", ".#.")),
    ("ring", _glyph("###", "#.#", "###")),
    ("corner", _glyph("#..", "#..", "###")),
)


def _images(x: np.ndarray) -> np.ndarray:
    return x[..., None].astype(np.float32)  # (n, h, w) -> (n, h, w, 1)


def load_bars(req: Request) -> Dataset:
    """One random horizontal and one random vertical bar per image, each pixel flipped with ``flip``."""
    n, side, flip = int(req.options["n"]), int(req.options["size"]), float(req.options["flip"])
    rng = req.rng()
    rows, cols = rng.integers(0, side, n), rng.integers(0, side, n)
    grid = np.arange(side)
    img = (grid[None, :, None] == rows[:, None, None]) | (grid[None, None, :] == cols[:, None, None])  # (n, s, s)
    img ^= rng.random(img.shape) < flip
    return req.split(_images(img), None, bar_rows_all=rows, bar_cols_all=cols)


def load_bars_and_stripes(req: Request) -> Dataset:
    """Every distinct bars-and-stripes image of a side: 2 * 2^side - 2 (30 at 4x4); all in both parts."""
    side = int(req.options["size"])
    seen: dict[bytes, np.ndarray] = {}
    for on in itertools.product((0, 1), repeat=side):
        col = np.array(on, dtype=bool)
        for img in (np.repeat(col[:, None], side, axis=1), np.repeat(col[None, :], side, axis=0)):  # stripes, bars
            seen.setdefault(img.tobytes(), img)
    x = np.stack([seen[k] for k in sorted(seen)])  # sorted by bytes: a stable order
    return req.split(_images(x), None, whole=True)


def _glyph_classes(req: Request) -> int:
    return min(int(req.options["classes"]), len(GLYPHS))


def _balanced_labels(n: int, classes: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % classes).astype(np.int32)


def load_glyphs(req: Request) -> Dataset:
    """8x8 glyphs at random positions plus Gaussian noise (std ``noise``), clipped to [0, 1]; balanced classes."""
    n, classes, noise = int(req.options["n"]), _glyph_classes(req), float(req.options["noise"])
    rng = req.rng()
    y = _balanced_labels(n, classes, rng)
    x = np.zeros((n, GLYPH_SIDE, GLYPH_SIDE), np.float32)
    for c in range(classes):
        glyph = GLYPHS[c][1]
        idx = np.flatnonzero(y == c)
        tops = rng.integers(0, GLYPH_SIDE - glyph.shape[0] + 1, idx.size)
        lefts = rng.integers(0, GLYPH_SIDE - glyph.shape[1] + 1, idx.size)
        for i, t, left in zip(idx, tops, lefts, strict=True):
            x[i, t : t + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    x = np.clip(x + rng.normal(0.0, noise, x.shape), 0.0, 1.0)
    names = tuple(name for name, _ in GLYPHS[:classes])
    return req.split(_images(x), y, classes=classes, label_names=names)


def centred_glyphs(classes: int) -> np.ndarray:
    """The clean glyph of each class, centred on the 8x8 canvas: (classes, 8, 8, 1)."""
    out = np.zeros((classes, GLYPH_SIDE, GLYPH_SIDE), np.float32)
    for c, (_, glyph) in enumerate(GLYPHS[:classes]):
        top, left = (GLYPH_SIDE - glyph.shape[0]) // 2, (GLYPH_SIDE - glyph.shape[1]) // 2
        out[c, top : top + glyph.shape[0], left : left + glyph.shape[1]] = glyph
    return _images(out)


def load_class_glyphs(req: Request) -> Dataset:
    """One-hot class code (n, classes) -> that class's clean centred glyph (n, 8, 8, 1) (ZOO 2.18).

    A regression task; ``meta['labels_train'/'labels_test']`` hold the class ids, so a glyph
    classifier can check generated images.
    """
    n, classes = int(req.options["n"]), _glyph_classes(req)
    y = _balanced_labels(n, classes, req.rng())
    codes = np.eye(classes, dtype=np.float32)[y]
    names = tuple(name for name, _ in GLYPHS[:classes])
    return req.split(codes, centred_glyphs(classes)[y], labels_all=y, label_names=names, glyph_classes=classes)


def load_moving_squares(req: Request) -> Dataset:
    """A bright square (value 1 on 0) whose x-position and size vary, vertically centred (ZOO 2.19).

    Sizes are 2-4 and x-positions 0 to side - 4 (0-8 at side 12), each uniform. The true factors
    are ``meta['factors_train'/'factors_test']``: int32 (n, 2) columns (x position, size).
    """
    n, side = int(req.options["n"]), int(req.options["size"])
    rng = req.rng()
    sizes = rng.integers(2, min(4, side) + 1, n)
    xs = rng.integers(0, side - min(4, side) + 1, n)
    tops = (side - sizes) // 2
    grid = np.arange(side)
    inside_x = (grid[None, :] >= xs[:, None]) & (grid[None, :] < (xs + sizes)[:, None])  # (n, side) columns
    inside_y = (grid[None, :] >= tops[:, None]) & (grid[None, :] < (tops + sizes)[:, None])  # (n, side) rows
    img = inside_y[:, :, None] & inside_x[:, None, :]  # (n, side, side)
    factors = np.stack([xs, sizes], axis=1).astype(np.int32)
    return req.split(_images(img), None, factors_all=factors, factor_names=("x", "size"))
