"""The rhythm section: bass and drums on the engine's step grid (issue 18).

The engine calls :meth:`RhythmSection.decide` right after it decided an accompaniment step,
with the sample that step's notes go to: bass and drums are scheduled at the same sample,
so they follow the transport (tempo changes, follow mode) exactly as the accompaniment
does. Per 16th of the bar the drum pattern (:mod:`accomp.music.drums`) says which keys to
strike and the bass pattern (:mod:`accomp.music.bass`) which degree of the step's chord to
play; the chord is the one the player plans for the beat (a chart's, where one plays),
else the accompaniment's lowest voice.

Every note gets its note-off: each is given its length when it starts and waits in a table
of deferred note-offs (pushed, earliest first, as their time comes within the engine's
look-ahead); a key struck again while it sounds ends first; :meth:`end` (stop, panic, a
preset switch) ends all at once. Bass and drums go to their own rings (synth, MIDI out),
which stay in time order, and to the engine's record ring as parts :data:`BASS` and
:data:`DRUMS`.
"""

from __future__ import annotations

import numpy as np

from accomp.engine.parts import BASS, DRUMS, Record
from accomp.engine.transport import Transport
from accomp.music.band import Band
from accomp.music.bass import BASS_CHANNEL, bass_pattern, bass_pitch
from accomp.music.chords import NO_CHORD, quality_of, root_of
from accomp.music.drums import COMPOUND, DRUM_CHANNEL, drum_pattern, hits, meter_feel, ring_16ths
from accomp.realtime.notes import CUT, NOTE_OFF, NOTE_ON
from accomp.realtime.rings import EventRing

NO_DUE = 1 << 62
ROWS = (BASS, DRUMS)  # row 0: bass keys, row 1: drum keys


