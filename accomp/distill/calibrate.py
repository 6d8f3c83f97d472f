"""Decision thresholds: match the student's note density to the teacher's, data-free.

A one-step student trained briefly predicts blurred cells (the mean of what the teacher
might play), which a fixed threshold of 0 turns into silence. Calibration streams the
student over leads the teacher wrote and moves the onset and sustain thresholds (binary
search, each a monotone control of its count, in alternating rounds) until onsets and
sounding notes per step match the teacher's causal accompaniment of the same leads.
"""

from __future__ import annotations

import numpy as np

from accomp.distill.stream import stream_accompaniment
from accomp.model.student import Student


def _rates(acc: np.ndarray) -> tuple[float, float]:
    """(onsets per step, sounding notes per step) of (B, T, 2, K) rolls."""
    steps = acc.shape[0] * acc.shape[1]
    return float(acc[:, :, 0].sum()) / steps, float(acc[:, :, 1].sum()) / steps


def calibrate_thresholds(
    student: Student, lead: np.ndarray, style: np.ndarray, teacher_accomp: np.ndarray, *, iters: int = 8, rounds: int = 3,
    seed: int = 0, harmony=None,
) -> dict:
    """Set ``student.onset_threshold`` / ``sustain_threshold``; returns what was found.

    The two are not independent: the student hears its own past frames, so the sustain
    threshold moves the onset rate too. Hence a few rounds, onset then sustain, each a
    binary search in a window around the last value that narrows round by round.
    """
    want = _rates(teacher_accomp)

    def run() -> tuple[float, float]:
        return _rates(stream_accompaniment(student, lead, style, 16, seed, harmony=harmony))

    width = 1.0
    for _ in range(rounds):
        for attr, index in (("onset_threshold", 0), ("sustain_threshold", 1)):
            centre = getattr(student, attr) if width < 1.0 else 0.0
            lo, hi = max(-1.0, centre - width), min(1.0, centre + width)  # a higher threshold gives fewer notes
            for _ in range(iters):
                mid = (lo + hi) / 2
                setattr(student, attr, mid)
                lo, hi = (mid, hi) if run()[index] > want[index] else (lo, mid)
            setattr(student, attr, (lo + hi) / 2)
        width /= 4
    got_on, got_sus = run()
    return {"onset": round(student.onset_threshold, 5), "sustain": round(student.sustain_threshold, 5),
            "teacher_per_step": {"onsets": round(want[0], 4), "sounding": round(want[1], 4)},
            "student_per_step": {"onsets": round(got_on, 4), "sounding": round(got_sus, 4)}}
