"""``accomp data stats``: what a corpus holds, as a table and optionally as JSON."""

from __future__ import annotations

import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accomp.config import ONSET, SUSTAIN, CorpusChoice
from accomp.errors import AccompError
from accomp.music.chords import N_CHORDS, NO_CHORD, chord_name
from accomp.music.evaluate import write_json
from accomp.music.corpora import LEAD_RULE, CorpusResult, load_corpus, pack_corpus, split_pieces
from accomp.music.frames import Piece
from accomp.music.labels import piece_chords
from accomp.music.metrics import beat_starts

VAL_FRACTION = 0.1
EXAMPLES_PER_REASON = 3
TOP_CHORDS = 10
PITCH_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def pitch_name(pitch: int) -> str:
    """Scientific pitch name, middle C (60) = C4."""
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


def role_stats(pieces: list[Piece], role: str) -> dict:
    """Pitch range and per-step density of one role over all pieces."""
    steps = sounding = onsets = 0
    used = np.zeros(pieces[0].spec.n_keys, dtype=bool)
    for piece in pieces:
        roll = piece.tracks[role]
        steps += roll.shape[0]
        sounding += int(roll[:, SUSTAIN].sum(dtype=np.int64))
        onsets += int(roll[:, ONSET].sum(dtype=np.int64))
        used |= roll[:, SUSTAIN].any(axis=0)
    keys = np.flatnonzero(used)
    low = pieces[0].spec.lowest_pitch
    lowest, highest = (int(keys[0]) + low, int(keys[-1]) + low) if len(keys) else (None, None)
    return {
        "lowest_pitch": lowest,
        "highest_pitch": highest,
        "lowest_name": pitch_name(lowest) if lowest is not None else None,
        "highest_name": pitch_name(highest) if highest is not None else None,
        "sounding_notes_per_frame": sounding / steps if steps else 0.0,
        "onsets_per_frame": onsets / steps if steps else 0.0,
    }


def chord_stats(pieces: list[Piece], top: int = TOP_CHORDS) -> dict:
    """Chord label coverage: share of beats with a chord, where the labels came from, how many
    annotation labels were mapped, and the ``top`` most common chords by share of beats."""
    counts = np.zeros(N_CHORDS, dtype=np.int64)
    for piece in pieces:
        per_beat = piece_chords(piece)[beat_starts(piece.beat_in_bar, piece.spec.steps_per_beat)]
        counts += np.bincount(per_beat, minlength=N_CHORDS)
    beats = int(counts.sum())
    order = [int(i) for i in np.argsort(-counts, kind="stable") if i != NO_CHORD and counts[i] > 0][:top]
    return {
        "beats": beats,
        "chord_share": float(1 - counts[NO_CHORD] / beats) if beats else 0.0,
        "sources": dict(sorted(Counter(p.chord_source or "none" for p in pieces).items())),
        "mapped_labels": sum(p.chords_mapped for p in pieces),
        "top": [{"chord": chord_name(i), "index": i, "share": float(counts[i] / beats)} for i in order],
    }


def _reason_group(reason: str) -> str:
    """A reason with its numbers blanked, so files failing the same way count together
    (a group whose reasons are all the same shows that reason as it is)."""
    return re.sub(r"\d+(\.\d+)?(e[+-]?\d+)?", "#", reason)


def skipped_stats(skipped: list[tuple[str, str]]) -> dict:
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, reason in skipped:
        groups[_reason_group(reason)].append((name, reason))
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return {
        "count": len(skipped),
        "reasons": [
            {
                "reason": rows[0][1] if len({r for _, r in rows}) == 1 else group,
                "count": len(rows),
                "examples": [list(r) for r in rows[:EXAMPLES_PER_REASON]],
            }
            for group, rows in ordered
        ],
    }


def corpus_stats(result: CorpusResult) -> dict:
    pieces = result.pieces
    spec = pieces[0].spec
    seconds = sum(p.seconds() for p in pieces)
    stats = {
        "corpus": result.kind,
        "style": result.style,
        "source": result.source,
        "pieces": len(pieces),
        "train_pieces": len(split_pieces(pieces, "train", VAL_FRACTION)),
        "val_pieces": len(split_pieces(pieces, "val", VAL_FRACTION)),
        "val_fraction": VAL_FRACTION,
        "frames": sum(p.n_steps for p in pieces),
        "steps_per_beat": spec.steps_per_beat,
        "hours": seconds / 3600,
        "roles": {role: role_stats(pieces, role) for role in pieces[0].tracks},
        "chords": chord_stats(pieces),
        "skipped": skipped_stats(result.skipped),
        "cache": result.cache,
    }
    if result.kind == "midi-folder":
        stats["lead_rule"] = LEAD_RULE
    return stats


