"""Frames <-> MIDI: the grid from the tempo map, 88-key onset+sustain rolls per track role.

See :mod:`accomp.config` for the roll layout. Reading goes MIDI file -> :class:`Score`
(notes in ticks per source track, tempo map, time signatures) -> :class:`Piece` (rolls on
the step grid). Writing goes :class:`Piece` -> ``mido.MidiFile`` with one track per role,
named after the role, and the tempo map and meters kept.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import mido
from mido.midifiles.meta import KeySignatureError
import numpy as np

from accomp.config import (
    MAX_BPM,
    MAX_MIDI_BYTES,
    MIN_BPM,
    ONSET,
    SUSTAIN,
    FrameSpec,
)
from accomp.errors import MidiFileError
from accomp.files import replacing

OUT_TICKS_PER_BEAT = 480
DEFAULT_VELOCITY = {"lead": 90}
FALLBACK_VELOCITY = 72
DRUM_CHANNEL = 9


@dataclass(frozen=True)
class Note:
    start: int  # ticks
    end: int  # ticks, > start
    pitch: int
    velocity: int
    channel: int = 0


@dataclass
class SourceTrack:
    index: int
    name: str
    notes: list[Note]

    def is_monophonic(self, tolerance: int = 0) -> bool:
        """True when no two notes overlap by more than ``tolerance`` ticks."""
        ordered = sorted(self.notes, key=lambda n: n.start)
        return all(b.start >= a.end - tolerance for a, b in zip(ordered, ordered[1:]))

    def mean_pitch(self) -> float:
        return float(np.mean([n.pitch for n in self.notes])) if self.notes else 0.0


@dataclass
class Score:
    """A MIDI file as notes in ticks, before it is laid on the grid."""

    ticks_per_beat: int
    tracks: list[SourceTrack]
    tempos: list[tuple[int, int]]  # (tick, microseconds per beat), sorted, first at 0
    meters: list[tuple[int, int, int]]  # (tick, numerator, denominator), sorted, first at 0
    end_tick: int
    keys: list[tuple[int, str]] = field(default_factory=list)  # key signatures (tick, name as mido gives it), sorted


@dataclass
class Piece:
    """One piece on the step grid: a roll per track role plus bar and tempo information."""

    piece_id: str
    style: str
    spec: FrameSpec
    tracks: dict[str, np.ndarray]  # role -> (T, 2, K) uint8
    velocity: dict[str, np.ndarray] = field(default_factory=dict)  # role -> (T, K) uint8
    beat_in_bar: np.ndarray | None = None  # (T,) int16: step index inside its bar
    tempos: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 500_000)])  # (beat, us/beat)
    meters: list[tuple[float, int, int]] = field(default_factory=lambda: [(0.0, 4, 4)])  # (beat, num, den)
    chords: np.ndarray | None = None  # (T,) int: chord label per step (accomp.music.chords), constant per beat
    chord_source: str = ""  # where the labels came from: "annotation", "template" ("" = none)
    chords_mapped: int = 0  # annotation labels outside the vocabulary, mapped to the nearest chord

    def __post_init__(self) -> None:
        lengths = {r.shape[0] for r in self.tracks.values()}
        if len(lengths) > 1:
            raise ValueError(f"tracks of one piece differ in length: {sorted(lengths)}")
        if self.beat_in_bar is None:
            self.beat_in_bar = beat_in_bar(self.n_steps, self.meters, self.spec)

    @property
    def n_steps(self) -> int:
        return next(iter(self.tracks.values())).shape[0] if self.tracks else 0

    def step_times(self) -> np.ndarray:
        """Seconds at the start of each step, from the tempo map. (T + 1,) float64."""
        beats = np.arange(self.n_steps + 1) / self.spec.steps_per_beat
        return beats_to_seconds(beats, self.tempos)

    def seconds(self) -> float:
        return float(self.step_times()[-1]) if self.n_steps else 0.0

    def crop(self, start: int, stop: int) -> "Piece":
        """Steps ``start .. stop-1`` as a new piece (tempo and meter of the start carried)."""
        spb = self.spec.steps_per_beat
        b0 = start / spb

        def shift(events: list) -> list:
            before = [e for e in events if e[0] <= b0][-1:]
            after = [e for e in events if b0 < e[0] < stop / spb]
            return [(0.0, *before[0][1:])] + [(e[0] - b0, *e[1:]) for e in after]

        return Piece(
            piece_id=self.piece_id,
            style=self.style,
            spec=self.spec,
            tracks={r: a[start:stop].copy() for r, a in self.tracks.items()},
            velocity={r: a[start:stop].copy() for r, a in self.velocity.items()},
            beat_in_bar=self.beat_in_bar[start:stop].copy(),
            tempos=shift(self.tempos),
            meters=shift(self.meters),
            chords=None if self.chords is None else self.chords[start:stop].copy(),
            chord_source=self.chord_source,
            chords_mapped=self.chords_mapped,
        )


# ----------------------------------------------------------------------------- time grid


def beats_to_seconds(beats: np.ndarray, tempos: list[tuple[float, int]]) -> np.ndarray:
    """Map beat positions (quarter notes) to seconds under a piecewise-constant tempo map."""
    beats = np.asarray(beats, dtype=np.float64)
    starts = np.array([b for b, _ in tempos], dtype=np.float64)
    spb = np.array([us for _, us in tempos], dtype=np.float64) / 1e6  # seconds per beat
    seg_seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * spb[:-1])])
    idx = np.clip(np.searchsorted(starts, beats, side="right") - 1, 0, len(starts) - 1)
    return seg_seconds[idx] + (beats - starts[idx]) * spb[idx]


def bar_steps(numerator: int, denominator: int, spec: FrameSpec) -> int:
    """Steps in one bar of ``numerator/denominator`` (at least one)."""
    return max(1, round(numerator * 4 / denominator * spec.steps_per_beat))


def beat_in_bar(n_steps: int, meters: list[tuple[float, int, int]], spec: FrameSpec) -> np.ndarray:
    """Step index inside its bar for every step; a meter change starts a new bar. (T,) int16."""
    out = np.zeros(n_steps, dtype=np.int16)
    bounds = [round(b * spec.steps_per_beat) for b, _, _ in meters] + [n_steps]
    for (_, num, den), s0, s1 in zip(meters, bounds, bounds[1:]):
        s0, s1 = min(max(s0, 0), n_steps), min(max(s1, 0), n_steps)
        if s1 > s0:
            out[s0:s1] = np.arange(s1 - s0) % bar_steps(num, den, spec)
    return out


def bars_from_downbeats(downbeats: np.ndarray, n_steps: int, spec: FrameSpec) -> tuple[np.ndarray, list[tuple[float, int, int]]]:
    """Beat-in-bar and meters from the steps where bars start (sorted, unique, >= 0).

    A bar runs from one downbeat to the next; steps before the first downbeat are the end of
    a bar as long as the first (a pickup), steps after the last continue bars as long as the
    last. Meters are in quarter notes, one entry where the bar length changes. Needs two or
    more downbeats inside the piece; raises ValueError otherwise.
    """
    starts = np.asarray(downbeats, dtype=np.int64)
    starts = starts[(starts >= 0) & (starts < n_steps)]
    if len(starts) < 2:
        raise ValueError(f"{len(starts)} downbeat(s) inside the piece; two are needed for a bar")
    lengths = np.diff(starts)
    steps = np.arange(n_steps)
    bar = np.clip(np.searchsorted(starts, steps, side="right") - 1, 0, len(lengths) - 1)
    out = steps - starts[bar]
    out[steps < starts[0]] %= lengths[0]
    tail = steps >= starts[-1]
    out[tail] = (steps[tail] - starts[-1]) % lengths[-1]
    meters: list[tuple[float, int, int]] = []
    spb = spec.steps_per_beat
    for start, length in zip(np.concatenate([[0], starts[1:]]), lengths):
        quarters = max(1, round(int(length) / spb))
        if not meters or meters[-1][1] != quarters:
            meters.append((float(start) / spb, quarters, 4))
    return out.astype(np.int16), meters


# ----------------------------------------------------------------------------- reading MIDI


def load_midi(path: str | os.PathLike) -> mido.MidiFile:
    """Open a MIDI file, turning every way it can be broken into a one-line MidiFileError."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise MidiFileError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > MAX_MIDI_BYTES:
        raise MidiFileError(f"{path}: {size / 2**20:.0f} MB is over the {MAX_MIDI_BYTES // 2**20} MB limit")
    if size == 0:
        raise MidiFileError(f"{path}: empty file")
    try:
        return mido.MidiFile(path, clip=True)
    except (OSError, EOFError, ValueError, KeyError, IndexError, TypeError, KeySignatureError) as exc:
        raise MidiFileError(f"{path}: not a readable MIDI file ({type(exc).__name__}: {exc})") from None


