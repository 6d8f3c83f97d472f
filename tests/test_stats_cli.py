"""``accomp data stats`` and ``accomp data pack`` through the real CLI entry point."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from accomp.cli import main
from accomp.config import FrameSpec
from accomp.music import cache as cache_module
from accomp.music.corpora import load_corpus
from accomp.music.frames import Piece, notes_to_roll, piece_to_midi, save_midi
from accomp.music.stats import chord_stats, pitch_name, skipped_stats

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


def test_stats_show_chord_coverage_of_a_midi_folder(tmp_path, capsys):
    write_song(tmp_path / "songs" / "a.mid", names=("x", "y"))
    out = tmp_path / "stats.json"
    argv = ["data", "stats", "--corpus", "midi-folder", "--path", str(tmp_path / "songs"), "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "chords     100.0% of 16 beats have a chord (labels: template 1 piece(s))" in text
    assert "mapped     0 annotation label(s)" in text and "top chords C 100.0%" in text
    chords = json.loads(out.read_text())["chords"]
    assert chords["beats"] == 16 and chords["chord_share"] == 1.0
    assert chords["sources"] == {"template": 1} and chords["mapped_labels"] == 0
    assert chords["top"] == [{"chord": "C", "index": 1, "share": 1.0}]


def test_stats_count_pop909_annotations_and_mapped_labels(pop909, tmp_path, capsys):
    # song 001: 8 beats of C:maj6 (mapped to C), 4 of A minor, 4 without a chord; the others by template
    (pop909 / "001" / "chord_midi.txt").write_text("0.000 4.000 C:maj6\n4.000 6.000 A:min\n6.000 8.000 N\n")
    out = tmp_path / "stats.json"
    assert main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "91.7% of 48 beats have a chord (labels: annotation 1 piece(s), template 2 piece(s))" in text
    assert "mapped     1 annotation label(s)" in text and "top chords C 83.3%  Am 8.3%" in text
    chords = json.loads(out.read_text())["chords"]
    assert chords["sources"] == {"annotation": 1, "template": 2} and chords["mapped_labels"] == 1
    assert [c["chord"] for c in chords["top"]] == ["C", "Am"]
    assert chords["top"][1]["share"] == pytest.approx(4 / 48)


def test_chord_stats_of_no_pieces_and_of_unlabelled_ones():
    assert chord_stats([])["chord_share"] == 0.0 and chord_stats([])["top"] == []
    piece = Piece("p", "pop", SPEC, {"lead": notes_to_roll([], 8, SPEC), "accomp": notes_to_roll([], 8, SPEC)})
    stats = chord_stats([piece])  # labelled by template on the way: silence, no chord
    assert stats["beats"] == 2 and stats["chord_share"] == 0.0 and stats["sources"] == {"template": 1}


def test_missing_folder_is_one_line_and_exit_1(tmp_path, capsys):
    code = main(["data", "stats", "--corpus", "pop909", "--path", str(tmp_path / "nope")])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.err.count("\n") == 1 and captured.err.startswith("accomp: error: pop909 folder not found")
    assert "Traceback" not in captured.err and captured.out == ""


def test_unwritable_json_is_one_line_before_any_work(pop909, tmp_path, capsys):
    """It was found only once the statistics were gathered; now when the command is read."""
    bad = tmp_path / "no" / "such" / "dir" / "s.json"
    with pytest.raises(SystemExit) as exit_:
        main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(bad)])
    err = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and err.count("\n") == 0 and "output folder does not exist" in err, err
    with pytest.raises(SystemExit):
        main(["data", "stats", "--corpus", "pop909", "--path", str(pop909), "--json", str(tmp_path / "s.txt")])
    assert "a JSON file should end in .json" in capsys.readouterr().err


def test_helpers():
    assert pitch_name(60) == "C4" and pitch_name(21) == "A0" and pitch_name(108) == "C8"
    stats = skipped_stats([("a", "absurd tempo 1e+07 bpm at tick 0"), ("b", "absurd tempo 6 bpm at tick 96"), ("c", "x")])
    assert stats["count"] == 3 and stats["reasons"][0]["count"] == 2


def test_pack_round_trip_keeps_pieces_skips_and_origin(pop909, tmp_path, capsys):
    pack = tmp_path / "pop.npz"
    assert main(["data", "pack", "--corpus", "pop909", "--path", str(pop909), "--out", str(pack)]) == 0
    assert "3 pieces of style 'pop' from pop909 pop909" in capsys.readouterr().out
    direct = load_corpus("pop909", str(pop909))
    packed = load_corpus("pack", str(pack))
    assert packed.kind == "pack" and packed.style == "pop" and packed.skipped == direct.skipped
    assert packed.origin["kind"] == "pop909" and packed.origin["pieces"] == 3
    assert [p.piece_id for p in packed.pieces] == [p.piece_id for p in direct.pieces]
    for a, b in zip(packed.pieces, direct.pieces):
        assert np.array_equal(a.tracks["lead"], b.tracks["lead"]) and np.array_equal(a.velocity["accomp"], b.velocity["accomp"])
        assert a.tempos == b.tempos and a.meters == b.meters
    # the pack reads the same wherever it is moved, with its source folder gone
    moved = tmp_path / "elsewhere.npz"
    pack.rename(moved)
    shutil.rmtree(pop909)
    assert main(["data", "stats", "--corpus", "pack", "--path", str(moved)]) == 0
    assert "pieces     3" in capsys.readouterr().out


def test_bad_packs_are_one_line_errors(pop909, tmp_path, capsys, monkeypatch):
    def fails(path):
        assert main(["data", "stats", "--corpus", "pack", "--path", str(path)]) == 1
        return capsys.readouterr().err.strip()

    assert "corpus pack not found" in fails(tmp_path / "none.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    assert "not a corpus pack" in fails(junk)
    load_corpus("pop909", str(pop909))  # writes the cache file, which is not a pack
    (cached,) = (tmp_path / "cache").glob("*.npz")
    assert "not a corpus pack (a cache file" in fails(cached)
    pack = tmp_path / "pop.npz"
    assert main(["data", "pack", "--corpus", "pop909", "--path", str(pop909), "--out", str(pack)]) == 0
    capsys.readouterr()
    monkeypatch.setattr(cache_module, "ENCODER_VERSION", 99)
    assert "pack it again" in fails(pack)
    with pytest.raises(SystemExit):  # refused as the command is read, before the corpus
        main(["data", "pack", "--corpus", "pop909", "--path", str(pop909), "--out", str(tmp_path / "no" / "p.npz")])
    assert "output folder does not exist" in capsys.readouterr().err
    assert not list((tmp_path).glob("**/.p.npz*"))
