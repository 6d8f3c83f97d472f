"""Chord tones a part must sound for its chord to be heard, added where the part leaves them out.

The student voices its chord as it learnt to, and a pop part is often an open fifth or a
root and fifth in the left hand. That hedges: an open fifth is heard as major (the root's
fifth partial is a major third), so

- a *planned* chord (the live planner's, a whole song's) whose third is minor (m, dim, m7,
  m7b5) gets its minor third where the part plays without it: the one tone that makes it
  minor. A major chord gets its third only while the melody sounds it (an F voiced F-C under
  the melody's A: the band doubles the A while the melody holds it): heard with the melody
  the chord was already F, but the band alone, an open fifth, is as much a Csus4, and a
  listener's or a chord reader's ear for the band alone hears that. Under any other melody
  note the part keeps its own voicing (added there too, the thirds made the part plainer:
  diversity 0.77x -> 0.68x the pianist's on the first 48 POP909 openings; held on with the
  chord after the melody left it, a whole song's part fell to 0.69x). A chord whose third
  lies outside the plan's key (a C minor in C major) is left alone: the guard lets a note
  outside the key sound only where the model is sure of it, and an added tone has no model
  behind it. Nor is the third added (or held) once the lead has sounded a note outside the
  plan's key under the chord: a chromatic note, or a move to another key the planner has not
  followed yet, puts that key in doubt until the next chord or another key (added there, the
  old key's thirds held the band a beat longer in the old key after a key change:
  ``benchmarks/key_change.py``).
  A style whose part-writing does not double the third of a major chord
  (:data:`DOUBLES_MELODY_THIRD`: the chorale's; in four-part writing the soprano's third,
  the leading tone above all, is not doubled by an inner voice) leaves the major third out
  altogether. Doubled there, the chorale part was plainer and no truer (diversity 0.73x ->
  0.77x the chorales' own parts live and 0.69x -> 0.74x with ``--whole-song`` without it,
  chord agreement 0.403 -> 0.398 and 0.468 -> 0.465; 31 validation chorales).
- a style whose part-writing never leaves out a chord's root (:data:`SOUNDS_ROOT`: the
  chorale's; in four-part writing the tone a voice may drop is the fifth, and the bass sounds
  the root of most chords) gets a *planned* chord's root below the part where the part has
  none, in key and not in doubt as the third: a chorale part of B-D under a planned G, or
  C#-E under an A, is heard (and read) as B minor and C# minor. With it the chorale band
  named the human's chord more often (31 validation chorales, three seeds: live 0.391-0.408
  -> 0.410-0.421, ``--whole-song`` 0.457-0.466 -> 0.472-0.483; 334 training chorales 0.420 ->
  0.430 and 0.433 -> 0.445) at a little less variety (0.76-0.79x -> 0.75-0.77x the chorales'
  own parts) and 7-10% more onsets. The pop part, whose left hand sounds its roots already,
  gained nothing from it and lost variety (first 48 POP909 openings, whole song, 0.68-0.71x
  -> 0.67-0.69x): not there.
- a *named* chord (a chart's, the left hand's in arranger mode) is the player's own: it gets
  its root and its third where the part leaves them out, whatever its quality. A seventh
  chord voiced without them (a Dm7 as C-D-A, a C7 as E-G-Bb) reads as another chord.

An added tone is struck once, with the chord's first sounding step (a major third: where the
melody starts sounding it, until it stops), and held while the chord and the part go on, as
a pianist comping keeps it: the root below the part (in :data:`ROOT_RANGE`), the third near
the part's middle (in :data:`GUIDE_RANGE`). The student never hears the added tones (its own
frames feed its history), so they change no later decision. The engine's accompanist and the
streamed evaluation (``accomp student eval``, calibration) call the same
:class:`GuideTones`.
"""

from __future__ import annotations

import numpy as np

from accomp.config import DEFAULT_SPEC, ONSET, SUSTAIN
from accomp.music.chords import INTERVALS, N_CHORDS, NO_CHORD, quality_of, root_of
from accomp.music.metrics import key_pitch_classes

GUIDE_RANGE = (52, 72)  # MIDI keys (E3..B4) where a chord's third is added when missing
ROOT_RANGE = (36, 60)  # MIDI keys (C2..B3) where a named chord's root is added, below the part, when missing
ROOT, THIRD = 0, 1  # slots


