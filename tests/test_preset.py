"""Preset files: adapters over a teacher found by hash; bad presets give one-line errors."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.errors import PresetError
from accomp.model.checkpoint import save_teacher
from accomp.model.preset import keep_teacher, load_preset, resolve_preset, save_preset, user_dir
from accomp.model.student import Student
from accomp.model.teacher import Teacher, TeacherConfig


@pytest.fixture()
def teacher_file(tmp_path):
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    path = tmp_path / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, path)
    return path, teacher


def adapted_student(teacher: Teacher) -> Student:
    student = Student.from_teacher(teacher, lora_rank=4, kv_window=8)
    with torch.no_grad():
        for name, p in student.named_parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.1)
    return student.eval()


def run(student: Student, steps: int = 12) -> torch.Tensor:
    state = student.init_state(np.array([0.5, 0.5, 0.0]))
    g = torch.Generator().manual_seed(0)
    out = []
    for t in range(steps):
        lead = torch.zeros(2, 88)
        lead[:, 40 + t % 5] = 1
        state, _ = student.step(state, lead, torch.randn(2, 88, generator=g))
        out.append(state.x0[0].clone())
    return torch.stack(out)


def test_preset_round_trip_merged_equals_adapters(teacher_file, tmp_path):
    path, teacher = teacher_file
    student = adapted_student(teacher)
    preset = tmp_path / "mine.safetensors"
    save_preset(student, path, preset, style={"name": "mix", "weights": [0.5, 0.5, 0.0]}, metrics={"x": 1})
    assert preset.stat().st_size < path.stat().st_size  # adapters only
    loaded, header = load_preset(preset, quantize=False)
    assert header["style"]["name"] == "mix" and header["metrics"] == {"x": 1}
    torch.testing.assert_close(run(loaded), run(student), atol=1e-4, rtol=1e-4)
    assert resolve_preset(str(preset)) == preset


def test_bad_presets(teacher_file, tmp_path):
    path, teacher = teacher_file
    student = adapted_student(teacher)
    good = tmp_path / "good.safetensors"
    save_preset(student, path, good, style={"name": "pop", "weights": [1.0, 0.0, 0.0]})
    data = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(data[:100])
    with pytest.raises(PresetError, match="not a readable model file"):
        load_preset(tmp_path / "trunc.safetensors")
    with pytest.raises(PresetError, match="expected 'accomp-preset'"):
        load_preset(path)  # a teacher is not a preset
    with pytest.raises(PresetError, match="no such preset file"):
        resolve_preset(str(tmp_path / "nope.safetensors"))
    with pytest.raises(PresetError, match="no preset named 'nope'"):
        resolve_preset("nope")
    # The teacher it was made from is gone (a different file sits in its place).
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / "good.safetensors").write_bytes(data)
    path.unlink()
    with pytest.raises(PresetError, match="is not beside it"):
        load_preset(moved / "good.safetensors")


def test_a_users_preset_keeps_loading_after_its_teacher_is_replaced(teacher_file, tmp_path, monkeypatch):
    # An update of the app replaces the bundled teacher; the user's own preset named the old
    # one by hash, and the copy kept in the user's teacher folder still serves it.
    monkeypatch.setenv("ACCOMP_DATA_DIR", str(tmp_path / "data"))
    path, teacher = teacher_file
    preset, student = tmp_path / "mine.safetensors", adapted_student(teacher)
    save_preset(student, path, preset, style={"name": "mix", "weights": [0.5, 0.5, 0.0]})
    kept = keep_teacher(path, user_dir("teachers"))
    assert kept.parent == user_dir("teachers") and kept.read_bytes() == path.read_bytes()
    assert keep_teacher(path, user_dir("teachers")) == kept  # once per teacher
    assert [p.name for p in user_dir("teachers").iterdir()] == [kept.name]  # no temporary file left
    path.unlink()  # the "bundled" teacher beside the preset is gone
    loaded, _ = load_preset(preset, quantize=False)
    torch.testing.assert_close(run(loaded), run(student), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("density", [{"target": "lots"}, {"target": -0.5}, {"target": float("nan")}, {"target": 0.5, "memory": 0},
                                     {"target": 0.5, "gain": 3.0}, ["x"]])
def test_a_preset_whose_density_follower_makes_no_sense_is_refused_in_one_line(teacher_file, tmp_path, density):
    from accomp.model.preset import update_preset_header

    path, teacher = teacher_file
    preset = tmp_path / "mine.safetensors"
    save_preset(adapted_student(teacher), path, preset, style={"name": "pop", "weights": [1.0, 0.0, 0.0]})
    update_preset_header(preset, thresholds={"onset": 0.1, "sustain": 0.0, "density": {"target": 0.75, "gain": 0.05, "memory": 8}})
    loaded, _ = load_preset(preset)
    assert (loaded.onset_threshold, loaded.density_target, loaded.density_gain, loaded.density_memory) == (0.1, 0.75, 0.05, 8)
    update_preset_header(preset, thresholds={"onset": 0.1, "sustain": 0.0, "density": density})
    with pytest.raises(PresetError, match="invalid decision thresholds") as err:
        load_preset(preset)
    assert "\n" not in str(err.value)
