"""benchmarks/key_change.py's measure: when the band counts as in the new key, and on which of
the new key's beats (a synthetic band's MIDI, no app)."""

from __future__ import annotations

import pytest

from benchmark_module import load

TEMPO = 100.0
BEAT_S = 60.0 / TEMPO


@pytest.fixture(scope="module")
def key_change():
    return load("key_change")


def take(key_change) -> list[tuple[float, int, int, int]]:
    """The player's events (time, status, pitch, phrase) of two phrases, C then F#, sent on time."""
    return [(beat * BEAT_S, status, pitch, phrase) for beat, status, pitch, phrase in key_change.phrase_events(2, [0, 6])]


def band(key_change, chords: list[tuple[float, float, list[int]]]) -> list[tuple[float, int, int, int]]:
    """MIDI arrivals (time, status, pitch, velocity) of block chords ``(on, off, pitches)``."""
    out = []
    for on, off, pitches in chords:
        out += [(on, key_change.NOTE_ON, p, 80) for p in pitches] + [(off, key_change.NOTE_OFF, p, 0) for p in pitches]
    return sorted(out)


def test_a_band_that_follows_on_the_second_beat_a_few_ms_late_reads_one_beat_and_a_little(key_change):
    sent = take(key_change)
    t0 = 8 * BEAT_S  # the F# phrase's first note
    c_major, d_major, f_sharp = [48, 52, 55], [50, 54, 57], [54, 58, 61]
    received = band(key_change, [(0.0, t0 + 0.003, c_major),  # C under the C phrase, held a moment into F#'s
                                 (t0 + 0.003, t0 + BEAT_S + 0.006, d_major),  # the first beat: D (F# as its third)
                                 (t0 + BEAT_S + 0.006, t0 + 8 * BEAT_S, f_sharp)])  # the second beat, 6 ms late
    (row,) = key_change.measure(sent, received, TEMPO, [0, 6])
    assert row["change"] == "C->F#"
    assert row["in_key_after_s"] == pytest.approx(BEAT_S + 0.006, abs=1e-4)
    assert row["in_key_after_beats"] == pytest.approx(1.01, abs=1e-3)  # over the strict bar of 1.00
    assert (row["on_new_keys_beat"], row["ms_after_that_beat"]) == (2, pytest.approx(6.0, abs=0.1))


def test_the_beat_a_band_followed_on_a_note_a_little_early_on_it_and_a_band_never_in_the_new_key(key_change):
    sent = take(key_change)
    t0, c_major, f_sharp = 8 * BEAT_S, [48, 52, 55], [54, 58, 61]
    first = band(key_change, [(0.0, t0 + 0.004, c_major), (t0 + 0.004, t0 + 8 * BEAT_S, f_sharp)])
    (row,) = key_change.measure(sent, first, TEMPO, [0, 6])
    assert (row["on_new_keys_beat"], row["ms_after_that_beat"]) == (1, pytest.approx(4.0, abs=0.1))
    early = band(key_change, [(0.0, t0 + BEAT_S - 0.005, c_major), (t0 + BEAT_S - 0.005, t0 + 8 * BEAT_S, f_sharp)])
    (row,) = key_change.measure(sent, early, TEMPO, [0, 6])
    assert row["in_key_after_beats"] < 1.0  # the strict reading
    assert (row["on_new_keys_beat"], row["ms_after_that_beat"]) == (2, pytest.approx(-5.0, abs=0.1))  # jitter: on the beat
    stuck = band(key_change, [(0.0, 16 * BEAT_S, c_major), (t0 + BEAT_S, t0 + 2 * BEAT_S, c_major)])
    (row,) = key_change.measure(sent, stuck, TEMPO, [0, 6])
    assert row["in_key_after_s"] is None and row["on_new_keys_beat"] is None
