"""A closed terminal or ``kill`` ends accomp as Ctrl+C does.

A closed terminal (SIGHUP), ``kill``, a logout or a service manager (SIGTERM) used to end the
process where it stood: an external synth kept the notes ``accomp play`` had sent it (no
note-off, no All Notes Off), a ``--record`` take was lost, a training run lost the updates
since its last save, and the window closed without saving its settings. Under
:func:`as_ctrl_c` (the CLI's ``main`` runs every command under it) those signals do what
Ctrl+C does at that moment: ``accomp play`` stops and ends every note, a training run saves
its state first (its shield holds a signal that comes during a save), the window closes.
A signal the process inherited ignored (``nohup`` ignores SIGHUP) stays ignored. No Qt, no
torch.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

ENDING: tuple[signal.Signals, ...] = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def ending_on(handler: Callable[[int, object], None] | None, signals: tuple[int, ...]) -> Iterator[None]:
    """Inside the block ``handler`` (a Python signal handler; None: do nothing) handles each
    of ``signals`` not already ignored, on the main thread; the handlers before are put back
    after it. Elsewhere than the main thread (where Python sets no handlers) the block runs
    unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {}
    for signum in signals:
        if signal.getsignal(signum) is signal.SIG_IGN:
            continue
        before[signum] = signal.signal(signum, handler or _nothing)
    try:
        yield
    finally:
        for signum, old in before.items():
            signal.signal(signum, signal.SIG_DFL if old is None else old)


def as_ctrl_c() -> AbstractContextManager[None]:
    """Inside the block SIGTERM and SIGHUP run the Ctrl+C (SIGINT) handler of the moment; where
    Ctrl+C is ignored (a shell's background job inherits SIGINT ignored) or left to the
    system, they raise KeyboardInterrupt, so that ``kill`` still ends the app cleanly."""
    return ending_on(_like_ctrl_c, ENDING)


def _like_ctrl_c(signum: int, frame) -> None:
    print(f"accomp: {signal.Signals(signum).name} received: stopping as on Ctrl+C", file=sys.stderr, flush=True)
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:
        raise KeyboardInterrupt


def _nothing(signum: int, frame) -> None:
    """A handler that does nothing: the signal is taken and dropped."""
