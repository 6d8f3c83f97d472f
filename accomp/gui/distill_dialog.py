""""Distill new style…": turn the teacher into a new style preset, in a separate process.

The dialog runs ``python -m accomp distill … --progress jsonl`` with :class:`QProcess` (so a
crash or an out-of-memory in training never takes the audio down), reads its JSON-lines
events (progress with ETA, songs, resumed, budget, done) and shows them. Cancel interrupts
the run as Ctrl+C would: the command saves its resumable state and exits without writing a
preset (presets are only ever written whole, at the end); the same name resumes later. A run
that fails shows its one-line error and the app carries on. Closing the dialog only hides
it: the run goes on, and the dialog shows it again when reopened.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sys
from pathlib import Path
from typing import TypeVar

from PySide6.QtCore import QProcess, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from accomp.gui.player import known_teachers, teacher_styles
from accomp.model.checkpoint import run_state_path

W = TypeVar("W", bound=QWidget)
CANCEL_GRACE_MS = 15000  # after Ctrl+C, how long the run may take to save its state
CHOOSE = "__choose__"


def file_stem(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "style"


def named(widget: W, name: str) -> W:
    widget.setObjectName(name)
    return widget


def eta_text(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class DistillDialog(QDialog):
    preset_ready = Signal(object, dict)  # path of the new preset, its metrics
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("distillDialog")
        self.setWindowTitle("Distill new style")
        self.setMinimumWidth(560)
        self.process: QProcess | None = None
        self.entry = ["-m", "accomp"]  # how the run starts: python -m accomp distill ...
        self.niceness = 10  # the run's CPU priority below the app's (the audio comes first)
        self.cancelled = False
        self.step = 0
        self._stderr = ""
        self._styles: tuple[str, ...] = ()
        self._weights: dict[str, QSpinBox] = {}
        layout = QVBoxLayout(self)
        intro = QLabel("Make a new style preset from the teacher, without any training data: the teacher writes "
                       "music in the style (or mix) you choose and a small streaming student learns to play it live.", self)  # fmt: skip
        intro.setWordWrap(True)
        intro.setObjectName("caption")
        layout.addWidget(intro)
        form = QFormLayout()
        self.teacher = named(QComboBox(self), "teacher")
        form.addRow("Teacher", self.teacher)
        self.styles_box = QWidget(self)
        self.styles_row = QHBoxLayout(self.styles_box)
        self.styles_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Style mix", self.styles_box)
        self.quick = named(QRadioButton("Quick (about 15 min on a laptop CPU)", self), "quick")
        self.full = named(QRadioButton("Full (better; an hour or more without a GPU)", self), "full")
        self.quick.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.quick)
        group.addButton(self.full)
        modes = QVBoxLayout()
        modes.addWidget(self.quick)
        modes.addWidget(self.full)
        form.addRow("Length", modes)
        self.steps = named(QSpinBox(self), "steps")
        self.steps.setRange(0, 1_000_000)
        self.steps.setSpecialValueText("as the length says")
        form.addRow("Updates", self.steps)
        self.name = named(QLineEdit(self), "presetName")
        self.name.setPlaceholderText("e.g. warm-pop")
        form.addRow("Preset name", self.name)
        self.description = named(QLineEdit(self), "presetDescription")
        form.addRow("Description", self.description)
        layout.addLayout(form)
        self.note = named(QLabel(self), "caption")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.progress = named(QProgressBar(self), "distillProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.eta = named(QLabel("", self), "eta")
        self.status = named(QLabel("Ready.", self), "distillStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.progress)
        layout.addWidget(self.eta)
        layout.addWidget(self.status)
        self.metrics = named(QPlainTextEdit(self), "distillMetrics")
        self.metrics.setReadOnly(True)
        self.metrics.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.metrics.setVisible(False)
        layout.addWidget(self.metrics)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.start_button = named(QPushButton("Start", self), "startDistill")
        self.cancel_button = named(QPushButton("Cancel run", self), "cancelDistill")
        self.cancel_button.setEnabled(False)
        self.close_button = QPushButton("Close", self)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.teacher.currentIndexChanged.connect(self._teacher_changed)
        self.name.textChanged.connect(self._update_note)
        self._fill_teachers()

    # ------------------------------------------------------------------ choosing

    def _fill_teachers(self, select: Path | None = None) -> None:
        from accomp.model.preset import bundled_teachers

        self.teacher.blockSignals(True)
        self.teacher.clear()
        for path in known_teachers() + ([select] if select and select not in known_teachers() else []):
            self.teacher.addItem(f"{path.name} ({'bundled' if path.parent == bundled_teachers() else path.parent})", str(path))
        self.teacher.addItem("Choose a file…", CHOOSE)
        self.teacher.setCurrentIndex(max(0, self.teacher.findData(str(select))) if select else 0)
        self.teacher.blockSignals(False)
        self._teacher_changed()

    def set_teacher(self, path: Path) -> None:
        self._fill_teachers(Path(path))

    def _teacher_changed(self) -> None:
        data = self.teacher.currentData()
        if data == CHOOSE:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a teacher", str(Path.home()), "Teacher (*.safetensors)")
            if chosen:
                self._fill_teachers(Path(chosen))
            elif self.teacher.count() > 1:
                self.teacher.setCurrentIndex(0)
            return
        for spin in self._weights.values():
            self.styles_row.removeWidget(spin)
            spin.deleteLater()
        self._weights = {}
        try:
            self._styles = teacher_styles(Path(data)) if data else ()
        except ValueError as exc:
            self._styles = ()
            self.status.setText(str(exc))
        if not data:
            self.status.setText("No teacher found: choose a teacher file.")
        for i, style in enumerate(self._styles):
            spin = QSpinBox(self.styles_box)
            spin.setObjectName(f"weight_{style}")
            spin.setRange(0, 100)
            spin.setSuffix(f" % {style}")
            spin.setValue(100 if i == 0 else 0)
            spin.valueChanged.connect(self._update_note)
            self.styles_row.addWidget(spin)
            self._weights[style] = spin
        self.start_button.setEnabled(bool(self._styles) and self.process is None)
        self._update_note()

    def weights(self) -> dict[str, int]:
        return {style: spin.value() for style, spin in self._weights.items()}

    def style_args(self) -> list[str]:
        chosen = {s: w for s, w in self.weights().items() if w > 0}
        if len(chosen) == 1:
            return ["--style", next(iter(chosen))]
        return ["--mix", ",".join(f"{s}={w / 100:g}" for s, w in chosen.items())]

    def preset_name(self) -> str:
        text = self.name.text().strip()
        if text:
            return text
        chosen = {s: w for s, w in self.weights().items() if w > 0}
        # one style: "my-pop", not "pop", the bundled preset's name (--preset pop finds that one first)
        return "-".join(f"{s}{w}" for s, w in chosen.items()) if len(chosen) > 1 else f"my-{next(iter(chosen), 'style')}"

    def out_path(self) -> Path:
        from accomp.model.preset import user_dir

        return user_dir("presets") / f"{file_stem(self.preset_name())}.safetensors"

    def _bundled_name(self) -> bool:
        """Whether the preset's file would have a bundled preset's name (and be hidden by it)."""
        from accomp.model.preset import bundled_name

        return bundled_name(self.out_path().stem)

    def _update_note(self) -> None:
        if not self._styles:
            return
        if self._bundled_name():
            self.note.setText(f"A bundled preset is called '{self.out_path().stem}': give yours another name.")
            return
        out = self.out_path()
        home = str(Path.home())
        shown = "~" + str(out)[len(home):] if str(out).startswith(home + os.sep) else str(out)
        notes = [f"Saved as {shown}"]
        if run_state_path(out).exists():
            notes.append("a cancelled run of this name resumes where it stopped (with the same settings)")
        elif out.exists():
            notes.append("it replaces the preset of that name")
        self.note.setText("; ".join(notes) + ".")

    def command(self) -> tuple[str, list[str]]:
        """(program, arguments) of the distillation run, at a lower CPU priority where possible."""
        args = [*self.entry, "distill", "--teacher", self.teacher.currentData(), *self.style_args(),
                "--out", str(self.out_path()), "--name", self.preset_name(), "--progress", "jsonl"]  # fmt: skip
        if self.description.text().strip():
            args += ["--description", self.description.text().strip()]
        if self.quick.isChecked():
            args.append("--quick")
        if self.steps.value() > 0:
            args += ["--steps", str(self.steps.value())]
        nice = shutil.which("nice") if self.niceness else None
        return (nice, ["-n", str(self.niceness), sys.executable, *args]) if nice else (sys.executable, args)

    # ------------------------------------------------------------------ running

    def start(self) -> None:
        if self.process is not None or not self._styles:
            return
        if not any(self.weights().values()):
            self.status.setText("Give at least one style a weight above 0 %.")
            return
        if self._bundled_name():
            self.status.setText(f"A bundled preset is called '{self.out_path().stem}': give yours another name.")
            return
        self.out_path().parent.mkdir(parents=True, exist_ok=True)
        program, args = self.command()
        self.cancelled, self.step, self._stderr = False, 0, ""
        self.metrics.setVisible(False)
        self.progress.setRange(0, 0)  # busy until the first progress event
        self.eta.setText("")
        self.status.setText("Starting (loading the teacher)…")
        process = QProcess(self)
        process.setProgram(program)
        process.setArguments(args)
        if os.name == "posix":  # the cancel is a Ctrl+C: a window started with SIGINT ignored must not pass that on
            process.setUnixProcessParameters(QProcess.UnixProcessFlag.ResetSignalHandlers)
        process.readyReadStandardOutput.connect(self._read_events)
        process.readyReadStandardError.connect(self._read_errors)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._process_error)
        self.process = process
        self._set_running(True)
        process.start()

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and bool(self._styles))
        self.cancel_button.setEnabled(running)
        for widget in (self.teacher, self.styles_box, self.quick, self.full, self.steps, self.name, self.description):
            widget.setEnabled(not running)

    def running(self) -> bool:
        return self.process is not None

    def _read_events(self) -> None:
        while self.process is not None and self.process.canReadLine():
            line = bytes(self.process.readLine()).decode(errors="replace").strip()
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # not an event (a library printing something)
            if isinstance(event, dict):
                self._event(event)

    def _event(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "progress":
            self.step, total = int(event["step"]), int(event["total"])
            self.progress.setRange(0, total)
            self.progress.setValue(self.step)
            self.eta.setText(f"update {self.step} of {total} · loss {event.get('loss', float('nan')):.4f} · "
                             f"about {eta_text(event.get('eta_s', 0))} left")  # fmt: skip
            self.status.setText("Training the student…" if self.step < total else "Measuring the new preset…")
        elif kind == "songs":
            self.status.setText(f"The teacher is writing {event.get('count', '')} songs in the style…")
        elif kind == "resumed":
            self.step = int(event.get("step", 0))
            self.status.setText(f"Resumed a cancelled run at update {self.step}.")
        elif kind == "budget":
            self.status.setText(f"Time budget reached at update {event.get('step')}: measuring the new preset…")
        elif kind == "done":
            self._done(Path(event["preset"]), event.get("metrics") or {})

    def _done(self, path: Path, metrics: dict) -> None:
        from accomp.music.evaluate import format_table

        self.progress.setRange(0, max(1, self.progress.maximum()))
        self.progress.setValue(self.progress.maximum())
        self.eta.setText("")
        self.status.setText(f"Done: the preset '{path.stem}' is in your list.")
        table = metrics.get("table")
        if table:
            self.metrics.setPlainText(format_table(table, f"On {metrics.get('leads', 'teacher-written leads')}:"))
            self.metrics.setVisible(True)
        self.preset_ready.emit(path, metrics)

    def _read_errors(self) -> None:
        if self.process is not None:
            self._stderr = (self._stderr + bytes(self.process.readAllStandardError()).decode(errors="replace"))[-20000:]

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self._fail(f"the distillation could not start ({self.process.errorString()})")
            self._cleanup()

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._read_events()
        self._read_errors()
        if self.cancelled:
            self.progress.setRange(0, max(1, self.progress.maximum()))
            self.status.setText(f"Cancelled at update {self.step}. Start it again with the same name and settings to resume.")
            self.eta.setText("")
        elif status == QProcess.ExitStatus.CrashExit:
            self._fail(f"the distillation process crashed ({self._last_error() or 'no message'})")
        elif code != 0:
            self._fail(self._last_error() or f"the distillation stopped with exit code {code}")
        self._cleanup()

    def _last_error(self) -> str:
        lines = [line.strip() for line in self._stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("accomp: error:")]
        return (errors or lines or [""])[-1].removeprefix("accomp: error: ")

    def _fail(self, message: str) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.eta.setText("")
        self.status.setText(f"Distillation failed: {message}")
        self.failed.emit(f"Distillation failed: {message}")

    def _cleanup(self) -> None:
        if self.process is not None:
            self.process.deleteLater()
        self.process = None
        self._set_running(False)
        self._update_note()

    def cancel(self) -> None:
        """Interrupt the run as Ctrl+C does (it saves its state); kill it if it does not stop."""
        process = self.process
        if process is None or self.cancelled:
            return
        self.cancelled = True
        self.status.setText("Cancelling (saving the run's state)…")
        self.cancel_button.setEnabled(False)
        pid = process.processId()
        if pid > 0 and hasattr(signal, "SIGINT") and os.name == "posix":
            os.kill(pid, signal.SIGINT)
        else:
            process.terminate()
        QTimer.singleShot(CANCEL_GRACE_MS, lambda: self.process is process and process.kill())

    def stop_for_quit(self) -> None:
        """The app is quitting: cancel a run (its state is saved) and wait for it to end."""
        process = self.process
        if process is not None:
            self.cancel()
            if not process.waitForFinished(CANCEL_GRACE_MS):
                process.kill()
                process.waitForFinished(2000)
