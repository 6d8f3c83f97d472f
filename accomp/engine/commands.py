"""`accomp play` (live, headless) and `accomp render` (offline, simulated time; a MIDI lead or,
through :func:`render_audio`, an audio recording).

Both build the same :class:`~accomp.engine.engine.Engine` with an
:class:`~accomp.engine.accompanist.Accompanist` as its player; `play` drives it from the
sound card's clock, `render` from :func:`~accomp.engine.offline.run_offline`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from accomp.config import DEFAULT_SPEC, MIDI_SUFFIXES
from accomp.engine.progress import Progress
from accomp.errors import AccompError, AudioFileError, DeviceError, MidiFileError, SettingsError, check_output


DEFAULT_TEMPO = 100.0  # bpm, when neither the user nor a chart says


def _chart(args: argparse.Namespace):
    """The chart of ``--chart`` (transposed by ``--transpose``), or None; it gives the session
    its tempo and time signature where the user gave none."""
    path = getattr(args, "chart", None)
    if not path:
        return None
    from accomp.music.charts import read_chart

    if not -11 <= args.transpose <= 11:
        raise SettingsError(f"--transpose {args.transpose}: a chart moves -11 to 11 semitones")
    chart = read_chart(path).transposed(args.transpose)
    if getattr(args, "whole_song", False):
        raise SettingsError("--chart and --whole-song both choose the chords: use one")
    return chart


def _split(args: argparse.Namespace) -> int | None:
    """The arranger mode's split point of ``--split``, or None."""
    text = getattr(args, "split", None)
    if text is None:
        return None
    from accomp.music.fingering import parse_key

    if getattr(args, "chart", None) or getattr(args, "whole_song", False):
        raise SettingsError(f"--split and --{'chart' if getattr(args, 'chart', None) else 'whole-song'} both choose the chords: use one")
    try:
        return parse_key(text)
    except ValueError as exc:
        raise SettingsError(f"--split: {exc}") from None


def _chart_defaults(args: argparse.Namespace, chart) -> None:
    """``--tempo`` and ``--meter`` from the chart where the user left them out."""
    if chart is not None:
        args.tempo = args.tempo if args.tempo is not None else chart.tempo
        args.meter = args.meter or f"{chart.meter[0]}/{chart.meter[1]}"


def _transport(args: argparse.Namespace, *, count_in: int, click: bool):
    from accomp.engine.transport import TransportSettings

    try:
        num, _, den = str(args.meter or "4/4").partition("/")
        tempo = float(args.tempo if args.tempo is not None else DEFAULT_TEMPO)
        return TransportSettings(tempo=tempo, meter=(int(num), int(den or 4)), count_in_bars=count_in,
                                 click=click, midi_clock=getattr(args, "midi_clock", False))  # fmt: skip
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _engine_settings(args: argparse.Namespace, transport, sample_rate: int, block: int):
    from accomp.engine.engine import EngineSettings

    try:
        return EngineSettings(sample_rate=sample_rate, block_frames=block, transport=transport,
                              grace_ms=args.grace_ms, spec=DEFAULT_SPEC, split_key=_split(args))  # fmt: skip
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _band(args: argparse.Namespace, header: dict | None = None):
    """The rhythm section: ``--bass``/``--no-bass`` and ``--drums`` over what the preset names."""
    from dataclasses import replace

    from accomp.music.band import band_from_header, drums_choice

    band = band_from_header(header)
    if getattr(args, "bass", None) is not None:
        band = replace(band, bass=args.bass)
    if getattr(args, "drums", None) is not None:
        band = replace(band, drums=drums_choice(args.drums))
    if getattr(args, "bass_program", None) is not None:
        band = replace(band, bass_program=args.bass_program)
    return band


