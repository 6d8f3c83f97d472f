"""Drum patterns as data: General MIDI drum keys on a 16th-note grid, a fill before each phrase.

A pattern is one bar of *lanes*, one per drum key, written a character per 16th note
(spaces between beats are for reading only): ``X`` an accented hit, ``x`` a normal one,
``o`` a ghost note, ``.`` nothing. The bar before each phrase start (every ``phrase_bars``
bars) plays the pattern up to ``fill_from`` (a 16th) and the fill's lanes from there; a
phrase's first bar (after the first) opens with a crash. ``bass`` names the bass pattern
(:mod:`accomp.music.bass`) that goes with the feel.

:func:`hits` turns a pattern and a place in the bar into the keys to strike and their weight
(the engine scales its dynamics by it); :data:`RING` says how long a key sounds before its
note-off (every hit gets one: a GM synth that lets drums ring ignores it, a recording ends
its notes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accomp.errors import SettingsError

# General MIDI percussion keys (channel 10).
KICK = 36
SIDE_STICK = 37
SNARE = 38
LOW_FLOOR_TOM = 41
CLOSED_HAT = 42
HIGH_FLOOR_TOM = 43
PEDAL_HAT = 44
LOW_TOM = 45
OPEN_HAT = 46
LOW_MID_TOM = 47
HIGH_MID_TOM = 48
CRASH = 49
HIGH_TOM = 50
RIDE = 51
CABASA = 69
GM_DRUM_KEYS = range(35, 82)  # Acoustic Bass Drum .. Open Triangle
DRUM_CHANNEL = 9  # MIDI channel 10, 0-based

WEIGHTS = {"X": 1.2, "x": 0.95, "o": 0.55}
RING = {CRASH: 16, RIDE: 8, OPEN_HAT: 4}  # 16ths a key sounds before its note-off; others: DEFAULT_RING
DEFAULT_RING = 2
CRASH_WEIGHT = 1.1


@dataclass(frozen=True)
class DrumPattern:
    name: str
    beats: int  # quarter-note beats per bar the pattern is written for
    lanes: dict[int, str]  # GM key -> one bar of 16ths
    fill: dict[int, str]  # GM key -> the fill's 16ths from ``fill_from`` to the bar's end
    fill_from: int  # the 16th of the fill bar where the fill takes over
    bass: str  # the bass pattern of this feel
    phrase_bars: int = 4
    description: str = ""
    _table: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = self.beats * 4
        groove = _table(self.lanes, n, self.name)
        fill = _table(self.fill, n - self.fill_from, self.name)
        fill_bar = groove[: self.fill_from] + fill
        crash = ((CRASH, CRASH_WEIGHT),) + groove[0]
        object.__setattr__(self, "_table", (groove, fill_bar, (crash,) + groove[1:]))


def _table(lanes: dict[int, str], length: int, name: str) -> tuple:
    """Per 16th: ``((key, weight), ...)`` from lanes of ``length`` 16ths."""
    cells: list[list[tuple[int, float]]] = [[] for _ in range(length)]
    for key, text in lanes.items():
        text = text.replace(" ", "")
        if len(text) != length or key not in GM_DRUM_KEYS or set(text) - set(WEIGHTS) - {"."}:
            raise ValueError(f"drum pattern '{name}': lane {key} '{text}' is not {length} 16ths of {''.join(WEIGHTS)}.")
        for i, c in enumerate(text):
            if c in WEIGHTS:
                cells[i].append((key, WEIGHTS[c]))
    return tuple(tuple(c) for c in cells)


PATTERNS: dict[str, DrumPattern] = {p.name: p for p in (
    DrumPattern(
        "pop-ballad", 4, description="kick on 1 and 3-and, snare on 2 and 4, eighth-note hi-hat",
        lanes={KICK: "X... .... x.x. ....", SNARE: ".... x... .... x...", CLOSED_HAT: "x.o. x.o. x.o. x.o."},
        fill={SNARE: "x.x.", HIGH_TOM: ".x..", LOW_FLOOR_TOM: "...x"}, fill_from=12,
        bass="ballad", phrase_bars=8,
    ),
    DrumPattern(
        "rock", 4, description="kick on 1, 3 and 3-and, backbeat snare, eighth-note hi-hat",
        lanes={KICK: "X... .... X.x. ....", SNARE: ".... X... .... X...", CLOSED_HAT: "x.x. x.x. x.x. x.x."},
        fill={SNARE: "x.xx ....", HIGH_TOM: ".... xx..", LOW_TOM: ".... ..x.", LOW_FLOOR_TOM: ".... ...x", KICK: "x... x..."},
        fill_from=8, bass="rock",
    ),
    DrumPattern(
        "swing", 4, description="ride ding, ding-ga-ding, hi-hat foot on 2 and 4, feathered kick",
        lanes={RIDE: "X... x..x X... x..x", PEDAL_HAT: ".... x... .... x...", KICK: "o... o... o... o..."},
        fill={SNARE: "x..x", HIGH_TOM: "..x.", RIDE: "x..."}, fill_from=12, bass="walking",
    ),
    DrumPattern(
        "bossa", 4, description="bossa kick, rim clave, eighth-note cabasa",
        lanes={KICK: "x..x x..x x..x x..x", SIDE_STICK: "x..x ..x. ..x. .x..", CABASA: "x.x. x.x. x.x. x.x."},
        fill={SIDE_STICK: "x.x.", LOW_TOM: "..x.", LOW_FLOOR_TOM: "...x", KICK: "x..x"}, fill_from=12, bass="bossa",
    ),
    DrumPattern(
        "waltz", 3, description="kick on 1, snare on 2 and 3, eighth-note hi-hat (3/4)",
        lanes={KICK: "X... .... ....", SNARE: ".... x... x...", CLOSED_HAT: "x.o. x.o. x.o."},
        fill={SNARE: "xx..", HIGH_TOM: "..x.", LOW_FLOOR_TOM: "...x"}, fill_from=8, bass="waltz",
    ),
    DrumPattern(
        "six-eight", 3, description="kick on 1, snare on 4, hi-hat eighths (6/8, 12/8: what a compound meter plays)",
        lanes={KICK: "X... .... ....", SNARE: ".... ..x. ....", CLOSED_HAT: "x.o. o.x. o.o."},
        fill={SNARE: "x.x...", HIGH_TOM: "....x.", LOW_FLOOR_TOM: ".....x"}, fill_from=6, bass="six-eight",
    ),
)}  # fmt: skip
COMPOUND = "six-eight"  # the groove and bass pattern of a compound meter, whatever feel the band names
WALTZ = "waltz"  # ... of a bar of three quarter notes, unless the band names one written for three beats


def drum_pattern(name: str) -> DrumPattern:
    """The pattern called ``name``; a one-line SettingsError naming the known ones otherwise."""
    try:
        return PATTERNS[name]
    except KeyError:
        raise SettingsError(f"no drum pattern '{name}' (known: {', '.join(PATTERNS)}, or off)") from None


def hits(pattern: DrumPattern, sixteenth: int, bar: int, bar_16ths: int | None = None) -> tuple[tuple[int, float], ...]:
    """``(key, weight)`` to strike at 16th ``sixteenth`` of bar ``bar`` (bar 0: the first after
    any count-in), in a bar of ``bar_16ths`` 16ths (None: the pattern's). A bar longer than the
    pattern starts its groove over, a shorter one cuts it; the fill before a phrase always ends
    the bar (12/8 played a six-eight fill in the middle of the bar and at its end, 3/4 a 4/4
    fill never)."""
    groove, fill, crash = pattern._table
    n = len(groove)
    length = n if bar_16ths is None else bar_16ths
    phrase = pattern.phrase_bars
    if (bar + 1) % phrase == 0 and sixteenth >= length - (n - pattern.fill_from):
        return fill[sixteenth - length + n]
    if sixteenth == 0 and bar > 0 and bar % phrase == 0:
        return crash[0]
    return groove[sixteenth % n]


def meter_feel(name: str, beats: int, compound: bool) -> str:
    """The drum pattern a band asked for ``name`` plays in a bar of ``beats`` felt beats
    (``compound``: of three eighths each). A groove written in quarter notes puts its snare on
    the third eighth of a compound bar, and a 4/4 groove cut to three beats is no waltz (kick,
    snare, kick, and no fill): a compound meter plays :data:`COMPOUND`, a bar of three beats
    :data:`WALTZ` unless the pattern is written for three."""
    if compound:
        return COMPOUND
    if beats == 3 and drum_pattern(name).beats != 3:
        return WALTZ
    return name


def ring_16ths(key: int) -> int:
    return RING.get(key, DEFAULT_RING)
