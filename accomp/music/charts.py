"""Chord charts: the plain-text lead sheet the band plays from (issue 18's practice mode).

A chart is a text file, one or more bars per line, bars between ``|``::

    # Twelve-bar blues in F (lines starting with # are comments)
    title: Blues in F
    tempo: 120
    time: 4/4
    |: F7 | Bb7 | F7 | F7 |
    | Bb7 | Bb7 | F7 | D7 |
    | Gm7 | C7 | F7 D7 | Gm7 C7 :|

- **Chords** are lead-sheet symbols: a root (``C``, ``F#``, ``Bb``) and a quality: none
  (major), ``m`` / ``min`` / ``-``, ``dim`` / ``o``, ``aug`` / ``+``, ``sus2``, ``sus4`` /
  ``sus``, ``7``, ``maj7`` / ``M7`` / ``^7``, ``m7`` / ``min7`` / ``-7``, ``m7b5`` / ``ø``;
  richer symbols fold onto their nearest (``6`` -> major, ``m6`` -> minor, ``9`` / ``13`` ->
  ``7``, ``maj9`` -> ``maj7``, ``m9`` -> ``m7``, ``dim7`` -> ``dim``, ``7sus4`` -> ``sus4``, ``add9``
  -> major); a bass after ``/`` (``C/E``) is read and dropped. ``N.C.`` is no chord.
- **Beats**: a bar's chords share its beats evenly, the first ones taking what is left over
  (``| F G7 |`` in 4/4 is two beats each; ``| C F G |`` is 2 + 1 + 1). ``.`` or ``/`` as a
  chord holds the one before for a beat, so ``| C . . G7 |`` is 3 + 1. A bar with more chords
  than beats is an error.
- **Repeats**: ``|:`` opens a section and ``:|`` closes it, played twice (``:|x3``: three
  times); ``%`` repeats the bar before.
- **Header lines** (before or between bars): ``tempo: BPM`` (20-400), ``time: N/D``
  (1-16 beats of a 1, 2, 4, 8 or 16 note), ``title: ...``.

Every mistake is a :class:`~accomp.errors.ChartError` naming the file, line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accomp.config import RESOURCES, meter_problem
from accomp.errors import ChartError
from accomp.music.chords import NO_CHORD, chord_index, chord_name, parse_root

CHART_SUFFIX = ".txt"
MAX_BYTES = 1_000_000  # a chart is a page of text; anything this big is not one
MAX_BEATS = 100_000  # repeats unrolled
TEMPO_RANGE = (20.0, 400.0)

# Quality suffixes as lead sheets write them -> the vocabulary's quality.
_SUFFIXES: dict[str, str] = {
    "": "maj", "maj": "maj", "M": "maj", "6": "maj", "add9": "maj", "add2": "maj", "5": "maj", "69": "maj",
    "m": "min", "min": "min", "-": "min", "mi": "min", "m6": "min", "madd9": "min", "-6": "min",
    "dim": "dim", "o": "dim", "°": "dim", "dim7": "dim", "o7": "dim", "°7": "dim",
    "aug": "aug", "+": "aug", "aug7": "aug", "+7": "aug",
    "sus2": "sus2", "sus4": "sus4", "sus": "sus4", "7sus4": "sus4", "7sus": "sus4", "9sus4": "sus4",
    "7": "7", "9": "7", "11": "7", "13": "7", "7b9": "7", "7#9": "7", "7#11": "7", "7b13": "7", "dom7": "7",
    "maj7": "maj7", "M7": "maj7", "^7": "maj7", "^": "maj7", "Δ": "maj7", "Δ7": "maj7", "maj9": "maj7", "M9": "maj7",
    "m7": "min7", "min7": "min7", "-7": "min7", "mi7": "min7", "m9": "min7", "m11": "min7", "min9": "min7", "-9": "min7",
    "m7b5": "hdim7", "ø": "hdim7", "ø7": "hdim7", "-7b5": "hdim7", "min7b5": "hdim7", "hdim7": "hdim7",
}  # fmt: skip
_SYMBOL = re.compile(r"^([A-G][#b]?)(.*?)(?:/([A-G][#b]?))?$")
_HOLD = {".", "/"}
_NO_CHORD = {"N.C.", "NC", "N.C", "n.c."}
_REPEAT_END = re.compile(r"^:\|(?:x(\d+))?$")
_COMMENT = re.compile(r"(?:^|(?<=\s))#")  # a '#' that starts a word: F#m7 is a chord
_HEADER = re.compile(r"^\s*(tempo|time|title)\s*:\s*(.*?)\s*$", re.IGNORECASE)


def parse_chord(symbol: str) -> int | None:
    """A lead-sheet chord symbol -> its chord index (no chord for ``N.C.``), or None."""
    if symbol in _NO_CHORD:
        return NO_CHORD
    m = _SYMBOL.match(symbol)
    if m is None or m.group(2) not in _SUFFIXES:
        return None
    if m.group(3) is not None and parse_root(m.group(3)) is None:
        return None
    return chord_index(parse_root(m.group(1)), _SUFFIXES[m.group(2)])


@dataclass
class Bar:
    """One bar as written: its chord per beat and where it is in the file."""

    chords: list[int]  # one per beat
    line: int  # 1-based


@dataclass
class Chart:
    """A parsed chart: header values and the bars in playing order (repeats unrolled)."""

    title: str
    tempo: float | None  # bpm; None: the session's own
    meter: tuple[int, int]
    bars: list[Bar] = field(default_factory=list)
    source: str = ""

    @property
    def beats_per_bar(self) -> int:
        return self.meter[0]

    def per_beat(self) -> np.ndarray:
        """The chord of every beat, bar after bar. (n_bars * beats_per_bar,) int64."""
        return np.array([c for bar in self.bars for c in bar.chords], dtype=np.int64)

    def transposed(self, semitones: int) -> "Chart":
        from accomp.music.chords import transpose

        bars = [Bar(transpose(np.array(b.chords), semitones).tolist(), b.line) for b in self.bars]
        return Chart(self.title, self.tempo, self.meter, bars, self.source)

    def lead_sheet(self) -> str:
        """The chart as text, one bar per line: what the band plays where."""
        return "\n".join(f"bar {i + 1}: " + " ".join(chord_name(c) for c in bar.chords) for i, bar in enumerate(self.bars))


def _fail(where: str, line: int, column: int, message: str) -> ChartError:
    return ChartError(f"{where}:{line}:{column}: {message}")


def _tokens(text: str) -> list[tuple[str, int]]:
    """Whitespace-separated tokens with their 1-based columns; bar lines split off as their own."""
    out = []
    for m in re.finditer(r"\S+", text):
        token, col = m.group(0), m.start() + 1
        # split bar lines glued to chords: "|C" "G7|" "|:C" "C:|x2"
        for part in re.finditer(r"\|:|:\|(?:x\d+)?|\||:|[^|:]+", token):
            out.append((part.group(0), col + part.start()))
    return out


def _bar_chords(cells: list[tuple[str, int]], beats: int, where: str, line: int) -> list[int]:
    """One bar's written chords -> one chord per beat."""
    chords: list[int] = []
    lengths: list[int] = []
    explicit = len(cells) == beats  # one cell per beat: "." and "/" hold
    for token, col in cells:
        if token in _HOLD:
            if not chords:
                raise _fail(where, line, col, f"'{token}' holds the chord before it, but it starts the bar")
            lengths[-1] += 1
            continue
        chord = parse_chord(token)
        if chord is None:
            raise _fail(where, line, col, f"unknown chord symbol '{token}' (e.g. C, Am, F#m7, Bb7, Ebmaj7, Bm7b5, Gsus4, N.C.)")
        chords.append(chord)
        lengths.append(1)
    if len(cells) > beats:
        raise _fail(where, line, cells[beats][1], f"this bar has {len(cells)} chords for {beats} beats")
    if not explicit:
        if any(token in _HOLD for token, _ in cells):
            raise _fail(where, line, cells[0][1], f"a bar written with '.' or '/' needs one entry per beat ({beats})")
        base, extra = divmod(beats, len(chords))
        lengths = [base + (1 if i < extra else 0) for i in range(len(chords))]
    return [c for c, n in zip(chords, lengths) for _ in range(n)]


