"""Quality metrics for an accompaniment against its lead: the yardstick every model reports.

Every metric is a pure numpy function of one piece's ``(lead, accomp, beat_in_bar,
steps_per_beat)`` (rolls as in :mod:`accomp.config`: ``(T, 2, n_keys)`` uint8). A note
*sounds* at a step when its sustain (or onset) cell is on. A *beat* is a quarter note:
it starts at every step whose ``beat_in_bar`` is a multiple of ``steps_per_beat`` (and at
step 0). The *chroma* of a beat is, per pitch class, the number of sounding note-steps in it.

Each metric is a ratio ``numerator / denominator`` of counts, so over many pieces it is
**pooled**: the counts are summed over pieces first (a length- or note-weighted mean).
The exception is diversity, an entropy per piece, averaged over pieces weighted by their
sounding beats; and the pitch-class overlap, which compares pooled histograms.

- ``consonance``: share of consonant note pairs over all steps, the pairs being every
  (sounding accomp note, sounding lead note) and every two sounding accomp notes; an
  interval is consonant when its interval class is in :data:`CONSONANT` (unison/octave,
  3rds, 4th, 5th, 6ths) and dissonant otherwise (2nds, tritone, 7ths). 1.0 = consonant.
- ``key_adherence``: share of sounding accomp note-steps whose pitch class is in the
  piece's key: the major scale, or natural minor plus the raised 7th. The key is the
  Krumhansl-Schmuckler estimate from the lead plus the *reference* accompaniment (the
  lead alone when there is none), never from the part being judged, so it cannot be gamed.
- ``chord_agreement``: share of beats, among those where both candidate and reference
  name a chord, whose chords agree in root and triad family (sevenths fold onto their
  triads). A chord is the best cosine match of the beat's chroma against the templates of
  :data:`CHORD_TEMPLATES`, a tie (two pitch classes fit every chord that holds both) going to
  the chord of the beat's lowest note, then the commoner chord
  (:data:`accomp.music.chords.TIE_QUALITIES`); a beat with fewer than two pitch classes
  names no chord.
- ``note_in_chord``: share of sounding lead note-steps whose pitch class is a tone of the
  chord the accompaniment names in that beat, over the lead note-steps in beats where the
  accompaniment names a chord (the beat's accomp chroma matched against the chord
  vocabulary by :func:`accomp.music.chords.match_chords`). No reference needed. ReaLchords
  (Wu et al., 2024) reports 0.37 for an online MLE model, 0.48 after RL fine-tuning and
  0.73 for human accompaniment.
- ``onset_density``: accomp onsets per beat, from the beat the lead's first note sounds in
  (before it a live band has nothing to follow, while a human arrangement may have an intro:
  counting those beats would let a band that plays twice a pianist's notes under the melody
  pass as one that plays as many).
- ``polyphony``: mean number of sounding accomp notes over steps where the accomp sounds,
  from the lead's first note on.
- ``activity``: share of lead-sounding steps in which the accompaniment sounds.
- ``pc_overlap``: histogram intersection (``sum(min(p, q))``, 1.0 = identical) of the
  sustain-weighted 12-bin pitch-class histogram of the part, pooled over pieces after
  rotating each piece to its key's tonic (so C major and A minor pieces pool), with the
  same histogram of a reference set.
- ``diversity``: entropy in bits (not normalised) of the accomp's pitch-class set per
  beat (the set of pitch classes sounding anywhere in the beat), over the beats where the
  accomp sounds; a drone or a collapsed part scores 0, n equally used chords log2(n).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from accomp.config import DEFAULT_SPEC, ONSET, SUSTAIN
from accomp.music import chords

METRICS: tuple[str, ...] = (
    "consonance",
    "key_adherence",
    "chord_agreement",
    "note_in_chord",
    "onset_density",
    "polyphony",
    "activity",
    "pc_overlap",
    "diversity",
)

LOWEST = DEFAULT_SPEC.lowest_pitch
Roll = np.ndarray  # (T, 2, n_keys) uint8
Key = tuple[int, str]  # (tonic pitch class, "major" | "minor")

# Interval classes 0..11 semitones: 1 = consonant (unison/octave, m3, M3, P4, P5, m6, M6).
CONSONANT = np.array([1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0], dtype=np.float64)
_CONSONANT_PAIRS = CONSONANT[(np.arange(12)[:, None] - np.arange(12)[None, :]) % 12]  # (12, 12)

# Krumhansl-Kessler key profiles, tonic first.
KS_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KS_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10, 11)}

# Chord templates: name -> (intervals above the root, triad family it is compared as).
CHORD_TEMPLATES: dict[str, tuple[tuple[int, ...], str]] = {
    "maj": ((0, 4, 7), "maj"),
    "min": ((0, 3, 7), "min"),
    "dim": ((0, 3, 6), "dim"),
    "aug": ((0, 4, 8), "aug"),
    "sus4": ((0, 5, 7), "sus4"),
    "sus2": ((0, 2, 7), "sus2"),
    "7": ((0, 4, 7, 10), "maj"),
    "maj7": ((0, 4, 7, 11), "maj"),
    "min7": ((0, 3, 7, 10), "min"),
    "hdim7": ((0, 3, 6, 10), "dim"),
    "dim7": ((0, 3, 6, 9), "dim"),
}
FAMILIES = ("maj", "min", "dim", "aug", "sus4", "sus2")


def _chord_tables() -> tuple[np.ndarray, np.ndarray]:
    """Unit-norm templates for every (quality, root), and the label each one names."""
    rows, labels = [], []
    for intervals, family in CHORD_TEMPLATES.values():
        for root in range(12):
            row = np.zeros(12)
            row[[(root + i) % 12 for i in intervals]] = 1.0
            rows.append(row / np.linalg.norm(row))
            labels.append(root * len(FAMILIES) + FAMILIES.index(family))
    return np.array(rows), np.array(labels)


_CHORD_ROWS, _CHORD_LABELS = _chord_tables()
_TEMPLATE_RANK = {q: i for i, q in enumerate((*chords.TIE_QUALITIES, "dim7"))}
_CHORD_TIES = chords.tie_tables([(root, intervals, _TEMPLATE_RANK[quality])
                                 for quality, (intervals, _) in CHORD_TEMPLATES.items() for root in range(12)])  # fmt: skip

# ----------------------------------------------------------------------------- building blocks


def sounding(roll: np.ndarray) -> np.ndarray:
    """Which keys sound at each step (sustain, or an onset without sustain). (T, K) bool."""
    return roll[:, SUSTAIN, :].astype(bool) | roll[:, ONSET, :].astype(bool)


def pc_counts(roll: np.ndarray, lowest_pitch: int = LOWEST) -> np.ndarray:
    """Sounding notes per pitch class at each step. (T, 12) float64 (integer valued)."""
    keys = roll.shape[2]
    fold = np.zeros((keys, 12))
    fold[np.arange(keys), (lowest_pitch + np.arange(keys)) % 12] = 1.0
    return sounding(roll).astype(np.float64) @ fold


def beat_index(beat_in_bar: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """Beat number of every step (beats start where ``beat_in_bar % steps_per_beat == 0``)."""
    starts = np.asarray(beat_in_bar) % steps_per_beat == 0
    if starts.size:
        starts[0] = True
    return np.cumsum(starts) - 1


def beat_starts(beat_in_bar: np.ndarray, steps_per_beat: int) -> np.ndarray:
    """The first step of every beat. (B,) int64."""
    return np.flatnonzero(np.diff(beat_index(beat_in_bar, steps_per_beat), prepend=-1))


def beat_chroma(counts: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Sum a (T, 12) per-step chroma into a (B, 12) per-beat chroma."""
    n_beats = int(beats[-1]) + 1 if beats.size else 0
    out = np.zeros((n_beats, 12))
    np.add.at(out, beats, counts)
    return out


