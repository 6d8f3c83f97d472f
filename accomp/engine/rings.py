"""Lock-free single-producer/single-consumer rings over preallocated numpy arrays.

One thread writes, one thread reads. Each side owns its own position counter (a plain int
that only grows), so neither ever waits: the producer publishes data by storing a new write
position after the data, and the consumer frees space by storing a new read position. An
int attribute store is atomic under CPython, which is all the ordering this needs.

Nothing here allocates arrays once built; the callbacks use only the in-place methods
(:meth:`AudioRing.write`, :meth:`AudioRing.pull`, :meth:`EventRing.push`,
:meth:`EventRing.head`). Overflow (producer found no room) and underrun (consumer found too
little) are counted, never raised.
"""

from __future__ import annotations

import numpy as np

NO_EVENT = 1 << 62  # head time of an empty EventRing: later than any sample time


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

    Besides the data, a ring carries a *flush request*: any thread may call
    :meth:`request_flush`; the consumer, seeing it in :meth:`take_flush`, drops everything
    queued so far and silences what came from this ring (see :mod:`accomp.engine.notes`).
    """

    def __init__(self, capacity: int = 4096) -> None:
        if capacity < 1:
            raise ValueError("an event ring needs a positive capacity")
        self.capacity = capacity
        self.time = np.zeros(capacity, dtype=np.int64)
        self.part = np.zeros(capacity, dtype=np.int16)
        self.status = np.zeros(capacity, dtype=np.uint8)
        self.data1 = np.zeros(capacity, dtype=np.uint8)
        self.data2 = np.zeros(capacity, dtype=np.uint8)
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
        self._flush_asked = 0
        self._flush_done = 0

    def __len__(self) -> int:
        return self._w - self._r

    def push(self, time: int, part: int, status: int, data1: int = 0, data2: int = 0) -> bool:
        """Append one record; False (and counted) when the ring is full."""
        if self._w - self._r >= self.capacity:
            self.overflows += 1
            return False
        i = self._w % self.capacity
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
        return self._r % self.capacity

    def head_time(self) -> int:
        """Sample time of the oldest record, or :data:`NO_EVENT` when empty."""
        if self._w == self._r:
            return NO_EVENT
        return self.time_mv[self._r % self.capacity]

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
