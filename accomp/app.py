"""`accomp` with no command (or `accomp launch`): open the window, the default preset ready.

``accomp launch --play`` starts playing as soon as the preset is loaded, and
``--quit-after S`` closes the window S seconds after it opened (after playing started, with
``--play``) and prints a JSON summary: the log file, the last play's summary and the notices
shown. Both are for scripts and CI; a musician just runs ``accomp``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from accomp.stop_signals import ending_on


@dataclass(frozen=True)
class LaunchOptions:
    play: bool = False  # start playing as soon as the preset is loaded
    quit_after: float | None = None  # close the window this many seconds after it opened (after playing started)


def launch(options: LaunchOptions) -> int:
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
                                                 or os.environ.get("QT_QPA_PLATFORM")):  # fmt: skip
        print("accomp: error: no display to open the window on (DISPLAY is not set); "
              "'accomp play' plays without a window", file=sys.stderr)  # fmt: skip
        return 1
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
    except ImportError as exc:
        print(f"accomp: error: the window needs PySide6 ({exc}); run ./install.sh", file=sys.stderr)
        return 1
    from accomp.gui.logs import install_excepthook, setup_logging
    from accomp.gui.theme import apply_theme

    log_file = setup_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("accomp")
    app.setDesktopFileName("accomp")
    apply_theme(app)
    from accomp.gui.main_window import MainWindow

    window = MainWindow()
    install_excepthook(lambda: window)
    window.show()
    quit_after = options.quit_after
    outcome = {"failed": False}
    if options.play:
        _play_when_ready(window, quit_after, outcome)
    elif quit_after is not None:
        _close_after(window, quit_after)
    # Ctrl+C, and so a closed terminal or `kill` (accomp.stop_signals), close the window: the play stops, the settings are saved
    with ending_on(lambda _signum, _frame: QTimer.singleShot(0, window.close), (signal.SIGINT,)), _signals_wake(app):
        code = app.exec()
    if quit_after is not None:
        summary = {"log": str(log_file), "last_play": window.last_summary, "notices": window.notices.texts()}
        print(json.dumps(summary, default=str))
    return code or (1 if outcome["failed"] else 0)


@contextmanager
def _signals_wake(app) -> Iterator[None]:
    """Python runs a signal's handler only when the interpreter next runs, and Qt's event loop
    is C++: the signal's byte, written to a socket, wakes a notifier whose slot lets it run."""
    from PySide6.QtCore import QSocketNotifier

    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    before = signal.set_wakeup_fd(theirs.fileno(), warn_on_full_buffer=False)
    notifier = QSocketNotifier(ours.fileno(), QSocketNotifier.Type.Read, app)
    notifier.activated.connect(lambda: ours.recv(64))  # the pending handlers run as this slot returns
    try:
        yield
    finally:
        notifier.setEnabled(False)
        signal.set_wakeup_fd(before)
        ours.close()
        theirs.close()


def _close_after(window, seconds: float) -> None:
    from PySide6.QtCore import QTimer

    QTimer.singleShot(round(seconds * 1000), window.close)


def _play_when_ready(window, quit_after: float | None, outcome: dict) -> None:
    """Press Play once the preset is loaded and the devices listed; say so on stderr once
    playing (as 'accomp play' does); close ``quit_after`` seconds later. When it cannot
    play (no preset could be loaded, or Play could not start) it says why on stderr, sets
    ``outcome["failed"]`` (the exit code is then 1) and still closes on time."""
    from PySide6.QtCore import QTimer

    state = {"pressed": False}

    def give_up(why: str) -> None:
        timer.stop()
        outcome["failed"] = True
        print(f"accomp: not playing: {why}", file=sys.stderr, flush=True)
        if quit_after is not None:
            _close_after(window, quit_after)

    def check() -> None:
        if not state["pressed"] and window.player is None and not window.jobs.busy():
            give_up(" ".join(window.notices.texts()[-1:]) or "no style preset could be loaded")
        elif not state["pressed"] and window.player is not None and not window.jobs.busy():
            state["pressed"] = True
            window.transport.play.setChecked(True)
        elif state["pressed"] and window.session is not None:
            timer.stop()
            print(f"accomp: playing '{window.player.name}' on {window.session.audio.device_name}", file=sys.stderr, flush=True)
            if quit_after is not None:
                _close_after(window, quit_after)
        elif state["pressed"] and not window.transport.play.isChecked():  # it could not start: say why, carry on
            give_up(" ".join(window.notices.texts()[-1:]))

    timer = QTimer(window, interval=50)
    timer.timeout.connect(check)
    timer.start()
