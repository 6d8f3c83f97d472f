"""Python's cyclic garbage collection, on the GUI thread only, while the window lives.

The collector runs on whichever thread happens to allocate when a generation fills up: a
job thread loading a preset, the engine's worker. If it frees a Qt wrapper there, PySide
hands the C++ deletion to the GUI thread, which then waits for a Qt lock that the other
thread holds while it waits for the GIL: a deadlock (seen in CI as a window that never
finished opening). So while the window is open automatic collection is off, and a timer on
the GUI thread collects the young generations often and everything now and then. Objects
alive at start-up (the imported modules, torch) are frozen out of the collections.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

YOUNG_MS = 500  # generations 0 and 1
FULL_EVERY = 60  # ticks: a full collection every 30 s


class MainThreadCollector(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        self._ticks = 0
        self._timer = QTimer(self, interval=YOUNG_MS)
        self._timer.timeout.connect(self._collect)

    def start(self) -> None:
        gc.disable()
        gc.collect()
        gc.freeze()
        self._timer.start()

    def _collect(self) -> None:
        self._ticks += 1
        gc.collect(2 if self._ticks % FULL_EVERY == 0 else 1)

    def stop(self) -> None:
        """Back to automatic collection, after collecting here what the window left."""
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()