def _accompanist(args: argparse.Namespace, bar_steps: int):
    import torch

    from accomp.engine.accompanist import Accompanist

    torch.set_num_threads(max(1, args.threads))
    accompanist = Accompanist.from_preset(args.preset, device=args.device, bar_steps=bar_steps, seed=args.seed,
                                          guard=getattr(args, "guard", None))
    accompanist.warm_up()
    return accompanist


def _parts(args: argparse.Namespace, band=None, header: dict | None = None):
    """The synth's parts: the instruments the flags name, else the preset's (``header``)."""
    from accomp.model.preset import accomp_program
    from accomp.synth.soundfont import PartSound

    band = band or _band(args)
    program = args.accomp_program if args.accomp_program is not None else (accomp_program(header) or 0)
    try:
        return (
            PartSound("lead", 0, program=args.lead_program, volume=args.lead_volume, mute=args.mute_lead),
            PartSound("accomp", 1, program=program, volume=args.accomp_volume),
            PartSound("click", 9, drums=True, volume=args.click_volume),
            PartSound("bass", 2, program=band.bass_program, volume=args.bass_volume),
            PartSound("drums", 10, drums=True, volume=args.drums_volume),
        )
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def play(args: argparse.Namespace) -> int:
    from accomp.devices.audio import AudioSettings
    from accomp.engine.engine import Engine
    from accomp.engine.live import LiveSession, LiveSettings

    from accomp.listen.follow import FollowSettings
    from accomp.listen.offline import listen_settings

    waits = args.follow and args.wait_for_player
    chart = _chart(args)
    _chart_defaults(args, chart)
    transport = _transport(args, count_in=0 if waits else args.count_in, click=not args.no_click)
    listening = args.input != "midi"
    audio = AudioSettings(output_device=args.audio_out, host_api=args.host_api, sample_rate=args.sample_rate,
                          block_frames=args.buffer, input_device=(args.audio_in or "") if listening else None,
                          input_channels=args.input_channels)  # fmt: skip
    settings = _engine_settings(args, transport, audio.sample_rate, audio.block_frames)
    engine = Engine(settings)
    accompanist = _accompanist(args, engine.transport.steps_per_bar)
    if chart is not None:
        accompanist.play_chart(chart.per_beat())
    engine.player = accompanist
    band = _band(args, accompanist.header)
    engine.set_band(band, 0)
    record_midi = record_wav = None
    if args.record:
        base = Path(args.record)
        base = base.with_suffix("") if base.suffix.lower() in (".mid", ".midi", ".wav") else base
        if not base.parent.is_dir():
            raise DeviceError(f"{base.parent}: the recording folder does not exist")
        record_midi, record_wav = str(base.with_suffix(".mid")), str(base.with_suffix(".wav"))
    keys = _terminal_keys(args)
    live = LiveSettings(audio=audio, synth=not args.no_synth, soundfont=args.soundfont, midi_in=args.midi_in,
                        midi_in_virtual=args.midi_in_virtual, use_midi_in=not args.no_midi_in, keys=keys,
                        midi_out=args.midi_out, midi_out_virtual=args.midi_out_virtual, midi_api=args.midi_api,
                        record_midi=record_midi, record_wav=record_wav, input=args.input,
                        listen=listen_settings(args),
                        follow=FollowSettings(silence=args.silence, wait_for_player=waits) if args.follow else None)  # fmt: skip
    session = LiveSession(engine, live, parts=_parts(args, band, accompanist.header))
    session.start()
    if keys:
        from accomp.devices.terminal_keys import NOTICE
        from accomp.music.keyboard import HELP

        print(f"accomp: {HELP if args.keys else NOTICE}", file=sys.stderr)
    where = session.midi_in.port_name if session.midi_in is not None else "no MIDI input"
    if listening:
        where = f"{where} and the audio input" if args.input == "both" else "the audio input"
    mode = "following you" if args.follow else "keeping time"
    if chart is not None:
        mode += f", chart '{chart.title}' ({len(chart.bars)} bars, looping)"
    if settings.split_key is not None:
        mode += f", arranger mode: keys below {settings.split_key} name the chords"
    if band.playing:
        mode += ", with " + " and ".join(p for p in ("bass" if band.bass else "", f"{band.drums} drums" if band.drums else "") if p)
    name = (accompanist.header.get("style") or {}).get("name") or Path(str(args.preset)).stem  # the preset's own name
    print(f"accomp: playing '{name}' at {transport.tempo:g} bpm ({mode}) from {where} "
          f"to {session.audio.device_name}; Ctrl+C stops", file=sys.stderr)  # fmt: skip
    try:
        session.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        with _uninterrupted():  # a second Ctrl+C must not cut the stop short: it ends every note
            session.stop()
    summary = session.summary()
    summary["latency"] = latency_summary(engine, session.audio.output_latency_s if session.audio else 0.0)
    text = json.dumps(summary, indent=2)
    if args.metrics_json:
        _write_text(Path(args.metrics_json), text)
    print(text)
    if record_midi:
        print(f"accomp: recorded {record_midi} and {record_wav}", file=sys.stderr)
    if session.error:
        raise DeviceError(session.error)
    return 0


