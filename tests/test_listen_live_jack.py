"""Listening end to end on a JACK dummy server: a guitar played into the app's audio input.

A test client (a duplex PortAudio stream of this process, with JACK ports of its own) plays
a melody rendered through the SoundFont synth (clean electric guitar) into the app's audio
input port and records the app's audio output; the app is a :class:`LiveSession` that
listens to that input (``input="audio"``) with a player that answers every lead note with
the note a fifth below, so what the band plays can be checked note for note against what it
heard. Nothing is mocked: the audio crosses the JACK server both ways.

Then the input goes away mid-play (the client's ports vanish while a note sounds): the
session plays on, the input reads "lost", no note is left sounding, and the recording is
closed and valid.
"""

from __future__ import annotations

import difflib
import subprocess
import threading
import time
import wave

import mido
import numpy as np
import pytest

from accomp.engine.engine import LEAD, Engine, EngineSettings
from accomp.engine.live import LiveSession, LiveSettings
from accomp.realtime.notes import NOTE_OFF, NOTE_ON
from accomp.realtime.rings import AudioRing
from accomp.engine.transport import TransportSettings
from accomp.errors import DeviceError
from accomp.listen.analyzer import LOST

pytest.importorskip("tinysoundfont")

from accomp.devices.audio import AudioSettings, refresh, release  # noqa: E402
from accomp.synth.render import render_notes  # noqa: E402
from accomp.synth.soundfont import default_soundfont  # noqa: E402
from players import Fifth  # noqa: E402

SR = 48000
BLOCK = 128
CLEAN_GUITAR = 27
TUNE = [64, 67, 69, 71, 72, 74, 71, 67, 62, 64]  # E4 G4 A4 B4 C5 D5 B4 G4 D4 E4
NOTE_S = 0.36  # a note every 0.36 s, held for 0.3 s: as a player strums along, no grid


@pytest.fixture(scope="module")
def jack(jack_server):
    try:
        default_soundfont()
    except DeviceError as exc:
        pytest.skip(str(exc))
    refresh()  # PortAudio sees only servers running when it started
    yield jack_server
    release()  # before the server stops: PortAudio aborts the process if its server vanished



class Guitarist:
    """The test client: plays ``audio`` into its output port once ``play`` is set, over the
    faint hiss (-80 dBFS) any instrument input has, and records what comes into its two
    input ports (the app's output)."""

    def __init__(self, audio: np.ndarray) -> None:
        self.audio = np.concatenate([audio, np.zeros(BLOCK, dtype=np.float32)])
        self.hiss = (np.random.default_rng(0).standard_normal(BLOCK * 64) * 1e-4).astype(np.float32)
        self.position = 0
        self.blocks = 0
        self.play = False
        self.heard = AudioRing(SR * 30, 2)
        self.stream = None

    def callback(self, indata, outdata, frames, time_info, status) -> None:
        self.heard.write(indata)
        at = (self.blocks % 64) * BLOCK
        outdata[:, 0] = self.hiss[at : at + frames]
        self.blocks += 1
        if self.play:
            piece = self.audio[self.position : self.position + frames]
            outdata[: len(piece), 0] += piece
            self.position += len(piece)

    def open(self):
        import sounddevice as sd

        self.stream = sd.Stream(samplerate=SR, blocksize=BLOCK, channels=(2, 1), dtype="float32", callback=self.callback)
        self.stream.start()

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def recording(self) -> np.ndarray:
        got = np.zeros((self.heard.available(), 2), dtype=np.float32)
        self.heard.read(got)
        return got


def jack_ports(jack) -> list[str]:
    return subprocess.run(["jack_lsp"], env=jack.env(), capture_output=True, text=True, timeout=10).stdout.split()


def patch(jack, source: str, dest: str, connect: bool = True) -> None:
    cmd = "jack_connect" if connect else "jack_disconnect"
    subprocess.run([cmd, source, dest], env=jack.env(), check=connect, capture_output=True, timeout=10)


def pace(seconds: float) -> None:
    """Let musical time pass (the melody plays; nothing is being waited for)."""
    threading.Event().wait(seconds)


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        threading.Event().wait(0.02)
    return True


def start(jack, tmp_path, notes: int) -> tuple[LiveSession, Guitarist, float]:
    """The app listening on JACK, the client's output wired into its input and its output
    into the client. Returns them and the length of the melody (s), not yet playing."""
    melody = [(0.2 + i * NOTE_S, 0.2 + i * NOTE_S + 0.3, pitch, 100) for i, pitch in enumerate(TUNE[:notes])]
    seconds = melody[-1][1] + 0.3
    guitarist = Guitarist(render_notes(melody, seconds, program=CLEAN_GUITAR, gain=0.8))
    engine = Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False)), Fifth())
    settings = LiveSettings(
        audio=AudioSettings(host_api="JACK", sample_rate=SR, block_frames=BLOCK, input_device=""),
        input="audio", record_midi=str(tmp_path / "take.mid"), record_wav=str(tmp_path / "take.wav"),
    )  # fmt: skip
    session = LiveSession(engine, settings)
    before = set(jack_ports(jack))
    session.start()
    try:
        app = sorted(p for p in jack_ports(jack) if p not in before)
        guitarist.open()
        client = sorted(p for p in jack_ports(jack) if p not in before and p not in app)
        app_in, app_out = [p for p in app if ":in_" in p], [p for p in app if ":out_" in p]
        client_in, client_out = [p for p in client if ":in_" in p], [p for p in client if ":out_" in p]
        assert (len(app_in), len(app_out), len(client_in), len(client_out)) == (1, 2, 2, 1), (app, client)
        captures = [p for p in jack_ports(jack) if p.startswith("system:capture")]
        for port in app_in + client_in:  # PortAudio wired every input to the (silent) system capture
            for capture in captures:
                patch(jack, capture, port, connect=False)
        patch(jack, client_out[0], app_in[0])
        for src, dst in zip(app_out, client_in):
            patch(jack, src, dst)
    except BaseException:
        guitarist.close()
        session.stop()
        raise
    return session, guitarist, seconds


