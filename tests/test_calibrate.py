"""Calibration of the student's decision thresholds (accomp.distill.calibrate)."""

from __future__ import annotations

import numpy as np
import torch

from accomp.distill.calibrate import _rates, calibrate_thresholds, density_target, lead_entered
from accomp.distill.stream import stream_accompaniment
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig


def test_thresholds_match_the_teachers_density():
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    student = Student.from_teacher(teacher.eval(), kv_window=8).eval()
    rng = np.random.default_rng(0)
    B, T, K = 4, 24, 88
    lead = np.zeros((B, T, 2, K), np.uint8)
    for b in range(B):
        for t in range(0, T, 4):
            k = rng.integers(40, 60)
            lead[b, t, :, k] = 1
            lead[b, t + 1 : t + 3, 1, k] = 1
    # What "the teacher" plays: 0.5 onsets per step, 2 notes sounding at every step.
    teacher_acc = np.zeros((B, T, 2, K), np.uint8)
    for b in range(B):
        for t in range(T):
            keys = rng.choice(np.arange(20, 50), 2, replace=False)
            teacher_acc[b, t, 1, keys] = 1
            if t % 2 == 0:
                teacher_acc[b, t, 0, keys[0]] = 1
    style = np.array([1.0, 0.0, 0.0], np.float32)
    before = _rates(stream_accompaniment(student, lead, style, 16, 0))
    found = calibrate_thresholds(student, lead, style, teacher_acc, seed=0)
    got = _rates(stream_accompaniment(student, lead, style, 16, 0))
    want = _rates(teacher_acc)
    assert abs(got[0] - want[0]) / want[0] < 0.15, (before, got, want, found)
    assert abs(got[1] - want[1]) / want[1] < 0.15, (before, got, want, found)
    assert found["student"] == {"onsets_per_step": round(got[0], 4), "polyphony": round(got[1], 4)}


def test_densities_count_from_the_leads_first_note():
    """A pianist's intro before the melody is not what the band is fitted to: it has nothing to follow there."""
    lead = np.zeros((2, 8, 2, 88), np.uint8)
    lead[0, 4:, 1, 60] = 1  # enters at step 4
    lead[1, 0, 1, 60] = 1  # from the start (a rest later does not matter)
    counted = lead_entered(lead)
    assert counted.tolist() == [[False] * 4 + [True] * 4, [True] * 8]
    human = np.zeros_like(lead)
    human[0, :4, :, 30:34] = 1  # a dense intro: 4 onsets a step
    human[0, 4:, 1, 40] = 1  # then one held note
    human[0, 4, 0, 40] = 1
    assert _rates(human) == (16 / 16 + 1 / 16, (16 + 4) / 8)
    assert _rates(human, counted) == (1 / 12, 4 / 4)



def test_the_density_target_is_the_references_onsets_per_step_from_the_leads_entry():
    lead = np.zeros((2, 8, 2, 88), np.uint8)
    lead[0, 4:, 1, 60] = 1
    lead[1, :, 1, 60] = 1
    human = np.zeros_like(lead)
    human[:, ::2, 0, 40] = 1  # an onset every other step
    human[0, :4, 0, 30:34] = 1  # an intro before the first lead's entry: not counted
    assert density_target(lead, human) == 6 / 12


def test_the_density_follower_moves_the_onset_thresholds_toward_the_target():
    """A band far busier than its target: once the running mean has heard ``density_memory``
    steps of it, the onset thresholds rise step by step (up to the limit), only in the stream
    whose band has begun; the sustain thresholds stay; with no target nothing moves."""
    from accomp.model.generate import chord_tensor
    from accomp.model.student import DENSITY_LIFT_LIMIT
    from accomp.music.chords import NO_CHORD, chord_index
    from tiny_models import tiny_teacher

    student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
    student.onset_threshold, student.sustain_threshold = -1.0, 0.1  # every key starts a note
    student.density_target, student.density_gain, student.density_memory = 0.5, 0.01, 4
    state = student.init_state(np.array([0.0, 1.0, 0.0], np.float32), bar_steps=16, batch=2)
    c = chord_index(0, "maj")
    plan = np.array([[NO_CHORD] * 3 + [c] * 37, [c] * 40])  # the first stream's band begins at step 3
    chords = chord_tensor(plan, torch.device("cpu"))
    onset = []
    for t in range(40):
        state, frame = student.step(state, torch.zeros(2, 2, 88), torch.zeros(2, 2, 88), chords[:, t].contiguous())
        onset.append(state.thresholds[:, 0, 0].tolist())
        assert np.allclose(state.thresholds[:, 1], 0.1)
    onset = np.array(onset)
    assert (np.diff(onset, axis=0) >= -1e-7).all()  # only ever up: the band stays far too busy
    assert np.allclose(onset[:5, 1], -1.0) and onset[6, 1] > -1.0  # held while the mean warms (4 steps), then moving
    assert np.allclose(onset[:8, 0], -1.0) and onset[9, 0] > -1.0  # three steps later in the stream that began later
    assert np.isclose(onset[-1, 1], -1.0 + DENSITY_LIFT_LIMIT)
    student.density_target = 200.0  # more onsets than keys: a part sparser than its target is never thickened
    state = student.init_state(np.array([0.0, 1.0, 0.0], np.float32), bar_steps=16, batch=2)
    for t in range(20):
        state, _ = student.step(state, torch.zeros(2, 2, 88), torch.zeros(2, 2, 88), chords[:, t].contiguous())
        assert np.allclose(state.thresholds[:, 0], -1.0)
    student.density_target = 0.0
    state = student.init_state(np.array([0.0, 1.0, 0.0], np.float32), bar_steps=16, batch=2)
    for t in range(10):
        state, _ = student.step(state, torch.zeros(2, 2, 88), torch.zeros(2, 2, 88), chords[:, t].contiguous())
    assert np.allclose(state.thresholds[:, 0], -1.0)
