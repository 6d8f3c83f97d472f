"""The live planner against the rule-based harmonizer, by beats since the lead came in.

    .venv/bin/python benchmarks/planner_entry.py [--preset pop] --corpus pop909 --path ../shared/datasets/pop909
                                                 [--split val] [--max-pieces N] [--every N] [--members] [--whole-song]
                                                 [--planner FILE] [--out FILE]

Chord agreement with the human accompaniment, the measure of ``accomp student eval`` (the
chord of each beat's sounding notes by the metrics' template match, on beats where both name
one), on the same four-bar segments (one per piece, from the first bar where the lead plays),
counted by how many beats have passed since the lead's first note: beat 0 is the beat the
lead enters on. The causal planner decides beat b from the lead up to b's first step (a
beat ahead of time, its first note in the grace window); the harmonizer sees all of beat b
and the whole segment's key. The chords compared are the plans' own (their chord tones), not
the band's texture. ``--every N`` takes a segment at every N-th bar line instead, as
``segments.py`` does; ``--members`` adds a row for each of a merged planner file's causal
planners deciding alone (the live decision is all of them together); ``--whole-song`` a row
for the plan of the finished melody (``Planner.song_plan``: ``accomp render --whole-song``);
``--planner`` measures another planner file than the preset's (a retrained or merged one).
Also per row, and for the human accompaniment, how often the chord's root changes from one
scored beat to the next (a pianist: about once a bar). Writes
``benchmarks/results/planner_entry_<preset>_<corpus>_<split>.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import print_table, write_result  # noqa: E402

ROWS = ("beat 0", "beat 1", "beats 2-3", "beats 4+", "all")


def row_of(since: int) -> str:
    return ROWS[min(since, 1)] if since < 2 else ("beats 2-3" if since < 4 else "beats 4+")


def root_changes(labels: np.ndarray, scored: np.ndarray) -> tuple[int, int]:
    """How often the chord's root changes from one scored beat to the next scored one right
    after it, and how many such pairs of beats there are. ``labels``: per beat, the metrics'
    ``root * 6 + triad family`` (-1: none); ``scored``: the beats counted."""
    follows = scored[1:] & scored[:-1]
    roots = labels // 6
    return int((roots[1:] != roots[:-1])[follows].sum()), int(follows.sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--corpus", required=True, choices=["pop909", "chorales", "midi-folder"])
    ap.add_argument("--path", help="corpus folder (pop909, midi-folder)")
    ap.add_argument("--split", default="val", choices=["train", "val", "all"])
    ap.add_argument("--max-pieces", type=int, help="the first N pieces (the student eval's --max-pieces)")
    ap.add_argument("--every", type=int, help="a segment at every N-th bar line, not only the opening (segments.py's)")
    ap.add_argument("--members", action="store_true", help="also each of a merged planner file's causal planners alone")
    ap.add_argument("--whole-song", action="store_true", help="also the plan of the finished melody (render --whole-song)")
    ap.add_argument("--planner", type=Path, help="this planner file instead of the preset's own")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()

    import torch

    from accomp.model.checkpoint import load_teacher
    from accomp.model.commands import eval_segments
    from accomp.model.harmony import load_harmony
    from accomp.model.pieces import load_pieces
    from accomp.model.planner import beat_lead, decide, features, heard_by
    from accomp.model.preset import find_teacher, load_preset, resolve_preset
    from accomp.music import metrics
    from accomp.music.baselines import harmonizer_chords
    from accomp.music.chords import CHROMA

    torch.set_num_threads(1)
    preset = resolve_preset(a.preset)
    _, header = load_preset(preset, "cpu")
    teacher, spec, _ = load_teacher(find_teacher(header, preset), "cpu")
    planner = load_harmony(header, preset, teacher.cfg.styles, chords=True, guard=1.0, planner_file=a.planner).planner
    corpus = argparse.Namespace(corpus=[a.corpus], path=[a.path] if a.path else [], style=None, no_cache=False)
    pieces, _ = load_pieces(corpus, spec, a.split)
    segments = eval_segments(pieces, 4 * 4 * spec.steps_per_beat, a.max_pieces, every=a.every)  # four bars, as the student eval
    style = np.asarray(header["style"]["weights"], dtype=np.float32)
    spb = spec.steps_per_beat
    members = [f"member {i + 1} alone" for i in range(len(planner.pairs))] if a.members and len(planner.pairs) > 1 else []
    song = ["whole-song plan"] if a.whole_song else []
    hits = {name: dict.fromkeys(ROWS, 0) for name in ("causal planner", *members, *song, "rule-based harmonizer")}
    counts = dict.fromkeys(ROWS, 0)
    changes = dict.fromkeys(("human accompaniment", *hits), 0)  # root changes between consecutive scored beats
    pairs = 0
    for seg in segments:
        lead, accomp = seg.tracks["lead"], seg.tracks["accomp"]
        bl = beat_lead(lead, seg.beat_in_bar, spb)
        heard = heard_by(bl, causal=True)
        if not heard.any():
            continue
        entry = int(np.argmax(heard))
        feats, tonic = features(bl, style, causal=True)
        with torch.inference_mode():
            x = torch.from_numpy(feats)[None]
            logits = planner.live_scores(x)
            alone = {name: pair[0](x)[0][0].numpy() for name, pair in zip(members, planner.pairs)}
        plans = {"causal planner": decide(logits, tonic, bl, causal=True),
                 **{name: decide(scores, tonic, bl, causal=True) for name, scores in alone.items()},
                 **({"whole-song plan": planner.song_beats(bl, style)[0]} if song else {}),
                 "rule-based harmonizer": harmonizer_chords(lead, seg.beat_in_bar, spb)}  # fmt: skip
        human = metrics.chord_labels(metrics.beat_chroma(metrics.pc_counts(accomp), bl.beats), metrics.beat_bass(accomp, bl.beats))
        labels = {name: metrics.chord_labels(CHROMA[plan].astype(np.float64)) for name, plan in plans.items()}
        both = (human >= 0) & np.logical_and.reduce([lab >= 0 for lab in labels.values()])
        scored = both & (np.arange(len(human)) >= entry)
        for name, lab in {"human accompaniment": human, **labels}.items():
            changed, n = root_changes(lab, scored)
            changes[name] += changed
        pairs += n
        for b in np.flatnonzero(scored):
            for row in (row_of(int(b) - entry), "all"):
                counts[row] += 1
                for name, lab in labels.items():
                    hits[name][row] += int(lab[b] == human[b])
    table = {name: {row: round(h[row] / max(counts[row], 1), 3) for row in ROWS} for name, h in hits.items()}
    print(f"chord agreement with the human accompaniment by beats since the lead came in "
          f"({a.preset}, {a.corpus} {a.split}, {len(segments)} segments)")  # fmt: skip
    print(f"{'beats':<24}" + "".join(f"{counts[row]:>11}" for row in ROWS))
    print_table(table, ROWS, width=11)
    per_beat = {name: round(n / max(pairs, 1), 3) for name, n in changes.items()}
    print("root changes per scored beat: " + ", ".join(f"{name} {v:.3f}" for name, v in per_beat.items()))
    out = a.out or ROOT / "benchmarks" / "results" / f"planner_entry_{a.preset}_{a.corpus}_{a.split}.json"
    write_result(out, {"what": "chord agreement with the human accompaniment, by beats since the lead came in",
                       "command": "benchmarks/planner_entry.py " + " ".join(sys.argv[1:]),
                       **({"planner": a.planner.name} if a.planner else {}),
                       "segments": len(segments), "beats": counts, "agreement": table,
                       "root_changes_per_beat": per_beat})  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
