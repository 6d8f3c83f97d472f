"""Chords as data: the vocabulary the chord planner decides in, and labels per beat.

The vocabulary is 12 roots x :data:`QUALITIES` plus "no chord" (index 0): index
``1 + root * len(QUALITIES) + quality``. Each chord has a chroma (its tones) and a bass
(its root), which is what the teacher and the student are conditioned on per frame.

Labels per beat come from two places:

- POP909's ``chord_midi.txt`` annotations (:func:`parse_label` reads their ``Root:quality``
  syntax; a quality outside the vocabulary maps to its nearest chord, counted);
- anything else by a template match of the accompaniment's pitch classes per beat
  (:func:`match_chords`, the same cosine match the metrics name chords with).

A piece's labels are per grid step (constant inside a beat) so they crop and window like
its rolls; -1 nowhere: a step without a chord is 0 ("no chord").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
QUALITIES: tuple[str, ...] = ("maj", "min", "dim", "aug", "sus2", "sus4", "7", "maj7", "min7", "hdim7")
INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "dim": (0, 3, 6),
    "aug": (0, 4, 8),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "hdim7": (0, 3, 6, 10),
}
SUFFIX = {"maj": "", "min": "m", "dim": "dim", "aug": "aug", "sus2": "sus2", "sus4": "sus4",
          "7": "7", "maj7": "maj7", "min7": "m7", "hdim7": "m7b5"}  # fmt: skip
NO_CHORD = 0
N_CHORDS = 1 + 12 * len(QUALITIES)
CHORD_FEATURES = 24  # chroma (12) + bass (12) per frame


def chord_index(root: int, quality: str) -> int:
    return 1 + (root % 12) * len(QUALITIES) + QUALITIES.index(quality)


def root_of(index: int) -> int:
    """Root pitch class of a chord (-1 for no chord)."""
    return -1 if index == NO_CHORD else (index - 1) // len(QUALITIES)


def quality_of(index: int) -> str:
    return "N" if index == NO_CHORD else QUALITIES[(index - 1) % len(QUALITIES)]


def chord_name(index: int) -> str:
    """A lead-sheet symbol: C, Am, G7, Bm7b5, ... ("N.C." for no chord)."""
    if index == NO_CHORD:
        return "N.C."
    return NAMES[root_of(index)] + SUFFIX[quality_of(index)]


def _tables() -> tuple[np.ndarray, np.ndarray]:
    chroma = np.zeros((N_CHORDS, 12), dtype=np.float32)
    bass = np.zeros((N_CHORDS, 12), dtype=np.float32)
    for root in range(12):
        for quality, intervals in INTERVALS.items():
            i = chord_index(root, quality)
            chroma[i, [(root + k) % 12 for k in intervals]] = 1.0
            bass[i, root] = 1.0
    return chroma, bass


CHROMA, BASS = _tables()  # (N_CHORDS, 12) each; row 0 (no chord) is all zeros


def features(chords: np.ndarray) -> np.ndarray:
    """Per-frame conditioning (..., 24): the chord's tones, then its root, as {0, 1}."""
    chords = np.asarray(chords, dtype=np.int64)
    return np.concatenate([CHROMA[chords], BASS[chords]], axis=-1)