def estimate_key(histogram: np.ndarray) -> Key:
    """Krumhansl-Schmuckler: the (tonic pitch class, 'major'|'minor') best correlated."""
    h = np.asarray(histogram, dtype=np.float64)
    if h.sum() <= 0 or np.ptp(h) == 0:
        return 0, "major"
    best, best_r = (0, "major"), -np.inf
    for mode, profile in (("major", KS_MAJOR), ("minor", KS_MINOR)):
        for tonic in range(12):
            r = np.corrcoef(h, np.roll(profile, tonic))[0, 1]
            if r > best_r:
                best, best_r = (tonic, mode), r
    return best


def key_pitch_classes(tonic: int, mode: str) -> np.ndarray:
    """(12,) bool: the pitch classes of the key (minor: natural minor + raised 7th)."""
    mask = np.zeros(12, dtype=bool)
    mask[[(tonic + i) % 12 for i in SCALES[mode]]] = True
    return mask


def piece_key(lead: Roll, reference: Roll | None = None, lowest_pitch: int = LOWEST) -> Key:
    """The key from the lead's (plus the reference accompaniment's) note-step histogram."""
    hist = pc_counts(lead, lowest_pitch).sum(axis=0)
    if reference is not None:
        hist = hist + pc_counts(reference, lowest_pitch).sum(axis=0)
    return estimate_key(hist)


