"""The engine in simulated time: steps, the grace window, bad input, recording, determinism."""

from __future__ import annotations

import os
import wave

import mido
import numpy as np
import pytest

from accomp.config import ONSET, SUSTAIN
from accomp.engine.engine import ACCOMP, Engine, EngineSettings
from accomp.realtime.notes import CONTROL, NOTE_OFF, NOTE_ON, SYSEX
from accomp.engine.offline import run_offline
from accomp.engine.recorder import Recorder
from accomp.engine.transport import TransportSettings
from accomp.errors import DeviceError

import needs  # noqa: E402

SR = 48000
STEP = 6000  # samples per 16th at 120 bpm


class Fifth:
    """A stand-in student: the lead a fifth lower, one decision per step, redo-able."""

    def __init__(self):
        self.calls = []

    def step(self, step, lead, beat_in_bar):
        self.calls.append(("step", step, int(lead[ONSET].sum()), int(lead[SUSTAIN].sum())))
        out = np.zeros_like(lead)
        out[:, :-7] = lead[:, 7:]
        return out

    def redo(self, step, lead, beat_in_bar):
        self.calls.append(("redo", step, int(lead[ONSET].sum()), int(lead[SUSTAIN].sum())))
        out = np.zeros_like(lead)
        out[:, :-7] = lead[:, 7:]
        return out


def engine(player=None, count_in=0, **kw) -> Engine:
    transport = TransportSettings(tempo=120, count_in_bars=count_in, click=False)
    return Engine(EngineSettings(transport=transport, **kw), player)


def origin(e: Engine) -> int:
    return e.lookahead  # run_offline starts the transport at sample 0 + lookahead


def note(t, pitch, length, velocity=100):
    return [(t, NOTE_ON, pitch, velocity), (t + length, NOTE_OFF, pitch, 0)]


def accomp_notes(run):
    """(time, pitch) of accompaniment note-ons that MIDI out would send."""
    return [(t, d1) for t, part, status, d1, d2 in run.midi_out if part == ACCOMP and status & 0xF0 == NOTE_ON]


def test_notes_played_before_the_decision_are_answered_at_their_step():
    player = Fifth()
    e = engine(player)
    o = origin(e)
    early = round(0.005 * SR)  # 5 ms ahead of the grid: before the step is decided
    lead = note(o + 4 * STEP - early, 72, 2 * STEP) + note(o + 8 * STEP - early, 74, STEP)
    run = run_offline(e, sorted(lead), seconds=1.5)
    assert accomp_notes(run) == [(o + 4 * STEP, 65), (o + 8 * STEP, 67)]
    offs = [(t, d1) for t, p, s, d1, d2 in run.midi_out if p == ACCOMP and s & 0xF0 == NOTE_OFF]
    assert (o + 6 * STEP, 65) in offs and (o + 9 * STEP, 67) in offs
    assert e.metrics().redos == 0 and e.metrics().steps == 12  # steps 0..11 decided in 1.5 s


