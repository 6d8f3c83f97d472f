"""Slow work off the GUI thread: one helper thread, results handed back on the GUI thread.

Loading a preset (reading the teacher, building and warming up the student), opening and
closing audio devices and re-scanning them each take from tens of milliseconds to seconds;
the event loop must never wait on them. :class:`Jobs` runs them one after another on a
single helper thread, so device operations never overlap (PortAudio may only be re-scanned
while no stream is open), and a short timer on the GUI thread delivers each result to its
callback. No Qt object is touched from the helper thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, QTimer

POLL_MS = 10


class Jobs(QObject):
    def __init__(self, parent: QObject | None, on_error: Callable[[BaseException, str], None]) -> None:
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="accomp-gui-jobs")
        self._pending: list[tuple[Future, str, Callable | None, Callable | None]] = []
        self._on_error = on_error
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._deliver)

    def submit(
        self,
        what: str,
        fn: Callable,
        *args,
        on_done: Callable | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future:
        """Run ``fn(*args)`` on the helper thread; then ``on_done(result)`` or ``on_error(exc)``
        (default: the window's error handler, told ``what`` was being done) on the GUI thread."""
        future = self._pool.submit(fn, *args)
        self._pending.append((future, what, on_done, on_error))
        self._timer.start()
        return future

    def busy(self) -> bool:
        return bool(self._pending)

    def _deliver(self) -> None:
        done = [job for job in self._pending if job[0].done()]
        self._pending = [job for job in self._pending if not job[0].done()]
        if not self._pending:
            self._timer.stop()
        for future, what, on_done, on_error in done:
            exc = future.exception()
            if exc is not None:
                (on_error or (lambda e: self._on_error(e, what)))(exc)
            elif on_done is not None:
                on_done(future.result())

    def run_now(self, fn: Callable, *args, timeout: float = 30.0):
        """Run ``fn`` after the queued jobs and wait for it (only when quitting)."""
        return self._pool.submit(fn, *args).result(timeout)

    def shutdown(self) -> None:
        self._timer.stop()
        self._pool.shutdown(wait=True, cancel_futures=False)
