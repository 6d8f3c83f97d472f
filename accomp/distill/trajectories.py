"""Data-free material for distillation: everything here is sampled from the teacher.

- *Songs*: lead and accompaniment written by the teacher from the style prompt alone.
- *Chunk trajectories*: for a chunk of frames, the teacher's ODE from noise to clean for
  the accompaniment, given the clean past (the teacher's own song, or the student's
  rollout over it) and the lead only up to the end of the chunk (causal mode (d)).

No corpus is imported or opened on this path (a test enforces it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from accomp.model.diffusion import guided, heun_trajectory, karras_sigmas
from accomp.model.generate import SamplerSettings, chord_tensor, generate
from accomp.model.planner import Planner
from accomp.model.student import ACCOMP_ROLE, Student
from accomp.model.teacher import Cond, Teacher


@dataclass
class Songs:
    """Teacher-written material as cells in [-1, 1]."""

    lead: torch.Tensor  # (N, T, 2, K)
    accomp: torch.Tensor  # (N, T, 2, K)
    beat: torch.Tensor  # (N, T) long
    style: torch.Tensor  # (N, S + 1)
    chord: torch.Tensor | None = None  # (N, T, 24) the chord plan features, for a chord-conditioned teacher

    def __len__(self) -> int:
        return self.lead.shape[0]

    def take(self, idx: torch.Tensor) -> "Songs":
        chord = None if self.chord is None else self.chord[idx]
        return Songs(self.lead[idx], self.accomp[idx], self.beat[idx], self.style[idx], chord)

    def chord_at(self, frames: slice | int) -> torch.Tensor | None:
        return None if self.chord is None else self.chord[:, frames]


def write_songs(
    teacher: Teacher, style: np.ndarray, n: int, length: int, settings: SamplerSettings, device: torch.device, planner: Planner | None = None,
) -> Songs:
    """``n`` songs of ``length`` frames (4/4), lead and accompaniment, from the prompt alone.

    A chord-conditioned teacher (with the planner) writes each lead first, the
    bidirectional planner plans its chords from the whole lead, and the teacher then voices
    the accompaniment on that plan: the teacher's chord plans are distillation material too.
    """
    bar = 16
    beat = np.tile(np.arange(length) % bar, (n, 1))
    styles = np.broadcast_to(style, (n, style.shape[-1])).copy()
    lead, accomp, _ = generate(teacher, beat, styles, settings, device=device)
    cells = lambda r: torch.from_numpy(r).float().to(device) * 2 - 1  # noqa: E731
    chord = None
    if teacher.cfg.chords and planner is not None:
        plans = np.stack([planner.plan(lead[i], beat[i], 4, styles[i], whole=True).chords for i in range(n)])
        _, accomp, _ = generate(teacher, beat, styles, settings, lead=lead, chords=plans, device=device)
        chord = chord_tensor(plans, device)
    return Songs(cells(lead), cells(accomp), torch.from_numpy(beat).long().to(device), torch.from_numpy(styles).float().to(device), chord)


@torch.no_grad()
def student_rollout(student: Student, songs: Songs, frames: int, generator: torch.Generator) -> torch.Tensor:
    """The student's own accompaniment over the songs' leads, streamed step by step exactly
    as at run time. Returns cells in [-1, 1], (N, frames, 2, K)."""
    N = len(songs)
    state = student.init_state(songs.style.cpu().numpy(), batch=N)
    state.bar_steps = 16
    out = torch.empty(N, frames, 2, songs.lead.shape[-1], device=songs.lead.device)
    lead01 = (songs.lead + 1) / 2
    for t in range(frames):
        noise = torch.randn(N, 2, songs.lead.shape[-1], generator=generator).to(songs.lead.device)
        chord = songs.chord_at(t)
        state, frame = student.step(state, lead01[:, t], noise, None if chord is None else chord.contiguous())
        out[:, t] = frame.float() * 2 - 1
    return out


@torch.no_grad()
def chunk_trajectory(
    teacher: Teacher,
    lead: torch.Tensor,  # (B, T, 2, K) cells, T = the window ending at the chunk's end
    past: torch.Tensor,  # (B, T, 2, K) accompaniment cells; frames before the chunk are the context
    beat: torch.Tensor,  # (B, T)
    style: torch.Tensor,  # (B, S + 1)
    chunk: int,
    levels: int,
    guidance: float,
    generator: torch.Generator,
    chord: torch.Tensor | None = None,  # (B, T, 24) the chord plan over the window
) -> tuple[torch.Tensor, torch.Tensor]:
    """The teacher's ODE for the accompaniment of the last ``chunk`` frames.

    Returns (sigmas (levels + 1,), states (levels + 1, B, chunk, 2, K)): states[i] lies at
    sigmas[i]; states[0] is noise at sigma_max, states[-1] the clean chunk.
    """
    B, T = lead.shape[:2]
    device = lead.device
    cells = torch.stack([lead, past], dim=2)  # (B, T, R, 2, K)
    given = torch.ones(B, T, 2, dtype=torch.bool, device=device)
    given[:, T - chunk :, ACCOMP_ROLE] = False
    context = torch.where(given[..., None, None], cells, torch.zeros_like(cells))
    cond = Cond(context, given, torch.ones(B, T, dtype=torch.bool, device=device), beat, style, chord if teacher.cfg.chords else None)
    null = torch.zeros_like(style)
    null[:, -1] = 1
    uncond = cond.replace(style=null, chord=None)  # guidance toward the style and the chord plan (both dropped in training)
    denoise = guided(lambda x, s: teacher.denoise(x, s, cond), lambda x, s: teacher.denoise(x, s, uncond), guidance)
    sigmas = karras_sigmas(levels, teacher.cfg.noise, device=device)
    x = torch.randn(cells.shape, generator=generator).to(device) * sigmas[0]
    states = heun_trajectory(denoise, x, sigmas)
    return sigmas, torch.stack([s[:, T - chunk :, ACCOMP_ROLE] for s in states])
