"""`accomp render --chart`: the bundled presets play every shipped chart, and bad charts or
impossible combinations end in one line (the issue-18 table: benchmarks/chart_check.py)."""

from __future__ import annotations

import pytest

from accomp.cli import main
from accomp.config import DEFAULT_SPEC
from accomp.music.charts import band_roll, bundled_charts, chart_scores, read_chart


@pytest.mark.parametrize("preset", ["pop", "chorale"])
def test_the_bundled_presets_play_every_shipped_chart(preset, tmp_path):
    for chart in bundled_charts():
        out, sheet = tmp_path / f"{chart.stem}.mid", tmp_path / f"{chart.stem}.txt"
        assert main(["render", "--chart", str(chart), "--preset", preset, "-o", str(out), "--chords", str(sheet)]) == 0
        scores = chart_scores(band_roll(out), read_chart(chart).per_beat(), DEFAULT_SPEC.steps_per_beat)
        assert scores["chord_agreement"] >= 0.9 and scores["key_adherence"] >= 0.95, (chart.stem, scores)
        lines = sheet.read_text().splitlines()
        assert lines[0] == "bar beat chord" and lines[1].startswith("1 1 ")


def test_a_chart_under_a_melody_transposed_and_the_bad_cases(tmp_path, capsys):
    import mido

    lead = tmp_path / "lead.mid"
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="lead")])
    for k in range(32):
        track.append(mido.Message("note_on", note=67 + (k % 5), velocity=80, time=0))
        track.append(mido.Message("note_off", note=67 + (k % 5), velocity=0, time=480))
    midi.tracks.append(track)
    midi.save(lead)
    chart = tmp_path / "two.txt"
    chart.write_text("| C | G7 |\n")
    sheet = tmp_path / "sheet.txt"
    assert main(["render", str(lead), "--chart", str(chart), "--transpose", "2", "--preset", "pop", "-o", str(tmp_path / "o.mid"),
                 "--chords", str(sheet)]) == 0  # fmt: skip
    assert sheet.read_text().splitlines()[1:5] == ["1 1 D", "2 1 A7", "3 1 D", "4 1 A7"]  # transposed, looping under the lead
    capsys.readouterr()  # its progress lines
    bad = tmp_path / "bad.txt"
    bad.write_text("tempo: 0\n| C |\n")
    waltz = tmp_path / "waltz.txt"
    waltz.write_text("time: 3/4\n| C |\n")
    for argv, message in (
        (["--chart", str(bad)], "bad.txt:1:8: tempo 0 is outside"),
        (["--chart", str(waltz), str(lead)], "is in 3/4 but"),
        (["--chart", str(chart), "--transpose", "12"], "--transpose 12"),
        (["--chart", str(chart), str(lead), "--whole-song"], "--chart and --whole-song"),
        ([], "render needs a LEAD file"),
        (["--chart", str(tmp_path / "none.txt")], "cannot read the chart"),
    ):
        assert main(["render", *argv, "--preset", "pop", "-o", str(tmp_path / "x.mid")]) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize("meter, bar, beats", [("6/8", "| C . . G . . | F . . . . Bb |", ["1 1 C", "1 4 G", "2 1 F", "2 6 Bb", "3 1 C"]),
                                               ("2/2", "| C G | F |", ["1 1 C", "1 2 G", "2 1 F", "3 1 C"])])  # fmt: skip
def test_a_chart_counted_in_eighths_or_halves_keeps_its_bars_on_the_bands(tmp_path, meter, bar, beats):
    """A chart's beat is its meter's 1/den note: in 6/8 six eighths a bar, in 2/2 two halves;
    laid out in quarter notes, a 6/8 chart's bar lasted two of the band's and its chords fell
    behind the melody's bars. The lead sheet counts the beats as the chart does."""
    import mido

    chart = tmp_path / "chart.txt"
    chart.write_text(f"time: {meter}\ntempo: 120\n{bar}\n")
    out, sheet = tmp_path / "o.mid", tmp_path / "sheet.txt"
    assert main(["render", "--chart", str(chart), "--preset", "pop", "-o", str(out), "--chords", str(sheet)]) == 0
    assert sheet.read_text().splitlines()[1 : len(beats)] == beats[:-1]  # once through, alone
    num, den = map(int, meter.split("/"))
    assert mido.MidiFile(out).length == pytest.approx(2 * num * (4 / den) * 0.5 + 0.5, abs=0.3)  # two bars at 120 bpm, a beat to end
    lead = tmp_path / "lead.mid"  # under a melody of four bars it loops
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="lead"),
                            mido.MetaMessage("time_signature", numerator=num, denominator=den)])  # fmt: skip
    for k in range(4 * num):
        track.append(mido.Message("note_on", note=67 + (k % 3), velocity=80, time=0))
        track.append(mido.Message("note_off", note=67 + (k % 3), velocity=0, time=480 * 4 // den))
    midi.tracks.append(track)
    midi.save(lead)
    assert main(["render", str(lead), "--chart", str(chart), "--preset", "pop", "-o", str(out), "--chords", str(sheet)]) == 0
    assert sheet.read_text().splitlines()[1 : len(beats) + 1] == beats
