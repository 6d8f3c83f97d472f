"""The accompanist (a real student with random weights) in the engine; `accomp render`."""

from __future__ import annotations

import os
import subprocess
import sys

import mido
import numpy as np
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.engine.accompanist import Accompanist
from accomp.engine.engine import Engine, EngineSettings
from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.engine.offline import run_offline
from accomp.engine.transport import TransportSettings
from accomp.model.checkpoint import save_teacher
from accomp.model.preset import save_preset
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig

SR = 48000


def tiny_student(seed: int = 0) -> Student:
    torch.manual_seed(seed)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    return Student.from_teacher(teacher, kv_window=8).eval()


@pytest.fixture()
def preset(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCOMP_DATA_DIR", str(tmp_path / "data"))
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    teacher_path = tmp_path / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, teacher_path)
    student = Student.from_teacher(teacher, lora_rank=2, kv_window=8).eval()
    path = tmp_path / "tiny.safetensors"
    save_preset(student, teacher_path, path, style={"name": "pop", "weights": [1.0, 0.0, 0.0]})
    return path


def lead_frame(*keys: int) -> np.ndarray:
    frame = np.zeros((2, 88), dtype=np.uint8)
    for k in keys:
        frame[:, k] = 1
    return frame


def test_redo_is_the_step_as_if_the_late_note_had_been_there():
    style = np.array([1.0, 0.0, 0.0], dtype=np.float32)
    a = Accompanist(tiny_student(), style, seed=3)
    b = Accompanist(tiny_student(), style, seed=3)
    a.reset(), b.reset()
    for step in range(5):
        np.testing.assert_array_equal(a.step(step, lead_frame(40 + step), step), b.step(step, lead_frame(40 + step), step))
    first = a.step(5, lead_frame(), 5).copy()  # decided before the late note came
    redone = a.redo(5, lead_frame(47), 5)
    expected = b.step(5, lead_frame(47), 5)
    np.testing.assert_array_equal(redone, expected)
    torch.testing.assert_close(a.state.k, b.state.k, rtol=0, atol=0)
    assert first.shape == (2, 88)
    for step in range(6, 9):  # and the streams stay identical afterwards
        np.testing.assert_array_equal(a.step(step, lead_frame(50), step), b.step(step, lead_frame(50), step))


def test_engine_with_a_student_is_deterministic_in_simulated_time():
    def once():
        transport = TransportSettings(tempo=120, count_in_bars=1, click=False)
        engine = Engine(EngineSettings(transport=transport))
        player = Accompanist(tiny_student(), np.array([0.5, 0.5, 0.0], dtype=np.float32), seed=1)
        player.warm_up()
        engine.player = player
        lead = []
        for i in range(12):
            t = engine.lookahead + (16 + 2 * i) * 6000 + (i % 3 - 1) * 300  # around the grid
            lead += [(t, NOTE_ON, 60 + i, 90), (t + 5000, NOTE_OFF, 60 + i, 0)]
        run = run_offline(engine, sorted(lead), seconds=6.0)
        return run.midi_out, engine.metrics()

    (out1, m1), (out2, m2) = once(), once()
    assert out1 == out2 and m1.steps == m2.steps and m1.redos == m2.redos > 0
    assert m1.accomp_sounding == 0


def test_the_engine_decides_the_planners_next_beat_between_steps_and_plays_the_same(monkeypatch):
    """The scheduler calls Accompanist.between_steps once no step can be re-decided: each beat
    that starts on silence or one pitch class finds its chord decided ahead
    (PlannerStream.anticipate) and only looks it up, a late note's revision included, and the
    band plays what it plays when every beat does that work itself."""
    from accomp.model.harmony import Harmony
    from accomp.model.planner import Guard, Planner, PlannerConfig
    from tiny_models import tiny_teacher

    def once(between: bool):
        torch.manual_seed(0)
        student = Student.from_teacher(tiny_teacher(chords=True), kv_window=8).eval()
        planner = Planner.create(PlannerConfig(styles=student.cfg.styles, hidden=16, layers=2, members=2))
        player = Accompanist(student, np.array([1.0, 0.0, 0.0], dtype=np.float32), seed=1, harmony=Harmony(planner, Guard(0.0)))
        player.warm_up()
        if not between:
            monkeypatch.setattr(player, "between_steps", lambda: None)
        looked_up, recall = [], player.plan._recall

        def counted(row, position):
            looked_up.append(recall(row, position))
            return looked_up[-1]

        monkeypatch.setattr(player.plan, "_recall", counted)
        engine = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=1, click=False)))
        engine.player = player
        lead = []
        for i in range(24):
            t = engine.lookahead + (16 + 2 * i) * 6000 + (i % 3) * 400  # on the beat and late
            lead += [(t, NOTE_ON, 60 + (i * 5) % 12, 90), (t + 5000, NOTE_OFF, 60 + (i * 5) % 12, 0)]
        run = run_offline(engine, sorted(lead), seconds=8.0)
        return run.midi_out, looked_up, engine.metrics()

    (ahead, looked_up, metrics), (plain, unprepared, _) = once(True), once(False)
    assert metrics.redos > 0 and metrics.plan_revisions > 0
    assert len(looked_up) > 12 and all(looked_up)  # every beat and every revision, a lookup
    assert len(unprepared) > 12 and not any(unprepared)
    assert ahead == plain and len(ahead) > 0


