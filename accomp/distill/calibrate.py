"""Decision thresholds: match the student's note density to a reference accompaniment.

A one-step student trained briefly predicts blurred cells (the mean of what the teacher
might play), which a fixed threshold of 0 turns into silence. Calibration streams the
student over leads and moves the onset and sustain thresholds (binary search, each a
monotone control of its count, in alternating rounds) until its onsets per step and its
polyphony (notes sounding per step where it sounds) match the reference accompaniment of
the same leads, counted from the lead's first note on. Data-free, the leads and the
reference are the teacher's own (what ``accomp distill`` does); ``accomp preset calibrate
--corpus`` takes human leads and their human accompaniment from a corpus's training split
instead (the density the student reaches on teacher-written leads does not carry over to
human melodies: docs/harmony.md).

What is fitted is the student's own part: the chord tones the voicing adds where the part
leaves them out (:mod:`accomp.model.voicing`) are left out of the count. They are a rule on
top of the student's notes; counted in, the fit traded the student's sustained notes for
them and the pop band fell silent under more of the melody (activity 0.79 -> 0.75).
"""

from __future__ import annotations

import numpy as np

from accomp.distill.stream import stream_accompaniment
from accomp.model.student import Student


def _rates(acc: np.ndarray, counted: np.ndarray | None = None) -> tuple[float, float]:
    """(onsets per step, polyphony: sounding notes per step where any sounds) of (B, T, 2, K)
    rolls, over the steps ``counted`` (B, T) bool (default: all)."""
    if counted is None:
        counted = np.ones(acc.shape[:2], dtype=bool)
    onsets, sounding = acc[:, :, 0].sum(axis=-1), acc[:, :, 1].sum(axis=-1)
    return float(onsets[counted].sum()) / max(1, int(counted.sum())), float(sounding[counted].sum()) / max(1, int((sounding[counted] > 0).sum()))


def lead_entered(lead: np.ndarray) -> np.ndarray:
    """(B, T) bool: the steps from the lead's first sounding note on. Before it the band has
    nothing to follow (no plan, no part) while a human pianist may play an intro; matching
    densities over whole segments would make the band play that intro's notes over the melody."""
    sounding = lead[:, :, 1].any(axis=-1)
    return np.maximum.accumulate(sounding, axis=1)


def calibrate_thresholds(
    student: Student, lead: np.ndarray, style: np.ndarray, reference: np.ndarray, *, iters: int = 8, rounds: int = 3,
    seed: int = 0, harmony=None,
) -> dict:
    """Set ``student.onset_threshold`` / ``sustain_threshold``; returns what was found.

    The two are not independent: the student hears its own past frames, so the sustain
    threshold moves the onset rate too. Hence a few rounds, onset then sustain, each a
    binary search in a window around the last value that narrows round by round.
    """
    counted = lead_entered(lead)
    if not counted.any():  # leads without a note: all the steps, rather than nothing to fit to
        counted = None
    want = _rates(reference, counted)

    def run() -> tuple[float, float]:
        return _rates(stream_accompaniment(student, lead, style, 16, seed, harmony=harmony, voiced=False), counted)

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
            "reference": {"onsets_per_step": round(want[0], 4), "polyphony": round(want[1], 4)},
            "student": {"onsets_per_step": round(got_on, 4), "polyphony": round(got_sus, 4)}}


def density_target(lead: np.ndarray, reference: np.ndarray) -> float:
    """The reference's onsets per step from each lead's first note on: what the student's
    density follower holds the band to (``Student.density_target``)."""
    entered = lead_entered(lead)
    return _rates(reference, entered if entered.any() else None)[0]
