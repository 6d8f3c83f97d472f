"""The two filter banks the listening path uses: mel bands and chroma, as numpy matrices.

Both give librosa's numbers for the settings the analyser uses (``librosa.filters.mel`` with
its defaults, Slaney's mel scale and area normalisation; ``librosa.filters.chroma`` with
``tuning=0, norm=None``; tests/test_listen_filterbanks.py compares them), written here so
the app needs neither librosa nor what it brings along (numba and its LLVM, about 160 MB of
the bundle). Each matrix maps a power spectrum of ``n_fft // 2 + 1`` bins, as
``numpy.fft.rfft`` gives it, to bands: ``bands = filters @ power``.
"""

from __future__ import annotations

import numpy as np

# Slaney's mel scale (the Auditory Toolbox's): linear below 1 kHz, logarithmic above it.
_MEL_STEP_HZ = 200.0 / 3  # Hz per mel on the linear part
_LOG_HZ = 1000.0  # where the logarithmic part starts
_LOG_MEL = _LOG_HZ / _MEL_STEP_HZ  # 15 mel
_LOG_STEP = np.log(6.4) / 27.0  # natural-log Hz per mel above 1 kHz


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    safe = np.maximum(hz, _LOG_HZ)  # the log part is only taken where it applies
    return np.where(hz >= _LOG_HZ, _LOG_MEL + np.log(safe / _LOG_HZ) / _LOG_STEP, hz / _MEL_STEP_HZ)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    safe = np.maximum(mel, _LOG_MEL)
    return np.where(mel >= _LOG_MEL, _LOG_HZ * np.exp(_LOG_STEP * (safe - _LOG_MEL)), mel * _MEL_STEP_HZ)


def mel_filters(sample_rate: float, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32: triangles evenly spaced in mel from ``fmin`` to
    ``fmax`` (Hz), each overlapping its neighbours by half, each of unit area over Hz/2."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (n_mels + 2,)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return (weights * (2.0 / (upper - lower))).astype(np.float32)


def chroma_filters(sample_rate: float, n_fft: int, *, centre_octave: float = 5.0, octave_width: float = 2.0) -> np.ndarray:
    """(12, n_fft // 2 + 1) float32, row 0 = C, tuned to A = 440 Hz (Ellis's chromagram): each
    FFT bin's weight for a pitch class is a Gaussian bump over its distance from it (half a
    semitone at one standard deviation, wider where bins are more than a semitone apart), times
    a Gaussian over octaves centred ``centre_octave`` octaves above A0 (5: 880 Hz)."""
    freqs = np.arange(1, n_fft) * (sample_rate / n_fft)  # every bin but DC, up to sample_rate
    bins = 12.0 * np.log2(freqs / (440.0 / 16))  # semitones above A0 (so A is class 0 here)
    bins = np.concatenate([[bins[0] - 18.0], bins])  # DC: an octave and a half below bin 1
    width = np.concatenate([np.maximum(np.diff(bins), 1.0), [1.0]])  # (n_fft,)
    distance = bins[None, :] - np.arange(12.0)[:, None]  # (12, n_fft) semitones to each class
    distance = np.remainder(distance + 6.0 + 120.0, 12.0) - 6.0  # wrapped to -6..6
    weights = np.exp(-0.5 * (2.0 * distance / width[None, :]) ** 2)
    weights *= np.exp(-0.5 * ((bins / 12.0 - centre_octave) / octave_width) ** 2)[None, :]
    weights = np.roll(weights, -3, axis=0)  # rows from A to rows from C
    return np.ascontiguousarray(weights[:, : n_fft // 2 + 1], dtype=np.float32)
