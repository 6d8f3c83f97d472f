"""The band around the accompaniment: which rhythm-section parts play, in which feel.

A :class:`Band` is part of a session's settings (the CLI's ``--bass``/``--drums``, the
window's mixer) and may be named by a preset: a preset header's optional ``"band"`` entry,
``{"bass": true, "drums": "pop-ballad", "bass_program": 33}``, gives a session its default
band (a flag or setting overrides it; ``accomp preset sound`` writes it). A preset that names
none plays the accompaniment alone until asked; the bundled pop preset names a bass and
pop-ballad drums.
"""

from __future__ import annotations

from dataclasses import dataclass

from accomp.errors import SettingsError
from accomp.music.bass import BASS_PROGRAM, bass_pattern
from accomp.music.drums import PATTERNS as DRUM_PATTERNS, drum_pattern

OFF = "off"
DRUM_CHOICES = (OFF, *DRUM_PATTERNS)


@dataclass(frozen=True)
class Band:
    bass: bool = False
    drums: str | None = None  # a drum pattern name; None: no drums
    bass_feel: str | None = None  # a bass pattern name; None: the drum pattern's, else "ballad"
    bass_program: int = BASS_PROGRAM  # General MIDI program, 0-based (MIDI channel: bass.BASS_CHANNEL)

    def __post_init__(self) -> None:
        if self.drums is not None:
            drum_pattern(self.drums)
        if self.bass_feel is not None:
            bass_pattern(self.bass_feel)
        if not 0 <= self.bass_program < 128:
            raise SettingsError(f"bass program {self.bass_program} is not 0..127")

    @property
    def playing(self) -> bool:
        return self.bass or self.drums is not None

    @property
    def feel(self) -> str:
        """The bass pattern this band plays."""
        if self.bass_feel is not None:
            return self.bass_feel
        return drum_pattern(self.drums).bass if self.drums is not None else "ballad"


def drums_choice(text: str | None) -> str | None:
    """A drum pattern name from a flag or setting ("off" or "none": no drums); one-line error otherwise."""
    if text is None or text.lower() in (OFF, "none"):
        return None
    drum_pattern(text)
    return text


def band_from_header(header: dict | None) -> Band:
    """The band a preset names (its header's ``"band"``), or none."""
    entry = (header or {}).get("band")
    if entry is None:
        return Band()
    if not isinstance(entry, dict):
        raise SettingsError(f"the preset's band {entry!r} is not an object")
    try:
        return Band(bass=bool(entry.get("bass", False)), drums=drums_choice(entry.get("drums")),
                    bass_feel=entry.get("bass_feel"), bass_program=int(entry.get("bass_program", BASS_PROGRAM)))  # fmt: skip
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"the preset's band is invalid ({exc})") from None
