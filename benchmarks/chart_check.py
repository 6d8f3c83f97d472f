"""Every shipped chord chart played by every bundled preset: how faithfully the band plays it.

    .venv/bin/python benchmarks/chart_check.py

Renders each chart of ``resources/charts`` alone (``accomp render --chart FILE --preset P``,
the same path as the command line) and scores the band's part against the chart
(``accomp.music.charts.chart_scores``: chord agreement per beat, and the share of its note
time on the chart's key or the beat's chord tones). Prints a table and writes
``benchmarks/results/chart_check.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

from accomp.cli import main as accomp  # noqa: E402
from accomp.config import DEFAULT_SPEC  # noqa: E402
from accomp.music.charts import band_roll, bundled_charts, chart_scores, read_chart  # noqa: E402


def check(presets=("pop", "chorale"), band: tuple[str, ...] = ()) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in presets:
            for chart_path in bundled_charts():
                out = Path(tmp) / f"{preset}-{chart_path.stem}.mid"
                if accomp(["render", "--chart", str(chart_path), "--preset", preset, "-o", str(out), *band]) != 0:
                    raise SystemExit(f"render of {chart_path.name} with {preset} failed")
                scores = chart_scores(band_roll(out), read_chart(chart_path).per_beat(), DEFAULT_SPEC.steps_per_beat)
                rows.append({"preset": preset, "chart": chart_path.stem, "band": " ".join(band) or "as the preset brings it", **scores})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "chart_check.json"))
    ap.add_argument("--bass", action="store_true", help="with the bass part (its notes count as the band's)")
    args = ap.parse_args()
    rows = check(band=("--bass",) if args.bass else ())
    print(f"{'preset':9s}{'chart':16s}{'chord agr':>10s}{'in key':>8s}{'beats':>7s}")
    for r in rows:
        print(f"{r['preset']:9s}{r['chart']:16s}{r['chord_agreement']:10.3f}{r['key_adherence']:8.3f}{r['beats']:7d}")
    write_result(args.out, {"benchmark": "chart_check", "bar": {"chord_agreement": 0.9, "key_adherence": 0.95}, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
