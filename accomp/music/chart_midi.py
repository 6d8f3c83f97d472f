"""A chord chart taken from a MIDI file (`accomp chart from-midi`), and the `chart` commands.

Where the chords come from, in this order:

1. chord symbols the file carries as marker, cue or text events (arranger keyboards,
   Band-in-a-Box exports and accomp's own recordings write them), each holding until the
   next;
2. otherwise a template match, per beat of the time signature, of the pitch classes its
   accompaniment sounds (every track but the lead, found as the corpora find it; a file
   with a single part is matched whole), weighted by how long each note sounds in the
   beat, ties broken by its bass: the same matching the metrics and the chorale labels use
   (:func:`~accomp.music.chords.match_chords`: F-A over an F bass reads F, not C#aug).

A beat where nothing names a chord keeps the one before; whole bars before the first chord
are left out. The chart takes the file's first time signature and tempo.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np

from accomp.config import meter_problem
from accomp.errors import MidiFileError, SettingsError
from accomp.music.charts import CHART_SUFFIX, chart_text, parse_chart, parse_chord, read_chart
from accomp.music.chords import NO_CHORD, match_chords
from accomp.music.corpora import pick_roles, split_channels
from accomp.music.frames import Score, load_midi, read_score

CHORD_EVENTS = ("marker", "cue_marker", "text")
MAX_CHART_BEATS = 20_000  # a chart of more beats than this is not a song


@dataclass
class MidiChart:
    text: str  # the chart, as a file would hold it
    source: str  # where its chords came from, in words
    beats: int
    changes: int  # chord changes in it


def chord_events(midi: mido.MidiFile) -> list[tuple[int, int]]:
    """``(tick, chord)`` of the events whose text is a chord symbol, in time order."""
    out = []
    for track in midi.tracks:
        tick = 0
        for msg in track:
            tick += msg.time
            if msg.type in CHORD_EVENTS:
                chord = parse_chord(msg.text.strip())
                if chord is not None:
                    out.append((tick, chord))
    return sorted(out, key=lambda e: e[0])


def _held(per_beat: np.ndarray) -> np.ndarray:
    """Each no-chord beat after the first chord keeps the chord before it."""
    out = per_beat.copy()
    for b in range(1, len(out)):
        if out[b] == NO_CHORD:
            out[b] = out[b - 1]
    return out


def _from_events(events: list[tuple[int, int]], beat_ticks: float, n_beats: int) -> np.ndarray:
    starts = np.arange(n_beats) * beat_ticks
    ticks = np.array([t for t, _ in events], dtype=np.float64)
    which = np.searchsorted(ticks, starts + beat_ticks / 2, side="right") - 1  # the chord sounding mid-beat
    chords = np.array([c for _, c in events], dtype=np.int64)
    return np.where(which >= 0, chords[np.maximum(which, 0)], NO_CHORD)


def _from_notes(score: Score, beat_ticks: float, n_beats: int) -> tuple[np.ndarray, str]:
    tracks = [t for t in split_channels(score.tracks) if t.notes]
    try:
        lead, accomp = pick_roles(tracks, score.ticks_per_beat)
        what = f"a template match of {len(accomp)} accompaniment track(s) (lead: {lead.name or f'track {lead.index}'})"
    except MidiFileError:
        accomp = tracks
        what = "a template match of all its notes (no separate accompaniment)"
    chroma = np.zeros((n_beats, 12))
    lowest = np.full(n_beats, 128)  # each beat's lowest sounding key: its bass
    for track in accomp:
        for n in track.notes:
            first, last = int(n.start // beat_ticks), int(max(n.start, n.end - 1) // beat_ticks)
            for b in range(first, min(last, n_beats - 1) + 1):
                overlap = min(n.end, (b + 1) * beat_ticks) - max(n.start, b * beat_ticks)
                if overlap > 0:
                    chroma[b, n.pitch % 12] += overlap
                    lowest[b] = min(lowest[b], n.pitch)
    return match_chords(chroma, bass=np.where(lowest < 128, lowest % 12, -1)), what


def midi_chart(path: str | Path) -> MidiChart:
    """The chord chart of a MIDI file. MidiFileError (one line) when it has no chords to take."""
    path = Path(path)
    midi = load_midi(path)
    score = read_score(midi, source=str(path))
    _, num, den = score.meters[0]
    problem = meter_problem(num, den)
    if problem:
        raise MidiFileError(f"{path}: its time signature, {num}/{den}, cannot be a chart's ({problem})")
    tempo = 60e6 / score.tempos[0][1]
    beat_ticks = score.ticks_per_beat * 4 / den
    end = max((n.end for t in score.tracks for n in t.notes), default=0)
    n_beats = max(1, math.ceil(end / beat_ticks))
    if n_beats > MAX_CHART_BEATS:
        raise MidiFileError(f"{path}: {n_beats} beats is too long for a chart (at most {MAX_CHART_BEATS})")
    events = chord_events(midi)
    if events:
        per_beat = _from_events(events, beat_ticks, n_beats)
        source = f"{len(events)} chord symbol event(s) in the file"
    else:
        per_beat, source = _from_notes(score, beat_ticks, n_beats)
    named = np.flatnonzero(per_beat != NO_CHORD)
    if not len(named):
        raise MidiFileError(f"{path}: no chords to take (no chord symbols, and no beat sounds two pitch classes)")
    first_bar = named[0] // num
    per_beat = _held(per_beat[first_bar * num :])
    if len(score.meters) > 1:
        source += f"; the first time signature ({num}/{den}) kept, {len(score.meters) - 1} later change(s) ignored"
    text = chart_text(per_beat, (num, den), tempo=round(tempo, 1), title=path.stem)
    parse_chart(text, str(path))  # what it writes, it can read back
    changes = int(np.count_nonzero(np.diff(per_beat))) + 1
    return MidiChart(text, source, len(per_beat), changes)


# ----------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class ChartFromMidiOptions:
    file: str  # MIDI file
    out: str | None = None  # chart file to write; None: print it


def chart_from_midi(options: ChartFromMidiOptions) -> int:
    """`accomp chart from-midi FILE [-o OUT]`."""
    from accomp.files import write_text

    if options.out and Path(options.out).suffix.lower() != CHART_SUFFIX:
        raise SettingsError(f"-o {options.out}: a chart is a text file; name it *{CHART_SUFFIX}")
    chart = midi_chart(options.file)
    if options.out:
        write_text(options.out, chart.text)
        print(f"wrote {options.out}: {chart.beats} beats, {chart.changes} chords, from {chart.source}")
    else:
        sys.stdout.write(chart.text)
        print(f"({chart.beats} beats, {chart.changes} chords, from {chart.source})", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class ChartShowOptions:
    file: str  # chart file
    transpose: int = 0  # semitones, -11..11


def chart_show(options: ChartShowOptions) -> int:
    """`accomp chart show FILE [--transpose N]`: the chart as the band will play it."""
    if not -11 <= options.transpose <= 11:
        raise SettingsError(f"--transpose {options.transpose}: give -11..11 semitones")
    chart = read_chart(options.file)
    if options.transpose:
        chart = chart.transposed(options.transpose)
    tempo = f"{chart.tempo:g} bpm" if chart.tempo else "the session's tempo"
    print(f"{chart.title or Path(options.file).stem}: {len(chart.bars)} bars of {chart.meter[0]}/{chart.meter[1]}, {tempo}")
    print(chart.lead_sheet())
    return 0
