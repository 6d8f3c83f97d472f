"""Arranger mode: keys below the split point name the chord, the band voices it (issue 18)."""

from __future__ import annotations

import subprocess
import sys

import mido
import numpy as np
import pytest

from accomp.music.chords import chord_index
from accomp.music.fingering import parse_key
from accomp.music.frames import delta_track

TPB = 480
C, F, G7, AM = chord_index(0, "maj"), chord_index(5, "maj"), chord_index(7, "7"), chord_index(9, "min")


def test_key_names():
    assert parse_key("60") == 60 and parse_key("C4") == 60 and parse_key("F#3") == 54 and parse_key("Bb2") == 46
    assert parse_key("C-1") == 0
    for bad in ("H3", "C", "C#x", "128", "A9"):
        with pytest.raises(ValueError):
            parse_key(bad)


def write_take(path, left: list[list[int]]) -> None:
    """A bar per left-hand chord (held the whole bar, pressed a little late as hands are),
    and a right-hand melody of quarter notes above middle C."""
    events = []
    for bar, keys in enumerate(left):
        t0 = bar * 4 * TPB
        for k in keys:
            events += [(t0 + 10, mido.Message("note_on", note=k, velocity=80)), (t0 + 4 * TPB - 20, mido.Message("note_off", note=k))]
        for beat, pitch in enumerate((72, 76, 79, 76)):
            events += [(t0 + beat * TPB, mido.Message("note_on", note=pitch, velocity=90)),
                       (t0 + (beat + 1) * TPB - 30, mido.Message("note_off", note=pitch))]  # fmt: skip
    midi = mido.MidiFile(ticks_per_beat=TPB)
    events.append((0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(100))))
    midi.tracks.append(delta_track("piano", sorted(events, key=lambda e: (e[0], e[1].type == "note_on"))))
    midi.save(path)


def render(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "accomp", "render", str(tmp_path / "take.mid"), "--preset", "pop",
                           "-o", str(tmp_path / "out.mid"), "--chords", str(tmp_path / "sheet.txt"), *args],
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def sheet(tmp_path) -> list[tuple[int, str]]:
    rows = (tmp_path / "sheet.txt").read_text().splitlines()[1:]
    return [(int(bar), name) for bar, _, name in (r.split() for r in rows)]


def test_the_left_hand_names_the_chords(tmp_path):
    # fingered C (first inversion), F (second inversion), one-finger G7 (G with a white key below), A minor fingered
    write_take(tmp_path / "take.mid", [[52, 55, 60 - 12], [48, 53, 57], [53, 55], [45, 48, 52]])
    done = render(tmp_path, "--split", "C4")
    assert done.returncode == 0, done.stderr
    assert [name for _, name in sheet(tmp_path)] == ["C", "F", "G7", "Am"]
    assert [bar for bar, _ in sheet(tmp_path)] == [1, 2, 3, 4]
    # The band voices them: its notes on each bar are tones of the chord named there. On the
    # bar's first 16th too: the hand presses its chord a little after the beat, and the band's
    # downbeat waits for it (counted apart: the student's own colour notes, one a bar at most;
    # without the wait the downbeat struck the chord before, 11 notes in 4 bars).
    out = mido.MidiFile(tmp_path / "out.mid")
    accomp = next(t for t in out.tracks if t.name == "accomp")
    tones = {0: {0, 4, 7}, 1: {5, 9, 0}, 2: {7, 11, 2, 5}, 3: {9, 0, 4}}
    bar_ticks, sixteenth = 4 * out.ticks_per_beat, out.ticks_per_beat // 4
    tick, inside, total, downbeat_off = 0, 0, 0, 0
    for msg in accomp:
        tick += msg.time
        if msg.type == "note_on" and msg.velocity > 0 and tick // bar_ticks in tones:
            if tick % bar_ticks < sixteenth:
                downbeat_off += msg.note % 12 not in tones[tick // bar_ticks]
                continue
            total += 1
            inside += msg.note % 12 in tones[tick // bar_ticks]
    assert total >= 8 and inside / total >= 0.95, (inside, total)
    assert downbeat_off <= len(tones), downbeat_off
    # The chord keys are not the lead: without the split, the planner hears them and plays something else.
    done = render(tmp_path)
    assert done.returncode == 0 and [name for _, name in sheet(tmp_path)] != ["C", "F", "G7", "Am"]


def test_bad_split_points_are_one_line_errors(tmp_path):
    write_take(tmp_path / "take.mid", [[48, 52, 55]])
    for args, message in ((("--split", "H2"), "not a key"), (("--split", "C4", "--whole-song"), "both choose the chords")):
        done = render(tmp_path, *args)
        assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "out.mid").exists()
