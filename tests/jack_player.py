"""A player and a listener on a JACK server, in a process of their own, for
test_no_note_left_jack.py (no JACK client of that test's server lives in pytest's process:
libjack does not take well to one process on two servers).

    python tests/jack_player.py SEED
    python tests/jack_player.py listen
    python tests/jack_player.py flood SEED

Opens the player's MIDI output ``accomp-nl-player:keys`` (not with ``listen``: the listener
alone, for test_terminal_keys_jack.py) and the listener's input ``accomp-nl-listener:band``
on ``$JACK_DEFAULT_SERVER``, prints ``ready``, then obeys lines on stdin: ``play`` (phrases
in changing keys, a flood of 10,000 messages a second with sysex mixed in, more phrases;
prints ``sent N``) and ``drain`` (prints every channel message heard as one JSON line,
closes its ports and exits).

``flood``: the player's keys alone, for test_devices_jack.py's flood on the session's own
server: ``play`` floods for ``FLOOD_S`` (prints ``sent N``), end of input closes and exits.
Out of pytest's process because closing a JACK MIDI output that a flood has just filled
crashed that process once (rtmidi's JACK client ends on its own thread).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import numpy as np
import rtmidi

NOTE_OFF, NOTE_ON, CONTROL, CC_SUSTAIN = 0x80, 0x90, 0xB0, 64
PLAYER, LISTENER = "accomp-nl-player", "accomp-nl-listener"
FLOOD_S = 2.0
FLOOD_PER_S = 10_000
QUEUE = 1 << 17  # messages the listener can hold (the app sends about 10,000 a run)
BURST = 50  # messages per burst; a burst every BURST / FLOOD_PER_S seconds
TONICS = (60, 66, 58, 64, 56)  # C F# Bb E Ab: every phrase in a key far from the one before
PHRASE = (0, 4, 7, 11, 12, 7)  # semitones above the tonic, sixteenth notes at 120 bpm


class Listener:
    """Records every channel message the app sends.

    No Python callback: rtmidi's JACK process callback then only queues each message (in
    C++), so this client is never late for a JACK cycle. (A Python callback waits for the
    GIL; a client late for its cycle can read a port buffer the next cycle is overwriting,
    and then records copies of one message in place of others.)
    """

    def __init__(self) -> None:
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


def flood_only(seed: int) -> None:
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=PLAYER)
    keys.open_virtual_port("keys")
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "play":
            print(f"sent {flood(keys, FLOOD_S, np.random.default_rng(seed))}", flush=True)
    keys.close_port()
    keys.delete()


def main() -> None:
    if sys.argv[1] == "flood":
        flood_only(int(sys.argv[2]))
        return
    listener = Listener()
    if sys.argv[1] == "listen":
        print("ready", flush=True)
        sys.stdin.readline()
        print(json.dumps(listener.drain()), flush=True)
        listener.close()
        return
    rng = np.random.default_rng(int(sys.argv[1]))
    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=PLAYER)
    keys.open_virtual_port("keys")
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "play":
            play_phrases(keys, TONICS[:3])
            sent = flood(keys, FLOOD_S, rng)
            play_phrases(keys, TONICS[3:])
            print(f"sent {sent}", flush=True)
        elif line.strip() == "drain":
            print(json.dumps(listener.drain()), flush=True)
            break
    keys.close_port()
    keys.delete()
    listener.close()


if __name__ == "__main__":
    main()