def read_score(midi: mido.MidiFile, source: str = "MIDI file") -> Score:
    """Notes per track (drums skipped), tempo map and meters, validated."""
    tpb = midi.ticks_per_beat
    if not isinstance(tpb, int) or tpb <= 0:
        raise MidiFileError(f"{source}: unsupported time division (SMPTE or zero ticks per beat)")
    tracks: list[SourceTrack] = []
    tempos: list[tuple[int, int]] = []
    meters: list[tuple[int, int, int]] = []
    keys: list[tuple[int, str]] = []
    end_tick = 0
    for index, track in enumerate(midi.tracks):
        tick = 0
        name = ""
        held: dict[tuple[int, int], list[tuple[int, int]]] = {}
        notes: list[Note] = []
        for msg in track:
            tick += msg.time
            if msg.type == "track_name" and not name:
                name = msg.name.strip()
            elif msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                meters.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "key_signature":
                keys.append((tick, msg.key))
            elif msg.type == "note_on" and msg.velocity > 0:
                if msg.channel != DRUM_CHANNEL:
                    held.setdefault((msg.channel, msg.note), []).append((tick, msg.velocity))
            elif msg.type in ("note_off", "note_on"):
                started = held.get((msg.channel, msg.note))
                if started:
                    t0, vel = started.pop(0)
                    if tick > t0:
                        notes.append(Note(t0, tick, msg.note, vel, msg.channel))
        for (channel, pitch), starts in held.items():  # notes never released: end at track end
            notes.extend(Note(t0, tick, pitch, vel, channel) for t0, vel in starts if tick > t0)
        end_tick = max(end_tick, tick)
        tracks.append(SourceTrack(index, name, sorted(notes, key=lambda n: (n.start, n.pitch))))

    for tick, us in tempos:
        bpm = 60e6 / us if us > 0 else math.inf
        if not MIN_BPM <= bpm <= MAX_BPM:
            shown = "infinite" if math.isinf(bpm) else f"{bpm:.3g}"
            raise MidiFileError(f"{source}: absurd tempo {shown} bpm at tick {tick}")
    for tick, num, den in meters:
        if num <= 0 or den <= 0:
            raise MidiFileError(f"{source}: impossible time signature {num}/{den} at tick {tick}")
    tempos = _from_zero(sorted(tempos, key=lambda e: e[0]), (0, 500_000))
    meters = _from_zero(sorted(meters, key=lambda e: e[0]), (0, 4, 4))
    if not any(t.notes for t in tracks):
        raise MidiFileError(f"{source}: no notes")
    return Score(tpb, tracks, tempos, meters, end_tick, sorted(keys, key=lambda e: e[0]))


