"""The accompaniment's notes: a decided frame in, note events out.

:meth:`AccompVoice.play` turns the frame ``(2, K)`` of a step (onset, sustain per key) into
note-ons and note-offs at one sample, written to the synth's ring, MIDI out's ring (unless
MIDI out carries the clock only) and the recording; the rings stay in time order.

No glitches: an accompaniment note, once started, sounds at least a 32nd note (half a grid
step at 4 steps per beat). When a re-decision or the next step ends it sooner, its note-off
waits until then (a deferred note-off, pushed by :meth:`push_due` as its time comes within
the engine's look-ahead); when one strikes it again sooner, it rings on instead. A key struck
by an earlier decision of the same step is not struck again. :meth:`end` (stop, panic,
preset switch) ends every note at once.
"""

from __future__ import annotations

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.engine.parts import ACCOMP, Record
from accomp.engine.settings import EngineSettings
from accomp.engine.transport import Transport
from accomp.realtime.notes import CUT, NOTE_OFF, NOTE_ON
from accomp.realtime.rings import EventRing

NO_DUE = 1 << 62  # a key without a deferred note-off


class AccompVoice:
    def __init__(self, settings: EngineSettings, transport: Transport, synth: EventRing, midi: EventRing | None,
                 record: Record) -> None:  # fmt: skip
        self.transport = transport
        self._lowest = settings.spec.lowest_pitch
        self._channel = settings.accomp_channel
        self._synth = synth
        self._midi = midi  # None: MIDI out carries the clock only
        self._record = record
        k = settings.spec.n_keys
        self.sounding = np.zeros(k, dtype=bool)  # keys on, as scheduled (note-off not pushed)
        self._on_at = np.zeros(k, dtype=np.int64)  # sample of each sounding key's note-on
        self._off_due = np.full(k, NO_DUE, dtype=np.int64)  # deferred note-off of a key (NO_DUE: none)
        self._off_at = np.full(k, -1, dtype=np.int64)  # sample of each key's last note-off pushed
        self._prev_sustain = np.zeros(k, dtype=bool)  # sustain of the step before the open one
        self._open_sustain = np.zeros(k, dtype=bool)  # sustain of the open step, as decided
        self._struck_at = np.full(k, -(1 << 30), dtype=np.int64)  # step of each key's last onset
        self._last_at = 0  # last sample time pushed (the rings stay in time order)

    def next_step(self) -> None:
        """A new step is open: the one before it is final."""
        self._prev_sustain[:] = self._open_sustain
        self._open_sustain[:] = False

    def play(self, step: int, frame: np.ndarray, at: int, velocity: int) -> int:
        """Turn the accompaniment frame of ``step`` into note events at sample ``at`` (a note
        ended before it sounded a 32nd ends later); returns how many events and sounding notes
        there are from then (0: silence, nothing to hear)."""
        self.push_due(at)  # note-offs deferred until ``at`` go first: the rings stay in time order
        onset = frame[ONSET].astype(bool)
        sustain = frame[SUSTAIN].astype(bool) | onset
        struck_now = self._struck_at == step  # struck by an earlier decision of this same step
        strike = onset & ~struck_now
        end = self.sounding & (strike | ~sustain)
        # Sustain switching on without an onset starts a note too (as roll_to_notes decodes);
        # sustain merely going on (say after a panic ended the note) does not.
        start = strike | (sustain & ~onset & ~self._prev_sustain & ~self.sounding)
        self._open_sustain[:] = sustain
        self._off_due[sustain & ~end] = NO_DUE  # held on after all: a deferred note-off is taken back
        when = max(at, self._last_at)
        shortest = self._shortest()
        for key in np.flatnonzero(end):
            due = int(self._on_at[key]) + shortest
            if when >= due:
                self._push(at, NOTE_OFF, key, 0)
            elif start[key]:  # struck again before it sounded a 32nd: it rings on
                start[key] = False
                self._off_due[key] = NO_DUE
            else:  # it ends once it has sounded a 32nd
                self._off_due[key] = due
        for key in np.flatnonzero(start):
            self._push(at, NOTE_ON, key, velocity)
        self._struck_at[strike] = step
        self._struck_at[struck_now & ~onset] = -(1 << 30)
        return int(end.sum() + start.sum() + self.sounding.sum())

    def _shortest(self) -> int:
        """The shortest accompaniment note in samples: a 32nd (half a step of 16ths)."""
        return max(1, int(self.transport.samples_per_step * self.transport.settings.steps_per_beat) // 8)

    def next_due(self) -> int:
        """The sample of the earliest deferred note-off (``NO_DUE``: none)."""
        return int(self._off_due.min())

    def push_due(self, until: int) -> None:
        """Push the deferred note-offs due at or before ``until``, earliest first."""
        due = self._off_due
        while True:
            key = int(due.argmin())
            if due[key] > until:
                return
            self._push(int(due[key]), NOTE_OFF, key, 0)

    def lowest(self, frame: np.ndarray) -> int:
        """The pitch class of the frame's lowest sounding key (-1: silent)."""
        keys = np.flatnonzero(frame[SUSTAIN] | frame[ONSET])
        return self.pitch(keys[0]) % 12 if len(keys) else -1

    def end(self, cut: int) -> None:
        """Every note ends at ``cut`` (the sinks drop what is still queued: nothing scheduled
        from the first block not rendered yet sounds, so the recording ends there too; a
        note-off queued from the cut on is dropped with the rest: it is recorded at the cut)."""
        self._record(cut, ACCOMP, CUT, 0, 0)
        for key in np.flatnonzero(self.sounding | (self._off_at >= cut)):
            self._record(cut, ACCOMP, NOTE_OFF, self.pitch(key), 0)
            self._off_at[key] = cut  # a second cut in the same block (panic, then stop) records it again
        self.sounding[:] = False
        self._off_due[:] = NO_DUE

    def pitch(self, key: int) -> int:
        return self._lowest + int(key)

    def _push(self, at: int, kind: int, key: int, velocity: int) -> None:
        pitch = self.pitch(key)
        self._last_at = at = max(at, self._last_at)
        if kind == NOTE_ON:
            self.sounding[key], self._on_at[key] = True, at
        else:
            self.sounding[key], self._off_due[key], self._off_at[key] = False, NO_DUE, at
        self._synth.push(at, ACCOMP, kind, pitch, velocity)
        if self._midi is not None:
            self._midi.push(at, ACCOMP, kind | self._channel, pitch, velocity)
        self._record(at, ACCOMP, kind, pitch, velocity)
