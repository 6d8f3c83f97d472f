"""A named chord (a chart's, the left hand's) sounds with its root and third, a planned chord
whose third is minor with that third, a planned major chord with its third while the melody
sounds it, and in the chorale style a planned chord with its root: where the band's part
leaves one out, the accompanist adds it, struck once and held with the chord
(accomp.model.voicing)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accomp.config import ONSET, SUSTAIN
import torch

from accomp.engine.accompanist import Accompanist
from accomp.model.harmony import Harmony
from accomp.model.planner import Guard, Plan, Planner, PlannerConfig, chart_plan
from accomp.model.voicing import GUIDE_RANGE, ROOT_RANGE
from accomp.model.student import Student
from accomp.music.charts import parse_chart
from accomp.music.chords import CHROMA, chord_index
from tiny_models import tiny_teacher

LOW = 21


def accompanist(style: np.ndarray | None = None) -> Accompanist:
    """A tiny student and planner (styles pop, chorale), by default in the pop style."""
    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    planner = Planner.create(PlannerConfig(styles=student.cfg.styles, hidden=16, layers=1))
    style = np.array([1.0, 0.0, 0.0]) if style is None else style
    return Accompanist(student, style, harmony=Harmony(planner, Guard(0.0)))


class Sparse:
    """Stands in for the student's step: its frame holds ``keys`` (struck on each beat)."""

    def __init__(self, acc: Accompanist, keys: list[int]) -> None:
        self.acc, self.keys = acc, keys

    def __call__(self, state, *args):
        frame = torch.zeros(2, 88, dtype=torch.uint8)
        frame[SUSTAIN, self.keys] = 1
        if state.position % 4 == 0:
            frame[ONSET, self.keys] = 1
        return state, frame


def test_a_named_chord_gets_its_missing_root_and_third_struck_once_and_held(monkeypatch):
    acc = accompanist()
    acc.play_chart(parse_chart("| Dm7 | G7 |").per_beat())
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [69 - LOW, 72 - LOW]))  # A4, C5: a Dm7 as A-C
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


def test_a_planned_minor_chord_gets_its_third_in_key_a_planned_major_one_and_a_complete_voicing_nothing(monkeypatch):
    lead = np.zeros((2, 88), np.uint8)
    lead[:, 60 - LOW] = 1
    for chart, part, added in (("| Am | F |", [57 - LOW, 64 - LOW], {60}),  # A-E: Am's C added; F as A-E: nothing
                               ("| C | Em |", [64 - LOW, 67 - LOW], set())):  # C as E-G: nothing; Em as E-G: its third is there
        acc = accompanist()
        acc.fixed_plan = chart_plan(parse_chart(chart).per_beat(), 4)  # planned (a whole song's), not named
        monkeypatch.setattr(acc.student, "step", Sparse(acc, part))
        frames = [acc.step(t, lead, t % 16).copy() for t in range(32)]
        first = {k + LOW for f in frames[:16] for k in np.flatnonzero(f[SUSTAIN])} - {k + LOW for k in part}
        second = {k + LOW for f in frames[16:] for k in np.flatnonzero(f[SUSTAIN])} - {k + LOW for k in part}
        assert first == added and second == set(), (chart, first, second)
        if added:
            assert sum(f[ONSET, 60 - LOW] for f in frames[:16]) == 1  # struck once, held through the chord
            assert all(f[SUSTAIN, 60 - LOW] for f in frames[:16])
    cm = chord_index(0, "min")
    for minor, added in ((False, set()), (True, {63})):  # C minor voiced C-G: in C major Eb is outside the key
        acc = accompanist()
        acc.fixed_plan = Plan(np.full(16, cm), np.zeros(16, np.int64), np.full(16, minor))
        monkeypatch.setattr(acc.student, "step", Sparse(acc, [60 - LOW, 67 - LOW]))
        frames = [acc.step(t, lead, t % 16).copy() for t in range(16)]
        assert {k + LOW for f in frames for k in np.flatnonzero(f[SUSTAIN])} - {60, 67} == added, minor
    acc = accompanist()  # a note outside the key in the lead puts the key in doubt: no third while it sounds
    acc.fixed_plan = Plan(np.full(16, chord_index(9, "min")), np.zeros(16, np.int64), np.zeros(16, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [57 - LOW, 64 - LOW]))  # A-E
    chromatic = lead.copy()
    chromatic[:, 60 - LOW], chromatic[:, 66 - LOW] = 0, 1  # F#
    frames = [acc.step(t, chromatic if 8 <= t < 12 else lead, t % 16).copy() for t in range(16)]
    assert [int(f[SUSTAIN, 60 - LOW]) for f in frames] == [1] * 8 + [0] * 8  # in doubt until the next chord
    assert [t for t, f in enumerate(frames) if f[ONSET, 60 - LOW]] == [0]
    acc = accompanist()  # ... or until the plan's key moves (the tracker's G major became C major)
    acc.fixed_plan = Plan(np.full(16, chord_index(9, "min")), np.array([7] * 8 + [0] * 8), np.zeros(16, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [57 - LOW, 64 - LOW]))
    f_lead = lead.copy()
    f_lead[:, 60 - LOW], f_lead[:, 65 - LOW] = 0, 1  # F, outside G major
    frames = [acc.step(t, f_lead if t < 4 else lead, t % 16).copy() for t in range(16)]
    assert [int(f[SUSTAIN, 60 - LOW]) for f in frames] == [0] * 8 + [1] * 8
    acc = accompanist()
    acc.play_chart(parse_chart("| F |").per_beat())
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [65 - LOW, 69 - LOW, 72 - LOW]))  # F A C: root and third there
    for t in range(16):
        frame = acc.step(t, lead, t % 16)
        assert set(np.flatnonzero(frame[SUSTAIN]) + LOW) == {65, 69, 72}
    assert (CHROMA[acc.chord][[5, 9]] > 0).all()


