"""How far a long offline job has got, as one line on stderr: ``listening 12:00 / 60:00``.

:class:`Progress` is called with the sample reached (by :func:`~accomp.engine.offline.run_offline`,
once per block) and writes its line at the start, every :data:`EVERY_S` seconds of wall
clock, and at the end. On a terminal the line is rewritten in place; elsewhere (a log, a
pipe) each update is a line of its own.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVERY_S = 3.0


def clock_time(seconds: float) -> str:
    """``m:ss`` (``h:mm:ss`` from an hour on)."""
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    def __init__(self, what: str, total_samples: int, sample_rate: int, *, stream: TextIO | None = None,
                 every_s: float = EVERY_S) -> None:  # fmt: skip
        self.what = what
        self.total = max(0, total_samples)
        self.sample_rate = sample_rate
        self.stream = sys.stderr if stream is None else stream
        self.every_s = every_s
        self._in_place = self.stream.isatty()
        self._next = 0.0  # the wall-clock time of the next line; the first call writes one
        self._done = False

    def __call__(self, sample: int) -> None:
        now = time.monotonic()
        if now >= self._next and not self._done:
            self._next = now + self.every_s
            self._write(min(sample, self.total))

    def done(self) -> None:
        """The last line: the whole length reached."""
        if not self._done:
            self._write(self.total)
            self._done = True
            if self._in_place:
                self.stream.write("\n")
                self.stream.flush()

    def _write(self, sample: int) -> None:
        line = f"{self.what} {clock_time(sample / self.sample_rate)} / {clock_time(self.total / self.sample_rate)}"
        self.stream.write(f"\r{line}\x1b[K" if self._in_place else line + "\n")
        self.stream.flush()
