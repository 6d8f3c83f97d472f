"""Bass patterns as data: which chord degree the bass plays where in the bar, in each feel.

A pattern is one bar written a character per 16th note (spaces between beats for reading):
``R`` the root, ``5`` the fifth, ``3`` the third, ``8`` the root an octave up, ``A`` a
chromatic approach (a half step under the next beat's root, where the chord there is known
in advance and is another one; else the root), ``.`` the note before goes on. A note lasts
until the pattern's next one, and never past the bar line.

The bass follows the chord plan: a beat where the chord changes always starts with the new
root, whatever the pattern says there (a fifth against the new chord would clash, and a note
held over the change would too). Without a plan it plays the texture's lowest voice's pitch
class as its root.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accomp.errors import SettingsError
from accomp.music.chords import INTERVALS

BASS_LOW = 28  # E1: roots are placed in E1..D#2, the fingered bass's low octave
BASS_PROGRAM = 33  # General MIDI "Electric Bass (finger)", 0-based
BASS_CHANNEL = 2  # MIDI channel 3, 0-based (the lead is on 1, the accompaniment on 2, drums on 10)
DEGREES = "R53 8A"


@dataclass(frozen=True)
class BassPattern:
    name: str
    bar: str  # one bar of 16ths (see the module docstring)
    description: str = ""
    _table: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        text = self.bar.replace(" ", "")
        if not text or text[0] == "." or set(text) - set(DEGREES) - {"."}:
            raise ValueError(f"bass pattern '{self.name}': '{self.bar}' must start with a note and use {DEGREES.replace(' ', '')}.")
        n = len(text)
        table = []
        for i, c in enumerate(text):
            following = next((k for k in range(i + 1, n) if text[k] != "."), n)
            table.append((None if c == "." else c, following - i))
        object.__setattr__(self, "_table", tuple(table))

    def at(self, sixteenth: int) -> tuple[str | None, int]:
        """``(degree, 16ths)`` at ``sixteenth`` of the bar: the degree of the note starting
        there (None: none starts) and the 16ths until the pattern's next note or its end."""
        return self._table[sixteenth % len(self._table)]


PATTERNS: dict[str, BassPattern] = {p.name: p for p in (
    BassPattern("ballad", "R... .... 5... ....", "root on 1, fifth on 3"),
    BassPattern("rock", "R.R. R.R. R.R. R.A.", "driving eighth-note roots, an approach into the next chord"),
    BassPattern("walking", "R... 3... 5... A...", "a walking line: root, third, fifth, approach"),
    BassPattern("bossa", "R... ..5. 5... ..R.", "root, fifth on 2-and and 3, root on 4-and"),
    BassPattern("waltz", "R... .... ....", "root on the downbeat (3/4)"),
    BassPattern("six-eight", "R..... 5.....", "root on 1, fifth on 4 (6/8)"),
    BassPattern("chorale", "R... R... R... R...", "the root on every beat"),
)}  # fmt: skip


def bass_pattern(name: str) -> BassPattern:
    try:
        return PATTERNS[name]
    except KeyError:
        raise SettingsError(f"no bass pattern '{name}' (known: {', '.join(PATTERNS)})") from None


def place_root(root: int) -> int:
    """The bass's pitch for pitch class ``root`` (E1..D#2)."""
    return BASS_LOW + (root - BASS_LOW) % 12


def bass_pitch(degree: str, root: int, quality: str | None, next_root: int | None) -> int:
    """The MIDI pitch of ``degree`` over a chord with pitch class ``root`` and ``quality`` (None:
    only the root is known); ``next_root`` is the next beat's root when known in advance."""
    base = place_root(root)
    tones = INTERVALS.get(quality or "", (0,))
    if degree == "5" and len(tones) > 2:
        return base + tones[2]
    if degree == "3" and len(tones) > 2:
        return base + tones[1]
    if degree == "8":
        return base + 12
    if degree == "A" and next_root is not None and next_root != root:
        return place_root(next_root) - 1
    return base
