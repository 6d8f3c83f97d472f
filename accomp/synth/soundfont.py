"""The built-in SoundFont synth: tinysoundfont rendering straight into the audio buffer.

Threading: every call into tinysoundfont happens on the audio thread, inside
:meth:`Synth.render`, because tinysoundfont is not thread-safe. Other threads talk to the
synth only through :class:`~accomp.realtime.rings.EventRing` inputs (notes, pedal, controls,
stamped with sample times) and through :meth:`Synth.set_part` (instrument, volume, mute),
which the audio thread picks up at the start of its next block.

No allocation in the audio thread: tinysoundfont's ``render(buffer, mix)`` writes into the
buffer it is given (its voices are preallocated by ``set_max_voices``; every channel is
initialised here, since tinysoundfont allocates a channel on first use). Events land at
their exact sample: the block is rendered in pieces between event offsets, into views of one
preallocated buffer made once here (``views[i][j]`` is frames ``i*g .. j*g``; ``g`` is 1 for
blocks up to 256 frames, so scheduling is sample-accurate at the default 128).
``benchmarks/synth_render.py`` measures the render time per block.

Sustain pedal (CC64) is done here: tinysoundfont ignores it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from accomp.realtime.notes import (
    CC_ALL_NOTES_OFF,
    CC_ALL_SOUND_OFF,
    CC_SUSTAIN,
    CONTROL,
    N_CHANNELS,
    N_KEYS,
    NOTE_OFF,
    NOTE_ON,
    PROGRAM,
    ActiveNotes,
)
from accomp.realtime.rings import EventRing, earliest
from accomp.errors import DeviceError

ENV_SOUNDFONT = "ACCOMP_SOUNDFONT"
# Licence-clean General MIDI SoundFonts, where distributions install them, the first found
# wins. FluidR3_GM is MIT (Debian/Ubuntu: fluid-soundfont-gm); FluidR3Mono_GM, its mono
# version compressed to .sf3 (MIT; fluidr3mono-gm-soundfont), is what the Linux bundle
# carries. install.sh installs both.
DEFAULT_SOUNDFONTS = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf3",
    "/usr/local/share/soundfonts/FluidR3_GM.sf2",
    "/opt/homebrew/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/sounds/sf3/FluidR3Mono_GM.sf3",
)
MAX_VIEWS_PER_SIDE = 256
CLICK_HIGH = 76  # GM hi wood block: the first beat of a bar
CLICK_LOW = 77  # GM low wood block: the other beats


@dataclass(frozen=True)
class PartSound:
    """How one part sounds: its synth channel, instrument, volume (0..1) and mute."""

    name: str
    channel: int
    program: int = 0  # General MIDI program, 0-based (0 = acoustic grand piano)
    bank: int = 0
    volume: float = 0.8
    mute: bool = False
    drums: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.channel < N_CHANNELS:
            raise ValueError(f"part '{self.name}': channel must be 0..15, got {self.channel}")
        if not 0 <= self.program < 128 or not 0 <= self.bank < 129:
            raise ValueError(f"part '{self.name}': program 0..127 and bank 0..128, got {self.program}, {self.bank}")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"part '{self.name}': volume must be 0..1, got {self.volume}")


# In the engine's part order (lead, accomp, click, bass, drums). The drums have a channel
# of their own here (MIDI out and recordings put them on channel 10), so the metronome's
# volume and theirs stay apart.
BASS_SYNTH_PROGRAM = 33  # General MIDI "Electric Bass (finger)"
DEFAULT_PARTS = (
    PartSound("lead", channel=0, program=0),
    PartSound("accomp", channel=1, program=0),
    PartSound("click", channel=9, drums=True, volume=0.6),
    PartSound("bass", channel=2, program=BASS_SYNTH_PROGRAM),
    PartSound("drums", channel=10, drums=True, volume=0.7),
)


def default_soundfont() -> Path:
    """The SoundFont used when none is chosen: ``$ACCOMP_SOUNDFONT``, else a known GM font."""
    env = os.environ.get(ENV_SOUNDFONT)
    if env:
        return Path(env)
    for candidate in DEFAULT_SOUNDFONTS:
        if Path(candidate).is_file():
            return Path(candidate)
    raise DeviceError(
        "no SoundFont found: install the FluidR3 GM SoundFont (Debian/Ubuntu: apt-get install "
        f"fluid-soundfont-gm; ./install.sh does this) or choose a .sf2/.sf3 file (--soundfont, ${ENV_SOUNDFONT})"
    )


def load_soundfont(path: str | os.PathLike | None = None):
    """Open a .sf2/.sf3 file with tinysoundfont; every failure is a one-line DeviceError."""
    path = Path(path) if path is not None else default_soundfont()
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError as exc:
        raise DeviceError(f"SoundFont {path}: cannot read ({exc.strerror or exc})") from None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise DeviceError(f"SoundFont {path}: not a SoundFont (.sf2/.sf3) file")
    from tinysoundfont import _tinysoundfont

    try:
        font = _tinysoundfont.SoundFont(str(path))
    except (RuntimeError, ValueError, MemoryError) as exc:
        raise DeviceError(f"SoundFont {path}: cannot be loaded ({exc})") from None
    if font.get_preset_count() < 1:
        raise DeviceError(f"SoundFont {path}: has no instruments")
    return font


class Synth:
    """Renders the parts' events into stereo float32 blocks, on the audio thread."""

    def __init__(
        self,
        sample_rate: int,
        block_frames: int,
        inputs: Sequence[EventRing],
        parts: Sequence[PartSound] = DEFAULT_PARTS,
        soundfont: str | os.PathLike | None = None,
        *,
        gain_db: float = -3.0,
        max_voices: int = 128,
    ) -> None:
        from tinysoundfont import _tinysoundfont

        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self.parts = tuple(parts)
        self._inputs = tuple(inputs)
        self._font = load_soundfont(soundfont)
        self._font.set_output(_tinysoundfont.OutputMode.StereoInterleaved, sample_rate, gain_db)
        self._font.set_max_voices(max_voices)
        for channel in range(N_CHANNELS):  # allocate every channel now, not on the audio thread
            self._font.channel_set_preset_number(channel, 0, channel == 9)
            self._font.channel_set_volume(channel, 1.0)
        self._grain = max(1, -(-block_frames // MAX_VIEWS_PER_SIDE))
        units = -(-block_frames // self._grain)
        self._mix = np.zeros((units * self._grain, 2), dtype=np.float32)
        self._views = [[self._mix[i * self._grain : j * self._grain] for j in range(units + 1)] for i in range(units + 1)]
        self._part_channel = [p.channel for p in self.parts]
        self._notes = ActiveNotes(len(self.parts))
        self._pedal = bytearray(N_CHANNELS)
        self._held = bytearray(N_CHANNELS * N_KEYS)  # released while the pedal was down
        self._ring_parts = [0] * len(self._inputs)  # bit mask of the parts each ring has played
        # Wanted part settings (written by a control thread, applied by the audio thread).
        self._program = [p.program for p in self.parts]
        self._bank = [p.bank for p in self.parts]
        self._drums = [p.drums for p in self.parts]
        self._volume = [p.volume for p in self.parts]
        self._mute = [p.mute for p in self.parts]
        self._muted_now = [False] * len(self.parts)
        self._current_part = 0  # the part _emit_release is ending
        self._settings_asked = 1
        self._settings_done = 0
        self._panic_asked = 0
        self._panic_done = 0
        self.events_played = 0
        self.notes_played = [0] * len(self.parts)  # note-ons that sounded, per part
        # Per input ring: events whose sample time had passed when their block was rendered
        # (always so for live MIDI input, which is stamped on arrival; a fault for scheduled parts).
        self.late_events = [0] * len(self._inputs)
        self.muted_notes = 0

    # ------------------------------------------------------------------ control thread

    def part_index(self, name: str) -> int:
        for i, p in enumerate(self.parts):
            if p.name == name:
                return i
        raise KeyError(f"no part named '{name}'")

    def set_part(
        self,
        part: int | str,
        *,
        program: int | None = None,
        bank: int | None = None,
        volume: float | None = None,
        mute: bool | None = None,
    ) -> None:
        """Change a part's instrument, volume or mute; heard from the next audio block."""
        i = self.part_index(part) if isinstance(part, str) else part
        if program is not None:
            if not 0 <= program < 128:
                raise ValueError(f"program must be 0..127, got {program}")
            self._program[i] = program
        if bank is not None:
            self._bank[i] = bank
        if volume is not None:
            self._volume[i] = min(1.0, max(0.0, float(volume)))
        if mute is not None:
            self._mute[i] = bool(mute)
        self._settings_asked += 1

    def panic(self) -> None:
        """End every note of every part at the next block (inputs queued so far are dropped)."""
        for ring in self._inputs:
            ring.request_flush()
        self._panic_asked += 1

    def sounding(self) -> int:
        """Notes the synth is sounding now (as its active-notes table has them)."""
        return self._notes.sounding()

    def preset_name(self, program: int, bank: int = 0) -> str | None:
        name = self._font.get_preset_name(bank, program)
        return None if name == "<None>" else name

    # ------------------------------------------------------------------ audio thread

    def render(self, frames: int, start: int) -> np.ndarray:
        """Render ``frames`` samples from sample time ``start``; returns a view of the mix buffer.

        ``frames`` must not exceed ``block_frames``. Events with a sample time before
        ``start + frames`` are applied at their offset (late ones at offset 0, counted).
        """
        if self._settings_asked != self._settings_done:
            self._apply_settings()
        if self._panic_asked != self._panic_done:
            self._panic_done = self._panic_asked
            for part in range(len(self.parts)):
                self._release_part(part)
        for r, ring in enumerate(self._inputs):
            if ring.take_flush():
                self._release_mask(self._ring_parts[r])
        grain = self._grain
        units = -(-frames // grain)
        end = start + frames
        pos = 0
        views = self._views
        font = self._font
        inputs = self._inputs
        while True:
            r_best = earliest(inputs)
            if r_best < 0:
                break
            ring = inputs[r_best]
            t_best = ring.head_time()
            if t_best >= end:
                break
            offset = t_best - start
            if offset < 0:
                offset = 0
                self.late_events[r_best] += 1
            unit = offset // grain
            if unit > pos:
                font.render(views[pos][unit], False)
                pos = unit
            i = ring.head()
            part = ring.part_mv[i]
            self._ring_parts[r_best] |= 1 << part
            self._play(part, ring.status_mv[i], ring.data1_mv[i], ring.data2_mv[i])
            ring.advance()
        if units > pos:
            font.render(views[pos][units], False)
        mix = views[0][units]
        np.clip(mix, -1.0, 1.0, out=mix)
        return mix

    def _play(self, part: int, status: int, data1: int, data2: int) -> None:
        self.events_played += 1
        if part >= len(self._part_channel):  # a part this synth was not given (say, bass for a lead-only synth)
            return
        kind = status & 0xF0
        if kind == NOTE_ON and data2 > 0 and self._muted_now[part]:
            self.muted_notes += 1
            return
        if kind == NOTE_ON or kind == NOTE_OFF or kind == CONTROL:
            self._send(part, kind | self._part_channel[part], data1, data2)
        elif kind == PROGRAM:
            self._font.channel_set_preset_number(self._part_channel[part], data1, self._drums[part])

    def _send(self, part: int, status: int, data1: int, data2: int) -> None:
        """One channel message to tinysoundfont, through the pedal and the active-notes table."""
        kind = status & 0xF0
        channel = status & 0x0F
        font = self._font
        if kind == NOTE_ON and data2 > 0:
            self._held[channel * N_KEYS + data1] = 0
            font.channel_note_on(channel, data1, data2 / 127.0)
            self.notes_played[part] += 1
            self._notes.track(part, status, data1, data2)
        elif kind == NOTE_ON or kind == NOTE_OFF:
            if self._pedal[channel]:
                self._held[channel * N_KEYS + data1] = 1
                return
            font.channel_note_off(channel, data1)
            self._notes.track(part, status, data1, data2)
        elif kind == CONTROL and data1 == CC_SUSTAIN:
            down = data2 >= 64
            self._pedal[channel] = down
            if not down:
                self._release_held(part, channel)
        elif kind == CONTROL:
            if data1 == CC_ALL_NOTES_OFF or data1 == CC_ALL_SOUND_OFF:
                self._release_held(part, channel)
            font.channel_midi_control(channel, data1, data2)

    def _release_held(self, part: int, channel: int) -> None:
        base = channel * N_KEYS
        for key in range(N_KEYS):
            if self._held[base + key]:
                self._held[base + key] = 0
                self._font.channel_note_off(channel, key)
                self._notes.track(part, NOTE_OFF | channel, key, 0)

    def _release_part(self, part: int) -> None:
        self._current_part = part
        self._notes.release(part, self._emit_release)

    def _emit_release(self, status: int, data1: int, data2: int) -> None:
        self._send(self._current_part, status, data1, data2)

    def _release_mask(self, mask: int) -> None:
        part = 0
        while mask:
            if mask & 1:
                self._release_part(part)
            mask >>= 1
            part += 1

    def _apply_settings(self) -> None:
        self._settings_done = self._settings_asked
        font = self._font
        for part, channel in enumerate(self._part_channel):
            font.channel_set_bank(channel, self._bank[part])
            font.channel_set_preset_number(channel, self._program[part], self._drums[part])
            font.channel_set_volume(channel, self._volume[part])
            muted = self._mute[part]
            if muted and not self._muted_now[part]:
                self._release_part(part)
            self._muted_now[part] = muted
