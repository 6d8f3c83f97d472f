"""`accomp play` and `accomp render`: their flags as a :class:`~accomp.engine.session.SessionSpec`
(the session the window plays too) and the command's own options. Heavy modules load lazily."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from accomp.config import MIDI_SUFFIXES, check_tempo
from accomp.errors import AudioFileError, DeviceError, MidiFileError, SettingsError, check_not_input, check_output


def play(args: argparse.Namespace) -> int:
    from accomp.devices.audio import AudioSettings
    from accomp.engine.commands import PlayOptions, play as play_spec
    from accomp.engine.live import LiveSettings
    from accomp.listen.follow import FollowSettings

    chart = _chart(args)
    split_key = _split(args)
    listening = args.input != "midi"
    audio = AudioSettings(output_device=args.audio_out, host_api=args.host_api, sample_rate=args.sample_rate,
                          block_frames=args.buffer, input_device=(args.audio_in or "") if listening else None,
                          input_channels=args.input_channels)  # fmt: skip
    record_midi = record_wav = None
    if args.record:
        base = Path(args.record)
        base = base.with_suffix("") if base.suffix.lower() in (".mid", ".midi", ".wav") else base
        if not base.parent.is_dir():
            raise DeviceError(f"{base.parent}: the recording folder does not exist")
        record_midi, record_wav = str(base.with_suffix(".mid")), str(base.with_suffix(".wav"))
    keys = wants_terminal_keys(args)
    follow = _checked(lambda: FollowSettings(silence=args.silence, wait_for_player=args.wait_for_player)) if args.follow else None
    live = LiveSettings(audio=audio, synth=not args.no_synth, soundfont=args.soundfont, midi_in=args.midi_in,
                        midi_in_virtual=args.midi_in_virtual, use_midi_in=not args.no_midi_in, keys=keys,
                        midi_out=args.midi_out, midi_out_virtual=args.midi_out_virtual, midi_api=args.midi_api,
                        record_midi=record_midi, record_wav=record_wav, input=args.input,
                        listen=_listen(args), follow=follow)  # fmt: skip
    spec = _spec(args, live, chart=chart, split_key=split_key, tempo=_tempo(args.tempo), meter=_meter(args.meter),
                 count_in=args.count_in, click=not args.no_click, midi_clock=args.midi_clock, key=args.key)  # fmt: skip
    if args.duration is not None and not (math.isfinite(args.duration) and args.duration > 0):
        raise SettingsError(f"--duration {args.duration:g}: give the seconds to play (more than 0), or leave it out to play until Ctrl+C")
    metrics_json = check_output(args.metrics_json, (".json",), "JSON", SettingsError) if args.metrics_json else None
    options = PlayOptions(duration=args.duration, metrics_json=metrics_json, keys_help=args.keys)
    return play_spec(spec, options)


def render(args: argparse.Namespace) -> int:
    from accomp.devices.audio import AudioSettings
    from accomp.engine.commands import render as render_spec
    from accomp.engine.live import LiveSettings
    from accomp.engine.session import RenderOutputs
    from accomp.listen.follow import FollowSettings
    from accomp.listen.offline import is_audio_file

    audio_lead = bool(args.lead) and is_audio_file(args.lead)
    midi = check_output(args.output, MIDI_SUFFIXES, "MIDI", AudioFileError if audio_lead else MidiFileError)
    wav = check_output(args.wav, (".wav",), "WAV", AudioFileError) if args.wav else None
    chart = None if audio_lead else _chart(args)
    split_key = _split(args)
    follow = None if args.no_follow or not audio_lead else _checked(lambda: FollowSettings(wait_for_player=True, silence=args.silence))
    live = LiveSettings(audio=AudioSettings(sample_rate=args.sample_rate, block_frames=args.buffer), soundfont=args.soundfont,
                        listen=_listen(args), follow=follow)  # fmt: skip
    spec = _spec(args, live, chart=chart, split_key=split_key, tempo=_tempo(args.tempo), meter=_meter(args.meter), count_in=0,
                 click=False, whole_song=args.whole_song, key=args.key)  # fmt: skip
    chords = check_output(args.chords, (".txt",), "lead sheet", SettingsError) if args.chords else None
    check_not_input({"-o": midi, "--wav": wav, "--chords": chords}, {"lead": args.lead, "chart": args.chart}, "the render", SettingsError)
    return render_spec(spec, args.lead, RenderOutputs(midi=midi, wav=wav, chords=chords))


def _spec(args: argparse.Namespace, live, **session):
    """The session the engine flags, the sound flags and ``session`` describe."""
    from accomp.engine.session import BandChoice, SessionSpec

    band = BandChoice(bass=args.bass, drums=args.drums, bass_program=args.bass_program)
    return SessionSpec(preset=args.preset, seed=args.seed, device=args.device, threads=args.threads, guard=args.guard,
                       grace_ms=args.grace_ms, band=band, parts=_parts(args), accomp_program=args.accomp_program,
                       live=live, **session)  # fmt: skip


def _parts(args: argparse.Namespace):
    """The synth's parts the flags ask for (the accompaniment's and the bass's instruments
    are settled with the preset: :meth:`SessionSpec.parts_for`)."""
    from accomp.synth.soundfont import BASS_SYNTH_PROGRAM, PartSound

    return _checked(lambda: (
        PartSound("lead", 0, program=args.lead_program, volume=args.lead_volume, mute=args.mute_lead),
        PartSound("accomp", 1, volume=args.accomp_volume),
        PartSound("click", 9, drums=True, volume=args.click_volume),
        PartSound("bass", 2, program=BASS_SYNTH_PROGRAM, volume=args.bass_volume),
        PartSound("drums", 10, drums=True, volume=args.drums_volume),
    ))  # fmt: skip


def _chart(args: argparse.Namespace):
    """The chart of ``--chart`` (transposed by ``--transpose``), or None."""
    if not args.chart:
        if args.transpose:
            raise SettingsError(f"--transpose {args.transpose} moves a chart's chords: give it with --chart FILE")
        return None
    from accomp.music.charts import read_chart

    if not -11 <= args.transpose <= 11:
        raise SettingsError(f"--transpose {args.transpose}: a chart moves -11 to 11 semitones")
    return read_chart(args.chart).transposed(args.transpose)


def _split(args: argparse.Namespace) -> int | None:
    """The arranger mode's split point of ``--split``, or None (the spec checks it is the only chord source)."""
    if args.split is None:
        return None
    from accomp.music.fingering import parse_key

    try:
        return parse_key(args.split)
    except ValueError as exc:
        raise SettingsError(f"--split: {exc}") from None


