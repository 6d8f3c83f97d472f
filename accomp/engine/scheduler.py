"""The engine's scheduler: grid steps decided ahead of their time, and re-decided.

Per grid step ``k`` (starting at sample ``S_k``):

1. At ``S_k - lookahead`` the scheduler takes the lead frame of step ``k`` from the lead input
   (:meth:`~accomp.engine.lead.LeadInput.open`) and asks the player for the accompaniment
   frame of step ``k``; its notes are scheduled at ``S_k`` (:class:`~accomp.engine.voice.AccompVoice`).
2. While the step is open (``open_for`` after it began: the grace window, and for a note
   heard in the audio input, which reaches the engine some time after it began, the heard
   grace too), a late lead onset re-decides it (:meth:`StepPlayer.redo`, from the state
   before step ``k``); what changed is scheduled at once: ``slack`` into the first block not
   rendered yet.
3. At a beat's first step whose chord the player may still change (it says so:
   ``may_revise``; the live chord planner decides a beat's chord with its first note), when
   that note has not come yet, the decision's new notes wait (``chord_wait``, at most the
   grace window): the notes sounding go on, and the first of the note's re-decision or the
   end of the wait strikes them. Without the wait, a late note's chord would follow a 32nd of
   the chord guessed before it (a note struck always sounds a 32nd): a smear of two chords
   on every change. In arranger mode a bar's first step waits the same way while the left
   hand is up (no key below the split point held) for the chord it presses a little after the
   beat, as hands do: a melody note on the beat re-decides the step but the wait goes on, and
   the chord, or the end of the wait, strikes it.

The only time the scheduler reads is the sample clock it is given (live: the one the audio
callback drives, to know how long a model step took; offline: none, a step takes no simulated
time). While the engine *rests* (a follower waits for the player), decisions are silent.

The rhythm section (:mod:`accomp.engine.rhythm`) is scheduled with each decided step, at the
same sample as its accompaniment, over the chord the player planned for the beat; a
re-decision that changes the chord changes the bass. The recording also gets the chords: a
``CHORD`` event at each beat whose chord differs from the one before (the take's markers).
The metronome (click to the synth, MIDI clock to MIDI out) is scheduled a little ahead.

Dynamics: the accompaniment plays ``ACCOMP_UNDER_LEAD`` (87 %) of the lead's running level
(:attr:`~accomp.engine.lead.LeadInput.level`), accented by where the step falls:
``DOWNBEAT_ACCENT`` louder on a bar's first step, ``OFFBEAT_SOFTER`` softer between beats,
clamped to 1..127.

Each decision and re-decision logs its model time (``LOG_SIZE`` kept) and one latency row per
lead onset it answered (:class:`~accomp.engine.latency.LatencyLog`).
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.engine.latency import LatencyLog
from accomp.engine.lead import LeadInput
from accomp.engine.parts import ACCOMP, CLICK, Record
from accomp.engine.rhythm import RhythmSection
from accomp.engine.settings import EngineSettings
from accomp.engine.transport import Metronome, Transport
from accomp.engine.voice import AccompVoice
from accomp.music.band import Band
from accomp.music.chords import NO_CHORD
from accomp.realtime.notes import CHORD
from accomp.realtime.rings import EventRing

LOG_SIZE = 4096  # recent step timings and lead-note latencies kept for the metrics
ACCOMP_UNDER_LEAD = 0.87  # the accompaniment's velocity against the lead's running level
DOWNBEAT_ACCENT = 6  # velocity added on the first step of a bar
OFFBEAT_SOFTER = 6  # velocity taken off steps between beats


class StepPlayer(Protocol):
    """Decides the accompaniment one grid step at a time (the accompanist implements it)."""

    def step(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """Accompaniment frame ``(2, K)`` uint8 of ``step`` given its lead frame ``(2, K)``."""

    def redo(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        """Decide the last step again, from the state before it, with an updated lead frame."""

    # Optional: ``chord`` (the chord index of the beat decided last, for the rhythm section
    # and the recording's chord markers), ``chord_after(step)`` (the next beat's, where
    # known in advance; None otherwise) and ``may_revise(step, beat_in_bar)`` (True: a late
    # lead onset may still change the step's chord, so its new notes wait for one).


class Scheduler:
    def __init__(self, settings: EngineSettings, transport: Transport, lead: LeadInput, record: Record, *,
                 lookahead: int, open_for: int, slack: int, chord_wait: int = 0) -> None:  # fmt: skip
        """``lookahead``: samples a step is decided before it starts; ``open_for``: samples it
        stays open after; ``slack``: how far into the first block not rendered yet a
        re-decision's notes go; ``chord_wait``: how long a beat whose chord may still change
        waits for its first lead note before its new notes sound."""
        self.settings = settings
        self.transport = transport
        self.lead = lead
        self._record = record
        self.lookahead, self.open_for, self.slack, self.chord_wait = lookahead, open_for, slack, chord_wait
        self.block = settings.block_frames
        self.player: StepPlayer | None = None
        self.clock = None  # live: the sample clock (a decision is scheduled from the time after the model step ran)
        self.resting = False  # True: decisions are silent (a follower waits for the player)
        cap = settings.ring_capacity
        self.accomp_synth = EventRing(cap)  # -> synth
        self.accomp_midi = EventRing(cap)  # -> MIDI out
        self.click_synth = EventRing(cap)  # -> synth
        self.clock_midi = EventRing(cap)  # -> MIDI out (MIDI clock, start, stop)
        self.band_synth = EventRing(cap)  # -> synth (bass and drums)
        self.band_midi = EventRing(cap)  # -> MIDI out (bass and drums)
        self.voice = AccompVoice(settings, transport, self.accomp_synth,
                                 self.accomp_midi if settings.midi_out_accomp else None, record)  # fmt: skip
        self.metronome = Metronome(transport)
        self.rhythm = self._rhythm_section(settings.band)
        self._marked = NO_CHORD  # the chord the recording was last told
        self._silence = np.zeros((2, settings.spec.n_keys), dtype=np.uint8)  # what a resting engine plays
        self._waiting = np.zeros((2, settings.spec.n_keys), dtype=np.uint8)  # a waiting step: its decided frame
        self._holding = np.zeros((2, settings.spec.n_keys), dtype=np.uint8)  # ... and what sounds meanwhile
        self.waiting_step: int | None = None  # the step whose new notes wait for its first lead note
        self._bass_lowest = -1  # the accompaniment's lowest pitch class at the step whose bass note waits
        self._for_hand = False  # ... or, in arranger mode, for the left hand's next chord
        self.waited_out = 0  # waits that ended without a lead note or chord (their notes sounded chord_wait late)
        self.step_s = np.zeros(LOG_SIZE, dtype=np.float64)  # model time of recent decisions
        self.n_steps = 0  # decisions and re-decisions
        self.redos = 0
        self.plan_revisions = 0  # re-decisions after which the player said it changed its chord plan
        self.latency = LatencyLog(LOG_SIZE)  # per lead onset taken into account: when it was heard

    # ------------------------------------------------------------------ control

    def start_at(self, sample: int) -> None:
        """Start the transport with the count-in's first step (or step 0) at ``sample``."""
        self.transport.start(sample)
        self.lead.next_step = -self.transport.count_in_steps
        self._marked = NO_CHORD

    def _rhythm_section(self, band: Band) -> RhythmSection:
        midi = self.band_midi if self.settings.midi_out_accomp else None
        return RhythmSection(band, self.transport, self.band_synth, midi, self._record)

    def set_band(self, band: Band, now: int) -> None:
        """Change the rhythm section: while playing, its notes so far all end first."""
        if self.transport.running:
            self.rhythm.end(self.unrendered(now))
            self.band_synth.request_flush()
            self.band_midi.request_flush()
        last_at, self.rhythm = self.rhythm._last_at, self._rhythm_section(band)
        self.rhythm._last_at = last_at  # its rings stay in time order

    def end(self, now: int) -> None:
        """End every accompaniment and rhythm-section note from the first block not rendered
        yet (the sinks flush what is still queued)."""
        cut = self.unrendered(now)
        self.waiting_step = None
        self.voice.end(cut)
        self.rhythm.end(cut)
        for ring in (self.accomp_synth, self.accomp_midi, self.band_synth, self.band_midi):
            ring.request_flush()

    def stop(self, now: int) -> None:
        """Stop the metronome and the transport, and end every note."""
        self.metronome.stop(now, self._push_clock)
        self.transport.stop()
        self.end(now)
        self.click_synth.request_flush()

    # ------------------------------------------------------------------ per poll

    def poll(self, now: int) -> int:
        """Decide, re-decide and push what is due at ``now`` (the lead input drained);
        returns the sample of the next thing due."""
        t, lead = self.transport, self.lead
        if not t.running:
            return now + t.sample_rate
        while now >= t.step_sample(lead.next_step) - self.lookahead:
            self._decide(lead.next_step, now)
            lead.next_step += 1
        if lead.open_step is not None and now > t.step_sample(lead.open_step) + self.open_for:
            lead.close()
        if lead.redo_wanted:
            self._redo(now)
        if self.waiting_step is not None and now >= t.step_sample(self.waiting_step) + self.chord_wait:
            self._strike_waiting(now)
        if self.rhythm.bass_waits >= 0 and now >= t.step_sample(self.rhythm.bass_waits) + self.chord_wait:
            self._release_bass(now)
        self.voice.push_due(now + self.lookahead)
        self.rhythm.push_due(now + self.lookahead)
        horizon = now + self.lookahead + t.sample_rate // 100
        self.metronome.schedule(horizon, self._push_click, self._push_clock)
        due = min(self.voice.next_due(), self.rhythm.next_due())
        wake = min(t.step_sample(lead.next_step), horizon, due) - self.lookahead
        if lead.open_step is not None:
            wake = min(wake, t.step_sample(lead.open_step) + self.open_for + 1)
        if self.waiting_step is not None:
            wake = min(wake, t.step_sample(self.waiting_step) + self.chord_wait)
        if self.rhythm.bass_waits >= 0:
            wake = min(wake, t.step_sample(self.rhythm.bass_waits) + self.chord_wait)
        if lead.open_step is None and self.player is not None:  # no step can be re-decided now: work ahead
            ahead = getattr(self.player, "between_steps", None)
            if ahead is not None:
                ahead()
        return max(wake, now + 1)

    def _decide(self, step: int, now: int) -> None:
        if self.waiting_step is not None:  # a wait longer than a step (a very fast tempo) ends here
            self._strike_waiting(now)
        self._release_bass(now)
        lead = self.lead.open(step)
        self.voice.next_step()
        if self.player is None or step < 0:
            self.lead.pending.clear()
            return
        started = time.perf_counter()
        beat_in_bar = self.transport.beat_in_bar(step)
        frame = self.player.step(step, lead, beat_in_bar)
        frame = self._silence if self.resting else frame
        at = max(self.transport.step_sample(step), self.earliest(self._after(now)))
        played = frame
        for_hand = beat_in_bar == 0 and self.lead.chord_hand_up()  # arranger mode: the next chord is on its way
        for_note = not lead[ONSET].any() and self._may_revise(step, beat_in_bar)  # the planner: the beat's note is late
        may_change = self.chord_wait > 0 and (for_hand or for_note)
        if may_change and frame[ONSET].any():
            self._waiting[:] = frame
            self._holding[ONSET] = 0
            self._holding[SUSTAIN] = self.voice.sounding  # what sounds goes on, nothing new starts
            self.waiting_step, self._for_hand, played = step, for_hand, self._holding
        self._schedule(step, played, at, now, started, redo=False)
        self._with_band(step, frame, at, redo=False, bass_waits=may_change)

    def _may_revise(self, step: int, beat_in_bar: int) -> bool:
        ask = getattr(self.player, "may_revise", None)
        return ask is not None and ask(step, beat_in_bar)

    def _strike_waiting(self, now: int) -> None:
        """The wait ended without a lead note: the step's notes as decided, from now."""
        step, self.waiting_step = self.waiting_step, None
        self.waited_out += 1
        at = max(self.transport.step_sample(step) + self.chord_wait, self.earliest(self._after(now)) + self.slack)
        self.voice.play(step, self._waiting, at, self._velocity(step))

    def _release_bass(self, now: int) -> None:
        """The wait for a beat's lead note is over without one: the bass note that waited with it, from now."""
        step = self.rhythm.bass_waits
        if step < 0:
            return
        at = max(self.transport.step_sample(step) + self.chord_wait, self.earliest(self._after(now)) + self.slack)
        ahead = getattr(self.player, "chord_after", None)
        self.rhythm.release_bass(step, at, getattr(self.player, "chord", None), ahead(step) if ahead is not None else None,
                                 self._bass_lowest, self._velocity(step))  # fmt: skip

    def _redo(self, now: int) -> None:
        lead = self.lead
        lead.redo_wanted = False
        step = lead.open_step
        if self.player is None or step is None or step < 0:
            lead.pending.clear()
            return
        lead.open_redos += 1
        self.redos += 1
        started = time.perf_counter()
        frame = self.player.redo(step, lead.frame, self.transport.beat_in_bar(step))
        revised = bool(getattr(self.player, "revised", False))
        self.plan_revisions += revised
        frame = self._silence if self.resting else frame
        at = max(self.transport.step_sample(step), self.earliest(self._after(now)) + self.slack)
        played = frame
        if self.waiting_step == step and self._for_hand and self.lead.chord_hand_up():
            self._waiting[:] = frame  # a melody note: the left hand's chord is still to come
            played = self._holding
        else:
            self.waiting_step = None  # the note (or the chord) came: the re-decision strikes the step's notes
        self._schedule(step, played, at, now, started, redo=True, revised=revised)
        hand = self.transport.beat_in_bar(step) == 0 and self.lead.chord_hand_up()  # arranger mode: its chord is to come
        self._with_band(step, frame, at, redo=True, bass_waits=self.waiting_step == step or hand)

    def _schedule(self, step: int, frame: np.ndarray, at: int, now: int, started: float, *, redo: bool,
                  revised: bool = False) -> None:  # fmt: skip
        """The frame's notes at sample ``at``, and the decision's model time and latency rows."""
        compute = time.perf_counter() - started
        self.step_s[self.n_steps % LOG_SIZE] = compute
        self.n_steps += 1
        audible = self.voice.play(step, frame, at, self._velocity(step))
        pending = self.lead.pending
        for note_time, pitch in pending:
            self.latency.add(note_time, now, compute, at, audible, pitch, redo, revised)
        pending.clear()

    def _with_band(self, step: int, frame: np.ndarray, at: int, *, redo: bool, bass_waits: bool) -> None:
        """The step's chord to the recording (a marker where it changes) and the rhythm
        section's notes at ``at``, over the player's chord (see :mod:`accomp.engine.rhythm`);
        ``bass_waits``: the chord may still change with the beat's lead note, which the bass
        note waits for (at most the chord wait)."""
        if self.resting:
            return
        chord = getattr(self.player, "chord", None)
        t = self.transport
        if chord is not None and chord != self._marked:  # on the beat it was decided for, or where a left hand named it
            self._record(t.step_sample(step), ACCOMP, CHORD, int(chord), 0)
            self._marked = chord
        if not self.rhythm.playing:
            return
        ahead = getattr(self.player, "chord_after", None)
        next_chord = ahead(step) if ahead is not None else None
        lowest = self.voice.lowest(frame)
        self._bass_lowest = lowest
        if redo:
            self.rhythm.redo(step, at, chord, next_chord, lowest, self._velocity(step), bass_waits=bass_waits)
        else:
            self.rhythm.decide(step, at, chord, next_chord, lowest, self._velocity(step), self.lead.level * ACCOMP_UNDER_LEAD,
                               bass_waits=bass_waits)  # fmt: skip

    def _velocity(self, step: int) -> int:
        """The accompaniment's velocity at ``step``: under the lead's running level, accented
        on the bar's first step and softer between beats (see the module docstring)."""
        t = self.transport
        level = self.lead.level * ACCOMP_UNDER_LEAD
        in_bar = t.beat_in_bar(step)
        if in_bar == 0:
            level += DOWNBEAT_ACCENT
        elif in_bar % t.chord_beat:
            level -= OFFBEAT_SOFTER
        return min(127, max(1, round(level)))

    # ------------------------------------------------------------------ time

    def _after(self, now: int) -> int:
        return now if self.clock is None else max(now, self.clock.now())

    def unrendered(self, now: int) -> int:
        """The first sample not rendered yet: live, the block after the one holding the clock's
        now; offline, ``now`` rounded up to a block (the driver renders block ``b`` after the
        polls up to ``b``)."""
        if self.clock is None:
            return -(-now // self.block) * self.block
        return self.earliest(self._after(now))

    def earliest(self, now: int) -> int:
        """The first sample not rendered yet at ``now``: blocks start at multiples of the block
        size, and the block holding ``now`` was rendered when it began."""
        return (now // self.block + 1) * self.block

    def _push_click(self, at: int, status: int, data1: int, data2: int) -> None:
        self.click_synth.push(at, CLICK, status, data1, data2)

    def _push_clock(self, at: int, status: int, data1: int, data2: int) -> None:
        self.clock_midi.push(at, CLICK, status, data1, data2)
