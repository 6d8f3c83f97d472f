"""The built-in synth's render time per audio block, as the audio callback calls it.

    .venv/bin/python benchmarks/synth_render.py [--blocks 4000] [--buffer 128]

For 0, 8, 32 and 96 sounding voices (piano, re-struck every 16th at 120 bpm, with events
landing inside blocks so the block is rendered in pieces): microseconds per block p50/p99/max,
as a share of the block's duration, and the bytes the Python allocator still holds after the
run (tracemalloc; tinysoundfont renders into the buffer it is given and allocates nothing).
Writes a table and ``benchmarks/results/synth_render.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import machine, write_result  # noqa: E402

from accomp.realtime.notes import NOTE_OFF, NOTE_ON  # noqa: E402
from accomp.realtime.rings import EventRing  # noqa: E402
from accomp.synth.soundfont import DEFAULT_PARTS, Synth, default_soundfont  # noqa: E402


def measure(voices: int, blocks: int, buffer: int, rate: int) -> dict:
    ring = EventRing(1 << 16)
    synth = Synth(rate, buffer, [ring], parts=DEFAULT_PARTS[:2])
    step = rate * 60 // (120 * 4)
    keys = [36 + (i * 7) % 60 for i in range(voices)]
    times = np.empty(blocks)
    pos = 0
    next_step = 0
    for b in range(blocks + 200):
        start = b * buffer
        while next_step < start + buffer and voices:  # re-strike every voice each 16th
            for k in keys:
                ring.push(next_step + 37, 1, NOTE_OFF, k, 0)
                ring.push(next_step + 37, 1, NOTE_ON, k, 80)
            next_step += step
        if b == 200:
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        synth.render(buffer, start)
        if b >= 200:
            times[pos] = time.perf_counter() - t0
            pos += 1
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    us = times * 1e6
    budget = buffer / rate * 1e6
    return {
        "voices": voices,
        "us_p50": round(float(np.percentile(us, 50)), 1),
        "us_p99": round(float(np.percentile(us, 99)), 1),
        "us_max": round(float(us.max()), 1),
        "load_p50": round(float(np.percentile(us, 50)) / budget, 4),
        "load_p99": round(float(np.percentile(us, 99)) / budget, 4),
        "bytes_held_after": int(held),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=4000)
    ap.add_argument("--buffer", type=int, default=128)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "synth_render.json"))
    args = ap.parse_args()
    rows = [measure(v, args.blocks, args.buffer, args.rate) for v in (0, 8, 32, 96)]
    result = {
        "what": "Synth.render per audio block (tinysoundfont into a preallocated buffer, events at their sample)",
        "command": "benchmarks/synth_render.py " + " ".join(sys.argv[1:]),
        "soundfont": str(default_soundfont()),
        "buffer": args.buffer, "rate": args.rate,
        "machine": machine(),
        "rows": rows,
    }  # fmt: skip
    write_result(args.out, result)
    print(f"synth render, {args.buffer} frames at {args.rate} Hz ({args.buffer / args.rate * 1e3:.2f} ms a block), {result['soundfont']}")
    print(f"{'voices':>7}{'p50 us':>9}{'p99 us':>9}{'max us':>9}{'load p50':>10}{'load p99':>10}{'bytes held':>12}")
    for r in rows:
        print(f"{r['voices']:>7}{r['us_p50']:>9}{r['us_p99']:>9}{r['us_max']:>9}{r['load_p50']:>10.3f}{r['load_p99']:>10.3f}"
              f"{r['bytes_held_after']:>12}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
