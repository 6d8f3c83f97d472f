"""benchmarks/tunes.py: its tunes are whole bars, and what it reads back from a render is the
chord the band played (a known MIDI file read back beat by beat)."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from accomp.music.chords import chord_index
from benchmark_module import load


@pytest.fixture(scope="module")
def tunes():
    return load("tunes")


def test_every_tune_is_whole_bars_in_its_key(tunes):
    for name, (tonic, mode, per_bar, melody) in tunes.TUNES.items():
        notes = tunes.parse(melody, per_bar)
        end = max(start + beats for _, start, beats in notes)
        assert end % per_bar == 0, name
        scale = {(tonic + i) % 12 for i in (tunes.MAJOR if mode == "major" else tunes.MINOR)}
        pcs = [p % 12 for p, _, _ in notes if p is not None]
        assert sum(pc in scale for pc in pcs) >= 0.95 * len(pcs), name  # a slip of the pen shows here
    assert tunes.pitch("F#4") == 66 and tunes.pitch("Bb3") == 58 and tunes.pitch("C4") == 60
    with pytest.raises(ValueError, match="bar 2 holds 3 beats"):
        tunes.parse("C4 D4 E4 F4 | G4 G4 G4 | C4:4", 4)
    assert tunes.parse("D4 | G4:3", 3)[0] == (62, 2.0, 1.0)  # a pickup sits at the end of its bar


def test_the_band_is_read_beat_by_beat_without_the_lead_or_the_drums(tunes, tmp_path):
    mid = mido.MidiFile(ticks_per_beat=480)
    for name, channel, chords in (("lead", 0, [[72], [74]]), ("accomp", 1, [[60, 64, 67], [57, 60, 65]]),
                                  ("drums", 9, [[36, 42], [38, 42]])):  # fmt: skip
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        for keys in chords:
            track += [mido.Message("note_on", channel=channel, note=k, velocity=80, time=0) for k in keys]
            track += [mido.Message("note_off", channel=channel, note=k, velocity=0, time=480 if i == 0 else 0)
                      for i, k in enumerate(keys)]  # fmt: skip
        mid.tracks.append(track)
    path = tmp_path / "band.mid"
    mid.save(path)
    weights = tunes.band_beats(path, 2, tempo=120.0)
    assert np.flatnonzero(weights[0]).tolist() == [0, 4, 7] and np.flatnonzero(weights[1]).tolist() == [0, 5, 9]
    assert np.allclose(weights[weights > 0], 0.5)  # each note sounds the whole beat (0.5 s at 120 bpm)
    assert tunes.match_chords(weights).tolist() == [chord_index(0, "maj"), chord_index(5, "maj")]
