"""No glitches from re-decisions (every note sounds a 32nd), dynamics that follow the lead,
and the latency log's plan-revision column: the engine in simulated time with scripted players."""

from __future__ import annotations

import mido
import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.engine.engine import ACCOMP, Engine, EngineSettings
from accomp.realtime.notes import CC_ALL_NOTES_OFF, CONTROL, NOTE_OFF, NOTE_ON
from accomp.engine.offline import run_offline
from accomp.engine.recorder import Recorder
from accomp.engine.transport import TransportSettings
from accomp.music.frames import OUT_TICKS_PER_BEAT

SR = 48000
STEP = 6000  # samples per 16th at 120 bpm
KEY = 27  # the scripted players' note: C3 (key 27 above A0)
PITCH = 21 + KEY


class Script:
    """Plays ``KEY`` where told: ``steps`` (a step's first decision) and ``redos`` (its
    re-decisions, in order) map a step to "strike", "hold" or "rest" (default: rest)."""

    def __init__(self, steps=None, redos=None, revise=False):
        self.steps, self.redos, self.revise = steps or {}, redos or {}, revise
        self.revised = False
        self._tries = {}

    def _frame(self, lead, what):
        out = np.zeros_like(lead)
        out[SUSTAIN, KEY] = what in ("strike", "hold")
        out[ONSET, KEY] = what == "strike"
        return out

    def step(self, step, lead, beat_in_bar):
        self._tries[step] = 0
        return self._frame(lead, self.steps.get(step, "rest"))

    def redo(self, step, lead, beat_in_bar):
        tries = self.redos.get(step, ["rest"])
        what = tries[min(self._tries[step], len(tries) - 1)]
        self._tries[step] += 1
        self.revised = self.revise
        return self._frame(lead, what)


class Random:
    """Random decisions over a few keys, different on every re-decision (a stress test)."""

    def __init__(self, seed=0):
        self.rng = np.random.default_rng(seed)

    def step(self, step, lead, beat_in_bar):
        out = np.zeros_like(lead)
        keys = np.arange(20, 26)
        out[SUSTAIN, keys] = self.rng.random(keys.size) < 0.6
        out[ONSET, keys] = out[SUSTAIN, keys] & (self.rng.random(keys.size) < 0.5)
        return out

    redo = step


def engine(player, tempo=120.0, **kw) -> Engine:
    transport = TransportSettings(tempo=tempo, count_in_bars=0, click=False)
    return Engine(EngineSettings(transport=transport, **kw), player)


def accomp_events(run):
    """(time, kind, pitch, velocity) of the accompaniment as MIDI out would send it."""
    return [(t, s & 0xF0, d1, d2) for t, part, s, d1, d2 in run.midi_out if part == ACCOMP]


def note_lengths(events):
    """(start, length) of every note that a note-off ended (a note struck twice fails)."""
    started, notes = {}, []
    for t, kind, pitch, velocity in events:
        if kind == NOTE_ON and velocity > 0:
            assert pitch not in started, f"pitch {pitch} struck again at {t} while sounding"
            started[pitch] = t
        elif pitch in started:
            on = started.pop(pitch)
            notes.append((on, t - on))
    return notes


