"""The engine: lead input -> grid steps -> a step player -> note events ahead of their time.

One code path for live play and simulated time. Whoever drives the engine (the live worker
thread in :mod:`accomp.engine.live`, or the offline loop in :mod:`accomp.engine.offline`)
calls :meth:`Engine.poll` with the current sample time, whenever lead input has arrived
and at the latest at the sample :meth:`Engine.poll` returned. The only time the engine reads
is the sample clock it is given (live: the one the audio callback drives, to know how long
a model step took; offline: none, a step takes no simulated time), which is what makes
simulated time exact and deterministic.

Per grid step ``k`` (starting at sample ``S_k``):

1. At ``S_k - lookahead`` the engine builds the lead frame of step ``k`` (onsets of lead
   notes quantised to ``k`` so far, and the keys held) and asks the player for the
   accompaniment frame of step ``k``; its notes are scheduled at ``S_k``.
2. A lead onset that quantises to ``k`` but comes late (a player is never exactly on the
   grid), by no more than ``grace``, re-decides the step (:meth:`StepPlayer.redo`, from the
   state before step ``k``); what changed is scheduled at once: ``slack`` into the first
   block not rendered yet. A later onset counts for the next undecided step. A note heard in
   the audio input reaches the engine some time after it began (the analysis needs a few
   milliseconds of it), so the step stays *open* for ``heard_grace`` more.

Lead input comes from MIDI (:meth:`Engine.receive`, the MIDI callback's ring) and from the
audio input's analyser (:meth:`Engine.receive_heard`, the analysis thread's ring: the
player hears their instrument, so those notes are not sent to the synth); both are drained
in time order. The analyser starts a note from a first guess at its pitch and may take the
guess back (:data:`~accomp.realtime.notes.RETRACT`, then the right note-on): the engine then
forgets the guessed onset, and re-decides its step while it is open. In follow mode a
:class:`~accomp.listen.follow.Follower` sees every lead onset and steers the transport;
while it rests (the player went quiet), decisions are silent.

No glitches: an accompaniment note, once started, sounds at least a 32nd note (half a grid
step at 4 steps per beat). When a re-decision or the next step ends it sooner, its note-off
waits until then (pushed ``lookahead`` ahead of its time, as a step's notes are, so the rings
stay in time order); when one strikes it again sooner, it rings on instead. Stop, panic and
preset switches still end every note at once.

The rhythm section (:mod:`accomp.engine.rhythm`, parts ``BASS`` and ``DRUMS``, none unless the
settings' :class:`~accomp.music.band.Band` asks) is scheduled with each decided step, at the
same sample as its accompaniment, over the chord the player planned for the beat; a
re-decision that changes the chord changes the bass. The recording also gets the chords: a
``CHORD`` event at each beat whose chord differs from the one before (the take's markers).

Dynamics: the accompaniment plays ``ACCOMP_UNDER_LEAD`` (87 %) of a running estimate of the
lead's velocity (an exponential moving average of its note-ons, ``LEAD_LEVEL_RATE`` per
note; before the first one, the level that gives ``accomp_velocity``), accented by where
the step falls: ``DOWNBEAT_ACCENT`` louder on a bar's first step, ``OFFBEAT_SOFTER`` softer
between beats, clamped to 1..127. Live and offline alike.

The engine is the only producer of its output rings and the only caller of the player.
Every sink (synth, MIDI out, recorder) keeps its own table of what it has sounded, so a
flush (stop, panic, preset switch) always ends every note.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from accomp.config import DEFAULT_SPEC, ONSET, SUSTAIN, FrameSpec
from accomp.music.band import Band
from accomp.music.chords import NO_CHORD
from accomp.music.fingering import recognise
from accomp.realtime.notes import CHORD, CUT, NOTE_OFF, NOTE_ON, PULSE, RETRACT
from accomp.realtime.rings import EventRing, earliest
from accomp.engine.latency import LatencyLog
from accomp.engine.rhythm import BASS, DRUMS, RhythmSection  # noqa: F401 - part indices 3 and 4, after these:
from accomp.engine.transport import Metronome, Transport, TransportSettings

LEAD, ACCOMP, CLICK = 0, 1, 2  # part indices (the synth's DEFAULT_PARTS follow this order, then BASS, DRUMS)
ONSET_SLOTS = 8  # lead onsets kept for this many upcoming steps
MAX_REDOS_PER_STEP = 4  # a flood of late notes cannot make a step re-decide without end
LOG_SIZE = 4096  # recent step timings and lead-note latencies kept for the metrics
NO_DUE = 1 << 62  # a key without a deferred note-off
ACCOMP_UNDER_LEAD = 0.87  # the accompaniment's velocity against the lead's running level
LEAD_LEVEL_RATE = 0.25  # how far each lead note-on moves that level towards its velocity
DOWNBEAT_ACCENT = 6  # velocity added on the first step of a bar
OFFBEAT_SOFTER = 6  # velocity taken off steps between beats


@dataclass(frozen=True)
class EngineSettings:
    sample_rate: int = 48000
    block_frames: int = 128
    transport: TransportSettings = field(default_factory=TransportSettings)
    spec: FrameSpec = DEFAULT_SPEC
    lookahead_ms: float = 2.0  # a step is decided this far ahead of the block that plays it
    grace_ms: float = 30.0  # a late lead onset still changes its step this long after it began
    heard_grace_ms: float = 40.0  # ... and, heard in the audio input, may be told this much later still
    # A re-decided step's notes go this far into the first block not rendered yet. 0: at its
    # start (a decision that loses the race with that block's callback slips one block;
    # the synth counts it as late).
    slack_ms: float = 0.0
    accomp_channel: int = 1  # MIDI out channel of the accompaniment (0-based)
    midi_out_accomp: bool = True  # False: MIDI out carries the clock only
    accomp_velocity: int = 72  # before any lead note is heard; then the lead's dynamics lead
    ring_capacity: int = 8192
    band: Band = field(default_factory=Band)  # the rhythm section: bass and drums (none by default)
    # Arranger mode: MIDI keys below this one name the chord (accomp.music.fingering) and are
    # not the lead; None: off, every key is the lead.
    split_key: int | None = None

    def __post_init__(self) -> None:
        if self.sample_rate < 8000 or self.block_frames < 16:
            raise ValueError("sample rate must be >= 8000 Hz and blocks >= 16 frames")
        if min(self.lookahead_ms, self.grace_ms, self.heard_grace_ms, self.slack_ms) < 0:
            raise ValueError("lookahead, grace and slack must be >= 0 ms")
        if self.split_key is not None and not 1 <= self.split_key <= 127:
            raise ValueError(f"split point {self.split_key} is not a MIDI key with keys below it (1..127)")


class StepPlayer(Protocol):
    """Decides the accompaniment one grid step at a time (the accompanist implements it)."""

    def step(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """Accompaniment frame ``(2, K)`` uint8 of ``step`` given its lead frame ``(2, K)``."""

    def redo(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """Decide the last step again, from the state before it, with an updated lead frame."""

    # Optional: ``chord`` (the chord index of the beat decided last, for the rhythm section
    # and the recording's chord markers) and ``chord_after(step)`` (the next beat's, where
    # known in advance; None otherwise).


@dataclass
class EngineMetrics:
    """A snapshot for the GUI and the end-of-play summary."""

    steps: int
    redos: int
    lead_notes: int
    late_lead_notes: int  # arrived after their step closed: counted for the next step
    lead_corrections: int  # heard notes whose first guess was taken back
    step_ms_p50: float
    step_ms_p99: float
    step_ms_max: float
    ring_overflows: int
    accomp_sounding: int
    plan_revisions: int = 0  # re-decisions after which the player said it changed its chord plan


class Engine:
    def __init__(self, settings: EngineSettings, player: StepPlayer | None = None, clock=None) -> None:
        self.settings = settings
        self.player = player
        # Live, the sample clock: a decision is scheduled from the time after the model step
        # ran, not before it. Offline (None) a step takes no simulated time.
        self.clock = clock
        sr = settings.sample_rate
        self.transport = Transport(settings.transport, sr)
        self.metronome = Metronome(self.transport)
        self.block = settings.block_frames
        # A step is decided before the block that holds it starts rendering, by lookahead_ms.
        self.lookahead = self.block + round(settings.lookahead_ms * sr / 1000)
        self.grace = round(settings.grace_ms * sr / 1000)
        self.open_for = self.grace + round(settings.heard_grace_ms * sr / 1000)  # a step is open this long after it began
        self.slack = round(settings.slack_ms * sr / 1000)
        cap = settings.ring_capacity
        self.lead_in = EventRing(cap)  # MIDI input -> engine
        self.heard_in = EventRing(cap)  # audio input analysis -> engine
        self._lead_rings = (self.lead_in, self.heard_in)  # drained together, in time order
        self.follower = None  # follow mode: a Follower steering the transport from lead onsets
        self.resting = False  # True: decisions are silent (a follower waits for the player)
        self.lead_monitor = EventRing(cap)  # MIDI input -> synth: the player hears themself at once
        self.accomp_synth = EventRing(cap)  # engine -> synth
        self.click_synth = EventRing(cap)  # engine -> synth
        self.accomp_midi = EventRing(cap)  # engine -> MIDI out
        self.clock_midi = EventRing(cap)  # engine -> MIDI out (MIDI clock, start, stop)
        self.band_synth = EventRing(cap)  # engine -> synth (bass and drums)
        self.band_midi = EventRing(cap)  # engine -> MIDI out (bass and drums)
        self.record = EventRing(cap)  # engine -> recorder (every part, the chords)
        self.recording = True  # False: nobody drains ``record`` (a live session without a recorder)
        self.synth_inputs = (self.lead_monitor, self.accomp_synth, self.click_synth, self.band_synth)
        self.midi_out_inputs = (self.accomp_midi, self.band_midi, self.clock_midi)
        self.rhythm = self._rhythm_section(settings.band)
        self._marked = NO_CHORD  # the chord the recording was last told
        k = settings.spec.n_keys
        self._onsets = np.zeros((ONSET_SLOTS, k), dtype=np.uint8)
        self._held = np.zeros(k, dtype=np.uint8)
        self._lead = np.zeros((2, k), dtype=np.uint8)  # lead frame of the open step
        self._silence = np.zeros((2, k), dtype=np.uint8)  # what a resting engine plays
        self._sounding = np.zeros(k, dtype=bool)  # accompaniment keys on, as scheduled (note-off not pushed)
        self._on_at = np.zeros(k, dtype=np.int64)  # sample of each sounding key's note-on
        self._off_due = np.full(k, NO_DUE, dtype=np.int64)  # deferred note-off of a key (NO_DUE: none)
        self._off_at = np.full(k, -1, dtype=np.int64)  # sample of each key's last note-off pushed
        self._lead_level = settings.accomp_velocity / ACCOMP_UNDER_LEAD  # running lead velocity
        self._prev_sustain = np.zeros(k, dtype=bool)  # sustain of the step before the open one
        self._open_sustain = np.zeros(k, dtype=bool)  # sustain of the open step, as decided
        self._struck_at = np.full(k, -(1 << 30), dtype=np.int64)  # step of each key's last onset
        self._placed_at = np.full(k, -1, dtype=np.int64)  # sample time of each key's latest lead onset
        self._placed_step = np.zeros(k, dtype=np.int64)  # the step it counts for
        self._next_step = -self.transport.count_in_steps
        self._open_step: int | None = None
        self._open_redos = 0
        self._redo_wanted = False
        self._last_at = 0  # last sample time pushed to the accompaniment rings (they stay in time order)
        self._step_s = np.zeros(LOG_SIZE, dtype=np.float64)
        self._n_steps = 0
        self.redos = 0
        self.lead_notes = 0
        self.late_lead_notes = 0
        self.lead_corrections = 0
        self.plan_revisions = 0
        self.latency = LatencyLog(LOG_SIZE)  # per lead onset taken into account: when it was heard
        self._pending_notes: list[tuple[int, int]] = []  # (sample, pitch) of onsets awaiting their decision
        self._chord_keys = np.zeros(128, dtype=bool)  # arranger mode: keys held below the split point
        self.named_chord = NO_CHORD  # arranger mode: the chord the left hand named last

    # ------------------------------------------------------------------ input (any producer)

    def receive(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead MIDI message stamped with its sample time (the MIDI input's one producer)."""
        if status & 0xF0 == NOTE_ON and data2 == 0:
            status = NOTE_OFF | (status & 0x0F)
        self.lead_in.push(time, LEAD, status, data1, data2)
        split = self.settings.split_key
        if split is None or status & 0xE0 != NOTE_OFF or data1 >= split:  # chord keys do not sound themselves
            self.lead_monitor.push(time, LEAD, status, data1, data2)

    def receive_heard(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead note (or a :data:`PULSE`) the audio analysis heard (its one producer): stamped
        with the sample it began, delivered when the analyser could tell."""
        self.heard_in.push(time, LEAD, status, data1, data2)

    # ------------------------------------------------------------------ control

    def start(self, now: int) -> None:
        """Start the transport (a follower waiting for the player's first note starts it then)."""
        if self.follower is not None and self.follower.state == "waiting":
            return
        self.start_at(now + self.lookahead)

    def start_at(self, sample: int) -> None:
        """Start the transport with the count-in's first step (or step 0) at ``sample``."""
        self.transport.start(sample)
        self._next_step = -self.transport.count_in_steps
        self._marked = NO_CHORD

    def _rhythm_section(self, band: Band) -> RhythmSection:
        midi = self.band_midi if self.settings.midi_out_accomp else None
        return RhythmSection(band, self.transport, self.band_synth, midi, self._record)

    def set_band(self, band: Band, now: int) -> None:
        """Change the rhythm section (bass, drums, feel): while playing, its notes so far all end first."""
        if self.transport.running:
            self.rhythm.end(self._unrendered(now))
            self.band_synth.request_flush()
            self.band_midi.request_flush()
        last_at, self.rhythm = self.rhythm._last_at, self._rhythm_section(band)
        self.rhythm._last_at = last_at  # its rings stay in time order

    def set_player(self, player: StepPlayer | None, now: int) -> None:
        """Switch the player (a preset switch): its predecessor's notes all end first."""
        self._end_accomp(now)
        self.player = player
        self._open_step = None
        if self.named_chord != NO_CHORD and hasattr(player, "hold_chord"):
            player.hold_chord(self.named_chord)

    def stop(self, now: int) -> None:
        """Stop the transport and end every note this engine scheduled (sinks flush)."""
        self.metronome.stop(now, self._push_clock)
        self.transport.stop()
        self._end_accomp(now)
        self.click_synth.request_flush()
        self.lead_monitor.request_flush()
        self._open_step = None

    def _end_accomp(self, now: int) -> None:
        # The sinks drop what is still queued: nothing scheduled from the first block not
        # rendered yet sounds, so the recording ends there too (a note-off queued from the cut
        # on is dropped with the rest: it is recorded at the cut).
        cut = self._unrendered(now)
        self._record(cut, ACCOMP, CUT, 0, 0)
        for key in np.flatnonzero(self._sounding | (self._off_at >= cut)):
            self._record(cut, ACCOMP, NOTE_OFF, self._pitch(key), 0)
            self._off_at[key] = cut  # a second cut in the same block (panic, then stop) records it again
        self._sounding[:] = False
        self._off_due[:] = NO_DUE
        self.rhythm.end(cut)
        for ring in (self.accomp_synth, self.accomp_midi, self.band_synth, self.band_midi):
            ring.request_flush()

    # ------------------------------------------------------------------ the one code path

    def poll(self, now: int) -> int:
        """Do everything due at sample ``now``; returns the sample of the next thing due."""
        self._drain_lead(now)
        t = self.transport
        if self.follower is not None:
            self.follower.update(now)
        if not t.running:
            return now + t.sample_rate
        while now >= t.step_sample(self._next_step) - self.lookahead:
            self._decide(self._next_step, now)
            self._next_step += 1
        if self._open_step is not None and now > t.step_sample(self._open_step) + self.open_for:
            self._open_step = None
        if self._redo_wanted:
            self._redo(now)
        self._push_due(now + self.lookahead)
        self.rhythm.push_due(now + self.lookahead)
        horizon = now + self.lookahead + t.sample_rate // 100
        self.metronome.schedule(horizon, self._push_click, self._push_clock)
        due = min(int(self._off_due.min()), self.rhythm.next_due())
        wake = min(t.step_sample(self._next_step), horizon, due) - self.lookahead
        if self._open_step is not None:
            wake = min(wake, t.step_sample(self._open_step) + self.open_for + 1)
        return max(wake, now + 1)

    def _next_lead(self, now: int) -> EventRing | None:
        """The lead ring whose oldest event is the earliest due at ``now`` (MIDI or heard)."""
        r = earliest(self._lead_rings)
        if r < 0:
            return None
        ring = self._lead_rings[r]
        return ring if ring.head_time() <= now else None

    def _drain_lead(self, now: int) -> None:
        spec = self.settings.spec
        t = self.transport
        while True:
            ring = self._next_lead(now)
            if ring is None:
                return
            i = ring.head()
            when, status, pitch, velocity = ring.time_mv[i], ring.status_mv[i], ring.data1_mv[i], ring.data2_mv[i]
            ring.advance()
            kind = status & 0xF0
            if self.follower is not None and (status == PULSE or (kind == NOTE_ON and velocity > 0)):
                self.follower.onset(when, now)
            if status == PULSE:
                continue
            self._record(when, LEAD, status, pitch, velocity)
            split = self.settings.split_key
            if split is not None and kind in (NOTE_ON, NOTE_OFF) and pitch < split:
                self._name_chord(when, pitch, kind == NOTE_ON)
                continue
            key = pitch - spec.lowest_pitch
            if status == RETRACT and 0 <= key < spec.n_keys:
                self._retract(when, pitch, key)
                continue
            if kind not in (NOTE_ON, NOTE_OFF) or not 0 <= key < spec.n_keys:
                continue
            if kind == NOTE_OFF:
                self._held[key] = 0
                continue
            self._held[key] = 1
            self.lead_notes += 1
            self._lead_level += LEAD_LEVEL_RATE * (velocity - self._lead_level)
            if not t.running:
                continue
            step = math.floor(t.position(when) + 0.5)  # nearest grid step
            in_grace = step == self._open_step and when <= t.step_sample(step) + self.grace
            if in_grace and self._open_redos < MAX_REDOS_PER_STEP:
                self._lead[ONSET, key] = 1
                self._lead[SUSTAIN, key] = 1
                self._redo_wanted = True
                self._pending_notes.append((when, pitch))
                self._placed_at[key], self._placed_step[key] = when, step
                continue
            if step < self._next_step:
                self.late_lead_notes += 1
                step = self._next_step
            if step < self._next_step + ONSET_SLOTS:
                self._onsets[step % ONSET_SLOTS, key] = 1
                self._pending_notes.append((when, pitch))
                self._placed_at[key], self._placed_step[key] = when, step

    def _name_chord(self, when: int, pitch: int, down: bool) -> None:
        """Arranger mode: a key below the split point went down or up. A new chord named goes
        to the player from the next step, or from the open one (re-decided) when it came
        within the grace window, as a late lead note does; a chord released keeps sounding."""
        self._chord_keys[pitch] = down
        if not down:
            return
        chord = recognise(np.flatnonzero(self._chord_keys).tolist())
        hold = getattr(self.player, "hold_chord", None)
        if chord is None or chord == self.named_chord or hold is None:
            return
        self.named_chord = chord
        hold(chord)
        t, step = self.transport, self._open_step
        if t.running and step is not None and step >= 0 and when <= t.step_sample(step) + self.grace:
            if self._open_redos < MAX_REDOS_PER_STEP:
                self._redo_wanted = True

    def _retract(self, when: int, pitch: int, key: int) -> None:
        """Forget the lead onset of ``key`` at ``when`` (a first guess the analyser took back):
        out of its step's lead frame if that step is open (re-decided now) or still to come."""
        self._held[key] = 0
        self.lead_notes -= 1
        self.lead_corrections += 1
        if (when, pitch) in self._pending_notes:
            self._pending_notes.remove((when, pitch))
        if self._placed_at[key] != when:
            return
        self._placed_at[key] = -1
        step = int(self._placed_step[key])
        if step == self._open_step:
            self._lead[ONSET, key] = 0
            self._lead[SUSTAIN, key] = 0
            self._redo_wanted = True
        elif step >= self._next_step:
            self._onsets[step % ONSET_SLOTS, key] = 0

    def _decide(self, step: int, now: int) -> None:
        slot = step % ONSET_SLOTS
        self._lead[ONSET] = self._onsets[slot]
        self._lead[SUSTAIN] = self._held | self._onsets[slot]
        self._onsets[slot] = 0
        self._open_step, self._open_redos, self._redo_wanted = step, 0, False
        self._prev_sustain[:] = self._open_sustain
        self._open_sustain[:] = False
        if self.player is None or step < 0:
            self._pending_notes.clear()
            return
        started = time.perf_counter()
        frame = self.player.step(step, self._lead, self.transport.beat_in_bar(step))
        frame = self._silence if self.resting else frame
        at = max(self.transport.step_sample(step), self._earliest(self._after(now)))
        self._schedule(step, frame, at, now, started, redo=False)
        self._with_band(step, frame, at, redo=False)

    def _after(self, now: int) -> int:
        return now if self.clock is None else max(now, self.clock.now())

    def _unrendered(self, now: int) -> int:
        """The first sample not rendered yet: live, the block after the one holding the clock's
        now; offline, ``now`` rounded up to a block (the driver renders block ``b`` after the
        polls up to ``b``)."""
        if self.clock is None:
            return -(-now // self.block) * self.block
        return self._earliest(self._after(now))

    def _earliest(self, now: int) -> int:
        """The first sample not rendered yet at ``now``: blocks start at multiples of the block
        size, and the block holding ``now`` was rendered when it began."""
        return (now // self.block + 1) * self.block

    def _redo(self, now: int) -> None:
        self._redo_wanted = False
        step = self._open_step
        if self.player is None or step is None or step < 0:
            self._pending_notes.clear()
            return
        self._open_redos += 1
        self.redos += 1
        started = time.perf_counter()
        frame = self.player.redo(step, self._lead, self.transport.beat_in_bar(step))
        revised = bool(getattr(self.player, "revised", False))
        self.plan_revisions += revised
        frame = self._silence if self.resting else frame
        at = max(self.transport.step_sample(step), self._earliest(self._after(now)) + self.slack)
        self._schedule(step, frame, at, now, started, redo=True, revised=revised)
        self._with_band(step, frame, at, redo=True)

    def _with_band(self, step: int, frame: np.ndarray, at: int, *, redo: bool) -> None:
        """The step's chord to the recording (a marker where it changes) and the rhythm
        section's notes at ``at``, over the player's chord (see :mod:`accomp.engine.rhythm`)."""
        if self.resting:
            return
        chord = getattr(self.player, "chord", None)
        t = self.transport
        if chord is not None and t.beat_in_bar(step) % t.settings.steps_per_beat == 0 and chord != self._marked:
            self._record(t.step_sample(step), ACCOMP, CHORD, int(chord), 0)
            self._marked = chord
        if not self.rhythm.playing:
            return
        ahead = getattr(self.player, "chord_after", None)
        next_chord = ahead(step) if ahead is not None else None
        keys = np.flatnonzero(frame[SUSTAIN] | frame[ONSET])
        lowest = self._pitch(keys[0]) % 12 if len(keys) else -1
        if redo:
            self.rhythm.redo(step, at, chord, next_chord, lowest, self._velocity(step))
        else:
            self.rhythm.decide(step, at, chord, next_chord, lowest, self._velocity(step), self._lead_level * ACCOMP_UNDER_LEAD)

    def _schedule(self, step: int, frame: np.ndarray, at: int, now: int, started: float, *, redo: bool,
                  revised: bool = False) -> None:  # fmt: skip
        """Turn the accompaniment frame of ``step`` into note events at sample ``at`` (a note
        ended before it sounded a 32nd ends later; see the module docstring)."""
        compute = time.perf_counter() - started
        self._step_s[self._n_steps % LOG_SIZE] = compute
        self._n_steps += 1
        self._push_due(at)  # note-offs deferred until ``at`` go first: the rings stay in time order
        onset = frame[ONSET].astype(bool)
        sustain = frame[SUSTAIN].astype(bool) | onset
        struck_now = self._struck_at == step  # struck by an earlier decision of this same step
        strike = onset & ~struck_now
        end = self._sounding & (strike | ~sustain)
        # Sustain switching on without an onset starts a note too (as roll_to_notes decodes);
        # sustain merely going on (say after a panic ended the note) does not.
        start = strike | (sustain & ~onset & ~self._prev_sustain & ~self._sounding)
        self._open_sustain[:] = sustain
        self._off_due[sustain & ~end] = NO_DUE  # held on after all: a deferred note-off is taken back
        when = max(at, self._last_at)
        shortest = self._shortest()
        for key in np.flatnonzero(end):
            due = int(self._on_at[key]) + shortest
            if when >= due:
                self._push_accomp(at, NOTE_OFF, key, 0)
            elif start[key]:  # struck again before it sounded a 32nd: it rings on
                start[key] = False
                self._off_due[key] = NO_DUE
            else:  # it ends once it has sounded a 32nd
                self._off_due[key] = due
        velocity = self._velocity(step)
        for key in np.flatnonzero(start):
            self._push_accomp(at, NOTE_ON, key, velocity)
        self._struck_at[strike] = step
        self._struck_at[struck_now & ~onset] = -(1 << 30)
        audible = int(end.sum() + start.sum() + self._sounding.sum())  # 0: silence, nothing to hear
        for note_time, pitch in self._pending_notes:
            self.latency.add(note_time, now, compute, at, audible, pitch, redo, revised)
        self._pending_notes.clear()

    def _shortest(self) -> int:
        """The shortest accompaniment note in samples: a 32nd (half a step of 16ths)."""
        return max(1, int(self.transport.samples_per_step * self.transport.settings.steps_per_beat) // 8)

    def _velocity(self, step: int) -> int:
        """The accompaniment's velocity at ``step``: under the lead's running level, accented
        on the bar's first step and softer between beats (see the module docstring)."""
        t = self.transport
        level = self._lead_level * ACCOMP_UNDER_LEAD
        in_bar = t.beat_in_bar(step)
        if in_bar == 0:
            level += DOWNBEAT_ACCENT
        elif in_bar % t.settings.steps_per_beat:
            level -= OFFBEAT_SOFTER
        return min(127, max(1, round(level)))

    def _push_due(self, until: int) -> None:
        """Push the deferred note-offs due at or before ``until``, earliest first."""
        due = self._off_due
        while True:
            key = int(due.argmin())
            if due[key] > until:
                return
            self._push_accomp(int(due[key]), NOTE_OFF, key, 0)

    def _pitch(self, key: int) -> int:
        return self.settings.spec.lowest_pitch + int(key)

    def _push_accomp(self, at: int, kind: int, key: int, velocity: int) -> None:
        pitch = self._pitch(key)
        self._last_at = at = max(at, self._last_at)
        if kind == NOTE_ON:
            self._sounding[key], self._on_at[key] = True, at
        else:
            self._sounding[key], self._off_due[key], self._off_at[key] = False, NO_DUE, at
        self.accomp_synth.push(at, ACCOMP, kind, pitch, velocity)
        if self.settings.midi_out_accomp:
            self.accomp_midi.push(at, ACCOMP, kind | self.settings.accomp_channel, pitch, velocity)
        self._record(at, ACCOMP, kind, pitch, velocity)

    def _record(self, at: int, part: int, status: int, data1: int, data2: int) -> None:
        if self.recording:
            self.record.push(at, part, status, data1, data2)

    def _push_click(self, at: int, status: int, data1: int, data2: int) -> None:
        self.click_synth.push(at, CLICK, status, data1, data2)

    def _push_clock(self, at: int, status: int, data1: int, data2: int) -> None:
        self.clock_midi.push(at, CLICK, status, data1, data2)

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> EngineMetrics:
        n = min(self._n_steps, LOG_SIZE)
        ms = np.sort(self._step_s[:n]) * 1000 if n else np.zeros(1)
        rings = (self.lead_in, self.heard_in, self.lead_monitor, self.accomp_synth, self.click_synth,
                 self.accomp_midi, self.clock_midi, self.record, self.band_synth, self.band_midi)  # fmt: skip
        return EngineMetrics(
            steps=self._n_steps - self.redos,
            redos=self.redos,
            lead_notes=self.lead_notes,
            late_lead_notes=self.late_lead_notes,
            lead_corrections=self.lead_corrections,
            step_ms_p50=float(np.percentile(ms, 50)),
            step_ms_p99=float(np.percentile(ms, 99)),
            step_ms_max=float(ms[-1]),
            ring_overflows=sum(r.overflows for r in rings),
            accomp_sounding=int(self._sounding.sum()),
            plan_revisions=self.plan_revisions,
        )

