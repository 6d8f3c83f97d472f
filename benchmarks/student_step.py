"""One student step (the streaming path the engine calls): p50/p99 on CPU with 1 thread,
and on CUDA when present. On the CPU both weight formats: int8 blocks (what a loaded preset
streams with on a CPU) and float32 (``load_preset(..., quantize=False)``), side by side;
then the whole decision the engine asks for per grid step, through the accompanist: the
chord planner (its decision at every beat) and the guard, then the student step; that row's
steps on the beat alone, where the planner decides; and the work the engine does between
steps, once no step can be re-decided: after the beat's first step ("after it": the hidden
side of the planner's next beat), and after its last ("before the next": the next beat's
chord decided ahead for every first note it may bring, ``PlannerStream.anticipate``, which
the beat's step then looks up). The lead strikes a note on every beat, as a melody does; a
beat that starts on two or more pitch classes is decided on its step, as before.

    .venv/bin/python benchmarks/student_step.py [--preset pop] [--steps 2000] [--threads 1]

Writes ``benchmarks/results/student_step.json``. Bars: CPU, 1 thread, student step p50 <=
1.5 ms and p99 <= 3 ms (issue 5); planner + student step p99 <= 2 ms (issue 16).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

from accomp.model.preset import load_preset, resolve_preset  # noqa: E402


def measure_accompanist(path, steps: int, warmup: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Accompanist.step as the engine calls it: planner at each beat's first step, then the
    step; and after each step, untimed in the first figures and timed apart, the work the
    engine does between steps (``Accompanist.between_steps``: the next beat's planner state,
    and before a beat its decision ahead)."""
    from accomp.engine.accompanist import Accompanist

    acc = Accompanist.from_preset(path)
    acc.warm_up()
    rng = np.random.default_rng(0)
    K = acc.student.cfg.n_keys
    leads = np.zeros((64, 2, K), np.uint8)
    for i in range(0, 64, 2):  # a melody: a note every other 16th, held for two
        key = 39 + int(rng.integers(0, 14))
        leads[i, :, key] = 1
        leads[i + 1, 1, key] = 1
    times, between = np.empty(steps), np.empty(steps)
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        acc.step(i, leads[i % 64], i % 16)
        t1 = time.perf_counter()
        acc.between_steps()
        if i >= warmup:
            times[i - warmup], between[i - warmup] = t1 - t0, time.perf_counter() - t1
    return times * 1e3, between * 1e3


def measure(student, device: torch.device, steps: int, warmup: int = 200) -> np.ndarray:
    K = student.cfg.n_keys
    state = student.init_state(np.eye(len(student.cfg.styles) + 1, dtype=np.float32)[0])
    g = torch.Generator().manual_seed(0)
    leads = (torch.rand(64, 2, K, generator=g) < 0.02).float().to(device)
    noise = torch.randn(64, 2, K, generator=g).to(device)
    times = np.empty(steps)
    for i in range(warmup + steps):
        sync = device.type == "cuda"
        if sync:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        state, frame = student.step(state, leads[i % 64], noise[i % 64])
        if sync:
            torch.cuda.synchronize()
        if i >= warmup:
            times[i - warmup] = time.perf_counter() - t0
    return times * 1e3


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "student_step.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = resolve_preset(args.preset)
    rows = []
    runs = [(torch.device("cpu"), True), (torch.device("cpu"), False)]
    runs += [(torch.device("cuda"), False)] if torch.cuda.is_available() else []
    for device, int8 in runs:
        student, header = load_preset(path, device, quantize=int8)
        ms = measure(student, device, args.steps)
        rows.append({"device": str(device), "weights": "int8 blocks" if student.quantized else "float32",
                     "threads": args.threads if device.type == "cpu" else None, "steps": args.steps,
                     "p50_ms": float(np.percentile(ms, 50)), "p90_ms": float(np.percentile(ms, 90)),
                     "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max())})
        if not int8:
            params = sum(p.numel() for p in student.parameters())
    ms, between = measure_accompanist(path, args.steps)
    beat = ms[np.arange(len(ms)) % 4 == 0]  # the beat's first steps (the warm-up is a whole number of beats), where the planner decides
    after = between[np.arange(len(ms)) % 4 == 0]  # after them: the next beat's planner state
    ahead = between[np.arange(len(ms)) % 4 == 3]  # after the beat's last step: the next beat decided ahead
    for name, part in (("planner+step", ms), ("  on the beat", beat), ("  after it", after), ("  before the next", ahead)):
        rows.append({"device": "cpu", "weights": name, "threads": args.threads, "steps": len(part),
                     "p50_ms": float(np.percentile(part, 50)), "p90_ms": float(np.percentile(part, 90)),
                     "p99_ms": float(np.percentile(part, 99)), "max_ms": float(part.max())})
    print(f"student step, preset {path.name} ({params:,} parameters, kv window {student.kv_window}), {args.steps} steps")
    print(f"{'device':<7} {'weights':<18} {'threads':>7} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}  bar: p50<=1.5, p99<=3 (planner+step: p99<=2)")
    for r in rows:
        print(f"{r['device']:<7} {r['weights']:<18} {str(r['threads'] or '-'):>7} {r['p50_ms']:>8.3f} {r['p90_ms']:>8.3f} "
              f"{r['p99_ms']:>8.3f} {r['max_ms']:>8.3f}")
    payload = {"benchmark": "student step", "preset": path.name, "parameters": params,
               "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}",
               "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, "rows": rows}
    out = write_result(args.out, payload)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
