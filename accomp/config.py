"""Frozen configuration dataclasses shared by every layer. No torch, no Qt here.

The frame representation (DESIGN §2)
------------------------------------
Time is a grid of ``steps_per_beat`` steps per quarter-note beat, laid on the MIDI file's
ticks, so tempo changes move the grid in seconds but never in steps.

A *roll* is a ``numpy.uint8`` array of shape ``(T, 2, n_keys)``:

- ``roll[t, ONSET, k] == 1``   a note of pitch ``lowest_pitch + k`` starts at step ``t``;
- ``roll[t, SUSTAIN, k] == 1`` that pitch sounds during step ``t`` (the onset step included).

Invariant: ``onset <= sustain`` everywhere. A note lasting ``n`` steps from step ``t`` is one
onset at ``t`` and sustain on ``t .. t+n-1``. Re-striking a held key is an onset while the
sustain stays on. Velocity is kept out of the roll (a separate coarse array per track).

A *piece* holds one roll per track role (``lead``, ``accomp``, or ``accomp:<role>``) and a
per-step beat-in-bar position, see :class:`accomp.music.frames.Piece`. Models see the
continuous relaxation ``2 * roll - 1`` in ``[-1, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[1] / "resources"  # bundled models, presets and charts

ONSET = 0
SUSTAIN = 1
LEAD = "lead"
ACCOMP = "accomp"

# Bumped whenever encoding MIDI to frames changes: on-disk corpus caches and packs key on it.
# 2: POP909 songs take their bars and beats from beat_midi.txt (their MIDI files say 1/4).
ENCODER_VERSION = 2
MIDI_SUFFIXES = (".mid", ".midi")  # what counts as a MIDI file, read or written

# The default teacher's file name in resources/teachers (others may be bundled beside it).
DEFAULT_TEACHER_FILE = "teacher.safetensors"


@dataclass(frozen=True)
class FrameSpec:
    """The grid and the keyboard the frames are laid on."""

    steps_per_beat: int = 4
    lowest_pitch: int = 21  # A0
    n_keys: int = 88  # up to C8 (108)

    def __post_init__(self) -> None:
        if not 1 <= self.steps_per_beat <= 24:
            raise ValueError(f"steps_per_beat must be 1..24, got {self.steps_per_beat}")
        if self.lowest_pitch < 0 or self.lowest_pitch + self.n_keys > 128 or self.n_keys < 1:
            raise ValueError("keyboard range must lie inside MIDI pitches 0..127")

    @property
    def highest_pitch(self) -> int:
        return self.lowest_pitch + self.n_keys - 1

    def key_of(self, pitch: int) -> int | None:
        """Index of a MIDI pitch on the keyboard, or None when it falls outside it."""
        k = pitch - self.lowest_pitch
        return k if 0 <= k < self.n_keys else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "FrameSpec":
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown FrameSpec fields: {sorted(unknown)}")
        return cls(**data)


DEFAULT_SPEC = FrameSpec()

# Sanity limits for files a user hands us.
MIN_BPM = 10.0
MAX_BPM = 1000.0
MAX_COUNT_IN_BARS = 8  # the longest count-in a session may ask for
# The most beats a bar may hold (``--meter``, a lead file's time signature, a chord chart's
# ``time:``): the count-in is a bar long, and the planner's beat position stops at its 8th.
MAX_METER_BEATS = 16
# The longest grace window (``--grace-ms``): a step re-decided later than this would strike
# its notes audibly after the beat; a note that late is heard on the next step instead.
MAX_GRACE_MS = 200.0
MAX_MIDI_BYTES = 50 * 1024 * 1024


def check_tempo(bpm: float) -> float:
    """``bpm`` as a float, or ValueError outside MIN_BPM..MAX_BPM (NaN too)."""
    if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
        raise ValueError(f"tempo must be {MIN_BPM:g}..{MAX_BPM:g} bpm, got {bpm}")
    return float(bpm)


def note_steps(den: int, steps_per_beat: int = 4) -> int:
    """Grid steps of a 1/``den`` note, the beat a meter's denominator names (a click, a chord
    chart's beat): ``steps_per_beat`` steps a quarter note, 2 an eighth at 4."""
    return max(1, round(4 * steps_per_beat / den))


def meter_bar_steps(meter: tuple[int, int], steps_per_beat: int = 4) -> int:
    """Grid steps of one bar of ``meter``: 16 in 4/4, 12 in 3/4 and in 6/8."""
    num, den = meter
    return max(1, round(num * 4 * steps_per_beat / den))


def chord_beat_steps(meter: tuple[int, int], steps_per_beat: int = 4) -> int:
    """Grid steps of the beat the band's harmony moves on, the beat a musician counts: in a
    compound meter (6/8, 9/8, 12/8: a numerator divisible by three over eighths or shorter)
    three of its notes, the dotted quarter; in any other the quarter note. A jig's chords
    change on its two dotted quarters a bar, never on the third or fifth eighth."""
    num, den = meter
    if den >= 8 and num % 3 == 0:
        return 3 * note_steps(den, steps_per_beat)
    return steps_per_beat


def meter_problem(num: int, den: int, steps_per_beat: int = 4) -> str | None:
    """Why ``num/den`` cannot be played on a grid of ``steps_per_beat`` steps a quarter note
    (its bars at most MAX_METER_BEATS beats, each beat a whole number of steps), or None."""
    if num < 1 or den not in (1, 2, 4, 8, 16, 32):
        return f"impossible meter {num}/{den}"
    if num > MAX_METER_BEATS:
        return f"meter {num}/{den}: at most {MAX_METER_BEATS} beats a bar"
    if 4 * steps_per_beat % den:  # each beat (a click) is a whole number of grid steps
        return f"meter {num}/{den}: its beat, a 1/{den} note, is shorter than the grid's step (a 1/{4 * steps_per_beat} note)"
    return None


@dataclass(frozen=True, kw_only=True)
class CorpusChoice:
    """The corpora a command asks for (``--corpus``, ``--path``: one each, or lists for
    several), its style name for a MIDI folder, and whether the on-disk cache is used."""

    corpus: str | list[str] | None = None  # pop909, chorales, midi-folder or pack
    path: str | list[str] | None = None
    style: str | None = None
    no_cache: bool = False
