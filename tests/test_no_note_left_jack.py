"""Nothing left sounding: a flood into `accomp play` over JACK, then Ctrl+C, five times.

A player plays phrases in changing keys, then a flood (10,000 MIDI messages a second,
sysex mixed in), then a few more phrases into the app's MIDI input; a listener records what
the app sends from its virtual MIDI output (both in ``jack_player.py``, a process of their
own). After the app is stopped with SIGINT (in two of the runs with what a closed terminal
or `kill` sends, SIGHUP or SIGTERM, which do what Ctrl+C does), every accompaniment note-on the listener saw
must have had its note-off, and every channel the app used must have ended with sustain off
(CC64=0) and All Notes Off (CC123). Every other run has the rhythm section on (bass and drums
on their own channels), so theirs are counted too.

The server runs in JACK's synchronous mode (``jack_sync_server``): in the default mode a
client late for its cycle on a loaded machine can lose or garble MIDI in transit, which
would fail this test for JACK's sake, not the app's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from accomp.music.bass import BASS_CHANNEL
from accomp.music.drums import DRUM_CHANNEL
from accomp.realtime.notes import CC_ALL_NOTES_OFF, CC_SUSTAIN, CONTROL, NOTE_ON
from app_process import busy_preset, jack_ports, left_sounding, read_line
from jack_player import FLOOD_PER_S, FLOOD_S, LISTENER, PLAYER

pytest.importorskip("tinysoundfont")

RUNS = 5
STOPPED_BY = {3: signal.SIGTERM, 4: signal.SIGHUP}  # the other runs: SIGINT, Ctrl+C


def as_at_a_terminal() -> None:
    """In the app's process before it starts: Ctrl+C and a closed terminal do their default."""
    for signum in (signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    return busy_preset(tmp_path_factory.mktemp("no-note-left"))


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


@pytest.mark.parametrize("run", range(RUNS))
def test_a_flood_then_ctrl_c_leaves_no_note_on(jack_sync_server, preset, run):
    jack = jack_sync_server
    client = subprocess.Popen([sys.executable, str(Path(__file__).with_name("jack_player.py")), str(run)], env=jack.env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    app = None
    try:
        assert client.stdout.readline().strip() == "ready", client.stderr.read()[-2000:]
        before = set(jack_ports(jack))
        cmd = [sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--midi-in", f"{PLAYER}:keys",
               "--midi-out-virtual", "band", "--midi-api", "jack", "--host-api", "JACK", "--tempo", "120",
               "--count-in", "0", "--no-click", "--no-synth", "--duration", "120", "--threads", "1"]  # fmt: skip
        cmd += ["--bass", "--drums", "rock"] if run % 2 else []
        # Ctrl+C and a closed terminal as at a terminal even when this run inherited SIGINT
        # ignored (a shell's background job: Python then installs no KeyboardInterrupt handler
        # in the app) or SIGHUP ignored (nohup: the app then keeps it ignored, as it should).
        app = subprocess.Popen(cmd, env={**jack.env(), "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=as_at_a_terminal)  # fmt: skip
        said = read_line(app.stderr, "accomp: playing", timeout=120)
        outs = [p for p in jack_ports(jack) if p not in before and p.endswith(":band")]
        assert len(outs) == 1, (jack_ports(jack), said)
        subprocess.run(["jack_connect", outs[0], f"{LISTENER}:band"], env=jack.env(), check=True, capture_output=True, timeout=10)
        client.stdin.write("play\n")
        client.stdin.flush()
        sent = int(client.stdout.readline().split()[-1])
        app.send_signal(STOPPED_BY.get(run, signal.SIGINT))
        _, err = app.communicate(timeout=60)
        # The app closed its port after its last messages left it: they are all in the queue.
        client.stdin.write("drain\n")
        client.stdin.flush()
        messages = json.loads(client.stdout.readline())
        client.wait(timeout=30)
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait(10)
        if client.poll() is None:
            client.kill()
            client.wait(10)
    said = err.decode(errors="replace")
    # A machine so busy that the app's audio callback starved for half a second ends the
    # play as a device failure (exit 1): its stop must still leave nothing sounding.
    assert app.returncode == 0 or (app.returncode == 1 and "audio device stopped responding" in said), said[-3000:]
    notes = sum(1 for m in messages if m[0] & 0xF0 == NOTE_ON and m[2] > 0)
    assert sent >= FLOOD_S * FLOOD_PER_S * 0.9 and notes > 0
    assert left_sounding(messages) == set(), f"run {run}: notes left on out of {notes}"
    used = {m[0] & 0x0F for m in messages if m[0] < 0xF0}
    assert ended_channels(messages) == used
    if run % 2:
        assert {BASS_CHANNEL, DRUM_CHANNEL} <= used