def lead_events(session: LiveSession) -> list[tuple[int, int, int]]:
    """(sample, status, pitch) of the lead notes the app recorded (heard in its input; the
    recorder has already dropped first guesses the analyser took back)."""
    return [(t, s & 0xF0, p) for t, part, s, p, _ in session.recorder._notes if part == LEAD and s & 0xF0 in (NOTE_ON, NOTE_OFF)]


def all_ended(events) -> bool:
    sounding: set[int] = set()
    for _, status, pitch in sorted(events, key=lambda e: (e[0], e[1] == NOTE_ON)):
        (sounding.add if status == NOTE_ON else sounding.discard)(pitch)
    return not sounding


def same_in_order(a: list[int], b: list[int]) -> int:
    """How many of ``a`` and ``b`` match, in order (the longest common subsequence's blocks)."""
    return sum(block.size for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks())


def test_a_guitar_played_into_the_input_is_heard_and_accompanied(jack, tmp_path):
    session, guitarist, seconds = start(jack, tmp_path, notes=len(TUNE))
    try:
        guitarist.play = True
        pace(seconds + 0.3)
        # The tune is over: on a loaded machine the analysis may still be a few blocks behind
        # the input (its last note-off not yet heard, or not yet recorded): let it catch up.
        wait_for(lambda: not session.listener.analyzer.sounding() and all_ended(lead_events(session)), 3.0)
        state = session.listen_state()
    finally:
        session.stop()
        pace(0.2)  # the client records the silence after the stop
        guitarist.close()

    assert session.error is None and session.listener.error is None
    assert state.source == "audio" and state.status != LOST
    heard = [p for _, s, p in lead_events(session) if s == NOTE_ON]
    # Every note heard, in order (a loaded machine may drop an input block: one may be missed).
    assert len(TUNE) - 1 <= len(heard) <= len(TUNE) + 1, heard
    assert same_in_order([p % 12 for p in heard], [p % 12 for p in TUNE]) >= len(TUNE) - 1, heard
    assert same_in_order(heard, TUNE) >= len(TUNE) - 2, heard

    # The band answered each note it heard, a fifth below, and the synth played every answer.
    take = mido.MidiFile(tmp_path / "take.mid")
    assert [t.name for t in take.tracks] == ["conductor", "lead", "accomp"]
    answers = [m.note for m in take.tracks[2] if m.type == "note_on" and m.velocity > 0]
    assert answers == [p - 7 for p in heard], (answers, heard)
    assert session.summary()["synth"]["notes"]["accomp"] == len(answers)
    got = guitarist.recording()
    assert np.abs(got).max() > 0.02 and np.sqrt(np.mean(got**2)) > 1e-3, "the client heard no accompaniment"

    # Nothing left sounding after the stop: lead notes all ended, the synth silent, and silence heard.
    assert all_ended(lead_events(session)) and session.listener.analyzer.sounding() == []
    assert session.synth.sounding() == 0 and session.engine.metrics().accomp_sounding == 0
    assert np.abs(got[-SR // 20 :]).max() < 1e-4


def test_the_input_going_away_mid_play_reads_lost_and_leaves_nothing_sounding(jack, tmp_path):
    session, guitarist, seconds = start(jack, tmp_path, notes=8)
    try:
        guitarist.play = True
        pace(0.2 + 4 * NOTE_S + 0.1)  # into the fifth note
        assert wait_for(lambda: session.listener.analyzer.sounding() != [], timeout=2.0), "no note heard before the loss"
        guitarist.close()  # the client's ports vanish: the app's input port reads zeros
        lost = wait_for(lambda: session.listen_state().status == LOST, timeout=5.0)
        state = session.listen_state()
        alive = session.audio.alive()
        heard_then = len([e for e in lead_events(session) if e[1] == NOTE_ON])
        pace(0.3)  # the band plays on without its lead
    finally:
        guitarist.close()
        session.stop()

    assert lost, f"the input state stayed '{state.status}'"
    assert alive and session.error is None and session.listener.error is None
    assert state.notes == () and state.pitch_hz == 0.0
    events = lead_events(session)
    # Four or five notes were played; the cut itself (a click) may still read as one more onset.
    assert 3 <= heard_then == len([e for e in events if e[1] == NOTE_ON]) <= 7, events
    assert all_ended(events), events
    assert session.listener.analyzer.sounding() == []
    assert session.synth.sounding() == 0 and session.engine.metrics().accomp_sounding == 0
    # The recording was closed: both files in place, nothing temporary left, both readable.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.mid", "take.wav"]
    with wave.open(str(tmp_path / "take.wav")) as w:
        assert w.getnchannels() == 2 and w.getframerate() == SR and w.getnframes() > SR
    take = mido.MidiFile(tmp_path / "take.mid")
    assert [t.name for t in take.tracks] == ["conductor", "lead", "accomp"]
