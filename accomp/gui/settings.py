"""The app's settings: one versioned JSON file in the user config folder, written atomically.

``settings.json`` holds ``{"version": N, ...fields of Settings...}``. Loading never fails:
a missing file gives the defaults; a file that is not JSON, has a field of the wrong type or
out of range, or was written by another settings version is moved aside (``settings.json``
-> ``settings.json.bad-YYYYmmdd-HHMMSS``) and replaced by the defaults, and the caller gets
a one-line notice to show. A field the file lacks takes its default, so fields added later
(listening: ``input_source``, ``follow``, ``follow_silence``, ``input_gain_db``, ``gate_db``,
``listen_mode``) read older files of the same version without a notice. Saving writes a temporary file beside the target and moves it
into place (``os.replace``), so a crash never leaves half a file.

Qt-free: the window turns these into widgets, and tests read and corrupt the file directly.
"""

from __future__ import annotations

import json
import os
import time
import types
import typing
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from accomp.config import MAX_BPM, MAX_COUNT_IN_BARS, MIN_BPM
from accomp.files import write_text
from accomp.music.band import DRUM_CHOICES, OFF
from accomp.music.bass import BASS_PROGRAM

SETTINGS_VERSION = 1
FILE_NAME = "settings.json"
KEYBOARD = "computer keyboard"  # the MIDI input choice that plays from the computer's keys
PARTS = ("lead", "accomp", "click", "bass", "drums")
METERS = ("4/4", "3/4", "6/8")
# The song's key the band can be told (accomp.music.keys.KeyHint.parse reads each); "" = it hears the key.
SONG_KEYS = ("", *"C Db D Eb E F F# G Ab A Bb B".split(), *"Cm C#m Dm Ebm Em Fm F#m Gm G#m Am Bbm Bm".split())
CHORD_SOURCES = ("melody", "chart", "arranger")  # the planner, a chord chart, the left hand below a split point
INPUT_SOURCES = ("midi", "audio", "both")  # as accomp.engine.live.INPUTS
SILENCE = ("keep", "hold", "stop")  # as accomp.listen.follow.SILENCE
LISTEN_MODES = ("auto", "melody", "chords")  # as accomp.listen.analyzer.MODES
GAIN_DB = (-40.0, 60.0)  # the input gain's range (ListenSettings)
GATE_DB = (-100.0, 0.0)  # the noise gate's


def config_dir() -> Path:
    """The user config folder (``ACCOMP_CONFIG_DIR`` overrides it)."""
    import platformdirs

    return Path(os.environ.get("ACCOMP_CONFIG_DIR") or platformdirs.user_config_dir("accomp"))


def settings_path() -> Path:
    return config_dir() / FILE_NAME


@dataclass(frozen=True)
class PartMix:
    """One part in the mixer: General MIDI program (0-based), volume 0..1, mute, solo."""

    program: int = 0
    volume: float = 0.8
    mute: bool = False
    solo: bool = False

    def check(self) -> None:
        if not 0 <= self.program < 128:
            raise ValueError(f"program {self.program} is not 0..127")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume {self.volume} is not 0..1")


def _default_mixer() -> dict[str, PartMix]:
    return {"lead": PartMix(), "accomp": PartMix(), "click": PartMix(volume=0.6), "bass": PartMix(program=BASS_PROGRAM),
            "drums": PartMix(volume=0.7)}  # fmt: skip


