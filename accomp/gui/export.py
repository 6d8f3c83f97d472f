"""Export the last recording: its .mid and .wav copied where the user chooses, atomically."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from accomp.gui.player import Take
from accomp.model.checkpoint import copy_file_atomically


def copy_take(take: Take, base: Path) -> list[Path]:
    """Copy ``take`` to ``base.mid`` and ``base.wav`` (each via a temporary file); the paths written."""
    base = base.with_suffix("") if base.suffix.lower() in (".mid", ".midi", ".wav") else base
    written = []
    for source in (take.midi, take.wav):
        if not source.exists():
            continue
        target = base.with_suffix(source.suffix)
        copy_file_atomically(source, target)
        written.append(target)
    return written


def export_take(parent: QWidget, take: Take, notices) -> None:
    chosen, _ = QFileDialog.getSaveFileName(parent, "Export the recording", str(Path.home() / take.base.name),
                                            "MIDI and WAV (*.mid *.wav)")  # fmt: skip
    if not chosen:
        return
    try:
        written = copy_take(take, Path(chosen))
    except OSError as exc:
        notices.show_notice(f"The recording could not be exported ({exc.strerror or exc}).", "error")
        return
    notices.show_notice("Exported " + " and ".join(str(p) for p in written), "info")
