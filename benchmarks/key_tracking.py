"""The live key tracker against the key a melody is in, read two ways: how often, beat by
beat, it names the key.

    .venv/bin/python benchmarks/key_tracking.py --path ../shared/datasets/pop909 [--out FILE]
    .venv/bin/python benchmarks/key_tracking.py --path ../shared/datasets/pop909 --profiles

The tracker (``accomp.model.planner.KeyTracker``) hears only the lead, beat by beat, as the
live planner does (its histogram halves every ``KEY_HALF_LIFE`` beats; a key change restarts
it). It is run twice over the same melodies, reading its histogram

- with Krumhansl-Schmuckler's correlation (``keys_of``), as the planner does, and
- as a melody's notes (``melody_keys`` here): the key under which they are most likely, each
  step of a note drawn from the key's *melody profile* (the share of a melody's note time on
  each degree; a degree never sung counts ``FLOOR``), with a prior for major.

Counted from the melody's first note, in three stretches (its first 4 beats, beats 4-15,
beat 16 on); *exact* is the key itself, *same scale* also counts its relative major or minor.
The keys it is measured against:

- POP909 validation songs with one annotated key (``key_audio.txt``);
- the chorales' validation split, in the key of the whole chorale (all four voices,
  Krumhansl-Schmuckler);
- 100 Essen folk songs (music21's corpus, ``benchmarks/folk.py``'s: the first 20 it plays of
  each of its five collections; the key music21 reads from the whole melody), in no corpus
  the project trains on.

``--profiles`` measures the melody profiles instead, on the training splits: the share of the
melody's note time on each degree of the key, per song, averaged over POP909's single-key
songs (major and minor apart) and over the chorales' sopranos; ``MELODY_MAJOR`` and
``MELODY_MINOR`` below are the mean of the two corpora's, rounded to three places.

Why the planner does not read keys this way (a planner trained on it agreed less with the
human accompaniment in POP909's openings): docs/harmony.md, "Reading the key from a melody".
Writes ``benchmarks/results/key_tracking.json`` (or ``key_profiles.json``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import machine, write_result  # noqa: E402

STRETCHES = ((0, 4, "beats 0-3"), (4, 16, "beats 4-15"), (16, None, "beats 16+"))
FOLK_PER_COLLECTION = 20
MELODY_MAJOR = np.array([0.218, 0.001, 0.175, 0.001, 0.178, 0.077, 0.003, 0.171, 0.002, 0.117, 0.010, 0.046])
MELODY_MINOR = np.array([0.232, 0.002, 0.113, 0.153, 0.003, 0.149, 0.001, 0.193, 0.037, 0.008, 0.097, 0.012])
FLOOR = 0.003
MAJOR_PRIOR = 0.6


def _log_profiles() -> np.ndarray:
    """(24, 12) log-probabilities of each pitch class in each key (12 major, then 12 minor)."""
    rows = []
    for profile in (MELODY_MAJOR, MELODY_MINOR):
        p = np.maximum(profile, FLOOR)
        rows += [np.roll(p / p.sum(), t) for t in range(12)]
    return np.log(np.stack(rows))


LOG_PROFILES = _log_profiles()
LOG_PRIOR = np.log(np.repeat([MAJOR_PRIOR, 1.0 - MAJOR_PRIOR], 12))


def melody_keys(hist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most likely key of (N, 12) melody note-time histograms -> (tonic (N,), minor (N,)
    bool), as ``keys_of`` answers; an empty histogram reads as C major."""
    h = np.asarray(hist, dtype=np.float64)
    best = np.argmax(h @ LOG_PROFILES.T + LOG_PRIOR, axis=1)
    best = np.where(h.sum(axis=1) > 0, best, 0)
    return best % 12, best >= 12


def annotated_key(song: Path) -> tuple[int, bool] | None:
    """A POP909 song's one annotated key (tonic, minor), or None when it has several."""
    from accomp.music.chords import parse_root

    lines = [line.split() for line in (song / "key_audio.txt").read_text().splitlines() if line.strip()]
    if len(lines) != 1:
        return None
    name, mode = lines[0][2].split(":")
    return parse_root(name), mode.startswith("min")


def pop909(path: Path, split: str) -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    """(lead roll, beat_in_bar, tonic, minor) of POP909's single-key songs in ``split``."""
    from accomp.config import DEFAULT_SPEC, CorpusChoice
    from accomp.model.pieces import load_pieces

    pieces, _ = load_pieces(CorpusChoice(corpus="pop909", path=str(path)), DEFAULT_SPEC, split)
    out = []
    for p in pieces:
        key = annotated_key(path / p.piece_id.split("/")[-1][:3])
        if key is not None:
            out.append((p.tracks["lead"], p.beat_in_bar, *key))
    return out


def chorales(split: str) -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    """(soprano roll, beat_in_bar, tonic, minor) of the chorales in ``split``, in the whole chorale's key."""
    from accomp.config import DEFAULT_SPEC, CorpusChoice
    from accomp.model.pieces import load_pieces
    from accomp.model.planner import keys_of
    from accomp.music.metrics import pc_counts

    pieces, _ = load_pieces(CorpusChoice(corpus="chorales"), DEFAULT_SPEC, split)
    out = []
    for p in pieces:
        every = sum(pc_counts(p.tracks[role], DEFAULT_SPEC.lowest_pitch).sum(axis=0) for role in ("lead", "accomp"))
        tonic, minor = keys_of(every[None])
        out.append((p.tracks["lead"], p.beat_in_bar, int(tonic[0]), bool(minor[0])))
    return out


