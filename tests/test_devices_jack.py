"""Real devices on a JACK dummy server: sounddevice on its JACK host API, rtmidi on its JACK API.

A test client plays a melody into the app's MIDI input (a virtual port of its own, which
the app opens by name like a hardware port), records the app's audio output (its JACK ports
wired to the client's) and listens to the app's MIDI output. Nothing is mocked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from accomp.engine.engine import Engine, EngineSettings
from accomp.engine.live import LiveSession, LiveSettings
from accomp.realtime.notes import CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF, CC_SUSTAIN, CONTROL, NOTE_OFF, NOTE_ON
from accomp.realtime.rings import AudioRing
from accomp.engine.transport import TransportSettings
from accomp.errors import DeviceError

pytest.importorskip("tinysoundfont")

from accomp.devices.audio import AudioDevice, AudioSettings, refresh, release  # noqa: E402
from accomp.realtime.clock import SampleClock  # noqa: E402
from accomp.synth.soundfont import PartSound  # noqa: E402
from jack_player import FLOOD_S  # noqa: E402
from jack_player import PLAYER as FLOOD_PLAYER  # noqa: E402
from players import Fifth  # noqa: E402

SR = 48000
BLOCK = 128
CLIENT = "accomp-test-client"
MELODY = [72, 74, 76, 77, 79, 81]  # the end-to-end take's melody
SQUARE = 80


@pytest.fixture(scope="module")
def jack(jack_server):
    refresh()  # PortAudio sees only servers running when it started
    yield jack_server
    release()  # before the server stops: PortAudio aborts the process if its server vanished



def jack_ports(jack, *flags: str) -> list[str]:
    done = subprocess.run(["jack_lsp", *flags], env=jack.env(), capture_output=True, text=True, timeout=10)
    return done.stdout.split()


def jack_connect(jack, source: str, dest: str, connect: bool = True) -> None:
    cmd = "jack_connect" if connect else "jack_disconnect"
    subprocess.run([cmd, source, dest], env=jack.env(), check=True, capture_output=True, timeout=10)


def pace(seconds: float) -> None:
    """Let musical time pass (pacing the melody; nothing is being waited for)."""
    threading.Event().wait(seconds)


def test_accomp_devices_lists_the_jack_host_api_and_midi_ports(jack):
    done = subprocess.run([sys.executable, "-m", "accomp", "devices", "--json"], env=jack.env(),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    jack_api = [a for a in found["audio"] if "JACK" in a["host_api"]]
    assert jack_api and jack_api[0]["devices"][0]["outputs"] >= 2
    midi = {a["api"]: a for a in found["midi"]}
    assert "unavailable" not in midi["Jack"]
    plain = subprocess.run([sys.executable, "-m", "accomp", "devices"], env=jack.env(),
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "JACK Audio Connection Kit" in plain.stdout and "MIDI" in plain.stdout


def test_device_errors_are_one_line(jack):
    clock = SampleClock(SR, BLOCK)
    cases = [
        AudioSettings(host_api="JACK", output_device="no-such-device"),
        AudioSettings(host_api="JACK", sample_rate=44100),  # the server runs at 48 kHz
        AudioSettings(host_api="no-such-api"),
    ]
    for settings in cases:
        with pytest.raises(DeviceError) as err:
            AudioDevice(settings, clock, None).open()
        assert "\n" not in str(err.value)
    from accomp.devices.midi import MidiInput, midi_api

    with pytest.raises(DeviceError, match="no MIDI input port matching"):
        MidiInput(lambda *a: None, clock, port="no-such-port", api=midi_api("jack"))
    with pytest.raises(DeviceError, match="no MIDI API"):
        midi_api("no-such-api")


def record_sent(output) -> list[list[int]]:
    """What ``output`` (a started MidiOutput) hands to rtmidi from now on, in order."""
    sent: list[list[int]] = []
    client = output._client
    send = client.send_message

    class Recording:
        def __getattr__(self, name):
            return getattr(client, name)

        def send_message(self, message):
            sent.append(list(message))
            send(message)

    output._client = Recording()
    return sent


@dataclass
class Take:
    """What one played take left: the engine, the session, what it sent and what was heard."""

    engine: Engine
    session: LiveSession
    sent: list[list[int]]
    received: list[list[int]]
    heard: AudioRing
    folder: Path


def play_take(jack, folder: Path) -> Take:
    """Play a melody into the app over JACK MIDI, record what it sends and sounds."""
    folder.mkdir()
    import rtmidi
    import sounddevice as sd

    keyboard = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=CLIENT)
    keyboard.open_virtual_port("keys")
    # No Python callback: rtmidi queues what arrives in C++, so this client is never late for
    # a JACK cycle waiting for the GIL (a late client can read a port buffer the next cycle
    # is overwriting, and records garbled MIDI); read after the stop.
    synth_in = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=f"{CLIENT}-thru", queue_size_limit=1 << 14)
    synth_in.open_virtual_port("in")
    received: list[list[int]] = []

    transport = TransportSettings(tempo=120, count_in_bars=0, click=False)
    engine = Engine(EngineSettings(transport=transport), Fifth())
    parts = (PartSound("lead", 0, mute=True), PartSound("accomp", 1, program=SQUARE), PartSound("click", 9, drums=True))
    settings = LiveSettings(
        audio=AudioSettings(host_api="JACK", sample_rate=SR, block_frames=BLOCK),
        midi_in=f"{CLIENT}:keys", midi_out=f"{CLIENT}-thru:in", midi_api="jack",
        record_midi=str(folder / "take.mid"), record_wav=str(folder / "take.wav"),
    )  # fmt: skip
    session = LiveSession(engine, settings, parts=parts)
    heard = AudioRing(SR * 30, 2)
    listener = None
    try:
        before = set(jack_ports(jack, "-p"))
        session.start()
        sent = record_sent(session.midi_out)
        app_outs = [p for p in jack_ports(jack) if p not in before and ":out_" in p]
        listener = sd.InputStream(samplerate=SR, blocksize=BLOCK, channels=2, dtype="float32",
                                  callback=lambda indata, frames, t, status: heard.write(indata))  # fmt: skip
        listener.start()
        listener_ins = [p for p in jack_ports(jack) if p not in before and ":in_" in p]
        assert len(app_outs) == 2 and len(listener_ins) == 2, jack_ports(jack)
        for src, dst in zip(app_outs, listener_ins):
            for capture in jack_ports(jack):
                if capture.startswith("system:capture"):
                    subprocess.run(["jack_disconnect", capture, dst], env=jack.env(), capture_output=True, timeout=10)
            jack_connect(jack, src, dst)
        pace(0.3)
        for pitch in MELODY:  # quarter notes at 120 bpm, each held for an eighth
            keyboard.send_message([NOTE_ON, pitch, 100])
            keyboard.send_message([0xF0, 0x7E, 0x7F, 0x06, 0x01, 0xF7])  # sysex: ignored
            pace(0.25)
            keyboard.send_message([NOTE_OFF, pitch, 0])
            pace(0.25)
        keyboard.send_message([NOTE_ON, 84, 100])  # a note-off that never comes
        keyboard.send_message([NOTE_ON | 0, 86, 100])
        keyboard.send_message([NOTE_ON | 0, 86, 0])  # velocity 0: a note-off
        pace(0.4)
        assert session.synth.sounding() >= 1
        session.panic()
        pace(0.1)
        assert session.synth.sounding() == 0
        keyboard.send_message([NOTE_ON, 88, 100])  # plays on after the panic, never released
        pace(0.4)
    finally:
        session.stop()
        pace(0.2)  # the listener records the silence after the stop
        if listener is not None:
            listener.close()
        keyboard.close_port()
        keyboard.delete()
        while (event := synth_in.get_message()) is not None:
            received.append(event[0])
        synth_in.close_port()
        synth_in.delete()

    return Take(engine, session, sent, received, heard, folder)


def test_live_play_end_to_end(jack, tmp_path):
    # A message can be lost in transit on JACK's default asynchronous server when a client is
    # late for its cycle (this machine runs JACK without real-time scheduling; CI lost one
    # lead message in ~40 full runs). So a take whose claims fail while the server logged a
    # late client is played again, once; a take that fails with every client on time fails.
    for attempt in range(2):
        logged = jack.log.stat().st_size
        take = play_take(jack, tmp_path / f"take{attempt}")
        with jack.log.open("rb") as log:
            log.seek(logged)
            late = b"was not finished" in log.read()
        try:
            check_take(take)
            return
        except AssertionError as failed:
            if attempt or not late:
                raise
            print(f"take played again: a client was late on the server and {failed!r}")


def check_take(take: Take) -> None:
    """What a take played into the app must show: every message counted, the answers where
    they were scheduled, the same heard through JACK, every note ended, the recording."""
    engine, session, sent, received, heard = take.engine, take.session, take.sent, take.received, take.heard
    summary = session.summary()
    assert session.error is None
    assert summary["midi_in"]["received"] == 2 * len(MELODY) + 4  # the sysex never reached the engine
    assert session.synth.sounding() == 0

    # The app's own recording is in its sample clock: each answer starts where it was scheduled.
    scheduled = [int(at) for at in engine.latency.rows()["sounds_at"]]
    with wave.open(str(take.folder / "take.wav")) as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).reshape(-1, 2)
    onsets = onset_samples(audio[:, 0].astype(np.float32) / 32767)
    assert len(onsets) == len(MELODY) + 2, (onsets, scheduled)  # the melody, 84, and 88 after the panic
    for at in scheduled[: len(MELODY)]:
        assert any(0 <= o - at <= 2 for o in onsets), (at, onsets)

    # What the listener heard through JACK: the same notes, then silence.
    got = np.zeros((heard.available(), 2), dtype=np.float32)
    heard.read(got)
    assert len(onset_samples(got[:, 0])) == len(MELODY) + 2
    assert np.abs(got[-SR // 10 :]).max() < 1e-4

    # MIDI out: every note the app sent it ended, then the pedal, all-notes-off, all-sound-off.
    # Checked where the app hands messages to JACK: this listener shares pytest's process and
    # the default, asynchronous server, where a late client can lose a message in transit
    # (one lost note-off in ~20 full runs). That nothing is lost on the wire is the flood
    # test's claim, made on the synchronous server by out-of-process clients
    # (tests/test_no_note_left_jack.py).
    assert len(sent) == session.midi_out.sent >= 2 * len(MELODY)
    on = set()
    for message in sent:
        if message[0] & 0xF0 == NOTE_ON and message[2] > 0:
            on.add(message[1])
        elif message[0] & 0xF0 in (NOTE_ON, NOTE_OFF):
            on.discard(message[1])
    assert on == set()
    assert [m[1] for m in sent if m[0] & 0xF0 == CONTROL][-3:] == [CC_SUSTAIN, CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF]
    assert len(received) >= 2 * len(MELODY) and received[-1] == sent[-1]  # and they reached a JACK client

    import mido

    recorded = mido.MidiFile(take.folder / "take.mid")
    assert [t.name for t in recorded.tracks] == ["conductor", "lead", "accomp"]
    lead_notes = [m.note for m in recorded.tracks[1] if m.type == "note_on" and m.velocity > 0]
    assert lead_notes[: len(MELODY)] == MELODY


def onset_samples(signal: np.ndarray, threshold: float = 0.01, gap: int = SR // 20) -> list[int]:
    """Starts of sounds: the signal crosses ``threshold`` after ``gap`` samples below it."""
    loud = np.flatnonzero(np.abs(signal) > threshold)
    if loud.size == 0:
        return []
    starts = [int(loud[0])] + [int(b) for a, b in zip(loud, loud[1:]) if b - a > gap]
    return starts



def test_a_midi_flood_keeps_the_engine_playing_and_leaves_no_note(jack):
    # The keyboard floods from a process of its own (jack_player.py): 10,000 messages a
    # second for FLOOD_S, notes, velocity 0, pedal and sysex, some notes left on.
    player = subprocess.Popen([sys.executable, str(Path(__file__).with_name("jack_player.py")), "flood", "0"], env=jack.env(),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # fmt: skip
    engine = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False)), Fifth())
    settings = LiveSettings(audio=AudioSettings(host_api="JACK", sample_rate=SR, block_frames=BLOCK),
                            midi_in=f"{FLOOD_PLAYER}:keys", midi_api="jack")  # fmt: skip
    session = LiveSession(engine, settings)
    try:
        assert player.stdout.readline().strip() == "ready"
        session.start()
        callbacks_before = session.audio.callbacks
        player.stdin.write("play\n")
        player.stdin.flush()
        pace(FLOOD_S / 2)
        session.set_tempo(90)
        session.set_player(Fifth())  # a preset switch in the middle of it
        sent = int(player.stdout.readline().split()[1])
        assert session.error is None and session.audio.alive()
        assert session.audio.callbacks - callbacks_before > FLOOD_S * SR // BLOCK // 2  # audio kept running
    finally:
        session.stop()
        player.stdin.close()
        player.wait(timeout=30)
    summary = session.summary()
    assert summary["midi_in"]["received"] > sent // 4  # JACK's MIDI buffer may drop some of a flood
    assert session.synth.sounding() == 0 and summary["engine"]["accomp_sounding"] == 0
    assert session.error is None and engine.transport.tempo == 90


def test_a_key_played_while_the_session_stops_leaves_no_note(jack, monkeypatch):
    # The keyboard's note reaches the app after the engine's last flush has been applied, while
    # the audio device still runs (it closes after it): it must not start a note nothing ends.
    import rtmidi

    name = f"{CLIENT}-late-key"
    keyboard = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
    keyboard.open_virtual_port("keys")
    engine = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False)), Fifth())
    settings = LiveSettings(audio=AudioSettings(host_api="JACK", sample_rate=SR, block_frames=BLOCK),
                            midi_in=f"{name}:keys", midi_api="jack")  # fmt: skip
    session = LiveSession(engine, settings)
    flushes = session._wait_for_flushes

    def a_key_after_the_flush():
        flushes()  # the engine's flush has reached the synth
        seen = session.midi_in.received + session.midi_in.ignored
        keyboard.send_message([NOTE_ON, 72, 100])
        assert until(lambda: session.midi_in.received + session.midi_in.ignored > seen, 3)
        flushes()  # the audio device renders on: a note let through would start now

    monkeypatch.setattr(session, "_wait_for_flushes", a_key_after_the_flush)
    try:
        session.start()
        keyboard.send_message([NOTE_ON, 67, 100])
        assert until(lambda: session.synth.sounding() == 2, 3)
    finally:
        session.stop()
        keyboard.delete()
    assert session.synth.sounding() == 0 and engine.metrics().accomp_sounding == 0
    assert session.error is None


def until(condition, seconds: float) -> bool:
    """Whether ``condition()`` came true within ``seconds`` (looked at every 10 ms)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        pace(0.01)
    return True


