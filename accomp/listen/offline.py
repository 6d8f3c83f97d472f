"""Audio leads in simulated time, the pieces of `accomp render LEAD.wav --preset pop -o OUT.mid`
(:func:`accomp.engine.commands.render_audio` puts them together).

The recording goes through the live path exactly: cut into the audio callback's blocks,
each block analysed by an :class:`~accomp.listen.analyzer.InputAnalyzer` when the block
after it begins (as a duplex callback hands input over), the notes it hears delivered to
the engine at that sample (:func:`accomp.engine.offline.run_offline`'s ``heard``), the
engine in follow mode with its transport started by the first note. The output .wav has
the recording itself as the lead, with the accompaniment.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from accomp.errors import AudioFileError, SettingsError
from accomp.listen.analyzer import InputAnalyzer, ListenSettings

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}
MAX_SECONDS = 60 * 60


def is_audio_file(path: str) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


SILENT_PEAK = 1e-5  # -100 dBFS: a recording whose loudest sample is below this is silence


def read_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """A sound file as mono float32 at ``sample_rate`` (resampled when it has another rate)."""
    import soundfile
    import soxr

    try:
        info = soundfile.info(str(path))
        if info.frames / max(1, info.samplerate) > MAX_SECONDS:
            raise AudioFileError(f"{path}: longer than {MAX_SECONDS // 60} minutes")
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        raise AudioFileError(f"{path}: cannot read it as audio ({exc})") from None
    if data.size == 0:
        raise AudioFileError(f"{path}: has no audio in it")
    finite = np.isfinite(data)
    if not finite.any():
        raise AudioFileError(f"{path}: has no audio in it (every sample is NaN or infinite)")
    if np.abs(data[finite]).max() < SILENT_PEAK:
        raise AudioFileError(f"{path}: is silent (its loudest sample is below -100 dBFS): nothing to accompany")
    mono = np.nan_to_num(data.mean(axis=1), posinf=0.0, neginf=0.0)
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


class HeardAudio:
    """run_offline's ``heard``: the analyser fed block by block, its events collected."""

    def __init__(self, audio: np.ndarray, sample_rate: int, block: int, settings: ListenSettings | None = None) -> None:
        self.audio = audio
        self.block = block
        self.analyzer = InputAnalyzer(sample_rate, self._emit, settings)
        self._events: list[tuple[int, int, int, int]] = []
        self._done = False

    def _emit(self, at: int, status: int, pitch: int, velocity: int) -> None:
        self._events.append((at, status, pitch, velocity))

    def __call__(self, b: int) -> list[tuple[int, int, int, int]]:
        start = b - self.block
        if start >= 0 and not self._done:
            piece = self.audio[start:b]
            if len(piece) < self.block:
                piece = np.concatenate([piece, np.zeros(self.block - len(piece), dtype=np.float32)])
            self.analyzer.process(piece, start)
            if start >= len(self.audio):  # the recording is over: its last note ends
                self.analyzer.release(start)
                self._done = True
        events, self._events = self._events, []
        return events


class WithInput:
    """The synth's output with the recording mixed in: what the player heard while playing."""

    def __init__(self, synth, audio: np.ndarray, gain: float = 1.0) -> None:
        self.synth = synth
        self.audio = audio * np.float32(gain)
        self._out = np.zeros((synth.block_frames, 2), dtype=np.float32)

    def render(self, frames: int, start: int) -> np.ndarray:
        out = self._out[:frames]
        out[:] = self.synth.render(frames, start)
        piece = self.audio[start : start + frames]
        out[: len(piece)] += piece[:, None]
        np.clip(out, -1.0, 1.0, out=out)
        return out


def estimate_tempo(onsets: np.ndarray, sample_rate: int) -> float | None:
    """A starting tempo (bpm) from onset times: the beat period whose multiples and halves best
    explain the intervals between onsets less than 2.5 s apart, with a mild preference for
    tempos near 110 bpm (the usual octave ambiguity). None with fewer than 4 onsets."""
    t = np.sort(np.asarray(onsets, dtype=np.float64)) / sample_rate
    if len(t) < 4:
        return None
    gaps = (t[None, :] - t[:, None])[np.triu_indices(len(t), 1)]
    gaps = gaps[(gaps > 0.1) & (gaps < 2.5)]
    bpms = np.arange(60.0, 200.0, 0.5)
    periods = 60.0 / bpms
    score = np.zeros(len(bpms))
    for multiple in (0.5, 1.0, 2.0, 3.0, 4.0):
        d = gaps[None, :] - multiple * periods[:, None]
        score += np.exp(-0.5 * (d / 0.02) ** 2).sum(axis=1) * (1.0 if multiple >= 1 else 0.5)
    score *= np.exp(-0.5 * (np.log2(bpms / 110.0) / 0.6) ** 2)
    return float(bpms[int(np.argmax(score))])


def listen_settings(args: argparse.Namespace) -> ListenSettings:
    try:
        return ListenSettings(gain_db=args.input_gain, gate_db=args.gate, mode=args.listen_mode)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None
