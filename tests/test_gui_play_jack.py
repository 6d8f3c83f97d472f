"""The window plays through a JACK dummy server: devices chosen in the panel (and a test
tone), the computer keyboard as the lead, a tempo change, a preset switch while playing with
no stuck note, panic, record and export.

No stuck note at the switch: in the take's recording, every accompaniment note the old
preset started ends by the moment of the switch (and every note started before panic ends
with it); after the stop, neither the engine nor the synth has a note sounding. A test client receives the accompaniment on its MIDI input.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys

import mido
import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("tinysoundfont")

from PySide6.QtCore import Qt  # noqa: E402

from accomp.devices.audio import refresh, release  # noqa: E402
from gui_support import WAIT_MS, fresh_config, notice_with, open_window, presets, write_settings  # noqa: E402,F401

MONITOR = "accomp-gui-test"


@pytest.fixture(scope="module")
def jack(jack_server):
    refresh()
    yield jack_server
    release()


# The monitor runs in a process of its own: a python-rtmidi JACK input in the app's process
# receives garbled bursts (repeats of an earlier message) although the right bytes were sent.
MONITOR_CODE = """
import json, sys, rtmidi
port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=sys.argv[1])
port.open_virtual_port("in")
got = []
port.set_callback(lambda event, data=None: got.append(event[0]))
print("ready", flush=True)
for _ in sys.stdin:  # each line asks for everything received so far
    print(json.dumps(got), flush=True)
"""


class MidiMonitor:
    """A MIDI input port on the JACK server, in a separate process, recording what it receives."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", MONITOR_CODE, MONITOR], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
        ready = self._line()
        assert ready == "ready", ready

    def _line(self) -> str:
        if not select.select([self.proc.stdout], [], [], WAIT_MS / 1000)[0]:
            raise AssertionError("the MIDI monitor did not answer")
        return self.proc.stdout.readline().strip()

    def received(self) -> list[list[int]]:
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


@pytest.fixture()
def midi_monitor(jack):
    monitor = MidiMonitor(jack.env())
    yield monitor
    monitor.close()


def choose(combo, text_part: str) -> None:
    """Pick the entry whose text contains ``text_part``, as a user would."""
    for i in range(combo.count()):
        if text_part.lower() in combo.itemText(i).lower():
            combo.setCurrentIndex(i)
            return
    raise AssertionError(f"no '{text_part}' in {[combo.itemText(i) for i in range(combo.count())]}")


def accomp_notes(midi: mido.MidiFile) -> list[tuple[int, int, int]]:
    """(start tick, end tick, pitch) of every note in the recording's accompaniment track."""
    track = next(t for t in midi.tracks if t.name == "accomp")
    now, started, notes = 0, {}, []
    for message in track:
        now += message.time
        if message.type == "note_on" and message.velocity > 0:
            started[message.note] = now
        elif message.type in ("note_on", "note_off") and message.note in started:
            notes.append((started.pop(message.note), now, message.note))
    return notes


def press(qtbot, window, key: Qt.Key) -> None:
    qtbot.keyPress(window.roll, key)
    qtbot.keyRelease(window.roll, key)


