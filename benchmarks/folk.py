"""Folk songs the project never trained on, rendered as a user would: many melodies, not ten.

    .venv/bin/python benchmarks/folk.py [--preset pop] [--whole-song] [--per-collection 20]
                                        [--collection NAME ...] [--tempo 100] [--told none|key|signature]
                                        [--out FILE]

``tunes.py`` reads the band's chords under ten tunes everybody knows; this reads them under
a hundred folk songs from the Essen folk song collection as music21 ships it (its corpus,
``essenFolksong``: German children's songs, old German songs, ballads, Erk's collection and
Irish songs by default), none of them in any training corpus. From each collection it takes
the first ``--per-collection`` songs in 2/4, 3/4 or 4/4 with one time signature, 4 to 48
bars and a single melody line (ties joined; a pickup bar padded in front so bar lines fall
on whole bars), renders each with ``accomp render --preset P --meter N/4`` (the live path;
``--whole-song`` plans from the whole melody) and reads the band's chord per beat back
exactly as ``tunes.py`` does. The key a song is measured in is music21's estimate from the
whole melody (Krumhansl-Schmuckler), which the band is not told unless ``--told key`` (with
``render --key``) or ``--told signature`` (as the MIDI file's key signature) says so, as a
musician names the key of a song they know. (Not the key the song is notated in: music21
gives an Essen song the tonic its collection names and most often the major mode, also where
the melody is minor.)

Per collection and over all songs:

- **on-beat melody notes in the chord** (``tune_check.py``'s measure);
- **in key**: the share of the band's sounding note time on the song's scale;
- **changes per bar** of the chord's root (a folk accompanist: about one, at most two);
- songs whose band chord on the first bar line (after a pickup, the first full bar's first
  beat) is the key's tonic chord (the triad on the tonic, its sevenths and suspensions
  included): nearly every folk song's first bar is on its tonic chord.

These songs have no chords written in them, so there is no agreement with a human's chords
here: a band that changes chord with every note would score high on the first measure, which
is why the second and third sit beside it. Writes
``benchmarks/results/folk_<preset>[_whole][_told_key|_told_signature].json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402
from tunes import TOLD, TOLD_HELP, check_notes, key_name, told_suffix  # noqa: E402

from accomp.music.chords import chord_index  # noqa: E402

COLLECTIONS = ("kinder0", "altdeu10", "ballad10", "erk10", "irl")
MAX_BARS = 48


def song_notes(score) -> tuple[list[tuple[int | None, float, float]], int, str, int] | None:
    """(notes as (MIDI pitch, start beat, beats), tonic pitch class, mode, beats per bar) of an
    Essen song, or None when it is not one this benchmark plays (see the module docstring)."""
    signatures = list(score.recurse().getElementsByClass("TimeSignature"))
    if len(signatures) != 1 or signatures[0].denominator != 4 or signatures[0].numerator not in (2, 3, 4):
        return None
    per_bar = signatures[0].numerator
    notes = notes_on_bars(score, per_bar)
    if notes is None:
        return None
    key = score.analyze("key")
    return notes, int(key.tonic.pitchClass), str(key.mode), per_bar


def bar_grid(score, bar: float, max_bars: int = MAX_BARS):
    """A song's score with its ties joined, and the quarter notes to shift it by so that its bar
    lines (bars of ``bar`` quarter notes) fall on whole bars (a pickup padded in front): ``(flat
    score, pad)``, or None for fewer than 4 or more than ``max_bars`` bars."""
    flat = score.stripTies()
    measures = list(flat.recurse().getElementsByClass("Measure"))
    if not 4 <= len(measures) <= max_bars:
        return None
    first = float(measures[0].duration.quarterLength)
    return flat, (bar - first if 0 < first < bar else 0.0)


def notes_on_bars(score, bar: float) -> list[tuple[int, float, float]] | None:
    """(MIDI pitch, start, length) in quarter notes of a one-line song of 4 to MAX_BARS bars of
    ``bar`` quarter notes, laid on them by :func:`bar_grid`; None for chords, too few or too
    many bars, or fewer than 8 notes."""
    grid = bar_grid(score, bar)
    if grid is None:
        return None
    flat, pad = grid
    if any(n.isChord for n in flat.recurse().notes):
        return None
    notes = [(int(n.pitch.midi), float(n.getOffsetInHierarchy(flat)) + pad, float(n.quarterLength))
             for n in flat.recurse().notes if n.quarterLength > 0]  # fmt: skip
    return notes if len(notes) >= 8 else None


def tonic_chords(tonic: int, mode: str) -> set[int]:
    """The chord indices that count as the key's tonic chord (triad, sevenths, suspensions)."""
    qualities = ("min", "min7", "sus2", "sus4") if mode == "minor" else ("maj", "maj7", "7", "sus2", "sus4")
    return {chord_index(tonic, q) for q in qualities}


