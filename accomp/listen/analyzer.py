"""The streaming analyser: audio blocks in, lead note events (as MIDI input gives) out.

:class:`InputAnalyzer` is plain and single-threaded: whoever holds the audio calls
:meth:`InputAnalyzer.process` with consecutive blocks and their sample times (live, the
analysis thread of :mod:`accomp.listen.live`; offline, the simulated-time loop of
:mod:`accomp.listen.offline`), and note events come out through ``emit(time, status,
pitch, velocity)``, stamped with the sample time the note began, however much later the
analyser could tell. The engine treats them exactly as MIDI lead input, so every preset
works with audio input.

Every hop (5 ms) the analyser measures the level (noise gate), the onset strength of the
last ~21 ms and the pitch (YIN) of the last ~43 ms. Then:

1. An *onset* (the onset strength rising past its recent average, with the gate open) ends
   the note sounding and opens a decision. The note starts (stamped at the onset) from a
   *first guess* at its pitch, read from a frame of ~11 or ~21 ms holding only the new
   note, as soon as one is sure (~15 ms after the onset, where the ~43 ms frames would need
   ~35): the engine can still answer it within its step. Then two ~43 ms frames centred
   after the onset agree on the *sure* pitch; if it is another, the guess is taken back
   (:data:`~accomp.realtime.notes.RETRACT`, at once followed by the right note-on), unless
   it is an octave or a twelfth below the guess (the longer frames still hold the note
   before: their classic failure). Without a guess the note starts from the sure pitch. A
   strum is no single pitch: when no confident pitch comes (or in ``chords`` mode) the
   chroma of what appeared at the onset gives the chord's pitch classes, played as notes
   from ``chord_root``. An onset with neither is a *pulse*: it counts for follow mode's beat
   tracking only.
2. A sung or bowed note can change pitch with no onset: a new stable pitch held for
   ``legato_ms`` ends the note and starts the next (stamped where the new pitch began).
3. A note ends when the gate closes, when its level falls ``release_db`` below its peak,
   or (a melody note) when the pitch is gone for ``unvoiced_ms``.

Bad input never stops it: NaNs become zeros, clipping, DC offset and hum are measured and
shown (:attr:`InputAnalyzer.status`), and :meth:`InputAnalyzer.release` ends every note it
started (input lost, transport stopped): no note is left hanging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accomp.realtime.notes import NOTE_OFF, NOTE_ON, PULSE, RETRACT
from accomp.listen.conditioning import SILENT_DB, InputConditioner
from accomp.listen.features import Chroma, FirstGuess, OnsetStrength, PitchTracker, chord_classes, hz_to_midi

MODES = ("auto", "melody", "chords")
# The first guess reads frames that begin this long after the onset stamp, or later: the
# stamps are calibrated to where a SoundFont note began, whose sound comes ~8 ms after that.
GUESS_WAIT_MS = 8.0
SUBHARMONICS = (12, 19, 24)  # semitones below a note where a frame holding a ringing note too finds a pitch
Emit = Callable[[int, int, int, int], object]  # (sample time, status, pitch, velocity)

# Input states, worst first (what the GUI shows).
OFF, LOST, NO_SIGNAL, CLIPPING, QUIET, SIGNAL = "off", "lost", "no signal", "clipping", "quiet", "signal"


@dataclass(frozen=True)
class ListenSettings:
    gain_db: float = 0.0  # input gain, before everything else
    gate_db: float = -50.0  # noise gate: quieter than this (dBFS after gain) is no note
    mode: str = "auto"  # auto: melody notes, chords when a strum has no single pitch; melody; chords
    fmin: float = 60.0  # lowest fundamental tracked (Hz)
    fmax: float = 1500.0  # highest
    onset_threshold: float = 0.25  # onset strength above its recent average that is an onset
    min_confidence: float = 0.75  # periodicity of a pitched note
    pitch_wait_ms: float = 8.0  # a note's pitch is read from frames centred this long after its onset
    first_guess: bool = True  # start a melody note from a short frame's pitch at once, correct it if need be
    legato_ms: float = 30.0
    unvoiced_ms: float = 80.0
    release_db: float = 35.0
    chord_root: int = 55  # chord notes are laid from this pitch up (G3..F#4)
    history: int = 8192  # hops of pitch/level kept for plots and tests (5 ms each)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"listening mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        if not 20.0 <= self.fmin < self.fmax <= 4000.0:
            raise ValueError(f"pitch range must satisfy 20 <= fmin < fmax <= 4000 Hz, got {self.fmin}..{self.fmax}")
        if not -40.0 <= self.gain_db <= 60.0:
            raise ValueError(f"input gain must be -40..60 dB, got {self.gain_db}")
        if not -100.0 <= self.gate_db <= 0.0:
            raise ValueError(f"noise gate must be -100..0 dBFS, got {self.gate_db}")


def _pow2(n: float) -> int:
    return 1 << max(6, int(np.ceil(np.log2(n))))


class InputAnalyzer:
    def __init__(self, sample_rate: int, emit: Emit, settings: ListenSettings | None = None) -> None:
        s = settings or ListenSettings()
        self.settings = s
        self.sample_rate = sr = sample_rate
        self.emit = emit
        self.hop = max(32, round(sr * 0.005))
        self.pitch_frame = _pow2(2.0 * sr / s.fmin + 2)
        self.onset_fft = _pow2(sr * 0.02)
        self.conditioner = InputConditioner(sr, s.gain_db)
        self.pitch = PitchTracker(sr, fmin=s.fmin, fmax=min(s.fmax, sr / 4), frame=self.pitch_frame)
        self.first_guess = None
        if s.first_guess:
            self.first_guess = FirstGuess(sr, fmin=s.fmin, fmax=min(s.fmax, sr / 4), frame=self.pitch_frame)
        self.guess_wait = round(GUESS_WAIT_MS / 1000 * sr)
        self.onsets = OnsetStrength(sr, self.onset_fft, floor_db=s.gate_db)
        self.chord_frame = 2 * self.pitch_frame  # ~85 ms: a semitone apart from 250 Hz up
        self.chroma = Chroma(sr, self.chord_frame)
        self.settle = round(0.3 * sr)  # the hum notches ring this long after the stream starts: no onsets
        self.gate_db = s.gate_db
        self.mode = s.mode
        # Onset time = where the onset strength crossed its threshold (frame end) - this:
        # calibrated on synthesized notes to where they began (see tests/test_listen_analysis.py).
        self.onset_delay = round(0.47 * self.onset_fft)
        keep = 2 * self.chord_frame + 8 * self.hop  # a chord is read from a frame before its onset and one after
        self._buf = np.zeros(keep + 8 * sr // 10, dtype=np.float32)  # the last `keep` samples + room
        self._keep = keep
        self._fill = keep  # valid samples in _buf (zeros before the stream began)
        self._end = 0  # sample time just after the last sample in _buf
        self._next_hop = self.hop  # sample time at which the next hop frame ends
        self._hop_count = 0
        self._odf = np.zeros(32, dtype=np.float32)  # recent onset strengths (ring over hops)
        self._last_onset_hop = -(1 << 30)
        self._crossing = 1.0  # where between the last two hops the onset strength crossed its threshold
        self._gate_open = False
        self._gate_low = 0  # hops below the gate while open
        self._pending: dict | None = None  # an onset waiting for its pitch or chord
        self._notes: list[int] = []  # pitches sounding (started by this analyser)
        self._note_peak = SILENT_DB
        self._mono = False  # the sounding note is a melody note (pitch-tracked), not a chord
        self._unvoiced = 0
        self._legato: tuple[int, int, int] | None = None  # (pitch, hops held, time it began)
        self._recent_midi = np.full(3, np.nan)
        # The state the GUI reads (plain attributes, written by this thread only).
        self.level_db = SILENT_DB  # input after gain, before filters (the level meter)
        self.peak = 0.0
        self.pitch_hz = 0.0  # the last confident pitch, 0 when none
        self.confidence = 0.0
        self.chord: tuple[int, ...] = ()
        self.clipped_until = -1
        self.dc_offset = 0.0
        self.hum_db = SILENT_DB
        self._signal_db = SILENT_DB  # slow level after filtering, for "no signal"
        self.lost = False  # set by release(lost=True); cleared by the next block with a signal in it
        self.live_until = 0  # sample time just after the last block that was not digital silence
        self.notes_started = 0
        self.guesses = 0  # notes started from a first guess
        self.corrections = 0  # ... of which the sure pitch was another (retracted and started again)
        self.pulses = 0
        n = s.history
        self.track_time = np.zeros(n, dtype=np.int64)  # centre sample of each pitch frame
        self.track_hz = np.zeros(n, dtype=np.float32)  # 0: unvoiced or gated
        self.track_conf = np.zeros(n, dtype=np.float32)
        self.track_db = np.full(n, SILENT_DB, dtype=np.float32)
        self.onset_times: list[int] = []  # every onset detected (sample times), for tests and plots

    # ------------------------------------------------------------------ control

    def set_gain_db(self, gain_db: float) -> None:
        self.conditioner.set_gain_db(gain_db)

    def set_gate_db(self, gate_db: float) -> None:
        self.gate_db = float(gate_db)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"listening mode must be one of {', '.join(MODES)}, got '{mode}'")
        self.mode = mode

    @property
    def status(self) -> str:
        """off / lost / no signal / clipping / quiet / signal (see the module's constants)."""
        if self.lost:
            return LOST
        if self._signal_db < -75.0:
            return NO_SIGNAL
        if self.clipped_until >= self._end:
            return CLIPPING
        return SIGNAL if self._gate_open else QUIET

    @property
    def time(self) -> int:
        """Sample time just after the last sample analysed."""
        return self._end

    # ------------------------------------------------------------------ the stream

    def process(self, block: np.ndarray, start: int) -> None:
        """Analyse ``block`` ((n,) or (n, channels)), whose first sample is at ``start``.

        A gap since the last block (input dropped) is filled with silence."""
        if start > self._end:
            self._append(np.zeros(min(start - self._end, self._keep), dtype=np.float32), start)
        filtered, levels = self.conditioner.process(block)
        n = len(filtered)
        if n == 0:
            return
        self.level_db, self.peak = levels.rms_db, levels.peak
        if levels.clipped:
            self.clipped_until = start + n + self.sample_rate
        self.dc_offset = 0.9 * self.dc_offset + 0.1 * levels.dc
        self.hum_db = levels.hum_db
        if levels.peak > 0.0:  # exact zeros are no input at all (a source gone), not a quiet one
            self.live_until = start + n
            self.lost = False
        self._append(filtered, start + n)

    def _append(self, samples: np.ndarray, end: int) -> None:
        for i in range(0, len(samples), self.hop * 32):
            part = samples[i : i + self.hop * 32]
            room = len(self._buf) - self._fill
            if len(part) > room:  # drop what no frame will need again
                drop = self._fill - self._keep
                self._buf[: self._keep] = self._buf[drop : self._fill]
                self._fill = self._keep
            self._buf[self._fill : self._fill + len(part)] = part
            self._fill += len(part)
            self._end = end - len(samples) + i + len(part)
            self._analyse()

    def _analyse(self) -> None:
        hops = []
        while self._next_hop <= self._end:
            hops.append(self._next_hop)
            self._next_hop += self.hop
        if not hops:
            return
        base = self._fill - (self._end - np.asarray(hops))  # buffer index just after each frame
        starts_p = base - self.pitch_frame
        starts_o = base - self.onset_fft
        frames_p = np.stack([self._buf[a : a + self.pitch_frame] for a in starts_p])
        frames_o = np.stack([self._buf[a : a + self.onset_fft] for a in starts_o])
        tails = np.stack([self._buf[b - self.hop : b] for b in base])
        hop_db = 10.0 * np.log10(np.einsum("ij,ij->i", tails, tails) / self.hop + 1e-15)
        f0, conf = self.pitch.track(frames_p)
        power = self.onsets.power(frames_o)
        odf = self.onsets.strength(power)
        for i, t in enumerate(hops):
            self._hop(int(t), float(hop_db[i]), float(f0[i]), float(conf[i]), float(odf[i]))

    # ------------------------------------------------------------------ one hop

    def _hop(self, t: int, hop_db: float, f0: float, conf: float, odf: float) -> None:
        s = self.settings
        k = self._hop_count
        self._hop_count += 1
        self._odf[k % len(self._odf)] = odf
        self._signal_db = max(hop_db, self._signal_db - 0.05)  # falls 10 dB/s: "no signal" after silence
        self._gate(hop_db)
        voiced = self._gate_open and conf >= s.min_confidence
        midi = float(hz_to_midi(f0)) if voiced else np.nan
        self._recent_midi[k % len(self._recent_midi)] = midi
        if voiced:
            self.pitch_hz, self.confidence = f0, conf
        elif not self._gate_open:
            self.pitch_hz, self.confidence = 0.0, 0.0
        row = k % s.history
        self.track_time[row] = t - self.pitch_frame // 2
        self.track_hz[row] = f0 if voiced else 0.0
        self.track_conf[row] = conf
        self.track_db[row] = hop_db
        if self._notes:
            self._note_peak = max(self._note_peak, hop_db)
        if self._is_onset(k) and self._pending is None and hop_db >= self.gate_db:  # a strum's later strings belong to its onset
            self._onset(t - round((1 - self._crossing) * self.hop) - self.onset_delay, k)
        if self._pending is not None:
            self._decide(t, hop_db, midi, k)
        elif self._notes:
            self._follow_note(t, hop_db, midi, voiced)

    def _gate(self, hop_db: float) -> None:
        if hop_db >= self.gate_db:
            self._gate_open, self._gate_low = True, 0
        elif self._gate_open and hop_db < self.gate_db - 6.0:
            self._gate_low += 1
            if self._gate_low * self.hop >= 0.04 * self.sample_rate:
                self._gate_open = False

    def _is_onset(self, k: int) -> bool:
        """The onset strength rises past its threshold at hop ``k`` (the threshold: its recent
        average plus ``onset_threshold``). The rise, not the peak a hop or two later: an onset
        is told as soon as it shows."""
        if k < 2 or k - self._last_onset_hop < round(0.05 * self.sample_rate / self.hop):
            return False
        ring = self._odf
        n = len(ring)
        prev, now = ring[(k - 1) % n], ring[k % n]
        if not (now > prev and self._gate_open) or self._end < self.settle:
            return False
        past = [ring[(k - 1 - j) % n] for j in range(min(16, k - 1))]
        threshold = self.settings.onset_threshold + (float(np.mean(past)) if past else 0.0)
        if now < threshold:
            return False
        self._last_onset_hop = k
        self._crossing = (threshold - prev) / (now - prev)  # where between hops k-1 and k it crossed
        return True

    def _onset(self, at: int, k: int) -> None:
        self.onset_times.append(at)
        self._end_notes(at)
        self._pending = {"at": at, "hop": k, "agree": 0, "midi": np.nan, "peak": SILENT_DB, "guess": None}

    def _decide(self, t: int, hop_db: float, midi: float, k: int) -> None:
        """Start the note from its first guess, then settle it once two frames centred after
        the onset agree on a confident pitch (or on a chord, or on a pulse)."""
        p = self._pending
        p["peak"] = max(p["peak"], hop_db)
        if self.first_guess is not None and p["guess"] is None and self.mode != "chords" and self._gate_open:
            self._guess(t, p)
        waited = (t - p["at"]) / self.sample_rate
        centred = (t - self.pitch_frame // 2 - p["at"]) / self.sample_rate  # the pitch frame's centre, after the onset
        if self.mode != "chords" and np.isfinite(midi) and centred >= self.settings.pitch_wait_ms / 1000:
            if np.isfinite(p["midi"]) and abs(midi - p["midi"]) < 0.5:
                p["agree"] += 1
            else:
                p["agree"], p["midi"] = 1, midi
            if p["agree"] >= 2:
                self._start([int(round(p["midi"]))], p, mono=True)
                return
        if waited >= self.chord_frame / self.sample_rate + 0.002:
            chroma = self._chroma_at(p["at"])
            classes = chord_classes(chroma) if self.mode != "melody" else []
            if self.mode != "chords" and np.isfinite(p["midi"]):
                self._start([int(round(p["midi"]))], p, mono=True)
            elif classes and (self.mode == "chords" or float(np.sort(chroma)[-2]) >= 0.5):  # a strum: no single pitch
                root = self.settings.chord_root
                self.chord = tuple(sorted(classes))
                self._start(sorted(root + (c - root) % 12 for c in classes), p, mono=False)
            else:
                self._pending = None
                self._retract(p)
                self.pulses += 1
                self.emit(p["at"], PULSE, 0, 0)

    def _guess(self, t: int, p: dict) -> None:
        """Start the note from the first guess at its pitch (a short frame ending at ``t``, all
        after the onset), once there is one: the engine hears it now, and :meth:`_start` takes
        it back if the longer frames find another."""
        hz = self.first_guess.guess(self._buf[: self._fill - (self._end - t)], t - p["at"] - self.guess_wait)
        if hz is None:
            return
        q = int(round(float(hz_to_midi(hz))))
        if not 0 <= q < 128:
            return
        p["guess"] = q
        self._notes = [q]
        self.guesses += 1
        self.emit(p["at"], NOTE_ON, q, self._velocity(p["peak"]))

    def _retract(self, p: dict) -> None:
        """Take back the first guess of pending onset ``p`` (the engine forgets it was played)."""
        if p.get("guess") is not None and p["guess"] in self._notes:
            self._notes.remove(p["guess"])
            self.corrections += 1
            self.emit(p["at"], RETRACT, p["guess"], 0)

    def _chroma_at(self, at: int) -> np.ndarray:
        """Chroma of what appeared at ``at``: the frame after it less the frame before it."""
        n = self.chord_frame
        i = self._fill - (self._end - at)
        if i - n < 0 or i + n > self._fill:
            return np.zeros(12)
        frames = np.stack([self._buf[i - n : i], self._buf[i : i + n]]) * np.hanning(n).astype(np.float32)
        spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
        return self.chroma.of_increment(spec[0], spec[1])

    def _velocity(self, peak_db: float) -> int:
        return int(np.clip(30 + (peak_db + 50.0) * 2.0, 20, 127))

    def _start(self, pitches: list[int], p: dict, *, mono: bool) -> None:
        self._pending = None
        velocity = self._velocity(p["peak"])
        notes = [q for q in pitches if 0 <= q < 128]
        guess = p.get("guess")
        if mono and guess is not None and len(notes) == 1 and guess - notes[0] in SUBHARMONICS:
            notes = [guess]  # the longer frames still hold the note before: their classic failure, not a correction
        if guess is None or notes != [guess]:
            self._retract(p)
            self._notes = notes
            for q in notes:
                self.emit(p["at"], NOTE_ON, q, velocity)
        self.notes_started += 1
        self._note_peak, self._mono, self._unvoiced, self._legato = p["peak"], mono, 0, None

    def _follow_note(self, t: int, hop_db: float, midi: float, voiced: bool) -> None:
        s = self.settings
        centre = t - self.pitch_frame // 2
        if not self._gate_open or hop_db < self._note_peak - s.release_db:
            self._end_notes(t)
            return
        if not self._mono:
            return
        if not voiced:
            self._unvoiced += 1
            if self._unvoiced * self.hop >= s.unvoiced_ms / 1000 * self.sample_rate:
                self._end_notes(t - self._unvoiced * self.hop)
            return
        self._unvoiced = 0
        q = int(round(midi))
        jump = abs(q - self._notes[0])
        # An octave or a twelfth away is the tracker hearing a ringing note, not a new note.
        if jump == 0 or abs(midi - self._notes[0]) < 0.75 or jump in SUBHARMONICS or self.confidence < 0.9:
            self._legato = None
            return
        if self._legato is None or self._legato[0] != q:
            self._legato = (q, 0, centre)
        pitch, held, began = self._legato
        self._legato = (pitch, held + 1, began)
        if (held + 1) * self.hop >= s.legato_ms / 1000 * self.sample_rate:
            self._end_notes(began)
            self._start([pitch], {"at": began, "peak": hop_db}, mono=True)

    def _end_notes(self, at: int) -> None:
        for q in self._notes:
            self.emit(at, NOTE_OFF, q, 0)
        self._notes = []
        self._legato = None

    def release(self, at: int | None = None, *, lost: bool = False) -> None:
        """End every note this analyser started (the input is gone, or play stopped)."""
        self._pending = None
        self._end_notes(self._end if at is None else at)
        self.lost = self.lost or lost
        if lost:
            self._gate_open = False
            self.pitch_hz = self.confidence = 0.0

    def sounding(self) -> list[int]:
        return list(self._notes)

    def pitch_track(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(centre sample, Hz (0: unvoiced), periodicity) of the pitch frames kept, oldest first."""
        n = min(self._hop_count, self.settings.history)
        order = (np.arange(self._hop_count - n, self._hop_count)) % self.settings.history
        return self.track_time[order], self.track_hz[order], self.track_conf[order]
