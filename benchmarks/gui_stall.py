"""Event-loop stalls of the app's window: idle, playing, distilling, and both at once.

    .venv/bin/python benchmarks/gui_stall.py [--seconds 60] [--preset pop] [--teacher PATH]

The real window on a virtual X screen (Xvfb, the xcb platform: painting included) and a JACK
dummy server (``-r 48000 -p 128``) of its own. A 5 ms timer on the GUI thread measures the
event loop: its *lag* is how much later than 5 ms after the previous one each tick arrives,
which is how long anything on the GUI thread (redraws, key handling, reading the
distillation's progress) kept the loop from running. Phases, ``--seconds`` each:

1. idle: the window open, a preset loaded, not playing;
2. playing: playing through JACK, the computer-keyboard piano sending a lead note on every
   eighth note (key events through the window, as a user's typing);
3. distilling: a distillation started from the "Distill new style…" dialog (a separate,
   niced process: quick mode with the bundled teacher, or ``--teacher``), not playing;
4. playing while distilling.

While playing it also counts xruns, beside those of a do-nothing JACK client run at the same
time (``benchmarks/latency.py --role idle``), and before the window opens, for comparison, those
of that client alone and of ``accomp play`` without a window (JACK reports an xrun to every
client of the graph, so only the runs without the window tell what the window costs). Bar (issue 7): lag p99 <= 50 ms while playing and while distilling.
Writes a table and ``benchmarks/results/gui_stall.json``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from results_io import write_result  # noqa: E402
from scripts.headless import require, start_jack, start_xvfb, stop  # noqa: E402

TICK_MS = 5
BAR_MS = 50.0
KEYS = "adgjhgda"  # C E G C' A G E C on the computer-keyboard piano, one per eighth note


def lag_stats(times: list[float]) -> dict:
    lag = np.maximum(np.diff(np.asarray(times)) * 1000 - TICK_MS, 0.0)
    if lag.size == 0:
        return {"ticks": 0}
    return {"ticks": int(lag.size + 1), "p50_ms": round(float(np.percentile(lag, 50)), 2),
            "p99_ms": round(float(np.percentile(lag, 99)), 2), "max_ms": round(float(lag.max()), 2),
            "over_50ms": int((lag > BAR_MS).sum())}  # fmt: skip


def shown(path: Path) -> str:
    """A path for the results: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def tiny_teacher(folder: Path) -> Path:
    """A small random teacher, when no bundled one exists (the dialog needs one to distil)."""
    import torch

    from accomp.config import DEFAULT_SPEC
    from accomp.model.checkpoint import save_teacher
    from accomp.model.teacher import Teacher, TeacherConfig

    torch.manual_seed(0)
    path = folder / "teachers" / "random-teacher.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_teacher(Teacher(TeacherConfig(d_model=64, n_layers=2, n_heads=2, window=16)), DEFAULT_SPEC, path)
    return path


def random_preset(folder: Path, teacher: Path) -> Path:
    import torch

    from accomp.model.checkpoint import load_teacher
    from accomp.model.preset import save_preset
    from accomp.model.student import Student

    model, _, _ = load_teacher(teacher)
    torch.manual_seed(1)
    student = Student.from_teacher(model, kv_window=16)
    path = folder / "presets" / "random.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_preset(student, teacher, path, style={"name": "random", "weights": [1.0] + [0.0] * len(model.cfg.styles)})
    return path


