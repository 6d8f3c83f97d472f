"""Lead sheets with chords written in, rendered as a user would: how often the band plays the written chord.

    .venv/bin/python benchmarks/lead_sheets.py [FILE_OR_FOLDER ...] [--preset pop] [--whole-song]
                                               [--told none|signature] [--max-tunes N] [--tempo 100] [--out FILE]

``tunes.py`` and ``folk.py`` read the band's chords under melodies with no chords written in
them; the student evaluation compares them with POP909's and Bach's, the corpora the planners
learnt from. This compares them with the chords written over melodies from elsewhere: lead
sheets in ABC (chord symbols in quotes, as the Nottingham Music Database writes its folk
dance tunes) or MusicXML, any number of files or folders of them (``.abc``, ``.mxl``,
``.musicxml``, ``.xml``; an ABC file may hold many tunes). With none given it reads the lead
sheets music21's corpus ships (two Nottingham reels and two songs), a smoke test more than a
measure.

Each tune with one time signature (2/4, 3/4, 4/4, or 6/8, 9/8, 12/8, whose chords are counted on
the dotted quarter, the beat the band changes chord on), 4 to 64 bars, a single melody line and
at least two chord symbols is written to a MIDI file (a pickup padded so bar lines fall on
whole bars; with ``--told signature`` the tune's key signature in it) and rendered by ``accomp
render --preset P`` (the live path; ``--whole-song`` plans from the whole melody). Per chord beat
(a quarter, or a dotted quarter) it then compares:

- **the band**: the chord of the band's sounding notes in the beat (every track but the lead,
  drums left out), named as ``accomp student eval`` names chords (root and triad: C7 and Cmaj7
  count as C, Am7 as Am), with the written chord in force at the beat's start, on beats where
  both name one (the written chord's symbol read by music21; a symbol it cannot read is no chord);
- **the rule-based harmonizer** (``accomp.music.baselines``), on the same beats of the same
  melody: it sees the whole beat and the whole tune's key, which the live band does not;
- **on-beat melody notes in the band's chord** (``tunes.py``'s measure; a beat the band leaves
  without a chord counts as a miss).

Writes per file and overall: tunes, scored beats, the band's and the harmonizer's agreement,
and the agreement over each tune's first eight scored beats and after them (the opening is
where a band that has not been told the key is weakest). JSON: default
``benchmarks/results/lead_sheets_<preset>[_whole][_told_signature].json``.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from folk import bar_grid  # noqa: E402
from results_io import write_result  # noqa: E402
from tunes import band_beats, key_name, write_tune  # noqa: E402

from accomp.config import DEFAULT_SPEC  # noqa: E402
from accomp.music import chords  # noqa: E402
from accomp.music.baselines import harmonizer_chords  # noqa: E402
from accomp.music.frames import read_piece_file  # noqa: E402
from accomp.music.metrics import CHORD_TEMPLATES, FAMILIES, chord_labels  # noqa: E402

SUFFIXES = (".abc", ".mxl", ".musicxml", ".xml")
MUSIC21_SHEETS = ("nottingham-dataset/reelsa-c.abc", "leadSheet/fosterBrownHair.mxl", "leadSheet/berlinAlexandersRagtime.mxl")
SIMPLE, COMPOUND = ((2, 4), (3, 4), (4, 4)), ((6, 8), (9, 8), (12, 8))
MAX_BARS = 64
OPENING = 8  # scored beats counted as a tune's opening
_FIGURE = re.compile(r"^([A-Ga-g])([#b-]?)([^/]*)")
# a chord symbol's quality, as lead sheets write it, -> the triad family the metrics compare by
# (first match; what is left is major: 7, maj7, 6, 9, add9, a bass after a slash)
QUALITY_FAMILY = (("m7b5", "dim"), ("m7-5", "dim"), ("dim", "dim"), ("o", "dim"), ("aug", "aug"), ("+", "aug"),
                  ("sus2", "sus2"), ("sus", "sus4"), ("maj", "maj"), ("min", "min"), ("m", "min"))  # fmt: skip
_VOCAB_LABEL = np.array([-1] + [chords.root_of(c) * len(FAMILIES) + FAMILIES.index(CHORD_TEMPLATES[chords.quality_of(c)][1])
                                for c in range(1, chords.N_CHORDS)])  # fmt: skip


def figure_label(figure: str) -> int:
    """A chord symbol as written (``G7``, ``F#m7b5``, ``Bbmaj7``, ``D/f+``, ``B-m``) as the metrics'
    chord label (root * 6 + triad family), -1 for no chord or a symbol it cannot read. The bass
    after a slash is left out, as POP909's annotations are read (``chords.parse_label``)."""
    m = _FIGURE.match(figure.strip())
    if not m or figure.strip().upper().startswith("N"):
        return -1
    root = chords.parse_root(m.group(1).upper() + m.group(2).replace("-", "b"))  # A-G: always a root
    quality = m.group(3)
    family = next((f for prefix, f in QUALITY_FAMILY if quality.startswith(prefix)), "maj")
    return root * len(FAMILIES) + FAMILIES.index(family)


def symbol_label(symbol) -> int:
    """A music21 chord symbol (:class:`music21.harmony.ChordSymbol`) as the metrics' chord label,
    read from its figure as written (music21's own reading of a figure misses some: ``D/f+``,
    the Nottingham Music Database's D over F#, reads as D augmented)."""
    from music21 import harmony

    if isinstance(symbol, harmony.NoChord):
        return -1
    return figure_label(symbol.figure or "")


def tune(score) -> dict | None:
    """A lead sheet's melody (MIDI pitch, start, length in quarter notes; a pickup padded in front),
    chord symbols (start, label), meter and key, or None when it is not one this benchmark plays."""
    from music21 import harmony

    meters = {(s.numerator, s.denominator) for s in score.recurse().getElementsByClass("TimeSignature")}
    if len(meters) != 1 or next(iter(meters)) not in SIMPLE + COMPOUND:
        return None
    meter = next(iter(meters))
    grid = bar_grid(score, meter[0] * 4 / meter[1], MAX_BARS)
    if grid is None:
        return None
    flat, pad = grid
    notes, symbols = [], []
    for n in flat.recurse().notes:
        at = float(n.getOffsetInHierarchy(flat)) + pad
        if isinstance(n, harmony.ChordSymbol):
            symbols.append((at, symbol_label(n)))
        elif n.isChord:
            return None  # not a single melody line
        elif n.quarterLength > 0:
            notes.append((int(n.pitch.midi), at, float(n.quarterLength)))
    if len(notes) < 8 or len(symbols) < 2:
        return None
    signatures = list(score.recurse().getElementsByClass("KeySignature"))
    key = signatures[0] if signatures and hasattr(signatures[0], "tonic") else score.analyze("key")
    if not hasattr(key, "tonic"):  # a bare key signature: its major key
        key = key.asKey("major")
    return {"notes": notes, "symbols": sorted(symbols), "meter": meter, "key": key_name(int(key.tonic.pitchClass), str(key.mode))}


def written_per_beat(symbols: list[tuple[float, int]], n_beats: int, beat: float) -> np.ndarray:
    """The written chord label in force at each beat's start (-1 before the first symbol)."""
    starts = np.array([at for at, _ in symbols])
    labels = np.array([label for _, label in symbols])
    index = np.searchsorted(starts, np.arange(n_beats) * beat + 1e-6, side="right") - 1
    return np.where(index >= 0, labels[np.maximum(index, 0)], -1)


def check(name: str, song: dict, preset: str, whole: bool, told: str, tempo: float, accomp: list[str], tmp: Path) -> dict:
    """Render one tune and score the band's and the harmonizer's chords against the written ones."""
    (numerator, denominator), notes = song["meter"], song["notes"]
    beat = 1.5 if (numerator, denominator) in COMPOUND else 1.0  # quarter notes a chord beat
    n_beats = int(np.ceil(max(start + length for _, start, length in notes) / beat - 1e-9))
    lead, out = tmp / "lead.mid", tmp / "band.mid"
    write_tune(lead, notes, numerator, tempo, song["key"] if told == "signature" else None, denominator=denominator)
    cmd = accomp + ["render", str(lead), "--preset", preset, "-o", str(out)] + (["--whole-song"] if whole else [])
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise SystemExit(f"render of {name} failed: {(run.stderr or run.stdout).strip()[-500:]}")
    written = written_per_beat(song["symbols"], n_beats, beat)
    band_chroma = band_beats(out, n_beats, tempo, beat)
    band = chord_labels(band_chroma)
    piece = read_piece_file(out, DEFAULT_SPEC)
    steps = round(beat * DEFAULT_SPEC.steps_per_beat)
    harmonizer = _VOCAB_LABEL[harmonizer_chords(piece.tracks["lead"], piece.beat_in_bar, steps)]
    harmonizer = np.concatenate([harmonizer, np.full(max(0, n_beats - len(harmonizer)), -1)])[:n_beats]
    row = {"tune": name, "meter": f"{numerator}/{denominator}", "key": song["key"], "beats": n_beats}
    for who, labels in (("band", band), ("harmonizer", harmonizer)):
        scored = np.flatnonzero((labels >= 0) & (written >= 0))
        hits = labels[scored] == written[scored]
        row[who] = [int(hits.sum()), len(scored)]
        row[f"{who}_opening"] = [int(hits[:OPENING].sum()), int(min(OPENING, len(scored)))]
    named = chords.match_chords(band_chroma)
    on_beat = {int(round(start / beat)): p % 12 for p, start, _ in notes if abs(start / beat - round(start / beat)) < 1e-9}
    row["on_beat_in_chord"] = [sum(bool(chords.CHROMA[named[b], pc]) for b, pc in on_beat.items() if b < n_beats), len(on_beat)]
    row["band_chords"] = [chords.chord_name(int(c)) if c != chords.NO_CHORD else "-" for c in named]
    return row


def sheet_files(paths: list[str]) -> list[Path]:
    if not paths:
        from music21 import corpus

        return [Path(corpus.getWork(name)) for name in MUSIC21_SHEETS]
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUFFIXES)
        elif p.is_file():
            files.append(p)
        else:
            raise SystemExit(f"{p}: no such file or folder")
    if not files:
        raise SystemExit(f"no lead sheets ({', '.join(SUFFIXES)}) in {', '.join(paths)}")
    return files


