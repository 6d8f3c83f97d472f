"""Ctrl+C stops `accomp play` even when its signal lands on another thread."""

from __future__ import annotations

import signal
import threading
import time
import types

import pytest

from accomp.engine.live import LiveSession


def test_a_ctrl_c_delivered_to_another_thread_still_ends_the_wait():
    """The kernel may hand SIGINT to any thread (an audio or MIDI library's); Python runs the
    handler on the main thread only when it wakes. The session's wait wakes often enough to
    see it: KeyboardInterrupt within a slice, not when the session ends on its own."""
    session = types.SimpleNamespace(ended=threading.Event())

    def elsewhere() -> None:
        time.sleep(0.2)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)  # to this thread, not the main one
        time.sleep(5.0)
        session.ended.set()  # an untimed wait would return only now

    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=elsewhere, daemon=True).start()
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            LiveSession.wait(session, None)
        assert time.monotonic() - start < 2.0
    finally:
        signal.signal(signal.SIGINT, before)


def test_the_wait_ends_after_its_seconds_or_when_the_session_ends():
    session = types.SimpleNamespace(ended=threading.Event())
    start = time.monotonic()
    LiveSession.wait(session, 0.25)
    assert 0.2 < time.monotonic() - start < 1.0
    session.ended.set()
    start = time.monotonic()
    LiveSession.wait(session, None)
    assert time.monotonic() - start < 0.1
