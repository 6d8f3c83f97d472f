"""`accomp chart from-midi` and `accomp chart show`: a chart from a MIDI file's chords."""

from __future__ import annotations

import subprocess
import sys

import mido
import numpy as np
import pytest

from accomp.errors import MidiFileError
from accomp.music.chart_midi import midi_chart
from accomp.music.charts import bundled_charts, parse_chart, read_chart
from accomp.music.chords import chord_index, chord_name
from accomp.music.frames import delta_track

TPB = 480
C_MAJ, A_MIN, F_MAJ, G7 = (chord_index(0, "maj"), chord_index(9, "min"), chord_index(5, "maj"), chord_index(7, "7"))
TONES = {C_MAJ: (48, 52, 55), A_MIN: (45, 48, 52), F_MAJ: (41, 45, 48), G7: (43, 47, 50, 53)}


def write_song(path, bars: list[int], *, markers: bool = False, accomp: bool = True, meter=(4, 4), tones=TONES) -> None:
    """A melody and (optionally) block chords (``tones``), one chord per bar; chord names as markers."""
    beats = meter[0] * 4 // meter[1]
    bar_ticks = beats * TPB
    conductor = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]),
                                mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(96))])  # fmt: skip
    events_lead, events_acc, events_mark = [], [], []
    for i, chord in enumerate(bars):
        t0 = i * bar_ticks
        for b in range(beats):
            pitch = 72 + (tones[chord][b % len(tones[chord])] % 12)
            events_lead += [(t0 + b * TPB, mido.Message("note_on", note=pitch, velocity=90)),
                            (t0 + (b + 1) * TPB - 10, mido.Message("note_off", note=pitch))]  # fmt: skip
        for p in tones[chord]:
            events_acc += [(t0, mido.Message("note_on", note=p, velocity=70, channel=1)),
                           (t0 + bar_ticks - 10, mido.Message("note_off", note=p, channel=1))]  # fmt: skip
        events_mark.append((t0, mido.MetaMessage("marker", text=chord_name(chord))))
    midi = mido.MidiFile(ticks_per_beat=TPB)
    midi.tracks.append(conductor)
    for name, events in (("melody", events_lead), ("piano", events_acc if accomp else []), ("chords", events_mark if markers else [])):
        midi.tracks.append(delta_track(name, sorted(events, key=lambda e: (e[0], e[1].type == "note_on"))))
    midi.save(path)


def per_bar(text: str) -> list[int]:
    chart = parse_chart(text)
    return [bar.chords[0] for bar in chart.bars]


def test_chords_from_the_accompaniment(tmp_path):
    song = [C_MAJ, A_MIN, F_MAJ, G7, C_MAJ]
    write_song(tmp_path / "song.mid", song)
    chart = midi_chart(tmp_path / "song.mid")
    assert per_bar(chart.text) == song
    assert "accompaniment" in chart.source and "melody" in chart.source
    assert parse_chart(chart.text).tempo == 96 and parse_chart(chart.text).meter == (4, 4)


def test_two_note_shapes_read_as_a_musician_reads_them(tmp_path):
    """A beat of two notes fits every chord that holds both alike; the bass decides (F-A over
    F is F, not C#aug; A-C over A is Am, not F), then the commoner chord."""
    song = [F_MAJ, chord_index(7, "maj"), A_MIN, C_MAJ]
    dyads = {F_MAJ: (41, 45), chord_index(7, "maj"): (43, 47), A_MIN: (45, 48), C_MAJ: (48, 52)}
    write_song(tmp_path / "song.mid", song, tones=dyads)
    assert per_bar(midi_chart(tmp_path / "song.mid").text) == song


def test_chord_symbols_in_the_file_win(tmp_path):
    song = [A_MIN, A_MIN, F_MAJ, G7]
    write_song(tmp_path / "song.mid", song, markers=True, accomp=False)  # a melody and chord names only
    chart = midi_chart(tmp_path / "song.mid")
    assert per_bar(chart.text) == song and "chord symbol" in chart.source
    assert parse_chart(chart.text).per_beat().tolist() == list(np.repeat(song, 4))


def test_three_four_and_a_lone_part(tmp_path):
    song = [F_MAJ, C_MAJ, G7, C_MAJ]
    write_song(tmp_path / "waltz.mid", song, meter=(3, 4))
    assert parse_chart(midi_chart(tmp_path / "waltz.mid").text).meter == (3, 4)
    assert per_bar(midi_chart(tmp_path / "waltz.mid").text) == song


def test_a_time_signature_no_chart_can_hold_is_said_as_the_files(tmp_path):
    """It was refused as the chart text made of it: 'song.mid:3:7: time '3/32' is not a time signature'."""
    write_song(tmp_path / "song.mid", [C_MAJ, G7])
    for meter in ((3, 32), (20, 4)):
        midi = mido.MidiFile(tmp_path / "song.mid")
        signature = next(m for m in midi.tracks[0] if m.type == "time_signature")
        signature.numerator, signature.denominator = meter
        midi.save(tmp_path / "odd.mid")
        with pytest.raises(MidiFileError, match=rf"odd.mid: its time signature, {meter[0]}/{meter[1]}, cannot be a chart's"):
            midi_chart(tmp_path / "odd.mid")


def test_what_has_no_chords_is_refused(tmp_path):
    write_song(tmp_path / "tune.mid", [C_MAJ, F_MAJ], accomp=False)  # one melody line: no beat sounds two classes
    with pytest.raises(MidiFileError, match="no chords to take"):
        midi_chart(tmp_path / "tune.mid")
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(MidiFileError, match="empty file"):
        midi_chart(tmp_path / "empty.mid")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "accomp", *args], capture_output=True, text=True, timeout=300)


def test_commands_write_show_and_refuse(tmp_path):
    write_song(tmp_path / "song.mid", [C_MAJ, G7])
    done = run("chart", "from-midi", str(tmp_path / "song.mid"), "-o", str(tmp_path / "song.txt"))
    assert done.returncode == 0, done.stderr
    assert per_bar((tmp_path / "song.txt").read_text()) == [C_MAJ, G7]
    shown = run("chart", "show", str(tmp_path / "song.txt"), "--transpose", "2")
    assert shown.returncode == 0 and "bar 1: D D D D" in shown.stdout and "bar 2: A7" in shown.stdout
    for args, message in ((("chart", "from-midi", str(tmp_path / "song.mid"), "-o", str(tmp_path / "x.mid")), "name it *.txt"),
                          (("chart", "from-midi", str(tmp_path / "song.txt")), "not a readable MIDI file"),
                          (("chart", "show", str(tmp_path / "song.txt"), "--transpose", "12"), "-11..11")):  # fmt: skip
        done = run(*args)
        assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "x.mid").exists()


def test_a_rendered_backing_gives_its_chart_back(tmp_path):
    """A chart played by the band alone, then taken back from the MIDI it wrote."""
    source = next(p for p in bundled_charts() if p.name == "pop_axis.txt")
    done = run("render", "--chart", str(source), "--preset", "pop", "-o", str(tmp_path / "backing.mid"))
    assert done.returncode == 0, done.stderr
    back = parse_chart(midi_chart(tmp_path / "backing.mid").text).per_beat()
    want = read_chart(source).per_beat()
    n = min(len(back), len(want))
    assert n >= len(want) - 4
    assert np.mean(back[:n] == want[:n]) >= 0.8
