"""Tunes everybody knows, rendered as a user would: the chord the band plays on each beat.

    .venv/bin/python benchmarks/tunes.py [--preset pop] [--whole-song] [--tempo 100]
                                         [--tune NAME ...] [--told none|key|signature] [--out FILE] [--quiet]

Ten public-domain melodies in major and minor keys, in 4/4 and 3/4, some with a pickup,
none of them in any training corpus: Twinkle Twinkle (C), Ode to Joy (D), Frere Jacques (F),
When the Saints (G), Amazing Grace (G, 3/4), Happy Birthday (C, 3/4), Greensleeves
(A minor, 3/4), and three that open on the key's third or fifth with repeated notes, where
the first notes cannot name the key: Mary Had a Little Lamb (C), Jingle Bells (G) and London
Bridge (C). Each is written to a MIDI file and rendered by ``accomp render --preset P``
(the live path; ``--whole-song`` plans from the whole melody; ``--told key`` tells the band the
tune's key with ``--key``, ``--told signature`` writes it into the MIDI file as a key
signature), then read back: the band's
sounding note time per beat (every track but the lead, drums left out) is named by the
chord vocabulary's best template (``accomp.music.chords.match_chords``).

Per tune it prints the chord under every beat, bar by bar, and:

- **on-beat melody notes in the chord**: melody notes that start on a beat and are a tone of
  the band's chord for that beat (the measure of ``../shared/tools/tune_check.py``);
- **in key**: the share of the band's sounding note time on the tune's scale (minor: natural,
  harmonic and melodic minor together);
- **changes per bar**: how often the root of the band's chord changes from one beat to the
  next, per bar (harmonic rhythm: a musician changes about once or twice a bar under these
  tunes; C to Csus4 or Cmaj7 is a colour, not a change);
- **distinct chords** the band used.

Writes one JSON with every tune's rows and the totals (default
``benchmarks/results/tunes_<preset>[_whole][_told_key|_told_signature].json``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import mido
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from accomp.music.chords import CHROMA, NO_CHORD, chord_name, match_chords, root_of  # noqa: E402
from results_io import write_result  # noqa: E402

PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
MAJOR, MINOR = (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 9, 10, 11)

# name: (tonic pitch class, mode, beats per bar, melody). Melody: bars split by "|", notes as
# NAME[#|b]OCTAVE[:beats] (default one beat), "r" a rest; a first bar shorter than the others
# is a pickup (it is padded with a rest in front).
TUNES: dict[str, tuple[int, str, int, str]] = {
    "twinkle": (0, "major", 4,
                "C4 C4 G4 G4 | A4 A4 G4:2 | F4 F4 E4 E4 | D4 D4 C4:2 | G4 G4 F4 F4 | E4 E4 D4:2 |"
                "G4 G4 F4 F4 | E4 E4 D4:2 | C4 C4 G4 G4 | A4 A4 G4:2 | F4 F4 E4 E4 | D4 D4 C4:2"),
    "ode_to_joy": (2, "major", 4,
                   "F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | F#4:1.5 E4:0.5 E4:2 |"
                   "F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | E4:1.5 D4:0.5 D4:2 |"
                   "E4 E4 F#4 D4 | E4 F#4:0.5 G4:0.5 F#4 D4 | E4 F#4:0.5 G4:0.5 F#4 E4 | D4 E4 A3:2 |"
                   "F#4 F#4 G4 A4 | A4 G4 F#4 E4 | D4 D4 E4 F#4 | E4:1.5 D4:0.5 D4:2"),
    "frere_jacques": (5, "major", 4,
                      "F4 G4 A4 F4 | F4 G4 A4 F4 | A4 Bb4 C5:2 | A4 Bb4 C5:2 |"
                      "C5:0.5 D5:0.5 C5:0.5 Bb4:0.5 A4 F4 | C5:0.5 D5:0.5 C5:0.5 Bb4:0.5 A4 F4 |"
                      "F4 C4 F4:2 | F4 C4 F4:2"),
    "saints": (7, "major", 4,
               "G4 B4 C5 | D5:4 | r G4 B4 C5 | D5:4 | r G4 B4 C5 | D5:2 B4:2 | G4:2 B4:2 | A4:4 |"
               "r B4 B4 A4 | G4:3 G4 | B4:2 D5:2 | D5 C5:3 | r B4 C5 D5 | B4:2 G4:2 | A4:2 G4:2 | G4:4"),
    "amazing_grace": (7, "major", 3,
                      "D4 | G4:2 B4:0.5 G4:0.5 | B4:2 A4 | G4:2 E4 | D4:2 D4 | G4:2 B4:0.5 G4:0.5 |"
                      "B4:2 A4:0.5 B4:0.5 | D5:3 | D5:2 B4 | D5:2 B4:0.5 G4:0.5 | B4:2 A4 | G4:2 E4 |"
                      "D4:2 D4 | G4:2 B4:0.5 G4:0.5 | B4:2 A4 | G4:3 | G4:2 r"),
    "happy_birthday": (0, "major", 3,
                       "G4:0.75 G4:0.25 | A4 G4 C5 | B4:2 G4:0.75 G4:0.25 | A4 G4 D5 | C5:2 G4:0.75 G4:0.25 |"
                       "G5 E5 C5 | B4 A4 F5:0.75 F5:0.25 | E5 C5 D5 | C5:3"),
    "greensleeves": (9, "minor", 3,
                     "A4 | C5:2 D5 | E5:1.5 F5:0.5 E5 | D5:2 B4 | G4:1.5 A4:0.5 B4 | C5:2 A4 |"
                     "A4:1.5 G#4:0.5 A4 | B4:2 G#4 | E4:2 A4 | C5:2 D5 | E5:1.5 F5:0.5 E5 | D5:2 B4 |"
                     "G4:1.5 A4:0.5 B4 | C5:1.5 B4:0.5 A4 | G#4:1.5 F#4:0.5 G#4 | A4:3 | A4:2 r"),
    # Three that open on the third or the fifth, with repeated notes: one note cannot name a key
    "mary_lamb": (0, "major", 4,
                  "E4 D4 C4 D4 | E4 E4 E4:2 | D4 D4 D4:2 | E4 G4 G4:2 | E4 D4 C4 D4 | E4 E4 E4 E4 | D4 D4 E4 D4 | C4:4"),
    "jingle_bells": (7, "major", 4,
                     "B4 B4 B4:2 | B4 B4 B4:2 | B4 D5 G4:1.5 A4:0.5 | B4:4 | C5 C5 C5:1.5 C5:0.5 |"
                     "C5 B4 B4 B4:0.5 B4:0.5 | B4 A4 A4 B4 | A4:2 D5:2"),
    "london_bridge": (0, "major", 4,
                      "G4:1.5 A4:0.5 G4 F4 | E4 F4 G4:2 | D4 E4 F4:2 | E4 F4 G4:2 | G4:1.5 A4:0.5 G4 F4 | E4 F4 G4:2 |"
                      "D4:2 G4:2 | E4 C4:3"),
}  # fmt: skip


def pitch(name: str) -> int:
    """"F#4" -> 66 (MIDI, C4 = 60)."""
    step, rest = PC[name[0]], name[1:]
    while rest and rest[0] in "#b":
        step += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + step


def parse(melody: str, beats_per_bar: int) -> list[tuple[int | None, float, float]]:
    """The melody as (pitch or None for a rest, start beat, length in beats); the pickup bar is
    padded with a rest in front so that bar lines fall on whole bars."""
    bars = [bar.split() for bar in melody.split("|")]
    notes, at = [], 0.0
    for i, bar in enumerate(bars):
        tokens = [(tok.split(":")[0], float(tok.split(":")[1]) if ":" in tok else 1.0) for tok in bar]
        length = sum(beats for _, beats in tokens)
        if i == 0 and length < beats_per_bar:
            at += beats_per_bar - length
        elif abs(length - beats_per_bar) > 1e-9:
            raise ValueError(f"bar {i + 1} holds {length:g} beats, not {beats_per_bar}")
        for name, beats in tokens:
            notes.append((None if name == "r" else pitch(name), at, beats))
            at += beats
    return notes


KEY_NAMES = ("C Db D Eb E F F# G Ab A Bb B".split(), "C C#m D Ebm E F F#m G G#m A Bbm B".split())


def key_name(tonic: int, mode: str) -> str:
    """A key as ``accomp --key`` and a MIDI key signature (mido) name it: ``Bb``, ``F#m``."""
    return KEY_NAMES[0][tonic] if mode == "major" else KEY_NAMES[1][tonic].rstrip("m") + "m"


