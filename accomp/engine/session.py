"""One playing session, built in one place: `accomp play`, `accomp render` and the window all
describe theirs as a :class:`SessionSpec` and hand it here, so whatever one can do the others can.

:func:`open_live` builds the engine, the accompanist (or takes one the window keeps warm),
the band, the chords (a chart, the arranger's split, the live planner) and the synth's parts,
and opens a :class:`~accomp.engine.live.LiveSession` on the devices. :func:`render` runs the
same session offline in simulated time over a lead (a MIDI file or a recording, or none: a
chart alone) and writes what it played.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from accomp.config import DEFAULT_SPEC
from accomp.engine.live import LiveSession, LiveSettings
from accomp.engine.progress import Progress
from accomp.errors import AccompError, MidiFileError, SettingsError
from accomp.music.band import Band, band_from_header, drums_choice
from accomp.music.charts import Chart
from accomp.music.keys import HEARD, KeyHint
from accomp.synth.soundfont import DEFAULT_PARTS, PartSound

DEFAULT_TEMPO = 100.0  # bpm, when neither the user nor a chart says
PART_NAMES = tuple(p.name for p in DEFAULT_PARTS)  # lead, accomp, click, bass, drums: the engine's order


@dataclass(frozen=True)
class BandChoice:
    """The rhythm section as asked over the preset's own (each None: as the preset says)."""

    bass: bool | None = None
    drums: str | None = None  # a pattern name, or "off"
    bass_program: int | None = None

    def __post_init__(self) -> None:
        drums_choice(self.drums)

    def over(self, band: Band) -> Band:
        if self.bass is not None:
            band = replace(band, bass=self.bass)
        if self.drums is not None:
            band = replace(band, drums=drums_choice(self.drums))
        if self.bass_program is not None:
            band = replace(band, bass_program=self.bass_program)
        return band


@dataclass(frozen=True)
class SessionSpec:
    """Everything a session plays with, checked here once. ``live`` holds the devices and the
    inputs; an offline run takes only its sample rate, block, soundfont, listening and follow."""

    preset: str | Path | None = None  # a name (bundled or the user's) or a file; None: open_live is given a player
    seed: int = 0
    device: str = "cpu"  # torch device for the model
    threads: int = 1  # CPU threads for the model
    guard: float | None = None  # None: the preset's guard strength
    grace_ms: float = 30.0
    tempo: float | None = None  # None: the chart's, else the lead's (offline), else DEFAULT_TEMPO
    meter: tuple[int, int] | None = None  # over a chart's and a MIDI lead's; None: the chart's, else the lead's (offline), else 4/4
    count_in: int = 1  # bars
    click: bool = True  # the metronome after the count-in
    midi_clock: bool = False
    chart: Chart | None = None  # the chords come from this chart (looping), not the planner
    split_key: int | None = None  # arranger mode: keys below this one name the chord
    whole_song: bool = False  # offline: chords planned from the whole lead (the bidirectional planner)
    key: str | None = None  # --key: the song's key (e.g. F#m); "heard": not even a MIDI lead's key signature
    band: Band | BandChoice = field(default_factory=BandChoice)  # a BandChoice: over the preset's band
    parts: tuple[PartSound, ...] = DEFAULT_PARTS  # the synth's parts; the bass plays the band's program
    accomp_program: int | None = None  # None: the preset's instrument, else the parts' accomp program 0
    live: LiveSettings = field(default_factory=LiveSettings)

    def __post_init__(self) -> None:
        if self.chart is not None and self.whole_song:
            raise SettingsError("--chart and --whole-song both choose the chords: use one")
        if self.split_key is not None and (self.chart is not None or self.whole_song):
            raise SettingsError(f"--split and --{'chart' if self.chart is not None else 'whole-song'} both choose the chords: use one")
        if tuple(p.name for p in self.parts) != PART_NAMES:
            raise SettingsError(f"the synth's parts must be {', '.join(PART_NAMES)}, in that order")
        if self.accomp_program is not None:
            _checked(lambda: replace(self.parts[1], program=self.accomp_program))
        if self.key is not None and self.key != HEARD:
            KeyHint.parse(self.key)
        if self.threads < 1:
            raise SettingsError(f"--threads {self.threads}: the model needs 1 CPU thread or more")
        cores = os.cpu_count() or 1
        if self.threads > cores:  # 1000 threads on 2 cores made each step 400 ms: no band
            raise SettingsError(f"--threads {self.threads}: this machine runs {cores} threads at once; give 1..{cores}")

    def key_hint(self, signature: KeyHint | None = None) -> KeyHint | None:
        """What the band is told of the key before the lead comes in: ``--key``'s, else the MIDI
        lead's key ``signature`` (:func:`lead_events` reads it), else nothing (it hears the key)."""
        if self.key == HEARD:
            return None
        return KeyHint.parse(self.key) if self.key is not None else signature

    @property
    def sample_rate(self) -> int:
        return self.live.audio.sample_rate

    @property
    def block_frames(self) -> int:
        return self.live.audio.block_frames

    def transport(self, *, tempo: float | None = None, meter: tuple[int, int] | None = None, count_in: int | None = None,
                  click: bool | None = None):  # fmt: skip
        """The transport settings: the spec's, the chart's where it names none, else the given
        ones (a lead's), else the defaults; a keyword given here replaces the spec's count-in or click."""
        from accomp.engine.transport import TransportSettings

        chart = self.chart
        bpm = self.tempo if self.tempo is not None else chart.tempo if chart is not None else tempo
        return _checked(lambda: TransportSettings(
            tempo=float(bpm if bpm is not None else DEFAULT_TEMPO),
            meter=self.meter or (chart.meter if chart is not None else meter) or (4, 4),
            count_in_bars=self.count_in if count_in is None else count_in, click=self.click if click is None else click,
            midi_clock=self.midi_clock))  # fmt: skip

    def engine(self, transport):
        """A new :class:`~accomp.engine.engine.Engine` with this spec's settings and ``transport``."""
        from accomp.engine.engine import Engine, EngineSettings

        return Engine(_checked(lambda: EngineSettings(sample_rate=self.sample_rate, block_frames=self.block_frames,
                                                      transport=transport, grace_ms=self.grace_ms, spec=DEFAULT_SPEC,
                                                      split_key=self.split_key)))  # fmt: skip

    def band_for(self, header: dict | None) -> Band:
        """The rhythm section: the spec's, or its choice over what the preset (``header``) names."""
        return self.band if isinstance(self.band, Band) else self.band.over(band_from_header(header))

    def parts_for(self, header: dict | None, band: Band) -> tuple[PartSound, ...]:
        """The synth's parts: the accompaniment's instrument is the spec's, else the preset's;
        the bass plays the band's."""
        from accomp.model.preset import accomp_program

        lead, accomp, click, bass, drums = self.parts
        program = self.accomp_program if self.accomp_program is not None else (accomp_program(header) or 0)
        return lead, replace(accomp, program=program), click, replace(bass, program=band.bass_program), drums


