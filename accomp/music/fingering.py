"""Arranger-keyboard chord recognition: the keys held below the split point name the chord.

Two ways of naming a chord, as arranger keyboards read them:

- **Fingered**: the chord's own notes, in any inversion and spread over any octaves: three
  or more keys whose pitch classes are exactly a chord of :data:`FINGERED` (12 roots each).
  Where a set of pitch classes names two chords (``C F G`` is Csus4 and Fsus2; an augmented
  triad is three), the one rooted on the lowest key wins.
- **Single finger**: one key is the major chord on it; with keys below it (within an
  octave), the top key is the root and the lower ones say the quality: a black key below
  makes it minor, a white key below a seventh, both a minor seventh.

Anything else names nothing (:func:`recognise` returns None), and the band keeps the chord
it has.
"""

from __future__ import annotations

from collections.abc import Iterable

from accomp.music.chords import INTERVALS, chord_index, parse_root

FINGERED: tuple[str, ...] = ("maj", "min", "7", "min7", "maj7", "dim", "sus4", "aug", "sus2", "hdim7")
_BLACK = {1, 3, 6, 8, 10}


def _fingered_table() -> dict[frozenset[int], list[tuple[int, int]]]:
    """pitch-class set -> [(root, chord index), ...] in :data:`FINGERED` order."""
    table: dict[frozenset[int], list[tuple[int, int]]] = {}
    for quality in FINGERED:
        for root in range(12):
            pcs = frozenset((root + i) % 12 for i in INTERVALS[quality])
            table.setdefault(pcs, []).append((root, chord_index(root, quality)))
    return table


_FINGERED = _fingered_table()


def recognise(keys: Iterable[int]) -> int | None:
    """The chord (an index of :mod:`accomp.music.chords`) that held MIDI keys name, or None."""
    notes = sorted(set(int(k) for k in keys))
    if not notes:
        return None
    pcs = frozenset(n % 12 for n in notes)
    if len(pcs) >= 3 and pcs in _FINGERED:
        candidates = _FINGERED[pcs]
        bass = notes[0] % 12
        return next((c for root, c in candidates if root == bass), candidates[0][1])
    root = notes[-1]
    below = notes[:-1]
    if len(notes) == 1:
        return chord_index(root % 12, "maj")
    if len(below) > 2 or root - below[0] > 12:
        return None
    black = sum(1 for n in below if n % 12 in _BLACK)
    white = len(below) - black
    quality = {(1, 0): "min", (0, 1): "7", (1, 1): "min7"}.get((black, white))
    return chord_index(root % 12, quality) if quality is not None else None


def split_keys(held: Iterable[int], split: int) -> tuple[list[int], list[int]]:
    """(chord keys below ``split``, lead keys at or above it)."""
    held = sorted(held)
    return [k for k in held if k < split], [k for k in held if k >= split]



def parse_key(text: str) -> int:
    """A MIDI key from a number (``54``) or a note name with its octave (``F#3``, ``Bb2``; C4
    is middle C, 60). ValueError for anything else, or a key outside 0..127."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        key = int(text)
    else:
        name = text.rstrip("-0123456789")
        octave = text[len(name):]
        root = parse_root(name) if name else None
        if root is None or not octave.lstrip("-").isdigit():
            raise ValueError(f"'{text}' is not a key: give a MIDI number (54) or a note and octave (F#3; C4 is middle C)")
        key = 12 * (int(octave) + 1) + root
    if not 0 <= key <= 127:
        raise ValueError(f"'{text}' is outside the MIDI keys 0..127")
    return key
