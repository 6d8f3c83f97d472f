"""Corpora: folders of music read into :class:`~accomp.music.frames.Piece` lists, with a cache.

Three kinds, each giving pieces with the roles ``lead`` and ``accomp`` (not transposed):

- ``pop909``: a folder in POP909 layout, ``NNN/NNN.mid`` (or a folder holding ``POP909/``);
  track ``MELODY`` -> lead, ``PIANO`` -> accomp, ``BRIDGE`` ignored. Style ``pop``, piece
  ids ``pop909/NNN``.
- ``chorales``: the Bach chorales of music21's bundled corpus (see
  :mod:`accomp.music.chorales`). Style ``chorale``, piece ids ``chorales/<file stem>``.
- ``midi-folder``: every ``.mid``/``.midi`` file under a folder (recursively); style
  defaults to the folder's name, piece ids ``<style>/<relative path without suffix>``.
  Tracks are chosen by :data:`LEAD_RULE`.

Every file that cannot be used is skipped with a one-line reason and the run goes on; a
missing folder, or one without a single usable piece, raises :class:`CorpusError`. Loaded
corpora are cached on disk (:mod:`accomp.music.cache`) and rebuilt when the source files,
the frame spec or :data:`accomp.config.ENCODER_VERSION` change.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from accomp.config import ACCOMP, DEFAULT_SPEC, ENCODER_VERSION, LEAD, MIDI_SUFFIXES, ONSET, FrameSpec
from accomp.errors import CorpusError, MidiFileError
from accomp.music import cache, chorales
from accomp.music.chords import seconds_to_steps
from accomp.music.frames import (
    Piece,
    SourceTrack,
    bars_from_downbeats,
    load_midi,
    midi_to_piece,
    read_score,
    score_to_piece,
)
from accomp.music.labels import label_by_annotation, label_by_template
from accomp.music.windows import Windows, make_windows, split_pieces, transpose_roll

__all__ = [
    "KINDS",
    "LEAD_RULE",
    "CorpusResult",
    "Windows",
    "load_corpus",
    "make_windows",
    "pack_corpus",
    "split_pieces",
    "transpose_roll",
]

KINDS = ("pop909", "chorales", "midi-folder", "pack")
DEFAULT_STYLES = {"pop909": "pop", "chorales": "chorale"}
POP909_ROLES = {"MELODY": LEAD, "PIANO": ACCOMP}
LEAD_WORDS = ("lead", "melody", "vocal", "vocals", "voice", "soprano")
LEAD_RULE = (
    "lead = the first track whose name contains the word lead, melody, vocal(s), voice or "
    "soprano; else the highest (by mean pitch) monophonic track (overlaps up to a 32nd "
    "note allowed); accomp = every other track with notes (drums left out). A track "
    "playing on several MIDI channels counts as one track per channel."
)
# What reading a user's file can raise besides MidiFileError: recorded as a skip reason.
FILE_ERRORS = (MidiFileError, OSError, ValueError, EOFError, KeyError, IndexError, TypeError, struct.error)


@dataclass
class CorpusResult:
    kind: str  # 'pop909' | 'chorales' | 'midi-folder'
    style: str  # 'pop', 'chorale', or the midi-folder style
    pieces: list[Piece]  # roles 'lead' and 'accomp', not transposed
    skipped: list[tuple[str, str]]  # (file or piece id, one-line reason)
    source: str = ""  # the resolved folder read
    cache: str = "off"  # 'hit', 'built', 'off', or 'not written (<why>)'
    origin: dict | None = None  # a pack's record of what it was read from


@dataclass
class _Item:
    """One source file to read: its name in skip lists and the function that reads it."""

    name: str
    path: Path
    read: Callable[[], Piece]
    also: tuple[Path, ...] = ()  # other files the piece is read from (POP909's chord_midi.txt)


def load_corpus(
    kind: str,
    path: str | None,
    spec: FrameSpec = DEFAULT_SPEC,
    *,
    style: str | None = None,
    use_cache: bool = True,
    progress: bool = False,
    limit: int | None = None,
) -> CorpusResult:
    """Read a corpus (from the cache when it is fresh). ``limit`` reads only the first files."""
    if kind not in KINDS:
        raise CorpusError(f"unknown corpus kind '{kind}' (choose one of {', '.join(KINDS)})")
    if kind == "pack":
        return _load_pack(path, spec)
    if kind == "chorales":
        if path is not None:
            raise CorpusError("the chorales corpus takes no folder: it is music21's bundled corpus")
        folder = chorales.chorale_folder()
    else:
        folder = _existing_folder(kind, path)
    style = style or DEFAULT_STYLES.get(kind) or folder.name
    items, skipped = _list_items(kind, folder, style, spec)
    items = items[:limit] if limit is not None else items

    fingerprint = {"files": _fingerprint(items), "skipped": skipped, "limit": limit}
    if kind == "chorales":
        fingerprint["music21"] = chorales.music21_version()
    key = cache.cache_key(kind, str(folder), style, spec, fingerprint)
    cache_file = cache.cache_path(kind, str(folder), style, spec)
    if use_cache:
        hit = cache.load_corpus_cache(cache_file, key)
        if hit is not None:
            return CorpusResult(kind, style, hit[0], hit[1], str(folder), "hit")

    if progress:  # a progress bar shows only on a terminal: say what the wait is, once, anyway
        why = "first time, or the files changed: the result is cached" if use_cache else "no cache"
        print(f"reading {len(items)} files of the {kind} corpus ({why})", file=sys.stderr, flush=True)
    pieces = _read_items(items, skipped, progress, f"reading {kind}")
    if not pieces:
        example = f", e.g. {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        raise CorpusError(f"no usable pieces in {folder} ({len(skipped)} files skipped{example})")
    status = "off"
    if use_cache:
        try:
            cache.save_corpus(cache_file, key, pieces, skipped)
            status = "built"
        except OSError as exc:
            status = f"not written ({exc.strerror or exc})"
    return CorpusResult(kind, style, pieces, skipped, str(folder), status)


def _load_pack(path: str | None, spec: FrameSpec) -> CorpusResult:
    if not path:
        raise CorpusError("a pack corpus needs --path FILE.npz (made by accomp data pack)")
    file = Path(path).expanduser()
    if not file.is_file():
        raise CorpusError(f"corpus pack {'is not a file' if file.exists() else 'not found'}: {file}")
    try:
        origin, pieces, skipped = cache.load_pack(file)
    except ValueError as exc:
        raise CorpusError(f"{file}: {exc}") from None
    if pieces[0].spec != spec:
        raise CorpusError(f"{file}: packed with another frame spec ({pieces[0].spec.to_dict()})")
    return CorpusResult("pack", str(origin.get("style", pieces[0].style)), pieces, skipped, str(file), "off", origin)


def pack_corpus(result: CorpusResult, out: Path) -> dict:
    """Write ``result`` as a pack file at ``out`` (atomically) and return its origin record."""
    if result.kind == "pack":
        raise CorpusError("that corpus is a pack already")
    origin = {
        "kind": result.kind,
        "source": Path(result.source).name if result.kind != "chorales" else "music21 corpus",
        "style": result.style,
        "pieces": len(result.pieces),
        "encoder": ENCODER_VERSION,
    }
    try:
        cache.save_corpus(out, "pack", result.pieces, result.skipped, origin=origin)
    except OSError as exc:
        raise CorpusError(f"{out}: cannot write ({exc.strerror or exc})") from None
    return origin


def _existing_folder(kind: str, path: str | None) -> Path:
    if not path:
        raise CorpusError(f"the {kind} corpus needs a folder path")
    folder = Path(path).expanduser()
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "not found"
        raise CorpusError(f"{kind} folder {what}: {folder}")
    try:
        return folder.resolve()
    except OSError as exc:
        raise CorpusError(f"cannot read the {kind} folder {folder} ({exc.strerror or exc})") from None


def _list_items(kind: str, folder: Path, style: str, spec: FrameSpec) -> tuple[list[_Item], list[tuple[str, str]]]:
    if kind == "pop909":
        return _pop909_items(folder, style, spec)
    if kind == "chorales":
        items = [
            _Item(f"chorales/{p.stem}", p, partial(chorales.chorale_to_piece, p, spec, style, f"chorales/{p.stem}"))
            for p in chorales.chorale_files(folder)
        ]
        return items, []
    return _midi_folder_items(folder, style, spec)


def _fingerprint(items: list[_Item]) -> list[list]:
    """Name, size and mtime of every source file (a file that cannot be stat-ed counts as -1)."""
    rows = []
    for item in items:
        row = [item.name]
        for path in (item.path, *item.also):
            try:
                st = path.stat()
                row += [st.st_size, st.st_mtime_ns]
            except OSError:
                row += [-1, -1]
        rows.append(row)
    return rows


def _read_items(items: list[_Item], skipped: list[tuple[str, str]], progress: bool, desc: str) -> list[Piece]:
    from tqdm import tqdm

    pieces = []
    for item in tqdm(items, desc=desc, unit="file", file=sys.stderr, disable=None if progress else True, leave=False):
        try:
            piece = item.read()
            _check_roles(piece)
            if piece.chords is None:
                label_by_template(piece)
        except FILE_ERRORS as exc:
            skipped.append((item.name, _reason(exc, item.path)))
            continue
        pieces.append(piece)
    return pieces


def _reason(exc: Exception, path: Path) -> str:
    """One line, without the file name the message may start with (the skip list names it)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError):
        text = f"cannot read ({exc.strerror or text})"
    elif not isinstance(exc, MidiFileError):
        text = f"unreadable ({type(exc).__name__}: {text})"
    prefix = f"{path}: "
    return text[len(prefix) :] if text.startswith(prefix) else text


