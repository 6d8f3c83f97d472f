"""``accomp eval``: the metrics table, human reference vs baselines vs model outputs.

Reusable by the teacher and student eval commands::

    refs = split_pieces(load_corpus("pop909", path).pieces, "val")
    rows = evaluate_pieces({**reference_rows(refs), "teacher": outputs}, refs)
    print(format_table(rows))

Candidates are :class:`Piece` objects with a ``lead`` track and an accompaniment (``accomp``
and/or ``accomp:<role>`` tracks, merged); :func:`with_accomp` puts a model's roll on a
reference piece. A candidate is matched to its reference by piece id (see :func:`id_key`):
the reference's accompaniment is what its chord agreement is measured against, and the key
for key adherence and the key-relative pitch-class histogram comes from the reference's
lead and accompaniment (the candidate's own lead when it has no reference). Metric values
are pooled over pieces as :mod:`accomp.music.metrics` documents.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from accomp.config import ACCOMP, DEFAULT_SPEC, LEAD, MIDI_SUFFIXES, CorpusChoice
from accomp.errors import AccompError, CorpusError, MidiFileError, SettingsError
from accomp.files import write_text
from accomp.music.baselines import BASELINES
from accomp.music.frames import Piece, read_piece_file
from accomp.music.metrics import METRICS, aggregate, piece_key, piece_tally, reference_histogram

HUMAN = "human reference"
LABELS = {
    "consonance": "consonance",
    "key_adherence": "in key",
    "chord_agreement": "chord agr",
    "note_in_chord": "in chord",
    "onset_density": "onsets/beat",
    "polyphony": "polyphony",
    "activity": "activity",
    "pc_overlap": "pc overlap",
    "diversity": "diversity",
}


# ----------------------------------------------------------------------------- pieces


def accomp_roll(piece: Piece) -> np.ndarray:
    """The accompaniment of a piece: its ``accomp`` and ``accomp:<role>`` tracks OR-ed."""
    rolls = [r for role, r in piece.tracks.items() if role == ACCOMP or role.startswith(ACCOMP + ":")]
    if not rolls:
        raise MidiFileError(f"{piece.piece_id}: no accompaniment track (named '{ACCOMP}')")
    return np.maximum.reduce(rolls) if len(rolls) > 1 else rolls[0]


def with_accomp(piece: Piece, accomp: np.ndarray) -> Piece:
    """``piece`` with its accompaniment replaced by ``accomp`` (same length as its lead)."""
    lead = piece.tracks[LEAD]
    if accomp.shape != lead.shape:
        raise ValueError(f"accomp roll {accomp.shape} does not match the lead {lead.shape}")
    return replace(piece, tracks={LEAD: lead, ACCOMP: accomp}, velocity={})


def reference_rows(pieces: Sequence[Piece]) -> dict[str, list[Piece]]:
    """The human reference row and one row per baseline, computed on the pieces' leads."""
    rows = {HUMAN: list(pieces)}
    rows.update(baseline_rows(pieces))
    return rows


def baseline_rows(pieces: Sequence[Piece]) -> dict[str, list[Piece]]:
    rows: dict[str, list[Piece]] = {}
    for name, make in BASELINES.items():
        rows[name] = [
            with_accomp(p, make(p.tracks[LEAD], p.beat_in_bar, p.spec.steps_per_beat, lowest_pitch=p.spec.lowest_pitch))
            for p in pieces
        ]
    return rows


def id_key(piece_id: str) -> str:
    """What matches a file to a corpus piece: the id's last path component, no suffix."""
    last = re.split(r"[/\\:]", piece_id)[-1]
    return last[: -len(Path(last).suffix)] if Path(last).suffix.lower() in MIDI_SUFFIXES else last


# ----------------------------------------------------------------------------- evaluation


def evaluate_pieces(
    candidates: Mapping[str, Sequence[Piece]],
    references: Sequence[Piece] | None = None,
    *,
    reference_set: Sequence[Piece] | None = None,
) -> dict[str, dict[str, float]]:
    """One row of pooled metrics per candidate group: ``{row: {metric: value}}``.

    ``references`` are the human pieces candidates are matched to by id (chord agreement,
    key); ``reference_set`` (default: ``references``) is the set whose pitch-class histogram
    the ``pc_overlap`` column compares with. Without references those columns are NaN.
    """
    refs = {id_key(p.piece_id): p for p in references or ()}
    ref_set = references if reference_set is None else reference_set
    ref_hist = None
    if ref_set:
        lowest = ref_set[0].spec.lowest_pitch
        ref_hist = reference_histogram(((p.tracks[LEAD], accomp_roll(p)) for p in ref_set), lowest)
    keys: dict[str, tuple[int, str]] = {}
    rows: dict[str, dict[str, float]] = {}
    for name, pieces in candidates.items():
        tallies = []
        for piece in pieces:
            pid = id_key(piece.piece_id)
            ref = refs.get(pid)
            if ref is not None and ref.spec != piece.spec:
                raise ValueError(f"{piece.piece_id}: frame spec differs from its reference's")
            lowest = piece.spec.lowest_pitch
            ref_acc = accomp_roll(ref) if ref is not None else None
            if pid not in keys:
                keys[pid] = piece_key(ref.tracks[LEAD] if ref is not None else piece.tracks[LEAD], ref_acc, lowest)
            tallies.append(
                piece_tally(
                    piece.tracks[LEAD],
                    accomp_roll(piece),
                    piece.beat_in_bar,
                    piece.spec.steps_per_beat,
                    reference=ref_acc,
                    key=keys[pid],
                    lowest_pitch=lowest,
                )
            )
        rows[name] = aggregate(tallies, ref_hist)
    return rows