def test_a_planned_major_chord_gets_its_third_only_while_the_melody_sounds_it(monkeypatch):
    f_major, c_major = chord_index(5, "maj"), chord_index(0, "maj")
    acc = accompanist()
    acc.fixed_plan = Plan(np.array([f_major] * 16 + [c_major] * 8), np.zeros(24, np.int64), np.zeros(24, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [53 - LOW, 60 - LOW]))  # F-C: an open fifth, as much Csus4 as F
    melody = {}
    for t in range(24):  # C, then the F chord's third A from step 8, C again from step 12
        melody[t] = np.zeros((2, 88), np.uint8)
        melody[t][:, (69 if 8 <= t < 12 else 60) - LOW] = 1
    frames = [acc.step(t, melody[t], t % 16).copy() for t in range(24)]
    added = [set(np.flatnonzero(f[SUSTAIN]) + LOW) - {53, 60} for f in frames]
    assert added[:8] == [set()] * 8  # under the melody's C the part keeps its open fifth
    assert added[8:12] == [{57}] * 4  # the A near the part's middle, while the melody sounds it
    assert [t for t, f in enumerate(frames) if f[ONSET, 57 - LOW]] == [8]  # struck once
    assert added[12:16] == [set()] * 4  # the melody has left it
    assert added[16:] == [set()] * 8  # C major under the melody's C: its third E is not the melody's
    acc = accompanist()  # outside the plan's key (C minor): the major third A is not added
    acc.fixed_plan = Plan(np.full(16, f_major), np.zeros(16, np.int64), np.ones(16, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [53 - LOW, 60 - LOW]))
    assert all(set(np.flatnonzero(acc.step(t, melody[8], t % 16)[SUSTAIN]) + LOW) == {53, 60} for t in range(16))


def test_a_chorale_band_does_not_double_the_melodys_major_third_but_still_sounds_a_minor_one(monkeypatch):
    chorale = np.array([0.0, 1.0, 0.0])  # its part-writing leaves a major chord's third to the soprano
    acc = accompanist(chorale)
    assert acc.student.cfg.styles == ("pop", "chorale") and not acc.guides.melody_third
    acc.fixed_plan = Plan(np.full(8, chord_index(5, "maj")), np.zeros(8, np.int64), np.zeros(8, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [53 - LOW, 60 - LOW]))  # F-C
    a = np.zeros((2, 88), np.uint8)
    a[:, 69 - LOW] = 1  # the melody holds F major's third A
    assert all(set(np.flatnonzero(acc.step(t, a, t % 16)[SUSTAIN]) + LOW) == {53, 60} for t in range(8))
    acc = accompanist(chorale)
    acc.fixed_plan = Plan(np.full(8, chord_index(9, "min")), np.zeros(8, np.int64), np.zeros(8, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [57 - LOW, 64 - LOW]))  # A-E under A minor
    e = np.zeros((2, 88), np.uint8)
    e[:, 76 - LOW] = 1
    assert all(set(np.flatnonzero(acc.step(t, e, t % 16)[SUSTAIN]) + LOW) == {57, 60, 64} for t in range(8))  # its C


def test_a_chorale_band_sounds_a_planned_chords_missing_root_below_its_part_a_pop_band_does_not(monkeypatch):
    g_major = chord_index(7, "maj")
    lead = np.zeros((2, 88), np.uint8)
    lead[:, 79 - LOW] = 1  # the soprano holds G5
    part = [59 - LOW, 62 - LOW]  # B3-D4 under a planned G: heard alone, B minor
    for style, added in ((np.array([0.0, 1.0, 0.0]), {55}), (np.array([1.0, 0.0, 0.0]), set())):
        acc = accompanist(style)
        acc.fixed_plan = Plan(np.full(16, g_major), np.zeros(16, np.int64), np.zeros(16, bool))  # G major in C major
        monkeypatch.setattr(acc.student, "step", Sparse(acc, part))
        frames = [acc.step(t, lead, t % 16).copy() for t in range(16)]
        assert all(set(np.flatnonzero(f[SUSTAIN]) + LOW) - {59, 62} == added for f in frames), style
        if added:  # G3, the nearest G below the part (in the root's range), struck once and held with the chord
            assert ROOT_RANGE[0] <= 55 < ROOT_RANGE[1] and [t for t, f in enumerate(frames) if f[ONSET, 55 - LOW]] == [0]
    acc = accompanist(np.array([0.0, 1.0, 0.0]))  # a part that sounds the root (G-B-D) gets nothing
    acc.fixed_plan = Plan(np.full(16, g_major), np.zeros(16, np.int64), np.zeros(16, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [55 - LOW, 59 - LOW, 62 - LOW]))
    assert all(set(np.flatnonzero(acc.step(t, lead, t % 16)[SUSTAIN]) + LOW) == {55, 59, 62} for t in range(16))
    acc = accompanist(np.array([0.0, 1.0, 0.0]))  # a root outside the plan's key (Bb in C major) is not added
    acc.fixed_plan = Plan(np.full(16, chord_index(10, "maj")), np.zeros(16, np.int64), np.zeros(16, bool))
    monkeypatch.setattr(acc.student, "step", Sparse(acc, [62 - LOW, 65 - LOW]))  # D-F
    assert all(set(np.flatnonzero(acc.step(t, lead, t % 16)[SUSTAIN]) + LOW) == {62, 65} for t in range(16))