def _check_roles(piece: Piece) -> None:
    for role in (LEAD, ACCOMP):
        if not piece.tracks[role][:, ONSET].any():
            raise MidiFileError(f"no {role} notes on the {piece.spec.n_keys}-key range")


# ----------------------------------------------------------------------------- POP909


def _pop909_items(folder: Path, style: str, spec: FrameSpec) -> tuple[list[_Item], list[tuple[str, str]]]:
    songs = _numbered_folders(folder)
    if not songs and (folder / "POP909").is_dir():
        folder = folder / "POP909"
        songs = _numbered_folders(folder)
    if not songs:
        raise CorpusError(f"no POP909 song folders (NNN/NNN.mid) in {folder}")
    items, skipped = [], []
    for song in songs:
        name = f"pop909/{song.name}"
        midi = song / f"{song.name}.mid"
        if midi.is_file():
            chords, beats = song / "chord_midi.txt", song / "beat_midi.txt"
            items.append(_Item(name, midi, partial(_pop909_piece, midi, chords, beats, spec, style, name), (chords, beats)))
        else:
            skipped.append((name, f"no {song.name}.mid in its folder"))
    return items, skipped


def _pop909_piece(midi: Path, chord_file: Path, beat_file: Path, spec: FrameSpec, style: str, name: str) -> Piece:
    """A POP909 song on its annotated bars, with its chord annotations (a template match
    where the chord file is missing; the MIDI file's own meter where the beat file is)."""
    piece = midi_to_piece(midi, POP909_ROLES, spec, style, name)
    if beat_file.is_file():
        _bars_from_beat_file(piece, beat_file)
    return label_by_annotation(piece, chord_file) if chord_file.is_file() else piece


