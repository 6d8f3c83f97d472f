"""Training material from pieces: a stable train/val split, fixed-length windows, transposition.

Re-exported by :mod:`accomp.music.corpora`; import from there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from accomp.config import ACCOMP, DEFAULT_SPEC, LEAD
from accomp.music.chords import transpose as transpose_chords
from accomp.music.labels import piece_chords
from accomp.music.frames import Piece, bar_steps

SPLITS = ("train", "val", "all")


def _unit_hash(piece_id: str) -> float:
    """A number in [0, 1) fixed by the id alone (not Python's salted ``hash``)."""
    digest = hashlib.sha1(piece_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_pieces(pieces: list[Piece], split: str, val_fraction: float = 0.1) -> list[Piece]:
    """The pieces of one split, in their given order.

    A piece is in ``val`` when a hash of its id falls below ``val_fraction``, else in
    ``train``; ``all`` is both. The choice depends on the id only, so it is deterministic
    and a piece keeps its side when others are added or removed.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if not 0.0 <= val_fraction <= 1.0:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    if split == "all":
        return list(pieces)
    want_val = split == "val"
    return [p for p in pieces if (_unit_hash(p.piece_id) < val_fraction) == want_val]


@dataclass
class Windows:
    """N windows of W steps, cut from pieces and maybe transposed."""

    lead: np.ndarray  # (N, W, 2, K) uint8
    accomp: np.ndarray  # (N, W, 2, K) uint8
    beat_in_bar: np.ndarray  # (N, W) int16
    style: list[str]  # N style names
    piece_id: list[str]  # N source piece ids
    chords: np.ndarray | None = None  # (N, W) int16 chord label per step (transposed with the window)

    def __len__(self) -> int:
        return len(self.piece_id)


def transpose_roll(roll: np.ndarray, semitones: int) -> np.ndarray:
    """Shift a roll along its last (key) axis; keys pushed off the keyboard are lost, zeros fill."""
    out = np.zeros_like(roll)
    n_keys = roll.shape[-1]
    if semitones >= n_keys or -semitones >= n_keys:
        return out
    if semitones >= 0:
        out[..., semitones:] = roll[..., : n_keys - semitones]
    else:
        out[..., :semitones] = roll[..., -semitones:]
    return out


def window_starts(beat_in_bar: np.ndarray, window: int, hop: int) -> list[int]:
    """Window starts about ``hop`` apart, each moved to the next downbeat when one lies
    within ``hop`` steps after it (bar-aligned where possible). A piece shorter than a window
    gives the one start 0 and is padded by the caller."""
    n_steps = len(beat_in_bar)
    downbeats = np.flatnonzero(beat_in_bar == 0)

    def aligned(target: int) -> int:
        i = np.searchsorted(downbeats, target)
        return int(downbeats[i]) if i < len(downbeats) and downbeats[i] < target + hop else target

    starts = []
    start = aligned(0)
    while start + window <= n_steps:
        starts.append(start)
        start = aligned(start + hop)
    return starts or [0]


def _cut(piece: Piece, start: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lead, accomp and beat-in-bar for ``window`` steps from ``start``, zero-padded at the end."""
    stop = min(start + window, piece.n_steps)
    pad = window - (stop - start)
    lead, accomp = piece.tracks[LEAD][start:stop], piece.tracks[ACCOMP][start:stop]
    beats = piece.beat_in_bar[start:stop]
    if pad:
        widths = ((0, pad), (0, 0), (0, 0))
        lead, accomp = np.pad(lead, widths), np.pad(accomp, widths)
        bar = bar_steps(*piece.meters[-1][1:], piece.spec)
        tail = (int(beats[-1]) + 1 + np.arange(pad)) % bar if len(beats) else np.arange(pad) % bar
        beats = np.concatenate([beats, tail.astype(np.int16)])
    return lead, accomp, beats


def _valid_shifts(lead: np.ndarray, accomp: np.ndarray, shifts: Sequence[int]) -> list[int]:
    """The shifts that keep every note of both rolls on the keyboard."""
    used = np.flatnonzero((lead.max(axis=(0, 1)) | accomp.max(axis=(0, 1))) > 0)
    lo, hi, n_keys = int(used[0]), int(used[-1]), lead.shape[-1]
    return [s for s in shifts if lo + s >= 0 and hi + s < n_keys]


def make_windows(
    pieces: Sequence[Piece],
    window: int,
    hop: int,
    *,
    transpose: Sequence[int] = (0,),
    rng: np.random.Generator | None = None,
) -> Windows:
    """Cut every piece into windows of ``window`` steps about ``hop`` apart (see :func:`window_starts`).

    Windows without a single lead note or without a single accomp note are dropped.
    Transposition: of the shifts in ``transpose`` (semitones), only those that keep every
    note of the window's lead *and* accomp on the keyboard are used. Without ``rng`` each
    window comes once per usable shift; with ``rng`` each window comes once, at one usable
    shift drawn uniformly. Arrays are ``uint8`` rolls ``(N, W, 2, K)``, ``int16`` beats.
    """
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be at least 1 step, got {window} and {hop}")
    shifts = list(dict.fromkeys(int(s) for s in transpose))
    chosen: list[tuple[Piece, int, int]] = []  # (piece, start, shift)
    for piece in pieces:
        for start in window_starts(piece.beat_in_bar, window, hop):
            lead, accomp, _ = _cut(piece, start, window)
            if not lead.any() or not accomp.any():
                continue
            valid = _valid_shifts(lead, accomp, shifts)
            if rng is not None and valid:
                valid = [valid[int(rng.integers(len(valid)))]]
            chosen.extend((piece, start, s) for s in valid)

    n_keys = pieces[0].spec.n_keys if pieces else DEFAULT_SPEC.n_keys
    out = Windows(
        lead=np.zeros((len(chosen), window, 2, n_keys), np.uint8),
        accomp=np.zeros((len(chosen), window, 2, n_keys), np.uint8),
        beat_in_bar=np.zeros((len(chosen), window), np.int16),
        style=[p.style for p, _, _ in chosen],
        piece_id=[p.piece_id for p, _, _ in chosen],
        chords=np.zeros((len(chosen), window), np.int16),
    )
    for i, (piece, start, shift) in enumerate(chosen):
        lead, accomp, beats = _cut(piece, start, window)
        out.lead[i] = transpose_roll(lead, shift)
        out.accomp[i] = transpose_roll(accomp, shift)
        out.beat_in_bar[i] = beats
        labels = piece_chords(piece)[start : start + window]
        out.chords[i, : len(labels)] = transpose_chords(labels, shift)
    return out
