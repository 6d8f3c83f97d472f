"""What the window asks of the engine and the models, Qt-free: load a preset, start and stop
playing, scan devices, play a test tone, find teachers and their styles. Everything here runs on the window's helper thread (see
:mod:`accomp.gui.jobs`), except :class:`ObservedPlayer`'s step methods, which the engine's
worker thread calls.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from accomp.config import ONSET, SUSTAIN
from accomp.errors import DeviceError, PresetError, SettingsError
from accomp.gui.settings import KEYBOARD, Settings

ROLL_STEPS = 512  # grid steps of lead and accompaniment kept for the piano roll
NO_LABEL = -1  # a step played without a chord plan (the piano roll names no chord there)
STEP_LOG = 1024  # model step times kept for the latency view
TONE_S = 0.6
TONE_HZ = 440.0


class ObservedPlayer:
    """The accompanist as the engine's step player, keeping what it decides for the GUI.

    Called only from the engine's thread. Per decision it writes the lead and accompaniment
    frames of the step into preallocated rings (cell value: 0 silent, 1 sounding, 2 struck)
    and the model step's time; the GUI's timer reads them. A re-decided step overwrites
    its row.
    """

    def __init__(self, accompanist, path: Path) -> None:
        self.inner = accompanist
        self.path = path
        self.header = accompanist.header
        k = accompanist.student.cfg.n_keys
        self.lead = np.zeros((ROLL_STEPS, k), dtype=np.uint8)
        self.accomp = np.zeros((ROLL_STEPS, k), dtype=np.uint8)
        self.step_ms = np.zeros(STEP_LOG, dtype=np.float64)
        self.step_of = np.zeros(STEP_LOG, dtype=np.int64)  # the grid step of each decision
        self.chord_of = np.full(ROLL_STEPS, NO_LABEL, dtype=np.int64)  # the chord each step was played under
        self.decisions = 0  # decisions logged (steps and re-decisions)
        self.last_step = -1  # the latest grid step decided

    @property
    def name(self) -> str:
        return preset_title(self.path, self.header)

    @property
    def revised(self) -> bool:
        """Whether the last re-decision revised the chord plan (the engine's latency log)."""
        return bool(getattr(self.inner, "revised", False))

    @property
    def chord(self) -> int:
        """The chord of the beat decided last (the rhythm section plays it; the take marks it)."""
        return int(getattr(self.inner, "chord", 0))

    def chord_after(self, step: int) -> int | None:
        return self.inner.chord_after(step)

    def between_steps(self) -> None:
        """The accompanist's work ahead between steps (the engine's scheduler calls it)."""
        ahead = getattr(self.inner, "between_steps", None)
        if ahead is not None:
            ahead()

    def may_revise(self, step: int, beat_in_bar: int) -> bool:
        """Whether a late lead note may still change the step's chord (its notes wait for it)."""
        ask = getattr(self.inner, "may_revise", None)
        return ask is not None and ask(step, beat_in_bar)

    def chords(self) -> tuple[int | None, int | None]:
        """(the chord the band plays now, the next one where it is known) for the display;
        None where the preset follows no plan."""
        inner = self.inner
        if getattr(inner, "plan", None) is None:
            return None, None
        return int(inner.chord), inner.chord_after(self.last_step)

    def play_chart(self, chords_per_beat: np.ndarray | None) -> None:
        """Follow a chart's chords (None: the planner's), from the next play on."""
        self.inner.play_chart(chords_per_beat)

    def hold_chord(self, chord: int | None) -> None:
        """Arranger mode: the chord the left hand named (the engine's thread)."""
        self.inner.hold_chord(chord)

    def tell_key(self, hint) -> None:
        """The key the band is told (a KeyHint, or None: heard), from now on (not while playing)."""
        tell = getattr(self.inner, "tell_key", None)
        if tell is not None:
            tell(hint)

    def set_meter(self, meter: tuple[int, int]) -> None:
        """The meter of the next play (not while playing): its bar and beats (Accompanist.set_meter)."""
        set_meter = getattr(self.inner, "set_meter", None)
        if set_meter is not None:
            set_meter(meter)

    def take_setup(self, old: "ObservedPlayer") -> None:
        """The key and chart ``old`` plays by, for this player taking over from it mid-play."""
        take = getattr(self.inner, "take_setup", None)
        if take is not None and type(old.inner) is type(self.inner):
            take(old.inner)

    def restart(self, bar_steps: int) -> None:
        """A fresh stream for a new play (not while the engine calls this player)."""
        self.inner.bar_steps = bar_steps
        self.inner.reset()
        self.lead[:] = 0
        self.accomp[:] = 0
        self.chord_of[:] = NO_LABEL
        self.last_step = -1

    def step(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        started = time.perf_counter()
        frame = self.inner.step(step, lead, beat_in_bar)
        self._log(step, lead, frame, started)
        return frame

    def redo(self, step: int, lead: np.ndarray, beat_in_bar: int) -> np.ndarray:
        started = time.perf_counter()
        frame = self.inner.redo(step, lead, beat_in_bar)
        self._log(step, lead, frame, started)
        return frame

    def _log(self, step: int, lead: np.ndarray, frame: np.ndarray, started: float) -> None:
        self.step_ms[self.decisions % STEP_LOG] = (time.perf_counter() - started) * 1000
        self.step_of[self.decisions % STEP_LOG] = step
        row = step % ROLL_STEPS
        np.add(lead[SUSTAIN], lead[ONSET], out=self.lead[row])
        np.add(frame[SUSTAIN], frame[ONSET], out=self.accomp[row])
        self.chord_of[row] = self.inner.chord if getattr(self.inner, "plan", None) is not None else NO_LABEL
        self.decisions += 1
        self.last_step = step


def preset_title(path: Path, header: dict | None) -> str:
    style = (header or {}).get("style") or {}
    return str(style.get("name") or path.stem)


def find_preset(choice: str | None) -> Path:
    """The preset file for a settings choice: a path, a name, or None for the default
    (``pop`` when bundled, else the first preset there is)."""
    from accomp.model.preset import list_presets, resolve_preset

    if choice:
        return resolve_preset(choice)
    try:
        return resolve_preset("pop")
    except PresetError:
        found = [path for path, header, error in list_presets() if error is None]
        if not found:
            raise PresetError("no style preset is installed yet; distil one with 'Distill new style…'") from None
        return found[0]


def load_player(path: Path, bar_steps: int = 16, seed: int = 0) -> ObservedPlayer:
    """Load a preset, warm its student up and wrap it (slow: the helper thread's work)."""
    import torch

    from accomp.engine.accompanist import Accompanist

    torch.set_num_threads(1)  # as 'accomp play': one core for the model, the rest for the app
    accompanist = Accompanist.from_preset(path, bar_steps=bar_steps, seed=seed)
    accompanist.warm_up()
    return ObservedPlayer(accompanist, Path(path))


def teacher_styles(path: Path) -> tuple[str, ...]:
    """The style vocabulary in a teacher's header (reads the header only); ValueError if unreadable."""
    from safetensors import safe_open

    from accomp.model.checkpoint import HEADER_KEY, TEACHER_FORMAT

    try:
        with safe_open(str(path), framework="pt") as f:
            header = json.loads((f.metadata() or {})[HEADER_KEY])
    except Exception as exc:  # safetensors raises several kinds; each means "not a teacher file"
        raise ValueError(f"{path.name} is not a readable teacher file ({type(exc).__name__})") from None
    if header.get("format") != TEACHER_FORMAT:
        raise ValueError(f"{path.name} is a '{header.get('format')}' file, not a teacher")
    return tuple(header.get("model_config", {}).get("styles", ()))


def known_teachers() -> list[Path]:
    """Bundled teachers (the default one first), then the user's own."""
    from accomp.config import DEFAULT_TEACHER_FILE
    from accomp.model.preset import bundled_teachers, user_dir

    found: list[Path] = []
    for folder in (bundled_teachers(), user_dir("teachers")):
        if folder.is_dir():
            found += sorted(folder.glob("*.safetensors"), key=lambda p: (p.name != DEFAULT_TEACHER_FILE, p.name))
    return found


def parts(settings: Settings):
    """The synth's parts from the mixer, in the engine's part order; solo mutes the other
    instruments (not the click)."""
    from accomp.synth.soundfont import PartSound

    mix = settings.mixer
    soloing = any(mix[name].solo for name in ("lead", "accomp", "bass", "drums"))
    channels = {"lead": 0, "accomp": 1, "click": 9, "bass": 2, "drums": 10}  # as accomp.synth.soundfont.DEFAULT_PARTS
    kits = ("click", "drums")
    return tuple(
        PartSound(name, channels[name], program=0 if name in kits else mix[name].program, volume=mix[name].volume,
                  mute=mix[name].mute or (soloing and name != "click" and not mix[name].solo), drums=name in kits)
        for name in ("lead", "accomp", "click", "bass", "drums")
    )  # fmt: skip


def band(settings: Settings):
    """The rhythm section the settings ask for (the bass's instrument from the mixer)."""
    from accomp.music.band import Band, drums_choice

    return Band(bass=settings.bass, drums=drums_choice(settings.drums), bass_program=settings.mixer["bass"].program)


def meter(settings: Settings) -> tuple[int, int]:
    num, _, den = settings.meter.partition("/")
    return int(num), int(den)


@dataclass
class Take:
    """Where a recording goes: ``base.mid`` and ``base.wav``."""

    base: Path
    midi: Path = field(init=False)
    wav: Path = field(init=False)

    def __post_init__(self) -> None:
        self.midi, self.wav = self.base.with_suffix(".mid"), self.base.with_suffix(".wav")


def new_take() -> Take:
    from accomp.model.preset import user_dir

    folder = user_dir("recordings")
    folder.mkdir(parents=True, exist_ok=True)
    return Take(folder / time.strftime("take-%Y%m%d-%H%M%S"))


def listen_settings(settings: Settings):
    """The audio input's analysis settings (gain, gate, what to hear)."""
    from accomp.listen.analyzer import ListenSettings

    return ListenSettings(gain_db=settings.input_gain_db, gate_db=settings.gate_db, mode=settings.listen_mode)


def follow_settings(settings: Settings):
    """Follow mode's settings, or None in lead mode (the band keeps its own time)."""
    from accomp.listen.follow import FollowSettings

    return FollowSettings(silence=settings.follow_silence) if settings.follow else None


def live_settings(settings: Settings, take: Take | None = None):
    """The :class:`~accomp.engine.live.LiveSettings` a play starts with."""
    from accomp.devices.audio import AudioSettings
    from accomp.engine.live import LiveSettings

    s = settings
    if s.input_source != "midi" and s.audio_in is None:
        raise DeviceError("listening to audio needs an audio input: choose one under Devices, 'Audio in'")
    audio = AudioSettings(output_device=s.audio_out, input_device=s.audio_in, host_api=s.host_api,
                          sample_rate=s.sample_rate, block_frames=s.buffer)  # fmt: skip
    port = s.midi_in not in (KEYBOARD, "")
    return LiveSettings(audio=audio, midi_in=s.midi_in if port else None, use_midi_in=port, midi_out=s.midi_out,
                        midi_api=s.midi_api, record_midi=str(take.midi) if take else None,
                        record_wav=str(take.wav) if take else None, input=s.input_source,
                        listen=listen_settings(s), follow=follow_settings(s))  # fmt: skip


def session_spec(settings: Settings, take: Take | None = None, chart=None):
    """The :class:`~accomp.engine.session.SessionSpec` a play starts with. ``chart``: the
    Chart to loop when the chords come from one (``settings.chord_source``)."""
    from accomp.engine.session import SessionSpec

    s = settings
    live = live_settings(s, take)
    if s.chord_source == "chart":
        if chart is None:
            raise SettingsError("the chords come from a chart and the Chords panel has none that reads: open one, or mend the line it names")
        if tuple(chart.meter) != meter(s):
            raise SettingsError(f"the chart is in {chart.meter[0]}/{chart.meter[1]} and the band in {s.meter}: set the meter to match")
    return SessionSpec(tempo=s.tempo, meter=meter(s), count_in=s.count_in, click=s.click, key=s.song_key or None,
                       chart=chart if s.chord_source == "chart" else None,
                       split_key=s.split_key if s.chord_source == "arranger" else None, band=band(s),
                       parts=parts(s), accomp_program=s.mixer["accomp"].program, live=live)  # fmt: skip


def start_live(settings: Settings, player: ObservedPlayer, take: Take | None, chart=None):
    """Start ``player`` afresh on the settings' session and open every device; a LiveSession that plays."""
    from accomp.engine.session import open_live

    return open_live(session_spec(settings, take, chart), player)


def stop_live(session) -> dict:
    """Stop playing (every note ends) and close every device; the play summary."""
    session.stop()
    return session.summary()


@dataclass(frozen=True)
class DeviceList:
    audio: list[dict]  # host APIs with their devices (see accomp.devices.listing)
    midi: list[dict]  # MIDI APIs with their ports, or why each is unavailable
    audio_problem: str | None = None


def scan_devices() -> DeviceList:
    """Audio host APIs and devices, MIDI ports (re-scans PortAudio: only while no stream is open)."""
    from accomp.devices.listing import audio_devices, midi_ports

    try:
        audio, problem = audio_devices(), None
    except DeviceError as exc:
        audio, problem = [], str(exc)
    if problem is None and not any(d["outputs"] > 0 for api in audio for d in api["devices"]):
        problem = "no audio output device found: connect one, start your sound server (or JACK), then Rescan"
    return DeviceList(audio, midi_ports(), problem)


def test_tone(settings: Settings) -> str:
    """A short 440 Hz tone on the chosen output; returns the device's name."""
    from accomp.devices.audio import AudioDevice, AudioSettings
    from accomp.realtime.clock import SampleClock

    s = settings
    audio = AudioSettings(output_device=s.audio_out, host_api=s.host_api, sample_rate=s.sample_rate, block_frames=s.buffer)
    clock = SampleClock(s.sample_rate, s.buffer)
    buf = np.zeros((s.buffer, 2), dtype=np.float32)
    fade = round(0.02 * s.sample_rate)
    total = round(TONE_S * s.sample_rate)

    def render(frames: int, start: int) -> np.ndarray:
        t = np.arange(start, start + frames)
        gain = 0.25 * np.clip(np.minimum(t, total - t) / fade, 0.0, 1.0)
        buf[:frames, 0] = gain * np.sin(2 * np.pi * TONE_HZ * t / s.sample_rate)
        buf[:frames, 1] = buf[:frames, 0]
        return buf[:frames]

    device = AudioDevice(audio, clock, render)
    done = threading.Event()
    try:
        device.start()
        deadline = time.perf_counter() + TONE_S + 2.0
        while device.callbacks * s.buffer < total and time.perf_counter() < deadline and device.alive():
            done.wait(0.02)
        if device.callbacks == 0:
            raise DeviceError(f"audio device '{device.device_name}' never asked for audio")
    finally:
        device.close()
    return device.device_name