def transpose(chords: np.ndarray, semitones: int) -> np.ndarray:
    """Chords moved by ``semitones`` (no chord stays no chord)."""
    chords = np.asarray(chords, dtype=np.int64)
    q = len(QUALITIES)
    moved = 1 + ((chords - 1) // q + semitones) % 12 * q + (chords - 1) % q
    return np.where(chords == NO_CHORD, NO_CHORD, moved)


# ----------------------------------------------------------------------------- template match


_UNIT = CHROMA[1:] / np.linalg.norm(CHROMA[1:], axis=1, keepdims=True)


# The cosine match ties often: a beat of two pitch classes fits every chord that holds both
# alike (G-B: Ebaug, Em and G; F-A: C#aug, Dm, F). Among tied chords a musician reads the one
# the bass is the root of, else the third, else the fifth, else the seventh; then the commoner
# quality, in this order; then the root that sounds longer.
TIE_QUALITIES: tuple[str, ...] = ("maj", "min", "7", "min7", "maj7", "sus4", "sus2", "dim", "hdim7", "aug")


def tie_tables(templates: Sequence[tuple[int, Sequence[int], int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For templates (root, intervals above it, quality rank): where each pitch class stands
    in each (0 root .. 3 seventh, 4 not in it; (R, 13), the last column for no bass known),
    their ranks (R,) and their roots (R,): what :func:`best_fits` breaks ties with."""
    place = np.full((len(templates), 13), 4, dtype=np.int64)
    for row, (root, intervals, _) in enumerate(templates):
        for i, interval in enumerate(intervals):
            place[row, (root + interval) % 12] = min(place[row, (root + interval) % 12], i)
    return place, np.array([t[2] for t in templates]), np.array([t[0] for t in templates])


def best_fits(chroma: np.ndarray, rows: np.ndarray, ties: tuple[np.ndarray, np.ndarray, np.ndarray],
              bass: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """Index of the best cosine match of each (B, 12) chroma row against unit ``rows``, a tie
    going to the row whose root the bass is, else its third, fifth, seventh; then the lower
    quality rank; then the root that sounds longer (``ties``: :func:`tie_tables`)."""
    place, rank, roots = ties
    fit = (chroma / np.maximum(np.linalg.norm(chroma, axis=1, keepdims=True), 1e-12)) @ rows.T
    tied = fit >= fit.max(axis=1, keepdims=True) - 1e-9
    bass = np.full(len(chroma), -1) if bass is None else np.asarray(bass, dtype=np.int64).reshape(-1)
    where = place[:, np.where(bass >= 0, bass, 12)].T  # (B, R)
    loudest = np.maximum(chroma.max(axis=1, keepdims=True), 1e-12)
    cost = 100.0 * where + rank + 0.5 * (1.0 - chroma[:, roots] / loudest)
    return np.argmin(np.where(tied, cost, np.inf), axis=1)


_TIES = tie_tables([(root_of(c), INTERVALS[quality_of(c)], TIE_QUALITIES.index(quality_of(c))) for c in range(1, N_CHORDS)])


def match_chords(chroma: np.ndarray, min_classes: int = 2, bass: np.ndarray | None = None) -> np.ndarray:
    """Vocabulary chord per (B, 12) chroma row, the best cosine match, its ties broken as a
    musician reads a beat (:data:`TIE_QUALITIES`); no chord where fewer than ``min_classes``
    pitch classes sound. ``bass``: (B,) the pitch class of each beat's lowest note, -1 where
    none is known (then the quality decides)."""
    chroma = np.asarray(chroma, dtype=np.float64).reshape(-1, 12)
    if not len(chroma):
        return np.zeros(0, dtype=np.int64)
    best = 1 + best_fits(chroma, _UNIT, _TIES, bass)
    return np.where((chroma > 0).sum(axis=1) >= min_classes, best, NO_CHORD)


# ----------------------------------------------------------------------------- annotations

# Qualities outside the vocabulary, mapped to the nearest one that is in it.
NEAREST = {
    "maj6": "maj", "min6": "min", "dim7": "dim", "minmaj7": "min", "9": "7", "maj9": "maj7",
    "min9": "min7", "11": "7", "13": "7", "min11": "min7", "sus4(b7)": "sus4", "sus4(b7,9)": "sus4",
    "sus2(b7)": "sus2", "aug7": "aug", "5": "maj", "1": "maj", "": "maj",
}  # fmt: skip
_ROOT = re.compile(r"^([A-G])([b#]*)$")


def parse_root(text: str) -> int | None:
    m = _ROOT.match(text.strip())
    if not m:
        return None
    pc = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}[m.group(1)]
    return (pc + m.group(2).count("#") - m.group(2).count("b")) % 12


def parse_label(text: str) -> tuple[int, bool]:
    """A ``Root:quality[/bass]`` label (Harte syntax, as POP909 writes it) -> (chord, exact).

    ``exact`` is False when the label was mapped to its nearest chord or, unreadable, to no
    chord; "N" and "X" are no chord, exactly.
    """
    text = text.strip()
    if text in ("N", "X", ""):
        return NO_CHORD, True
    root_text, _, quality = text.partition(":")
    quality = quality.split("/")[0].strip() if quality else "maj"  # the bass of an inversion is dropped
    root = parse_root(root_text)
    if root is None:
        return NO_CHORD, False
    if quality in INTERVALS:
        return chord_index(root, quality), True
    base = re.sub(r"\(.*\)$", "", quality)
    if quality in NEAREST or base in NEAREST or base in INTERVALS:
        return chord_index(root, NEAREST.get(quality, NEAREST.get(base, base))), False
    return NO_CHORD, False


def seconds_to_steps(seconds: np.ndarray, step_times: np.ndarray) -> np.ndarray:
    """Fractional grid positions of times, by linear interpolation over the steps' start times."""
    steps = np.arange(len(step_times), dtype=np.float64)
    return np.interp(seconds, step_times, steps, left=0.0, right=float(len(step_times) - 1))


def annotation_steps(
    rows: Sequence[tuple[float, float, str]], step_times: np.ndarray, beats: np.ndarray
) -> tuple[np.ndarray, int]:
    """Per-step chord labels from timed annotations ``(start_s, end_s, label)``.

    Each beat takes the chord that covers most of it; ``step_times`` are the piece's step
    start times (T + 1,) and ``beats`` its beat number per step. Returns (labels (T,),
    number of rows mapped to a nearest chord or to no chord).
    """
    n_steps = len(beats)
    per_step = np.zeros(n_steps, dtype=np.int64)
    cover = np.zeros(n_steps)
    mapped = 0
    for start, end, label in rows:
        chord, exact = parse_label(label)
        mapped += not exact
        a, b = seconds_to_steps(np.array([start, end]), step_times)
        lo, hi = int(np.floor(a)), int(np.ceil(b))
        for t in range(max(lo, 0), min(hi, n_steps)):
            share = min(b, t + 1) - max(a, t)
            if share > cover[t]:
                cover[t], per_step[t] = share, chord
    return beat_majority(per_step, beats), mapped


def beat_majority(per_step: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Each step takes its beat's most frequent label (the first one on ties)."""
    out = per_step.copy()
    if not len(beats):
        return out
    bounds = np.flatnonzero(np.diff(beats)) + 1
    for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(beats)]])):
        values, counts = np.unique(per_step[lo:hi], return_counts=True)
        out[lo:hi] = values[np.argmax(counts)]
    return out


def read_annotation(path) -> list[tuple[float, float, str]]:
    """Rows of a POP909 ``chord_midi.txt`` (``start end label``, whitespace separated);
    malformed lines raise ValueError naming the line."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                rows.append((float(parts[0]), float(parts[1]), parts[2] if len(parts) > 2 else "N"))
            except (ValueError, IndexError):
                raise ValueError(f"{path}: line {n} is not 'start end chord'") from None
    return rows
