"""The chord vocabulary, chord labels of pieces, and the chord planner's baselines, on toy data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accomp.config import DEFAULT_SPEC, ONSET, SUSTAIN
from accomp.music import chords as C
from accomp.music.baselines import harmonize, harmonizer_chords
from accomp.music.chord_baselines import beat_labels, chord_accuracy, planner_baselines, repeat_last
from accomp.music.frames import Piece
from accomp.music.labels import label_by_annotation, piece_chords, template_steps

SPB = 4
CMAJ, FMAJ, GMAJ = (C.chord_index(root, "maj") for root in (0, 5, 7))
AMIN = C.chord_index(9, "min")


def roll(n_steps: int, notes: list[tuple[int, int, int]]) -> np.ndarray:
    """(start_step, end_step, MIDI pitch) notes -> a roll on the default keyboard."""
    r = np.zeros((n_steps, 2, DEFAULT_SPEC.n_keys), dtype=np.uint8)
    for s, e, p in notes:
        r[s, ONSET, p - DEFAULT_SPEC.lowest_pitch] = 1
        r[s:e, SUSTAIN, p - DEFAULT_SPEC.lowest_pitch] = 1
    return r


def bars(n_steps: int) -> np.ndarray:
    return np.arange(n_steps) % (4 * SPB)


def per_step(*labels: int) -> np.ndarray:
    return np.repeat(np.array(labels, dtype=np.int64), SPB)


# a melody outlining I-IV-V-I in C major, one chord per beat
MELODY = [72, 76, 79, 76, 77, 81, 84, 81, 79, 83, 86, 83, 84, 79, 76, 72]
LEAD = roll(16, [(i, i + 1, p) for i, p in enumerate(MELODY)])


# ----------------------------------------------------------------------------- the vocabulary


def test_names_and_indices():
    assert C.chord_name(CMAJ) == "C" and C.chord_name(AMIN) == "Am" and C.chord_name(C.NO_CHORD) == "N.C."
    assert C.chord_name(C.chord_index(11, "hdim7")) == "Bm7b5"
    assert C.root_of(AMIN) == 9 and C.quality_of(AMIN) == "min" and C.root_of(C.NO_CHORD) == -1
    assert len({C.chord_name(i) for i in range(C.N_CHORDS)}) == C.N_CHORDS


@pytest.mark.parametrize(
    "label, chord, exact",
    [
        ("C:maj", CMAJ, True),
        ("A:min7", C.chord_index(9, "min7"), True),
        ("Bb:hdim7", C.chord_index(10, "hdim7"), True),
        ("Db", C.chord_index(1, "maj"), True),  # no quality: major
        ("N", C.NO_CHORD, True),
        ("X", C.NO_CHORD, True),
        ("C:maj6", CMAJ, False),  # outside the vocabulary: nearest chord
        ("C:sus4(b7)", C.chord_index(0, "sus4"), False),
        ("G:9", C.chord_index(7, "7"), False),
        ("F#:maj(9)", C.chord_index(6, "maj"), False),  # extension dropped
        ("A:min/b3", AMIN, True),  # an inversion keeps its chord; the bass is dropped
        ("Q:maj", C.NO_CHORD, False),  # unreadable root
        ("C:weird", C.NO_CHORD, False),  # unreadable quality
    ],
)
def test_parse_label(label, chord, exact):
    assert C.parse_label(label) == (chord, exact)


def test_transpose_round_trip_and_no_chord_stays():
    every = np.arange(C.N_CHORDS)
    for semitones in (1, 5, -7, 12):
        assert np.array_equal(C.transpose(C.transpose(every, semitones), -semitones), every)
    assert C.transpose(np.array([CMAJ, C.NO_CHORD]), 2).tolist() == [C.chord_index(2, "maj"), C.NO_CHORD]
    assert C.transpose(np.array([AMIN]), 3).tolist() == [C.chord_index(0, "min")]


def test_features_are_chroma_then_bass():
    labels = np.zeros((3, 5), dtype=np.int64)
    labels[1, 2] = AMIN
    f = C.features(labels)
    assert f.shape == (3, 5, C.CHORD_FEATURES) and f[0, 0].sum() == 0
    assert np.flatnonzero(f[1, 2, :12]).tolist() == [0, 4, 9] and np.flatnonzero(f[1, 2, 12:]).tolist() == [9]


def test_match_chords():
    chroma = np.zeros((4, 12))
    chroma[0, [0, 4, 7]] = [3, 1, 2]  # C E G
    chroma[1, [9, 0, 4]] = 1  # A C E
    chroma[2, 4] = 5  # a single pitch class names no chord
    assert C.match_chords(chroma).tolist() == [CMAJ, AMIN, C.NO_CHORD, C.NO_CHORD]
    assert C.match_chords(np.zeros((0, 12))).shape == (0,)


def test_match_chords_breaks_ties_by_the_bass_then_the_commoner_chord():
    def beat(*pcs):
        row = np.zeros(12)
        row[list(pcs)] = 1
        return row

    chroma = np.stack([beat(7, 11), beat(5, 0), beat(7, 10), beat(7, 10), beat(4, 8), beat(0, 4, 7), beat(4)])
    bass = np.array([-1, 5, 7, 10, 4, 4, -1])
    # G-Bb over G is Gm (root); over Bb still Gm (its third, Eb's fifth); with no bass, the
    # commoner major. The lowest index (the lowest root) read G-B as Ebaug, F-C as Csus4.
    assert [C.chord_name(int(c)) for c in C.match_chords(chroma, bass=bass)] == ["G", "F", "Gm", "Gm", "E", "C", "N.C."]
    assert [C.chord_name(int(c)) for c in C.match_chords(chroma)] == ["G", "F", "Eb", "Eb", "E", "C", "N.C."]
    # Where no chords tie, the best cosine match, whatever the bass.
    rng = np.random.default_rng(0)
    full = rng.random((200, 12)) * (rng.random((200, 12)) < 0.4)
    fit = (full / np.maximum(np.linalg.norm(full, axis=1, keepdims=True), 1e-12)) @ C._UNIT.T
    clear = ((fit >= fit.max(axis=1, keepdims=True) - 1e-9).sum(axis=1) == 1) & ((full > 0).sum(axis=1) >= 2)
    assert clear.sum() > 100
    got = C.match_chords(full, bass=rng.integers(-1, 12, 200))
    assert (got[clear] == 1 + fit.argmax(axis=1)[clear]).all()


def test_annotation_steps_take_each_beats_chord():
    step_times = np.arange(9) * 0.125  # two beats of four steps at 120 bpm
    beats = np.repeat([0, 1], SPB)
    labels, mapped = C.annotation_steps([(0.0, 0.5, "C:maj"), (0.5, 1.0, "G:9")], step_times, beats)
    assert labels.tolist() == [CMAJ] * 4 + [C.chord_index(7, "7")] * 4 and mapped == 1
    # a change just after a beat starts: the beat takes the chord that covers most of it
    labels, mapped = C.annotation_steps([(0.0, 0.6, "C"), (0.6, 1.0, "A:min")], step_times, beats)
    assert labels.tolist() == [CMAJ] * 4 + [AMIN] * 4 and mapped == 0


# ----------------------------------------------------------------------------- labels of pieces


def test_template_labels_of_a_toy_piece():
    accomp = roll(16, [(0, 8, p) for p in (48, 52, 55)] + [(8, 12, p) for p in (57, 60, 64)] + [(12, 16, 50)])
    labels = template_steps(accomp, bars(16), SPB, DEFAULT_SPEC.lowest_pitch)
    assert labels.tolist() == per_step(CMAJ, CMAJ, AMIN, C.NO_CHORD).tolist()
    piece = Piece("toy", "test", DEFAULT_SPEC, {"lead": LEAD, "accomp": accomp})
    assert piece.chords is None
    assert piece_chords(piece).tolist() == labels.tolist()
    assert piece.chord_source == "template" and piece.chords_mapped == 0


def test_annotation_labels_of_a_toy_piece(tmp_path):
    path = tmp_path / "chord_midi.txt"
    path.write_text("0.000 1.000 C:maj\n1.000 1.500 A:min\n1.500 2.000 G:sus4(b7)\n")
    piece = Piece("toy", "test", DEFAULT_SPEC, {"lead": LEAD, "accomp": np.zeros_like(LEAD)})  # 120 bpm: 0.5 s a beat
    label_by_annotation(piece, path)
    assert piece.chords.tolist() == per_step(CMAJ, CMAJ, AMIN, C.chord_index(7, "sus4")).tolist()
    assert piece.chord_source == "annotation" and piece.chords_mapped == 1


# ----------------------------------------------------------------------------- planner baselines


def test_chord_accuracy_scores_only_beats_with_a_reference_chord():
    assert chord_accuracy(np.array([1, 2, 3, 0]), np.array([1, 5, 3, 0])) == pytest.approx(2 / 3)
    assert math.isnan(chord_accuracy(np.array([4, 0]), np.array([0, 0])))  # no reference chord
    assert math.isnan(chord_accuracy(np.zeros(0), np.zeros(0)))
    with pytest.raises(ValueError):
        chord_accuracy(np.zeros(2), np.zeros(3))


def test_repeat_last_and_beat_labels():
    assert repeat_last(np.array([CMAJ, FMAJ, FMAJ])).tolist() == [C.NO_CHORD, CMAJ, FMAJ]
    assert repeat_last(np.zeros(0, dtype=np.int64)).shape == (0,)
    assert beat_labels(per_step(CMAJ, FMAJ, GMAJ), bars(12), SPB).tolist() == [CMAJ, FMAJ, GMAJ]


def test_harmonizer_chords_are_the_triads_it_plays():
    lead = np.concatenate([roll(4, []), LEAD])
    per_beat = harmonizer_chords(lead, bars(20), SPB)
    assert per_beat.tolist() == [C.NO_CHORD, CMAJ, FMAJ, GMAJ, CMAJ]
    played = template_steps(harmonize(lead, bars(20), SPB), bars(20), SPB, DEFAULT_SPEC.lowest_pitch)
    assert beat_labels(played, bars(20), SPB).tolist() == per_beat.tolist()


def test_planner_baselines_pool_beats_over_pieces():
    def piece(labels: np.ndarray) -> Piece:
        return Piece("toy", "test", DEFAULT_SPEC, {"lead": LEAD, "accomp": np.zeros_like(LEAD)}, chords=labels)

    cadence = piece(per_step(CMAJ, FMAJ, GMAJ, CMAJ))  # harmonizer 4/4, repeat-last 0/4
    held = piece(per_step(CMAJ, CMAJ, CMAJ, C.NO_CHORD))  # harmonizer 1/3, repeat-last 2/3
    scores = planner_baselines([cadence, held])
    assert scores == {"repeat last chord": pytest.approx(2 / 7), "rule-based harmonizer": pytest.approx(5 / 7)}
    assert math.isnan(planner_baselines([])["repeat last chord"])
    with pytest.raises(ValueError, match="no chord labels"):
        planner_baselines([Piece("bare", "test", DEFAULT_SPEC, {"lead": LEAD})])
