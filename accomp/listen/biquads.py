"""Biquad filters in numpy: their design and a cascade run block by block with its state carried.

Design (the bilinear transform, ``s = 2 fs (1 - z^-1) / (1 + z^-1)``, each prototype's
critical frequency pre-warped so that it lands where asked):

- :func:`butter_highpass2`: the 2nd-order Butterworth high-pass ``s^2 / (s^2 + sqrt(2) w s + w^2)``.
- :func:`notch`: the notch ``(s^2 + w0^2) / (s^2 + (w0 / Q) s + w0^2)``, whose -3 dB band,
  ``f0 / Q`` wide, is pre-warped as a whole (the textbook form, Orfanidis's, which SciPy's
  ``iirnotch`` uses too).

Each gives one second-order section ``[b0, b1, b2, 1, a1, a2]``; rows stacked make a cascade.

:class:`SosStream` runs a cascade in transposed direct form II (per section: ``y = b0 u + z1``,
``z1 <- b1 u - a1 y + z2``, ``z2 <- b2 u - a2 y``; its state is the sections' ``(z1, z2)``,
laid out as SciPy's ``zi``), but a block at a time instead of a sample at a time: the whole
cascade is one linear state-space system (state ``s``, 2 per section), so a block of ``r``
samples maps ``[x; s]`` to ``[y; s']`` by one matrix,

    y[k] = sum_{j <= k} h[k - j] x[j] + C A^k s      (the impulse response, truncated to the
                                                      block, and the state's zero-input response)
    s'   = sum_j A^(r - 1 - j) B x[j] + A^r s

which is exact (to rounding, as the sample recursion is) for any block size, and one
matrix-vector product per block. The matrices come from tables of ``A^k`` made once; each
block length's matrix is cached (the few most recent lengths); longer blocks are run in
pieces of ``max_block``. For ``r`` samples and ``K`` sections that matrix is
``(taps r + 2K) x (r + 2K)``: a few hundred multiply-adds a sample, and little else. For
the conditioner's seven sections at 48 kHz, 7 us for a 128-sample block (the analyser's
block in ``render``: 10 s per hour of audio), where SciPy's ``sosfilt`` called per block
took 52 us, mostly its per-call overhead; SciPy is faster only for blocks of thousands of
samples (``benchmarks/listen_filters.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np


def butter_highpass2(cutoff: float, sample_rate: float) -> np.ndarray:
    """The 2nd-order Butterworth high-pass at ``cutoff`` Hz -> one section (1, 6)."""
    if not 0.0 < cutoff < sample_rate / 2:
        raise ValueError(f"cutoff must be within (0, {sample_rate / 2}) Hz, got {cutoff}")
    k = np.tan(np.pi * cutoff / sample_rate)  # the pre-warped cutoff, over 2 fs
    # s / w = (1 - z^-1) / (k (1 + z^-1)); times k^2 (1 + z^-1)^2 over and under:
    a0 = 1.0 + np.sqrt(2.0) * k + k * k
    b = np.array([1.0, -2.0, 1.0]) / a0
    a = np.array([a0, 2.0 * (k * k - 1.0), 1.0 - np.sqrt(2.0) * k + k * k]) / a0
    return np.concatenate([b, a])[None, :]


def notch(freq: float, q: float, sample_rate: float) -> np.ndarray:
    """A notch at ``freq`` Hz, ``freq / q`` Hz wide at -3 dB -> one section (1, 6)."""
    if not 0.0 < freq < sample_rate / 2 or q <= 0.0:
        raise ValueError(f"a notch needs 0 < freq < {sample_rate / 2} Hz and q > 0, got {freq} Hz, q {q}")
    w0 = 2.0 * np.pi * freq / sample_rate
    beta = np.tan(w0 / (2.0 * q))  # the pre-warped half bandwidth
    # (s^2 + w0^2) / (s^2 + bw s + w0^2) through the bilinear transform, normalised by 1 + beta:
    g = 1.0 / (1.0 + beta)
    c = np.cos(w0)
    return np.array([[g, -2.0 * g * c, g, 1.0, -2.0 * g * c, 2.0 * g - 1.0]])


def _state_space(sos: np.ndarray, taps: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The cascade as ``s' = A s + B x``, one output per tap ``y_t = C[t] s + D[t] x``.

    A tap ``t`` is the output after the first ``t`` sections."""
    n = len(sos)
    d = 2 * n
    a, b = np.zeros((d, d)), np.zeros(d)
    c_in, d_in = np.zeros(d), 1.0  # the current section's input u = c_in . s + d_in x
    c_out, d_out = np.zeros((n + 1, d)), np.ones(n + 1)  # each section's output; row 0 is x itself
    for i, (b0, b1, b2, _, a1, a2) in enumerate(sos):
        z1, z2 = 2 * i, 2 * i + 1
        # y = b0 u + z1
        c_y = b0 * c_in
        c_y[z1] += 1.0
        d_y = b0 * d_in
        # z1' = b1 u - a1 y + z2, z2' = b2 u - a2 y
        a[z1] = b1 * c_in - a1 * c_y
        a[z1, z2] += 1.0
        a[z2] = b2 * c_in - a2 * c_y
        b[z1] = b1 * d_in - a1 * d_y
        b[z2] = b2 * d_in - a2 * d_y
        c_in, d_in = c_y, d_y
        c_out[i + 1], d_out[i + 1] = c_y, d_y
    return a, b, c_out[list(taps)], d_out[list(taps)]