TOLD = ("none", "key", "signature")
TOLD_HELP = ("how the band is told the song's key: none (it hears it), key (render --key), signature (a key signature "
             "in the MIDI file)")


def told_suffix(told: str) -> str:
    return "" if told == "none" else f"_told_{told}"


def write_tune(path: Path, notes: list, beats_per_bar: int, tempo: float, signature: str | None = None,
               denominator: int = 4) -> None:
    """The melody (``parse``'s notes, in quarter notes) as a one-track MIDI file in ``beats_per_bar``/``denominator``."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("track_name", name="lead", time=0))
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0))
    track.append(mido.MetaMessage("time_signature", numerator=beats_per_bar, denominator=denominator, time=0))
    if signature:
        track.append(mido.MetaMessage("key_signature", key=signature, time=0))
    events = []
    for p, start, beats in notes:
        if p is not None:
            events += [(round(start * 480), 1, p), (round((start + beats) * 480) - 20, 0, p)]
    now = 0
    for tick, on, p in sorted(events):
        track.append(mido.Message("note_on", note=p, velocity=80 if on else 0, time=tick - now))
        now = tick
    mid.save(path)


def band_beats(path: Path, n_beats: int, tempo: float, beat_quarters: float = 1.0) -> np.ndarray:
    """(n_beats, 12) the band's sounding time per pitch class in each beat of ``beat_quarters``
    quarter notes (drums left out); ``tempo``: the file's, in quarter notes a minute."""
    mid = mido.MidiFile(path)
    beat_s = 60.0 / tempo * beat_quarters
    weights = np.zeros((n_beats, 12))
    edges = np.arange(n_beats + 1) * beat_s
    for track in mid.tracks:
        if next((m.name for m in track if m.type == "track_name"), "").lower().startswith("lead"):
            continue
        t, tick_tempo, on = 0.0, mido.bpm2tempo(tempo), {}
        for msg in track:
            t += mido.tick2second(msg.time, mid.ticks_per_beat, tick_tempo)
            if msg.type == "set_tempo":
                tick_tempo = msg.tempo
            elif msg.type == "note_on" and msg.velocity > 0 and msg.channel != 9:
                on.setdefault(msg.note, t)
            elif msg.type in ("note_on", "note_off") and msg.note in on:
                start = on.pop(msg.note)
                overlap = np.clip(np.minimum(t, edges[1:]) - np.maximum(start, edges[:-1]), 0, None)
                weights[:, msg.note % 12] += overlap
    return weights


