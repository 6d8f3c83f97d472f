"""The terminal's keys as the lead (`accomp play` without a MIDI keyboard), typed into a
pseudo-terminal: the notes, their fixed length, escape sequences, the terminal's settings."""

from __future__ import annotations

import os
import termios
import threading
import time

import pytest

from accomp.devices.terminal_keys import TerminalKeys, available
from accomp.errors import DeviceError
from accomp.realtime.notes import NOTE_OFF, NOTE_ON

SR = 1000  # samples a second: one sample a millisecond
NOTE_S = 0.2


class WallClock:
    sample_rate = SR

    def __init__(self) -> None:
        self.origin = time.perf_counter()

    def now(self) -> int:
        return round((time.perf_counter() - self.origin) * SR)

    def seconds_until(self, sample: int) -> float:
        return (sample - self.now()) / SR


class Heard:
    """What the keys sent; :meth:`wait_for` waits (on an event, no sleep) for the n-th message."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, int, int, int]] = []
        self.changed = threading.Condition()

    def __call__(self, at: int, status: int, pitch: int, velocity: int) -> None:
        with self.changed:
            self.messages.append((at, status, pitch, velocity))
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[tuple[int, int, int, int]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.messages) >= n, timeout), self.messages
            return list(self.messages)


@pytest.fixture
def terminal():
    parent, child = os.openpty()
    yield parent, child
    os.close(parent)
    os.close(child)


def keys_on(child: int, heard: Heard) -> TerminalKeys:
    return TerminalKeys(heard, WallClock(), note_s=lambda: NOTE_S, fd=child)


def test_a_key_plays_a_note_of_the_fixed_length(terminal):
    parent, child = terminal
    heard = Heard()
    keys = keys_on(child, heard)
    try:
        os.write(parent, b"a")
        (on, off) = heard.wait_for(2)
    finally:
        keys.close()
    assert on[1:] == (NOTE_ON, 60, 96) and off[1:] == (NOTE_OFF, 60, 0)
    assert off[0] - on[0] == round(NOTE_S * SR)
    assert keys.received == 1


def test_the_next_key_ends_the_note_and_octave_keys_and_escapes_play_nothing(terminal):
    parent, child = terminal
    heard = Heard()
    keys = keys_on(child, heard)
    try:
        os.write(parent, b"aw\x1b[Axkq")  # C, C#, an arrow key, octave up, the C two octaves up, no note
        messages = heard.wait_for(6)
    finally:
        keys.close()
    notes = [(status, pitch) for _, status, pitch, _ in messages]
    assert notes == [(NOTE_ON, 60), (NOTE_OFF, 60), (NOTE_ON, 61), (NOTE_OFF, 61), (NOTE_ON, 84), (NOTE_OFF, 84)]
    assert messages[1][0] == messages[2][0]  # C ends as C# starts
    assert keys.ignored == 1


def test_a_key_the_terminal_repeats_holds_its_note(terminal):
    parent, child = terminal
    heard = Heard()
    keys = keys_on(child, heard)
    try:
        os.write(parent, b"ddd")  # arriving together: one held key, not three notes
        (on, off) = heard.wait_for(2)
    finally:
        keys.close()
    assert (on[2], off[2]) == (64, 64) and keys.received == 1


def test_closing_ends_the_sounding_note_and_restores_the_terminal(terminal):
    parent, child = terminal
    before = termios.tcgetattr(child)
    heard = Heard()
    keys = TerminalKeys(heard, WallClock(), note_s=lambda: 60.0, fd=child)
    assert not termios.tcgetattr(child)[3] & (termios.ICANON | termios.ECHO)  # cbreak: key by key, unechoed
    os.write(parent, b"g")
    heard.wait_for(1)
    keys.close()
    assert [(s, p) for _, s, p, _ in heard.messages] == [(NOTE_ON, 67), (NOTE_OFF, 67)]
    assert termios.tcgetattr(child) == before


def test_not_a_terminal_is_a_clear_error():
    r, w = os.pipe()
    try:
        assert not available(r)
        with pytest.raises(DeviceError, match="not one"):
            TerminalKeys(Heard(), WallClock(), note_s=lambda: NOTE_S, fd=r)
    finally:
        os.close(r)
        os.close(w)


@pytest.mark.parametrize(
    ("extra", "tty", "ports", "expected"),
    [
        ([], True, [], True),  # no keyboard at a terminal: the keys
        ([], True, ["piano"], False),  # a keyboard: it
        ([], False, [], False),  # not at a terminal: the MIDI input's own error says what to connect
        (["--midi-in", "piano"], True, [], False),
        (["--input", "audio", "--audio-in", ""], True, [], False),
        (["--keys"], False, ["piano"], True),  # asked for (TerminalKeys then says when it has no terminal)
    ],
)
def test_play_takes_the_terminals_keys_when_there_is_no_keyboard(monkeypatch, extra, tty, ports, expected):
    from accomp.cli import build_parser
    from accomp.devices import midi, terminal_keys
    from accomp.cli.engine import wants_terminal_keys

    monkeypatch.setattr(terminal_keys, "available", lambda fd=None: tty)
    monkeypatch.setattr(midi, "list_ports", lambda api: (ports, []))
    args = build_parser().parse_args(["play", "--preset", "pop", *extra])
    assert wants_terminal_keys(args) is expected


def test_keys_with_no_lead_input_is_a_settings_error():
    from accomp.cli import build_parser
    from accomp.cli.engine import wants_terminal_keys
    from accomp.errors import SettingsError

    with pytest.raises(SettingsError, match="--keys"):
        wants_terminal_keys(build_parser().parse_args(["play", "--preset", "pop", "--keys", "--no-midi-in"]))