def folk() -> list[tuple[np.ndarray, np.ndarray, int, bool]]:
    """(lead roll, beat_in_bar, tonic, minor) of folk.py's Essen songs."""
    from music21 import corpus

    from accomp.config import DEFAULT_SPEC
    from accomp.music.frames import notes_to_roll
    from folk import COLLECTIONS, song_notes

    spb, lowest = DEFAULT_SPEC.steps_per_beat, DEFAULT_SPEC.lowest_pitch
    out = []
    for name in COLLECTIONS:
        taken = 0
        for score in corpus.parse(f"essenFolksong/{name}").scores:
            song = song_notes(score)
            if song is None:
                continue
            notes, tonic, mode, per_bar = song
            notes = [n for n in notes if n[0] is not None]
            end = max(s + d for _, s, d in notes)
            steps = int(np.ceil(end / per_bar) * per_bar * spb)
            on_grid = [(a := round(start * spb), max(round((start + length) * spb), a + 1), pitch - lowest)
                       for pitch, start, length in notes]  # fmt: skip
            lead = notes_to_roll(on_grid, steps, DEFAULT_SPEC)
            out.append((lead, np.arange(steps) % (per_bar * spb), tonic, mode == "minor"))
            taken += 1
            if taken == FOLK_PER_COLLECTION:
                break
    return out


def accuracy(melodies, scoring) -> dict:
    """Per stretch: beats, and the share the tracker (with ``scoring``) named exactly / in the same scale."""
    from accomp.config import DEFAULT_SPEC
    from accomp.model.planner import KeyTracker, beat_lead

    exact, same, beats = np.zeros(3), np.zeros(3), np.zeros(3)
    for lead, beat_in_bar, tonic, minor in melodies:
        bl = beat_lead(lead, beat_in_bar, DEFAULT_SPEC.steps_per_beat)
        heard = np.flatnonzero(bl.chroma.sum(axis=1) > 0)
        if not heard.size:
            continue
        relative = ((tonic + 3) % 12, False) if minor else ((tonic - 3) % 12, True)
        tracker = KeyTracker(scoring=scoring)
        for b in range(len(bl.chroma)):
            tracker.view(bl.first[b])
            got = (tracker.tonic, tracker.minor)
            tracker.advance(bl.chroma[b])
            since = b - heard[0]
            if since < 0:
                continue
            i = next(i for i, (lo, hi, _) in enumerate(STRETCHES) if since >= lo and (hi is None or since < hi))
            beats[i] += 1
            exact[i] += got == (tonic, minor)
            same[i] += got in ((tonic, minor), relative)
    share = lambda x: {name: round(float(v / n), 3) if n else None for (_, _, name), v, n in zip(STRETCHES, x, beats)}  # noqa: E731
    return {"beats": {name: int(n) for (_, _, name), n in zip(STRETCHES, beats)}, "exact": share(exact), "same scale": share(same)}


def profiles(path: Path) -> dict:
    """The melody profiles of the training splits (see the module docstring)."""
    from accomp.config import DEFAULT_SPEC
    from accomp.music.metrics import pc_counts

    found = {}
    for corpus, melodies in (("pop909", pop909(path, "train")), ("chorales", chorales("train"))):
        for minor in (False, True):
            rows = []
            for lead, _, tonic, m in melodies:
                counts = pc_counts(lead, DEFAULT_SPEC.lowest_pitch).sum(axis=0)
                if m == minor and counts.sum() > 0:
                    rows.append(np.roll(counts, -tonic) / counts.sum())
            found[f"{corpus} {'minor' if minor else 'major'}"] = {"songs": len(rows), "profile": np.mean(rows, axis=0)}
    for mode in ("major", "minor"):
        found[f"mean {mode}"] = {"songs": None, "profile": (found[f"pop909 {mode}"]["profile"] + found[f"chorales {mode}"]["profile"]) / 2}
    return {name: {"songs": v["songs"], "profile": [round(float(x), 4) for x in v["profile"]]} for name, v in found.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", required=True, type=Path, help="the POP909 folder")
    ap.add_argument("--profiles", action="store_true", help="measure the melody profiles on the training splits instead")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    from accomp.model.planner import keys_of

    if a.profiles:
        found = profiles(a.path)
        degrees = ["1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7"]
        print(f"{'':<18}{'songs':>6}" + "".join(f"{d:>7}" for d in degrees))
        for name, v in found.items():
            print(f"{name:<18}{'' if v['songs'] is None else v['songs']:>6}" + "".join(f"{x:>7.3f}" for x in v["profile"]))
        write_result(a.out or ROOT / "benchmarks" / "results" / "key_profiles.json",
                     {"what": "melody profiles: share of note time per key degree", "machine": machine(), "profiles": found})  # fmt: skip
        return 0
    corpora = {"pop909 val": pop909(a.path, "val"), "chorales val": chorales("val"), "Essen folk": folk()}
    result = {"what": "the live key tracker's key against the melody's, by beats since its first note",
              "command": "benchmarks/key_tracking.py " + " ".join(sys.argv[1:]), "machine": machine(), "corpora": {}}  # fmt: skip
    print(f"{'':<34}" + "".join(f"{name:>12}" for _, _, name in STRETCHES))
    for corpus, melodies in corpora.items():
        rows = {"melody profiles": accuracy(melodies, melody_keys), "Krumhansl-Schmuckler": accuracy(melodies, keys_of)}
        result["corpora"][corpus] = {"melodies": len(melodies), **rows}
        for scoring, row in rows.items():
            for kind in ("exact", "same scale"):
                label = f"{corpus}, {'KS' if scoring == 'Krumhansl-Schmuckler' else scoring}"
                print(f"{label:<34}" + "".join(f"{row[kind][name]:>12.3f}" for _, _, name in STRETCHES) + f"   {kind}")
    write_result(a.out or ROOT / "benchmarks" / "results" / "key_tracking.json", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
