"""MIDI message codes and the active-notes table that makes "every note ends" true.

Every sink (the built-in synth, each MIDI output port) keeps an :class:`ActiveNotes` of what
it has actually sounded, per port (or part) and channel. Stop, preset switch, device loss
and panic all end in :meth:`ActiveNotes.release`: an explicit note-off for every sounding
note, then on every channel that was used: sustain pedal up (CC64=0), all notes off (CC123)
and all sound off (CC120).

The table is a ``bytearray`` so the audio callback can read and write it without creating
any object (indexing a bytearray yields small cached ints).
"""

from __future__ import annotations

from collections.abc import Callable

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL = 0xB0
PROGRAM = 0xC0
PITCH_BEND = 0xE0
SYSEX = 0xF0
CLOCK = 0xF8
PULSE = 0xF9  # engine code (MIDI leaves 0xF9 undefined): an unpitched lead onset, for follow mode only
RETRACT = 0xFD  # engine code (undefined in MIDI too): the lead note-on at this time and pitch was a wrong guess
CUT = 0xF5  # engine code (undefined in MIDI too): nothing of this part scheduled from this time on sounded
CHORD = 0xF4  # engine code (undefined in MIDI too): the band's chord (data1, a chord index) starts here
START = 0xFA
STOP = 0xFC

CC_SUSTAIN = 64
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123

N_KEYS = 128
N_CHANNELS = 16

Emit = Callable[[int, int, int], None]  # (status, data1, data2)


class ActiveNotes:
    """Which (port, channel, key) are sounding, and which (port, channel) were ever used."""

    def __init__(self, n_ports: int) -> None:
        self.n_ports = n_ports
        self._on = bytearray(n_ports * N_CHANNELS * N_KEYS)
        self._used = bytearray(n_ports * N_CHANNELS)
        self._n = [0] * n_ports  # notes sounding per port

    def track(self, port: int, status: int, key: int, velocity: int) -> None:
        """Record a channel message that was just sent on ``port``."""
        kind = status & 0xF0
        channel = status & 0x0F
        self._used[port * N_CHANNELS + channel] = 1
        if kind == NOTE_ON and velocity > 0:
            i = (port * N_CHANNELS + channel) * N_KEYS + key
            if not self._on[i]:
                self._on[i] = 1
                self._n[port] += 1
        elif kind == NOTE_OFF or kind == NOTE_ON:
            i = (port * N_CHANNELS + channel) * N_KEYS + key
            if self._on[i]:
                self._on[i] = 0
                self._n[port] -= 1

    def sounding(self, port: int | None = None) -> int:
        """Notes sounding on ``port`` (or on all ports)."""
        return sum(self._n) if port is None else self._n[port]

    def release(self, port: int, emit: Emit) -> None:
        """End everything on ``port``: note-offs, then CC64=0, CC123, CC120 per used channel."""
        for channel in range(N_CHANNELS):
            base = (port * N_CHANNELS + channel) * N_KEYS
            if self._n[port]:
                for key in range(N_KEYS):
                    if self._on[base + key]:
                        self._on[base + key] = 0
                        self._n[port] -= 1
                        emit(NOTE_OFF | channel, key, 0)
            if self._used[port * N_CHANNELS + channel]:
                emit(CONTROL | channel, CC_SUSTAIN, 0)
                emit(CONTROL | channel, CC_ALL_NOTES_OFF, 0)
                emit(CONTROL | channel, CC_ALL_SOUND_OFF, 0)
