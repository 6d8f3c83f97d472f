"""The "Distill new style…" dialog: a real `accomp distill` run in a separate process, its
progress, its cancel (resumable state kept, no preset written), its failure and its success.

The run is the real command, started by the dialog as a user would; only its size is made
tiny for the tests (the quick settings shrunk, as tests/test_distill.py does), through a
launcher script in place of ``-m accomp``.
"""

from __future__ import annotations

import shutil
import signal
import textwrap

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QProcess  # noqa: E402

from accomp.model.preset import load_preset, user_dir  # noqa: E402
from gui_support import WAIT_MS, fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401

# Steps enough that a cancel lands mid-run however slow the window is to see the first ones (at
# 400 a loaded CI machine once saw the tiny run finish before its Ctrl+C); a finished run sets 2.
SMALL = dict(steps=100_000, batch=2, chunk=4, levels=3, songs=4, song_frames=20, reuse=2, regression_warmup=1, save_every=1)


@pytest.fixture()
def dialog(qtbot, fresh_config, presets, tmp_path):
    launcher = tmp_path / "small_distill.py"
    launcher.write_text(textwrap.dedent(f"""
        import sys
        import accomp.distill.loop as loop
        loop.QUICK.clear()
        loop.QUICK.update({SMALL!r})
        from accomp.cli import main
        sys.exit(main(sys.argv[1:]))
        """))
    write_settings(preset=str(presets["tiny-pop"]))
    window = open_window(qtbot)
    window.presets.distill_button.click()
    dialog = window.distill_dialog
    dialog.entry = [str(launcher)]
    dialog.niceness = 0  # at the test's own priority (the app runs it 10 lower)
    dialog.set_teacher(presets["teacher"])
    assert dialog.isVisible() and dialog.style_args() == ["--style", "pop"]
    yield window, dialog
    if dialog.running():
        dialog.stop_for_quit()


def outputs(name: str) -> list[str]:
    folder = user_dir("presets")
    return sorted(p.name for p in folder.iterdir() if name in p.name)


def test_start_and_cancel_keeps_the_resumable_state_and_writes_no_preset(qtbot, dialog):
    window, dialog = dialog
    dialog.name.setText("cancelled-run")
    dialog.start()
    assert dialog.running() and not dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.step >= 2, timeout=WAIT_MS)
    assert dialog.progress.maximum() == SMALL["steps"] and dialog.progress.value() >= 2
    assert "left" in dialog.eta.text() and "loss" in dialog.eta.text()
    assert window.transport.play.isEnabled()  # the app keeps working meanwhile
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=WAIT_MS)
    assert "Cancelled at update" in dialog.status.text()
    assert outputs("cancelled-run") == ["cancelled-run.safetensors.state.pt"]  # no preset, no temporary file
    assert "resumes where it stopped" in dialog.note.text()
    assert not notice_with(window, "failed")


def test_a_window_started_with_ctrl_c_ignored_still_cancels_by_ctrl_c(qtbot, dialog):
    """A window run from a background job inherits SIGINT ignored; its run must not, or the
    cancel's Ctrl+C is lost and the run is killed after the grace period."""
    window, dialog = dialog
    dialog.name.setText("ignored-run")
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        dialog.start()
    finally:
        signal.signal(signal.SIGINT, before)
    ended = []
    dialog.process.finished.connect(lambda code, status: ended.append((code, status)))
    qtbot.waitUntil(lambda: dialog.step >= 2, timeout=WAIT_MS)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=WAIT_MS)
    assert ended and ended[0][1] == QProcess.ExitStatus.NormalExit, ended  # stopped by its Ctrl+C, not killed
    assert outputs("ignored-run") == ["ignored-run.safetensors.state.pt"]


def test_a_preset_is_not_named_as_a_bundled_one(qtbot, dialog):
    """Named "pop" (or unnamed, one style at 100 %), the user's preset was written as pop.safetensors,
    which `--preset pop` never finds: the bundled pop comes first."""
    window, dialog = dialog
    assert dialog.out_path().name == "my-pop.safetensors"  # unnamed: "my-" and the style
    dialog.name.setText("pop")
    assert "A bundled preset is called 'pop'" in dialog.note.text()
    dialog.start()
    assert not dialog.running() and "give yours another name" in dialog.status.text()
    dialog.name.setText("pop-ballad-mine")
    assert "Saved as" in dialog.note.text()


def test_a_file_that_is_no_teacher_cannot_be_started(qtbot, dialog, tmp_path):
    window, dialog = dialog
    bad = tmp_path / "bad-teacher.safetensors"
    bad.write_bytes(b"\x00" * 256)
    dialog.set_teacher(bad)
    assert not dialog.start_button.isEnabled() and "not a readable teacher" in dialog.status.text()


def test_a_failing_run_shows_its_error_and_the_app_carries_on(qtbot, dialog, tmp_path):
    window, dialog = dialog
    teacher = tmp_path / "teacher.safetensors"
    shutil.copyfile(dialog.teacher.currentData(), teacher)
    dialog.set_teacher(teacher)
    teacher.unlink()  # chosen, then gone before the run starts
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=WAIT_MS)
    assert "Distillation failed: " in dialog.status.text() and "no such model file" in dialog.status.text()
    assert notice_with(window, "Distillation failed") and notice_with(window, "no such model file")
    assert dialog.start_button.isEnabled()
    window.presets.chosen.emit(window.presets.paths()[-1])  # the app keeps working
    qtbot.waitUntil(lambda: not window.jobs.busy(), timeout=WAIT_MS)
    assert window.player is not None


@pytest.mark.slow  # about 10 s on an idle 2-core CPU (the preset's metrics at the end)
def test_a_finished_run_shows_metrics_and_the_preset_appears(qtbot, dialog):
    window, dialog = dialog
    dialog.name.setText("tiny-distilled")
    dialog.description.setText("made by the GUI test")
    dialog.steps.setValue(2)
    with qtbot.waitSignal(dialog.preset_ready, timeout=WAIT_MS * 3) as ready:
        dialog.start()
    path, metrics = ready.args
    assert path == user_dir("presets") / "tiny-distilled.safetensors"
    assert "table" in metrics and "student" in dialog.metrics.toPlainText()
    assert outputs("tiny-distilled") == ["tiny-distilled.safetensors"]  # the state file is gone
    _, header = load_preset(path)
    assert header["description"] == "made by the GUI test" and header["style"]["name"] == "tiny-distilled"
    qtbot.waitUntil(lambda: window.presets.item_for(path) is not None, timeout=WAIT_MS)
    assert notice_with(window, "New preset 'tiny-distilled' is ready")


def test_the_default_teacher_is_offered_first(fresh_config, tmp_path, monkeypatch):
    import accomp.model.preset as preset
    from accomp.gui.player import known_teachers

    real = [p.name for p in known_teachers() if p.parent == preset.bundled_teachers()]
    assert real[0] == "teacher.safetensors"
    folder = tmp_path / "teachers"  # a release bundling an older teacher beside the default
    folder.mkdir()
    for name in ("teacher-v5.safetensors", "teacher.safetensors", "a-teacher.safetensors"):
        (folder / name).write_bytes(b"")
    monkeypatch.setattr(preset, "bundled_teachers", lambda: folder)
    bundled = [p.name for p in known_teachers() if p.parent == folder]
    assert bundled == ["teacher.safetensors", "a-teacher.safetensors", "teacher-v5.safetensors"]