def parse_chart(text: str, where: str = "<chart>") -> Chart:
    """A chart's text -> :class:`Chart`; a :class:`ChartError` naming line and column otherwise."""
    title, tempo, meter = "", None, (4, 4)
    bars: list[Bar] = []
    repeat_from: int | None = None
    open_at = (0, 0)
    for number, raw in enumerate(text.splitlines(), start=1):
        titled = _HEADER.match(raw)
        line = raw if titled and titled.group(1).lower() == "title" else _COMMENT.split(raw, 1)[0]
        if not line.strip():
            continue
        header = _HEADER.match(line)
        if header:
            name, value = header.group(1).lower(), header.group(2)
            column = line.index(value) + 1 if value else len(line) + 1
            if name == "title":
                title = value
            elif name == "tempo":
                try:
                    tempo = float(value)
                except ValueError:
                    raise _fail(where, number, column, f"tempo '{value}' is not a number of beats per minute") from None
                if not TEMPO_RANGE[0] <= tempo <= TEMPO_RANGE[1]:
                    raise _fail(where, number, column, f"tempo {value} is outside {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g} bpm")
            else:
                m = re.fullmatch(r"(\d+)\s*/\s*(\d+)", value)
                if not m or meter_problem(int(m.group(1)), int(m.group(2))):
                    raise _fail(where, number, column, f"time '{value}' is not a time signature like 4/4, 3/4 or 6/8")
                if bars:
                    raise _fail(where, number, column, "the time signature must come before the first bar")
                meter = (int(m.group(1)), int(m.group(2)))
            continue
        tokens = _tokens(line)
        if not tokens or tokens[0][0] not in ("|", "|:"):
            raise _fail(where, number, tokens[0][1] if tokens else 1, "a line of bars starts with '|' (or '|:'), e.g. | C | Am | F G7 |")
        cells: list[tuple[str, int]] = []
        for token, col in tokens:
            end = _REPEAT_END.match(token)
            if token in ("|", "|:") or end:
                if cells:
                    if len(cells) == 1 and cells[0][0] == "%":
                        if not bars:
                            raise _fail(where, number, cells[0][1], "'%' repeats the bar before, but there is none")
                        bars.append(Bar(list(bars[-1].chords), number))
                    else:
                        bars.append(Bar(_bar_chords(cells, meter[0], where, number), number))
                    cells = []
                if token == "|:":
                    if repeat_from is not None:
                        raise _fail(where, number, col, "a repeat opens inside another ('|:' before ':|')")
                    repeat_from, open_at = len(bars), (number, col)
                elif end:
                    times = int(end.group(1) or 2)
                    if not 2 <= times <= 16:
                        raise _fail(where, number, col, f"a section repeats 2 to 16 times, not {times}")
                    start = repeat_from if repeat_from is not None else 0
                    section = bars[start:]
                    if not section:
                        raise _fail(where, number, col, "':|' closes an empty section")
                    for _ in range(times - 1):
                        bars.extend(Bar(list(b.chords), b.line) for b in section)
                    repeat_from = None
            elif token == ":":
                raise _fail(where, number, col, "':' belongs to a repeat sign: '|:' or ':|'")
            else:
                cells.append((token, col))
            if sum(len(b.chords) for b in bars) > MAX_BEATS:
                raise _fail(where, number, col, f"the chart unrolls to more than {MAX_BEATS} beats")
        if cells:
            raise _fail(where, number, cells[-1][1], "the last bar of the line is not closed with '|'")
    if repeat_from is not None:
        raise _fail(where, *open_at, "'|:' opens a repeat that no ':|' closes")
    if not bars:
        raise ChartError(f"{where}: the chart has no bars (write them like | C | Am | F G7 |)")
    return Chart(title or Path(where).stem, tempo, meter, bars, where)


