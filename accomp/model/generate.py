"""Sampling with the teacher: accompany a lead (full view or causal chunks), or write both.

Everything works on batches of equally long pieces so evaluation can run many leads at
once. Rolls go in and out as numpy uint8 ``(B, T, 2, K)``; inside, cells are in [-1, 1].
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
import torch

from accomp.errors import StyleError
from accomp.model.diffusion import SAMPLERS, guided, karras_sigmas
from accomp.model.teacher import Cond, Teacher
from accomp.music.chords import features as chord_features


def style_weights(styles: tuple[str, ...], style: str | None = None, mix: str | None = None) -> np.ndarray:
    """Mix weights over ``styles`` plus a final "no style" slot, normalised to sum 1.

    ``style`` names one style; ``mix`` is ``name=weight,name=weight``. Unknown names,
    negative or all-zero weights and malformed text raise StyleError.
    """
    if (style is None) == (mix is None):
        raise StyleError("give exactly one of a style or a style mix")
    w = np.zeros(len(styles) + 1, dtype=np.float32)
    items = [(style, "1")] if style is not None else [p.partition("=")[::2] for p in mix.split(",") if p.strip()]
    if not items:
        raise StyleError("empty style mix")
    for name, value in items:
        name = name.strip()
        if name not in styles:
            raise StyleError(f"unknown style '{name}' (this model knows: {', '.join(styles)})")
        try:
            weight = float(value)
        except ValueError:
            raise StyleError(f"style mix weight for '{name}' is not a number: '{value}'") from None
        if not np.isfinite(weight) or weight < 0:
            raise StyleError(f"style mix weight for '{name}' must be a finite number >= 0, got {value}")
        w[styles.index(name)] += weight
    if w.sum() <= 0:
        raise StyleError("style mix weights are all zero")
    return w / w.sum()


@dataclass(frozen=True)
class SamplerSettings:
    steps: int = 12
    sampler: str = "heun"
    guidance: float = 1.5  # classifier-free guidance on style; 1 = off
    lead_guidance: float = 1.0  # classifier-free guidance on the given lead; 1 = off
    chunk: int = 16  # causal mode: frames generated per chunk
    seed: int = 0


def binarize(x: torch.Tensor) -> torch.Tensor:
    """Cells in [-1, 1] -> {-1, 1} with onset implying sustain. (..., 2, K)."""
    on = x[..., 0, :] > 0
    sus = (x[..., 1, :] > 0) | on
    return torch.stack([on, sus], dim=-2).to(x.dtype) * 2 - 1


class WindowSampler:
    """Runs the teacher's ODE over one window at a time, with guidance and infilling."""

    def __init__(self, teacher: Teacher, settings: SamplerSettings, device: torch.device | str = "cpu") -> None:
        if settings.sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler '{settings.sampler}' (choose from {sorted(SAMPLERS)})")
        self.teacher, self.settings, self.device = teacher, settings, torch.device(device)
        self.sigmas = karras_sigmas(settings.steps, teacher.cfg.noise, device=self.device)
        self.generator = torch.Generator(device="cpu").manual_seed(settings.seed)
        self.nfe = 0

    @torch.no_grad()
    def run(self, cells: torch.Tensor, given: torch.Tensor, beat: torch.Tensor, style: torch.Tensor, chord: torch.Tensor | None = None) -> torch.Tensor:
        """cells (B, T, R, 2, K) in [-1, 1] (used where given); given (B, T, R) bool -> clean binary cells.
        ``chord`` (B, T, 24): the chord plan, for a chord-conditioned teacher."""
        B, T = cells.shape[:2]
        context = torch.where(given[..., None, None], cells, torch.zeros_like(cells))
        visible = torch.ones(B, T, dtype=torch.bool, device=self.device)
        cond = Cond(context=context, given=given, visible=visible, beat=beat, style=style, chord=chord)
        uncond = cond.replace(style=torch.zeros_like(style).index_fill_(1, torch.tensor([style.shape[1] - 1], device=self.device), 1.0))

        def d_cond(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            self.nfe += 1
            return self.teacher.denoise(x, s, cond)

        def d_uncond(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
            self.nfe += 1
            return self.teacher.denoise(x, s, uncond)

        denoiser = guided(d_cond, d_uncond, self.settings.guidance)
        lead_given = given[..., 0].any()
        if lead_given and not math.isclose(self.settings.lead_guidance, 1.0):
            # Guidance on the lead: away from the same window with the lead hidden (the
            # teacher learnt that condition from lead dropout), on top of style guidance.
            no_lead = given.clone()
            no_lead[..., 0] = False
            lead_free = cond.replace(given=no_lead, context=torch.where(no_lead[..., None, None], cells, torch.zeros_like(cells)))

            def d_no_lead(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
                self.nfe += 1
                return self.teacher.denoise(x, s, lead_free)

            denoiser = guided(denoiser, d_no_lead, self.settings.lead_guidance)
        noise = torch.randn(cells.shape, generator=self.generator).to(self.device)
        x = noise * self.sigmas[0]
        x = SAMPLERS[self.settings.sampler](denoiser, x, self.sigmas)
        return torch.where(given[..., None, None], cells, binarize(x))


def chord_tensor(chords: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Chord labels (..., T) -> conditioning features (..., T, 24) float32."""
    return torch.from_numpy(chord_features(np.asarray(chords))).float().to(device)


def _to_cells(lead: np.ndarray | None, shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    cells = -torch.ones(shape, device=device)
    if lead is not None:
        cells[:, :, 0] = torch.from_numpy(lead).to(device).float() * 2 - 1
    return cells


def generate(
    teacher: Teacher,
    beat: np.ndarray,
    style: np.ndarray,
    settings: SamplerSettings,
    *,
    lead: np.ndarray | None = None,
    causal: bool = False,
    device: torch.device | str = "cpu",
    chords: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(lead, accomp, evaluations) rolls (B, T, 2, K) uint8 for a batch of pieces.

    With ``lead`` the teacher accompanies it (role 0 given), else it writes both parts;
    ``chords`` (B, T) chord labels per step: the plan a chord-conditioned teacher voices.
    Full view slides windows of W frames by W/2, each continuing the previous one; causal
    mode generates ``settings.chunk`` frames at a time from the clean past and the lead
    only up to the end of the chunk (nothing later is in the window).
    """
    device = torch.device(device)
    cfg = teacher.cfg
    beat_t = torch.from_numpy(np.asarray(beat, dtype=np.int64)).to(device)
    if beat_t.dim() == 1:
        beat_t = beat_t[None]
    B, T = beat_t.shape
    R, K, W = len(cfg.roles), cfg.n_keys, cfg.window
    cells = _to_cells(lead, (B, T, R, 2, K), device)
    done = torch.zeros(B, T, R, dtype=torch.bool, device=device)
    if lead is not None:
        done[:, :, 0] = True
    style = np.asarray(style, dtype=np.float32)
    style_t = torch.from_numpy(np.broadcast_to(style, (B, style.shape[-1])).copy()).to(device)
    sampler = WindowSampler(teacher, settings, device)
    chord_t = chord_tensor(chords, device) if chords is not None and cfg.chords else None
    step = max(1, settings.chunk) if causal else max(1, W // 2)
    end = 0
    while end < T:
        end = min(T, W if end == 0 and not causal else end + step)
        start = max(0, end - W)
        sl = slice(start, end)  # causal: the window ends at the chunk's end, no future in it
        out = sampler.run(cells[:, sl], done[:, sl], beat_t[:, sl], style_t, None if chord_t is None else chord_t[:, sl])
        cells[:, sl] = out
        done[:, sl] = True
    binary = ((cells + 1) / 2).round().to(torch.uint8).cpu().numpy()
    return binary[:, :, 0], binary[:, :, 1], sampler.nfe
