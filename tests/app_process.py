"""For tests that run `accomp play` as a subprocess on a JACK server: a preset that plays a
lot, reading what the app says, and the server's ports."""

from __future__ import annotations

import os
import select
import subprocess
import time
from pathlib import Path

import torch

from accomp.config import DEFAULT_SPEC
from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.model.checkpoint import save_teacher
from accomp.model.preset import save_preset
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig


def busy_preset(folder: Path) -> Path:
    """A tiny preset with loud random weights: its student plays dozens of notes a step."""
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    teacher_path = folder / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, teacher_path)
    path = folder / "tiny.safetensors"
    save_preset(Student.from_teacher(teacher, kv_window=8), teacher_path, path, style={"name": "pop", "weights": [1.0, 0.0, 0.0]})
    return path


def read_line(stream, needle: str, timeout: float) -> str:
    """Read ``stream`` until a line containing ``needle`` (what the app prints when it plays)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([stream], [], [], left)[0]:
            raise AssertionError(f"no '{needle}' from the app within {timeout} s; it said: {seen[-2000:]}")
        chunk = os.read(stream.fileno(), 4096).decode(errors="replace")
        if not chunk:
            raise AssertionError(f"the app ended before '{needle}'; it said: {seen[-2000:]}")
        seen += chunk
    return seen


def left_sounding(messages: list[list[int]]) -> set[tuple[int, int]]:
    """(channel, key) of every note-on not followed by its note-off (CC123 does not count)."""
    on: set[tuple[int, int]] = set()
    for m in messages:
        kind, channel = m[0] & 0xF0, m[0] & 0x0F
        if kind == NOTE_ON and len(m) == 3 and m[2] > 0:
            on.add((channel, m[1]))
        elif kind in (NOTE_ON, NOTE_OFF):
            on.discard((channel, m[1]))
    return on


def jack_ports(jack) -> list[str]:
    return subprocess.run(["jack_lsp"], env=jack.env(), capture_output=True, text=True, timeout=10).stdout.split()


def clean_up(app: subprocess.Popen, keys) -> None:
    """After a test, whatever happened: the app is not left running, the player's port is closed."""
    if app.poll() is None:
        app.kill()
        app.wait(10)
    keys.close_port()
    keys.delete()
