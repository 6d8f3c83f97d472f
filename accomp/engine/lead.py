"""The engine's lead input: what the player played, per grid step.

Lead input comes from MIDI (:meth:`LeadInput.receive`, the MIDI callback's ring) and from the
audio input's analyser (:meth:`LeadInput.receive_heard`, the analysis thread's ring: the
player hears their instrument, so those notes are not sent to the synth); :meth:`drain`, on
the engine's thread, takes both in time order (the one ``earliest`` helper).

A note-on counts for the nearest grid step. The scheduler decides steps in order: each takes
its lead frame with :meth:`open` (the onsets kept for it, ``ONSET_SLOTS`` steps ahead at
most, and the keys held) and stays *open* while late onsets may still change it. An onset
that quantises to the open step and comes within ``grace`` of its start joins that step's
frame and asks for a re-decision (:attr:`redo_wanted`, ``MAX_REDOS_PER_STEP`` at most); a
later one counts for the next undecided step (``late_lead_notes``).

The analyser starts a note from a first guess at its pitch and may take the guess back
(:data:`~accomp.realtime.notes.RETRACT`, then the right note-on): the onset is forgotten,
and its step re-decided while it is open. In arranger mode (``split_key``) the keys below the
split point name a chord, which goes to the player (re-deciding the open step within the
grace window, as a late lead note does); they are recorded but are not the lead. In follow
mode the follower sees every onset (and every :data:`PULSE`).

A key whose note-off never comes would hold its lead note for good: the keyboard's own
panic (all notes off, CC 123, or all sound off, CC 120) and the app's (:meth:`release_held`,
from :meth:`~accomp.engine.engine.Engine.panic`) let every key up.

Dynamics: :attr:`level` is a running estimate of the lead's velocity, an exponential moving
average of its note-ons (``LEAD_LEVEL_RATE`` per note).

Every onset taken into account waits in :attr:`pending` (sample, pitch) until the decision
that answers it writes its latency row.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.engine.parts import LEAD, Record
from accomp.engine.settings import EngineSettings
from accomp.engine.transport import Transport
from accomp.music.chords import NO_CHORD
from accomp.music.fingering import recognise
from accomp.realtime.notes import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, CONTROL, NOTE_OFF, NOTE_ON, PULSE, RETRACT
from accomp.realtime.rings import EventRing, earliest

ONSET_SLOTS = 8  # lead onsets kept for this many upcoming steps
MAX_REDOS_PER_STEP = 4  # a flood of late notes cannot make a step re-decide without end
LEAD_LEVEL_RATE = 0.25  # how far each lead note-on moves the running level towards its velocity


class LeadInput:
    def __init__(self, settings: EngineSettings, transport: Transport, grace: int, level: float, record: Record,
                 hold_chord: Callable[[int], bool]) -> None:  # fmt: skip
        """``grace``: samples after a step's start that an onset still changes it; ``level``:
        the running velocity before any note; ``hold_chord``: gives the player an arranger
        chord (False: this player takes none)."""
        self.spec = settings.spec
        self.split_key = settings.split_key
        self.transport = transport
        self.grace = grace
        cap = settings.ring_capacity
        self.midi_in = EventRing(cap)  # MIDI input -> engine
        self.heard_in = EventRing(cap)  # audio input analysis -> engine
        self.monitor = EventRing(cap)  # MIDI input -> synth: the player hears themself at once
        self._rings = (self.midi_in, self.heard_in)  # drained together, in time order
        self._record = record
        self._hold_chord = hold_chord
        self.follower = None  # follow mode: a Follower steering the transport from lead onsets
        k = self.spec.n_keys
        self._onsets = np.zeros((ONSET_SLOTS, k), dtype=np.uint8)
        self._held = np.zeros(k, dtype=np.uint8)
        self.frame = np.zeros((2, k), dtype=np.uint8)  # lead frame of the open step
        self._placed_at = np.full(k, -1, dtype=np.int64)  # sample time of each key's latest lead onset
        self._placed_step = np.zeros(k, dtype=np.int64)  # the step it counts for
        self.next_step = -transport.count_in_steps  # the first step not decided yet
        self.open_step: int | None = None  # the step decided last, while late onsets may change it
        self.open_redos = 0  # re-decisions of the open step so far
        self.redo_wanted = False
        self.level = level  # running lead velocity
        self.pending: list[tuple[int, int]] = []  # (sample, pitch) of onsets awaiting their decision
        self._chord_keys = np.zeros(128, dtype=bool)  # arranger mode: keys held below the split point
        self.named_chord = NO_CHORD  # arranger mode: the chord the left hand named last
        self.lead_notes = 0
        self.late_lead_notes = 0  # arrived after their step closed: counted for the next step
        self.lead_corrections = 0  # heard notes whose first guess was taken back

    # ------------------------------------------------------------------ producers

    def receive(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead MIDI message stamped with its sample time (the MIDI input's one producer)."""
        if status & 0xF0 == NOTE_ON and data2 == 0:
            status = NOTE_OFF | (status & 0x0F)
        self.midi_in.push(time, LEAD, status, data1, data2)
        split = self.split_key
        if split is None or status & 0xE0 != NOTE_OFF or data1 >= split:  # chord keys do not sound themselves
            self.monitor.push(time, LEAD, status, data1, data2)

    def receive_heard(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead note (or a :data:`PULSE`) the audio analysis heard (its one producer): stamped
        with the sample it began, delivered when the analyser could tell."""
        self.heard_in.push(time, LEAD, status, data1, data2)

    # ------------------------------------------------------------------ the scheduler's side

    def open(self, step: int) -> np.ndarray:
        """The lead frame ``(2, K)`` of ``step`` (its onsets and the keys held), which becomes
        the open step."""
        slot = step % ONSET_SLOTS
        self.frame[ONSET] = self._onsets[slot]
        self.frame[SUSTAIN] = self._held | self._onsets[slot]
        self._onsets[slot] = 0
        self.open_step, self.open_redos, self.redo_wanted = step, 0, False
        return self.frame

    def close(self) -> None:
        """No step is open: later onsets count for the next undecided step."""
        self.open_step = None

    # ------------------------------------------------------------------ consumer (the engine's thread)

    def _next(self, now: int) -> EventRing | None:
        """The lead ring whose oldest event is the earliest due at ``now`` (MIDI or heard)."""
        r = earliest(self._rings)
        if r < 0:
            return None
        ring = self._rings[r]
        return ring if ring.head_time() <= now else None

    def drain(self, now: int) -> None:
        """Take every lead event due at ``now``, in time order."""
        spec = self.spec
        t = self.transport
        while True:
            ring = self._next(now)
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
            split = self.split_key
            if split is not None and kind in (NOTE_ON, NOTE_OFF) and pitch < split:
                self._name_chord(when, pitch, kind == NOTE_ON)
                continue
            key = pitch - spec.lowest_pitch
            if status == RETRACT and 0 <= key < spec.n_keys:
                self._retract(when, pitch, key)
                continue
            if kind == CONTROL and pitch in (CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF):
                self.release_held()  # the keyboard's own panic: its keys still down are up
                continue
            if kind not in (NOTE_ON, NOTE_OFF) or not 0 <= key < spec.n_keys:
                continue
            if kind == NOTE_OFF:
                self._held[key] = 0
                continue
            self._held[key] = 1
            self.lead_notes += 1
            self.level += LEAD_LEVEL_RATE * (velocity - self.level)
            if t.running:
                self._place(when, pitch, key)

    def _place(self, when: int, pitch: int, key: int) -> None:
        """An onset into the open step's frame (within the grace window) or into the slot of
        the step it counts for."""
        t = self.transport
        step = math.floor(t.position(when) + 0.5)  # nearest grid step
        in_grace = step == self.open_step and when <= t.step_sample(step) + self.grace
        if in_grace and self.open_redos < MAX_REDOS_PER_STEP:
            self.frame[ONSET, key] = 1
            self.frame[SUSTAIN, key] = 1
            self.redo_wanted = True
            self.pending.append((when, pitch))
            self._placed_at[key], self._placed_step[key] = when, step
            return
        if step < self.next_step:
            self.late_lead_notes += 1
            step = self.next_step
        if step < self.next_step + ONSET_SLOTS:
            self._onsets[step % ONSET_SLOTS, key] = 1
            self.pending.append((when, pitch))
            self._placed_at[key], self._placed_step[key] = when, step

    def release_held(self) -> None:
        """Every key counts as released: a note-off that never came (a lost message, a keyboard
        unplugged with a key down) no longer holds a lead note for the planner to harmonize.
        Onsets already placed for coming steps stay: they were played."""
        self._held[:] = 0
        self._chord_keys[:] = False

    def chord_hand_up(self) -> bool:
        """Arranger mode, and no key below the split point is held: the hand is between chords,
        and the next may come with the next bar."""
        return self.split_key is not None and not self._chord_keys.any()

    def _name_chord(self, when: int, pitch: int, down: bool) -> None:
        """Arranger mode: a key below the split point went down or up. A new chord named goes
        to the player from the next step, or from the open one (re-decided) when it came
        within the grace window, as a late lead note does; a chord released keeps sounding."""
        self._chord_keys[pitch] = down
        if not down:
            return
        chord = recognise(np.flatnonzero(self._chord_keys).tolist())
        if chord is None or chord == self.named_chord or not self._hold_chord(chord):
            return
        self.named_chord = chord
        t, step = self.transport, self.open_step
        if t.running and step is not None and step >= 0 and when <= t.step_sample(step) + self.grace:
            if self.open_redos < MAX_REDOS_PER_STEP:
                self.redo_wanted = True

    def _retract(self, when: int, pitch: int, key: int) -> None:
        """Forget the lead onset of ``key`` at ``when`` (a first guess the analyser took back):
        out of its step's lead frame if that step is open (re-decided now) or still to come."""
        self._held[key] = 0
        self.lead_notes -= 1
        self.lead_corrections += 1
        if (when, pitch) in self.pending:
            self.pending.remove((when, pitch))
        if self._placed_at[key] != when:
            return
        self._placed_at[key] = -1
        step = int(self._placed_step[key])
        if step == self.open_step:
            self.frame[ONSET, key] = 0
            self.frame[SUSTAIN, key] = 0
            self.redo_wanted = True
        elif step >= self.next_step:
            self._onsets[step % ONSET_SLOTS, key] = 0
