"""Heard notes start from a first guess at their pitch, and a wrong guess is taken back.

The analyser tells a note from a short frame's pitch ~15 ms after its onset instead of
waiting ~35 ms for the long frames; when the long frames find another pitch it retracts
the guess (``RETRACT``, then the right note-on). The engine then forgets the guessed onset:
out of the step it was answered in (re-decided while open) or the step it waits for, and
out of the recording. A heard note is told later than a MIDI note, so its step stays open
``heard_grace`` longer for it; a MIDI note that late is still late.
"""

from __future__ import annotations


import mido
import numpy as np
import pytest

from accomp.engine.engine import ACCOMP, Engine, EngineSettings
from accomp.realtime.notes import NOTE_OFF, NOTE_ON, RETRACT
from accomp.engine.offline import run_offline
from accomp.engine.recorder import Recorder
from accomp.engine.transport import TransportSettings
from accomp.listen.analyzer import InputAnalyzer, ListenSettings
import needs  # noqa: E402
from players import Fifth  # noqa: E402

SR = 48000
BLOCK = 128
STEP = 6000  # samples per 16th at 120 bpm
CLEAN_GUITAR = 27



# ----------------------------------------------------------------------------- the analyser


@pytest.fixture(scope="module")
def guitar():
    """A clean electric guitar tune (notes, audio), eighths and quarters at 100 bpm."""
    pytest.importorskip("tinysoundfont")
    from accomp.synth.render import render_notes

    needs.soundfont()
    rng = np.random.default_rng(4)
    notes, t = [], 0.5
    for _ in range(24):
        length = 0.6 * rng.choice([0.5, 1.0])
        notes.append((t, t + 0.9 * length, int(rng.choice([57, 60, 62, 64, 65, 67, 69, 71, 72, 74])), 90))
        t += length
    return notes, render_notes(notes, t + 0.5, program=CLEAN_GUITAR)


def listen(audio: np.ndarray, settings: ListenSettings | None = None, analyzer=None):
    """Feed ``audio`` block by block; events as (block end when told, stamp, status, pitch)."""
    events, told = [], [0]
    a = analyzer or InputAnalyzer(SR, None, settings)
    a.emit = lambda at, status, pitch, velocity: events.append((told[0], at, status, pitch))
    for b in range(0, len(audio), BLOCK):
        told[0] = b + BLOCK
        a.process(audio[b : b + BLOCK], b)
    a.release()
    return a, events


def notes_played(events) -> list[tuple[int, int]]:
    """(stamp, pitch) of the note-ons that stand (not taken back)."""
    retracted = {(at, pitch) for _, at, status, pitch in events if status == RETRACT}
    return [(at, pitch) for _, at, status, pitch in events if status == NOTE_ON and (at, pitch) not in retracted]


def delays_ms(events, notes) -> np.ndarray:
    """Per note heard: from its true start to when its first note-on was told (ms)."""
    first: dict[int, int] = {}
    for told, at, status, _ in events:
        if status == NOTE_ON:
            first.setdefault(at, told)
    starts = np.array([round(s * SR) for s, *_ in notes])
    return np.array([(told - starts[np.argmin(np.abs(starts - at))]) / SR * 1000 for at, told in first.items()])


def right(played, notes) -> int:
    return sum(any(abs(at / SR - start) < 0.05 and pitch == p for at, p in played) for start, _, pitch, _ in notes)


def test_a_first_guess_tells_notes_sooner_with_the_same_pitches(guitar):
    notes, audio = guitar
    a, guessed = listen(audio)
    _, sure = listen(audio, ListenSettings(first_guess=False))
    quick, slow = delays_ms(guessed, notes), delays_ms(sure, notes)
    assert a.guesses >= 0.9 * len(notes)
    assert np.median(quick) <= 30.0 and np.median(quick) <= np.median(slow) - 10.0, (np.median(quick), np.median(slow))
    assert right(notes_played(guessed), notes) >= max(right(notes_played(sure), notes), 0.9 * len(notes))


class WrongGuess:
    """A first guess a semitone sharp: every guess is wrong."""

    def __init__(self, real) -> None:
        self.real = real

    def guess(self, audio, fresh):
        hz = self.real.guess(audio, fresh)
        return None if hz is None else hz * 2 ** (1 / 12)


def test_a_wrong_guess_is_taken_back_and_the_right_note_follows_at_once(guitar):
    notes, audio = guitar
    a = InputAnalyzer(SR, None)
    a.first_guess = WrongGuess(a.first_guess)
    a, events = listen(audio, analyzer=a)
    _, sure = listen(audio, ListenSettings(first_guess=False))
    retracts = [i for i, e in enumerate(events) if e[2] == RETRACT]
    assert len(retracts) == a.corrections >= 0.9 * len(notes)
    for i in retracts:  # the guess, its retraction and the right note: one after another, one stamp
        (_, at0, s0, p0), (_, at1, _, p1), (_, at2, s2, p2) = events[i - 1 : i + 2]
        assert (s0, s2) == (NOTE_ON, NOTE_ON) and at0 == at1 == at2 and p0 == p1 != p2
    assert notes_played(events) == notes_played(sure)
    sounding: set[int] = set()
    for _, _, status, pitch in events:  # in the order told: every note that stands ends
        if status == NOTE_ON:
            sounding.add(pitch)
        elif status in (NOTE_OFF, RETRACT):
            sounding.discard(pitch)
    assert sounding == set() and a.sounding() == []


