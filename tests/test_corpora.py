"""Corpora: POP909 layout, MIDI folders, chorales, bad files, split, cache, windows."""

from __future__ import annotations

import os

import mido
import numpy as np
import pytest

import accomp.music.cache as cache_mod
from accomp.config import ACCOMP, LEAD, ONSET, SUSTAIN, FrameSpec
from accomp.errors import CorpusError, MidiFileError
from accomp.music.corpora import (
    CorpusResult,
    Windows,
    load_corpus,
    make_windows,
    split_pieces,
    transpose_roll,
)
from accomp.music.frames import Piece

SPEC = FrameSpec()
TPB = 96  # 24 ticks per 16th
BAR = 4 * TPB


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("ACCOMP_CACHE_DIR", str(folder))
    return folder


def write_midi(path, tracks, *, tempo=500_000, meter=(4, 4), midi_type=1):
    """tracks: [(name, [(start_tick, end_tick, pitch[, channel]), ...]), ...]"""
    path.parent.mkdir(parents=True, exist_ok=True)
    midi = mido.MidiFile(type=midi_type, ticks_per_beat=TPB)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo)])
    conductor.append(mido.MetaMessage("time_signature", numerator=meter[0], denominator=meter[1]))
    for name, notes in tracks:
        events = []
        for s, e, p, *ch in notes:
            c = ch[0] if ch else 0
            events.append((s, 1, mido.Message("note_on", channel=c, note=p, velocity=80)))
            events.append((e, 0, mido.Message("note_off", channel=c, note=p, velocity=0)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        if midi_type == 0:  # one track holds everything
            track += conductor
        now = 0
        for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=t - now))
            now = t
        midi.tracks.append(track)
    if midi_type != 0:
        midi.tracks.insert(0, conductor)
    midi.save(path)
    return path


def melody(bars=4, pitch=72):
    return [(i * TPB, (i + 1) * TPB, pitch + (i % 3)) for i in range(bars * 4)]


def chords(bars=4, root=48):
    return [(b * BAR, (b + 1) * BAR, root + d) for b in range(bars) for d in (0, 4, 7)]


def pop909_song(folder, number, **kw):
    name = f"{number:03d}"
    tracks = kw.pop("tracks", [("MELODY", melody()), ("BRIDGE", melody(pitch=60)), ("PIANO", chords())])
    return write_midi(folder / name / f"{name}.mid", tracks, **kw)


@pytest.fixture
def pop909(tmp_path):
    root = tmp_path / "pop909"
    for n in (1, 2, 3):
        pop909_song(root, n)
    return root


# ----------------------------------------------------------------------------- POP909


def test_pop909_roles_ids_and_style(pop909):
    result = load_corpus("pop909", str(pop909))
    assert isinstance(result, CorpusResult)
    assert (result.kind, result.style, result.skipped) == ("pop909", "pop", [])
    assert [p.piece_id for p in result.pieces] == ["pop909/001", "pop909/002", "pop909/003"]
    piece = result.pieces[0]
    assert set(piece.tracks) == {LEAD, ACCOMP}
    assert piece.n_steps == 64
    lead_keys = np.flatnonzero(piece.tracks[LEAD][:, SUSTAIN].any(axis=0)) + SPEC.lowest_pitch
    assert set(lead_keys) == {72, 73, 74}  # MELODY, not BRIDGE
    assert piece.tracks[ACCOMP][0, ONSET].sum() == 3