def first_chord_is_tonic(row: dict, notes: list, tonic: int, mode: str, per_bar: int) -> bool:
    """Whether the band's chord on the song's first bar line after a pickup (the first full
    bar's first beat) is the key's tonic chord."""
    start = min(s for p, s, _ in notes if p is not None)
    downbeat = int(np.ceil(start / per_bar - 1e-9)) * per_bar
    return downbeat < len(row["chords"]) and row["chords"][downbeat] in tonic_chords(tonic, mode)


def main() -> int:
    from music21 import corpus

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--whole-song", action="store_true", help="plan from the whole melody (render --whole-song)")
    ap.add_argument("--per-collection", type=int, default=20, help="songs taken from each collection")
    ap.add_argument("--collection", action="append", help=f"an essenFolksong file (repeatable; default {', '.join(COLLECTIONS)})")
    ap.add_argument("--tempo", type=float, default=100.0)
    ap.add_argument("--accomp", default=f"{sys.executable} -m accomp", help="the command that runs accomp")
    ap.add_argument("--told", choices=TOLD, default="none", help=TOLD_HELP + " (the key the song is measured in)")
    ap.add_argument("--out", type=Path, help="JSON to write (default benchmarks/results/folk_<preset>[_whole][_told_...].json)")
    a = ap.parse_args()
    if a.per_collection < 1:
        raise SystemExit("--per-collection: at least 1")
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        for name in a.collection or COLLECTIONS:
            try:
                opus = corpus.parse(f"essenFolksong/{name}")
            except Exception as exc:  # music21 raises its own errors for an unknown or unreadable file
                raise SystemExit(f"essenFolksong/{name}: {exc}") from None
            taken = 0
            for i, score in enumerate(getattr(opus, "scores", [opus])):
                song = song_notes(score)
                if song is None:
                    continue
                notes, tonic, mode, per_bar = song
                row = check_notes(f"{name}-{i + 1}", notes, tonic, mode, per_bar, a.preset, a.whole_song, a.tempo,
                                  a.accomp.split(), Path(td), told=a.told, told_key=key_name(tonic, mode))  # fmt: skip
                row["collection"], row["title"] = name, (score.metadata.title or "").strip()
                row["first_chord_tonic"] = first_chord_is_tonic(row, notes, tonic, mode, per_bar)
                rows.append(row)
                taken += 1
                if taken == a.per_collection:
                    break
            print(f"{name}: {taken} songs", flush=True)
    if not rows:
        raise SystemExit("no song in those collections is one this benchmark plays")

    def totals(group: list[dict]) -> dict:
        hit, total = sum(r["on_beat_in_chord"] for r in group), sum(r["on_beat_notes"] for r in group)
        return {"songs": len(group), "on_beat_in_chord": round(hit / max(total, 1), 3),
                "in_key": round(float(np.mean([r["in_key"] for r in group])), 3),
                "changes_per_bar": round(float(np.mean([r["changes_per_bar"] for r in group])), 2),
                "first_chord_tonic": round(float(np.mean([r["first_chord_tonic"] for r in group])), 3)}  # fmt: skip

    groups = {name: totals([r for r in rows if r["collection"] == name]) for name in dict.fromkeys(r["collection"] for r in rows)}
    groups["all"] = totals(rows)
    print(f"\npreset {a.preset}{' (whole song)' if a.whole_song else ''}, {len(rows)} songs, "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'collection':<12}{'songs':>6}{'notes in chord':>16}{'in key':>8}{'changes/bar':>13}{'starts on I':>13}")
    for name, t in groups.items():
        print(f"{name:<12}{t['songs']:>6}{t['on_beat_in_chord']:>16.3f}{t['in_key']:>8.3f}{t['changes_per_bar']:>13.2f}"
              f"{t['first_chord_tonic']:>13.2f}")  # fmt: skip
    out = a.out or ROOT / "benchmarks" / "results" / f"folk_{a.preset}{'_whole' if a.whole_song else ''}{told_suffix(a.told)}.json"
    write_result(out, {"what": "the band's chords under Essen folk songs (music21's corpus), rendered by accomp render",
                       "command": "benchmarks/folk.py " + " ".join(sys.argv[1:]),
                       "settings": {"preset": a.preset, "whole_song": a.whole_song, "tempo": a.tempo, "told": a.told,
                                    "per_collection": a.per_collection, "collections": a.collection or list(COLLECTIONS)},
                       "totals": groups, "songs": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
