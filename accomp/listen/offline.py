"""Audio leads in simulated time, the pieces of `accomp render LEAD.wav --preset pop -o OUT.mid`
(:func:`accomp.engine.session.render` puts them together).

The recording goes through the live path exactly: cut into the audio callback's blocks,
each block analysed by an :class:`~accomp.listen.analyzer.InputAnalyzer` when the block
after it begins (as a duplex callback hands input over), the notes it hears delivered to
the engine at that sample (:func:`accomp.engine.offline.run_offline`'s ``heard``), the
engine in follow mode with its transport started by the first note. The output .wav has
the recording itself as the lead, with the accompaniment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accomp.errors import AudioFileError
from accomp.listen.analyzer import InputAnalyzer, ListenSettings

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3"}
MAX_SECONDS = 60 * 60


def is_audio_file(path: str) -> bool:
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


SILENT_PEAK = 1e-5  # -100 dBFS: a recording whose loudest sample is below this is silence
READ_FRAMES = 1 << 16  # frames read from a sound file at a time
KEEP_S = 1.0  # a recording stream keeps this much audio before the last slice asked for


def check_audio(path: str | Path, sample_rate: int) -> int:
    """Refuse a sound file that cannot be accompanied (unreadable, too long, empty, NaN or
    silent) in one line; else its length in samples at ``sample_rate``. Reads it block by
    block: never the whole file at once."""
    import soundfile

    peak, finite = 0.0, False
    try:
        with soundfile.SoundFile(str(path)) as f:
            if f.frames / max(1, f.samplerate) > MAX_SECONDS:
                raise AudioFileError(f"{path}: longer than {MAX_SECONDS // 60} minutes")
            frames, rate = f.frames, f.samplerate
            for block in f.blocks(READ_FRAMES, dtype="float32", always_2d=True):
                ok = np.isfinite(block)
                if ok.any():
                    finite = True
                    peak = max(peak, float(np.abs(block[ok]).max()))
    except (soundfile.LibsndfileError, RuntimeError, OSError, TypeError) as exc:
        raise AudioFileError(f"{path}: cannot read it as audio ({exc})") from None
    if frames == 0:
        raise AudioFileError(f"{path}: has no audio in it")
    if not finite:
        raise AudioFileError(f"{path}: has no audio in it (every sample is NaN or infinite)")
    if peak < SILENT_PEAK:
        raise AudioFileError(f"{path}: is silent (its loudest sample is below -100 dBFS): nothing to accompany")
    return round(frames * sample_rate / rate)


class RecordingStream:
    """A sound file as mono float32 at ``sample_rate``, read and resampled a block at a time.

    Slices ``stream[start:stop]`` must come in order (``start`` never goes back more than
    :data:`KEEP_S`); a slice past the end is short. Memory stays a few seconds of audio
    whatever the recording's length (an hour at 48 kHz is 0.7 GB as one array). Call
    :func:`check_audio` first: it refuses the files this would stumble on."""

    def __init__(self, path: str | Path, sample_rate: int) -> None:
        import soundfile
        import soxr

        self._file = soundfile.SoundFile(str(path))
        rate = self._file.samplerate
        self.length = round(self._file.frames * sample_rate / rate)
        self._resampler = soxr.ResampleStream(rate, sample_rate, 1, dtype="float32") if rate != sample_rate else None
        self._keep = round(KEEP_S * sample_rate)
        self._buf = np.zeros(0, dtype=np.float32)
        self._base = 0  # the sample index of _buf[0]
        self._ended = False

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, part: slice) -> np.ndarray:
        start, stop = part.start or 0, min(part.stop, self.length)
        if start < self._base:
            raise ValueError(f"a recording stream reads forward: sample {start} is gone (from {self._base} on)")
        while self._base + len(self._buf) < stop and not self._ended:
            self._read(start)
        return self._buf[start - self._base : max(start, stop) - self._base]

    def _read(self, start: int) -> None:
        block = self._file.read(READ_FRAMES, dtype="float32", always_2d=True)
        self._ended = len(block) < READ_FRAMES
        mono = np.nan_to_num(block.mean(axis=1), posinf=0.0, neginf=0.0).astype(np.float32)
        if self._resampler is not None:
            mono = self._resampler.resample_chunk(mono, last=self._ended)
        drop = min(max(0, start - self._keep - self._base), len(self._buf))
        self._buf = np.concatenate([self._buf[drop:], mono])
        self._base += drop
        if self._ended:
            self._file.close()


class HeardAudio:
    """run_offline's ``heard``: the analyser fed block by block, its events collected."""

    def __init__(self, audio: np.ndarray | RecordingStream, sample_rate: int, block: int,
                 settings: ListenSettings | None = None) -> None:  # fmt: skip
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

    def __init__(self, synth, audio: np.ndarray | RecordingStream, gain: float = 1.0) -> None:
        self.synth = synth
        self.audio = audio
        self.gain = np.float32(gain)
        self._out = np.zeros((synth.block_frames, 2), dtype=np.float32)

    def render(self, frames: int, start: int) -> np.ndarray:
        out = self._out[:frames]
        out[:] = self.synth.render(frames, start)
        piece = self.audio[start : start + frames]
        out[: len(piece)] += piece[:, None] * self.gain
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
