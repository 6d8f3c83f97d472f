"""The student eval's measures on many four-bar segments of each validation song, not one.

    .venv/bin/python benchmarks/segments.py [--preset pop] --corpus pop909 --path ../shared/datasets/pop909
                                            [--every 6] [--split val] [--out FILE]

``accomp student eval`` takes one segment per song, from the first bar where the lead plays:
the song's opening, where the lead comes in about two bars late and most scored beats are its
first few. On 48 POP909 songs that is a few hundred beats, and two planners trained alike
differ by 0.03 in chord agreement there. This takes a four-bar segment at every ``--every``-th
bar line of every song where the lead plays in more than 30% of the steps (the student eval's
rule), accompanies each from a cold start exactly as the student eval does (the live planner,
the guard, ``Student.step``), and prints the same table for the human accompaniment, the
rule-based harmonizer and the preset. Writes ``benchmarks/results/segments_<preset>_<corpus>.json``.
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

COLUMNS = ("chord_agreement", "note_in_chord", "key_adherence", "consonance", "onset_density", "polyphony", "diversity")
BARS = 4
BATCH = 128  # segments streamed side by side


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--corpus", required=True, choices=["pop909", "chorales", "midi-folder"])
    ap.add_argument("--path", help="corpus folder (pop909, midi-folder)")
    ap.add_argument("--every", type=int, default=6, help="a segment at every N-th bar line (default 6)")
    ap.add_argument("--split", default="val", choices=["train", "val", "all"])
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.every < 1:
        ap.error("--every must be 1 or more")

    from accomp.distill.stream import stream_accompaniment
    from accomp.model.commands import eval_segments
    from accomp.model.pieces import load_pieces
    from accomp.music.evaluate import evaluate_pieces, reference_rows, with_accomp

    opened = open_preset(a.preset)
    preset, student, spec, harmony, style = opened.path, opened.student, opened.spec, opened.harmony, opened.style
    corpus = argparse.Namespace(corpus=[a.corpus], path=[a.path] if a.path else [], style=None, no_cache=False)
    pieces, _ = load_pieces(corpus, spec, a.split)
    segs = eval_segments(pieces, BARS * 4 * spec.steps_per_beat, None, every=a.every)  # raises CorpusError when none
    leads = np.stack([p.tracks["lead"] for p in segs])
    played = np.concatenate([stream_accompaniment(student, leads[i : i + BATCH], style, 16, 0, harmony=harmony)
                             for i in range(0, len(segs), BATCH)])  # fmt: skip
    rows = {k: v for k, v in reference_rows(segs).items() if k in ("human reference", "rule-based harmonizer")}
    rows[f"preset {preset.stem}"] = [with_accomp(p, acc) for p, acc in zip(segs, played)]
    table = evaluate_pieces(rows, segs)
    print(f"{len(segs)} segments of {BARS} bars ({a.corpus} {a.split}, every {a.every}th bar line of {len(pieces)} pieces)")
    print_table(table, COLUMNS)
    out = a.out or ROOT / "benchmarks" / "results" / f"segments_{a.preset}_{a.corpus}.json"
    write_result(out, {"what": "the student eval's measures on four-bar segments at every N-th bar line of each song",
                       "command": "benchmarks/segments.py " + " ".join(sys.argv[1:]),
                       "segments": len(segs), "pieces": len(pieces),
                       "table": {name: {c: round(float(row[c]), 4) for c in COLUMNS} for name, row in table.items()}})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