@dataclass(frozen=True)
class Settings:
    # Devices. None: the system's default (or, for audio in, no input).
    host_api: str | None = None
    audio_out: str | None = None
    audio_in: str | None = None
    sample_rate: int = 48000
    buffer: int = 128
    midi_api: str | None = None
    midi_in: str = KEYBOARD  # a port name, KEYBOARD, or "" for no input
    midi_out: str | None = None
    # What plays.
    preset: str | None = None  # a preset file path or name; None: the default preset
    tempo: float = 100.0
    meter: str = "4/4"
    song_key: str = ""  # the song's key the band starts in (SONG_KEYS); "": it hears the key from the lead
    count_in: int = 1
    click: bool = True
    record: bool = False
    keyboard_octave: int = 4
    # Where the chords come from (accomp.gui.chords_panel).
    chord_source: str = "melody"
    chart_path: str = ""  # the chart file last opened or saved ("" none)
    chart_transpose: int = 0
    split_key: int = 60  # arranger mode: keys below it name the chord
    mixer: dict[str, PartMix] = field(default_factory=_default_mixer)
    # The rhythm section (accomp.music.band): a bass part, and drums in a pattern or "off".
    bass: bool = False
    drums: str = OFF
    # Listening and following (the lead from MIDI, the audio input, or both).
    input_source: str = "midi"
    follow: bool = False  # False: the band leads (keeps its own time); True: it follows the player
    follow_silence: str = "keep"  # when the player stops: keep playing, hold (rest in time), stop
    input_gain_db: float = 0.0
    gate_db: float = -50.0
    listen_mode: str = "auto"
    # Window layout (Qt's saveGeometry/saveState, base64).
    window_geometry: str = ""
    window_state: str = ""

    def check(self) -> None:
        """Raise ValueError when a value is out of range."""
        if not 8000 <= self.sample_rate <= 384000:
            raise ValueError(f"sample rate {self.sample_rate} is not 8000..384000")
        if not 16 <= self.buffer <= 8192:
            raise ValueError(f"buffer {self.buffer} is not 16..8192")
        if not MIN_BPM <= self.tempo <= MAX_BPM:
            raise ValueError(f"tempo {self.tempo} is not {MIN_BPM:g}..{MAX_BPM:g}")
        if self.meter not in METERS:
            raise ValueError(f"meter {self.meter!r} is not one of {METERS}")
        if self.song_key not in SONG_KEYS:
            raise ValueError(f"song key {self.song_key!r} is not one of {', '.join(k for k in SONG_KEYS if k)} or none")
        if not 0 <= self.count_in <= MAX_COUNT_IN_BARS:
            raise ValueError(f"count-in {self.count_in} is not 0..{MAX_COUNT_IN_BARS}")
        if not 0 <= self.keyboard_octave <= 8:
            raise ValueError(f"keyboard octave {self.keyboard_octave} is not 0..8")
        if self.chord_source not in CHORD_SOURCES:
            raise ValueError(f"chord source {self.chord_source!r} is not one of {CHORD_SOURCES}")
        if not -11 <= self.chart_transpose <= 11:
            raise ValueError(f"chart transpose {self.chart_transpose} is not -11..11")
        if not 1 <= self.split_key <= 127:
            raise ValueError(f"split key {self.split_key} is not 1..127")
        for name, value, allowed in (("input source", self.input_source, INPUT_SOURCES),
                                     ("silence", self.follow_silence, SILENCE), ("listening mode", self.listen_mode, LISTEN_MODES)):  # fmt: skip
            if value not in allowed:
                raise ValueError(f"{name} {value!r} is not one of {allowed}")
        if not GAIN_DB[0] <= self.input_gain_db <= GAIN_DB[1]:
            raise ValueError(f"input gain {self.input_gain_db} is not {GAIN_DB[0]:g}..{GAIN_DB[1]:g} dB")
        if not GATE_DB[0] <= self.gate_db <= GATE_DB[1]:
            raise ValueError(f"noise gate {self.gate_db} is not {GATE_DB[0]:g}..{GATE_DB[1]:g} dBFS")
        if self.drums not in DRUM_CHOICES:
            raise ValueError(f"drum pattern {self.drums!r} is not one of {DRUM_CHOICES}")
        if set(self.mixer) != set(PARTS):
            raise ValueError(f"mixer parts {sorted(self.mixer)} are not {sorted(PARTS)}")
        for part in self.mixer.values():
            part.check()

    def with_part(self, name: str, **changes) -> "Settings":
        return replace(self, mixer={**self.mixer, name: replace(self.mixer[name], **changes)})

    def to_json(self) -> str:
        data = {"version": SETTINGS_VERSION, **asdict(self)}
        return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _check_type(name: str, value, hint) -> None:
    """Raise ValueError unless ``value`` is of type ``hint`` (a scalar type or ``X | None``)."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for kind in allowed:
        if kind is type(None) and value is None:
            return
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if kind in (int, str) and isinstance(value, kind) and not isinstance(value, bool):
            return
        if kind is bool and isinstance(value, bool):
            return
    raise ValueError(f"'{name}' has the wrong type ({type(value).__name__})")


def _part_from_dict(name: str, data) -> PartMix:
    if not isinstance(data, dict):
        raise ValueError(f"mixer part '{name}' is not an object")
    hints = typing.get_type_hints(PartMix)
    kwargs = {}
    for f in fields(PartMix):
        if f.name in data:
            _check_type(f"mixer.{name}.{f.name}", data[f.name], hints[f.name])
            kwargs[f.name] = float(data[f.name]) if hints[f.name] is float else data[f.name]
    return PartMix(**kwargs)


def settings_from_dict(data) -> Settings:
    """Settings from the file's object; ValueError when anything is off. Fields the file lacks
    take their defaults; fields this version does not know are ignored."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    version = data.get("version")
    if version != SETTINGS_VERSION:
        raise ValueError(f"settings version {version!r}, this accomp reads version {SETTINGS_VERSION}")
    hints = typing.get_type_hints(Settings)
    kwargs = {}
    for f in fields(Settings):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "mixer":
            if not isinstance(value, dict):
                raise ValueError("'mixer' is not an object")
            value = {**_default_mixer(), **{k: _part_from_dict(k, v) for k, v in value.items()}}
        else:
            _check_type(f.name, value, hints[f.name])
            if hints[f.name] is float:
                value = float(value)
        kwargs[f.name] = value
    settings = Settings(**kwargs)
    settings.check()
    return settings


def load_settings(path: Path | None = None) -> tuple[Settings, str | None]:
    """(settings, notice or None). A bad or old file is moved aside and the defaults used."""
    path = settings_path() if path is None else path
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings(), None
    except OSError as exc:
        return Settings(), f"Settings file {path} cannot be read ({exc.strerror or exc}); using defaults."
    try:
        return settings_from_dict(json.loads(raw.decode("utf-8"))), None
    except (ValueError, TypeError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = " ".join(str(exc).split()) or type(exc).__name__
    backup = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        os.replace(path, backup)
    except OSError as exc:
        return Settings(), f"Settings file {path} is unusable ({reason}) and could not be moved aside ({exc.strerror}); using defaults."
    return Settings(), f"Settings file was unusable ({reason}); it was kept as {backup.name} and the defaults are in use."


def save_settings(settings: Settings, path: Path | None = None) -> None:
    """Write the settings atomically (:func:`accomp.files.write_text`). OSError on failure."""
    path = settings_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, settings.to_json())
