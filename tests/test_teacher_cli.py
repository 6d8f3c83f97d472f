"""`accomp teacher sample | eval | train` through the CLI, on tiny real models and files."""

from __future__ import annotations

import json

import mido
import pytest
import torch

from accomp.cli import main
from accomp.config import DEFAULT_SPEC
from accomp.model.checkpoint import load_teacher, save_teacher
from accomp.model.teacher import Teacher, TeacherConfig


@pytest.fixture()
def teacher_file(tmp_path):
    torch.manual_seed(0)
    teacher = Teacher(TeacherConfig(d_model=32, n_layers=2, n_heads=2, window=16))
    path = tmp_path / "teacher.safetensors"
    save_teacher(teacher, DEFAULT_SPEC, path)
    return path


def melody_file(path, notes=((60, 0), (62, 480), (64, 960), (65, 1440)), name="melody"):
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name), mido.MetaMessage("set_tempo", tempo=600_000)])
    now = 0
    for pitch, start in notes:
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=start - now))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=480))
        now = start + 480
    midi.tracks.append(track)
    midi.save(path)
    return path


def test_sample_accompanies_a_lead(teacher_file, tmp_path):
    lead = melody_file(tmp_path / "lead.mid", tuple((60 + i % 5, i * 480) for i in range(16)))
    out = tmp_path / "out.mid"
    assert main(["teacher", "sample", "--teacher", str(teacher_file), "--style", "pop", "--lead", str(lead), "--steps", "2", "-o", str(out)]) == 0
    midi = mido.MidiFile(out)
    names = [t.name for t in midi.tracks]
    assert names == ["conductor", "lead", "accomp"]
    lead_notes = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert lead_notes == [60 + i % 5 for i in range(16)]
    assert any(m.type == "set_tempo" and m.tempo == 600_000 for m in midi.tracks[0])


def test_sample_from_a_style_mix_alone(teacher_file, tmp_path):
    out = tmp_path / "both.mid"
    assert main(["teacher", "sample", "--teacher", str(teacher_file), "--mix", "pop=0.7,chorale=0.3", "--bars", "2",
                 "--steps", "2", "--causal", "-o", str(out)]) == 0
    assert [t.name for t in mido.MidiFile(out).tracks] == ["conductor", "lead", "accomp"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--style", "jazz"], "unknown style 'jazz'"),
        (["--mix", "pop=-0.5,chorale=1"], ">= 0"),
        (["--mix", "pop=0"], "all zero"),
        (["--style", "pop", "--tempo", "0"], "--tempo 0: give 10..1000 bpm"),  # a ZeroDivisionError traceback
        (["--style", "pop", "--bars", "100000"], "--bars 100000: at most 1000"),  # hours of work, accepted
    ],
)
def test_sample_bad_styles(teacher_file, tmp_path, capsys, extra, message):
    out = tmp_path / "x.mid"
    assert main(["teacher", "sample", "--teacher", str(teacher_file), *extra, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()


def test_sample_bad_files(teacher_file, tmp_path, capsys):
    empty = melody_file(tmp_path / "empty.mid", notes=())
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(teacher_file.read_bytes()[:200])
    cases = [
        (["--teacher", str(teacher_file), "--style", "pop", "--lead", str(empty)], "no notes"),
        (["--teacher", str(bad), "--style", "pop"], "not a readable model file"),
        (["--teacher", str(tmp_path / "none.safetensors"), "--style", "pop"], "no such model file"),
        (["--teacher", str(teacher_file), "--style", "pop", "--bars", "1"], "output folder does not exist"),
    ]
    for i, (argv, message) in enumerate(cases):
        out = tmp_path / ("missing/out.mid" if "output folder" in message else f"o{i}.mid")
        assert main(["teacher", "sample", *argv, "-o", str(out)]) == 1
        assert message in capsys.readouterr().err
        assert not out.exists()
    assert main(["teacher", "sample", "--teacher", str(teacher_file), "--style", "pop", "-o", str(tmp_path / "o.txt")]) == 1
    assert "a MIDI file should end in .mid" in capsys.readouterr().err  # it wrote MIDI into o.txt
    lead = melody_file(tmp_path / "lead.mid")
    before = lead.read_bytes()
    assert main(["teacher", "sample", "--teacher", str(teacher_file), "--style", "pop", "--lead", str(lead), "-o", str(lead)]) == 1
    assert "that is the lead file" in capsys.readouterr().err and lead.read_bytes() == before


def test_wrong_version_checkpoint(teacher_file, tmp_path, capsys):
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    with safe_open(str(teacher_file), framework="pt") as f:
        header = json.loads(f.metadata()["accomp"])
    header["format_version"] = 7
    path = tmp_path / "v7.safetensors"
    save_file(load_file(str(teacher_file)), str(path), metadata={"accomp": json.dumps(header)})
    assert main(["teacher", "sample", "--teacher", str(path), "--style", "pop", "-o", str(tmp_path / "o.mid")]) == 1
    assert "format version 7 is not supported" in capsys.readouterr().err


def test_train_on_a_midi_folder_writes_a_checkpoint(tmp_path, monkeypatch):
    folder = tmp_path / "songs"
    folder.mkdir()
    for i in range(6):
        midi = mido.MidiFile(ticks_per_beat=480)
        for name, base, step in (("lead", 67, 480), ("piano", 48, 960)):
            track = mido.MidiTrack([mido.MetaMessage("track_name", name=name)])
            for k in range(32 if name == "lead" else 16):
                track.append(mido.Message("note_on", note=base + (k * (i + 2)) % 7, velocity=80, time=0))
                track.append(mido.Message("note_off", note=base + (k * (i + 2)) % 7, velocity=0, time=step))
            midi.tracks.append(track)
        midi.save(folder / f"song{i}.mid")
    out = tmp_path / "t.safetensors"
    assert main(["teacher", "train", "--corpus", "midi-folder", "--path", str(folder), "--style", "mine", "--out", str(out),
                 "--size", "tiny", "--window", "16", "--hop", "8", "--steps", "3", "--batch", "4", "--val-every", "3"]) == 0
    _, _, header = load_teacher(out)
    assert header["model_config"]["styles"] == ["mine"]
    assert header["data"]["corpora"][0]["kind"] == "midi-folder"
    assert header["training"]["steps"] == 3 and "hardware" in header["training"]
    assert "table" in header["metrics"]
    # the same songs as a pack (e.g. carried to a GPU machine) train with their origin on record
    pack = tmp_path / "songs.npz"
    assert main(["data", "pack", "--corpus", "midi-folder", "--path", str(folder), "--style", "mine", "--out", str(pack)]) == 0
    out2 = tmp_path / "t2.safetensors"
    assert main(["teacher", "train", "--corpus", "pack", "--path", str(pack), "--out", str(out2), "--size", "tiny",
                 "--window", "16", "--hop", "8", "--steps", "2", "--batch", "4", "--val-every", "2", "--no-metrics"]) == 0
    _, _, header2 = load_teacher(out2)
    assert header2["model_config"]["styles"] == ["mine"]
    assert header2["data"]["corpora"][0]["kind"] == "pack"
    assert header2["data"]["corpora"][0]["packed_from"]["kind"] == "midi-folder"
    assert header2["data"]["windows_train"] == header["data"]["windows_train"]
