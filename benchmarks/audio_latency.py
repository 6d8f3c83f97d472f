"""Audio onset in -> first accompaniment sample that used it, p50/p99 (issue 8).

    .venv/bin/python benchmarks/audio_latency.py [--notes 200] [--program 27] [--preset pop] [--buffer 128]

A melody is rendered through the SoundFont synth (General MIDI ``--program``, clean electric
guitar by default) and played into the engine's audio input through the live analysis path
(:class:`~accomp.listen.offline.HeardAudio`: the callback's blocks, the analyser, the
engine's ``heard`` ring) with a real accompanist. Time is simulated, so the figures are the
app's own share of the latency, each part measured where it arises:

- *analysis*: from the note's true onset (where it was rendered) to the block at which the
  analyser had told its pitch (hop, onset peak, the pitch frames after it), plus the
  analysis thread's compute time for that block, measured on this machine;
- *wait for step*, *model step* (measured), *scheduling slack*: as in ``latency.py``;
- *audio buffer*: one block of output (PortAudio adds its own; ``latency.py`` measures it live).

Only notes followed by audible accompaniment count. Writes a table and
``benchmarks/results/audio_latency.json``. The MIDI version (a client on a JACK server,
input transport included) is ``benchmarks/latency.py``, whose helpers this reuses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from latency import make_accompanist, pct  # noqa: E402

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]


class TimedHeard:
    """HeardAudio that notes, per block, when each note it emitted became known and how long
    the analysis of that block took."""

    def __init__(self, heard) -> None:
        self.heard = heard
        self.known: dict[int, int] = {}  # onset stamp -> block sample at which it was emitted
        self.compute: dict[int, float] = {}  # block sample -> analysis seconds

    def __call__(self, b: int):
        started = time.perf_counter()
        events = self.heard(b)
        self.compute[b] = time.perf_counter() - started
        for at, status, *_ in events:
            if status & 0xF0 == 0x90:
                self.known.setdefault(at, b)
        return events


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--program", type=int, default=27, help="General MIDI program of the melody")
    ap.add_argument("--tempo", type=float, default=110.0)
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--buffer", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "audio_latency.json"))
    args = ap.parse_args()

    from accomp.engine.engine import Engine, EngineSettings
    from accomp.engine.offline import run_offline
    from accomp.engine.transport import TransportSettings
    from accomp.listen.offline import HeardAudio
    from accomp.synth.render import render_notes

    sr, block = args.rate, args.buffer
    rng = np.random.default_rng(args.seed)
    beat = 60.0 / args.tempo
    notes, t = [], 0.5
    for _ in range(args.notes):  # eighths and quarters, on the beat grid, a little human
        length = beat * rng.choice([0.5, 1.0])
        start = t + rng.normal(0, 0.01)
        notes.append((start, start + 0.9 * length, int(rng.choice(SCALE)), 90))
        t += length
    audio = render_notes(notes, t + 1.0, sample_rate=sr, program=args.program)
    engine = Engine(EngineSettings(sample_rate=sr, block_frames=block,
                                   transport=TransportSettings(tempo=args.tempo, count_in_bars=0, click=False)))  # fmt: skip
    engine.player, preset = make_accompanist(args.preset, engine.transport.steps_per_bar)
    heard = TimedHeard(HeardAudio(audio, sr, block))
    run_offline(engine, [], len(audio) / sr, heard=heard, keep_audio=False)

    n = min(engine.latency_count, len(engine.latency_log))
    log = engine.latency_log[:n]
    heard_rows = log[log[:, 4] > 0]
    truth = np.array([round(s * sr) for s, *_ in notes])
    rows = []
    for row in heard_rows:
        stamp = int(row[0])
        j = int(np.argmin(np.abs(truth - stamp)))
        if abs(truth[j] - stamp) > 0.05 * sr or stamp not in heard.known:
            continue
        known = heard.known[stamp]
        rows.append((truth[j], stamp, known, heard.compute.get(known, 0.0), row))
    ms = 1000.0 / sr
    analysis = np.array([(k - o) * ms + c * 1000 for o, _, k, c, _ in rows])
    wait = np.array([max(0.0, (r[1] - k) * ms) for _, _, k, _, r in rows])
    step = np.array([r[2] * 1000 for *_, r in rows])
    slack = np.array([(r[3] - r[1]) * ms - r[2] * 1000 for *_, r in rows])
    buffer_ms = block * ms
    total = np.array([(r[3] - o) * ms + c * 1000 + buffer_ms for o, _, _, c, r in rows])
    stamp_error = np.array([(s - o) * ms for o, s, *_ in rows])
    result = {
        "what": "audio onset (true, as rendered) -> first audible accompaniment sample that took the note into account",
        "command": "benchmarks/audio_latency.py " + " ".join(sys.argv[1:]),
        "time": "simulated (engine and analyser on the live code path); analysis compute and model step measured",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version(), "load_average_1min": round(os.getloadavg()[0], 2)},
        "settings": {"rate": sr, "buffer": block, "notes": args.notes, "program": args.program, "tempo": args.tempo,
                     "preset": preset},
        "notes_played": len(notes), "notes_measured": len(rows), "notes_into_silence": int(n - len(heard_rows)),
        "latency_ms": {"analysis": pct(analysis), "wait_for_step": pct(wait), "model_step": pct(step),
                       "scheduling_slack": pct(slack), "audio_buffer": round(buffer_ms, 3), "onset_to_sound": pct(total)},
        "onset_stamp_error_ms": pct(np.abs(stamp_error)),
        "analysis_cpu_share": round(sum(heard.compute.values()) / (len(audio) / sr), 4),
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    lat = result["latency_ms"]
    print(f"audio_latency.py: {len(notes)} notes (program {args.program}) at {args.tempo:g} bpm, {block} frames at {sr} Hz, "
          f"preset: {preset}; measured {len(rows)}")  # fmt: skip
    print(f"{'part (ms)':<22}{'p50':>9}{'p99':>9}{'max':>9}")
    for key in ("analysis", "wait_for_step", "model_step", "scheduling_slack", "onset_to_sound"):
        v = lat[key]
        print(f"{key:<22}" + "".join(f"{'-' if v[q] is None else format(v[q], '.2f'):>9}" for q in ("p50", "p99", "max")))
    print(f"{'audio_buffer':<22}{lat['audio_buffer']:>9.2f}")
    print(f"onset stamp error p50 {result['onset_stamp_error_ms']['p50']} ms; analysis CPU {100 * result['analysis_cpu_share']:.1f}% of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