def read_chart(path: str | Path) -> Chart:
    """A chart file; one-line :class:`ChartError` for a missing, huge, binary or wrong one."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ChartError(f"{path}: cannot read the chart ({exc.strerror or exc})") from None
    if size > MAX_BYTES:
        raise ChartError(f"{path}: {size / 1e6:.1f} MB is not a chart (at most {MAX_BYTES // 1000} kB of text)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ChartError(f"{path}: not a text chart (byte {exc.start} is not UTF-8)") from None
    except OSError as exc:
        raise ChartError(f"{path}: cannot read the chart ({exc.strerror or exc})") from None
    return parse_chart(text, str(path))


def chart_text(chords_per_beat: np.ndarray, meter: tuple[int, int] = (4, 4), *, tempo: float | None = None, title: str = "") -> str:
    """Chart text for a chord per beat (e.g. a MIDI file's chords): one bar per ``|``, four
    bars a line, a chord repeated within a bar written once when it fills the bar evenly."""
    beats = meter[0]
    lines = [f"title: {title}"] if title else []
    if tempo:
        lines.append(f"tempo: {tempo:g}")
    lines.append(f"time: {meter[0]}/{meter[1]}")
    cells = []
    chords = list(np.asarray(chords_per_beat, dtype=np.int64))
    chords += [chords[-1] if chords else NO_CHORD] * (-len(chords) % beats)
    for b in range(0, len(chords), beats):
        bar = chords[b : b + beats]
        runs: list[list[int]] = []
        for c in bar:
            if runs and runs[-1][0] == c:
                runs[-1][1] += 1
            else:
                runs.append([c, 1])
        even = len({n for _, n in runs}) == 1 or [n for _, n in runs] == _even_lengths(beats, len(runs))
        if even:
            cells.append(" ".join(chord_name(c) for c, _ in runs))
        else:
            cells.append(" ".join(chord_name(c) if i == 0 else "." for c, n in runs for i in range(n)))
    for i in range(0, len(cells), 4):
        lines.append("| " + " | ".join(cells[i : i + 4]) + " |")
    return "\n".join(lines) + "\n"


def _even_lengths(beats: int, n: int) -> list[int]:
    base, extra = divmod(beats, n)
    return [base + (1 if i < extra else 0) for i in range(n)]


def lead_sheet(chords_at: list[tuple[int, int]], steps_per_bar: int, steps_per_beat: int) -> str:
    """What a band played as a lead sheet, one line per chord change: ``bar beat chord``
    (1-based; beats of ``steps_per_beat`` steps, the 1/den note a chart counts in), from
    ``(grid step, chord)`` at each beat."""
    lines, last = ["bar beat chord"], None
    for step, chord in chords_at:
        if chord != last and step >= 0:
            lines.append(f"{step // steps_per_bar + 1} {(step % steps_per_bar) // steps_per_beat + 1} {chord_name(chord)}")
            last = chord
    return "\n".join(lines)


def chart_scores(accomp: np.ndarray, chords_per_beat: np.ndarray, steps_per_beat: int, lowest_pitch: int = 21) -> dict:
    """How faithfully an accompaniment roll (T, 2, K), starting on the chart's first beat,
    played the chart: ``chord_agreement``, the share of beats where both name a chord (the
    metrics' template match, root and triad family) whose chords agree; ``key_adherence``,
    the share of its note time on the chart's key (Krumhansl-Schmuckler over the chart's
    chord tones) or on the tones of the chart's chord of that beat (a blues' flat sevenths are
    the chart's, not wrong notes)."""
    from accomp.music.chords import BASS, CHROMA
    from accomp.music.metrics import beat_bass, beat_chroma, chord_labels, estimate_key, key_pitch_classes, pc_counts

    chart = np.asarray(chords_per_beat, dtype=np.int64)
    steps = min(len(accomp), len(chart) * steps_per_beat)
    beats = np.arange(steps) // steps_per_beat
    chroma = beat_chroma(pc_counts(accomp[:steps], lowest_pitch), beats)
    chart = chart[: len(chroma)]
    roots = np.where(chart != NO_CHORD, BASS[chart].argmax(axis=1), -1)  # a chart's chord stands on its root
    mine = chord_labels(chroma, beat_bass(accomp[:steps], beats, lowest_pitch))
    theirs = chord_labels(CHROMA[chart].astype(np.float64), roots)
    named = (mine >= 0) & (theirs >= 0)
    tonic, mode = estimate_key(CHROMA[chart].sum(axis=0))
    allowed = key_pitch_classes(tonic, mode)[None, :] | (CHROMA[chart] > 0)
    total = chroma.sum()
    return {"chord_agreement": float((mine == theirs)[named].mean()) if named.any() else float("nan"),
            "key_adherence": float((chroma * allowed).sum() / total) if total > 0 else float("nan"),
            "beats": int(len(chart)), "named_beats": int(named.sum())}  # fmt: skip


def band_roll(path: str | Path) -> np.ndarray:
    """The band's pitched parts in a MIDI file accomp wrote (its ``accomp`` track, and ``bass``
    where it played) as one roll (T, 2, K) on the default grid, for :func:`chart_scores`."""
    from accomp.config import DEFAULT_SPEC
    from accomp.music.frames import load_midi, read_score, score_to_piece

    score = read_score(load_midi(path), source=str(path))
    parts = [t for t in score.tracks if t.name in ("accomp", "bass")]
    return score_to_piece(score, {"accomp": parts}, DEFAULT_SPEC, Path(path).stem, "rendered").tracks["accomp"]


def bundled_charts() -> list[Path]:
    """The example charts that ship in ``resources/charts``."""
    return sorted((RESOURCES / "charts").glob("*" + CHART_SUFFIX))
