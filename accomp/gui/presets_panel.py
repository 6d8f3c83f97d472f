"""Style presets as cards: name, description and quality figures, bundled first, then the
user's own (distilled) ones. A preset that cannot be read is listed, greyed out, with why.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from accomp.gui.player import preset_title
from accomp.gui.theme import ACCENT, DANGER, MUTED

FIGURES = (("consonance", "consonance"), ("key_adherence", "in key"), ("chord_agreement", "chords"), ("note_in_chord", "in chord"), ("diversity", "variety"))
PATH_ROLE = Qt.ItemDataRole.UserRole


def quality_line(header: dict) -> str:
    """The student's figures from the preset's metrics table, as one short line."""
    table = ((header.get("metrics") or {}).get("table")) or {}
    row = next((values for name, values in table.items() if name.startswith("student")), None)
    if not row:
        return "no quality figures"
    parts = []
    for key, label in FIGURES:
        value = row.get(key)
        if isinstance(value, (int, float)) and value == value:
            parts.append(f"{label} {value:.2f}")
    reference = (header.get("metrics") or {}).get("reference")
    return " · ".join(parts) + (f"  (vs {reference})" if reference else "")


def card_html(path: Path, header: dict | None, error: str | None, bundled: bool) -> str:
    if error is not None:
        return (f"<b>{html.escape(path.stem)}</b> <span style='color:{DANGER}'>cannot be used</span><br>"
                f"<span style='color:{MUTED}'>{html.escape(error)}</span>")  # fmt: skip
    title = html.escape(preset_title(path, header))
    origin = "bundled" if bundled else "yours"
    description = html.escape(str(header.get("description") or ""))
    return (f"<span style='font-size:13pt'><b>{title}</b></span> <span style='color:{MUTED}'>({origin})</span><br>"
            f"{description}<br><span style='color:{ACCENT}'>{html.escape(quality_line(header))}</span>")  # fmt: skip


class PresetsPanel(QWidget):
    chosen = Signal(object)  # Path of the preset the user picked
    distill = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.list = QListWidget(self)
        self.list.setObjectName("presetList")
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setMinimumWidth(180)
        self.status = QLabel(self)
        self.status.setObjectName("caption")
        self.status.setWordWrap(True)
        self.distill_button = QPushButton("Distill new style…", self)
        self.distill_button.setObjectName("distillButton")
        layout.addWidget(self.list, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.distill_button)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        self.distill_button.clicked.connect(self.distill)
        self._active: Path | None = None

    def show_presets(self, presets: list[tuple[Path, dict | None, str | None]], bundled_dir: Path) -> None:
        self.list.clear()
        for path, header, error in presets:
            item = QListWidgetItem(self.list)
            item.setData(PATH_ROLE, str(path))
            label = QLabel(card_html(path, header, error, path.parent == bundled_dir))
            label.setObjectName("presetCard")
            label.setWordWrap(True)
            label.setContentsMargins(8, 6, 8, 6)
            label.setTextFormat(Qt.TextFormat.RichText)
            if error is not None:
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                label.setEnabled(False)
            item.setToolTip(str(path))
            self.list.setItemWidget(item, label)
        self._fit_cards()
        if not presets:
            self.status.setText("No presets yet: distil one below.")
        self.mark_active(self._active)

    def _fit_cards(self) -> None:
        """Cards wrap their text to the list's width; their height follows."""
        width = self.list.viewport().width()
        for i in range(self.list.count()):
            item = self.list.item(i)
            label = self.list.itemWidget(item)
            if label is not None:
                item.setSizeHint(QSize(width, label.heightForWidth(width)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_cards()

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def item_for(self, path: Path) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if Path(item.data(PATH_ROLE)) == Path(path):
                return item
        return None

    def mark_active(self, path: Path | None) -> None:
        """Select the preset that is loaded (or being loaded)."""
        self._active = path
        item = self.item_for(path) if path is not None else None
        self.list.blockSignals(True)
        self.list.setCurrentItem(item) if item is not None else self.list.clearSelection()
        self.list.blockSignals(False)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def _activated(self, item: QListWidgetItem) -> None:
        if item.flags() & Qt.ItemFlag.ItemIsEnabled:
            self.chosen.emit(Path(item.data(PATH_ROLE)))