def _meter(text: str | None) -> tuple[int, int] | None:
    """``--meter`` ("3/4") as (beats, beat value); None when not given. Checked here, whatever
    the lead: a MIDI lead brings its own meter, and an impossible one must not pass unsaid."""
    if not text:
        return None
    num, _, den = text.strip().partition("/")
    try:
        meter = int(num), int(den or 4)
    except ValueError:
        raise SettingsError(f"--meter: '{text}' is not a meter (e.g. 4/4, 3/4, 6/8)") from None
    from accomp.engine.transport import TransportSettings

    _checked(lambda: TransportSettings(meter=meter), flag="--meter")
    return meter


def _tempo(bpm: float | None) -> float | None:
    """``--tempo``, checked whatever the lead (a MIDI lead plays at its own tempo)."""
    return None if bpm is None else _checked(lambda: check_tempo(bpm), flag="--tempo")


def _listen(args: argparse.Namespace):
    from accomp.listen.analyzer import ListenSettings

    return _checked(lambda: ListenSettings(gain_db=args.input_gain, gate_db=args.gate, mode=args.listen_mode))


def _checked(make, flag: str = ""):
    try:
        return make()
    except ValueError as exc:
        raise SettingsError(f"{flag}: {exc}" if flag else str(exc)) from None


def wants_terminal_keys(args: argparse.Namespace) -> bool:
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
