"""The accompanist: a student preset as the engine's step player.

It owns the student and its streaming state and is only ever called from the engine's one
thread (the live worker, or the offline loop). Per grid step it runs exactly one student
step; before it, the state is copied in place into a preallocated backup, so a late lead
note inside the grace window can re-decide the step from where it began
(:meth:`Accompanist.redo`), with the same noise, at the cost of one more step.

Everything a step touches is preallocated here or in the student's state: the lead frame
and noise tensors, the backup state. Noise comes from a seeded generator, so simulated
time is reproducible.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from accomp.model.hardware import pick_device

WARMUP_STEPS = 8


@torch.inference_mode()
def _copy_state(dst, src) -> None:
    """Copy a StreamState's changing parts in place (no allocation)."""
    for name, value in src.__dict__.items():
        if isinstance(value, torch.Tensor):
            getattr(dst, name).copy_(value)
        elif isinstance(value, int):
            setattr(dst, name, value)


class Accompanist:
    """A :class:`~accomp.engine.engine.StepPlayer` backed by a student."""

    def __init__(self, student, style: np.ndarray, *, bar_steps: int = 16, seed: int = 0, header: dict | None = None) -> None:
        self.student = student
        self.header = header or {}
        self.style = np.asarray(style, dtype=np.float32)
        self.bar_steps = bar_steps
        self.seed = seed
        self.device = next(student.parameters()).device
        k = student.cfg.n_keys
        self._lead = torch.zeros(2, k, device=self.device)
        self._noise = torch.zeros(2, k, device=self.device)
        self._generator = torch.Generator(device=self.device)
        self._frame = np.zeros((2, k), dtype=np.uint8)
        self.state = student.init_state(self.style, bar_steps)
        with torch.inference_mode():
            self._backup = self.state.copy()

    @classmethod
    def from_preset(cls, path: str | os.PathLike, *, device: str = "cpu", bar_steps: int = 16, seed: int = 0) -> "Accompanist":
        """The preset's student on ``device``: the CPU unless asked, since one streaming step
        (batch 1, a few dozen small kernels) measured slower on a GPU (H200: p50 1.6-2.3 ms)
        than on one CPU thread (0.6-1.2 ms), before the copy back that each step needs."""
        from accomp.model.preset import load_preset, resolve_preset

        resolved = resolve_preset(str(path)) if not Path(path).is_file() else Path(path)
        student, header = load_preset(resolved, pick_device(device))
        weights = np.asarray(header["style"]["weights"], dtype=np.float32)
        return cls(student, weights, bar_steps=bar_steps, seed=seed, header=header)

    @property
    def delay(self) -> int:
        """Look-ahead frames the student needs (the engine runs with none)."""
        return int(self.student.delay)

    def reset(self) -> None:
        """A fresh stream: step 0 is the first bar's first step; the noise starts over."""
        _copy_state(self.state, self.student.init_state(self.style, self.bar_steps))
        self._generator.manual_seed(self.seed)

    def warm_up(self, steps: int = WARMUP_STEPS) -> None:
        """Run a few dummy steps (first calls are slow), then start the stream afresh."""
        self._lead.zero_()
        with torch.inference_mode():
            for _ in range(steps):
                self._noise.normal_(generator=self._generator)
                self.student.step(self.state, self._lead, self._noise)
        self.reset()

    def step(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """The accompaniment frame of grid step ``step`` (the next one), given its lead frame.

        The student's position follows the engine's step, so its beat-in-bar matches the
        transport's even when this accompanist starts mid-play (a preset switch).
        """
        self.state.position = step
        _copy_state(self._backup, self.state)
        with torch.inference_mode():
            self._noise.normal_(generator=self._generator)
        return self._run(lead)

    def redo(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """The last step again, from the state before it and with the same noise."""
        _copy_state(self.state, self._backup)
        return self._run(lead)

    @torch.inference_mode()
    def _run(self, lead: np.ndarray) -> np.ndarray:
        self._lead.copy_(torch.from_numpy(lead))
        _, frame = self.student.step(self.state, self._lead, self._noise)
        self._frame[:] = frame.cpu().numpy() if frame.device.type != "cpu" else frame.numpy()
        return self._frame
