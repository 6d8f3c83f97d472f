"""Metrics and baselines on hand-made rolls with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from accomp.config import DEFAULT_SPEC, ONSET, SUSTAIN
from accomp.music import metrics as M
from accomp.music.baselines import harmonize, static_tonic
from accomp.music.evaluate import HUMAN, evaluate_pieces, format_table, reference_rows, with_accomp
from accomp.music.frames import Piece

SPB = 4
C, E, G = 60, 64, 67
I, IV, V = [48, 52, 55], [53, 57, 60], [55, 59, 62]


def roll(n_steps: int, notes: list[tuple[int, int, int]]) -> np.ndarray:
    """(start_step, end_step, MIDI pitch) notes -> a roll on the default keyboard."""
    r = np.zeros((n_steps, 2, DEFAULT_SPEC.n_keys), dtype=np.uint8)
    for s, e, p in notes:
        k = p - DEFAULT_SPEC.lowest_pitch
        r[s, ONSET, k] = 1
        r[s:e, SUSTAIN, k] = 1
    return r


def chords(*pitch_sets: list[int], steps: int = SPB) -> list[tuple[int, int, int]]:
    """One chord per ``steps`` steps."""
    return [(i * steps, (i + 1) * steps, p) for i, ps in enumerate(pitch_sets) for p in ps]


def bars(n_steps: int) -> np.ndarray:
    return np.arange(n_steps) % (4 * SPB)


# a melody outlining I-IV-V-I in C major, one chord per beat, in 16ths
MELODY = [72, 76, 79, 76, 77, 81, 84, 81, 79, 83, 86, 83, 84, 79, 76, 72]
LEAD = roll(16, [(i, i + 1, p) for i, p in enumerate(MELODY)])
A_MELODY = [69, 72, 76, 72, 74, 77, 81, 77, 76, 80, 83, 80, 81, 76, 72, 69]  # i-iv-V-i in A minor
A_MINOR = roll(16, [(i, i + 1, p) for i, p in enumerate(A_MELODY)])
CADENCE = roll(16, chords(I, IV, V, I))


# ----------------------------------------------------------------------------- known answers


def test_c_major_triad_under_held_c_is_fully_consonant():
    lead = roll(16, [(0, 16, 72)])
    accomp = roll(16, [(0, 16, p) for p in (48, 52, 55)])
    assert M.consonance(lead, accomp, bars(16), SPB) == 1.0


def test_minor_second_cluster_scores_low():
    lead = roll(16, [(0, 16, 72)])
    cluster = roll(16, [(0, 16, p) for p in (60, 61, 62, 63)])
    # accomp x lead: 0,1,2,3 semitones -> 2 of 4 consonant; among accomp: 1 of 6
    assert M.consonance(lead, cluster, bars(16), SPB) == pytest.approx(3 / 10)


def test_static_tonic_has_low_chord_agreement_with_cadence():
    static = static_tonic(LEAD, bars(16), SPB)
    assert M.chord_agreement(LEAD, static, bars(16), SPB, reference=CADENCE) <= 0.5
    assert M.chord_agreement(LEAD, CADENCE, bars(16), SPB, reference=CADENCE) == 1.0
    assert M.chord_agreement(LEAD, harmonize(LEAD, bars(16), SPB), bars(16), SPB, reference=CADENCE) == 1.0


def test_consonance_counts_pairs_with_the_lead_and_within_the_accomp():
    lead = roll(4, [(0, 4, 61)])  # C#
    accomp = roll(4, [(0, 4, 48), (0, 4, 55)])  # C G: one consonant pair, two m2/tritone-ish with C#
    # pairs: C-C# (1: dissonant), G-C# (6: tritone), C-G (7: consonant) -> 1/3
    assert M.consonance(lead, accomp, bars(4), SPB) == pytest.approx(1 / 3)
    assert math.isnan(M.consonance(lead, roll(4, []), bars(4), SPB))


# ----------------------------------------------------------------------------- each metric


def test_key_estimate_and_adherence():
    assert M.piece_key(LEAD) == (0, "major")
    assert M.piece_key(A_MINOR) == (9, "minor")
    accomp = roll(16, [(0, 8, 48), (0, 8, 49), (8, 16, 52), (8, 16, 54)])  # C C# E F#: 2 of 4 in C major
    assert M.key_adherence(LEAD, accomp, bars(16), SPB) == pytest.approx(0.5)
    # the key comes from lead + reference, never from the part judged
    assert M.key_adherence(LEAD, accomp, bars(16), SPB, key=(2, "major")) == pytest.approx(0.75)


def test_onset_density_polyphony_activity():
    lead = roll(16, [(0, 8, 72)])  # sounds for 8 steps
    accomp = roll(16, [(0, 4, 48), (0, 4, 52), (4, 6, 55)])  # 3 onsets, sounds steps 0..5
    bib = bars(16)
    assert M.onset_density(lead, accomp, bib, SPB) == pytest.approx(3 / 4)
    assert M.polyphony(lead, accomp, bib, SPB) == pytest.approx((4 * 2 + 2 * 1) / 6)
    assert M.activity(lead, accomp, bib, SPB) == pytest.approx(6 / 8)
    # an intro before the lead's first note (here its second beat) is not the band's density
    late = roll(16, [(5, 8, 72)])
    intro = roll(16, [(0, 1, 40), (0, 1, 43), (1, 2, 40), (4, 8, 48), (12, 14, 50), (12, 14, 53)])
    assert M.onset_density(late, intro, bib, SPB) == pytest.approx(3 / 3)
    assert M.polyphony(late, intro, bib, SPB) == pytest.approx((3 * 1 + 2 * 2) / 5)


def test_pitch_class_histogram_overlap():
    accomp = roll(16, [(0, 16, 48), (0, 16, 52)])  # C and E, equally long
    ref = np.zeros(12)
    ref[[0, 7]] = 1.0  # C and G
    assert M.pc_overlap(LEAD, accomp, bars(16), SPB, reference_hist=ref, key=(0, "major")) == pytest.approx(0.5)
    # key-relative: the same part a tone up in D major matches a C-major reference exactly
    d_part = roll(16, [(0, 16, 50), (0, 16, 54)])
    c_ref = np.zeros(12)
    c_ref[[0, 4]] = 1.0
    assert M.pc_overlap(LEAD, d_part, bars(16), SPB, reference_hist=c_ref, key=(2, "major")) == pytest.approx(1.0)


def test_diversity_of_a_drone_is_zero_and_of_four_chords_is_two_bits():
    bib = bars(32)
    drone = roll(32, [(0, 32, p) for p in I])
    assert M.diversity(LEAD[:1].repeat(32, 0), drone, bib, SPB) == 0.0
    restruck = roll(32, chords(*[I] * 8))
    assert M.diversity(LEAD[:1].repeat(32, 0), restruck, bib, SPB) == 0.0
    four = roll(32, chords(I, IV, V, [57, 60, 64], I, IV, V, [57, 60, 64]))
    assert M.diversity(LEAD[:1].repeat(32, 0), four, bib, SPB) == pytest.approx(2.0)


def test_note_in_chord_of_the_lead_against_the_accompaniments_chord():
    triad = roll(16, [(0, 16, p) for p in I])
    assert M.note_in_chord(roll(16, [(0, 16, 72)]), triad, bars(16), SPB) == 1.0  # C over C major
    assert M.note_in_chord(roll(16, [(0, 16, 78)]), triad, bars(16), SPB) == 0.0  # F# over C major
    assert math.isnan(M.note_in_chord(roll(16, [(0, 16, 72)]), roll(16, []), bars(16), SPB))  # no chord named
    # per lead note-step: C then D over C major; a beat with one accomp note names no chord and is not counted
    lead = roll(16, [(0, 6, 72), (6, 12, 74), (12, 16, 73)])
    accomp = roll(16, [(0, 12, p) for p in I] + [(12, 16, 48)])
    assert M.note_in_chord(lead, accomp, bars(16), SPB) == pytest.approx(6 / 12)
    assert M.note_in_chord(LEAD, CADENCE, bars(16), SPB) == 1.0


def test_chord_labels_fold_sevenths_onto_triads_and_ignore_single_notes():
    chroma = np.zeros((4, 12))
    chroma[0, [0, 4, 7]] = 1  # C
    chroma[1, [0, 4, 7, 10]] = 1  # C7 -> C major family
    chroma[2, [9, 0, 4]] = 1  # A minor
    chroma[3, [0]] = 1  # a single note names no chord
    labels = M.chord_labels(chroma)
    assert labels[0] == labels[1] != labels[2]
    assert labels[3] == -1


def test_a_two_note_beat_is_read_over_its_bass():
    """G-Bb fits Eb, Gm and more alike: over a G bass it is Gm, so a G minor triad agrees with it
    and holds the melody's D; F-A over F is F (the lowest root would read C#aug)."""
    human = roll(8, [(0, 4, 43), (0, 4, 58), (4, 8, 41), (4, 8, 57)])  # G2+Bb3, then F2+A3
    band = roll(8, [(0, 4, p) for p in (55, 58, 62)] + [(4, 8, p) for p in (53, 57, 60)])  # Gm, F
    lead = roll(8, [(0, 4, 74), (4, 8, 72)])  # D over the first, C over the second
    assert M.beat_bass(human, M.beat_index(bars(8), SPB)).tolist() == [7, 5]
    assert M.chord_agreement(lead, band, bars(8), SPB, reference=human) == 1.0
    assert M.note_in_chord(lead, human, bars(8), SPB) == 1.0
    assert M.beat_bass(roll(8, []), M.beat_index(bars(8), SPB)).tolist() == [-1, -1]


