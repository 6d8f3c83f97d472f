"""benchmarks/folk.py: which folk songs it plays and how it lays them on the bar grid, and
what counts as the band opening on the tonic chord."""

from __future__ import annotations

import pytest
from music21 import converter

from accomp.music.chords import chord_index
from benchmark_module import load

SONG = """X:1
T:A test song
M:{meter}
L:1/4
K:G
D|G A B G|A B c A|B c d B|c B A D|G A B G|A B c A|B A G F|G3|
"""


@pytest.fixture(scope="module")
def folk():
    return load("folk")


def test_a_song_is_laid_on_whole_bars_with_its_pickup_padded_in_front(folk):
    notes, tonic, mode, per_bar = folk.song_notes(converter.parse(SONG.format(meter="4/4"), format="abc"))
    assert (tonic, mode, per_bar) == (7, "major", 4)
    assert notes[0] == (62, 3.0, 1.0)  # the pickup D on the first bar's last beat
    assert notes[1] == (67, 4.0, 1.0)  # the first full bar on beat 4
    assert notes[-1] == (67, 32.0, 3.0)
    assert folk.song_notes(converter.parse(SONG.format(meter="6/8"), format="abc")) is None  # a beat of three eighths


def test_the_first_bar_line_is_read_after_the_pickup(folk):
    notes, tonic, mode, per_bar = folk.song_notes(converter.parse(SONG.format(meter="4/4"), format="abc"))
    g, d7, em = chord_index(7, "maj"), chord_index(2, "7"), chord_index(4, "min")
    row = {"chords": [0, 0, 0, d7, g] + [g] * 31}
    assert folk.first_chord_is_tonic(row, notes, tonic, mode, per_bar)  # D7 under the pickup, G on the bar line
    row["chords"][4] = em
    assert not folk.first_chord_is_tonic(row, notes, tonic, mode, per_bar)
    assert chord_index(7, "maj7") in folk.tonic_chords(7, "major") and em in folk.tonic_chords(4, "minor")


JIG = """X:2
T:A test jig
M:6/8
L:1/8
K:D
A|d2 d f2 f|e2 e c2 A|d2 d f2 a|g2 e d3|d2 d f2 f|e2 e c2 A|d2 f e2 c|d3 d2|
"""


def test_compound_reads_a_jig_on_its_dotted_quarters_and_finds_changes_off_them():
    compound = load("compound")
    notes = compound.song_notes(converter.parse(JIG, format="abc"))
    assert notes[0] == (69, 2.5, 0.5)  # the pickup A on the first bar's last eighth
    assert notes[1] == (74, 3.0, 1.0)  # the first full bar's d on its bar line
    assert compound.song_notes(converter.parse(SONG.format(meter="4/4"), format="abc")) is None
    d, a = chord_index(2, "maj"), chord_index(9, "maj")
    on_time = compound.measure(notes, [(3.0, d), (7.5, a), (9.0, d)])  # A on bar 2's second dotted quarter
    late = compound.measure(notes, [(3.0, d), (8.5, a), (9.0, d)])  # on its 5th eighth instead
    assert on_time["changes"] == late["changes"] == 2
    assert on_time["off_beat"] == 0 and late["off_beat"] == 1
    assert on_time["in_chord"] > late["in_chord"]  # bar 2's c# on its second dotted quarter is A's third
