"""Frames <-> MIDI: grid from the tempo map, rolls, round trips and bad files."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from accomp.config import ONSET, SUSTAIN, FrameSpec
from accomp.errors import MidiFileError
from accomp.music.frames import (
    beat_in_bar,
    load_midi,
    midi_to_piece,
    notes_to_roll,
    piece_to_midi,
    read_piece_file,
    read_score,
    roll_to_notes,
    save_midi,
)

SPEC = FrameSpec()
TPB = 96  # 24 ticks per 16th


def write_song(path, tracks, *, tempos=((0, 500_000),), meters=((0, 4, 4),), tpb=TPB):
    """tracks: {name: [(start_tick, end_tick, pitch), ...]}"""
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = [(t, mido.MetaMessage("set_tempo", tempo=us)) for t, us in tempos]
    conductor += [(t, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in meters]
    timed_tracks = [("conductor", conductor)]
    for name, notes in tracks.items():
        events = []
        for s, e, p in notes:
            events.append((s, mido.Message("note_on", note=p, velocity=80)))
            events.append((e, mido.Message("note_off", note=p, velocity=0)))
        timed_tracks.append((name, events))
    for name, events in timed_tracks:
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
        now = 0
        for t, msg in sorted(events, key=lambda e: (e[0], e[1].type != "note_off")):
            track.append(msg.copy(time=t - now))
            now = t
        midi.tracks.append(track)
    midi.save(path)
    return path


def random_roll(rng, n_steps, density=0.05):
    notes = []
    for k in range(SPEC.n_keys):
        t = 0
        while t < n_steps:
            if rng.random() < density:
                length = int(rng.integers(1, 9))
                notes.append((t, min(n_steps, t + length), k))
                t += int(rng.integers(0, length + 1)) or 1  # overlaps = re-strikes
            else:
                t += 1
    return notes_to_roll(notes, n_steps, SPEC)


def test_note_lands_on_grid(tmp_path):
    path = write_song(tmp_path / "a.mid", {"MELODY": [(0, 96, 60), (96, 120, 62)], "PIANO": [(0, 384, 48)]})
    piece = midi_to_piece(path, {"melody": "lead", "piano": "accomp"}, SPEC, "pop")
    lead, accomp = piece.tracks["lead"], piece.tracks["accomp"]
    assert piece.n_steps == 16
    k60, k62, k48 = 60 - 21, 62 - 21, 48 - 21
    assert lead[0, ONSET, k60] and lead[:4, SUSTAIN, k60].all() and not lead[4, SUSTAIN, k60]
    assert lead[4, ONSET, k62] and lead[4, SUSTAIN, k62] and not lead[5, SUSTAIN, k62]
    assert accomp[0, ONSET, k48] and accomp[:, SUSTAIN, k48].all() and accomp[:, ONSET, k48].sum() == 1
    assert (piece.tracks["lead"][:, ONSET] <= piece.tracks["lead"][:, SUSTAIN]).all()


def test_tempo_changes_move_seconds_not_steps(tmp_path):
    # 1 bar at 120 bpm then 1 bar at 60 bpm.
    path = write_song(
        tmp_path / "t.mid",
        {"MELODY": [(0, 4 * TPB, 60), (4 * TPB, 8 * TPB, 62)], "PIANO": [(0, 8 * TPB, 48)]},
        tempos=((0, 500_000), (4 * TPB, 1_000_000)),
    )
    piece = midi_to_piece(path, {"MELODY": "lead", "PIANO": "accomp"}, SPEC, "pop")
    times = piece.step_times()
    assert piece.n_steps == 32
    assert times[16] == pytest.approx(2.0)
    assert times[32] == pytest.approx(6.0)
    assert times[17] - times[16] == pytest.approx(0.25)


def test_time_signature_changes_restart_bars(tmp_path):
    meters = ((0, 3, 4), (3 * TPB, 6, 8), (6 * TPB, 4, 4))
    path = write_song(
        tmp_path / "m.mid", {"MELODY": [(0, 10 * TPB, 60)], "PIANO": [(0, 10 * TPB, 48)]}, meters=meters
    )
    piece = midi_to_piece(path, {"MELODY": "lead", "PIANO": "accomp"}, SPEC, "pop")
    bib = piece.beat_in_bar
    assert list(bib[:12]) == list(range(12))  # 3/4: 12 steps
    assert list(bib[12:24]) == list(range(12))  # 6/8: 12 steps
    assert list(bib[24:40]) == list(range(16))  # 4/4
    assert list(beat_in_bar(5, [(0.0, 4, 4), (0.5, 2, 4)], SPEC)) == [0, 1, 0, 1, 2]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roll_decode_encode_is_identity(seed):
    roll = random_roll(np.random.default_rng(seed), 200)
    assert roll.sum() > 0
    again = notes_to_roll(roll_to_notes(roll), roll.shape[0], SPEC)
    np.testing.assert_array_equal(again, roll)


def test_sustain_without_onset_starts_a_note():
    roll = np.zeros((8, 2, SPEC.n_keys), dtype=np.uint8)
    roll[2:5, SUSTAIN, 10] = 1
    assert roll_to_notes(roll) == [(2, 5, 10)]


def test_midi_round_trip_keeps_rolls_tempo_and_meter(tmp_path):
    rng = np.random.default_rng(7)
    notes = {"MELODY": [], "PIANO": []}
    for name, lo in (("MELODY", 60), ("PIANO", 40)):
        t = 0
        while t < 64 * 24:
            d = int(rng.integers(1, 8)) * 24 + int(rng.integers(-5, 6))  # off-grid jitter
            notes[name].append((max(0, t), max(0, t) + max(d, 12), lo + int(rng.integers(0, 24))))
            t += d
    src = write_song(tmp_path / "src.mid", notes, tempos=((0, 600_000), (32 * 24, 400_000)), meters=((0, 3, 4),))
    piece = midi_to_piece(src, {"MELODY": "lead", "PIANO": "accomp"}, SPEC, "pop")
    out = tmp_path / "out.mid"
    save_midi(piece_to_midi(piece), out)
    names = [t.name for t in mido.MidiFile(out).tracks]
    assert names == ["conductor", "lead", "accomp"]
    again = read_piece_file(out, SPEC, "pop")
    for role in ("lead", "accomp"):
        np.testing.assert_array_equal(again.tracks[role], piece.tracks[role])
    np.testing.assert_allclose(again.step_times(), piece.step_times())
    np.testing.assert_array_equal(again.beat_in_bar, piece.beat_in_bar)


def test_crop_keeps_tempo_in_force(tmp_path):
    path = write_song(
        tmp_path / "c.mid",
        {"MELODY": [(0, 8 * TPB, 60)], "PIANO": [(0, 8 * TPB, 48)]},
        tempos=((0, 500_000), (2 * TPB, 1_000_000)),
    )
    piece = midi_to_piece(path, {"MELODY": "lead", "PIANO": "accomp"}, SPEC, "pop").crop(12, 20)
    assert piece.n_steps == 8 and piece.tempos == [(0.0, 1_000_000)]
    assert piece.step_times()[-1] == pytest.approx(2.0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01"), "not a readable MIDI file"),
        (lambda p: p.write_bytes(b"RIFF not midi at all" * 10), "not a readable MIDI file"),
    ],
)
def test_broken_files_give_one_line_errors(tmp_path, make, message):
    path = tmp_path / "bad.mid"
    make(path)
    with pytest.raises(MidiFileError, match=message) as info:
        read_score(load_midi(path), str(path))
    assert "\n" not in str(info.value)


def test_truncated_file(tmp_path):
    good = write_song(tmp_path / "g.mid", {"MELODY": [(0, 96, 60)] * 1, "PIANO": [(0, 96, 48)]})
    data = good.read_bytes()
    bad = tmp_path / "trunc.mid"
    bad.write_bytes(data[: len(data) - 9])
    with pytest.raises(MidiFileError):
        read_score(load_midi(bad), str(bad))


def test_no_notes_and_absurd_tempo(tmp_path):
    empty = write_song(tmp_path / "n.mid", {"MELODY": [], "PIANO": []})
    with pytest.raises(MidiFileError, match="no notes"):
        read_score(load_midi(empty), "n.mid")
    fast = write_song(tmp_path / "f.mid", {"MELODY": [(0, 96, 60)]}, tempos=((0, 6),))  # 10 million bpm
    with pytest.raises(MidiFileError, match="absurd tempo"):
        read_score(load_midi(fast), "f.mid")
    zero = write_song(tmp_path / "z.mid", {"MELODY": [(0, 96, 60)]}, tempos=((0, 0),))
    with pytest.raises(MidiFileError, match="absurd tempo infinite"):
        read_score(load_midi(zero), "z.mid")


def test_missing_role_names_the_role(tmp_path):
    path = write_song(tmp_path / "r.mid", {"MELODY": [(0, 96, 60)], "PIANO": []})
    with pytest.raises(MidiFileError, match="role 'accomp'"):
        midi_to_piece(path, {"MELODY": "lead", "PIANO": "accomp"}, SPEC, "pop")


def test_oversized_and_missing_files(tmp_path, monkeypatch):
    import accomp.music.frames as frames

    path = write_song(tmp_path / "big.mid", {"MELODY": [(0, 96, 60)]})
    monkeypatch.setattr(frames, "MAX_MIDI_BYTES", 10)
    with pytest.raises(MidiFileError, match="over the"):
        load_midi(path)
    with pytest.raises(MidiFileError, match="cannot read"):
        load_midi(tmp_path / "nope.mid")


def test_unreleased_notes_end_at_track_end(tmp_path):
    midi = mido.MidiFile(ticks_per_beat=TPB)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="MELODY")])
    track.append(mido.Message("note_on", note=60, velocity=90, time=0))
    track.append(mido.Message("note_on", note=64, velocity=0, time=TPB))  # stray off
    track.append(mido.MetaMessage("end_of_track", time=TPB))
    midi.tracks.append(track)
    midi.save(tmp_path / "u.mid")
    score = read_score(load_midi(tmp_path / "u.mid"))
    assert [(n.start, n.end, n.pitch) for n in score.tracks[0].notes] == [(0, 2 * TPB, 60)]


def test_atomic_save_leaves_no_partial_file(tmp_path):
    target = tmp_path / "missing_dir" / "out.mid"
    with pytest.raises(MidiFileError, match="cannot write"):
        save_midi(mido.MidiFile(), target)
    assert not list(tmp_path.rglob("*.tmp"))
