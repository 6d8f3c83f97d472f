"""Keys for the whole window: the space bar plays and stops, and the computer keyboard is a
piano (see :mod:`accomp.music.keyboard`), wherever the focus is in the window except in text
and number fields. Key repeats from the operating system are not new notes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QPlainTextEdit, QTextEdit, QWidget

from accomp.music.keyboard import VELOCITY, ComputerKeyboard

NOTE_ON, NOTE_OFF = 0x90, 0x80


def typing_into(widget: QWidget | None) -> bool:
    """Keys go to text and number fields, not to the piano."""
    return isinstance(widget, (QLineEdit, QAbstractSpinBox, QPlainTextEdit, QTextEdit))


class KeyFilter(QObject):
    """An application event filter for ``window``'s keys."""

    def __init__(self, window: QWidget, keyboard: ComputerKeyboard, toggle_play: Callable[[], None],
                 send: Callable[[int, int, int], None]) -> None:  # fmt: skip
        super().__init__(window)
        self.window = window
        self.keyboard = keyboard
        self.toggle_play = toggle_play
        self.send = send  # (status, pitch, velocity) to the engine's lead input

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return False
        mine = watched.window() is self.window if isinstance(watched, QWidget) else watched is self.window.windowHandle()
        if not mine or typing_into(QApplication.focusWidget()):
            return False
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                self.toggle_play()
            return True
        text = event.text()
        if event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier or not self.keyboard.handles(text):
            return False
        if not event.isAutoRepeat():
            if kind == QEvent.Type.KeyPress:
                pitch = self.keyboard.press(text)
                if pitch is not None:
                    self.send(NOTE_ON, pitch, VELOCITY)
            else:
                pitch = self.keyboard.release(text)
                if pitch is not None:
                    self.send(NOTE_OFF, pitch, 0)
        return True

    def release_all(self) -> None:
        """End the notes of keys still held (stop, panic)."""
        for pitch in self.keyboard.release_all():
            self.send(NOTE_OFF, pitch, 0)