def test_a_note_on_the_grid_arrives_after_the_decision_and_redecides_it():
    player = Fifth()
    e = engine(player)
    o = origin(e)
    run = run_offline(e, note(o + 4 * STEP, 72, STEP), seconds=1.0)
    assert accomp_notes(run) == [((o + 4 * STEP) // 128 * 128 + 128 + e.slack, 65)]
    assert ("step", 4, 0, 0) in player.calls and ("redo", 4, 1, 1) in player.calls


def test_a_late_note_inside_the_grace_window_redecides_its_step():
    player = Fifth()
    e = engine(player, grace_ms=30)
    o = origin(e)
    late = o + 4 * STEP + round(0.010 * SR)  # 10 ms after the grid
    run = run_offline(e, note(late, 72, STEP), seconds=1.0)
    assert ("redo", 4, 1, 1) in player.calls
    (t, pitch), = accomp_notes(run)
    assert pitch == 65 and t == (late // 128 + 1) * 128 + e.slack  # in the next block, not a step later
    row = e.latency.rows()[0]
    assert row["note"] == late and row["sounds_at"] == t


def _ticks(path, track, kind):
    out, t = [], 0
    for m in mido.MidiFile(path).tracks[track]:
        t += m.time
        if m.type == kind and (kind == "note_off" or m.velocity > 0):
            out.append((t, m.note))
    return out


def test_a_render_writes_the_bands_answers_on_the_grid_and_a_take_as_they_came(tmp_path):
    """Notes on the grid and one 10 ms late (inside the grace window): the band answers each
    in the block after it. A take's file keeps those times; a render's (``on_grid``) writes the
    band's part on the steps it answered, each note as long as it was decided."""
    lead = note(origin(engine()) + 4 * STEP, 72, 2 * STEP) + note(origin(engine()) + 8 * STEP + round(0.010 * SR), 74, STEP)
    files = {}
    for name, window in (("take", 0), ("render", None)):
        e = engine(Fifth(), grace_ms=30)
        rec = Recorder(e.transport, e.record, midi_path=tmp_path / f"{name}.mid",
                       on_grid=e.open_for + e.block if window is None else window)  # fmt: skip
        run_offline(e, sorted(lead), seconds=1.5, recorder=rec)
        files[name] = tmp_path / f"{name}.mid"
    per_16th = 120  # ticks (480 a beat)
    assert _ticks(files["take"], 1, "note_on") == [(4 * per_16th, 72), (8 * per_16th + 10, 74)]  # the lead as played
    for name in files:
        assert _ticks(files[name], 1, "note_on") == _ticks(files["take"], 1, "note_on")  # the lead is never moved
    take_ons, render_ons = _ticks(files["take"], 2, "note_on"), _ticks(files["render"], 2, "note_on")
    assert [p for _, p in take_ons] == [p for _, p in render_ons] == [65, 67]
    assert all(t % per_16th for t, _ in take_ons)  # live: a block past the step (and past the late note)
    assert render_ons == [(4 * per_16th, 65), (8 * per_16th, 67)]
    take_offs = _ticks(files["take"], 2, "note_off")
    assert _ticks(files["render"], 2, "note_off") == [(t // per_16th * per_16th, p) for t, p in take_offs]
    assert all(t % per_16th == 0 for t, _ in _ticks(files["render"], 2, "note_off"))


def test_a_note_ended_within_its_window_keeps_a_length():
    """A band note struck and ended in one grid window would be written on one tick, note-off
    first, and never end: it keeps its own times, a tick long at the least."""
    e = engine(Fifth())
    rec = Recorder(e.transport, e.record, on_grid=e.open_for + e.block)
    run_offline(e, [], seconds=0.2, recorder=rec)
    at = e.transport.step_sample(4) + 64
    rec._notes += [(at, ACCOMP, NOTE_ON, 60, 90), (at + 32, ACCOMP, NOTE_OFF, 60, 0)]
    (on, _), = _ticks_of(rec.to_midi(), "note_on")
    (off, _), = _ticks_of(rec.to_midi(), "note_off")
    assert on == 4 * 120 and off > on


def _ticks_of(midi, kind):
    track = next(t for t in midi.tracks if t.name == "accomp")
    out, t = [], 0
    for m in track:
        t += m.time
        if m.type == kind:
            out.append((t, m.note))
    return out


def test_a_note_after_the_grace_window_counts_for_the_next_step():
    player = Fifth()
    e = engine(player, grace_ms=10)
    o = origin(e)
    late = o + 4 * STEP + round(0.040 * SR)  # 40 ms late, nearest step still 4
    run = run_offline(e, note(late, 72, 3 * STEP), seconds=1.0)
    assert accomp_notes(run) == [(o + 5 * STEP, 65)]
    assert e.late_lead_notes == 1


def test_bad_input_flood_sysex_velocity_zero_and_missing_note_offs(tmp_path):
    e = engine(Fifth(), ring_capacity=1 << 15)
    o = origin(e)
    lead = []
    rng = np.random.default_rng(0)
    for i in range(20000):  # 10,000 messages a second for 2 s
        t = o + i * SR // 10000
        lead.append((t, NOTE_ON, int(rng.integers(40, 90)), int(rng.integers(0, 128))))  # velocity 0 half of... some
    lead += [(o + 100, SYSEX, 0x7E, 0x7F), (o + 200, 0xF7, 0, 0), (o + 300, CONTROL, 64, 127)]
    lead.sort()
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "flood.mid")
    run = run_offline(e, lead, seconds=2.5, recorder=rec)
    m = e.metrics()
    assert m.lead_notes > 10000 and m.ring_overflows == 0
    assert m.redos <= m.steps * 4  # bounded re-decisions
    ons = sum(1 for t, p, s, d1, d2 in run.midi_out if s & 0xF0 == NOTE_ON)
    offs = sum(1 for t, p, s, d1, d2 in run.midi_out if s & 0xF0 == NOTE_OFF)
    assert ons > 0 and m.accomp_sounding == 0
    # every accompaniment note scheduled was ended, by a note-off or by the stop's flush
    assert offs <= ons
    midi = mido.MidiFile(tmp_path / "flood.mid")
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]
    for track in midi.tracks[1:]:
        held = set()
        for msg in track:
            if msg.type == "note_on" and msg.velocity > 0:
                held.add(msg.note)
            elif msg.type in ("note_on", "note_off"):
                held.discard(msg.note)
        assert held == set(), f"{track.name}: notes left open"


def test_recording_has_named_tracks_tempo_map_and_valid_wav(tmp_path):
    pytest.importorskip("tinysoundfont")
    from accomp.synth.soundfont import Synth

    e = engine(Fifth(), count_in=1)
    synth = Synth(SR, 128, e.synth_inputs, soundfont=_soundfont())
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "s.mid", wav_path=tmp_path / "s.wav")
    o = origin(e)
    lead = note(o + 20 * STEP, 72, 4 * STEP)
    run_offline(e, lead, seconds=4.0, synth=synth, recorder=rec, tempo_changes=[(o + 24 * STEP, 90.0)])
    assert sorted(os.listdir(tmp_path)) == ["s.mid", "s.wav"]  # no temporary files left
    midi = mido.MidiFile(tmp_path / "s.mid")
    names = [t.name for t in midi.tracks]
    assert names == ["conductor", "lead", "accomp"]
    tempos = [round(mido.tempo2bpm(m.tempo)) for m in midi.tracks[0] if m.type == "set_tempo"]
    assert tempos == [120, 90]
    lead_on = next(m for m in midi.tracks[1] if m.type == "note_on")
    assert lead_on.note == 72 and abs(lead_on.time - 20 * 120) <= 1  # beat 5 (after the count-in bar)
    accomp_on = next(m for m in midi.tracks[2] if m.type == "note_on")
    assert accomp_on.note == 65
    with wave.open(str(tmp_path / "s.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, SR)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    assert w.getnframes() >= 4.5 * SR - 128 and np.abs(pcm).max() > 1000


def test_recorder_closes_valid_files_when_play_ends_abnormally(tmp_path):
    e = engine(Fifth())
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "a.mid", wav_path=tmp_path / "a.wav")
    e.start(0)
    e.receive(100, NOTE_ON, 60, 90)  # a note whose note-off never comes
    e.poll(100)
    rec.audio.write(np.full((480, 2), 0.25, dtype=np.float32))
    try:
        raise DeviceError("audio device disappeared")
    except DeviceError:
        pass
    finally:
        rec.close()
    rec.close()  # idempotent
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert w.getnframes() == 480
    lead = mido.MidiFile(tmp_path / "a.mid").tracks[1]
    assert [m.type for m in lead if m.type.startswith("note")] == ["note_on", "note_off"]


def test_recorder_reports_an_unwritable_path_in_one_line(tmp_path):
    e = engine()
    with pytest.raises(DeviceError, match="cannot write"):
        Recorder(e.transport, e.record, wav_path=tmp_path / "no-such-dir" / "x.wav")


def test_simulated_time_is_deterministic():
    pytest.importorskip("tinysoundfont")
    from accomp.synth.soundfont import Synth

    def once():
        e = engine(Fifth(), count_in=1)
        e2 = e.settings
        synth = Synth(SR, e2.block_frames, e.synth_inputs, soundfont=_soundfont())
        lead = sorted(note(30000, 72, 9000) + note(60000, 76, 9000) + note(61000, 79, 20000))
        run = run_offline(e, lead, seconds=2.5, synth=synth)
        return run.audio, run.midi_out

    (a1, m1), (a2, m2) = once(), once()
    assert m1 == m2 and np.array_equal(a1, a2)


def test_stop_and_switching_player_end_every_note():
    pytest.importorskip("tinysoundfont")
    from accomp.synth.soundfont import Synth

    e = engine(Fifth())
    synth = Synth(SR, 128, e.synth_inputs, soundfont=_soundfont())
    o = origin(e)
    lead = note(o, 72, SR * 10) + [(o + 10, CONTROL, 64, 127)]  # held, pedal down, never released
    run = run_offline(e, sorted(lead), seconds=1.0, synth=synth, tail_seconds=0.3)
    assert synth.sounding() == 0
    assert np.abs(run.audio[-SR // 20 :]).max() == 0.0  # silence after the stop's release
    e2 = engine(Fifth())
    e2.start(0)
    e2.receive(o, NOTE_ON, 72, 100)
    e2.poll(o)
    assert e2.metrics().accomp_sounding == 1
    e2.set_player(Fifth(), o + 10)
    assert e2.metrics().accomp_sounding == 0 and e2.accomp_synth.take_flush() and e2.accomp_midi.take_flush()


def _soundfont():
    return needs.soundfont()


def test_a_stop_cuts_the_recording_where_it_cut_the_sound(tmp_path):
    """Notes the last decision scheduled past the stop never sound (the synth drops them):
    the recording leaves them out too, and ends what sounded at the cut."""
    pytest.importorskip("tinysoundfont")
    from accomp.synth.soundfont import Synth

    e = engine(Fifth())
    synth = Synth(SR, 128, e.synth_inputs, soundfont=_soundfont())
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "s.mid")
    o = origin(e)
    lead = sorted(sum((note(o + k * STEP - 300, 60 + k, STEP // 2) for k in range(9)), []))  # early: each decided on time
    decided = o + 8 * STEP - e.lookahead  # step 8 is decided here, for o + 8 * STEP ...
    stop = (decided // 128 + 1) * 128  # ... and play stops at the next block, before step 8 sounds
    assert decided < stop < o + 8 * STEP
    run = run_offline(e, lead, seconds=stop / SR, synth=synth, recorder=rec)
    assert (o + 8 * STEP, 60 + 8 - 7) in accomp_notes(run)  # scheduled (MIDI out takes events ahead of time)
    midi = mido.MidiFile(tmp_path / "s.mid")
    ons = [m.note for m in midi.tracks[2] if m.type == "note_on" and m.velocity > 0]
    assert ons == [60 + k - 7 for k in range(8)] and len(ons) == synth.notes_played[ACCOMP]
    ticks = np.cumsum([m.time for m in midi.tracks[2]])
    last_off = max(t for t, m in zip(ticks, midi.tracks[2]) if m.type == "note_off")
    assert last_off <= round(e.transport.beats_since_origin(stop) * midi.ticks_per_beat) + 1


def test_the_latency_log_keeps_the_last_rows_and_hands_out_what_is_new():
    from accomp.engine.latency import LatencyLog

    log = LatencyLog(4)
    for i in range(3):
        log.add(note=i, decided=i + 10, model_s=0.001, sounds_at=i + 128, audible=1, pitch=60 + i, redo=False, revised=False)
    rows, seen = log.since(0)
    assert seen == 3 and list(rows["pitch"]) == [60, 61, 62]
    for i in range(3, 9):
        log.add(i, i + 10, 0.001, i + 128, 0, 60 + i, True, i % 2 == 0)
    rows, seen = log.since(seen)
    assert seen == 9 and list(rows["note"]) == [5, 6, 7, 8]  # what was new and is still kept, oldest first
    assert list(log.rows()["revised"]) == [False, True, False, True] and log.rows()["redo"].all()
