"""Seconds per generated bar vs sampler steps for the teacher (CPU, and CUDA when present).

    .venv/bin/python benchmarks/teacher.py [--teacher FILE] [--steps 4 8 12 18] [--repeats 3]

Generates a 4-bar accompaniment (one window) for a fixed random lead, full view and causal
(16-frame chunks), and prints the median wall time per bar over the repeats. Writes
``benchmarks/results/teacher.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

from accomp.model.checkpoint import load_teacher  # noqa: E402
from accomp.model.generate import SamplerSettings, evaluations, generate, style_weights  # noqa: E402

DEFAULT_TEACHER = ROOT / "resources" / "teachers" / "teacher.safetensors"


def time_one(teacher, device, steps: int, causal: bool, bars: int, repeats: int) -> list[float]:
    spec_steps = bars * 16
    rng = np.random.default_rng(0)
    lead = np.zeros((1, spec_steps, 2, teacher.cfg.n_keys), np.uint8)
    for t in range(0, spec_steps, 4):
        k = int(rng.integers(36, 52))
        lead[0, t, :, k] = 1
        lead[0, t : t + 4, 1, k] = 1
    beat = (np.arange(spec_steps) % 16)[None]
    style = style_weights(teacher.cfg.styles, style=teacher.cfg.styles[0])[None]
    settings = SamplerSettings(steps=steps)
    generate(teacher, beat, style, settings, lead=lead, causal=causal, device=device)  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        generate(teacher, beat, style, settings, lead=lead, causal=causal, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) / bars)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", default=str(DEFAULT_TEACHER))
    ap.add_argument("--steps", type=int, nargs="+", default=[4, 8, 12, 18])
    ap.add_argument("--bars", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "teacher.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        teacher, _, header = load_teacher(args.teacher, device)
        for steps in args.steps:
            for causal in (False, True):
                times = time_one(teacher, device, steps, causal, args.bars, args.repeats)
                rows.append(
                    {
                        "device": str(device),
                        "mode": "causal" if causal else "full view",
                        "steps": steps,
                        "evaluations_per_window": 2 * evaluations("heun", steps),
                        "seconds_per_bar_median": statistics.median(times),
                        "seconds_per_bar_all": times,
                    }
                )
    print(f"teacher {args.teacher} ({header['training']['parameters']:,} parameters), {args.bars} bars, median of {args.repeats}")
    print(f"{'device':<7} {'mode':<10} {'steps':>5} {'evals/window':>12} {'s/bar':>8}")
    for r in rows:
        print(f"{r['device']:<7} {r['mode']:<10} {r['steps']:>5} {r['evaluations_per_window']:>12} {r['seconds_per_bar_median']:>8.3f}")
    payload = {
        "benchmark": "teacher seconds per bar",
        "teacher": os.path.relpath(args.teacher, ROOT),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "rows": rows,
    }
    out = write_result(args.out, payload)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