class RhythmSection:
    def __init__(self, band: Band, transport: Transport, synth: EventRing, midi: EventRing | None, record: Record) -> None:
        self.band = band
        self.transport = transport
        # In a compound meter (6/8, 9/8, 12/8) the feels written in quarter notes would put the
        # snare and the bass's fifth on the third and fifth eighths: the band plays its six-eight;
        # in 3/4 a feel written for four beats plays the waltz (drums.meter_feel).
        spb = transport.settings.steps_per_beat
        compound = transport.chord_beat != spb
        beats, odd = divmod(transport.steps_per_bar, transport.chord_beat)  # felt beats (7/8: 3 and an eighth, not a waltz)
        beats = 0 if odd else beats
        self.drums = drum_pattern(meter_feel(band.drums, beats, compound)) if band.drums is not None else None
        if compound:
            feel = COMPOUND
        elif band.bass_feel is None and self.drums is not None:
            feel = self.drums.bass  # the feel the drums play in this meter
        else:
            feel = band.feel
        self.bass = bass_pattern(feel) if band.bass else None
        self._bar_16ths = transport.steps_per_bar * 4 // spb
        self._beat_16ths = transport.chord_beat * 4 // spb  # where a chord may change
        self._synth = synth
        self._midi = midi  # None: MIDI out carries the clock only
        self._record = record
        self._channel = (BASS_CHANNEL, DRUM_CHANNEL)
        self._due = np.full((2, 128), NO_DUE, dtype=np.int64)  # deferred note-off per key
        self._sounding = np.zeros((2, 128), dtype=bool)
        self._off_at = np.full((2, 128), -1, dtype=np.int64)  # sample of each key's last note-off pushed
        self._last_at = 0  # the rings stay in time order
        self._chord: tuple[int, str | None] | None = None  # (root, quality) the bass plays now
        self._chord_before: tuple[int, str | None] | None = None  # ... before the latest step
        self._bass_key = -1  # the bass's latest note (pitch) and its step
        self._bass_step = -1
        self.bass_waits = -1  # a step whose bass note waits, as the accompaniment's, for the beat's lead note

    @property
    def playing(self) -> bool:
        return self.bass is not None or self.drums is not None

    def next_due(self) -> int:
        return int(self._due.min())

    # ------------------------------------------------------------------ per step

    def decide(self, step: int, at: int, chord: int | None, next_chord: int | None, lowest: int,
               velocity: int, level: float, *, bass_waits: bool = False) -> None:  # fmt: skip
        """Schedule step ``step``'s bass and drums at sample ``at``: ``chord`` is the player's
        chord of the beat (None: it plans none), ``next_chord`` the next beat's where known,
        ``lowest`` the accompaniment's lowest pitch class (-1: silent), ``velocity`` the
        accompaniment's at this step and ``level`` its unaccented dynamics. ``bass_waits``: the
        accompaniment's notes wait for the beat's lead note (the chord may still change), and so
        does the bass note (:meth:`redo` or :meth:`release_bass` plays it): a proposal's root
        struck and replaced a moment later was a bass note of a few milliseconds."""
        sixteenth = self._sixteenth(step)
        self.push_due(at)
        self._chord_before = self._chord
        if sixteenth < 0:
            return
        if self.drums is not None:
            bar = step // self.transport.steps_per_bar
            for key, weight in hits(self.drums, sixteenth, bar, self._bar_16ths):
                self._strike(1, key, at, min(127, max(1, round(level * weight))), self._after(step, ring_16ths(key)))
        if self.bass is None:
            return
        if bass_waits:
            self.bass_waits = step
        else:
            self._play_bass(step, sixteenth, at, chord, next_chord, lowest, velocity)

    def redo(self, step: int, at: int, chord: int | None, next_chord: int | None, lowest: int, velocity: int,
             *, bass_waits: bool = False) -> None:  # fmt: skip
        """The step was decided again: a bass note that waited for it plays now (unless it
        waits on: ``bass_waits``); else, where the chord changed, the bass plays the new one."""
        sixteenth = self._sixteenth(step)
        if self.bass is None or sixteenth < 0:
            return
        if self.bass_waits == step:
            if not bass_waits:
                self.release_bass(step, at, chord, next_chord, lowest, velocity)
            return
        if _harmony(chord, lowest) == self._chord:
            return
        self.push_due(at)
        if self._bass_step == step and self._sounding[0, self._bass_key]:
            self._push(0, at, NOTE_OFF, self._bass_key, 0)
        self._chord = self._chord_before
        self._play_bass(step, sixteenth, at, chord, next_chord, lowest, velocity)

    def release_bass(self, step: int, at: int, chord: int | None, next_chord: int | None, lowest: int, velocity: int) -> None:
        """The wait for step ``step``'s lead note is over (it came, or the wait ran out): its
        bass note, over the chord decided now, from ``at``."""
        if self.bass_waits != step:
            return
        self.bass_waits = -1
        self.push_due(at)
        self._play_bass(step, self._sixteenth(step), at, chord, next_chord, lowest, velocity)

    def _play_bass(self, step: int, sixteenth: int, at: int, chord: int | None, next_chord: int | None,
                   lowest: int, velocity: int) -> None:  # fmt: skip
        harmony = _harmony(chord, lowest)
        if harmony is None:
            return
        degree, length = self.bass.at(sixteenth)
        if self._chord is None or (harmony != self._chord and sixteenth % self._beat_16ths == 0):
            degree = "R"  # a new chord starts on its root
        if degree is None:
            return
        length = min(length, self._bar_16ths - sixteenth % self._bar_16ths)
        root, quality = harmony
        next_root = root_of(next_chord) if next_chord is not None and next_chord != NO_CHORD else None
        pitch = bass_pitch(degree, root, quality, next_root)
        if self._bass_key >= 0 and self._bass_key != pitch and self._sounding[0, self._bass_key]:
            self._push(0, at, NOTE_OFF, self._bass_key, 0)  # one voice: the note before ends here
        self._strike(0, pitch, at, velocity, self._after(step, length))
        self._chord, self._bass_key, self._bass_step = harmony, pitch, step

    def _sixteenth(self, step: int) -> int:
        """The 16th of the bar ``step`` falls on, or -1 (between 16ths, or the count-in)."""
        spb = self.transport.settings.steps_per_beat
        in_bar = self.transport.beat_in_bar(step)
        if step < 0 or (in_bar * 4) % spb:
            return -1
        return in_bar * 4 // spb

    def _after(self, step: int, sixteenths: int) -> int:
        return self.transport.step_sample(step + sixteenths * self.transport.settings.steps_per_beat / 4)

    # ------------------------------------------------------------------ notes

    def _strike(self, row: int, key: int, at: int, velocity: int, due: int) -> None:
        if self._sounding[row, key]:
            self._push(row, at, NOTE_OFF, key, 0)
        self._push(row, at, NOTE_ON, key, velocity)
        self._due[row, key] = max(due, self._last_at + 1)

    def push_due(self, until: int) -> None:
        """Push the deferred note-offs due at or before ``until``, earliest first."""
        due = self._due
        while True:
            i = int(due.argmin())
            row, key = divmod(i, 128)
            if due[row, key] > until:
                return
            self._push(row, int(due[row, key]), NOTE_OFF, key, 0)

    def _push(self, row: int, at: int, kind: int, key: int, velocity: int) -> None:
        self._last_at = at = max(at, self._last_at)
        if kind == NOTE_ON:
            self._sounding[row, key] = True
        else:
            self._sounding[row, key], self._due[row, key], self._off_at[row, key] = False, NO_DUE, at
        part, status = ROWS[row], kind | self._channel[row]
        self._synth.push(at, part, status, key, velocity)
        if self._midi is not None:
            self._midi.push(at, part, status, key, velocity)
        self._record(at, part, status, key, velocity)

    def end(self, cut: int) -> None:
        """End every note at once (from ``cut`` on nothing scheduled sounds; the engine flushes
        the rings): the recording ends them at ``cut``."""
        for row, part in enumerate(ROWS):
            self._record(cut, part, CUT, 0, 0)
            for key in np.flatnonzero(self._sounding[row] | (self._off_at[row] >= cut)):
                self._record(cut, part, NOTE_OFF | self._channel[row], int(key), 0)
                self._off_at[row, key] = cut
        self._sounding[:] = False
        self._due[:] = NO_DUE
        self._chord = self._chord_before = None
        self._bass_key = self._bass_step = self.bass_waits = -1


def _harmony(chord: int | None, lowest: int) -> tuple[int, str | None] | None:
    """(root, quality) the bass plays over: the planned chord, else the lowest voice's pitch class."""
    if chord is not None and chord != NO_CHORD:
        return root_of(chord), quality_of(chord)
    return (lowest, None) if lowest >= 0 else None
