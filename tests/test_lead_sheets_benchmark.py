"""benchmarks/lead_sheets.py: how it reads a lead sheet's melody and written chords, and the
chord it compares on each beat."""

from __future__ import annotations

import numpy as np
import pytest
from music21 import converter

from benchmark_module import load

FAMILIES = 6  # the metrics' triad families: a label is root * 6 + family (maj 0, min 1, dim 2, ...)

REEL = """X:1
T:A test reel
M:4/4
L:1/8
K:G
D2|"G"G2B2 d2B2|"C"c2e2 "D7"d2c2|"Em"B2G2 "Am"A2c2|"D"d4 "G"G4|"G"G2B2 d2B2|"C"c2e2 "D7"d2c2|"G"B2G2 A2F2|"G"G6||
"""

JIG = """X:2
T:A test jig
M:6/8
L:1/8
K:D
A|"D"d2d f2f|"A"e2e c2A|"D"d2d "G"g2e|"A7"e3 c2A|"D"d2d f2f|"A"e2e c2A|"D"d2f "A7"e2c|"D"d3 d2|
"""


@pytest.fixture(scope="module")
def sheets():
    return load("lead_sheets")


def test_a_reel_is_laid_on_whole_bars_with_its_chords_where_they_are_written(sheets):
    song = sheets.tune(converter.parse(REEL, format="abc"))
    assert song["meter"] == (4, 4) and song["key"] == "G"
    assert song["notes"][0] == (62, 3.0, 1.0)  # the pickup D2 (a quarter) before the first bar line
    assert song["notes"][1] == (67, 4.0, 1.0)  # the first bar's G on it
    g, c, d, e, a = 7 * FAMILIES, 0 * FAMILIES, 2 * FAMILIES, 4 * FAMILIES + 1, 9 * FAMILIES + 1
    assert song["symbols"][:6] == [(4.0, g), (8.0, c), (10.0, d), (12.0, e), (14.0, a), (16.0, d)]  # D7 counts as D
    written = sheets.written_per_beat(song["symbols"], 20, 1.0)
    assert list(written[:4]) == [-1] * 4  # nothing written over the pickup
    assert list(written[4:18]) == [g] * 4 + [c] * 2 + [d] * 2 + [e] * 2 + [a] * 2 + [d] * 2


def test_a_jig_is_counted_on_its_dotted_quarters(sheets):
    song = sheets.tune(converter.parse(JIG, format="abc"))
    assert song["meter"] == (6, 8) and song["key"] == "D"
    assert song["notes"][0] == (69, 2.5, 0.5)  # the pickup A on the first bar's last eighth
    written = sheets.written_per_beat(song["symbols"], 8, 1.5)
    d, a, gm = 2 * FAMILIES, 9 * FAMILIES, 7 * FAMILIES
    assert list(written) == [-1, -1, d, d, a, a, d, gm]  # beat 2 = the bar line at 3 quarter notes


def test_a_sheet_that_is_not_one_melody_line_with_chords_is_left_out(sheets):
    no_chords = REEL.replace('"G"', "").replace('"C"', "").replace('"D7"', "").replace('"Em"', "")
    no_chords = no_chords.replace('"Am"', "").replace('"D"', "")
    assert sheets.tune(converter.parse(no_chords, format="abc")) is None
    five_four = REEL.replace("M:4/4", "M:5/4")
    assert sheets.tune(converter.parse(five_four, format="abc")) is None


def test_written_symbols_map_to_the_metrics_chord_labels(sheets):
    from music21 import harmony

    label = sheets.figure_label
    assert label("G7") == label("G") == label("Gmaj7") == 7 * FAMILIES  # sevenths count as their triad
    assert label("F#m7b5") == label("F#dim") == 6 * FAMILIES + 2  # half-diminished: a dim triad
    assert label("Bbm") == label("B-m") == label("bbm") == 10 * FAMILIES + 1
    assert label("Csus4") == 4 and label("Csus2") == 5 and label("Eaug") == 4 * FAMILIES + 3
    assert label("D/f+") == 2 * FAMILIES and label("A7/c+") == 9 * FAMILIES  # a bass after the slash is left out
    assert label("N.C.") == label("") == label("H7") == -1
    assert sheets.symbol_label(harmony.ChordSymbol("Em7")) == 4 * FAMILIES + 1
    assert sheets.symbol_label(harmony.NoChord()) == -1
    assert np.array_equal(sheets.written_per_beat([(2.0, 5), (3.0, 7)], 5, 1.0), [-1, -1, 5, 7, 7])
