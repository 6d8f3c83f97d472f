"""The transport: play/stop (space bar), panic, tempo with tap tempo, meter, the song's key, count-in,
metronome, record and export; and the big bar/beat, tempo and key display for the stage.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from accomp.config import MAX_BPM, MAX_COUNT_IN_BARS, MIN_BPM
from accomp.gui.settings import METERS, SONG_KEYS, Settings
from accomp.gui.theme import ACCENT

TAP_RESET_S = 2.0  # a pause this long starts a new tap
TAPS_KEPT = 5
TAP_MIN_BPM, TAP_MAX_BPM = 30.0, 300.0


class TapTempo:
    """Tempo from the last few taps (their median interval); None until two taps."""

    def __init__(self) -> None:
        self._taps: list[float] = []

    def tap(self, now: float | None = None) -> float | None:
        now = time.perf_counter() if now is None else now
        if self._taps and now - self._taps[-1] > TAP_RESET_S:
            self._taps.clear()
        self._taps = (self._taps + [now])[-TAPS_KEPT:]
        if len(self._taps) < 2:
            return None
        gaps = sorted(b - a for a, b in zip(self._taps, self._taps[1:]))
        bpm = 60.0 / gaps[len(gaps) // 2]
        return round(min(TAP_MAX_BPM, max(TAP_MIN_BPM, bpm)), 1)


def position_text(position: float, steps_per_beat: int, steps_per_bar: int) -> tuple[str, int]:
    """('bar.beat' or 'count n', beat index in the bar) for a fractional grid step."""
    step = math.floor(position)
    beats_per_bar = max(1, steps_per_bar // steps_per_beat)
    beat = (step // steps_per_beat) % beats_per_bar
    if step < 0:
        return f"in {math.ceil(-position / steps_per_beat)}", beat
    return f"{step // steps_per_bar + 1}.{beat + 1}", beat


class TransportBar(QWidget):
    play_toggled = Signal(bool)
    panic = Signal()
    tempo_changed = Signal(float)
    changed = Signal(dict)  # settings fields: count_in, click, meter, song_key, record
    export = Signal()
    tapped = Signal()  # a tap while ``taps_to_engine``: the engine's tap tempo takes it

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tap = TapTempo()
        self.taps_to_engine = False  # playing in follow mode: taps go to the engine (its clock)
        self._shown: tuple = ()
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 6, 8, 6)
        row.setSpacing(8)
        self.play = QPushButton("▶ Play", self)
        self.play.setObjectName("playButton")
        self.play.setCheckable(True)
        self.play.setToolTip("Play / stop (space bar)")
        self.panic_button = QPushButton("Panic", self)
        self.panic_button.setObjectName("panicButton")
        self.panic_button.setToolTip("End every sounding note now")
        buttons = QVBoxLayout()
        buttons.setSpacing(4)
        buttons.addWidget(self.play)
        buttons.addWidget(self.panic_button)
        row.addLayout(buttons)
        row.addWidget(self._separator())

        grid = QGridLayout()
        grid.setVerticalSpacing(4)
        self.tempo = QDoubleSpinBox(self)
        self.tempo.setObjectName("tempo")
        self.tempo.setRange(max(MIN_BPM, 20.0), min(MAX_BPM, 400.0))
        self.tempo.setDecimals(1)
        self.tempo.setSuffix(" bpm")
        self.tempo.setKeyboardTracking(False)
        self.tap_button = QPushButton("Tap", self)
        self.tap_button.setObjectName("tapTempo")
        self.tap_button.setToolTip("Tap the beat a few times to set the tempo")
        self.meter = QComboBox(self)
        self.meter.setObjectName("meter")
        self.meter.addItems(list(METERS))
        self.song_key = QComboBox(self)
        self.song_key.setObjectName("songKey")
        for name in SONG_KEYS:
            self.song_key.addItem(f"key {name}" if name else "key: heard", name)
        self.song_key.setToolTip("The song's key, if you know it: the band starts in it instead of guessing from "
                                 "your first notes (then it follows the melody). 'heard': it listens for the key")
        self.count_in = QSpinBox(self)
        self.count_in.setObjectName("countIn")
        self.count_in.setRange(0, MAX_COUNT_IN_BARS)
        self.count_in.setPrefix("count-in ")
        self.count_in.setSuffix(" bar")
        self.click = QCheckBox("Click", self)
        self.click.setObjectName("metronome")
        self.click.setToolTip("Metronome after the count-in")
        grid.addWidget(self.tempo, 0, 0)
        grid.addWidget(self.tap_button, 0, 1)
        grid.addWidget(self.meter, 0, 2)
        grid.addWidget(self.count_in, 1, 0)
        grid.addWidget(self.click, 1, 1)
        grid.addWidget(self.song_key, 1, 2)
        row.addLayout(grid)
        row.addWidget(self._separator())

        rec = QVBoxLayout()
        rec.setSpacing(4)
        self.record = QPushButton("● Rec", self)
        self.record.setObjectName("recordButton")
        self.record.setCheckable(True)
        self.record.setToolTip("Record the next take (.mid and .wav)")
        self.export_button = QPushButton("Export…", self)
        self.export_button.setObjectName("exportButton")
        self.export_button.setEnabled(False)
        self.export_button.setToolTip("Save the last take's .mid and .wav")
        rec.addWidget(self.record)
        rec.addWidget(self.export_button)
        row.addLayout(rec)
        row.addStretch(1)

        self.beat_lights = QLabel(self)  # one rich-text label: cheaper to redraw than four styled ones
        self.beat_lights.setObjectName("beatLights")
        self.beat_lights.setTextFormat(Qt.TextFormat.RichText)
        self.big_beat = self._big("bigBeat", "–.–", "bar . beat")
        self.big_tempo = self._big("bigTempo", "100", "bpm")
        self.big_chord = self._big("bigChord", "–", "chord")
        self.next_chord = QLabel("", self)
        self.next_chord.setObjectName("nextChord")
        self.next_chord.setToolTip("The chord of the next beat, where it is known in advance (a chart)")
        self.key = QLabel("key –", self)
        self.key.setObjectName("keyLabel")
        self.key.setToolTip("The key of what was played lately (lead and accompaniment)")
        beat_box = QVBoxLayout()
        beat_box.setSpacing(0)
        beat_box.addWidget(self.big_beat[0])
        beat_box.addWidget(self.beat_lights)
        tempo_box = QVBoxLayout()
        tempo_box.setSpacing(0)
        tempo_box.addWidget(self.big_tempo[0])
        tempo_box.addWidget(self.key)
        chord_box = QVBoxLayout()
        chord_box.setSpacing(0)
        chord_box.addWidget(self.big_chord[0])
        chord_box.addWidget(self.next_chord)
        row.addLayout(beat_box)
        row.addLayout(chord_box)
        row.addLayout(tempo_box)

        self.play.toggled.connect(self._play_toggled)
        self.panic_button.clicked.connect(self.panic)
        self.tempo.valueChanged.connect(self._tempo_changed)
        self.tap_button.clicked.connect(self._tapped)
        self.meter.currentTextChanged.connect(lambda text: self.changed.emit({"meter": text}))
        self.song_key.currentIndexChanged.connect(lambda i: self.changed.emit({"song_key": self.song_key.itemData(i)}))
        self.count_in.valueChanged.connect(lambda n: self.changed.emit({"count_in": n}))
        self.click.toggled.connect(lambda on: self.changed.emit({"click": on}))
        self.record.toggled.connect(lambda on: self.changed.emit({"record": on}))
        self.export_button.clicked.connect(self.export)

    def _separator(self) -> QFrame:
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.VLine)
        line.setStyleSheet("color: #3a3f4b;")
        return line

    def _big(self, name: str, text: str, caption: str) -> tuple[QWidget, QLabel]:
        box = QWidget(self)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(10, 0, 10, 0)
        layout.setSpacing(0)
        label = QLabel(text, box)
        label.setObjectName(name)
        under = QLabel(caption, box)
        under.setObjectName("caption")
        layout.addWidget(label)
        layout.addWidget(under)
        return box, label

    def apply(self, settings: Settings) -> None:
        for widget in (self.tempo, self.meter, self.song_key, self.count_in, self.click, self.record):
            widget.blockSignals(True)
        self.tempo.setValue(settings.tempo)
        self.meter.setCurrentText(settings.meter)
        self.song_key.setCurrentIndex(max(0, self.song_key.findData(settings.song_key)))
        self.count_in.setValue(settings.count_in)
        self.click.setChecked(settings.click)
        self.record.setChecked(settings.record)
        for widget in (self.tempo, self.meter, self.song_key, self.count_in, self.click, self.record):
            widget.blockSignals(False)
        self.big_tempo[1].setText(f"{settings.tempo:g}")

    def _play_toggled(self, on: bool) -> None:
        self.play.setText("■ Stop" if on else "▶ Play")
        self.play_toggled.emit(on)

    def set_playing(self, playing: bool) -> None:
        """Show the state without asking for it (e.g. play ended because a device failed)."""
        self.play.blockSignals(True)
        self.play.setChecked(playing)
        self.play.setText("■ Stop" if playing else "▶ Play")
        self.play.blockSignals(False)
        for widget in (self.meter, self.song_key, self.count_in, self.record):
            widget.setEnabled(not playing)
        if not playing:
            self.show_position(None, 4, 16)

    def _tempo_changed(self, bpm: float) -> None:
        self.big_tempo[1].setText(f"{bpm:g}")
        self.tempo_changed.emit(bpm)

    def _tapped(self) -> None:
        if self.taps_to_engine:
            self.tapped.emit()
            return
        bpm = self._tap.tap()
        if bpm is not None:
            self.tempo.setValue(bpm)

    def show_position(self, position: float | None, steps_per_beat: int, steps_per_bar: int) -> None:
        """Redrawn by the window's timer: widgets change only when what they show does."""
        text, lit = ("–.–", -1) if position is None else position_text(position, steps_per_beat, steps_per_bar)
        beats = max(1, steps_per_bar // steps_per_beat)
        if (text, lit, beats) == self._shown:
            return
        self._shown = (text, lit, beats)
        self.big_beat[1].setText(text)
        self.beat_lights.setText("&nbsp;&nbsp;".join(f"<span style='color:{ACCENT if i == lit else '#3a3f4b'}'>●</span>"
                                                     for i in range(beats)))  # fmt: skip

    def show_tempo(self, bpm: float) -> None:
        """The tempo playing now (follow mode moves it), in the big display."""
        text = f"{round(bpm, 1):g}"
        if self.big_tempo[1].text() != text:
            self.big_tempo[1].setText(text)

    def show_chords(self, now: str, upcoming: str) -> None:
        """The chord the band plays now, big enough for a class to read, and the next one."""
        if self.big_chord[1].text() != now:
            self.big_chord[1].setText(now)
        if self.next_chord.text() != upcoming:
            self.next_chord.setText(upcoming)

    def show_key(self, text: str) -> None:
        if self.key.text() != text:
            self.key.setText(text)