def format_stats(stats: dict) -> str:
    lines = [
        f"corpus     {stats['corpus']} (style '{stats['style']}')",
        f"source     {stats['source']}",
        f"pieces     {stats['pieces']:,}  (train {stats['train_pieces']:,}, val {stats['val_pieces']:,}: "
        f"{stats['val_fraction']:.0%} by a hash of the piece id)",
        f"frames     {stats['frames']:,} steps ({stats['steps_per_beat']} per beat)",
        f"hours      {stats['hours']:.2f} (from each piece's tempo map)",
        f"cache      {stats['cache']}" + (f", loaded in {stats['load_seconds']:.1f} s" if "load_seconds" in stats else ""),
    ]
    if "lead_rule" in stats:
        lines.append(f"lead rule  {stats['lead_rule']}")
    lines += ["", f"{'role':<8} {'lowest':>10} {'highest':>10} {'notes/frame':>12} {'onsets/frame':>13}"]
    for role, r in stats["roles"].items():
        low = f"{r['lowest_name']} ({r['lowest_pitch']})" if r["lowest_pitch"] is not None else "-"
        high = f"{r['highest_name']} ({r['highest_pitch']})" if r["highest_pitch"] is not None else "-"
        lines.append(
            f"{role:<8} {low:>10} {high:>10} {r['sounding_notes_per_frame']:>12.2f} {r['onsets_per_frame']:>13.2f}"
        )
    lines += ["", *format_chords(stats["chords"])]
    skipped = stats["skipped"]
    lines += ["", f"skipped    {skipped['count']} file(s)"]
    for group in skipped["reasons"]:
        lines.append(f"  {group['count']:>5}  {group['reason']}")
        lines += [f"           e.g. {name}: {reason}" for name, reason in group["examples"]]
    return "\n".join(lines)


def format_chords(chords: dict) -> list[str]:
    sources = ", ".join(f"{name} {n} piece(s)" for name, n in chords["sources"].items())
    top = "  ".join(f"{c['chord']} {c['share']:.1%}" for c in chords["top"])
    return [
        f"chords     {chords['chord_share']:.1%} of {chords['beats']:,} beats have a chord (labels: {sources})",
        f"mapped     {chords['mapped_labels']:,} annotation label(s) to a nearest chord or to no chord",
        f"top chords {top or '-'}",
    ]


@dataclass(frozen=True, kw_only=True)
class StatsOptions(CorpusChoice):
    json: str | None = None  # also write the statistics here


def data_stats(options: StatsOptions) -> int:
    """The ``accomp data stats`` command: print the table, maybe write JSON; exit code 0."""
    started = time.perf_counter()
    result = load_corpus(
        options.corpus,
        options.path,
        style=options.style,
        use_cache=not options.no_cache,
        progress=True,
    )
    elapsed = time.perf_counter() - started
    stats = corpus_stats(result)
    stats["load_seconds"] = round(elapsed, 3)
    print(format_stats(stats))
    if options.json:
        write_json(options.json, stats)
        print(f"\nwrote {options.json}")
    return 0


@dataclass(frozen=True, kw_only=True)
class PackOptions(CorpusChoice):
    out: str  # the pack file to write (.npz)


def data_pack(options: PackOptions) -> int:
    """The ``accomp data pack`` command: the corpus as one pack file; exit code 0."""
    result = load_corpus(options.corpus, options.path, style=options.style, use_cache=not options.no_cache, progress=True)
    out = Path(options.out)
    if not out.parent.is_dir():
        raise AccompError(f"{out.parent}: output folder does not exist")
    origin = pack_corpus(result, out)
    size = out.stat().st_size / 1e6
    print(f"wrote {out}: {origin['pieces']} pieces of style '{origin['style']}' from {origin['kind']} {origin['source']} ({size:.1f} MB)")
    return 0