def test_pooled_aggregation_weights_by_counts():
    lead = roll(4, [(0, 4, 72)])
    good = M.piece_tally(lead, roll(4, [(0, 4, 48)]), bars(4), SPB)  # 1 consonant pair per step
    bad_lead = roll(8, [(0, 8, 73)])
    bad = M.piece_tally(bad_lead, roll(8, [(0, 8, 48)]), bars(8), SPB)  # 1 dissonant pair per step
    assert M.aggregate([good, bad])["consonance"] == pytest.approx(4 / 12)


# ----------------------------------------------------------------------------- baselines


def _lead_pcs_covered(lead: np.ndarray, accomp: np.ndarray) -> bool:
    lead_pc, acc_pc = M.pc_counts(lead), M.pc_counts(accomp)
    beats = M.beat_index(bars(len(lead)), SPB)
    lb, ab = M.beat_chroma(lead_pc, beats) > 0, M.beat_chroma(acc_pc, beats) > 0
    return bool((ab | ~lb).all())


def test_harmonizer_is_diatonic_covers_the_lead_and_holds_through_rests():
    lead = np.concatenate([LEAD, roll(8, [])])  # two beats of rest after the cadence
    accomp = harmonize(lead, bars(24), SPB)
    assert accomp.shape == lead.shape
    assert M.key_adherence(lead, accomp, bars(24), SPB, key=(0, "major")) == 1.0
    assert _lead_pcs_covered(lead, accomp)
    held = M.pc_counts(accomp)[16:]
    assert (held == M.pc_counts(accomp)[15]).all()  # the last chord is held over the rest
    assert np.flatnonzero(accomp[16:, ONSET].any(axis=1)).tolist() == [0]  # re-struck at the bar line only
    keys = np.flatnonzero(accomp[:, SUSTAIN].any(axis=0)) + DEFAULT_SPEC.lowest_pitch
    assert keys.min() >= 48 and keys.max() <= 72


