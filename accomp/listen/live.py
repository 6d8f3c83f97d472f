"""The analysis thread: the audio callback's input ring -> the analyser -> the engine.

The audio callback only copies each input block into :attr:`Listener.ring` (preallocated,
single producer / single consumer). This thread drains it every few milliseconds, runs the
:class:`~accomp.listen.analyzer.InputAnalyzer`, whose note events go straight into the
engine's ``heard_in`` ring (this thread is its one producer), and wakes the engine's worker.

Sample times: the callback writes block ``b``'s input when it renders output block ``b``,
so the n-th input sample read is at sample n of the engine's clock; frames the ring had to
drop (this thread fell behind) advance the time by as many.

When no input arrives for :data:`LOST_S` (the input device went away while the output
plays on), or what arrives has been exact digital zeros for as long after a signal (the
source went away: a JACK or PipeWire port unplugged from the input reads as zeros, where a
microphone or an instrument cable always carries some noise), every note heard is ended and
the state reads "lost" until a signal comes back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from accomp.realtime.rings import AudioRing
from accomp.listen.analyzer import OFF, InputAnalyzer, ListenSettings

POLL_S = 0.004
LOST_S = 0.5
RING_S = 1.0
NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def note_name(pitch: int) -> str:
    return f"{NAMES[pitch % 12]}{pitch // 12 - 1}"


@dataclass(frozen=True)
class ListenState:
    """What the GUI shows about listening and following (a snapshot; read at 30-60 Hz)."""

    source: str  # midi / audio / both
    status: str  # off / lost / no signal / clipping / quiet / signal
    level_db: float  # input level after gain, dBFS (the meter)
    peak: float  # input peak after gain, linear
    gate_db: float
    pitch_hz: float  # the pitch heard now, 0 when none
    pitch: str  # its note name, e.g. "A4", or ""
    confidence: float  # 0..1
    notes: tuple[int, ...]  # lead notes the audio input is sounding
    chord: tuple[int, ...]  # pitch classes of the last chord heard
    dc_offset: bool
    hum: bool
    follow: str  # lead / following / waiting / resting
    tempo: float  # the transport's tempo now (bpm)
    tempo_estimate: float | None  # the player's tempo as tracked (follow mode), else None


class Listener:
    def __init__(self, sample_rate: int, channels: int, emit, settings: ListenSettings, wake: Callable[[], None]) -> None:
        self.ring = AudioRing(round(RING_S * sample_rate), channels)
        self.analyzer = InputAnalyzer(sample_rate, emit, settings)
        self.sample_rate = sample_rate
        self._wake = wake
        self._buf = np.zeros((self.ring.capacity, channels), dtype=np.float32)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._position = 0
        self._dropped = 0
        self._lost_frames = round(LOST_S * sample_rate)
        self.error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="accomp-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        a = self.analyzer
        last_input = time.perf_counter()
        try:
            while not self._stop.wait(POLL_S):
                n = self.ring.read(self._buf)
                dropped = self.ring.overflows - self._dropped
                self._dropped += dropped
                self._position += dropped
                now = time.perf_counter()
                if n:
                    a.process(self._buf[:n], self._position)
                    self._position += n
                    last_input = now
                dead = 0 < a.live_until < a.time - self._lost_frames
                if (dead or now - last_input > LOST_S) and not a.lost:
                    a.release(self._position, lost=True)
                self._wake()
        except Exception as exc:  # the analysis must never take the session down: say why, stop listening
            self.error = f"audio input analysis failed ({type(exc).__name__}: {exc})"
            a.release(self._position, lost=True)
            self._wake()
        finally:
            a.release(self._position)
            self._wake()

    def state(self, source: str, follow: str, tempo: float, tempo_estimate: float | None) -> ListenState:
        a = self.analyzer
        hz = a.pitch_hz
        return ListenState(
            source=source, status=a.status, level_db=a.level_db, peak=a.peak, gate_db=a.gate_db,
            pitch_hz=hz, pitch=note_name(round(69 + 12 * np.log2(hz / 440.0))) if hz > 0 else "",
            confidence=a.confidence, notes=tuple(a.sounding()), chord=a.chord, dc_offset=abs(a.dc_offset) > 0.02,
            hum=a.hum_db > -70.0 and a.hum_db > a.level_db - 20.0, follow=follow, tempo=tempo, tempo_estimate=tempo_estimate,
        )  # fmt: skip


def midi_only_state(source: str, follow: str, tempo: float, tempo_estimate: float | None) -> ListenState:
    """The state when no audio input is listened to."""
    return ListenState(source=source, status=OFF, level_db=-120.0, peak=0.0, gate_db=0.0, pitch_hz=0.0, pitch="",
                       confidence=0.0, notes=(), chord=(), dc_offset=False, hum=False, follow=follow, tempo=tempo,
                       tempo_estimate=tempo_estimate)  # fmt: skip
