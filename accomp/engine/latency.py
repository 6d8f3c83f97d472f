"""The engine's latency log: one row per lead onset a decision took into account.

Named fields instead of column numbers. The engine's thread is the only writer
(:meth:`LatencyLog.add`); readers (the GUI's timer, the end-of-play summary, benchmarks)
take what was added since they last looked with :meth:`LatencyLog.since`, or all that is
kept with :meth:`LatencyLog.rows`. It keeps the last ``size`` rows.
"""

from __future__ import annotations

import numpy as np

ROW = np.dtype([
    ("note", np.int64),  # sample the lead note began
    ("decided", np.int64),  # sample of the decision that took it into account
    ("model_s", np.float64),  # seconds that decision's model step took
    ("sounds_at", np.int64),  # first sample rendered from the decision
    ("audible", np.int32),  # accompaniment events and notes sounding from then (0: silence, nothing to hear)
    ("pitch", np.int16),
    ("redo", np.bool_),  # a re-decision took it (a late note in the grace window)
    ("revised", np.bool_),  # ... and that re-decision revised the player's chord plan
])  # fmt: skip


class LatencyLog:
    def __init__(self, size: int) -> None:
        self._rows = np.zeros(size, dtype=ROW)
        self.count = 0  # rows ever added

    def add(self, note: int, decided: int, model_s: float, sounds_at: int, audible: int, pitch: int, redo: bool,
            revised: bool) -> None:  # fmt: skip
        self._rows[self.count % len(self._rows)] = (note, decided, model_s, sounds_at, audible, pitch, redo, revised)
        self.count += 1

    def since(self, seen: int) -> tuple[np.ndarray, int]:
        """(the rows added after the first ``seen``, those still kept, oldest first; the count now)."""
        count = self.count
        first = max(seen, count - len(self._rows))
        return self._rows[np.arange(first, count) % len(self._rows)], count

    def rows(self) -> np.ndarray:
        """Every row kept, oldest first (a copy)."""
        return self.since(0)[0]
