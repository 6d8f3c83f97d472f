"""Transport: tempo, meter, count-in, the grid in samples, metronome clicks and MIDI clock.

The app keeps time (the player follows). Positions are in *steps* of the frame grid
(``steps_per_beat`` per quarter note); step 0 is the first step after the count-in, so the
count-in has negative steps. A tempo change keeps the current position and changes the
speed from there on (an anchor ``(sample, step)`` plus samples per step).

:class:`Metronome` turns the transport into events a little ahead of their sample time:
a wood-block click per beat (accented on the first beat of a bar; always during the
count-in, afterwards only when the click is on) and, optionally, MIDI clock (24 per quarter
note, with start and stop) for external gear.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from accomp.config import MAX_COUNT_IN_BARS, check_tempo, chord_beat_steps, meter_bar_steps, meter_problem, note_steps
from accomp.realtime.notes import CLOCK, NOTE_OFF, NOTE_ON, START, STOP

CLOCKS_PER_BEAT = 24
CLICK_KEY_ACCENT = 76  # GM hi wood block
CLICK_KEY = 77  # GM low wood block
CLICK_VELOCITY_ACCENT = 120
CLICK_VELOCITY = 90
CLICK_LENGTH_S = 0.05


@dataclass(frozen=True)
class TransportSettings:
    tempo: float = 100.0  # quarter notes per minute
    meter: tuple[int, int] = (4, 4)
    steps_per_beat: int = 4
    count_in_bars: int = 1
    click: bool = True  # metronome after the count-in (the count-in always clicks)
    midi_clock: bool = False

    def __post_init__(self) -> None:
        check_tempo(self.tempo)
        if not 1 <= self.steps_per_beat <= 24:
            raise ValueError(f"steps_per_beat must be 1..24, got {self.steps_per_beat}")
        problem = meter_problem(*self.meter, self.steps_per_beat)
        if problem:
            raise ValueError(problem)
        if not 0 <= self.count_in_bars <= MAX_COUNT_IN_BARS:
            raise ValueError(f"count-in must be 0..{MAX_COUNT_IN_BARS} bars, got {self.count_in_bars}")


class Transport:
    """Maps grid steps to sample times and back under a tempo that may change."""

    def __init__(self, settings: TransportSettings, sample_rate: int) -> None:
        self.settings = settings
        self.sample_rate = sample_rate
        num, den = settings.meter
        self.steps_per_bar = meter_bar_steps(settings.meter, settings.steps_per_beat)
        self.steps_per_click = note_steps(den, settings.steps_per_beat)  # also a chord chart's beat
        self.chord_beat = chord_beat_steps(settings.meter, settings.steps_per_beat)  # the harmony's beat
        self.count_in_steps = settings.count_in_bars * self.steps_per_bar
        self.tempo = settings.tempo
        self.origin = 0  # sample where the transport started (count-in included)
        self.running = False
        # Tempo segments, in time order: (first sample, step there, samples per step, bpm).
        self._segments: list[tuple[float, float, float, float]] = [
            (0.0, float(-self.count_in_steps), self._sps(self.tempo), self.tempo)
        ]

    def _sps(self, bpm: float) -> float:
        return self.sample_rate * 60.0 / (bpm * self.settings.steps_per_beat)

    @property
    def samples_per_step(self) -> float:
        return self._segments[-1][2]

    def start(self, at_sample: int) -> None:
        self.origin = at_sample
        self._segments = [(float(at_sample), float(-self.count_in_steps), self._sps(self.tempo), self.tempo)]
        self.running = True

    def stop(self) -> None:
        self.running = False

    def set_tempo(self, bpm: float, at_sample: int) -> None:
        """Change the tempo from ``at_sample`` on (not before the last change); position is kept."""
        bpm = check_tempo(bpm)
        at_sample = max(float(at_sample), self._segments[-1][0])
        segment = (at_sample, self.position(at_sample), self._sps(bpm), bpm)
        if segment[0] == self._segments[-1][0]:
            self._segments[-1] = segment
        else:
            self._segments.append(segment)
        self.tempo = bpm

    def _segment_at_sample(self, sample: float) -> tuple[float, float, float, float]:
        for segment in reversed(self._segments):
            if sample >= segment[0]:
                return segment
        return self._segments[0]

    def position(self, sample: float) -> float:
        """Fractional step at ``sample`` (negative during the count-in)."""
        s0, p0, sps, _ = self._segment_at_sample(sample)
        return p0 + (sample - s0) / sps

    def step_sample(self, step: float) -> int:
        """Sample time at which ``step`` begins."""
        for s0, p0, sps, _ in reversed(self._segments):
            if step >= p0:
                return round(s0 + (step - p0) * sps)
        s0, p0, sps, _ = self._segments[0]
        return round(s0 + (step - p0) * sps)

    def step_at(self, sample: int) -> int:
        """The step that ``sample`` falls in."""
        return math.floor(self.position(sample) + 1e-9)

    def beat_in_bar(self, step: int) -> int:
        return (step + self.count_in_steps) % self.steps_per_bar

    def beats_since_origin(self, sample: int) -> float:
        """Quarter-note beats from the transport's start (count-in included) to ``sample``."""
        return (self.position(sample) + self.count_in_steps) / self.settings.steps_per_beat

    def tempo_map(self) -> list[tuple[float, float]]:
        """``(beats since origin, bpm)`` for every tempo in force since the start."""
        spb = self.settings.steps_per_beat
        return [((p0 + self.count_in_steps) / spb, bpm) for _, p0, _, bpm in self._segments]


