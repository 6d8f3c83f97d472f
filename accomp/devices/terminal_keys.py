"""The terminal's keys as the lead, for `accomp play` without a MIDI keyboard.

The keys are the window's computer keyboard (:mod:`accomp.music.keyboard`): A S D F G H J K
the white keys from C, W E T Y U the black keys, Z / X an octave down / up. A terminal sends
key presses and no releases, so each note lasts a fixed length (an eighth note at the tempo
of the moment: ``note_s``) or until the next key, whichever is sooner; the same key coming
again faster than :data:`REPEAT_S` (the terminal repeating a held key) keeps its note
sounding instead of starting it again. Arrow and function keys (escape sequences) play
nothing.

:class:`TerminalKeys` puts the terminal in cbreak mode (each key arrives at once, unechoed;
Ctrl+C still interrupts) and restores its settings on :meth:`~TerminalKeys.close`. Its thread
reads the keys and hands note-on/off messages stamped with the sample clock to the engine's
``receive``, as :class:`~accomp.devices.midi.MidiInput` does, nudging the worker the same way;
it is their one producer. Closing ends the note it left sounding.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time
from collections.abc import Callable

from accomp.devices.midi import Receive, wake
from accomp.errors import DeviceError
from accomp.music.keyboard import HELP, OCTAVE_DOWN, OCTAVE_UP, VELOCITY, ComputerKeyboard
from accomp.realtime.notes import NOTE_OFF, NOTE_ON

PORT_NAME = "the terminal's keys"
REPEAT_S = 0.1  # the same key again sooner than this: the terminal repeating a held key
TICK_S = 0.05  # the reader looks at its stop flag at least this often
ESC = 0x1B
NOTICE = (f"no MIDI keyboard found: playing {PORT_NAME} ({HELP.removeprefix('Computer keyboard: ')}); "
          "to play a MIDI keyboard, connect it and start again ('accomp devices' lists the ports)")  # fmt: skip


def available(fd: int | None = None) -> bool:
    """Whether ``fd`` (standard input by default) is a terminal this platform can read keys from."""
    try:
        import termios  # noqa: F401 - POSIX only
    except ImportError:
        return False
    return os.isatty(sys.stdin.fileno() if fd is None else fd)


class _Unescape:
    """Drops the bytes of escape sequences (arrows: ESC [ A; F1: ESC O P) from the key stream."""

    def __init__(self) -> None:
        self.state = 0  # 0: keys; 1: after ESC; 2: in ESC [ ... (until its final byte); 3: after ESC O

    def key(self, byte: int) -> int | None:
        if self.state == 1:
            self.state = 2 if byte == ord("[") else 3 if byte == ord("O") else 0
            return None
        if self.state == 2:
            self.state = 2 if 0x20 <= byte < 0x40 else 0
            return None
        if self.state == 3:
            self.state = 0
            return None
        if byte == ESC:
            self.state = 1
            return None
        return byte


class TerminalKeys:
    """Lead input from the terminal's keys: stamped note messages pushed into the engine."""

    def __init__(self, receive: Receive, clock, *, note_s: Callable[[], float], fd: int | None = None,
                 wake_fd: int | None = None, octave: int = 4) -> None:  # fmt: skip
        self.fd = sys.stdin.fileno() if fd is None else fd
        if not available(self.fd):
            raise DeviceError(f"{PORT_NAME} need a terminal: standard input is not one (connect a MIDI keyboard instead)")
        import termios
        import tty

        self._receive = receive
        self._clock = clock
        self._note_s = note_s
        self._wake_fd = wake_fd
        self.keyboard = ComputerKeyboard(octave=octave)
        self.port_name = PORT_NAME
        self.received = 0  # notes played
        self.ignored = 0  # keys that play nothing
        self._sounding: int | None = None  # the pitch of the note now sounding
        self._ends = 0  # the sample it ends at
        self._last_key, self._last_at = "", 0.0
        self._unescape = _Unescape()
        self._saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd, termios.TCSANOW)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="accomp-terminal-keys", daemon=True)
        self._thread.start()

    def _send(self, at: int, status: int, pitch: int, velocity: int) -> None:
        self._receive(at, status, pitch, velocity)
        if self._wake_fd is not None:
            wake(self._wake_fd)

    def _end(self, at: int) -> None:
        self._send(at, NOTE_OFF, self._sounding, 0)
        self._sounding = None

    def _run(self) -> None:
        clock = self._clock
        while not self._stop.is_set():
            timeout = TICK_S if self._sounding is None else min(TICK_S, max(0.0, clock.seconds_until(self._ends)))
            ready = select.select([self.fd], [], [], timeout)[0]
            if self._sounding is not None and clock.now() >= self._ends:
                self._end(self._ends)
            if ready:
                try:
                    data = os.read(self.fd, 64)
                except OSError:  # the terminal went away
                    return
                if not data:
                    return
                for byte in data:
                    self._key(byte)

    def _key(self, byte: int) -> None:
        byte = self._unescape.key(byte)
        if byte is None:
            return
        char = chr(byte).lower()
        if char in (OCTAVE_DOWN, OCTAVE_UP):
            self.keyboard.press(char)
            return
        pitch = self.keyboard.pitch(char)
        if pitch is None:
            self.ignored += 1
            return
        now, at = self._clock.now(), time.monotonic()
        repeat = char == self._last_key and at - self._last_at < REPEAT_S and self._sounding == pitch
        self._last_key, self._last_at = char, at
        length = max(1, round(self._note_s() * self._clock.sample_rate))
        if not repeat:
            if self._sounding is not None:
                self._end(now)
            self._send(now, NOTE_ON, pitch, VELOCITY)
            self._sounding = pitch
            self.received += 1
        self._ends = now + length

    def close(self) -> None:
        """Stop reading, end the note still sounding, give the terminal its settings back."""
        if self._stop.is_set():
            return
        import termios

        self._stop.set()
        try:
            self._thread.join(timeout=5)
            if self._sounding is not None:
                self._end(self._clock.now())
        finally:
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass  # the terminal is gone: nothing left to restore
