"""Ablation of DFSCD: each music-aware term removed, and plain regression instead of
consistency, every variant distilled with the same budget and seed, then evaluated by
`accomp student eval` on the same validation leads.

    .venv/bin/python benchmarks/ablation.py --style chorale --corpus chorales --steps 150

With ``--harmony`` the variants are the harmony's parts instead: the full recipe, the
teacher's guidance off in distillation (``--guidance 1``), and, evaluated on the full
recipe's preset, the guard off and the planner off (``student eval --ablate``).

Writes ``benchmarks/results/ablation.json`` (``ablation_harmony.json``) and prints one table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

VARIANTS = {
    "full (consistency, all terms)": [],
    "- latent": ["--no-term", "latent"],
    "- spectral": ["--no-term", "spectral"],
    "- temporal": ["--no-term", "temporal"],
    "regression instead of consistency": ["--objective", "regression"],
}
HARMONY_VARIANTS = {
    "full (planner, guidance 1.5, guard)": [],
    "guidance off (1.0)": ["--guidance", "1"],
}
COLUMNS = ["consonance", "key_adherence", "chord_agreement", "note_in_chord", "onset_density", "polyphony", "activity", "diversity"]


def run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--style", default="chorale")
    ap.add_argument("--corpus", default="chorales")
    ap.add_argument("--path", default=None)
    ap.add_argument("--steps", type=int, default=150, help="student updates per variant")
    ap.add_argument("--max-pieces", type=int, default=16)
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--harmony", action="store_true", help="ablate the harmony's parts instead of the loss terms")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.out = args.out or str(ROOT / "benchmarks" / "results" / ("ablation_harmony.json" if args.harmony else "ablation.json"))
    accomp = [sys.executable, "-m", "accomp"]
    corpus = ["--corpus", args.corpus] + (["--path", args.path] if args.path else [])
    rows, human = {}, None
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in (HARMONY_VARIANTS if args.harmony else VARIANTS).items():
            preset = Path(tmp) / f"{len(rows)}.safetensors"
            t0 = time.perf_counter()
            run(accomp + ["distill", "--style", args.style, "--quick", "--steps", str(args.steps), "--seed", str(args.seed),
                          "--out", str(preset), "--progress", "jsonl", *extra])
            minutes = (time.perf_counter() - t0) / 60
            report = Path(tmp) / "eval.json"
            ablate = ["--ablate"] if args.harmony and not rows else []
            run(accomp + ["student", "eval", "--preset", str(preset), *corpus, "--split", "val", "--max-pieces",
                          str(args.max_pieces), "--bars", str(args.bars), "--seed", str(args.seed), "--json", str(report), *ablate])
            table = json.loads(report.read_text())["rows"]
            students = [(k, v) for k, v in table.items() if k.startswith("student")]
            rows[name] = {**{c: students[0][1].get(c) for c in COLUMNS}, "distill_minutes": round(minutes, 1)}
            for key, values in students[1:]:  # --ablate: the same preset with the guard off, the planner off
                rows[key[key.index("1 step, ") + 8 : -1]] = {c: values.get(c) for c in COLUMNS}
            human = {c: table["human reference"].get(c) for c in COLUMNS}
            rows_teacher = {c: table["teacher (causal)"].get(c) for c in COLUMNS}
    rows = {"human reference": human, "teacher (causal)": rows_teacher, **rows}
    print(f"ablation: style {args.style}, {args.steps} updates per variant, {args.corpus} val x {args.max_pieces} pieces x {args.bars} bars")
    print(f"{'variant':<36}" + "".join(f"{c[:11]:>12}" for c in COLUMNS))
    for name, values in rows.items():
        print(f"{name:<36}" + "".join(f"{values[c]:>12.3f}" if values.get(c) is not None else f"{'-':>12}" for c in COLUMNS))
    out = write_result(args.out, {"benchmark": "DFSCD ablation", "args": vars(args), "rows": rows})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