class SosStream:
    """A cascade of second-order sections run block by block, its state carried between blocks.

    ``process(x)`` filters the next block and returns the output at each tap, (len(taps), n):
    a stream cut into any block sizes comes out as the whole stream filtered at once.
    ``taps`` (default: the last section) says after how many sections to take an output.
    """

    def __init__(self, sos: np.ndarray, taps: Sequence[int] | None = None, *, max_block: int = 128,
                 cached: int = 8) -> None:  # fmt: skip
        sos = np.atleast_2d(np.asarray(sos, dtype=np.float64))
        if sos.ndim != 2 or sos.shape[1] != 6 or not np.allclose(sos[:, 3], 1.0):
            raise ValueError("sections must be rows [b0, b1, b2, 1, a1, a2]")
        self.taps = tuple(taps) if taps is not None else (len(sos),)
        if not all(1 <= t <= len(sos) for t in self.taps):
            raise ValueError(f"taps must be within 1..{len(sos)}, got {self.taps}")
        self.max_block = max_block
        self._a, self._b, self._c, self._d = _state_space(sos, self.taps)
        dim = len(self._b)
        self.state = np.zeros(dim)
        # A^k for k = 0..max_block, and what they give: the taps' impulse responses h (taps, L)
        # and zero-input responses C A^k (taps, L, dim), A^k B (L, dim).
        powers = np.empty((max_block + 1, dim, dim))
        powers[0] = np.eye(dim)
        for k in range(max_block):
            powers[k + 1] = self._a @ powers[k]
        self._powers = powers
        self._zero_input = np.einsum("td,kde->tke", self._c, powers[:max_block])
        self._to_state = powers[:max_block] @ self._b
        self._impulse = np.empty((len(self.taps), max_block))
        self._impulse[:, 0] = self._d
        self._impulse[:, 1:] = self._c @ self._to_state[: max_block - 1].T
        self._matrices: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cached = cached

    def steady(self, x0: float) -> None:
        """Sets the state to where a constant input ``x0`` would have brought it long ago
        (SciPy's ``sosfilt_zi`` times ``x0``): a stream that starts at a level makes no step."""
        self.state = np.linalg.solve(np.eye(len(self._b)) - self._a, self._b * x0)

    def reset(self) -> None:
        self.state = np.zeros(len(self._b))

    def _matrix(self, r: int) -> np.ndarray:
        """The (taps * r + dim, r + dim) map of ``[x; s]`` to ``[y at each tap; s']`` for ``r`` samples."""
        m = self._matrices.get(r)
        if m is not None:
            self._matrices.move_to_end(r)
            return m
        dim, taps = len(self._b), len(self.taps)
        m = np.zeros((taps * r + dim, r + dim))
        lag = np.arange(r)[:, None] - np.arange(r)[None, :]
        lower = lag >= 0
        for t in range(taps):
            rows = slice(t * r, (t + 1) * r)
            m[rows, :r] = np.where(lower, self._impulse[t][np.maximum(lag, 0)], 0.0)
            m[rows, r:] = self._zero_input[t, :r]
        m[taps * r :, :r] = self._to_state[r - 1 :: -1].T
        m[taps * r :, r:] = self._powers[r]
        self._matrices[r] = m
        if len(self._matrices) > self._cached:
            self._matrices.popitem(last=False)
        return m

    def process(self, x: np.ndarray) -> np.ndarray:
        """The next block (n,) -> the output at each tap (len(taps), n), float64."""
        x = np.asarray(x, dtype=np.float64)
        n, taps = len(x), len(self.taps)
        out = np.empty((taps, n))
        v = np.empty(min(n, self.max_block) + len(self._b))
        for start in range(0, n, self.max_block):
            r = min(self.max_block, n - start)
            v[:r] = x[start : start + r]
            v[r : r + len(self._b)] = self.state
            result = self._matrix(r) @ v[: r + len(self._b)]
            out[:, start : start + r] = result[: taps * r].reshape(taps, r)
            self.state = result[taps * r :]
        return out