def _checked(make):
    """``make()``, its ValueError a one-line SettingsError."""
    try:
        return make()
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def load_accompanist(spec: SessionSpec, bar_steps: int):
    """The spec's preset as an :class:`~accomp.engine.accompanist.Accompanist`, warmed up (slow)."""
    import torch

    from accomp.engine.accompanist import Accompanist

    torch.set_num_threads(spec.threads)
    accompanist = Accompanist.from_preset(spec.preset, device=spec.device, bar_steps=bar_steps, seed=spec.seed,
                                          guard=spec.guard)  # fmt: skip
    accompanist.warm_up()
    return accompanist


def _with_player(spec: SessionSpec, engine, player=None, key: KeyHint | None = None):
    """Put the step player in ``engine`` (``player`` started afresh, else the spec's preset
    loaded), the key it is told, its chords (the chart's, or none held) and the band; returns the band."""
    bar_steps = engine.transport.steps_per_bar
    if player is None:
        player = load_accompanist(spec, bar_steps)
    else:
        player.restart(bar_steps)
    set_meter = getattr(player, "set_meter", None)  # a step player without a planner has no beats to keep
    if set_meter is not None:
        set_meter(engine.transport.settings.meter)
    if hasattr(player, "tell_key"):  # a step player without a planner has no key to be told
        player.tell_key(key)
    player.play_chart(spec.chart.per_beat() if spec.chart is not None else None)
    player.hold_chord(None)
    engine.player = player
    band = spec.band_for(player.header)
    engine.set_band(band, 0)
    return band


def open_live(spec: SessionSpec, player=None) -> LiveSession:
    """Build the session and open every device; a :class:`LiveSession` that plays.

    ``player``: a warmed-up step player to start afresh (the window keeps its preset loaded
    between plays: it needs ``restart(bar_steps)``); None loads ``spec.preset``. Following
    the player with no count-in waits for the first note."""
    waits = spec.live.follow is not None and spec.live.follow.wait_for_player
    engine = spec.engine(spec.transport(count_in=0 if waits else None))
    band = _with_player(spec, engine, player, spec.key_hint())
    session = LiveSession(engine, spec.live, parts=spec.parts_for(engine.player.header, band))
    session.start()
    return session


