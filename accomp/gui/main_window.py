"""The main window: transport on top, live views in the middle, presets, devices and mixer
in docks. A thin shell over the engine: slow work goes to :class:`~accomp.gui.jobs.Jobs`,
and a 30 Hz timer reads the engine's snapshots (position, metrics, logs, monitor rings);
no engine thread ever touches a widget.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QSplitter, QVBoxLayout, QWidget

from accomp.config import DEFAULT_SPEC, meter_bar_steps
from accomp.errors import AccompError, CheckpointError, PresetError
from accomp.gui import player as play
from accomp.gui.chords_panel import ChordsPanel
from accomp.gui.collector import MainThreadCollector
from accomp.gui.devices_panel import DevicesPanel
from accomp.gui.jobs import Jobs
from accomp.gui.key_filter import KeyFilter
from accomp.music.keyboard import HELP, ComputerKeyboard
from accomp.gui.listen_panel import ListenPanel
from accomp.gui.logs import report_unexpected
from accomp.gui.mixer_panel import MixerPanel
from accomp.gui.notices import Notices
from accomp.gui.presets_panel import PresetsPanel
from accomp.gui.settings import KEYBOARD, METERS, Settings, load_settings, save_settings
from accomp.gui.transport_bar import TransportBar
from accomp.gui.playing import FRAME_MS, Playing
from accomp.gui.views import LatencyView, PianoRoll, Waveforms

SAVE_DELAY_MS = 500
NO_KEYBOARD_HINT = ("No MIDI keyboard found: the computer keyboard plays the melody (A S D F G H J K are C to C, "
                    "W E T Y U the black keys, Z / X an octave down / up). For more, plug a MIDI keyboard in and "
                    "press Rescan under Devices, or play a guitar or sing into an audio input (Listening: Lead from).")


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, notice: str | None = None) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("accomp — your band mate")
        if settings is None:
            settings, notice = load_settings()
        self.settings = settings
        self.playing = Playing(self)
        self.player: play.ObservedPlayer | None = None  # the loaded preset
        self.loading: Future | None = None  # the preset being loaded
        self.devices = play.DeviceList([], [])
        self.keyboard = ComputerKeyboard(octave=settings.keyboard_octave)
        self.jobs = Jobs(self, self.job_failed)
        self.distill_dialog = None
        self._build()
        self.transport.apply(settings)
        self.mixer.apply(settings)
        self.listen.apply(settings)
        self.chords.apply(settings)
        self._restore_layout()
        self._save_timer = QTimer(self, singleShot=True, interval=SAVE_DELAY_MS)
        self._save_timer.timeout.connect(self.save_settings)
        self.timer = QTimer(self, interval=FRAME_MS)
        self.timer.timeout.connect(self.playing.tick)
        self.timer.start()
        self.collector = MainThreadCollector(self)
        self.collector.start()
        self.keys = KeyFilter(self, self.keyboard, self.transport.play.toggle, self.playing.send_lead)
        QApplication.instance().installEventFilter(self.keys)
        if notice:
            self.notices.show_notice(notice)
        self.rescan()
        self.refresh_presets()
        self.choose_preset(None)

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        self.notices = Notices(central)
        self.transport = TransportBar(central)
        self.roll = PianoRoll(central)
        self.waveforms = Waveforms(central)
        self.latency = LatencyView(central)
        bottom = QSplitter(Qt.Orientation.Horizontal, central)
        bottom.addWidget(self.waveforms)
        bottom.addWidget(self.latency)
        bottom.setSizes([230, 770])
        views = QSplitter(Qt.Orientation.Vertical, central)
        views.addWidget(self.roll)
        views.addWidget(bottom)
        views.setSizes([420, 260])
        column.addWidget(self.notices)
        column.addWidget(self.transport)
        column.addWidget(views, 1)
        self.setCentralWidget(central)
        self.presets = PresetsPanel(self)
        self.device_panel = DevicesPanel(self)
        self.mixer = MixerPanel(self)
        self.listen = ListenPanel(self)
        self.chords = ChordsPanel(self)
        left = self._dock("Style presets", "presetsDock", self.presets, Qt.DockWidgetArea.LeftDockWidgetArea)
        chords = self._dock("Chords", "chordsDock", self.chords, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.splitDockWidget(left, chords, Qt.Orientation.Vertical)
        right = self._dock("Devices", "devicesDock", self.device_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        mixer = self._dock("Mixer", "mixerDock", self.mixer, Qt.DockWidgetArea.RightDockWidgetArea)
        listen = self._dock("Listening", "listenDock", self.listen, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(right, listen, Qt.Orientation.Vertical)
        self.tabifyDockWidget(right, mixer)
        right.raise_()
        self.resizeDocks([left, right], [210, 290], Qt.Orientation.Horizontal)
        self.resizeDocks([right, listen], [440, 300], Qt.Orientation.Vertical)
        self.show_status(HELP)
        t = self.transport
        t.play_toggled.connect(self.playing.set_playing)
        t.panic.connect(self.playing.panic)
        t.tempo_changed.connect(self.playing.tempo_changed)
        t.changed.connect(self._update_settings)
        t.export.connect(self.playing.export_take)
        t.tapped.connect(lambda: self.session is not None and self.session.tap())
        self.presets.chosen.connect(self.choose_preset)
        self.presets.distill.connect(self.open_distill)
        self.device_panel.changed.connect(self._update_settings)
        self.device_panel.rescan.connect(self.rescan)
        self.device_panel.test_tone.connect(self.test_tone)
        self.mixer.changed.connect(self._mixer_changed)
        self.mixer.band_changed.connect(self._band_changed)
        self.listen.changed.connect(self._listen_changed)
        self.chords.changed.connect(self._update_settings)
        self.chords.chart_opened.connect(self._chart_opened)

    def show_status(self, text: str, timeout_ms: int = 0) -> None:
        """A status line that fits: cut with "…" where the window is narrower (a long device
        name), the whole of it in the status bar's tooltip."""
        bar = self.statusBar()
        shown = bar.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, max(80, bar.width() - 24))
        bar.setToolTip(text if shown != text else "")
        bar.showMessage(shown, timeout_ms)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _restore_layout(self) -> None:
        s = self.settings
        if not (s.window_geometry and self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode()))):
            self.resize(1280, 800)
        if s.window_state:
            self.restoreState(QByteArray.fromBase64(s.window_state.encode()))

    # ------------------------------------------------------------------ settings

    def _update_settings(self, changes: dict) -> None:
        self.settings = replace(self.settings, **changes)
        self._save_timer.start()

    def save_settings(self) -> None:
        self.settings = replace(self.settings, keyboard_octave=self.keyboard.octave,
                                window_geometry=bytes(self.saveGeometry().toBase64()).decode(),
                                window_state=bytes(self.saveState().toBase64()).decode())  # fmt: skip
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.notices.show_notice(f"Settings could not be saved ({exc.strerror or exc}).", "error")

    def _chart_opened(self, chart) -> None:
        """A chart just opened sets the tempo and meter it asks for (while stopped)."""
        if self.session is not None:
            return
        changes = {}
        if chart.tempo:
            changes["tempo"] = float(chart.tempo)
        meter = f"{chart.meter[0]}/{chart.meter[1]}"
        if meter in METERS:
            changes["meter"] = meter
        if changes:
            self._update_settings(changes)
            self.transport.apply(self.settings)

    def _listen_changed(self, changes: dict) -> None:
        self._update_settings(changes)  # the panel itself tells a playing session
        self.transport.taps_to_engine = self.session is not None and self.settings.follow

    def _take_preset_sound(self, player: play.ObservedPlayer) -> None:
        """A preset just chosen brings its sound: the accompaniment's instrument and its bass and
        drums, set in the mixer (where they can be changed again) and heard at once."""
        from accomp.model.preset import accomp_program
        from accomp.music.band import OFF, band_from_header

        try:
            program, band = accomp_program(player.header), band_from_header(player.header)
        except AccompError as exc:
            self.notices.show_notice(f"{player.name}: its sound is ignored ({exc})", "warning")
            return
        settings = self.settings
        if program is not None:
            settings = settings.with_part("accomp", program=program)
        settings = replace(settings, bass=band.bass, drums=band.drums or OFF).with_part("bass", program=band.bass_program)
        self.settings = settings
        self._save_timer.start()
        self.mixer.apply(settings)
        if self.session is not None:
            self.session.set_band(play.band(settings))
        self._sound_to_synth()

    def _band_changed(self, changes: dict) -> None:
        self._update_settings(changes)
        if self.session is not None:
            self.session.set_band(play.band(self.settings))

    def _mixer_changed(self, part: str, changes: dict) -> None:
        self.settings = self.settings.with_part(part, **changes)
        self._save_timer.start()
        self._sound_to_synth()

    def _sound_to_synth(self) -> None:
        """The mixer's instruments, volumes and mutes to the playing synth (heard from its next block)."""
        synth = self.session.synth if self.session is not None else None
        if synth is not None:
            for sound in play.parts(self.settings):
                synth.set_part(sound.name, program=sound.program, volume=sound.volume, mute=sound.mute)

    # ------------------------------------------------------------------ jobs and errors

    def job_failed(self, exc: BaseException, what: str) -> None:
        if isinstance(exc, AccompError):
            self.notices.show_notice(f"{what[:1].upper()}{what[1:]} failed: {exc}", "error")
        else:
            report_unexpected(self, exc, what)

    def rescan(self) -> None:
        if self.session is not None:
            return  # PortAudio re-scans only while no stream is open
        self.device_panel.status.setText("Scanning devices…")
        self.jobs.submit("scanning devices", play.scan_devices, on_done=self._devices_found)

    def _devices_found(self, devices: play.DeviceList) -> None:
        self.devices = devices
        self.device_panel.show_devices(devices, self.settings)
        if devices.audio_problem:
            self.notices.show_notice(f"Audio: {devices.audio_problem}.", "warning")
        if self.settings.midi_in == KEYBOARD and not any(api.get("inputs") for api in devices.midi):
            self.notices.show_notice(NO_KEYBOARD_HINT, "info")

    def test_tone(self) -> None:
        if self.session is None:
            self.jobs.submit("playing a test tone", play.test_tone, self.settings,
                             on_done=lambda name: self.show_status(f"Test tone played on {name}", 4000))  # fmt: skip

    # ------------------------------------------------------------------ presets

    def refresh_presets(self, select: Path | None = None) -> None:
        from accomp.model.preset import bundled_presets, list_presets

        def shown(presets) -> None:
            self.presets.show_presets(presets, bundled_presets())
            for path, _, error in presets:
                if error is not None:
                    self.notices.show_notice(f"Preset {path.name} cannot be used: {error}", "warning")
            if select is not None:
                self.presets.mark_active(select)

        self.jobs.submit("listing the presets", list_presets, on_done=shown)

    def choose_preset(self, path: Path | None) -> None:
        """Load a preset (None: the one in the settings, else the default); while playing,
        it takes over at the next step once loaded, after the old one's notes all end."""
        choice = str(path) if path is not None else self.settings.preset
        bar_steps = meter_bar_steps(play.meter(self.settings), DEFAULT_SPEC.steps_per_beat)
        self.presets.set_status("Loading the preset…")

        def load() -> tuple[play.ObservedPlayer, str | None]:
            found = None
            try:
                found = play.find_preset(choice)  # a saved preset may have been deleted since
                return play.load_player(found, bar_steps), None
            except (PresetError, CheckpointError) as exc:  # a file gone or broken, or its teacher or planner gone
                fallback = play.find_preset(None) if path is None and choice is not None else None
                if fallback is None or fallback == found:
                    raise
                # The saved choice is broken: say so, and play the default.
                return play.load_player(fallback, bar_steps), f"The saved preset cannot be used: {exc}"

        self.loading = self.jobs.submit("loading the preset", load, on_done=self._preset_loaded, on_error=self._preset_failed)

    def _preset_loaded(self, loaded: tuple[play.ObservedPlayer, str | None]) -> None:
        player, notice = loaded
        self.player = player
        self.loading = None
        if notice:
            self.notices.show_notice(notice, "warning")
        self.presets.mark_active(player.path)
        self.presets.set_status(f"Style: {player.name} ({player.path.name})")
        if self.settings.preset != str(player.path):
            self._update_settings({"preset": str(player.path)})
            self._take_preset_sound(player)
        session = self.session
        if session is not None and session.engine.player is not player:
            old = session.engine.player
            if isinstance(old, play.ObservedPlayer):
                player.lead[:], player.accomp[:] = old.lead, old.accomp
                player.take_setup(old)  # the chart and the key it was told go on
            session.set_player(player)
            self.playing.show_playing(session)

    def _preset_failed(self, exc: BaseException) -> None:
        self.loading = None
        now = f" Still playing: {self.player.name}." if self.player is not None else ""
        if isinstance(exc, AccompError):
            self.notices.show_notice(f"The preset cannot be used: {exc}.{now}", "error")
        else:
            report_unexpected(self, exc, "loading the preset")
        self.presets.set_status(now.strip() or "No preset loaded: choose one in the list, or distil one.")
        self.presets.mark_active(self.player.path if self.player else None)

    def open_distill(self) -> None:
        from accomp.gui.distill_dialog import DistillDialog

        if self.distill_dialog is None:
            self.distill_dialog = DistillDialog(self)
            self.distill_dialog.preset_ready.connect(self._distilled)
            self.distill_dialog.failed.connect(lambda message: self.notices.show_notice(message, "error"))
        self.distill_dialog.show()
        self.distill_dialog.raise_()

    def _distilled(self, path: Path, metrics: dict) -> None:
        self.notices.show_notice(f"New preset '{path.stem}' is ready: choose it in the list.", "info")
        self.refresh_presets(select=self.player.path if self.player else None)

    # ------------------------------------------------------------------ playing (accomp.gui.playing)

    @property
    def session(self):
        """The LiveSession while playing, else None."""
        return self.playing.session

    @session.setter
    def session(self, session) -> None:
        self.playing.session = session

    @property
    def take(self) -> play.Take | None:
        return self.playing.take

    @property
    def last_summary(self) -> dict | None:
        return self.playing.last_summary

    def _tick(self) -> None:
        self.playing.tick()

    # ------------------------------------------------------------------ quitting

    def closeEvent(self, event) -> None:
        self.timer.stop()
        QApplication.instance().removeEventFilter(self.keys)
        if self.distill_dialog is not None:
            self.distill_dialog.stop_for_quit()
        session, self.session = self.session, None
        if session is not None:
            self.playing.last_summary = self.jobs.run_now(play.stop_live, session)
        self.save_settings()
        self.jobs.shutdown()
        self.collector.stop()
        super().closeEvent(event)

