"""The accompanist: a student preset as the engine's step player.

It owns the student and its streaming state and is only ever called from the engine's one
thread (the live worker, or the offline loop). Per grid step it runs exactly one student
step; before it, the state is copied in place into a preallocated backup, so a late lead
note inside the grace window can re-decide the step from where it began
(:meth:`Accompanist.redo`), with the same noise, at the cost of one more step.

Harmony first (DESIGN §2b): a student whose teacher follows a chord plan gets one from the
causal chord planner, a chord per beat, decided at the beat's first step with the lead
known so far and revised (``revised``: the engine's latency log says so) when the beat's
first note comes late, inside the grace window; or from a fixed plan: the bidirectional
planner's for a whole song, or a chord chart's (:meth:`Accompanist.play_chart`), which
bypasses the planner and loops. Each step passes the chord's features to
the student and, with the guard on, raises the decision threshold of notes off the chord;
after it, the chord tones the part leaves out are added (:mod:`accomp.model.voicing`).

Everything a step touches is preallocated here or in the student's state: the lead frame
and noise tensors, the backup state. Noise comes from a seeded generator, so simulated
time is reproducible.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from accomp.config import DEFAULT_SPEC, chord_beat_steps, meter_bar_steps, note_steps
from accomp.errors import SettingsError
from accomp.model.generate import chord_tensor
from accomp.model.harmony import Harmony, load_harmony
from accomp.model.hardware import pick_device
from accomp.model.planner import PlannerStream, chart_plan, keys_of
from accomp.model.voicing import GuideTones, doubles_melody_third, sounds_root
from accomp.music.chords import CHORD_FEATURES, CHROMA, N_CHORDS, NO_CHORD
from accomp.music.keys import KeyHint

WARMUP_STEPS = 8
PROBE_STEPS = 48  # steps timed per device when --device auto chooses


@torch.inference_mode()
def _copy_state(dst, src) -> None:
    """Copy a StreamState's changing parts in place (no allocation)."""
    for name, value in src.__dict__.items():
        if isinstance(value, torch.Tensor):
            getattr(dst, name).copy_(value)
        elif isinstance(value, int):
            setattr(dst, name, value)


