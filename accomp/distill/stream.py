"""The student streamed over whole leads, step by step, exactly as the engine calls it: what
the distillation metrics, the threshold calibration and `accomp student eval` measure."""

from __future__ import annotations

import numpy as np
import torch

from accomp.config import DEFAULT_SPEC


def plan_leads(harmony, lead: np.ndarray, style: np.ndarray, beat_bar: int, *, whole: bool = False) -> list | None:
    """The chord plan of each of B leads (B, T, 2, K), as the live planner decides it (or,
    with ``whole``, as ``render --whole-song`` plans a finished melody); None without a planner."""
    if harmony is None or harmony.planner is None:
        return None
    beat = np.arange(lead.shape[1]) % beat_bar
    spb = DEFAULT_SPEC.steps_per_beat
    if whole:
        return [harmony.planner.song_plan(lead[i], beat, spb, style) for i in range(len(lead))]
    return [harmony.planner.plan(lead[i], beat, spb, style) for i in range(len(lead))]


def stream_accompaniment(student, lead: np.ndarray, style: np.ndarray, beat_bar: int, seed: int, *, harmony=None,
                         whole: bool = False, voiced: bool = True) -> np.ndarray:
    """The student's accompaniment of B leads (B, T, 2, K) uint8, streamed step by step
    through ``Student.step`` exactly as the engine calls it (B streams side by side), each
    with its chord plan and guard when ``harmony`` has a planner, and the chord tones the
    part leaves out added as the engine adds them (:class:`~accomp.model.voicing.GuideTones`;
    ``voiced=False``: the student's own notes alone)."""
    from accomp.model.generate import chord_tensor
    from accomp.model.voicing import GuideTones, doubles_melody_third, sounds_root

    device = next(student.parameters()).device
    B, T = lead.shape[:2]
    state = student.init_state(np.asarray(style), bar_steps=beat_bar, batch=B)
    g = torch.Generator().manual_seed(seed)
    lead_t = torch.from_numpy(lead).float().to(device)
    plans = plan_leads(harmony, lead, style, beat_bar, whole=whole)
    chord = guard = None
    if plans is not None:
        planned = np.stack([p.chords for p in plans])  # (B, T)
        mixes = np.broadcast_to(np.asarray(style, dtype=np.float64), (B, len(student.cfg.styles) + 1))
        guides = [GuideTones(DEFAULT_SPEC.lowest_pitch, lead.shape[-1], melody_third=doubles_melody_third(student.cfg.styles, mix),
                             root=sounds_root(student.cfg.styles, mix)) for mix in mixes]
        chord = chord_tensor(planned, device)  # (B, T, 24)
        if harmony.guard is not None:
            guard = torch.from_numpy(np.stack([harmony.guard.plan_offsets(p) for p in plans])).to(device)  # (B, T, K)
    out = np.zeros(lead.shape, np.uint8)
    for t in range(T):
        noise = torch.randn(B, 2, lead.shape[-1], generator=g).to(device)
        state, frame = student.step(state, lead_t[:, t], noise, None if chord is None else chord[:, t].contiguous(),
                                    None if guard is None else guard[:, t].contiguous())  # fmt: skip
        out[:, t] = frame.cpu().numpy()
        if plans is not None and voiced:
            for b in range(B):
                guides[b].apply(out[b, t], int(planned[b, t]), named=False, tonic=int(plans[b].tonic[t]), minor=bool(plans[b].minor[t]),
                                lead=lead[b, t])  # fmt: skip
    return out
