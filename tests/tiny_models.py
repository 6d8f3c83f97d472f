"""Real model classes with small random weights, for tests (never shipped)."""

from __future__ import annotations

import torch

from accomp.model.teacher import Teacher, TeacherConfig


def tiny_teacher(seed: int = 0, chords: bool = False) -> Teacher:
    """A 2-layer, 32-wide teacher (window 16) whose weights are nudged off their initial
    values, so that zero-initialised layers do something too."""
    torch.manual_seed(seed)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16, chords=chords))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return teacher.eval()