def chord_labels(chroma: np.ndarray, bass: np.ndarray | None = None) -> np.ndarray:
    """Per beat: root * 6 + triad family of the best template, or -1 (< 2 pitch classes).
    Ties are broken as :func:`accomp.music.chords.match_chords` breaks them (``bass``: (B,)
    each beat's lowest pitch class, -1 where none)."""
    labels = _CHORD_LABELS[chords.best_fits(np.asarray(chroma, dtype=np.float64), _CHORD_ROWS, _CHORD_TIES, bass)]
    return np.where((chroma > 0).sum(axis=1) >= 2, labels, -1)


def beat_bass(roll: np.ndarray, beats: np.ndarray, lowest_pitch: int = LOWEST) -> np.ndarray:
    """(B,) the pitch class of each beat's lowest sounding note, -1 in a beat where none sounds."""
    on = sounding(roll)
    n_beats = int(beats[-1]) + 1 if beats.size else 0
    lowest = np.full(n_beats, on.shape[1])
    np.minimum.at(lowest, beats, np.where(on.any(axis=1), on.argmax(axis=1), on.shape[1]))
    return np.where(lowest < on.shape[1], (lowest + lowest_pitch) % 12, -1)


def histogram_overlap(p: np.ndarray, q: np.ndarray) -> float:
    """Intersection of two histograms, each normalised to sum 1; NaN when either is empty."""
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    return float(np.minimum(p / p.sum(), q / q.sum()).sum())


def _entropy_bits(codes: np.ndarray) -> float:
    if codes.size == 0:
        return 0.0
    _, counts = np.unique(codes, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum() + 0.0)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else float("nan")


# ----------------------------------------------------------------------------- tallies


def piece_tally(
    lead: np.ndarray,
    accomp: np.ndarray,
    beat_in_bar: np.ndarray,
    steps_per_beat: int,
    *,
    reference: np.ndarray | None = None,
    key: Key | None = None,
    lowest_pitch: int = LOWEST,
) -> dict[str, np.ndarray]:
    """The counts every metric of one piece is made of: metric -> [numerator, denominator].

    ``reference`` is the human accompaniment of the same piece (for chord agreement and the
    key); ``key`` overrides the estimated key. ``pc_hist`` is the key-relative histogram.
    """
    if lead.shape[0] != accomp.shape[0]:
        raise ValueError(f"lead and accomp differ in length: {lead.shape[0]} vs {accomp.shape[0]}")
    lead_pc, acc_pc = pc_counts(lead, lowest_pitch), pc_counts(accomp, lowest_pitch)
    beats = beat_index(beat_in_bar, steps_per_beat)
    n_acc, n_lead = acc_pc.sum(axis=1), lead_pc.sum(axis=1)
    tonic, mode = key if key is not None else piece_key(lead, reference, lowest_pitch)

    # consonance: accomp x lead pairs, plus unordered pairs of distinct accomp notes
    cons = ((acc_pc @ _CONSONANT_PAIRS) * lead_pc).sum()
    cons += (((acc_pc @ _CONSONANT_PAIRS) * acc_pc).sum() - n_acc.sum()) / 2
    pairs = (n_acc * n_lead).sum() + (n_acc * (n_acc - 1)).sum() / 2

    acc_hist = acc_pc.sum(axis=0)
    in_key = acc_hist[key_pitch_classes(tonic, mode)].sum()

    chroma = beat_chroma(acc_pc, beats)
    bass = beat_bass(accomp, beats, lowest_pitch)
    agree = both = 0.0
    if reference is not None:
        t = min(len(accomp), len(reference))
        ref_chroma = beat_chroma(pc_counts(reference[:t], lowest_pitch), beats[:t])
        ref_bass = beat_bass(reference[:t], beats[:t], lowest_pitch)
        mine = chord_labels(chroma[: len(ref_chroma)], bass[: len(ref_chroma)])
        theirs = chord_labels(ref_chroma, ref_bass)
        named = (mine >= 0) & (theirs >= 0)
        agree, both = float((mine == theirs)[named].sum()), float(named.sum())

    lead_chroma = beat_chroma(lead_pc, beats)  # (B, 12) lead note-steps
    acc_chords = chords.match_chords(chroma, bass=bass)  # (B,) the accomp's chord per beat
    in_chord = (lead_chroma * (chords.CHROMA[acc_chords] > 0)).sum()
    lead_named = lead_chroma[acc_chords != chords.NO_CHORD].sum()

    entered = np.maximum.accumulate(n_lead > 0) if len(n_lead) else np.zeros(0, dtype=bool)  # from the lead's first note
    first_beat = int(beats[entered][0]) if entered.any() else len(chroma)  # the beat it sounds in
    sets = (chroma > 0) @ (1 << np.arange(12))
    sets = sets[sets > 0]
    return {
        "consonance": np.array([cons, pairs]),
        "key_adherence": np.array([in_key, acc_hist.sum()]),
        "chord_agreement": np.array([agree, both]),
        "note_in_chord": np.array([in_chord, lead_named]),
        "onset_density": np.array([float(accomp[beats >= first_beat, ONSET, :].sum()), float(len(chroma) - first_beat)]),
        "polyphony": np.array([n_acc[entered].sum(), float((n_acc[entered] > 0).sum())]),
        "activity": np.array([float(((n_acc > 0) & (n_lead > 0)).sum()), float((n_lead > 0).sum())]),
        "diversity": np.array([_entropy_bits(sets) * len(sets), float(len(sets))]),
        "pc_hist": np.roll(acc_hist, -tonic),
    }


