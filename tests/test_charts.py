"""Chord charts (accomp.music.charts): the format, the shipped examples and every bad input."""

from __future__ import annotations

import numpy as np
import pytest

from accomp.errors import ChartError
from accomp.music.charts import bundled_charts, chart_text, parse_chart, parse_chord, read_chart
from accomp.music.chords import NO_CHORD, QUALITIES, chord_index, chord_name


def names(chart) -> list[str]:
    return [chord_name(c) for c in chart.per_beat()]


def test_every_vocabulary_chord_reads_back_from_its_own_symbol():
    for root in range(12):
        for quality in QUALITIES:
            c = chord_index(root, quality)
            assert parse_chord(chord_name(c)) == c, chord_name(c)
    assert parse_chord("N.C.") == NO_CHORD


@pytest.mark.parametrize("symbol, expected", [
    ("F#m7", "F#m7"), ("Bbmaj7", "Bbmaj7"), ("Ebm7b5", "Ebm7b5"), ("Gø", "Gm7b5"), ("C^7", "Cmaj7"), ("A-7", "Am7"),
    ("D9", "D7"), ("C6", "C"), ("Am6", "Am"), ("Bdim7", "Bdim"), ("G7sus4", "Gsus4"), ("Gsus", "Gsus4"), ("C/E", "C"),
    ("Db+", "C#aug"), ("Cadd9", "C"),
])  # fmt: skip
def test_lead_sheet_symbols_fold_onto_the_vocabulary(symbol, expected):
    assert chord_name(parse_chord(symbol)) == expected


def test_bars_share_their_beats_and_dots_hold():
    chart = parse_chart("time: 4/4\n| C | F G7 | C F G | C . . G7 |\n| % |")
    assert names(chart) == ["C"] * 4 + ["F", "F", "G7", "G7"] + ["C", "C", "F", "G"] + ["C", "C", "C", "G7"] + ["C", "C", "C", "G7"]
    assert [bar.line for bar in chart.bars] == [2, 2, 2, 2, 3]


def test_repeats_unroll_and_the_header_is_read():
    chart = parse_chart("# a comment\ntitle: Loop # not a comment\ntempo: 96\ntime: 3/4\n|: C | G7 :|x3\n| C |")
    assert chart.title == "Loop # not a comment" and chart.tempo == 96.0 and chart.meter == (3, 4)
    assert names(chart) == (["C"] * 3 + ["G7"] * 3) * 3 + ["C"] * 3
    assert len(parse_chart("|: C | F :| G |").bars) == 5


def test_the_shipped_charts_read_and_say_what_they_are():
    charts = bundled_charts()
    assert {p.stem for p in charts} >= {"blues_in_f", "ii_v_i", "pop_axis", "amazing_grace"}
    for path in charts:
        chart = read_chart(path)
        assert chart.title and chart.tempo and len(chart.bars) >= 12
        assert NO_CHORD not in chart.per_beat()


def test_a_chart_written_from_chords_per_beat_reads_back_the_same():
    rng = np.random.default_rng(0)
    vocab = [chord_index(r, q) for r in (0, 2, 5, 7, 9) for q in ("maj", "min", "7", "maj7", "min7")]
    for meter in ((4, 4), (3, 4), (6, 8)):
        beats = np.repeat(rng.choice(vocab, 40), rng.integers(1, 4, 40))
        beats = beats[: len(beats) // meter[0] * meter[0]]
        chart = parse_chart(chart_text(beats, meter, tempo=110, title="round trip"))
        assert np.array_equal(chart.per_beat(), beats) and chart.meter == meter and chart.tempo == 110


@pytest.mark.parametrize("text, where", [
    ("| C | Hm7 |", "1:7: unknown chord symbol 'Hm7'"),
    ("time: 3/4\n| C F G Am |", "2:9: this bar has 4 chords for 3 beats"),
    ("tempo: 0\n| C |", "1:8: tempo 0 is outside 20-400 bpm"),
    ("tempo: fast\n| C |", "1:8: tempo 'fast' is not a number"),
    ("time: 4/5\n| C |", "1:7: time '4/5' is not a time signature"),
    ("| C | G", "1:7: the last bar of the line is not closed"),
    ("C | G |", "1:1: a line of bars starts with '|'"),
    ("|: C | G |", "1:1: '|:' opens a repeat that no ':|' closes"),
    ("| . C | G |", "1:3: '.' holds the chord before it"),
    ("| % | C |", "1:3: '%' repeats the bar before"),
    ("| C :| G |\n| D :|x40 |", "2:5: a section repeats 2 to 16 times"),
    ("| C . G |", "1:3: a bar written with '.' or '/' needs one entry per beat"),
])  # fmt: skip
def test_a_bad_chart_names_its_line_and_column(text, where):
    with pytest.raises(ChartError) as err:
        parse_chart(text, "song.txt")
    assert str(err.value).startswith("song.txt:" + where.split(":")[0] + ":" + where.split(":")[1] + ":")
    assert where.split(": ", 1)[1] in str(err.value) and "\n" not in str(err.value)


def test_files_that_are_not_charts_are_refused_in_one_line(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing but a comment\n\ntempo: 100\n")
    with pytest.raises(ChartError, match="empty.txt: the chart has no bars"):
        read_chart(empty)
    huge = tmp_path / "huge.txt"
    huge.write_text("| C | G |\n" * 1_100_000)  # about 10 MB
    with pytest.raises(ChartError, match=r"huge.txt: 11.0 MB is not a chart"):
        read_chart(huge)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"| C |\xff\xfe")
    with pytest.raises(ChartError, match="not a text chart"):
        read_chart(binary)
    with pytest.raises(ChartError, match="cannot read the chart"):
        read_chart(tmp_path / "missing.txt")
    with pytest.raises(ChartError, match="unrolls to more than"):
        parse_chart(("|: " + " | ".join(["C"] * 1000) + " :|x16\n") * 8)