def format_table(rows: Mapping[str, Mapping[str, float]], title: str = "") -> str:
    """A plain-text table: one line per row, one column per metric ('-' where undefined)."""
    width = max([len(HUMAN)] + [len(n) for n in rows])
    cols = [max(len(LABELS[m]), 6) for m in METRICS]
    head = "  ".join([" " * width] + [LABELS[m].rjust(c) for m, c in zip(METRICS, cols)])
    lines = ([title] if title else []) + [head, "-" * len(head)]
    for name, values in rows.items():
        cells = [_cell(values.get(m, math.nan)).rjust(c) for m, c in zip(METRICS, cols)]
        lines.append("  ".join([name.ljust(width)] + cells))
    return "\n".join(lines)


def _cell(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


def write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write JSON atomically (:mod:`accomp.files`), NaN as null; one-line error if it cannot."""
    try:
        write_text(path, json.dumps(_json_safe(payload), indent=2) + "\n")
    except OSError as exc:
        raise AccompError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


# ----------------------------------------------------------------------------- the command


def file_groups(args: Sequence[str]) -> dict[str, list[Path]]:
    """MIDI files by the folder they are in (a folder argument: its MIDI files); row name = folder."""
    by_dir: dict[Path, list[Path]] = {}
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
            if not found:
                raise MidiFileError(f"{path}: no MIDI files in this folder")
            by_dir.setdefault(path.resolve(), []).extend(found)
        elif path.is_file():
            by_dir.setdefault(path.resolve().parent, []).append(path)
        else:
            raise MidiFileError(f"{path}: no such file")
    names = [d.name or str(d) for d in by_dir]
    return {
        (name if names.count(name) == 1 and name not in (HUMAN, *BASELINES) else str(d)): files
        for name, (d, files) in zip(names, by_dir.items())
    }


def _read_file(path: Path) -> Piece:
    piece = read_piece_file(path, DEFAULT_SPEC)
    return with_accomp(piece, accomp_roll(piece))


@dataclass(frozen=True, kw_only=True)
class EvalOptions(CorpusChoice):
    files: Sequence[str] = ()  # MIDI files with tracks 'lead' and 'accomp'
    split: str = "val"  # train, val or all
    max_pieces: int | None = None
    json: str | None = None  # also write the table here


def _load_references(options: EvalOptions) -> list[Piece]:
    from accomp.music.corpora import load_corpus, split_pieces

    result = load_corpus(
        options.corpus,
        options.path,
        DEFAULT_SPEC,
        style=options.style,
        use_cache=not options.no_cache,
        progress=sys.stderr.isatty(),
    )
    if result.skipped:
        print(f"accomp: {len(result.skipped)} file(s) of the corpus skipped", file=sys.stderr)
    pieces = split_pieces(result.pieces, options.split)
    if not pieces:
        raise CorpusError(f"{options.corpus}: no pieces in the '{options.split}' split")
    return pieces[: options.max_pieces] if options.max_pieces else pieces


def _files_rows(groups: dict[str, list[Piece]], refs: list[Piece]) -> tuple[dict[str, list[Piece]], int]:
    """Rows for file groups: human (matched pieces, cropped to the files) and baselines on their leads."""
    by_id = {id_key(p.piece_id): p for p in refs}
    leads: dict[str, Piece] = {}
    for pieces in groups.values():
        for p in pieces:
            pid = id_key(p.piece_id)
            if pid not in leads or p.n_steps < leads[pid].n_steps:
                leads[pid] = p
    rows: dict[str, list[Piece]] = {}
    matched = [by_id[pid].crop(0, min(p.n_steps, by_id[pid].n_steps)) for pid, p in leads.items() if pid in by_id]
    if matched:
        rows[HUMAN] = matched
    rows.update(baseline_rows(list(leads.values())))
    rows.update(groups)
    return rows, len(leads)


def evaluate(options: EvalOptions) -> int:
    """Print the metrics table (and write it as JSON with ``--json``). Returns the exit code."""
    if options.max_pieces is not None and options.max_pieces < 1:
        raise SettingsError(f"--max-pieces must be at least 1, got {options.max_pieces}")
    if not options.files and not options.corpus:
        raise CorpusError("nothing to evaluate: give MIDI files or --corpus NAME")
    refs = _load_references(options) if options.corpus else []
    if options.files:
        groups = {
            name: [_read_file(f) for f in files[: options.max_pieces]] for name, files in file_groups(options.files).items()
        }
        candidates, n_pieces = _files_rows(groups, refs)
    else:
        candidates, n_pieces = reference_rows(refs), len(refs)
    rows = evaluate_pieces(candidates, refs, reference_set=refs)
    where = f"{options.corpus} {options.split}" if options.corpus else "files"
    print(format_table(rows, title=f"{where}: {n_pieces} piece(s)"))
    if options.json:
        payload = {
            "rows": rows,
            "n_pieces": n_pieces,
            "split": options.split if options.corpus else None,
            "corpus": options.corpus,
        }
        write_json(options.json, payload)
    return 0