def test_a_redo_that_takes_back_a_note_still_lets_it_sound_a_32nd():
    e = engine(Script(steps={4: "strike"}))
    o = e.lookahead
    late = o + 4 * STEP + round(0.010 * SR)  # 10 ms late: step 4 is re-decided, without the note
    run = run_offline(e, [(late, NOTE_ON, 72, 100), (late + 2 * STEP, NOTE_OFF, 72, 0)], seconds=1.0)
    assert note_lengths(accomp_events(run)) == [(o + 4 * STEP, STEP // 2)]
    assert e.redos == 1


def test_a_redo_before_the_note_is_rendered_leaves_no_zero_length_note():
    e = engine(Script(steps={4: "strike"}))
    o = e.lookahead
    early = o + 4 * STEP - 100  # after step 4 was decided, before its block is rendered
    run = run_offline(e, [(early, NOTE_ON, 72, 100), (early + 2 * STEP, NOTE_OFF, 72, 0)], seconds=1.0)
    assert e.redos == 1
    assert note_lengths(accomp_events(run)) == [(o + 4 * STEP, STEP // 2)]


def test_taking_a_note_back_and_striking_it_again_within_a_32nd_lets_it_ring_on():
    e = engine(Script(steps={4: "strike", 5: "hold"}, redos={4: ["rest", "strike"]}))
    o = e.lookahead
    t1, t2 = o + 4 * STEP + 240, o + 4 * STEP + 720
    lead = [(t1, NOTE_ON, 72, 100), (t2, NOTE_ON, 76, 100), (t2 + STEP, NOTE_OFF, 72, 0), (t2 + STEP, NOTE_OFF, 76, 0)]
    run = run_offline(e, lead, seconds=1.0)
    assert e.redos == 2
    assert note_lengths(accomp_events(run)) == [(o + 4 * STEP, 2 * STEP)]  # one note, ended by step 6


def test_the_next_step_ending_a_late_note_waits_for_its_32nd():
    e = engine(Script(redos={4: ["strike"]}))
    o = e.lookahead
    told = (o + 4 * STEP + 3300) // 128 * 128  # heard 3300 samples late, while step 4 is still open
    heard = {told: [(o + 4 * STEP + 400, NOTE_ON, 72, 100)], told + 8 * 128: [(o + 5 * STEP, NOTE_OFF, 72, 0)]}
    run = run_offline(e, [], seconds=1.0, heard=lambda b: heard.get(b, []))
    events = accomp_events(run)
    (start, length), = note_lengths(events)
    assert e.redos == 1 and start == told + 128  # the re-decision's note starts in the next block ...
    assert o + 5 * STEP - start < STEP // 2 and length == STEP // 2  # ... and step 5's end waits for a 32nd
    assert [t for t, *_ in events] == sorted(t for t, *_ in events)


def test_random_redecisions_never_make_a_note_shorter_than_a_32nd(tmp_path):
    e = engine(Random(1), tempo=200.0, grace_ms=50)
    sps = SR * 60 / (200 * 4)
    rng = np.random.default_rng(2)
    lead = []
    for k in range(48):  # a few lead notes per step, around the grid: many redos
        for _ in range(3):
            t = e.lookahead + round(k * sps + rng.integers(-300, round(0.045 * SR)))
            pitch = int(rng.integers(60, 80))
            lead += [(t, NOTE_ON, pitch, 90), (t + 2000, NOTE_OFF, pitch, 0)]
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "r.mid")
    run = run_offline(e, sorted(lead), seconds=48 * sps / SR, recorder=rec)
    assert e.redos > 40 and e.metrics().accomp_sounding == 0
    events = accomp_events(run)
    assert [t for t, *_ in events] == sorted(t for t, *_ in events)  # the rings stay in time order
    lengths = [n for _, n in note_lengths(events)]
    assert len(lengths) > 20 and min(lengths) >= int(sps * 4) // 8
    track = mido.MidiFile(tmp_path / "r.mid").tracks[2]
    ticks = np.cumsum([m.time for m in track])
    started, recorded = {}, []
    for tick, m in zip(ticks, track):
        if m.type == "note_on" and m.velocity > 0:
            started[m.note] = tick
        elif m.type in ("note_on", "note_off") and m.note in started:
            recorded.append((tick, tick - started.pop(m.note)))
    assert started == {}
    cut = max(tick for tick, _ in recorded)  # the stop ends what sounds at once
    shortest = OUT_TICKS_PER_BEAT // 8 - 1  # a 32nd, to a tick
    assert len(recorded) > 20 and all(n >= shortest for tick, n in recorded if tick < cut)


def test_stop_ends_a_note_whose_note_off_is_deferred():
    e = engine(Script(steps={4: "strike"}))
    o = e.lookahead
    e.start(0)
    e.poll(o + 4 * STEP - e.lookahead)  # step 4 decided: the note starts at o + 4 * STEP
    e.receive(o + 4 * STEP + 400, NOTE_ON, 72, 100)
    e.poll(o + 4 * STEP + 400)  # re-decided without it: its note-off waits for the 32nd
    assert e.metrics().accomp_sounding == 1
    e.stop(o + 4 * STEP + 500)
    assert e.metrics().accomp_sounding == 0 and e.accomp_synth.take_flush()
    while e.accomp_midi.pop() is not None:  # what MIDI out had queued (its flush drops it)
        pass
    e.start(o + 5 * STEP)
    e.poll(o + 5 * STEP)  # nothing deferred survives the stop: no note-off turns up later
    assert e.accomp_midi.pop() is None


class Every16th:
    """Strikes ``KEY`` on every step (its velocity is what these tests read)."""

    def step(self, step, lead, beat_in_bar):
        out = np.zeros_like(lead)
        out[:, KEY] = 1
        return out

    redo = step


def test_velocity_follows_the_lead_and_the_beat():
    e = engine(Every16th(), accomp_velocity=72)
    o = e.lookahead
    loud = [(o + k * STEP - 300, 100 + k % 20) for k in range(16, 32, 2)]  # bar 2: forte (after a silent bar)
    soft = [(o + k * STEP - 300, 40) for k in range(48, 64, 2)]  # bar 4: piano
    lead = sorted(ev for t, v in loud + soft for ev in [(t, NOTE_ON, 72, v), (t + 1000, NOTE_OFF, 72, 0)])
    run = run_offline(e, lead, seconds=(o + 72 * STEP) / SR)
    v = {(t - o) // STEP: vel for t, kind, _, vel in accomp_events(run) if kind == NOTE_ON and vel > 0}
    assert v[4] == 72 and v[0] > v[4] > v[1]  # before any lead note: the setting, accented by the beat
    assert v[0] - v[4] >= 3 and v[4] - v[1] >= 3 and v[2] < v[4] and v[3] < v[4]
    assert v[32] > v[0] and v[36] > v[4] and v[37] > v[5]  # the lead played loud: louder
    assert v[36] < 100  # ... still under the lead
    assert v[64] < v[32] and v[68] < v[36] and v[69] < v[37]  # the lead played soft: softer
    assert v[64] > v[68] > v[69] and min(v.values()) >= 1 and max(v.values()) <= 127


def test_the_latency_log_and_metrics_say_when_the_chord_plan_was_revised():
    for revise in (False, True):
        e = engine(Script(steps={4: "strike"}, redos={4: ["hold"]}, revise=revise))
        o = e.lookahead
        late = o + 4 * STEP + 480
        run_offline(e, [(late, NOTE_ON, 72, 100), (late + STEP, NOTE_OFF, 72, 0)], seconds=1.0)
        row = e.latency.rows()[0]
        assert e.latency.count == 1 and row["note"] == late and row["redo"] and row["revised"] == revise
        assert e.metrics().plan_revisions == int(revise)


def test_a_player_without_a_revised_flag_never_counts_as_revising():
    class Plain:
        def step(self, step, lead, beat_in_bar):
            return np.zeros_like(lead)

        redo = step

    e = engine(Plain())
    late = e.lookahead + 4 * STEP + 480
    run_offline(e, [(late, NOTE_ON, 72, 100), (late + STEP, NOTE_OFF, 72, 0)], seconds=1.0)
    assert e.redos == 1 and e.metrics().plan_revisions == 0 and not e.latency.rows()[0]["revised"]


def test_panic_then_stop_in_the_same_block_keeps_the_panics_note_offs_in_the_recording(tmp_path):
    e = engine(Script(steps={4: "strike", 5: "hold", 6: "hold", 7: "hold"}))
    rec = Recorder(e.transport, e.record, midi_path=tmp_path / "r.mid")
    o = e.lookahead
    e.start(0)
    e.poll(o + 4 * STEP)  # the note starts at o + 4 * STEP
    panic = o + 4 * STEP + 2000
    e.set_player(e.player, panic)  # panic: every note ends at the first block not rendered yet
    e.stop(panic + 10)  # and the stop comes before that block: its cut is the same
    rec.poll()
    rec.frames_written = o + 8 * STEP  # the recording runs on past the cut
    rec.close()
    track = mido.MidiFile(tmp_path / "r.mid").tracks[2]
    ticks = np.cumsum([m.time for m in track])
    ends = [tick for tick, m in zip(ticks, track) if m.type == "note_off" or (m.type == "note_on" and m.velocity == 0)]
    beats_at_cut = e.transport.beats_since_origin(e.scheduler.earliest(panic))
    assert ends == [round(beats_at_cut * OUT_TICKS_PER_BEAT)]


class Guessing:
    """A chord planner's player in miniature: at a beat's first step it may still change its
    chord (``may_revise``); decided without the beat's lead note it strikes key ``GUESS``
    (the chord it guessed), re-decided with the note key ``KEY`` (the chord the note asks
    for). Off the beat it holds what sounds."""

    GUESS = KEY + 2

    def __init__(self):
        self.chosen = None

    def may_revise(self, step, beat_in_bar):
        return beat_in_bar % 4 == 0

    def step(self, step, lead, beat_in_bar, *, key=None):
        out = np.zeros_like(lead)
        if step >= 4:
            if beat_in_bar % 4 == 0:
                self.chosen = key if key is not None else (KEY if lead[ONSET].any() else self.GUESS)
            out[SUSTAIN, self.chosen] = 1
            out[ONSET, self.chosen] = beat_in_bar % 4 == 0
        return out

    def redo(self, step, lead, beat_in_bar):
        return self.step(step, lead, beat_in_bar, key=KEY)


def notes_by_pitch(run):
    """{pitch: [(start, end)]} of the accompaniment as MIDI out sends it."""
    events = accomp_events(run)
    assert [t for t, *_ in events] == sorted(t for t, *_ in events)
    out = {}
    started = {}
    for t, kind, pitch, velocity in events:
        if kind == NOTE_ON and velocity > 0:
            started[pitch] = t
        elif pitch in started:
            out.setdefault(pitch, []).append((started.pop(pitch), t))
    for pitch, t in started.items():  # still sounding at the stop (its cut is a flush, not a note-off)
        out.setdefault(pitch, []).append((t, None))
    return out


def test_a_beat_whose_chord_may_change_waits_for_its_late_note_instead_of_sounding_the_guess():
    e = engine(Guessing(), chord_wait_ms=20.0)
    o = e.lookahead
    late = o + 4 * STEP + round(0.008 * SR)  # 8 ms late: inside the wait
    run = run_offline(e, [(late, NOTE_ON, 72, 100), (late + 2 * STEP, NOTE_OFF, 72, 0)], seconds=(o + 7 * STEP) / SR)
    notes = notes_by_pitch(run)
    assert PITCH + 2 not in notes  # the guessed chord never sounded
    (start, end), = notes[PITCH]
    assert late <= start < late + 2 * e.block and e.redos == 1 and e.scheduler.waited_out == 0


def test_a_beat_without_a_lead_note_strikes_its_notes_when_the_wait_ends():
    e = engine(Guessing(), chord_wait_ms=20.0)
    o = e.lookahead
    run = run_offline(e, [], seconds=(o + 6 * STEP) / SR)
    (start, end), = notes_by_pitch(run)[PITCH + 2]
    wait = round(0.020 * SR)
    assert o + 4 * STEP + wait <= start < o + 4 * STEP + wait + 2 * e.block
    assert e.scheduler.waited_out == 1 and e.redos == 0


def test_what_sounds_goes_on_through_a_wait_and_off_beat_steps_never_wait():
    e = engine(Guessing(), chord_wait_ms=20.0)
    o = e.lookahead
    run = run_offline(e, [], seconds=(o + 14 * STEP) / SR)
    notes = notes_by_pitch(run)[PITCH + 2]
    # struck at steps 4, 8 and 12 (each after the wait), held in between: the note struck at 4
    # rings through step 8's wait until step 8's strike ends it
    wait = round(0.020 * SR)
    assert len(notes) == 3 and all(wait <= s - o - k * STEP < wait + 2 * e.block for (s, _), k in zip(notes, (4, 8, 12)))
    assert notes[0][1] == notes[1][0] and notes[1][1] == notes[2][0]
    assert e.scheduler.waited_out == 3


def test_no_wait_when_it_is_off_or_the_lead_note_came_before_the_decision():
    e = engine(Guessing(), chord_wait_ms=0.0)
    o = e.lookahead
    late = o + 4 * STEP + round(0.008 * SR)
    run = run_offline(e, [(late, NOTE_ON, 72, 100), (late + 2 * STEP, NOTE_OFF, 72, 0)], seconds=(o + 7 * STEP) / SR)
    notes = notes_by_pitch(run)
    assert notes[PITCH + 2] == [(o + 4 * STEP, o + 4 * STEP + STEP // 2)]  # the guess, for a 32nd, as before
    e = engine(Guessing(), chord_wait_ms=20.0)
    early = o + 4 * STEP - e.lookahead - 50  # heard before step 4 was decided
    run = run_offline(e, [(early, NOTE_ON, 72, 100), (early + 2 * STEP, NOTE_OFF, 72, 0)], seconds=(o + 7 * STEP) / SR)
    (start, _), = notes_by_pitch(run)[PITCH]
    assert start == o + 4 * STEP and e.redos == 0 and e.scheduler.waited_out == 0


class Hearing:
    """Plays nothing; keeps the lead keys each step's first decision saw held."""

    def __init__(self):
        self.held = {}

    def step(self, step, lead, beat_in_bar):
        self.held[step] = set(np.flatnonzero(lead[SUSTAIN]).tolist())
        return np.zeros_like(lead)

    redo = step


def test_the_keyboards_all_notes_off_lets_a_stuck_lead_key_up():
    player = Hearing()
    e = engine(player)
    o = e.lookahead
    lead = [(o + 2 * STEP, NOTE_ON, PITCH, 90),  # its note-off is lost
            (o + 8 * STEP, CONTROL, CC_ALL_NOTES_OFF, 0)]  # fmt: skip
    run_offline(e, lead, seconds=(o + 14 * STEP) / SR)
    assert all(KEY in player.held[s] for s in range(2, 8))
    assert all(KEY not in player.held[s] for s in range(9, 14))


def test_panic_lets_every_lead_key_up():
    player = Hearing()
    e = engine(player)
    o = e.lookahead
    e.start(0)
    e.receive(o + 2 * STEP, NOTE_ON, PITCH, 90)
    e.receive(o + 2 * STEP, NOTE_ON, PITCH + 4, 90)
    for t in range(0, o + 6 * STEP, e.block):
        e.poll(t)
    assert {KEY, KEY + 4} <= player.held[5]
    e.panic(o + 6 * STEP)
    for t in range(o + 6 * STEP, o + 12 * STEP, e.block):
        e.poll(t)
    assert all(not player.held[s] for s in range(8, 12))
