"""Note-in -> sound-out latency and xruns, live, on a JACK dummy server.

    .venv/bin/python benchmarks/latency.py [--minutes 10] [--busy] [--preset pop] [--buffer 128]

Three processes on one JACK server (``jackd --no-realtime -d dummy -r 48000 -p BUFFER``,
started here under a name of its own):

- the app: the engine live in this process (accompanist, synth, MIDI in, MIDI clock out);
- a client (a separate process) that plays like a player in time with the band: a lead
  note-on on every eighth note, sent when the app renders that grid step, noting when
  (``time.perf_counter``: CLOCK_MONOTONIC, shared by processes). The app tells it when the
  next eighth note is due through a small shared file, from the clock pairs its audio
  callback publishes. (Following the app's MIDI clock instead put the client whole ticks off
  the grid under load: a clock message lost to it, or a server stall that held the app's
  clock while the wall clock ran on, and every later note was 25-50 ms off.);
- a do-nothing audio client (a separate process) that counts the xruns PortAudio reports,
  the baseline the app's own xrun count is compared with.

``--busy`` keeps one more core busy with a spinning process for the whole run.

Per lead note followed by audible accompaniment: input transport (client send -> the
app's MIDI callback stamp), wait for the step (or grace re-decision), model step, scheduling
slack (to the first sample of its events), audio buffer (PortAudio's output latency), and
their sum, from the note-on sent to the first audible accompaniment sample that took the
note into account. The app's sample times become perf_counter times through the clock pairs
its audio callback published, sampled every 2 ms during the run (xruns shift them).
Bars (issue 6), 128 frames at 48 kHz: p50 <= 8 ms, p99 <= 15 ms; xruns no more than the
do-nothing client's. Writes a table and ``benchmarks/results/latency.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import platform
import signal
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

CLIENT = "latency-client"
MELODY = [67, 69, 71, 72, 74, 72, 71, 69, 67, 64, 65, 67, 69, 67, 65, 64]


# ----------------------------------------------------------------------------- other processes


def client_main(seconds: float, out: str, grid: str, tempo: float) -> None:
    """Sends a note-on when each eighth note the app announces in ``grid`` is due (and its
    note-off two thirds of the way to the next); writes the send times."""
    import rtmidi

    keys = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=CLIENT)
    keys.open_virtual_port("keys")
    announced = np.memmap(grid, dtype=np.float64, mode="r", shape=(2,))  # (step, perf_counter time)
    sent: list[tuple[float, int]] = []
    print("ready", flush=True)
    end = time.perf_counter() + seconds
    last_step, off_at, pitch = None, None, 0
    while (now := time.perf_counter()) < end:
        step, due = float(announced[0]), float(announced[1])
        if off_at is not None and now >= off_at:
            keys.send_message([0x80, pitch, 0])
            off_at = None
        if step == last_step or due - now > 0.004 or now - due > 0.010:
            time.sleep(0.001)
            continue
        if due > now:
            time.sleep(due - now)
        pitch = MELODY[len(sent) % len(MELODY)]
        t = time.perf_counter()
        keys.send_message([0x90, pitch, 90])
        sent.append((t, pitch))
        last_step, off_at = step, due + 2 / 3 * 30 / tempo  # released before the next eighth
    Path(out).write_text(json.dumps({"sent": sent}))


def announce(grid: np.memmap, transport, pair: tuple[int, float], sr: int) -> None:
    """Write the next eighth note (a grid step and the perf_counter time the app renders it)."""
    sample, t0 = pair
    if not transport.running:
        return
    step = 2 * math.ceil(transport.position(sample) / 2)
    due = t0 + (transport.step_sample(step) - sample) / sr
    grid[1], grid[0] = due, step  # the client reads the step first, then its time


def idle_main(seconds: float, out: str, rate: int, buffer: int) -> None:
    """A do-nothing JACK audio client: zeros out, xruns counted as the app counts them."""
    import sounddevice as sd

    xruns = [0, 0]

    def callback(outdata, frames, t, status):
        outdata.fill(0)
        xruns[1] += 1
        if status.output_underflow or status.output_overflow:
            xruns[0] += 1

    with sd.OutputStream(samplerate=rate, blocksize=buffer, channels=2, dtype="float32", callback=callback,
                         device=_jack_device(sd)):  # fmt: skip
        threading.Event().wait(seconds)
    Path(out).write_text(json.dumps({"xruns": xruns[0], "callbacks": xruns[1]}))


def _jack_device(sd) -> int:
    apis = [i for i, a in enumerate(sd.query_hostapis()) if "JACK" in a["name"]]
    return sd.query_hostapis(apis[0])["default_output_device"]


def busy_main(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


# ----------------------------------------------------------------------------- the app


def make_accompanist(preset: str | None, bar_steps: int):
    import torch

    from accomp.engine.accompanist import Accompanist
    from accomp.errors import PresetError

    torch.set_num_threads(1)
    if preset:
        try:
            acc = Accompanist.from_preset(preset, bar_steps=bar_steps)
            acc.warm_up()
            return acc, preset
        except PresetError as exc:
            print(f"latency.py: preset '{preset}' unavailable ({exc}); using a random 'small' student", file=sys.stderr)
    from accomp.model.student import Student
    from accomp.model.teacher import SIZES, Teacher, TeacherConfig

    torch.manual_seed(0)
    student = Student.from_teacher(Teacher(TeacherConfig(**SIZES["small"], window=64)), kv_window=64).eval()
    acc = Accompanist(student, np.eye(len(student.cfg.styles) + 1, dtype=np.float32)[0], bar_steps=bar_steps)
    acc.warm_up()
    return acc, "random 'small' student (no trained preset)"


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """A ``preexec_fn``: the child is sent ``sig`` when this script ends in any way, a crash
    included (Linux ``PR_SET_PDEATHSIG``), so that no JACK server or app outlives a benchmark
    that died (a segfault at teardown once left both running, and every later run slower)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, int(sig), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def start_jack(name: str, rate: int, buffer: int) -> subprocess.Popen:
    env = {**os.environ, "JACK_NO_AUDIO_RESERVATION": "1"}
    proc = subprocess.Popen(["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", str(rate), "-p", str(buffer)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, preexec_fn=die_with_parent)  # fmt: skip
    deadline = time.monotonic() + 20
    while subprocess.run(["jack_lsp"], env={**env, "JACK_DEFAULT_SERVER": name}, capture_output=True).returncode:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise SystemExit("latency.py: jackd did not start")
        threading.Event().wait(0.1)
    return proc


def pct(values: np.ndarray) -> dict:
    if len(values) == 0:
        return {"p50": None, "p99": None, "max": None}
    return {k: round(float(np.percentile(values, q)), 3) for k, q in (("p50", 50), ("p99", 99), ("max", 100))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--busy", action="store_true", help="keep one more core busy")
    ap.add_argument("--preset", default="pop")
    ap.add_argument("--no-model", action="store_true", help="no accompanist (what the engine alone costs)")
    ap.add_argument("--band", action="store_true", help="all parts on: the rhythm section too (bass and rock drums)")
    ap.add_argument("--tempo", type=float, default=100.0)
    ap.add_argument("--rate", type=int, default=48000)
    ap.add_argument("--buffer", type=int, default=128)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latency.json"))
    ap.add_argument("--per-note", action="store_true", help="also write every note's parts, grid offset and how it was taken")
    ap.add_argument("--role", choices=["app", "client", "idle", "busy"], default="app", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--result", default="", help=argparse.SUPPRESS)
    ap.add_argument("--grid", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "client":
        client_main(args.seconds, args.result, args.grid, args.tempo)
        return 0
    if args.role == "idle":
        idle_main(args.seconds, args.result, args.rate, args.buffer)
        return 0
    if args.role == "busy":
        busy_main(args.seconds)
        return 0
    return run_app(args)


def run_app(args: argparse.Namespace) -> int:
    import tempfile

    from accomp.devices.audio import AudioSettings, refresh, release
    from accomp.engine.engine import Engine, EngineSettings
    from accomp.engine.live import LiveSession, LiveSettings
    from accomp.engine.transport import TransportSettings
    from accomp.music.band import Band

    seconds = args.minutes * 60
    name = f"accomp-latency-{os.getpid()}"
    jack = start_jack(name, args.rate, args.buffer)
    os.environ.update(JACK_DEFAULT_SERVER=name, JACK_NO_START_SERVER="1")
    tmp = Path(tempfile.mkdtemp(prefix="accomp-latency-"))
    me = [sys.executable, str(Path(__file__).resolve()), "--rate", str(args.rate), "--buffer", str(args.buffer)]
    helpers = []
    try:
        grid = np.memmap(tmp / "grid.bin", dtype=np.float64, mode="w+", shape=(2,))
        grid[:] = (-1e9, 0.0)
        client = subprocess.Popen([*me, "--role", "client", "--seconds", str(seconds), "--result", str(tmp / "client.json"),
                                   "--grid", str(tmp / "grid.bin"), "--tempo", str(args.tempo)],
                                  stdout=subprocess.PIPE, text=True)  # fmt: skip
        helpers.append(client)
        client.stdout.readline()  # "ready": its virtual port exists
        idle = subprocess.Popen([*me, "--role", "idle", "--seconds", str(seconds), "--result", str(tmp / "idle.json")])
        helpers.append(idle)
        if args.busy:
            helpers.append(subprocess.Popen([*me, "--role", "busy", "--seconds", str(seconds + 30)]))
        refresh()
        transport = TransportSettings(tempo=args.tempo, count_in_bars=1, click=True, midi_clock=True)
        engine = Engine(EngineSettings(sample_rate=args.rate, block_frames=args.buffer, transport=transport,
                                       midi_out_accomp=False,  # MIDI out: the clock alone, never crowded out
                                       band=Band(bass=True, drums="rock") if args.band else Band()))  # fmt: skip
        engine.player, preset = (None, "none") if args.no_model else make_accompanist(args.preset, engine.transport.steps_per_bar)
        audio = AudioSettings(host_api="JACK", sample_rate=args.rate, block_frames=args.buffer)
        live = LiveSettings(audio=audio, midi_in=f"{CLIENT}:keys", midi_out_virtual="clock", midi_api="jack",
                            start_delay_s=1.0)
        session = LiveSession(engine, live)
        pairs: list[tuple[int, float]] = []
        session.start()
        try:
            while not session.ended.wait(0.002) and len(pairs) < seconds * 500:
                pairs.append(session.clock._pair())
                announce(grid, engine.transport, pairs[-1], args.rate)
        finally:
            session.stop()
        client.wait(timeout=120)
        idle.wait(timeout=120)
    finally:
        for proc in helpers:
            if proc.poll() is None:
                proc.kill()
        release()
        jack.terminate()
        jack.wait(timeout=20)
    sent = json.loads((tmp / "client.json").read_text())["sent"]
    baseline = json.loads((tmp / "idle.json").read_text())
    result = analyse(engine, session, pairs, sent, baseline, args, preset)
    write_result(args.out, result)
    print_table(result)
    return 0


def analyse(engine, session, pairs, sent, baseline, args, preset) -> dict:
    sr = engine.settings.sample_rate
    pair = np.array(pairs, dtype=np.float64)
    order = np.argsort(pair[:, 0], kind="stable")
    samples, times = pair[order, 0], pair[order, 1]

    def to_time(sample: np.ndarray) -> np.ndarray:
        """perf_counter time of app samples, from the nearest published clock pair before."""
        i = np.clip(np.searchsorted(samples, sample, side="right") - 1, 0, len(samples) - 1)
        return times[i] + (sample - samples[i]) / sr

    log = engine.latency.rows()
    n = len(log)
    heard = log[log["audible"] > 0]
    out_latency = session.audio.output_latency_s
    sends = np.array([t for t, _ in sent])
    pitches = np.array([p for _, p in sent])
    stamp_t = to_time(heard["note"])
    rows = []
    for row, t_stamp in zip(heard, stamp_t):  # the client's send of this pitch just before the stamp
        candidates = np.flatnonzero((pitches == row["pitch"]) & (sends <= t_stamp + 0.001) & (sends > t_stamp - 0.5))
        if candidates.size:
            rows.append((sends[candidates[-1]], row, t_stamp))
    transport = np.array([(ts - s) * 1000 for s, _, ts in rows])
    wait = np.array([(r["decided"] - r["note"]) / sr * 1000 for _, r, _ in rows])
    step = np.array([r["model_s"] * 1000 for _, r, _ in rows])
    slack = np.array([(r["sounds_at"] - r["decided"]) / sr * 1000 - r["model_s"] * 1000 for _, r, _ in rows])
    total = np.array([(to_time(np.array([r["sounds_at"]]))[0] + out_latency - s) * 1000 for s, r, _ in rows])
    t = engine.transport
    # Where each note fell against the grid (ms after its nearest step) and how it was taken.
    offset = np.array([(r["note"] - t.step_sample(round(t.position(r["note"])))) / sr * 1000 for _, r, _ in rows])
    redo = np.array([bool(r["redo"]) for _, r, _ in rows])
    summary = session.summary()
    return {
        "what": "lead note-on sent by a client -> first audible accompaniment sample that took it into account",
        "command": "benchmarks/latency.py " + " ".join(sys.argv[1:]),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},  # other work on the machine during the run
        "settings": {"rate": args.rate, "buffer": args.buffer, "minutes": args.minutes, "busy": args.busy, "model": not args.no_model,
                     "tempo": args.tempo, "preset": preset, "band": args.band},  # fmt: skip
        "notes_sent": len(sent), "notes_measured": len(rows), "notes_into_silence": int(n - len(heard)),
        "latency_ms": {"input_transport": pct(transport), "wait_for_step": pct(wait), "model_step": pct(step),
                       "scheduling_slack": pct(slack), "audio_buffer": round(out_latency * 1000, 3),
                       "note_to_sound": pct(total)},  # fmt: skip
        "xruns": {"app": summary["audio"]["xruns"], "app_callbacks": summary["audio"]["callbacks"],
                  "do_nothing_client": baseline["xruns"], "do_nothing_callbacks": baseline["callbacks"]},  # fmt: skip
        "callback_load": {"mean": round(summary["audio"]["load_mean"], 4), "max": round(summary["audio"]["load_max"], 4)},
        "bars": {"p50_ms": 8.0, "p99_ms": 15.0},
        "redecided": {"notes": int(redo.sum()), "note_to_sound": pct(total[redo]), "others": pct(total[~redo])},
        "engine": summary["engine"],
        "offset_from_grid_ms": pct(offset),
        "synth_late_events": summary["synth"]["late_events"] if summary["synth"] else None,
        **({"per_note": {"columns": ["transport", "wait", "step", "slack", "total", "offset_from_grid", "redo"],
                         "rows": [[round(float(v), 3) for v in row] for row in zip(transport, wait, step, slack, total, offset, redo)]}}
           if args.per_note else {}),
    }


def print_table(r: dict) -> None:
    lat = r["latency_ms"]
    print(f"latency.py: {r['settings']['minutes']:g} min, {r['settings']['buffer']} frames at {r['settings']['rate']} Hz, "
          f"busy core: {r['settings']['busy']}, preset: {r['settings']['preset']}")  # fmt: skip
    print(f"notes sent {r['notes_sent']}, measured {r['notes_measured']}, followed by silence {r['notes_into_silence']}")
    print_parts(lat, ("input_transport", "wait_for_step", "model_step", "scheduling_slack", "note_to_sound"), ("audio_buffer",))
    x = r["xruns"]
    print(f"xruns: app {x['app']} ({x['app_callbacks']} callbacks), do-nothing client {x['do_nothing_client']} "
          f"({x['do_nothing_callbacks']} callbacks); callback load mean {r['callback_load']['mean']:.3f} "
          f"max {r['callback_load']['max']:.3f}")  # fmt: skip


def print_parts(lat: dict, spread: tuple[str, ...], fixed: tuple[str, ...]) -> None:
    """The latency table: parts measured per note (p50, p99, max), then the fixed ones."""
    print(f"{'part (ms)':<22}{'p50':>9}{'p99':>9}{'max':>9}")
    for key in spread:
        v = lat[key]
        print(f"{key:<22}" + "".join(f"{'-' if v[q] is None else format(v[q], '.2f'):>9}" for q in ("p50", "p99", "max")))
    for key in fixed:
        print(f"{key:<22}{lat[key]:>9.2f}")


if __name__ == "__main__":
    sys.exit(main())