def test_play_switch_preset_record_and_export(qtbot, jack, midi_monitor, fresh_config, presets, tmp_path, monkeypatch):
    write_settings(preset=str(presets["tiny-pop"]), tempo=240, count_in=0, record=True)
    window = open_window(qtbot)
    panel = window.device_panel
    window.rescan()  # the monitor port opened after PortAudio started: scan again
    qtbot.waitUntil(lambda: not window.jobs.busy() and panel.midi_out.count() > 1, timeout=WAIT_MS)
    choose(panel.host_api, "JACK")
    choose(panel.audio_out, "system")
    choose(panel.buffer, "128")
    panel.tone_button.click()  # a test tone on the chosen output
    qtbot.waitUntil(lambda: "Test tone played on system" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    choose(panel.audio_in, "system")
    choose(panel.midi_api, "JACK")
    choose(panel.midi_in, "computer keyboard")
    choose(panel.midi_out, MONITOR)
    assert window.settings.host_api.startswith("JACK") and window.settings.midi_out.startswith(MONITOR)
    assert "2.7 ms" in panel.latency.text()

    qtbot.keyClick(window.roll, Qt.Key.Key_Space)  # play
    qtbot.waitUntil(lambda: window.session is not None, timeout=WAIT_MS)
    session = window.session
    assert not panel.host_api.isEnabled()  # devices are chosen while stopped
    engine = session.engine
    qtbot.waitUntil(lambda: engine.metrics().steps >= 16, timeout=WAIT_MS)
    for key in (Qt.Key.Key_A, Qt.Key.Key_D, Qt.Key.Key_G):
        press(qtbot, window, key)
    qtbot.waitUntil(lambda: engine.lead_notes >= 3, timeout=WAIT_MS)
    window.mixer.rows["accomp"]["volume"].setValue(50)  # heard from the next block
    assert session.synth._volume[session.synth.part_index("accomp")] == 0.5
    window.transport.tempo.setValue(200)
    qtbot.waitUntil(lambda: engine.transport.tempo == 200, timeout=WAIT_MS)
    monitor = session.input_monitor  # the input's waveform: its one reader is the window's timer
    qtbot.waitUntil(lambda: monitor._r > monitor.capacity, timeout=WAIT_MS)

    transport = engine.transport
    asked = session.clock.now()
    window.presets.chosen.emit(presets["tiny-chorale"])  # switch while playing
    qtbot.waitUntil(lambda: getattr(engine.player, "path", None) == presets["tiny-chorale"], timeout=WAIT_MS)
    switched = session.clock.now() + engine.lookahead  # the switch (and its note-offs) came before
    steps_at_switch = engine.metrics().steps
    qtbot.waitUntil(lambda: engine.metrics().steps >= steps_at_switch + 16, timeout=WAIT_MS)
    assert window.presets.list.currentItem() is window.presets.item_for(presets["tiny-chorale"])
    assert window.statusBar().currentMessage().startswith(f"Playing {window.player.name} on")  # the new preset's name
    assert "tiny-pop" not in window.statusBar().currentMessage()
    session.notices.append("MIDI input 'keys' went away: its notes were let go")  # as the session's watch says it
    window._tick()
    assert notice_with(window, "MIDI input 'keys' went away")  # the session's notices reach the window
    session.midi_in = type("Port", (), {"port_name": "keys"})()  # the input it watched (here the computer keyboard)
    session.notices.append("MIDI input 'keys' is back")
    window._tick()
    assert not notice_with(window, "MIDI input 'keys' went away")  # plugged in again: the warning goes
    assert "is back" in window.statusBar().currentMessage()
    session.midi_in = None
    assert window.transport.big_beat[1].text().count(".") == 1
    assert window.roll.image.image.max() > 0  # the piano roll shows notes
    assert "steps" in window.latency.stats.text() and "xruns" in window.latency.stats.text()
    assert "model look-ahead 0 steps" in window.latency.stats.text()  # the student's delay, read off its mask
    panic_asked = session.clock.now()
    window.transport.panic_button.click()
    qtbot.waitUntil(lambda: not session._panic, timeout=WAIT_MS)  # the engine's thread took it
    panicked = session.clock.now() + engine.lookahead

    qtbot.keyClick(window.roll, Qt.Key.Key_Space)  # stop
    qtbot.waitUntil(lambda: window.device_panel.host_api.isEnabled(), timeout=WAIT_MS)
    assert session.synth.sounding() == 0 and engine.metrics().accomp_sounding == 0
    assert window.last_summary["error"] is None
    heard = midi_monitor.received()  # the accompaniment reached the MIDI output too
    assert sum(1 for m in heard if m[0] == 0x91 and m[2] > 0) > 0

    # No stuck note at the switch: every note the old preset started ended by the switch.
    midi = mido.MidiFile(window.take.midi)
    tick = lambda sample: round(transport.beats_since_origin(sample) * midi.ticks_per_beat)  # noqa: E731
    notes = accomp_notes(midi)
    old = [n for n in notes if n[0] < tick(asked)]
    new = [n for n in notes if n[0] > tick(switched)]
    assert old and new
    assert max(end for _, end, _ in old) <= tick(switched), [n for n in old if n[1] > tick(switched)]
    assert sum(1 for _, end, _ in old if end > tick(asked)) > 0, "some notes were still sounding when asked"
    before_panic = [n for n in notes if n[0] < tick(panic_asked)]  # panic: every note ended at once
    assert max(end for _, end, _ in before_panic) <= tick(panicked), [n for n in before_panic if n[1] > tick(panicked)]

    assert window.transport.export_button.isEnabled()
    target = tmp_path / "exported"
    monkeypatch.setattr("accomp.gui.export.QFileDialog.getSaveFileName", lambda *a, **k: (str(target) + ".mid", ""))
    window.transport.export_button.click()
    midi = mido.MidiFile(target.with_suffix(".mid"))
    assert [t.name for t in midi.tracks] == ["conductor", "lead", "accomp"]
    lead = [m.note for m in midi.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert sorted(lead) == [60, 64, 67]  # pressed within a millisecond: they may share a tick, in any order
    assert target.with_suffix(".wav").stat().st_size > 44
    assert notice_with(window, "Exported")