def aggregate(
    tallies: Iterable[Mapping[str, np.ndarray]], reference_hist: np.ndarray | None = None
) -> dict[str, float]:
    """Pool piece tallies into one value per metric (NaN where a metric is undefined)."""
    tallies = list(tallies)
    out: dict[str, float] = {}
    for name in METRICS:
        if name == "pc_overlap":
            if reference_hist is None or not tallies:
                out[name] = float("nan")
            else:
                out[name] = histogram_overlap(sum(t["pc_hist"] for t in tallies), reference_hist)
            continue
        num, den = sum((t[name] for t in tallies), np.zeros(2))
        out[name] = _ratio(num, den)
    return out


# ----------------------------------------------------------------------------- one metric, one piece


def _one(name: str, lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int, **kw) -> float:
    return aggregate([piece_tally(lead, accomp, beat_in_bar, steps_per_beat, **kw)])[name]


def consonance(
    lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int, *, lowest_pitch: int = LOWEST
) -> float:
    return _one("consonance", lead, accomp, beat_in_bar, steps_per_beat, lowest_pitch=lowest_pitch)


def key_adherence(
    lead: Roll,
    accomp: Roll,
    beat_in_bar: np.ndarray,
    steps_per_beat: int,
    *,
    reference: Roll | None = None,
    key: Key | None = None,
    lowest_pitch: int = LOWEST,
) -> float:
    kw = dict(reference=reference, key=key, lowest_pitch=lowest_pitch)
    return _one("key_adherence", lead, accomp, beat_in_bar, steps_per_beat, **kw)


def chord_agreement(
    lead: Roll,
    accomp: Roll,
    beat_in_bar: np.ndarray,
    steps_per_beat: int,
    *,
    reference: Roll,
    lowest_pitch: int = LOWEST,
) -> float:
    kw = dict(reference=reference, lowest_pitch=lowest_pitch)
    return _one("chord_agreement", lead, accomp, beat_in_bar, steps_per_beat, **kw)


def note_in_chord(
    lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int, *, lowest_pitch: int = LOWEST
) -> float:
    return _one("note_in_chord", lead, accomp, beat_in_bar, steps_per_beat, lowest_pitch=lowest_pitch)


def onset_density(lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int) -> float:
    return _one("onset_density", lead, accomp, beat_in_bar, steps_per_beat)


def polyphony(lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int) -> float:
    return _one("polyphony", lead, accomp, beat_in_bar, steps_per_beat)


def activity(lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int) -> float:
    return _one("activity", lead, accomp, beat_in_bar, steps_per_beat)


def pc_overlap(
    lead: Roll,
    accomp: Roll,
    beat_in_bar: np.ndarray,
    steps_per_beat: int,
    *,
    reference_hist: np.ndarray,
    key: Key | None = None,
    lowest_pitch: int = LOWEST,
) -> float:
    """Overlap with ``reference_hist``, a key-relative histogram (see :func:`reference_histogram`)."""
    tally = piece_tally(lead, accomp, beat_in_bar, steps_per_beat, key=key, lowest_pitch=lowest_pitch)
    return histogram_overlap(tally["pc_hist"], np.asarray(reference_hist, dtype=np.float64))


def diversity(lead: Roll, accomp: Roll, beat_in_bar: np.ndarray, steps_per_beat: int) -> float:
    return _one("diversity", lead, accomp, beat_in_bar, steps_per_beat)


def reference_histogram(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], lowest_pitch: int = LOWEST
) -> np.ndarray:
    """Pooled key-relative pitch-class histogram of ``(lead, accomp)`` pairs (the reference set)."""
    total = np.zeros(12)
    for lead, accomp in pairs:
        tonic, _ = piece_key(lead, accomp, lowest_pitch)
        total += np.roll(pc_counts(accomp, lowest_pitch).sum(axis=0), -tonic)
    return total
