"""The listening panel: where the lead comes from (MIDI, the audio input, or both), whether
the band leads or follows the player (and what it does when the player stops), the input
gain, noise gate and what to hear (melody, chords); and, live, the input level meter, the
input's state ("no signal", "clipping", "lost", ...), the pitch heard and the player's tempo.

It edits the listening fields of the settings (``changed``); while playing, the follow
switch, silence choice, gain, gate and listening mode go to the :class:`LiveSession` at once
(the input source is chosen while stopped: it opens devices). The window's timer hands it a
:class:`~accomp.listen.live.ListenState` (:meth:`ListenPanel.show_state`); widgets change
only when what they show does.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from accomp.gui.player import follow_settings
from accomp.gui.settings import GAIN_DB, GATE_DB, Settings
from accomp.gui.theme import ACCENT, DANGER, GOOD, MUTED, PANEL, RAISED, TEXT

SOURCES = (("MIDI", "midi"), ("Audio in", "audio"), ("MIDI + audio", "both"))
SILENCES = (("keep playing", "keep"), ("rest in time", "hold"), ("stop at the bar", "stop"))
MODES = (("auto", "auto"), ("melody", "melody"), ("chords", "chords"))
METER_FLOOR_DB = -60.0
NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
FOLLOW_TEXT = {"lead": "the band leads", "following": "following you", "waiting": "waiting for you",
               "resting": "resting till you play"}  # fmt: skip
STATUS_TEXT = {"off": "no audio input", "lost": "input lost", "no signal": "no signal", "clipping": "clipping!",
               "quiet": "quiet", "signal": "hearing you"}  # fmt: skip
STATUS_COLOUR = {"lost": DANGER, "no signal": DANGER, "clipping": DANGER, "quiet": MUTED, "signal": GOOD, "off": MUTED}


class LevelMeter(QWidget):
    """A horizontal level bar (dBFS, from -60) with the noise gate marked."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("levelMeter")
        self.setMinimumHeight(14)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.level_db = -120.0
        self.gate_db = -50.0
        self.clipping = False

    def sizeHint(self) -> QSize:
        return QSize(160, 14)

    def set_level(self, level_db: float, gate_db: float, clipping: bool) -> None:
        shown = (round(max(level_db, METER_FLOOR_DB)), round(gate_db), clipping)
        if shown != (round(max(self.level_db, METER_FLOOR_DB)), round(self.gate_db), self.clipping):
            self.level_db, self.gate_db, self.clipping = level_db, gate_db, clipping
            self.update()

    @staticmethod
    def fraction(db: float) -> float:
        return min(1.0, max(0.0, (db - METER_FLOOR_DB) / -METER_FLOOR_DB))

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QColor(PANEL))
        p.setPen(QColor(RAISED))
        p.drawRect(0, 0, w - 1, h - 1)
        level = self.fraction(self.level_db)
        colour = DANGER if self.clipping or self.level_db > -3 else ACCENT if self.level_db > -12 else GOOD
        p.fillRect(QRectF(1, 1, (w - 2) * level, h - 2), QColor(colour))
        x = 1 + (w - 2) * self.fraction(self.gate_db)
        p.setPen(QColor(TEXT))
        p.drawLine(round(x), 0, round(x), h)
        p.end()


def pitch_text(pitch: str, pitch_hz: float, chord: tuple[int, ...]) -> str:
    """'A4  440 Hz', or the last chord's pitch classes, or a dash."""
    if pitch:
        return f"{pitch}  <span style='font-size:10pt; color:{MUTED}'>{pitch_hz:.0f} Hz</span>"
    if chord:
        return " ".join(NAMES[c % 12] for c in chord)
    return "–"