Push = Callable[[int, int, int, int], object]  # (time, status, data1, data2)


class Metronome:
    """Schedules clicks and MIDI clock from the transport, up to a horizon, in time order."""

    def __init__(self, transport: Transport, click_channel: int = 9) -> None:
        self.transport = transport
        self.click_channel = click_channel
        self.click_on = transport.settings.click
        self.midi_clock = transport.settings.midi_clock
        self._next_click = -transport.count_in_steps  # step of the next click
        self._pending_off = -1  # sample of the last click's note-off, not yet pushed
        self._pending_key = 0
        self._next_tick = 0  # index of the next MIDI clock tick since the origin
        self._started = False

    def schedule(self, until: int, click: Push, clock: Push) -> None:
        """Push clicks (to ``click``) and clock (to ``clock``) with sample times before ``until``."""
        t = self.transport
        if not t.running:
            return
        if self.midi_clock and not self._started:
            clock(t.origin, START, 0, 0)
            self._started = True
        off_len = round(CLICK_LENGTH_S * t.sample_rate)
        while True:
            at = t.step_sample(self._next_click)
            if self._pending_off >= 0 and self._pending_off <= at and self._pending_off < until:
                click(self._pending_off, NOTE_OFF | self.click_channel, self._pending_key, 0)
                self._pending_off = -1
            if at >= until:
                break
            step = self._next_click
            self._next_click += t.steps_per_click
            if step >= 0 and not self.click_on:
                continue
            accent = t.beat_in_bar(step) == 0
            key = CLICK_KEY_ACCENT if accent else CLICK_KEY
            if self._pending_off >= 0:  # clicks closer together than a click is long
                click(at, NOTE_OFF | self.click_channel, self._pending_key, 0)
            click(at, NOTE_ON | self.click_channel, key, CLICK_VELOCITY_ACCENT if accent else CLICK_VELOCITY)
            self._pending_off, self._pending_key = at + off_len, key
        if self.midi_clock:
            while True:
                at = t.step_sample(-t.count_in_steps + self._next_tick * t.settings.steps_per_beat / CLOCKS_PER_BEAT)
                if at >= until:
                    break
                clock(at, CLOCK, 0, 0)
                self._next_tick += 1

    def stop(self, at: int, clock: Push) -> None:
        """Send MIDI stop (the engine flushes the click ring, which ends a sounding click)."""
        self._pending_off = -1
        if self.midi_clock and self._started:
            clock(at, STOP, 0, 0)
            self._started = False
