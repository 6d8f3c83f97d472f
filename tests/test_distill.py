"""DFSCD: loss terms, one update, resumable runs, presets, and data-free enforcement."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pytest
import torch

from accomp.config import DEFAULT_SPEC
from accomp.distill.losses import latent_term, spectral_term, temporal_term
from accomp.distill.loop import DistillConfig, run_distill
from accomp.errors import CheckpointError
from accomp.model.checkpoint import save_teacher
from tiny_models import tiny_teacher  # noqa: E402

K = 88
TINY = DistillConfig(steps=4, batch=2, chunk=4, levels=3, songs=4, song_frames=20, refresh_songs=100, reuse=2,
                     regression_warmup=2, rollout=1.0, save_every=2)


def cells(seed: int, shape=(2, 8, 2, K)) -> torch.Tensor:
    return (torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < 0.05).float() * 2 - 1


@pytest.mark.parametrize("term", [latent_term, spectral_term, temporal_term])
def test_terms_are_zero_on_equal_inputs_and_grow_apart(term):
    a, b = cells(0), cells(1)
    assert term(a, a).item() == pytest.approx(0.0, abs=1e-6)
    assert term(a, b).item() > 0


def test_spectral_term_compares_pitch_class_and_register_profiles():
    def note(key):
        x = -torch.ones(1, 4, 2, K)
        x[..., key] = 1
        return x

    # 4 sounding steps -> mass 4 in one bin -> profile 4 / (4 + 1) = 0.8; L1 distance 1.6 per profile.
    c4, c5, cs4, cs5 = note(39), note(51), note(40), note(52)
    assert spectral_term(c4, c5).item() == pytest.approx(1.6)  # same pitch class, other octave
    assert spectral_term(c4, cs4).item() == pytest.approx(1.6)  # other pitch class, same octave
    assert spectral_term(c4, cs5).item() == pytest.approx(3.2)  # both differ


def test_temporal_term_punishes_a_smoothed_rhythm():
    pulse = -torch.ones(1, 8, 2, K)
    pulse[:, ::2, :, 40] = 1
    smooth = -torch.ones(1, 8, 2, K)
    smooth[:, :, :, 40] = 0.0
    assert temporal_term(smooth, pulse) > temporal_term(pulse, pulse)


def test_distillation_runs_resumes_and_writes_a_preset(tmp_path):
    teacher = tiny_teacher()
    out = tmp_path / "p.safetensors"
    events = []

    def stop_after_first_save(event):
        events.append(event)
        if event["event"] == "progress" and event["step"] == 3 and len([e for e in events if e.get("step") == 3]) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_distill(teacher, np.array([1.0, 0, 0], np.float32), TINY, out, device=torch.device("cpu"), on_progress=stop_after_first_save)
    assert (tmp_path / "p.safetensors.state.pt").exists()
    events.clear()
    student, record = run_distill(teacher, np.array([1.0, 0, 0], np.float32), TINY, out, device=torch.device("cpu"), on_progress=events.append)
    assert events[0] == {"event": "resumed", "step": 3}
    assert record["steps"] == 4
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["step"] == 4 and progress[-1]["eta_s"] == 0
    assert set(progress[-1]["terms"]) == {"latent", "spectral", "temporal"}
    trained = {n for n, p in student.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n for n in trained)


def test_switched_off_terms_are_not_computed(tmp_path):
    events = []
    cfg = replace(TINY, steps=1, w_spectral=0.0, w_temporal=0.0, objective="regression")
    run_distill(tiny_teacher(), np.array([0.5, 0.5, 0], np.float32), cfg, tmp_path / "q.safetensors", device=torch.device("cpu"), on_progress=events.append)
    assert set([e for e in events if e["event"] == "progress"][-1]["terms"]) == {"latent"}


@pytest.mark.parametrize("chords", [False, True], ids=["plain teacher", "chord plan"])
def test_distill_command_is_data_free(tmp_path, chords):
    """The whole `accomp distill` command, with every corpus loader made to raise; a
    chord-conditioned teacher's songs are planned by the planner file, no data either."""
    from accomp.model.planner import Planner, PlannerConfig
    from accomp.model.planner_train import save_planner

    teacher = tmp_path / "teacher.safetensors"
    save_teacher(tiny_teacher(chords=chords), DEFAULT_SPEC, teacher)
    planner = tmp_path / "planner.safetensors"
    save_planner(Planner.create(PlannerConfig(styles=("pop", "chorale"), hidden=16, layers=1)), planner)
    out = tmp_path / "preset.safetensors"
    script = textwrap.dedent(
        f"""
        import builtins, sys
        import accomp.distill.loop as loop
        from dataclasses import replace

        class NoCorpora:
            def find_spec(self, name, path=None, target=None):
                if name in ("accomp.music.corpora", "accomp.music.chorales", "accomp.music.cache", "music21") or name.startswith("music21."):
                    raise ImportError(f"data-free run imported {{name}}")
                return None

        sys.meta_path.insert(0, NoCorpora())
        real_open = builtins.open
        def guarded_open(file, *a, **k):
            if any(part in str(file) for part in ("datasets", "pop909", ".mid")):
                raise OSError(f"data-free run opened {{file}}")
            return real_open(file, *a, **k)
        builtins.open = guarded_open
        loop.QUICK.clear()
        loop.QUICK.update({dict(steps=2, batch=2, chunk=4, levels=3, songs=4, song_frames=20, reuse=2, regression_warmup=1)!r})
        from accomp.cli import main
        sys.exit(main(["distill", "--teacher", {str(teacher)!r}, "--mix", "pop=0.7,chorale=0.3", "--quick",
                       "--out", {str(out)!r}, "--progress", "jsonl", "--planner", {str(planner)!r}]))
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"event": "done"' in proc.stdout
    assert "accomp.music.corpora" not in proc.stderr
    from accomp.model.preset import load_preset

    student, header = load_preset(out)
    assert header["style"]["weights"][:2] == pytest.approx([0.7, 0.3])
    assert header["loss_weights"] == {"latent": 1.0, "spectral": 0.5, "temporal": 0.5}
    assert "table" in header["metrics"]
    assert bool(header.get("harmony")) == chords


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--style", "jazz"], "unknown style 'jazz'"),
        (["--mix", "pop=-1,chorale=1"], ">= 0"),
        (["--mix", "pop=0,chorale=0"], "all zero"),
        # the user's preset "pop", made by default, was hidden by the bundled one (--preset pop finds that first)
        (["--style", "pop", "--name", "pop"], "'pop' is the name of a bundled preset: give yours another with --name"),
        (["--style", "pop", "--name", "../pop"], "--name '../pop' cannot name a preset"),
    ],
)
def test_distill_bad_input(tmp_path, capsys, argv, message):
    from accomp.cli import main

    teacher = tmp_path / "teacher.safetensors"
    save_teacher(tiny_teacher(), DEFAULT_SPEC, teacher)
    assert main(["distill", "--teacher", str(teacher), *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_distill_missing_or_corrupt_teacher(tmp_path, capsys):
    from accomp.cli import main

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 20)
    for path, message in ((tmp_path / "none.safetensors", "no such model file"), (bad, "not a readable model file")):
        assert main(["distill", "--teacher", str(path), "--style", "pop", "--out", str(tmp_path / "x.safetensors")]) == 1
        assert message in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_a_users_preset_from_the_bundled_teacher_keeps_a_copy_of_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ACCOMP_DATA_DIR", str(tmp_path / "data"))  # a user folder of this test's own
    from accomp.distill.commands import _keep_bundled_teacher
    from accomp.model.checkpoint import file_hash
    from accomp.model.preset import bundled_presets, bundled_teachers, user_dir

    bundled = bundled_teachers() / "teacher.safetensors"
    _keep_bundled_teacher(bundled, bundled_presets() / "pop.safetensors")  # the project's own presets: no copy
    assert not user_dir("teachers").exists() or not any(user_dir("teachers").iterdir())
    _keep_bundled_teacher(tmp_path / "teacher.safetensors", tmp_path / "mine.safetensors")  # not the bundled one
    assert not user_dir("teachers").exists() or not any(user_dir("teachers").iterdir())
    _keep_bundled_teacher(bundled, tmp_path / "mine.safetensors")
    kept = list(user_dir("teachers").iterdir())
    assert len(kept) == 1 and file_hash(kept[0]) == file_hash(bundled)


class _Planted:
    """A pickle that would write a file when unpickled (what a planted state file could do)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_state_file_is_refused_and_never_unpickled(tmp_path):
    out = tmp_path / "p.safetensors"
    marker = tmp_path / "ran"
    torch.save({"student": _Planted(marker)}, tmp_path / "p.safetensors.state.pt")
    with pytest.raises(CheckpointError, match="cannot resume"):
        run_distill(tiny_teacher(), np.array([1.0, 0, 0], np.float32), TINY, out, device=torch.device("cpu"), on_progress=lambda e: None)
    assert not marker.exists() and not out.exists()


def test_a_ctrl_c_during_a_save_waits_for_the_save_and_leaves_no_temporary_file(tmp_path):
    """The GUI cancels a run with SIGINT; one that lands while the run's state is being
    written is held until the write is done, then raised: the state is whole and no
    temporary file is left beside it."""
    import os
    import signal

    from accomp.distill.loop import SavesShield
    from accomp.model.checkpoint import save_run_state

    path = tmp_path / "run.state.pt"
    before = signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal, also in a background run
    shield = SavesShield()
    shield.arm()
    try:
        with pytest.raises(KeyboardInterrupt):
            with shield.saving():
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl+C in the middle of the save
                save_run_state(path, step=7)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["run.state.pt"]
        with pytest.raises(KeyboardInterrupt):  # outside a save, at once
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):
                pass
    finally:
        shield.disarm()
        restored = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, before)
    assert restored is signal.default_int_handler
    assert torch.load(path, weights_only=True)["step"] == 7
