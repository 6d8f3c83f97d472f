"""A preset opened for a benchmark that streams it as ``accomp student eval`` does: its student,
header, teacher, frame spec, harmony (planner and guard) and style weights, on the CPU with one
thread (the engine's)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class OpenPreset:
    path: Path
    student: object
    header: dict
    teacher: object
    spec: object
    harmony: object
    style: np.ndarray  # the mix weights (styles + 1)


def open_preset(name: str) -> OpenPreset:
    import torch

    from accomp.model.checkpoint import load_teacher
    from accomp.model.harmony import load_harmony
    from accomp.model.preset import find_teacher, load_preset, resolve_preset

    torch.set_num_threads(1)
    path = resolve_preset(name)
    student, header = load_preset(path, "cpu")
    teacher, spec, _ = load_teacher(find_teacher(header, path), "cpu")
    harmony = load_harmony(header, path, teacher.cfg.styles, chords=teacher.cfg.chords)
    return OpenPreset(path, student, header, teacher, spec, harmony, np.asarray(header["style"]["weights"], dtype=np.float32))
