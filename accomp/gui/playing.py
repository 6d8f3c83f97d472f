"""The window's playing session, apart from its widgets: start and stop (the devices open and
close on the window's helper thread), panic, tempo, the computer keyboard's notes, and the
30 Hz read of the engine's snapshots into the views. :class:`Playing` holds the
:class:`~accomp.engine.live.LiveSession` while playing, the last take and the last summary;
:class:`~accomp.gui.main_window.MainWindow` lays out the widgets and wires them to it.
"""

from __future__ import annotations

import logging

from accomp.errors import PresetError
from accomp.gui import player as play
from accomp.gui.settings import KEYBOARD
from accomp.gui.views import recent_key
from accomp.music.chords import chord_name
from accomp.music.keyboard import HELP

log = logging.getLogger("accomp.gui")
# The views' redraw timer (30 Hz): each redraw holds Python's lock, which the audio callback
# needs every few milliseconds, so the heavier views redraw less often (measured with
# benchmarks/gui_stall.py: xruns while playing).
FRAME_MS = 33
WAVE_EVERY = 2  # frames between waveform updates (15 Hz)
LATENCY_EVERY = 3  # frames between latency-view updates
KEY_EVERY = 15  # frames between key estimates


class Playing:
    """What the window plays: its widgets are the window's (``window``), the session is this one's."""

    def __init__(self, window) -> None:
        self.window = window
        self.session = None  # the LiveSession while playing
        self.take: play.Take | None = None  # the last recording
        self.last_summary: dict | None = None  # of the last play
        self.stopping = False
        self.frame = 0  # timer ticks while playing
        self.notices_shown = 0  # of the session's notices (a MIDI keyboard unplugged, back)

    def set_playing(self, on: bool) -> None:
        if on and self.session is None and not self.stopping:
            self._start()
        elif not on and self.session is not None:
            self.stop()

    def _start(self) -> None:
        loading, current = self.window.loading, self.window.player

        def player() -> play.ObservedPlayer:  # on the helper thread, after any load queued before
            if loading is not None and not loading.exception():
                return loading.result()[0]
            if current is None:
                raise PresetError("no style preset is loaded: choose one in the list, or distil one")
            return current

        settings = self.window.settings
        chart = self.window.chords.chart(report=True) if settings.chord_source == "chart" else None
        self.take = play.new_take() if settings.record else None
        self.window.transport.set_playing(True)
        self.window.device_panel.set_playing(True)
        self.window.chords.set_playing(True)
        self.window.chords.playing_chart = chart
        self.window.roll.clear_roll()
        self.window.waveforms.clear_scope()
        self.window.latency.reset()
        self.window.jobs.submit("starting to play", lambda: play.start_live(settings, player(), self.take, chart),
                           on_done=self.started, on_error=self._start_failed)  # fmt: skip

    def started(self, session) -> None:
        self.session = session
        self.notices_shown = 0
        self.window.listen.set_playing(session)
        self.window.transport.taps_to_engine = self.window.settings.follow  # follow mode: taps on the audio clock
        if self.window.player is None or session.engine.player is not self.window.player:
            self.window.player = session.engine.player
        if not self.window.transport.play.isChecked():  # stop was asked while the devices opened
            self.stop()
            return
        self.show_playing(session)

    def show_playing(self, session) -> None:
        """The status line while playing: the preset now playing, the output and the input."""
        where = session.midi_in.port_name if session.midi_in is not None else (
            "the computer keyboard" if self.window.settings.midi_in == KEYBOARD else "no MIDI input")  # fmt: skip
        self.window.show_status(f"Playing {self.window.player.name} on {session.audio.device_name}, from {where}. {HELP}")

    def _start_failed(self, exc: BaseException) -> None:
        self.window.job_failed(exc, "starting to play")
        self.window.transport.set_playing(False)
        self.window.device_panel.set_playing(False)
        self.window.chords.set_playing(False)
        self.take = None

    def stop(self, reason: str | None = None) -> None:
        session, self.session = self.session, None
        self.stopping = True
        self.window.transport.set_playing(False)
        self.window.transport.taps_to_engine = False
        self.window.transport.show_tempo(self.window.settings.tempo)
        self.window.listen.set_playing(None)
        self.window.chords.set_playing(False)
        self.window.keys.release_all()

        def stopped(summary: dict) -> None:
            self.stopping = False
            self.last_summary = summary
            self.window.device_panel.set_playing(False)
            log.info("play summary: %s", summary)
            error = reason or summary.get("error")
            if error:
                self.window.notices.show_notice(f"Playing stopped: {error}", "error")
                self.window.rescan()
            if self.take is not None and self.take.midi.exists():
                self.window.transport.export_button.setEnabled(True)
                self.window.show_status(f"Recorded {self.take.midi.name} and {self.take.wav.name}", 6000)

        def failed(exc: BaseException) -> None:
            self.stopping = False
            self.window.device_panel.set_playing(False)
            self.window.job_failed(exc, "stopping")

        self.window.jobs.submit("stopping", play.stop_live, session, on_done=stopped, on_error=failed)

    def panic(self) -> None:
        self.window.keys.release_all()
        if self.session is not None:
            self.session.panic()

    def tempo_changed(self, bpm: float) -> None:
        self.window._update_settings({"tempo": bpm})
        if self.session is not None:
            self.session.set_tempo(bpm)

    def send_lead(self, status: int, pitch: int, velocity: int) -> None:
        """A note from the computer keyboard: the engine's lead input has no other producer
        then (no MIDI input is open), so the GUI thread may push it."""
        session = self.session
        keyboard = self.window.settings.midi_in == KEYBOARD
        if session is not None and session.midi_in is None and keyboard and session.settings.input != "audio":
            session.engine.receive(session.clock.now(), status, pitch, velocity)

    def export_take(self) -> None:
        from accomp.gui.export import export_take

        if self.take is not None:
            export_take(self.window, self.take, self.window.notices)

    def tick(self) -> None:
        session = self.session
        if session is None:
            return
        if session.ended.is_set():  # a device failed: the engine has stopped itself
            self.stop(session.error or "the audio device stopped")
            return
        while self.notices_shown < len(session.notices):
            from accomp.engine.live import midi_in_back, midi_in_gone

            text = session.notices[self.notices_shown]
            self.notices_shown += 1
            port = session.midi_in.port_name if session.midi_in is not None else ""
            if text == midi_in_back(port):  # the keyboard is plugged in again: its warning goes
                self.window.notices.dismiss(midi_in_gone(port))
                self.window.show_status(text, 4000)
            else:
                self.window.notices.show_notice(text, "warning")
        engine = session.engine
        t = engine.transport
        position = t.position(session.clock.now()) if t.running else None
        self.window.transport.show_position(position, t.steps_per_click, t.steps_per_bar)  # beats as the meter counts them
        player = engine.player if isinstance(engine.player, play.ObservedPlayer) else None
        self.frame += 1
        self.window.roll.update_from(player)
        if self.frame % WAVE_EVERY == 0:
            self.window.waveforms.update_from(session)
            state = session.listen_state()
            self.window.listen.show_state(state)
            self.window.transport.show_tempo(state.tempo)
        if self.frame % LATENCY_EVERY == 0:  # the latency view: 10 Hz, its figures 3 Hz
            self.window.latency.update_from(session, player, text=self.frame % (3 * LATENCY_EVERY) == 0)
        if player is not None and self.window.chords.playing_chart is not None:
            self.window.chords.show_bar(player.last_step, t.steps_per_bar)
        if player is not None:  # every frame: a chord shown a beat late is a wrong chord
            now, upcoming = player.chords()
            self.window.transport.show_chords("–" if now is None else chord_name(now),
                                         "" if upcoming is None or upcoming == now else f"next {chord_name(upcoming)}")
        if player is not None and self.frame % KEY_EVERY == 0:
            key = recent_key(player)
            if key is not None:
                self.window.transport.show_key(key)