# ----------------------------------------------------------------------------- the engine


def engine(**kw) -> Engine:
    return Engine(EngineSettings(transport=TransportSettings(tempo=120, count_in_bars=0, click=False), **kw), Fifth())


def told_at(schedule: dict[int, list]):
    """run_offline's ``heard``: the events each block's analysis tells (keyed by block sample)."""
    return lambda b: schedule.get(b, [])


def block_after(sample: int) -> int:
    return (sample // BLOCK + 1) * BLOCK


def accomp(run) -> list[tuple[int, int, int]]:
    return [(t, s & 0xF0, d1) for t, part, s, d1, _ in run.midi_out if part == ACCOMP and s & 0xF0 in (NOTE_ON, NOTE_OFF)]


def lead_track(path) -> list[int]:
    return [m.note for m in mido.MidiFile(path).tracks[1] if m.type == "note_on" and m.velocity > 0]


def test_a_guess_taken_back_in_its_open_step_is_re_decided_and_never_recorded(tmp_path):
    e = engine()
    s4 = e.lookahead + 4 * STEP
    guess_told, sure_told = block_after(s4 + round(0.012 * SR)), block_after(s4 + round(0.030 * SR))
    heard = {guess_told: [(s4, NOTE_ON, 64, 90)],
             sure_told: [(s4, RETRACT, 64, 0), (s4, NOTE_ON, 67, 90)],
             block_after(s4 + 2 * STEP): [(s4 + 2 * STEP, NOTE_OFF, 67, 0)]}  # fmt: skip
    recorder = Recorder(e.transport, e.record, midi_path=tmp_path / "take.mid")
    run = run_offline(e, [], 1.0, recorder=recorder, heard=told_at(heard))
    answer = accomp(run)
    wrong_on = [t for t, s, p in answer if p == 57 and s == NOTE_ON]
    wrong_off = [t for t, s, p in answer if p == 57 and s == NOTE_OFF]
    right_on = [t for t, s, p in answer if p == 60 and s == NOTE_ON]
    # the wrong guess's chord note ends a 32nd after it began (no shorter note is played), the right one starts at once
    assert wrong_on == [guess_told + BLOCK + e.slack] and right_on == [sure_told + BLOCK + e.slack], answer
    assert wrong_off == [wrong_on[0] + STEP // 2], answer
    m = e.metrics()
    assert (m.lead_notes, m.lead_corrections, m.late_lead_notes, m.accomp_sounding) == (1, 1, 0, 0)
    assert lead_track(tmp_path / "take.mid") == [67]


def test_a_guess_taken_back_before_its_step_never_sounds():
    e = engine()
    s4 = e.lookahead + 4 * STEP
    early = s4 - round(0.030 * SR)  # played ahead of the beat: it waits for step 4
    heard = {block_after(early + round(0.012 * SR)): [(early, NOTE_ON, 64, 90)],
             block_after(early + round(0.020 * SR)): [(early, RETRACT, 64, 0), (early, NOTE_ON, 67, 90)]}  # fmt: skip
    run = run_offline(e, [], 1.0, heard=told_at(heard))
    assert [(t, p) for t, s, p in accomp(run) if s == NOTE_ON] == [(s4, 60)]
    assert e.metrics().redos == 0


def test_a_heard_note_told_after_the_grace_window_still_counts_for_its_step():
    e = engine(grace_ms=30, heard_grace_ms=40)
    s4 = e.lookahead + 4 * STEP
    told = block_after(s4 + round(0.055 * SR))  # played 5 ms late, told 50 ms after that
    run = run_offline(e, [], 1.0, heard=told_at({told: [(s4 + round(0.005 * SR), NOTE_ON, 64, 90)]}))
    assert [(t, p) for t, s, p in accomp(run) if s == NOTE_ON] == [(told + BLOCK + e.slack, 57)]
    assert e.late_lead_notes == 0


def test_a_midi_note_that_late_counts_for_the_next_step():
    e = engine(grace_ms=30, heard_grace_ms=40)
    late = e.lookahead + 4 * STEP + round(0.040 * SR)  # played 40 ms late: after the grace window
    run = run_offline(e, [(late, NOTE_ON, 64, 90), (late + STEP, NOTE_OFF, 64, 0)], 1.0)
    assert [(t, p) for t, s, p in accomp(run) if s == NOTE_ON] == [(e.lookahead + 5 * STEP, 57)]
    assert e.late_lead_notes == 1
