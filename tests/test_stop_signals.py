"""A closed terminal (SIGHUP) or `kill` (SIGTERM) does what Ctrl+C does at that moment."""

from __future__ import annotations

import signal

import pytest

from accomp.stop_signals import ENDING, as_ctrl_c, ending_on


@pytest.fixture
def handlers():
    """The test's signal handlers are put back whatever it sets."""
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, *ENDING)}
    yield
    for s, h in before.items():
        signal.signal(s, h)


@pytest.mark.parametrize("ending", ENDING, ids=lambda s: s.name)
def test_an_ending_signal_interrupts_as_ctrl_c(handlers, ending):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(ending, signal.SIG_DFL)  # as at a terminal, even when this run inherited it ignored (nohup)
    with pytest.raises(KeyboardInterrupt), as_ctrl_c():
        signal.raise_signal(ending)
    assert signal.getsignal(ending) is signal.SIG_DFL  # put back after the block


def test_an_ending_signal_runs_the_ctrl_c_handler_of_the_moment(handlers):
    got = []
    signal.signal(signal.SIGINT, lambda signum, _frame: got.append(signum))  # e.g. a training run's save shield
    with as_ctrl_c():
        signal.raise_signal(signal.SIGTERM)
    assert got == [signal.SIGINT]


def test_where_ctrl_c_is_ignored_kill_still_ends_it(handlers):
    """A shell's background job inherits SIGINT ignored: `kill` must still stop it cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with pytest.raises(KeyboardInterrupt), as_ctrl_c():
        signal.raise_signal(signal.SIGTERM)


def test_a_signal_inherited_ignored_stays_ignored(handlers):
    """nohup ignores SIGHUP: the app must not take it back."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with as_ctrl_c():
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        signal.raise_signal(signal.SIGHUP)  # nothing happens
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_a_block_that_must_not_be_cut_short_takes_the_signals_and_drops_them(handlers):
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with as_ctrl_c(), ending_on(None, (signal.SIGINT, *ENDING)):  # `accomp play` stopping: every note must end
        for signum in (signal.SIGINT, *ENDING):
            signal.raise_signal(signum)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
