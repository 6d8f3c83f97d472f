"""Audio onset in -> first accompaniment sample that used it, p50/p99 (issue 8).

    .venv/bin/python benchmarks/audio_latency.py [--notes 200] [--program 27] [--preset pop] [--buffer 128]
    .venv/bin/python benchmarks/audio_latency.py --live [--notes 200] [--preset pop]

A melody is rendered through the SoundFont synth (General MIDI ``--program``, clean electric
guitar by default) and played into the engine's audio input; only notes followed by audible
accompaniment count.

The tune is played like a player following the band: each note on an eighth or a quarter
of the app's grid, a little early or late (10 ms), at the app's tempo. A note told after
its step has closed (the grace window) waits for the next step: ``notes_late``.

**Simulated time** (the default): the melody goes through the live analysis path
(:class:`~accomp.listen.offline.HeardAudio`: the callback's blocks, the analyser, the
engine's ``heard`` ring) with a real accompanist. The figures are the app's own share of the
latency, each part measured where it arises:

- *analysis*: from the note's true onset (where it was rendered) to the block at which the
  analyser had told its pitch (its onset, then a first guess from a short frame or the
  sure pitch from the long ones), plus the analysis thread's compute time for that block,
  measured on this machine;
- *wait for step*, *model step* (measured), *scheduling slack*: as in ``latency.py``;
- *audio buffer*: one block of output (PortAudio adds its own; ``--live`` measures it).

**Live** (``--live``): the app (a :class:`~accomp.engine.live.LiveSession` listening to its
audio input, with the synth and the accompanist) on a JACK dummy server started here
(``latency.py``'s, ``--buffer`` frames at ``--rate``), and a guitarist: a JACK client with
ports of its own (a PortAudio stream of this process) wired into the app's input, the tune
laid on the app's grid as it runs. A note's true onset in the app's input is where the
guitarist wrote it, placed in the app's input by cross-correlating what the app received
(its input monitor) with what the guitarist wrote. Parts per note: *analysis* (true onset
-> the note event handed to the engine, real threads and all), *wait for step*, *model
step*, *scheduling slack*, and PortAudio's input and output latency; their sum is
*onset_to_sound*.

Writes a table and ``benchmarks/results/audio_latency.json`` (``audio_latency_live.json``
with ``--live``). The MIDI version (a client on a JACK server, input transport included) is
``benchmarks/latency.py``, whose helpers this reuses.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402

from latency import _jack_device, make_accompanist, pct, print_parts, start_jack  # noqa: E402

SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
RESULTS = ROOT / "benchmarks" / "results"


def melody(rng: np.random.Generator, n: int, beat: float) -> list[tuple[float, float, int]]:
    """(start s, length s, pitch): eighths and quarters on the beat grid from 0, each a little
    early or late (10 ms, as a player is)."""
    notes, t = [], 0.0
    for _ in range(n):
        length = beat * rng.choice([0.5, 1.0])
        start = t + rng.normal(0, 0.01)
        notes.append((start, 0.9 * length, int(rng.choice(SCALE))))
        t += length
    return notes


def decided_late(engine, onset: int, row: np.ndarray) -> bool:
    """The note was taken into account after its step (the nearest to its onset) had closed:
    by the next step's decision."""
    t = engine.transport
    return row["decided"] > t.step_sample(round(t.position(onset))) + getattr(engine, "open_for", engine.grace)


def machine() -> dict:
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2)}  # fmt: skip


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


