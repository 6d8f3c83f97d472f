"""Training batches for the teacher: masking scenarios (Coconet-style) and augmentation.

Every example draws one scenario, so one model learns every way it is used:

- *accompany* (a, d): the lead is given up to the visible end, the accompaniment only
  before ``c0`` (``c0 = 0``: a plain accompaniment; ``c0 > 0``: a continuation);
- *both* (c, d): both tracks given before ``c0`` only (``c0 = 0``: prompt-only);
- *lead over accompaniment* (b): the accompaniment given up to the visible end, the lead
  before ``c0``.

The visible end ``e`` is the window length half the time; otherwise the frames from ``e``
on are hidden, which is how the causal mode (d) sees a window: nothing after the chunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from accomp.model.teacher import Cond

SCENARIOS = (("accompany", 0.55), ("both", 0.30), ("lead_over_accomp", 0.15))


@dataclass(frozen=True)
class MaskConfig:
    full_view: float = 0.5  # share of examples with nothing hidden
    prefix: float = 0.6  # share of examples with a given past (c0 > 0)
    style_dropout: float = 0.15  # classifier-free guidance: "no style"
    chord_dropout: float = 0.15  # ... and "no chord plan"
    max_transpose: int = 6


def draw_masks(B: int, W: int, mc: MaskConfig, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """given (B, W, 2) bool for roles (lead, accomp) and visible (B, W) bool."""
    frames = torch.arange(W)[None, :]
    full = torch.rand(B, generator=g) < mc.full_view
    e = torch.where(full, torch.full((B,), W), torch.randint(1, W + 1, (B,), generator=g))
    has_prefix = torch.rand(B, generator=g) < mc.prefix
    c0 = torch.where(has_prefix, (torch.rand(B, generator=g) * e).long(), torch.zeros(B, dtype=torch.long))
    visible = frames < e[:, None]
    past = frames < c0[:, None]
    probs = torch.tensor([p for _, p in SCENARIOS])
    scenario = torch.multinomial(probs, B, replacement=True, generator=g)
    lead_given = torch.where((scenario == 0)[:, None], visible, past)
    accomp_given = torch.where((scenario == 2)[:, None], visible, past)
    return torch.stack([lead_given, accomp_given], dim=-1) & visible[..., None], visible


def draw_shifts(lo: torch.Tensor, hi: torch.Tensor, n_keys: int, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """(B,) random shifts in semitones that keep each example's lowest (``lo``) and highest
    (``hi``) active key on the keyboard; drawn on the CPU generator, whatever the device."""
    lo, hi = lo.cpu(), hi.cpu()
    low = torch.clamp(-lo, min=-max_shift)
    high = torch.clamp(n_keys - 1 - hi, max=max_shift)
    return low + (torch.rand(len(lo), generator=g) * (high - low + 1).float()).long().clamp(max=(high - low).clamp(min=0))


def shift_keys(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Shift each example (B, W, R, 2, K) of cells in [-1, 1] along keys by ``shift[b]``."""
    out = torch.full_like(x, -1.0)
    for s in torch.unique(shift).tolist():
        idx = (shift == s).nonzero().flatten().to(x.device)
        src = x[idx]
        if s > 0:
            out[idx, ..., s:] = src[..., :-s]
        elif s < 0:
            out[idx, ..., :s] = src[..., -s:]
        else:
            out[idx] = src
    return out


def shift_chords(chord: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate chord features (B, W, 24) (tones, then root, 12 pitch classes each) by ``shift[b]``."""
    pcs = (torch.arange(12)[None, :] - shift.cpu()[:, None]) % 12  # (B, 12): new pc j comes from j - s
    idx = torch.cat([pcs, pcs + 12], dim=1).to(chord.device)  # (B, 24)
    return torch.gather(chord, 2, idx[:, None, :].expand(-1, chord.shape[1], -1))


def transpose_batch(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, max_shift: int, g: torch.Generator) -> torch.Tensor:
    """Shift each example (B, W, R, 2, K) of cells in [-1, 1] along keys by a random amount
    that keeps its lowest (``lo``) and highest (``hi``) active key on the keyboard."""
    return shift_keys(x, draw_shifts(lo, hi, x.shape[-1], max_shift, g))


def make_cond(
    x0: torch.Tensor,  # (B, W, R, 2, K) clean cells in [-1, 1]
    beat: torch.Tensor,  # (B, W) long
    style_idx: torch.Tensor,  # (B,) long
    n_styles: int,
    mc: MaskConfig,
    g: torch.Generator,
    chord: torch.Tensor | None = None,  # (B, W, 24) chord plan features
) -> Cond:
    B, W = x0.shape[:2]
    given, visible = draw_masks(B, W, mc, g)
    drop = (torch.rand(B, generator=g) < mc.style_dropout).to(style_idx.device)
    idx = torch.where(drop, torch.full_like(style_idx, n_styles), style_idx)
    style = torch.nn.functional.one_hot(idx, n_styles + 1).float()
    dev = x0.device
    given, visible, style = given.to(dev), visible.to(dev), style.to(dev)
    context = torch.where(given[..., None, None], x0, torch.zeros_like(x0))
    if chord is not None:
        keep = (torch.rand(B, generator=g) >= mc.chord_dropout).to(dev)
        chord = chord * keep[:, None, None].to(chord.dtype)
    return Cond(context=context, given=given, visible=visible, beat=beat, style=style, chord=chord)
