"""Folk songs in 6/8: where the band changes chord, and what it plays under the beat's note.

    .venv/bin/python benchmarks/compound.py [--per-collection 15] [--preset pop --preset chorale]
                                            [--tempo 100] [--accomp CMD] [--out FILE]

A musician counts 6/8 in two dotted quarters a bar and changes chord on them. This renders
every Essen folk song in 6/8 that music21's corpus holds in the collections ``folk.py`` reads
(up to ``--per-collection`` from each; one time signature, 4 to 48 bars, one melody line, a
pickup padded in front as ``folk.py`` does), with ``accomp render --meter 6/8`` on the live
path and with ``--whole-song``, and reads the band's chords from the chord markers its MIDI
file holds (the chord the band was given at each change, at its exact time). Per preset and
path, over all songs:

- **notes in chord**: the share of melody notes starting on a dotted quarter that are tones of
  the band's chord there;
- **changes per bar** of the band's chord (a folk accompanist: about one);
- **changes off the beat**: the share of those changes that fall between dotted quarters (on
  the 3rd or 5th eighth, say), where no musician changes chord in 6/8.

Reading the markers rather than the lead sheet makes a run of an older checkout comparable
(``--accomp`` runs another tree's accomp; the command runs in that tree with ``--cwd``).
Writes ``benchmarks/results/compound.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mido

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from folk import COLLECTIONS, notes_on_bars  # noqa: E402
from results_io import write_result  # noqa: E402

from accomp.music.chords import CHROMA, N_CHORDS, chord_name  # noqa: E402

BAR = 3.0  # quarter notes in a bar of 6/8
BEAT = 1.5  # a dotted quarter
NAMED = {chord_name(c): c for c in range(N_CHORDS)}


def song_notes(score) -> list[tuple[int, float, float]] | None:
    """(MIDI pitch, start, length) in quarter notes of an Essen song in 6/8, bar lines on whole
    bars (a pickup padded in front), or None when it is not one this benchmark plays."""
    signatures = list(score.recurse().getElementsByClass("TimeSignature"))
    if len(signatures) != 1 or (signatures[0].numerator, signatures[0].denominator) != (6, 8):
        return None
    return notes_on_bars(score, BAR)


def write_lead(path: Path, notes: list, tempo: float) -> None:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack([mido.MetaMessage("track_name", name="lead"), mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo)),
                            mido.MetaMessage("time_signature", numerator=6, denominator=8)])  # fmt: skip
    events = []
    for pitch, start, length in notes:
        events += [(round(start * 480), 1, pitch), (round((start + length) * 480) - 20, 0, pitch)]
    now = 0
    for tick, on, pitch in sorted(events):
        track.append(mido.Message("note_on", note=pitch, velocity=80 if on else 0, time=tick - now))
        now = tick
    midi.tracks.append(track)
    midi.save(path)


def chord_changes(path: Path) -> list[tuple[float, int]]:
    """(time in quarter notes, chord) of each chord marker in a rendered file."""
    midi = mido.MidiFile(path)
    out, tick = [], 0
    for message in midi.tracks[0]:
        tick += message.time
        if message.type == "marker" and message.text in NAMED:
            out.append((tick / midi.ticks_per_beat, NAMED[message.text]))
    return out


def on_the_beat(t: float) -> bool:
    return abs(t / BEAT - round(t / BEAT)) < 1e-6


def measure(notes: list, changes: list) -> dict:
    def chord_at(t: float) -> int | None:
        found = None
        for at, chord in changes:
            if at <= t + 1e-6:
                found = chord
        return found

    beat_notes = [(pitch, start) for pitch, start, _ in notes if on_the_beat(start)]
    hits = sum(1 for pitch, start in beat_notes if (c := chord_at(start)) is not None and CHROMA[c, pitch % 12])
    moves = [at for (at, chord), (_, before) in zip(changes[1:], changes[:-1]) if chord != before]
    return {"beat_notes": len(beat_notes), "in_chord": hits, "changes": len(moves),
            "off_beat": sum(1 for at in moves if not on_the_beat(at)), "bars": (notes[-1][1] + notes[-1][2]) / BAR}  # fmt: skip


def main() -> int:
    from music21 import corpus

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", action="append", help="a preset (repeatable; default pop and chorale)")
    ap.add_argument("--per-collection", type=int, default=15, help="songs taken from each collection")
    ap.add_argument("--tempo", type=float, default=100.0)
    ap.add_argument("--accomp", default=f"{sys.executable} -m accomp", help="the command that runs accomp")
    ap.add_argument("--cwd", type=Path, default=ROOT, help="where it runs (another checkout, to compare)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "compound.json")
    a = ap.parse_args()
    presets = a.preset or ["pop", "chorale"]
    songs = []
    for name in COLLECTIONS:
        opus = corpus.parse(f"essenFolksong/{name}")
        taken = [(f"{name}-{i + 1}", notes) for i, score in enumerate(opus.scores) if (notes := song_notes(score)) is not None]
        songs += taken[: a.per_collection]
    rows, started = [], time.perf_counter()
    with tempfile.TemporaryDirectory() as td:
        for song, notes in songs:
            lead = Path(td) / f"{song}.mid"
            write_lead(lead, notes, a.tempo)
            for preset in presets:
                for whole in (False, True):
                    out = Path(td) / "band.mid"
                    cmd = a.accomp.split() + ["render", str(lead), "--preset", preset, "-o", str(out), "--meter", "6/8",
                                              "--tempo", f"{a.tempo:g}"] + (["--whole-song"] if whole else [])  # fmt: skip
                    run = subprocess.run(cmd, cwd=a.cwd, capture_output=True, text=True, timeout=300)
                    if run.returncode != 0:
                        raise SystemExit(f"render of {song} failed: {(run.stderr or run.stdout).strip()[-500:]}")
                    rows.append({"song": song, "preset": preset, "whole_song": whole, **measure(notes, chord_changes(out))})
    totals = {}
    print(f"{len(songs)} songs in 6/8, {time.perf_counter() - started:.0f} s")
    print(f"{'preset':<24}{'notes in chord':>16}{'changes/bar':>13}{'off the beat':>14}")
    for preset in presets:
        for whole in (False, True):
            group = [r for r in rows if r["preset"] == preset and r["whole_song"] == whole]
            t = {"notes_in_chord": round(sum(r["in_chord"] for r in group) / max(1, sum(r["beat_notes"] for r in group)), 3),
                 "changes_per_bar": round(sum(r["changes"] for r in group) / max(1e-9, sum(r["bars"] for r in group)), 2),
                 "changes_off_the_beat": round(sum(r["off_beat"] for r in group) / max(1, sum(r["changes"] for r in group)), 3)}  # fmt: skip
            label = f"{preset}{' whole song' if whole else ' live'}"
            totals[label] = t
            print(f"{label:<24}{t['notes_in_chord']:>16.3f}{t['changes_per_bar']:>13.2f}{t['changes_off_the_beat']:>14.3f}")
    write_result(a.out, {"what": "the band's chords under Essen folk songs in 6/8 (music21's corpus), rendered by accomp render",
                         "command": "benchmarks/compound.py " + " ".join(sys.argv[1:]),
                         "settings": {"presets": presets, "tempo": a.tempo, "per_collection": a.per_collection,
                                      "cwd": str(a.cwd)}, "totals": totals, "songs": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