def run_simulated(args: argparse.Namespace) -> dict:
    from accomp.engine.engine import Engine, EngineSettings
    from accomp.engine.offline import run_offline
    from accomp.engine.transport import TransportSettings
    from accomp.listen.offline import HeardAudio
    from accomp.synth.render import render_notes

    sr, block = args.rate, args.buffer
    engine = Engine(EngineSettings(sample_rate=sr, block_frames=block,
                                   transport=TransportSettings(tempo=args.tempo, count_in_bars=0, click=False)))  # fmt: skip
    engine.player, preset = make_accompanist(args.preset, engine.transport.steps_per_bar)
    beat = 60.0 / args.tempo
    first = engine.lookahead / sr + beat  # the transport starts at the engine's lookahead: the tune on its second beat
    tune = melody(np.random.default_rng(args.seed), args.notes, beat)
    notes = [(first + start, first + start + length, pitch, 90) for start, length, pitch in tune]
    audio = render_notes(notes, notes[-1][1] + 1.0, sample_rate=sr, program=args.program)
    heard = TimedHeard(HeardAudio(audio, sr, block))
    run_offline(engine, [], len(audio) / sr, heard=heard, keep_audio=False)

    log = engine.latency.rows()
    n = len(log)
    heard_rows = log[log["audible"] > 0]
    truth = np.array([round(s * sr) for s, *_ in notes])
    rows = []
    for row in heard_rows:
        stamp = int(row["note"])
        j = int(np.argmin(np.abs(truth - stamp)))
        if abs(truth[j] - stamp) > 0.05 * sr or stamp not in heard.known:
            continue
        known = heard.known[stamp]
        rows.append((truth[j], stamp, known, heard.compute.get(known, 0.0), row))
    ms = 1000.0 / sr
    late = sum(1 for o, *_, r in rows if decided_late(engine, o, r))
    analysis = np.array([(k - o) * ms + c * 1000 for o, _, k, c, _ in rows])
    wait = np.array([max(0.0, (r["decided"] - k) * ms) for _, _, k, _, r in rows])
    step = np.array([r["model_s"] * 1000 for *_, r in rows])
    slack = np.array([(r["sounds_at"] - r["decided"]) * ms - r["model_s"] * 1000 for *_, r in rows])
    buffer_ms = block * ms
    total = np.array([(r["sounds_at"] - o) * ms + c * 1000 + buffer_ms for o, _, _, c, r in rows])
    stamp_error = np.array([(s - o) * ms for o, s, *_ in rows])
    return {
        "what": "audio onset (true, as rendered) -> first audible accompaniment sample that took the note into account",
        "command": "benchmarks/audio_latency.py " + " ".join(sys.argv[1:]),
        "time": "simulated (engine and analyser on the live code path); analysis compute and model step measured",
        "machine": machine(),
        "settings": {"rate": sr, "buffer": block, "notes": args.notes, "program": args.program, "tempo": args.tempo,
                     "preset": preset},
        "notes_played": len(notes), "notes_measured": len(rows), "notes_late": late,
        "notes_into_silence": int(n - len(heard_rows)), "lead_corrections": getattr(engine, "lead_corrections", 0),
        "latency_ms": {"analysis": pct(analysis), "wait_for_step": pct(wait), "model_step": pct(step),
                       "scheduling_slack": pct(slack), "audio_buffer": round(buffer_ms, 3), "onset_to_sound": pct(total)},
        "onset_stamp_error_ms": pct(np.abs(stamp_error)),
        "analysis_cpu_share": round(sum(heard.compute.values()) / (len(audio) / sr), 4),
    }  # fmt: skip


# ----------------------------------------------------------------------------- live, on JACK


class Guitarist:
    """The player's JACK client: from its output sample ``start`` on it plays ``audio``, over
    the faint hiss (-80 dBFS) of any instrument input, and keeps what it wrote, by sample."""

    def __init__(self, seconds: float, sr: int, block: int) -> None:
        self.written = np.zeros(round(seconds * sr), dtype=np.float32)
        self.hiss = (np.random.default_rng(1).standard_normal(block * 64) * 1e-4).astype(np.float32)
        self.audio = np.zeros(0, dtype=np.float32)
        self.start = 1 << 62
        self.position = 0
        self.pair = (0, 0.0)  # (first sample of the latest block, perf_counter when it was asked for)

    def callback(self, outdata, frames, time_info, status) -> None:
        t = time.perf_counter()
        c = self.position
        out = outdata[:, 0]
        h = c % (len(self.hiss) - frames)
        out[:] = self.hiss[h : h + frames]
        i = c - self.start
        a, b = max(i, 0), min(i + frames, len(self.audio))
        if a < b:
            out[a - i : b - i] += self.audio[a:b]
        if c + frames <= len(self.written):
            self.written[c : c + frames] = out
        self.pair = (c, t)
        self.position = c + frames


