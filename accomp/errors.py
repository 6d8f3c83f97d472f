"""The user-facing error family: each carries a one-line message; `cli.py` prints it."""


class AccompError(Exception):
    """Base class: a problem the user can act on, described in one line."""

    exit_code = 1

    def __str__(self) -> str:
        text = super().__str__()
        return " ".join(text.split())  # always one line


class MidiFileError(AccompError):
    """A MIDI file that cannot be read or has nothing usable in it."""


class AudioFileError(AccompError):
    """A sound file (an audio lead to accompany) that cannot be read or has no audio in it."""


class CorpusError(AccompError):
    """A corpus that cannot be found, read or is empty."""


class CheckpointError(AccompError):
    """A missing, truncated, foreign or wrong-version model checkpoint."""


class PresetError(AccompError):
    """A style preset that cannot be loaded or does not match its teacher."""


class StyleError(AccompError):
    """An unknown style name or an impossible style mix."""


class DeviceError(AccompError):
    """An audio or MIDI device that cannot be opened or has gone away."""


class SettingsError(AccompError):
    """A setting with an impossible value."""
