"""The listening path's input filters per block: accomp.listen.biquads against SciPy.

    .venv/bin/python benchmarks/listen_filters.py [--rate 48000] [--seconds 20]

The conditioner's cascade (the 40 Hz high-pass and the six hum notches, its output after
the high-pass and after them all) run over ``--seconds`` of noise cut into blocks of 64 to
4800 samples: the analyser's blocks are 128 samples in ``render`` and a few hundred live
(what the audio callbacks left in the ring every 4 ms; thousands after a stall). For each
size: microseconds per block (median of 5 passes) with SosStream and with SciPy's
``sosfilt`` carrying ``zi`` as the conditioner called it before (when SciPy is installed:
it is a test dependency only), and the seconds either takes for an hour of audio. Writes a
table and ``benchmarks/results/listen_filters.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import machine, write_result  # noqa: E402

from accomp.listen.biquads import SosStream, butter_highpass2, notch  # noqa: E402
from accomp.listen.conditioning import HIGHPASS_HZ, HUM_HZ, HUM_Q  # noqa: E402

SIZES = (64, 128, 192, 256, 512, 1024, 4800)


def per_block_us(run, x: np.ndarray, size: int, passes: int = 5) -> float:
    """Median over passes of the time per block for ``run(block)`` over x cut into ``size``."""
    pieces = [x[i : i + size] for i in range(0, len(x) - size + 1, size)]
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        for piece in pieces:
            run(piece)
        times.append((time.perf_counter() - t0) / len(pieces))
    return float(np.median(times)) * 1e6


def ours(sos: np.ndarray):
    stream = SosStream(sos, taps=(1, len(sos)))
    return stream.process


def scipys(sos: np.ndarray):
    from scipy import signal

    zi = [np.zeros((1, 2)), np.zeros((len(sos) - 1, 2))]

    def run(x):
        hp, zi[0] = signal.sosfilt(sos[:1], x, zi=zi[0])
        out, zi[1] = signal.sosfilt(sos[1:], hp, zi=zi[1])
        return hp, out

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "listen_filters.json"))
    args = ap.parse_args()
    rate = args.rate
    sos = np.vstack([butter_highpass2(HIGHPASS_HZ, rate), *(notch(f, HUM_Q, rate) for f in HUM_HZ if f < rate * 0.45)])
    x = np.random.default_rng(0).standard_normal(int(args.seconds * rate))
    try:
        import scipy  # noqa: F401

        have_scipy = True
    except ImportError:
        have_scipy = False
    rows = []
    for size in SIZES:
        row = {"block": size, "ours_us": round(per_block_us(ours(sos), x, size), 1)}
        if have_scipy:
            row["scipy_us"] = round(per_block_us(scipys(sos), x, size), 1)
        for who in ("ours", "scipy"):
            if f"{who}_us" in row:
                row[f"{who}_s_per_hour"] = round(row[f"{who}_us"] * 1e-6 * 3600 * rate / size, 1)
        rows.append(row)
    result = {
        "what": "the conditioner's filter cascade per block: SosStream vs scipy.signal.sosfilt with zi",
        "command": "benchmarks/listen_filters.py " + " ".join(sys.argv[1:]),
        "rate": rate, "sections": len(sos),
        "machine": machine(numpy=np.__version__),
        "rows": rows,
    }  # fmt: skip
    write_result(args.out, result)
    print(f"the conditioner's {len(sos)} sections at {rate} Hz: us per block (seconds per hour of audio)")
    print(f"{'block':>6}{'SosStream':>22}{'SciPy sosfilt':>22}")
    for r in rows:
        mine = f"{r['ours_us']} ({r['ours_s_per_hour']} s)"
        theirs = f"{r['scipy_us']} ({r['scipy_s_per_hour']} s)" if have_scipy else "-"
        print(f"{r['block']:>6}{mine:>22}{theirs:>22}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
