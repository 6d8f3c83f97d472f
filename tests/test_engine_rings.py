"""Rings, sample clocks and the active-notes table: the pieces the callbacks stand on."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from accomp.realtime.clock import OfflineClock, SampleClock
from accomp.realtime.notes import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    CONTROL,
    NOTE_OFF,
    NOTE_ON,
    RETRACT,
    ActiveNotes,
)
from accomp.realtime.rings import NO_EVENT, AudioRing, EventRing, earliest


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


def test_event_ring_note_ons_give_way_so_note_offs_always_fit():
    ring = EventRing(4, reserve=2)
    assert ring.push(0, 1, NOTE_ON, 60, 90) and ring.push(0, 1, NOTE_ON, 61, 90)
    assert not ring.push(0, 1, NOTE_ON, 62, 90)  # two notes open: the reserve's worth
    assert ring.push(0, 1, CONTROL, 7, 100) and ring.push(0, 1, CONTROL, 7, 90)  # ordinary events fill the capacity
    assert not ring.push(0, 1, CONTROL, 7, 80) and not ring.push(0, 1, NOTE_ON, 60, 90)
    assert not ring.push(1, 1, NOTE_OFF, 70, 0)  # ends nothing this ring let in: keeps off the reserve
    assert ring.push(1, 1, NOTE_OFF, 60, 0) and ring.push(1, 1, NOTE_ON, 61, 0)  # velocity 0 ends too
    assert len(ring) == 6 and ring.refused_note_ons == 2 and ring.overflows == 4


def test_event_ring_never_drops_an_ending_under_random_load():
    rng = np.random.default_rng(0)
    ring = EventRing(16, reserve=8)
    admitted: set[tuple] = set()  # notes and pedals the ring let in and not ended yet
    for _ in range(50000):
        if rng.random() < 0.3:  # the consumer falls behind
            ring.pop()
            continue
        part, channel, key = int(rng.integers(0, 3)), int(rng.integers(0, 2)), int(rng.integers(40, 52))
        roll = rng.random()
        if roll < 0.4:
            if ring.push(0, part, NOTE_ON | channel, key, 90):
                admitted.add((part, channel, key))
        elif roll < 0.5:
            if ring.push(0, part, CONTROL | channel, CC_SUSTAIN, 127):
                admitted.add((part, channel, "pedal"))
        elif roll < 0.6:
            ring.push(0, part, CONTROL | channel, 7, 100)  # volume: an ordinary event
        elif roll < 0.65:
            ring.push(0, part, CONTROL | channel, CC_ALL_NOTES_OFF, 0)
        else:
            status, data1, what = [(NOTE_OFF | channel, key, (part, channel, key)),
                                   (NOTE_ON | channel, key, (part, channel, key)),
                                   (RETRACT, key, (part, 0, key)),
                                   (CONTROL | channel, CC_SUSTAIN, (part, channel, "pedal"))][int(rng.integers(0, 4))]  # fmt: skip
            if ring.push(0, part, status, data1, 0):
                admitted.discard(what)
            else:
                assert what not in admitted, "an ending of an open note was dropped"
    assert ring.refused_note_ons > 0 and ring.overflows > ring.refused_note_ons


def test_earliest_picks_the_ring_due_first_and_the_first_of_equals():
    rings = [EventRing(8), EventRing(8), EventRing(8)]
    assert earliest(rings) == -1
    rings[2].push(30, 0, NOTE_ON, 60, 90)
    rings[1].push(20, 0, NOTE_ON, 61, 90)
    assert earliest(rings) == 1
    rings[0].push(20, 0, NOTE_ON, 62, 90)
    assert earliest(rings) == 0