def _from_zero(events: list, default: tuple) -> list:
    """Make a sorted event list start at tick 0; of events at the same tick keep the last."""
    if not events or events[0][0] > 0:
        events = [(0, *(events[0][1:] if events else default[1:]))] + events
    dedup: dict[int, tuple] = {}
    for e in events:
        dedup[e[0]] = e
    return list(dedup.values())


def score_to_piece(
    score: Score,
    roles: dict[str, list[SourceTrack]],
    spec: FrameSpec,
    piece_id: str,
    style: str,
) -> Piece:
    """Lay the notes of the tracks given for each role on the step grid (tracks OR-ed)."""
    step_ticks = score.ticks_per_beat / spec.steps_per_beat
    n_steps = max(
        (max(round(n.start / step_ticks) + 1, round(n.end / step_ticks)) for ts in roles.values() for t in ts for n in t.notes),
        default=1,
    )
    rolls: dict[str, np.ndarray] = {}
    velocity: dict[str, np.ndarray] = {}
    for role, tracks in roles.items():
        roll = np.zeros((n_steps, 2, spec.n_keys), dtype=np.uint8)
        vel = np.zeros((n_steps, spec.n_keys), dtype=np.uint8)
        for track in tracks:
            for note in track.notes:
                k = spec.key_of(note.pitch)
                if k is None:
                    continue
                s = round(note.start / step_ticks)
                e = max(s + 1, round(note.end / step_ticks))
                roll[s, ONSET, k] = 1
                roll[s:e, SUSTAIN, k] = 1
                vel[s, k] = max(vel[s, k], note.velocity)
        rolls[role] = roll
        velocity[role] = vel
    tpb = score.ticks_per_beat
    return Piece(
        piece_id=piece_id,
        style=style,
        spec=spec,
        tracks=rolls,
        velocity=velocity,
        tempos=[(t / tpb, us) for t, us in score.tempos],
        meters=[(t / tpb, n, d) for t, n, d in score.meters],
    )


def midi_to_piece(
    path: str | os.PathLike,
    track_roles: dict[str, str],
    spec: FrameSpec,
    style: str,
    piece_id: str | None = None,
) -> Piece:
    """Read a MIDI file whose tracks are named; ``track_roles`` maps track name -> role.

    Names match case-insensitively. Every role must find at least one note.
    """
    score = read_score(load_midi(path), source=str(path))
    wanted = {name.lower(): role for name, role in track_roles.items()}
    roles: dict[str, list[SourceTrack]] = {role: [] for role in wanted.values()}
    for track in score.tracks:
        role = wanted.get(track.name.lower())
        if role is not None:
            roles[role].append(track)
    for role, tracks in roles.items():
        if not any(t.notes for t in tracks):
            names = [n for n, r in track_roles.items() if r == role]
            raise MidiFileError(f"{path}: no notes for role '{role}' (tracks named {names})")
    return score_to_piece(score, roles, spec, piece_id or Path(path).stem, style)


