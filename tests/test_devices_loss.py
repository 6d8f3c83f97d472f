"""An audio device that disappears mid-play: `accomp play` on a JACK server that is killed.

The app must notice, stop cleanly with a one-line error and exit code 1, and leave valid
recordings (no temporary files). It runs in its own process against its own server, since
PortAudio cannot be shut down in a process whose JACK server vanished.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave

import mido
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.model.checkpoint import save_teacher
from accomp.model.preset import save_preset
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig

import needs  # noqa: E402

pytest.importorskip("tinysoundfont")


def test_audio_device_lost_mid_play_stops_cleanly(tmp_path):
    jackd, jack_lsp = needs.program("jackd"), needs.program("jack_lsp")
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    save_teacher(teacher, DEFAULT_SPEC, tmp_path / "teacher.safetensors")
    preset = tmp_path / "tiny.safetensors"
    save_preset(Student.from_teacher(teacher, kv_window=8), tmp_path / "teacher.safetensors", preset,
                style={"name": "pop", "weights": [1.0, 0.0, 0.0]})  # fmt: skip
    name = f"accomp-loss-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1",
           "ACCOMP_DATA_DIR": str(tmp_path / "data")}  # fmt: skip
    server = subprocess.Popen([jackd, "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "128"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    app = None
    try:
        deadline = time.monotonic() + 20
        while subprocess.run([jack_lsp], env=env, capture_output=True, timeout=10).returncode != 0:
            assert time.monotonic() < deadline and server.poll() is None, "jackd did not start"
        take = tmp_path / "take"
        app = subprocess.Popen([sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--no-midi-in",
                                "--host-api", "JACK", "--count-in", "0", "--duration", "60", "--record", str(take)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        started = app.stderr.readline()
        assert "accomp: playing" in started, started + app.stderr.read()
        server.terminate()  # the device goes away (SIGTERM: the server leaves no shared memory behind)
        server.wait(10)
        out, err = app.communicate(timeout=60)
    finally:
        for proc in (app, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
    lines = err.strip().splitlines()
    assert app.returncode == 1, err
    assert lines[-1].startswith("accomp: error: audio device") and "stopped" in lines[-1], err
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".take", "take"))) == ["take.mid", "take.wav"]
    with wave.open(str(take.with_suffix(".wav"))) as w:
        assert w.getnframes() > 0
    assert [t.name for t in mido.MidiFile(take.with_suffix(".mid")).tracks] == ["conductor", "lead", "accomp"]