class InputTap(threading.Thread):
    """Drains the app's input monitor into one array: index n is sample n of the app's clock."""

    def __init__(self, ring, frames: int) -> None:
        super().__init__(name="input-tap", daemon=True)
        self.ring = ring
        self.audio = np.zeros((frames, ring.channels), dtype=np.float32)
        self.filled = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.drain()

    def drain(self) -> None:
        self.filled += self.ring.read(self.audio[self.filled :])


def jack_ports(env: dict) -> list[str]:
    return subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True, timeout=10).stdout.split()


def wire(env: dict, guitar_out: str, app_in: str) -> None:
    """The guitarist's output into the app's input, instead of the (silent) system capture."""
    for port in jack_ports(env):
        if port.startswith("system:capture"):
            subprocess.run(["jack_disconnect", port, app_in], env=env, capture_output=True, timeout=10)
    subprocess.run(["jack_connect", guitar_out, app_in], env=env, check=True, capture_output=True, timeout=10)


def heard_times(session) -> list[tuple[int, int, int, int]]:
    """Every note event the analyser hands the engine from now on: (stamp, status, pitch, app sample then)."""
    analyzer, clock, seen = session.listener.analyzer, session.clock, []
    forward = analyzer.emit

    def emit(at: int, status: int, pitch: int, velocity: int) -> None:
        seen.append((at, status, pitch, clock.now()))
        forward(at, status, pitch, velocity)

    analyzer.emit = emit
    return seen


