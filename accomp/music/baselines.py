"""Two honest baselines every table reports, judged by the same metric code as any model.

- :func:`harmonize`: a rule-based diatonic harmonizer. The key comes from the lead
  (Krumhansl-Schmuckler); each beat gets the diatonic triad that covers the most of the
  lead's sounding note-steps in that beat, ties broken toward I, IV, V, then vi, ii, iii,
  vii° (minor: i, iv, V, VI, III, VII, ii°, with the raised leading tone in V); a beat
  without a lead note holds the previous chord (silence before the lead's first note).
  A triad is struck when it changes and at every bar line, and held otherwise.
  :func:`harmonizer_chords` is its choice per beat as a chord of :mod:`accomp.music.chords`
  (what :mod:`accomp.music.chord_baselines` scores a chord planner against).
- :func:`static_tonic`: the tonic triad of the lead's key, struck at every bar line and
  held for the whole piece.

Both voice their triads in close root position with the root in C3..B3 (MIDI 48..59),
and return an accomp roll with the lead roll's shape.
"""

from __future__ import annotations

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.music import chords
from accomp.music.metrics import LOWEST, beat_chroma, beat_index, pc_counts, piece_key

ROOT_OCTAVE = 48  # C3: roots sit in C3..B3

# Diatonic triads as (root degree in semitones above the tonic, intervals), in preference order.
DIATONIC_TRIADS: dict[str, tuple[tuple[int, tuple[int, int, int]], ...]] = {
    "major": (
        (0, (0, 4, 7)),  # I
        (5, (0, 4, 7)),  # IV
        (7, (0, 4, 7)),  # V
        (9, (0, 3, 7)),  # vi
        (2, (0, 3, 7)),  # ii
        (4, (0, 3, 7)),  # iii
        (11, (0, 3, 6)),  # vii°
    ),
    "minor": (
        (0, (0, 3, 7)),  # i
        (5, (0, 3, 7)),  # iv
        (7, (0, 4, 7)),  # V (raised leading tone)
        (8, (0, 4, 7)),  # VI
        (3, (0, 4, 7)),  # III
        (10, (0, 4, 7)),  # VII
        (2, (0, 3, 6)),  # ii°
    ),
}
_QUALITY = {intervals: quality for quality, intervals in chords.INTERVALS.items()}


def triad_pitches(tonic: int, mode: str, degree_index: int) -> list[int]:
    """MIDI pitches of one diatonic triad of the key, close root position from C3..B3."""
    degree, intervals = DIATONIC_TRIADS[mode][degree_index]
    root = ROOT_OCTAVE + (tonic + degree) % 12
    return [root + i for i in intervals]


def _chord_roll(
    pitch_sets: list[list[int]], per_step: np.ndarray, strike: np.ndarray, shape: tuple, lowest_pitch: int
) -> np.ndarray:
    """Lay chord ``per_step[t]`` (an index into ``pitch_sets``, -1 = rest) on a roll."""
    roll = np.zeros(shape, dtype=np.uint8)
    n_keys = shape[2]
    for index, pitches in enumerate(pitch_sets):
        keys = [p - lowest_pitch for p in pitches if 0 <= p - lowest_pitch < n_keys]
        steps = np.flatnonzero(per_step == index)
        roll[np.ix_(steps, [SUSTAIN], keys)] = 1
        hits = steps[strike[steps]]
        roll[np.ix_(hits, [ONSET], keys)] = 1
    return roll


def _strikes(per_step: np.ndarray, beat_in_bar: np.ndarray) -> np.ndarray:
    """Strike where the chord changes (rests excluded) and at every bar line."""
    changed = np.ones(len(per_step), dtype=bool)
    changed[1:] = per_step[1:] != per_step[:-1]
    return (changed | (np.asarray(beat_in_bar) == 0)) & (per_step >= 0)


def triad_chord(tonic: int, mode: str, degree_index: int) -> int:
    """One diatonic triad of the key as a chord vocabulary index (:mod:`accomp.music.chords`)."""
    degree, intervals = DIATONIC_TRIADS[mode][degree_index]
    return chords.chord_index(tonic + degree, _QUALITY[intervals])


def chord_pitches(chord: int) -> list[int]:
    """MIDI pitches of a vocabulary chord, close root position with the root in C3..B3."""
    root = ROOT_OCTAVE + chords.root_of(chord)
    return [root + i for i in chords.INTERVALS[chords.quality_of(chord)]]


def harmonizer_chords(
    lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, *, lowest_pitch: int = LOWEST
) -> np.ndarray:
    """The rule-based harmonizer's triad per beat as a chord vocabulary index (B,), no chord
    before the lead's first note."""
    tonic, mode = piece_key(lead, None, lowest_pitch)
    triads = DIATONIC_TRIADS[mode]
    cover = np.zeros((12, len(triads)))  # pitch class x triad: 1 where the triad holds it
    for j, (degree, intervals) in enumerate(triads):
        cover[[(tonic + degree + i) % 12 for i in intervals], j] = 1.0
    beats = beat_index(beat_in_bar, steps_per_beat)
    chroma = beat_chroma(pc_counts(lead, lowest_pitch), beats)  # (B, 12) lead note-steps
    covered = chroma @ cover  # (B, 7) integer valued
    # lexicographic: most covered note-steps first, then the preference order I, IV, V, ...
    choice = np.argmax(covered * (len(triads) + 1) - np.arange(len(triads)), axis=1)
    has_lead = chroma.sum(axis=1) > 0
    last = np.maximum.accumulate(np.where(has_lead, np.arange(len(choice)), -1)) if len(choice) else choice
    vocab = np.array([triad_chord(tonic, mode, j) for j in range(len(triads))])
    return np.where(last >= 0, vocab[choice[np.maximum(last, 0)]], chords.NO_CHORD)


def harmonize(
    lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, *, lowest_pitch: int = LOWEST
) -> np.ndarray:
    """The rule-based diatonic harmonizer's accompaniment for ``lead``. Same shape as ``lead``."""
    per_beat = harmonizer_chords(lead, beat_in_bar, steps_per_beat, lowest_pitch=lowest_pitch)
    used = np.unique(per_beat[per_beat != chords.NO_CHORD])
    per_step = per_beat[beat_index(beat_in_bar, steps_per_beat)]
    per_step = np.where(per_step != chords.NO_CHORD, np.searchsorted(used, per_step), -1)
    pitch_sets = [chord_pitches(int(c)) for c in used]
    return _chord_roll(pitch_sets, per_step, _strikes(per_step, beat_in_bar), lead.shape, lowest_pitch)


def static_tonic(
    lead: np.ndarray, beat_in_bar: np.ndarray, steps_per_beat: int, *, lowest_pitch: int = LOWEST
) -> np.ndarray:
    """The tonic triad of the lead's key, struck every bar and held throughout."""
    tonic, mode = piece_key(lead, None, lowest_pitch)
    per_step = np.zeros(lead.shape[0], dtype=np.int64)
    pitches = [triad_pitches(tonic, mode, 0)]
    return _chord_roll(pitches, per_step, _strikes(per_step, beat_in_bar), lead.shape, lowest_pitch)


BASELINES = {"rule-based harmonizer": harmonize, "static tonic": static_tonic}