def test_pop909_bars_come_from_its_beat_file(pop909):
    """POP909's MIDI files say 1/4 and start their grid where the recording did: the bars and
    beats are where beat_midi.txt puts the downbeats (here a 16th late, then a 2/4 bar)."""
    pop909_song(pop909, 1, meter=(1, 4))
    step = 0.5 / 4  # seconds per 16th at 120 bpm
    rows = [(step * (1 + 2 * i), 1.0, float(i in (0, 8, 16, 20))) for i in range(30)]  # 8th-note rows
    (pop909 / "001" / "beat_midi.txt").write_text("".join(f"{t:.6f} {b} {d}\n" for t, b, d in rows))
    (pop909 / "002" / "beat_midi.txt").write_text("0.0 1.0\n")  # two columns
    result = load_corpus("pop909", str(pop909))
    piece, other = result.pieces  # 001 and 003
    downbeats = np.flatnonzero(piece.beat_in_bar == 0)
    assert list(downbeats[:4]) == [1, 17, 33, 41]  # 4/4, 4/4, 2/4, then bars as long as the last
    assert list(piece.beat_in_bar[:2]) == [15, 0]  # the step before the first downbeat ends a bar
    assert piece.meters[:2] == [(0.0, 4, 4), (8.25, 2, 4)]
    assert np.array_equal(other.beat_in_bar, np.arange(64) % 16)  # no beat file: the MIDI file's meter
    assert [name for name, _ in result.skipped] == ["pop909/002"] and "columns" in result.skipped[0][1]


