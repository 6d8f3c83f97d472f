"""The window's listening panel: input source, follow/lead switch, gain, gate, what to hear,
and live the level meter, the input's state, the pitch heard and the player's tempo.

The controls change the settings (saved and restored) and the LiveSettings of the next
play; while playing, they go to the session at once (a stand-in that records the calls).
The live readouts are fed by the real analysis (a :class:`Listener`'s analyser) with silence
and with a note rendered through the SoundFont synth; and, through a JACK dummy server, by a
real session listening to an input that carries nothing.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from accomp.engine.live import INPUTS  # noqa: E402
from accomp.errors import DeviceError  # noqa: E402
from accomp.gui import player as play  # noqa: E402
from accomp.gui.settings import INPUT_SOURCES, LISTEN_MODES, SILENCE, Settings, load_settings, save_settings  # noqa: E402
from accomp.listen.analyzer import MODES, ListenSettings  # noqa: E402
from accomp.listen.follow import SILENCE as FOLLOW_SILENCE  # noqa: E402
from accomp.listen.follow import FollowSettings  # noqa: E402
from gui_support import WAIT_MS, fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401

SR = 48000
BLOCK = 128


def test_settings_choices_are_the_engines():
    assert INPUT_SOURCES == INPUTS and SILENCE == FOLLOW_SILENCE and LISTEN_MODES == MODES


def test_live_settings_follow_the_settings():
    live = play.live_settings(Settings())
    assert live.input == "midi" and live.follow is None and live.listen == ListenSettings()
    s = Settings(audio_in="system", input_source="both", follow=True, follow_silence="hold",
                 input_gain_db=12.0, gate_db=-40.0, listen_mode="chords")  # fmt: skip
    live = play.live_settings(s)
    assert live.input == "both" and live.audio.input_device == "system"
    assert live.follow == FollowSettings(silence="hold")
    assert (live.listen.gain_db, live.listen.gate_db, live.listen.mode) == (12.0, -40.0, "chords")
    with pytest.raises(DeviceError, match="needs an audio input"):
        play.live_settings(Settings(input_source="audio"))


def test_listening_settings_round_trip_and_old_files_take_defaults(fresh_config):
    s = Settings(input_source="audio", follow=True, follow_silence="stop", input_gain_db=-6.0, gate_db=-62.0,
                 listen_mode="melody")  # fmt: skip
    save_settings(s)
    assert load_settings() == (s, None)
    write_settings(tempo=90)  # a file from before listening existed
    loaded, notice = load_settings()
    assert notice is None and loaded == Settings(tempo=90.0)
    write_settings(input_source="guitar")
    loaded, notice = load_settings()
    assert loaded == Settings() and "input source 'guitar'" in notice


def test_controls_change_the_next_play_and_are_restored(qtbot, fresh_config, presets):
    write_settings(preset=str(presets["tiny-pop"]), audio_in="system")
    window = open_window(qtbot)
    panel = window.listen
    assert panel.source.currentData() == "midi" and panel.lead_button.isChecked()
    assert panel.status.text() == "stopped" and panel.follow_state.text() == "the band leads"
    panel.source.setCurrentIndex(panel.source.findData("both"))
    panel.follow_button.click()
    panel.silence.setCurrentIndex(panel.silence.findData("hold"))
    panel.gain.setValue(9)
    panel.gate.setValue(-44)
    panel.listen_mode.setCurrentIndex(panel.listen_mode.findData("melody"))
    assert panel.follow_state.text() == "the band follows you"
    live = play.live_settings(window.settings)
    assert live.input == "both" and live.follow == FollowSettings(silence="hold")
    assert (live.listen.gain_db, live.listen.gate_db, live.listen.mode) == (9.0, -44.0, "melody")
    window.close()
    saved, notice = load_settings()
    assert notice is None and (saved.input_source, saved.follow, saved.follow_silence) == ("both", True, "hold")
    again = open_window(qtbot)
    p = again.listen
    assert p.source.currentData() == "both" and p.follow_button.isChecked() and p.silence.currentData() == "hold"
    assert (p.gain.value(), p.gate.value(), p.listen_mode.currentData()) == (9.0, -44.0, "melody")


class StandIn:
    """What the window asks of a playing LiveSession, recorded."""

    def __init__(self, player) -> None:
        self.calls: list[tuple] = []
        self.engine = SimpleNamespace(player=player)
        self.midi_in = None
        self.audio = SimpleNamespace(device_name="stand-in")
        self.settings = SimpleNamespace(input="audio")

    def __getattr__(self, name):
        if name.startswith(("set_", "tap")):
            return lambda *args: self.calls.append((name, *args))
        raise AttributeError(name)

    def stop(self) -> None:
        self.calls.append(("stop",))

    def summary(self) -> dict:
        return {"error": None}


def test_switches_while_playing_go_to_the_session(qtbot, fresh_config, presets):
    write_settings(preset=str(presets["tiny-pop"]), audio_in="system", input_source="audio", tempo=100)
    window = open_window(qtbot)
    window.timer.stop()  # the stand-in has no transport to show
    panel, session = window.listen, StandIn(window.player)
    window.transport.set_playing(True)
    window.playing.started(session)
    assert not panel.source.isEnabled()  # the source opens devices: chosen while stopped
    panel.follow_button.click()
    panel.silence.setCurrentIndex(panel.silence.findData("stop"))
    window.transport.tap_button.click()  # following: the engine's tap tempo takes it
    panel.lead_button.click()
    window.transport.tap_button.click()  # leading: the tempo box's tap tempo, as before
    panel.gain.setValue(20)
    panel.gate.setValue(-30)
    panel.listen_mode.setCurrentIndex(panel.listen_mode.findData("chords"))
    assert session.calls == [
        ("set_follow", FollowSettings(silence="keep")), ("set_follow", FollowSettings(silence="stop")), ("tap",),
        ("set_follow", None), ("set_input_gain", 20.0), ("set_gate", -30.0), ("set_listen_mode", "chords"),
    ]  # fmt: skip
    assert window.settings.follow is False and window.settings.follow_silence == "stop"
    window.transport.set_playing(False)
    window.session = None
    window.listen.set_playing(None)
    assert panel.source.isEnabled() and panel.status.text() == "stopped"


def listener_state(audio: np.ndarray, settings: ListenSettings | None = None):
    """Feed the real analysis ``audio`` block by block; the state a playing session shows."""
    from accomp.listen.live import Listener

    heard = []
    listener = Listener(SR, 1, lambda *e: heard.append(e), settings or ListenSettings(), lambda: None)
    for b in range(0, len(audio), BLOCK):
        listener.analyzer.process(audio[b : b + BLOCK], b)
    return listener.state("audio", "following", 100.0, 96.4), heard


def test_panel_shows_no_signal_then_the_pitch_heard(qtbot, fresh_config):
    pytest.importorskip("tinysoundfont")
    from accomp.gui.listen_panel import ListenPanel
    from accomp.synth.render import render_notes

    panel = ListenPanel()
    qtbot.addWidget(panel)
    panel.set_playing(object())
    state, _ = listener_state(np.zeros(SR // 2, dtype=np.float32))
    panel.show_state(state)
    assert state.status == "no signal" and panel.status.text() == "no signal"
    assert panel.pitch.text() == "–" and panel.level.text() == "–"

    sax = 65  # a held note with a clear pitch
    audio = render_notes([(0.1, 2.0, 69, 100)], 0.8, program=sax)
    state, heard = listener_state(audio)
    panel.show_state(state)
    assert state.status == "signal" and panel.status.text() == "hearing you"
    assert abs(1200 * np.log2(state.pitch_hz / 440.0)) < 50 and state.pitch == "A4"
    assert panel.pitch.text().startswith("A4") and f"{state.pitch_hz:.0f} Hz" in panel.pitch.text()
    assert panel.tempo.text().startswith("96") and panel.follow_state.text() == "following you"
    assert panel.level.text().endswith("dB") and panel.meter.level_db > panel.meter.gate_db

    state, _ = listener_state(audio * 40)  # far too loud
    panel.show_state(state)
    assert state.status == "clipping" and panel.status.text().startswith("clipping")
    assert panel.meter.clipping


def test_window_shows_no_signal_from_a_silent_audio_input(qtbot, jack_server, fresh_config, presets):
    from accomp.devices.audio import refresh, release

    refresh()
    try:
        write_settings(preset=str(presets["tiny-pop"]), host_api="JACK", audio_out="system", audio_in="system",
                       input_source="audio", follow=True, count_in=0)  # fmt: skip
        window = open_window(qtbot)
        window.transport.play.click()
        qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
        assert window.session.settings.input == "audio" and window.session.engine.follower is not None
        qtbot.waitUntil(lambda: window.listen.status.text() == "no signal", timeout=WAIT_MS)
        assert window.listen.pitch.text() == "–" and not notice_with(window, "failed")
        window.transport.play.click()
        qtbot.waitUntil(lambda: window.device_panel.host_api.isEnabled(), timeout=WAIT_MS)
        assert window.last_summary["error"] is None and window.last_summary["listen"]["status"] == "no signal"
        assert window.listen.status.text() == "stopped"
    finally:
        release()