# ----------------------------------------------------------------------------- offline


@dataclass(frozen=True)
class RenderOutputs:
    """Where an offline run writes: MIDI (tracks lead and accomp), and optionally audio and the
    lead sheet of the chords the band played."""

    midi: Path
    wav: Path | None = None
    chords: Path | None = None


@dataclass(frozen=True)
class RenderResult:
    seconds: float  # of music (or of the recording) played
    took: float  # wall-clock seconds
    engine: object  # the engine, for its metrics
    heard: object | None = None  # a recording's analyser (HeardAudio), when the lead was audio
    start_tempo: float | None = None  # a recording's starting tempo
    key: KeyHint | None = None  # the key the band was told


def lead_events(path: str, sample_rate: int, origin: int):
    """The lead of any MIDI file as timed note messages, unquantised (as a player plays them).

    Returns ``(events, tempo_changes, meter, seconds, bpm, signature)``: events ``(sample,
    status, pitch, velocity)`` sorted, tempo changes ``(sample, bpm)`` after the first, the first
    meter, the length of the lead in seconds, the first tempo, and the key the file's key
    signature names for the lead (the last one at or before its first note;
    :meth:`KeyHint.signature`: C major / A minor, the default, names none).
    """
    import numpy as np

    from accomp.model.pieces import lead_track
    from accomp.music.frames import beats_to_seconds
    from accomp.realtime.notes import NOTE_OFF, NOTE_ON

    score, lead = lead_track(path)
    tpb = score.ticks_per_beat
    tempos = [(t / tpb, us) for t, us in score.tempos]

    def sample(tick: int) -> int:
        return origin + round(float(beats_to_seconds(np.array([tick / tpb]), tempos)[0]) * sample_rate)

    events = []
    for n in lead.notes:
        events.append((sample(n.start), NOTE_ON, n.pitch, max(1, n.velocity)))
        events.append((sample(n.end), NOTE_OFF, n.pitch, 0))
    events.sort(key=lambda e: (e[0], e[1] == NOTE_ON))  # note-offs first at the same sample
    changes = [(sample(t), 60e6 / us) for t, us in score.tempos[1:]]
    _, num, den = score.meters[0]
    seconds = (sample(max(n.end for n in lead.notes)) - origin) / sample_rate
    first = lead.notes[0].start if lead.notes else 0
    names = [name for tick, name in score.keys if tick <= first]
    signature = KeyHint.signature(names[-1]) if names else None
    return events, changes, (num, den), seconds, 60e6 / score.tempos[0][1], signature


def _plan_whole_song(accompanist, lead_path: str, bar_steps: int, key: KeyHint | None) -> None:
    """Give the accompanist the chords planned from the whole lead (Planner.song_plan), in ``key`` if told one."""
    import numpy as np

    from accomp.model.pieces import read_lead

    if accompanist.harmony.planner is None:
        raise SettingsError("--whole-song needs a preset that follows a chord plan (this one's teacher has none)")
    piece = read_lead(lead_path, DEFAULT_SPEC)
    beat = np.arange(piece.n_steps) % bar_steps
    accompanist.fixed_plan = accompanist.harmony.planner.song_plan(piece.tracks["lead"], beat, accompanist.steps_per_beat,
                                                                   accompanist.style, key)  # fmt: skip


