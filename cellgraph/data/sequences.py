"""Generated sequences, (n, time, features) float32: adding, temporal XOR, copy, reversal,
Mackey-Glass, a Markov chain walk and spike trains (set-ups from ZOO.md section 2).

Series that are one long stream (temporal XOR, Mackey-Glass, the Markov walk) are split in
time, not shuffled: the test part is the stream's continuation, which a model has never seen.
"""

from __future__ import annotations

import bisect
import functools

import numpy as np

from ..errors import SourceLoc, spec_error
from .dataset import STREAM_DATA, Dataset, Request


def load_adding(req: Request) -> Dataset:
    """Hochreiter & Schmidhuber's adding problem (ZOO 2.6).

    x: (n, T, 2): channel 0 a value uniform in [-1, 1], channel 1 a marker; exactly two steps are
    marked, one among the first 10 and another among the first T/2 - 1. y: (n, 1) =
    0.5 + (X1 + X2) / 4, the marked values. ``meta['marked_train'/'marked_test']``: (n, 2) steps.
    """
    n, steps = int(req.options["n"]), int(req.options["steps"])
    if steps < 2:
        raise spec_error(SourceLoc("<data>"), "data.steps", "the adding problem needs at least 2 steps", "steps: 50")
    rng = req.rng()
    values = rng.uniform(-1.0, 1.0, (n, steps))
    first = rng.integers(0, min(10, steps), n)
    span = min(max(steps // 2 - 1, 2), steps)  # the second marker's range; at least 2 so it can differ
    second = rng.integers(0, span - 1, n)
    second = second + (second >= first)  # skip the first marker's step: uniform over the rest
    marker = np.zeros((n, steps))
    rows = np.arange(n)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    x = np.stack([values, marker], axis=2)  # (n, T, 2)
    y = 0.5 + (values[rows, first] + values[rows, second])[:, None] / 4.0  # (n, 1)
    marked = np.stack([first, second], axis=1).astype(np.int32)
    return req.split(x, y.astype(np.float32), marked_all=marked)


def load_temporal_xor(req: Request) -> Dataset:
    """Elman's stream of bit triples (a, b, a XOR b) (ZOO 2.5); predict the next bit.

    The stream of ``steps`` bits is cut in time (at a multiple of 3, so triples stay whole) into
    a training stream and a fresh test stream. Each part is one sequence: x = bits[:-1] and
    y = bits[1:], shapes (1, T, 1). ``meta['predictable']`` (test) and
    ``meta['predictable_train']`` are bool (T,) masks of the targets that are XOR bits.
    """
    steps = int(req.options["steps"])
    if steps < 8:
        raise spec_error(SourceLoc("<data>"), "data.steps", "temporal XOR needs at least 8 bits", "steps: 3000")
    rng = req.rng()
    pairs = rng.integers(0, 2, (-(-steps // 3), 2))
    bits = np.column_stack([pairs, pairs[:, 0] ^ pairs[:, 1]]).reshape(-1)[:steps]
    cut = min(max(3 * round((steps - req.n_test(steps)) / 3), 3), 3 * ((steps - 2) // 3))

    def part(stream: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        x = stream[:-1].reshape(1, -1, 1)
        y = stream[1:].reshape(1, -1, 1).astype(np.float32)
        predictable = (np.arange(len(stream) - 1) + 1) % 3 == 2  # target bits[t+1] is an XOR bit
        return x, y, predictable

    x_train, y_train, p_train = part(bits[:cut])
    x_test, y_test, p_test = part(bits[cut:])
    return req.make(x_train, y_train, x_test, y_test, predictable=p_test, predictable_train=p_train)


def load_copy_task(req: Request) -> Dataset:
    """The NTM copy task: random bit vectors, a delimiter, then the same vectors to output (ZOO 2.26).

    Each sequence has a length L in [min_length, max_length]. x: (n, T, width + 1) with
    T = 2 * max_length + 1: steps 0..L-1 carry the vectors, step L the delimiter (last channel),
    the rest zeros. y: (n, T, width), the vectors again at steps L+1..2L and zeros elsewhere.
    ``meta['mask_train'/'mask_test']``: bool (n, T), the steps that are scored;
    ``meta['lengths_train'/'lengths_test']``: L.
    """
    n, width = int(req.options["n"]), int(req.options["width"])
    lo, hi = sorted((int(req.options["min_length"]), int(req.options["max_length"])))
    rng = req.rng()
    lengths = rng.integers(lo, hi + 1, n)
    t_all = 2 * hi + 1
    bits = rng.integers(0, 2, (n, hi, width)).astype(np.float32)
    steps = np.arange(hi)
    bits *= (steps[None, :] < lengths[:, None])[:, :, None]  # zero past each length
    x = np.zeros((n, t_all, width + 1), np.float32)
    y = np.zeros((n, t_all, width), np.float32)
    x[:, :hi, :width] = bits
    rows = np.arange(n)
    x[rows, lengths, width] = 1.0  # the delimiter
    out_steps = lengths[:, None] + 1 + steps[None, :]  # (n, hi): where the copy is emitted
    valid = steps[None, :] < lengths[:, None]
    y[np.repeat(rows, hi)[valid.ravel()], out_steps[valid]] = bits[valid]
    mask = np.zeros((n, t_all), bool)
    mask[np.repeat(rows, hi)[valid.ravel()], out_steps[valid]] = True
    return req.split(x, y, mask_all=mask, lengths_all=lengths.astype(np.int32))


def load_reversal(req: Request) -> Dataset:
    """Reverse a sequence of symbols (ZOO 2.29): lengths in [min_length, max_length].

    Tokens 0..symbols-1 are symbols, token ``symbols`` is the end token. x: one-hot
    (n, max_length + 1, symbols + 1), the sequence then the end token then zero steps. y: int32
    (n, max_length + 1), the reversed sequence then the end token, padded with 0;
    ``meta['mask_train'/'mask_test']`` marks the real target steps. ``classes`` = symbols + 1.
    With ``encoding: ids``, x holds the source's token ids instead, int32 (n, max_length + 1), the
    steps after the end token holding the padding id ``symbols + 1`` (an embedding's ``pad:``).
    """
    n, symbols = int(req.options["n"]), int(req.options["symbols"])
    lo, hi = sorted((int(req.options["min_length"]), int(req.options["max_length"])))
    rng = req.rng()
    lengths = rng.integers(lo, hi + 1, n)
    t_all = hi + 1
    steps = np.arange(t_all)
    tokens = rng.integers(0, symbols, (n, t_all))
    inside = steps[None, :] < lengths[:, None]
    src = np.where(inside, tokens, 0)
    src[np.arange(n), lengths] = symbols  # end token
    rev_index = np.clip(lengths[:, None] - 1 - steps[None, :], 0, t_all - 1)
    tgt = np.where(inside, np.take_along_axis(tokens, rev_index, axis=1), 0)
    tgt[np.arange(n), lengths] = symbols
    mask = steps[None, :] <= lengths[:, None]
    x: np.ndarray
    if req.options.get("encoding") == "ids":
        x = np.where(mask, src, symbols + 1).astype(np.int32)  # (n, T): ids, padding after the end token
    else:
        x = np.eye(symbols + 1, dtype=np.float32)[src] * mask[:, :, None]  # (n, T, symbols + 1)
    return req.split(x, tgt.astype(np.int32), classes=symbols + 1, mask_all=mask, lengths_all=lengths.astype(np.int32))


def mackey_glass(steps: int, tau: int, rng: np.random.Generator, *, warmup: int = 1000) -> np.ndarray:
    """The Mackey-Glass series, dx/dt = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t) (ZOO 2.23).

    Euler with dt = 0.1 from a random history near 1.2, sampled every 1.0 after ``warmup`` time
    units (so the series is on the attractor), then squashed with tanh(x - 1). Returns (steps,).
    """
    sub = 10  # Euler steps per sample: dt = 0.1
    delay = tau * sub
    total = (warmup + steps) * sub
    hist = list(1.2 + rng.uniform(-0.1, 0.1, delay + 1))
    out = []
    x = hist[-1]
    for i in range(total):
        lagged = hist[i]
        x = x + 0.1 * (0.2 * lagged / (1.0 + lagged**10) - 0.1 * x)
        hist.append(x)
        if i % sub == sub - 1 and i >= warmup * sub:
            out.append(x)
    return np.tanh(np.asarray(out) - 1.0)


@functools.lru_cache(maxsize=8)
def _mackey_glass_of(steps: int, tau: int, seed: int) -> np.ndarray:
    """:func:`mackey_glass` from the data stream of ``seed``, remembered (read-only): its Euler
    loop is 50,000 Python steps for the ESN's 4,000 samples, 30-50 ms of every ESN ``train`` call."""
    series = mackey_glass(steps, tau, np.random.default_rng(np.random.SeedSequence([seed, STREAM_DATA])))
    series.flags.writeable = False
    return series


def load_mackey_glass(req: Request) -> Dataset:
    """Mackey-Glass next-step prediction; train on the first part of the series, test on the rest.

    x: (1, T, 1) the series, y: (1, T, 1) the next value. ``meta['series']`` is the whole
    series (steps + 1,) and ``meta['horizon']`` the free-running prediction horizon.
    """
    steps, tau = int(req.options["steps"]), int(req.options["tau"])
    series = _mackey_glass_of(steps + 1, tau, req.seed)
    cut = steps - req.n_test(steps)

    def part(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:  # copies: the series is shared
        return series[a:b].reshape(1, -1, 1).copy(), series[a + 1 : b + 1].reshape(1, -1, 1).astype(np.float32)

    (x_train, y_train), (x_test, y_test) = part(0, cut), part(cut, steps)
    return req.make(
        x_train, y_train, x_test, y_test, series=series.astype(np.float32), horizon=int(req.options["horizon"]), tau=tau
    )


def load_markov_chain(req: Request) -> Dataset:
    """A walk from a random chain whose rows are Dirichlet(1) (ZOO 2.12), split in time.

    x: one-hot states (1, T, states); y: the next state's id, int32 (1, T). ``meta``:
    ``transition`` (the true P), ``stationary`` (its stationary distribution), ``walk``.
    """
    states, steps = int(req.options["states"]), int(req.options["steps"])
    rng = req.rng()
    p = rng.dirichlet(np.ones(states), size=states)
    cum = [list(np.cumsum(row[:-1])) for row in p]  # bisect against these picks the next state
    walk = np.empty(steps, np.int64)
    s = int(rng.integers(0, states))
    for i, u in enumerate(rng.random(steps)):
        walk[i] = s
        s = bisect.bisect_right(cum[s], u)
    vals, vecs = np.linalg.eig(p.T)
    pi = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    pi = pi / pi.sum()
    cut = steps - req.n_test(steps)
    eye = np.eye(states, dtype=np.float32)

    def part(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return eye[w[:-1]][None], w[1:][None].astype(np.int32)

    (x_train, y_train), (x_test, y_test) = part(walk[:cut]), part(walk[cut:])
    return req.make(
        x_train,
        y_train,
        x_test,
        y_test,
        classes=states,
        transition=p.astype(np.float32),
        stationary=pi.astype(np.float32),
        walk=walk.astype(np.int32),
    )


def load_spike_patterns(req: Request) -> Dataset:
    """Jittered Poisson spike-train templates to classify (ZOO 2.21).

    Each class has a template: per channel, Poisson spikes at ``rate`` Hz over ``duration`` ms.
    An example is its class's template with every spike moved by N(0, jitter) ms; spikes that
    leave [0, duration) are dropped. x: (n, duration, channels) binary, 1 ms bins; y: class ids,
    balanced. ``meta['templates']``: per class, an (spikes, 2) array of (time ms, channel).
    """
    n, channels, duration = int(req.options["n"]), int(req.options["channels"]), int(req.options["duration"])
    rate, jitter, classes = float(req.options["rate"]), float(req.options["jitter"]), int(req.options["classes"])
    rng = req.rng()
    templates = []
    for _ in range(classes):
        counts = rng.poisson(rate * duration / 1000.0, channels)
        times = rng.uniform(0.0, duration, counts.sum())
        templates.append(np.column_stack([times, np.repeat(np.arange(channels), counts)]))
    y = rng.permutation(np.arange(n) % classes).astype(np.int32)
    x = np.zeros((n, duration, channels), np.float32)
    for c, tpl in enumerate(templates):
        idx = np.flatnonzero(y == c)
        if tpl.size == 0 or idx.size == 0:
            continue
        t = np.floor(tpl[None, :, 0] + rng.normal(0.0, jitter, (idx.size, len(tpl)))).astype(np.int64)
        ok = (t >= 0) & (t < duration)
        ex = np.broadcast_to(idx[:, None], t.shape)
        ch = np.broadcast_to(tpl[None, :, 1].astype(np.int64), t.shape)
        x[ex[ok], t[ok], ch[ok]] = 1.0
    return req.split(x, y, classes=classes, templates=tuple(t.astype(np.float32) for t in templates), dt_ms=1.0)