def xrun_baselines(seconds: float, preset: Path, work: Path) -> dict:
    """Xruns on this server without the window: a do-nothing client alone, then 'accomp play'
    with the same preset and no input (JACK reports an xrun to every client of the graph, so
    the do-nothing client run beside the app only tells what the graph as a whole saw)."""
    idle = work / "idle-alone.json"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "latency.py"), "--role", "idle", "--seconds", str(seconds),
                    "--result", str(idle)], check=True)  # fmt: skip
    summary = work / "headless.json"
    subprocess.run([sys.executable, "-m", "accomp", "play", "--preset", str(preset), "--host-api", "JACK", "--no-midi-in",
                    "--tempo", "100", "--duration", str(seconds), "--metrics-json", str(summary)],
                   check=True, capture_output=True)  # fmt: skip
    return {"do_nothing_client_alone": json.loads(idle.read_text())["xruns"],
            "accomp_play_without_window": json.loads(summary.read_text())["audio"]["xruns"]}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    ap.add_argument("--preset", default=None, help="preset name or file (default: the app's default)")
    ap.add_argument("--teacher", default=None, help="teacher to distil from (default: the bundled one)")
    ap.add_argument("--platform", choices=["xcb", "offscreen"], default="xcb")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gui_stall.json"))
    args = ap.parse_args()
    require("jackd", "jack_lsp", *(["Xvfb"] if args.platform == "xcb" else []))
    work = Path(tempfile.mkdtemp(prefix="accomp-stall-"))
    server = f"accomp-stall-{os.getpid()}"
    jack = start_jack(server)
    xvfb = None
    if args.platform == "xcb":
        xvfb, display = start_xvfb()
        os.environ["DISPLAY"] = display
    os.environ.update(QT_QPA_PLATFORM=args.platform, JACK_DEFAULT_SERVER=server, JACK_NO_START_SERVER="1",
                      ACCOMP_CONFIG_DIR=str(work / "config"), ACCOMP_DATA_DIR=str(work / "data"))  # fmt: skip
    try:
        result = run(args, work)
    finally:
        from accomp.devices.audio import release

        release()  # let go of the JACK server before it stops (PortAudio aborts otherwise)
        stop(jack)
        if xvfb is not None:
            stop(xvfb)
        shutil.rmtree(work, ignore_errors=True)
    print_table(result)
    out = write_result(args.out, result)
    print(f"wrote {out}")
    return 0


