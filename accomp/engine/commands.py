"""`accomp play` (live, headless) and `accomp render` (offline, simulated time; a MIDI lead,
an audio recording, or a chart alone): what each says and writes around its session.

Both take a :class:`~accomp.engine.session.SessionSpec` (the CLI's adapters in
:mod:`accomp.cli.engine` make it from the flags) and play it through
:mod:`accomp.engine.session`, as the window does: `play` on the sound card's clock, `render`
in simulated time.
"""

from __future__ import annotations

import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from accomp.engine.session import RenderOutputs, SessionSpec
from accomp.errors import AccompError, DeviceError
from accomp.stop_signals import ENDING, ending_on


@dataclass(frozen=True)
class PlayOptions:
    """What `accomp play` does around its session: how long, what it tells and writes."""

    duration: float | None = None  # seconds; None: until Ctrl+C
    metrics_json: Path | None = None  # also write the end-of-play summary here
    keys_help: bool = False  # the terminal's keys were asked for: print their full help


def play(spec: SessionSpec, options: PlayOptions) -> int:
    """Play ``spec`` live until ``options.duration`` or Ctrl+C; print the summary as JSON."""
    from accomp.engine.session import open_live

    session = open_live(spec)
    live = spec.live
    if live.keys:
        from accomp.devices.terminal_keys import NOTICE
        from accomp.music.keyboard import HELP

        print(f"accomp: {HELP if options.keys_help else NOTICE}", file=sys.stderr)
    print(f"accomp: {_playing_line(spec, session)}; Ctrl+C stops", file=sys.stderr)
    try:
        session.wait(options.duration, on_notice=lambda text: print(f"accomp: {text}", file=sys.stderr, flush=True))
    except KeyboardInterrupt:  # Ctrl+C, and a closed terminal or `kill` (accomp.stop_signals)
        pass
    finally:
        with _uninterrupted():  # a second Ctrl+C must not cut the stop short: it ends every note
            session.stop()
    engine = session.engine
    summary = session.summary()
    summary["latency"] = latency_summary(engine, session.audio.output_latency_s if session.audio else 0.0)
    text = json.dumps(summary, indent=2)
    print(text)  # before the file: a file that cannot be written loses nothing
    if options.metrics_json:
        _write_text(Path(options.metrics_json), text)
    if live.record_midi:
        print(f"accomp: recorded {live.record_midi} and {live.record_wav}", file=sys.stderr)
    if session.error:
        raise DeviceError(session.error)
    return 0


def _playing_line(spec: SessionSpec, session) -> str:
    """What is playing, how, from where to where."""
    live, engine, chart = spec.live, session.engine, spec.chart
    where = session.midi_in.port_name if session.midi_in is not None else "no MIDI input"
    if live.input != "midi":
        where = f"{where} and the audio input" if live.input == "both" else "the audio input"
    mode = "following you" if live.follow is not None else "keeping time"
    if chart is not None:
        mode += f", chart '{chart.title}' ({len(chart.bars)} bars, looping)"
    if spec.split_key is not None:
        mode += f", arranger mode: keys below {spec.split_key} name the chords"
    told = spec.key_hint()
    if told is not None:
        mode += f", told the key {told}"
    band = engine.rhythm.band
    if band.playing:
        mode += ", with " + " and ".join(p for p in ("bass" if band.bass else "", f"{band.drums} drums" if band.drums else "") if p)
    name = (engine.player.header.get("style") or {}).get("name") or Path(str(spec.preset)).stem  # the preset's own name
    return f"playing '{name}' at {spec.transport().tempo:g} bpm ({mode}) from {where} to {session.audio.device_name}"


def _uninterrupted():
    """Ctrl+C, a closed terminal and `kill` (SIGINT, SIGHUP, SIGTERM) do nothing inside the block (in the main thread)."""
    return ending_on(None, (signal.SIGINT, *ENDING))


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


def render(spec: SessionSpec, lead: str | None, out: RenderOutputs) -> int:
    """`accomp render`: accompany ``lead`` offline and say what was written."""
    from accomp.engine.session import render as render_session

    done = render_session(spec, lead, out)
    m = done.engine.metrics()
    wrote = f"wrote {out.midi}{' and ' + str(out.wav) if out.wav else ''}"
    speed = f"{done.seconds:.1f} s of {'audio' if done.heard else 'music'} in {done.took:.1f} s ({done.seconds / done.took:.0f}x real time)"
    if done.heard is None:
        wait_ms = 1000 * done.engine.chord_wait / done.engine.settings.sample_rate
        waits = (f", {m.chord_waits_out} beats struck {wait_ms:.0f} ms late (no lead note on them, or in arranger mode no "
                 f"new chord)") if m.chord_waits_out else ""  # fmt: skip
        told = done.key
        key = f"; told the key {told}{' (its key signature)' if spec.key is None else ''}" if told is not None else ""
        print(f"{wrote}: {speed}, {m.steps} steps + {m.redos} re-decided{waits}, model step p50 {m.step_ms_p50:.2f} ms{key}")
        return 0
    a, follower = done.heard.analyzer, done.engine.follower
    tempo = f"followed from {done.start_tempo:g} to {follower.tempo:.1f} bpm" if follower else f"{done.start_tempo:g} bpm"
    print(f"{wrote}: {speed}; heard {a.notes_started} notes, {len(a.onset_times)} onsets; "
          f"{tempo}; {m.steps} steps, model step p50 {m.step_ms_p50:.2f} ms")  # fmt: skip
    return 0
