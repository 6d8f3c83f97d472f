#!/usr/bin/env python3
"""Screenshots for the docs: the main window while playing, a chord chart being played, and
the distill dialog running.

    .venv/bin/python scripts/screenshots.py [--preset pop] [--teacher PATH] [--out docs] [--shots main,chart,distill]

Everything is real: the script starts a virtual X screen (Xvfb) and a JACK server with the
dummy driver of its own, opens the app there with private settings (the song's key told: C),
presses Play, plays a melody on the computer-keyboard piano (Mary Had a Little Lamb, in time
with the audio clock) and grabs the window during its last note; then it plays the blues chart of ``resources/charts`` with bass and
drums and grabs the window in its fifth bar (the chord display, the chart with its bar
marked, the chords on the piano roll); then it starts a distillation in the dialog, waits
for its first progress event, grabs the dialog and cancels the run.
Needs Xvfb and jackd (``./install.sh --test`` installs them).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.headless import require, start_jack, start_xvfb, stop  # noqa: E402

SIZE = (1280, 800)
# (beat, key, beats held): a tune on the computer-keyboard piano (a = C, s = D, d = E, ...).
MELODY = [(0, "d", 1), (1, "s", 1), (2, "a", 1), (3, "s", 1), (4, "d", 1), (5, "d", 1), (6, "d", 2),
          (8, "s", 1), (9, "s", 1), (10, "s", 2), (12, "d", 1), (13, "h", 1), (14, "h", 2),
          (16, "d", 1), (17, "s", 1), (18, "a", 1), (19, "s", 1), (20, "d", 1), (21, "d", 1), (22, "d", 1),
          (23, "d", 1), (24, "s", 1), (25, "s", 1), (26, "d", 1), (27, "s", 1), (28, "a", 4)]  # fmt: skip
GRAB_BEAT = 30  # the main window is grabbed during the last, held note


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", help="preset name or file (default: the app's default, pop)")
    parser.add_argument("--teacher", help="teacher for the distill dialog (default: the bundled one)")
    parser.add_argument("--data-dir", help="user data folder to take presets from (default: a fresh one: bundled presets only)")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder for main_window.png and distill_dialog.png")
    parser.add_argument("--distill-wait", type=float, default=900.0, help="seconds to wait for the first progress event")
    parser.add_argument("--shots", default="main,chart,distill", help="which to take (comma separated: main, chart, distill)")
    args = parser.parse_args()
    require("Xvfb", "jackd", "jack_lsp")
    work = Path(tempfile.mkdtemp(prefix="accomp-shots-"))
    xvfb, display = start_xvfb()
    jack = start_jack(f"accomp-shots-{os.getpid()}")
    home = work / "home"  # a private home: the dialog shows paths as a user would see them (~/...)
    os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", JACK_DEFAULT_SERVER=f"accomp-shots-{os.getpid()}",
                      JACK_NO_START_SERVER="1", HOME=str(home), ACCOMP_CONFIG_DIR=str(home / ".config" / "accomp"),
                      ACCOMP_DATA_DIR=args.data_dir or str(home / ".local" / "share" / "accomp"))  # fmt: skip
    try:
        return shoot(args, work)
    finally:
        from accomp.devices.audio import release

        release()  # let go of the JACK server before it stops (PortAudio aborts otherwise)
        stop(jack)
        stop(xvfb)
        shutil.rmtree(work, ignore_errors=True)


def shoot(args: argparse.Namespace, work: Path) -> int:
    from PySide6.QtCore import QEventLoop, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from accomp.gui.settings import SETTINGS_VERSION, settings_path
    from accomp.gui.theme import apply_theme

    settings_path().parent.mkdir(parents=True, exist_ok=True)
    settings_path().write_text(json.dumps({"version": SETTINGS_VERSION, "host_api": "JACK", "preset": args.preset,
                                           "tempo": 96, "count_in": 1, "click": True, "song_key": "C"}))  # fmt: skip
    app = QApplication([sys.argv[0]])
    apply_theme(app)
    from accomp.gui.main_window import MainWindow

    window = MainWindow()
    window.resize(*SIZE)
    window.show()

    def pause(seconds: float) -> None:
        loop = QEventLoop()
        QTimer.singleShot(round(seconds * 1000), loop.quit)
        loop.exec()

    def wait_until(condition, seconds: float) -> bool:
        """Run the event loop (idle, not spinning) until ``condition()`` holds or time is up."""
        deadline = time.monotonic() + seconds
        while not condition():
            if time.monotonic() > deadline:
                return False
            pause(0.02)
        return True

    if not wait_until(lambda: window.player is not None and not window.jobs.busy(), 120):
        sys.exit(f"screenshots: no preset loaded ({window.notices.texts()})")
    window.transport.play.setChecked(True)
    if not wait_until(lambda: window.session is not None, 30):
        sys.exit(f"screenshots: could not play ({window.notices.texts()})")
    if not wait_until(lambda: window.session.engine.transport.running, 10):
        sys.exit("screenshots: the transport did not start")
    session = window.session
    transport = session.engine.transport
    steps_per_beat = transport.settings.steps_per_beat

    def pause_until_beat(at: float) -> None:
        """Wait for a beat on the audio clock (what a player hears), not on the wall clock:
        the dummy driver's clock drifts from the wall clock on a loaded machine."""
        while (left := session.clock.seconds_until(transport.step_sample(at * steps_per_beat))) > 0:
            pause(left)

    def key_event(kind: str, key: str) -> None:
        code = getattr(Qt.Key, f"Key_{key.upper()}")
        (QTest.keyPress if kind == "press" else QTest.keyRelease)(window, code, Qt.KeyboardModifier.NoModifier)

    def sound_on_scope() -> bool:
        _, out = window.waveforms.curve_out.getData()
        return out is not None and float(abs(out).max()) > 0.01

    shots = set(args.shots.split(","))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    events = sorted([(b, "press", k) for b, k, _ in MELODY] + [(b + n - 0.1, "release", k) for b, k, n in MELODY])
    if "main" in shots:
        for at, kind, key in (e for e in events if e[0] < GRAB_BEAT):  # beat 0: the first after the count-in
            pause_until_beat(at)
            key_event(kind, key)
        pause_until_beat(GRAB_BEAT)
        wait_until(sound_on_scope, 60 / window.settings.tempo)  # the output's waveform shows sound
        window.grab().save(str(out / "main_window.png"))
        for at, kind, key in (e for e in events if e[0] >= GRAB_BEAT):
            key_event(kind, key)
        print(f"screenshots: wrote {out / 'main_window.png'}")
    window.transport.play.setChecked(False)
    wait_until(lambda: window.session is None and not window.jobs.busy(), 30)

    if "chart" in shots:
        from accomp.config import RESOURCES

        chords = window.chords
        chords.source.setCurrentIndex(chords.source.findData("chart"))
        chords.open(RESOURCES / "charts" / "blues_in_f.txt")
        window.mixer.rows["bass"]["on"].setChecked(True)
        drums = window.mixer.rows["drums"]["pattern"]
        drums.setCurrentIndex(drums.findText("swing"))
        window.transport.play.setChecked(True)
        if not wait_until(lambda: window.session is not None and window.session.engine.transport.running, 30):
            sys.exit(f"screenshots: could not play the chart ({window.notices.texts()})")
        session = window.session
        transport = session.engine.transport
        beats = transport.steps_per_bar // steps_per_beat
        for at, kind, key in events:  # the tune again, from bar 5
            if at > 6:
                break
            pause_until_beat(at + 4 * beats)
            key_event(kind, key)
        pause_until_beat(4 * beats + 6.5)
        window.grab().save(str(out / "chart_window.png"))
        print(f"screenshots: wrote {out / 'chart_window.png'}")
        window.transport.play.setChecked(False)
        wait_until(lambda: window.session is None and not window.jobs.busy(), 30)
    if "distill" not in shots:
        window.close()
        return 0

    window.open_distill()
    dialog = window.distill_dialog
    if args.teacher:
        dialog.set_teacher(Path(args.teacher))
    mix = {"pop": 70, "chorale": 30}
    for style, spin in dialog._weights.items():
        spin.setValue(mix.get(style, 0))
    dialog.name.setText("warm-pop")
    dialog.description.setText("mostly pop, a little chorale voice-leading")
    dialog.start()
    wait_until(lambda: dialog.step > 0 or not dialog.running(), args.distill_wait)
    pause(0.3)
    dialog.grab().save(str(out / "distill_dialog.png"))
    print(f"screenshots: wrote {out / 'distill_dialog.png'} (at update {dialog.step})")
    dialog.cancel()
    wait_until(lambda: not dialog.running(), 30)
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
