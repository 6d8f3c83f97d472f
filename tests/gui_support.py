"""Shared by the GUI tests: tiny real presets (random weights) and a window waiting to play.

The presets and their teacher go to the user's folders (``ACCOMP_DATA_DIR``, private to the
test session), where the app looks for them.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.model.checkpoint import save_teacher
from accomp.model.preset import save_preset, user_dir
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig

WAIT_MS = 60_000
STYLES = {"tiny-pop": [1.0, 0.0, 0.0], "tiny-chorale": [0.0, 1.0, 0.0]}


def make_presets() -> dict[str, Path]:
    """A tiny teacher in the user's teacher folder and two presets over it (built once per session)."""
    teachers, presets = user_dir("teachers"), user_dir("presets")
    teacher_path = teachers / "tiny-teacher.safetensors"
    paths = {name: presets / f"{name}.safetensors" for name in STYLES}
    if teacher_path.exists() and all(p.exists() for p in paths.values()):
        return {"teacher": teacher_path, **paths}
    teachers.mkdir(parents=True, exist_ok=True)
    presets.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    save_teacher(teacher, DEFAULT_SPEC, teacher_path)
    metrics = {"reference": "teacher (causal)", "table": {"student": {"consonance": 0.61, "key_adherence": 0.7, "diversity": 0.3}}}
    for seed, (name, weights) in enumerate(STYLES.items(), start=1):
        torch.manual_seed(seed)
        student = Student.from_teacher(teacher, lora_rank=4, kv_window=8)
        with torch.no_grad():
            for n, p in student.named_parameters():
                if p.requires_grad:
                    p.add_(torch.randn_like(p) * 0.3)
        save_preset(student, teacher_path, paths[name], style={"name": name, "weights": weights},
                    description=f"random weights ({name})", metrics=metrics)  # fmt: skip
    return {"teacher": teacher_path, **paths}


def write_settings(folder: Path | None = None, **fields) -> Path:
    """A settings file in ``folder`` (default: the user config folder), as the app saves it."""
    from accomp.gui.settings import FILE_NAME, SETTINGS_VERSION, settings_path

    path = settings_path() if folder is None else folder / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": SETTINGS_VERSION, **fields}))
    return path


@pytest.fixture()
def presets() -> dict[str, Path]:
    return make_presets()


@pytest.fixture()
def fresh_config(tmp_path, monkeypatch) -> Path:
    """A settings folder of this test's own (no settings file in it yet)."""
    folder = tmp_path / "config"
    monkeypatch.setenv("ACCOMP_CONFIG_DIR", str(folder))
    return folder


def open_window(qtbot, *, wait_player: bool = True):
    """A shown main window (settings from the config folder), once its start-up jobs are done."""
    from accomp.gui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window, before_close_func=close_and_release)
    window.show()
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=WAIT_MS)
    if wait_player:
        assert window.player is not None, window.notices.texts()
    return window


def close_and_release(window) -> None:
    """Close the window, then let go of PortAudio (its scans connect it to a JACK server the
    session may stop before the interpreter exits, when PortAudio would otherwise shut down)."""
    from accomp.devices.audio import release

    window.close()
    gc.collect()  # the window's wrappers go here, on the GUI thread, not in a later test's worker
    release()


def notice_with(window, text: str) -> bool:
    return any(text in t for t in window.notices.texts())
