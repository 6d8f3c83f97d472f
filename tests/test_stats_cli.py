"""``accomp data stats`` through the real CLI entry point."""

from __future__ import annotations

import json

import pytest

from accomp.cli import main
from accomp.config import FrameSpec
from accomp.music.frames import Piece, notes_to_roll, piece_to_midi, save_midi
from accomp.music.stats import pitch_name, skipped_stats

SPEC = FrameSpec()


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCOMP_CACHE_DIR", str(tmp_path / "cache"))


def write_song(path, names=("MELODY", "PIANO"), tempo=500_000):
    """Four 4/4 bars at 120 bpm (8 s): a melody on 72..74, whole-bar triads on 48/52/55."""
    melody = [(t, t + 4, 72 + (t // 4) % 3 - 21) for t in range(0, 64, 4)]
    chords = [(t, t + 16, p - 21) for t in range(0, 64, 16) for p in (48, 52, 55)]
    tracks = {names[0]: notes_to_roll(melody, 64, SPEC), names[1]: notes_to_roll(chords, 64, SPEC)}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_midi(piece_to_midi(Piece("song", "pop", SPEC, tracks, tempos=[(0.0, tempo)])), path)


@pytest.fixture
def pop909(tmp_path):
    root = tmp_path / "pop909"
    for n in ("001", "002", "003"):
        write_song(root / n / f"{n}.mid")
    (root / "004").mkdir()
    (root / "004" / "004.mid").write_bytes(b"junk")
    write_song(root / "005" / "005.mid", tempo=1)
    write_song(root / "006" / "006.mid", tempo=2)
    return root


def test_stats_table_and_json(pop909, tmp_path, capsys):
    out = tmp_path / "stats.json"
    assert main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pieces     3" in text
    assert "frames     192 steps" in text
    assert "skipped    3 file(s)" in text
    assert "absurd tempo" in text and "pop909/004" in text
    assert "lead" in text and "accomp" in text and "C5 (72)" in text
    data = json.loads(out.read_text())
    assert data["pieces"] == 3 and data["train_pieces"] + data["val_pieces"] == 3
    assert data["frames"] == 192
    assert data["hours"] == pytest.approx(3 * 8 / 3600)  # three 8-second songs at 120 bpm
    assert data["roles"]["lead"]["lowest_pitch"] == 72 and data["roles"]["lead"]["highest_pitch"] == 74
    assert data["roles"]["accomp"]["sounding_notes_per_frame"] == pytest.approx(3.0)
    assert data["roles"]["accomp"]["onsets_per_frame"] == pytest.approx(3 / 16)
    groups = {g["reason"]: g["count"] for g in data["skipped"]["reasons"]}
    assert groups["absurd tempo # bpm at tick #"] == 2
    assert data["cache"] == "built"
    assert not list(tmp_path.glob(".stats.json*"))  # the temporary file is gone

    assert main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(out)]) == 0
    assert json.loads(out.read_text())["cache"] == "hit"
    assert main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--no-cache"]) == 0
    assert "cache      off" in capsys.readouterr().out


def test_stats_midi_folder_shows_the_lead_rule(tmp_path, capsys):
    write_song(tmp_path / "songs" / "a.mid", names=("x", "y"))
    assert main(["data", "stats", "--corpus", "midi-folder", "--path", str(tmp_path / "songs")]) == 0
    text = capsys.readouterr().out
    assert "style 'songs'" in text and "lead rule" in text and "monophonic" in text


def test_missing_folder_is_one_line_and_exit_1(tmp_path, capsys):
    code = main(["data", "stats", "--corpus", "pop909", "--path", str(tmp_path / "nope")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("accomp: error: pop909 folder not found")
    assert "Traceback" not in captured.err and captured.out == ""


def test_unwritable_json_is_one_line(pop909, tmp_path, capsys):
    bad = tmp_path / "no" / "such" / "dir" / "s.json"
    assert main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(bad)]) == 1
    assert capsys.readouterr().err.strip().endswith("cannot write (No such file or directory)")


def test_helpers():
    assert pitch_name(60) == "C4" and pitch_name(21) == "A0" and pitch_name(108) == "C8"
    stats = skipped_stats([("a", "absurd tempo 1e+07 bpm at tick 0"), ("b", "absurd tempo 6 bpm at tick 96"), ("c", "x")])
    assert stats["count"] == 3 and stats["reasons"][0]["count"] == 2