def _bars_from_beat_file(piece: Piece, path: Path) -> None:
    """Put a POP909 song's bars and beats where its ``beat_midi.txt`` says they are.

    POP909's MIDI files declare 1/4 time and start their grid wherever the recording started,
    so their own meter makes every beat a bar and can put beat boundaries up to three 16ths
    away from the music's beats. The beat file (rows ``time_s is_beat is_downbeat``) gives the
    downbeats in seconds on the MIDI file's clock; each is placed on the nearest step, as the
    notes are. Malformed rows raise ValueError naming the file.
    """
    try:
        rows = np.loadtxt(path, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not 'time is_beat is_downbeat' rows ({str(exc).splitlines()[0][:80]})") from None
    if rows.size and rows.shape[1] < 3:
        raise ValueError(f"{path}: {rows.shape[1]} columns, not 'time is_beat is_downbeat'")
    seconds = rows[rows[:, 2] > 0, 0] if rows.size else np.zeros(0)
    steps = np.unique(np.round(seconds_to_steps(seconds, piece.step_times())).astype(np.int64))
    piece.beat_in_bar, piece.meters = bars_from_downbeats(steps, piece.n_steps, piece.spec)


def _numbered_folders(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise CorpusError(f"cannot read the folder {folder} ({exc.strerror or exc})") from None
    return [p for p in entries if p.name.isdigit() and p.is_dir()]


# ----------------------------------------------------------------------------- any MIDI folder


def _midi_folder_items(folder: Path, style: str, spec: FrameSpec) -> tuple[list[_Item], list[tuple[str, str]]]:
    skipped: list[tuple[str, str]] = []

    def unreadable(exc: OSError) -> None:
        where = Path(exc.filename).relative_to(folder) if exc.filename else folder
        skipped.append((f"{where}/", f"cannot read folder ({exc.strerror or exc})"))

    items = []
    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs.sort()
        for name in sorted(files):
            if not name.lower().endswith(MIDI_SUFFIXES):
                continue
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            piece_id = f"{style}/{rel.rsplit('.', 1)[0]}"
            items.append(_Item(rel, path, partial(_midi_file_piece, path, spec, style, piece_id)))
    if not items and not skipped:
        raise CorpusError(f"no .mid or .midi files in {folder}")
    return items, skipped


def _midi_file_piece(path: Path, spec: FrameSpec, style: str, piece_id: str) -> Piece:
    score = read_score(load_midi(path), source=str(path))
    lead, accomp = pick_roles(split_channels(score.tracks), score.ticks_per_beat)
    return score_to_piece(score, {LEAD: [lead], ACCOMP: accomp}, spec, piece_id, style)


def split_channels(tracks: list[SourceTrack]) -> list[SourceTrack]:
    """One track per (track, channel) that has notes, so a type-0 file gets its parts back."""
    out = []
    for track in tracks:
        channels = sorted({n.channel for n in track.notes})
        if len(channels) <= 1:
            out.append(track)
            continue
        for ch in channels:
            out.append(SourceTrack(track.index, track.name, [n for n in track.notes if n.channel == ch]))
    return out


def _is_lead_name(name: str) -> bool:
    return any(word in LEAD_WORDS for word in re.split(r"[^a-z]+", name.lower()))


def pick_roles(tracks: list[SourceTrack], ticks_per_beat: int) -> tuple[SourceTrack, list[SourceTrack]]:
    """The lead track and the accomp tracks by :data:`LEAD_RULE`; MidiFileError if none."""
    with_notes = [t for t in tracks if t.notes]
    named = [t for t in with_notes if _is_lead_name(t.name)]
    if named:
        lead = named[0]
    else:
        tolerance = ticks_per_beat // 8
        mono = [t for t in with_notes if t.is_monophonic(tolerance)]
        if not mono:
            raise MidiFileError("no lead: no track named lead/melody/vocal/soprano and no monophonic track")
        lead = max(mono, key=lambda t: t.mean_pitch())
    accomp = [t for t in with_notes if t is not lead]
    if not accomp:
        raise MidiFileError("no accompaniment: the lead is the only track with notes")
    return lead, accomp