def test_bad_files_are_skipped_with_reasons(pop909):
    (pop909 / "004").mkdir()
    (pop909 / "004" / "004.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (pop909 / "005").mkdir()
    (pop909 / "005" / "005.mid").write_bytes(b"")
    pop909_song(pop909, 6, tracks=[("MELODY", []), ("PIANO", [])])
    pop909_song(pop909, 7, tempo=1)  # 60 million bpm
    pop909_song(pop909, 8, tracks=[("MELODY", melody())])  # no PIANO
    good = pop909_song(pop909, 9).read_bytes()
    (pop909 / "009" / "009.mid").write_bytes(good[: len(good) // 2])  # truncated
    (pop909 / "010").mkdir()  # no 010.mid
    result = load_corpus("pop909", str(pop909))
    assert len(result.pieces) == 3
    reasons = dict(result.skipped)
    assert set(reasons) == {f"pop909/{n:03d}" for n in range(4, 11)}
    assert "not a readable MIDI file" in reasons["pop909/004"]
    assert reasons["pop909/005"] == "empty file"
    assert reasons["pop909/006"] == "no notes"
    assert "absurd tempo" in reasons["pop909/007"]
    assert "no notes for role 'accomp'" in reasons["pop909/008"]
    assert reasons["pop909/009"]
    assert "no 010.mid" in reasons["pop909/010"]
    assert all("\n" not in r and str(pop909) not in r for r in reasons.values())


def test_oversized_file_is_skipped(pop909, monkeypatch):
    monkeypatch.setattr("accomp.music.frames.MAX_MIDI_BYTES", 100)
    with pytest.raises(CorpusError, match="no usable pieces"):
        load_corpus("pop909", str(pop909), use_cache=False)


def test_missing_or_empty_corpus_is_a_corpus_error(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus("pop909", str(tmp_path / "nowhere"))
    with pytest.raises(CorpusError, match="no POP909 song folders"):
        load_corpus("pop909", str(tmp_path))
    with pytest.raises(CorpusError, match="no .mid"):
        load_corpus("midi-folder", str(tmp_path))
    (tmp_path / "a.mid").write_bytes(b"junk")
    with pytest.raises(CorpusError, match="no usable pieces.*1 files skipped"):
        load_corpus("midi-folder", str(tmp_path))
    with pytest.raises(CorpusError, match="needs a folder"):
        load_corpus("midi-folder", None)


# ----------------------------------------------------------------------------- MIDI folder


def test_midi_folder_lead_rule(tmp_path):
    root = tmp_path / "jazz"
    # named lead, even though it is not the highest track
    write_midi(root / "named.mid", [("Piano", chords(root=72)), ("Vocal melody", melody(pitch=60))])
    # no names: the highest monophonic track, a higher chordal track does not count
    write_midi(root / "sub" / "unnamed.mid", [("a", melody(pitch=55)), ("b", melody(pitch=67)), ("c", chords(root=80))])
    # type 0: one track, two channels
    mixed = [n + (0,) for n in melody(pitch=70)] + [n + (1,) for n in chords()]
    write_midi(root / "type0.midi", [("", mixed)], midi_type=0)
    write_midi(root / "solo.mid", [("melody", melody())])
    write_midi(root / "pads.mid", [("x", chords()), ("y", chords(root=60))])
    (root / "notes.txt").write_text("not MIDI, ignored")

    result = load_corpus("midi-folder", str(root))
    assert result.style == "jazz"
    ids = [p.piece_id for p in result.pieces]
    assert ids == ["jazz/named", "jazz/type0", "jazz/sub/unnamed"]
    pitches = {p.piece_id: set(np.flatnonzero(p.tracks[LEAD][:, SUSTAIN].any(0)) + 21) for p in result.pieces}
    assert pitches["jazz/named"] == {60, 61, 62}
    assert pitches["jazz/sub/unnamed"] == {67, 68, 69}
    assert pitches["jazz/type0"] == {70, 71, 72}
    reasons = dict(result.skipped)
    assert "no accompaniment" in reasons["solo.mid"]
    assert "no lead" in reasons["pads.mid"]
    assert load_corpus("midi-folder", str(root), style="bebop").pieces[0].piece_id == "bebop/named"


def test_unreadable_subfolder_is_skipped(tmp_path, monkeypatch):
    root = tmp_path / "folk"
    write_midi(root / "ok.mid", [("lead", melody()), ("piano", chords())])
    locked = root / "locked"
    write_midi(locked / "x.mid", [("lead", melody()), ("piano", chords())])
    real_scandir = os.scandir

    def scandir(path="."):  # a permission error root would not get from chmod
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    result = load_corpus("midi-folder", str(root))
    assert [p.piece_id for p in result.pieces] == ["folk/ok"]
    assert result.skipped == [("locked/", "cannot read folder (Permission denied)")]


# ----------------------------------------------------------------------------- split


def make_piece(piece_id, n_steps=64, style="pop"):
    tracks = {role: np.zeros((n_steps, 2, SPEC.n_keys), np.uint8) for role in (LEAD, ACCOMP)}
    return Piece(piece_id=piece_id, style=style, spec=SPEC, tracks=tracks)


def test_split_is_deterministic_disjoint_and_stable():
    pieces = [make_piece(f"pop909/{i:03d}") for i in range(300)]
    train, val = split_pieces(pieces, "train"), split_pieces(pieces, "val")
    assert len(train) + len(val) == 300 and 10 < len(val) < 60
    assert not {p.piece_id for p in train} & {p.piece_id for p in val}
    assert [p.piece_id for p in split_pieces(pieces, "val")] == [p.piece_id for p in val]
    assert split_pieces(pieces, "all") == pieces
    fewer = pieces[::3] + [make_piece("extra/1"), make_piece("extra/2")]
    val_ids = {p.piece_id for p in val}
    assert {p.piece_id for p in split_pieces(fewer, "val")} - {"extra/1", "extra/2"} == val_ids & {
        p.piece_id for p in fewer
    }
    with pytest.raises(ValueError):
        split_pieces(pieces, "test")


# ----------------------------------------------------------------------------- cache


def test_cache_hit_is_identical(pop909, cache_dir):
    first = load_corpus("pop909", str(pop909))
    assert first.cache == "built" and len(list(cache_dir.glob("*.npz"))) == 1
    second = load_corpus("pop909", str(pop909))
    assert second.cache == "hit"
    for a, b in zip(first.pieces, second.pieces, strict=True):
        assert a.piece_id == b.piece_id and a.style == b.style
        assert a.tempos == b.tempos and a.meters == b.meters
        np.testing.assert_array_equal(a.beat_in_bar, b.beat_in_bar)
        for role in (LEAD, ACCOMP):
            np.testing.assert_array_equal(a.tracks[role], b.tracks[role])
            np.testing.assert_array_equal(a.velocity[role], b.velocity[role])


def test_cache_keeps_skipped_and_invalidates_on_change(pop909, cache_dir, monkeypatch):
    (pop909 / "004").mkdir()
    (pop909 / "004" / "004.mid").write_bytes(b"junk")
    built = load_corpus("pop909", str(pop909))
    hit = load_corpus("pop909", str(pop909))
    assert hit.cache == "hit" and hit.skipped == built.skipped and len(hit.skipped) == 1

    pop909_song(pop909, 4)  # the bad file is fixed
    fixed = load_corpus("pop909", str(pop909))
    assert fixed.cache == "built" and len(fixed.pieces) == 4 and not fixed.skipped

    pop909_song(pop909, 2, tracks=[("MELODY", melody(bars=8)), ("PIANO", chords(bars=8))])
    changed = load_corpus("pop909", str(pop909))
    assert changed.cache == "built" and changed.pieces[1].n_steps == 128

    monkeypatch.setattr(cache_mod, "ENCODER_VERSION", 999)
    assert load_corpus("pop909", str(pop909)).cache == "built"
    monkeypatch.setattr(cache_mod, "LABELS_VERSION", 999)  # the chord labels read another way
    assert load_corpus("pop909", str(pop909)).cache == "built"
    assert len(list(cache_dir.glob("*.npz"))) == 1  # one slot, overwritten


def test_corrupt_cache_is_rebuilt_and_no_cache_writes_nothing(pop909, cache_dir):
    load_corpus("pop909", str(pop909))
    (path,) = cache_dir.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    again = load_corpus("pop909", str(pop909))
    assert again.cache == "built" and len(again.pieces) == 3
    path.unlink()
    assert load_corpus("pop909", str(pop909), use_cache=False).cache == "off"
    assert not list(cache_dir.glob("*.npz"))


def test_spec_and_style_get_their_own_cache(pop909, cache_dir):
    load_corpus("pop909", str(pop909))
    coarse = load_corpus("pop909", str(pop909), FrameSpec(steps_per_beat=2))
    assert coarse.cache == "built" and coarse.pieces[0].n_steps == 32
    assert load_corpus("pop909", str(pop909), style="ballad").pieces[0].style == "ballad"
    assert len(list(cache_dir.glob("*.npz"))) == 3


# ----------------------------------------------------------------------------- windows


def roll_with(notes, n_steps):
    roll = np.zeros((n_steps, 2, SPEC.n_keys), np.uint8)
    for s, e, k in notes:
        roll[s, ONSET, k] = 1
        roll[s:e, SUSTAIN, k] = 1
    return roll


def test_transpose_roll_shifts_and_zero_fills():
    roll = roll_with([(0, 2, 0), (1, 3, 87)], 4)
    up = transpose_roll(roll, 2)  # key 87 falls off the top
    assert up[0, ONSET, 2] == 1 and up.sum() == 3 and not up[..., :2].any()
    down = transpose_roll(roll, -3)  # key 0 falls off the bottom
    assert down[1, ONSET, 84] == 1 and down.sum() == 3 and not down[..., 85:].any()
    np.testing.assert_array_equal(transpose_roll(roll, 0), roll)
    assert not transpose_roll(roll, 88).any()


def test_windows_shapes_alignment_and_dropping():
    # a 1/4 pickup bar, then 3/4: downbeats at steps 0, 4, 16, 28, 40, 52, 64, 76, 88
    n = 100
    lead = roll_with([(t, t + 2, 40) for t in range(0, n, 4)], n)
    accomp = roll_with([(t, t + 4, 30) for t in range(0, 60, 4)], n)  # silent from step 60
    piece = Piece("p/1", "pop", SPEC, {LEAD: lead, ACCOMP: accomp}, meters=[(0.0, 1, 4), (1.0, 3, 4)])
    w = make_windows([piece], window=24, hop=12)
    assert isinstance(w, Windows)
    assert w.lead.shape == w.accomp.shape == (len(w), 24, 2, SPEC.n_keys)
    assert w.lead.dtype == np.uint8 and w.beat_in_bar.dtype == np.int16 and w.beat_in_bar.shape == (len(w), 24)
    # starts 0, 16, 28, 40, 52 (each the first downbeat at least a hop on); 64 and 76 have no accomp
    assert len(w) == 5 and (w.beat_in_bar[:, 0] == 0).all()
    np.testing.assert_array_equal(w.lead[1], lead[16:40])
    assert w.piece_id == ["p/1"] * 5 and w.style == ["pop"] * 5


def test_short_piece_gives_one_padded_window():
    piece = Piece("p/2", "pop", SPEC, {LEAD: roll_with([(0, 4, 40)], 20), ACCOMP: roll_with([(0, 8, 30)], 20)})
    w = make_windows([piece], window=32, hop=16)
    assert len(w) == 1 and not w.lead[0, 20:].any()
    np.testing.assert_array_equal(w.beat_in_bar[0], np.arange(32) % 16)


def test_transposition_keeps_every_note_on_the_keyboard():
    def piece(pid, lead_key, accomp_key):
        notes = lambda k: [(0, 16, k), (16, 32, k)]  # noqa: E731
        return Piece(pid, "pop", SPEC, {LEAD: roll_with(notes(lead_key), 32), ACCOMP: roll_with(notes(accomp_key), 32)})

    low, high = piece("lo", 50, 2), piece("hi", 85, 40)
    w = make_windows([low, high], window=16, hop=16, transpose=range(-5, 7))
    assert w.piece_id.count("lo") == 2 * 9  # -2 .. +6
    assert w.piece_id.count("hi") == 2 * 8  # -5 .. +2
    assert all(w.lead[i].sum() + w.accomp[i].sum() == 2 * 17 for i in range(len(w)))  # nothing fell off
    one = make_windows([low, high], window=16, hop=16, transpose=range(-5, 7), rng=np.random.default_rng(0))
    assert one.piece_id == ["lo", "lo", "hi", "hi"]
    assert all(one.lead[i].sum() + one.accomp[i].sum() == 2 * 17 for i in range(4))
    assert len(make_windows([low], window=16, hop=16, transpose=[-3])) == 0  # no usable shift


# ----------------------------------------------------------------------------- chorales


def test_chorales_first_files():
    result = load_corpus("chorales", None, limit=3)
    assert result.kind == "chorales" and result.style == "chorale"
    assert ("chorales/bwv1.6", "not 4 parts") in result.skipped
    assert len(result.pieces) == 2
    for piece in result.pieces:
        lead = piece.tracks[LEAD][:, SUSTAIN]
        accomp = piece.tracks[ACCOMP][:, SUSTAIN]
        assert lead.any() and accomp.any()
        assert lead.sum(axis=1).max() == 1  # the soprano is one voice
        assert accomp.sum(axis=1).max() <= 3
        assert np.flatnonzero(lead.any(0)).mean() > np.flatnonzero(accomp.any(0)).mean()
    assert load_corpus("chorales", None, limit=3).cache == "hit"
    with pytest.raises(CorpusError, match="takes no folder"):
        load_corpus("chorales", "/somewhere")


def test_chorale_pickup_lands_on_its_beat():
    from accomp.music.chorales import chorale_files, chorale_folder, chorale_to_piece

    (path,) = [p for p in chorale_files(chorale_folder()) if p.stem == "bwv269"]
    piece = chorale_to_piece(path, SPEC, "chorale", "chorales/bwv269")
    assert piece.meters == [(0.0, 3, 4)]
    first = int(np.flatnonzero(piece.tracks[LEAD][:, ONSET].any(1))[0])
    assert first == 8 and piece.beat_in_bar[first] == 8  # the pickup is beat 3 of 3
    assert piece.beat_in_bar[12] == 0


def test_three_part_score_is_not_a_chorale():
    from music21 import note, stream

    from accomp.music.chorales import music21_score_to_piece

    score = stream.Score([stream.Part([note.Note("C4")]) for _ in range(3)])
    with pytest.raises(MidiFileError, match="not 4 parts"):
        music21_score_to_piece(score, SPEC, "chorale", "x")


def test_building_the_cache_says_so_once_and_a_cache_hit_says_nothing(pop909, capsys):
    load_corpus("pop909", str(pop909), progress=True)
    err = capsys.readouterr().err
    assert "reading 3 files of the pop909 corpus (first time, or the files changed: the result is cached)" in err
    assert load_corpus("pop909", str(pop909), progress=True).cache == "hit"
    assert capsys.readouterr().err == ""
