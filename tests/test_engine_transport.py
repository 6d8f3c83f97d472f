"""Transport: the grid in samples, tempo changes, count-in, clicks and MIDI clock."""

from __future__ import annotations

import pytest

from accomp.realtime.notes import CLOCK, NOTE_OFF, NOTE_ON, START, STOP
from accomp.engine.transport import CLICK_KEY, CLICK_KEY_ACCENT, Metronome, Transport, TransportSettings

SR = 48000


def test_grid_count_in_and_tempo_change_keep_position():
    t = Transport(TransportSettings(tempo=120, meter=(3, 4), count_in_bars=2), SR)
    assert t.steps_per_bar == 12 and t.count_in_steps == 24
    t.start(1000)
    assert t.step_sample(-24) == 1000
    assert t.step_sample(0) == 1000 + 24 * 6000  # 120 bpm, 16ths: 6000 samples a step
    assert t.step_at(t.step_sample(5)) == 5 and t.step_at(t.step_sample(5) - 1) == 4
    change = t.step_sample(10)
    t.set_tempo(60, change)
    assert t.position(change) == pytest.approx(10)
    assert t.step_sample(11) - t.step_sample(10) == 12000
    assert t.step_sample(9) == 1000 + 33 * 6000  # the past keeps its old tempo
    assert t.tempo_map() == [(0.0, 120.0), (pytest.approx(34 / 4), 60.0)]
    assert t.beat_in_bar(0) == 0 and t.beat_in_bar(13) == 1


@pytest.mark.parametrize("bad", [dict(tempo=0), dict(tempo=float("nan")), dict(meter=(4, 3)), dict(count_in_bars=-1), dict(count_in_bars=9),
                                 dict(meter=(17, 4)), dict(meter=(3, 32)), dict(meter=(4, 8), steps_per_beat=1)])  # fmt: skip
def test_impossible_settings_are_refused(bad):
    with pytest.raises(ValueError):
        TransportSettings(**bad)


@pytest.mark.parametrize("meter", [(16, 4), (7, 8), (5, 16), (2, 2), (1, 1)])
def test_a_meter_on_the_grid_keeps_its_bar_and_clicks(meter):
    t = Transport(TransportSettings(meter=meter), SR)
    assert t.steps_per_bar == meter[0] * 16 // meter[1] and t.steps_per_click == 16 // meter[1]


def events_until(metronome: Metronome, until: int, step: int = 997):
    clicks, clock = [], []
    for horizon in range(step, until, step):  # scheduled bit by bit, as the engine does
        metronome.schedule(horizon, lambda *e: clicks.append(e), lambda *e: clock.append(e))
    return clicks, clock


def test_count_in_always_clicks_then_click_follows_its_switch():
    t = Transport(TransportSettings(tempo=120, count_in_bars=1, click=False, midi_clock=True), SR)
    t.start(0)
    m = Metronome(t)
    clicks, clock = events_until(m, 2 * 96000)  # the count-in bar (2 s), then one more bar
    ons = [(at, key) for at, status, key, _ in clicks if status & 0xF0 == NOTE_ON]
    assert ons == [(0, CLICK_KEY_ACCENT), (24000, CLICK_KEY), (48000, CLICK_KEY), (72000, CLICK_KEY)]
    offs = [e for e in clicks if e[1] & 0xF0 == NOTE_OFF]
    assert len(offs) == len(ons)
    assert [e[0] for e in clicks] == sorted(e[0] for e in clicks)
    assert clock[0] == (0, START, 0, 0)
    ticks = [e[0] for e in clock if e[1] == CLOCK]
    assert ticks[:3] == [0, 1000, 2000] and len(ticks) == 8 * 24  # 24 per beat over 8 beats
    m.stop(ticks[-1] + 1, lambda *e: clock.append(e))
    assert clock[-1][1] == STOP


def test_click_on_clicks_every_beat_with_accent_on_the_bar():
    t = Transport(TransportSettings(tempo=60, meter=(3, 4), count_in_bars=0, click=True), SR)
    t.start(0)
    clicks, _ = events_until(Metronome(t), 6 * SR + 1)
    keys = [key for _, status, key, _ in clicks if status & 0xF0 == NOTE_ON]
    assert keys == [CLICK_KEY_ACCENT, CLICK_KEY, CLICK_KEY] * 2
