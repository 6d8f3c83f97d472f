"""The device panel: audio host API, output, input, sample rate and buffer size (with the
latency it implies), MIDI API, input and output, a test tone and a rescan button.

It shows a :class:`~accomp.gui.player.DeviceList` and edits the device fields of the
settings; the window does the scanning and the playing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from accomp.gui.elided import ElidedLabel
from accomp.gui.player import DeviceList
from accomp.gui.settings import KEYBOARD, Settings

SAMPLE_RATES = (44100, 48000, 88200, 96000)
BUFFERS = (32, 64, 128, 256, 512, 1024, 2048)
DEFAULT = "(system default)"
MISSING = " (not found)"


def buffer_latency_ms(frames: int, sample_rate: int) -> float:
    return 1000.0 * frames / sample_rate


def _index(combo: QComboBox, value) -> int:
    """The item whose data is ``value`` (None included), or -1."""
    for i in range(combo.count()):
        if combo.itemData(i) == value:
            return i
    return -1


class DevicesPanel(QWidget):
    changed = Signal(dict)  # settings fields that changed
    test_tone = Signal()
    rescan = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._devices = DeviceList([], [])
        self._filling = False
        form = QFormLayout(self)
        form.setContentsMargins(8, 8, 8, 8)
        self.host_api = self._combo("hostApi")
        self.audio_out = self._combo("audioOut")
        self.audio_in = self._combo("audioIn")
        self.sample_rate = self._combo("sampleRate")
        self.buffer = self._combo("buffer")
        self.latency = QLabel(self)
        self.latency.setObjectName("caption")
        self.latency.setWordWrap(True)
        self.midi_api = self._combo("midiApi")
        self.midi_in = self._combo("midiIn")
        self.midi_out = self._combo("midiOut")
        for rate in SAMPLE_RATES:
            self.sample_rate.addItem(f"{rate} Hz", rate)
        for frames in BUFFERS:
            self.buffer.addItem(f"{frames} frames", frames)
        form.addRow("Host API", self.host_api)
        form.addRow("Audio out", self.audio_out)
        form.addRow("Audio in", self.audio_in)
        form.addRow("Sample rate", self.sample_rate)
        form.addRow("Buffer", self.buffer)
        form.addRow("", self.latency)
        form.addRow("MIDI API", self.midi_api)
        form.addRow("MIDI in", self.midi_in)
        form.addRow("MIDI out", self.midi_out)
        buttons = QHBoxLayout()
        self.tone_button = QPushButton("Test tone", self)
        self.tone_button.setObjectName("testTone")
        self.rescan_button = QPushButton("Rescan", self)
        self.rescan_button.setObjectName("rescan")
        buttons.addWidget(self.tone_button)
        buttons.addWidget(self.rescan_button)
        form.addRow(buttons)
        self.status = ElidedLabel("", self)  # device problems: a line each, elided, whole in the tooltip
        self.status.setObjectName("caption")
        form.addRow(self.status)
        self.tone_button.clicked.connect(self.test_tone)
        self.rescan_button.clicked.connect(self.rescan)
        self.host_api.currentIndexChanged.connect(self._host_api_changed)
        self.midi_api.currentIndexChanged.connect(self._midi_api_changed)
        for combo in (self.audio_out, self.audio_in, self.sample_rate, self.buffer, self.midi_in, self.midi_out):
            combo.currentIndexChanged.connect(self._emit)

    def _combo(self, name: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setObjectName(name)
        combo.setMinimumContentsLength(12)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        return combo

    # ------------------------------------------------------------------ filling

    def show_devices(self, devices: DeviceList, settings: Settings) -> None:
        """Fill the lists from a scan and select what the settings name."""
        self._devices = devices
        self._filling = True
        try:
            self._fill(self.host_api, [(DEFAULT, None)] + [(a["host_api"], a["host_api"]) for a in devices.audio], settings.host_api)
            self._fill_audio(settings)
            self._select(self.sample_rate, settings.sample_rate)
            self._select(self.buffer, settings.buffer)
            apis = [(DEFAULT, None)] + [(m["api"], m["api"]) for m in devices.midi if "unavailable" not in m]
            self._fill(self.midi_api, apis, settings.midi_api)
            self._fill_midi(settings)
        finally:
            self._filling = False
        self._update_latency()
        problems = [devices.audio_problem] if devices.audio_problem else []
        problems += [f"MIDI {m['api']}: {m['unavailable']}" for m in devices.midi if "unavailable" in m]
        self.status.setText("\n".join(problems))

    def _fill(self, combo: QComboBox, items: list[tuple[str, object]], wanted) -> None:
        combo.clear()
        for label, value in items:
            combo.addItem(label, value)
        if isinstance(wanted, str) and _index(combo, wanted) < 0:  # 'JACK' names 'JACK Audio Connection Kit'
            wanted = next((v for _, v in items if isinstance(v, str) and wanted.lower() in v.lower()), wanted)
        if wanted is not None and _index(combo, wanted) < 0:
            combo.addItem(f"{wanted}{MISSING}", wanted)
        self._select(combo, wanted)

    @staticmethod
    def _select(combo: QComboBox, value) -> None:
        combo.setCurrentIndex(max(_index(combo, value), 0))

    def _devices_of(self, kind: str) -> list[str]:
        api = self.host_api.currentData()
        names = []
        for entry in self._devices.audio:
            if api is None or entry["host_api"] == api:
                names += [d["name"] for d in entry["devices"] if d[kind] > 0 and d["name"] not in names]
        return names

    def _fill_audio(self, settings: Settings) -> None:
        self._fill(self.audio_out, [(DEFAULT, None)] + [(n, n) for n in self._devices_of("outputs")], settings.audio_out)
        self._fill(self.audio_in, [("(none)", None)] + [(n, n) for n in self._devices_of("inputs")], settings.audio_in)

    def _ports(self, kind: str) -> list[str]:
        api = self.midi_api.currentData()
        available = [m for m in self._devices.midi if "unavailable" not in m]
        chosen = [m for m in available if m["api"] == api] if api else available[:1]
        return [p for m in chosen for p in m[kind]]

    def _fill_midi(self, settings: Settings) -> None:
        ins = [("Computer keyboard", KEYBOARD), ("(none)", "")] + [(p, p) for p in self._ports("inputs")]
        self._fill(self.midi_in, ins, settings.midi_in)
        self._fill(self.midi_out, [("(none)", None)] + [(p, p) for p in self._ports("outputs")], settings.midi_out)

    # ------------------------------------------------------------------ editing

    def values(self) -> dict:
        return {
            "host_api": self.host_api.currentData(),
            "audio_out": self.audio_out.currentData(),
            "audio_in": self.audio_in.currentData(),
            "sample_rate": self.sample_rate.currentData(),
            "buffer": self.buffer.currentData(),
            "midi_api": self.midi_api.currentData(),
            "midi_in": self.midi_in.currentData(),
            "midi_out": self.midi_out.currentData(),
        }

    def _host_api_changed(self) -> None:
        if self._filling:
            return
        self._filling = True
        try:
            values = self.values()
            self._fill_audio(Settings(audio_out=values["audio_out"], audio_in=values["audio_in"]))
        finally:
            self._filling = False
        self._emit()

    def _midi_api_changed(self) -> None:
        if self._filling:
            return
        self._filling = True
        try:
            self._fill_midi(Settings(midi_in=self.midi_in.currentData() or KEYBOARD))
        finally:
            self._filling = False
        self._emit()

    def _emit(self) -> None:
        self._update_latency()
        if not self._filling:
            self.changed.emit(self.values())

    def _update_latency(self) -> None:
        rate, frames = self.sample_rate.currentData(), self.buffer.currentData()
        if rate and frames:
            self.latency.setText(f"{buffer_latency_ms(frames, rate):.1f} ms per buffer (output adds one or two of these)")

    def set_playing(self, playing: bool) -> None:
        """Devices are chosen while stopped: a stream is open while playing."""
        for widget in (self.host_api, self.audio_out, self.audio_in, self.sample_rate, self.buffer,
                       self.midi_api, self.midi_in, self.midi_out, self.tone_button, self.rescan_button):  # fmt: skip
            widget.setEnabled(not playing)