def test_a_keyboard_unplugged_with_a_key_down_leaves_no_note_and_is_picked_up_again(jack):
    import rtmidi

    name = f"{CLIENT}-unplug"

    def plug_in():
        keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        keys.open_virtual_port("keys")
        return keys

    keyboard = plug_in()
    engine = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False)), Fifth())
    settings = LiveSettings(audio=AudioSettings(host_api="JACK", sample_rate=SR, block_frames=BLOCK),
                            midi_in=f"{name}:keys", midi_api="jack")  # fmt: skip
    session = LiveSession(engine, settings)
    try:
        session.start()
        keyboard.send_message([NOTE_ON, 67, 100])
        assert until(lambda: session.synth.sounding() == 2, 3)  # the key, and the band's fifth below it
        keyboard.delete()  # unplugged, the key still down: its note-off never comes
        keyboard = None
        assert until(lambda: session.notices, 5), "the unplugged keyboard went unnoticed"
        assert "went away" in session.notices[0] and f"{name}:keys" in session.notices[0]
        assert until(lambda: session.synth.sounding() == 0, 3), "the held key still sounds, or the band still answers it"
        keyboard = plug_in()  # plugged in again
        assert until(lambda: len(session.notices) == 2, 5) and "is back" in session.notices[1]
        keyboard.send_message([NOTE_ON, 64, 100])
        assert until(lambda: session.synth.sounding() == 2, 3)  # heard again, and answered
        assert session.error is None and session.audio.alive()
    finally:
        session.stop()
        if keyboard is not None:
            keyboard.delete()
    assert session.synth.sounding() == 0 and engine.metrics().accomp_sounding == 0