def test_which_style_mixes_sound_a_planned_chords_root():
    from accomp.model.voicing import sounds_root

    styles = ("pop", "chorale")
    assert not sounds_root(styles, [1.0, 0.0, 0.0])
    assert sounds_root(styles, [0.0, 1.0, 0.0])
    assert sounds_root(styles, [0.5, 0.5, 0.0])  # half the mix sounds it: it does
    assert not sounds_root(styles, [0.6, 0.4, 0.0])
    assert not sounds_root(("jazz",), [1.0, 0.0])  # a style distilled by a user: as pop does
    assert not sounds_root(styles, [0.0, 0.0, 0.0])  # no mix at all: the default


def test_which_style_mixes_double_the_melodys_third():
    from accomp.model.voicing import doubles_melody_third

    styles = ("pop", "chorale")
    assert doubles_melody_third(styles, [1.0, 0.0, 0.0])
    assert not doubles_melody_third(styles, [0.0, 1.0, 0.0])
    assert doubles_melody_third(styles, [0.5, 0.5, 0.0])  # half the mix doubles: it does
    assert not doubles_melody_third(styles, [0.3, 0.7, 0.0])
    assert doubles_melody_third(("jazz",), [1.0, 0.0])  # a style distilled by a user: as pop does
    assert doubles_melody_third(styles, [0.0, 0.0, 0.0])  # no mix at all: the default


@pytest.mark.parametrize("style", ["pop", "chorale"])
def test_the_streamed_evaluation_plays_what_the_engine_plays_added_tones_included(style):
    """`accomp student eval` and calibration (stream_accompaniment) add the same tones as the
    engine, in a style that doubles the melody's third and in one that sounds the chord's root."""
    from accomp.distill.stream import stream_accompaniment

    torch.manual_seed(3)
    acc = accompanist(np.array([1.0, 0.0, 0.0]) if style == "pop" else np.array([0.0, 1.0, 0.0]))
    assert acc.guides.root == (style == "chorale") and acc.guides.melody_third == (style == "pop")
    with torch.no_grad():  # the planner's choice, whatever it hears: the key's vi (A minor in C)
        acc.harmony.planner.causal.out[1].bias[chord_index(9, "min")] += 20.0
    acc.student.onset_threshold = acc.student.sustain_threshold = 0.5  # a sparse part, which leaves thirds out
    acc.reset()
    rng = np.random.default_rng(3)
    lead = np.zeros((48, 2, 88), np.uint8)
    for t in range(0, 48, 2):
        k = 60 + int(rng.choice([0, 4, 7, 12, 9, 2])) - LOW  # C major, no note that suggests F or G major
        lead[t, :, k] = 1
        lead[t + 1, 1, k] = 1
    engine, added, roots = [], 0, 0
    for t in range(48):
        engine.append(acc.step(t, lead[t], t % 16).copy())
        added += int(acc.guides.added[1] >= 0)
        roots += int(acc.guides.added[0] >= 0)
    streamed = stream_accompaniment(acc.student, lead[None], acc.style, 16, acc.seed, harmony=acc.harmony)[0]
    assert added > 0  # the engine added a third somewhere
    assert (roots > 0) == (style == "chorale"), roots  # and, in the chorale style, a root
    assert np.array_equal(np.stack(engine), streamed)


def test_a_keyboard_without_the_guide_range_gets_nothing_added_and_no_error():
    from accomp.model.voicing import GuideTones

    guides = GuideTones(lowest_pitch=84, n_keys=24)  # C6..B7: no key in E3..B4 or C2..B3
    frame = np.zeros((2, 24), np.uint8)
    frame[:, [0, 7]] = 1  # C6-G6 under a planned C minor in C minor: its Eb is wanted but has no key here
    guides.apply(frame, chord_index(0, "min"), named=False, tonic=0, minor=True)
    guides.apply(frame, chord_index(0, "min"), named=True)
    assert frame[SUSTAIN].sum() == 2 and frame[ONSET].sum() == 2