def place(session, guitarist: Guitarist, tune, args) -> tuple[list[tuple[int, int, int]], int]:
    """Lay the tune on the app's grid from a bar or so ahead and hand it to the guitarist.
    Returns, per note, (app sample intended, the guitarist's sample, pitch), and the estimated
    offset (app sample = guitarist's sample + offset)."""
    sr, engine, clock = args.rate, session.engine, session.clock
    while not engine.transport.running or guitarist.position == 0:
        threading.Event().wait(0.01)
    (app_s, app_t), (own_s, own_t) = clock._pair(), guitarist.pair
    offset = (app_s - round(app_t * sr)) - (own_s - round(own_t * sr))
    t = engine.transport
    beat = t.settings.steps_per_beat
    first = (t.step_at(clock.now() + sr) // beat + 1) * beat  # a beat about a second ahead
    origin = t.step_sample(first)
    placed = [(origin + round(start * sr), origin + round(start * sr) - offset, pitch) for start, _, pitch in tune]
    lead_in = round(0.1 * sr)
    begin = placed[0][1] - lead_in
    notes = [((c - begin) / sr, (c - begin) / sr + length, pitch, 90) for (_, c, pitch), (_, length, _) in zip(placed, tune)]
    from accomp.synth.render import render_notes

    guitarist.audio = render_notes(notes, notes[-1][1] + 0.5, sample_rate=sr, program=args.program)
    guitarist.start = begin
    return placed, offset


def align(recorded: np.ndarray, written: np.ndarray, at: int, offset: int, block: int, n: int) -> tuple[int, float]:
    """The lag (app sample - guitarist's sample) at which ``n`` samples of what the guitarist
    wrote from ``at`` best match what the app received, searched within 8 blocks of
    ``offset``; and the correlation there."""
    seg = written[at : at + n].astype(np.float64)
    lo = at + offset - 8 * block
    window = recorded[lo : lo + len(seg) + 16 * block].astype(np.float64)
    scores = np.correlate(window, seg, mode="valid")
    k = int(np.argmax(scores))
    got = window[k : k + len(seg)]
    r = float(np.dot(got, seg) / (np.linalg.norm(got) * np.linalg.norm(seg) + 1e-12))
    return lo + k - at, r


def run_live(args: argparse.Namespace) -> dict:
    from accomp.devices.audio import AudioSettings, refresh, release, sounddevice
    from accomp.engine.engine import Engine, EngineSettings
    from accomp.engine.live import LiveSession, LiveSettings
    from accomp.engine.transport import TransportSettings

    sr, block = args.rate, args.buffer
    tune = melody(np.random.default_rng(args.seed), args.notes, 60.0 / args.tempo)
    seconds = tune[-1][0] + 8.0
    name = f"accomp-audio-latency-{os.getpid()}"
    jack = start_jack(name, sr, block)
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    env = dict(os.environ)
    stream = session = None
    try:
        refresh()
        sd = sounddevice()
        engine = Engine(EngineSettings(sample_rate=sr, block_frames=block,
                                       transport=TransportSettings(tempo=args.tempo, count_in_bars=0, click=False)))  # fmt: skip
        engine.player, preset = make_accompanist(args.preset, engine.transport.steps_per_bar)
        audio = AudioSettings(host_api="JACK", sample_rate=sr, block_frames=block, input_device="")
        session = LiveSession(engine, LiveSettings(audio=audio, input="audio", start_delay_s=0.5))
        guitarist = Guitarist(seconds, sr, block)
        before = set(jack_ports(env))
        session.start()
        tap = InputTap(session.input_monitor, round(seconds * sr))
        tap.start()
        app_in = [p for p in jack_ports(env) if p not in before and ":in_" in p]
        before = set(jack_ports(env))
        stream = sd.OutputStream(device=_jack_device(sd), samplerate=sr, blocksize=block, channels=1, dtype="float32",
                                 callback=guitarist.callback)  # fmt: skip
        stream.start()
        guitar_out = [p for p in jack_ports(env) if p not in before and ":out_" in p]
        wire(env, guitar_out[0], app_in[0])
        seen = heard_times(session)
        placed, offset = place(session, guitarist, tune, args)
        end = placed[-1][0] + round(1.5 * sr)
        while session.clock.now() < end and not session.ended.wait(0.05):
            pass
        error = session.error
    finally:
        if session is not None:
            session.stop()
        if stream is not None:
            stream.close()
        release()
        jack.terminate()
        jack.wait(timeout=20)
    tap.done.set()
    tap.join()
    tap.drain()  # what the last wait left in the ring
    if error or session.input_monitor.overflows:
        raise SystemExit(f"audio_latency.py: the run failed ({error or 'the input tap fell behind'})")
    return analyse_live(engine, session, guitarist, tap.audio[: tap.filled, 0], placed, offset, seen, args, preset)


def analyse_live(engine, session, guitarist, recorded, placed, offset, seen, args, preset) -> dict:
    sr, block = args.rate, args.buffer
    first, last = placed[0][1], placed[-1][1]
    lag, r_first = align(recorded, guitarist.written, first - round(0.05 * sr), offset, block, 2 * sr)
    lag_end, r_end = align(recorded, guitarist.written, max(first, last - 2 * sr), offset, block, 2 * sr)
    truth = [(c + lag, pitch) for _, c, pitch in placed]
    log = engine.latency.rows()
    n = len(log)
    heard = log[log["audible"] > 0]
    ons = [(at, pitch, now) for at, status, pitch, now in seen if status & 0xF0 == 0x90]
    near = round(0.05 * sr)
    rows = []
    for onset, pitch in truth:
        known = [now for at, p, now in ons if p == pitch and abs(at - onset) <= near]
        used = heard[(heard["pitch"] == pitch) & (np.abs(heard["note"] - onset) <= near)]
        if known and len(used):
            rows.append((onset, known[0], used[np.argmin(used["decided"])]))
    ms = 1000.0 / sr
    audio_in, audio_out = session.audio.input_latency_s * 1000, session.audio.output_latency_s * 1000
    analysis = np.array([(k - o) * ms for o, k, _ in rows])
    wait = np.array([max(0.0, (r["decided"] - k) * ms) for _, k, r in rows])
    step = np.array([r["model_s"] * 1000 for *_, r in rows])
    slack = np.array([(r["sounds_at"] - r["decided"]) * ms - r["model_s"] * 1000 for *_, r in rows])
    total = np.array([(r["sounds_at"] - o) * ms + audio_in + audio_out for o, _, r in rows])
    late = sum(1 for o, _, r in rows if decided_late(engine, o, r))
    summary = session.summary()
    return {
        "what": "audio onset (true, where the guitarist's client wrote it) -> first audible accompaniment sample that "
                "took the note into account, plus PortAudio's input and output latency",
        "command": "benchmarks/audio_latency.py " + " ".join(sys.argv[1:]),
        "time": "live: JACK dummy server, the app's threads, a guitarist client wired into the app's input",
        "machine": machine(),
        "settings": {"rate": sr, "buffer": block, "notes": args.notes, "program": args.program, "tempo": args.tempo,
                     "preset": preset, "listen": session.settings.listen.__dict__},
        "notes_played": len(placed), "notes_measured": len(rows), "notes_heard": summary["listen"]["notes"],
        "notes_late": late, "notes_into_silence": int(n - len(heard)), "lead_corrections": getattr(engine, "lead_corrections", 0),
        "latency_ms": {"analysis": pct(analysis), "wait_for_step": pct(wait), "model_step": pct(step),
                       "scheduling_slack": pct(slack), "audio_in": round(audio_in, 3), "audio_out": round(audio_out, 3),
                       "onset_to_sound": pct(total)},
        "alignment": {"lag_samples": lag, "lag_at_end": lag_end, "correlation": round(min(r_first, r_end), 4),
                      "estimated_offset": offset},
        "xruns": summary["audio"]["xruns"], "callbacks": summary["audio"]["callbacks"],
        "callback_load": {"mean": round(summary["audio"]["load_mean"], 4), "max": round(summary["audio"]["load_max"], 4)},
        "listen": summary["listen"], "engine": summary["engine"],
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--live", action="store_true", help="live on a JACK dummy server (else simulated time)")
    ap.add_argument("--notes", type=int, default=200)
    ap.add_argument("--program", type=int, default=27, help="General MIDI program of the melody")
    ap.add_argument("--tempo", type=float, default=110.0)
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--buffer", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="default: benchmarks/results/audio_latency[_live].json")
    args = ap.parse_args()
    result = run_live(args) if args.live else run_simulated(args)
    write_result(args.out or RESULTS / ("audio_latency_live.json" if args.live else "audio_latency.json"), result)
    s, lat = result["settings"], result["latency_ms"]
    print(f"audio_latency.py{' --live' if args.live else ''}: {s['notes']} notes (program {s['program']}) at {s['tempo']:g} bpm, "
          f"{s['buffer']} frames at {s['rate']} Hz, preset: {s['preset']}; measured {result['notes_measured']}")  # fmt: skip
    parts = ("analysis", "wait_for_step", "model_step", "scheduling_slack", "onset_to_sound")
    print_parts(lat, parts, ("audio_in", "audio_out") if args.live else ("audio_buffer",))
    print(f"notes late for their step (told after it had closed): {result['notes_late']}; "
          f"first guesses taken back: {result['lead_corrections']}")
    if args.live:
        a = result["alignment"]
        print(f"notes heard {result['notes_heard']}; xruns {result['xruns']} ({result['callbacks']} callbacks); "
              f"alignment lag {a['lag_samples']} samples (r = {a['correlation']})")  # fmt: skip
    else:
        print(f"onset stamp error p50 {result['onset_stamp_error_ms']['p50']} ms; "
              f"analysis CPU {100 * result['analysis_cpu_share']:.1f}% of a core")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
