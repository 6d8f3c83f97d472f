"""Lock-free single-producer/single-consumer rings over preallocated numpy arrays.

One thread writes, one thread reads. Each side owns its own position counter (a plain int
that only grows), so neither ever waits: the producer publishes data by storing a new write
position after the data, and the consumer frees space by storing a new read position. An
int attribute store is atomic under CPython, which is all the ordering this needs.

Nothing here allocates arrays once built; the callbacks use only the in-place methods
(:meth:`AudioRing.write`, :meth:`AudioRing.pull`, :meth:`EventRing.push`,
:meth:`EventRing.head`). Overflow (producer found no room) and underrun (consumer found too
little) are counted, never raised; an event ring keeps room for every note-off it owes, so
what overflows is never the end of a note.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accomp.realtime.notes import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    CONTROL,
    CUT,
    N_CHANNELS,
    N_KEYS,
    NOTE_OFF,
    NOTE_ON,
    RETRACT,
)

NO_EVENT = 1 << 62  # head time of an empty EventRing: later than any sample time
OPEN_NOTES_MAX = 1024  # an event ring's reserve: notes (and pedals) it can hold open at once
PART_SLOTS = 8  # parts an event ring tells apart in its open-notes table (part & PART_MASK)
PART_MASK = PART_SLOTS - 1
PEDALS = PART_SLOTS * N_CHANNELS * N_KEYS  # where the open table's sustain pedals begin
ENDING_CONTROLS = (CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF)


class AudioRing:
    """Frames of float32 audio, ``(capacity, channels)``."""

    def __init__(self, capacity: int, channels: int) -> None:
        if capacity < 1 or channels < 1:
            raise ValueError("an audio ring needs a positive capacity and channel count")
        self.capacity = capacity
        self.channels = channels
        self._buf = np.zeros((capacity, channels), dtype=np.float32)
        self._w = 0  # frames ever written (producer only)
        self._r = 0  # frames ever read (consumer only)
        self.overflows = 0  # frames the producer had to drop (producer only)
        self.underruns = 0  # frames the consumer filled with zeros (consumer only)

    def available(self) -> int:
        return self._w - self._r

    def write(self, frames: np.ndarray) -> int:
        """Copy ``frames`` (n, channels) in; what does not fit is dropped and counted."""
        n = frames.shape[0]
        free = self.capacity - (self._w - self._r)
        if n > free:
            self.overflows += n - free
            n = free
        i = self._w % self.capacity
        first = min(n, self.capacity - i)
        self._buf[i : i + first] = frames[:first]
        if n > first:
            self._buf[: n - first] = frames[first:n]
        self._w += n
        return n

    def read(self, out: np.ndarray) -> int:
        """Copy up to ``len(out)`` frames into ``out``; returns how many (no underrun count)."""
        n = min(out.shape[0], self._w - self._r)
        i = self._r % self.capacity
        first = min(n, self.capacity - i)
        out[:first] = self._buf[i : i + first]
        if n > first:
            out[first:n] = self._buf[: n - first]
        self._r += n
        return n

    def pull(self, out: np.ndarray) -> None:
        """Fill ``out`` completely: missing frames become zeros and count as underruns."""
        n = self.read(out)
        if n < out.shape[0]:
            out[n:] = 0.0
            self.underruns += out.shape[0] - n


class EventRing:
    """Timestamped MIDI-like events as fixed-size records (struct of arrays).

    A record is ``(time, part, status, data1, data2)``: ``time`` in samples of the engine's
    sample clock, ``part`` the index of the part it belongs to (lead, accomp, click, ...),
    ``status`` a MIDI status byte (channel nibble included) or an engine code.

    **A note-off is never dropped.** Besides ``capacity`` records of any kind, the ring keeps
    ``reserve`` more slots that only endings may take, and the producer keeps a table of the
    notes (and sustain pedals) it let in that have not been ended yet: *open*. A note-on or
    pedal-down gets in only while fewer than ``capacity`` records are queued and fewer than
    ``reserve`` are open; an ending of an open note (note-off, velocity-0 note-on,
    :data:`~accomp.realtime.notes.RETRACT`, pedal-up) always gets in; any other ending gets in
    only while it leaves room for every open one. So ``free slots >= open`` holds at every
    push: when the ring is full, new note-ons give way first.

    Besides the data, a ring carries a *flush request*: any thread may call
    :meth:`request_flush`; the consumer, seeing it in :meth:`take_flush`, drops everything
    queued so far and silences what came from this ring (see :mod:`accomp.realtime.notes`).
    """

    def __init__(self, capacity: int = 4096, *, reserve: int = OPEN_NOTES_MAX) -> None:
        if capacity < 1 or reserve < 1:
            raise ValueError("an event ring needs a positive capacity and reserve")
        self.capacity = capacity
        self.reserve = reserve
        size = capacity + reserve
        self._size = size
        self.time = np.zeros(size, dtype=np.int64)
        self.part = np.zeros(size, dtype=np.int16)
        self.status = np.zeros(size, dtype=np.uint8)
        self.data1 = np.zeros(size, dtype=np.uint8)
        self.data2 = np.zeros(size, dtype=np.uint8)
        # Memoryviews of the same arrays: indexing them reads and writes plain ints, with no
        # numpy scalar made per field (what the callbacks use).
        self.time_mv = memoryview(self.time)
        self.part_mv = memoryview(self.part)
        self.status_mv = memoryview(self.status)
        self.data1_mv = memoryview(self.data1)
        self.data2_mv = memoryview(self.data2)
        self._w = 0
        self._r = 0
        self.overflows = 0  # records dropped because the ring was full (producer only)
        self.refused_note_ons = 0  # note-ons that gave way to keep room for note-offs (producer only)
        # Producer only: 1 per (part slot, channel, key) let in and not ended; pedals after the keys.
        self._open = bytearray(PART_SLOTS * N_CHANNELS * (N_KEYS + 1))
        self._n_open = 0
        self._flush_asked = 0
        self._flush_done = 0

    def __len__(self) -> int:
        return self._w - self._r

    def push(self, time: int, part: int, status: int, data1: int = 0, data2: int = 0) -> bool:
        """Append one record; False (and counted) when it found no room (see the class docstring)."""
        queued = self._w - self._r
        kind = status & 0xF0
        if kind == NOTE_ON or kind == NOTE_OFF or status == RETRACT:
            channel = 0 if status == RETRACT else status & 0x0F
            slot = ((part & PART_MASK) * N_CHANNELS + channel) * N_KEYS + (data1 & 0x7F)
            starts = kind == NOTE_ON and data2 > 0
        elif kind == CONTROL and data1 == CC_SUSTAIN:
            slot = PEDALS + (part & PART_MASK) * N_CHANNELS + (status & 0x0F)
            starts = data2 >= 64
        else:
            slot, starts = -1, False
        if starts:
            if queued >= self.capacity or (not self._open[slot] and self._n_open >= self.reserve):
                self.overflows += 1
                self.refused_note_ons += 1
                return False
            if not self._open[slot]:
                self._open[slot] = 1
                self._n_open += 1
        elif slot >= 0 and self._open[slot]:  # ends an open note: free slots >= open notes, so it fits
            self._open[slot] = 0
            self._n_open -= 1
        elif slot >= 0 or status == CUT or (kind == CONTROL and data1 in ENDING_CONTROLS):
            if queued >= self._size - self._n_open:  # an ending nothing waits for: never takes an open note's room
                self.overflows += 1
                return False
        elif queued >= self.capacity:
            self.overflows += 1
            return False
        i = self._w % self._size
        self.time_mv[i] = time
        self.part_mv[i] = part
        self.status_mv[i] = status
        self.data1_mv[i] = data1
        self.data2_mv[i] = data2
        self._w += 1  # publish after the data
        return True

    def head(self) -> int:
        """Array index of the oldest record, or -1 when empty. Read its fields, then :meth:`advance`."""
        if self._w == self._r:
            return -1
        return self._r % self._size

    def head_time(self) -> int:
        """Sample time of the oldest record, or :data:`NO_EVENT` when empty."""
        if self._w == self._r:
            return NO_EVENT
        return self.time_mv[self._r % self._size]

    def advance(self) -> None:
        if self._r < self._w:
            self._r += 1

    def pop(self) -> tuple[int, int, int, int, int] | None:
        """The oldest record as a tuple (for non-real-time consumers), or None."""
        i = self.head()
        if i < 0:
            return None
        record = (self.time_mv[i], self.part_mv[i], self.status_mv[i], self.data1_mv[i], self.data2_mv[i])
        self._r += 1
        return record

    def request_flush(self) -> None:
        """Ask the consumer to drop what is queued and silence this ring's notes (any thread)."""
        self._flush_asked += 1

    def take_flush(self) -> bool:
        """Consumer: True once per flush request, after dropping every queued record."""
        asked = self._flush_asked
        if asked == self._flush_done:
            return False
        self._r = self._w
        self._flush_done = asked
        return True


def earliest(rings: Sequence[EventRing]) -> int:
    """Index of the ring whose oldest record is due first (the first of equals), -1 when all
    are empty. Allocates nothing: what the callbacks and the engine use to merge rings."""
    best, when = -1, NO_EVENT
    for i, ring in enumerate(rings):
        t = ring.head_time()
        if t < when:
            best, when = i, t
    return best
