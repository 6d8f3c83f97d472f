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