def _terminal_keys(args: argparse.Namespace) -> bool:
    """Whether the lead comes from the terminal's keys: asked for with ``--keys``, or a MIDI
    lead with no port named and none to open while standard input is a terminal (else the
    MIDI input's own error says what to connect)."""
    from accomp.devices import midi
    from accomp.devices.terminal_keys import available

    if args.input == "audio" or args.no_midi_in:
        if args.keys:
            raise SettingsError("--keys plays the lead: not with --input audio or --no-midi-in")
        return False
    if args.keys:
        if args.midi_in is not None or args.midi_in_virtual is not None:
            raise SettingsError("--keys or a MIDI input port: choose one")
        return True
    if args.midi_in is not None or args.midi_in_virtual is not None or not available():
        return False
    api = midi.midi_api(args.midi_api)
    try:
        ports, _ = midi.list_ports(api)
    except DeviceError:  # no MIDI system to reach: no keyboard on it either
        return True
    return not ports


@contextmanager
def _uninterrupted():
    """Ctrl+C (SIGINT) is ignored inside the block (in the main thread; elsewhere no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def latency_summary(engine, output_latency_s: float) -> dict:
    """Per lead note followed by audible accompaniment: its wait for the step, the model step,
    the scheduling slack and the audio buffer, p50/p99 in ms (the input transport is outside
    the app's view: ``benchmarks/latency.py`` measures it from the sending client)."""
    import numpy as np

    log = engine.latency.rows()
    n = len(log)
    heard = log[log["audible"] > 0]
    summary = {"notes": n, "notes_into_silence": int(n - len(heard)), "audio_buffer_ms": round(output_latency_s * 1000, 3)}
    if len(heard) == 0:
        return summary
    sr = engine.settings.sample_rate
    wait = (heard["decided"] - heard["note"]) / sr * 1000
    step = heard["model_s"] * 1000
    slack = (heard["sounds_at"] - heard["decided"]) / sr * 1000 - step
    total = (heard["sounds_at"] - heard["note"]) / sr * 1000 + output_latency_s * 1000

    def pct(values) -> dict:
        return {"p50": round(float(np.percentile(values, 50)), 3), "p99": round(float(np.percentile(values, 99)), 3)}

    summary.update(wait_ms=pct(wait), model_step_ms=pct(step), scheduling_slack_ms=pct(slack), note_to_sound_ms=pct(total))
    return summary


def _write_text(path: Path, text: str) -> None:
    from accomp.files import write_text

    try:
        write_text(path, text + "\n")
    except OSError as exc:
        raise AccompError(f"{path}: cannot write ({exc.strerror or exc})") from None


# ----------------------------------------------------------------------------- render


def lead_events(path: str, sample_rate: int, origin: int):
    """The lead of any MIDI file as timed note messages, unquantised (as a player plays them).

    Returns ``(events, tempo_changes, meter, seconds, bpm)``: events ``(sample, status, pitch,
    velocity)`` sorted, tempo changes ``(sample, bpm)`` after the first, the first meter, the
    length of the lead in seconds and the first tempo.
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
    return events, changes, (num, den), seconds, 60e6 / score.tempos[0][1]


def _plan_whole_song(accompanist, lead_path: str, bar_steps: int) -> None:
    """Give the accompanist the chords planned from the whole lead (Planner.song_plan)."""
    import numpy as np

    from accomp.model.pieces import read_lead

    if accompanist.harmony.planner is None:
        raise SettingsError("--whole-song needs a preset that follows a chord plan (this one's teacher has none)")
    piece = read_lead(lead_path, DEFAULT_SPEC)
    beat = np.arange(piece.n_steps) % bar_steps
    accompanist.fixed_plan = accompanist.harmony.planner.song_plan(piece.tracks["lead"], beat, DEFAULT_SPEC.steps_per_beat,
                                                                   accompanist.style)  # fmt: skip


def render(args: argparse.Namespace) -> int:
    from accomp.listen.offline import is_audio_file

    if args.lead and is_audio_file(args.lead):
        return render_audio(args)
    from accomp.engine.engine import Engine
    from accomp.engine.offline import run_offline
    from accomp.engine.recorder import Recorder
    from accomp.engine.transport import TransportSettings

    out = check_output(args.output, MIDI_SUFFIXES, "MIDI", MidiFileError)
    if args.wav:
        check_output(args.wav, (".wav",), "WAV", AudioFileError)
    sr, block = args.sample_rate, args.buffer
    chart = _chart(args)
    probe = Engine(_engine_settings(args, TransportSettings(count_in_bars=0, click=False), sr, block))
    if args.lead:
        events, tempo_changes, meter, seconds, bpm = lead_events(args.lead, sr, probe.lookahead)
        if chart is not None and tuple(meter) != chart.meter:
            raise SettingsError(f"{chart.source} is in {chart.meter[0]}/{chart.meter[1]} but {args.lead} in {meter[0]}/{meter[1]}")
    elif chart is not None:  # the chart alone, once through: a backing track
        bpm = args.tempo or chart.tempo or DEFAULT_TEMPO
        events, tempo_changes, meter, seconds = [], [], chart.meter, len(chart.per_beat()) * 60.0 / bpm
    else:
        raise SettingsError("render needs a LEAD file (MIDI or a recording), or --chart FILE to play a chart alone")
    try:
        transport = TransportSettings(tempo=bpm, meter=meter, count_in_bars=0, click=False)
    except ValueError as exc:
        raise MidiFileError(f"{args.lead}: {exc}") from None
    engine = Engine(_engine_settings(args, transport, sr, block))
    engine.player = _accompanist(args, engine.transport.steps_per_bar)
    band = _band(args, engine.player.header)
    engine.set_band(band, 0)
    if args.whole_song:
        _plan_whole_song(engine.player, args.lead, engine.transport.steps_per_bar)
    if chart is not None:
        engine.player.play_chart(chart.per_beat())
    if args.chords:
        chords_out = check_output(args.chords, (".txt",), "lead sheet", SettingsError)
        engine.player.chord_log = []
    parts = _parts(args, band, engine.player.header)
    synth = None
    if args.wav:
        from accomp.synth.soundfont import Synth

        synth = Synth(sr, block, engine.synth_inputs, parts, args.soundfont)
    recorder = Recorder(engine.transport, engine.record, midi_path=out, wav_path=args.wav, bass_program=band.bass_program,
                        accomp_program=parts[1].program)  # fmt: skip
    started = time.perf_counter()
    progress = Progress("playing", round((seconds + 60.0 / bpm) * sr), sr)
    try:
        run_offline(engine, events, seconds + 60.0 / bpm, synth=synth, recorder=recorder,
                    tempo_changes=tempo_changes, keep_audio=False, progress=progress)  # fmt: skip
    finally:
        recorder.close()
    progress.done()
    took = time.perf_counter() - started
    music = seconds + 60.0 / bpm
    if args.chords:
        from accomp.music.charts import lead_sheet

        _write_text(chords_out, lead_sheet(engine.player.chord_log, engine.transport.steps_per_bar, DEFAULT_SPEC.steps_per_beat))
    m = engine.metrics()
    print(f"wrote {out}{' and ' + str(args.wav) if args.wav else ''}: {music:.1f} s of music in {took:.1f} s "
          f"({music / took:.0f}x real time), {m.steps} steps + {m.redos} re-decided, "
          f"model step p50 {m.step_ms_p50:.2f} ms")  # fmt: skip
    return 0


def render_audio(args: argparse.Namespace) -> int:
    """`accomp render LEAD.wav`: accompany a recording through the live path in simulated time."""
    import numpy as np

    from accomp.engine.engine import Engine
    from accomp.engine.offline import run_offline
    from accomp.engine.recorder import Recorder
    from accomp.listen.follow import FollowSettings, Follower
    from accomp.listen.offline import HeardAudio, RecordingStream, WithInput, check_audio, estimate_tempo, listen_settings

    out = check_output(args.output, MIDI_SUFFIXES, "MIDI", AudioFileError)
    if args.wav:
        check_output(args.wav, (".wav",), "WAV", AudioFileError)
    sr, block = args.sample_rate, args.buffer
    length = check_audio(args.lead, sr)
    settings = listen_settings(args)
    if args.tempo is None:
        probe = HeardAudio(RecordingStream(args.lead, sr), sr, block, settings)
        for b in range(block, min(length, 20 * sr) + block, block):
            probe(b)
        args.tempo = estimate_tempo(np.array(probe.analyzer.onset_times), sr) or 100.0
    transport = _transport(args, count_in=0, click=False)
    engine = Engine(_engine_settings(args, transport, sr, block))
    if not args.no_follow:
        engine.follower = Follower(engine, FollowSettings(wait_for_player=True, silence=args.silence))
    engine.player = _accompanist(args, engine.transport.steps_per_bar)
    band = _band(args, engine.player.header)
    engine.set_band(band, 0)
    heard = HeardAudio(RecordingStream(args.lead, sr), sr, block, settings)
    parts = _parts(args, band, engine.player.header)
    synth = None
    if args.wav:
        from accomp.synth.soundfont import Synth

        synth = WithInput(Synth(sr, block, engine.synth_inputs, parts, args.soundfont), RecordingStream(args.lead, sr))
    recorder = Recorder(engine.transport, engine.record, midi_path=out, wav_path=args.wav, bass_program=band.bass_program,
                        accomp_program=parts[1].program)  # fmt: skip
    seconds = length / sr + 0.5
    started = time.perf_counter()
    progress = Progress("listening", round(seconds * sr), sr)
    try:
        run_offline(engine, [], seconds, synth=synth, recorder=recorder, keep_audio=False, heard=heard, progress=progress)
    finally:
        recorder.close()
    progress.done()
    took = time.perf_counter() - started
    m = engine.metrics()
    a = heard.analyzer
    tempo = f"followed from {args.tempo:g} to {engine.follower.tempo:.1f} bpm" if engine.follower else f"{args.tempo:g} bpm"
    print(f"wrote {out}{' and ' + str(args.wav) if args.wav else ''}: {seconds:.1f} s of audio in {took:.1f} s "
          f"({seconds / took:.0f}x real time); heard {a.notes_started} notes, {len(a.onset_times)} onsets; "
          f"{tempo}; {m.steps} steps, model step p50 {m.step_ms_p50:.2f} ms")  # fmt: skip
    return 0
