"""Pieces from where the user points: the corpora a command asks for, and the lead of any MIDI file.

Shared by the teacher, planner and student commands and by `accomp render`.
"""

from __future__ import annotations

from pathlib import Path

from accomp.config import LEAD, CorpusChoice, FrameSpec
from accomp.errors import CorpusError, MidiFileError
from accomp.music.frames import Piece

NEEDS_PATH = ("pop909", "midi-folder", "pack")


def corpus_requests(options: CorpusChoice) -> list[tuple[str, str | None]]:
    """Pair each --corpus with its --path (pop909, midi-folder and pack take one, in order)."""
    kinds = options.corpus if isinstance(options.corpus, list) else [options.corpus]
    paths = list(options.path or []) if isinstance(options.path, list) else ([options.path] if options.path else [])
    out = []
    for kind in kinds:
        if kind in NEEDS_PATH:
            if not paths:
                raise CorpusError(f"--corpus {kind} needs a --path DIR")
            out.append((kind, paths.pop(0)))
        else:
            out.append((kind, None))
    if paths:
        raise CorpusError(f"--path {paths[0]} has no --corpus that takes a folder")
    return out


def load_pieces(options: CorpusChoice, spec: FrameSpec, split: str, *, allow_empty: bool = False) -> tuple[list[Piece], dict]:
    """The pieces of every requested corpus for one split, plus a data summary."""
    from accomp.music.corpora import load_corpus, split_pieces

    pieces: list[Piece] = []
    summary: dict = {"corpora": [], "split": split}
    for kind, path in corpus_requests(options):
        result = load_corpus(kind, path, spec, style=options.style, use_cache=not options.no_cache, progress=True)
        chosen = split_pieces(result.pieces, split)
        pieces.extend(chosen)
        summary["corpora"].append(
            {
                "kind": kind,
                "source": Path(path).name if path else "music21 corpus",
                "style": result.style,
                "pieces": len(chosen),
                "pieces_all_splits": len(result.pieces),
                "skipped": len(result.skipped),
                "steps": int(sum(p.n_steps for p in chosen)),
                "hours": round(sum(p.seconds() for p in chosen) / 3600, 2),
            }
            | ({"packed_from": result.origin} if result.origin else {})
        )
    if not pieces and not allow_empty:
        raise CorpusError(f"no pieces in the {split} split of the requested corpora")
    return pieces, summary


def lead_track(path: str):
    """``(score, lead track)`` of any MIDI file: its only track with notes, else the
    midi-folder lead rule. MidiFileError (naming the file) when there is none."""
    from accomp.music.corpora import pick_roles, split_channels
    from accomp.music.frames import load_midi, read_score

    score = read_score(load_midi(path), source=str(path))
    tracks = [t for t in split_channels(score.tracks) if t.notes]
    try:
        return score, tracks[0] if len(tracks) == 1 else pick_roles(tracks, score.ticks_per_beat)[0]
    except MidiFileError as exc:
        raise MidiFileError(f"{path}: {exc}") from None


def read_lead(path: str, spec: FrameSpec) -> Piece:
    """The lead of any MIDI file as a piece of frames."""
    from accomp.music.frames import score_to_piece

    score, lead = lead_track(path)
    return score_to_piece(score, {LEAD: [lead]}, spec, Path(path).stem, "lead")
