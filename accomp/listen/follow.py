"""Follow mode: the band keeps the player's time, not its own. Also tap tempo.

In lead mode (the default) the transport keeps time and the player follows the band. In
follow mode a :class:`Follower` sits in the engine (its only caller is the engine's
thread): every lead onset (a MIDI note-on, a note heard in the audio input, or an unpitched
pulse) goes to a :class:`BeatTracker`, which fits the player's tempo and beat phase, and
the follower steers the transport toward them: the tempo becomes the player's, and the
phase error is taken out over the next beat by running slightly faster or slower. The
transport never jumps, so steps already decided stay decided and the recording's tempo
map stays one continuous line.

The beat tracker, robust by construction:

- each onset is placed on the grid the transport predicts: on an eighth note when it
  lies within 30% of one, else on a beat within 22% of one, else it is ignored (a
  sixteenth, a triplet, noise) and counts for nothing;
- tempo and phase are a straight-line fit of onset time against grid position over the
  last ``window_beats`` (a spurious onset is one point among many);
- an abrupt tempo change shows as two onsets in a row off the line the same way: the
  fit then forgets what came before the change, so a ±10% step is followed within a few
  beats rather than averaged away.

When the player stops, ``silence`` decides (after ``silence_beats`` without an onset):
``keep`` plays on at the last tempo, ``hold`` rests at that tempo and comes back in the
same time when the player does, ``stop`` ends politely at the next bar line and comes back
at the first bar line after the player's next note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from accomp.config import MAX_BPM, MIN_BPM

SILENCE = ("keep", "hold", "stop")
LEAD_MODE, FOLLOWING, WAITING, RESTING = "lead", "following", "waiting", "resting"
SAME_ONSET_S = 0.04  # a chord's notes, or a MIDI note and its echo in the audio, are one onset
TOLERANCE = 0.3  # of an eighth: how far from the grid an onset may fall and still count
BEAT_TOLERANCE = 0.22  # of a beat, for an onset too far from any eighth (a sixteenth between is not one)
CHANGE_STEPS = 0.12  # two onsets in a row this far off the fitted line, the same way: a tempo change
MAX_STEER = 0.2  # the phase correction changes the tempo by at most this fraction


@dataclass(frozen=True)
class FollowSettings:
    silence: str = "keep"  # keep | hold | stop (see the module's docstring)
    silence_beats: float = 4.0
    window_beats: float = 4.0  # onsets of the last few beats make the tempo
    phase_beats: float = 1.0  # a phase error is taken out over this many beats
    wait_for_player: bool = False  # the transport starts at the player's first note (a downbeat)

    def __post_init__(self) -> None:
        if self.silence not in SILENCE:
            raise ValueError(f"silence must be one of {', '.join(SILENCE)}, got '{self.silence}'")
        if self.silence_beats <= 0 or self.window_beats < 1 or self.phase_beats <= 0:
            raise ValueError("silence_beats and phase_beats must be > 0 and window_beats >= 1")


class BeatTracker:
    """Fits ``time = origin + period * position`` (samples, grid steps) to recent onsets."""

    def __init__(self, steps_per_beat: int, window_beats: float = 4.0) -> None:
        self.steps_per_beat = steps_per_beat
        self.window = window_beats * steps_per_beat
        self._times: list[float] = []
        self._positions: list[float] = []
        self._off: list[float] = []  # signed residuals (steps) of the latest onsets, before their fit
        self.period: float | None = None  # samples per step, as fitted
        self.origin = 0.0
        self.accepted = 0
        self.ignored = 0

    def place(self, position: float) -> float | None:
        """The grid position (steps) of an onset the transport puts at ``position``, or None."""
        for unit, tolerance in ((self.steps_per_beat / 2, TOLERANCE), (self.steps_per_beat, BEAT_TOLERANCE)):
            if unit < 1:
                continue
            n = round(position / unit) * unit
            if abs(position - n) <= tolerance * unit:
                return float(n)
        return None

    def add(self, time: float, position: float) -> bool:
        """Add an onset at sample ``time`` that the transport puts at step ``position``."""
        grid = self.place(position)
        if grid is None or (self._positions and grid <= self._positions[-1]):
            self.ignored += 1
            return False
        if self.period is not None:
            off = (time - (self.origin + self.period * grid)) / self.period
            self._off = (self._off + [off])[-2:]
            if len(self._off) == 2 and min(abs(o) for o in self._off) > CHANGE_STEPS and self._off[0] * self._off[1] > 0:
                # The change began at the onset before the first of the two: keep it and what follows.
                self._times, self._positions, self._off = self._times[-2:], self._positions[-2:], []
        self._times.append(float(time))
        self._positions.append(grid)
        while self._positions[-1] - self._positions[0] > self.window and len(self._positions) > 3:
            self._times.pop(0)
            self._positions.pop(0)
        self.accepted += 1
        self._fit()
        return True

    def _fit(self) -> None:
        if len(self._times) < 2:
            return
        p = np.asarray(self._positions)
        t = np.asarray(self._times)
        if p[-1] - p[0] < 1:
            return
        period, origin = np.polyfit(p, t, 1)
        if period > 0:
            self.period, self.origin = float(period), float(origin)

    def forget(self) -> None:
        """Start afresh (after a silence): the tempo stays, the phase is learnt again."""
        self._times, self._positions, self._off = [], [], []


class Follower:
    """Steers an engine's transport from the player's onsets (called on the engine's thread)."""

    def __init__(self, engine, settings: FollowSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or FollowSettings()
        t = engine.transport
        self.tracker = BeatTracker(t.settings.steps_per_beat, self.settings.window_beats)
        self.state = WAITING if self.settings.wait_for_player else FOLLOWING
        self.last_onset: int | None = None
        self.onsets = 0
        self._rest_from_step: int | None = None  # "stop": rest once this bar line is reached
        self._resume_step: int | None = None  # "stop": come back at this step

    @property
    def tempo(self) -> float:
        """The player's tempo as tracked (bpm), or the transport's while nothing is known."""
        t = self.engine.transport
        if self.tracker.period is None:
            return t.tempo
        return 60.0 * t.sample_rate / (self.tracker.period * t.settings.steps_per_beat)

    def onset(self, time: int, now: int) -> None:
        """A lead onset at sample ``time`` (arrived at ``now``)."""
        if self.last_onset is not None and abs(time - self.last_onset) < SAME_ONSET_S * self.engine.transport.sample_rate:
            return
        self.last_onset = time
        self.onsets += 1
        e, t = self.engine, self.engine.transport
        if self.state == WAITING:
            e.start_at(time - round(t.count_in_steps * t.samples_per_step))  # the first note is step 0, a downbeat
            self.state = FOLLOWING
            self.tracker.add(time, t.position(time))
            return
        if self.state == RESTING:
            self._come_back(time, now)
        if self.tracker.add(time, t.position(time)):
            self._steer(now)

    def _steer(self, now: int) -> None:
        tr, t = self.tracker, self.engine.transport
        if tr.period is None:
            return
        spb = t.settings.steps_per_beat
        ahead = t.position(now) - (now - tr.origin) / tr.period  # steps the transport is ahead of the player
        span = self.settings.phase_beats * spb
        factor = min(1 + MAX_STEER, max(1 - MAX_STEER, span / max(span - ahead, 1e-6)))
        bpm = 60.0 * t.sample_rate / (tr.period * factor * spb)
        t.set_tempo(min(MAX_BPM, max(MIN_BPM, bpm)), now)

    def update(self, now: int) -> None:
        """Called on every engine poll: phase correction ends, silence is noticed."""
        t, e = self.engine.transport, self.engine
        if self.state in (WAITING,) or not t.running or self.last_onset is None:
            return
        beat = t.samples_per_step * t.settings.steps_per_beat
        if self.state == FOLLOWING and self.tracker.period is not None:
            if now - self.last_onset > self.settings.phase_beats * beat and t.tempo != round(self.tempo, 9):
                t.set_tempo(min(MAX_BPM, max(MIN_BPM, self.tempo)), now)  # no onset to steer by: the tracked tempo
        if self.state == FOLLOWING and now - self.last_onset > self.settings.silence_beats * beat:
            policy = self.settings.silence
            if policy == "hold":
                self.state, e.resting = RESTING, True
            elif policy == "stop" and self._rest_from_step is None:
                bar = t.steps_per_bar
                self._rest_from_step = (t.step_at(now) // bar + 1) * bar
        if self._rest_from_step is not None and t.position(now) >= self._rest_from_step - 1:
            self.state, e.resting, self._rest_from_step = RESTING, True, None
            self.tracker.forget()
        if self._resume_step is not None and t.position(now) >= self._resume_step - 1:
            self.state, e.resting, self._resume_step = FOLLOWING, False, None

    def _come_back(self, time: int, now: int) -> None:
        t = self.engine.transport
        if self.settings.silence == "hold":
            self.state, self.engine.resting = FOLLOWING, False
            return
        bar = t.steps_per_bar
        self._resume_step = math.ceil(t.position(time) / bar) * bar
        self.state = FOLLOWING


class TapTempo:
    """Tempo from taps: the median interval of the last few, after two taps."""

    RESET_S = 2.0

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._taps: list[int] = []

    def tap(self, at: int) -> float | None:
        """A tap at sample ``at``; the tempo (bpm) the taps give so far, or None."""
        if self._taps and at - self._taps[-1] > self.RESET_S * self.sample_rate:
            self._taps = []
        self._taps = (self._taps + [at])[-5:]
        if len(self._taps) < 2:
            return None
        interval = float(np.median(np.diff(self._taps)))
        if interval <= 0:
            return None
        return min(MAX_BPM, max(MIN_BPM, 60.0 * self.sample_rate / interval))