def render(spec: SessionSpec, lead: str | None, out: RenderOutputs) -> RenderResult:
    """Accompany ``lead`` (a MIDI file, a recording, or None: the chart alone, once through)
    in simulated time through the live engine; writes ``out``."""
    from accomp.engine.transport import TransportSettings
    from accomp.listen.offline import is_audio_file

    if lead and is_audio_file(lead):
        if spec.whole_song:  # it was ignored: the recording is heard as it plays, as live
            raise SettingsError(f"--whole-song plans the chords from a MIDI melody; {lead} is a recording, heard as it "
                                "plays: render it once without --whole-song (-o heard.mid), then heard.mid with it")
        return _render_audio(spec, lead, out)
    chart = spec.chart
    sr = spec.sample_rate
    if lead:
        probe = spec.engine(TransportSettings(count_in_bars=0, click=False))
        events, tempo_changes, meter, seconds, bpm, signature = lead_events(lead, sr, probe.lookahead)
        if chart is not None and spec.meter is None and tuple(meter) != chart.meter:
            raise SettingsError(f"{chart.source} is in {chart.meter[0]}/{chart.meter[1]} but {lead} in {meter[0]}/{meter[1]}; "
                               "--meter N/D plays both in one")
    elif chart is not None:  # the chart alone, once through: a backing track
        signature = None
        bpm = spec.tempo or chart.tempo or DEFAULT_TEMPO
        events, tempo_changes, meter, seconds = [], [], chart.meter, len(chart.per_beat()) * 240.0 / (chart.meter[1] * bpm)
    else:
        raise SettingsError("render needs a LEAD file (MIDI or a recording), or --chart FILE to play a chart alone")
    meter = spec.meter or meter  # --meter over the file's or the chart's own
    try:
        transport = TransportSettings(tempo=bpm, meter=meter, count_in_bars=0, click=False)
    except ValueError as exc:
        raise MidiFileError(f"{lead}: {exc}; --meter N/D plays it in another") from None
    engine = spec.engine(transport)
    key = spec.key_hint(signature)
    band = _with_player(spec, engine, key=key)
    if spec.whole_song:
        _plan_whole_song(engine.player, lead, engine.transport.steps_per_bar, key)
    music = seconds + 60.0 / bpm
    took = _run(spec, engine, band, out, "playing", music, events, tempo_changes=tempo_changes)
    return RenderResult(music, took, engine, key=key)


def _render_audio(spec: SessionSpec, lead: str, out: RenderOutputs) -> RenderResult:
    """A recording as the lead: heard through the live listening path, block by block."""
    import numpy as np

    from accomp.listen.follow import Follower
    from accomp.listen.offline import HeardAudio, RecordingStream, WithInput, check_audio, estimate_tempo

    sr, block, listen = spec.sample_rate, spec.block_frames, spec.live.listen
    length = check_audio(lead, sr)
    tempo = spec.tempo
    if tempo is None:
        probe = HeardAudio(RecordingStream(lead, sr), sr, block, listen)
        for b in range(block, min(length, 20 * sr) + block, block):
            probe(b)
        tempo = estimate_tempo(np.array(probe.analyzer.onset_times), sr) or 100.0
    engine = spec.engine(replace(spec, tempo=tempo).transport(count_in=0, click=False))
    if spec.live.follow is not None:
        engine.follower = Follower(engine, spec.live.follow)
    band = _with_player(spec, engine, key=spec.key_hint())
    heard = HeardAudio(RecordingStream(lead, sr), sr, block, listen)
    seconds = length / sr + 0.5
    took = _run(spec, engine, band, out, "listening", seconds, [], heard=heard,
                with_input=lambda synth: WithInput(synth, RecordingStream(lead, sr)))  # fmt: skip
    return RenderResult(seconds, took, engine, heard=heard, start_tempo=tempo)


def _run(spec: SessionSpec, engine, band: Band, out: RenderOutputs, what: str, seconds: float, events, *,
         tempo_changes=(), heard=None, with_input=None) -> float:  # fmt: skip
    """Run the engine offline for ``seconds``, recording to ``out``; the wall-clock time it took."""
    from accomp.engine.offline import run_offline
    from accomp.engine.recorder import Recorder

    sr, block = spec.sample_rate, spec.block_frames
    if out.chords is not None:
        engine.player.chord_log = []
    parts = spec.parts_for(engine.player.header, band)
    synth = None
    if out.wav is not None:
        from accomp.synth.soundfont import Synth

        synth = Synth(sr, block, engine.synth_inputs, parts, spec.live.soundfont)
        synth = with_input(synth) if with_input is not None else synth
    # The band's answers to a step come within its open window and the block after it: on the grid in the file.
    recorder = Recorder(engine.transport, engine.record, midi_path=out.midi, wav_path=out.wav, bass_program=band.bass_program,
                        accomp_program=parts[1].program, on_grid=engine.open_for + engine.block)  # fmt: skip
    started = time.perf_counter()
    progress = Progress(what, round(seconds * sr), sr)
    try:
        run_offline(engine, events, seconds, synth=synth, recorder=recorder, tempo_changes=tempo_changes,
                    keep_audio=False, heard=heard, progress=progress)  # fmt: skip
    finally:
        recorder.close()
    progress.done()
    took = time.perf_counter() - started
    if out.chords is not None:
        from accomp.files import write_text
        from accomp.music.charts import lead_sheet

        text = lead_sheet(engine.player.chord_log, engine.transport.steps_per_bar, engine.transport.steps_per_click)
        try:
            write_text(out.chords, text + "\n")
        except OSError as exc:
            raise AccompError(f"{out.chords}: cannot write ({exc.strerror or exc})") from None
    return took
