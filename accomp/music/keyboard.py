"""The computer keyboard as a MIDI keyboard, for trying the app without one.

As in most music software: the home row plays the white keys from C (A S D F G H J K L ;),
the row above the black keys (W E  T Y U  O P); Z and X move down and up an octave. Keys
repeat-pressed by the operating system are not new notes. The window's key filter
(``accomp.gui.key_filter``) and the terminal's keys of ``accomp play``
(``accomp.devices.terminal_keys``) both play through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KEYS = "awsedftgyhujkolp;'"  # semitones 0.. from the C of the current octave
OCTAVE_DOWN = "z"
OCTAVE_UP = "x"
VELOCITY = 96
LOWEST_OCTAVE, HIGHEST_OCTAVE = 0, 8
HELP = "Computer keyboard: A S D F G H J K = white keys from C, W E T Y U = black keys, Z / X = octave down / up"


@dataclass
class ComputerKeyboard:
    """Turns key presses (their text) into (note-on/off, pitch) and tracks what is held."""

    octave: int = 4  # the C of octave 4 is middle C (MIDI 60)
    held: dict[str, int] = field(default_factory=dict)  # key -> pitch it started

    def pitch(self, char: str) -> int | None:
        i = KEYS.find(char.lower()) if len(char) == 1 else -1
        if i < 0:
            return None
        pitch = 12 * (self.octave + 1) + i
        return pitch if 0 <= pitch < 128 else None

    def handles(self, char: str) -> bool:
        return len(char) == 1 and (char.lower() in KEYS or char.lower() in (OCTAVE_DOWN, OCTAVE_UP))

    def press(self, char: str) -> int | None:
        """The pitch to start, or None (not a note key, already held, or an octave change)."""
        c = char.lower()
        if c == OCTAVE_DOWN:
            self.octave = max(LOWEST_OCTAVE, self.octave - 1)
            return None
        if c == OCTAVE_UP:
            self.octave = min(HIGHEST_OCTAVE, self.octave + 1)
            return None
        pitch = self.pitch(c)
        if pitch is None or c in self.held:
            return None
        self.held[c] = pitch
        return pitch

    def release(self, char: str) -> int | None:
        """The pitch to end (the one this key started, whatever the octave is now)."""
        return self.held.pop(char.lower(), None)

    def release_all(self) -> list[int]:
        pitches = list(self.held.values())
        self.held.clear()
        return pitches