def test_harmonizer_prefers_tonic_on_ties_and_is_silent_before_the_lead():
    lead = np.concatenate([roll(4, []), LEAD])
    accomp = harmonize(lead, bars(20), SPB)
    assert not accomp[:4].any()
    single = roll(16, [(0, 16, 72)] + [(i, i + 1, p) for i, p in enumerate([74, 76, 77, 79, 81, 83])])
    first_beat = M.pc_counts(harmonize(single, bars(16), SPB))[0]
    assert set(np.flatnonzero(first_beat)) == {0, 4, 7}


def test_static_tonic_is_the_tonic_triad_struck_each_bar():
    lead = np.concatenate([LEAD, LEAD])
    accomp = static_tonic(lead, bars(32), SPB)
    assert accomp.shape == lead.shape
    assert set(np.flatnonzero(M.pc_counts(accomp).sum(axis=0))) == {0, 4, 7}
    assert np.flatnonzero(accomp[:, ONSET].any(axis=1)).tolist() == [0, 16]
    assert M.diversity(lead, accomp, bars(32), SPB) == 0.0
    minor_chord = M.pc_counts(static_tonic(A_MINOR, bars(16), SPB)).sum(axis=0)
    assert set(np.flatnonzero(minor_chord)) == {9, 0, 4}


# ----------------------------------------------------------------------------- evaluation


def _piece(piece_id: str, lead: np.ndarray, accomp: np.ndarray) -> Piece:
    return Piece(piece_id=piece_id, style="test", spec=DEFAULT_SPEC, tracks={"lead": lead, "accomp": accomp})


def test_evaluate_pieces_rows_and_table():
    twice = np.concatenate([LEAD, LEAD]), np.concatenate([CADENCE, CADENCE])
    refs = [_piece("pop909/001", LEAD, CADENCE), _piece("pop909/002", *twice)]
    candidates = reference_rows(refs)
    candidates["model"] = [with_accomp(p, np.zeros_like(p.tracks["lead"])) for p in refs]
    rows = evaluate_pieces(candidates, refs)
    assert list(rows) == [HUMAN, "rule-based harmonizer", "static tonic", "model"]
    human, static = rows[HUMAN], rows["static tonic"]
    assert set(human) == set(M.METRICS)
    assert human["chord_agreement"] == 1.0 and human["pc_overlap"] == pytest.approx(1.0)
    assert static["chord_agreement"] == pytest.approx(0.5) and static["diversity"] == 0.0
    assert rows["rule-based harmonizer"]["chord_agreement"] == 1.0
    assert human["note_in_chord"] == 1.0 and math.isnan(rows["model"]["note_in_chord"])
    assert rows["model"]["activity"] == 0.0 and math.isnan(rows["model"]["consonance"])
    table = format_table(rows, title="test: 2 pieces")
    lines = table.splitlines()
    assert lines[0] == "test: 2 pieces" and len(lines) == 3 + 4
    assert "consonance" in lines[1] and "diversity" in lines[1]
    assert "chord agr  in chord" in lines[1]
    assert lines[-1].startswith("model") and " - " in lines[-1]
    assert math.isnan(evaluate_pieces({"x": refs})["x"]["chord_agreement"])  # no references
