"""Stand-in step players for engine tests: no model, a known answer."""

from __future__ import annotations

import numpy as np


class Fifth:
    """Answers every lead note with the note a fifth below, for as long as it is held."""

    def step(self, step, lead, beat_in_bar):
        out = np.zeros_like(lead)
        out[:, :-7] = lead[:, 7:]
        return out

    redo = step
