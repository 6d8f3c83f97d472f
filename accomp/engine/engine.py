"""The engine: lead input -> grid steps -> a step player -> note events ahead of their time.

One code path for live play and simulated time. Whoever drives the engine (the live worker
thread in :mod:`accomp.engine.live`, or the offline loop in :mod:`accomp.engine.offline`)
calls :meth:`Engine.poll` with the current sample time, whenever lead input has arrived
and at the latest at the sample :meth:`Engine.poll` returned. The only time the engine reads
is the sample clock it is given (live: the one the audio callback drives, to know how long
a model step took; offline: none, a step takes no simulated time), which is what makes
simulated time exact and deterministic.

:class:`Engine` composes parts with one job each, and keeps their rings and counters
where its callers read them:

- :class:`~accomp.engine.lead.LeadInput`: the MIDI and heard lead rings merged in time
  order, onset slots for the steps to come, the open step's lead frame (a late onset in the
  grace window re-decides it), retracted guesses, arranger chords, the lead's dynamics;
- :class:`~accomp.engine.scheduler.Scheduler`: steps decided ``lookahead`` ahead and
  re-decided while open, the player, the rhythm section, chord markers, the metronome, the
  step timings and the :class:`~accomp.engine.latency.LatencyLog`;
- :class:`~accomp.engine.voice.AccompVoice` (the scheduler's): a decided frame to note
  events, no note shorter than a 32nd.

Grid step timing, the grace window and the dynamics are described in
:mod:`accomp.engine.scheduler`; what counts for which step in :mod:`accomp.engine.lead`.
In follow mode a :class:`~accomp.listen.follow.Follower` sees every lead onset and steers the
transport; while it rests (the player went quiet), decisions are silent.

The engine is the only producer of its output rings and the only caller of the player.
Every sink (synth, MIDI out, recorder) keeps its own table of what it has sounded, so a
flush (stop, panic, preset switch) always ends every note.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accomp.engine.lead import LeadInput
from accomp.engine.parts import ACCOMP, BASS, CLICK, DRUMS, LEAD  # noqa: F401 - where callers import them
from accomp.engine.scheduler import ACCOMP_UNDER_LEAD, LOG_SIZE, Scheduler, StepPlayer
from accomp.engine.settings import EngineSettings
from accomp.engine.transport import Transport
from accomp.music.band import Band
from accomp.music.chords import NO_CHORD
from accomp.realtime.rings import EventRing


def _part(part: str, name: str, *, settable: bool = False) -> property:
    """Attribute ``name`` of the engine's ``part``, read (and set) on the engine, where its
    callers find it."""

    def get(self):
        return getattr(getattr(self, part), name)

    def put(self, value) -> None:
        setattr(getattr(self, part), name, value)

    return property(get, put if settable else None, doc=f"``{part}.{name}``")


@dataclass
class EngineMetrics:
    """A snapshot for the GUI and the end-of-play summary."""

    steps: int
    redos: int
    lead_notes: int
    late_lead_notes: int  # arrived after their step closed: counted for the next step
    lead_corrections: int  # heard notes whose first guess was taken back
    step_ms_p50: float
    step_ms_p99: float
    step_ms_max: float
    ring_overflows: int
    accomp_sounding: int
    plan_revisions: int = 0  # re-decisions after which the player said it changed its chord plan
    chord_waits_out: int = 0  # beats whose new notes waited for a lead note or a left-hand chord that did not come


class Engine:
    def __init__(self, settings: EngineSettings, player: StepPlayer | None = None, clock=None) -> None:
        self.settings = settings
        sr = settings.sample_rate
        self.transport = Transport(settings.transport, sr)
        self.block = settings.block_frames
        # A step is decided before the block that holds it starts rendering, by lookahead_ms.
        self.lookahead = self.block + round(settings.lookahead_ms * sr / 1000)
        self.grace = round(settings.grace_ms * sr / 1000)
        self.open_for = self.grace + round(settings.heard_grace_ms * sr / 1000)  # a step is open this long after it began
        self.slack = round(settings.slack_ms * sr / 1000)
        self.chord_wait = min(self.grace, round(settings.chord_wait_ms * sr / 1000))
        self.record = EventRing(settings.ring_capacity)  # engine -> recorder (every part, the chords)
        self.recording = True  # False: nobody drains ``record`` (a live session without a recorder)
        level = settings.accomp_velocity / ACCOMP_UNDER_LEAD  # the lead's running level before its first note
        self.lead = LeadInput(settings, self.transport, self.grace, level, self._record, self._hold_chord)
        self.scheduler = s = Scheduler(settings, self.transport, self.lead, self._record, lookahead=self.lookahead,
                                       open_for=self.open_for, slack=self.slack, chord_wait=self.chord_wait)  # fmt: skip
        s.player = player
        # Live, the sample clock: a decision is scheduled from the time after the model step
        # ran, not before it. Offline (None) a step takes no simulated time.
        s.clock = clock
        self.lead_in, self.heard_in, self.lead_monitor = self.lead.midi_in, self.lead.heard_in, self.lead.monitor
        self.accomp_synth, self.accomp_midi = s.accomp_synth, s.accomp_midi
        self.click_synth, self.clock_midi = s.click_synth, s.clock_midi
        self.band_synth, self.band_midi = s.band_synth, s.band_midi
        self.synth_inputs = (self.lead_monitor, self.accomp_synth, self.click_synth, self.band_synth)
        self.midi_out_inputs = (self.accomp_midi, self.band_midi, self.clock_midi)
        self.latency = s.latency  # per lead onset taken into account: when it was heard

    # ------------------------------------------------------------------ the parts' state, where callers read it

    player = _part("scheduler", "player", settable=True)
    clock = _part("scheduler", "clock", settable=True)
    resting = _part("scheduler", "resting", settable=True)  # a follower sets it
    follower = _part("lead", "follower", settable=True)
    rhythm = _part("scheduler", "rhythm")
    redos = _part("scheduler", "redos")
    plan_revisions = _part("scheduler", "plan_revisions")
    named_chord = _part("lead", "named_chord")
    lead_notes = _part("lead", "lead_notes")
    late_lead_notes = _part("lead", "late_lead_notes")
    lead_corrections = _part("lead", "lead_corrections")

    # ------------------------------------------------------------------ input (any producer)

    def receive(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead MIDI message stamped with its sample time (the MIDI input's one producer)."""
        self.lead.receive(time, status, data1, data2)

    def receive_heard(self, time: int, status: int, data1: int, data2: int) -> None:
        """A lead note (or a PULSE) the audio analysis heard (its one producer): stamped with
        the sample it began, delivered when the analyser could tell."""
        self.lead.receive_heard(time, status, data1, data2)

    # ------------------------------------------------------------------ control

    def start(self, now: int) -> None:
        """Start the transport (a follower waiting for the player's first note starts it then)."""
        if self.follower is not None and self.follower.state == "waiting":
            return
        self.start_at(now + self.lookahead)

    def start_at(self, sample: int) -> None:
        """Start the transport with the count-in's first step (or step 0) at ``sample``."""
        self.scheduler.start_at(sample)

    def set_band(self, band: Band, now: int) -> None:
        """Change the rhythm section (bass, drums, feel): while playing, its notes so far all end first."""
        self.scheduler.set_band(band, now)

    def set_player(self, player: StepPlayer | None, now: int) -> None:
        """Switch the player (a preset switch): its predecessor's notes all end first."""
        self.scheduler.end(now)
        set_meter = getattr(player, "set_meter", None)  # a player swapped in mid-play keeps the band's beats
        if set_meter is not None and player is not self.scheduler.player:
            set_meter(self.transport.settings.meter)
        self.scheduler.player = player
        self.lead.close()
        if self.lead.named_chord != NO_CHORD and hasattr(player, "hold_chord"):
            player.hold_chord(self.lead.named_chord)

    def panic(self, now: int) -> None:
        """End every sounding note now and let every lead key up (the transport keeps running):
        a stuck note neither sounds nor goes on being harmonized."""
        self.set_player(self.player, now)
        self.release_lead()
        self.click_synth.request_flush()

    def release_lead(self) -> None:
        """Every lead key up, and the player's own notes on the synth end (a keyboard unplugged
        with keys down, a panic)."""
        self.lead.release_held()
        self.lead_monitor.request_flush()

    def stop(self, now: int) -> None:
        """Stop the transport and end every note this engine scheduled (sinks flush)."""
        self.scheduler.stop(now)
        self.lead_monitor.request_flush()
        self.lead.close()

    # ------------------------------------------------------------------ the one code path

    def poll(self, now: int) -> int:
        """Do everything due at sample ``now``; returns the sample of the next thing due."""
        self.lead.drain(now)
        follower = self.lead.follower
        if follower is not None:
            follower.update(now)
        return self.scheduler.poll(now)

    def _hold_chord(self, chord: int) -> bool:
        """Arranger mode: the chord the left hand named, to the player (False: it takes none)."""
        hold = getattr(self.scheduler.player, "hold_chord", None)
        if hold is None:
            return False
        hold(chord)
        return True

    def _record(self, at: int, part: int, status: int, data1: int, data2: int) -> None:
        if self.recording:
            self.record.push(at, part, status, data1, data2)

    # ------------------------------------------------------------------ metrics

    def metrics(self) -> EngineMetrics:
        s, lead = self.scheduler, self.lead
        n = min(s.n_steps, LOG_SIZE)
        ms = np.sort(s.step_s[:n]) * 1000 if n else np.zeros(1)
        rings = (self.lead_in, self.heard_in, self.lead_monitor, self.accomp_synth, self.click_synth,
                 self.accomp_midi, self.clock_midi, self.record, self.band_synth, self.band_midi)  # fmt: skip
        return EngineMetrics(
            steps=s.n_steps - s.redos,
            redos=s.redos,
            lead_notes=lead.lead_notes,
            late_lead_notes=lead.late_lead_notes,
            lead_corrections=lead.lead_corrections,
            step_ms_p50=float(np.percentile(ms, 50)),
            step_ms_p99=float(np.percentile(ms, 99)),
            step_ms_max=float(ms[-1]),
            ring_overflows=sum(r.overflows for r in rings),
            accomp_sounding=int(s.voice.sounding.sum()),
            plan_revisions=s.plan_revisions,
            chord_waits_out=s.waited_out,
        )