def write_lead(path, tempos=((0, 100), (1920 * 2, 80))):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    events = [(t, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for t, bpm in tempos]
    events.append((0, mido.MetaMessage("time_signature", numerator=3, denominator=4)))
    for i, pitch in enumerate([67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62]):
        events.append((i * 480 + 1, mido.Message("note_on", note=pitch, velocity=80)))
        events.append(((i + 1) * 480 - 40, mido.Message("note_off", note=pitch, velocity=0)))
    events.sort(key=lambda e: e[0])
    now = 0
    for t, msg in events:
        track.append(msg.copy(time=t - now))
        now = t
    midi.tracks.append(track)
    midi.save(path)


def accomp(*args, **kw):
    return subprocess.run([sys.executable, "-m", "accomp", *args], capture_output=True, text=True, timeout=300, **kw)


def test_accomp_render_writes_lead_accomp_and_tempo_map(tmp_path, preset):
    lead = tmp_path / "melody.mid"
    write_lead(lead)
    out, wav = tmp_path / "out.mid", tmp_path / "out.wav"
    done = accomp("render", str(lead), "--preset", str(preset), "-o", str(out), "--wav", str(wav))
    assert done.returncode == 0, done.stderr
    assert "real time" in done.stdout
    midi = mido.MidiFile(out)
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]
    tempos = [(m.time, round(mido.tempo2bpm(m.tempo))) for m in midi.tracks[0] if m.type == "set_tempo"]
    assert [bpm for _, bpm in tempos] == [100, 80]
    meters = [(m.numerator, m.denominator) for m in midi.tracks[0] if m.type == "time_signature"]
    assert meters == [(3, 4)]
    ticks, notes = 0, []
    for m in midi.tracks[1]:
        ticks += m.time
        if m.type == "note_on" and m.velocity > 0:
            notes.append((ticks, m.note))
    assert [n for _, n in notes] == [67, 69, 71, 72, 74, 72, 71, 69, 67, 65, 64, 62]
    assert all(abs(t - i * 480) <= 3 for i, (t, _) in enumerate(notes))  # the lead keeps its timing
    assert any(m.type == "note_on" for m in midi.tracks[2])
    again = tmp_path / "again.mid"
    assert accomp("render", str(lead), "--preset", str(preset), "-o", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()  # simulated time: the same every time


def test_render_reports_bad_input_in_one_line(tmp_path, preset, capsys):
    from accomp.cli import main

    lead = tmp_path / "melody.mid"
    write_lead(lead)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a preset at all")
    garbage = tmp_path / "garbage.mid"
    garbage.write_bytes(b"MThd garbage")
    for args in (
        ["render", str(lead), "--preset", str(bad), "-o", str(tmp_path / "x.mid")],
        ["render", str(garbage), "--preset", str(preset), "-o", str(tmp_path / "x.mid")],
        ["render", str(lead), "--preset", "no-such-preset", "-o", str(tmp_path / "x.mid")],
        ["render", str(lead), "--preset", str(preset), "-o", str(tmp_path / "no-dir" / "x.mid")],
        ["render", str(lead), "--preset", str(preset), "-o", str(tmp_path / "x.mid"), "--wav", str(tmp_path / "x.wav"),
         "--soundfont", str(garbage)],
    ):  # fmt: skip
        assert main(args) == 1, args
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "error:" in err, err
    assert not (tmp_path / "x.mid").exists() and not (tmp_path / "x.wav").exists()


def test_render_checks_where_it_writes_before_it_renders(tmp_path, preset, capsys, monkeypatch):
    from accomp.cli import main
    from accomp.engine import offline

    lead = tmp_path / "melody.mid"
    write_lead(lead)
    rendered = []
    monkeypatch.setattr(offline, "run_offline", lambda *a, **k: rendered.append(1))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = {
        "-o out.txt": (["-o", str(tmp_path / "out.txt")], "should end in .mid or .midi"),
        "-o a folder": (["-o", str(tmp_path)], "should end in .mid"),
        "--wav out.mp3": (["-o", str(tmp_path / "x.mid"), "--wav", str(tmp_path / "x.mp3")], "should end in .wav"),
        "-o /proc": (["-o", "/proc/accomp-test.mid"], "cannot write there"),
    }
    if os.geteuid() != 0:  # root may write anywhere
        cases["-o read-only folder"] = (["-o", str(locked / "x.mid")], "cannot write there")
    for name, (extra, message) in cases.items():
        assert main(["render", str(lead), "--preset", str(preset), *extra]) == 1, name
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and message in err, (name, err)
    assert rendered == [] and not (tmp_path / "out.txt").exists() and not (tmp_path / "x.mid").exists()


def test_device_auto_keeps_the_device_whose_step_is_faster(preset):
    import time

    from accomp.engine.accompanist import fastest

    def slowed() -> Accompanist:  # a stand-in for a device whose every step costs 2 ms more
        acc = Accompanist.from_preset(preset, device="cpu")
        step = acc.student.step

        def slow_step(*args, **kwargs):
            time.sleep(0.002)
            return step(*args, **kwargs)

        acc.student.step = slow_step
        return acc

    chosen, timings = fastest({"slow": slowed, "fast": lambda: Accompanist.from_preset(preset, device="cpu")})
    assert set(timings) == {"slow", "fast"} and timings["slow"] > timings["fast"] + 0.0015
    assert chosen.device_timings == timings
    assert chosen.student.step.__name__ != "slow_step"
    frame = chosen.step(0, np.zeros((2, chosen.student.cfg.n_keys), np.uint8), 0)  # the stream starts afresh
    assert frame.shape == (2, chosen.student.cfg.n_keys)
    auto = Accompanist.from_preset(preset, device="auto")  # this machine: the CPU, or the faster of CPU and GPU
    assert auto.device.type == "cpu" or set(auto.device_timings) == {"cpu", "cuda"}
