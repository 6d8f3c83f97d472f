"""Nothing left sounding: a flood into `accomp play` over JACK, then Ctrl+C, five times.

A player client plays phrases in changing keys, then a flood (10,000 MIDI messages a second,
sysex mixed in), then a few more phrases into the app's MIDI input; a listener client
records what the app sends from its virtual MIDI output. After the app is stopped with
SIGINT, every accompaniment note-on the listener saw must have had its note-off, and every
channel the app used must have ended with sustain off (CC64=0) and All Notes Off (CC123).

The server runs in JACK's synchronous mode (``jack_sync_server``): in the default mode a
client late for its cycle on a loaded machine can lose or garble MIDI in transit, which
would fail this test for JACK's sake, not the app's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from accomp.realtime.notes import CC_ALL_NOTES_OFF, CC_SUSTAIN, CONTROL, NOTE_OFF, NOTE_ON
from app_process import busy_preset, clean_up, jack_ports, read_line

pytest.importorskip("tinysoundfont")

PLAYER, LISTENER = "accomp-nl-player", "accomp-nl-listener"
RUNS = 5
FLOOD_S = 2.0
FLOOD_PER_S = 10_000
QUEUE = 1 << 17  # messages the listener can hold (the app sends about 10,000 a run)
BURST = 50  # messages per burst; a burst every BURST / FLOOD_PER_S seconds
TONICS = (60, 66, 58, 64, 56)  # C F# Bb E Ab: every phrase in a key far from the one before
PHRASE = (0, 4, 7, 11, 12, 7)  # semitones above the tonic, sixteenth notes at 120 bpm


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return busy_preset(tmp_path_factory.mktemp("no-note-left"))


class Listener:
    """Records every channel message the app sends.

    No Python callback: rtmidi's JACK process callback then only queues each message (in
    C++), so this client is never late for a JACK cycle. (A Python callback waits for the
    GIL; a client late for its cycle can read a port buffer the next cycle is overwriting,
    and then records copies of one message in place of others.)
    """

    def __init__(self) -> None:
        import rtmidi

        self.client = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=LISTENER, queue_size_limit=QUEUE)
        self.client.ignore_types(sysex=True, timing=True, active_sense=True)
        self.client.open_virtual_port("band")

    def drain(self) -> list[list[int]]:
        messages = []
        while (event := self.client.get_message()) is not None:
            messages.append(event[0])
        return messages

    def close(self) -> None:
        self.client.close_port()
        self.client.delete()


def left_sounding(messages: list[list[int]]) -> set[tuple[int, int]]:
    """(channel, key) of every note-on not followed by its note-off (CC123 does not count)."""
    on: set[tuple[int, int]] = set()
    for m in messages:
        kind, channel = m[0] & 0xF0, m[0] & 0x0F
        if kind == NOTE_ON and len(m) == 3 and m[2] > 0:
            on.add((channel, m[1]))
        elif kind in (NOTE_ON, NOTE_OFF):
            on.discard((channel, m[1]))
    return on


def ended_channels(messages: list[list[int]]) -> set[int]:
    """Channels whose last messages include sustain off and All Notes Off after their last note-on."""
    ended = set()
    for channel in {m[0] & 0x0F for m in messages if m[0] < 0xF0}:
        mine = [m for m in messages if m[0] & 0x0F == channel and m[0] < 0xF0]
        last_on = max((i for i, m in enumerate(mine) if m[0] & 0xF0 == NOTE_ON and m[2] > 0), default=-1)
        after = {(m[1], m[2]) for m in mine[last_on + 1 :] if m[0] & 0xF0 == CONTROL}
        if (CC_SUSTAIN, 0) in after and (CC_ALL_NOTES_OFF, 0) in after:
            ended.add(channel)
    return ended


def play_phrases(keys, tonics) -> None:
    for tonic in tonics:
        for degree in PHRASE:
            keys.send_message([NOTE_ON, tonic + degree, 90])
            threading.Event().wait(0.1)
            keys.send_message([NOTE_OFF, tonic + degree, 0])
            threading.Event().wait(0.025)


def flood(keys, seconds: float, rng: np.random.Generator) -> int:
    """``FLOOD_PER_S`` messages a second: notes (some velocity 0, some left on), pedal, sysex."""
    sent = 0
    bursts = int(seconds * FLOOD_PER_S / BURST)
    gap = BURST / FLOOD_PER_S
    start = time.perf_counter()
    for b in range(bursts):
        for _ in range(BURST // 2):
            pitch = int(rng.integers(36, 96))
            keys.send_message([NOTE_ON, pitch, int(rng.integers(0, 128))])
            roll = rng.random()
            if roll < 0.8:
                keys.send_message([NOTE_OFF, pitch, 0])
            elif roll < 0.9:
                keys.send_message([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7])
            else:
                keys.send_message([CONTROL, CC_SUSTAIN, 127 if roll < 0.95 else 0])
            sent += 2
        left = start + (b + 1) * gap - time.perf_counter()
        if left > 0:
            threading.Event().wait(left)
    return sent


@pytest.mark.parametrize("run", range(RUNS))
def test_a_flood_then_ctrl_c_leaves_no_note_on(jack_sync_server, preset, monkeypatch, run):
    import rtmidi

    jack = jack_sync_server
    monkeypatch.setenv("JACK_DEFAULT_SERVER", jack.name)  # this process's clients too
    listener = Listener()
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=PLAYER)
    keys.open_virtual_port("keys")
    before = set(jack_ports(jack))
    cmd = [sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--midi-in", f"{PLAYER}:keys",
           "--midi-out-virtual", "band", "--midi-api", "jack", "--host-api", "JACK", "--tempo", "120",
           "--count-in", "0", "--no-click", "--no-synth", "--duration", "120", "--threads", "1"]  # fmt: skip
    app = subprocess.Popen(cmd, env={**jack.env(), "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        said = read_line(app.stderr, "accomp: playing", timeout=120)
        outs = [p for p in jack_ports(jack) if p not in before and p.endswith(":band")]
        assert len(outs) == 1, (jack_ports(jack), said)
        subprocess.run(["jack_connect", outs[0], f"{LISTENER}:band"], env=jack.env(), check=True, capture_output=True, timeout=10)
        rng = np.random.default_rng(run)
        play_phrases(keys, TONICS[:3])
        sent = flood(keys, FLOOD_S, rng)
        play_phrases(keys, TONICS[3:])
        app.send_signal(signal.SIGINT)
        _, err = app.communicate(timeout=60)
        # The app closed its port after its last messages left it: they are all in the queue.
        messages = listener.drain()
    finally:
        clean_up(app, keys)
        listener.close()
    said = err.decode(errors="replace")
    # A machine so busy that the app's audio callback starved for half a second ends the
    # play as a device failure (exit 1): its stop must still leave nothing sounding.
    assert app.returncode == 0 or (app.returncode == 1 and "audio device stopped responding" in said), said[-3000:]
    notes = sum(1 for m in messages if m[0] & 0xF0 == NOTE_ON and m[2] > 0)
    assert sent >= FLOOD_S * FLOOD_PER_S * 0.9 and notes > 0
    assert left_sounding(messages) == set(), f"run {run}: notes left on out of {notes}"
    used = {m[0] & 0x0F for m in messages if m[0] < 0xF0}
    assert ended_channels(messages) == used
