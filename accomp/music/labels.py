"""Chord labels for a piece: POP909's annotations where a piece has them, else a template
match of its human accompaniment per beat (:func:`accomp.music.chords.match_chords`, the
metrics' own matching)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from accomp.config import ACCOMP
from accomp.music.chords import annotation_steps, match_chords, read_annotation
from accomp.music.frames import Piece
from accomp.music.metrics import beat_bass, beat_chroma, beat_index, pc_counts

# Bump when the template labels change: cached corpora hold them (:mod:`accomp.music.cache`).
# 2: a tie between chords goes to the chord of the beat's bass, then the commoner chord.
LABELS_VERSION = 2


def accomp_tracks(piece: Piece) -> np.ndarray:
    """Every accompaniment role of a piece merged into one roll (T, 2, K)."""
    rolls = [r for role, r in piece.tracks.items() if role == ACCOMP or role.startswith(ACCOMP + ":")]
    if not rolls:
        return np.zeros_like(next(iter(piece.tracks.values())))
    return np.maximum.reduce(rolls)


def template_steps(accomp: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, lowest_pitch: int) -> np.ndarray:
    """Per-step chord labels by a template match of the accompaniment's chroma per beat."""
    beats = beat_index(beat_in_bar, steps_per_beat)
    if not len(beats):
        return np.zeros(0, dtype=np.int64)
    chroma = beat_chroma(pc_counts(accomp, lowest_pitch), beats)
    return match_chords(chroma, bass=beat_bass(accomp, beats, lowest_pitch))[beats]


def label_by_template(piece: Piece) -> Piece:
    piece.chords = template_steps(accomp_tracks(piece), piece.beat_in_bar, piece.spec.steps_per_beat, piece.spec.lowest_pitch)
    piece.chord_source, piece.chords_mapped = "template", 0
    return piece


def label_by_annotation(piece: Piece, path: str | Path) -> Piece:
    """Labels from a POP909 ``chord_midi.txt`` (times in seconds on the MIDI file's clock)."""
    beats = beat_index(piece.beat_in_bar, piece.spec.steps_per_beat)
    piece.chords, piece.chords_mapped = annotation_steps(read_annotation(path), piece.step_times(), beats)
    piece.chord_source = "annotation"
    return piece


def piece_chords(piece: Piece) -> np.ndarray:
    """The piece's per-step labels, by template match when it carries none."""
    if piece.chords is None or len(piece.chords) != piece.n_steps:
        label_by_template(piece)
    return piece.chords
