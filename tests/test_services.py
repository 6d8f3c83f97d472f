"""The session services of conftest.py start and answer (DESIGN §8: testing without hardware)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# Each check runs in a fresh interpreter: PortAudio and JACK clients look for the server
# when they are opened, so a child started after the server sees it.
SOUNDDEVICE_HOST_APIS = "import sounddevice as sd; print([h['name'] for h in sd.query_hostapis()])"
RTMIDI_JACK_PORT = """
import rtmidi
midi_out = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="accomp-test")
midi_out.open_virtual_port("out")
midi_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="accomp-test-in")
print(midi_in.get_ports())
midi_out.close_port()
"""
QT_XCB_SCREEN = """
from PySide6.QtGui import QGuiApplication
app = QGuiApplication([])
size = app.primaryScreen().size()
print(app.platformName(), size.width(), size.height())
"""


def _python(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_jack_server_runs_the_dummy_driver(jack_server):
    lsp = subprocess.run([shutil.which("jack_lsp")], env=jack_server.env(), capture_output=True, text=True, timeout=10)
    assert lsp.returncode == 0, lsp.stderr
    assert {"system:capture_1", "system:playback_1"} <= set(lsp.stdout.split())
    assert os.environ["JACK_DEFAULT_SERVER"] == jack_server.name


def test_sounddevice_and_rtmidi_reach_the_jack_server(jack_server):
    assert "JACK Audio Connection Kit" in _python(SOUNDDEVICE_HOST_APIS, jack_server.env())
    assert "accomp-test:out" in _python(RTMIDI_JACK_PORT, jack_server.env())


def test_xvfb_display_serves_qt_xcb(xvfb_display):
    assert os.environ["DISPLAY"] == xvfb_display
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    assert _python(QT_XCB_SCREEN, env).split() == ["xcb", "1280", "800"]
