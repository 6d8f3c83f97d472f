"""What a chord planner must beat: per-beat exact chord accuracy of two simple predictors.

- :func:`repeat_last`: beat ``b`` gets the reference chord of beat ``b - 1`` (the first beat
  gets no chord). It sees the true history, so it is an oracle-history baseline: a planner
  that predicts the next chord from its own past must at least match it.
- :func:`accomp.music.baselines.harmonizer_chords`: the rule-based harmonizer's diatonic
  triad per beat, chosen from the lead alone.

Accuracy is label equality over the beats whose reference is a chord (not
:data:`~accomp.music.chords.NO_CHORD`), pooled over pieces by counting beats. A beat's
label is the label at its first step (:func:`accomp.music.metrics.beat_starts`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from accomp.config import LEAD
from accomp.music.baselines import harmonizer_chords
from accomp.music.chords import NO_CHORD
from accomp.music.frames import Piece
from accomp.music.metrics import beat_starts


def beat_labels(chords: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Per-step labels (T,) -> the label at each beat's first step (B,)."""
    return np.asarray(chords, dtype=np.int64)[beat_starts(beat_in_bar, steps_per_beat)]


def chord_accuracy(predicted_per_beat: np.ndarray, reference_per_beat: np.ndarray) -> float:
    """Share of beats with a reference chord whose predicted label equals it (NaN when none)."""
    predicted, reference = np.asarray(predicted_per_beat), np.asarray(reference_per_beat)
    if predicted.shape != reference.shape:
        raise ValueError(f"predicted {predicted.shape} and reference {reference.shape} beats differ")
    scored = reference != NO_CHORD
    return float((predicted == reference)[scored].mean()) if scored.any() else float("nan")


def repeat_last(reference_per_beat: np.ndarray) -> np.ndarray:
    """Each beat predicted as the previous beat's reference chord (no chord for the first)."""
    reference = np.asarray(reference_per_beat, dtype=np.int64)
    return np.concatenate([[NO_CHORD], reference[:-1]]) if len(reference) else reference.copy()


def _reference(piece: Piece) -> np.ndarray:
    if piece.chords is None or len(piece.chords) != piece.n_steps:
        raise ValueError(f"{piece.piece_id}: no chord labels (see accomp.music.labels)")
    return beat_labels(piece.chords, piece.beat_in_bar, piece.spec.steps_per_beat)


def _harmonizer(piece: Piece) -> np.ndarray:
    spec = piece.spec
    return harmonizer_chords(piece.tracks[LEAD], piece.beat_in_bar, spec.steps_per_beat, lowest_pitch=spec.lowest_pitch)


def planner_baselines(pieces: Sequence[Piece]) -> dict[str, float]:
    """Pooled per-beat exact chord accuracy of each baseline against the pieces' labels:
    ``{"repeat last chord": ..., "rule-based harmonizer": ...}`` (NaN without chord beats)."""
    refs = [_reference(p) for p in pieces]
    reference = np.concatenate(refs) if refs else np.zeros(0, dtype=np.int64)
    predictions = {
        "repeat last chord": [repeat_last(r) for r in refs],
        "rule-based harmonizer": [_harmonizer(p) for p in pieces],
    }
    return {
        name: chord_accuracy(np.concatenate(per_piece) if per_piece else reference[:0], reference)
        for name, per_piece in predictions.items()
    }
