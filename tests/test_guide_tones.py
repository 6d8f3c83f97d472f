"""A named chord (a chart's, the left hand's) sounds with its root and third: where the
band's part leaves one out, the accompanist adds it, struck once and held with the chord."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.engine.accompanist import GUIDE_RANGE, ROOT_RANGE, Accompanist
from accomp.model.harmony import Harmony
from accomp.model.planner import Guard, Planner, PlannerConfig
from accomp.model.student import Student
from accomp.music.charts import parse_chart
from accomp.music.chords import CHROMA
from tiny_models import tiny_teacher

LOW = 21


def accompanist() -> Accompanist:
    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    planner = Planner.create(PlannerConfig(styles=("chorale", "pop"), hidden=16, layers=1))
    return Accompanist(student, np.array([0.0, 1.0, 0.0]), harmony=Harmony(planner, Guard(0.0)))


class Sparse:
    """Stands in for the student's frame: a seventh chord's fifth and seventh only (a Dm7 as A-C)."""

    def __init__(self, acc: Accompanist, keys: list[int]) -> None:
        self.acc, self.keys = acc, keys

    def __call__(self, lead):
        self.acc._frame[:] = 0
        self.acc._frame[SUSTAIN, self.keys] = 1
        if self.acc.state.position % 4 == 0:
            self.acc._frame[ONSET, self.keys] = 1
        if self.acc.plan_loops or self.acc.held is not None:
            self.acc._guide_tone()
        return self.acc._frame


def test_a_named_chord_gets_its_missing_root_and_third_struck_once_and_held(monkeypatch):
    acc = accompanist()
    acc.play_chart(parse_chart("| Dm7 | G7 |").per_beat())
    monkeypatch.setattr(acc, "_run", Sparse(acc, [69 - LOW, 72 - LOW]))  # A4, C5
    frames = [acc.step(t, np.zeros((2, 88), np.uint8), t % 16).copy() for t in range(32)]
    dm7, g7 = frames[:16], frames[16:]
    for chord, part, tones in ((dm7, "Dm7", (2, 5)), (g7, "G7", (7, 11))):
        struck = {k + LOW for f in chord for k in np.flatnonzero(f[ONSET])}
        held = [set(k + LOW for k in np.flatnonzero(f[SUSTAIN])) for f in chord]
        root, third = (sorted(p for p in struck if p % 12 == pc) for pc in tones)
        assert len(root) == 1 and ROOT_RANGE[0] <= root[0] < min(ROOT_RANGE[1], 69), (part, struck)
        assert len(third) == 1 and GUIDE_RANGE[0] <= third[0] < GUIDE_RANGE[1], (part, struck)
        assert all({root[0], third[0]} <= h for h in held)  # held through the chord
        assert sum(f[ONSET, root[0] - LOW] for f in chord) == 1  # struck once
    assert {k + LOW for k in np.flatnonzero(frames[16][ONSET])} & {50, 53} == set()  # Dm7's added tones end with it


def test_the_planners_own_chords_and_a_complete_voicing_get_nothing_added(monkeypatch):
    acc = accompanist()
    monkeypatch.setattr(acc, "_run", Sparse(acc, [69 - LOW, 72 - LOW]))
    lead = np.zeros((2, 88), np.uint8)
    lead[:, 60 - LOW] = 1
    for t in range(16):  # following the melody: the planner's chord is a suggestion, not named
        frame = acc.step(t, lead, t % 16)
        assert set(np.flatnonzero(frame[SUSTAIN]) + LOW) == {69, 72}
    acc = accompanist()
    acc.play_chart(parse_chart("| F |").per_beat())
    monkeypatch.setattr(acc, "_run", Sparse(acc, [65 - LOW, 69 - LOW, 72 - LOW]))  # F A C: root and third there
    for t in range(16):
        frame = acc.step(t, lead, t % 16)
        assert set(np.flatnonzero(frame[SUSTAIN]) + LOW) == {65, 69, 72}
    assert (CHROMA[acc.chord][[5, 9]] > 0).all()
