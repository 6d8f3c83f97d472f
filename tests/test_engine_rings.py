"""Rings, sample clocks and the active-notes table: the pieces the callbacks stand on."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from accomp.engine.clock import OfflineClock, SampleClock
from accomp.engine.notes import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    CONTROL,
    NOTE_OFF,
    NOTE_ON,
    ActiveNotes,
)
from accomp.engine.rings import NO_EVENT, AudioRing, EventRing


def test_audio_ring_wraps_and_keeps_order():
    ring = AudioRing(10, 2)
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    out = np.zeros((4, 2), dtype=np.float32)
    got = []
    for chunk in np.split(data, 5):  # 5 writes of 4 frames, read 4 after each: wraps twice
        assert ring.write(chunk) == 4
        assert ring.read(out) == 4
        got.append(out.copy())
    np.testing.assert_array_equal(np.concatenate(got), data)
    assert ring.overflows == ring.underruns == 0


def test_audio_ring_counts_overflow_and_underrun():
    ring = AudioRing(8, 1)
    assert ring.write(np.ones((12, 1), dtype=np.float32)) == 8
    assert ring.overflows == 4
    out = np.full((10, 1), 7.0, dtype=np.float32)
    ring.pull(out)
    assert out[:8].sum() == 8 and not out[8:].any()
    assert ring.underruns == 2


def test_event_ring_records_flush_and_overflow():
    ring = EventRing(4)
    assert ring.head() == -1 and ring.head_time() == NO_EVENT and ring.pop() is None
    for t in range(5):
        ring.push(t * 10, 1, NOTE_ON, 60 + t, 100)
    assert ring.overflows == 1 and len(ring) == 4
    assert ring.pop() == (0, 1, NOTE_ON, 60, 100)
    assert ring.head_time() == 10
    i = ring.head()
    assert (ring.time_mv[i], ring.data1_mv[i]) == (10, 61)
    assert isinstance(ring.time_mv[i], int)  # memoryviews give plain ints, no numpy scalars
    ring.advance()
    assert not ring.take_flush()
    ring.request_flush()
    assert ring.take_flush() and len(ring) == 0
    assert not ring.take_flush()


def test_event_ring_one_producer_one_consumer_threads_lose_nothing():
    ring = EventRing(64)
    n = 20000
    got = []
    done = threading.Event()

    def consume():
        while len(got) < n:
            record = ring.pop()
            if record is not None:
                got.append(record[0])
        done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    sent = 0
    while sent < n:
        if ring.push(sent, 0, NOTE_ON, 1, 1):
            sent += 1
    assert done.wait(30)
    consumer.join(10)
    assert got == list(range(n))


def test_sample_clock_interpolates_between_blocks_and_is_bounded():
    clock = SampleClock(48000, 128)
    clock.publish(4800, 100.0)
    assert clock.sample_at(100.0) == 4800
    assert clock.sample_at(100.001) == 4848
    assert clock.sample_at(200.0) == 4800 + 2 * 128  # a stalled callback does not run away
    offline = OfflineClock(48000, 128)
    offline.sample = 960
    assert offline.now() == 960 and offline.seconds_until(48960) == pytest.approx(1.0)


def test_active_notes_release_ends_everything_in_order():
    notes = ActiveNotes(2)
    notes.track(1, NOTE_ON | 3, 60, 100)
    notes.track(1, NOTE_ON | 3, 64, 100)
    notes.track(1, NOTE_ON | 3, 64, 0)  # velocity 0 is a note-off
    notes.track(1, NOTE_ON | 4, 67, 90)
    notes.track(0, NOTE_ON, 50, 90)
    assert notes.sounding(1) == 2 and notes.sounding() == 3
    sent = []
    notes.release(1, lambda *msg: sent.append(msg))
    offs = [m for m in sent if m[0] & 0xF0 == NOTE_OFF]
    assert sorted(offs) == [(NOTE_OFF | 3, 60, 0), (NOTE_OFF | 4, 67, 0)]
    for channel in (3, 4):
        ccs = [m[1] for m in sent if m[0] == CONTROL | channel]
        assert ccs == [CC_SUSTAIN, CC_ALL_NOTES_OFF, CC_ALL_SOUND_OFF]
        assert sent.index((NOTE_OFF | channel, 60 if channel == 3 else 67, 0)) < sent.index((CONTROL | channel, CC_SUSTAIN, 0))
    assert notes.sounding(1) == 0 and notes.sounding(0) == 1
