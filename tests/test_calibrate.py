"""Calibration of the student's decision thresholds (accomp.distill.calibrate)."""

from __future__ import annotations

import numpy as np
import torch

from accomp.distill.calibrate import _rates, calibrate_thresholds, lead_entered
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