def run(args: argparse.Namespace, work: Path) -> dict:
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from accomp.gui.settings import SETTINGS_VERSION, settings_path
    from accomp.gui.theme import apply_theme
    from accomp.model.preset import bundled_teachers

    teacher = Path(args.teacher) if args.teacher else next(iter(sorted(bundled_teachers().glob("*.safetensors"))), None)
    teacher_note = shown(teacher) if teacher else "random teacher (d_model 64; none bundled)"
    teacher = teacher or tiny_teacher(work / "data")
    preset = args.preset
    from accomp.errors import PresetError
    from accomp.gui.player import find_preset

    try:
        preset_path = find_preset(preset)
    except PresetError:
        preset_path = random_preset(work / "data", tiny_teacher(work / "data"))
    baselines = xrun_baselines(args.seconds, preset_path, work)
    settings_path().parent.mkdir(parents=True)
    settings_path().write_text(json.dumps({"version": SETTINGS_VERSION, "host_api": "JACK", "preset": str(preset_path),
                                           "tempo": 100, "count_in": 1, "click": True}))  # fmt: skip
    app = QApplication([sys.argv[0]])
    apply_theme(app)
    from accomp.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(1280, 800)
    window.show()
    ticks: list[float] = []
    redraws: list[float] = []  # seconds the window's 30 Hz redraw took, each
    collections: list[float] = []  # seconds each garbage collection of generation 2 took
    gc_started = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if info["generation"] == 2:
            if phase == "start":
                gc_started[0] = time.perf_counter()
            else:
                collections.append(time.perf_counter() - gc_started[0])

    gc.callbacks.append(on_gc)
    tick = window._tick

    def timed_tick() -> None:
        t0 = time.perf_counter()
        tick()
        redraws.append(time.perf_counter() - t0)

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(timed_tick)
    meter = QTimer(interval=TICK_MS)
    meter.setTimerType(Qt.TimerType.PreciseTimer)
    meter.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def wait_until(condition, seconds: float) -> bool:
        """Run the event loop (idle, not spinning) until ``condition()`` holds or time is up."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                return False
            loop = QEventLoop()
            QTimer.singleShot(20, loop.quit)
            loop.exec()
        return True

    def measure(seconds: float, playing: bool) -> dict:
        ticks.clear()
        redraws.clear()
        collections.clear()
        keys = {"i": 0, "down": None}

        def play_key() -> None:  # one eighth note: release the last key, press the next
            if keys["down"]:
                QTest.keyRelease(window, getattr(Qt.Key, f"Key_{keys['down'].upper()}"))
            keys["down"] = KEYS[keys["i"] % len(KEYS)]
            keys["i"] += 1
            QTest.keyPress(window, getattr(Qt.Key, f"Key_{keys['down'].upper()}"))

        player = QTimer(interval=round(30000 / window.settings.tempo))
        player.timeout.connect(play_key)
        session = window.session
        xruns0 = session.audio.xruns() if playing else 0
        baseline = work / f"idle-{time.monotonic_ns()}.json"
        idle = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "latency.py"), "--role", "idle", "--seconds",
                                 str(seconds), "--result", str(baseline)]) if playing else None  # fmt: skip
        if playing:
            player.start()
        meter.start()
        loop = QEventLoop()
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()
        meter.stop()
        player.stop()
        if keys["down"]:
            QTest.keyRelease(window, getattr(Qt.Key, f"Key_{keys['down'].upper()}"))
        stats = lag_stats(ticks)
        if redraws:
            stats["redraw_ms"] = {"p50": round(1000 * float(np.median(redraws)), 2), "max": round(1000 * max(redraws), 2)}
        stats["gc2_collections"] = {"count": len(collections), "max_ms": round(1000 * max(collections, default=0.0), 2)}
        if playing:
            idle.wait(60)
            base = json.loads(baseline.read_text()) if baseline.exists() else {}
            m = session.engine.metrics()
            stats.update(xruns=session.audio.xruns() - xruns0, do_nothing_client_xruns=base.get("xruns"),
                         lead_notes=m.lead_notes, steps=m.steps)  # fmt: skip
        return stats

    def set_playing(on: bool) -> None:
        window.transport.play.setChecked(on)
        if not wait_until(lambda: (window.session is not None) == on and not window.jobs.busy(), 60):
            raise SystemExit(f"gui_stall.py: could not {'start' if on else 'stop'} playing: {window.notices.texts()}")
        if on and not wait_until(lambda: window.session.engine.transport.running, 10):
            raise SystemExit("gui_stall.py: the transport did not start")

    if not wait_until(lambda: window.player is not None and not window.jobs.busy(), 300):
        raise SystemExit(f"gui_stall.py: no preset loaded: {window.notices.texts()}")
    phases = {"idle": measure(args.seconds, False)}
    set_playing(True)
    phases["playing"] = measure(args.seconds, True)
    set_playing(False)
    window.open_distill()
    dialog = window.distill_dialog
    dialog.set_teacher(teacher)
    dialog.name.setText("stall-benchmark")
    dialog.start()
    if not wait_until(dialog.running, 30):
        raise SystemExit(f"gui_stall.py: the distillation did not start: {dialog.status.text()}")
    phases["distilling"] = measure(args.seconds, False)
    set_playing(True)
    phases["playing_and_distilling"] = measure(args.seconds, True)
    set_playing(False)
    still_running = dialog.running()
    dialog.cancel()
    wait_until(lambda: not dialog.running(), 30)
    window.close()
    return {
        "what": f"GUI event-loop lag: how late a {TICK_MS} ms timer fires (ms)",
        "command": " ".join([".venv/bin/python benchmarks/gui_stall.py", *sys.argv[1:]]),
        "machine": {"cpu": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},  # fmt: skip
        "settings": {"seconds_per_phase": args.seconds, "platform": args.platform, "preset": shown(preset_path),
                     "teacher": teacher_note, "distill_mode": "quick", "rate": 48000, "buffer": 128,
                     "distillation_ran_through_phases": still_running},  # fmt: skip
        "phases": phases,
        "xrun_baselines": baselines,
        "bar": {"p99_ms": BAR_MS, "met": all(p.get("p99_ms", 1e9) <= BAR_MS for p in phases.values())},
    }


def print_table(r: dict) -> None:
    print(f"{r['what']}; {r['settings']['seconds_per_phase']:g} s per phase, {r['settings']['platform']}, "
          f"load average {r['machine']['load_average_1min']}")  # fmt: skip
    print(f"{'phase':24s} {'p50':>7s} {'p99':>7s} {'max':>7s} {'>50ms':>6s} {'xruns':>6s} {'(do-nothing)':>12s}")
    for name, p in r["phases"].items():
        print(f"{name:24s} {p.get('p50_ms', 0):7.2f} {p.get('p99_ms', 0):7.2f} {p.get('max_ms', 0):7.2f} "
              f"{p.get('over_50ms', 0):6d} {str(p.get('xruns', '-')):>6s} {str(p.get('do_nothing_client_xruns', '-')):>12s}")  # fmt: skip
    b = r["xrun_baselines"]
    print(f"xruns in {r['settings']['seconds_per_phase']:g} s without the window: do-nothing client alone "
          f"{b['do_nothing_client_alone']}, 'accomp play' (no input) {b['accomp_play_without_window']}")  # fmt: skip
    print(f"bar: p99 <= {r['bar']['p99_ms']:g} ms in every phase: {'met' if r['bar']['met'] else 'NOT met'}")


if __name__ == "__main__":
    raise SystemExit(main())
