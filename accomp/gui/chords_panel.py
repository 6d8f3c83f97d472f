"""The chords panel: where the band's chords come from, and the chart it plays.

Three sources (``Settings.chord_source``): the chord planner following your melody; a chord
chart (:mod:`accomp.music.charts`) that loops while you solo, opened, edited, checked and
saved here, transposed, with the bar playing now marked in the text; or arranger mode, where
the keys below a split point name the chord (:mod:`accomp.music.fingering`). The source is
chosen while stopped (it is part of how a play starts); the chart text is read when play
starts, so an edit, even a broken one, never stops a band that is playing.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from accomp.errors import ChartError
from accomp.gui.settings import CHORD_SOURCES, Settings
from accomp.gui.theme import DANGER, MUTED, RAISED
from accomp.music.charts import CHART_SUFFIX, MAX_BYTES, Chart, parse_chart

SOURCE_NAMES = {"melody": "Follow my melody", "chart": "Play a chord chart", "arranger": "Left hand names the chords"}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
SPLIT_KEYS = range(36, 85)  # C2 .. C6


def key_name(key: int) -> str:
    return f"{NOTE_NAMES[key % 12]}{key // 12 - 1}"


class ChordsPanel(QWidget):
    changed = Signal(dict)  # settings fields that changed
    chart_opened = Signal(object)  # a Chart just opened: its tempo and meter may set the transport's

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        column = QVBoxLayout(self)
        column.setContentsMargins(8, 8, 8, 8)
        form = QFormLayout()
        self.source = QComboBox(self)
        self.source.setObjectName("chordSource")
        for value in CHORD_SOURCES:
            self.source.addItem(SOURCE_NAMES[value], value)
        self.source.setToolTip("Where the band's chords come from (chosen while stopped)")
        form.addRow("Chords", self.source)
        self.split = QComboBox(self)
        self.split.setObjectName("splitKey")
        for key in SPLIT_KEYS:
            self.split.addItem(key_name(key), key)
        self.split.setToolTip("Arranger mode: keys below this one name the chord (fingered, or one finger: "
                              "a black key below for minor, a white key below for a seventh); keys from it up are the melody")  # fmt: skip
        form.addRow("Split at", self.split)
        self.transpose = QSpinBox(self)
        self.transpose.setObjectName("chartTranspose")
        self.transpose.setRange(-11, 11)
        self.transpose.setSuffix(" semitones")
        form.addRow("Transpose", self.transpose)
        column.addLayout(form)

        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open…", self)
        self.save_button = QPushButton("Save", self)
        self.save_as_button = QPushButton("Save as…", self)
        self.check_button = QPushButton("Check", self)
        for b in (self.open_button, self.save_button, self.save_as_button, self.check_button):
            buttons.addWidget(b)
        column.addLayout(buttons)
        self.file_label = QLabel("no chart file", self)
        self.file_label.setObjectName("chartFile")
        self.file_label.setStyleSheet(f"color: {MUTED};")
        column.addWidget(self.file_label)
        self.editor = QPlainTextEdit(self)
        self.editor.setObjectName("chartEditor")
        self.editor.setPlaceholderText("time: 4/4\ntempo: 100\n| C | Am | F | G7 |")
        self.editor.setTabChangesFocus(True)
        column.addWidget(self.editor, 1)
        self.status = QLabel("", self)
        self.status.setObjectName("chartStatus")
        self.status.setWordWrap(True)
        column.addWidget(self.status)

        self.path: Path | None = None
        self.playing_chart: Chart | None = None  # what the band plays now (the text as it was at start)
        self._bar = -1
        self.source.currentIndexChanged.connect(self._source_changed)
        self.split.currentIndexChanged.connect(lambda: self.changed.emit({"split_key": int(self.split.currentData())}))
        self.transpose.valueChanged.connect(lambda v: self.changed.emit({"chart_transpose": int(v)}))
        self.open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(lambda: self.save(self.path))
        self.save_as_button.clicked.connect(lambda: self.save(None))
        self.check_button.clicked.connect(lambda: self.chart(report=True))
        self.editor.textChanged.connect(self._edited)

    # ------------------------------------------------------------------ settings

    def apply(self, settings: Settings) -> None:
        for widget in (self.source, self.split, self.transpose):
            widget.blockSignals(True)
        self.source.setCurrentIndex(max(0, self.source.findData(settings.chord_source)))
        self.split.setCurrentIndex(max(0, self.split.findData(settings.split_key)))
        self.transpose.setValue(settings.chart_transpose)
        for widget in (self.source, self.split, self.transpose):
            widget.blockSignals(False)
        if settings.chart_path and self.path is None:
            self.open(Path(settings.chart_path), announce=False)
        self._enable()

    def _source_changed(self) -> None:
        self._enable()
        self.changed.emit({"chord_source": str(self.source.currentData())})

    def _enable(self) -> None:
        source = self.source.currentData()
        self.split.setEnabled(source == "arranger")
        for w in (self.transpose, self.editor, self.open_button, self.save_button, self.save_as_button, self.check_button):
            w.setEnabled(source == "chart")

    def set_playing(self, playing: bool) -> None:
        self.source.setEnabled(not playing)
        self.split.setEnabled(not playing and self.source.currentData() == "arranger")
        self.transpose.setEnabled(not playing and self.source.currentData() == "chart")
        if not playing:
            self.playing_chart = None
            self._mark_bar(-1)

    # ------------------------------------------------------------------ files

    def open_dialog(self) -> None:
        from accomp.config import RESOURCES

        start = str(self.path.parent if self.path else RESOURCES / "charts")
        name, _ = QFileDialog.getOpenFileName(self, "Open a chord chart", start, f"Chord charts (*{CHART_SUFFIX});;All files (*)")
        if name:
            self.open(Path(name))

    def open(self, path: Path, *, announce: bool = True) -> bool:
        """Load a chart file into the editor; a file that cannot be read says so and changes nothing."""
        try:
            if path.stat().st_size > MAX_BYTES:
                raise ChartError(f"{path}: {path.stat().st_size / 2**20:.1f} MB is not a chart (at most {MAX_BYTES // 1000} kB)")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError, ChartError) as exc:
            self._say(str(exc) if isinstance(exc, ChartError) else f"{path}: cannot read it ({getattr(exc, 'strerror', None) or exc})", error=True)
            return False
        self.path = path
        self.editor.blockSignals(True)
        self.editor.setPlainText(text)
        self.editor.blockSignals(False)
        self.file_label.setText(str(path))
        chart = self.chart(report=True)
        if announce:  # not when the settings themselves name it
            self.changed.emit({"chart_path": str(path)})
            if chart is not None:
                self.chart_opened.emit(chart)
        return True

    def save(self, path: Path | None) -> bool:
        from accomp.files import write_text

        if path is None:
            start = str(self.path) if self.path else str(Path.home() / f"chart{CHART_SUFFIX}")
            name, _ = QFileDialog.getSaveFileName(self, "Save the chord chart", start, f"Chord charts (*{CHART_SUFFIX})")
            if not name:
                return False
            path = Path(name)
            if path.suffix.lower() != CHART_SUFFIX:
                path = path.with_suffix(CHART_SUFFIX)
        try:
            write_text(path, self.editor.toPlainText())
        except OSError as exc:
            self._say(f"{path}: not saved ({exc.strerror or exc})", error=True)
            return False
        self.path = path
        self.file_label.setText(str(path))
        self.changed.emit({"chart_path": str(path)})
        self.chart(report=True)
        return True

    # ------------------------------------------------------------------ the chart

    def chart(self, *, report: bool = False) -> Chart | None:
        """The editor's chart, transposed, or None (the mistake shown) when it has none."""
        text = self.editor.toPlainText()
        where = self.path.name if self.path else "chart"
        try:
            if not text.strip():
                raise ChartError(f"{where}: the chart is empty: write bars such as | C | Am | F G7 |")
            chart = parse_chart(text, where)
        except ChartError as exc:
            if report:
                self._say(str(exc), error=True)
            return None
        chart = chart.transposed(self.transpose.value()) if self.transpose.value() else chart
        if report:
            tempo = f"{chart.tempo:g} bpm" if chart.tempo else "the window's tempo"
            self._say(f"{chart.title or where}: {len(chart.bars)} bars of {chart.meter[0]}/{chart.meter[1]}, {tempo}")
        return chart

    def _edited(self) -> None:
        if self.playing_chart is not None:
            self._say("Edited: the band plays the chart as it was until you stop; play again to hear the change.")

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {DANGER};" if error else "")

    def show_bar(self, step: int, steps_per_bar: int) -> None:
        """Mark the bar the band plays at grid ``step`` in the chart text, and say which it is."""
        chart = self.playing_chart
        if chart is None or not chart.bars or step < 0:
            return
        bar = (step // max(1, steps_per_bar)) % len(chart.bars)
        if bar != self._bar:
            self._bar = bar
            self._mark_bar(chart.bars[bar].line)
            self._say(f"Bar {bar + 1} of {len(chart.bars)}: {' '.join(_names(chart.bars[bar].chords))}")

    def _mark_bar(self, line: int) -> None:
        if line < 1:
            self._bar = -1
            self.editor.setExtraSelections([])
            return
        block = self.editor.document().findBlockByLineNumber(line - 1)
        mark = QTextEdit.ExtraSelection()
        mark.format.setBackground(QColor(RAISED))
        mark.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        mark.cursor = QTextCursor(block)
        self.editor.setExtraSelections([mark])


def _names(chords: list[int]) -> list[str]:
    """A bar's chord per beat as written in a chart: a chord held from the beat before is "."."""
    from accomp.music.chords import chord_name

    return [chord_name(c) if i == 0 or c != chords[i - 1] else "." for i, c in enumerate(chords)]