def share(rows: list[dict], key: str) -> tuple[float, int]:
    hit, total = sum(r[key][0] for r in rows), sum(r[key][1] for r in rows)
    return round(hit / max(total, 1), 3), total


def main() -> int:
    from music21 import converter

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("paths", nargs="*", help="lead sheet files or folders (default: the ones music21 ships)")
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--whole-song", action="store_true", help="plan from the whole melody (render --whole-song)")
    ap.add_argument("--told", choices=("none", "signature"), default="none",
                    help="none: the band hears the key; signature: the tune's key signature is in the MIDI file")
    ap.add_argument("--max-tunes", type=int, default=None, help="at most this many tunes in all")
    ap.add_argument("--tempo", type=float, default=100.0, help="quarter notes a minute")
    ap.add_argument("--accomp", default=f"{sys.executable} -m accomp", help="the command that runs accomp")
    ap.add_argument("--out", type=Path, help="JSON to write")
    a = ap.parse_args()
    if a.max_tunes is not None and a.max_tunes < 1:
        raise SystemExit("--max-tunes: at least 1")
    rows, skipped, started = [], 0, time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        for path in sheet_files(a.paths):
            try:
                parsed = converter.parse(str(path))
            except Exception as exc:  # music21 raises its own errors for a file it cannot read
                print(f"{path}: not read ({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})")
                continue
            for i, score in enumerate(getattr(parsed, "scores", [parsed])):
                if a.max_tunes is not None and len(rows) == a.max_tunes:
                    break
                song = tune(score)
                if song is None:
                    skipped += 1
                    continue
                row = check(f"{path.stem}-{i + 1}", song, a.preset, a.whole_song, a.told, a.tempo, a.accomp.split(), Path(td))
                row["file"], row["title"] = path.name, (score.metadata.title if score.metadata else "") or ""
                rows.append(row)
            print(f"{path.name}: {sum(r['file'] == path.name for r in rows)} tunes", flush=True)
    if not rows:
        raise SystemExit("no tune in those files is one this benchmark plays (see --help)")
    groups = {name: [r for r in rows if r["file"] == name] for name in dict.fromkeys(r["file"] for r in rows)}
    groups["all"] = rows
    totals = {}
    print(f"\npreset {a.preset}{' (whole song)' if a.whole_song else ''}, told {a.told}: {len(rows)} tunes "
          f"({skipped} skipped), {time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'file':<28}{'tunes':>6}{'beats':>7}{'band':>7}{'harmonizer':>12}{'band, opening':>15}{'harm., opening':>16}"
          f"{'notes in chord':>16}")  # fmt: skip
    for name, group in groups.items():
        t = {k: share(group, k) for k in ("band", "harmonizer", "band_opening", "harmonizer_opening", "on_beat_in_chord")}
        totals[name] = {"tunes": len(group), **{k: v[0] for k, v in t.items()}, "beats": t["band"][1]}
        print(f"{name:<28}{len(group):>6}{t['band'][1]:>7}{t['band'][0]:>7.3f}{t['harmonizer'][0]:>12.3f}"
              f"{t['band_opening'][0]:>15.3f}{t['harmonizer_opening'][0]:>16.3f}{t['on_beat_in_chord'][0]:>16.3f}")  # fmt: skip
    suffix = ("_whole" if a.whole_song else "") + ("_told_signature" if a.told == "signature" else "")
    out = a.out or ROOT / "benchmarks" / "results" / f"lead_sheets_{a.preset}{suffix}.json"
    write_result(out, {"what": "the band's chords against the chords written on lead sheets, rendered by accomp render",
                       "command": "benchmarks/lead_sheets.py " + " ".join(sys.argv[1:]),
                       "settings": {"preset": a.preset, "whole_song": a.whole_song, "told": a.told, "tempo": a.tempo,
                                    "files": [str(p) for p in a.paths] or list(MUSIC21_SHEETS)},
                       "totals": totals, "tunes": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