# ----------------------------------------------------------------------------- writing MIDI


def roll_to_notes(roll: np.ndarray) -> list[tuple[int, int, int]]:
    """Decode a roll into ``(start_step, end_step, key)`` notes.

    A note starts at an onset, or where sustain switches on without one (tolerant of
    thresholded model output), and lasts while sustain stays on and no new onset comes.
    """
    onset = roll[:, ONSET, :].astype(bool)
    sustain = roll[:, SUSTAIN, :].astype(bool) | onset
    n_steps = roll.shape[0]
    prev = np.zeros_like(sustain)
    prev[1:] = sustain[:-1]
    starts = onset | (sustain & ~prev)
    breaks = ~sustain | onset  # a note ends at the first break after its start
    notes = []
    for k in np.flatnonzero(starts.any(axis=0)):
        s_idx = np.flatnonzero(starts[:, k])
        b_idx = np.flatnonzero(breaks[:, k])
        pos = np.searchsorted(b_idx, s_idx, side="right")
        ends = np.where(pos < len(b_idx), b_idx[np.minimum(pos, len(b_idx) - 1)], n_steps)
        notes.extend((int(s), int(e), int(k)) for s, e in zip(s_idx, ends))
    notes.sort()
    return notes


def notes_to_roll(notes: list[tuple[int, int, int]], n_steps: int, spec: FrameSpec) -> np.ndarray:
    """The inverse of :func:`roll_to_notes` for ``(start_step, end_step, key)`` notes."""
    roll = np.zeros((n_steps, 2, spec.n_keys), dtype=np.uint8)
    for s, e, k in notes:
        roll[s, ONSET, k] = 1
        roll[s:e, SUSTAIN, k] = 1
    return roll


def piece_to_midi(piece: Piece, programs: dict[str, int] | None = None) -> mido.MidiFile:
    """A type-1 MIDI file: a conductor track (tempo map, meters), then one track per role."""
    tpb = OUT_TICKS_PER_BEAT
    step_ticks = tpb // piece.spec.steps_per_beat
    midi = mido.MidiFile(type=1, ticks_per_beat=tpb)
    conductor = [(round(b * tpb), mido.MetaMessage("set_tempo", tempo=us, time=0)) for b, us in piece.tempos]
    conductor += [
        (round(b * tpb), mido.MetaMessage("time_signature", numerator=n, denominator=d, time=0))
        for b, n, d in piece.meters
    ]
    conductor.sort(key=lambda e: e[0])
    midi.tracks.append(delta_track("conductor", conductor))
    for channel, (role, roll) in enumerate(piece.tracks.items()):
        channel = channel if channel < DRUM_CHANNEL else channel + 1
        vel = piece.velocity.get(role)
        default = DEFAULT_VELOCITY.get(role, FALLBACK_VELOCITY)
        events: list[tuple[int, int, mido.Message]] = []  # (tick, order, msg): offs before ons
        for s, e, k in roll_to_notes(roll):
            v = int(vel[s, k]) if vel is not None and vel[s, k] > 0 else default
            pitch = piece.spec.lowest_pitch + k
            events.append((s * step_ticks, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=v)))
            events.append((e * step_ticks, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
        events.sort(key=lambda e: (e[0], e[1]))
        program = (programs or {}).get(role)
        head = [(0, mido.Message("program_change", channel=channel, program=program))] if program is not None else []
        midi.tracks.append(delta_track(role, head + [(t, m) for t, _, m in events]))
    return midi


def delta_track(name: str, timed: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    """A named track of ``(absolute tick, message)`` pairs in time order, as delta times."""
    track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
    now = 0
    for tick, msg in timed:
        track.append(msg.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def save_midi(midi: mido.MidiFile, path: str | os.PathLike) -> None:
    """Write atomically (:mod:`accomp.files`); one-line error if it cannot."""
    try:
        with replacing(path) as tmp:
            midi.save(tmp)
    except OSError as exc:
        raise MidiFileError(f"{path}: cannot write ({exc.strerror or exc})") from None


def read_piece_file(path: str | os.PathLike, spec: FrameSpec, style: str = "unknown") -> Piece:
    """Read a MIDI file written by accomp (tracks named ``lead`` and ``accomp[:<role>]``)."""
    score = read_score(load_midi(path), source=str(path))
    roles: dict[str, list[SourceTrack]] = {}
    for track in score.tracks:
        name = track.name.lower()
        if name == "lead" or name == "accomp" or name.startswith("accomp:"):
            roles.setdefault(name, []).append(track)
    if not roles.get("lead") or not any(t.notes for t in roles["lead"]):
        raise MidiFileError(f"{path}: no track named 'lead' with notes")
    return score_to_piece(score, roles, spec, Path(path).stem, style)
