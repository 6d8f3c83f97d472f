"""Frame features for the streaming analyser: pitch, onset strength, chroma.

Each works on a batch of frames at once (the frames that completed since the last call),
so the analysis thread pays Python's overhead once per batch, not once per frame.

- **Pitch**: YIN gives a period per frame; the normalised square difference (NSDF,
  McLeod) at that period is its *periodicity* (1: perfectly periodic, ~0: noise), the voicing
  confidence YIN itself does not give. YIN's classic failure on a plucked string whose
  previous note still rings is a sub-harmonic (an octave or a twelfth low: the mixture's
  common period), so a period whose half, third or quarter is nearly as periodic is
  replaced by that shorter one.
- **First guess**: the same pitch tracker on frames a quarter and a half as long, read as
  soon as one holds only the new note, to start the note before the long frames can.
- **Onset strength**: log-mel spectral flux with a maximum filter across bands (SuperFlux,
  Böck & Widmer 2013), which ignores vibrato and counts only energy that appears.
- **Chroma**: a chroma filter bank (librosa's, in accomp.listen.filterbanks) over the power that appeared since the frame
  before an onset, so a strummed chord's notes are heard, not the ones still ringing.
"""

from __future__ import annotations

import numpy as np

from accomp.listen.filterbanks import chroma_filters, mel_filters

A4 = 440.0


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray | float:
    return 69.0 + 12.0 * np.log2(np.asarray(hz) / A4)


