"""`accomp play` with no MIDI keyboard plays the terminal's keys, on a JACK server.

The app runs with a pseudo-terminal as its standard input on a fresh JACK server that has
no MIDI port to open; the test types a few keys into it, stops it with Ctrl+C (SIGINT) and
then checks what the app said, the lead it recorded (each typed note, each ended after an
eighth note or at the next key), that every accompaniment note-on a listener heard on its
MIDI output got its note-off, and that the terminal has its settings back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import termios
import threading
from pathlib import Path

import mido
import pytest

from app_process import busy_preset, jack_ports, left_sounding, read_line
from jack_player import LISTENER

pytest.importorskip("tinysoundfont")

TEMPO = 120.0  # an eighth note: a quarter of a second
PAUSE_S = 0.5  # longer than an eighth: the note has ended by itself
# (keys, then seconds before the next): C, D then E at once (D ends at E), the C an octave up
TYPED = [(b"a", PAUSE_S), (b"s", 0.1), (b"d", PAUSE_S), (b"xa", 0.05)]
PITCHES = [60, 62, 64, 72]


def midi_ports(jack) -> list[str]:
    ports = subprocess.run(["jack_lsp", "-t"], env=jack.env(), capture_output=True, text=True, timeout=10).stdout.splitlines()
    return [name for name, kind in zip(ports, ports[1:]) if "midi" in kind]


def lead_notes(path: Path) -> list[tuple[int, float, float]]:
    """(pitch, start, end) in beats of the recorded lead track; a note-on without a note-off
    makes this fail."""
    midi = mido.MidiFile(path)
    track = next(t for t in midi.tracks if t.name == "lead")
    notes, sounding, tick = [], {}, 0
    for m in track:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0:
            sounding[m.note] = tick
        elif m.type in ("note_on", "note_off"):
            notes.append((m.note, sounding.pop(m.note) / midi.ticks_per_beat, tick / midi.ticks_per_beat))
    assert not sounding
    return sorted(notes, key=lambda n: n[1])


def test_play_without_a_midi_keyboard_plays_the_terminals_keys(jack_sync_server, tmp_path):
    jack = jack_sync_server
    assert not [p for p in midi_ports(jack) if not p.startswith(LISTENER)], "the server has a MIDI port the app could open"
    preset = busy_preset(tmp_path)
    listener = subprocess.Popen([sys.executable, str(Path(__file__).with_name("jack_player.py")), "listen"], env=jack.env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    parent, child = os.openpty()
    before = termios.tcgetattr(child)
    app = None
    try:
        assert listener.stdout.readline().strip() == "ready", listener.stderr.read()[-2000:]
        ports = set(jack_ports(jack))
        cmd = [sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--midi-out-virtual", "band",
               "--midi-api", "jack", "--host-api", "JACK", "--tempo", f"{TEMPO:g}", "--count-in", "0", "--no-click",
               "--no-synth", "--duration", "120", "--threads", "1", "--record", str(tmp_path / "take")]  # fmt: skip
        app = subprocess.Popen(cmd, env={**jack.env(), "OMP_NUM_THREADS": "1"}, stdin=child, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
        said = read_line(app.stderr, "accomp: playing", timeout=120)
        outs = [p for p in jack_ports(jack) if p not in ports and p.endswith(":band")]
        assert len(outs) == 1, (jack_ports(jack), said)
        subprocess.run(["jack_connect", outs[0], f"{LISTENER}:band"], env=jack.env(), check=True, capture_output=True, timeout=10)
        for keys, pause in TYPED:
            os.write(parent, keys)
            threading.Event().wait(pause)
        app.send_signal(signal.SIGINT)
        out, err = app.communicate(timeout=60)
        listener.stdin.write("drain\n")
        listener.stdin.flush()
        messages = json.loads(listener.stdout.readline())
        listener.wait(timeout=30)
        after = termios.tcgetattr(child)
    finally:
        for proc in (app, listener):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(10)
        os.close(parent)
        os.close(child)
    said += err.decode(errors="replace")
    assert app.returncode == 0 or (app.returncode == 1 and "audio device stopped responding" in said), said[-3000:]
    assert "no MIDI keyboard found: playing the terminal's keys" in said and "from the terminal's keys" in said, said
    summary = json.loads(out)
    assert summary["midi_in"] == {"port": "the terminal's keys", "received": len(PITCHES), "ignored": 0}
    notes = lead_notes(tmp_path / "take.mid")
    assert [pitch for pitch, _, _ in notes] == PITCHES
    eighth = 0.5  # beats
    for (pitch, start, end), nxt in zip(notes, notes[1:] + [None]):
        ends_at = min(start + eighth, nxt[1]) if nxt is not None else None
        assert end <= start + eighth + 0.01, (pitch, start, end)
        if ends_at is not None:
            assert abs(end - ends_at) <= 0.01, (pitch, start, end, ends_at)
    assert sum(1 for m in messages if m[0] & 0xF0 == 0x90 and m[2] > 0) > 0  # the band played
    assert left_sounding(messages) == set()
    assert after == before