def check(name: str, preset: str, whole: bool, tempo: float, accomp: list[str], tmp: Path, told: str = "none") -> dict:
    tonic, mode, per_bar, melody = TUNES[name]
    return check_notes(name, parse(melody, per_bar), tonic, mode, per_bar, preset, whole, tempo, accomp, tmp,
                       told=told, told_key=key_name(tonic, mode))  # fmt: skip


def check_notes(name: str, notes: list, tonic: int, mode: str, per_bar: int, preset: str, whole: bool, tempo: float,
                accomp: list[str], tmp: Path, *, told: str = "none", told_key: str = "") -> dict:
    """Render one melody (``parse``'s notes, bar lines on whole bars) with ``accomp render`` and
    read the band's chords back: the row this benchmark prints and writes for a tune. ``told``:
    how the band is told ``told_key`` (a key name, :func:`key_name`): ``none``, ``key`` (``render
    --key``) or ``signature`` (the MIDI file's key signature)."""
    n_beats = int(np.ceil(max(start + beats for _, start, beats in notes)))
    lead, out = tmp / f"{name}.mid", tmp / f"{name}_band.mid"
    write_tune(lead, notes, per_bar, tempo, told_key if told == "signature" else None)
    cmd = accomp + ["render", str(lead), "--preset", preset, "-o", str(out), "--tempo", f"{tempo:g}",
                    "--meter", f"{per_bar}/4"] + (["--whole-song"] if whole else [])  # fmt: skip
    cmd += ["--key", told_key] if told == "key" else []
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise SystemExit(f"render of {name} failed: {(run.stderr or run.stdout).strip()[-500:]}")
    band = band_beats(out, n_beats, tempo)
    chords = match_chords(band)
    on_beat = {int(round(start)): p % 12 for p, start, _ in notes if p is not None and abs(start - round(start)) < 1e-9}
    hits = sum(bool(CHROMA[chords[b], pc]) for b, pc in on_beat.items())
    scale = np.zeros(12, dtype=bool)
    scale[[(tonic + i) % 12 for i in (MAJOR if mode == "major" else MINOR)]] = True
    named = chords[chords != NO_CHORD]
    roots = np.array([root_of(int(c)) for c in named])
    changes = int(np.count_nonzero(roots[1:] != roots[:-1]))
    labels = [chord_name(int(c)) if c != NO_CHORD else "-" for c in chords]
    bars = [" ".join(f"{lab:<6}" for lab in labels[i : i + per_bar]) for i in range(0, n_beats, per_bar)]
    return {
        "tune": name, "key": f"{'C C# D Eb E F F# G Ab A Bb B'.split()[tonic]} {mode}", "meter": f"{per_bar}/4",
        "bars": bars, "chords": [int(c) for c in chords], "on_beat_in_chord": hits, "on_beat_notes": len(on_beat),
        "in_key": round(float(band[:, scale].sum() / max(band.sum(), 1e-12)), 3),
        "changes_per_bar": round(changes / (n_beats / per_bar), 2), "distinct_chords": len(set(named.tolist())),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--whole-song", action="store_true", help="plan from the whole melody (render --whole-song)")
    ap.add_argument("--tempo", type=float, default=100.0)
    ap.add_argument("--tune", action="append", choices=sorted(TUNES), help="only these tunes (repeatable)")
    ap.add_argument("--accomp", default=f"{sys.executable} -m accomp", help="the command that runs accomp")
    ap.add_argument("--out", type=Path, help="JSON to write (default benchmarks/results/tunes_<preset>[_whole].json)")
    ap.add_argument("--quiet", action="store_true", help="totals only, not the chords")
    ap.add_argument("--told", choices=TOLD, default="none", help=TOLD_HELP)
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as td:
        for name in a.tune or list(TUNES):
            row = check(name, a.preset, a.whole_song, a.tempo, a.accomp.split(), Path(td), a.told)
            rows.append(row)
            if not a.quiet:
                print(f"{name} ({row['key']}, {row['meter']}): the band's chord per beat, bar by bar")
                for i, bar in enumerate(row["bars"]):
                    print(f"  {i + 1:>2} | {bar}")
            print(f"{name:<15} on-beat melody notes in the chord {row['on_beat_in_chord']:>3}/{row['on_beat_notes']:<3} "
                  f"in key {row['in_key']:.3f}  changes per bar {row['changes_per_bar']:.2f}  "
                  f"distinct chords {row['distinct_chords']}", flush=True)  # fmt: skip
    hit, total = sum(r["on_beat_in_chord"] for r in rows), sum(r["on_beat_notes"] for r in rows)
    totals = {"on_beat_in_chord": round(hit / total, 3),
              "in_key": round(float(np.mean([r["in_key"] for r in rows])), 3),
              "changes_per_bar": round(float(np.mean([r["changes_per_bar"] for r in rows])), 2)}  # fmt: skip
    print(f"all {len(rows)} tunes: on-beat melody notes in the chord {hit}/{total} ({totals['on_beat_in_chord']:.3f}), "
          f"in key {totals['in_key']:.3f}, changes per bar {totals['changes_per_bar']:.2f}")  # fmt: skip
    out = a.out or ROOT / "benchmarks" / "results" / f"tunes_{a.preset}{'_whole' if a.whole_song else ''}{told_suffix(a.told)}.json"
    write_result(out, {"what": "the band's chord per beat under known tunes, rendered by accomp render",
                       "command": "benchmarks/tunes.py " + " ".join(sys.argv[1:]),
                       "settings": {"preset": a.preset, "whole_song": a.whole_song, "tempo": a.tempo, "told": a.told},
                       "totals": totals, "tunes": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