def _tones() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per chord, the pitch class each slot needs (-1: none): (named (N_CHORDS, 2), planned
    (N_CHORDS, 2)), and whether a planned chord's third waits for the melody to sound it
    (a major third; (N_CHORDS,) bool)."""
    named = np.full((N_CHORDS, 2), -1, dtype=np.int64)
    planned = named.copy()
    with_melody = np.zeros(N_CHORDS, dtype=bool)
    for chord in range(1, N_CHORDS):
        root, third = root_of(chord), INTERVALS[quality_of(chord)][1]
        named[chord] = root, (root + third) % 12
        planned[chord, ROOT] = root  # added only for a style that sounds it (SOUNDS_ROOT)
        if third in (3, 4):
            planned[chord, THIRD] = (root + third) % 12
            with_melody[chord] = third == 4
    return named, planned, with_melody


_NAMED, _PLANNED, _WITH_MELODY = _tones()
_IN_KEY = np.stack([key_pitch_classes(t, mode) for mode in ("major", "minor") for t in range(12)])  # [12 * minor + tonic, pc]

# Per style: whether its band doubles the melody's major third (a style not named here does).
DOUBLES_MELODY_THIRD: dict[str, bool] = {"pop": True, "chorale": False}
# Per style: whether its band sounds a planned chord's root where its part leaves it out (a
# style not named here does not).
SOUNDS_ROOT: dict[str, bool] = {"pop": False, "chorale": True}


def _mix_follows(table: dict[str, bool], default: bool, styles, weights) -> bool:
    """Whether a style mix follows a voicing rule: the styles that do (``table``, ``default``
    for a style not in it and for "no style", the weight after the named ones) hold at least
    half of the mix; with no mix at all, ``default``."""
    w = np.clip(np.asarray(weights, dtype=np.float64).reshape(-1), 0.0, None)
    follows = np.array([table.get(name, default) for name in styles] + [default] * (len(w) - len(styles)))
    return bool(default if w.sum() <= 0 else w[follows[: len(w)]].sum() >= 0.5 * w.sum())


def doubles_melody_third(styles, weights) -> bool:
    """Whether a style mix's band doubles the melody's major third (:data:`DOUBLES_MELODY_THIRD`)."""
    return _mix_follows(DOUBLES_MELODY_THIRD, True, styles, weights)


def sounds_root(styles, weights) -> bool:
    """Whether a style mix's band adds a planned chord's missing root (:data:`SOUNDS_ROOT`)."""
    return _mix_follows(SOUNDS_ROOT, False, styles, weights)


def _sounds(lead: np.ndarray | None, keys: np.ndarray) -> bool:
    """Whether the lead frame (2, K) sounds any of ``keys`` ((K,) bool)."""
    return lead is not None and bool(lead[SUSTAIN, keys].any())


class GuideTones:
    """One stream's added chord tones. Per step: :meth:`mark` before it, :meth:`apply` to the
    step's frame; a re-decided step calls :meth:`undo` first, to start from where it began."""

    def __init__(self, lowest_pitch: int = DEFAULT_SPEC.lowest_pitch, n_keys: int = DEFAULT_SPEC.n_keys, *,
                 melody_third: bool = True, root: bool = False) -> None:
        self.melody_third = melody_third  # a planned major chord's third, while the melody sounds it (doubles_melody_third)
        self.root = root  # a planned chord's root, where the part has none (sounds_root)
        pcs = (lowest_pitch + np.arange(n_keys)) % 12
        keys = lowest_pitch + np.arange(n_keys)
        # _candidates[slot][pc]: the keys in the slot's range with that pitch class
        self._candidates = [[np.flatnonzero((pcs == pc) & (keys >= lo) & (keys < hi)) for pc in range(12)]
                            for lo, hi in (ROOT_RANGE, GUIDE_RANGE)]  # fmt: skip
        self._pcs = pcs
        self._of_pc = np.stack([pcs == pc for pc in range(12)])  # [pc]: the keys of that pitch class
        # the root's key, the third's key (-1: none), their chord, and the key the lead has left under it
        # (12 * minor + tonic; -1: none)
        self.added = np.array([-1, -1, NO_CHORD, -1], dtype=np.int64)
        self._before = self.added.copy()

    def reset(self) -> None:
        self.added[:] = (-1, -1, NO_CHORD, -1)

    def mark(self) -> None:
        self._before[:] = self.added

    def undo(self) -> None:
        self.added[:] = self._before

    def apply(self, frame: np.ndarray, chord: int, *, named: bool, tonic: int = 0, minor: bool = False,
              lead: np.ndarray | None = None) -> None:
        """Add to ``frame`` (2, K), in place, the tones ``chord`` needs that the part leaves
        out; a planned chord's only in its key (``tonic``, ``minor``) and until the ``lead``
        frame (2, K) sounds a note outside that key under the chord (while the key stays), its
        major third only while the lead sounds it (and never without ``melody_third``), its
        root only with ``root``."""
        if chord == NO_CHORD:
            self.added[:2] = -1
            return
        if self.added[2] != chord:
            self.added[:] = (-1, -1, chord, -1)  # a new chord: its own tones, where it needs them
        key_row = 12 * minor + tonic
        in_key = _IN_KEY[key_row]
        if lead is not None and not in_key[self._pcs[lead[SUSTAIN] > 0]].all():
            self.added[3] = key_row
        sounding = frame[SUSTAIN] > 0
        if not sounding.any():
            self.added[:2] = -1
            return
        tones = (_NAMED if named else _PLANNED)[chord]
        doubt = not named and self.added[3] == key_row
        keys = None
        for slot in (ROOT, THIRD):
            pc = tones[slot]
            if pc < 0 or not (named or (in_key[pc] and not doubt)) or (not named and (
                    (slot == ROOT and not self.root)
                    or (slot == THIRD and _WITH_MELODY[chord] and not (self.melody_third and _sounds(lead, self._of_pc[pc]))))):
                # a root: only for a style that sounds it; a major third: only while the melody
                # sounds it (and the style doubles it)
                self.added[slot] = -1  # not (or no longer) added: struck afresh if it is wanted again
                continue
            if self.added[slot] < 0:
                keys = np.flatnonzero(sounding) if keys is None else keys
                if (self._pcs[keys] == pc).any():
                    continue
                candidates = self._candidates[slot][pc]
                if not len(candidates):  # a keyboard range without the slot's keys: nothing to add
                    continue
                if slot == ROOT:  # the nearest below the part (any in range when none is)
                    under = candidates[candidates < keys.min()]
                    self.added[slot] = under[-1] if len(under) else candidates[0]
                else:  # the nearest to the part's middle
                    self.added[slot] = candidates[np.argmin(np.abs(candidates - np.median(keys)))]
                frame[ONSET, self.added[slot]] = 1
            frame[SUSTAIN, self.added[slot]] = 1
