"""A label whose lines end in "…" where they are wider than the label, the whole text in its
tooltip: long device names and device errors (one unbroken word such as
``MidiInAlsa::initialize:`` cannot wrap) no longer clip or push the panel wider."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # asks for no width of its own
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._elide()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        metrics = self.fontMetrics()
        width = max(1, self.contentsRect().width())
        lines = [metrics.elidedText(line, Qt.TextElideMode.ElideRight, width) for line in self._full.split("\n")]
        shown = "\n".join(lines)
        super().setText(shown)
        self.setToolTip(self._full if shown != self._full else "")