class PitchTracker:
    """YIN over frames of ``frame`` samples, with a periodicity per frame.

    One FFT cross-correlation per frame gives, for every lag, both YIN's difference
    function (de Cheveigné & Kawahara 2002, with its cumulative-mean normalisation,
    absolute threshold and parabolic interpolation) and the NSDF. librosa's ``yin`` computes
    the same difference function, but costs ~1 ms of set-up per call, too much for one
    call per 5 ms hop on a 2-core machine.
    """

    def __init__(self, sample_rate: int, *, fmin: float, fmax: float, frame: int, threshold: float = 0.15,
                 correction: float = 0.1) -> None:  # fmt: skip
        self.sample_rate = sample_rate
        self.fmin, self.fmax = fmin, fmax
        self.frame = frame
        self.min_lag = max(2, int(np.floor(sample_rate / fmax)))
        self.max_lag = int(np.ceil(sample_rate / fmin))
        if self.max_lag * 2 > frame:
            raise ValueError(f"a {frame}-sample frame cannot hold two periods of {fmin} Hz")
        self.window = frame - self.max_lag - 2  # the summing window of the difference function
        self.n_fft = 1 << int(np.ceil(np.log2(frame + self.window)))
        self.threshold = threshold
        self.correction = correction

    def track(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``frames`` (n, frame) float32 -> (f0 Hz (n,), periodicity 0..1 (n,))."""
        w, lags = self.window, np.arange(self.max_lag + 2)
        x = frames.astype(np.float64)
        head = x[:, :w]
        # r[t] = sum_{j<w} x_j x_{j+t}: cross-correlation of the head with the frame, all lags
        spec = np.fft.rfft(x, self.n_fft, axis=1) * np.conj(np.fft.rfft(head, self.n_fft, axis=1))
        r = np.fft.irfft(spec, self.n_fft, axis=1)[:, : self.max_lag + 2]
        sq = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x * x, axis=1)], axis=1)
        e_head = sq[:, w : w + 1]
        e_tail = sq[:, lags + w] - sq[:, lags]  # energy of x[t : t + w]
        diff = np.maximum(e_head + e_tail - 2.0 * r, 0.0)  # YIN's difference function d(t)
        nsdf = np.where(e_head + e_tail > 1e-12, 2.0 * r / np.maximum(e_head + e_tail, 1e-12), 0.0)
        cum = np.cumsum(diff[:, 1:], axis=1) / lags[1:]
        cmnd = np.ones_like(diff)
        cmnd[:, 1:] = diff[:, 1:] / np.maximum(cum, 1e-12)
        lag = self._first_dip(cmnd)
        rows = np.arange(len(x))
        # A sub-harmonic (the common period of a note and the one still ringing) gives way to
        # the shortest sub-period that is nearly as periodic.
        base = self._peak(nsdf, lag)
        best, conf = lag.copy(), base.copy()
        for k in (4, 3, 2):
            sub = np.round(lag / k).astype(np.int64)
            c = self._peak(nsdf, sub)
            better = (sub >= self.min_lag) & (c >= base - self.correction) & (best == lag)
            best, conf = np.where(better, sub, best), np.where(better, c, conf)
        best = self._refine(nsdf, best)
        period = best + self._parabola(cmnd, np.round(best).astype(np.int64), rows)
        return self.sample_rate / np.maximum(period, 1.0), np.clip(conf, 0.0, 1.0)

    def _first_dip(self, cmnd: np.ndarray) -> np.ndarray:
        """YIN's absolute threshold: the first local minimum below it, else the global minimum."""
        lo, hi = self.min_lag, self.max_lag
        d = cmnd[:, lo : hi + 1]
        dip = (d[:, 1:-1] < d[:, :-2]) & (d[:, 1:-1] <= d[:, 2:]) & (d[:, 1:-1] < self.threshold)
        first = np.argmax(dip, axis=1) + 1
        return np.where(dip.any(axis=1), first, np.argmin(d, axis=1)) + lo

    def _peak(self, nsdf: np.ndarray, lag: np.ndarray) -> np.ndarray:
        """Best NSDF within two samples of ``lag`` (rounded periods land between samples)."""
        lag = np.clip(lag, 2, nsdf.shape[1] - 3)
        rows = np.arange(len(nsdf))[:, None]
        return nsdf[rows, lag[:, None] + np.arange(-2, 3)[None, :]].max(axis=1)

    def _refine(self, nsdf: np.ndarray, lag: np.ndarray) -> np.ndarray:
        lag = np.clip(lag, 2, nsdf.shape[1] - 3)
        rows = np.arange(len(nsdf))[:, None]
        return lag + np.argmax(nsdf[rows, lag[:, None] + np.arange(-2, 3)[None, :]], axis=1) - 2

    def _parabola(self, cmnd: np.ndarray, lag: np.ndarray, rows: np.ndarray) -> np.ndarray:
        lag = np.clip(lag, 1, cmnd.shape[1] - 2)
        a, b, c = cmnd[rows, lag - 1], cmnd[rows, lag], cmnd[rows, lag + 1]
        den = a - 2.0 * b + c
        return np.where(np.abs(den) > 1e-12, np.clip(0.5 * (a - c) / np.where(den == 0, 1, den), -1, 1), 0.0)


class FirstGuess:
    """A new note's pitch as soon as the shortest frame that can hold it is full of it.

    Frames a quarter and a half of ``frame`` long (~11 and ~21 ms beside the analyser's
    ~43 ms), read for notes from ~200 Hz and ~100 Hz up; the shorter one answers first. A
    short frame cannot hold two periods of a low note, and may read its octave, so a pitch
    near the lowest its frame can hold is left to the longer one.
    """

    def __init__(self, sample_rate: int, *, fmin: float, fmax: float, frame: int, confidence: float = 0.8,
                 margin: float = 1.2) -> None:  # fmt: skip
        self.confidence = confidence
        self.trackers: list[tuple[int, float, PitchTracker]] = []
        for n in (frame // 4, frame // 2):
            low = max(fmin, 2.1 * sample_rate / n)
            if low * margin < fmax:
                self.trackers.append((n, low * margin, PitchTracker(sample_rate, fmin=low, fmax=fmax, frame=n)))

    def guess(self, audio: np.ndarray, fresh: int) -> float | None:
        """Pitch (Hz) of the end of ``audio`` (1-D, the latest sample last) read from its last
        ``fresh`` samples at most (those since the onset), or None while no frame is sure."""
        for n, lowest, tracker in self.trackers:
            if n > fresh:
                return None
            f0, conf = tracker.track(audio[None, len(audio) - n :])
            if conf[0] >= self.confidence and f0[0] >= lowest:
                return float(f0[0])
        return None


class OnsetStrength:
    """SuperFlux onset strength of frames of ``n_fft`` samples, one value per frame.

    ``floor_db`` is the level (dBFS) below which appearing energy counts for nothing (the
    noise gate's threshold), so noise under the gate makes no onsets.
    """

    def __init__(self, sample_rate: int, n_fft: int, *, n_mels: int = 64, lag: int = 2, floor_db: float = -60.0) -> None:
        self.n_fft = n_fft
        self.lag = lag
        self.window = np.hanning(n_fft).astype(np.float32)
        self.mel = mel_filters(sample_rate, n_fft, n_mels, 30.0, min(8000.0, sample_rate / 2))
        # Mel power of a full-band signal at floor_db, per band: below it, log power is flat.
        norm = float(np.sum(self.window**2))
        self.floor = float(10 ** (floor_db / 10) * norm / n_mels * 2)
        self._history = np.zeros((lag, n_mels), dtype=np.float32)  # log-mel of the previous frames
        self._filled = 0

    def reset(self) -> None:
        self._history[:] = 0.0
        self._filled = 0

    def power(self, frames: np.ndarray) -> np.ndarray:
        """Power spectra (n, n_fft/2+1) of frames (n, n_fft), Hann-windowed."""
        spec = np.fft.rfft(frames * self.window, axis=1)
        return (spec.real**2 + spec.imag**2).astype(np.float32)

    def strength(self, power: np.ndarray) -> np.ndarray:
        """Onset strength (n,) of consecutive frames' power spectra; keeps the last ``lag``."""
        logmel = np.log(self.mel @ power.T + self.floor).T.astype(np.float32)  # (n, n_mels)
        seq = np.concatenate([self._history, logmel])
        ref = seq[: len(logmel)]  # the frame `lag` hops before each
        ref = np.maximum(ref, np.maximum(np.roll(ref, 1, axis=1), np.roll(ref, -1, axis=1)))  # max over neighbour bands
        flux = np.maximum(logmel - ref, 0.0).mean(axis=1)
        if self._filled < self.lag:  # the first frames have no past to compare with
            flux[: self.lag - self._filled] = 0.0
            self._filled = min(self.lag, self._filled + len(logmel))
        self._history[:] = seq[-self.lag :]
        return flux


class Chroma:
    """Pitch-class profile of the power that appeared between two spectra."""

    def __init__(self, sample_rate: int, n_fft: int) -> None:
        self.filters = chroma_filters(sample_rate, n_fft)
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
        self.filters[:, (freqs < 180.0) | (freqs > 2500.0)] = 0.0  # partials a frame resolves to a semitone

    def of_increment(self, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """Chroma (12,) of ``max(after - before, 0)``, normalised to a maximum of 1 (or zeros)."""
        appeared = np.maximum(after - before, 0.0)
        peaks = np.zeros_like(appeared)  # spectral peaks only: a partial counts once, not its window's skirt
        top = (appeared[1:-1] >= appeared[:-2]) & (appeared[1:-1] >= appeared[2:])
        peaks[1:-1][top] = appeared[1:-1][top]
        chroma = self.filters @ peaks
        top = chroma.max()
        return chroma / top if top > 0 else chroma


def chord_classes(chroma: np.ndarray) -> list[int]:
    """The major or minor triad (pitch classes, 0 = C) that best explains ``chroma``, or []
    when it is empty. A guitar voicing doubles its root and every string's 3rd and 5th
    harmonics light up a fifth and a third above it, so the chroma's strongest classes alone
    are not the chord: the triad whose three classes hold the most of it is."""
    if chroma.max() <= 0:
        return []
    best, best_score = [], -1.0
    for root in range(12):
        for third in (4, 3):
            triad = [root, (root + third) % 12, (root + 7) % 12]
            score = float(chroma[triad].sum())
            if score > best_score:
                best, best_score = triad, score
    return best
