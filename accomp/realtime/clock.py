"""Sample clocks: the engine's one notion of time is a count of audio samples.

Live, the audio callback is the clock's source: at the start of every block it publishes the
sample position of that block and the ``time.perf_counter()`` reading of the moment, and
every other thread interpolates from the latest pair (MIDI input stamps incoming notes this
way). The pair is published with a sequence lock so a reader never mixes two blocks.
Offline, :class:`OfflineClock` is simply set by the driver, so simulated time is exact.
"""

from __future__ import annotations

import time


class SampleClock:
    """Live clock fed by the audio callback; read from any thread."""

    def __init__(self, sample_rate: int, block_frames: int) -> None:
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self._seq = 0  # odd while the callback writes
        self._sample = 0
        self._t = time.perf_counter()
        self._running = False

    def publish(self, sample: int, t: float) -> None:
        """Audio callback: block starting at ``sample`` is being rendered at ``t``."""
        self._seq += 1
        self._sample = sample
        self._t = t
        self._seq += 1
        self._running = True

    def _pair(self) -> tuple[int, float]:
        while True:
            seq = self._seq
            sample, t = self._sample, self._t
            if seq % 2 == 0 and seq == self._seq:
                return sample, t

    def sample_at(self, t: float) -> int:
        """Sample time of the ``perf_counter`` reading ``t``.

        Between callbacks time runs on from the last block; it is held within one block of
        it so a stalled callback does not let the clock run away.
        """
        sample, t0 = self._pair()
        if not self._running:
            return sample
        ahead = round((t - t0) * self.sample_rate)
        return sample + max(-self.block_frames, min(ahead, 2 * self.block_frames))

    def now(self) -> int:
        return self.sample_at(time.perf_counter())

    def seconds_until(self, sample: int) -> float:
        """Wall-clock seconds from now until ``sample`` is reached (negative when past)."""
        return (sample - self.now()) / self.sample_rate


class OfflineClock:
    """Simulated time: the offline driver sets it; nothing else moves it."""

    def __init__(self, sample_rate: int, block_frames: int) -> None:
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self.sample = 0

    def now(self) -> int:
        return self.sample

    def sample_at(self, t: float) -> int:
        return self.sample

    def seconds_until(self, sample: int) -> float:
        return (sample - self.sample) / self.sample_rate
