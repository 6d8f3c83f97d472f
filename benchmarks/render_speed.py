"""`accomp render` speed: seconds of music per second of computing, in simulated time.

    .venv/bin/python benchmarks/render_speed.py [--preset pop] [--bars 64] [--threads 1]

Runs the engine offline exactly as `accomp render` does (lead notes arrive at their times,
each step decided once and re-decided when a lead note arrives after its decision) over a
melody of eighth notes at 100 bpm, MIDI only and with the synth rendering audio. With no
trained preset it uses a random student of the default ('small') size, and says so.
Bar (issue 6): >= 50x real time on CPU with the default preset.
Writes a table and ``benchmarks/results/render_speed.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

from accomp.engine.engine import Engine, EngineSettings  # noqa: E402
from accomp.realtime.notes import NOTE_OFF, NOTE_ON  # noqa: E402
from accomp.engine.offline import run_offline  # noqa: E402
from accomp.engine.transport import TransportSettings  # noqa: E402
from latency import make_accompanist  # noqa: E402

MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 67, 64, 65, 67, 69, 67, 65, 64]


def once(args, with_audio: bool) -> dict:
    sr, tempo = 48000, 100.0
    engine = Engine(EngineSettings(transport=TransportSettings(tempo=tempo, count_in_bars=0, click=False)))
    engine.player, preset = make_accompanist(args.preset, engine.transport.steps_per_bar)
    eighth = sr * 60 / tempo / 2
    lead = []
    for i in range(args.bars * 8):
        t = engine.lookahead + round(i * eighth)
        lead += [(t, NOTE_ON, MELODY[i % len(MELODY)], 90), (t + round(0.8 * eighth), NOTE_OFF, MELODY[i % len(MELODY)], 0)]
    lead.sort()
    synth = None
    if with_audio:
        from accomp.synth.soundfont import Synth

        synth = Synth(sr, engine.settings.block_frames, engine.synth_inputs)
    music = args.bars * 4 * 60 / tempo
    t0 = time.perf_counter()
    run_offline(engine, lead, music, synth=synth, keep_audio=False)
    took = time.perf_counter() - t0
    m = engine.metrics()
    return {"audio": with_audio, "music_s": round(music, 1), "compute_s": round(took, 2), "x_real_time": round(music / took, 1),
            "steps": m.steps, "redos": m.redos, "step_ms_p50": round(m.step_ms_p50, 3), "preset": preset}  # fmt: skip


def main() -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--bars", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "render_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [once(args, False), once(args, True)]
    result = {"command": "benchmarks/render_speed.py " + " ".join(sys.argv[1:]), "bar_x_real_time": 50,
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                          "python": platform.python_version(), "load_average_1min": round(os.getloadavg()[0], 2)}, "rows": rows}  # fmt: skip
    write_result(args.out, result)
    print(f"render speed, {args.bars} bars at 100 bpm, preset: {rows[0]['preset']}")
    print(f"{'audio':>6}{'music s':>9}{'compute s':>11}{'x real time':>13}{'steps':>7}{'redos':>7}{'step p50 ms':>13}")
    for r in rows:
        print(f"{'yes' if r['audio'] else 'no':>6}{r['music_s']:>9}{r['compute_s']:>11}{r['x_real_time']:>13}{r['steps']:>7}"
              f"{r['redos']:>7}{r['step_ms_p50']:>13}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
