"""The key the band is told (``--key``, a MIDI file's key signature): parsing, the key
tracker it seeds, the whole-song plan it sets, and render end to end."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from accomp.errors import MidiFileError, SettingsError
from accomp.model.planner import KeyTracker
from accomp.music.frames import load_midi, read_score
from accomp.music.keys import KeyHint
from test_planner import K, melody, random_planner

A, F, D = 9, 5, 2


@pytest.mark.parametrize(("text", "keys"), [
    ("F#m", ((6, True),)), ("Bb", ((10, False),)), ("C#m", ((1, True),)), ("Ebm", ((3, True),)),
    ("A minor", ((9, True),)), ("Eb major", ((3, False),)), (" G ", ((7, False),)),
])  # fmt: skip
def test_a_key_is_read_as_musicians_write_it(text, keys):
    assert KeyHint.parse(text).keys == keys


@pytest.mark.parametrize("text", ["H", "Cmaj", "", "F# dorian", "m", "Bbb minor x"])
def test_a_key_that_is_no_key_is_refused_in_one_line(text):
    with pytest.raises(SettingsError, match="is not a key") as err:
        KeyHint.parse(text)
    assert "\n" not in str(err.value)


def test_a_key_signature_names_its_key_and_the_relative_one_but_c_major_names_none():
    assert KeyHint.signature("F") == KeyHint(((F, False), (D, True)), (2 / 3, 1 / 3), firm=False)
    assert KeyHint.signature("Dm") == KeyHint(((D, True), (F, False)), (2 / 3, 1 / 3), firm=False)
    assert _first_key(KeyHint.signature("F"), [A]) == (F, False) and _first_key(KeyHint.signature("Dm"), [A]) == (D, True)
    assert KeyHint.signature("C") is None and KeyHint.signature("Am") is None  # what sequencers write by default
    assert KeyHint.signature("nonsense") is None


def _first_key(hint: KeyHint | None, pcs: list[int]) -> tuple[int, bool]:
    tracker = KeyTracker(None if hint is None else hint.histogram())
    first = np.zeros(12)
    first[pcs] = 1
    tracker.view(first)
    return tracker.tonic, tracker.minor


def test_the_key_tracker_starts_in_the_told_key_and_the_melody_takes_over():
    assert _first_key(None, [A]) == (A, False)  # one note: it reads that note's key
    assert _first_key(KeyHint.parse("F"), [A]) == (F, False)  # told F: A is its third
    assert _first_key(KeyHint.parse("Dm"), [A]) == (D, True)
    tracker = KeyTracker(KeyHint.parse("F").histogram())  # told F, but the melody is plainly in E
    for beat in range(12):
        chroma = np.zeros(12)
        chroma[[4, 8, 11, 6, 1][beat % 5]] = 4
        tracker.view(chroma > 0)
        tracker.advance(chroma)
    tracker.view(np.zeros(12))
    assert (tracker.tonic, tracker.minor) == (4, False)


def test_the_live_planner_is_told_the_key_at_every_reset():
    from accomp.model.planner import PlannerStream

    planner, style = random_planner(seed=1), np.array([0.0, 1.0, 0.0])
    stream = PlannerStream(planner, style, 4, 21, K)
    lead = np.zeros((2, K), np.uint8)
    lead[:, 60 + A - 21] = 1
    stream.decide(lead, 0)
    assert stream.tonic == A
    stream.hint = KeyHint.parse("F")
    stream.reset()
    stream.decide(lead, 0)
    assert (stream.tonic, stream.minor) == (F, False)
    stream.hint = None
    stream.reset()
    stream.decide(lead, 0)
    assert stream.tonic == A


def test_a_finished_melodys_plan_is_made_in_the_told_key_or_the_signatures_better_fitting_one():
    planner, style = random_planner(seed=3), np.array([0.0, 1.0, 0.0])
    lead, beats = melody(128), np.arange(128) % 16  # C major scale notes
    assert set(planner.song_plan(lead, beats, 4, style).tonic.tolist()) == {0}
    assert set(planner.song_plan(lead, beats, 4, style, KeyHint.parse("Bbm")).tonic.tolist()) == {10}
    sig = KeyHint(((0, False), (9, True)), firm=False)  # a signature's two keys: C major fits a C major melody better
    assert set(planner.song_plan(lead, beats, 4, style, sig).minor.tolist()) == {False}
    wrong = KeyHint.signature("F#")  # a melody in C fits neither F# major nor D# minor: the signature is overruled
    assert set(planner.song_plan(lead, beats, 4, style, wrong).tonic.tolist()) == {0}
    firm = KeyHint.parse("F#")  # ... but a key the user names is taken as named
    assert set(planner.song_plan(lead, beats, 4, style, firm).tonic.tolist()) == {6}


def _lead_file(path, key: str | None, notes=((69, 0), (67, 1), (67, 1.5), (65, 2), (69, 3), (67, 4), (65, 5), (65, 6))):
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    if key:
        track.append(mido.MetaMessage("key_signature", key=key))
    events = sorted([(round(s * 480), 1, p) for p, s in notes] + [(round(s * 480) + 400, 0, p) for p, s in notes])
    now = 0
    for tick, on, p in events:
        track.append(mido.Message("note_on", note=p, velocity=80 * on, time=tick - now))
        now = tick
    mid.save(path)
    return str(path)


def test_a_midi_files_key_signature_is_read_and_a_broken_one_is_refused_in_one_line(tmp_path):
    path = _lead_file(tmp_path / "f.mid", "Dm")
    assert read_score(load_midi(path)).keys == [(0, "Dm")]
    data = bytearray((tmp_path / "f.mid").read_bytes())
    at = data.find(bytes([0xFF, 0x59, 0x02]))
    data[at + 3] = 9  # nine sharps: no key
    (tmp_path / "bad.mid").write_bytes(bytes(data))
    with pytest.raises(MidiFileError, match="not a readable MIDI file") as err:
        load_midi(tmp_path / "bad.mid")
    assert "\n" not in str(err.value)


def _first_chord(tmp_path, lead: str, *flags: str) -> str:
    from accomp.cli import main

    sheet = tmp_path / f"sheet{len(list(tmp_path.iterdir()))}.txt"
    assert main(["render", lead, "--preset", "pop", "-o", str(tmp_path / "out.mid"), "--chords", str(sheet), *flags]) == 0
    return sheet.read_text().splitlines()[1].split()[2]


def test_render_starts_in_the_key_it_is_told_or_the_files_signature_names(tmp_path):
    """A G G F | A G F F in F major: from its first note alone the band opens on A; told F, on F."""
    plain = _lead_file(tmp_path / "plain.mid", None)
    assert _first_chord(tmp_path, plain).startswith("A")
    assert _first_chord(tmp_path, plain, "--key", "F") == "F"
    signed = _lead_file(tmp_path / "signed.mid", "F")
    assert _first_chord(tmp_path, signed) == "F"  # the signature's key
    assert _first_chord(tmp_path, signed, "--key", "heard").startswith("A")
    assert _first_chord(tmp_path, _lead_file(tmp_path / "c.mid", "C")).startswith("A")  # C major: the default, ignored


@pytest.mark.parametrize("command", ["render", "play"])
def test_a_key_that_is_no_key_is_a_one_line_error_and_writes_nothing(tmp_path, command):
    import subprocess
    import sys

    lead = _lead_file(tmp_path / "lead.mid", None)
    args = [lead, "-o", str(tmp_path / "out.mid")] if command == "render" else ["--no-synth", "--no-midi-in", "--duration", "1"]
    done = subprocess.run([sys.executable, "-m", "accomp", command, *args, "--preset", "pop", "--key", "H#m7"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and "--key: 'H#m7' is not a key" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.mid").exists()


@pytest.mark.parametrize(("flag", "value", "said"), [
    ("--tempo", "-3", "--tempo: tempo must be"), ("--tempo", "nan", "--tempo: tempo must be"),
    ("--meter", "abc", "--meter: 'abc' is not a meter"), ("--meter", "0/4", "--meter: impossible meter 0/4"),
    ("--meter", "3/5", "--meter: impossible meter 3/5"),
])  # fmt: skip
def test_an_impossible_tempo_or_meter_is_a_one_line_error_even_for_a_midi_lead(tmp_path, flag, value, said):
    """A MIDI lead plays at its own tempo and meter, but an impossible one given with it is
    still refused, not passed over in silence."""
    import subprocess
    import sys

    lead = _lead_file(tmp_path / "lead.mid", None)
    done = subprocess.run([sys.executable, "-m", "accomp", "render", lead, "-o", str(tmp_path / "out.mid"), "--preset", "pop",
                           f"{flag}={value}"], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode != 0 and said in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out.mid").exists()


def test_told_a_key_the_tonic_chord_is_in_its_mode_unless_the_melody_sounds_the_other_third(monkeypatch):
    import torch

    from accomp.model.planner import PlannerStream
    from accomp.music.chords import chord_index

    planner, style = random_planner(seed=1), np.array([0.0, 1.0, 0.0])
    minor_tonic = torch.full((planner.cfg.n_chords,), -5.0)
    minor_tonic[chord_index(0, "min")] = 5.0  # key-relative: the planner prefers the minor tonic
    monkeypatch.setattr(PlannerStream, "_step_net", lambda self: minor_tonic.clone())

    def first_chord(hint, pitch):
        stream = PlannerStream(planner, style, 4, 21, K)
        stream.hint = hint
        stream.reset()
        lead = np.zeros((2, K), np.uint8)
        lead[:, pitch - 21] = 1
        return stream.decide(lead, 0)

    assert first_chord(None, 60) == chord_index(0, "min")  # untold: as the planner says
    assert first_chord(KeyHint.parse("C"), 60) == chord_index(0, "maj")  # told C major: C
    assert first_chord(KeyHint.parse("C"), 63) == chord_index(0, "min")  # ... unless the melody sounds Eb
    assert first_chord(KeyHint.signature("G"), 67) == chord_index(7, "min")  # a signature is not a key named
    assert first_chord(KeyHint.parse("Cm"), 60) == chord_index(0, "min")


def test_render_says_which_key_it_was_told(tmp_path, capsys):
    from accomp.cli import main

    out = str(tmp_path / "out.mid")
    signed = _lead_file(tmp_path / "signed.mid", "F")
    assert main(["render", signed, "--preset", "pop", "-o", out]) == 0
    assert "told the key F or Dm (its key signature)" in capsys.readouterr().out
    assert main(["render", signed, "--preset", "pop", "-o", out, "--key", "Bb"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("told the key Bb")
    assert main(["render", signed, "--preset", "pop", "-o", out, "--key", "heard"]) == 0
    assert "told the key" not in capsys.readouterr().out