class ListenPanel(QWidget):
    changed = Signal(dict)  # settings fields that changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = None  # the LiveSession while playing (set by the window)
        self._settings = Settings()
        self._shown: dict[str, object] = {}
        form = QFormLayout(self)
        form.setContentsMargins(8, 6, 8, 6)
        form.setVerticalSpacing(5)
        self.source = self._combo("inputSource", SOURCES, "Where your part comes from: MIDI, the audio input (guitar, voice...), or both")
        form.addRow("Lead from", self.source)
        self.lead_button = QPushButton("Leads", self)
        self.lead_button.setObjectName("leadMode")
        self.lead_button.setToolTip("The band keeps its own time (the tempo above); you play along")
        self.follow_button = QPushButton("Follows", self)
        self.follow_button.setObjectName("followMode")
        self.follow_button.setToolTip("The band follows your tempo and rubato (Tap sets where it starts)")
        self.mode_group = QButtonGroup(self)
        switch = QHBoxLayout()
        switch.setSpacing(0)
        for button in (self.lead_button, self.follow_button):
            button.setCheckable(True)
            button.setMinimumWidth(40)
            button.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
            self.mode_group.addButton(button)
            switch.addWidget(button)
        self.lead_button.setChecked(True)
        form.addRow("Band", switch)
        self.silence = self._combo("followSilence", SILENCES, "In follow mode, when you stop playing for a few beats")
        form.addRow("If you stop", self.silence)
        self.gain = self._spin("inputGain", GAIN_DB, "Input gain, before the meter and the gate")
        self.gate = self._spin("noiseGate", GATE_DB, "Noise gate: quieter than this is no note (the line on the meter)")
        form.addRow("Input gain", self.gain)
        form.addRow("Noise gate", self.gate)
        self.listen_mode = self._combo("listenMode", MODES, "What to hear in the audio: single notes, strummed chords, or either")
        form.addRow("Hear", self.listen_mode)

        self.meter = LevelMeter(self)
        self.level = QLabel("–", self)
        self.level.setObjectName("caption")
        self.level.setMinimumWidth(58)
        self.level.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.meter, 1)
        meter_row.addWidget(self.level)
        form.addRow("Level", meter_row)
        self.status = QLabel("stopped", self)
        self.status.setObjectName("listenStatus")
        self.status.setWordWrap(True)
        self.status.setToolTip("The audio input's state")
        readouts = QGridLayout()
        readouts.setVerticalSpacing(0)
        self.pitch = QLabel("–", self)
        self.pitch.setObjectName("heardPitch")
        self.pitch.setTextFormat(Qt.TextFormat.RichText)
        self.tempo = QLabel("–", self)
        self.tempo.setObjectName("heardTempo")
        self.tempo.setTextFormat(Qt.TextFormat.RichText)
        self.tempo.setToolTip("Your tempo as the band hears it (follow mode)")
        self.follow_state = QLabel(FOLLOW_TEXT["lead"], self)
        self.follow_state.setObjectName("caption")
        self.follow_state.setWordWrap(True)
        for label in (self.status, self.pitch, self.tempo, self.follow_state):
            label.setMinimumWidth(40)
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        captions = [QLabel(text, self) for text in ("input", "pitch heard")]
        for column, (value, caption) in enumerate(zip((self.status, self.pitch, self.tempo), captions + [self.follow_state])):
            caption.setObjectName("caption")
            readouts.addWidget(value, 0, column, Qt.AlignmentFlag.AlignBottom)
            readouts.addWidget(caption, 1, column, Qt.AlignmentFlag.AlignTop)
            readouts.setColumnStretch(column, 1)
        form.addRow(readouts)

        self.source.currentIndexChanged.connect(lambda: self._edit({"input_source": self.source.currentData()}))
        self.follow_button.toggled.connect(lambda on: self._edit({"follow": on}))
        self.silence.currentIndexChanged.connect(lambda: self._edit({"follow_silence": self.silence.currentData()}))
        self.gain.valueChanged.connect(lambda db: self._edit({"input_gain_db": db}))
        self.gate.valueChanged.connect(lambda db: self._edit({"gate_db": db}))
        self.listen_mode.currentIndexChanged.connect(lambda: self._edit({"listen_mode": self.listen_mode.currentData()}))

    def _combo(self, name: str, items, tip: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setToolTip(tip)
        combo.setMinimumContentsLength(8)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for label, value in items:
            combo.addItem(label, value)
        return combo

    def _spin(self, name: str, limits: tuple[float, float], tip: str) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setObjectName(name)
        spin.setToolTip(tip)
        spin.setRange(*limits)
        spin.setDecimals(0)
        spin.setSuffix(" dB")
        spin.setKeyboardTracking(False)
        return spin

    def _controls(self) -> tuple[QWidget, ...]:
        return (self.source, self.follow_button, self.lead_button, self.silence, self.gain, self.gate, self.listen_mode)

    # ------------------------------------------------------------------ settings

    def apply(self, settings: Settings) -> None:
        self._settings = settings
        for widget in self._controls():
            widget.blockSignals(True)
        self.source.setCurrentIndex(self.source.findData(settings.input_source))
        (self.follow_button if settings.follow else self.lead_button).setChecked(True)
        self.silence.setCurrentIndex(self.silence.findData(settings.follow_silence))
        self.gain.setValue(settings.input_gain_db)
        self.gate.setValue(settings.gate_db)
        self.listen_mode.setCurrentIndex(self.listen_mode.findData(settings.listen_mode))
        for widget in self._controls():
            widget.blockSignals(False)
        if self.session is None:
            self.show_state(None)

    def _edit(self, changes: dict) -> None:
        self._settings = replace(self._settings, **changes)
        self.changed.emit(changes)
        session = self.session
        if session is None:
            self.show_state(None)
            return
        if "follow" in changes or ("follow_silence" in changes and self._settings.follow):
            session.set_follow(follow_settings(self._settings))
        if "input_gain_db" in changes:
            session.set_input_gain(changes["input_gain_db"])
        if "gate_db" in changes:
            session.set_gate(changes["gate_db"])
        if "listen_mode" in changes:
            session.set_listen_mode(changes["listen_mode"])

    @property
    def following(self) -> bool:
        return self._settings.follow

    def set_playing(self, session) -> None:
        """The session now playing (None: stopped). The input source is chosen while stopped."""
        self.session = session
        self.source.setEnabled(session is None)
        if session is None:
            self.show_state(None)

    # ------------------------------------------------------------------ live

    def show_state(self, state) -> None:
        """A :class:`~accomp.listen.live.ListenState` (None: stopped)."""
        if state is None:
            self._set("status", "stopped", MUTED)
            self._set("level", "–")
            self._set("pitch", "–")
            self._set("tempo", "–")
            self._set("follow_state", "the band follows you" if self._settings.follow else FOLLOW_TEXT["lead"])
            self.meter.set_level(-120.0, self._settings.gate_db, False)
            return
        flags = [name for name, on in (("DC offset", state.dc_offset), ("hum", state.hum)) if on]
        status = STATUS_TEXT.get(state.status, state.status)
        if state.status == "off":
            status = "MIDI only" if state.source == "midi" else status
        self._set("status", ", ".join([status] + flags), STATUS_COLOUR.get(state.status, TEXT))
        audible = state.level_db > METER_FLOOR_DB
        self._set("level", f"{state.level_db:.0f} dB" if audible and state.status != "off" else "–")
        gate = state.gate_db if state.status != "off" else self._settings.gate_db
        self.meter.set_level(state.level_db, gate, state.status == "clipping")
        self._set("pitch", pitch_text(state.pitch, state.pitch_hz, state.chord))
        you = state.tempo_estimate
        self._set("tempo", f"{you:.0f} <span style='font-size:10pt; color:{MUTED}'>bpm</span>" if you else "–")
        self._set("follow_state", FOLLOW_TEXT.get(state.follow, state.follow))

    def _set(self, name: str, text: str, colour: str | None = None) -> None:
        if self._shown.get(name) == (text, colour):
            return
        self._shown[name] = (text, colour)
        label: QLabel = getattr(self, name)
        label.setText(text)
        if colour is not None:
            label.setStyleSheet(f"color: {colour};")