class Accompanist:
    """A :class:`~accomp.engine.engine.StepPlayer` backed by a student."""

    def __init__(self, student, style: np.ndarray, *, bar_steps: int = 16, seed: int = 0, header: dict | None = None,
                 harmony: Harmony | None = None, steps_per_beat: int = DEFAULT_SPEC.steps_per_beat) -> None:
        self.student = student
        self.header = header or {}
        self.style = np.asarray(style, dtype=np.float32)
        self.bar_steps = bar_steps
        self.seed = seed
        self.device = next(student.parameters()).device
        self.device_timings: dict[str, float] = {}  # --device auto: median step seconds per device tried
        k = student.cfg.n_keys
        self._lead = torch.zeros(2, k, device=self.device)
        self._noise = torch.zeros(2, k, device=self.device)
        self._generator = torch.Generator(device=self.device)
        self._frame = np.zeros((2, k), dtype=np.uint8)
        self.harmony = harmony or Harmony(None, None)
        self.steps_per_beat = steps_per_beat  # the beat the planner decides a chord on (set_meter)
        self.chart_steps = steps_per_beat  # a chord chart's beat, a 1/den note (set_meter)
        self._chart: np.ndarray | None = None  # the chart's chord per beat, while one plays
        self.plan = None
        if self.harmony.planner is not None:
            self.plan = PlannerStream(self.harmony.planner, self.style, steps_per_beat, DEFAULT_SPEC.lowest_pitch, k)
        self._chord = torch.zeros(CHORD_FEATURES, device=self.device)
        self._guard = torch.zeros(k, device=self.device)
        self._heard = np.zeros((2, k), dtype=np.uint8)  # the previous step's lead, counted into the plan at the next step
        self.chord = NO_CHORD
        self.revised = False
        self._beat_in_bar = -1  # the last step's place in the bar (-1: none since the reset)
        self.fixed_plan = None  # a whole-song plan (accomp render --whole-song) instead of the live planner
        self.plan_loops = False  # a chart's plan: played round and round, the planner bypassed
        self.chord_log: list[tuple[int, int]] | None = None  # render --chords: (step, chord) at each beat
        self.held: tuple[int, int, bool] | None = None  # arranger mode: (chord, tonic, minor) the left hand named
        self.guides = GuideTones(DEFAULT_SPEC.lowest_pitch, k,  # chord tones the part leaves out (accomp.model.voicing)
                                 melody_third=doubles_melody_third(student.cfg.styles, self.style),
                                 root=sounds_root(student.cfg.styles, self.style))
        self._key = (0, False)  # the chord's key (tonic, minor), for the guard and the added tones
        self.state = student.init_state(self.style, bar_steps)
        with torch.inference_mode():
            self._backup = self.state.copy()
        self._backup_ahead = False  # whether _backup already holds the state the next step starts from

    @classmethod
    def from_preset(cls, path: str | os.PathLike, *, device: str = "cpu", bar_steps: int = 16, seed: int = 0,
                    guard: float | None = None) -> "Accompanist":
        """The preset's student on ``device``: the CPU unless asked, since one streaming step
        (batch 1, a few dozen small kernels) measured slower on a GPU (H200: p50 1.6-2.3 ms)
        than on one CPU thread (0.6-1.2 ms), before the copy back that each step needs.
        ``auto``: whichever of the CPU and a CUDA GPU (when there is one) runs this preset's
        step faster on this machine, measured here (:func:`fastest`).
        ``guard`` overrides the preset's guard strength (0: off)."""
        from accomp.model.preset import load_preset, resolve_preset

        resolved = resolve_preset(str(path)) if not Path(path).is_file() else Path(path)

        def build(name: str) -> "Accompanist":
            student, header = load_preset(resolved, pick_device(name))
            weights = np.asarray(header["style"]["weights"], dtype=np.float32)
            harmony = load_harmony(header, resolved, student.cfg.styles, chords=student.cfg.chords, guard=guard)
            return cls(student, weights, bar_steps=bar_steps, seed=seed, header=header, harmony=harmony)

        if device != "auto":
            return build(device)
        candidates = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        return fastest({name: (lambda name=name: build(name)) for name in candidates})[0]

    def time_steps(self, steps: int = PROBE_STEPS) -> float:
        """Median seconds of one step as the engine calls it (the model, the plan and the copy
        back), on silence after a warm-up; the stream starts afresh afterwards."""
        self.warm_up()
        lead = np.zeros_like(self._frame)
        times = []
        for step in range(steps):
            started = time.perf_counter()
            self.step(step, lead, step % self.bar_steps)
            times.append(time.perf_counter() - started)
        self.reset()
        return float(np.median(times))

    def set_meter(self, meter: tuple[int, int]) -> None:
        """Play in ``meter`` (between steps, never inside one): the beat the planner decides a
        chord on (a compound meter's dotted quarter, :func:`~accomp.config.chord_beat_steps`),
        a chord chart's beat (the 1/den note its bars are counted in; a chart already given is
        laid out again) and the bar, which the student's stream takes at the next :meth:`reset`."""
        spb = DEFAULT_SPEC.steps_per_beat
        self.bar_steps = meter_bar_steps(meter, spb)
        self.steps_per_beat = chord_beat_steps(meter, spb)
        self.chart_steps = note_steps(meter[1], spb)
        if self.plan is not None:
            self.plan.steps_per_beat = self.steps_per_beat
        if self._chart is not None:
            self.play_chart(self._chart)

    def take_setup(self, other: "Accompanist") -> None:
        """What ``other``, the player this one replaces mid-play (a preset switch), was told
        before play began: the key and a chord chart (the engine gives it the meter and a
        chord the left hand holds). Not while the engine calls this player."""
        if self.plan is None or other.plan is None:
            return
        self.tell_key(other.plan.hint)
        self.play_chart(other._chart)

    @property
    def delay(self) -> int:
        """Look-ahead frames the student needs (the engine runs with none)."""
        return int(self.student.delay)

    def reset(self) -> None:
        """A fresh stream: step 0 is the first bar's first step; the noise starts over."""
        _copy_state(self.state, self.student.init_state(self.style, self.bar_steps))
        self._backup_ahead = False
        self._generator.manual_seed(self.seed)
        if self.plan is not None:
            self.plan.reset()
        self._heard[:] = 0
        self._beat_in_bar = -1
        self._chord.zero_()
        self._guard.zero_()
        self.chord, self.revised = NO_CHORD, False
        self.guides.reset()

    def warm_up(self, steps: int = WARMUP_STEPS) -> None:
        """Run a few dummy steps (first calls are slow), then start the stream afresh."""
        self._lead.zero_()
        with torch.inference_mode():
            for _ in range(steps):
                self._noise.normal_(generator=self._generator)
                self.student.step(self.state, self._lead, self._noise)
        self.reset()

    def step(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """The accompaniment frame of grid step ``step`` (the next one), given its lead frame.

        The student's position follows the engine's step, so its beat-in-bar matches the
        transport's even when this accompanist starts mid-play (a preset switch).
        """
        self.state.position = step
        self._beat_in_bar = beat_in_bar
        if self._backup_ahead:  # copied between steps (the state has not moved since)
            self._backup.position = step
        else:
            _copy_state(self._backup, self.state)
        self._backup_ahead = False
        self.guides.mark()
        with torch.inference_mode():
            self._noise.normal_(generator=self._generator)
        if self.plan is not None:
            self.plan.hear(self._heard)
            self._heard[:] = lead
            self.revised = False
            p = self.fixed_plan
            if self.plan_loops:  # a chart: its chord on each of its beats
                on_beat = beat_in_bar % self.chart_steps == 0
                if on_beat:
                    at = step % len(p.chords)
                    self._set_chord(int(p.chords[at]), int(p.tonic[at]), bool(p.minor[at]))
            else:
                on_beat = beat_in_bar % self.steps_per_beat == 0
                if on_beat:
                    self._set_chord(self.plan.decide(lead, beat_in_bar))
                    if p is not None and len(p.chords):  # a whole song's: its last chord holds past the melody
                        at = min(step, len(p.chords) - 1)
                        self._set_chord(int(p.chords[at]), int(p.tonic[at]), bool(p.minor[at]))
            if self.held is not None:
                self._set_chord(*self.held)
            if self.chord_log is not None and on_beat:
                self.chord_log.append((step, self.chord))
        return self._run(lead)

    def between_steps(self) -> None:
        """Work for the next beat that can wait until this step's notes are out and its grace
        window has closed (the engine's scheduler calls it then, as often as it wakes): the
        planner's next state; and when the next step starts a beat the planner decides, that
        beat's chord for each first note it may bring (:meth:`PlannerStream.anticipate`), so
        that the beat's step only looks it up. First, the backup a re-decision of the next step
        would start from: the state as it stands now, which no step changes before that one."""
        if not self._backup_ahead:
            _copy_state(self._backup, self.state)
            self._backup_ahead = True
        if self.plan is None:
            return
        self.plan.prepare()
        upcoming = (self._beat_in_bar + 1) % self.bar_steps
        if upcoming % self.steps_per_beat == 0 and not self.plan_loops:
            self.plan.anticipate(self._heard, upcoming)

    def hold_chord(self, chord: int | None) -> None:
        """Arranger mode: play ``chord`` from the next step (from the open one if it is
        re-decided) until another is named, in the key its tones suggest (for the guard),
        over the planner and any chart; None: back to them."""
        if chord is None:
            self.held = None
            return
        if self.plan is None:
            raise SettingsError("arranger mode needs a preset that follows a chord plan (this one's teacher has none)")
        tonic, minor = keys_of(CHROMA[[chord]])
        self.held = (int(chord), int(tonic[0]), bool(minor[0]))

    def may_revise(self, step: int, beat_in_bar: int) -> bool:
        """Whether a late lead onset may still change ``step``'s chord: at a beat's first step
        while the planner decides live (not a chart's, a whole song's or a held chord)."""
        return (self.plan is not None and self.fixed_plan is None and self.held is None
                and beat_in_bar % self.steps_per_beat == 0)  # fmt: skip

    def chord_after(self, step: int) -> int | None:
        """The chord the next beat after ``step`` will have, where it is known in advance (a
        chart); None when the planner decides it on that beat."""
        p = self.fixed_plan
        if p is None or not self.plan_loops:
            return None
        at = (step // self.chart_steps + 1) * self.chart_steps
        return int(p.chords[at % len(p.chords)])

    def tell_key(self, hint: KeyHint | None) -> None:
        """The key the band is told before the lead comes in (``--key``, a MIDI file's key
        signature; None: it hears the key): the live planner's key tracker starts from it, now
        and at every reset. Not while the engine calls this player."""
        if self.plan is not None:
            self.plan.hint = hint
            self.plan.reset()

    def play_chart(self, chords_per_beat: np.ndarray | None) -> None:
        """Follow a chord chart (its chord per beat, from the first bar on, round and round)
        instead of the planner; None goes back to the planner."""
        if chords_per_beat is None:
            self.fixed_plan, self.plan_loops, self._chart = None, False, None
            return
        if self.plan is None:
            raise SettingsError("a chord chart needs a preset that follows a chord plan (this one's teacher has none)")
        self.fixed_plan, self.plan_loops = chart_plan(chords_per_beat, self.chart_steps), True
        self._chart = np.asarray(chords_per_beat)

    def redo(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """The last step again, from the state before it and with the same noise; at a beat's
        first step the planner may revise the beat's chord from the late note."""
        _copy_state(self.state, self._backup)
        self._backup_ahead = False
        self.guides.undo()
        if self.plan is not None:
            self._heard[:] = lead
            if beat_in_bar % self.steps_per_beat == 0 and self.fixed_plan is None:
                self._set_chord(self.plan.decide(lead, beat_in_bar, revise=True))
                self.revised = self.revised or self.plan.revised
            if self.held is not None:
                self._set_chord(*self.held)
            if self.chord_log and self.chord_log[-1][0] == step:
                self.chord_log[-1] = (step, self.chord)
        return self._run(lead)

    def _set_chord(self, chord: int, tonic: int | None = None, minor: bool | None = None) -> None:
        self.chord = chord
        self._chord.copy_(self._chord_table[chord])
        tonic = self.plan.tonic if tonic is None else tonic
        minor = self.plan.minor if minor is None else minor
        self._key = (tonic, minor)
        if self.harmony.guard is not None:
            self._guard.copy_(torch.from_numpy(self.harmony.guard.offsets(chord, tonic, minor)))

    @property
    def _chord_table(self) -> torch.Tensor:
        table = getattr(self, "_table", None)
        if table is None:
            table = self._table = chord_tensor(np.arange(N_CHORDS), self.device)
        return table

    @torch.inference_mode()
    def _run(self, lead: np.ndarray) -> np.ndarray:
        self._lead.copy_(torch.from_numpy(lead))
        if self.plan is None:
            _, frame = self.student.step(self.state, self._lead, self._noise)
        else:
            guard = self._guard if self.harmony.guard is not None else None
            _, frame = self.student.step(self.state, self._lead, self._noise, self._chord, guard)
        self._frame[:] = frame.cpu().numpy() if frame.device.type != "cpu" else frame.numpy()
        if self.plan is not None:
            self.guides.apply(self._frame, self.chord, named=self.plan_loops or self.held is not None, tonic=self._key[0],
                              minor=self._key[1], lead=lead)  # fmt: skip
        return self._frame


def fastest(builders: dict) -> tuple["Accompanist", dict[str, float]]:
    """``--device auto``: build the accompanist on each candidate device (name -> builder),
    time its step (:meth:`Accompanist.time_steps`) and keep the fastest; the timings (median
    seconds per device) are kept on it as ``device_timings``. One candidate is not timed."""
    if len(builders) == 1:
        return next(iter(builders.values()))(), {}
    timings, best = {}, None
    for name, build in builders.items():
        candidate = build()
        timings[name] = candidate.time_steps()
        if best is None or timings[name] < timings[best[0]]:
            best = (name, candidate)
    best[1].device_timings = timings
    return best[1], timings
