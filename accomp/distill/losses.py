"""The three music-aware terms of DFSCD, on accompaniment cells (B, T, 2, K) in [-1, 1].

- latent: distance in frame space (pseudo-Huber over every cell);
- spectral: the chunk's pitch-class (chroma) profile and register (octave) profile;
- temporal-difference: frame-to-frame change of every cell, and the onset count per frame
  (rhythm), so the student keeps the teacher's motion rather than a smoothed average.

Each term compares a prediction with its target and is 0 when they are equal.
"""

from __future__ import annotations

import torch

ONSET, SUSTAIN = 0, 1
HUBER_C = 0.03
LOWEST_PITCH = 21


def _levels(x: torch.Tensor) -> torch.Tensor:
    """Cells in [-1, 1] -> "how much is this note on", in [0, 1]."""
    return (x.clamp(-1, 1) + 1) / 2


def latent_term(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    d2 = (pred - target) ** 2
    return (torch.sqrt(d2.mean(dim=(-1, -2)) + HUBER_C**2) - HUBER_C).mean()


def fold_matrix(n_keys: int, device: torch.device) -> torch.Tensor:
    """(K, 12) one-hot pitch class of every key."""
    keys = torch.arange(n_keys, device=device)
    return torch.nn.functional.one_hot((LOWEST_PITCH + keys) % 12, 12).float()


def octave_matrix(n_keys: int, device: torch.device) -> torch.Tensor:
    """(K, 8) one-hot octave (12-key band) of every key."""
    keys = torch.arange(n_keys, device=device)
    return torch.nn.functional.one_hot(keys // 12, (n_keys + 11) // 12).float()


def _profile(x: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    mass = _levels(x[..., SUSTAIN, :]).sum(dim=1) @ matrix  # (B, bins)
    return mass / (mass.sum(dim=-1, keepdim=True) + 1.0)


def spectral_term(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    K = pred.shape[-1]
    chroma, octave = fold_matrix(K, pred.device), octave_matrix(K, pred.device)
    return (_profile(pred, chroma) - _profile(target, chroma)).abs().sum(-1).mean() + (
        _profile(pred, octave) - _profile(target, octave)
    ).abs().sum(-1).mean()


def temporal_term(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if pred.shape[1] < 2:
        return pred.new_zeros(())
    change = ((pred[:, 1:] - pred[:, :-1]) - (target[:, 1:] - target[:, :-1])) ** 2
    rhythm = (_levels(pred[..., ONSET, :]).sum(-1) - _levels(target[..., ONSET, :]).sum(-1)) ** 2
    return change.mean() + 0.1 * rhythm.mean()


TERMS = {"latent": latent_term, "spectral": spectral_term, "temporal": temporal_term}
