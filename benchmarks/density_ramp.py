"""How busy the band plays as a song goes on, against the pianist: onsets per beat by beats
since the melody came in.

    .venv/bin/python benchmarks/density_ramp.py [--preset pop] [--corpus pop909 --path ../shared/datasets/pop909]
                                                [--bars 16] [--split val] [--out FILE]

``accomp student eval`` scores four bars from each song's opening, where the lead comes in
about two bars late: the band's first bars. A student that hears its own past frames grows
busier as it hears more of itself, so a density that matches the pianist there can be far off
later. This streams the preset over ``--bars`` bars of every song that
has them, from the bar line before the melody's first note (from a cold start, as
``accomp student eval`` and the engine do: the live planner, the guard, ``Student.step``), and
counts the band's and the human accompaniment's onsets per beat in windows of beats since
that first note. Writes ``benchmarks/results/density_ramp_<preset>_<corpus>.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_preset import open_preset  # noqa: E402
from results_io import print_table, write_result  # noqa: E402

WINDOWS = ((0, 2), (2, 4), (4, 8), (8, 16), (16, 32), (32, 64))  # beats since the melody's first note
BATCH = 64


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--corpus", default="pop909", choices=["pop909", "chorales", "midi-folder"])
    ap.add_argument("--path", default=str(ROOT.parent / "shared" / "datasets" / "pop909"), help="corpus folder (pop909, midi-folder)")
    ap.add_argument("--bars", type=int, default=16)
    ap.add_argument("--split", default="val", choices=["train", "val", "all"])
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()

    from accomp.distill.stream import stream_accompaniment
    from accomp.model.pieces import load_pieces

    opened = open_preset(a.preset)
    preset, student, header, spec, harmony, style = opened.path, opened.student, opened.header, opened.spec, opened.harmony, opened.style
    corpus = argparse.Namespace(corpus=[a.corpus], path=[a.path] if a.corpus != "chorales" else [], style=None, no_cache=False)
    pieces, _ = load_pieces(corpus, spec, a.split)
    spb, steps = spec.steps_per_beat, a.bars * 4 * spec.steps_per_beat
    leads, human, entries = [], [], []
    for p in pieces:
        sounding = p.tracks["lead"][:, 1].any(axis=1)
        if not sounding.any():
            continue
        entry = int(np.flatnonzero(sounding)[0])
        start = entry - int(p.beat_in_bar[entry])  # the bar line before it
        if 0 <= start and start + steps <= p.n_steps:
            leads.append(p.tracks["lead"][start : start + steps])
            human.append(p.tracks["accomp"][start : start + steps])
            entries.append(entry - start)
    if not leads:
        raise SystemExit(f"density_ramp.py: no {a.split} song has {a.bars} bars from its melody's entry")
    lead = np.stack(leads)
    band = np.concatenate([stream_accompaniment(student, lead[i : i + BATCH], style, 16, 0, harmony=harmony)
                           for i in range(0, len(lead), BATCH)])  # fmt: skip
    table = {}
    for lo, hi in WINDOWS:
        counts = {"human": 0, "band": 0}
        n_steps = 0
        for i, e in enumerate(entries):
            window = slice(min(steps, e + lo * spb), min(steps, e + hi * spb))
            counts["human"] += int(human[i][window, 0].sum())
            counts["band"] += int(band[i][window, 0].sum())
            n_steps += window.stop - window.start
        if n_steps:
            h, b = counts["human"] * spb / n_steps, counts["band"] * spb / n_steps
            table[f"beats {lo}-{hi}"] = {"human": round(h, 3), "band": round(b, 3), "band / human": round(b / h, 3) if h else float("nan")}
    density = (header.get("thresholds") or {}).get("density")
    print(f"onsets per beat by beats since the melody came in ({preset.stem}, {a.corpus} {a.split}, {len(lead)} songs x {a.bars} bars; "
          f"density follower: {'target %.3f onsets a step' % density['target'] if density else 'off'})")
    print_table({k: v for k, v in table.items()}, ("human", "band", "band / human"))
    out = a.out or ROOT / "benchmarks" / "results" / f"density_ramp_{preset.stem}_{a.corpus}.json"
    write_result(out, {"what": "onsets per beat of the band and the human accompaniment by beats since the melody's first note",
                       "command": "benchmarks/density_ramp.py " + " ".join(sys.argv[1:]), "songs": len(lead), "bars": a.bars,
                       "density_follower": density, "table": table})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
