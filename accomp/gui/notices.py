"""Notices: one-line messages across the top of the window, each with a close button.

Every problem a user can act on (a corrupt settings file or preset, no audio device, a
device that went away, a failed distillation) becomes a notice; the rest of the app keeps
working. A notice with the same text as one already shown is not repeated.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

log = logging.getLogger("accomp.gui")
MAX_NOTICES = 4


class Notices(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(8, 4, 8, 0)
        self._layout.setSpacing(4)
        self.setVisible(False)

    def show_notice(self, text: str, level: str = "warning") -> QFrame | None:
        """Show ``text`` (level 'warning', 'error' or 'info'); logs it too."""
        text = " ".join(str(text).split())
        (log.error if level == "error" else log.warning if level == "warning" else log.info)("notice: %s", text)
        if text in self.texts():
            return None
        while len(self.frames()) >= MAX_NOTICES:
            self._remove(self.frames()[0])
        frame = QFrame(self)
        frame.setObjectName("notice")
        frame.setProperty("level", level)
        row = QHBoxLayout(frame)
        row.setContentsMargins(10, 4, 4, 4)
        label = QLabel(text, frame)
        label.setObjectName("noticeText")
        label.setWordWrap(True)
        close = QPushButton("✕", frame)
        close.setFlat(True)
        close.setFixedWidth(32)
        close.setToolTip("Dismiss")
        close.clicked.connect(lambda: self._remove(frame))
        row.addWidget(label, 1)
        row.addWidget(close)
        self._layout.addWidget(frame)
        self.setVisible(True)
        return frame

    def frames(self) -> list[QFrame]:
        return [self._layout.itemAt(i).widget() for i in range(self._layout.count())]

    def texts(self) -> list[str]:
        return [f.findChild(QLabel, "noticeText").text() for f in self.frames()]

    def dismiss(self, prefix: str) -> None:
        """Take down the notices whose text begins with ``prefix`` (a problem that went away)."""
        for frame, text in zip(self.frames(), self.texts()):
            if text.startswith(prefix):
                self._remove(frame)

    def clear(self) -> None:
        for frame in self.frames():
            self._remove(frame)

    def _remove(self, frame: QFrame) -> None:
        self._layout.removeWidget(frame)
        frame.deleteLater()
        self.setVisible(self._layout.count() > 0)
